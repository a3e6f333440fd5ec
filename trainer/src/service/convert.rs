//! Wire messages of `um.trainer.v1` / `um.training.v1` to the library's
//! types and back. A request that cannot be understood is the caller's
//! mistake (INVALID_ARGUMENT), never a verdict.

use um_proto::tonic::Status;
use um_proto::um::trainer::v1::TrainingStep;
use um_proto::um::training::v1 as training;

use crate::hyperparams::{Hyperparams, HyperparamsExt};
use crate::spec::ModelSpec;
use crate::verify::Reason;

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
        Reason::NoImprovement { .. } => V::InsufficientImprovement,
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

/// Checks a `TrainingStep` for form. The hyperparameters must at least make
/// a training step; `Verify` also checks its own part.
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

pub fn step_from_proto(step: Option<TrainingStep>) -> Result<Step, Status> {
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
    if step.trainer.is_empty() {
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
        let step = step_from_proto(Some(good.clone())).unwrap();
        assert_eq!(step.hyperparams.batch_size, 8);
        assert_eq!(step.dataset_root, None);
        let bad = |f: fn(&mut TrainingStep)| {
            let mut s = good.clone();
            f(&mut s);
            let status = step_from_proto(Some(s)).unwrap_err();
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
        assert!(step_from_proto(None).is_err());
    }
}
