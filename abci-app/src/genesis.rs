//! The `app_state` of genesis.json.

use serde::{Deserialize, Serialize};

use crate::address;
use crate::auth::{self, AuthParams};
use crate::codes::TxError;
use crate::gov::{self, GovGenesis};
use crate::store::StateView;
use crate::wasm::WasmGenesis;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppGenesis {
    pub auth: AuthGenesis,
    pub wasm: WasmGenesis,
    pub gov: GovGenesis,
    pub training: crate::training::genesis::TrainingGenesis,
    #[serde(default)]
    pub dataset: crate::dataset::genesis::DatasetGenesis,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthGenesis {
    pub params: AuthParams,
    /// Accounts created at genesis, numbered in this order from 0.
    pub accounts: Vec<String>,
}

impl AppGenesis {
    /// Parses `app_state`; empty bytes mean all defaults.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Self::default());
        }
        serde_json::from_slice(bytes).map_err(|e| format!("invalid app_state in genesis: {e}"))
    }

    /// Writes the auth part of genesis; wasm is applied by the caller since
    /// it needs the VM.
    pub fn apply_auth(&self, state: &mut StateView, chain_id: &str) -> Result<(), TxError> {
        state.set(auth::state_key::CHAIN_ID, chain_id.as_bytes().to_vec());
        self.auth.params.save(state);
        for account in &self.auth.accounts {
            let bytes = address::decode(account)?;
            if auth::account::load(state, &bytes)?.is_none() {
                auth::account::create(state, &bytes)?;
            }
        }
        Ok(())
    }

    /// Writes the gov part; runs after the wasm part so a registry can
    /// name contracts deployed at genesis.
    pub fn apply_gov(&self, state: &mut StateView) -> Result<(), TxError> {
        gov::set_params(state, &self.gov.params)?;
        if let Some(registry) = &self.gov.registry {
            gov::register(state, registry)?;
        }
        Ok(())
    }
}
