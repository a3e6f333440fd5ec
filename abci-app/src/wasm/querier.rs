//! Queries a contract makes to the chain (`deps.querier`).
//!
//! Wasm queries read the current tx state, so a contract sees the writes
//! made earlier in the same tx (as on wasmd). Smart queries run the target
//! contract in a nested, read-only instance; their gas is reported back to
//! the calling instance as externally used, so it ends up on the tx meter.

use std::sync::Arc;

use cosmwasm_std_vm::{
    from_json, to_json_binary, Addr, BankQuery, Binary, Checksum, CodeInfoResponse,
    ContractInfoResponse, ContractResult, QueryRequest, SystemError, SystemResult, WasmQuery,
};
use cosmwasm_vm::{call_query, BackendError, BackendResult, GasInfo, Querier};
use prost::Message;
use serde_json::json;

use super::address;
use super::gas;
use super::host::Host;
use super::limits::MAX_QUERY_DEPTH;
use super::state;
use super::state_key;
use super::vm::{self, CustomJson, Failure, Target};
use crate::codes::{Code, TxError};

type QueryOutcome = BackendResult<SystemResult<ContractResult<Binary>>>;

pub(crate) struct ChainQuerier {
    host: Arc<Host>,
    /// Nesting level of the instance this querier belongs to (0 for an
    /// instance run by a message or an ABCI query).
    depth: u32,
}

impl ChainQuerier {
    pub fn new(host: Arc<Host>, depth: u32) -> Self {
        Self { host, depth }
    }

    fn wasm(&self, query: WasmQuery, gas_limit: u64) -> QueryOutcome {
        match query {
            WasmQuery::Smart { contract_addr, msg } => self.smart(contract_addr, &msg, gas_limit),
            WasmQuery::Raw { contract_addr, key } => self.raw(contract_addr, &key),
            WasmQuery::ContractInfo { contract_addr } => self.contract_info(contract_addr),
            WasmQuery::CodeInfo { code_id } => self.code_info(code_id),
            _ => unsupported("this wasm query"),
        }
    }

    fn smart(&self, contract_addr: String, msg: &[u8], gas_limit: u64) -> QueryOutcome {
        if self.depth >= MAX_QUERY_DEPTH {
            return answer_err(format!(
                "query depth limit of {MAX_QUERY_DEPTH} nested smart queries exceeded"
            ));
        }
        let target = match self.target(&contract_addr) {
            Ok(Some(target)) => target,
            Ok(None) => return no_such_contract(contract_addr),
            Err(err) => return self.internal(err),
        };
        let instance_cost = gas::to_cw(target.instance_cost());
        if gas_limit < instance_cost {
            return (
                Err(BackendError::out_of_gas()),
                GasInfo::with_externally_used(gas_limit),
            );
        }
        let env = self.host.env(&contract_addr);
        let (outcome, used) = vm::run(
            &self.host,
            &target,
            self.depth + 1,
            gas_limit - instance_cost,
            |instance| call_query(instance, &env, msg),
        );
        let gas_info = GasInfo::with_externally_used(instance_cost.saturating_add(used));
        match outcome {
            Ok(data) => (Ok(SystemResult::Ok(ContractResult::Ok(data))), gas_info),
            Err(Failure::Contract(msg)) => {
                (Ok(SystemResult::Ok(ContractResult::Err(msg))), gas_info)
            }
            Err(Failure::Vm(msg)) => (
                Ok(SystemResult::Ok(ContractResult::Err(format!(
                    "vm error: {msg}"
                )))),
                gas_info,
            ),
            Err(Failure::OutOfGas) => (Err(BackendError::out_of_gas()), gas_info),
            Err(Failure::Internal(message)) => {
                self.host.record_failure(message.clone());
                (Err(BackendError::unknown(message)), gas_info)
            }
        }
    }

    fn raw(&self, contract_addr: String, key: &[u8]) -> QueryOutcome {
        let Ok(canonical) = address::decode(&contract_addr) else {
            return no_such_contract(contract_addr);
        };
        let mut full = state_key::contract_store_prefix(&canonical);
        full.extend_from_slice(key);
        let found = self.host.read(|s| -> Result<_, TxError> {
            let exists = state::contract_info(s, &canonical)?.is_some();
            Ok((exists, s.get(&full)?))
        });
        match found.and_then(|found| found) {
            Ok((false, _)) => no_such_contract(contract_addr),
            Ok((true, value)) => {
                let value = value.unwrap_or_default();
                let gas_info = read_gas(full.len(), value.len());
                (
                    Ok(SystemResult::Ok(ContractResult::Ok(value.into()))),
                    gas_info,
                )
            }
            Err(err) => self.internal(err),
        }
    }

    fn contract_info(&self, contract_addr: String) -> QueryOutcome {
        let Ok(canonical) = address::decode(&contract_addr) else {
            return no_such_contract(contract_addr);
        };
        let info = match self.host.read(|s| state::contract_info(s, &canonical)) {
            Ok(Ok(Some(info))) => info,
            Ok(Ok(None)) => return no_such_contract(contract_addr),
            Ok(Err(err)) | Err(err) => return self.internal(err),
        };
        let admin = (!info.admin.is_empty()).then(|| Addr::unchecked(info.admin.clone()));
        let response = ContractInfoResponse::new(
            info.code_id,
            Addr::unchecked(info.creator.clone()),
            admin,
            false,
            None,
            None,
        );
        let gas_info = read_gas(
            state_key::contract_info(&canonical).len(),
            info.encoded_len(),
        );
        answer(to_json_binary(&response), gas_info)
    }

    fn code_info(&self, code_id: u64) -> QueryOutcome {
        let info = match self.host.read(|s| state::code_info(s, code_id)) {
            Ok(Ok(Some(info))) => info,
            Ok(Ok(None)) => {
                return (
                    Ok(SystemResult::Err(SystemError::NoSuchCode { code_id })),
                    GasInfo::free(),
                )
            }
            Ok(Err(err)) | Err(err) => return self.internal(err),
        };
        let Ok(checksum) = Checksum::try_from(info.code_hash.as_slice()) else {
            return self.internal(TxError::new(
                crate::codes::Code::Internal,
                format!("bad checksum of code {code_id} in state"),
            ));
        };
        let response =
            CodeInfoResponse::new(code_id, Addr::unchecked(info.creator.clone()), checksum);
        answer(
            to_json_binary(&response),
            read_gas(state_key::code_info(code_id).len(), info.encoded_len()),
        )
    }

    /// The contract at `contract_addr`, if there is one.
    fn target(&self, contract_addr: &str) -> Result<Option<Target>, TxError> {
        let Ok(canonical) = address::decode(contract_addr) else {
            return Ok(None);
        };
        self.host.read(|s| -> Result<_, TxError> {
            let Some(info) = state::contract_info(s, &canonical)? else {
                return Ok(None);
            };
            let code = state::require_code_info(s, info.code_id)?;
            Target::load(s, &canonical, info.code_id, code.code_hash).map(Some)
        })?
    }

    /// Answers `QueryRequest::Custom` from the chain's modules.
    fn custom(&self, custom: &serde_json::Value) -> QueryOutcome {
        let request = match serde_json::to_vec(custom) {
            Ok(request) => request,
            Err(err) => return self.internal(TxError::new(Code::Internal, err.to_string())),
        };
        let host = &self.host;
        let answer = match host.read(|state| host.bindings.query(state, &request)) {
            Ok(answer) => answer,
            Err(err) => return self.internal(err),
        };
        let result = match answer {
            Ok(data) => ContractResult::Ok(Binary::from(data)),
            Err(err) => ContractResult::Err(err.log),
        };
        (
            Ok(SystemResult::Ok(result)),
            GasInfo::with_externally_used(CUSTOM_QUERY_GAS),
        )
    }

    fn internal(&self, err: TxError) -> QueryOutcome {
        self.host.record_failure(err.log.clone());
        (Err(BackendError::unknown(err.log)), GasInfo::free())
    }
}

impl Querier for ChainQuerier {
    fn query_raw(&self, request: &[u8], gas_limit: u64) -> QueryOutcome {
        let parsed: QueryRequest<CustomJson> = match from_json(request) {
            Ok(parsed) => parsed,
            Err(err) => {
                if let Some(outcome) = legacy_bank_query(request) {
                    return outcome;
                }
                return (
                    Ok(SystemResult::Err(SystemError::InvalidRequest {
                        error: err.to_string(),
                        request: request.to_vec().into(),
                    })),
                    GasInfo::free(),
                );
            }
        };
        match parsed {
            QueryRequest::Wasm(query) => self.wasm(query, gas_limit),
            QueryRequest::Bank(query) => bank(query),
            QueryRequest::Custom(CustomJson(custom)) => self.custom(&custom),
            QueryRequest::Staking(_) => unsupported("staking"),
            QueryRequest::Distribution(_) => unsupported("distribution"),
            QueryRequest::Grpc(_) => unsupported("grpc"),
            _ => unsupported("this query"),
        }
    }
}

/// VM gas for one custom query (1,000 SDK gas).
const CUSTOM_QUERY_GAS: u64 = 1_000 * super::gas::GAS_MULTIPLIER;

/// The chain has no native coins: every balance and supply is zero.
fn bank(query: BankQuery) -> QueryOutcome {
    let response = match query {
        BankQuery::Balance { denom, .. } | BankQuery::Supply { denom } => {
            json!({ "amount": { "denom": denom, "amount": "0" } })
        }
        BankQuery::AllDenomMetadata { .. } => json!({ "metadata": [], "next_key": null }),
        _ => return unsupported("bank denom metadata (this chain has no native coins)"),
    };
    answer_json(&response)
}

/// `BankQuery::AllBalances` was dropped from cosmwasm-std 3 but contracts
/// built with 1.x/2.x may still send it: answer with no coins.
fn legacy_bank_query(request: &[u8]) -> Option<QueryOutcome> {
    let value: serde_json::Value = serde_json::from_slice(request).ok()?;
    value.get("bank")?.get("all_balances")?;
    Some(answer_json(&json!({ "amount": [] })))
}

fn answer_json(value: &serde_json::Value) -> QueryOutcome {
    answer(to_json_binary(value), GasInfo::free())
}

fn answer(data: cosmwasm_std_vm::StdResult<Binary>, gas_info: GasInfo) -> QueryOutcome {
    match data {
        Ok(data) => (Ok(SystemResult::Ok(ContractResult::Ok(data))), gas_info),
        Err(err) => (Err(BackendError::unknown(err.to_string())), gas_info),
    }
}

fn answer_err(message: String) -> QueryOutcome {
    (
        Ok(SystemResult::Ok(ContractResult::Err(message))),
        GasInfo::free(),
    )
}

fn no_such_contract(addr: String) -> QueryOutcome {
    (
        Ok(SystemResult::Err(SystemError::NoSuchContract { addr })),
        GasInfo::free(),
    )
}

fn unsupported(kind: &str) -> QueryOutcome {
    (
        Ok(SystemResult::Err(SystemError::UnsupportedRequest {
            kind: kind.to_string(),
        })),
        GasInfo::free(),
    )
}

fn read_gas(key_len: usize, value_len: usize) -> GasInfo {
    GasInfo::with_externally_used(gas::to_cw(gas::read_cost(key_len, value_len)))
}
