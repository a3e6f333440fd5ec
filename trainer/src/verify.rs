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
//!
//!   With [`VerifyOptions::segments`] (a contribution with checkpoints,
//!   [`crate::step`] rules 10-12) only those segments are re-executed: the
//!   claimed weights and every checkpoint given are first checked for
//!   evident fraud (the reasons of step 1); then each segment, in
//!   ascending order, runs from its start checkpoint (empty: the base) and
//!   is compared with its end checkpoint (empty: the claimed weights) by
//!   the same relative distance. The first segment beyond the tolerance
//!   rejects with [`Reason::NotReproduced`] and is the verdict's
//!   `failed_segment`; the rest are not run. A segment list that is not
//!   strictly ascending, overlaps, has an empty segment or one past
//!   `local_steps`, or leaves a start (end) checkpoint out for a segment
//!   that does not start (end) the step is the caller's mistake
//!   ([`VerifyError::Segments`]). A trainer that fakes one segment of `N`
//!   escapes a validator that checks `s` of them with probability
//!   `1 − s/N`: the chain draws each validator's sample after the
//!   checkpoints were committed.
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
    check_dataset, eval_subset_indices, run_step_with_progress, RoundShard, SegmentRunner,
    StepError, StepRequest, MAX_STEP_TIME,
};
use crate::weights::{Weights, WeightsError};
use um_formats::compress::{self, CompressError, Compression};

/// Smallest cosine between a `topk` contribution's decoded pseudo-gradient
/// and the re-executed one. The payload keeps 1.56 % of the entries plus
/// the trainer's error feedback, so it cannot match the re-execution entry
/// by entry; it must point the same way. A payload unrelated to the work
/// has a cosine near 0, a negated one −1.
pub const MIN_TOPK_COSINE: f64 = 0.1;

/// Relative rounding of a half-precision delta (half an ulp): `f16` keeps
/// 11 significant bits, `bf16` 8. Added to the lineage's tolerance when a
/// round's contributions travel in half precision.
pub fn half_rounding(scheme: Compression) -> f64 {
    match scheme {
        Compression::F16 => 1.0 / 2048.0,
        Compression::Bf16 => 1.0 / 256.0,
        Compression::F32 | Compression::TopK => 0.0,
    }
}

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
    /// [`VerifyMode::Contribution`] only: re-execute these segments
    /// (ascending, disjoint) instead of the whole step; empty: the whole step.
    pub segments: &'a [Segment<'a>],
    /// [`VerifyMode::Contribution`] only: the held-out samples its loss is
    /// measured on (the chain picks the best contribution by it when the
    /// merge fails): `eval_samples` drawn with `eval_seed` (the round's
    /// seed, so a round's contributions are compared on the same samples);
    /// 0: the whole validation split.
    pub eval_seed: [u8; 32],
    pub eval_samples: u32,
    /// [`VerifyMode::Contribution`] of a compressed round: the claimed
    /// weights are a payload of this scheme (`um_formats::compress`), the
    /// pseudo-gradient from the base. Reproduction is then judged on the
    /// pseudo-gradients: `f16`/`bf16` by the relative distance, within the
    /// tolerance plus [`half_rounding`]; `topk` by `1 − cosine`, within
    /// `1 −` [`MIN_TOPK_COSINE`] (the tolerance the verdict reports).
    pub compression: Compression,
}

/// One segment of a contribution to re-execute (`um.trainer.v1.Segment`,
/// [`crate::step`] rules 10-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Its index among the contribution's segments (reported back).
    pub index: u32,
    /// Index of its first step in the full step.
    pub first_step: u32,
    /// Steps it runs (at least 1).
    pub steps: u32,
    /// Checkpoint it starts from (safetensors, untrusted); empty: the
    /// step's base weights.
    pub start_weights: &'a [u8],
    /// Checkpoint it must end at (safetensors, untrusted); empty: the
    /// claimed weights.
    pub end_weights: &'a [u8],
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
    /// `||claimed − recomputed|| / ||recomputed||`; with segments, the
    /// largest over the segments run.
    pub relative_distance: Option<f64>,
    /// Mean training loss of the re-executed step (with segments: of the
    /// steps re-executed).
    pub recomputed_train_loss: Option<f64>,
    /// Hex SHA-256 of the re-executed weights (with segments: of the end of
    /// the segment that ends at the claimed weights, when it ran).
    pub recomputed_weights_hash: Option<String>,
    /// With segments: the indices of those re-executed, in order (the
    /// failed one included).
    pub segments_checked: Vec<u32>,
    /// With segments: the one whose re-execution did not reproduce its end
    /// checkpoint (then the reason is [`Reason::NotReproduced`]).
    pub failed_segment: Option<u32>,
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
            segments_checked: Vec::new(),
            failed_segment: None,
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
    #[error("segments: {0}")]
    Segments(String),
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
    check_segments(options, train.local_steps)?;
    req.spec.validate().map_err(ModelError::from)?;
    check_dataset(req.spec, req.dataset)?;
    if req.dataset.validation().is_empty() {
        return Err(EvalError::Empty.into());
    }
    let base = Model::from_safetensors(req.spec, req.base_weights, device)?;

    let compressed = options.compression != Compression::F32;
    if compressed && (options.mode != VerifyMode::Contribution || !options.segments.is_empty()) {
        return Err(VerifyError::Segments(
            "only a round's contribution without checkpoints is compressed".into(),
        ));
    }
    let (claimed, sent_delta) = if compressed {
        let base_weights = base.weights();
        let decoded = compress::decode(req.spec, options.compression, req.claimed_weights)
            .and_then(|delta| Ok((compress::apply(&base_weights, &delta)?, delta)));
        match decoded {
            Ok((weights, delta)) => (weights, Some((base_weights, delta))),
            Err(e) => return Ok((Verdict::reject(payload_fraud_reason(e)), timings)),
        }
    } else {
        match Weights::decode_canonical(req.spec, req.claimed_weights) {
            Ok(w) => (w, None),
            Err(e) => return Ok((Verdict::reject(fraud_reason(e, None)), timings)),
        }
    };
    // The checkpoints are claims of the trainer too: one that is not the
    // canonical encoding of finite weights of the spec is fraud as plain as
    // bad claimed weights, and is judged before anything runs.
    let mut ends = Vec::with_capacity(options.segments.len());
    for segment in options.segments {
        let decode = |which: &str, bytes: &[u8]| -> Result<Option<Weights>, Reason> {
            if bytes.is_empty() {
                return Ok(None);
            }
            Weights::decode_canonical(req.spec, bytes)
                .map(Some)
                .map_err(|e| {
                    let context = format!("segment {} {which} weights", segment.index);
                    fraud_reason(e, Some(&context))
                })
        };
        let checked =
            decode("start", segment.start_weights).and_then(|_| decode("end", segment.end_weights));
        match checked {
            Ok(end) => ends.push(end),
            Err(reason) => return Ok((Verdict::reject(reason), timings)),
        }
    }
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
    let step = StepRequest {
        spec: req.spec,
        base_weights: req.base_weights,
        trainer: req.trainer,
        nonce: req.nonce,
        params: train,
        dataset: req.dataset,
    };
    let reexecuted = if options.segments.is_empty() {
        let recomputed = run_step_with_progress(&step, options.round_shard, device, |_, _| {
            std::ops::ControlFlow::Continue(())
        })?;
        let distance = match &sent_delta {
            None => distance_to(req.spec, &claimed, &recomputed.weights),
            Some((base_weights, sent)) => compressed_distance(
                req.spec,
                options.compression,
                base_weights,
                sent,
                &recomputed.weights,
            ),
        };
        Reexecuted {
            distance,
            train_loss: recomputed.mean_train_loss,
            weights_hash: Some(recomputed.weights_hash),
            segments_checked: Vec::new(),
            failed_segment: None,
        }
    } else {
        let ends: Vec<&Weights> = ends
            .iter()
            .map(|e| e.as_ref().unwrap_or(&claimed))
            .collect();
        run_segments(&step, options, &ends, params.tolerance, started, device)?
    };
    timings.reexecute = started.elapsed();
    let distance = reexecuted.distance;

    let started = Instant::now();
    let contribution = options.mode == VerifyMode::Contribution;
    let (base_loss, base_accuracy) = match req.base_val_loss.filter(|l| l.is_finite()) {
        Some(recorded) => (Some(recorded), None),
        // A contribution is judged on its reproduction alone: the base's
        // loss would be measured for nothing.
        None if contribution => (None, None),
        None => {
            let e: Evaluation = evaluate(&base, req.dataset.validation())?;
            (Some(e.loss), Some(e.accuracy))
        }
    };
    let claimed_eval: Evaluation = if contribution && options.eval_samples > 0 {
        let validation = req.dataset.validation();
        let subset: Vec<Record> =
            eval_subset_indices(&options.eval_seed, options.eval_samples, validation.len())
                .into_iter()
                .map(|i| validation[i].clone())
                .collect();
        evaluate(&claimed_model, &subset)?
    } else {
        evaluate(&claimed_model, req.dataset.validation())?
    };
    timings.evaluate = started.elapsed();

    // Written so that a NaN anywhere rejects. A contribution is judged on
    // its reproduction only: the round's merge is judged on improvement.
    let tolerance = match options.compression {
        Compression::F32 => params.tolerance,
        Compression::F16 | Compression::Bf16 => {
            params.tolerance + half_rounding(options.compression)
        }
        Compression::TopK => 1.0 - MIN_TOPK_COSINE,
    };
    let reproduced = distance <= tolerance;
    let required = base_loss.map(|loss| loss * (1.0 - params.min_improvement));
    let improved = contribution || required.is_some_and(|r| claimed_eval.loss <= r);
    let reason = if !reproduced {
        Reason::NotReproduced {
            distance,
            tolerance,
        }
    } else if !improved {
        Reason::NoImprovement {
            base_loss: base_loss.unwrap_or(f64::NAN),
            claimed_loss: claimed_eval.loss,
            required_at_most: required.unwrap_or(f64::NAN),
        }
    } else {
        Reason::Accepted
    };
    let verdict = Verdict {
        accept: reason == Reason::Accepted,
        reason,
        measured_val_loss: Some(claimed_eval.loss),
        base_val_loss: base_loss,
        accuracy: Some(claimed_eval.accuracy),
        base_accuracy,
        relative_distance: Some(distance),
        recomputed_train_loss: Some(reexecuted.train_loss),
        recomputed_weights_hash: reexecuted.weights_hash,
        segments_checked: reexecuted.segments_checked,
        failed_segment: reexecuted.failed_segment,
    };
    Ok((verdict, timings))
}

/// The fraud reason of claimed weights (or of a checkpoint, named by
/// `context`) that do not decode canonically against the spec.
fn fraud_reason(e: WeightsError, context: Option<&str>) -> Reason {
    let named = |message: String| match context {
        Some(what) => format!("{what}: {message}"),
        None => message,
    };
    match e {
        WeightsError::Undecodable(m) => Reason::Undecodable(named(m)),
        WeightsError::NonFinite { .. } => Reason::NonFinite(named(e.to_string())),
        WeightsError::NonCanonical => Reason::NonCanonical,
        other => Reason::WrongParameters(named(other.to_string())),
    }
}

/// A segment list's form: only for a contribution; strictly ascending
/// indices; each segment at least one step, within `local_steps`, after the
/// previous one's last step; a start (end) checkpoint left out only where
/// the base (the claimed weights) is that checkpoint, i.e. for a segment
/// that starts (ends) the step. The last rule keeps a caller's mistake from
/// turning into a fraud verdict: an honest contribution compared with the
/// wrong weights does not reproduce.
fn check_segments(options: &VerifyOptions<'_>, local_steps: u32) -> Result<(), VerifyError> {
    let segments = options.segments;
    if segments.is_empty() {
        return Ok(());
    }
    if options.mode != VerifyMode::Contribution {
        return Err(VerifyError::Segments(
            "segments are re-executed only for a contribution (VERIFY_MODE_CONTRIBUTION)".into(),
        ));
    }
    // u64: first_step + steps may pass u32::MAX.
    let mut previous: Option<(u32, u64)> = None;
    for segment in segments {
        let end = u64::from(segment.first_step) + u64::from(segment.steps);
        let index = segment.index;
        if let Some((before, before_end)) = previous {
            if index <= before {
                return Err(VerifyError::Segments(format!(
                    "segment {index} after segment {before}: indices must ascend"
                )));
            }
            if u64::from(segment.first_step) < before_end {
                return Err(VerifyError::Segments(format!(
                    "segment {index} starts at step {} before segment {before} ends (step {before_end})",
                    segment.first_step
                )));
            }
        }
        if segment.steps == 0 {
            return Err(VerifyError::Segments(format!(
                "segment {index} has no steps"
            )));
        }
        if end > u64::from(local_steps) {
            return Err(VerifyError::Segments(format!(
                "segment {index} runs steps {} to {end}, past the step's {local_steps}",
                segment.first_step
            )));
        }
        if segment.start_weights.is_empty() && segment.first_step != 0 {
            return Err(VerifyError::Segments(format!(
                "segment {index} starts at step {} without start weights (only step 0 starts from the base)",
                segment.first_step
            )));
        }
        if segment.end_weights.is_empty() && end != u64::from(local_steps) {
            return Err(VerifyError::Segments(format!(
                "segment {index} ends at step {end} without end weights (only the last step ends at the claimed weights)"
            )));
        }
        previous = Some((index, end));
    }
    Ok(())
}

/// What re-executing gave.
struct Reexecuted {
    /// The distance of the claim (the largest over the segments run).
    distance: f64,
    train_loss: f64,
    weights_hash: Option<String>,
    segments_checked: Vec<u32>,
    failed_segment: Option<u32>,
}

/// Runs `options.segments` in order, each compared with its end weights
/// (`ends`, one per segment), stopping at the first that does not
/// reproduce. All of them together get [`MAX_STEP_TIME`] from `started`,
/// like a whole step.
fn run_segments(
    step: &StepRequest<'_>,
    options: &VerifyOptions<'_>,
    ends: &[&Weights],
    tolerance: f64,
    started: Instant,
    device: Device,
) -> Result<Reexecuted, VerifyError> {
    let runner = SegmentRunner::new(step, options.round_shard, device)?;
    let mut out = Reexecuted {
        distance: 0.0,
        train_loss: 0.0,
        weights_hash: None,
        segments_checked: Vec::with_capacity(options.segments.len()),
        failed_segment: None,
    };
    let mut losses = Vec::new();
    for (segment, end) in options.segments.iter().zip(ends) {
        let start = if segment.start_weights.is_empty() {
            step.base_weights
        } else {
            segment.start_weights
        };
        let limit = MAX_STEP_TIME.saturating_sub(started.elapsed());
        let recomputed = runner.run(segment.first_step, segment.steps, start, limit, |_, _| {
            std::ops::ControlFlow::Continue(())
        })?;
        out.segments_checked.push(segment.index);
        losses.extend_from_slice(&recomputed.step_losses);
        let distance = distance_to(step.spec, end, &recomputed.weights);
        // Kept NaN once seen: a NaN distance rejects, and must show.
        if distance.is_nan() || distance > out.distance {
            out.distance = distance;
        }
        if segment.end_weights.is_empty() {
            out.weights_hash = Some(recomputed.weights_hash);
        }
        // Written so that a NaN rejects.
        let reproduced = distance <= tolerance;
        if !reproduced {
            out.failed_segment = Some(segment.index);
            break;
        }
    }
    out.train_loss = losses.iter().sum::<f64>() / losses.len() as f64;
    Ok(out)
}

/// A payload that does not decode, or decodes to weights that are not
/// finite: fraud anyone can see, as malformed weights are.
fn payload_fraud_reason(e: CompressError) -> Reason {
    match e {
        CompressError::NonFinite { .. } => Reason::NonFinite(e.to_string()),
        CompressError::ShapeMismatch(_) => Reason::WrongParameters(e.to_string()),
        other => Reason::Undecodable(format!("compressed contribution: {other}")),
    }
}

/// How far a compressed contribution's pseudo-gradient is from the
/// re-executed one ([`VerifyOptions::compression`]).
fn compressed_distance(
    spec: &ModelSpec,
    scheme: Compression,
    base: &Weights,
    sent: &compress::Delta,
    recomputed: &[u8],
) -> f64 {
    let recomputed = Weights::decode(spec, recomputed).expect("our own step output decodes");
    let recomputed =
        compress::delta(base, &recomputed).expect("both decoded against the same spec");
    match scheme {
        Compression::TopK => 1.0 - compress::cosine(sent, &recomputed),
        _ => compress::relative_distance(sent, &recomputed),
    }
}

/// `||claimed − recomputed|| / ||recomputed||`. Both are weights of the
/// spec: `claimed` decoded against it, `recomputed` our own step's output.
fn distance_to(spec: &ModelSpec, claimed: &Weights, recomputed: &[u8]) -> f64 {
    let recomputed = Weights::decode(spec, recomputed).expect("our own step output decodes");
    claimed
        .relative_distance(&recomputed)
        .expect("both decoded against the same spec")
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
        segments_checked: Vec::new(),
        failed_segment: None,
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
                ..Default::default()
            },
            Device::Cpu,
        )
        .unwrap()
        .0
    }

    /// A compressed round's contribution is judged on its decoded
    /// pseudo-gradient: the honest payload of each scheme reproduces; one
    /// that decodes to something else than the work (negated, or another
    /// shard's) is fraud; one that does not decode is malformed.
    #[test]
    fn compressed_contributions_are_judged_on_their_pseudo_gradient() {
        use um_formats::compress::{self, Encoder};
        let f = fixture();
        let base = Weights::decode(&f.spec, &f.base).unwrap();
        let honest =
            compress::delta(&base, &Weights::decode(&f.spec, contribution()).unwrap()).unwrap();
        let judge = |scheme: Compression, payload: &[u8]| {
            verify_with(
                &VerifyRequest {
                    spec: &f.spec,
                    base_weights: &f.base,
                    claimed_weights: payload,
                    trainer: HONEST,
                    nonce: 0,
                    hyperparams: &hyper("0"),
                    dataset: testutil::small_mnist(),
                    base_val_loss: None,
                },
                &VerifyOptions {
                    round_shard: Some(&round_shard(1)),
                    mode: VerifyMode::Contribution,
                    compression: scheme,
                    ..Default::default()
                },
                Device::Cpu,
            )
            .unwrap()
            .0
        };
        for scheme in [Compression::F16, Compression::Bf16, Compression::TopK] {
            let payload = Encoder::new(scheme).encode(&honest).unwrap();
            let v = judge(scheme, &payload);
            assert!(v.accept, "{scheme:?}: {v:?}");
            let negated: compress::Delta = honest
                .iter()
                .map(|t| t.iter().map(|x| -x).collect())
                .collect();
            let lie = Encoder::new(scheme).encode(&negated).unwrap();
            let v = judge(scheme, &lie);
            assert_eq!(v.reason.code(), "not_reproduced", "{scheme:?}: {v:?}");
            assert!(v.reason.is_fraud());
            // Full f32 weights where the round takes a payload: undecodable.
            let v = judge(scheme, contribution());
            assert_eq!(v.reason.code(), "undecodable", "{scheme:?}: {v:?}");
        }
        // The payload of another shard's work does not point the same way.
        let other = crate::step::run_round_step(
            &StepRequest {
                spec: &f.spec,
                base_weights: &f.base,
                trainer: HONEST,
                nonce: 0,
                params: hyper("0").train_params().unwrap(),
                dataset: testutil::small_mnist(),
            },
            &round_shard(2),
            Device::Cpu,
        )
        .unwrap();
        let other =
            compress::delta(&base, &Weights::decode(&f.spec, &other.weights).unwrap()).unwrap();
        let cosine = compress::cosine(&other, &honest);
        let v = judge(
            Compression::TopK,
            &Encoder::new(Compression::TopK).encode(&other).unwrap(),
        );
        eprintln!("another shard's pseudo-gradient: cosine {cosine:.3} with this one's; {v:?}");
        assert!(
            !v.accept || cosine >= MIN_TOPK_COSINE,
            "a payload of other work passed: {v:?}"
        );
    }

    /// A contribution's loss is what the chain picks the best contribution
    /// by when a merge fails: measured on the round's held-out subset when
    /// the round sets one, and the base, whose loss judges nothing here, is
    /// not evaluated at all.
    #[test]
    fn a_contribution_is_measured_on_the_rounds_subset_and_the_base_not_at_all() {
        let f = fixture();
        let c = contribution();
        let seed = [9u8; 32];
        let verdict = verify_with(
            &VerifyRequest {
                spec: &f.spec,
                base_weights: &f.base,
                claimed_weights: c,
                trainer: HONEST,
                nonce: 0,
                hyperparams: &hyper("0"),
                dataset: testutil::small_mnist(),
                base_val_loss: None,
            },
            &VerifyOptions {
                round_shard: Some(&round_shard(1)),
                mode: VerifyMode::Contribution,
                eval_seed: seed,
                eval_samples: 20,
                ..Default::default()
            },
            Device::Cpu,
        )
        .unwrap()
        .0;
        assert!(verdict.accept, "{verdict:?}");
        assert_eq!((verdict.base_val_loss, verdict.base_accuracy), (None, None));
        let model = |bytes: &[u8]| Model::from_safetensors(&f.spec, bytes, Device::Cpu).unwrap();
        let validation = testutil::small_mnist().validation();
        assert!(validation.len() > 20);
        let subset: Vec<Record> = eval_subset_indices(&seed, 20, validation.len())
            .into_iter()
            .map(|i| validation[i].clone())
            .collect();
        let on_subset = evaluate(&model(c), &subset).unwrap();
        assert_eq!(verdict.measured_val_loss, Some(on_subset.loss));
        let whole = evaluate(&model(c), validation).unwrap();
        assert_ne!(verdict.measured_val_loss, Some(whole.loss));
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
        let update = check_with(&worse, &overshoot, None, Some(&s1), 0, VerifyMode::Update);
        assert_eq!(update.reason.code(), "no_improvement", "{update:?}");
        // As a single update the base was measured: the loss rose.
        assert!(
            v.measured_val_loss.unwrap() > update.base_val_loss.unwrap(),
            "the loss rose: {v:?} {update:?}"
        );

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
                ..Default::default()
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

    /// Checkpoints every 3 of the fixture's 10 steps: segments (0, 3),
    /// (3, 3), (6, 3), (9, 1).
    const INTERVAL: u32 = 3;
    const SEGMENTS: u32 = 4;

    /// Checkpoints 0 … N of shard 1's contribution: the base, the
    /// committed ones, the final weights (trained once).
    fn checkpoint_chain() -> &'static Vec<Vec<u8>> {
        static C: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        C.get_or_init(|| {
            let f = fixture();
            let out = crate::step::run_step_checkpointed(
                &contribution_request(),
                Some(&round_shard(1)),
                INTERVAL,
                Device::Cpu,
                MAX_STEP_TIME,
                |_, _| std::ops::ControlFlow::Continue(()),
            )
            .unwrap();
            assert_eq!(out.weights, *contribution(), "checkpoints change nothing");
            assert_eq!(out.checkpoints.len() as u32, SEGMENTS - 1);
            std::iter::once(f.base.clone())
                .chain(out.checkpoints)
                .chain(std::iter::once(out.weights))
                .collect()
        })
    }

    fn contribution_request() -> StepRequest<'static> {
        let f = fixture();
        StepRequest {
            spec: &f.spec,
            base_weights: &f.base,
            trainer: HONEST,
            nonce: 0,
            params: hyper("0").train_params().unwrap(),
            dataset: testutil::small_mnist(),
        }
    }

    /// The segments `indices` of a contribution whose checkpoints are
    /// `chain` (0 … N), as the chain sends them: no start for segment 0,
    /// no end for the last.
    fn segments_of<'a>(chain: &'a [Vec<u8>], indices: &[u32]) -> Vec<Segment<'a>> {
        let n = chain.len() as u32 - 1;
        indices
            .iter()
            .map(|&index| {
                let (first_step, steps) = crate::step::segment_bounds(10, INTERVAL, index);
                let at = |j: u32| -> &'a [u8] {
                    if j == 0 || j == n {
                        &[]
                    } else {
                        &chain[j as usize]
                    }
                };
                Segment {
                    index,
                    first_step,
                    steps,
                    start_weights: at(index),
                    end_weights: at(index + 1),
                }
            })
            .collect()
    }

    fn verify_segments(
        claimed: &[u8],
        segments: &[Segment<'_>],
        mode: VerifyMode,
    ) -> Result<Verdict, VerifyError> {
        let f = fixture();
        verify_with(
            &VerifyRequest {
                spec: &f.spec,
                base_weights: &f.base,
                claimed_weights: claimed,
                trainer: HONEST,
                nonce: 0,
                hyperparams: &hyper("0"),
                dataset: testutil::small_mnist(),
                base_val_loss: None,
            },
            &VerifyOptions {
                round_shard: Some(&round_shard(1)),
                mode,
                segments,
                ..Default::default()
            },
            Device::Cpu,
        )
        .map(|(verdict, _)| verdict)
    }

    #[test]
    fn an_honest_contribution_passes_any_sample_of_its_segments() {
        let chain = checkpoint_chain();
        let claimed = &chain[SEGMENTS as usize];
        let whole = check_with(
            claimed,
            &hyper("0"),
            None,
            Some(&round_shard(1)),
            0,
            VerifyMode::Contribution,
        );
        assert!(whole.accept, "{whole:?}");
        assert!(
            whole.segments_checked.is_empty(),
            "no segments: the whole step"
        );
        for sample in [vec![1, 3], vec![0], vec![2], vec![0, 1, 2, 3], vec![3]] {
            let v = verify_segments(
                claimed,
                &segments_of(chain, &sample),
                VerifyMode::Contribution,
            )
            .unwrap();
            assert!(v.accept, "{sample:?}: {v:?}");
            assert_eq!(v.segments_checked, sample);
            assert_eq!(v.failed_segment, None);
            assert_eq!(v.relative_distance, Some(0.0));
            // Still measured on the whole validation split.
            assert_eq!(v.measured_val_loss, whole.measured_val_loss);
            assert_eq!(v.accuracy, whole.accuracy);
            // The re-executed end is the claim's only when the last segment ran.
            let last_ran = sample.contains(&(SEGMENTS - 1));
            assert_eq!(
                v.recomputed_weights_hash.as_deref(),
                last_ran
                    .then(|| crate::weights::weights_hash(claimed))
                    .as_deref()
            );
        }
    }

    /// A contribution whose segment `k − 1` is faked: checkpoint `k`
    /// perturbed, and everything after it computed honestly from there, so
    /// that exactly one segment does not reproduce.
    fn faked_at(k: u32) -> Vec<Vec<u8>> {
        let f = fixture();
        let mut chain = checkpoint_chain().clone();
        let mut w = Weights::decode(&f.spec, &chain[k as usize]).unwrap();
        w.tensors[0].data[123] += 0.05;
        chain[k as usize] = w.encode();
        for j in k..SEGMENTS {
            let (first, steps) = crate::step::segment_bounds(10, INTERVAL, j);
            chain[j as usize + 1] = crate::step::run_segment(
                &contribution_request(),
                Some(&round_shard(1)),
                first,
                steps,
                &chain[j as usize],
                Device::Cpu,
            )
            .unwrap()
            .weights;
        }
        chain
    }

    #[test]
    fn a_faked_segment_is_caught_when_sampled_and_missed_when_not() {
        let k = 2;
        let chain = faked_at(k);
        let claimed = &chain[SEGMENTS as usize];
        let faked = k - 1;
        // Exactly one segment does not reproduce.
        for j in 0..SEGMENTS {
            let v = verify_segments(
                claimed,
                &segments_of(&chain, &[j]),
                VerifyMode::Contribution,
            )
            .unwrap();
            assert_eq!(v.accept, j != faked, "segment {j}: {v:?}");
        }
        // The whole step does not reproduce either.
        let whole = check_with(
            claimed,
            &hyper("0"),
            None,
            Some(&round_shard(1)),
            0,
            VerifyMode::Contribution,
        );
        assert_eq!(whole.reason.code(), "not_reproduced", "{whole:?}");

        // Sampled: rejected at that segment, the later ones not run.
        for (sample, checked) in [
            (vec![faked], vec![faked]),
            (vec![0, faked], vec![0, faked]),
            (vec![faked, 2, 3], vec![faked]),
            (vec![0, 1, 2, 3], vec![0, 1]),
        ] {
            let v = verify_segments(
                claimed,
                &segments_of(&chain, &sample),
                VerifyMode::Contribution,
            )
            .unwrap();
            assert!(!v.accept && v.reason.is_fraud(), "{sample:?}: {v:?}");
            assert_eq!(v.reason.code(), "not_reproduced", "{v:?}");
            assert_eq!(v.failed_segment, Some(faked), "{sample:?}");
            assert_eq!(v.segments_checked, checked, "{sample:?}");
            assert!(v.relative_distance.unwrap() > 1e-6, "{v:?}");
            assert!(v.measured_val_loss.is_some(), "still evaluated");
        }
        // Not sampled: accepted (what the sampling probability is about).
        for sample in [vec![0], vec![2, 3], vec![0, 2, 3]] {
            let v = verify_segments(
                claimed,
                &segments_of(&chain, &sample),
                VerifyMode::Contribution,
            )
            .unwrap();
            assert!(v.accept, "{sample:?}: {v:?}");
            assert_eq!(v.segments_checked, sample);
        }
        // Faked in the first or the last segment: caught there.
        for k in [1, SEGMENTS] {
            let chain = faked_at(k);
            let v = verify_segments(
                &chain[SEGMENTS as usize],
                &segments_of(&chain, &[0, 1, 2, 3]),
                VerifyMode::Contribution,
            )
            .unwrap();
            assert_eq!(v.failed_segment, Some(k - 1), "{v:?}");
        }
    }

    #[test]
    fn checkpoints_are_checked_for_evident_fraud_first() {
        let f = fixture();
        let chain = checkpoint_chain();
        let claimed = &chain[SEGMENTS as usize];
        let mut nan = Weights::decode(&f.spec, &chain[2]).unwrap();
        nan.tensors[1].data[0] = f32::NAN;
        let nan = nan.encode();
        let other =
            ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[32],"classes":10}"#).unwrap();
        let small = Weights::init(&other, 1).encode();
        for (index, start, end, code) in [
            (1, chain[1].as_slice(), nan.as_slice(), "non_finite"),
            (2, nan.as_slice(), chain[3].as_slice(), "non_finite"),
            (1, b"junk".as_slice(), chain[2].as_slice(), "undecodable"),
            (1, chain[1].as_slice(), small.as_slice(), "wrong_parameters"),
        ] {
            let (first_step, steps) = crate::step::segment_bounds(10, INTERVAL, index);
            let segments = [Segment {
                index,
                first_step,
                steps,
                start_weights: start,
                end_weights: end,
            }];
            let v = verify_segments(claimed, &segments, VerifyMode::Contribution).unwrap();
            assert_eq!(v.reason.code(), code, "{v:?}");
            assert!(!v.accept && v.reason.is_fraud());
            assert!(
                v.reason.to_string().contains(&format!("segment {index}")),
                "{}",
                v.reason
            );
            assert!(v.segments_checked.is_empty(), "nothing ran: {v:?}");
            assert_eq!(v.failed_segment, None);
        }
        // Bad claimed weights are judged as without segments.
        let v =
            verify_segments(b"junk", &segments_of(chain, &[1]), VerifyMode::Contribution).unwrap();
        assert_eq!(v.reason.code(), "undecodable", "{v:?}");
    }

    #[test]
    fn bad_segment_lists_are_refused() {
        let chain = checkpoint_chain();
        let claimed = &chain[SEGMENTS as usize];
        let good = segments_of(chain, &[0, 1, 2, 3]);
        let refused = |segments: &[Segment<'_>], mode: VerifyMode, needle: &str| {
            let err = verify_segments(claimed, segments, mode).unwrap_err();
            assert!(matches!(err, VerifyError::Segments(_)), "{err:?}");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        };
        refused(&[good[1], good[0]], VerifyMode::Contribution, "must ascend");
        refused(&[good[1], good[1]], VerifyMode::Contribution, "must ascend");
        let mut overlapping = good[2];
        overlapping.first_step = 5;
        refused(
            &[good[1], overlapping],
            VerifyMode::Contribution,
            "before segment 1 ends",
        );
        let mut empty = good[1];
        empty.steps = 0;
        refused(&[empty], VerifyMode::Contribution, "no steps");
        let mut long = good[3];
        long.steps = 2;
        refused(&[long], VerifyMode::Contribution, "past the step's 10");
        let mut far = good[3];
        far.first_step = u32::MAX;
        refused(&[far], VerifyMode::Contribution, "past the step's 10");
        let mut no_start = good[1];
        no_start.start_weights = &[];
        refused(
            &[no_start],
            VerifyMode::Contribution,
            "without start weights",
        );
        let mut no_end = good[1];
        no_end.end_weights = &[];
        refused(&[no_end], VerifyMode::Contribution, "without end weights");
        refused(&good, VerifyMode::Update, "only for a contribution");
        // Gaps are fine (a sample), and so is the list itself.
        assert!(
            verify_segments(claimed, &[good[0], good[3]], VerifyMode::Contribution)
                .unwrap()
                .accept
        );
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
