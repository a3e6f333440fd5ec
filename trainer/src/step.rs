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
//!
//! ## Collaborative rounds
//!
//! A round's contribution (`TrainingStep.round_shard` set) is the same
//! update except for rule 2: its batches come from the trainer's shard of
//! the round's sample permutation, and the trainer's address and the nonce
//! do not enter them (the chain gives every trainer of a round a different
//! shard, so no two trainers of a round repeat each other's samples).
//!
//! 6. **Word stream** of a 32-byte `seed` under a `prefix`: block `b`
//!    (`b = 0, 1, …`, u32 big-endian) is `sha256(prefix ‖ seed ‖ b)`; each
//!    block is read as four u64 big-endian words, consumed in order; `w_i` is
//!    the `i`-th word of the stream.
//! 7. **Partial Fisher–Yates** of `n` items, `m` of them (`m ≤ n`): start
//!    from `idx = [0, 1, …, n−1]`; for `i = 0 … m−1`:
//!    `j = i + (w_i mod (n − i))`, swap `idx[i]` and `idx[j]`. Only
//!    `idx[0..m]` is used afterwards.
//! 8. **Shard batches**: `n` = length of the training split (sorted as in
//!    rule 2), `B` = batch_size, `S` = local_steps, `L = S·B`, `K` = shards
//!    (the round's `max_contributions`, ≥ 1), `k` = shard (`< K`), seed =
//!    `Round.seed` (32 bytes). `m = min(n, K·L)` (exact integer arithmetic).
//!    The permutation is rule 7 with prefix `"um/round-permutation"`. Sample
//!    `j` (`0 ≤ j < L`) of shard `k` is training index
//!    `idx[(k·L + j) mod m]`; step `s`'s batch is samples
//!    `j ∈ [s·B, (s+1)·B)` in that order. When `K·L ≤ n` the `K` shards are
//!    pairwise disjoint; when the round wants more samples than the split
//!    has, they wrap around the permuted prefix. Refused: `K = 0`, `k ≥ K`,
//!    a seed that is not 32 bytes, an empty training split.
//! 9. **Held-out subset** of a merged candidate (verification mode
//!    CANDIDATE, [`crate::verify`]): the validation split in its usual
//!    order, length `v`. With `eval_samples = 0` or `≥ v`, the whole split;
//!    otherwise rule 7 with prefix `"um/eval-sample"`, seed = the
//!    candidate's `eval_seed` (32 bytes), `n = v`, `m = eval_samples`, and
//!    the subset is `idx[0..eval_samples]` in that order.
//!
//! ## Checkpoints and segments
//!
//! A round may ask its contributions for checkpoints
//! (`RoundParams.checkpoint_interval`), so that a validator can re-execute
//! a sample of the step's segments instead of the whole step (the chain's
//! side of the same rule is `abci-app/src/training/round/segments.rs`).
//!
//! 10. **Segments**: with checkpoint interval `c > 0` and `S` =
//!     local_steps, a contribution has `N = ⌈S / c⌉` segments when `c < S`,
//!     else `N = 1` (and no checkpoints; so does `c = 0`). Segment `j`
//!     (`0 ≤ j < N`) covers the steps `j·c` up to `min((j+1)·c, S)`
//!     (exclusive).
//! 11. **Checkpoints**: checkpoint `j` (`1 ≤ j ≤ N−1`) is the canonical
//!     safetensors encoding (rule 5) of the weights after step `j·c`,
//!     exactly the weights the full step holds at that point. Checkpoint 0
//!     is the base `B`, checkpoint `N` the contribution's final weights. A
//!     contribution carries checkpoints `1 … N−1`, in order.
//! 12. **Re-executing a segment**: the steps of segment `j` run from
//!     checkpoint `j` with the batches the full step uses at those step
//!     indices (rule 2 with `base_hash` of `B`, not of the checkpoint; rule 8
//!     samples `[s·B, (s+1)·B)` of the shard), so segment `j` re-executed on
//!     its own gives checkpoint `j+1` (bitwise on the same CPU; within the
//!     verification tolerance elsewhere). Nothing carries over from one step
//!     to the next but the weights (no momentum), which is what makes a
//!     segment independent of the steps before it.

use std::ops::ControlFlow;

use sha2::{Digest, Sha256};
use tch::{Device, Kind};
use thiserror::Error;

use crate::dataset::{task_tensors, Dataset, PIXELS};
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
    #[error("round shard: {0}")]
    InvalidShard(String),
    #[error("the step ran past its time limit of {limit_secs} s ({done} of {total} local steps)")]
    TimedOut {
        limit_secs: u64,
        done: u32,
        total: u32,
    },
    #[error("segment: {0}")]
    InvalidSegment(String),
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

/// Prefix of the word stream of a round's sample permutation (rule 8).
pub const ROUND_PERMUTATION_PREFIX: &[u8] = b"um/round-permutation";
/// Prefix of the word stream of a candidate's held-out subset (rule 9).
pub const EVAL_SAMPLE_PREFIX: &[u8] = b"um/eval-sample";

/// A trainer's share of a round's samples (`um.trainer.v1.RoundShard`,
/// checked for form: the seed has its 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundShard {
    /// Round number (for logs; the seed carries it).
    pub round: u64,
    /// `Round.seed`.
    pub seed: [u8; 32],
    /// The trainer's shard, below `shards`.
    pub shard: u32,
    /// Shards of the round (its `max_contributions`).
    pub shards: u32,
}

/// The word stream of rule 6: u64 words of `sha256(prefix ‖ seed ‖ b)`.
struct WordStream<'a> {
    prefix: &'a [u8],
    seed: &'a [u8; 32],
    block: u32,
    words: [u64; 4],
    next: usize,
}

impl<'a> WordStream<'a> {
    fn new(prefix: &'a [u8], seed: &'a [u8; 32]) -> Self {
        Self {
            prefix,
            seed,
            block: 0,
            words: [0; 4],
            // Empty: the first call hashes block 0.
            next: 4,
        }
    }

    fn next_word(&mut self) -> u64 {
        if self.next == 4 {
            let mut h = Sha256::new();
            h.update(self.prefix);
            h.update(self.seed);
            h.update(self.block.to_be_bytes());
            let digest: [u8; 32] = h.finalize().into();
            for (word, bytes) in self.words.iter_mut().zip(digest.chunks_exact(8)) {
                let mut be = [0u8; 8];
                be.copy_from_slice(bytes);
                *word = u64::from_be_bytes(be);
            }
            // 2^32 blocks are 2^34 words, far more than any split this
            // trainer loads (chain::MAX_DATASET_RECORDS); wrapping keeps
            // the function total.
            self.block = self.block.wrapping_add(1);
            self.next = 0;
        }
        let w = self.words[self.next];
        self.next += 1;
        w
    }
}

/// `idx[0..m]` of the partial Fisher–Yates of rule 7 over `0..n` with the
/// word stream of `prefix` and `seed`; `m` is capped at `n`.
pub fn partial_permutation(prefix: &[u8], seed: &[u8; 32], n: usize, m: usize) -> Vec<usize> {
    let m = m.min(n);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut words = WordStream::new(prefix, seed);
    for i in 0..m {
        // n − i ≥ 1 because i < m ≤ n; the remainder is below n − i, so j < n.
        let span = (n - i) as u64;
        let j = i + (words.next_word() % span) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

/// The batches of one shard of a round (rule 8): the permuted prefix is
/// computed once per step run, each batch is read from it.
///
/// It keeps `idx[0..m]` (at most the split's length) rather than the
/// shard's `L = local_steps × batch_size` indices: `L` is bounded only by
/// the request's work limit, the split by what the trainer loads.
#[derive(Debug, Clone)]
pub struct ShardBatches {
    /// `idx[0..m]`.
    order: Vec<usize>,
    /// `k·L`, exact.
    first: u128,
    batch_size: u32,
    local_steps: u32,
}

impl ShardBatches {
    /// The batches of `shard` for steps of `batch_size` samples over a
    /// training split of `train_len` records.
    pub fn new(
        shard: &RoundShard,
        batch_size: u32,
        local_steps: u32,
        train_len: usize,
    ) -> Result<Self, StepError> {
        if shard.shards == 0 {
            return Err(StepError::InvalidShard(
                "a round has at least one shard (shards = 0)".into(),
            ));
        }
        if shard.shard >= shard.shards {
            return Err(StepError::InvalidShard(format!(
                "shard {} of {} shards (0 to {})",
                shard.shard,
                shard.shards,
                shard.shards - 1
            )));
        }
        if train_len == 0 {
            return Err(StepError::EmptyTrainingSplit);
        }
        // Exact: u32 · u32 fits u64, and u32 · u64 fits u128.
        let per_shard = u64::from(local_steps) * u64::from(batch_size);
        let wanted = u128::from(shard.shards) * u128::from(per_shard);
        let m = usize::try_from(wanted).map_or(train_len, |w| w.min(train_len));
        Ok(Self {
            order: partial_permutation(ROUND_PERMUTATION_PREFIX, &shard.seed, train_len, m),
            first: u128::from(shard.shard) * u128::from(per_shard),
            batch_size,
            local_steps,
        })
    }

    /// The training indices of step `step`'s batch.
    pub fn batch(&self, step: u32) -> Vec<usize> {
        let m = self.order.len() as u128;
        let start = u128::from(step) * u128::from(self.batch_size);
        (0..u128::from(self.batch_size))
            .map(|t| {
                // m ≥ 1 (n ≥ 1 and K·L ≥ 1), and the remainder is below m.
                let at = (self.first + start + t) % m;
                self.order[at as usize]
            })
            .collect()
    }

    /// All `L` samples of the shard, step after step.
    pub fn all(&self) -> Vec<usize> {
        (0..self.local_steps).flat_map(|s| self.batch(s)).collect()
    }
}

/// The `L = local_steps × batch_size` training indices of a round's shard,
/// in sample order (rule 8).
pub fn shard_indices(
    shard: &RoundShard,
    batch_size: u32,
    local_steps: u32,
    train_len: usize,
) -> Result<Vec<usize>, StepError> {
    Ok(ShardBatches::new(shard, batch_size, local_steps, train_len)?.all())
}

/// The validation indices a merged candidate is judged on (rule 9): all of
/// `0..validation_len` when `eval_samples` is 0 or at least the split's
/// length, else `eval_samples` of them drawn with `eval_seed`.
pub fn eval_subset_indices(
    eval_seed: &[u8; 32],
    eval_samples: u32,
    validation_len: usize,
) -> Vec<usize> {
    let wanted = usize::try_from(eval_samples).unwrap_or(usize::MAX);
    if wanted == 0 || wanted >= validation_len {
        return (0..validation_len).collect();
    }
    partial_permutation(EVAL_SAMPLE_PREFIX, eval_seed, validation_len, wanted)
}

/// Rule 10, shared with the chain (`um_formats::segments`): the number of
/// segments and the `(first_step, steps)` of one.
pub use um_formats::segments::{bounds as segment_bounds, count as segment_count};

/// Where a step's batches come from.
enum Batches {
    /// Rule 2: seeded by the base, the trainer and the nonce.
    Nonce { base_hash: [u8; 32] },
    /// Rule 8: a round's shard.
    Shard(ShardBatches),
}

/// The result of one update (or of one segment of it, [`SegmentRunner`]).
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
    /// With a checkpoint interval `c` ([`run_step_checkpointed`]): the
    /// canonical safetensors bytes of the weights after steps `c, 2c, …`
    /// below `local_steps` (rule 11, checkpoints `1 … N−1`); empty otherwise.
    pub checkpoints: Vec<Vec<u8>>,
}

/// Everything that defines an update.
#[derive(Debug, Clone, Copy)]
pub struct StepRequest<'a> {
    /// The lineage's architecture.
    pub spec: &'a ModelSpec,
    /// Safetensors bytes of the base version.
    pub base_weights: &'a [u8],
    /// The trainer's address as written on chain (not used by a round's
    /// contribution, whose batches come from its shard).
    pub trainer: &'a str,
    /// The trainer's nonce for this update (0 and unused for a round's
    /// contribution).
    pub nonce: u64,
    /// Learning rate, batch size, local steps.
    pub params: TrainParams,
    /// The dataset version.
    pub dataset: &'a Dataset,
}

/// Runs the update on `device` (see the module docs), with the batches of
/// rule 2 (trainer and nonce).
pub fn run_step(req: &StepRequest<'_>, device: Device) -> Result<StepOutcome, StepError> {
    run_step_with_progress(req, None, device, |_, _| ControlFlow::Continue(()))
}

/// Runs a round's contribution on `device`: [`run_step`] with the batches
/// of `shard` (rule 8).
pub fn run_round_step(
    req: &StepRequest<'_>,
    shard: &RoundShard,
    device: Device,
) -> Result<StepOutcome, StepError> {
    run_step_with_progress(req, Some(shard), device, |_, _| ControlFlow::Continue(()))
}

/// [`run_step`] (or [`run_round_step`] when `shard` is set), calling
/// `progress(step, batch_loss)` after every step; the step stops with
/// [`StepError::Cancelled`] when it answers `Break` (its client went away),
/// and with [`StepError::TimedOut`] past [`MAX_STEP_TIME`].
pub fn run_step_with_progress(
    req: &StepRequest<'_>,
    shard: Option<&RoundShard>,
    device: Device,
    progress: impl FnMut(u32, f64) -> ControlFlow<()>,
) -> Result<StepOutcome, StepError> {
    run_step_within(req, shard, device, MAX_STEP_TIME, progress)
}

/// [`run_step_with_progress`] with a time limit of its own.
pub fn run_step_within(
    req: &StepRequest<'_>,
    shard: Option<&RoundShard>,
    device: Device,
    limit: std::time::Duration,
    progress: impl FnMut(u32, f64) -> ControlFlow<()>,
) -> Result<StepOutcome, StepError> {
    run_step_checkpointed(req, shard, 0, device, limit, progress)
}

/// [`run_step_within`], also recording the checkpoints of rule 11 every
/// `checkpoint_interval` steps (none when it is 0 or not below
/// `local_steps`). The final weights and the losses are those of the step
/// without checkpoints: recording one only copies the weights out.
pub fn run_step_checkpointed(
    req: &StepRequest<'_>,
    shard: Option<&RoundShard>,
    checkpoint_interval: u32,
    device: Device,
    limit: std::time::Duration,
    progress: impl FnMut(u32, f64) -> ControlFlow<()>,
) -> Result<StepOutcome, StepError> {
    let runner = SegmentRunner::new(req, shard, device)?;
    runner.run_span(
        &Span {
            start_weights: req.base_weights,
            first_step: 0,
            steps: req.params.local_steps,
            checkpoint_interval,
        },
        limit,
        progress,
    )
}

/// Re-executes `steps` steps of the update from step index `first_step`,
/// starting from `start_weights` instead of the base (rule 12): with the
/// batches the full step uses at those indices.
pub fn run_segment(
    req: &StepRequest<'_>,
    shard: Option<&RoundShard>,
    first_step: u32,
    steps: u32,
    start_weights: &[u8],
    device: Device,
) -> Result<StepOutcome, StepError> {
    SegmentRunner::new(req, shard, device)?.run(
        first_step,
        steps,
        start_weights,
        MAX_STEP_TIME,
        |_, _| ControlFlow::Continue(()),
    )
}

/// Which steps a run executes, from which weights, with which checkpoints.
struct Span<'a> {
    start_weights: &'a [u8],
    first_step: u32,
    steps: u32,
    checkpoint_interval: u32,
}

/// Runs steps of one update: the whole step, or segments of it (rule 12).
/// The batch source is derived once, so that a verifier re-executing many
/// segments does not redo a shard's permutation (a pass over the whole
/// training split) for each.
pub struct SegmentRunner<'a> {
    req: StepRequest<'a>,
    batches: Batches,
    device: Device,
}

impl<'a> SegmentRunner<'a> {
    /// The steps of `req` (with the batches of `shard` when set) on `device`;
    /// fails as [`run_step`] does when the dataset does not fit the model.
    pub fn new(
        req: &StepRequest<'a>,
        shard: Option<&RoundShard>,
        device: Device,
    ) -> Result<Self, StepError> {
        check_dataset(req.spec, req.dataset)?;
        let train_len = req.dataset.train().len();
        let batches = match shard {
            Some(shard) => Batches::Shard(ShardBatches::new(
                shard,
                req.params.batch_size,
                req.params.local_steps,
                train_len,
            )?),
            // The base's hash, also for a segment that starts elsewhere: the
            // batches are those of the full step (rule 12).
            None => Batches::Nonce {
                base_hash: Sha256::digest(req.base_weights).into(),
            },
        };
        Ok(Self {
            req: *req,
            batches,
            device,
        })
    }

    /// Steps `first_step .. first_step + steps` from `start_weights`
    /// (safetensors of the spec), calling `progress(step, batch_loss)` with
    /// the step's index in the full step; the end weights in the outcome.
    /// Refused ([`StepError::InvalidSegment`]): no steps, or steps past
    /// `local_steps`.
    pub fn run(
        &self,
        first_step: u32,
        steps: u32,
        start_weights: &[u8],
        limit: std::time::Duration,
        progress: impl FnMut(u32, f64) -> ControlFlow<()>,
    ) -> Result<StepOutcome, StepError> {
        let local_steps = self.req.params.local_steps;
        if steps == 0 {
            return Err(StepError::InvalidSegment(format!(
                "no steps from step {first_step}"
            )));
        }
        // In u64: first_step + steps may pass u32::MAX.
        if u64::from(first_step) + u64::from(steps) > u64::from(local_steps) {
            return Err(StepError::InvalidSegment(format!(
                "steps {first_step} to {} are past the step's {local_steps} steps",
                u64::from(first_step) + u64::from(steps)
            )));
        }
        self.run_span(
            &Span {
                start_weights,
                first_step,
                steps,
                checkpoint_interval: 0,
            },
            limit,
            progress,
        )
    }

    fn run_span(
        &self,
        span: &Span<'_>,
        limit: std::time::Duration,
        mut progress: impl FnMut(u32, f64) -> ControlFlow<()>,
    ) -> Result<StepOutcome, StepError> {
        let started = std::time::Instant::now();
        let req = &self.req;
        let train = req.dataset.train();
        let mut model = Model::from_safetensors(req.spec, span.start_weights, self.device)?;
        let lr = f64::from(req.params.learning_rate as f32);
        let end = span.first_step.saturating_add(span.steps);
        let total = span.steps;

        let mut step_losses = Vec::with_capacity(span.steps as usize);
        let mut checkpoints = Vec::new();
        for s in span.first_step..end {
            let idx = match &self.batches {
                Batches::Nonce { base_hash } => batch_indices(
                    base_hash,
                    req.trainer,
                    req.nonce,
                    s,
                    req.params.batch_size,
                    train.len(),
                ),
                Batches::Shard(shard) => shard.batch(s),
            };
            let (xs, ys) =
                task_tensors(req.spec.task(), idx.iter().map(|&i| &train[i]), self.device);
            let loss = model
                .loss_logits(&xs)
                .log_softmax(-1, Kind::Float)
                .nll_loss(&ys);
            sgd_step(&mut model, &loss, lr)?;
            let value = loss.f_double_value(&[])?;
            step_losses.push(value);
            // Rule 11: after steps c, 2c, … strictly below the end (the end
            // is the final weights, not a checkpoint).
            let done_steps = s + 1;
            if span.checkpoint_interval > 0
                && done_steps % span.checkpoint_interval == 0
                && done_steps < end
            {
                checkpoints.push(model.weights().encode());
            }
            let done = done_steps - span.first_step;
            if progress(s, value).is_break() {
                return Err(StepError::Cancelled { done, total });
            }
            if started.elapsed() > limit && done < total {
                return Err(StepError::TimedOut {
                    limit_secs: limit.as_secs(),
                    done,
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
            checkpoints,
        })
    }
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

/// The dataset fits the model: non-empty training split; for a classifier
/// 784 inputs and labels below `classes` (a language model reads any bytes).
pub(crate) fn check_dataset(spec: &ModelSpec, dataset: &Dataset) -> Result<(), StepError> {
    if dataset.train().is_empty() {
        return Err(StepError::EmptyTrainingSplit);
    }
    if let ModelSpec::Gpt { .. } = spec {
        return Ok(());
    }
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

    fn shard(seed: [u8; 32], shard: u32, shards: u32) -> RoundShard {
        RoundShard {
            round: 1,
            seed,
            shard,
            shards,
        }
    }

    #[test]
    fn shard_indices_known_answer() {
        // Computed independently with Python's hashlib from the module docs
        // (rules 6-8): seed = bytes(range(32)), shard 1 of 3, B = 4, S = 2,
        // n = 50, so L = 8 and m = 24.
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        let got = shard_indices(&shard(seed, 1, 3), 4, 2, 50).unwrap();
        assert_eq!(got, [49, 32, 39, 23, 25, 26, 18, 12]);
        // Wrap-around: K·L = 24 > n = 10, so m = 10 and the shards cycle
        // through the permuted split (same reference).
        let wrap: Vec<Vec<usize>> = (0..3)
            .map(|k| shard_indices(&shard(seed, k, 3), 4, 2, 10).unwrap())
            .collect();
        assert_eq!(
            wrap,
            [
                vec![1, 4, 2, 3, 9, 6, 8, 5],
                vec![0, 7, 1, 4, 2, 3, 9, 6],
                vec![8, 5, 0, 7, 1, 4, 2, 3],
            ]
        );
        // Shard k starts where shard k−1 ended, modulo m.
        assert_eq!(wrap[1][2..], wrap[0][..6]);
        // Step s's batch is samples [s·B, (s+1)·B).
        let batches = ShardBatches::new(&shard(seed, 1, 3), 4, 2, 50).unwrap();
        assert_eq!(batches.batch(0), got[..4]);
        assert_eq!(batches.batch(1), got[4..]);
    }

    #[test]
    fn shards_are_deterministic_disjoint_and_in_range() {
        let seed = [7u8; 32];
        let (batch, steps, n) = (16, 5, 2000);
        let shards: Vec<Vec<usize>> = (0..8)
            .map(|k| shard_indices(&shard(seed, k, 8), batch, steps, n).unwrap())
            .collect();
        assert_eq!(
            shards[3],
            shard_indices(&shard(seed, 3, 8), batch, steps, n).unwrap(),
            "same inputs, same indices"
        );
        // K·L = 8·80 = 640 ≤ 2000: every sample of the round is distinct.
        let all: std::collections::BTreeSet<usize> = shards.iter().flatten().copied().collect();
        assert_eq!(all.len(), 8 * 80, "pairwise disjoint");
        assert!(all.iter().all(|&i| i < n));
        assert!(shards.iter().all(|s| s.len() == 80));
        // Another seed is another permutation.
        let other = shard_indices(&shard([8u8; 32], 3, 8), batch, steps, n).unwrap();
        assert_ne!(other, shards[3]);
        // Wrap-around: more wanted than there is, every index still < n,
        // and every record of the split is used.
        let small: Vec<usize> = (0..4)
            .flat_map(|k| shard_indices(&shard(seed, k, 4), 8, 3, 50).unwrap())
            .collect();
        assert_eq!(small.len(), 96);
        assert!(small.iter().all(|&i| i < 50));
        let used: std::collections::BTreeSet<usize> = small.iter().copied().collect();
        assert_eq!(used.len(), 50);
    }

    #[test]
    fn bad_shards_are_refused() {
        let seed = [1u8; 32];
        assert!(matches!(
            shard_indices(&shard(seed, 0, 0), 4, 2, 10),
            Err(StepError::InvalidShard(_))
        ));
        let err = shard_indices(&shard(seed, 3, 3), 4, 2, 10).unwrap_err();
        assert!(matches!(err, StepError::InvalidShard(_)), "{err:?}");
        assert!(err.to_string().contains("shard 3 of 3"), "{err}");
        assert!(matches!(
            shard_indices(&shard(seed, 0, 1), 4, 2, 0),
            Err(StepError::EmptyTrainingSplit)
        ));
    }

    #[test]
    fn eval_subsets() {
        // Python's hashlib from rule 9: seed = bytes(range(32, 64)), v = 20.
        let seed: [u8; 32] = std::array::from_fn(|i| 32 + i as u8);
        let got = eval_subset_indices(&seed, 5, 20);
        assert_eq!(got, [18, 10, 14, 15, 9]);
        assert_eq!(got, eval_subset_indices(&seed, 5, 20), "deterministic");
        assert_ne!(got, eval_subset_indices(&[0u8; 32], 5, 20));
        let big = eval_subset_indices(&seed, 300, 995);
        assert_eq!(big.len(), 300);
        let distinct: std::collections::BTreeSet<usize> = big.iter().copied().collect();
        assert_eq!(distinct.len(), 300, "drawn without replacement");
        assert!(big.iter().all(|&i| i < 995));
        // 0, or at least the split: the whole split in its order.
        let whole: Vec<usize> = (0..20).collect();
        assert_eq!(eval_subset_indices(&seed, 0, 20), whole);
        assert_eq!(eval_subset_indices(&seed, 20, 20), whole);
        assert_eq!(eval_subset_indices(&seed, 21, 20), whole);
    }

    /// The shard, not the trainer or the nonce, picks a contribution's batches.
    #[test]
    fn a_round_step_trains_on_its_shard() {
        let ds = testutil::small_mnist().truncated(500, 50);
        let spec = testutil::mlp_spec();
        let base = Model::init(&spec, 3, Device::Cpu).unwrap().to_safetensors();
        let req = StepRequest {
            spec: &spec,
            base_weights: &base,
            trainer: TRAINER,
            nonce: 0,
            params: TrainParams {
                learning_rate: 0.1,
                batch_size: 16,
                local_steps: 3,
            },
            dataset: &ds,
        };
        let s0 = shard([5u8; 32], 0, 4);
        let a = run_round_step(&req, &s0, Device::Cpu).unwrap();
        let other_trainer = StepRequest {
            trainer: "um1someoneelse",
            nonce: 9,
            ..req
        };
        let b = run_round_step(&other_trainer, &s0, Device::Cpu).unwrap();
        assert_eq!(a.weights_hash, b.weights_hash);
        let c = run_round_step(&req, &shard([5u8; 32], 1, 4), Device::Cpu).unwrap();
        assert_ne!(a.weights_hash, c.weights_hash);
        let d = run_step(&req, Device::Cpu).unwrap();
        assert_ne!(a.weights_hash, d.weights_hash);
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
        let err = run_step_with_progress(&req, None, Device::Cpu, |s, _| {
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
        let err = run_step_within(
            &req,
            None,
            Device::Cpu,
            std::time::Duration::ZERO,
            |_, _| ControlFlow::Continue(()),
        )
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
            None,
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

    /// A byte-level transformer on the works of Shakespeare: plain SGD
    /// lowers the held-out loss in nats per byte from chance (ln 256).
    #[test]
    fn a_gpt_learns_shakespeare() {
        let ds = testutil::shakespeare();
        let spec = testutil::gpt_spec();
        let model = Model::init(&spec, 1, Device::Cpu).unwrap();
        let held_out = &ds.validation()[..40];
        let before = evaluate(&model, held_out).unwrap();
        assert!((before.loss - 256f64.ln()).abs() < 0.3, "{before:?}");
        let out = run_step(
            &StepRequest {
                spec: &spec,
                base_weights: &model.to_safetensors(),
                trainer: TRAINER,
                nonce: 1,
                params: TrainParams {
                    learning_rate: GPT_LR,
                    batch_size: 4,
                    local_steps: 40,
                },
                dataset: ds,
            },
            Device::Cpu,
        )
        .unwrap();
        let after = Model::from_safetensors(&spec, &out.weights, Device::Cpu).unwrap();
        let after = evaluate(&after, held_out).unwrap();
        eprintln!(
            "held-out loss {:.3} -> {:.3} nats/byte, accuracy {:.3}",
            before.loss, after.loss, after.accuracy
        );
        assert!(after.loss < before.loss - 1.5, "{before:?} -> {after:?}");
    }

    const GPT_LR: f64 = 0.5;

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
            deterministic_for(&spec, testutil::small_mnist());
        }
        deterministic_for(&testutil::gpt_spec(), testutil::shakespeare());
        assert!(!crate::runtime::mkldnn_enabled());
    }

    fn deterministic_for(spec: &ModelSpec, ds: &Dataset) {
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
    fn segments_follow_rule_10() {
        // The chain's own examples (abci-app round/segments.rs).
        assert_eq!(segment_count(40, 0), 1);
        assert_eq!(segment_count(40, 40), 1);
        assert_eq!(segment_count(40, 41), 1);
        assert_eq!(segment_count(40, 10), 4);
        assert_eq!(segment_count(40, 15), 3);
        assert_eq!(segment_count(7, 1), 7);
        let covered: Vec<(u32, u32)> = (0..3).map(|j| segment_bounds(40, 15, j)).collect();
        assert_eq!(covered, [(0, 15), (15, 15), (30, 10)]);
        assert_eq!(segment_bounds(40, 0, 0), (0, 40));
        assert_eq!(segment_bounds(40, 50, 0), (0, 40));
        // Every step in exactly one segment, in order.
        for (steps, interval) in [(7, 3), (9, 3), (10, 4), (5, 1), (1, 1)] {
            let all: Vec<u32> = (0..segment_count(steps, interval))
                .flat_map(|j| {
                    let (first, n) = segment_bounds(steps, interval, j);
                    first..first + n
                })
                .collect();
            assert_eq!(all, (0..steps).collect::<Vec<_>>(), "{steps} / {interval}");
        }
    }

    /// A request of `steps` steps of batches of 16 on `ds`.
    fn short_request<'a>(
        spec: &'a ModelSpec,
        base: &'a [u8],
        ds: &'a Dataset,
        steps: u32,
    ) -> StepRequest<'a> {
        StepRequest {
            spec,
            base_weights: base,
            trainer: TRAINER,
            nonce: 4,
            params: TrainParams {
                learning_rate: 0.1,
                batch_size: 16,
                local_steps: steps,
            },
            dataset: ds,
        }
    }

    fn checkpointed(
        req: &StepRequest<'_>,
        shard: Option<&RoundShard>,
        interval: u32,
    ) -> StepOutcome {
        run_step_checkpointed(req, shard, interval, Device::Cpu, MAX_STEP_TIME, |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap()
    }

    /// Rule 11: checkpoint j is the weights of the full step after j·c
    /// steps, i.e. of a shorter run of j·c steps; recording them changes
    /// nothing else.
    #[test]
    fn checkpoints_are_the_weights_of_shorter_runs() {
        // 300 training records, 8 shards of 3 steps of 16 already want
        // 384 > 300 samples: the permutation is the whole split for 3, 6
        // and 7 steps alike, and shard 0 starts at sample 0 whatever the
        // step count, so its shorter runs use the same batches (for the
        // nonce batches of rule 2 the step count never matters).
        let ds = testutil::small_mnist().truncated(300, 50);
        let spec = testutil::mlp_spec();
        let base = Model::init(&spec, 6, Device::Cpu).unwrap().to_safetensors();
        let s0 = shard([0x21; 32], 0, 8);
        for shard in [None, Some(&s0)] {
            let full = short_request(&spec, &base, &ds, 7);
            let plain = run_step_within(&full, shard, Device::Cpu, MAX_STEP_TIME, |_, _| {
                ControlFlow::Continue(())
            })
            .unwrap();
            assert!(plain.checkpoints.is_empty());
            // c = 3 of S = 7: N = 3 segments, checkpoints after steps 3 and 6.
            let out = checkpointed(&full, shard, 3);
            assert_eq!(out.checkpoints.len(), 2, "{shard:?}");
            assert_eq!(out.weights, plain.weights, "{shard:?}: same final weights");
            assert_eq!(out.step_losses, plain.step_losses);
            for (j, checkpoint) in out.checkpoints.iter().enumerate() {
                let steps = 3 * (j as u32 + 1);
                let shorter =
                    checkpointed(&short_request(&spec, &base, &ds, steps), shard, 0).weights;
                assert_eq!(*checkpoint, shorter, "{shard:?}: checkpoint {}", j + 1);
                Weights::decode_canonical(&spec, checkpoint).unwrap();
            }
            assert_ne!(out.checkpoints[0], out.checkpoints[1]);
            assert_ne!(out.checkpoints[1], out.weights);
            // Every step (c = 1): S − 1 checkpoints; c ≥ S or 0: none.
            let every = checkpointed(&full, shard, 1);
            assert_eq!(every.checkpoints.len(), 6);
            assert_eq!(every.checkpoints[2], out.checkpoints[0]);
            assert_eq!(every.checkpoints[5], out.checkpoints[1]);
            for interval in [0, 7, 8, u32::MAX] {
                let none = checkpointed(&full, shard, interval);
                assert!(none.checkpoints.is_empty(), "interval {interval}");
                assert_eq!(none.weights, plain.weights);
            }
        }
    }

    /// Rule 12: segment j re-executed on its own from checkpoint j gives
    /// checkpoint j+1 bit for bit, the last one the final weights.
    #[test]
    fn segments_re_executed_from_checkpoints_reproduce_the_next_one() {
        let ds = testutil::small_mnist().truncated(500, 50);
        let spec = testutil::mlp_spec();
        let base = Model::init(&spec, 7, Device::Cpu).unwrap().to_safetensors();
        let req = short_request(&spec, &base, &ds, 8);
        let s2 = shard([0x44; 32], 2, 4);
        for shard in [None, Some(&s2)] {
            let out = checkpointed(&req, shard, 3);
            // 0, 3, 6, 8: three segments, the last of two steps.
            assert_eq!(out.checkpoints.len(), 2);
            let chain: Vec<&[u8]> = std::iter::once(base.as_slice())
                .chain(out.checkpoints.iter().map(Vec::as_slice))
                .chain(std::iter::once(out.weights.as_slice()))
                .collect();
            let mut losses = Vec::new();
            for j in 0..3 {
                let (first, steps) = segment_bounds(8, 3, j);
                let seg =
                    run_segment(&req, shard, first, steps, chain[j as usize], Device::Cpu).unwrap();
                assert_eq!(seg.weights, chain[j as usize + 1], "{shard:?}: segment {j}");
                assert_eq!(seg.step_losses.len(), steps as usize);
                losses.extend(seg.step_losses);
            }
            assert_eq!(
                losses, out.step_losses,
                "the same batches at the same steps"
            );
            // The step index picks the batches: segment 1's start run as
            // steps 0..3 (another segment's batches) does not give checkpoint 2.
            let wrong = run_segment(&req, shard, 0, 3, chain[1], Device::Cpu).unwrap();
            assert_ne!(wrong.weights, chain[2]);
            // Nor does segment 1 from the base.
            let wrong = run_segment(&req, shard, 3, 3, chain[0], Device::Cpu).unwrap();
            assert_ne!(wrong.weights, chain[2]);
        }
        // Empty or past the step: refused.
        for (first, steps) in [(0, 0), (6, 3), (8, 1), (u32::MAX, 2)] {
            let err = run_segment(&req, None, first, steps, &base, Device::Cpu).unwrap_err();
            assert!(matches!(err, StepError::InvalidSegment(_)), "{err:?}");
        }
        // Start weights of another architecture are the model's error.
        let other =
            ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[8],"classes":10}"#).unwrap();
        let err = run_segment(
            &req,
            None,
            0,
            1,
            &Weights::init(&other, 1).encode(),
            Device::Cpu,
        )
        .unwrap_err();
        assert!(matches!(err, StepError::Model(_)), "{err:?}");
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
