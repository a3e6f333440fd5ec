//! ProcessProposal: which proposed blocks a validator accepts.

use tendermint_proto::v0_38::abci as pb;

use super::Node;
use crate::auth::{self, AuthParams, Mode};

/// Refuses a block with an undecodable tx or more gas than a block may use;
/// an honest proposer never builds one.
pub fn process_proposal(
    node: &Node,
    request: pb::RequestProcessProposal,
) -> pb::ResponseProcessProposal {
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
