//! Verification of someone else's update, as a validator's `um-trainer` runs it.
//!
//! Given the base weights, the claimed weights and the claim (trainer,
//! nonce, hyperparameters, dataset version), [`verify`]:
//!
//! 1. decodes the claimed weights: they must be safetensors with exactly the
//!    spec's tensor names and shapes, all `F32`, all finite, in the canonical
//!    encoding ([`Weights::decode_canonical`]);
//! 2. re-executes the step from the base ([`crate::step`]) and measures
//!    `relative_distance = ||claimed − recomputed|| / ||recomputed||`;
//! 3. evaluates the claimed weights on the validation split, and the base
//!    too unless the caller passes the base's validation loss (the chain
//!    records it for every version after 0, so all validators compare against
//!    the same number);
//! 4. accepts when `relative_distance ≤ tolerance` and
//!    `val_loss_claimed ≤ val_loss_base · (1 − min_improvement)`.
//!
//! Problems of the claim give a rejecting [`Verdict`] with a [`Reason`];
//! problems of the verifier's own inputs (bad base weights or spec,
//! malformed hyperparameters, an empty split) are errors.

use std::fmt;
use std::time::{Duration, Instant};

use tch::Device;
use thiserror::Error;

use crate::dataset::Dataset;
use crate::eval::{evaluate, EvalError, Evaluation};
use crate::hyperparams::{Hyperparams, HyperparamsError, HyperparamsExt};
use crate::model::{Model, ModelError};
use crate::spec::ModelSpec;
use crate::step::{check_dataset, run_step, StepError, StepRequest};
use crate::weights::{Weights, WeightsError};

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// The lineage's architecture.
    pub spec: &'a ModelSpec,
    /// Safetensors bytes of the base version (trusted: from the chain).
    pub base_weights: &'a [u8],
    /// The weights the trainer claims (untrusted).
    pub claimed_weights: &'a [u8],
    /// The trainer's address as written on chain.
    pub trainer: &'a str,
    /// The nonce of the update.
    pub nonce: u64,
    /// The lineage's hyperparameters.
    pub hyperparams: &'a Hyperparams,
    /// The dataset version the update claims to train on.
    pub dataset: &'a Dataset,
    /// Validation loss of the base as the chain recorded it; `None` (or a
    /// value that is not finite) measures it here.
    pub base_val_loss: Option<f64>,
}

/// Why an update was accepted or rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// All checks passed.
    Accepted,
    /// Not safetensors at all.
    Undecodable(String),
    /// Valid safetensors, but the tensor names, shapes or dtypes are not the spec's.
    WrongParameters(String),
    /// A NaN or infinite value.
    NonFinite(String),
    /// Valid weights, but not in the canonical encoding (e.g. extra metadata).
    NonCanonical,
    /// Re-executing the claimed step gave weights too far from the claimed ones.
    NotReproduced { distance: f64, tolerance: f64 },
    /// The update reproduces but does not lower the validation loss enough.
    NoImprovement {
        base_loss: f64,
        claimed_loss: f64,
        required_at_most: f64,
    },
}

impl Reason {
    /// Whether the reason shows a dishonest or broken update (a slashing
    /// offence), rather than an honest step that did not help.
    pub fn is_fraud(&self) -> bool {
        !matches!(self, Reason::Accepted | Reason::NoImprovement { .. })
    }

    /// A short stable code for wire formats and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Accepted => "accepted",
            Reason::Undecodable(_) => "undecodable",
            Reason::WrongParameters(_) => "wrong_parameters",
            Reason::NonFinite(_) => "non_finite",
            Reason::NonCanonical => "non_canonical",
            Reason::NotReproduced { .. } => "not_reproduced",
            Reason::NoImprovement { .. } => "no_improvement",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Accepted => write!(f, "accepted"),
            Reason::Undecodable(e) => write!(f, "claimed weights are not decodable: {e}"),
            Reason::WrongParameters(e) => write!(f, "claimed weights do not fit the spec: {e}"),
            Reason::NonFinite(e) => write!(f, "claimed weights are not finite: {e}"),
            Reason::NonCanonical => write!(f, "claimed weights are not canonically encoded"),
            Reason::NotReproduced {
                distance,
                tolerance,
            } => write!(
                f,
                "claimed weights do not follow from the claimed step: relative L2 distance \
                 {distance:.3e} > tolerance {tolerance:.3e}"
            ),
            Reason::NoImprovement {
                base_loss,
                claimed_loss,
                required_at_most,
            } => write!(
                f,
                "validation loss {claimed_loss:.6} does not improve enough on {base_loss:.6} \
                 (must be at most {required_at_most:.6})"
            ),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Whether the update should become the next version.
    pub accept: bool,
    /// Why.
    pub reason: Reason,
    /// Validation loss of the claimed weights (when they could be loaded).
    pub measured_val_loss: Option<f64>,
    /// Validation loss of the base weights (measured, or the recorded value
    /// the request passed).
    pub base_val_loss: Option<f64>,
    /// Validation accuracy of the claimed weights.
    pub accuracy: Option<f64>,
    /// Validation accuracy of the base weights (when measured here).
    pub base_accuracy: Option<f64>,
    /// `||claimed − recomputed|| / ||recomputed||`.
    pub relative_distance: Option<f64>,
    /// Mean training loss of the re-executed step.
    pub recomputed_train_loss: Option<f64>,
    /// Hex SHA-256 of the re-executed weights.
    pub recomputed_weights_hash: Option<String>,
}

impl Verdict {
    fn reject(reason: Reason) -> Self {
        Verdict {
            accept: false,
            reason,
            measured_val_loss: None,
            base_val_loss: None,
            accuracy: None,
            base_accuracy: None,
            relative_distance: None,
            recomputed_train_loss: None,
            recomputed_weights_hash: None,
        }
    }
}

/// The verifier itself could not work (not the claimant's fault).
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("hyperparameters: {0}")]
    Hyperparams(#[from] HyperparamsError),
    #[error("base weights: {0}")]
    Base(#[from] ModelError),
    #[error("re-executing the step: {0}")]
    Step(#[from] StepError),
    #[error("evaluation: {0}")]
    Eval(#[from] EvalError),
}

/// Where the time of a verification went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyTimings {
    /// Re-executing the step.
    pub reexecute: Duration,
    /// Measuring validation loss and accuracy.
    pub evaluate: Duration,
}

/// Verifies an update on `device` (see the module docs).
pub fn verify(req: &VerifyRequest<'_>, device: Device) -> Result<Verdict, VerifyError> {
    verify_timed(req, device).map(|(verdict, _)| verdict)
}

/// [`verify`], also reporting where the time went.
pub fn verify_timed(
    req: &VerifyRequest<'_>,
    device: Device,
) -> Result<(Verdict, VerifyTimings), VerifyError> {
    let mut timings = VerifyTimings::default();
    let train = req.hyperparams.train_params()?;
    let params = req.hyperparams.verify_params()?;
    req.spec.validate().map_err(ModelError::from)?;
    check_dataset(req.spec, req.dataset)?;
    if req.dataset.validation().is_empty() {
        return Err(EvalError::Empty.into());
    }
    let base = Model::from_safetensors(req.spec, req.base_weights, device)?;

    let claimed = match Weights::decode_canonical(req.spec, req.claimed_weights) {
        Ok(w) => w,
        Err(e) => {
            let reason = match e {
                WeightsError::Undecodable(m) => Reason::Undecodable(m),
                WeightsError::NonFinite { .. } => Reason::NonFinite(e.to_string()),
                WeightsError::NonCanonical => Reason::NonCanonical,
                other => Reason::WrongParameters(other.to_string()),
            };
            return Ok((Verdict::reject(reason), timings));
        }
    };

    let started = Instant::now();
    let recomputed = run_step(
        &StepRequest {
            spec: req.spec,
            base_weights: req.base_weights,
            trainer: req.trainer,
            nonce: req.nonce,
            params: train,
            dataset: req.dataset,
        },
        device,
    )?;
    let recomputed_weights =
        Weights::decode(req.spec, &recomputed.weights).expect("our own step output decodes");
    let distance = claimed
        .relative_distance(&recomputed_weights)
        .expect("both decoded against the same spec");
    timings.reexecute = started.elapsed();

    let mut claimed_model = Model::zeros(req.spec, device).map_err(ModelError::from)?;
    claimed_model
        .load_weights(&claimed)
        .map_err(ModelError::from)?;
    let started = Instant::now();
    let (base_loss, base_accuracy) = match req.base_val_loss.filter(|l| l.is_finite()) {
        Some(recorded) => (recorded, None),
        None => {
            let e: Evaluation = evaluate(&base, req.dataset.validation())?;
            (e.loss, Some(e.accuracy))
        }
    };
    let claimed_eval: Evaluation = evaluate(&claimed_model, req.dataset.validation())?;
    timings.evaluate = started.elapsed();
    let required = base_loss * (1.0 - params.min_improvement);

    // Written so that a NaN anywhere rejects.
    let reproduced = distance <= params.tolerance;
    let improved = claimed_eval.loss <= required;
    let reason = if !reproduced {
        Reason::NotReproduced {
            distance,
            tolerance: params.tolerance,
        }
    } else if !improved {
        Reason::NoImprovement {
            base_loss,
            claimed_loss: claimed_eval.loss,
            required_at_most: required,
        }
    } else {
        Reason::Accepted
    };
    let verdict = Verdict {
        accept: reason == Reason::Accepted,
        reason,
        measured_val_loss: Some(claimed_eval.loss),
        base_val_loss: Some(base_loss),
        accuracy: Some(claimed_eval.accuracy),
        base_accuracy,
        relative_distance: Some(distance),
        recomputed_train_loss: Some(recomputed.mean_train_loss),
        recomputed_weights_hash: Some(recomputed.weights_hash),
    };
    Ok((verdict, timings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::run_step;
    use crate::testutil;

    const HONEST: &str = "um1honesttrainer0000000000000000000000000";

    fn hyper(min_improvement: &str) -> Hyperparams {
        Hyperparams {
            learning_rate: "0.1".parse().unwrap(),
            batch_size: 64,
            local_steps: 10,
            verification_tolerance: "0.000001".parse().unwrap(),
            min_improvement: min_improvement.parse().unwrap(),
            reward_per_update: 1_000_000u128.into(),
            reward_halving_interval: 0,
        }
    }

    struct Fixture {
        spec: ModelSpec,
        base: Vec<u8>,
        honest: Vec<u8>,
    }

    fn fixture() -> &'static Fixture {
        static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
        F.get_or_init(|| {
            let spec = testutil::mlp_spec();
            let base = Model::init(&spec, 5, Device::Cpu).unwrap().to_safetensors();
            let honest = train(&spec, &base, HONEST, 1);
            Fixture { spec, base, honest }
        })
    }

    fn train(spec: &ModelSpec, base: &[u8], trainer: &str, nonce: u64) -> Vec<u8> {
        run_step(
            &StepRequest {
                spec,
                base_weights: base,
                trainer,
                nonce,
                params: hyper("0").train_params().unwrap(),
                dataset: testutil::small_mnist(),
            },
            Device::Cpu,
        )
        .unwrap()
        .weights
    }

    fn check(claimed: &[u8], trainer: &str, nonce: u64, h: &Hyperparams) -> Verdict {
        let f = fixture();
        verify(
            &VerifyRequest {
                spec: &f.spec,
                base_weights: &f.base,
                claimed_weights: claimed,
                trainer,
                nonce,
                hyperparams: h,
                dataset: testutil::small_mnist(),
                base_val_loss: None,
            },
            Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn accepts_an_honest_update() {
        let f = fixture();
        let v = check(&f.honest, HONEST, 1, &hyper("0.01"));
        assert!(v.accept, "{v:?}");
        assert_eq!(v.reason, Reason::Accepted);
        assert_eq!(
            v.relative_distance,
            Some(0.0),
            "CPU re-execution is bit-exact"
        );
        assert_eq!(
            v.recomputed_weights_hash.as_deref(),
            Some(crate::weights::weights_hash(&f.honest).as_str())
        );
        let (new, base) = (v.measured_val_loss.unwrap(), v.base_val_loss.unwrap());
        assert!(new < base * 0.99, "{new} vs {base}");
        assert!(v.accuracy.unwrap() > v.base_accuracy.unwrap());
        assert!(!v.reason.is_fraud());
        assert_eq!(v.reason.to_string(), "accepted");
    }

    #[test]
    fn rejects_one_tampered_value() {
        let f = fixture();
        let mut w = Weights::decode(&f.spec, &f.honest).unwrap();
        w.tensors[0].data[1234] += 0.01;
        let v = check(&w.encode(), HONEST, 1, &hyper("0.01"));
        assert!(!v.accept);
        let Reason::NotReproduced { distance, .. } = v.reason else {
            panic!("{v:?}");
        };
        assert!(distance > 1e-6 && distance < 1e-2, "{distance}");
        assert!(v.reason.is_fraud());
        assert!(
            v.reason.to_string().contains("relative L2 distance"),
            "{}",
            v.reason
        );
        // The losses are still measured for the record.
        assert!(v.measured_val_loss.is_some() && v.base_val_loss.is_some());
    }

    #[test]
    fn rejects_weights_trained_on_another_batch() {
        let f = fixture();
        // Honestly trained, but with nonce 2 while claiming nonce 1 ...
        let other_nonce = train(&f.spec, &f.base, HONEST, 2);
        let v = check(&other_nonce, HONEST, 1, &hyper("0.01"));
        assert_eq!(v.reason.code(), "not_reproduced", "{v:?}");
        // ... and the honest weights replayed under another trainer's address.
        let v = check(&f.honest, "um1thief", 1, &hyper("0.01"));
        assert_eq!(v.reason.code(), "not_reproduced", "{v:?}");
        assert!(!v.accept);
        // The genuine claim of nonce 2 is accepted (the check above can pass).
        assert!(check(&other_nonce, HONEST, 2, &hyper("0.01")).accept);
    }

    #[test]
    fn rejects_nan_wrong_shape_garbage_and_non_canonical() {
        let f = fixture();
        let mut w = Weights::decode(&f.spec, &f.honest).unwrap();
        w.tensors[3].data[0] = f32::NAN;
        let v = check(&w.encode(), HONEST, 1, &hyper("0.01"));
        assert_eq!(v.reason.code(), "non_finite", "{v:?}");
        assert!(
            v.reason.to_string().contains("layers.1.bias"),
            "{}",
            v.reason
        );
        assert!(!v.accept && v.reason.is_fraud());

        let small =
            ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[32],"classes":10}"#).unwrap();
        let v = check(
            &Weights::init(&small, 1).encode(),
            HONEST,
            1,
            &hyper("0.01"),
        );
        assert_eq!(v.reason.code(), "wrong_parameters", "{v:?}");
        assert!(
            v.reason.to_string().contains("layers.0.weight"),
            "{}",
            v.reason
        );

        let v = check(b"definitely not safetensors", HONEST, 1, &hyper("0.01"));
        assert_eq!(v.reason.code(), "undecodable", "{v:?}");
        assert!(!v.accept && v.measured_val_loss.is_none());

        // Same values re-encoded with metadata (a new hash for replayed weights).
        let w = Weights::decode(&f.spec, &f.honest).unwrap();
        let bytes: Vec<Vec<u8>> = w
            .tensors
            .iter()
            .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views = w.tensors.iter().zip(&bytes).map(|(t, b)| {
            let shape = t.shape.iter().map(|&d| d as usize).collect();
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, b).unwrap();
            (t.name.clone(), view)
        });
        let meta = std::collections::HashMap::from([("x".to_string(), "y".to_string())]);
        let reencoded = safetensors::serialize(views, Some(meta)).unwrap();
        let v = check(&reencoded, HONEST, 1, &hyper("0.01"));
        assert_eq!(v.reason, Reason::NonCanonical);
    }

    #[test]
    fn rejects_too_little_improvement() {
        let f = fixture();
        let v = check(&f.honest, HONEST, 1, &hyper("0.9"));
        assert!(!v.accept);
        let Reason::NoImprovement {
            base_loss,
            claimed_loss,
            required_at_most,
        } = v.reason
        else {
            panic!("{v:?}");
        };
        assert!(claimed_loss < base_loss && claimed_loss > required_at_most);
        assert!((required_at_most - base_loss * 0.1).abs() < 1e-12);
        assert!(!v.reason.is_fraud());
        assert_eq!(v.relative_distance, Some(0.0));
        // Submitting the base itself never improves.
        let v = check(&f.base, HONEST, 1, &hyper("0"));
        assert!(!v.accept, "{v:?}");
    }

    #[test]
    fn a_recorded_base_loss_replaces_the_measured_one() {
        let f = fixture();
        let req = |base_val_loss| VerifyRequest {
            spec: &f.spec,
            base_weights: &f.base,
            claimed_weights: &f.honest,
            trainer: HONEST,
            nonce: 1,
            hyperparams: &HYPER_1PCT,
            dataset: testutil::small_mnist(),
            base_val_loss,
        };
        let (measured, timings) = verify_timed(&req(None), Device::Cpu).unwrap();
        assert!(measured.accept, "{measured:?}");
        assert!(measured.base_accuracy.is_some());
        assert!(timings.reexecute > Duration::ZERO && timings.evaluate > Duration::ZERO);
        // The chain says the base was already better than the claim: no improvement.
        let claimed = measured.measured_val_loss.unwrap();
        let v = verify(&req(Some(claimed * 0.5)), Device::Cpu).unwrap();
        assert_eq!(v.reason.code(), "no_improvement", "{v:?}");
        assert_eq!(v.base_val_loss, Some(claimed * 0.5));
        assert_eq!(v.base_accuracy, None, "the base was not evaluated");
        // A recorded value that is not a number is ignored.
        let v = verify(&req(Some(f64::NAN)), Device::Cpu).unwrap();
        assert!(v.accept);
        assert_eq!(v.base_val_loss, measured.base_val_loss);
    }

    static HYPER_1PCT: std::sync::LazyLock<Hyperparams> =
        std::sync::LazyLock::new(|| hyper("0.01"));

    #[test]
    fn verifier_side_problems_are_errors() {
        let f = fixture();
        let bad_hyper = Hyperparams {
            learning_rate: cosmwasm_std::Decimal::zero(),
            ..hyper("0")
        };
        let req = VerifyRequest {
            spec: &f.spec,
            base_weights: &f.base,
            claimed_weights: &f.honest,
            trainer: HONEST,
            nonce: 1,
            hyperparams: &bad_hyper,
            dataset: testutil::small_mnist(),
            base_val_loss: None,
        };
        assert!(matches!(
            verify(&req, Device::Cpu),
            Err(VerifyError::Hyperparams(_))
        ));
        let h = hyper("0");
        let req = VerifyRequest {
            hyperparams: &h,
            base_weights: b"junk",
            ..req
        };
        assert!(matches!(
            verify(&req, Device::Cpu),
            Err(VerifyError::Base(_))
        ));
        let no_validation = testutil::small_mnist().truncated(100, 0);
        let req = VerifyRequest {
            base_weights: &f.base,
            dataset: &no_validation,
            ..req
        };
        assert!(matches!(
            verify(&req, Device::Cpu),
            Err(VerifyError::Eval(EvalError::Empty))
        ));
    }
}
