//! Running one entry point of one contract in a fresh VM instance, and
//! sorting out whose fault a failure is.

use std::sync::Arc;

use cosmwasm_std_vm::{Checksum, ContractResult, CustomMsg, Response};
use cosmwasm_vm::{Backend, Instance, InstanceOptions, VmError, VmResult};
use serde::{Deserialize, Serialize};

use super::backend::{ChainApi, ContractStorage};
use super::host::Host;
use super::querier::ChainQuerier;
use super::state;
use crate::codes::{Code, TxError};

pub(crate) type VmInstance = Instance<ChainApi, ContractStorage, ChainQuerier>;

/// A chain-specific message a contract put in `CosmosMsg::Custom`. It is
/// parsed as any JSON so that such a response is understood (and refused
/// with a clear error) instead of failing to deserialize.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct CustomJson(pub serde_json::Value);

impl CustomMsg for CustomJson {}

pub(crate) type ContractResponse = Response<CustomJson>;

/// Which contract and code a call runs, and what its instance costs.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub canonical: Vec<u8>,
    pub code_id: u64,
    pub checksum: Vec<u8>,
    /// Calls to this contract are priced as pinned (`state::is_pinned`).
    pub pinned: bool,
    /// Length of the code's Wasm bytes.
    pub code_len: u64,
}

impl Target {
    /// `contract` running the code `code_id` with this checksum, with its
    /// pricing read from `state`.
    pub fn load(
        state: &crate::store::StateView,
        canonical: &[u8],
        code_id: u64,
        checksum: Vec<u8>,
    ) -> Result<Self, TxError> {
        Ok(Self {
            pinned: state::is_pinned(state, canonical)?,
            code_len: state::code_len(state, &checksum)?,
            canonical: canonical.to_vec(),
            code_id,
            checksum,
        })
    }

    /// SDK gas charged before this contract's instance is created.
    pub fn instance_cost(&self) -> u64 {
        super::gas::instance_cost(self.pinned, self.code_len)
    }
}

/// Why a call produced no result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The contract returned `Err`.
    Contract(String),
    /// The instance ran out of gas.
    OutOfGas,
    /// The VM refused or trapped (contract panic, bad response, ...).
    Vm(String),
    /// The node could not read its own state or cache.
    Internal(String),
}

impl Failure {
    /// The tx error for a failed `action` ("execute", "instantiate", ...),
    /// worded like wasmd's: the cause, then what failed.
    pub fn into_tx_error(self, action: &str) -> TxError {
        match self {
            Failure::Contract(msg) => TxError::new(
                Code::ContractError,
                format!("contract error: {msg}: {action} wasm contract failed"),
            ),
            Failure::OutOfGas => TxError::new(
                Code::OutOfGas,
                format!("out of gas in wasm contract ({action})"),
            ),
            Failure::Vm(msg) => TxError::new(
                Code::VmError,
                format!("{action} wasm contract failed: vm error: {msg}"),
            ),
            Failure::Internal(msg) => TxError::new(Code::Internal, msg),
        }
    }
}

/// Runs `call` on a fresh instance of `target` with `gas_limit` CW gas and
/// returns its outcome together with the CW gas the instance used
/// (internally and externally).
pub(crate) fn run<T>(
    host: &Arc<Host>,
    target: &Target,
    query_depth: u32,
    gas_limit: u64,
    call: impl FnOnce(&mut VmInstance) -> VmResult<ContractResult<T>>,
) -> (Result<T, Failure>, u64) {
    let mut instance = match instance(host, target, query_depth, gas_limit) {
        Ok(instance) => instance,
        Err(failure) => return (Err(failure), 0),
    };
    let result = call(&mut instance);
    let report = instance.create_gas_report();
    drop(instance);
    let used = report
        .used_internally
        .saturating_add(report.used_externally);
    if let Some(message) = host.take_failure() {
        return (Err(Failure::Internal(message)), used);
    }
    let outcome = match result {
        Ok(ContractResult::Ok(value)) => Ok(value),
        Ok(ContractResult::Err(msg)) => Err(Failure::Contract(msg)),
        // A gas failure inside a host function reaches us as a runtime error
        // with the meter at zero, so look at the meter too.
        Err(VmError::GasDepletion { .. }) => Err(Failure::OutOfGas),
        Err(_) if report.remaining == 0 => Err(Failure::OutOfGas),
        Err(err) => Err(Failure::Vm(err.to_string())),
    };
    (outcome, used)
}

/// A new instance of `target`'s code. If this node's cache lacks the code
/// (fresh node, wiped cache), it is restored from the bytes kept in state.
fn instance(
    host: &Arc<Host>,
    target: &Target,
    query_depth: u32,
    gas_limit: u64,
) -> Result<VmInstance, Failure> {
    let checksum = Checksum::try_from(target.checksum.as_slice())
        .map_err(|e| Failure::Internal(format!("bad checksum of code {}: {e}", target.code_id)))?;
    let options = InstanceOptions { gas_limit };
    if target.pinned {
        // Best effort: pinning only makes the instance cheaper to create, its
        // price does not depend on it. A node whose cache lacks the code pins
        // it after restoring it below.
        let _ = host.cache.pin(&checksum);
    }
    let backend = || Backend {
        api: ChainApi,
        storage: ContractStorage::new(Arc::clone(host), &target.canonical),
        querier: ChainQuerier::new(Arc::clone(host), query_depth),
    };
    match host.cache.get_instance(&checksum, backend(), options) {
        Ok(instance) => return Ok(instance),
        Err(VmError::CacheErr { .. } | VmError::IntegrityErr { .. }) => {}
        Err(err) => return Err(Failure::Vm(err.to_string())),
    }
    restore_code(host, target.code_id, &checksum)?;
    if target.pinned {
        let _ = host.cache.pin(&checksum);
    }
    host.cache
        .get_instance(&checksum, backend(), options)
        .map_err(|err| Failure::Vm(err.to_string()))
}

/// The VM cache on disk is this node's own derived data: failing to write
/// it (a full disk, a read-only file system) says nothing about the tx, and
/// failing the tx for it would give this node another app hash than every
/// other node. So umd stops, as Commit does when the store fails: nothing of
/// the block is committed and CometBFT replays it once the disk is fixed.
pub(crate) fn stop_on_cache_failure(what: &str, err: &dyn std::fmt::Display) -> ! {
    tracing::error!("{what}: {err}; stopping");
    eprintln!("umd: {what}: {err}; stopping: the wasm VM cache cannot be written");
    std::process::exit(2)
}

/// Puts a code's bytes from state back into the VM cache.
pub(crate) fn restore_code(host: &Host, code_id: u64, checksum: &Checksum) -> Result<(), Failure> {
    let wasm = host
        .read(|state| state::code_bytes(state, checksum.as_slice()))
        .and_then(|bytes| bytes)
        .map_err(|e| Failure::Internal(e.log))?
        .ok_or_else(|| Failure::Internal(format!("bytes of code {code_id} missing from state")))?;
    // The code was checked when it was stored; only compile it again.
    let stored = host
        .cache
        .store_code(&wasm, false, true)
        .map_err(|e| match e {
            VmError::CacheErr { .. } => {
                stop_on_cache_failure(&format!("cannot restore code {code_id}"), &e)
            }
            _ => Failure::Internal(format!("cannot restore code {code_id}: {e}")),
        })?;
    if stored != *checksum {
        return Err(Failure::Internal(format!(
            "bytes of code {code_id} in state do not match its checksum"
        )));
    }
    tracing::info!(code_id, %checksum, "restored wasm code into the VM cache");
    Ok(())
}
