//! The training module's place in the app: update submissions, its
//! queries, the genesis lineages, and the decisions on pending updates at
//! the end of each block.

use cosmos_sdk_proto::Any;

use super::genesis::TrainingGenesis;
use super::{claim, decide, query, round, submit};
use crate::codes::TxError;
use crate::context::{MsgResult, TxContext};
use crate::genesis::{parse_section, section_json};
use crate::module::{BlockContext, BlockEffects, BlockStage, GenesisContext, Module, QueryContext};

pub struct TrainingModule;

impl Module for TrainingModule {
    fn name(&self) -> &'static str {
        "training"
    }

    fn handles(&self, type_url: &str) -> bool {
        submit::handles(type_url) || claim::handles(type_url)
    }

    fn deliver(
        &self,
        ctx: &mut TxContext<'_>,
        signer: &str,
        msg: &Any,
    ) -> Result<MsgResult, TxError> {
        if claim::handles(&msg.type_url) {
            return claim::handle(ctx, signer, msg);
        }
        submit::handle(ctx, signer, msg)
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        query::handle(ctx.state, path, data)
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&TrainingGenesis::default())
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: TrainingGenesis = parse_section(self.name(), section)?;
        genesis.apply(ctx.state, ctx.block.height)
    }

    fn end_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        let mut events = decide::end_block(ctx.wasm, ctx.state, ctx.block)?;
        // After the tally, so a round sees this block's decisions.
        let params = super::TrainingParams::load(ctx.state)?;
        events.extend(round::end_block(ctx.state, ctx.block, &params)?);
        events.extend(super::supply_rewards::pay_delta_rewards(
            ctx.wasm, ctx.state, ctx.block,
        )?);
        Ok(BlockEffects::from(events))
    }

    fn block_phase(&self, stage: BlockStage) -> String {
        match stage {
            BlockStage::Begin => "training_begin_block".to_string(),
            BlockStage::End => "training_decisions".to_string(),
        }
    }
}
