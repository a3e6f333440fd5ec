//! The fee module's place in the app: its params in genesis, paying the
//! validators at the start of each block, its queries.

use serde::{Deserialize, Serialize};

use super::{distribute, FeeParams};
use crate::codes::{Code, TxError};
use crate::genesis::{parse_section, section_json};
use crate::module::{BlockContext, BlockEffects, BlockStage, GenesisContext, Module, QueryContext};

/// JSON [`FeeParams`].
pub const PARAMS_PATH: &str = "custom/fee/params";
/// JSON [`FeeStatus`]: the module accounts and what awaits payout.
pub const STATUS_PATH: &str = "custom/fee/status";

pub struct FeeModule;

/// `app_state.fee`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeeGenesis {
    pub params: FeeParams,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeStatus {
    pub fee_collector: String,
    pub verification_escrow: String,
    /// unrn in the collector not yet paid to validators (a decimal string,
    /// as cw20 amounts are).
    pub undistributed: String,
}

impl Module for FeeModule {
    fn name(&self) -> &'static str {
        "fee"
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        _data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        let answer = match path {
            PARAMS_PATH => FeeParams::load(ctx.state).and_then(|params| to_json(&params)),
            STATUS_PATH => super::undistributed(ctx.state).and_then(|amount| {
                to_json(&FeeStatus {
                    fee_collector: super::fee_collector(),
                    verification_escrow: super::verification_escrow(),
                    undistributed: amount.to_string(),
                })
            }),
            _ => return None,
        };
        Some(answer)
    }

    fn default_genesis(&self) -> serde_json::Value {
        section_json(&FeeGenesis::default())
    }

    fn init_genesis(
        &self,
        ctx: &mut GenesisContext<'_>,
        section: &serde_json::Value,
    ) -> Result<(), TxError> {
        let genesis: FeeGenesis = parse_section(self.name(), section)?;
        genesis.params.save(ctx.state)
    }

    /// The previous block's fees go to the validators that signed it, before
    /// this block's txs pay new ones.
    fn begin_block(&self, ctx: &mut BlockContext<'_>) -> Result<BlockEffects, TxError> {
        distribute::pay_signers(ctx.wasm, ctx.state, ctx.block, ctx.signers).map(Into::into)
    }

    fn block_phase(&self, stage: BlockStage) -> String {
        match stage {
            BlockStage::Begin => "fee_payout",
            BlockStage::End => "fee_end_block",
        }
        .to_string()
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, TxError> {
    serde_json::to_vec(value).map_err(|e| TxError::new(Code::Internal, e.to_string()))
}
