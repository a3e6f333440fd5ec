//! Chain-level parameters of the training module (per-lineage
//! hyperparameters are the DAO's and live on the lineage).

use cosmwasm_std::Decimal;
use serde::{Deserialize, Serialize};

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingParams {
    /// Blocks after submission during which an update can still be decided;
    /// past them it expires unslashed (a verifier outage is nobody's fraud).
    pub expiry_blocks: u64,
    /// Share of a trainer's stake burned when more than 1/3 of voting power
    /// finds its update fraudulent.
    pub fraud_slash_fraction: Decimal,
    /// Largest safetensors payload of one update.
    pub max_weights_bytes: u64,
    /// Gas per byte of weights written to the blob store, on top of the tx
    /// size cost.
    pub weights_cost_per_byte: u64,
    /// Dataset of lineages the DAO creates (its message names no dataset).
    pub default_dataset_id: String,
}

impl Default for TrainingParams {
    fn default() -> Self {
        Self {
            expiry_blocks: 20,
            fraud_slash_fraction: Decimal::percent(50),
            max_weights_bytes: 8 * 1024 * 1024,
            weights_cost_per_byte: crate::storage_gas::GAS_PER_STORED_BYTE,
            default_dataset_id: "mnist".to_string(),
        }
    }
}

impl TrainingParams {
    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::PARAMS)? {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored training params: {e}"))),
        }
    }

    pub fn save(&self, state: &mut StateView) -> Result<(), TxError> {
        if self.expiry_blocks == 0 || self.fraud_slash_fraction > Decimal::one() {
            return Err(TxError::new(
                Code::InvalidRequest,
                "training params: expiry_blocks must be positive and fraud_slash_fraction at most 1",
            ));
        }
        let bytes =
            serde_json::to_vec(self).map_err(|e| TxError::new(Code::Internal, e.to_string()))?;
        state.set(state_key::PARAMS, bytes);
        Ok(())
    }
}
