use tendermint_proto::v0_38::abci as pb;

use super::tx;
use super::{to_abci_events, Node, PendingBlock};
use crate::auth::{AuthParams, Mode};
use crate::codes::{Code, CODESPACE};
use crate::context::BlockInfo;
use crate::module::BlockStage;
use crate::store::CommitInfo;
use crate::training;
use um_proto::um::abci::v1::InjectedVerdicts;

fn validator_update((pubkey, power): (Vec<u8>, u64)) -> pb::ValidatorUpdate {
    use tendermint_proto::v0_38::crypto::{public_key::Sum, PublicKey};
    pb::ValidatorUpdate {
        pub_key: Some(PublicKey {
            sum: Some(Sum::Ed25519(pubkey)),
        }),
        power: i64::try_from(power).unwrap_or(i64::MAX),
    }
}

pub fn timestamp_nanos(time: &tendermint_proto::google::protobuf::Timestamp) -> u64 {
    let seconds = u64::try_from(time.seconds).unwrap_or(0);
    let nanos = u64::try_from(time.nanos).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Executes every tx of the decided block and computes the app hash; the
/// result stays in memory until Commit.
pub fn finalize_block(
    node: &mut Node,
    request: pb::RequestFinalizeBlock,
) -> pb::ResponseFinalizeBlock {
    let height = u64::try_from(request.height).unwrap_or(0);
    // The first block commits the genesis state with it, tree and all.
    let (mut view, mut trees) = match node.genesis.take() {
        Some(genesis) => (genesis.view, genesis.trees),
        None => (node.store.view(), Vec::new()),
    };
    let block = BlockInfo {
        chain_id: crate::auth::ante::chain_id(&view).unwrap_or_default(),
        height,
        time_nanos: request.time.as_ref().map(timestamp_nanos).unwrap_or(0),
        hash: request.hash.to_vec(),
    };
    let params = AuthParams::load(&view).unwrap_or_default();
    let signers = signers_of(request.decided_last_commit.as_ref());
    let begun = node.modules.run_block_stage(
        BlockStage::Begin,
        &mut view,
        &block,
        &request.misbehavior,
        &signers,
    );
    let mut block_events = to_abci_events(begun.events);
    let mut validator_updates = begun.validator_updates;
    let mut tx_results = Vec::with_capacity(request.txs.len());
    for (index, tx_bytes) in request.txs.iter().enumerate() {
        node.mempool.remove(tx_bytes);
        if InjectedVerdicts::has_prefix(tx_bytes) {
            tx_results.push(record_verdicts(&mut view, &block, index, tx_bytes));
            continue;
        }
        let outcome = tx::execute(
            &node.modules,
            &mut view,
            &block,
            &params,
            tx_bytes,
            index as u32,
            Mode::Deliver,
        );
        tx_results.push(pb::ExecTxResult {
            code: outcome.code.value(),
            data: outcome.data.into(),
            log: outcome.log,
            info: String::new(),
            gas_wanted: outcome.gas_wanted as i64,
            gas_used: outcome.gas_used as i64,
            events: to_abci_events(outcome.events),
            codespace: if outcome.code == Code::Ok {
                String::new()
            } else {
                CODESPACE.to_string()
            },
        });
    }
    crate::fault::point("finalize_block");
    let ended = node
        .modules
        .run_block_stage(BlockStage::End, &mut view, &block, &[], &[]);
    block_events.extend(to_abci_events(ended.events));
    validator_updates.extend(ended.validator_updates);
    super::query::save_last_block(&mut view, &block);
    let tree = match node
        .store
        .tree_update(trees.last(), &view.pending_changes(), height)
    {
        Ok(tree) => tree,
        Err(err) => {
            // Without the tree there is no app hash to agree on; what is
            // committed is untouched, and CometBFT replays this block.
            tracing::error!("cannot compute the merkle tree of block {height}: {err}");
            eprintln!("umd: cannot compute the merkle tree of block {height}: {err}; stopping");
            std::process::exit(2);
        }
    };
    let app_hash = tree.root.to_vec();
    trees.push(tree);
    node.last_block = block;
    node.pending = Some(PendingBlock {
        view,
        trees,
        info: CommitInfo {
            height,
            app_hash: app_hash.clone(),
        },
    });
    pb::ResponseFinalizeBlock {
        events: block_events,
        tx_results,
        validator_updates: validator_updates
            .into_iter()
            .map(validator_update)
            .collect(),
        consensus_param_updates: None,
        app_hash: app_hash.into(),
    }
}

/// The validators whose commit signature for the previous block CometBFT
/// counted (consensus address, power).
fn signers_of(commit: Option<&pb::CommitInfo>) -> Vec<(Vec<u8>, u64)> {
    let commit_flag = tendermint_proto::v0_38::types::BlockIdFlag::Commit as i32;
    commit
        .map(|commit| commit.votes.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|vote| vote.block_id_flag == commit_flag)
        .filter_map(|vote| {
            let validator = vote.validator.as_ref()?;
            let power = u64::try_from(validator.power).ok()?;
            Some((validator.address.to_vec(), power))
        })
        .collect()
}

/// The verdict tx: checked again (a node that syncs blocks never ran
/// ProcessProposal, and the check depends only on committed state), then
/// its verdicts recorded.
fn record_verdicts(
    view: &mut crate::store::StateView,
    block: &BlockInfo,
    index: usize,
    tx_bytes: &[u8],
) -> pb::ExecTxResult {
    match training::abci::deliver_verdict_tx(view, block, index, tx_bytes) {
        Ok(events) => pb::ExecTxResult {
            code: 0,
            events: to_abci_events(events),
            ..Default::default()
        },
        Err(log) => pb::ExecTxResult {
            code: Code::Unauthorized.value(),
            log: format!("verdict tx ignored: {log}"),
            codespace: CODESPACE.to_string(),
            ..Default::default()
        },
    }
}
