//! Model lineages and their DAO-set hyperparameters.
//!
//! Versions, pending updates and verdicts join this module with the
//! decentralized-training work; today it holds what governance decides.

pub mod query;
pub mod state_key;

use serde::{Deserialize, Serialize};
use um_bindings::Hyperparams;

use crate::codes::{Code, TxError};
use crate::store::StateView;

/// One model lineage: an architecture and how it is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub model_id: String,
    /// JSON model spec the trainer builds the network from.
    pub spec: String,
    pub hyperparams: Hyperparams,
    pub created_height: u64,
    /// Height of the last hyperparameter change.
    pub updated_height: u64,
}

pub fn lineage(state: &StateView, model_id: &str) -> Result<Option<Lineage>, TxError> {
    match state.get(&state_key::lineage(model_id))? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TxError::new(Code::Internal, format!("stored lineage {model_id}: {e}"))),
    }
}

pub fn lineages(state: &StateView) -> Result<Vec<Lineage>, TxError> {
    state
        .prefixed(state_key::LINEAGE_PREFIX)?
        .into_iter()
        .map(|(_, bytes)| {
            serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored lineage: {e}")))
        })
        .collect()
}

fn save(state: &mut StateView, lineage: &Lineage) {
    // A struct of strings, integers and decimals always serializes.
    state.set(
        &state_key::lineage(&lineage.model_id),
        serde_json::to_vec(lineage).unwrap_or_default(),
    );
}

fn validate_model_id(model_id: &str) -> Result<(), TxError> {
    let valid = !model_id.is_empty()
        && model_id.len() <= 64
        && model_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(TxError::new(
            Code::InvalidRequest,
            format!("model id {model_id:?} must be 1-64 of [a-z0-9_-]"),
        ))
    }
}

fn validate_hyperparams(hyperparams: &Hyperparams) -> Result<(), TxError> {
    hyperparams.validate().map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("invalid hyperparameters: {e}"),
        )
    })
}

pub fn create_lineage(
    state: &mut StateView,
    height: u64,
    model_id: &str,
    spec: &str,
    hyperparams: &Hyperparams,
) -> Result<(), TxError> {
    validate_model_id(model_id)?;
    validate_hyperparams(hyperparams)?;
    if serde_json::from_str::<serde_json::Value>(spec).is_err() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "model spec must be JSON",
        ));
    }
    if lineage(state, model_id)?.is_some() {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!("model lineage {model_id:?} already exists; an architecture change is a new lineage"),
        ));
    }
    save(
        state,
        &Lineage {
            model_id: model_id.to_string(),
            spec: spec.to_string(),
            hyperparams: hyperparams.clone(),
            created_height: height,
            updated_height: height,
        },
    );
    Ok(())
}

pub fn set_hyperparams(
    state: &mut StateView,
    height: u64,
    model_id: &str,
    hyperparams: &Hyperparams,
) -> Result<(), TxError> {
    validate_hyperparams(hyperparams)?;
    let Some(mut existing) = lineage(state, model_id)? else {
        return Err(TxError::new(
            Code::NotFound,
            format!("model lineage {model_id:?} not found"),
        ));
    };
    existing.hyperparams = hyperparams.clone();
    existing.updated_height = height;
    save(state, &existing);
    Ok(())
}
