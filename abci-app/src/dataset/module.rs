//! The dataset module's place in the app: delta proposals, its queries and
//! the genesis datasets. Deltas are decided by the DAO's chain messages
//! (`crate::contract_requests`); an end-block expires those it never
//! decided.

use cosmos_sdk_proto::Any;

use super::genesis::DatasetGenesis;
use super::{msg_server, query};
use crate::codes::TxError;
use crate::context::{MsgResult, TxContext};
use crate::genesis::{parse_section, section_json};
use crate::module::{BlockContext, BlockEffects, BlockStage, GenesisContext, Module, QueryContext};

pub struct DatasetModule;

impl Module for DatasetModule {
    fn name(&self) -> &'static str {
        "dataset"
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
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        query::handle(ctx.state, path, data)
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&DatasetGenesis::default())
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: DatasetGenesis = parse_section(self.name(), section)?;
        genesis.apply(ctx.state, ctx.block.height)
    }

    fn end_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        super::decide::expire_due(ctx.state, ctx.block.height).map(Into::into)
    }

    fn block_phase(&self, stage: BlockStage) -> String {
        match stage {
            BlockStage::Begin => "dataset_begin_block",
            BlockStage::End => "dataset_delta_expiry",
        }
        .to_string()
    }
}
