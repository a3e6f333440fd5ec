//! Hyperparameters of a model lineage as the DAO sets them.
//!
//! [`Hyperparams`] mirrors `um_bindings::Hyperparams` field for field and
//! deserializes its JSON (cosmwasm `Decimal` and `Uint128` are JSON strings),
//! without depending on cosmwasm crates. Decimals are parsed here
//! ([`parse_decimal`]).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest batch size accepted for training or verification.
pub const MAX_BATCH_SIZE: u32 = 65_536;
/// Largest number of local steps accepted for training or verification.
pub const MAX_LOCAL_STEPS: u32 = 100_000;

/// Training hyperparameters of one lineage (JSON of `um_bindings::Hyperparams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hyperparams {
    /// SGD learning rate, a decimal string such as `"0.05"`.
    pub learning_rate: String,
    /// Samples per optimizer step.
    pub batch_size: u32,
    /// Optimizer steps in one submitted update.
    pub local_steps: u32,
    /// Largest relative L2 distance between claimed and re-executed weights (decimal).
    pub verification_tolerance: String,
    /// Smallest relative drop of validation loss an update must achieve (decimal).
    pub min_improvement: String,
    /// NRN (micro-units) minted per accepted update (`Uint128` as a string); unused here.
    #[serde(default)]
    pub reward_per_update: String,
    /// Accepted updates after which the reward halves; unused here.
    #[serde(default)]
    pub reward_halving_interval: u64,
}

/// What the training step needs, parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// Learning rate; the update uses it rounded to f32.
    pub learning_rate: f64,
    /// Samples per step, ≥ 1.
    pub batch_size: u32,
    /// Steps per update, ≥ 1.
    pub local_steps: u32,
}

/// What verification needs beyond the training step, parsed and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyParams {
    /// Largest accepted `||claimed - recomputed|| / ||recomputed||`, ≥ 0.
    pub tolerance: f64,
    /// Required relative drop of validation loss, in `[0, 1)`.
    pub min_improvement: f64,
}

/// A hyperparameter is malformed or out of range.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HyperparamsError {
    #[error("`{field}` = {value:?} is not a decimal (digits, optionally `.` and 1 to 18 digits)")]
    NotDecimal { field: &'static str, value: String },
    #[error("`{field}` = {value} is out of range: {rule}")]
    OutOfRange {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// Parses a non-negative decimal string as cosmwasm's `Decimal` prints it
/// (`"0.05"`, `"1"`, `"0.000001"`; at most 18 fractional digits; no sign, no
/// exponent, no spaces) to the nearest f64 (Rust's correctly rounded parse, so
/// every machine gets the same value).
pub fn parse_decimal(field: &'static str, value: &str) -> Result<f64, HyperparamsError> {
    let bad = || HyperparamsError::NotDecimal {
        field,
        value: value.to_string(),
    };
    let (int, frac) = match value.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (value, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || int.len() > 30 {
        return Err(bad());
    }
    if let Some(f) = frac {
        if !digits(f) || f.len() > 18 {
            return Err(bad());
        }
    }
    value.parse::<f64>().map_err(|_| bad())
}

impl Hyperparams {
    /// The training part, checked: learning rate > 0, batch size in
    /// `1..=MAX_BATCH_SIZE`, local steps in `1..=MAX_LOCAL_STEPS`.
    pub fn train_params(&self) -> Result<TrainParams, HyperparamsError> {
        let learning_rate = parse_decimal("learning_rate", &self.learning_rate)?;
        let range =
            |field, value: String, rule| HyperparamsError::OutOfRange { field, value, rule };
        if learning_rate <= 0.0
            || (learning_rate as f32) == 0.0
            || !(learning_rate as f32).is_finite()
        {
            return Err(range(
                "learning_rate",
                self.learning_rate.clone(),
                "must be > 0 and representable as f32",
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(range(
                "batch_size",
                self.batch_size.to_string(),
                "must be between 1 and 65536",
            ));
        }
        if !(1..=MAX_LOCAL_STEPS).contains(&self.local_steps) {
            return Err(range(
                "local_steps",
                self.local_steps.to_string(),
                "must be between 1 and 100000",
            ));
        }
        Ok(TrainParams {
            learning_rate,
            batch_size: self.batch_size,
            local_steps: self.local_steps,
        })
    }

    /// The verification part, checked: min improvement below 1.
    pub fn verify_params(&self) -> Result<VerifyParams, HyperparamsError> {
        let tolerance = parse_decimal("verification_tolerance", &self.verification_tolerance)?;
        let min_improvement = parse_decimal("min_improvement", &self.min_improvement)?;
        if min_improvement >= 1.0 {
            return Err(HyperparamsError::OutOfRange {
                field: "min_improvement",
                value: self.min_improvement.clone(),
                rule: "must be below 1",
            });
        }
        Ok(VerifyParams {
            tolerance,
            min_improvement,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_bindings_json() {
        // What `um_bindings::Hyperparams` serializes to (Decimal, Uint128 as strings).
        let json = r#"{"learning_rate":"0.05","batch_size":64,"local_steps":10,
            "verification_tolerance":"0.0001","min_improvement":"0.001",
            "reward_per_update":"1000000","reward_halving_interval":100}"#;
        let h: Hyperparams = serde_json::from_str(json).unwrap();
        assert_eq!(h.batch_size, 64);
        let t = h.train_params().unwrap();
        assert_eq!(t.learning_rate, 0.05);
        assert_eq!((t.batch_size, t.local_steps), (64, 10));
        let v = h.verify_params().unwrap();
        assert_eq!(v.tolerance, 0.0001);
        assert_eq!(v.min_improvement, 0.001);
    }

    #[test]
    fn decimals() {
        for (s, v) in [
            ("0", 0.0),
            ("1", 1.0),
            ("0.5", 0.5),
            ("12.25", 12.25),
            ("0.000000000000000001", 1e-18),
            ("007.10", 7.1),
        ] {
            assert_eq!(parse_decimal("x", s).unwrap(), v, "{s}");
        }
        for s in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "+1",
            "1e-3",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "NaN",
            "inf",
            "0.0000000000000000001",
        ] {
            assert_eq!(
                parse_decimal("learning_rate", s).unwrap_err(),
                HyperparamsError::NotDecimal {
                    field: "learning_rate",
                    value: s.to_string()
                },
                "{s:?}"
            );
        }
    }

    #[test]
    fn ranges() {
        let ok = Hyperparams {
            learning_rate: "0.1".into(),
            batch_size: 32,
            local_steps: 5,
            verification_tolerance: "0.001".into(),
            min_improvement: "0".into(),
            reward_per_update: String::new(),
            reward_halving_interval: 0,
        };
        assert!(ok.train_params().is_ok() && ok.verify_params().is_ok());
        let field = |h: Hyperparams| match h.train_params().and(h.verify_params()) {
            Err(HyperparamsError::OutOfRange { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(Hyperparams {
                learning_rate: "0".into(),
                ..ok.clone()
            }),
            "learning_rate"
        );
        assert_eq!(
            field(Hyperparams {
                batch_size: 0,
                ..ok.clone()
            }),
            "batch_size"
        );
        assert_eq!(
            field(Hyperparams {
                batch_size: 65_537,
                ..ok.clone()
            }),
            "batch_size"
        );
        assert_eq!(
            field(Hyperparams {
                local_steps: 0,
                ..ok.clone()
            }),
            "local_steps"
        );
        assert_eq!(
            field(Hyperparams {
                min_improvement: "1".into(),
                ..ok.clone()
            }),
            "min_improvement"
        );
    }
}
