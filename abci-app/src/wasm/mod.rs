//! The wasm module: a CosmWasm host on `cosmwasm-vm`, compatible with
//! wasmd's `x/wasm` where clients can tell (messages, queries, events,
//! contract addresses), so CosmJS's `SigningCosmWasmClient` works unchanged.
//!
//! - `msg_server` decodes `cosmwasm.wasm.v1.Msg…` and checks the signer;
//! - `keeper` stores code and runs contracts, `dispatch` applies their
//!   responses (events, sub-messages, replies);
//! - `vm`, `host`, `backend` and `querier` connect `cosmwasm-vm` to
//!   the tx's state view;
//! - `query` answers the `cosmwasm.wasm.v1.Query` ABCI queries;
//! - `params` says who may upload code (`code_upload_access`);
//! - `state` and `state_key` own the module's records under `wasm/`.
//!
//! The VM cache on disk is derived data: every code's bytes are also kept in
//! state (once per checksum, however many code ids share them), and an
//! instance whose code is missing from the cache is restored from there, so
//! a node can wipe its cache (or sync from scratch) safely.
//!
//! A failed message leaves partial writes in the tx's state; the tx runner
//! discards them with its checkpoint (as it does for every module).

// Consensus code that runs untrusted contracts: no input may make it panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod address;
mod backend;
mod dispatch;
mod events;
pub mod gas;
mod genesis;
mod host;
mod keeper;
mod module;
mod msg_server;
mod params;
mod querier;
mod query;
mod state;
mod state_key;
mod vm;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cosmos_sdk_proto::cosmwasm::wasm::v1::ContractInfo;
use cosmwasm_vm::{Cache, CacheOptions, Size};

pub use self::address::HRP as ADDRESS_PREFIX;
pub use self::gas::{GAS_MULTIPLIER, INSTANCE_COST, PINNED_INSTANCE_COST, QUERY_GAS_LIMIT};
pub use self::genesis::{GenesisCode, GenesisContract, GenesisExecution, WasmGenesis};
use self::host::{Host, VmCache};
use self::keeper::{Done, Keeper};
pub use self::module::WasmModule;
pub use self::params::{code_upload_access, set_code_upload_access, CodeUploadAccess, WasmParams};
/// Prefix of every state key the module writes.
pub use self::state_key::MODULE_PREFIX as STATE_PREFIX;
use crate::codes::TxError;
use crate::context::{BlockInfo, CustomBindings, GasMeter, MsgResult, NoCustomBindings, TxContext};
use crate::store::StateView;

/// The state key under which contract `contract` (bech32) keeps its own
/// storage key `key`: for the chain's direct reads and writes of the NRN
/// token's balances (`gov::token_ledger`).
pub fn contract_storage_key(contract: &str, key: &[u8]) -> Result<Vec<u8>, TxError> {
    let canonical = address::decode_field("contract", contract)?;
    let mut full = state_key::contract_store_prefix(&canonical);
    full.extend_from_slice(key);
    Ok(full)
}

/// Prices calls to `contract` (bech32) as pinned, or not any more: for
/// the governance suite, whose modules every node keeps in memory.
pub fn set_pinned(state: &mut StateView, contract: &str, pinned: bool) -> Result<(), TxError> {
    let canonical = address::decode_field("contract", contract)?;
    state::set_pinned(state, &canonical, pinned);
    Ok(())
}

/// The bech32 address of the `instance_id`th contract instantiated without
/// a salt, running `code_id` (wasmd's classic address).
pub fn classic_contract_address(code_id: u64, instance_id: u64) -> Result<String, TxError> {
    address::encode(&address::classic_contract_address(code_id, instance_id))
        .map_err(|e| TxError::new(crate::codes::Code::Internal, e))
}

pub use self::limits::INSTANCE_MEMORY_MIB;

/// Limits that keep a contract from exhausting the node.
pub(crate) mod limits {
    /// Largest Wasm code accepted, zipped or unzipped.
    pub const MAX_WASM_SIZE: usize = 3 * 1024 * 1024;
    /// Nested smart queries (contract → contract → …).
    pub const MAX_QUERY_DEPTH: u32 = 10;
    /// Nested sub-messages (a contract's message making a message …).
    pub const MAX_DISPATCH_DEPTH: u32 = 10;
    pub const MAX_LABEL_LEN: usize = 128;
    pub const MAX_SALT_LEN: usize = 64;
    /// Linear memory of one instance.
    pub const INSTANCE_MEMORY_MIB: usize = 8;
    /// Compiled modules kept in memory, across all codes.
    pub const MEMORY_CACHE_MIB: usize = 100;
}

/// What the VM offers to contracts; a contract that needs more is refused at
/// upload. No `stargate`: the chain does not route protobuf messages or
/// queries from contracts.
pub const CAPABILITIES: [&str; 9] = [
    "iterator",
    "staking",
    "cosmwasm_1_1",
    "cosmwasm_1_2",
    "cosmwasm_1_3",
    "cosmwasm_1_4",
    "cosmwasm_2_0",
    "cosmwasm_2_1",
    "cosmwasm_2_2",
];

#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error("cannot open the wasm VM cache in {path}: {message}")]
    Cache { path: PathBuf, message: String },
}

/// The CosmWasm VM: the compiled-code cache and the chain's custom
/// bindings. Cheap to share: the VM cache is internally locked.
pub struct WasmVm {
    cache: Arc<VmCache>,
    bindings: Arc<dyn CustomBindings>,
}

impl WasmVm {
    /// Opens (or creates) the VM cache in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Result<Self, WasmError> {
        let options = CacheOptions::new(
            cache_dir,
            CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .collect::<HashSet<_>>(),
            Size::mebi(limits::MEMORY_CACHE_MIB),
            Size::mebi(limits::INSTANCE_MEMORY_MIB),
        );
        // SAFETY: `Cache::new` trusts the compiled modules it finds on disk.
        // The directory belongs to this node (nobody else writes there) and
        // only holds what this cache compiled itself.
        let cache = unsafe { Cache::new(options) }.map_err(|e| WasmError::Cache {
            path: cache_dir.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Self {
            cache: Arc::new(cache),
            bindings: Arc::new(NoCustomBindings),
        })
    }

    /// Routes contracts' custom messages and queries to `bindings`.
    pub fn with_bindings(mut self, bindings: Arc<dyn CustomBindings>) -> Self {
        self.bindings = bindings;
        self
    }

    /// Executes one tx message. `signer` is the bech32 address that signed
    /// the tx; the message's `sender` must equal it.
    ///
    /// On error, writes made before the failure may remain in `ctx.state`:
    /// the caller discards the tx's checkpoint.
    pub fn handle_msg(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &cosmos_sdk_proto::Any,
    ) -> Result<MsgResult, TxError> {
        self.with_keeper(ctx, |keeper, gas| {
            msg_server::handle(keeper, gas, signer, msg)
        })
    }

    /// Stores `wasm` (raw or gzipped) as code created by `dao`, whatever
    /// `code_upload_access` says: the DAO's upload path. The caller must have
    /// established that `dao` is the registered DAO (this module does not
    /// know the registry). Gas and deduplication are those of
    /// `MsgStoreCode`; the response is a `MsgStoreCodeResponse` with its
    /// `store_code` event. Same contract as [`Self::handle_msg`] for errors
    /// and partial writes; a simulation compiles new code in memory only.
    pub fn store_code_as(
        &self,
        ctx: &mut TxContext<'_>,
        dao: &str,
        wasm: &[u8],
    ) -> Result<MsgResult, TxError> {
        self.with_keeper(ctx, |keeper, gas| keeper.store_code_trusted(gas, dao, wasm))
    }

    /// Runs `work` on a keeper over the tx's state (moved into the VM host
    /// meanwhile); a simulation keeps compiled code in memory.
    fn with_keeper(
        &self,
        ctx: &mut TxContext<'_>,
        work: impl FnOnce(&Keeper<'_>, &mut GasMeter) -> Result<Done, TxError>,
    ) -> Result<MsgResult, TxError> {
        let gas = &mut *ctx.gas;
        let simulate = ctx.simulate;
        let done = Host::with_owned_state(
            &self.cache,
            &self.bindings,
            ctx.state,
            ctx.block,
            Some(ctx.tx_index),
            |host| {
                if simulate {
                    host.keep_code_in_memory();
                }
                work(&Keeper::new(host), gas)
            },
        )?;
        Ok(MsgResult {
            response: Some(done.response),
            events: done.events,
        })
    }

    /// Calls `contract`'s `sudo` entry point as the chain (for other
    /// modules: slashing, minting rewards), metered by `ctx.gas`. Same
    /// contract as [`Self::handle_msg`] for errors and partial writes; the
    /// response is a `MsgSudoContractResponse`.
    pub fn sudo(
        &self,
        ctx: &mut TxContext<'_>,
        contract: &str,
        msg: &[u8],
    ) -> Result<MsgResult, TxError> {
        let gas = &mut *ctx.gas;
        let done = Host::with_owned_state(
            &self.cache,
            &self.bindings,
            ctx.state,
            ctx.block,
            Some(ctx.tx_index),
            |host| Keeper::new(host).sudo(gas, 0, contract, msg),
        )?;
        Ok(MsgResult {
            response: Some(done.response),
            events: done.events,
        })
    }

    /// A smart query of `contract` against `state` (for other modules and
    /// the node's own services), with [`QUERY_GAS_LIMIT`]; returns the
    /// contract's JSON answer.
    pub fn query_smart(
        &self,
        state: &StateView,
        block: &BlockInfo,
        contract: &str,
        msg: &[u8],
    ) -> Result<Vec<u8>, TxError> {
        query::smart_query(&self.cache, &self.bindings, state, block, contract, msg)
    }

    /// The stored info of `contract` (`None` if there is no such contract).
    pub fn contract_info(
        &self,
        state: &StateView,
        contract: &str,
    ) -> Result<Option<ContractInfo>, TxError> {
        let canonical = address::decode_field("contract", contract)?;
        state::contract_info(state, &canonical)
    }

    #[cfg(test)]
    pub(crate) fn cache(&self) -> Arc<VmCache> {
        Arc::clone(&self.cache)
    }
}
