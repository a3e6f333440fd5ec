//! `app_state.training`: chain params and the lineages that exist from the
//! first block (each with its deterministic version 0).

use serde::{Deserialize, Serialize};
use um_bindings::Hyperparams;

use super::{create_lineage, NewLineage, TrainingParams};
use crate::codes::TxError;
use crate::store::StateView;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingGenesis {
    pub params: TrainingParams,
    pub lineages: Vec<GenesisLineage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisLineage {
    pub model_id: String,
    /// The model spec as JSON text.
    pub spec: String,
    pub hyperparams: Hyperparams,
    pub dataset_id: String,
    /// Seed of the initial weights.
    #[serde(default)]
    pub init_seed: u64,
    /// Collaborative rounds; absent: one update at a time.
    #[serde(default)]
    pub rounds: Option<super::round::RoundParams>,
}

impl TrainingGenesis {
    pub fn apply(&self, state: &mut StateView, height: u64) -> Result<(), TxError> {
        self.params.save(state)?;
        for lineage in &self.lineages {
            create_lineage(
                state,
                height,
                &NewLineage {
                    model_id: &lineage.model_id,
                    spec: &lineage.spec,
                    hyperparams: &lineage.hyperparams,
                    dataset_id: &lineage.dataset_id,
                    init_seed: lineage.init_seed,
                    rounds: lineage.rounds.as_ref(),
                },
            )?;
        }
        Ok(())
    }
}
