//! The chain's modules, in order, and the loops over them that routing,
//! queries, genesis and the block stages are.

use cosmos_sdk_proto::Any;
use tendermint_proto::v0_38::abci::Misbehavior;

use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Event, MsgResult, TxContext};
use crate::genesis::AppState;
use crate::module::{
    init_genesis_in_order, unknown_message, BlockContext, BlockEffects, BlockStage, GenesisContext,
    Module, QueryContext,
};
use crate::store::StateView;
use crate::wasm::WasmVm;
use crate::{auth, dataset, fee, gov, karma, training, wasm};

/// The chain's modules in the order genesis, begin-block and end-block run
/// them, with the wasm VM they share.
pub struct Modules {
    wasm: WasmVm,
    list: Vec<Box<dyn Module>>,
}

impl Modules {
    /// The chain's modules. The order is consensus: genesis runs in it
    /// (wasm before what names contracts, datasets before the lineages that
    /// train on them) and so do end-blocks (training's rewards and slashes
    /// move stake before gov computes the next validator set).
    pub fn standard(wasm: WasmVm) -> Self {
        Self {
            wasm,
            list: standard_list(),
        }
    }

    /// Adds `module` after the others.
    pub fn with(mut self, module: Box<dyn Module>) -> Self {
        self.list.push(module);
        self
    }

    pub fn wasm(&self) -> &WasmVm {
        &self.wasm
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.list.iter().map(|module| module.as_ref())
    }

    fn owner(&self, type_url: &str) -> Option<&dyn Module> {
        self.iter().find(|module| module.handles(type_url))
    }

    pub fn route(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        match self.owner(&msg.type_url) {
            Some(module) => module.deliver(ctx, signer, msg),
            None => Err(unknown_message(&msg.type_url)),
        }
    }

    pub fn module_name(&self, type_url: &str) -> &'static str {
        self.owner(type_url)
            .map(|module| module.name())
            .unwrap_or("unknown")
    }

    /// The answer of the first module that owns `path`.
    pub fn query(
        &self,
        state: &StateView,
        block: &BlockInfo,
        path: &str,
        data: &[u8],
    ) -> Result<Vec<u8>, TxError> {
        let ctx = QueryContext {
            state,
            block,
            wasm: &self.wasm,
        };
        self.iter()
            .find_map(|module| module.query(&ctx, path, data))
            .unwrap_or_else(|| {
                Err(TxError::new(
                    Code::UnknownMessage,
                    format!("unknown query path {path:?}"),
                ))
            })
    }

    /// Applies `app_state`, one module after the other; an error names the
    /// module.
    pub fn init_genesis(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        validators: &[(Vec<u8>, u64)],
        app_state: &AppState,
    ) -> Result<(), String> {
        let names: Vec<&str> = self.iter().map(|module| module.name()).collect();
        app_state.check_sections(&names)?;
        let mut ctx = GenesisContext {
            state,
            block,
            wasm: &self.wasm,
            validators,
        };
        init_genesis_in_order(self.iter(), &mut ctx, app_state)
    }

    /// The `app_state` of a new chain: each module's default section.
    pub fn default_app_state() -> serde_json::Value {
        serde_json::Value::Object(
            standard_list()
                .iter()
                .map(|module| (module.name().to_string(), module.default_genesis()))
                .collect(),
        )
    }

    /// Runs one stage of the block over every module, each all or nothing:
    /// a module that fails midway leaves none of its writes (a slash
    /// without its update record, half a validator set). Every node meets
    /// the same error, so skipping keeps them in agreement; a block event
    /// tells operators.
    pub fn run_block_stage(
        &self,
        stage: BlockStage,
        state: &mut StateView,
        block: &BlockInfo,
        misbehavior: &[Misbehavior],
        signers: &[(Vec<u8>, u64)],
    ) -> BlockEffects {
        let mut all = BlockEffects::default();
        for module in self.iter() {
            state.checkpoint();
            let mut ctx = BlockContext {
                state: &mut *state,
                block,
                wasm: &self.wasm,
                misbehavior,
                signers,
            };
            let result = match stage {
                BlockStage::Begin => module.begin_block(&mut ctx),
                BlockStage::End => module.end_block(&mut ctx),
            };
            match result {
                Ok(effects) => {
                    state.keep_checkpoint();
                    all.events.extend(effects.events);
                    all.validator_updates.extend(effects.validator_updates);
                }
                Err(err) => {
                    state.discard_checkpoint();
                    let phase = module.block_phase(stage);
                    tracing::error!(height = block.height, phase, "undone: {}", err.log);
                    all.events.push(
                        Event::new("end_block_phase_failed")
                            .attr("phase", phase)
                            .attr("code", err.code.value().to_string())
                            .attr("log", &err.log),
                    );
                }
            }
        }
        all
    }
}

fn standard_list() -> Vec<Box<dyn Module>> {
    vec![
        Box::new(auth::AuthModule),
        Box::new(wasm::WasmModule),
        Box::new(dataset::DatasetModule),
        Box::new(training::TrainingModule),
        Box::new(gov::GovModule),
        Box::new(fee::FeeModule),
        Box::new(karma::KarmaModule),
    ]
}
