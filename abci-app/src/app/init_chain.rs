use tendermint_proto::v0_38::abci as pb;

use super::{Node, PendingBlock};
use crate::context::BlockInfo;
use crate::genesis::AppState;
use crate::store::CommitInfo;

/// Applies `app_state`, module by module in the modules' order. Nothing is
/// written to disk here: the genesis state is committed together with the
/// first block, so a crash before that makes CometBFT call InitChain again
/// on a clean store.
pub fn init_chain(node: &mut Node, request: pb::RequestInitChain) -> pb::ResponseInitChain {
    let app_state = match AppState::from_json(&request.app_state_bytes) {
        Ok(app_state) => app_state,
        Err(err) => fatal(&err),
    };
    let block = BlockInfo {
        chain_id: request.chain_id.clone(),
        height: request.initial_height.max(1) as u64 - 1,
        time_nanos: request
            .time
            .as_ref()
            .map(super::finalize_block::timestamp_nanos)
            .unwrap_or(0),
        hash: Vec::new(),
    };
    let validators = match genesis_validators(&request.validators) {
        Ok(validators) => validators,
        Err(err) => fatal(&err),
    };
    let mut view = node.store.view();
    if let Err(err) = node
        .modules
        .init_genesis(&mut view, &block, &validators, &app_state)
    {
        fatal(&err);
    }
    super::query::save_last_block(&mut view, &block);
    let changes = view.pending_changes();
    let tree = match node.store.tree_update(None, &changes, block.height) {
        Ok(tree) => tree,
        Err(err) => fatal(&format!(
            "cannot build the genesis state's merkle tree: {err}"
        )),
    };
    let app_hash = tree.root.to_vec();
    node.check_state = node.store.view_with(&changes);
    node.last_block = block.clone();
    node.genesis = Some(PendingBlock {
        view,
        trees: vec![tree],
        info: CommitInfo {
            height: block.height,
            app_hash: app_hash.clone(),
        },
    });
    tracing::info!(chain_id = %request.chain_id, app_hash = %hex::encode(&app_hash), "genesis applied");
    pb::ResponseInitChain {
        consensus_params: None,
        validators: request.validators,
        app_hash: app_hash.into(),
    }
}

/// The genesis validator set, which the gov module tracks from here on.
fn genesis_validators(validators: &[pb::ValidatorUpdate]) -> Result<Vec<(Vec<u8>, u64)>, String> {
    use tendermint_proto::v0_38::crypto::public_key::Sum;
    validators
        .iter()
        .map(
            |validator| match validator.pub_key.as_ref().and_then(|k| k.sum.as_ref()) {
                Some(Sum::Ed25519(key)) => {
                    Ok((key.to_vec(), u64::try_from(validator.power).unwrap_or(0)))
                }
                _ => Err("genesis validators must have ed25519 keys".to_string()),
            },
        )
        .collect()
}

/// Genesis is operator configuration: a node cannot start from a broken one,
/// and ABCI gives InitChain no error result.
fn fatal(message: &str) -> ! {
    tracing::error!("{message}");
    eprintln!("umd: {message}");
    std::process::exit(1);
}
