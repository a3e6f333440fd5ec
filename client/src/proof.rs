//! Checks a proven answer's ICS23 proofs against an app hash: the second
//! step of `umd query … --verify`, after [`crate::light`] has verified the
//! header that carries the app hash.

use std::collections::BTreeMap;

use ics23::commitment_proof::Proof;
use ics23::{CommitmentProof, HostFunctionsManager};
use prost::Message;
use um_proto::um::common::v1::ProofOp;

/// The one proof op type umd returns: an ICS23 `CommitmentProof` against
/// the Jellyfish Merkle Tree spec.
pub const PROOF_OP_TYPE: &str = "ics23:jmt";

/// What the proofs showed: each proven key with its value, or `None` when
/// the proof is one of absence.
pub type ProvenState = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("proof op of type {0:?}; only {PROOF_OP_TYPE:?} is known")]
    UnknownType(String),
    #[error("the proof of key {key} is not an ICS23 CommitmentProof: {message}")]
    Undecodable { key: String, message: String },
    #[error("the proof of key {key} is for another key ({proven})")]
    OtherKey { key: String, proven: String },
    #[error("key {0} is proven twice")]
    Duplicate(String),
    #[error("the proof of key {0} does not verify against the app hash")]
    Mismatch(String),
    #[error("the proof of key {0} is neither an existence nor an absence proof")]
    Unsupported(String),
}

/// A key as it reads best: its text, with other bytes escaped (`\x00`).
pub fn show_key(key: &[u8]) -> String {
    format!("\"{}\"", key.escape_ascii())
}

/// Verifies every op against `app_hash` (the root of the state tree).
pub fn verify_ops(app_hash: &[u8], ops: &[ProofOp]) -> Result<ProvenState, ProofError> {
    let spec = jmt::ics23_spec();
    let root = app_hash.to_vec();
    let mut proven = ProvenState::new();
    for op in ops {
        let key = show_key(&op.key);
        if op.r#type != PROOF_OP_TYPE {
            return Err(ProofError::UnknownType(op.r#type.clone()));
        }
        let proof =
            CommitmentProof::decode(op.data.as_slice()).map_err(|e| ProofError::Undecodable {
                key: key.clone(),
                message: e.to_string(),
            })?;
        let value = match &proof.proof {
            Some(Proof::Exist(existence)) => {
                if existence.key != op.key {
                    return Err(ProofError::OtherKey {
                        key,
                        proven: show_key(&existence.key),
                    });
                }
                let ok = ics23::verify_membership::<HostFunctionsManager>(
                    &proof,
                    &spec,
                    &root,
                    &op.key,
                    &existence.value,
                );
                if !ok {
                    return Err(ProofError::Mismatch(key));
                }
                Some(existence.value.clone())
            }
            Some(Proof::Nonexist(_)) => {
                let ok = ics23::verify_non_membership::<HostFunctionsManager>(
                    &proof, &spec, &root, &op.key,
                );
                if !ok {
                    return Err(ProofError::Mismatch(key));
                }
                None
            }
            _ => return Err(ProofError::Unsupported(key)),
        };
        if proven.insert(op.key.clone(), value).is_some() {
            return Err(ProofError::Duplicate(key));
        }
    }
    Ok(proven)
}
