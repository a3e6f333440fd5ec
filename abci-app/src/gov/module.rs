//! The gov module's place in the app: registering the suite, its queries,
//! its genesis with the genesis validators, evidence at the start of a
//! block and the validator set at the end of an epoch.

use cosmos_sdk_proto::Any;

use super::{epoch, misbehavior, msg_server, query, validators, GovGenesis};
use crate::codes::TxError;
use crate::context::{MsgResult, TxContext};
use crate::genesis::{parse_section, section_json};
use crate::module::{BlockContext, BlockEffects, BlockStage, GenesisContext, Module, QueryContext};

pub struct GovModule;

impl Module for GovModule {
    fn name(&self) -> &'static str {
        "gov"
    }

    fn handles(&self, type_url: &str) -> bool {
        msg_server::handles(type_url)
    }

    fn deliver(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        msg_server::handle(ctx, signer, msg)
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        _data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        query::handle(ctx.state, path)
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&GovGenesis::default())
    }

    /// Params, then the registry (after wasm's genesis, so it can name
    /// contracts deployed there), then the genesis validators, whom the
    /// module tracks from here on.
    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: GovGenesis = parse_section(self.name(), section)?;
        super::set_params(ctx.state, &genesis.params)?;
        if let Some(registry) = &genesis.registry {
            super::register(ctx.state, registry)?;
        }
        validators::apply(ctx.state, ctx.validators);
        let set = ctx.validators.iter().cloned().collect();
        validators::record_set_from(ctx.state, ctx.block.height + 1, &set);
        Ok(())
    }

    /// Evidence first, as the Cosmos SDK's BeginBlock: a double signer is
    /// out before the block's txs and decisions run.
    fn begin_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        let (events, removals) =
            misbehavior::begin_block(ctx.wasm, ctx.state, ctx.block, ctx.misbehavior)?;
        Ok(BlockEffects {
            events,
            validator_updates: removals,
        })
    }

    /// A key removed at begin-block is already out of the set the epoch
    /// starts from, so no key appears twice in the block's updates.
    fn end_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        Ok(BlockEffects {
            events: Vec::new(),
            validator_updates: epoch::end_block(ctx.wasm, ctx.state, ctx.block)?,
        })
    }

    fn block_phase(&self, stage: BlockStage) -> String {
        match stage {
            BlockStage::Begin => "evidence",
            BlockStage::End => "validator_set",
        }
        .to_string()
    }
}
