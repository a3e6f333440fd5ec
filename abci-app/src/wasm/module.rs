//! The wasm module's place in the app: its tx messages, queries and
//! genesis, answered by the VM that the app's module list shares
//! with every module through their contexts.

use cosmos_sdk_proto::cosmwasm::wasm::v1::ContractInfo;
use cosmos_sdk_proto::Any;

use super::host::Host;
use super::{genesis, msg_server, query, WasmGenesis, WasmVm};
use crate::codes::TxError;
use crate::context::{BlockInfo, Contracts, MsgResult, TxContext};
use crate::genesis::{parse_section, section_json};
use crate::module::{GenesisContext, Module, QueryContext};
use crate::store::StateView;

pub struct WasmModule;

impl Module for WasmModule {
    fn name(&self) -> &'static str {
        "wasm"
    }

    fn handles(&self, type_url: &str) -> bool {
        msg_server::TYPE_URLS.contains(&type_url)
    }

    fn deliver(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        let wasm = ctx.wasm;
        wasm.execute(ctx, signer, msg)
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        ctx.wasm.abci_query(ctx.state, ctx.block, path, data)
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&WasmGenesis::default())
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        ctx.wasm.init_genesis(ctx.state, ctx.block, section)
    }
}

impl Contracts for WasmVm {
    fn execute(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        self.handle_msg(ctx, signer, msg)
    }

    fn sudo(
        &self,
        ctx: &mut TxContext<'_>,
        contract: &str,
        msg: &[u8],
    ) -> Result<MsgResult, TxError> {
        WasmVm::sudo(self, ctx, contract, msg)
    }

    fn query_smart(
        &self,
        state: &StateView,
        block: &BlockInfo,
        contract: &str,
        msg: &[u8],
    ) -> Result<Vec<u8>, TxError> {
        WasmVm::query_smart(self, state, block, contract, msg)
    }

    fn contract_creator(
        &self,
        state: &StateView,
        contract: &str,
    ) -> Result<Option<String>, TxError> {
        Ok(self
            .contract_info(state, contract)?
            .map(|info: ContractInfo| info.creator))
    }

    fn abci_query(
        &self,
        state: &StateView,
        block: &BlockInfo,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        query::handle(&self.cache, &self.bindings, state, block, path, data)
    }

    fn init_genesis(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let wasm_genesis: WasmGenesis = parse_section("wasm", section)?;
        self.init_genesis_from(state, block, &wasm_genesis)
    }
}

impl WasmVm {
    /// Stores the genesis codes and instantiates the genesis contracts.
    pub fn init_genesis_from(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        wasm_genesis: &WasmGenesis,
    ) -> Result<(), TxError> {
        Host::with_owned_state(&self.cache, &self.bindings, state, block, Some(0), |host| {
            genesis::run(host, wasm_genesis)
        })
    }
}
