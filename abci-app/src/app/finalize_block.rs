use tendermint_proto::v0_38::abci as pb;

use super::{to_abci_events, Node, PendingBlock};
use crate::auth::{AuthParams, Mode};
use crate::codes::{Code, CODESPACE};
use crate::context::BlockInfo;
use crate::store::{next_app_hash, CommitInfo};
use crate::training::{self, extension};
use crate::tx;
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
    let (mut view, previous_hash) = match node.genesis.take() {
        Some(genesis) => (genesis.view, genesis.info.app_hash),
        None => (node.store.view(), node.last_commit.app_hash.clone()),
    };
    let block = BlockInfo {
        chain_id: crate::auth::ante::chain_id(&view).unwrap_or_default(),
        height,
        time_nanos: request.time.as_ref().map(timestamp_nanos).unwrap_or(0),
        hash: request.hash.to_vec(),
    };
    let params = AuthParams::load(&view).unwrap_or_default();
    // Evidence first, as the Cosmos SDK's BeginBlock: a double signer is
    // out before this block's txs and decisions run.
    let mut block_events = Vec::new();
    let mut removals = Vec::new();
    view.checkpoint();
    match crate::gov::misbehavior::begin_block(
        &node.modules.wasm,
        &mut view,
        &block,
        &request.misbehavior,
    ) {
        Ok((events, removed)) => {
            view.keep_checkpoint();
            block_events.extend(to_abci_events(events));
            removals = removed;
        }
        Err(err) => {
            view.discard_checkpoint();
            tracing::error!(height, "evidence not handled: {}", err.log);
            block_events.extend(to_abci_events(vec![phase_failed("evidence", &err)]));
        }
    }
    let mut tx_results = Vec::with_capacity(request.txs.len());
    for (index, tx_bytes) in request.txs.iter().enumerate() {
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
    // Each end-of-block phase is all or nothing: a phase that fails midway
    // leaves none of its writes (a slash without its update record, half a
    // validator set). Every node meets the same error, so skipping keeps
    // them in agreement; the event tells operators.
    view.checkpoint();
    match training::decide::end_block(&node.modules.wasm, &mut view, &block) {
        Ok(events) => {
            view.keep_checkpoint();
            block_events.extend(to_abci_events(events));
        }
        Err(err) => {
            view.discard_checkpoint();
            tracing::error!(height, "training decisions skipped: {}", err.log);
            block_events.extend(to_abci_events(vec![phase_failed(
                "training_decisions",
                &err,
            )]));
        }
    }
    view.checkpoint();
    let validator_updates =
        match crate::gov::epoch::end_block(&node.modules.wasm, &mut view, &block) {
            Ok(updates) => {
                view.keep_checkpoint();
                // A removed key is already out of the set the epoch starts
                // from, so no key appears twice.
                removals
                    .into_iter()
                    .chain(updates)
                    .map(validator_update)
                    .collect()
            }
            Err(err) => {
                // The previous set stays in force.
                view.discard_checkpoint();
                tracing::error!(height, "validator set not updated: {}", err.log);
                block_events.extend(to_abci_events(vec![phase_failed("validator_set", &err)]));
                removals.into_iter().map(validator_update).collect()
            }
        };
    super::query::save_last_block(&mut view, &block);
    let app_hash = next_app_hash(&previous_hash, height, &view.pending_changes());
    node.last_block = block;
    node.pending = Some(PendingBlock {
        view,
        info: CommitInfo {
            height,
            app_hash: app_hash.clone(),
        },
    });
    pb::ResponseFinalizeBlock {
        events: block_events,
        tx_results,
        validator_updates,
        consensus_param_updates: None,
        app_hash: app_hash.into(),
    }
}

/// The block event of an end-of-block phase that failed and was undone.
fn phase_failed(phase: &str, err: &crate::codes::TxError) -> crate::context::Event {
    crate::context::Event::new("end_block_phase_failed")
        .attr("phase", phase)
        .attr("code", err.code.value().to_string())
        .attr("log", &err.log)
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
    let checked = if index == 0 {
        InjectedVerdicts::decode_tx(tx_bytes)
            .map_err(|e| e.to_string())
            .and_then(|injected| {
                extension::check_injected(
                    view,
                    &block.chain_id,
                    &injected,
                    block.height.saturating_sub(1),
                )
                .map(|()| injected)
            })
    } else {
        Err(format!("verdict tx at position {index}; only first"))
    };
    let outcome = checked
        .and_then(|injected| training::decide::record_verdicts(view, &injected).map_err(|e| e.log));
    match outcome {
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
