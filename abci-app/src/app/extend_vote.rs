//! ExtendVote: this validator's verdicts on pending updates.

use prost::Message;
use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::VoteExtension;

use super::Node;
use crate::training::{self, records};

/// Returns the verdicts the verifier has finished on updates pending in the
/// committed state (the verdict tx of a later block records them). Empty
/// without a verifier: the validator abstains.
pub fn extend_vote(node: &Node, request: pb::RequestExtendVote) -> pb::ResponseExtendVote {
    if node.byzantine.lies_in_extensions() {
        let pending = records::pending_updates(&node.store.view()).unwrap_or_default();
        return pb::ResponseExtendVote {
            vote_extension: node.byzantine.extension(&pending).into(),
        };
    }
    let Some(verifier) = node.verifier.as_deref() else {
        return pb::ResponseExtendVote::default();
    };
    let verdicts = match training::abci::vote_extension(verifier, &node.store.view()) {
        Ok(verdicts) => verdicts,
        Err(err) => {
            tracing::error!(
                height = request.height,
                "reading pending updates: {}",
                err.log
            );
            return pb::ResponseExtendVote::default();
        }
    };
    if verdicts.is_empty() {
        return pb::ResponseExtendVote::default();
    }
    tracing::info!(
        height = request.height,
        verdicts = verdicts.len(),
        "extending vote"
    );
    pb::ResponseExtendVote {
        vote_extension: VoteExtension { verdicts }.encode_to_vec().into(),
    }
}
