use serde::{Deserialize, Serialize};

use super::state_key;
use crate::codes::TxError;
use crate::store::StateView;

/// Limits every node enforces identically; set in genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthParams {
    /// Largest accepted encoded tx.
    pub max_tx_bytes: u64,
    /// Largest gas limit one tx may ask for.
    pub max_tx_gas: u64,
    /// Sum of the gas limits of the txs in one block.
    pub max_block_gas: u64,
    /// Most gas one tx may spend in contract code (every entry point it
    /// runs, sub-messages included), whatever its gas limit: one tx's
    /// contract time stays bounded (at the schedule's worst rate, ~7 ns
    /// per gas on the reference machine, 3M is ~21 ms) while ordinary
    /// calls (a cw20 transfer, a DAO vote) spend tens of thousands.
    pub max_tx_contract_gas: u64,
    /// Sum over the txs of a block that run contract code (instantiate,
    /// execute, migrate) of their gas limits, each counted up to
    /// `max_tx_contract_gas`. Set from the gas calibration (BENCHMARKS.md):
    /// every resource a contract can buy costs at most ~7 ns per gas on
    /// the reference machine (2 cores, release build), so 50M executes in
    /// under 0.4 s, 40 % of a 1 s block, however hostile the contracts.
    pub max_block_contract_gas: u64,
    /// Gas charged per byte of an encoded tx.
    pub tx_size_cost_per_byte: u64,
    /// Gas charged for one secp256k1 signature check.
    pub sig_verify_cost: u64,
    pub max_memo_chars: u64,
}

impl Default for AuthParams {
    fn default() -> Self {
        Self {
            max_tx_bytes: 2 * 1024 * 1024,
            max_tx_gas: 100_000_000,
            max_block_gas: 400_000_000,
            max_tx_contract_gas: 3_000_000,
            max_block_contract_gas: 50_000_000,
            tx_size_cost_per_byte: 10,
            sig_verify_cost: 1_000,
            max_memo_chars: 256,
        }
    }
}

impl AuthParams {
    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::PARAMS)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                TxError::new(
                    crate::codes::Code::Internal,
                    format!("stored auth params: {e}"),
                )
            }),
            None => Ok(Self::default()),
        }
    }

    pub fn save(&self, state: &mut StateView) {
        // Serializing a struct of integers cannot fail.
        state.set(
            state_key::PARAMS,
            serde_json::to_vec(self).unwrap_or_default(),
        );
    }
}
