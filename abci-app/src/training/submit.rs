//! `MsgSubmitUpdate`: what is checked when an update is delivered.
//!
//! Everything here is cheap and deterministic. A stale base, a wrong dataset
//! version, a replayed weights hash (accepted weights, or the trainer's own
//! again) or a trainer without stake refuse the tx.
//! Weights that are not valid safetensors of the lineage's shapes, or that
//! hold NaN/Inf, are fraud anyone can see: the tx succeeds, the update is
//! recorded as rejected and the trainer is slashed at once. Everything else
//! waits as pending for the validators' verdicts.

use cosmos_sdk_proto::Any;
use prost::{Message, Name};
use um_bindings::staking::{Role, RoleResponse};
use um_formats::compress::{self, CompressError, Compression};
use um_formats::weights::WeightsError;
use um_formats::Weights;
use um_proto::um::training::v1::{
    MsgSubmitUpdate, MsgSubmitUpdateResponse, Update, UpdateKind, UpdateStatus, VerdictReason,
};

use super::{decide, lineage, parse_spec, records, TrainingParams};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event, MsgResult, TxContext};
use crate::store::StateView;

pub fn handles(type_url: &str) -> bool {
    type_url == MsgSubmitUpdate::type_url()
}

pub fn handle(ctx: &mut TxContext<'_>, signer: &str, msg: &Any) -> Result<MsgResult, TxError> {
    let msg = MsgSubmitUpdate::decode(msg.value.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("MsgSubmitUpdate: {e}")))?;
    if msg.trainer != signer {
        return Err(TxError::new(
            Code::WrongSigner,
            format!("trainer {} did not sign the tx", msg.trainer),
        ));
    }
    let params = TrainingParams::load(ctx.state)?;
    let Some(lineage) = lineage(ctx.state, &msg.model_id)? else {
        return Err(TxError::new(
            Code::NotFound,
            format!("model lineage {:?} not found", msg.model_id),
        ));
    };
    if msg.base_version != lineage.head_version {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "stale base: update trained from version {} but the head of {} is version {}",
                msg.base_version, lineage.model_id, lineage.head_version
            ),
        ));
    }
    let dataset = crate::dataset::current(ctx.state, &lineage.dataset_id)?.ok_or_else(|| {
        TxError::new(
            Code::NotFound,
            format!(
                "dataset {:?} of {} not found",
                lineage.dataset_id, lineage.model_id
            ),
        )
    })?;
    if msg.dataset_version != dataset.version {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "update trained on dataset version {} but {} is at version {}",
                msg.dataset_version, lineage.dataset_id, dataset.version
            ),
        ));
    }
    // What the update was trained with must be what the chain holds now;
    // else it is refused here (never verified, so never judged as fraud).
    let hyperparams_sha256 = lineage.hyperparams.to_proto().sha256();
    if msg.hyperparams_sha256 != hyperparams_sha256 {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "update trained with hyperparameters {} but those of {} are now {} (changed by governance, or served by a lying node)",
                hex::encode(&msg.hyperparams_sha256),
                lineage.model_id,
                hex::encode(&hyperparams_sha256)
            ),
        ));
    }
    if msg.dataset_root != dataset.root {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "update trained on dataset root {} but version {} of {} has root {}",
                hex::encode(&msg.dataset_root),
                dataset.version,
                lineage.dataset_id,
                hex::encode(&dataset.root)
            ),
        ));
    }
    // A lineage in round mode takes contributions to its open round, each
    // on a free shard; one without rounds takes single updates.
    let (mut round, committed) = match &lineage.rounds {
        Some(_) => {
            let round = super::round::current(ctx.state, &lineage.model_id)?.ok_or_else(|| {
                TxError::new(
                    Code::Internal,
                    format!("{} has rounds but no current round", lineage.model_id),
                )
            })?;
            if msg.nonce != 0 {
                return Err(TxError::new(
                    Code::InvalidRequest,
                    "a round's contribution has nonce 0: its batches come from its shard",
                ));
            }
            super::round::check_contribution(
                ctx.state,
                &round,
                msg.round,
                msg.shard,
                &msg.trainer,
                ctx.block.height,
            )?;
            let interval = round.params.as_ref().map_or(0, |p| p.checkpoint_interval);
            let expected = if interval == 0 {
                0
            } else {
                super::round::segments::count(lineage.hyperparams.local_steps, interval) - 1
            };
            // Hashed once: inline checkpoints are megabytes.
            let committed = checkpoint_hashes(&msg)?;
            if committed.len() as u64 != u64::from(expected) {
                return Err(TxError::new(
                    Code::InvalidRequest,
                    format!(
                        "round {} takes {expected} checkpoints (every {interval} of {} steps), not {}",
                        round.number,
                        lineage.hyperparams.local_steps,
                        committed.len(),
                    ),
                ));
            }
            (Some(round), committed)
        }
        None if msg.round != 0
            || msg.shard != 0
            || !msg.checkpoints.is_empty()
            || !msg.checkpoint_hashes.is_empty()
            || !msg.checkpoint_source.is_empty() =>
        {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "{} has no rounds: round and shard must be 0, and no checkpoints",
                    lineage.model_id
                ),
            ));
        }
        None => (None, Vec::new()),
    };
    let size = msg.weights.len() as u64;
    // Served checkpoints cost what the chain stores of them: their hashes
    // and the source.
    let checkpoint_bytes: u64 = msg
        .checkpoints
        .iter()
        .map(|c| c.len() as u64)
        .sum::<u64>()
        .saturating_add(32 * msg.checkpoint_hashes.len() as u64)
        .saturating_add(msg.checkpoint_source.len() as u64);
    if msg
        .checkpoints
        .iter()
        .any(|c| c.len() as u64 > params.max_weights_bytes)
    {
        return Err(TxError::new(
            Code::TxTooLarge,
            format!(
                "a checkpoint exceeds the weights limit of {} bytes",
                params.max_weights_bytes
            ),
        ));
    }
    if size > params.max_weights_bytes {
        return Err(TxError::new(
            Code::TxTooLarge,
            format!(
                "weights of {size} bytes exceed the limit of {}",
                params.max_weights_bytes
            ),
        ));
    }
    if !msg.claimed_train_loss.is_finite() || !msg.claimed_validation_loss.is_finite() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "claimed losses must be finite numbers",
        ));
    }
    ctx.gas.consume(
        params
            .weights_cost_per_byte
            .saturating_mul(size.saturating_add(checkpoint_bytes)),
        "storing weights",
    )?;
    let sha = records::sha256(&msg.weights);
    let first = records::seen_weights(ctx.state, &sha)?;
    if let Some(first) = first {
        // Another trainer's weights that are not (yet) a version are left
        // to verification: re-trained with the copier's own batch they fail
        // as fraud, and the original, even when a copy front-ran it, keeps
        // its chance. Accepted weights and a trainer's own are replays.
        let original = records::update(ctx.state, first)?;
        let copy_of_unaccepted = original
            .is_some_and(|u| u.trainer != msg.trainer && u.status != UpdateStatus::Accepted as i32);
        if !copy_of_unaccepted {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "replay: these weights ({}) were already submitted by update {first}",
                    hex::encode(sha)
                ),
            ));
        }
    }
    require_active_trainer(ctx.wasm, ctx.state, ctx.block, signer)?;
    require_stake_outlasts_verdicts(ctx, &params)?;

    let id = records::next_update_id(ctx.state)?;
    if first.is_none() {
        records::mark_weights_seen(ctx.state, &sha, id);
    }
    let mut update = Update {
        id,
        model_id: msg.model_id.clone(),
        base_version: msg.base_version,
        dataset_version: msg.dataset_version,
        nonce: msg.nonce,
        trainer: msg.trainer.clone(),
        weights_sha256: sha.to_vec(),
        claimed_train_loss: msg.claimed_train_loss,
        claimed_validation_loss: msg.claimed_validation_loss,
        submitted_height: ctx.block.height,
        status: UpdateStatus::Pending as i32,
        weights_size: size,
        expires_height: ctx.block.height.saturating_add(params.expiry_blocks),
        hyperparams_sha256,
        dataset_root: dataset.root.clone(),
        kind: if round.is_some() {
            UpdateKind::Contribution as i32
        } else {
            UpdateKind::Single as i32
        },
        round: msg.round,
        shard: msg.shard,
        checkpoint_hashes: committed,
        checkpoint_source: msg.checkpoint_source.clone(),
        // Validators sample segments with it: unknown to the trainer when
        // it committed to its checkpoints.
        sample_seed: if round.is_some() {
            ctx.block.hash.clone()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let spec = parse_spec(&lineage.spec)?;
    let compression = match &round {
        Some(round) => super::round::round_compression(round)?,
        None => Compression::F32,
    };
    let mut events = Vec::new();
    let mut fraud_detail = None;
    // Checkpoints are committed weights too: ones that are not the
    // lineage's tensors are fraud anyone can see.
    let fraud = if compression == Compression::F32 {
        evident_fraud(&spec, &msg.weights)
            .or_else(|| msg.checkpoints.iter().find_map(|c| evident_fraud(&spec, c)))
    } else {
        // Decoding writes one f32 per parameter whatever the payload's
        // size: paid per parameter, not per byte sent.
        ctx.gas.consume(
            spec.parameter_count()
                .saturating_mul(DECODE_GAS_PER_PARAMETER),
            "decoding a compressed contribution",
        )?;
        evident_payload_fraud(&spec, compression, &msg.weights)
    };
    match fraud {
        None => {
            let fee = super::verification_fee::take(ctx, id, &msg.trainer)?;
            records::put_blob(ctx.state, &msg.weights);
            for checkpoint in &msg.checkpoints {
                records::put_blob(ctx.state, checkpoint);
            }
            records::save_update(ctx.state, &update);
            if let Some(round) = round.as_mut() {
                super::round::add_contribution(ctx.state, round, id, msg.shard, ctx.block.height);
            }
            if fee > 0 {
                events.push(
                    Event::new("verification_fee")
                        .attr("update_id", id.to_string())
                        .attr("amount", format!("{fee}{}", crate::fee::FEE_DENOM))
                        .attr("escrowed", "true"),
                );
            }
        }
        Some((reason, detail)) => {
            // Nothing to verify: store the record, not the bytes. State keeps
            // the reason's code only; the detail goes to the event, which is
            // not hashed into consensus.
            update.status = UpdateStatus::Rejected as i32;
            update.reason = reason.as_str_name().to_string();
            fraud_detail = Some(detail);
            update.decided_height = ctx.block.height;
            records::save_update(ctx.state, &update);
            events.extend(decide::slash_for_fraud(ctx, &params, &mut update)?);
            records::save_update(ctx.state, &update);
        }
    }
    let mut submitted = Event::new("submit_update")
        .attr("update_id", id.to_string())
        .attr("model_id", &msg.model_id)
        .attr("trainer", &msg.trainer)
        .attr("base_version", msg.base_version.to_string())
        .attr("weights_sha256", hex::encode(sha))
        .attr(
            "status",
            UpdateStatus::try_from(update.status)
                .map(|s| s.as_str_name())
                .unwrap_or("UPDATE_STATUS_UNSPECIFIED"),
        );
    if let Some(detail) = fraud_detail {
        submitted = submitted
            .attr("reason", &update.reason)
            .attr("detail", detail);
    }
    events.insert(0, submitted);
    Ok(MsgResult {
        response: Some(Any {
            type_url: MsgSubmitUpdateResponse::type_url(),
            value: MsgSubmitUpdateResponse { update_id: id }.encode_to_vec(),
        }),
        events,
    })
}

/// The checkpoint commitments of a contribution, in order: hashed from the
/// checkpoints it carries, or the hashes it names for the checkpoints its
/// trainer serves at `checkpoint_source` (never both forms).
fn checkpoint_hashes(msg: &MsgSubmitUpdate) -> Result<Vec<Vec<u8>>, TxError> {
    let served = !msg.checkpoint_hashes.is_empty() || !msg.checkpoint_source.is_empty();
    if !served {
        return Ok(msg
            .checkpoints
            .iter()
            .map(|c| records::sha256(c).to_vec())
            .collect());
    }
    if !msg.checkpoints.is_empty() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "checkpoints come either in the tx or as checkpoint_hashes with a checkpoint_source, not both",
        ));
    }
    um_formats::checkpoint_source::check_source(&msg.checkpoint_source)
        .map_err(|e| TxError::new(Code::InvalidRequest, e.to_string()))?;
    if let Some(bad) = msg.checkpoint_hashes.iter().find(|h| h.len() != 32) {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!("a checkpoint hash has {} bytes, not 32", bad.len()),
        ));
    }
    Ok(msg.checkpoint_hashes.clone())
}

/// Gas per parameter of decoding a compressed contribution at delivery.
pub const DECODE_GAS_PER_PARAMETER: u64 = 1;

/// [`evident_fraud`] of a compressed round: a payload that does not decode
/// under the round's scheme for the lineage's spec.
fn evident_payload_fraud(
    spec: &um_formats::ModelSpec,
    compression: Compression,
    payload: &[u8],
) -> Option<(VerdictReason, String)> {
    match compress::decode(spec, compression, payload) {
        Ok(_) => None,
        Err(err @ CompressError::NonFinite { .. }) => {
            Some((VerdictReason::NonFinite, err.to_string()))
        }
        Err(err) => Some((VerdictReason::MalformedWeights, err.to_string())),
    }
}

/// Fraud that needs no re-execution: bytes that are not the lineage's
/// tensors, or tensors that are not finite.
fn evident_fraud(spec: &um_formats::ModelSpec, weights: &[u8]) -> Option<(VerdictReason, String)> {
    match Weights::decode(spec, weights) {
        Ok(_) => None,
        Err(err @ WeightsError::Undecodable(_)) => {
            Some((VerdictReason::MalformedWeights, err.to_string()))
        }
        Err(err @ WeightsError::NonFinite { .. }) => {
            Some((VerdictReason::NonFinite, err.to_string()))
        }
        Err(err) => Some((VerdictReason::ShapeMismatch, err.to_string())),
    }
}

/// The trainer's bonded stake must still be there when the verdicts are in:
/// a claim is slashable until it is withdrawn, so the unbonding period must
/// be longer than the longest verdict window (the update expires after
/// `expiry_blocks`; it is decided at the latest in the block after). The
/// DAO sets the one and genesis the other, so the relation is enforced where
/// it matters: an update whose trainer could withdraw before its verdicts
/// is not taken.
fn require_stake_outlasts_verdicts(
    ctx: &mut TxContext<'_>,
    params: &TrainingParams,
) -> Result<(), TxError> {
    let Some(registry) = crate::gov::registry(ctx.state)? else {
        return Ok(());
    };
    let answer =
        ctx.wasm
            .query_smart(ctx.state, ctx.block, &registry.staking, br#"{"config":{}}"#)?;
    let config: um_bindings::staking::ConfigResponse = serde_json::from_slice(&answer)
        .map_err(|e| TxError::new(Code::ContractError, format!("staking config response: {e}")))?;
    let window = params.expiry_blocks.saturating_add(1);
    if config.unbonding_period_blocks <= window {
        return Err(TxError::new(
            Code::NotPermitted,
            format!(
                "updates are refused while the staking unbonding period ({} blocks) is not longer than the verdict window ({window} blocks): a cheater could withdraw before its slash; governance must lengthen it",
                config.unbonding_period_blocks
            ),
        ));
    }
    Ok(())
}

/// `trainer` is bonded in nrn-staking as a trainer with at least the
/// minimum stake. Delivery refuses an update otherwise, and a validator
/// verifies nothing that delivery would refuse.
pub fn require_active_trainer(
    wasm: &dyn Contracts,
    state: &StateView,
    block: &BlockInfo,
    trainer: &str,
) -> Result<(), TxError> {
    let registry = crate::gov::registry(state)?.ok_or_else(|| {
        TxError::new(
            Code::NotPermitted,
            "no governance contracts are registered: trainers stake in nrn-staking first",
        )
    })?;
    let query = serde_json::json!({"role": {"address": trainer}}).to_string();
    let answer = wasm.query_smart(state, block, &registry.staking, query.as_bytes())?;
    let role: RoleResponse = serde_json::from_slice(&answer)
        .map_err(|e| TxError::new(Code::ContractError, format!("staking role response: {e}")))?;
    match role.role {
        Some(Role::Trainer) if role.active => Ok(()),
        Some(Role::Trainer) => Err(TxError::new(
            Code::NotPermitted,
            format!("{trainer} has less than the minimum trainer stake bonded"),
        )),
        _ => Err(TxError::new(
            Code::NotPermitted,
            format!("{trainer} is not bonded as a trainer in nrn-staking"),
        )),
    }
}
