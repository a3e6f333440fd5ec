use tendermint_proto::v0_38::abci as pb;

use super::Node;

/// Checks form only; until extensions carry verdicts, only empty ones are valid.
pub fn verify_vote_extension(
    _node: &Node,
    request: pb::RequestVerifyVoteExtension,
) -> pb::ResponseVerifyVoteExtension {
    use pb::response_verify_vote_extension::VerifyStatus;
    let status = if request.vote_extension.is_empty() {
        VerifyStatus::Accept
    } else {
        VerifyStatus::Reject
    };
    pb::ResponseVerifyVoteExtension {
        status: status as i32,
    }
}
