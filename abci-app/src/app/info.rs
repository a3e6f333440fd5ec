use tendermint_proto::v0_38::abci as pb;

use super::Node;

pub const APP_VERSION: u64 = 1;

/// Reports the last committed height and app hash; CometBFT replays every
/// block after it during the handshake.
pub fn info(node: &Node, _request: pb::RequestInfo) -> pb::ResponseInfo {
    pb::ResponseInfo {
        data: "umd".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        app_version: APP_VERSION,
        last_block_height: node.last_commit.height as i64,
        last_block_app_hash: node.last_commit.app_hash.clone().into(),
    }
}
