//! The wasm keeper: storing code, creating and running contracts, with
//! wasmd's semantics. What contracts return is applied in [`super::dispatch`].
//!
//! Every state change goes through the [`Host`]; the tx's checkpoint (or the
//! caller's) is what undoes a failed message. Sub-messages get their own
//! checkpoint, so a failing sub-message that the contract handles in `reply`
//! leaves no trace.

use std::io::Read;
use std::sync::Arc;

use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    AccessConfig, AccessType, CodeInfo, ContractCodeHistoryEntry, ContractCodeHistoryOperationType,
    ContractInfo, MsgClearAdminResponse, MsgExecuteContractResponse,
    MsgInstantiateContract2Response, MsgInstantiateContractResponse, MsgMigrateContractResponse,
    MsgStoreCodeResponse, MsgSudoContractResponse, MsgUpdateAdminResponse,
};
use cosmos_sdk_proto::Any;
use cosmwasm_std_vm::{Addr, Checksum, MessageInfo, MigrateInfo};
use cosmwasm_vm::{
    call_execute, call_instantiate, call_migrate, call_migrate_with_info, call_query, call_sudo,
    VmError, VmResult,
};
use prost::{Message, Name};

use super::address;
use super::events;
use super::gas;
use super::host::Host;
use super::limits::{MAX_LABEL_LEN, MAX_SALT_LEN, MAX_WASM_SIZE};
use super::params;
use super::state;
use super::state_key;
use super::vm::{self, Failure, Target, VmInstance};
use crate::codes::{Code, TxError};
use crate::context::{Event, GasMeter};

/// One wasm action, from a tx message or from a contract's `WasmMsg`.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    StoreCode {
        wasm: Vec<u8>,
    },
    Instantiate {
        admin: Option<String>,
        code_id: u64,
        label: String,
        msg: Vec<u8>,
        /// `Some` for `Instantiate2` (predictable address).
        salt: Option<Salt>,
    },
    Execute {
        contract: String,
        msg: Vec<u8>,
    },
    Migrate {
        contract: String,
        code_id: u64,
        msg: Vec<u8>,
    },
    /// `new_admin: None` clears the admin.
    UpdateAdmin {
        contract: String,
        new_admin: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Salt {
    pub salt: Vec<u8>,
    pub fix_msg: bool,
}

/// What a successful action leaves behind: its `Msg…Response` and events.
#[derive(Clone, Debug)]
pub(crate) struct Done {
    pub response: Any,
    pub events: Vec<Event>,
}

pub(crate) struct Keeper<'h> {
    pub(super) host: &'h Arc<Host>,
}

impl<'h> Keeper<'h> {
    pub fn new(host: &'h Arc<Host>) -> Self {
        Self { host }
    }

    /// Performs `action` for `sender` (an account, or a contract for its
    /// sub-messages) at sub-message depth `depth` (0 for a tx message).
    pub fn run(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        sender: &str,
        action: Action,
    ) -> Result<Done, TxError> {
        address::decode_field("sender", sender)?;
        match action {
            Action::StoreCode { wasm } => {
                // Before any work: a refused upload costs the chain nothing.
                let access = self.host.read(params::code_upload_access)??;
                access.require_admits(sender)?;
                self.store_code(gas, sender, &wasm)
            }
            Action::Instantiate {
                admin,
                code_id,
                label,
                msg,
                salt,
            } => self.instantiate(gas, depth, sender, admin, code_id, label, msg, salt),
            Action::Execute { contract, msg } => self.execute(gas, depth, sender, &contract, &msg),
            Action::Migrate {
                contract,
                code_id,
                msg,
            } => self.migrate(gas, depth, sender, &contract, code_id, &msg),
            Action::UpdateAdmin {
                contract,
                new_admin,
            } => self.update_admin(sender, &contract, new_admin),
        }
    }

    /// A smart query from outside a tx (ABCI), metered by `gas`.
    pub fn query_smart(
        &self,
        gas: &mut GasMeter,
        contract: &str,
        msg: &[u8],
    ) -> Result<Vec<u8>, TxError> {
        require_json("query data", msg)?;
        let (target, _) = self.contract(contract)?;
        let env = self.host.env(contract);
        let data = self.call(gas, &target, "query", |instance| {
            call_query(instance, &env, msg)
        })?;
        Ok(data.to_vec())
    }

    /// Calls `contract`'s `sudo` entry point on behalf of the chain itself
    /// (no sender, no signature): how modules reach contracts (slashing,
    /// minting rewards). Sub-messages run with the contract as sender, below
    /// `depth`: 0 for a module's own call, the custom message's depth for a
    /// sudo a contract's custom message asked for, so the sub-message depth
    /// limit holds across it.
    pub fn sudo(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        contract: &str,
        msg: &[u8],
    ) -> Result<Done, TxError> {
        require_json("sudo msg", msg)?;
        let (target, _) = self.contract(contract)?;
        let env = self.host.env(contract);
        let response = self.call(gas, &target, "sudo", |instance| {
            call_sudo(instance, &env, msg)
        })?;
        let initial = vec![events::sudo(contract)];
        let (data, events) = self.finish(gas, depth, contract, response, initial)?;
        Ok(Done {
            response: pack(&MsgSudoContractResponse {
                data: data.unwrap_or_default(),
            }),
            events,
        })
    }

    /// Stores code for `creator` whatever `code_upload_access` says: for
    /// genesis and the DAO, whose right to upload the caller established.
    /// Gas and deduplication are the same as for a message.
    pub fn store_code_trusted(
        &self,
        gas: &mut GasMeter,
        creator: &str,
        wasm: &[u8],
    ) -> Result<Done, TxError> {
        address::decode_field("creator", creator)?;
        self.store_code(gas, creator, wasm)
    }

    /// Every upload gets a new code id, as on wasmd, but the bytes are
    /// stored (and paid for, and compiled) only by the first upload of
    /// them: later ones pay for hashing and their small record.
    fn store_code(&self, gas: &mut GasMeter, sender: &str, wasm: &[u8]) -> Result<Done, TxError> {
        let wasm = unzip(wasm)?;
        let len = wasm.len() as u64;
        gas.consume(
            gas::HASH_COST_PER_BYTE.saturating_mul(len),
            "hashing wasm code",
        )?;
        let checksum = Checksum::generate(&wasm);
        // State, not this node's VM cache, decides: every node must charge
        // the same gas.
        let stored = self
            .host
            .read(|s| state::has_code_bytes(s, checksum.as_slice()))??;
        if !stored {
            gas.consume(
                gas::COMPILE_COST_PER_BYTE.saturating_mul(len),
                "compiling wasm code",
            )?;
            gas.consume(
                gas::write_cost(state_key::code_bytes(checksum.as_slice()).len(), wasm.len()),
                "storing wasm code",
            )?;
            self.compile_unless_cached(&wasm, &checksum)?;
        }
        let info = CodeInfo {
            code_hash: checksum.as_slice().to_vec(),
            creator: sender.to_string(),
            instantiate_config: Some(AccessConfig {
                permission: AccessType::Everybody as i32,
                addresses: Vec::new(),
            }),
        };
        // Code ids are 8 bytes in the key whatever their value.
        gas.consume(
            gas::write_cost(state_key::code_info(0).len(), info.encoded_len()),
            "storing the code record",
        )?;
        let code_id = self.host.write(|s| -> Result<u64, TxError> {
            let code_id = state::next_code_id(s)?;
            state::save_code_info(s, code_id, &info);
            if !stored {
                state::save_code_bytes(s, checksum.as_slice(), &wasm);
            }
            Ok(code_id)
        })??;
        Ok(Done {
            response: pack(&MsgStoreCodeResponse {
                code_id,
                checksum: checksum.as_slice().to_vec(),
            }),
            events: vec![events::store_code(&checksum.to_hex(), code_id)],
        })
    }

    /// Checks and compiles `wasm` into the VM cache, unless the same bytes
    /// are there already. Compiling them again would make cosmwasm-vm
    /// rewrite the compiled module's file in place, and modules loaded from
    /// that file are memory-mapped: an instance reading a page the rewrite
    /// truncated dies of SIGBUS. Skipping is safe for consensus: the cache
    /// checked the bytes when it first stored them (e.g. for a tx that failed
    /// later), so every node gets the same result whatever its cache holds,
    /// and the gas was charged above either way.
    fn compile_unless_cached(&self, wasm: &[u8], checksum: &Checksum) -> Result<(), TxError> {
        // load_wasm verifies the file against the checksum, so a damaged
        // copy is compiled and written again.
        if self.host.cache.load_wasm(checksum).is_ok() {
            return Ok(());
        }
        self.host
            .cache
            .store_code(wasm, true, self.host.persists_code())
            .map(|_| ())
            .map_err(|err| match err {
                VmError::CacheErr { .. } => {
                    vm::stop_on_cache_failure("cannot store wasm code", &err)
                }
                _ => TxError::new(Code::InvalidWasm, format!("invalid wasm code: {err}")),
            })
    }

    #[allow(clippy::too_many_arguments)]
    fn instantiate(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        sender: &str,
        admin: Option<String>,
        code_id: u64,
        label: String,
        msg: Vec<u8>,
        salt: Option<Salt>,
    ) -> Result<Done, TxError> {
        require_label(&label)?;
        require_json("init msg", &msg)?;
        let admin = admin.filter(|admin| !admin.is_empty());
        if let Some(admin) = &admin {
            address::decode_field("admin", admin)?;
        }
        let code = self.host.read(|s| state::require_code_info(s, code_id))??;
        let canonical = match &salt {
            None => {
                let instance_id = self.host.write(state::next_instance_id)??;
                address::classic_contract_address(code_id, instance_id)
            }
            Some(Salt { salt, fix_msg }) => {
                if salt.is_empty() || salt.len() > MAX_SALT_LEN {
                    return Err(TxError::new(
                        Code::InvalidRequest,
                        format!("salt must be 1 to {MAX_SALT_LEN} bytes"),
                    ));
                }
                let creator = address::decode_field("sender", sender)?;
                address::predictable_contract_address(
                    &code.code_hash,
                    &creator,
                    salt,
                    &msg,
                    *fix_msg,
                )?
            }
        };
        let contract = address::encode_derived(&canonical)?;
        if self
            .host
            .read(|s| state::contract_info(s, &canonical))??
            .is_some()
        {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!("contract address {contract} already exists"),
            ));
        }
        let target = self
            .host
            .read(|s| Target::load(s, &canonical, code_id, code.code_hash))??;
        let env = self.host.env(&contract);
        let info = message_info(sender);
        let response = self.call(gas, &target, "instantiate", |instance| {
            call_instantiate(instance, &env, &info, &msg)
        })?;

        // Stored before the sub-messages run, so that they can call back.
        let created = state::position(self.host.block.height, self.host.tx_index);
        let contract_info = ContractInfo {
            code_id,
            creator: sender.to_string(),
            admin: admin.unwrap_or_default(),
            label,
            created: Some(created.clone()),
            ibc_port_id: String::new(),
            extension: None,
        };
        let entry = ContractCodeHistoryEntry {
            operation: ContractCodeHistoryOperationType::Init as i32,
            code_id,
            updated: Some(created),
            msg,
        };
        self.host.write(|s| -> Result<(), TxError> {
            state::append_history(s, &canonical, &entry)?;
            state::save_contract_info(s, &canonical, &contract_info);
            Ok(())
        })??;

        let initial = vec![events::instantiate(&contract, code_id)];
        let (data, events) = self.finish(gas, depth, &contract, response, initial)?;
        let data = data.unwrap_or_default();
        let response = match salt {
            None => pack(&MsgInstantiateContractResponse {
                address: contract,
                data,
            }),
            Some(_) => pack(&MsgInstantiateContract2Response {
                address: contract,
                data,
            }),
        };
        Ok(Done { response, events })
    }

    fn execute(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        sender: &str,
        contract: &str,
        msg: &[u8],
    ) -> Result<Done, TxError> {
        require_json("msg", msg)?;
        let (target, _) = self.contract(contract)?;
        let env = self.host.env(contract);
        let info = message_info(sender);
        let response = self.call(gas, &target, "execute", |instance| {
            call_execute(instance, &env, &info, msg)
        })?;
        let initial = vec![events::execute(contract)];
        let (data, events) = self.finish(gas, depth, contract, response, initial)?;
        Ok(Done {
            response: pack(&MsgExecuteContractResponse {
                data: data.unwrap_or_default(),
            }),
            events,
        })
    }

    fn migrate(
        &self,
        gas: &mut GasMeter,
        depth: u32,
        sender: &str,
        contract: &str,
        code_id: u64,
        msg: &[u8],
    ) -> Result<Done, TxError> {
        require_json("migrate msg", msg)?;
        let (old, mut info) = self.contract(contract)?;
        require_admin(&info, sender, contract)?;
        let code = self.host.read(|s| state::require_code_info(s, code_id))??;
        let target = self
            .host
            .read(|s| Target::load(s, &old.canonical, code_id, code.code_hash))??;
        // Code built for CosmWasm 2.2+ may declare a migrate version; its
        // `migrate` then takes a `MigrateInfo` as well.
        let migrate_info = match self.migrate_version(&target)? {
            None => None,
            Some(_) => Some(MigrateInfo {
                sender: Addr::unchecked(sender),
                old_migrate_version: self.migrate_version(&old)?,
            }),
        };
        let env = self.host.env(contract);
        let response = self.call(gas, &target, "migrate", |instance| match &migrate_info {
            Some(migrate_info) => call_migrate_with_info(instance, &env, msg, migrate_info),
            None => call_migrate(instance, &env, msg),
        })?;

        info.code_id = code_id;
        let entry = ContractCodeHistoryEntry {
            operation: ContractCodeHistoryOperationType::Migrate as i32,
            code_id,
            updated: Some(state::position(self.host.block.height, self.host.tx_index)),
            msg: msg.to_vec(),
        };
        self.host.write(|s| -> Result<(), TxError> {
            state::append_history(s, &target.canonical, &entry)?;
            state::save_contract_info(s, &target.canonical, &info);
            Ok(())
        })??;

        let initial = vec![events::migrate(contract, code_id)];
        let (data, events) = self.finish(gas, depth, contract, response, initial)?;
        Ok(Done {
            response: pack(&MsgMigrateContractResponse {
                data: data.unwrap_or_default(),
            }),
            events,
        })
    }

    fn update_admin(
        &self,
        sender: &str,
        contract: &str,
        new_admin: Option<String>,
    ) -> Result<Done, TxError> {
        let (target, mut info) = self.contract(contract)?;
        require_admin(&info, sender, contract)?;
        let response = match &new_admin {
            Some(new_admin) => {
                address::decode_field("new_admin", new_admin)?;
                pack(&MsgUpdateAdminResponse {})
            }
            None => pack(&MsgClearAdminResponse {}),
        };
        info.admin = new_admin.unwrap_or_default();
        self.host
            .write(|s| state::save_contract_info(s, &target.canonical, &info))?;
        Ok(Done {
            response,
            events: vec![events::update_admin(contract, &info.admin)],
        })
    }

    /// The contract at `contract` and its info; `NotFound` if there is none.
    pub(super) fn contract(&self, contract: &str) -> Result<(Target, ContractInfo), TxError> {
        let canonical = address::decode_field("contract", contract)?;
        self.host.read(|s| -> Result<_, TxError> {
            let info = state::contract_info(s, &canonical)?.ok_or_else(|| {
                TxError::new(Code::NotFound, format!("contract {contract} not found"))
            })?;
            let code = state::require_code_info(s, info.code_id)?;
            let target = Target::load(s, &canonical, info.code_id, code.code_hash)?;
            Ok((target, info))
        })?
    }

    /// The migrate version `target`'s code declares, if any.
    fn migrate_version(&self, target: &Target) -> Result<Option<u64>, TxError> {
        let checksum = Checksum::try_from(target.checksum.as_slice()).map_err(|e| {
            TxError::new(
                Code::Internal,
                format!("bad checksum of code {}: {e}", target.code_id),
            )
        })?;
        let report = match self.host.cache.analyze(&checksum) {
            Ok(report) => report,
            Err(_) => {
                vm::restore_code(self.host, target.code_id, &checksum)
                    .map_err(|f| f.into_tx_error("migrate"))?;
                self.host.cache.analyze(&checksum).map_err(|e| {
                    TxError::new(
                        Code::Internal,
                        format!("cannot analyze code {}: {e}", target.code_id),
                    )
                })?
            }
        };
        Ok(report.contract_migrate_version)
    }

    /// Runs one entry point: charges the instance cost, offers the VM all
    /// remaining gas and charges what it used.
    pub(super) fn call<T>(
        &self,
        gas: &mut GasMeter,
        target: &Target,
        action: &str,
        entry_point: impl FnOnce(&mut VmInstance) -> VmResult<cosmwasm_std_vm::ContractResult<T>>,
    ) -> Result<T, TxError> {
        gas.consume(target.instance_cost(), "loading a wasm instance")?;
        // Contract code gets what is left of the tx's contract allowance
        // (max_tx_contract_gas), not all of its gas: the time an endless
        // loop can take is bounded whatever gas limit the tx asked for.
        let offered = gas.contract_remaining();
        let capped = offered < gas.remaining();
        let (outcome, used) = vm::run(self.host, target, 0, gas::to_cw(offered), entry_point);
        let sdk_used = gas::to_sdk(used);
        let charged = gas.consume(sdk_used, "wasm contract execution");
        gas.note_contract(sdk_used);
        match outcome {
            Err(failure @ Failure::Internal(_)) => Err(failure.into_tx_error(action)),
            Err(Failure::OutOfGas) if capped => {
                charged?;
                Err(TxError::new(
                    Code::OutOfGas,
                    format!(
                        "out of gas in {action}: the contract code of one tx may spend at most \
                         max_tx_contract_gas gas; this call was offered the {offered} left"
                    ),
                ))
            }
            Err(Failure::OutOfGas) => Err(exhaust(gas, action)),
            Err(failure) => {
                charged?;
                Err(failure.into_tx_error(action))
            }
            Ok(value) => {
                charged?;
                Ok(value)
            }
        }
    }
}

pub(crate) fn require_no_funds(no_funds: bool) -> Result<(), TxError> {
    if no_funds {
        Ok(())
    } else {
        Err(TxError::new(
            Code::FundsNotSupported,
            "funds are not supported: this chain has no native coins (NRN is a cw20 token)",
        ))
    }
}

fn require_json(what: &str, bytes: &[u8]) -> Result<(), TxError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| {
            TxError::new(
                Code::InvalidRequest,
                format!("{what} is not valid JSON: {e}"),
            )
        })
}

/// wasmd's label rules: present, at most 128 bytes, no outer whitespace.
fn require_label(label: &str) -> Result<(), TxError> {
    let problem = if label.is_empty() {
        "label must not be empty"
    } else if label.len() > MAX_LABEL_LEN {
        "label must be at most 128 bytes"
    } else if label.trim() != label {
        "label must not start or end with whitespace"
    } else {
        return Ok(());
    };
    Err(TxError::new(Code::InvalidRequest, problem))
}

fn require_admin(info: &ContractInfo, sender: &str, contract: &str) -> Result<(), TxError> {
    if info.admin.is_empty() {
        return Err(TxError::new(
            Code::NotPermitted,
            format!("contract {contract} has no admin"),
        ));
    }
    if info.admin != sender {
        return Err(TxError::new(
            Code::NotPermitted,
            format!("{sender} is not the admin of contract {contract}"),
        ));
    }
    Ok(())
}

fn message_info(sender: &str) -> MessageInfo {
    MessageInfo {
        sender: Addr::unchecked(sender),
        funds: Vec::new(),
    }
}

/// Empties the meter and returns the out-of-gas error.
fn exhaust(gas: &mut GasMeter, action: &str) -> TxError {
    let what = format!("wasm contract ({action})");
    match gas.consume(gas.remaining().saturating_add(1), &what) {
        Err(err) => err,
        Ok(()) => TxError::new(Code::OutOfGas, format!("out of gas in {what}")),
    }
}

pub(crate) fn pack<M: Message + Name>(msg: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

/// Wasm code as stored: gzip (magic `1f 8b`) is inflated, and neither the
/// upload nor the result may exceed [`MAX_WASM_SIZE`].
fn unzip(wasm: &[u8]) -> Result<Vec<u8>, TxError> {
    if wasm.is_empty() {
        return Err(TxError::new(Code::InvalidWasm, "wasm code is empty"));
    }
    let too_large = || {
        TxError::new(
            Code::InvalidWasm,
            format!("wasm code is larger than {MAX_WASM_SIZE} bytes"),
        )
    };
    if wasm.len() > MAX_WASM_SIZE {
        return Err(too_large());
    }
    if !wasm.starts_with(&[0x1f, 0x8b]) {
        return Ok(wasm.to_vec());
    }
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(wasm)
        .take(MAX_WASM_SIZE as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| TxError::new(Code::InvalidWasm, format!("cannot gunzip wasm code: {e}")))?;
    if inflated.len() > MAX_WASM_SIZE {
        return Err(too_large());
    }
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn unzip_inflates_gzip_and_enforces_the_size_limit() {
        let plain = b"\0asm\x01\0\0\0".to_vec();
        assert_eq!(unzip(&plain).unwrap(), plain);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&plain).unwrap();
        assert_eq!(unzip(&encoder.finish().unwrap()).unwrap(), plain);

        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![0u8; MAX_WASM_SIZE + 1]).unwrap();
        let err = unzip(&bomb.finish().unwrap()).unwrap_err();
        assert_eq!(err.code, Code::InvalidWasm);
        assert!(err.log.contains("larger"));
        assert_eq!(
            unzip(&[0x1f, 0x8b, 1, 2]).unwrap_err().code,
            Code::InvalidWasm
        );
        assert_eq!(unzip(&[]).unwrap_err().code, Code::InvalidWasm);
    }

    #[test]
    fn labels_follow_wasmd_rules() {
        assert!(require_label("nrn").is_ok());
        for bad in ["", " nrn", "nrn\n", &"x".repeat(129)] {
            assert_eq!(require_label(bad).unwrap_err().code, Code::InvalidRequest);
        }
    }
}
