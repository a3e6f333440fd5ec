//! Proven answers: which queries can be proven, how a request asks for a
//! proof, and the proof of every key an answer read.
//!
//! A proven query runs on a view that records the keys it reads
//! ([`StateView::recording`]); each key then gets an ICS23 proof from the
//! Merkle tree at the answer's height (existence with its value, or
//! absence). A client that trusts that height's app hash verifies every
//! op, re-runs the same query over the proven keys alone and compares: the
//! answer is the chain's exactly when both agree. What a range scan left
//! out cannot be proven this way (as with the Cosmos SDK's proofs); the
//! listed queries read ranges only for paging through a lineage's versions.

use prost::Message;
use tendermint_proto::v0_38::crypto::ProofOp;
use um_proto::um::common::v1 as common;

use super::query::PROOF_OP_TYPE;
use crate::codes::{Code, TxError};
use crate::store::{StateView, Store, StoreError};

/// Queries that carry `bool prove = 15` in their request and
/// `um.common.v1.StateProof proof = 15` in their response, so gRPC clients
/// can ask for and receive proofs without ABCI's `prove` flag.
pub const PROOF_FIELD_PATHS: [&str; 6] = [
    "/um.training.v1.Query/Lineage",
    "/um.training.v1.Query/Head",
    "/um.training.v1.Query/Versions",
    "/um.training.v1.Query/Version",
    "/um.training.v1.Query/Update",
    "/um.training.v1.Query/Round",
];

/// Cosmos queries whose answers are plain state reads (no contract code
/// runs), proven through ABCI's `prove` flag or REST's `?prove=true`.
pub const PROVABLE_COSMOS_PATHS: [&str; 3] = [
    "/cosmos.auth.v1beta1.Query/Account",
    "/cosmwasm.wasm.v1.Query/ContractInfo",
    "/cosmwasm.wasm.v1.Query/RawContractState",
];

/// The field number of `prove` (requests) and `proof` (responses).
const PROOF_FIELD: u32 = 15;

/// Most keys one proven answer may read. A proof is about a kilobyte and
/// each costs tree reads, so a page read for a proof is capped here, not by
/// the page limits alone.
pub const MAX_PROVEN_KEYS: usize = 256;

pub fn is_provable(path: &str) -> bool {
    PROOF_FIELD_PATHS.contains(&path) || PROVABLE_COSMOS_PATHS.contains(&path)
}

/// The `prove` field of a request of [`PROOF_FIELD_PATHS`].
#[derive(Clone, PartialEq, Message)]
struct ProveFlag {
    #[prost(bool, tag = "15")]
    prove: bool,
}

/// Whether `data`, a request of `path`, sets its own `prove` field.
/// Undecodable data is left to the query itself to refuse.
pub fn asked_in_request(path: &str, data: &[u8]) -> bool {
    PROOF_FIELD_PATHS.contains(&path)
        && ProveFlag::decode(data)
            .map(|flag| flag.prove)
            .unwrap_or(false)
}

/// One ICS23 proof op per key `state` read, against the tree at `height`.
pub fn prove_reads(store: &Store, state: &StateView, height: u64) -> Result<Vec<ProofOp>, TxError> {
    let keys = state.keys_read();
    if keys.len() > MAX_PROVEN_KEYS {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "this answer reads {} state keys and a proven answer may read at most {MAX_PROVEN_KEYS}: ask for a smaller page",
                keys.len()
            ),
        ));
    }
    keys.into_iter()
        .map(|key| match store.prove(&key, height) {
            Ok((_, proof)) => Ok(ProofOp {
                r#type: PROOF_OP_TYPE.to_string(),
                data: proof.encode_to_vec(),
                key,
            }),
            Err(StoreError::VersionNotKept(height)) => Err(TxError::new(
                Code::InvalidRequest,
                format!("height {height} is not kept by this node, so it cannot be proven"),
            )),
            Err(StoreError::ReservedKey(key)) => Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "this answer reads {}, which is outside the Merkle tree (a blob): it cannot be proven",
                    key.escape_ascii()
                ),
            )),
            Err(err) => Err(TxError::new(Code::Internal, err.to_string())),
        })
        .collect()
}

/// ABCI's proof ops at `height` as the `um.common.v1.StateProof` that the
/// responses' `proof` field, REST and gRPC errors carry.
pub fn state_proof(height: i64, ops: &[ProofOp]) -> common::StateProof {
    common::StateProof {
        height,
        ops: ops
            .iter()
            .map(|op| common::ProofOp {
                r#type: op.r#type.clone(),
                key: op.key.clone(),
                data: op.data.clone(),
            })
            .collect(),
    }
}

/// `value` with the `proof` field appended: protobuf merges a field found
/// after the others, so the result decodes as the response with its proof.
pub fn append_proof(value: &mut Vec<u8>, height: u64, ops: &[ProofOp]) {
    let proof = state_proof(height as i64, ops);
    prost::encoding::message::encode(PROOF_FIELD, &proof, value);
}

/// The answer of a query read from `state` alone: what the node computes,
/// and what a client re-computes over the keys it has proven.
pub fn answer_from(
    modules: &super::modules::Modules,
    state: &StateView,
    path: &str,
    data: &[u8],
) -> Result<Vec<u8>, TxError> {
    let block = super::query::load_last_block(state)?;
    modules.query(state, &block, path, data)
}
