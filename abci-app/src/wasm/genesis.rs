//! `app_state["wasm"]`: the module's params, codes to store and contracts to
//! instantiate at genesis, run exactly as the equivalent messages would be
//! (same code ids, same addresses, identical code stored once), with their
//! events dropped. Genesis codes are trusted: `code_upload_access` applies
//! to the messages of later blocks, not to them.

use base64::Engine;
use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgInstantiateContractResponse;
use prost::Message;
use serde::{Deserialize, Serialize};

use super::gas::GENESIS_GAS_LIMIT;
use super::host::Host;
use super::keeper::{Action, Keeper};
use super::params::WasmParams;
use crate::codes::{Code, TxError};
use crate::context::GasMeter;

#[derive(Deserialize, Serialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WasmGenesis {
    /// Absent: the defaults (everybody may upload code).
    #[serde(default)]
    pub params: WasmParams,
    #[serde(default)]
    pub codes: Vec<GenesisCode>,
    #[serde(default)]
    pub contracts: Vec<GenesisContract>,
    /// Run in order after the contracts exist, e.g. validators bonding
    /// their genesis stake.
    #[serde(default)]
    pub executions: Vec<GenesisExecution>,
}

/// A contract call made at genesis as if `sender` had sent it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenesisExecution {
    pub sender: String,
    pub contract: String,
    pub msg: serde_json::Value,
}

/// Stored in order: the first code gets id 1.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenesisCode {
    pub creator: String,
    /// Raw or gzipped Wasm, base64 (standard alphabet, padded).
    pub wasm_base64: String,
}

/// Instantiated in order, after all codes, with classic addresses.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenesisContract {
    pub code_id: u64,
    pub creator: String,
    #[serde(default)]
    pub admin: Option<String>,
    pub label: String,
    pub msg: serde_json::Value,
    /// Calls to it are priced as pinned from genesis (as wasmd's genesis
    /// pins codes); the governance suite is pinned when it is registered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

pub(crate) fn run(host: &std::sync::Arc<Host>, genesis: &WasmGenesis) -> Result<(), TxError> {
    let keeper = Keeper::new(host);
    // First, so that a malformed rule stops genesis before any work.
    host.write(|s| genesis.params.save(s))?
        .map_err(|e| TxError::new(e.code, format!("wasm genesis: params: {}", e.log)))?;
    for (index, code) in genesis.codes.iter().enumerate() {
        let wasm = base64::engine::general_purpose::STANDARD
            .decode(code.wasm_base64.trim())
            .map_err(|e| genesis_error(format!("code #{}: bad base64: {e}", index + 1)))?;
        let mut gas = GasMeter::new(GENESIS_GAS_LIMIT);
        keeper
            .store_code_trusted(&mut gas, &code.creator, &wasm)
            .map_err(|e| {
                TxError::new(
                    e.code,
                    format!("wasm genesis: code #{}: {}", index + 1, e.log),
                )
            })?;
    }
    for (index, contract) in genesis.contracts.iter().enumerate() {
        let msg = serde_json::to_vec(&contract.msg)
            .map_err(|e| genesis_error(format!("contract #{}: {e}", index + 1)))?;
        let action = Action::Instantiate {
            admin: contract.admin.clone(),
            code_id: contract.code_id,
            label: contract.label.clone(),
            msg,
            salt: None,
        };
        let mut gas = GasMeter::new(GENESIS_GAS_LIMIT);
        let done = keeper
            .run(&mut gas, 0, &contract.creator, action)
            .map_err(|e| {
                TxError::new(
                    e.code,
                    format!(
                        "wasm genesis: contract #{} ({}): {}",
                        index + 1,
                        contract.label,
                        e.log
                    ),
                )
            })?;
        if contract.pinned {
            let created = MsgInstantiateContractResponse::decode(done.response.value.as_slice())
                .map_err(|e| genesis_error(format!("contract #{}: {e}", index + 1)))?;
            host.write(|s| super::set_pinned(s, &created.address, true))??;
        }
    }
    for (index, execution) in genesis.executions.iter().enumerate() {
        let msg = serde_json::to_vec(&execution.msg)
            .map_err(|e| genesis_error(format!("execution #{}: {e}", index + 1)))?;
        let action = Action::Execute {
            contract: execution.contract.clone(),
            msg,
        };
        let mut gas = GasMeter::new(GENESIS_GAS_LIMIT);
        keeper
            .run(&mut gas, 0, &execution.sender, action)
            .map_err(|e| {
                TxError::new(
                    e.code,
                    format!("wasm genesis: execution #{}: {}", index + 1, e.log),
                )
            })?;
    }
    Ok(())
}

fn genesis_error(message: String) -> TxError {
    TxError::new(Code::InvalidRequest, format!("wasm genesis: {message}"))
}
