//! PrepareProposal and ProcessProposal: what may go into a block.

use tendermint_proto::v0_38::abci as pb;

use super::Node;
use crate::auth::{self, AuthParams, Mode};

/// Keeps txs in mempool order while they fit the byte and gas limits, and
/// drops txs that cannot be decoded (they could never succeed).
pub fn prepare(node: &Node, request: pb::RequestPrepareProposal) -> pb::ResponsePrepareProposal {
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

/// Refuses a block with an undecodable tx or more gas than a block may use;
/// an honest proposer never builds one.
pub fn process(node: &Node, request: pb::RequestProcessProposal) -> pb::ResponseProcessProposal {
    use pb::response_process_proposal::ProposalStatus;
    let params = AuthParams::load(&node.store.view()).unwrap_or_default();
    let mut gas = 0u64;
    for tx in &request.txs {
        match auth::decode(tx, &params, Mode::Deliver) {
            Ok(decoded) => gas = gas.saturating_add(decoded.gas_limit),
            Err(err) => {
                tracing::warn!(height = request.height, "rejecting proposal: {}", err.log);
                return status(ProposalStatus::Reject);
            }
        }
    }
    if gas > params.max_block_gas {
        tracing::warn!(
            height = request.height,
            gas,
            "rejecting proposal over the block gas limit"
        );
        return status(ProposalStatus::Reject);
    }
    status(ProposalStatus::Accept)
}

fn status(status: pb::response_process_proposal::ProposalStatus) -> pb::ResponseProcessProposal {
    pb::ResponseProcessProposal {
        status: status as i32,
    }
}
