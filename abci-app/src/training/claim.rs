//! `MsgClaimShard`: a trainer claims a free shard of a lineage's open round
//! before training it, so no two trainers train the same shard (its batches
//! are fixed by the round: a second training of it is wasted work).

use cosmos_sdk_proto::Any;
use prost::{Message, Name};
use um_proto::um::training::v1::{MsgClaimShard, MsgClaimShardResponse, ShardClaim};

use super::{lineage, round, submit::require_active_trainer, TrainingParams};
use crate::codes::{Code, TxError};
use crate::context::{Event, MsgResult, TxContext};

pub fn handles(type_url: &str) -> bool {
    type_url == MsgClaimShard::type_url()
}

pub fn handle(ctx: &mut TxContext<'_>, signer: &str, msg: &Any) -> Result<MsgResult, TxError> {
    let msg = MsgClaimShard::decode(msg.value.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("MsgClaimShard: {e}")))?;
    if msg.trainer != signer {
        return Err(TxError::new(
            Code::WrongSigner,
            format!("trainer {} did not sign the tx", msg.trainer),
        ));
    }
    let Some(lineage) = lineage(ctx.state, &msg.model_id)? else {
        return Err(TxError::new(
            Code::NotFound,
            format!("model lineage {:?} not found", msg.model_id),
        ));
    };
    let current = match lineage.rounds {
        Some(_) => round::current(ctx.state, &lineage.model_id)?,
        None => None,
    };
    let Some(mut current) = current else {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "{} does not train in rounds: nothing to claim",
                lineage.model_id
            ),
        ));
    };
    round::check_claim(
        ctx.state,
        &current,
        msg.round,
        msg.shard,
        &msg.trainer,
        ctx.block.height,
    )?;
    require_active_trainer(ctx.wasm, ctx.state, ctx.block, &msg.trainer)?;
    // The claim is stored in the round record: priced like other state.
    let params = TrainingParams::load(ctx.state)?;
    let stored = ShardClaim {
        shard: msg.shard,
        trainer: msg.trainer.clone(),
        height: ctx.block.height,
    }
    .encoded_len() as u64;
    ctx.gas.consume(
        params.weights_cost_per_byte.saturating_mul(stored),
        "storing a shard claim",
    )?;
    round::add_claim(
        ctx.state,
        &mut current,
        msg.shard,
        &msg.trainer,
        ctx.block.height,
    );
    Ok(MsgResult {
        response: Some(Any {
            type_url: MsgClaimShardResponse::type_url(),
            value: MsgClaimShardResponse {}.encode_to_vec(),
        }),
        events: vec![Event::new("shard_claimed")
            .attr("model_id", &lineage.model_id)
            .attr("round", current.number.to_string())
            .attr("shard", msg.shard.to_string())
            .attr("trainer", &msg.trainer)],
    })
}
