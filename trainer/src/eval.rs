//! Evaluation: mean cross-entropy loss and accuracy over a set of records
//! (normally the validation split), in fixed batches of [`EVAL_BATCH`]
//! records ([`EVAL_BATCH_TEXT`] for a language model) without gradients.
//! A classifier has one target per record, a language model one per
//! predicted byte: its loss is in nats per byte and its accuracy the
//! fraction of bytes it predicts exactly. Logits are computed in f32 like in training; the
//! cross-entropy is taken in f64 and the per-batch sums are added in f64 in
//! record order.

use tch::{Kind, Reduction, Tensor};
use thiserror::Error;

use crate::dataset::{task_tensors, Record};
use crate::model::Model;
use crate::spec::Task;

/// Records per evaluation batch.
pub const EVAL_BATCH: usize = 1000;
/// Records per evaluation batch of a language model: ~32 MB of f32 logits
/// at the longest context.
pub const EVAL_BATCH_TEXT: usize = 40;

/// Loss and accuracy of a model on some records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy (natural log) per target.
    pub loss: f64,
    /// Fraction of targets whose largest logit is the target.
    pub accuracy: f64,
    /// Number of records evaluated.
    pub count: usize,
}

/// Evaluation failed.
#[derive(Debug, Error)]
pub enum EvalError {
    #[error("nothing to evaluate: no records")]
    Empty,
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Evaluates `model` on `records` (on the model's device).
pub fn evaluate(model: &Model, records: &[Record]) -> Result<Evaluation, EvalError> {
    if records.is_empty() {
        return Err(EvalError::Empty);
    }
    let device = model.device();
    let task = model.spec().task();
    let batch = match task {
        Task::Classify { .. } => EVAL_BATCH,
        Task::NextByte { .. } => EVAL_BATCH_TEXT,
    };
    let (mut loss_sum, mut correct, mut targets) = (0.0f64, 0i64, 0i64);
    tch::no_grad(|| -> Result<(), EvalError> {
        for chunk in records.chunks(batch) {
            let (xs, ys) = task_tensors(task, chunk, device);
            targets += ys.numel() as i64;
            let logits = model.loss_logits(&xs);
            // The loss in f64: validators compare it against a threshold.
            let loss = logits
                .f_to_kind(Kind::Double)?
                .f_cross_entropy_loss::<Tensor>(&ys, None, Reduction::Sum, -100, 0.0)?;
            loss_sum += loss.f_double_value(&[])?;
            correct += logits
                .f_argmax(-1, false)?
                .f_eq_tensor(&ys)?
                .f_sum(Kind::Int64)?
                .f_int64_value(&[])?;
        }
        Ok(())
    })?;
    let targets = targets.max(1) as f64;
    Ok(Evaluation {
        loss: loss_sum / targets,
        accuracy: correct as f64 / targets,
        count: records.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;
    use tch::Device;

    #[test]
    fn untrained_model_is_at_chance_and_batching_does_not_matter() {
        let ds = testutil::mnist();
        let model = Model::init(&testutil::mlp_spec(), 1, Device::Cpu).unwrap();
        let e = evaluate(&model, ds.validation()).unwrap();
        assert_eq!(e.count, ds.validation().len());
        assert!((e.loss - 10f64.ln()).abs() < 0.3, "{e:?}");
        assert!(e.accuracy < 0.3, "{e:?}");
        // Evaluating the records one by one gives the same mean (up to rounding).
        let few = &ds.validation()[..50];
        let all = evaluate(&model, few).unwrap();
        let singles: Vec<Evaluation> = few
            .iter()
            .map(|r| evaluate(&model, std::slice::from_ref(r)).unwrap())
            .collect();
        let mean = singles.iter().map(|e| e.loss).sum::<f64>() / 50.0;
        let acc = singles.iter().map(|e| e.accuracy).sum::<f64>() / 50.0;
        assert!((all.loss - mean).abs() < 1e-5, "{} vs {mean}", all.loss);
        assert_eq!(all.accuracy, acc);
        assert!(matches!(evaluate(&model, &[]), Err(EvalError::Empty)));
    }
}
