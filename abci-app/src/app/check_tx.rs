use tendermint_proto::v0_38::abci as pb;

use super::mempool::Candidate;
use super::Node;
use crate::auth::{self, AuthParams, Mode};
use crate::codes::{Code, CODESPACE};
use crate::context::BlockInfo;

/// Admits a tx to the mempool after the ante checks, while the mempool
/// holds less than `mempool::PENDING_BLOCKS` blocks' worth.
///
/// Messages are not executed here: that would make the mempool as costly as
/// block execution. Sequences advance in the mempool view so one account can
/// queue several txs in a block.
pub fn check_tx(node: &mut Node, request: pb::RequestCheckTx) -> pb::ResponseCheckTx {
    let chain_id = node.last_block.chain_id.clone();
    let params = match AuthParams::load(&node.check_state) {
        Ok(params) => params,
        Err(err) => return response(err.code, err.log, 0, 0),
    };
    if um_proto::um::abci::v1::InjectedVerdicts::has_prefix(&request.tx) {
        return response(
            Code::Unauthorized,
            "verdict txs come only from the block proposer, never through the mempool".into(),
            0,
            0,
        );
    }
    let tx = match auth::decode(&request.tx, &params, Mode::Deliver) {
        Ok(tx) => tx,
        Err(err) => return response(err.code, err.log, 0, 0),
    };
    let candidate = Candidate::new(&request.tx, &tx, &params);
    if request.r#type == pb::CheckTxType::Recheck as i32 {
        // Already waiting: dropped only to bring the mempool within its
        // bound after a block, cheapest first.
        if node.mempool.evicts(&candidate) {
            node.mempool.remove(&request.tx);
            return response(
                Code::MempoolFull,
                "evicted from a full mempool: txs paying more per gas came after it; send it \
                 again with a higher gas price or later"
                    .into(),
                tx.gas_limit,
                0,
            );
        }
    } else if let Err(err) = node.mempool.admits(&candidate, &params) {
        return response(err.code, err.log, tx.gas_limit, 0);
    }
    // The tx can be in the next block at the earliest.
    let block = BlockInfo {
        chain_id,
        height: node.last_block.height.saturating_add(1),
        time_nanos: node.last_block.time_nanos,
        hash: Vec::new(),
    };
    let checked = super::ante::check(
        &mut node.check_state,
        &block,
        &tx,
        &params,
        node.min_gas_price,
    );
    match checked {
        Ok(gas_used) => {
            node.mempool.admit(&candidate);
            response(Code::Ok, String::new(), tx.gas_limit, gas_used)
        }
        Err((err, gas_used)) => {
            node.mempool.remove(&request.tx);
            response(err.code, err.log, tx.gas_limit, gas_used)
        }
    }
}

fn response(code: Code, log: String, gas_wanted: u64, gas_used: u64) -> pb::ResponseCheckTx {
    pb::ResponseCheckTx {
        code: code.value(),
        log,
        gas_wanted: gas_wanted as i64,
        gas_used: gas_used as i64,
        codespace: if code == Code::Ok {
            String::new()
        } else {
            CODESPACE.to_string()
        },
        ..Default::default()
    }
}
