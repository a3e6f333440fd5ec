//! ABCI Query: gRPC-style paths with protobuf requests, answered from the
//! last committed state.

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::{GasInfo, Result as SdkResult};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{SimulateRequest, SimulateResponse};
use prost::Message;
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::crypto::{ProofOp, ProofOps};

use std::sync::Arc;

use super::modules::Modules;
use super::query_proof::{answer_from, append_proof, asked_in_request, is_provable, prove_reads};
use super::tx;
use crate::auth::{AuthParams, Mode};
use crate::codes::{Code, TxError, CODESPACE};
use crate::context::BlockInfo;
use crate::store::{StateView, Store, StoreError};

pub const SIMULATE_PATH: &str = "/cosmos.tx.v1beta1.Service/Simulate";
/// Raw state by key at any height the merkle tree keeps, as the SDK's
/// `/store/<store>/key`: `data` is the key.
pub const STORE_KEY_PATH: &str = "/store/state/key";
/// The type of the one proof op a proven answer carries: an ICS23
/// `CommitmentProof` against the tree's spec ([`crate::store::proof_spec`]),
/// whose root is the app hash in the header of the next height.
pub const PROOF_OP_TYPE: &str = "ics23:jmt";
const LAST_BLOCK_KEY: &[u8] = b"app/last_block";

/// What queries need, shared with the node but not behind its lock: the
/// store (whose committed state only Commit changes, in one atomic batch)
/// and the modules. A query, a smart query or a simulation, however slow,
/// never holds up a block; CometBFT's `abci_query` and umd's gRPC and REST
/// servers all come here.
#[derive(Clone)]
pub struct Reader {
    store: Store,
    modules: Arc<Modules>,
}

/// A query that met this many commits while it read gives up: a node that
/// commits faster than its queries run is too busy to answer.
const MAX_QUERY_ATTEMPTS: usize = 3;

impl Reader {
    pub fn new(store: Store, modules: Arc<Modules>) -> Self {
        Self { store, modules }
    }

    /// Answers from the last committed state. The committed state has no
    /// snapshot, so the answer is kept only if no commit landed while it
    /// was read (the committed height is read before and after); else it
    /// is read again.
    pub fn query(&self, request: pb::RequestQuery) -> pb::ResponseQuery {
        if request.path == STORE_KEY_PATH {
            return self.store_key(&request);
        }
        let in_request = asked_in_request(&request.path, &request.data);
        let prove = request.prove || in_request;
        if prove && !is_provable(&request.path) {
            return error(
                TxError::new(
                    Code::InvalidRequest,
                    format!(
                        "{} cannot be proven (it is not a plain read of state); prove the keys it reads with {STORE_KEY_PATH}",
                        request.path
                    ),
                ),
                0,
            );
        }
        for _ in 0..MAX_QUERY_ATTEMPTS {
            let before = match self.store.last_commit() {
                Ok(commit) => commit.height,
                Err(err) => return error(TxError::new(Code::Internal, err.to_string()), 0),
            };
            let mut response = self.answer(&request, before, prove);
            if self.store.last_commit().map(|c| c.height).ok() == Some(before) {
                if let (true, Some(ops)) = (in_request && response.code == 0, &response.proof_ops) {
                    let mut value = response.value.to_vec();
                    append_proof(&mut value, before, &ops.ops);
                    response.value = value.into();
                }
                return response;
            }
        }
        error(
            TxError::new(
                Code::Internal,
                format!("the chain committed {MAX_QUERY_ATTEMPTS} blocks while this query ran; ask again"),
            ),
            0,
        )
    }

    /// The answer at `height`; with `prove`, also the proof (in
    /// `proof_ops`, even of an error: a NotFound is proven by the absence
    /// of what it looked for) of every key it read.
    fn answer(&self, request: &pb::RequestQuery, height: u64, prove: bool) -> pb::ResponseQuery {
        if request.height != 0 && request.height as u64 != height {
            return error(
                TxError::new(
                    Code::InvalidRequest,
                    format!(
                        "only the latest height ({height}) can be queried, not {}",
                        request.height
                    ),
                ),
                height,
            );
        }
        let state = match prove {
            true => self.store.view().recording(),
            false => self.store.view(),
        };
        let result = match request.path.as_str() {
            // A simulation writes to its view; it gets its own (it is
            // never proven).
            SIMULATE_PATH => load_last_block(&state).and_then(|block| {
                simulate(&self.modules, self.store.view(), &block, &request.data)
            }),
            path => answer_from(&self.modules, &state, path, &request.data),
        };
        let mut response = match result {
            Ok(value) => pb::ResponseQuery {
                code: 0,
                value: value.into(),
                height: height as i64,
                ..Default::default()
            },
            Err(err) => error(err, height),
        };
        if prove {
            match prove_reads(&self.store, &state, height) {
                Ok(ops) => response.proof_ops = Some(ProofOps { ops }),
                Err(err) => return error(err, height),
            }
        }
        response
    }

    /// A key's value after block `height` (0: the latest), read from the
    /// merkle tree, whose committed versions never change: no retry is
    /// needed when a commit lands meanwhile. With `prove`, the answer
    /// carries the ICS23 proof of the value, or of its absence (an empty
    /// value), against the app hash of that height.
    fn store_key(&self, request: &pb::RequestQuery) -> pb::ResponseQuery {
        let latest = match self.store.last_commit() {
            Ok(commit) => commit.height,
            Err(err) => return error(TxError::new(Code::Internal, err.to_string()), 0),
        };
        let height = match u64::try_from(request.height) {
            Ok(0) => latest,
            Ok(height) if height <= latest => height,
            _ => {
                return error(
                    TxError::new(
                        Code::InvalidRequest,
                        format!(
                            "height {} is not committed (the latest is {latest})",
                            request.height
                        ),
                    ),
                    latest,
                )
            }
        };
        if request.data.is_empty() {
            return error(
                TxError::new(Code::InvalidRequest, "the key to read is empty"),
                height,
            );
        }
        match self.store.prove(&request.data, height) {
            Ok((value, proof)) => pb::ResponseQuery {
                code: 0,
                key: request.data.clone(),
                value: value.unwrap_or_default().into(),
                proof_ops: request.prove.then(|| ProofOps {
                    ops: vec![ProofOp {
                        r#type: PROOF_OP_TYPE.to_string(),
                        key: request.data.to_vec(),
                        data: proof.encode_to_vec(),
                    }],
                }),
                height: height as i64,
                ..Default::default()
            },
            Err(StoreError::VersionNotKept(height)) => error(
                TxError::new(
                    Code::InvalidRequest,
                    format!("height {height} is not kept by this node"),
                ),
                latest,
            ),
            Err(StoreError::ReservedKey(_)) => error(
                TxError::new(
                    Code::InvalidRequest,
                    "this key is outside the Merkle tree (a blob, named by the hash of its bytes that the tree's records prove, or the store's own metadata)",
                ),
                height,
            ),
            Err(err) => error(TxError::new(Code::Internal, err.to_string()), height),
        }
    }
}

fn error(err: TxError, height: u64) -> pb::ResponseQuery {
    pb::ResponseQuery {
        code: err.code.value(),
        log: err.log,
        codespace: CODESPACE.to_string(),
        height: height as i64,
        ..Default::default()
    }
}

/// Runs a tx on a throwaway copy of the state and reports its gas.
fn simulate(
    modules: &Modules,
    mut state: StateView,
    block: &BlockInfo,
    request: &[u8],
) -> Result<Vec<u8>, TxError> {
    let request = SimulateRequest::decode(request)
        .map_err(|e| TxError::new(Code::InvalidRequest, format!("SimulateRequest: {e}")))?;
    let params = AuthParams::load(&state)?;
    let next_block = BlockInfo {
        height: block.height + 1,
        // The next block's hash is unknown; whatever reads it sees none.
        hash: Vec::new(),
        ..block.clone()
    };
    let outcome = tx::execute(
        modules,
        &mut state,
        &next_block,
        &params,
        &request.tx_bytes,
        0,
        Mode::Simulate,
    );
    if outcome.code != Code::Ok {
        return Err(TxError::new(outcome.code, outcome.log));
    }
    #[allow(deprecated)]
    let response = SimulateResponse {
        gas_info: Some(GasInfo {
            gas_wanted: outcome.gas_wanted,
            gas_used: outcome.gas_used,
        }),
        result: Some(SdkResult {
            data: outcome.data,
            log: outcome.log,
            events: Vec::new(),
            msg_responses: outcome.msg_responses,
        }),
    };
    Ok(response.encode_to_vec())
}

pub fn save_last_block(state: &mut StateView, block: &BlockInfo) {
    // A struct of a string and integers always serializes.
    state.set(
        LAST_BLOCK_KEY,
        serde_json::to_vec(block).unwrap_or_default(),
    );
}

pub fn load_last_block(state: &StateView) -> Result<BlockInfo, TxError> {
    match state.get(LAST_BLOCK_KEY)? {
        None => Ok(BlockInfo::default()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| TxError::new(Code::Internal, format!("stored last block: {e}"))),
    }
}
