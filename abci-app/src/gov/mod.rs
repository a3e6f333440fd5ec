//! Governance glue on the chain side: which contracts are the token, the
//! staking and the DAO, and the validator set that follows stake.

pub mod epoch;
pub mod misbehavior;
mod module;
pub mod msg_server;
pub mod query;
pub mod state_key;
pub mod sudo;
pub mod token_ledger;
pub mod validators;

use serde::{Deserialize, Serialize};

pub use module::GovModule;

use crate::codes::{Code, TxError};
use crate::store::StateView;

/// The governance suite's contracts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub token: String,
    pub staking: String,
    pub dao: String,
    /// `nrn-versions`, on which the chain mints each accepted version as a
    /// cw721 token; absent on a chain without one (nothing is minted).
    /// Left out of the stored JSON when absent, so a registry stored
    /// before it existed keeps its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
}

impl Registry {
    pub fn contracts(&self) -> Vec<&str> {
        let mut contracts = vec![self.token.as_str(), &self.staking, &self.dao];
        contracts.extend(self.versions.as_deref());
        contracts
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovParams {
    /// Blocks per epoch; the validator set is refreshed from stake at the
    /// last block of each epoch.
    pub epoch_blocks: u64,
    /// Bonded micro-NRN per unit of CometBFT voting power.
    pub stake_per_power: u64,
    /// The only account that may register the suite by tx (once, and only
    /// contracts it created); `None` refuses every registration by tx, so
    /// only a suite deployed at genesis governs.
    pub registrar: Option<String>,
    /// Part of a validator's bond burned when CometBFT reports it signed two
    /// blocks at one height (the Cosmos SDK's default is 5 %).
    pub double_sign_slash_fraction: cosmwasm_std::Decimal,
}

impl Default for GovParams {
    fn default() -> Self {
        Self {
            epoch_blocks: 10,
            stake_per_power: 1_000_000,
            registrar: None,
            double_sign_slash_fraction: cosmwasm_std::Decimal::percent(5),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovGenesis {
    pub params: GovParams,
    /// Set when the suite is deployed at genesis.
    pub registry: Option<Registry>,
}

pub fn registry(state: &StateView) -> Result<Option<Registry>, TxError> {
    load_json(state, state_key::REGISTRY, "registry")
}

/// `address`'s NRN balance in `state`, read from the registered token (a
/// smart query, whose gas the caller accounts for); `None` before a suite
/// is registered.
pub fn token_balance(
    wasm: &dyn crate::context::Contracts,
    state: &StateView,
    block: &crate::context::BlockInfo,
    address: &str,
) -> Result<Option<u128>, TxError> {
    #[derive(Deserialize)]
    struct Balance {
        balance: cosmwasm_std::Uint128,
    }
    let Some(registry) = registry(state)? else {
        return Ok(None);
    };
    let query = serde_json::json!({"balance": {"address": address}}).to_string();
    let answer = wasm.query_smart(state, block, &registry.token, query.as_bytes())?;
    let balance: Balance = serde_json::from_slice(&answer)
        .map_err(|e| TxError::new(Code::ContractError, format!("token balance response: {e}")))?;
    Ok(Some(balance.balance.u128()))
}

pub fn params(state: &StateView) -> Result<GovParams, TxError> {
    Ok(load_json(state, state_key::PARAMS, "gov params")?.unwrap_or_default())
}

pub fn set_params(state: &mut StateView, params: &GovParams) -> Result<(), TxError> {
    if params.epoch_blocks == 0 || params.stake_per_power == 0 {
        return Err(TxError::new(
            Code::InvalidRequest,
            "epoch_blocks and stake_per_power must be positive",
        ));
    }
    if params.double_sign_slash_fraction.is_zero()
        || params.double_sign_slash_fraction > cosmwasm_std::Decimal::one()
    {
        return Err(TxError::new(
            Code::InvalidRequest,
            "double_sign_slash_fraction must be in (0, 1]",
        ));
    }
    save_json(state, state_key::PARAMS, params);
    Ok(())
}

/// Registers the suite. Allowed once: afterwards the registry is part of
/// what only governance itself may change.
pub fn register(state: &mut StateView, registry: &Registry) -> Result<(), TxError> {
    if let Some(existing) = self::registry(state)? {
        return Err(TxError::new(
            Code::NotPermitted,
            format!(
                "governance contracts are already registered (dao {}); only the DAO may change them",
                existing.dao
            ),
        ));
    }
    save_registry(state, registry)
}

/// Replaces the registry; reached only through a `UmMsg` of the
/// registered DAO.
pub fn replace_registry(state: &mut StateView, registry: &Registry) -> Result<(), TxError> {
    if let Some(previous) = self::registry(state)? {
        for address in previous.contracts() {
            crate::wasm::set_pinned(state, address, false)?;
        }
    }
    save_registry(state, registry)
}

/// Saves the registry; its contracts are priced as pinned (they run in
/// most txs, and their code is the DAO's).
fn save_registry(state: &mut StateView, registry: &Registry) -> Result<(), TxError> {
    for address in registry.contracts() {
        crate::address::decode(address)?;
    }
    for address in registry.contracts() {
        crate::wasm::set_pinned(state, address, true)?;
    }
    save_json(state, state_key::REGISTRY, registry);
    Ok(())
}

fn load_json<T: serde::de::DeserializeOwned>(
    state: &StateView,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, TxError> {
    match state.get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TxError::new(Code::Internal, format!("stored {what}: {e}"))),
    }
}

fn save_json<T: Serialize>(state: &mut StateView, key: &[u8], value: &T) {
    // Serializing these plain structs cannot fail.
    state.set(key, serde_json::to_vec(value).unwrap_or_default());
}
