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
//! That is [`VerifyMode::Update`]. A round's contribution and a round's
//! merged candidate are judged differently ([`verify_with`]):
//!
//! - [`VerifyMode::Contribution`]: steps 1-3 exactly as above (with the
//!   batches of the step's round shard, [`crate::step`] rule 8), accepted
//!   when the re-execution matches within tolerance. Improvement is not
//!   required: the round's merge is judged on it, and a single shard's step
//!   may well not improve the whole split.
//! - [`VerifyMode::Candidate`]: nothing is re-executed. The claimed weights
//!   (the chain's merge) and the base are evaluated on the same held-out
//!   subset ([`crate::step`] rule 9, drawn with a seed that did not exist
//!   when the contributions were made); accepted when the candidate's mean
//!   cross-entropy, as f32, is strictly below the base's.
//!
//! Problems of the claim give a rejecting [`Verdict`] with a [`Reason`];
//! problems of the verifier's own inputs (bad base weights or spec,
//! malformed hyperparameters, an empty split) are errors.

use std::fmt;
use std::time::{Duration, Instant};

use tch::Device;
use thiserror::Error;

use crate::dataset::{Dataset, Record};
use crate::eval::{evaluate, EvalError, Evaluation};
use crate::hyperparams::{Hyperparams, HyperparamsError, HyperparamsExt};
use crate::model::{Model, ModelError};
use crate::spec::ModelSpec;
use crate::step::{
    check_dataset, eval_subset_indices, run_step_with_progress, RoundShard, StepError, StepRequest,
};
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

/// What a verification checks (`um.trainer.v1.VerifyMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// A single update: reproduced within tolerance and improving by
    /// `min_improvement`.
    #[default]
    Update,
    /// A round's contribution: reproduced within tolerance.
    Contribution,
    /// A round's merged candidate (the claimed weights): below the base's
    /// loss on the held-out subset of `eval_samples` drawn with `eval_seed`
    /// ([`crate::step`] rule 9).
    Candidate {
        /// The candidate's `eval_seed` (unused when the subset is the whole split).
        eval_seed: [u8; 32],
        /// Held-out samples; 0: the whole validation split.
        eval_samples: u32,
    },
}

/// What [`verify_with`] takes beyond a [`VerifyRequest`].
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// Set when the step is a round's contribution: its batches come from
    /// this shard, not from the trainer and the nonce.
    pub round_shard: Option<&'a RoundShard>,
    /// What to check.
    pub mode: VerifyMode,
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
    /// A round's merged candidate whose held-out loss is not below the base's.
    NotBetter {
        base_loss: f32,
        candidate_loss: f32,
        samples: usize,
    },
}

impl Reason {
    /// Whether the reason shows a dishonest or broken update (a slashing
    /// offence), rather than an honest step that did not help.
    pub fn is_fraud(&self) -> bool {
        !matches!(
            self,
            Reason::Accepted | Reason::NoImprovement { .. } | Reason::NotBetter { .. }
        )
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
            Reason::NotBetter { .. } => "not_better",
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
            Reason::NotBetter {
                base_loss,
                candidate_loss,
                samples,
            } => write!(
                f,
                "candidate loss {candidate_loss:.6} is not below the base's {base_loss:.6} \
                 on {samples} held-out samples"
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
    verify_with(req, &VerifyOptions::default(), device)
}

/// Verifies in any [`VerifyMode`], for a step with or without a round
/// shard (see the module docs), reporting where the time went.
pub fn verify_with(
    req: &VerifyRequest<'_>,
    options: &VerifyOptions<'_>,
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
    let mut claimed_model = Model::zeros(req.spec, device).map_err(ModelError::from)?;
    claimed_model
        .load_weights(&claimed)
        .map_err(ModelError::from)?;
    if let VerifyMode::Candidate {
        eval_seed,
        eval_samples,
    } = options.mode
    {
        let started = Instant::now();
        let verdict =
            judge_candidate(req.dataset, &base, &claimed_model, &eval_seed, eval_samples)?;
        timings.evaluate = started.elapsed();
        return Ok((verdict, timings));
    }

    let started = Instant::now();
    let recomputed = run_step_with_progress(
        &StepRequest {
            spec: req.spec,
            base_weights: req.base_weights,
            trainer: req.trainer,
            nonce: req.nonce,
            params: train,
            dataset: req.dataset,
        },
        options.round_shard,
        device,
        |_, _| std::ops::ControlFlow::Continue(()),
    )?;
    let recomputed_weights =
        Weights::decode(req.spec, &recomputed.weights).expect("our own step output decodes");
    let distance = claimed
        .relative_distance(&recomputed_weights)
        .expect("both decoded against the same spec");
    timings.reexecute = started.elapsed();

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

    // Written so that a NaN anywhere rejects. A contribution is judged on
    // its reproduction only: the round's merge is judged on improvement.
    let reproduced = distance <= params.tolerance;
    let improved = options.mode == VerifyMode::Contribution || claimed_eval.loss <= required;
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

/// [`VerifyMode::Candidate`]: the candidate and the base on the same
/// held-out subset; accepted when the candidate's loss is strictly below.
fn judge_candidate(
    dataset: &Dataset,
    base: &Model,
    candidate: &Model,
    eval_seed: &[u8; 32],
    eval_samples: u32,
) -> Result<Verdict, VerifyError> {
    let validation = dataset.validation();
    let subset: Vec<Record> = eval_subset_indices(eval_seed, eval_samples, validation.len())
        .into_iter()
        .map(|i| validation[i].clone())
        .collect();
    let base_eval = evaluate(base, &subset)?;
    let candidate_eval = evaluate(candidate, &subset)?;
    // The chain's rule: the mean cross-entropy as f32 (as Evaluate
    // reports it), strictly lower. A NaN on either side rejects.
    let (base_loss, candidate_loss) = (base_eval.loss as f32, candidate_eval.loss as f32);
    let reason = if candidate_loss < base_loss {
        Reason::Accepted
    } else {
        Reason::NotBetter {
            base_loss,
            candidate_loss,
            samples: subset.len(),
        }
    };
    Ok(Verdict {
        accept: reason == Reason::Accepted,
        reason,
        measured_val_loss: Some(candidate_eval.loss),
        base_val_loss: Some(base_eval.loss),
        accuracy: Some(candidate_eval.accuracy),
        base_accuracy: Some(base_eval.accuracy),
        relative_distance: Some(0.0),
        recomputed_train_loss: None,
        recomputed_weights_hash: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{eval_subset_indices, run_step};
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

    const ROUND_SEED: [u8; 32] = [0x5a; 32];

    fn round_shard(shard: u32) -> RoundShard {
        RoundShard {
            round: 3,
            seed: ROUND_SEED,
            shard,
            shards: 4,
        }
    }

    /// The contribution of shard 1 from the fixture's base (trained once).
    fn contribution() -> &'static Vec<u8> {
        static C: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        C.get_or_init(|| {
            let f = fixture();
            crate::step::run_round_step(
                &StepRequest {
                    spec: &f.spec,
                    base_weights: &f.base,
                    trainer: HONEST,
                    nonce: 0,
                    params: hyper("0").train_params().unwrap(),
                    dataset: testutil::small_mnist(),
                },
                &round_shard(1),
                Device::Cpu,
            )
            .unwrap()
            .weights
        })
    }

    fn check_with(
        claimed: &[u8],
        h: &Hyperparams,
        base_val_loss: Option<f64>,
        shard: Option<&RoundShard>,
        nonce: u64,
        mode: VerifyMode,
    ) -> Verdict {
        let f = fixture();
        verify_with(
            &VerifyRequest {
                spec: &f.spec,
                base_weights: &f.base,
                claimed_weights: claimed,
                trainer: HONEST,
                nonce,
                hyperparams: h,
                dataset: testutil::small_mnist(),
                base_val_loss,
            },
            &VerifyOptions {
                round_shard: shard,
                mode,
            },
            Device::Cpu,
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_contribution_is_judged_on_reproduction_not_improvement() {
        let c = contribution();
        let s1 = round_shard(1);
        let contribution = |claimed: &[u8], h: &Hyperparams, base: Option<f64>| {
            check_with(claimed, h, base, Some(&s1), 0, VerifyMode::Contribution)
        };
        // It learned something, but the chain's record says the base was
        // already twice as good: no improvement at all ...
        let honest = contribution(c, &hyper("0.01"), None);
        assert!(honest.accept, "{honest:?}");
        let measured = honest.measured_val_loss.unwrap();
        let v = contribution(c, &hyper("0.01"), Some(measured * 0.5));
        assert!(v.measured_val_loss.unwrap() > v.base_val_loss.unwrap());
        // ... and it is accepted all the same, with the measurements reported.
        assert!(v.accept, "{v:?}");
        assert_eq!(v.reason, Reason::Accepted);
        assert_eq!(v.relative_distance, Some(0.0));
        assert_eq!(v.base_val_loss, Some(measured * 0.5));
        assert!(v.accuracy.is_some());
        assert_eq!(
            v.recomputed_weights_hash.as_deref(),
            Some(crate::weights::weights_hash(c).as_str())
        );
        // The same claim verified as a single update fails on improvement
        // (so the mode is what accepted it).
        let update = check_with(
            c,
            &hyper("0.01"),
            Some(measured * 0.5),
            Some(&s1),
            0,
            VerifyMode::Update,
        );
        assert_eq!(update.reason.code(), "no_improvement", "{update:?}");
        let v = contribution(c, &hyper("0.9"), None);
        assert!(v.accept, "min_improvement does not apply: {v:?}");

        // Honestly trained with a learning rate far too large: the
        // validation loss rises well above the base's, and the contribution
        // is still a correct one (whether it helps is the merge's question).
        let overshoot = Hyperparams {
            learning_rate: "3".parse().unwrap(),
            ..hyper("0")
        };
        let f = fixture();
        let worse = crate::step::run_round_step(
            &StepRequest {
                spec: &f.spec,
                base_weights: &f.base,
                trainer: HONEST,
                nonce: 0,
                params: overshoot.train_params().unwrap(),
                dataset: testutil::small_mnist(),
            },
            &s1,
            Device::Cpu,
        )
        .unwrap()
        .weights;
        let v = contribution(&worse, &overshoot, None);
        assert!(v.accept, "{v:?}");
        assert!(
            v.measured_val_loss.unwrap() > v.base_val_loss.unwrap(),
            "the loss rose: {v:?}"
        );
        let v = check_with(&worse, &overshoot, None, Some(&s1), 0, VerifyMode::Update);
        assert_eq!(v.reason.code(), "no_improvement", "{v:?}");

        // Tampered: a mismatch, fraud.
        let mut w = Weights::decode(&fixture().spec, c).unwrap();
        w.tensors[0].data[77] += 0.01;
        let v = contribution(&w.encode(), &hyper("0"), None);
        assert_eq!(v.reason.code(), "not_reproduced", "{v:?}");
        assert!(!v.accept && v.reason.is_fraud());
        let mut w = Weights::decode(&fixture().spec, c).unwrap();
        w.tensors[1].data[0] = f32::INFINITY;
        let v = contribution(&w.encode(), &hyper("0"), None);
        assert_eq!(v.reason.code(), "non_finite", "{v:?}");

        // The shard enters the batches: the honest weights claimed for
        // another shard, or as a nonce-seeded update, do not reproduce.
        let s2 = round_shard(2);
        for (shard, mode) in [
            (Some(&s2), VerifyMode::Update),
            (Some(&s2), VerifyMode::Contribution),
            (None, VerifyMode::Update),
        ] {
            let v = check_with(c, &hyper("0"), None, shard, 0, mode);
            assert_eq!(
                v.reason.code(),
                "not_reproduced",
                "{shard:?} {mode:?}: {v:?}"
            );
        }
        let other_seed = RoundShard {
            seed: [0x5b; 32],
            ..s1
        };
        let v = check_with(
            c,
            &hyper("0"),
            None,
            Some(&other_seed),
            0,
            VerifyMode::Update,
        );
        assert_eq!(v.reason.code(), "not_reproduced", "{v:?}");
        // And in UPDATE mode on its own shard it is a fine update.
        let v = check_with(c, &hyper("0"), None, Some(&s1), 0, VerifyMode::Update);
        assert!(v.accept, "{v:?}");
    }

    #[test]
    fn a_candidate_must_beat_the_base_on_the_held_out_subset() {
        let f = fixture();
        let seed = [0x42; 32];
        let candidate = |claimed: &[u8], eval_samples| {
            check_with(
                claimed,
                &hyper("0.01"),
                // Ignored: the base is measured on the same subset.
                Some(0.0001),
                None,
                0,
                VerifyMode::Candidate {
                    eval_seed: seed,
                    eval_samples,
                },
            )
        };
        let v = candidate(&f.honest, 100);
        assert!(v.accept, "{v:?}");
        assert_eq!(v.reason, Reason::Accepted);
        assert_eq!(v.relative_distance, Some(0.0));
        assert_eq!(v.recomputed_weights_hash, None, "nothing re-executed");
        // The reported losses are the ones on the subset of rule 9.
        let validation = testutil::small_mnist().validation();
        let subset: Vec<Record> = eval_subset_indices(&seed, 100, validation.len())
            .into_iter()
            .map(|i| validation[i].clone())
            .collect();
        let model = |bytes: &[u8]| Model::from_safetensors(&f.spec, bytes, Device::Cpu).unwrap();
        let on_subset = evaluate(&model(&f.honest), &subset).unwrap();
        assert_eq!(v.measured_val_loss, Some(on_subset.loss));
        assert_eq!(v.accuracy, Some(on_subset.accuracy));
        let base_on_subset = evaluate(&model(&f.base), &subset).unwrap();
        assert_eq!(v.base_val_loss, Some(base_on_subset.loss));
        let whole = evaluate(&model(&f.honest), validation).unwrap();
        assert_ne!(
            v.measured_val_loss,
            Some(whole.loss),
            "a subset, not the split"
        );
        // eval_samples 0: the whole split.
        let v = candidate(&f.honest, 0);
        assert!(v.accept, "{v:?}");
        assert_eq!(v.measured_val_loss, Some(whole.loss));

        // The base as its own candidate: not strictly better.
        let v = candidate(&f.base, 100);
        assert!(!v.accept);
        let Reason::NotBetter {
            base_loss,
            candidate_loss,
            samples: 100,
        } = v.reason
        else {
            panic!("{v:?}");
        };
        assert_eq!(base_loss, candidate_loss);
        assert!(!v.reason.is_fraud());
        // Worse than the base: refused too (the honest weights as the base
        // of the untrained ones).
        let swapped = verify_with(
            &VerifyRequest {
                spec: &f.spec,
                base_weights: &f.honest,
                claimed_weights: &f.base,
                trainer: "",
                nonce: 0,
                hyperparams: &hyper("0"),
                dataset: testutil::small_mnist(),
                base_val_loss: None,
            },
            &VerifyOptions {
                round_shard: None,
                mode: VerifyMode::Candidate {
                    eval_seed: seed,
                    eval_samples: 100,
                },
            },
            Device::Cpu,
        )
        .unwrap()
        .0;
        assert_eq!(swapped.reason.code(), "not_better", "{swapped:?}");

        // Bad candidate bytes are the same fraud as for an update.
        let v = candidate(b"junk", 100);
        assert_eq!(v.reason.code(), "undecodable", "{v:?}");
        let mut w = Weights::decode(&f.spec, &f.honest).unwrap();
        w.tensors[2].data[3] = f32::NAN;
        let v = candidate(&w.encode(), 100);
        assert_eq!(v.reason.code(), "non_finite", "{v:?}");
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
