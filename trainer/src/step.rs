//! The training step as the chain defines it.
//!
//! An update on base weights `B` (safetensors bytes) by trainer `T` with
//! nonce `n` is `local_steps` steps of plain SGD from `B`:
//!
//! 1. `base_hash = sha256(B)` (32 raw bytes; its hex is the weights hash).
//! 2. Batch of step `s` (`s = 0, 1, …`): the step seed is
//!    `seed_s = sha256(base_hash ‖ T ‖ n ‖ s)`, with `T` the trainer's
//!    address as UTF-8 bytes exactly as written on chain (bech32, `um1…`),
//!    `n` as u64 big-endian and `s` as u32 big-endian. The seed is expanded in
//!    counter mode: block `j` is `sha256(seed_s ‖ j)` (`j` u32 big-endian,
//!    from 0); each block is read as four u64 big-endian words; word `i` of
//!    the stream gives index `i` of the batch as `word mod train_len`, for
//!    `i = 0 … batch_size-1`. Indices address the training split sorted by
//!    record hash ([`crate::dataset`]); a batch may repeat a record.
//! 3. Loss: mean cross-entropy of the logits over the batch
//!    (`log_softmax` then negative log-likelihood).
//! 4. Update: gradients by backpropagation from zero, then for every parameter
//!    `w ← w − (g · lr)` in f32, `lr` rounded to f32; no momentum, no weight
//!    decay, no clipping.
//! 5. The result is the canonical safetensors encoding of the new weights;
//!    the reported training loss is the mean of the `local_steps` batch losses
//!    (each taken before its update), summed in f64 in step order.

use std::ops::ControlFlow;

use sha2::{Digest, Sha256};
use tch::{Device, Kind};
use thiserror::Error;

use crate::dataset::{batch_tensors, Dataset, PIXELS};
use crate::hyperparams::TrainParams;
use crate::model::{Model, ModelError};
use crate::spec::ModelSpec;
use crate::weights::{weights_hash, Weights};

/// The update could not be computed (the inputs, not the network, are wrong).
#[derive(Debug, Error)]
pub enum StepError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the training split of the dataset is empty")]
    EmptyTrainingSplit,
    #[error("the model takes {got} inputs, the dataset records have {PIXELS} pixels")]
    InputMismatch { got: usize },
    #[error("a record has label {label}, the model has only {classes} classes")]
    LabelOutOfRange { label: u8, classes: u32 },
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("the step was cancelled after {done} of {total} local steps")]
    Cancelled { done: u32, total: u32 },
    #[error("the step ran past its time limit of {limit_secs} s ({done} of {total} local steps)")]
    TimedOut {
        limit_secs: u64,
        done: u32,
        total: u32,
    },
}

/// The longest one step (a Train or a Verify request) may run: it holds the
/// trainer's only job slot, and a verdict later than the chain's verdict
/// window counts for nothing anyway.
pub const MAX_STEP_TIME: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// `sha256(base_hash ‖ trainer ‖ nonce_be_u64 ‖ step_be_u32)`: the seed of one step's batch.
pub fn step_seed(base_hash: &[u8; 32], trainer: &str, nonce: u64, step: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(base_hash);
    h.update(trainer.as_bytes());
    h.update(nonce.to_be_bytes());
    h.update(step.to_be_bytes());
    h.finalize().into()
}

/// The training-split indices of step `step`'s batch (see the module docs).
/// `train_len` must not be 0.
pub fn batch_indices(
    base_hash: &[u8; 32],
    trainer: &str,
    nonce: u64,
    step: u32,
    batch_size: u32,
    train_len: usize,
) -> Vec<usize> {
    assert!(train_len > 0, "batch_indices: empty training split");
    let seed = step_seed(base_hash, trainer, nonce, step);
    let mut out = Vec::with_capacity(batch_size as usize);
    let mut block: u32 = 0;
    while out.len() < batch_size as usize {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(block.to_be_bytes());
        let digest = h.finalize();
        for word in digest.chunks_exact(8) {
            if out.len() == batch_size as usize {
                break;
            }
            let w = u64::from_be_bytes(word.try_into().expect("8 bytes"));
            out.push((w % train_len as u64) as usize);
        }
        block += 1;
    }
    out
}

/// The result of one update.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// Canonical safetensors bytes of the new weights.
    pub weights: Vec<u8>,
    /// Hex SHA-256 of `weights`.
    pub weights_hash: String,
    /// Mean of the per-step batch losses.
    pub mean_train_loss: f64,
    /// The batch loss of every step, in order.
    pub step_losses: Vec<f64>,
}

/// Everything that defines an update.
#[derive(Debug, Clone, Copy)]
pub struct StepRequest<'a> {
    /// The lineage's architecture.
    pub spec: &'a ModelSpec,
    /// Safetensors bytes of the base version.
    pub base_weights: &'a [u8],
    /// The trainer's address as written on chain.
    pub trainer: &'a str,
    /// The trainer's nonce for this update.
    pub nonce: u64,
    /// Learning rate, batch size, local steps.
    pub params: TrainParams,
    /// The dataset version.
    pub dataset: &'a Dataset,
}

/// Runs the update on `device` (see the module docs).
pub fn run_step(req: &StepRequest<'_>, device: Device) -> Result<StepOutcome, StepError> {
    run_step_with_progress(req, device, |_, _| ControlFlow::Continue(()))
}

/// [`run_step`], calling `progress(step, batch_loss)` after every step; the
/// step stops with [`StepError::Cancelled`] when it answers `Break` (its
/// client went away), and with [`StepError::TimedOut`] past
/// [`MAX_STEP_TIME`].
pub fn run_step_with_progress(
    req: &StepRequest<'_>,
    device: Device,
    progress: impl FnMut(u32, f64) -> ControlFlow<()>,
) -> Result<StepOutcome, StepError> {
    run_step_within(req, device, MAX_STEP_TIME, progress)
}

/// [`run_step_with_progress`] with a time limit of its own.
pub fn run_step_within(
    req: &StepRequest<'_>,
    device: Device,
    limit: std::time::Duration,
    mut progress: impl FnMut(u32, f64) -> ControlFlow<()>,
) -> Result<StepOutcome, StepError> {
    let started = std::time::Instant::now();
    let spec = req.spec;
    check_dataset(spec, req.dataset)?;
    let base_hash: [u8; 32] = Sha256::digest(req.base_weights).into();
    let mut model = Model::from_safetensors(spec, req.base_weights, device)?;
    let train = req.dataset.train();
    let lr = f64::from(req.params.learning_rate as f32);

    let mut step_losses = Vec::with_capacity(req.params.local_steps as usize);
    for s in 0..req.params.local_steps {
        let idx = batch_indices(
            &base_hash,
            req.trainer,
            req.nonce,
            s,
            req.params.batch_size,
            train.len(),
        );
        let (xs, ys) = batch_tensors(idx.iter().map(|&i| &train[i]), device);
        let loss = model
            .forward(&xs)
            .log_softmax(-1, Kind::Float)
            .nll_loss(&ys);
        sgd_step(&mut model, &loss, lr)?;
        let value = loss.f_double_value(&[])?;
        step_losses.push(value);
        let total = req.params.local_steps;
        if progress(s, value).is_break() {
            return Err(StepError::Cancelled { done: s + 1, total });
        }
        if started.elapsed() > limit && s + 1 < total {
            return Err(StepError::TimedOut {
                limit_secs: limit.as_secs(),
                done: s + 1,
                total,
            });
        }
    }
    let weights: Weights = model.weights();
    let bytes = weights.encode();
    let mean_train_loss = step_losses.iter().sum::<f64>() / step_losses.len() as f64;
    Ok(StepOutcome {
        weights_hash: weights_hash(&bytes),
        weights: bytes,
        mean_train_loss,
        step_losses,
    })
}

/// One plain SGD step on `loss`: zero gradients, backward, `w ← w − g·lr`.
fn sgd_step(model: &mut Model, loss: &tch::Tensor, lr: f64) -> Result<(), tch::TchError> {
    for (_, p) in model.parameters() {
        let mut p = p.shallow_clone();
        p.zero_grad();
    }
    loss.f_backward()?;
    tch::no_grad(|| {
        for (_, p) in model.parameters() {
            let mut p = p.shallow_clone();
            let step = p.grad().f_mul_scalar(lr)?;
            let _ = p.f_sub_(&step)?;
        }
        Ok(())
    })
}

/// The dataset fits the model: non-empty training split, 784 inputs, labels below `classes`.
pub(crate) fn check_dataset(spec: &ModelSpec, dataset: &Dataset) -> Result<(), StepError> {
    if spec.input_len() != PIXELS {
        return Err(StepError::InputMismatch {
            got: spec.input_len(),
        });
    }
    if dataset.train().is_empty() {
        return Err(StepError::EmptyTrainingSplit);
    }
    let classes = spec.classes();
    if let Some(r) = dataset
        .train()
        .iter()
        .chain(dataset.validation())
        .find(|r| u32::from(r.label) >= classes)
    {
        return Err(StepError::LabelOutOfRange {
            label: r.label,
            classes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;
    use crate::testutil;

    const TRAINER: &str = "um1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu";

    #[test]
    fn batch_indices_known_answer() {
        // Computed independently with Python's hashlib from the module docs:
        // seed = sha256(bytes(range(32)) + b"um1trainer" + (7).to_bytes(8,"big") + (3).to_bytes(4,"big"))
        // words of sha256(seed + j.to_bytes(4,"big")), big-endian u64, mod 1000.
        let base: [u8; 32] = std::array::from_fn(|i| i as u8);
        let got = batch_indices(&base, "um1trainer", 7, 3, 6, 1000);
        assert_eq!(got, testutil::KNOWN_BATCH);
        assert_eq!(
            hex::encode(step_seed(&base, "um1trainer", 7, 3)),
            testutil::KNOWN_SEED
        );
    }

    #[test]
    fn batch_indices_are_deterministic_and_sensitive_to_every_input() {
        let base = [9u8; 32];
        let a = batch_indices(&base, TRAINER, 1, 0, 64, 9000);
        assert_eq!(a, batch_indices(&base, TRAINER, 1, 0, 64, 9000));
        assert_eq!(a.len(), 64);
        assert!(a.iter().all(|&i| i < 9000));
        let mut other_base = base;
        other_base[31] ^= 1;
        for (what, b) in [
            (
                "base hash",
                batch_indices(&other_base, TRAINER, 1, 0, 64, 9000),
            ),
            ("trainer", batch_indices(&base, "um1other", 1, 0, 64, 9000)),
            ("nonce", batch_indices(&base, TRAINER, 2, 0, 64, 9000)),
            ("step", batch_indices(&base, TRAINER, 1, 1, 64, 9000)),
            ("train_len", batch_indices(&base, TRAINER, 1, 0, 64, 8999)),
        ] {
            assert_ne!(a, b, "changing the {what} must change the batch");
        }
        // A longer batch extends the shorter one (same stream).
        let long = batch_indices(&base, TRAINER, 1, 0, 100, 9000);
        assert_eq!(&long[..64], &a[..]);
        // Roughly uniform: every index of a small split appears.
        let small = batch_indices(&base, TRAINER, 1, 0, 2000, 10);
        for i in 0..10 {
            let c = small.iter().filter(|&&x| x == i).count();
            assert!((120..280).contains(&c), "index {i} drawn {c} times of 2000");
        }
    }

    /// Issue 13, finding 14: a running step held the only job slot to the
    /// end whatever happened. It stops when its client goes away and past
    /// its time limit.
    #[test]
    fn a_step_stops_when_cancelled_or_out_of_time() {
        let ds = testutil::small_mnist();
        let spec = testutil::mlp_spec();
        let base_bytes = Model::init(&spec, 1, Device::Cpu).unwrap().to_safetensors();
        let req = StepRequest {
            spec: &spec,
            base_weights: &base_bytes,
            trainer: TRAINER,
            nonce: 1,
            params: TrainParams {
                learning_rate: 0.1,
                batch_size: 8,
                local_steps: 50,
            },
            dataset: ds,
        };
        let err = run_step_with_progress(&req, Device::Cpu, |s, _| {
            if s == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
        assert!(
            matches!(err, StepError::Cancelled { done: 3, total: 50 }),
            "{err:?}"
        );
        let err = run_step_within(&req, Device::Cpu, std::time::Duration::ZERO, |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                StepError::TimedOut {
                    done: 1,
                    total: 50,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn sgd_reduces_loss_on_real_digits() {
        let ds = testutil::small_mnist();
        let spec = testutil::mlp_spec();
        let base = Model::init(&spec, 1, Device::Cpu).unwrap();
        let before = evaluate(&base, ds.validation()).unwrap();
        let base_bytes = base.to_safetensors();
        let mut seen = Vec::new();
        let out = run_step_with_progress(
            &StepRequest {
                spec: &spec,
                base_weights: &base_bytes,
                trainer: TRAINER,
                nonce: 1,
                params: TrainParams {
                    learning_rate: 0.5,
                    batch_size: 64,
                    local_steps: 30,
                },
                dataset: ds,
            },
            Device::Cpu,
            |s, l| {
                seen.push((s, l));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 30);
        assert_eq!(
            seen.iter().map(|p| p.1).collect::<Vec<_>>(),
            out.step_losses
        );
        assert_eq!(out.weights_hash, weights_hash(&out.weights));
        assert_ne!(out.weights, base_bytes);
        let after = evaluate(
            &Model::from_safetensors(&spec, &out.weights, Device::Cpu).unwrap(),
            ds.validation(),
        )
        .unwrap();
        eprintln!("validation before {before:?}, after {after:?}");
        // Untrained: ~ln(10) = 2.30 and chance accuracy; 30 steps of SGD learn a lot.
        assert!(before.loss > 2.0, "{before:?}");
        assert!(after.loss < 0.8 * before.loss, "{before:?} → {after:?}");
        assert!(after.accuracy > 0.5, "{after:?}");
        let first: f64 = out.step_losses[..5].iter().sum();
        let last: f64 = out.step_losses[25..].iter().sum();
        assert!(last < first, "training loss went from {first} to {last}");
        let mean = out.step_losses.iter().sum::<f64>() / 30.0;
        assert_eq!(out.mean_train_loss, mean);
    }

    #[test]
    fn cnn_trains_too() {
        let ds = testutil::small_mnist();
        let spec = ModelSpec::parse(
            r#"{"kind":"cnn","input":[1,28,28],"channels":[4,8],"kernel":3,"hidden":32,"classes":10}"#,
        )
        .unwrap();
        let base = Model::init(&spec, 1, Device::Cpu).unwrap().to_safetensors();
        let out = run_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: TRAINER,
                nonce: 5,
                params: TrainParams {
                    learning_rate: 0.1,
                    batch_size: 32,
                    local_steps: 4,
                },
                dataset: ds,
            },
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(out.step_losses.len(), 4);
        assert!(out.step_losses.iter().all(|l| l.is_finite() && *l > 0.0));
        Weights::decode_canonical(&spec, &out.weights).unwrap();
    }

    /// Same inputs, same bytes: across runs and with 1 or 2 intra-op threads.
    #[test]
    fn training_is_bitwise_deterministic_across_runs_and_thread_counts() {
        assert!(
            crate::runtime::mkl_strict(),
            "MKL_CBWR must be {} (set in .cargo/config.toml)",
            crate::runtime::MKL_CBWR
        );
        let _guard = testutil::THREADS.lock().unwrap_or_else(|e| e.into_inner());
        for spec in [testutil::mlp_spec(), testutil::cnn_spec()] {
            deterministic_for(&spec);
        }
        assert!(!crate::runtime::mkldnn_enabled());
    }

    fn deterministic_for(spec: &ModelSpec) {
        let ds = testutil::small_mnist();
        let base = Model::init(spec, 2, Device::Cpu).unwrap().to_safetensors();
        let req = StepRequest {
            spec,
            base_weights: &base,
            trainer: TRAINER,
            nonce: 42,
            params: TrainParams {
                learning_rate: 0.05,
                batch_size: 64,
                local_steps: 8,
            },
            dataset: ds,
        };
        let previous = tch::get_num_threads();
        let mut results = Vec::new();
        for threads in [1, 2, 1, 2] {
            tch::set_num_threads(threads);
            assert_eq!(tch::get_num_threads(), threads);
            let out = run_step(&req, Device::Cpu).unwrap();
            results.push((threads, out.weights_hash, out.step_losses));
        }
        tch::set_num_threads(previous);
        for r in &results[1..] {
            let (a, b) = (r.0, results[0].0);
            assert_eq!(
                r.1, results[0].1,
                "{spec:?}: weights with {a} vs {b} threads"
            );
            assert_eq!(
                r.2, results[0].2,
                "{spec:?}: losses with {a} vs {b} threads"
            );
        }
        // And a different nonce gives different weights (the comparison can fail).
        let other = run_step(&StepRequest { nonce: 43, ..req }, Device::Cpu).unwrap();
        assert_ne!(other.weights_hash, results[0].1);
    }

    #[test]
    fn refuses_datasets_that_do_not_fit() {
        let spec = testutil::mlp_spec();
        let base = Model::init(&spec, 1, Device::Cpu).unwrap().to_safetensors();
        let run = |spec: &ModelSpec, ds: &Dataset| {
            run_step(
                &StepRequest {
                    spec,
                    base_weights: &base,
                    trainer: TRAINER,
                    nonce: 0,
                    params: TrainParams {
                        learning_rate: 0.1,
                        batch_size: 4,
                        local_steps: 1,
                    },
                    dataset: ds,
                },
                Device::Cpu,
            )
            .unwrap_err()
        };
        let empty = Dataset::default();
        assert!(matches!(run(&spec, &empty), StepError::EmptyTrainingSplit));
        let two_classes =
            ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[8],"classes":2}"#).unwrap();
        assert!(matches!(
            run(&two_classes, testutil::small_mnist()),
            StepError::LabelOutOfRange { .. }
        ));
        let wide =
            ModelSpec::parse(r#"{"kind":"mlp","input":[785],"hidden":[8],"classes":10}"#).unwrap();
        assert!(matches!(
            run(&wide, testutil::small_mnist()),
            StepError::InputMismatch { got: 785 }
        ));
        // Base weights of another architecture.
        assert!(matches!(
            run(
                &ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[8],"classes":10}"#)
                    .unwrap(),
                testutil::small_mnist()
            ),
            StepError::Model(_)
        ));
    }
}
