//! [`Hyperparams`] on the wire: `um.training.v1.Hyperparams` carries the
//! decimals and the reward as strings. The chain writes its lineages'
//! hyperparameters with [`Hyperparams::to_proto`] (what the trainer is sent
//! and what `MsgSubmitUpdate` names by hash); the trainer reads them back
//! with [`Hyperparams::from_proto`].

use cosmwasm_std::{Decimal, Uint128};
use thiserror::Error;
use um_proto::um::training::v1 as wire;

use crate::Hyperparams;

/// A number field of `um.training.v1.Hyperparams` that is not one.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HyperparamsParseError {
    #[error("`{field}` = {value:?} is not a decimal (digits, optionally `.` and 1 to 18 digits)")]
    NotDecimal { field: &'static str, value: String },
    #[error("`{field}` = {value:?} is not a whole number of micro-units")]
    NotInteger { field: &'static str, value: String },
}

/// Parses a non-negative decimal as `Decimal` prints it (`"0.05"`, `"1"`,
/// `"0.000001"`; at most 18 fractional digits; no sign, no exponent, no
/// spaces, nothing `Decimal` cannot hold).
pub fn parse_decimal(field: &'static str, value: &str) -> Result<Decimal, HyperparamsParseError> {
    let bad = || HyperparamsParseError::NotDecimal {
        field,
        value: value.to_string(),
    };
    let (int, frac) = match value.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (value, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f) || f.len() > 18) {
        return Err(bad());
    }
    value.parse().map_err(|_| bad())
}

/// Parses micro-units (`Uint128` as a string); empty, proto3's default, is 0.
fn parse_uint(field: &'static str, value: &str) -> Result<Uint128, HyperparamsParseError> {
    if value.is_empty() {
        return Ok(Uint128::zero());
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HyperparamsParseError::NotInteger {
            field,
            value: value.to_string(),
        });
    }
    value
        .parse()
        .map_err(|_| HyperparamsParseError::NotInteger {
            field,
            value: value.to_string(),
        })
}

impl Hyperparams {
    /// The wire message: every decimal and the reward as `Decimal` and
    /// `Uint128` print them.
    pub fn to_proto(&self) -> wire::Hyperparams {
        wire::Hyperparams {
            learning_rate: self.learning_rate.to_string(),
            batch_size: self.batch_size,
            local_steps: self.local_steps,
            verification_tolerance: self.verification_tolerance.to_string(),
            min_improvement: self.min_improvement.to_string(),
            reward_per_update: self.reward_per_update.to_string(),
            reward_halving_interval: self.reward_halving_interval,
        }
    }

    /// Reads the wire message; the numbers are parsed, not checked for
    /// range (see [`Hyperparams::validate`]).
    pub fn from_proto(h: &wire::Hyperparams) -> Result<Self, HyperparamsParseError> {
        Ok(Self {
            learning_rate: parse_decimal("learning_rate", &h.learning_rate)?,
            batch_size: h.batch_size,
            local_steps: h.local_steps,
            verification_tolerance: parse_decimal(
                "verification_tolerance",
                &h.verification_tolerance,
            )?,
            min_improvement: parse_decimal("min_improvement", &h.min_improvement)?,
            reward_per_update: parse_uint("reward_per_update", &h.reward_per_update)?,
            reward_halving_interval: h.reward_halving_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire() -> wire::Hyperparams {
        wire::Hyperparams {
            learning_rate: "0.05".into(),
            batch_size: 64,
            local_steps: 10,
            verification_tolerance: "0.0001".into(),
            min_improvement: "0.001".into(),
            reward_per_update: "1000000".into(),
            reward_halving_interval: 100,
        }
    }

    #[test]
    fn round_trip() {
        let h = Hyperparams::from_proto(&wire()).unwrap();
        assert_eq!(h.learning_rate, Decimal::permille(50));
        assert_eq!(h.reward_per_update, Uint128::new(1_000_000));
        assert_eq!(h.to_proto(), wire());
        // Empty reward (proto3's default) is none.
        let h = Hyperparams::from_proto(&wire::Hyperparams {
            reward_per_update: String::new(),
            ..wire()
        })
        .unwrap();
        assert_eq!(h.reward_per_update, Uint128::zero());
        for (field, bad) in [
            ("learning_rate", "fast"),
            ("reward_per_update", "-1"),
            ("reward_per_update", "1.5"),
        ] {
            let mut w = wire();
            match field {
                "learning_rate" => w.learning_rate = bad.into(),
                _ => w.reward_per_update = bad.into(),
            }
            let err = Hyperparams::from_proto(&w).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn decimals() {
        for (s, v) in [
            ("0", "0"),
            ("1", "1"),
            ("0.5", "0.5"),
            ("12.25", "12.25"),
            ("0.000000000000000001", "0.000000000000000001"),
            ("007.10", "7.1"),
        ] {
            assert_eq!(parse_decimal("x", s).unwrap().to_string(), v, "{s}");
        }
        for s in [
            "",
            ".",
            "1.",
            ".5",
            "-1",
            "+1",
            "1.+5",
            "1e-3",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "NaN",
            "inf",
            "0.0000000000000000001",
            "1000000000000000000000",
        ] {
            assert_eq!(
                parse_decimal("learning_rate", s).unwrap_err(),
                HyperparamsParseError::NotDecimal {
                    field: "learning_rate",
                    value: s.to_string()
                },
                "{s:?}"
            );
        }
    }
}
