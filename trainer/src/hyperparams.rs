//! Hyperparameters of a model lineage as the DAO sets them, and what the
//! training step and verification take from them.
//!
//! [`Hyperparams`] is `um_bindings::Hyperparams`, the one shape the DAO,
//! the chain and the trainer share; requests and lineages carry it as
//! `um.training.v1.Hyperparams`, read with `Hyperparams::from_proto`.
//! [`HyperparamsExt`] checks it and turns its decimals into floats.

use cosmwasm_std::Decimal;
use thiserror::Error;

pub use um_bindings::Hyperparams;

/// Largest batch size accepted for training or verification.
pub const MAX_BATCH_SIZE: u32 = 65_536;
/// Largest number of local steps accepted for training or verification.
pub const MAX_LOCAL_STEPS: u32 = 100_000;

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

/// A hyperparameter is out of the range the trainer works with.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HyperparamsError {
    #[error("`{field}` = {value} is out of range: {rule}")]
    OutOfRange {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
}

/// A `Decimal` as the nearest f64: its exact decimal text through Rust's
/// correctly rounded parse, so every machine gets the same value.
pub fn decimal_to_f64(value: Decimal) -> f64 {
    value
        .to_string()
        .parse()
        .expect("a Decimal prints as digits with an optional fraction")
}

/// The trainer's checks of [`Hyperparams`].
pub trait HyperparamsExt {
    /// The training part, checked: learning rate > 0, batch size in
    /// `1..=MAX_BATCH_SIZE`, local steps in `1..=MAX_LOCAL_STEPS`.
    fn train_params(&self) -> Result<TrainParams, HyperparamsError>;

    /// The verification part, checked: min improvement below 1.
    fn verify_params(&self) -> Result<VerifyParams, HyperparamsError>;
}

impl HyperparamsExt for Hyperparams {
    fn train_params(&self) -> Result<TrainParams, HyperparamsError> {
        let learning_rate = decimal_to_f64(self.learning_rate);
        let range =
            |field, value: String, rule| HyperparamsError::OutOfRange { field, value, rule };
        if learning_rate <= 0.0
            || (learning_rate as f32) == 0.0
            || !(learning_rate as f32).is_finite()
        {
            return Err(range(
                "learning_rate",
                self.learning_rate.to_string(),
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

    fn verify_params(&self) -> Result<VerifyParams, HyperparamsError> {
        let tolerance = decimal_to_f64(self.verification_tolerance);
        let min_improvement = decimal_to_f64(self.min_improvement);
        if min_improvement >= 1.0 {
            return Err(HyperparamsError::OutOfRange {
                field: "min_improvement",
                value: self.min_improvement.to_string(),
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
    use cosmwasm_std::Uint128;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn takes_the_decimals_as_floats() {
        let h = Hyperparams {
            learning_rate: dec("0.05"),
            batch_size: 64,
            local_steps: 10,
            verification_tolerance: dec("0.0001"),
            min_improvement: dec("0.001"),
            reward_per_update: Uint128::new(1_000_000),
            reward_halving_interval: 100,
        };
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
            assert_eq!(decimal_to_f64(dec(s)), v, "{s}");
        }
    }

    #[test]
    fn ranges() {
        let ok = Hyperparams {
            learning_rate: dec("0.1"),
            batch_size: 32,
            local_steps: 5,
            verification_tolerance: dec("0.001"),
            min_improvement: dec("0"),
            reward_per_update: Uint128::zero(),
            reward_halving_interval: 0,
        };
        assert!(ok.train_params().is_ok() && ok.verify_params().is_ok());
        let field = |h: Hyperparams| match h.train_params().and(h.verify_params()) {
            Err(HyperparamsError::OutOfRange { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(Hyperparams {
                learning_rate: dec("0"),
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
                min_improvement: dec("1"),
                ..ok.clone()
            }),
            "min_improvement"
        );
    }
}
