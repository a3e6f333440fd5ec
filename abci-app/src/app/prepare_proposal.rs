//! PrepareProposal: what the proposer puts into a block.

use tendermint_proto::v0_38::abci as pb;

use super::Node;
use crate::auth::{self, AuthParams, Mode};

/// Keeps txs in mempool order while they fit the byte and gas limits, and
/// drops txs that cannot be decoded (they could never succeed).
pub fn prepare_proposal(
    node: &Node,
    request: pb::RequestPrepareProposal,
) -> pb::ResponsePrepareProposal {
    let params = AuthParams::load(&node.store.view()).unwrap_or_default();
    let max_bytes = u64::try_from(request.max_tx_bytes).unwrap_or(0);
    let mut bytes = 0u64;
    let mut gas = 0u64;
    let mut txs = Vec::new();
    for tx in request.txs {
        let Ok(decoded) = auth::decode(&tx, &params, Mode::Deliver) else {
            continue;
        };
        let next_bytes = bytes.saturating_add(tx.len() as u64);
        let next_gas = gas.saturating_add(decoded.gas_limit);
        if next_bytes > max_bytes || next_gas > params.max_block_gas {
            continue;
        }
        bytes = next_bytes;
        gas = next_gas;
        txs.push(tx);
    }
    pb::ResponsePrepareProposal { txs }
}
