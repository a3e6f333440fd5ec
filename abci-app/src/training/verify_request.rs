//! What a validator verifies for an update: the claim's key and the
//! `um.trainer.v1.VerifyRequest` built from the committed state. Pure reads
//! of the state; the worker that sends the requests lives with the node
//! process (`crate::node::verifier`).

use um_proto::um::abci::v1::VerdictEntry;
use um_proto::um::trainer::v1::{RoundShard, Segment, TrainingStep, VerifyMode, VerifyRequest};
use um_proto::um::training::v1::{MsgSubmitUpdate, Update, UpdateKind};

use super::extension::MAX_SEGMENTS;
use super::{lineage, records, round};
use crate::codes::TxError;
use crate::store::StateView;

/// What the ABCI methods ask of the validator's verification, whatever
/// runs it (the node process's worker, `crate::node::verifier::Verifier`):
/// the state machine holds this, so it depends on nothing above it. What
/// to verify is decided here, in the state machine ([`request_for_msg`],
/// [`request_for_update`]); the worker only runs it.
pub trait Verification: Send + Sync {
    /// Whether a check of the claim under `key` by `trainer` would be taken
    /// now: it has no finding, no queued check and attempts left, and the
    /// queue has room for it. Asked before a request is built, since
    /// building one copies the weights.
    fn wants(&self, key: &[u8; 32], trainer: &str) -> bool;
    /// Starts checking `request`, kept under `key`.
    fn verify(&self, key: [u8; 32], request: VerifyRequest);
    /// The finished verdicts on `pending`, at most `limit`.
    fn verdicts(&self, pending: &[Update], limit: usize) -> Vec<VerdictEntry>;
    /// Forgets what is not pending any more.
    fn retain(&self, pending: &[Update]);
    /// This validator's consensus address, which draws its own sample of a
    /// contribution's segments; empty when unknown.
    fn identity(&self) -> Vec<u8> {
        Vec::new()
    }
}

/// One claim to verify, as a proposed `MsgSubmitUpdate` or a stored
/// pending `Update` (with its weights from the blob store) names it.
pub struct Claim<'a> {
    pub trainer: &'a str,
    pub model_id: &'a str,
    pub base_version: u64,
    pub dataset_version: u64,
    pub dataset_root: &'a [u8],
    pub hyperparams_sha256: &'a [u8],
    pub nonce: u64,
    pub weights_sha256: [u8; 32],
    pub claimed_train_loss: f32,
    pub claimed_validation_loss: f32,
    /// For a round: the update's kind, round and shard; a merge's id (its
    /// key: nobody claims it) and the seed of its held-out samples.
    pub kind: UpdateKind,
    pub round: u64,
    pub shard: u32,
    pub update_id: u64,
    pub eval_seed: &'a [u8],
    /// A contribution's sample seed and its disputed segment, if any.
    pub sample_seed: &'a [u8],
    pub disputed_segment: Option<u32>,
}

impl<'a> Claim<'a> {
    pub fn of_msg(msg: &'a MsgSubmitUpdate) -> Self {
        Self {
            trainer: &msg.trainer,
            model_id: &msg.model_id,
            base_version: msg.base_version,
            dataset_version: msg.dataset_version,
            dataset_root: &msg.dataset_root,
            hyperparams_sha256: &msg.hyperparams_sha256,
            nonce: msg.nonce,
            weights_sha256: records::sha256(&msg.weights),
            claimed_train_loss: msg.claimed_train_loss,
            claimed_validation_loss: msg.claimed_validation_loss,
            // Delivery decides single or contribution by the lineage;
            // `request_for` does the same.
            kind: UpdateKind::Single,
            round: msg.round,
            shard: msg.shard,
            update_id: 0,
            eval_seed: &[],
            sample_seed: &[],
            disputed_segment: None,
        }
    }

    /// `None` for a stored hash that is not 32 bytes (never written so).
    pub fn of_update(update: &'a Update) -> Option<Self> {
        Some(Self {
            trainer: &update.trainer,
            model_id: &update.model_id,
            base_version: update.base_version,
            dataset_version: update.dataset_version,
            dataset_root: &update.dataset_root,
            hyperparams_sha256: &update.hyperparams_sha256,
            nonce: update.nonce,
            weights_sha256: <[u8; 32]>::try_from(update.weights_sha256.as_slice()).ok()?,
            claimed_train_loss: update.claimed_train_loss,
            claimed_validation_loss: update.claimed_validation_loss,
            kind: UpdateKind::try_from(update.kind).unwrap_or(UpdateKind::Single),
            round: update.round,
            shard: update.shard,
            update_id: update.id,
            eval_seed: &update.eval_seed,
            sample_seed: &update.sample_seed,
            disputed_segment: update.disputed_segment,
        })
    }
}

pub fn claim_key(claim: &Claim<'_>) -> [u8; 32] {
    if claim.kind == UpdateKind::Merge {
        // A candidate may have the bytes of a contribution (a merge of one);
        // its own id keeps it apart.
        return job_key(&claim.weights_sha256, "um/merge", claim.update_id);
    }
    match claim.disputed_segment {
        // A dispute asks for a check of its segment: a check made before it
        // is another job.
        Some(segment) => job_key(
            &claim.weights_sha256,
            &format!("{}/dispute", claim.trainer),
            u64::from(segment),
        ),
        None => job_key(&claim.weights_sha256, claim.trainer, claim.nonce),
    }
}

/// What to verify for an update seen in a proposal (not yet stored: it has
/// no id, and the weights come with the message).
/// `block_hash` is the proposed block's (a contribution's sample seed).
pub fn request_for_msg(
    state: &StateView,
    msg: &MsgSubmitUpdate,
    block_hash: &[u8],
    identity: &[u8],
) -> Result<Option<VerifyRequest>, TxError> {
    let mut claim = Claim::of_msg(msg);
    claim.sample_seed = block_hash;
    let checkpoints = match msg.checkpoint_source.is_empty() {
        true => Checkpoints::Inline(&msg.checkpoints),
        false => Checkpoints::Served {
            hashes: &msg.checkpoint_hashes,
            source: &msg.checkpoint_source,
        },
    };
    request_for(state, &claim, &msg.weights, checkpoints, 0, identity)
}

/// What to verify for a stored pending update; `None` also when its
/// weights are not stored.
pub fn request_for_update(
    state: &StateView,
    update: &Update,
    identity: &[u8],
) -> Result<Option<VerifyRequest>, TxError> {
    let Some(claim) = Claim::of_update(update) else {
        return Ok(None);
    };
    let Some(weights) = records::blob(state, &claim.weights_sha256)? else {
        return Ok(None);
    };
    if !update.checkpoint_source.is_empty() {
        let checkpoints = Checkpoints::Served {
            hashes: &update.checkpoint_hashes,
            source: &update.checkpoint_source,
        };
        return request_for(state, &claim, &weights, checkpoints, update.id, identity);
    }
    let mut inline = Vec::with_capacity(update.checkpoint_hashes.len());
    for sha in &update.checkpoint_hashes {
        let Some(bytes) = records::blob(state, sha)? else {
            return Ok(None);
        };
        inline.push(bytes);
    }
    let checkpoints = Checkpoints::Inline(&inline);
    request_for(state, &claim, &weights, checkpoints, update.id, identity)
}

/// A contribution's checkpoints as the request gets them: the bytes (from
/// the tx or the blob store), or the hashes of the ones its trainer serves,
/// which the validator's node fetches before verifying
/// (`crate::node::verifier`).
#[derive(Clone, Copy)]
enum Checkpoints<'a> {
    Inline(&'a [Vec<u8>]),
    Served {
        hashes: &'a [Vec<u8>],
        source: &'a str,
    },
}

impl Checkpoints<'_> {
    fn len(&self) -> usize {
        match self {
            Checkpoints::Inline(bytes) => bytes.len(),
            Checkpoints::Served { hashes, .. } => hashes.len(),
        }
    }

    fn source(&self) -> &str {
        match self {
            Checkpoints::Inline(_) => "",
            Checkpoints::Served { source, .. } => source,
        }
    }
}

/// What a check is kept under: the weights *and* who claims them with which
/// nonce, since a copy of another trainer's weights is its own claim (and
/// fails where the original passes).
pub fn job_key(weights_sha256: &[u8; 32], trainer: &str, nonce: u64) -> [u8; 32] {
    let mut bytes = weights_sha256.to_vec();
    bytes.extend_from_slice(&nonce.to_be_bytes());
    bytes.extend_from_slice(trainer.as_bytes());
    records::sha256(&bytes)
}

pub fn update_key(update: &Update) -> Option<[u8; 32]> {
    Claim::of_update(update).map(|claim| claim_key(&claim))
}

/// Everything the verifier needs, from the committed state; `None` when the
/// update can never be accepted anyway (unknown lineage, stale base).
fn request_for(
    state: &StateView,
    msg: &Claim<'_>,
    weights: &[u8],
    checkpoints: Checkpoints<'_>,
    update_id: u64,
    identity: &[u8],
) -> Result<Option<VerifyRequest>, TxError> {
    let Some(lineage) = lineage(state, msg.model_id)? else {
        return Ok(None);
    };
    if lineage.head_version != msg.base_version {
        return Ok(None);
    }
    let Some(base) = records::version(state, msg.model_id, msg.base_version)? else {
        return Ok(None);
    };
    let Some(base_weights) = records::blob(state, &base.weights_sha256)? else {
        return Ok(None);
    };
    let Some(dataset) = crate::dataset::current(state, &lineage.dataset_id)? else {
        return Ok(None);
    };
    // Re-executed with what the update names, which delivery holds equal to
    // the chain's; an update naming others is refused there, so it is not
    // worth a verification here.
    let hyperparams = lineage.hyperparams.to_proto();
    if dataset.version != msg.dataset_version
        || dataset.root != msg.dataset_root
        || hyperparams.sha256() != msg.hyperparams_sha256
    {
        return Ok(None);
    }
    // In round mode, a contribution re-executes its shard and a merge is
    // evaluated against the base; the round (fixed when it opened) says how.
    // A stored update says what it is; a proposed one is a contribution
    // exactly when its lineage has rounds (as delivery decides).
    let in_rounds = lineage.rounds.is_some() || msg.kind != UpdateKind::Single;
    let mut segments = Vec::new();
    let mut eval_seed = Vec::new();
    let mut compression = String::new();
    let (mode, round_shard, eval_samples) = match in_rounds {
        false => (VerifyMode::Update, None, 0),
        true => {
            let Some(round) = round::load(state, &lineage.model_id, msg.round)? else {
                return Ok(None);
            };
            let params = round.params.unwrap_or_default();
            if msg.kind == UpdateKind::Merge {
                eval_seed = msg.eval_seed.to_vec();
                (VerifyMode::Candidate, None, params.eval_samples)
            } else {
                let shard = RoundShard {
                    round: round.number,
                    round_seed: round.seed.clone(),
                    shard: msg.shard,
                    shards: params.max_contributions,
                };
                if params.checkpoint_interval > 0 {
                    let Some(chosen) = segment_requests(
                        msg,
                        &params,
                        hyperparams.local_steps,
                        checkpoints,
                        identity,
                    ) else {
                        return Ok(None);
                    };
                    segments = chosen;
                }
                // Measured on the round's own held-out samples: the same for
                // all its contributions, which the best-contribution fallback
                // compares. Known before training, but a contribution has
                // nothing to grind: its batches are fixed by its shard.
                eval_seed = round.seed;
                compression = params.compression.clone();
                (VerifyMode::Contribution, Some(shard), params.eval_samples)
            }
        }
    };
    let candidate = mode == VerifyMode::Candidate;
    Ok(Some(VerifyRequest {
        update_id,
        step: Some(TrainingStep {
            model_id: lineage.model_id.clone(),
            spec_json: lineage.spec.clone(),
            hyperparams: Some(hyperparams),
            base_version: base.version,
            base_weights_sha256: base.weights_sha256.clone(),
            base_weights,
            dataset_id: lineage.dataset_id.clone(),
            dataset_version: dataset.version,
            dataset_root: dataset.root.clone(),
            trainer: msg.trainer.to_string(),
            nonce: msg.nonce,
            round_shard,
        }),
        claimed_weights_sha256: msg.weights_sha256.to_vec(),
        claimed_weights: weights.to_vec(),
        claimed_train_loss: msg.claimed_train_loss,
        claimed_validation_loss: msg.claimed_validation_loss,
        // Version 0 was never measured, and a base measured on another
        // dataset version's split says nothing about this one (a delta could
        // add hard validation records and freeze the lineage): the verifier
        // measures the base itself then, on the same split as the update.
        // A candidate is measured against the base on the same held-out
        // samples, so the verifier measures both.
        base_validation_loss: (!candidate
            && base.version > 0
            && base.dataset_version == dataset.version)
            .then_some(base.validation_loss),
        mode: mode as i32,
        eval_seed,
        eval_samples,
        checkpoint_source: match segments.is_empty() {
            true => String::new(),
            false => checkpoints.source().to_string(),
        },
        segments,
        compression,
    }))
}

/// The segments this validator re-executes of a contribution: its own
/// sample and the disputed one. `None` when the checkpoints are not the
/// ones the round asks for (delivery refuses such a contribution).
fn segment_requests(
    claim: &Claim<'_>,
    params: &um_proto::um::training::v1::RoundParams,
    local_steps: u32,
    checkpoints: Checkpoints<'_>,
    identity: &[u8],
) -> Option<Vec<Segment>> {
    let interval = params.checkpoint_interval;
    let count = round::segments::count(local_steps, interval);
    if checkpoints.len() as u64 != u64::from(count) - 1 {
        return None;
    }
    // No more than a verdict can report (`MAX_SEGMENTS`), the disputed
    // segment included: a failed segment missing from its verdict's list
    // would make the vote extension fail VerifyVoteExtension.
    let disputed = claim.disputed_segment.filter(|d| *d < count);
    let cap = MAX_SEGMENTS as u32 - u32::from(disputed.is_some());
    let wanted = match params.segments_per_validator {
        0 => count,
        n => n.min(count),
    };
    let mut chosen = round::segments::sample(claim.sample_seed, identity, count, wanted.min(cap));
    if let Some(disputed) = disputed {
        if !chosen.contains(&disputed) {
            chosen.push(disputed);
            chosen.sort_unstable();
        }
    }
    // Checkpoint 0 is the base and checkpoint `count` the claimed weights:
    // both travel in the request already. The others: (bytes, hash).
    let checkpoint = |index: u32| -> (Vec<u8>, Vec<u8>) {
        if index == 0 || index == count {
            return (Vec::new(), Vec::new());
        }
        let i = index as usize - 1;
        match checkpoints {
            Checkpoints::Inline(bytes) => (bytes[i].clone(), Vec::new()),
            Checkpoints::Served { hashes, .. } => (Vec::new(), hashes[i].clone()),
        }
    };
    Some(
        chosen
            .into_iter()
            .map(|index| {
                let (first_step, steps) = round::segments::bounds(local_steps, interval, index);
                let (start_weights, start_sha256) = checkpoint(index);
                let (end_weights, end_sha256) = checkpoint(index + 1);
                Segment {
                    index,
                    first_step,
                    steps,
                    start_weights,
                    end_weights,
                    start_sha256,
                    end_sha256,
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A round that asks every validator for all of 100 segments: a verdict
    /// can carry only `MAX_SEGMENTS`, and one whose failed segment fell off
    /// the end would fail VerifyVoteExtension (and its validator's vote
    /// with it). A request never asks for more than a verdict can report,
    /// and a disputed segment is always among them.
    #[test]
    fn a_request_asks_for_no_more_segments_than_a_verdict_carries() {
        let msg = MsgSubmitUpdate {
            trainer: "um1trainer".into(),
            ..Default::default()
        };
        let mut claim = Claim::of_msg(&msg);
        claim.sample_seed = &[7; 32];
        claim.disputed_segment = Some(99);
        let params = um_proto::um::training::v1::RoundParams {
            max_contributions: 1,
            checkpoint_interval: 1,
            segments_per_validator: 0,
            ..Default::default()
        };
        let checkpoints = vec![vec![1u8]; 99];
        let segments = segment_requests(
            &claim,
            &params,
            100,
            Checkpoints::Inline(&checkpoints),
            &[1; 20],
        )
        .unwrap();
        assert_eq!(segments.len(), MAX_SEGMENTS);
        assert!(segments.windows(2).all(|w| w[0].index < w[1].index));
        assert_eq!(segments.last().map(|s| s.index), Some(99));
    }

    /// Served checkpoints travel as hashes for the node to fetch; the base
    /// and the claimed weights (segment ends 0 and N) as neither.
    #[test]
    fn served_checkpoints_are_requested_by_hash() {
        let msg = MsgSubmitUpdate::default();
        let mut claim = Claim::of_msg(&msg);
        claim.sample_seed = &[7; 32];
        let params = um_proto::um::training::v1::RoundParams {
            max_contributions: 1,
            checkpoint_interval: 1,
            segments_per_validator: 0,
            ..Default::default()
        };
        let hashes: Vec<Vec<u8>> = (1..4u8).map(|i| vec![i; 32]).collect();
        let served = Checkpoints::Served {
            hashes: &hashes,
            source: "http://127.0.0.1:1",
        };
        let segments = segment_requests(&claim, &params, 4, served, &[1; 20]).unwrap();
        assert_eq!(segments.len(), 4);
        for segment in &segments {
            assert!(segment.start_weights.is_empty() && segment.end_weights.is_empty());
            let i = segment.index as usize;
            let expect = |k: usize| match k {
                0 | 4 => Vec::new(),
                k => hashes[k - 1].clone(),
            };
            assert_eq!(segment.start_sha256, expect(i), "segment {i}");
            assert_eq!(segment.end_sha256, expect(i + 1), "segment {i}");
        }
        // A count that is not the round's is no request.
        let short = Checkpoints::Served {
            hashes: &hashes[..2],
            source: "http://127.0.0.1:1",
        };
        assert!(segment_requests(&claim, &params, 4, short, &[1; 20]).is_none());
    }
}
