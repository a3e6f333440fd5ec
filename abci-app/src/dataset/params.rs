//! Chain-level parameters of the dataset module, set at genesis.

use cosmwasm_std::Uint128;
use serde::{Deserialize, Serialize};

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetParams {
    /// Smallest deposit a delta proposal escrows, in micro-NRN; 0 lets
    /// anyone propose for free (a chain without a token can still take
    /// proposals then).
    pub min_deposit: Uint128,
    /// Most records one delta may add and remove together.
    pub max_delta_records: u32,
    /// Gas per byte of a proposal, on top of the tx size cost: the delta
    /// and its records stay in the state.
    pub delta_cost_per_byte: u64,
    /// Blocks after which a delta the DAO has not decided expires: its
    /// images are dropped and its deposit kept, as on a rejection. Longer
    /// than a DAO proposal's voting and execution periods; 0 never expires.
    pub delta_expiry_blocks: u64,
}

impl Default for DatasetParams {
    fn default() -> Self {
        Self {
            min_deposit: Uint128::new(1_000),
            max_delta_records: 1_000,
            delta_cost_per_byte: crate::storage_gas::GAS_PER_STORED_BYTE,
            // About 2.8 hours of 1 s blocks.
            delta_expiry_blocks: 10_000,
        }
    }
}

impl DatasetParams {
    /// The height at which a delta proposed at `height` expires, if ever.
    pub fn expiry_height(&self, height: u64) -> Option<u64> {
        (self.delta_expiry_blocks > 0).then(|| height.saturating_add(self.delta_expiry_blocks))
    }

    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::PARAMS)? {
            None => Ok(Self::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored dataset params: {e}"))),
        }
    }

    pub fn save(&self, state: &mut StateView) -> Result<(), TxError> {
        if self.max_delta_records == 0 {
            return Err(TxError::new(
                Code::InvalidRequest,
                "dataset params: max_delta_records must be positive",
            ));
        }
        let bytes =
            serde_json::to_vec(self).map_err(|e| TxError::new(Code::Internal, e.to_string()))?;
        state.set(state_key::PARAMS, bytes);
        Ok(())
    }
}
