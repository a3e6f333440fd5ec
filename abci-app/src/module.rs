//! The module contract.
//!
//! Every capability of the state machine is a [`Module`]: a name, the tx
//! messages and query paths it answers, its part of genesis and what it does
//! at the start and end of each block. The app only loops over its list of
//! modules (`crate::app::modules`), so adding a module is its folder plus
//! one line there. Shared handles (the wasm VM, the block) reach handlers in
//! their context ([`TxContext`], [`QueryContext`], [`GenesisContext`],
//! [`BlockContext`]), never as extra arguments. This file imports no
//! module, so every module can depend on it without a cycle.

use cosmos_sdk_proto::Any;
use tendermint_proto::v0_38::abci::Misbehavior;

use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, Contracts, Event, MsgResult, TxContext};
use crate::genesis::AppState;
use crate::store::StateView;

/// What an ABCI query handler sees: the last committed state.
pub struct QueryContext<'a> {
    pub state: &'a StateView,
    /// The last committed block, which contracts' `env` reports.
    pub block: &'a BlockInfo,
    pub wasm: &'a dyn Contracts,
}

/// What a module's genesis sees.
pub struct GenesisContext<'a> {
    pub state: &'a mut StateView,
    /// The block before the first: the chain id and initial height.
    pub block: &'a BlockInfo,
    pub wasm: &'a dyn Contracts,
    /// The validators of genesis.json: ed25519 keys and powers.
    pub validators: &'a [(Vec<u8>, u64)],
}

/// What a module sees at the start or end of a block.
pub struct BlockContext<'a> {
    pub state: &'a mut StateView,
    pub block: &'a BlockInfo,
    pub wasm: &'a dyn Contracts,
    /// The evidence CometBFT reported with the block (empty at end-block).
    pub misbehavior: &'a [Misbehavior],
    /// The validators that signed the previous block (consensus address,
    /// power), in CometBFT's order; empty at end-block.
    pub signers: &'a [(Vec<u8>, u64)],
}

/// What a module's begin- or end-block leaves behind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BlockEffects {
    pub events: Vec<Event>,
    /// Validator power changes (ed25519 key, new power; 0 removes), in the
    /// order CometBFT should apply them.
    pub validator_updates: Vec<(Vec<u8>, u64)>,
}

impl From<Vec<Event>> for BlockEffects {
    fn from(events: Vec<Event>) -> Self {
        Self {
            events,
            validator_updates: Vec::new(),
        }
    }
}

/// One domain of the state machine. Every method has a default that does
/// nothing, so a module implements only what it has.
pub trait Module: Send + Sync {
    /// The `module` attribute of its messages' events and the key of its
    /// section in genesis `app_state`.
    fn name(&self) -> &'static str;

    /// Whether tx messages of `type_url` are this module's.
    fn handles(&self, _type_url: &str) -> bool {
        false
    }

    /// Executes one tx message of a type it [`handles`](Self::handles);
    /// `signer` is the address that signed the tx. On error the tx runner
    /// discards every write of the tx.
    fn deliver(
        &self,
        _ctx: &mut TxContext<'_>,
        _signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        Err(unknown_message(&msg.type_url))
    }

    /// Answers an ABCI query path it owns; `None` for a path it does not.
    fn query(
        &self,
        _ctx: &QueryContext<'_>,
        _path: &str,
        _data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        None
    }

    /// The module's section of a new genesis (`umd init`).
    fn default_genesis(&self) -> serde_json::Value {
        serde_json::Value::Object(Default::default())
    }

    /// Writes its part of genesis from its `app_state` section (`Null`
    /// when the section is absent).
    fn init_genesis(
        &self,
        _ctx: &mut GenesisContext<'_>,
        _section: &serde_json::Value,
    ) -> Result<(), TxError> {
        Ok(())
    }

    /// Runs before the block's txs.
    fn begin_block(&self, _ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        Ok(BlockEffects::default())
    }

    /// Runs after the block's txs.
    fn end_block(&self, _ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        Ok(BlockEffects::default())
    }

    /// The `phase` that `end_block_phase_failed` names when its begin- or
    /// end-block fails (operators' alerts match on these).
    fn block_phase(&self, stage: BlockStage) -> String {
        format!("{}_{}", self.name(), stage.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockStage {
    Begin,
    End,
}

impl BlockStage {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockStage::Begin => "begin_block",
            BlockStage::End => "end_block",
        }
    }
}

pub fn unknown_message(type_url: &str) -> TxError {
    TxError::new(
        Code::UnknownMessage,
        format!("unknown message type {type_url:?}"),
    )
}

/// Runs each module's genesis on its section of `app_state`, in order; an
/// error names the module.
pub fn init_genesis_in_order<'m>(
    modules: impl IntoIterator<Item = &'m dyn Module>,
    ctx: &mut GenesisContext<'_>,
    app_state: &AppState,
) -> Result<(), String> {
    for module in modules {
        module
            .init_genesis(ctx, app_state.section(module.name()))
            .map_err(|err| format!("genesis {}: {}", module.name(), err.log))?;
    }
    Ok(())
}

/// Applies the sections of `app_state` that `modules` own, in that order
/// (unit tests that need the contracts or the registry, not a whole chain).
#[cfg(test)]
pub fn apply_genesis_sections(
    modules: &[&dyn Module],
    wasm: &dyn Contracts,
    state: &mut StateView,
    block: &BlockInfo,
    app_state: &serde_json::Value,
) -> Result<(), String> {
    let app_state = AppState::from_json(app_state.to_string().as_bytes())?;
    let mut ctx = GenesisContext {
        state,
        block,
        wasm,
        validators: &[],
    };
    init_genesis_in_order(modules.iter().copied(), &mut ctx, &app_state)
}
