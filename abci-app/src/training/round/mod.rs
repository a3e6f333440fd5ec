//! Collaborative rounds (issue 16): many trainers per round, each on its own
//! shard of the round's samples, every contribution verified, the verified
//! ones merged by the chain, and the merge kept only when the validators
//! measure it better than the head on held-out samples drawn after the
//! contributions were made.
//!
//! The life of round r of a lineage, all of it in end-block, as a state
//! machine over the round record:
//!
//! | status | when | then |
//! |---|---|---|
//! | OPEN | `max_contributions` delivered, or `closes_height` (`round_blocks` after the first contribution) passed; none still pending | the verified ones are merged into a candidate (an `Update` of kind MERGE, its held-out seed the block's hash): EVALUATING; none verified: CLOSED |
//! | EVALUATING | the candidate is decided | accepted: the next version (MERGED); else, when it merged more than one, the best single contribution is the next candidate; else CLOSED (NO_IMPROVEMENT) |
//! | CLOSED | at once | round r+1 opens from the head |
//!
//! [`merge`] is the arithmetic; `super::submit` takes contributions and
//! `super::decide` tallies them (a verified contribution is VERIFIED, not a
//! version) and the candidates.

pub mod merge;
pub mod segments;

use cosmwasm_std::Decimal;
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use um_proto::um::training::v1::{
    self as proto, Round, RoundStatus, ShardClaim, Update, UpdateKind, UpdateStatus,
};

use um_formats::compress::Compression;

use super::{records, state_key, Lineage, TrainingParams};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Event};
use crate::store::StateView;

/// Most contributions a round may take (each is verified by every
/// validator and merged coordinate by coordinate in end-block).
pub const MAX_CONTRIBUTIONS: u32 = 16;

/// `Round.outcome` codes.
pub const OUTCOME_MERGED: &str = "MERGED";
pub const OUTCOME_BEST_CONTRIBUTION: &str = "BEST_CONTRIBUTION";
pub const OUTCOME_NO_IMPROVEMENT: &str = "NO_IMPROVEMENT";
pub const OUTCOME_NO_CONTRIBUTIONS: &str = "NO_CONTRIBUTIONS";
/// `Update.reason` of a verified contribution whose round produced no
/// version from it.
pub const REASON_NOT_MERGED: &str = "NOT_MERGED";

/// How a lineage runs its rounds (`ModelLineage.rounds`); a round copies
/// them when it opens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundParams {
    pub max_contributions: u32,
    pub round_blocks: u64,
    #[serde(default = "one")]
    pub outer_learning_rate: Decimal,
    #[serde(default)]
    pub eval_samples: u32,
    #[serde(default)]
    pub checkpoint_interval: u32,
    #[serde(default)]
    pub segments_per_validator: u32,
    /// `um_formats::compress::Compression` by name; empty is `f32`. Left
    /// out of the stored JSON when empty, so lineages stored before it
    /// keep their bytes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
}

fn one() -> Decimal {
    Decimal::one()
}

impl RoundParams {
    pub fn validate(&self) -> Result<(), TxError> {
        let invalid = |why: String| Err(TxError::new(Code::InvalidRequest, why));
        if !(1..=MAX_CONTRIBUTIONS).contains(&self.max_contributions) {
            return invalid(format!(
                "round params: max_contributions must be between 1 and {MAX_CONTRIBUTIONS}"
            ));
        }
        if self.round_blocks == 0 {
            return invalid("round params: round_blocks must be positive".into());
        }
        let max_rate = um_bindings::MAX_OUTER_LEARNING_RATE;
        if self.outer_learning_rate.is_zero()
            || self.outer_learning_rate > Decimal::from_ratio(max_rate, 1u64)
        {
            return invalid(format!(
                "round params: outer_learning_rate must be in (0, {max_rate}]"
            ));
        }
        let compression = Compression::parse(&self.compression)
            .map_err(|e| TxError::new(Code::InvalidRequest, format!("round params: {e}")))?;
        if compression != Compression::F32 && self.checkpoint_interval > 0 {
            return invalid(
                "round params: a compressed round takes no checkpoints (checkpoint_interval must be 0)"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn to_proto(&self) -> proto::RoundParams {
        proto::RoundParams {
            max_contributions: self.max_contributions,
            round_blocks: self.round_blocks,
            outer_learning_rate: self.outer_learning_rate.to_string(),
            eval_samples: self.eval_samples,
            checkpoint_interval: self.checkpoint_interval,
            segments_per_validator: self.segments_per_validator,
            compression: self.compression.clone(),
        }
    }

    /// The outer learning rate as f32: Rust's float parsing rounds
    /// correctly, so every node gets the same value.
    fn outer_lr(params: &proto::RoundParams) -> Result<f32, TxError> {
        params
            .outer_learning_rate
            .parse::<f32>()
            .map_err(|e| TxError::new(Code::Internal, format!("stored outer learning rate: {e}")))
    }
}

/// How the round's contributions travel (its params as it opened).
pub fn round_compression(round: &Round) -> Result<Compression, TxError> {
    let name = round.params.as_ref().map_or("", |p| p.compression.as_str());
    Compression::parse(name)
        .map_err(|e| TxError::new(Code::Internal, format!("stored round params: {e}")))
}

/// `sha256("um/round" ‖ base_weights_sha256 ‖ model_id ‖ number_be_u64)`:
/// seeds the round's sample permutation (um-trainer's `step` module).
pub fn round_seed(base_weights_sha256: &[u8], model_id: &str, number: u64) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"um/round");
    hash.update(base_weights_sha256);
    hash.update(model_id.as_bytes());
    hash.update(number.to_be_bytes());
    hash.finalize().to_vec()
}

pub fn load(state: &StateView, model_id: &str, number: u64) -> Result<Option<Round>, TxError> {
    state
        .get(&state_key::round(model_id, number))?
        .map(|bytes| {
            Round::decode(bytes.as_slice())
                .map_err(|e| TxError::new(Code::Internal, format!("stored round: {e}")))
        })
        .transpose()
}

/// The lineage's current round; `None` for a lineage without rounds.
pub fn current(state: &StateView, model_id: &str) -> Result<Option<Round>, TxError> {
    let Some(bytes) = state.get(&state_key::current_round(model_id))? else {
        return Ok(None);
    };
    let number = u64::from_be_bytes(
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| TxError::new(Code::Internal, "stored current round is not 8 bytes"))?,
    );
    load(state, model_id, number)
}

fn save(state: &mut StateView, round: &Round) {
    state.set(
        &state_key::round(&round.model_id, round.number),
        round.encode_to_vec(),
    );
}

/// Opens the lineage's next round from its head at `height`.
pub fn open_next(
    state: &mut StateView,
    lineage: &Lineage,
    params: &RoundParams,
    height: u64,
) -> Result<Round, TxError> {
    let number = current(state, &lineage.model_id)?.map_or(1, |r| r.number + 1);
    let head =
        records::version(state, &lineage.model_id, lineage.head_version)?.ok_or_else(|| {
            TxError::new(
                Code::Internal,
                format!("head of {} missing", lineage.model_id),
            )
        })?;
    let round = Round {
        model_id: lineage.model_id.clone(),
        number,
        base_version: head.version,
        seed: round_seed(&head.weights_sha256, &lineage.model_id, number),
        base_weights_sha256: head.weights_sha256,
        opened_height: height,
        // Set by the first contribution: a round nobody joined yet waits
        // for one instead of closing empty.
        closes_height: 0,
        status: RoundStatus::Open as i32,
        params: Some(params.to_proto()),
        ..Default::default()
    };
    save(state, &round);
    state.set(
        &state_key::current_round(&lineage.model_id),
        number.to_be_bytes().to_vec(),
    );
    Ok(round)
}

/// Delivery's checks of a contribution to `round` (the lineage's current
/// one) by `trainer` on `shard`; refusals are not fraud, and cost the
/// trainer only its fee.
pub fn check_contribution(
    state: &StateView,
    round: &Round,
    msg_round: u64,
    shard: u32,
    trainer: &str,
    height: u64,
) -> Result<(), TxError> {
    let max = check_open(round, msg_round, height, "contribution to", "contributions")?;
    if round.contributions.len() as u64 >= u64::from(max) {
        return refuse(format!(
            "round {} of {} is full ({max} contributions); wait for the next round",
            round.number, round.model_id
        ));
    }
    check_shard_free(round, shard, max)?;
    for claim in &round.claims {
        if claim.shard == shard && claim.trainer != trainer {
            return refuse(format!(
                "shard {shard} of round {} is claimed by {}; pick a free one",
                round.number, claim.trainer
            ));
        }
        if claim.trainer == trainer && claim.shard != shard {
            return refuse(format!(
                "{trainer} claimed shard {} of round {}, not shard {shard}",
                claim.shard, round.number
            ));
        }
    }
    check_not_contributed(state, round, trainer)
}

/// Whether `trainer` may claim `shard` of `round` (`msg_round` as the claim
/// names it) at `height`: the round is current and open, the shard free
/// (neither claimed nor contributed), and the trainer holds no claim or
/// contribution in it yet.
pub fn check_claim(
    state: &StateView,
    round: &Round,
    msg_round: u64,
    shard: u32,
    trainer: &str,
    height: u64,
) -> Result<(), TxError> {
    let max = check_open(round, msg_round, height, "claim on", "claims")?;
    check_shard_free(round, shard, max)?;
    if round.claims.iter().any(|c| c.shard == shard) {
        return refuse(format!(
            "shard {shard} of round {} is taken; pick a free one",
            round.number
        ));
    }
    if let Some(claim) = round.claims.iter().find(|c| c.trainer == trainer) {
        return refuse(format!(
            "{trainer} already claimed shard {} of round {}",
            claim.shard, round.number
        ));
    }
    check_not_contributed(state, round, trainer)
}

fn refuse(why: String) -> Result<(), TxError> {
    Err(TxError::new(Code::InvalidRequest, why))
}

/// `msg_round` is `round`, which is open and not past its deadline at
/// `height`; its shard count. `what` and `takes` name the message in the
/// refusal ("contribution to", "contributions").
fn check_open(
    round: &Round,
    msg_round: u64,
    height: u64,
    what: &str,
    takes: &str,
) -> Result<u32, TxError> {
    if msg_round != round.number {
        refuse(format!(
            "{what} round {msg_round}, but {} is in round {}",
            round.model_id, round.number
        ))?;
    }
    let past = round.closes_height != 0 && height > round.closes_height;
    if round.status != RoundStatus::Open as i32 || past {
        refuse(format!(
            "round {} of {} takes no more {takes}; the next round opens from its result",
            round.number, round.model_id
        ))?;
    }
    Ok(round.params.as_ref().map_or(0, |p| p.max_contributions))
}

/// `shard` is one of the round's `max` and nobody contributed to it.
fn check_shard_free(round: &Round, shard: u32, max: u32) -> Result<(), TxError> {
    if shard >= max {
        return refuse(format!(
            "shard {shard} of a round of {max} shards (0 to {})",
            max.saturating_sub(1)
        ));
    }
    if round.shards.contains(&shard) {
        return refuse(format!(
            "shard {shard} of round {} is taken; pick a free one",
            round.number
        ));
    }
    Ok(())
}

fn check_not_contributed(state: &StateView, round: &Round, trainer: &str) -> Result<(), TxError> {
    for id in &round.contributions {
        if records::update(state, *id)?.is_some_and(|u| u.trainer == trainer) {
            return refuse(format!(
                "{trainer} already contributed to round {}",
                round.number
            ));
        }
    }
    Ok(())
}

/// Records a claim checked by [`check_claim`]. Like a first contribution,
/// the first claim starts the round's `round_blocks` deadline, so a shard
/// claimed and never delivered holds the round at most that long.
pub fn add_claim(state: &mut StateView, round: &mut Round, shard: u32, trainer: &str, height: u64) {
    start_deadline(round, height);
    round.claims.push(ShardClaim {
        shard,
        trainer: trainer.to_string(),
        height,
    });
    save(state, round);
}

fn start_deadline(round: &mut Round, height: u64) {
    if round.closes_height == 0 {
        let blocks = round.params.as_ref().map_or(0, |p| p.round_blocks);
        round.closes_height = height.saturating_add(blocks);
    }
}

/// Records a delivered contribution in its round; the first one (or the
/// first claim) starts the round's `round_blocks` deadline.
pub fn add_contribution(
    state: &mut StateView,
    round: &mut Round,
    update_id: u64,
    shard: u32,
    height: u64,
) {
    start_deadline(round, height);
    round.contributions.push(update_id);
    round.shards.push(shard);
    save(state, round);
}

/// The end-block step of every lineage in round mode, after the block's
/// verdicts are tallied: closes, merges and opens rounds, and returns the
/// events. A candidate it creates is a pending update, decided from
/// verdicts like any other.
pub fn end_block(
    state: &mut StateView,
    block: &BlockInfo,
    params: &TrainingParams,
) -> Result<Vec<Event>, TxError> {
    let mut events = Vec::new();
    for lineage in super::lineages(state)? {
        // A round in progress finishes even when the DAO has just ended
        // the lineage's rounds; only the next one needs them.
        let Some(mut round) = current(state, &lineage.model_id)? else {
            continue;
        };
        let status = RoundStatus::try_from(round.status).unwrap_or(RoundStatus::Unspecified);
        match status {
            RoundStatus::Open => {
                events.extend(close_if_due(state, block, params, &lineage, &mut round)?);
            }
            RoundStatus::Evaluating => {
                events.extend(after_candidate(state, block, params, &lineage, &mut round)?);
            }
            _ => {}
        }
        if round.status == RoundStatus::Closed as i32 && round.closed_height == block.height {
            let Some(round_params) = lineage.rounds.clone() else {
                continue;
            };
            // The lineage may have moved on: re-read its head.
            let lineage = super::lineage(state, &lineage.model_id)?.unwrap_or(lineage);
            let next = open_next(state, &lineage, &round_params, block.height)?;
            events.push(
                Event::new("round_opened")
                    .attr("model_id", &next.model_id)
                    .attr("round", next.number.to_string())
                    .attr("base_version", next.base_version.to_string())
                    .attr("round_blocks", round_params.round_blocks.to_string()),
            );
        }
    }
    Ok(events)
}

fn contributions(state: &StateView, round: &Round) -> Result<Vec<Update>, TxError> {
    let mut out = Vec::with_capacity(round.contributions.len());
    for id in &round.contributions {
        if let Some(update) = records::update(state, *id)? {
            out.push(update);
        }
    }
    Ok(out)
}

/// Closes an open round that is full or past its close with at least one
/// contribution, once none of them waits for verdicts.
fn close_if_due(
    state: &mut StateView,
    block: &BlockInfo,
    params: &TrainingParams,
    lineage: &Lineage,
    round: &mut Round,
) -> Result<Vec<Event>, TxError> {
    let max = round.params.as_ref().map_or(0, |p| p.max_contributions);
    let full = round.contributions.len() as u64 >= u64::from(max);
    let over = round.closes_height != 0 && block.height > round.closes_height;
    if !full && !over {
        return Ok(Vec::new());
    }
    let all = contributions(state, round)?;
    if all.iter().any(|u| u.status == UpdateStatus::Pending as i32) {
        return Ok(Vec::new());
    }
    let verified: Vec<&Update> = all
        .iter()
        .filter(|u| u.status == UpdateStatus::Verified as i32)
        .collect();
    if verified.is_empty() {
        return Ok(vec![close(
            state,
            block,
            round,
            OUTCOME_NO_CONTRIBUTIONS,
            0,
        )?]);
    }
    // In shard order: the same shards make the same merge whichever
    // trainer's contribution arrived first (f32 sums depend on the order).
    let mut verified = verified;
    verified.sort_by_key(|u| (u.shard, u.id));
    let ids: Vec<u64> = verified.iter().map(|u| u.id).collect();
    let outer_lr = match &round.params {
        Some(p) => RoundParams::outer_lr(p)?,
        None => 1.0,
    };
    let event = propose_candidate(state, block, params, lineage, round, &ids, outer_lr)?;
    Ok(vec![event])
}

/// Merges the contributions `ids` (in shard order) with outer learning
/// rate `outer_lr` into a candidate update to be evaluated; the round waits
/// for it.
fn propose_candidate(
    state: &mut StateView,
    block: &BlockInfo,
    params: &TrainingParams,
    lineage: &Lineage,
    round: &mut Round,
    ids: &[u64],
    outer_lr: f32,
) -> Result<Event, TxError> {
    let spec = super::parse_spec(&lineage.spec)?;
    let base = records::blob(state, &round.base_weights_sha256)?
        .ok_or_else(|| TxError::new(Code::Internal, "the round's base weights are missing"))?;
    let compression = round_compression(round)?;
    let mut weights = Vec::with_capacity(ids.len());
    let mut first = None;
    for id in ids {
        let update = records::update(state, *id)?
            .ok_or_else(|| TxError::new(Code::Internal, format!("contribution {id} missing")))?;
        let bytes = records::blob(state, &update.weights_sha256)?.ok_or_else(|| {
            TxError::new(
                Code::Internal,
                format!("weights of contribution {id} missing"),
            )
        })?;
        weights.push(merge::contribution_weights(
            &spec,
            compression,
            &base,
            bytes,
        )?);
        first.get_or_insert(update);
    }
    let merged = merge::merge(&spec, &base, &weights, outer_lr)?;
    let sha = records::put_blob(state, &merged);
    let first = first.ok_or_else(|| TxError::new(Code::Internal, "a candidate of nothing"))?;
    let id = records::next_update_id(state)?;
    let candidate = Update {
        id,
        model_id: round.model_id.clone(),
        base_version: round.base_version,
        dataset_version: first.dataset_version,
        trainer: String::new(),
        weights_sha256: sha.to_vec(),
        claimed_train_loss: 0.0,
        claimed_validation_loss: 0.0,
        submitted_height: block.height,
        status: UpdateStatus::Pending as i32,
        weights_size: merged.len() as u64,
        expires_height: block.height.saturating_add(params.expiry_blocks),
        hyperparams_sha256: first.hyperparams_sha256.clone(),
        dataset_root: first.dataset_root.clone(),
        kind: UpdateKind::Merge as i32,
        round: round.number,
        contributions: ids.to_vec(),
        eval_seed: block.hash.clone(),
        ..Default::default()
    };
    records::save_update(state, &candidate);
    round.status = RoundStatus::Evaluating as i32;
    round.candidate_update_id = id;
    save(state, round);
    Ok(Event::new("round_candidate")
        .attr("model_id", &round.model_id)
        .attr("round", round.number.to_string())
        .attr("update_id", id.to_string())
        .attr(
            "contributions",
            ids.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
        )
        .attr("weights_sha256", hex::encode(sha)))
}

/// Acts on a decided candidate: accepted, the round made its version
/// (`decide` wrote it); otherwise the best single contribution gets its own
/// evaluation, once, or the round ends without a version.
fn after_candidate(
    state: &mut StateView,
    block: &BlockInfo,
    params: &TrainingParams,
    lineage: &Lineage,
    round: &mut Round,
) -> Result<Vec<Event>, TxError> {
    let Some(candidate) = records::update(state, round.candidate_update_id)? else {
        return Err(TxError::new(
            Code::Internal,
            "the round's candidate is missing",
        ));
    };
    match UpdateStatus::try_from(candidate.status) {
        Ok(UpdateStatus::Pending) => Ok(Vec::new()),
        Ok(UpdateStatus::Accepted) => {
            let outcome =
                if candidate.contributions.len() > 1 || round_verified_count(state, round)? == 1 {
                    OUTCOME_MERGED
                } else {
                    OUTCOME_BEST_CONTRIBUTION
                };
            let version = candidate.version;
            settle_contributions(state, block, round, &candidate.contributions, version)?;
            Ok(vec![close(state, block, round, outcome, version)?])
        }
        _ => {
            // The fallback is the best contribution's own bytes (an outer
            // step of 1 on it alone), never stepped past it: an outer
            // learning rate that overshoots must not also sink the round's
            // best single result. Once that failed too, the round ends.
            if !is_plain_contribution(state, lineage, round, &candidate)? {
                if let Some(best) = best_contribution(state, &candidate.contributions)? {
                    let event =
                        propose_candidate(state, block, params, lineage, round, &[best], 1.0)?;
                    return Ok(vec![event]);
                }
            }
            settle_contributions(state, block, round, &[], 0)?;
            Ok(vec![close(state, block, round, OUTCOME_NO_IMPROVEMENT, 0)?])
        }
    }
}

/// Whether `candidate` is one contribution's own weights (the fallback, or
/// a merge of one at outer learning rate 1). In a compressed round those
/// are the base plus its decoded delta, not the payload it was sent as:
/// compared with the payload's hash, no candidate ever matched, and a
/// rejected one-contribution round proposed the same candidate forever.
fn is_plain_contribution(
    state: &StateView,
    lineage: &Lineage,
    round: &Round,
    candidate: &Update,
) -> Result<bool, TxError> {
    let [only] = candidate.contributions.as_slice() else {
        return Ok(false);
    };
    let Some(contribution) = records::update(state, *only)? else {
        return Ok(false);
    };
    let compression = round_compression(round)?;
    if compression == Compression::F32 {
        return Ok(contribution.weights_sha256 == candidate.weights_sha256);
    }
    let spec = super::parse_spec(&lineage.spec)?;
    let (Some(base), Some(payload)) = (
        records::blob(state, &round.base_weights_sha256)?,
        records::blob(state, &contribution.weights_sha256)?,
    ) else {
        return Ok(false);
    };
    let weights = merge::contribution_weights(&spec, compression, &base, payload)?;
    Ok(records::sha256(&weights).as_slice() == candidate.weights_sha256.as_slice())
}

fn round_verified_count(state: &StateView, round: &Round) -> Result<usize, TxError> {
    Ok(contributions(state, round)?
        .iter()
        .filter(|u| {
            u.status == UpdateStatus::Verified as i32 || u.status == UpdateStatus::Accepted as i32
        })
        .count())
}

/// The verified contribution whose accepting validators measured the
/// lowest validation loss (their lower median), the lower id on ties.
fn best_contribution(state: &StateView, ids: &[u64]) -> Result<Option<u64>, TxError> {
    let mut best: Option<(f32, u64)> = None;
    for id in ids {
        let (loss, _) = super::decide::median_measurement(&records::verdicts(state, *id)?);
        if best.is_none_or(|(lowest, _)| loss.total_cmp(&lowest).is_lt()) {
            best = Some((loss, *id));
        }
    }
    Ok(best.map(|(_, id)| id))
}

/// Final statuses of the round's verified contributions: ACCEPTED into
/// `version` for those in `merged`, else REJECTED as not merged; the blobs
/// no version needs go.
fn settle_contributions(
    state: &mut StateView,
    block: &BlockInfo,
    round: &Round,
    merged: &[u64],
    version: u64,
) -> Result<(), TxError> {
    for mut update in contributions(state, round)? {
        if update.status != UpdateStatus::Verified as i32 {
            continue;
        }
        if merged.contains(&update.id) {
            update.status = UpdateStatus::Accepted as i32;
            update.version = version;
        } else {
            update.status = UpdateStatus::Rejected as i32;
            update.reason = REASON_NOT_MERGED.to_string();
        }
        update.decided_height = block.height;
        records::save_update(state, &update);
        records::prune_unheld_blob(state, &update.weights_sha256)?;
    }
    Ok(())
}

fn close(
    state: &mut StateView,
    block: &BlockInfo,
    round: &mut Round,
    outcome: &str,
    version: u64,
) -> Result<Event, TxError> {
    // The checkpoints served the round's verification only (served ones
    // were never stored: their trainer drops them now).
    for update in contributions(state, round)? {
        if !update.checkpoint_source.is_empty() {
            continue;
        }
        for sha in &update.checkpoint_hashes {
            records::prune_unheld_blob(state, sha)?;
        }
    }
    round.status = RoundStatus::Closed as i32;
    round.outcome = outcome.to_string();
    round.version = version;
    round.closed_height = block.height;
    save(state, round);
    Ok(Event::new("round_closed")
        .attr("model_id", &round.model_id)
        .attr("round", round.number.to_string())
        .attr("outcome", outcome)
        .attr("version", version.to_string()))
}

#[cfg(test)]
mod tests;
