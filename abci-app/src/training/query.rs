//! ABCI queries of the training module.
//!
//! JSON in and out under `custom/training/…` until the `um.training.v1`
//! protobuf services exist.

use serde::Deserialize;

use crate::codes::{Code, TxError};
use crate::store::StateView;

pub const LINEAGE_PATH: &str = "custom/training/lineage";
pub const LINEAGES_PATH: &str = "custom/training/lineages";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageRequest {
    model_id: String,
}

pub fn handle(state: &StateView, path: &str, data: &[u8]) -> Option<Result<Vec<u8>, TxError>> {
    match path {
        LINEAGE_PATH => Some(lineage(state, data)),
        LINEAGES_PATH => Some(super::lineages(state).and_then(|all| to_json(&all))),
        _ => None,
    }
}

fn lineage(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let request: LineageRequest = serde_json::from_slice(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("expected {{\"model_id\": …}}: {e}"),
        )
    })?;
    match super::lineage(state, &request.model_id)? {
        Some(lineage) => to_json(&lineage),
        None => Err(TxError::new(
            Code::NotFound,
            format!("model lineage {:?} not found", request.model_id),
        )),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, TxError> {
    serde_json::to_vec(value).map_err(|e| TxError::new(Code::Internal, e.to_string()))
}
