use tendermint_proto::v0_38::abci as pb;

use super::Node;

/// No extension yet: verifier verdicts arrive with the training module.
pub fn extend_vote(_node: &Node, _request: pb::RequestExtendVote) -> pb::ResponseExtendVote {
    pb::ResponseExtendVote::default()
}
