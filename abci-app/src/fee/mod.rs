//! Fees in NRN, the Cosmos way.
//!
//! A tx names its fee in `AuthInfo.fee` as `unrn` (micro-NRN, the cw20
//! token's base unit). The ante step refuses a fee below
//! `gas_limit × min_gas_price` (a DAO parameter; CheckTx also applies the
//! node's own `--minimum-gas-prices`) and moves the fee, before any message
//! runs, from the signer to the fee-collector module account through the
//! token's `sudo` entry, which no account can reach. The fee stays paid when
//! a message fails, as in the SDK. Each begin-block pays what the collector
//! holds to the validators that signed the previous block, by power.
//!
//! NRN stays one token: there is no native coin, every balance lives in the
//! cw20 contract the gov registry names.

pub mod deduct;
pub mod distribute;
pub mod module;
pub mod state_key;

use cosmwasm_std::{Decimal, Uint128};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::address;
use crate::codes::{Code, TxError};
use crate::store::StateView;

pub use deduct::{charge_fee, required_fee, FeeCharge, FEE_DENOM, FEE_GAS};
pub use module::FeeModule;

/// What a tx pays and where fees go; set in genesis, changed by the DAO.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeeParams {
    /// unrn per unit of gas a tx must offer for its whole gas limit: the
    /// declared limit is what a tx takes from a block, so it is what it
    /// pays for.
    pub min_gas_price: Decimal,
    /// Part of each training reward paid to the validators (by power)
    /// instead of the trainer, for the re-training they do to verify.
    pub validator_reward_share: Decimal,
    /// unrn an update pays when it is submitted, held in escrow, returned
    /// when it is accepted and paid to the validators otherwise: verifying
    /// costs every validator a training run, so a flood of bad updates
    /// pays for the work it causes.
    pub verification_fee: Uint128,
}

impl Default for FeeParams {
    fn default() -> Self {
        Self {
            // 0.025 unrn per gas, the figure CosmJS examples and most
            // Cosmos chains start from.
            min_gas_price: Decimal::permille(25),
            validator_reward_share: Decimal::percent(10),
            verification_fee: Uint128::new(1_000_000),
        }
    }
}

/// The highest `min_gas_price` the DAO may set, in unrn per gas: 400 times
/// the default. A DAO vote itself pays the fee, so a price without a bound
/// could make every later vote, including the one to lower it again,
/// unaffordable; at this one a 1M-gas vote costs 10 NRN.
pub const MAX_MIN_GAS_PRICE: Decimal = Decimal::raw(10_000_000_000_000_000_000);

impl FeeParams {
    pub fn validate(&self) -> Result<(), TxError> {
        if self.min_gas_price > MAX_MIN_GAS_PRICE {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!(
                    "min_gas_price {} is above the most the chain allows, {MAX_MIN_GAS_PRICE} unrn per gas",
                    self.min_gas_price
                ),
            ));
        }
        if self.validator_reward_share > Decimal::one() {
            return Err(TxError::new(
                Code::InvalidRequest,
                "validator_reward_share must be at most 1",
            ));
        }
        Ok(())
    }

    pub fn load(state: &StateView) -> Result<Self, TxError> {
        match state.get(state_key::PARAMS)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored fee params: {e}"))),
            None => Ok(Self::default()),
        }
    }

    pub fn save(&self, state: &mut StateView) -> Result<(), TxError> {
        self.validate()?;
        let bytes = serde_json::to_vec(self)
            .map_err(|e| TxError::new(Code::Internal, format!("fee params: {e}")))?;
        state.set(state_key::PARAMS, bytes);
        Ok(())
    }
}

/// A module account's address, as the SDK derives it
/// (`authtypes.NewModuleAddress`): the first 20 bytes of SHA-256 of its name.
/// No key hashes to it, so only the chain moves its funds.
pub fn module_address(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    address::encode(&digest[..20])
}

/// Where the ante step puts every fee.
pub fn fee_collector() -> String {
    module_address("fee_collector")
}

/// Where verification fees wait for their update's decision.
pub fn verification_escrow() -> String {
    module_address("verification_escrow")
}

pub fn undistributed(state: &StateView) -> Result<u128, TxError> {
    read_u128(state, state_key::UNDISTRIBUTED)
}

/// Counts `amount` more unrn in the collector for the validators.
pub fn add_undistributed(state: &mut StateView, amount: u128) -> Result<(), TxError> {
    let total = undistributed(state)?.saturating_add(amount);
    state.set(state_key::UNDISTRIBUTED, total.to_be_bytes().to_vec());
    Ok(())
}

fn read_u128(state: &StateView, key: &[u8]) -> Result<u128, TxError> {
    match state.get(key)? {
        None => Ok(0),
        Some(bytes) => bytes
            .as_slice()
            .try_into()
            .map(u128::from_be_bytes)
            .map_err(|_| TxError::new(Code::Internal, "stored amount is not 16 bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_collector_is_the_sdk_module_address() {
        // cosmos-sdk: authtypes.NewModuleAddress("fee_collector") =
        // 17xpfvakm2amg962yls6f84z3kell8c5l… with the cosmos prefix; the
        // 20 bytes are the same under ours.
        let collector = fee_collector();
        let bytes = address::decode(&collector).unwrap();
        assert_eq!(
            hex::encode(bytes),
            "f1829676db577682e944fc3493d451b67ff3e29f"
        );
        assert_ne!(collector, verification_escrow());
    }

    #[test]
    fn params_refuse_a_gas_price_that_would_price_out_the_dao() {
        assert_eq!(MAX_MIN_GAS_PRICE, Decimal::from_ratio(10u128, 1u128));
        let params = FeeParams {
            min_gas_price: MAX_MIN_GAS_PRICE + Decimal::permille(1),
            ..FeeParams::default()
        };
        assert_eq!(params.validate().unwrap_err().code, Code::InvalidRequest);
        let at_cap = FeeParams {
            min_gas_price: MAX_MIN_GAS_PRICE,
            ..FeeParams::default()
        };
        assert!(at_cap.validate().is_ok());
    }

    #[test]
    fn params_refuse_a_reward_share_above_one() {
        let params = FeeParams {
            validator_reward_share: Decimal::percent(101),
            ..FeeParams::default()
        };
        assert_eq!(params.validate().unwrap_err().code, Code::InvalidRequest);
    }
}
