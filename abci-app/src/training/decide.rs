//! Verdicts in, decisions out.
//!
//! The verdict tx of block H+1 records each signed verdict once per
//! validator and update; then every pending update is tallied against one
//! validator set, the set that signed H, each verdict counting with its
//! validator's power in that set (verdicts of validators outside it count
//! for nothing): more than 2/3 accepting makes it the next version and
//! mints the trainer's reward; more than 2/3 calling it fraud slashes the
//! trainer (re-execution is deterministic, so honest validators agree and no
//! coalition under 2/3 can get an honest trainer slashed); once neither can
//! happen any more, it is rejected unslashed; no decision within
//! `expiry_blocks` expires it. A proposer that leaves verdicts out only
//! delays them: validators repeat their verdicts until the update is decided.

use std::collections::BTreeSet;

use cosmwasm_std::Decimal;
use um_proto::um::abci::v1::InjectedVerdicts;
use um_proto::um::training::v1::{
    ModelVersion, Update, UpdateKind, UpdateStatus, Verdict, VerdictReason,
};

use super::extension::signed_verdicts;
use super::verification_fee;
use super::{lineage, records, set_head, TrainingParams};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event, TxContext};
use crate::gov::validators;
use crate::karma::Work;
use crate::store::StateView;

/// How the voting power stands on one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub accept: i64,
    pub reject: i64,
    /// The part of `reject` that called the update fraud.
    pub fraud: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accept,
    Fraud,
    Reject,
}

impl Tally {
    pub fn outcome(&self) -> Option<Outcome> {
        if self.total <= 0 {
            return None;
        }
        let over_two_thirds = |power: i64| power.saturating_mul(3) > self.total.saturating_mul(2);
        let undecided = self
            .total
            .saturating_sub(self.accept)
            .saturating_sub(self.reject)
            .max(0);
        if over_two_thirds(self.accept) {
            Some(Outcome::Accept)
        } else if over_two_thirds(self.fraud) {
            Some(Outcome::Fraud)
        } else if !over_two_thirds(self.accept.saturating_add(undecided))
            && !over_two_thirds(self.fraud.saturating_add(undecided))
        {
            // Neither acceptance nor a fraud finding can still be reached.
            Some(Outcome::Reject)
        } else {
            None
        }
    }
}

/// Records the verdicts of a checked verdict tx. A validator's first
/// verdict on an update counts; verdicts on updates no longer pending are
/// dropped.
pub fn record_verdicts(
    state: &mut StateView,
    injected: &InjectedVerdicts,
) -> Result<Vec<Event>, TxError> {
    let height = u64::try_from(injected.height).unwrap_or(0);
    let mut recorded = 0u64;
    let mut disputes = Vec::new();
    for (vote, extension) in signed_verdicts(injected) {
        for entry in extension.verdicts {
            let Some(mut update) = records::update(state, entry.update_id)? else {
                continue;
            };
            if update.status != UpdateStatus::Pending as i32
                || records::verdict(state, update.id, &vote.validator_address)?.is_some()
            {
                continue;
            }
            if !update.checkpoint_hashes.is_empty() {
                match update.disputed_segment {
                    // A validator found a segment that re-executes to other
                    // weights: an objective claim, cheap to check. Every
                    // validator now re-executes that segment, and only
                    // verdicts that did count.
                    None => {
                        let segments = update.checkpoint_hashes.len() as u32 + 1;
                        if let Some(failed) = entry
                            .failed_segment
                            .filter(|s| *s < segments && !entry.accept)
                        {
                            update.disputed_segment = Some(failed);
                            records::clear_verdicts(state, update.id)?;
                            records::save_update(state, &update);
                            disputes.push((update.id, failed));
                        }
                    }
                    Some(disputed) if !entry.segments_checked.contains(&disputed) => continue,
                    Some(_) => {}
                }
            }
            records::save_verdict(
                state,
                update.id,
                &Verdict {
                    validator: vote.validator_address.clone(),
                    accept: entry.accept,
                    reason: entry.reason,
                    detail: entry.detail,
                    measured_validation_loss: entry.measured_validation_loss,
                    relative_distance: entry.relative_distance,
                    measured_validation_accuracy: entry.measured_validation_accuracy,
                    power: vote.power,
                    height,
                    segments_checked: entry.segments_checked,
                    failed_segment: entry.failed_segment,
                },
            );
            recorded += 1;
        }
    }
    let mut events = vec![Event::new("verdicts")
        .attr("height", height.to_string())
        .attr("recorded", recorded.to_string())];
    for (update_id, segment) in disputes {
        events.push(
            Event::new("segment_disputed")
                .attr("update_id", update_id.to_string())
                .attr("segment", segment.to_string()),
        );
    }
    Ok(events)
}

/// The power of each validator (by consensus address) in one set.
pub type PowerByAddress = std::collections::BTreeMap<Vec<u8>, i64>;

pub fn powers_by_address(set: &validators::PowerMap) -> PowerByAddress {
    set.iter()
        .map(|(pubkey, power)| {
            (
                super::extension::consensus_address(pubkey),
                i64::try_from(*power).unwrap_or(i64::MAX),
            )
        })
        .collect()
}

/// The verdicts on an update counted with the powers of one set.
pub fn tally(state: &StateView, update_id: u64, set: &PowerByAddress) -> Result<Tally, TxError> {
    let mut tally = Tally {
        total: set.values().fold(0i64, |sum, p| sum.saturating_add(*p)),
        ..Tally::default()
    };
    for verdict in records::verdicts(state, update_id)? {
        let Some(&power) = set.get(&verdict.validator) else {
            continue;
        };
        if verdict.accept {
            tally.accept = tally.accept.saturating_add(power);
        } else {
            tally.reject = tally.reject.saturating_add(power);
            // An unknown reason is a non-fraud rejection.
            let fraud = VerdictReason::try_from(verdict.reason)
                .map(VerdictReason::is_fraud)
                .unwrap_or(false);
            if fraud {
                tally.fraud = tally.fraud.saturating_add(power);
            }
        }
    }
    Ok(tally)
}

/// What becomes of a pending update at the end of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The lineage's next version; the trainer is rewarded.
    Accept,
    /// Rejected as fraud; the trainer is slashed.
    Fraud,
    /// Rejected without a slash.
    Reject,
    /// Rejected: its base is no longer the head.
    Obsolete,
    /// No decision within `expiry_blocks`.
    Expire,
    /// Still pending.
    Wait,
}

/// The decision on `update` from the verdicts' `tally`, the lineage's head
/// version (`None` without a lineage) and the block height. Pure: state and
/// inputs in, decision out; [`apply`] acts on it.
pub fn decide(update: &Update, tally: &Tally, head: Option<u64>, height: u64) -> Decision {
    let on_head = head == Some(update.base_version);
    match tally.outcome() {
        Some(Outcome::Accept) if on_head => Decision::Accept,
        Some(Outcome::Fraud) => Decision::Fraud,
        Some(Outcome::Reject) => Decision::Reject,
        _ if !on_head => Decision::Obsolete,
        _ if height > update.expires_height => Decision::Expire,
        _ => Decision::Wait,
    }
}

/// Decides every pending update at the end of a block, ascending id, and
/// returns the block events. Each decision is applied before the next is
/// taken: an accepted update moves the head, which makes the others on the
/// same base obsolete.
pub fn end_block(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
) -> Result<Vec<Event>, TxError> {
    let pending = records::pending_updates(state)?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let params = TrainingParams::load(state)?;
    // Verdicts were signed at the previous height; measure them against the
    // set that signed it.
    let set = validators::set_at(state, block.height.saturating_sub(1))?
        .map(Ok)
        .unwrap_or_else(|| validators::current(state))?;
    let set = powers_by_address(&set);
    // Which weights the still-undecided updates hold: a decided update's
    // blob goes only when no other holds it.
    let holders: Vec<(u64, Vec<u8>)> = pending
        .iter()
        .map(|u| (u.id, u.weights_sha256.clone()))
        .collect();
    let mut decided_ids = BTreeSet::new();
    let mut events = Vec::new();
    let mut decided = Vec::new();
    // Read from the staking contract once, when a first update is decided.
    let mut operators = None;
    for mut update in pending {
        let current = tally(state, update.id, &set)?;
        let head = lineage(state, &update.model_id)?.map(|l| l.head_version);
        let decision = decide(&update, &current, head, block.height);
        events.extend(apply(
            wasm,
            state,
            block,
            &params,
            &mut update,
            current,
            decision,
        )?);
        if decision != Decision::Wait {
            credit_verifiers(wasm, state, block, update.id, &mut operators)?;
            decided.push(update.status);
            decided_ids.insert(update.id);
            let held = holders
                .iter()
                .any(|(id, sha)| !decided_ids.contains(id) && *sha == update.weights_sha256);
            // Only accepted weights are ever read again (as a version).
            if decision != Decision::Accept && !held {
                records::prune_unheld_blob(state, &update.weights_sha256)?;
            }
        }
    }
    // Counted once the block's decisions all stand (an error above undoes
    // every one of them).
    for status in decided {
        if let Ok(status) = UpdateStatus::try_from(status) {
            crate::telemetry::update_decided(status.as_str_name());
        }
    }
    Ok(events)
}

/// Karma for verification: each validator whose verdict is recorded on the
/// decided update `update_id`, by its operator address (`operators` is
/// read once per block, when first needed; empty when it cannot be read).
fn credit_verifiers(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    update_id: u64,
    operators: &mut Option<std::collections::BTreeMap<Vec<u8>, String>>,
) -> Result<(), TxError> {
    let verdicts = records::verdicts(state, update_id)?;
    if verdicts.is_empty() {
        return Ok(());
    }
    // A staking contract that cannot answer costs the validators their
    // credit, never the block its decisions.
    let operators = operators
        .get_or_insert_with(|| crate::karma::operators(wasm, state, block).unwrap_or_default());
    for verdict in verdicts {
        if let Some(operator) = operators.get(&verdict.validator) {
            crate::karma::credit(state, operator, Work::Verdict, block.height)?;
        }
    }
    Ok(())
}

/// Writes `decision` on `update`: its record, the new version, the reward
/// or the slash.
pub fn apply(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    params: &TrainingParams,
    update: &mut Update,
    tally: Tally,
    decision: Decision,
) -> Result<Vec<Event>, TxError> {
    update.accept_power = tally.accept;
    update.reject_power = tally.reject;
    let mut events = Vec::new();
    let settle = |update: &mut Update, status: UpdateStatus, reason: String| {
        update.status = status as i32;
        update.reason = reason;
        update.decided_height = block.height;
    };
    let kind = UpdateKind::try_from(update.kind).unwrap_or(UpdateKind::Single);
    // Nobody trained a merge: a majority calling it fraud (which honest
    // verifiers never do for a candidate) only rejects it.
    let decision = match (decision, kind) {
        (Decision::Fraud, UpdateKind::Merge) => Decision::Reject,
        (decision, _) => decision,
    };
    match decision {
        Decision::Accept if kind == UpdateKind::Contribution => {
            // Verified; its round's merge decides whether it becomes part
            // of a version.
            update.status = UpdateStatus::Verified as i32;
            update.reason = String::new();
        }
        Decision::Accept if kind == UpdateKind::Merge => {
            events.extend(accept_merge(wasm, state, block, update, tally)?)
        }
        Decision::Accept => events.extend(accept(wasm, state, block, update, tally)?),
        Decision::Fraud => {
            let reason = majority_reason(state, update.id, true)?;
            settle(update, UpdateStatus::Rejected, reason);
            events.extend(crate::gov::sudo::as_chain(wasm, state, block, |ctx| {
                slash_for_fraud(ctx, params, update)
            })?);
        }
        Decision::Reject => {
            let reason = majority_reason(state, update.id, false)?;
            settle(update, UpdateStatus::Rejected, reason);
        }
        Decision::Obsolete => settle(
            update,
            UpdateStatus::Rejected,
            super::REASON_OBSOLETE.to_string(),
        ),
        Decision::Expire => settle(
            update,
            UpdateStatus::Expired,
            super::REASON_EXPIRED.to_string(),
        ),
        Decision::Wait => {}
    }
    records::save_update(state, update);
    if decision != Decision::Wait {
        let accepted = decision == Decision::Accept;
        events.extend(verification_fee::settle(
            wasm,
            state,
            block,
            update.id,
            &update.trainer,
            accepted,
        )?);
        events.push(decided_event(update));
    }
    Ok(events)
}

fn decided_event(update: &Update) -> Event {
    Event::new("update_decided")
        .attr("update_id", update.id.to_string())
        .attr("model_id", &update.model_id)
        .attr("trainer", &update.trainer)
        .attr(
            "status",
            UpdateStatus::try_from(update.status)
                .map(|s| s.as_str_name())
                .unwrap_or("UPDATE_STATUS_UNSPECIFIED"),
        )
        .attr("version", update.version.to_string())
        .attr("reason", &update.reason)
        .attr("accept_power", update.accept_power.to_string())
        .attr("reject_power", update.reject_power.to_string())
        .attr("slashed", update.slashed.to_string())
}

/// The reason most rejecting power gave (ties: the lower reason number),
/// fraud reasons only when `fraud`.
fn majority_reason(state: &StateView, update_id: u64, fraud: bool) -> Result<String, TxError> {
    let mut by_reason: std::collections::BTreeMap<i32, i64> = Default::default();
    for verdict in records::verdicts(state, update_id)? {
        let is_fraud = VerdictReason::try_from(verdict.reason)
            .map(VerdictReason::is_fraud)
            .unwrap_or(false);
        if !verdict.accept && (!fraud || is_fraud) {
            *by_reason.entry(verdict.reason).or_default() += verdict.power;
        }
    }
    let best = by_reason
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(reason, _)| *reason)
        .unwrap_or(VerdictReason::Other as i32);
    Ok(VerdictReason::try_from(best)
        .map(|r| r.as_str_name().to_string())
        .unwrap_or_else(|_| format!("reason {best}")))
}

/// Makes the update the lineage's next version and mints the reward.
fn accept(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    update: &mut Update,
    tally: Tally,
) -> Result<Vec<Event>, TxError> {
    let trainers = [(update.id, update.trainer.clone())];
    let version = make_version(
        state,
        block,
        update,
        tally,
        vec![update.id],
        &update.trainer,
    )?;
    update.status = UpdateStatus::Accepted as i32;
    update.version = version.version;
    update.decided_height = block.height;
    crate::karma::credit(state, &update.trainer, Work::Version, block.height)?;
    let mut events = reward(wasm, state, block, &update.model_id, &trainers)?;
    events.extend(mint_version_tokens(wasm, state, block, &version, &trainers));
    Ok(events)
}

/// Makes a round's merged candidate the next version; the round's reward
/// is split evenly among the merged contributions (each trained the same
/// number of samples: `local_steps × batch_size` of its own shard).
fn accept_merge(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    update: &mut Update,
    tally: Tally,
) -> Result<Vec<Event>, TxError> {
    let mut trainers = Vec::with_capacity(update.contributions.len());
    for id in &update.contributions {
        if let Some(contribution) = records::update(state, *id)? {
            trainers.push((contribution.id, contribution.trainer));
        }
    }
    let first = trainers.first().map(|(_, t)| t.clone()).unwrap_or_default();
    let version = make_version(
        state,
        block,
        update,
        tally,
        update.contributions.clone(),
        &first,
    )?;
    update.status = UpdateStatus::Accepted as i32;
    update.version = version.version;
    update.decided_height = block.height;
    for (_, trainer) in &trainers {
        crate::karma::credit(state, trainer, Work::RoundContribution, block.height)?;
    }
    let mut events = reward(wasm, state, block, &update.model_id, &trainers)?;
    events.extend(mint_version_tokens(wasm, state, block, &version, &trainers));
    Ok(events)
}

/// Mints the version's cw721 tokens on nrn-versions, one to each trainer
/// (update id, address) in order. Like the reward, the version stands if
/// the contract refuses: the refusal is in the event. No event on a chain
/// without nrn-versions.
fn mint_version_tokens(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    version: &ModelVersion,
    trainers: &[(u64, String)],
) -> Vec<Event> {
    let mint = um_bindings::versions::VersionMint {
        model_id: version.model_id.clone(),
        version: version.version,
        owners: trainers.iter().map(|(_, t)| t.clone()).collect(),
        weights_sha256: hex::encode(&version.weights_sha256),
        // Rust's shortest round-trip text of an f32: the same on every node.
        validation_loss: version.validation_loss.to_string(),
        validation_accuracy: version.validation_accuracy.to_string(),
        height: version.height,
        dataset_version: version.dataset_version,
    };
    let token_ids: Vec<String> = (0..trainers.len())
        .map(|i| {
            um_bindings::versions::token_id(&version.model_id, version.version, i, trainers.len())
        })
        .collect();
    let minted = crate::gov::sudo::as_chain(wasm, state, block, |ctx| {
        crate::gov::sudo::mint_version(ctx, mint)
    });
    let event = Event::new("version_nft")
        .attr("model_id", &version.model_id)
        .attr("version", version.version.to_string())
        .attr("token_ids", token_ids.join(","));
    match minted {
        Ok(Some(_)) => vec![event],
        Ok(None) => Vec::new(),
        Err(err) => vec![event.attr("error", err.log)],
    }
}

/// Writes the next version of `update`'s lineage from its weights and
/// moves the head; returns the version written.
fn make_version(
    state: &mut StateView,
    block: &BlockInfo,
    update: &Update,
    tally: Tally,
    update_ids: Vec<u64>,
    trainer: &str,
) -> Result<ModelVersion, TxError> {
    let Some(lineage) = lineage(state, &update.model_id)? else {
        return Err(TxError::new(
            Code::Internal,
            format!("update {} of a missing lineage", update.id),
        ));
    };
    let (loss, accuracy) = median_measurement(&records::verdicts(state, update.id)?);
    let number = lineage.head_version + 1;
    let version = ModelVersion {
        model_id: update.model_id.clone(),
        version: number,
        parent_version: update.base_version,
        weights_sha256: update.weights_sha256.clone(),
        trainer: trainer.to_string(),
        train_loss: update.claimed_train_loss,
        validation_loss: loss,
        validation_accuracy: accuracy,
        height: block.height,
        dataset_version: update.dataset_version,
        accept_power: tally.accept,
        reject_power: tally.reject,
        total_power: tally.total,
        update_ids,
        weights_size: update.weights_size,
    };
    records::save_version(state, &version);
    set_head(state, &lineage, number);
    Ok(version)
}

/// Mints a version's reward (a fraction of the supply when the DAO set one,
/// else the lineage's `reward_per_update` halving by versions so far), less the
/// validators' share, split evenly among `trainers` (update id, address);
/// what does not divide evenly goes to the validators.
fn reward(
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    model_id: &str,
    trainers: &[(u64, String)],
) -> Result<Vec<Event>, TxError> {
    let Some(lineage) = lineage(state, model_id)? else {
        return Ok(Vec::new());
    };
    let accepted_before = records::accepted_count(state, model_id)?;
    records::set_accepted_count(state, model_id, accepted_before + 1);
    let rewards = super::supply_rewards::RewardParams::load(state)?;
    let reward = if rewards.version_supply_fraction.is_zero() {
        reward_after(
            lineage.hyperparams.reward_per_update.u128(),
            lineage.hyperparams.reward_halving_interval,
            accepted_before,
        )
    } else {
        // The 2017 design: a fraction of the supply, halving by blocks. A
        // token that cannot be read mints nothing; the version stands.
        match super::supply_rewards::token_supply(wasm, state, block) {
            Ok(supply) => super::supply_rewards::supply_reward(
                supply,
                rewards.version_supply_fraction,
                block.height,
                rewards.halving_blocks,
            ),
            Err(_) => 0,
        }
    };
    let (to_trainers, mut to_validators) =
        verification_fee::split_reward(reward, &crate::fee::FeeParams::load(state)?);
    let share = match trainers.len() {
        0 => 0,
        n => to_trainers / n as u128,
    };
    to_validators += to_trainers - share * trainers.len() as u128;
    let mut events = Vec::with_capacity(trainers.len());
    for (index, (update_id, trainer)) in trainers.iter().enumerate() {
        let mut event = Event::new("reward")
            .attr("update_id", update_id.to_string())
            .attr("trainer", trainer)
            .attr("amount", share.to_string());
        if index == 0 {
            event = event.attr("validators_amount", to_validators.to_string());
        }
        // The version stands even if the token refuses (e.g. its cap is
        // reached): the model improved either way.
        if share > 0 {
            let minted = crate::gov::sudo::as_chain(wasm, state, block, |ctx| {
                crate::gov::sudo::mint_reward(ctx, trainer, share)
            });
            if let Err(err) = minted {
                event = event.attr("error", err.log);
            }
        }
        events.push(event);
    }
    if to_validators > 0 {
        // Minted to the fee collector, paid out with the next block's fees
        // to the validators that signed, for the re-training they did.
        let collector = crate::fee::fee_collector();
        let minted = crate::gov::sudo::as_chain(wasm, state, block, |ctx| {
            crate::gov::sudo::mint_reward(ctx, &collector, to_validators)
        });
        match minted {
            Ok(_) => crate::fee::add_undistributed(state, to_validators)?,
            Err(err) => {
                if let Some(event) = events.first_mut() {
                    *event = event.clone().attr("validators_error", err.log);
                }
            }
        }
    }
    Ok(events)
}

/// `reward_per_update`, halved once per `halving_interval` updates already
/// accepted; an interval of 0 never halves.
pub fn reward_after(reward_per_update: u128, halving_interval: u64, accepted_before: u64) -> u128 {
    if halving_interval == 0 {
        return reward_per_update;
    }
    let halvings = accepted_before / halving_interval;
    if halvings >= 128 {
        0
    } else {
        reward_per_update >> halvings
    }
}

/// The accepting verdicts' measurement at the lower median of their losses:
/// one validator's (loss, accuracy) pair, so the two stay consistent.
pub(crate) fn median_measurement(verdicts: &[Verdict]) -> (f32, f32) {
    let mut accepting: Vec<(f32, f32)> = verdicts
        .iter()
        .filter(|v| v.accept)
        .map(|v| (v.measured_validation_loss, v.measured_validation_accuracy))
        .collect();
    accepting.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    match accepting.len() {
        0 => (0.0, 0.0),
        n => accepting[(n - 1) / 2],
    }
}

/// Slashes the trainer of a fraudulent update; a slash the staking contract
/// refuses (nothing left to slash) is reported, not fatal.
pub fn slash_for_fraud(
    ctx: &mut TxContext<'_>,
    params: &TrainingParams,
    update: &mut Update,
) -> Result<Vec<Event>, TxError> {
    let fraction: Decimal = params.fraud_slash_fraction;
    let reason = format!("fraudulent update {}: {}", update.id, update.reason);
    crate::karma::credit(ctx.state, &update.trainer, Work::Slash, ctx.block.height)?;
    let mut event = Event::new("slash")
        .attr("update_id", update.id.to_string())
        .attr("trainer", &update.trainer)
        .attr("fraction", fraction.to_string());
    match crate::gov::sudo::slash(ctx, &update.trainer, fraction, &reason) {
        Ok(_) => update.slashed = true,
        Err(err) => event = event.attr("error", err.log),
    }
    Ok(vec![event])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Karma is a record, not a decision: a staking contract that cannot
    /// answer (its registry entry names no contract) must not fail the
    /// end-block that decides updates, or every decision of every block
    /// would be undone. The verdicts are then credited to nobody.
    #[test]
    fn an_unreadable_staking_contract_costs_karma_not_decisions() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = crate::wasm::WasmVm::new(cache.path()).unwrap();
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        let nowhere = crate::address::encode(&[3; 32]);
        crate::gov::register(
            &mut state,
            &crate::gov::Registry {
                token: nowhere.clone(),
                staking: nowhere.clone(),
                dao: nowhere,
                versions: None,
            },
        )
        .unwrap();
        records::save_verdict(
            &mut state,
            7,
            &Verdict {
                validator: vec![1; 20],
                accept: true,
                ..Verdict::default()
            },
        );
        let block = BlockInfo::default();
        let mut operators = None;
        credit_verifiers(&wasm, &mut state, &block, 7, &mut operators).unwrap();
        assert_eq!(operators, Some(Default::default()));
    }

    fn tally(accept: i64, reject: i64, fraud: i64) -> Tally {
        Tally {
            accept,
            reject,
            fraud,
            total: 100,
        }
    }

    #[test]
    fn thresholds_are_strict() {
        assert_eq!(tally(67, 0, 0).outcome(), Some(Outcome::Accept));
        assert_eq!(tally(66, 0, 0).outcome(), None, "exactly 2/3 is not enough");
        assert_eq!(tally(0, 67, 67).outcome(), Some(Outcome::Fraud));
        assert_eq!(
            tally(0, 66, 66).outcome(),
            None,
            "the rest may still find fraud"
        );
        assert_eq!(tally(0, 34, 10).outcome(), None, "fraud still reachable");
        assert_eq!(tally(0, 40, 10).outcome(), None, "fraud still reachable");
        assert_eq!(tally(0, 50, 10).outcome(), Some(Outcome::Reject));
        let empty = Tally::default();
        assert_eq!(empty.outcome(), None, "no power, no decision");
    }

    /// Issue 13, finding 5: more than 1/3 of the power calling an update
    /// fraud slashed its trainer, so a coalition of a third could slash an
    /// honest one. A fraud finding needs more than 2/3; a minority can at
    /// most get the update rejected unslashed.
    #[test]
    fn a_minority_cannot_slash() {
        // Byzantine 50 % call fraud, honest 50 % accept: rejected, unslashed.
        assert_eq!(tally(50, 50, 50).outcome(), Some(Outcome::Reject));
        // A third plus one calls fraud while the rest are still verifying.
        assert_eq!(tally(0, 34, 34).outcome(), None);
        // Those still verifying accept: rejected, nobody slashed.
        assert_eq!(tally(66, 34, 34).outcome(), Some(Outcome::Reject));
    }

    /// One validator set per decision: a verdict counts with its validator's
    /// power in the set the tally uses; one from outside the set (a validator
    /// that has left, or was never in it) counts for nothing, whatever power
    /// it carried when it was signed.
    #[test]
    fn verdicts_count_with_the_powers_of_one_set() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        let verdict = |validator: u8, accept: bool, reason: VerdictReason, power: i64| Verdict {
            validator: vec![validator; 20],
            accept,
            reason: reason as i32,
            power,
            ..Default::default()
        };
        records::save_verdict(
            &mut state,
            1,
            &verdict(1, false, VerdictReason::WeightsMismatch, 1_000),
        );
        records::save_verdict(&mut state, 1, &verdict(2, true, VerdictReason::Ok, 1));
        records::save_verdict(
            &mut state,
            1,
            &verdict(9, false, VerdictReason::WeightsMismatch, 1_000),
        );
        let set: PowerByAddress = [(vec![1; 20], 10), (vec![2; 20], 30), (vec![3; 20], 60)]
            .into_iter()
            .collect();
        let counted = super::tally(&state, 1, &set).unwrap();
        assert_eq!(
            counted,
            Tally {
                accept: 30,
                reject: 10,
                fraud: 10,
                total: 100
            }
        );
        assert_eq!(counted.outcome(), None);
    }

    #[test]
    fn rewards_halve_per_interval() {
        assert_eq!(reward_after(1000, 0, 99), 1000);
        assert_eq!(reward_after(1000, 10, 9), 1000);
        assert_eq!(reward_after(1000, 10, 10), 500);
        assert_eq!(reward_after(1000, 10, 25), 250);
        assert_eq!(reward_after(1000, 1, 200), 0);
    }

    #[test]
    fn median_pairs_loss_with_its_accuracy() {
        let verdict = |loss: f32, acc: f32, accept: bool| Verdict {
            accept,
            measured_validation_loss: loss,
            measured_validation_accuracy: acc,
            ..Default::default()
        };
        let verdicts = [
            verdict(0.5, 0.8, true),
            verdict(0.3, 0.9, true),
            verdict(9.0, 0.1, false),
            verdict(0.4, 0.85, true),
        ];
        assert_eq!(median_measurement(&verdicts), (0.4, 0.85));
        assert_eq!(median_measurement(&[]), (0.0, 0.0));
    }
}
