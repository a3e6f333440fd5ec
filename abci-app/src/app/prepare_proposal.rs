//! PrepareProposal: what the proposer puts into a block.

use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::InjectedVerdicts;

use super::Node;
use crate::auth::{self, AuthParams, Mode};
use crate::training::{self, extension};

/// Puts the verdict tx first when the previous height's extensions carry
/// verdicts, then keeps mempool txs in order while they fit the byte and
/// gas limits (all txs', and contract-running txs'), dropping txs that fail
/// the ante checks against the state they will meet (ProcessProposal
/// refuses a block with one).
pub fn prepare_proposal(
    node: &Node,
    request: pb::RequestPrepareProposal,
) -> pb::ResponsePrepareProposal {
    let state = node.store.view();
    let params = AuthParams::load(&state).unwrap_or_default();
    let height = u64::try_from(request.height).unwrap_or(0);
    // Sequences advance here as the block's txs would advance them.
    let mut ante_state = node.next_block_base();
    let chain_id = auth::ante::chain_id(&ante_state).unwrap_or_default();
    let max_bytes = u64::try_from(request.max_tx_bytes).unwrap_or(0);
    let mut bytes = 0u64;
    let mut gas = 0u64;
    let mut contract_gas = 0u64;
    let mut txs = Vec::new();
    if let Some(verdicts) = verdict_tx(node, &request) {
        if (verdicts.len() as u64) <= max_bytes {
            bytes = verdicts.len() as u64;
            txs.push(verdicts.into());
        }
    }
    for tx in request.txs {
        if InjectedVerdicts::has_prefix(&tx) {
            continue;
        }
        let Ok(decoded) = auth::decode(&tx, &params, Mode::Deliver) else {
            continue;
        };
        let next_bytes = bytes.saturating_add(tx.len() as u64);
        let next_gas = gas.saturating_add(decoded.gas_limit);
        let next_contract_gas = contract_gas.saturating_add(decoded.contract_gas(&params));
        if next_bytes > max_bytes
            || next_gas > params.max_block_gas
            || next_contract_gas > params.max_block_contract_gas
        {
            continue;
        }
        if auth::ante_check(&mut ante_state, &decoded, &chain_id, &params, height).is_err() {
            continue;
        }
        bytes = next_bytes;
        gas = next_gas;
        contract_gas = next_contract_gas;
        txs.push(tx);
    }
    pb::ResponsePrepareProposal { txs }
}

/// The extended commit of the previous height as a verdict tx, when any
/// extension says something and the tx passes the check every validator
/// will run on it.
fn verdict_tx(node: &Node, request: &pb::RequestPrepareProposal) -> Option<Vec<u8>> {
    let commit = request.local_last_commit.as_ref()?;
    let previous = request.height.checked_sub(1)?;
    if node.byzantine.forge_verdicts {
        let pending = crate::training::records::pending_updates(&node.store.view());
        let injected = extension::build_injected(previous, commit);
        return Some(
            node.byzantine
                .forged_verdict_tx(injected, &pending.unwrap_or_default()),
        );
    }
    if node.byzantine.omit_verdicts {
        return None;
    }
    let state = node.store.view();
    match training::abci::verdict_tx(&state, &node.last_block.chain_id, request.height, commit) {
        Ok(tx) => tx,
        Err(reason) => {
            tracing::warn!(height = request.height, "not injecting verdicts: {reason}");
            None
        }
    }
}
