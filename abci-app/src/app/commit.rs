use tendermint_proto::v0_38::abci as pb;

use super::Node;

/// Persists the block FinalizeBlock executed, in one atomic batch.
///
/// If the write fails the node stops rather than run on with memory and disk
/// disagreeing; nothing partial reached disk, and CometBFT replays the block
/// on restart.
pub fn commit(node: &mut Node) -> pb::ResponseCommit {
    let Some(block) = node.pending.take() else {
        tracing::warn!("Commit without a finalized block");
        return pb::ResponseCommit::default();
    };
    crate::fault::point("commit_before_write");
    if let Err(err) = node
        .store
        .commit(&block.view.into_changes(), &block.trees, &block.info)
    {
        tracing::error!("cannot persist block {}: {err}", block.info.height);
        eprintln!(
            "umd: cannot persist block {}: {err}; stopping",
            block.info.height
        );
        std::process::exit(2);
    }
    crate::fault::point("commit_after_write");
    let height = block.info.height;
    node.last_commit = block.info;
    prune(node, height);
    node.check_state = node.store.view();
    // CometBFT rechecks what is still waiting next.
    let params = crate::auth::AuthParams::load(&node.check_state).unwrap_or_default();
    node.mempool.on_commit(&params);
    pb::ResponseCommit { retain_height: 0 }
}

/// Forgets the tree versions older than the last `pruning_keep_recent`.
/// A failure costs disk, not correctness: the same versions are pruned
/// after the next commit.
fn prune(node: &Node, height: u64) {
    let keep = node.pruning_keep_recent;
    if keep == 0 || height < keep {
        return;
    }
    if let Err(err) = node.store.prune_versions_before(height + 1 - keep) {
        tracing::warn!("pruning tree versions before {}: {err}", height + 1 - keep);
    }
}
