use tendermint_proto::v0_38::abci as pb;

use super::Node;
use crate::training;

/// Checks form only: [`training::abci::check_vote_extension`].
pub fn verify_vote_extension(
    _node: &Node,
    request: pb::RequestVerifyVoteExtension,
) -> pb::ResponseVerifyVoteExtension {
    use pb::response_verify_vote_extension::VerifyStatus;
    let status = match training::abci::check_vote_extension(&request.vote_extension) {
        Ok(_) => VerifyStatus::Accept,
        Err(reason) => {
            tracing::warn!(
                height = request.height,
                validator = %hex::encode_upper(&request.validator_address),
                "refusing vote extension: {reason}"
            );
            VerifyStatus::Reject
        }
    };
    pb::ResponseVerifyVoteExtension {
        status: status as i32,
    }
}
