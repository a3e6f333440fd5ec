//! Wire messages of `um.trainer.v1` / `um.training.v1` to the library's
//! types and back. A request that cannot be understood is the caller's
//! mistake (INVALID_ARGUMENT), never a verdict.

use um_proto::tonic::Status;
use um_proto::um::trainer::v1::{self as trainer, TrainingStep};
use um_proto::um::training::v1 as training;

use crate::hyperparams::{Hyperparams, HyperparamsExt};
use crate::spec::ModelSpec;
use crate::step::RoundShard;
use crate::verify::{Reason, VerifyMode};

/// The wire reason of a verdict. `NonCanonical` is reported as malformed
/// weights: the bytes are not the one encoding the chain accepts for their
/// values (and, like the other malformed encodings, it is fraud).
pub fn verdict_reason(reason: &Reason) -> training::VerdictReason {
    use training::VerdictReason as V;
    match reason {
        Reason::Accepted => V::Ok,
        Reason::Undecodable(_) | Reason::NonCanonical => V::MalformedWeights,
        Reason::WrongParameters(_) => V::ShapeMismatch,
        Reason::NonFinite(_) => V::NonFinite,
        Reason::NotReproduced { .. } => V::WeightsMismatch,
        Reason::NoImprovement { .. } | Reason::NotBetter { .. } => V::InsufficientImprovement,
    }
}

/// A `TrainingStep`, checked for form.
#[derive(Debug, Clone)]
pub struct Step {
    pub model_id: String,
    pub spec: ModelSpec,
    pub hyperparams: Hyperparams,
    pub base_sha256: [u8; 32],
    /// Empty when the request left them out (fetched by hash).
    pub base_weights: Vec<u8>,
    pub dataset_id: String,
    pub dataset_version: u64,
    pub dataset_root: Option<[u8; 32]>,
    pub trainer: String,
    pub nonce: u64,
    /// Set for a round's contribution: the batches come from this shard.
    pub round_shard: Option<RoundShard>,
}

impl Step {
    /// How the step is named in logs: its nonce, or its round and shard.
    pub fn describe(&self) -> String {
        match &self.round_shard {
            Some(s) => format!(
                "{} round {} shard {}/{}",
                self.model_id, s.round, s.shard, s.shards
            ),
            None => format!("{} nonce {}", self.model_id, self.nonce),
        }
    }
}

/// A 32-byte SHA-256 field.
pub fn sha256_field(field: &str, bytes: &[u8]) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!(
            "{field} must be 32 bytes (a SHA-256), got {}",
            bytes.len()
        ))
    })
}

/// An optional 32-byte SHA-256 field (empty = absent).
pub fn optional_sha256_field(field: &str, bytes: &[u8]) -> Result<Option<[u8; 32]>, Status> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        sha256_field(field, bytes).map(Some)
    }
}

/// A model spec JSON.
pub fn spec_field(json: &str) -> Result<ModelSpec, Status> {
    ModelSpec::parse(json).map_err(|e| Status::invalid_argument(format!("spec_json: {e}")))
}

/// The most work one Train or Verify request may ask for, in
/// local_steps × batch_size × parameters (about the multiply-adds of the
/// forward passes): 10^12 is minutes of CPU. Each factor alone is bounded
/// (100,000 steps, batches of 65,536, 50M parameters), but their product
/// was not: one request could have held the single job slot for years.
pub const MAX_STEP_WORK: u64 = 1_000_000_000_000;

/// The work of a step, saturating.
pub fn step_work(spec: &um_formats::ModelSpec, local_steps: u32, batch_size: u32) -> u64 {
    u64::from(local_steps)
        .saturating_mul(u64::from(batch_size))
        .saturating_mul(spec.parameter_count())
}

/// A `RoundShard`, checked for form: a 32-byte seed, at least one shard,
/// the shard below the count.
pub fn round_shard_from_proto(shard: &trainer::RoundShard) -> Result<RoundShard, Status> {
    let seed: [u8; 32] = shard.round_seed.as_slice().try_into().map_err(|_| {
        Status::invalid_argument(format!(
            "step.round_shard.round_seed must be 32 bytes (Round.seed), got {}",
            shard.round_seed.len()
        ))
    })?;
    if shard.shards == 0 {
        return Err(Status::invalid_argument(
            "step.round_shard.shards is 0: a round has at least one shard",
        ));
    }
    if shard.shard >= shard.shards {
        return Err(Status::invalid_argument(format!(
            "step.round_shard.shard {} is not below shards {}",
            shard.shard, shard.shards
        )));
    }
    Ok(RoundShard {
        round: shard.round,
        seed,
        shard: shard.shard,
        shards: shard.shards,
    })
}

/// What a Verify request checks. The held-out seed must be 32 bytes
/// whenever a subset is drawn with it (`eval_samples` > 0).
pub fn verify_mode_from_proto(req: &trainer::VerifyRequest) -> Result<VerifyMode, Status> {
    match trainer::VerifyMode::try_from(req.mode) {
        Ok(trainer::VerifyMode::Update) => Ok(VerifyMode::Update),
        Ok(trainer::VerifyMode::Contribution) => Ok(VerifyMode::Contribution),
        Ok(trainer::VerifyMode::Candidate) => Ok(VerifyMode::Candidate {
            eval_seed: eval_seed_from_proto(req)?,
            eval_samples: req.eval_samples,
        }),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown verify mode {}",
            req.mode
        ))),
    }
}

/// The request's `eval_seed`: 32 bytes when `eval_samples` is set (else
/// unused: the whole split is evaluated).
pub fn eval_seed_from_proto(req: &trainer::VerifyRequest) -> Result<[u8; 32], Status> {
    if req.eval_samples == 0 {
        return Ok(req.eval_seed.as_slice().try_into().unwrap_or([0; 32]));
    }
    req.eval_seed.as_slice().try_into().map_err(|_| {
        Status::invalid_argument(format!(
            "eval_seed must be 32 bytes when eval_samples is set, got {}",
            req.eval_seed.len()
        ))
    })
}

/// Checks a `TrainingStep` for form. The hyperparameters must at least make
/// a training step; `Verify` also checks its own part. `executed` is false when nothing of
/// the step will be run (a candidate's verification): then no batch seed is
/// needed, and a merge has no trainer.
pub fn step_from_proto(step: Option<TrainingStep>, executed: bool) -> Result<Step, Status> {
    let step = step.ok_or_else(|| Status::invalid_argument("the request has no step"))?;
    let spec = spec_field(&step.spec_json)?;
    let hyperparams = step
        .hyperparams
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("step.hyperparams is missing"))?;
    let hyperparams = Hyperparams::from_proto(hyperparams)
        .map_err(|e| Status::invalid_argument(format!("step.hyperparams: {e}")))?;
    hyperparams
        .train_params()
        .map_err(|e| Status::invalid_argument(format!("step.hyperparams: {e}")))?;
    let work = step_work(&spec, hyperparams.local_steps, hyperparams.batch_size);
    if work > MAX_STEP_WORK {
        return Err(Status::invalid_argument(format!(
            "the step asks for {work} units of work (local_steps × batch_size × parameters), more than the limit of {MAX_STEP_WORK}"
        )));
    }
    let round_shard = step
        .round_shard
        .as_ref()
        .map(round_shard_from_proto)
        .transpose()?;
    if executed && round_shard.is_none() && step.trainer.is_empty() {
        return Err(Status::invalid_argument(
            "step.trainer is empty: it seeds the batches",
        ));
    }
    if step.dataset_id.is_empty() {
        return Err(Status::invalid_argument("step.dataset_id is empty"));
    }
    Ok(Step {
        model_id: step.model_id,
        spec,
        hyperparams,
        base_sha256: sha256_field("step.base_weights_sha256", &step.base_weights_sha256)?,
        base_weights: step.base_weights,
        dataset_id: step.dataset_id,
        dataset_version: step.dataset_version,
        dataset_root: optional_sha256_field("step.dataset_root", &step.dataset_root)?,
        trainer: step.trainer,
        nonce: step.nonce,
        round_shard,
    })
}

/// Milliseconds of a duration, saturating.
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use training::VerdictReason as V;

    #[test]
    fn every_reason_has_its_wire_value_and_fraud_agrees() {
        let reasons = [
            (Reason::Accepted, V::Ok),
            (Reason::Undecodable("x".into()), V::MalformedWeights),
            (Reason::NonCanonical, V::MalformedWeights),
            (Reason::WrongParameters("x".into()), V::ShapeMismatch),
            (Reason::NonFinite("x".into()), V::NonFinite),
            (
                Reason::NotReproduced {
                    distance: 1.0,
                    tolerance: 0.1,
                },
                V::WeightsMismatch,
            ),
            (
                Reason::NoImprovement {
                    base_loss: 1.0,
                    claimed_loss: 1.0,
                    required_at_most: 0.9,
                },
                V::InsufficientImprovement,
            ),
            (
                Reason::NotBetter {
                    base_loss: 1.0,
                    candidate_loss: 1.0,
                    samples: 10,
                },
                V::InsufficientImprovement,
            ),
        ];
        for (reason, wire) in reasons {
            assert_eq!(verdict_reason(&reason), wire, "{reason:?}");
            assert_eq!(reason.is_fraud(), wire.is_fraud(), "{reason:?}");
            assert_eq!(reason == Reason::Accepted, wire.is_accept(), "{reason:?}");
        }
    }

    #[test]
    fn steps_are_checked_for_form() {
        let good = TrainingStep {
            model_id: "m".into(),
            spec_json: r#"{"kind":"mlp","input":[784],"hidden":[8],"classes":10}"#.into(),
            hyperparams: Some(training::Hyperparams {
                learning_rate: "0.1".into(),
                batch_size: 8,
                local_steps: 2,
                verification_tolerance: "0.001".into(),
                min_improvement: "0".into(),
                reward_per_update: "1".into(),
                reward_halving_interval: 0,
            }),
            base_weights_sha256: vec![1; 32],
            dataset_id: "mnist".into(),
            trainer: "um1x".into(),
            ..Default::default()
        };
        let step = step_from_proto(Some(good.clone()), true).unwrap();
        assert_eq!(step.hyperparams.batch_size, 8);
        assert_eq!(step.dataset_root, None);
        assert_eq!(step.round_shard, None);
        assert_eq!(step.describe(), "m nonce 0");
        let bad = |f: fn(&mut TrainingStep)| {
            let mut s = good.clone();
            f(&mut s);
            let status = step_from_proto(Some(s), true).unwrap_err();
            assert_eq!(status.code(), um_proto::tonic::Code::InvalidArgument);
            status.message().to_string()
        };
        assert!(bad(|s| s.spec_json = "{}".into()).contains("spec_json"));
        assert!(bad(|s| s.hyperparams = None).contains("hyperparams"));
        assert!(
            bad(|s| s.hyperparams.as_mut().unwrap().learning_rate = "fast".into())
                .contains("learning_rate")
        );
        assert!(bad(|s| s.base_weights_sha256 = vec![1; 31]).contains("31"));
        assert!(bad(|s| s.dataset_root = vec![1; 3]).contains("dataset_root"));
        assert!(bad(|s| s.trainer.clear()).contains("trainer"));
        assert!(bad(|s| s.dataset_id.clear()).contains("dataset_id"));
        assert!(step_from_proto(None, true).is_err());

        // A round's contribution: the shard replaces the trainer's seed.
        let shard = trainer::RoundShard {
            round: 4,
            round_seed: vec![9; 32],
            shard: 2,
            shards: 3,
        };
        let mut round = good.clone();
        round.trainer.clear();
        round.round_shard = Some(shard.clone());
        let step = step_from_proto(Some(round.clone()), true).unwrap();
        assert_eq!(
            step.round_shard,
            Some(RoundShard {
                round: 4,
                seed: [9; 32],
                shard: 2,
                shards: 3
            })
        );
        assert_eq!(step.describe(), "m round 4 shard 2/3");
        let with_shard = |f: fn(&mut trainer::RoundShard)| {
            let mut s = round.clone();
            f(s.round_shard.as_mut().unwrap());
            let status = step_from_proto(Some(s), true).unwrap_err();
            assert_eq!(status.code(), um_proto::tonic::Code::InvalidArgument);
            status.message().to_string()
        };
        assert!(with_shard(|s| {
            s.round_seed.pop();
        })
        .contains("31"));
        assert!(with_shard(|s| s.round_seed.clear()).contains("round_seed"));
        assert!(with_shard(|s| s.shards = 0).contains("shards is 0"));
        assert!(with_shard(|s| s.shard = 3).contains("not below shards 3"));
        // Nothing executed (a candidate): the merge has no trainer.
        let mut merge = good.clone();
        merge.trainer.clear();
        assert!(step_from_proto(Some(merge.clone()), false).is_ok());
        assert!(step_from_proto(Some(merge), true).is_err());
    }

    #[test]
    fn verify_modes_are_read_from_the_request() {
        let req = |mode: i32, seed: Vec<u8>, samples| trainer::VerifyRequest {
            mode,
            eval_seed: seed,
            eval_samples: samples,
            ..Default::default()
        };
        let code = um_proto::tonic::Code::InvalidArgument;
        assert_eq!(
            verify_mode_from_proto(&req(0, vec![], 0)).unwrap(),
            VerifyMode::Update
        );
        assert_eq!(
            verify_mode_from_proto(&req(1, vec![], 0)).unwrap(),
            VerifyMode::Contribution
        );
        assert_eq!(
            verify_mode_from_proto(&req(2, vec![3; 32], 50)).unwrap(),
            VerifyMode::Candidate {
                eval_seed: [3; 32],
                eval_samples: 50
            }
        );
        // The whole split: no seed needed.
        assert_eq!(
            verify_mode_from_proto(&req(2, vec![], 0)).unwrap(),
            VerifyMode::Candidate {
                eval_seed: [0; 32],
                eval_samples: 0
            }
        );
        let err = verify_mode_from_proto(&req(2, vec![3; 31], 50)).unwrap_err();
        assert_eq!(err.code(), code);
        assert!(err.message().contains("eval_seed"), "{err:?}");
        let err = verify_mode_from_proto(&req(7, vec![], 0)).unwrap_err();
        assert_eq!(err.code(), code);
        assert!(err.message().contains("unknown verify mode 7"), "{err:?}");
    }
}
