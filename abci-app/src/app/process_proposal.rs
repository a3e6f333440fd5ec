//! ProcessProposal: which proposed blocks a validator accepts.

use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::InjectedVerdicts;

use super::Node;
use crate::auth::{self, AuthParams, Mode};
use crate::training;

/// Refuses a block with a tx that fails the ante checks (undecodable,
/// unsigned, badly signed, out of sequence, timed out: it would pay nothing
/// for its place), more gas (or contract gas) than a block may use, or a
/// verdict tx that is misplaced or fails its checks; an honest proposer
/// never builds one. Starts verifying the updates it carries.
pub fn process_proposal(
    node: &Node,
    request: pb::RequestProcessProposal,
) -> pb::ResponseProcessProposal {
    use pb::response_process_proposal::ProposalStatus;
    let state = node.store.view();
    let params = AuthParams::load(&state).unwrap_or_default();
    let height = u64::try_from(request.height).unwrap_or(0);
    // The ante checks advance sequences here, not in `state`, which the
    // verifier reads as committed.
    let mut ante_state = node.next_block_base();
    let block = super::proposed_block(&ante_state, height, request.time.as_ref());
    let mut gas = 0u64;
    let mut contract_gas = 0u64;
    let mut admission = training::abci::Admission::default();
    for (index, tx) in request.txs.iter().enumerate() {
        if InjectedVerdicts::has_prefix(tx) {
            let verdicts = training::abci::check_verdict_tx(
                &state,
                &node.last_block.chain_id,
                height,
                index,
                tx,
            );
            if let Err(reason) = verdicts {
                tracing::warn!(height = request.height, "rejecting proposal: {reason}");
                return status(ProposalStatus::Reject);
            }
            continue;
        }
        let checked = auth::decode(tx, &params, Mode::Deliver).and_then(|decoded| {
            super::ante::check(&mut ante_state, &block, &decoded, &params, None)
                .map(|_| decoded)
                .map_err(|(err, _)| err)
        });
        match checked {
            Ok(decoded) => {
                gas = gas.saturating_add(decoded.gas_limit);
                contract_gas = contract_gas.saturating_add(decoded.contract_gas(&params));
                if let (Some(verifier), Some(signer)) =
                    (node.verifier.as_deref(), decoded.signer_address())
                {
                    training::abci::verify_proposed(
                        verifier,
                        node.modules.wasm(),
                        &state,
                        &ante_state,
                        &node.last_block,
                        &request.hash,
                        &signer,
                        decoded.messages(),
                        &mut admission,
                    );
                }
            }
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
    if contract_gas > params.max_block_contract_gas {
        tracing::warn!(
            height = request.height,
            contract_gas,
            "rejecting proposal over the block's contract gas limit"
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
