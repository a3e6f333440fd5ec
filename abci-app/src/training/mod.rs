//! The training module: model lineages with their DAO-set hyperparameters,
//! accepted versions (weights content-addressed in a blob tree), the updates
//! trainers submit, the verdicts validators return on them in vote
//! extensions, and the decisions (accept and reward, reject and slash,
//! expire) taken from those verdicts.
//!
//! - [`abci`]: the module's entry point for each ABCI phase.
//! - [`submit`]: `MsgSubmitUpdate` and its cheap, deterministic checks.
//! - [`claim`]: `MsgClaimShard`, a trainer's claim on a round's shard.
//! - [`extension`]: vote extensions and the injected verdict tx.
//! - [`decide`]: tallying verdicts and acting on the outcome.
//! - [`verify_request`]: what a validator verifies for an update, read from
//!   the state (the worker that sends it is `crate::node::verifier`).
//! - [`records`]: versions, blobs, updates and verdicts in the state.
//! - [`round`]: collaborative rounds: contributions, the merge, its
//!   evaluation.

pub mod abci;
pub mod claim;
pub mod decide;
pub mod extension;
pub mod genesis;
mod module;
pub mod params;
pub mod query;
pub mod records;
pub mod round;
pub mod state_key;
pub mod submit;
pub mod supply_rewards;
pub mod verification_fee;
pub mod verify_request;

use serde::{Deserialize, Serialize};
use um_bindings::Hyperparams;
use um_formats::{ModelSpec, Weights};
use um_proto::um::training::v1 as proto;

use crate::codes::{Code, TxError};
use crate::store::StateView;

pub use module::TrainingModule;
pub use params::TrainingParams;

/// `Update.reason` of an update decided by the chain itself, not by
/// verdicts: its base stopped being the head before it was accepted.
/// Reasons in state are codes (these, or a `VerdictReason` name), never
/// text from elsewhere, so every node stores the same bytes.
pub const REASON_OBSOLETE: &str = "OBSOLETE_BASE";
/// `Update.reason` of an update that no verdict decided in time.
pub const REASON_EXPIRED: &str = "EXPIRED";

/// One model lineage: an architecture, the dataset it trains on, and how it
/// is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub model_id: String,
    /// JSON model spec the trainer builds the network from.
    pub spec: String,
    pub hyperparams: Hyperparams,
    pub created_height: u64,
    /// Height of the last hyperparameter change.
    pub updated_height: u64,
    /// The dataset lineage this model trains and is validated on.
    #[serde(default)]
    pub dataset_id: String,
    /// Number of the newest accepted version.
    #[serde(default)]
    pub head_version: u64,
    /// Set when the lineage advances in collaborative rounds; absent (and
    /// not written, so older records read the same) for one update at a
    /// time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<round::RoundParams>,
}

/// What it takes to start a lineage.
pub struct NewLineage<'a> {
    pub model_id: &'a str,
    pub spec: &'a str,
    pub hyperparams: &'a Hyperparams,
    pub dataset_id: &'a str,
    /// Seed of the deterministic initial weights (version 0).
    pub init_seed: u64,
    pub rounds: Option<&'a round::RoundParams>,
}

pub fn lineage(state: &StateView, model_id: &str) -> Result<Option<Lineage>, TxError> {
    match state.get(&state_key::lineage(model_id))? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TxError::new(Code::Internal, format!("stored lineage {model_id}: {e}"))),
    }
}

pub fn lineages(state: &StateView) -> Result<Vec<Lineage>, TxError> {
    state
        .prefixed(state_key::LINEAGE_PREFIX)?
        .into_iter()
        .map(|(_, bytes)| {
            serde_json::from_slice(&bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored lineage: {e}")))
        })
        .collect()
}

fn save(state: &mut StateView, lineage: &Lineage) {
    // A struct of strings, integers and decimals always serializes.
    state.set(
        &state_key::lineage(&lineage.model_id),
        serde_json::to_vec(lineage).unwrap_or_default(),
    );
}

fn validate_hyperparams(hyperparams: &Hyperparams) -> Result<(), TxError> {
    hyperparams.validate().map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("invalid hyperparameters: {e}"),
        )
    })
}

pub fn parse_spec(spec: &str) -> Result<ModelSpec, TxError> {
    ModelSpec::parse(spec)
        .map_err(|e| TxError::new(Code::InvalidRequest, format!("invalid model spec: {e}")))
}

/// Creates the lineage and its version 0: deterministic initial weights
/// from the spec and the seed, so every node stores the same bytes.
/// Returns the size of those weights.
///
/// A lineage whose weights could not travel in an update is refused before
/// anything is built: no trainer could ever move it past version 0, and its
/// initial weights (up to the spec's limit of parameters) would be hundreds
/// of megabytes written for a flat price.
pub fn create_lineage(
    state: &mut StateView,
    height: u64,
    new: &NewLineage<'_>,
) -> Result<u64, TxError> {
    crate::ids::validate("model id", new.model_id)?;
    validate_hyperparams(new.hyperparams)?;
    if let Some(rounds) = new.rounds {
        rounds.validate()?;
    }
    let spec = parse_spec(new.spec)?;
    let params = TrainingParams::load(state)?;
    let tx_limit = crate::auth::AuthParams::load(state)?.max_tx_bytes;
    let tensor_bytes = spec.parameter_count().saturating_mul(4);
    let fits = params.max_weights_bytes.min(tx_limit);
    if tensor_bytes > fits {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "the spec has {} parameters ({tensor_bytes} bytes of weights); an update must fit in {fits} bytes",
                spec.parameter_count()
            ),
        ));
    }
    if lineage(state, new.model_id)?.is_some() {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "model lineage {:?} already exists; an architecture change is a new lineage",
                new.model_id
            ),
        ));
    }
    let weights = Weights::init(&spec, new.init_seed).encode();
    let sha = records::put_blob(state, &weights);
    records::save_version(
        state,
        &proto::ModelVersion {
            model_id: new.model_id.to_string(),
            version: 0,
            parent_version: 0,
            weights_sha256: sha.to_vec(),
            height,
            weights_size: weights.len() as u64,
            ..Default::default()
        },
    );
    let lineage = Lineage {
        model_id: new.model_id.to_string(),
        spec: new.spec.to_string(),
        hyperparams: new.hyperparams.clone(),
        created_height: height,
        updated_height: height,
        dataset_id: new.dataset_id.to_string(),
        head_version: 0,
        rounds: new.rounds.cloned(),
    };
    save(state, &lineage);
    if let Some(rounds) = new.rounds {
        round::open_next(state, &lineage, rounds, height)?;
    }
    Ok(weights.len() as u64)
}

/// A lineage the DAO starts: trains on `dataset_id` (which must exist) or
/// the chain's default dataset, initial weights seeded by the model id.
/// Returns the gas of storing its weights, priced as a trainer's update
/// pays for its own.
pub fn create_lineage_from_dao(
    state: &mut StateView,
    height: u64,
    model_id: &str,
    spec: &str,
    hyperparams: &Hyperparams,
    dataset_id: Option<&str>,
) -> Result<u64, TxError> {
    let params = TrainingParams::load(state)?;
    if let Some(named) = dataset_id {
        if crate::dataset::current(state, named)?.is_none() {
            return Err(TxError::new(
                Code::InvalidRequest,
                format!("no dataset lineage {named:?} to train on"),
            ));
        }
    }
    let dataset_id = dataset_id.unwrap_or(&params.default_dataset_id);
    let seed = u64::from_be_bytes(
        records::sha256(model_id.as_bytes())[..8]
            .try_into()
            .unwrap_or_default(),
    );
    let weights_bytes = create_lineage(
        state,
        height,
        &NewLineage {
            model_id,
            spec,
            hyperparams,
            dataset_id,
            init_seed: seed,
            rounds: None,
        },
    )?;
    Ok(params.weights_cost_per_byte.saturating_mul(weights_bytes))
}

pub fn set_hyperparams(
    state: &mut StateView,
    height: u64,
    model_id: &str,
    hyperparams: &Hyperparams,
) -> Result<(), TxError> {
    validate_hyperparams(hyperparams)?;
    let Some(mut existing) = lineage(state, model_id)? else {
        return Err(TxError::new(
            Code::NotFound,
            format!("model lineage {model_id:?} not found"),
        ));
    };
    existing.hyperparams = hyperparams.clone();
    existing.updated_height = height;
    save(state, &existing);
    Ok(())
}

/// Sets (or, with `None`, ends) the lineage's collaborative rounds; reached
/// through a DAO proposal. A round in progress keeps the params it opened
/// with; the next round takes the new ones. Starting rounds opens the
/// first at once; ending them leaves the current round to finish (its
/// contributions are still verified and merged) and opens no next one.
pub fn set_round_params(
    state: &mut StateView,
    height: u64,
    model_id: &str,
    rounds: Option<round::RoundParams>,
) -> Result<(), TxError> {
    if let Some(rounds) = &rounds {
        rounds.validate()?;
    }
    let Some(mut existing) = lineage(state, model_id)? else {
        return Err(TxError::new(
            Code::NotFound,
            format!("model lineage {model_id:?} not found"),
        ));
    };
    let starting = existing.rounds.is_none() && rounds.is_some();
    existing.rounds = rounds;
    existing.updated_height = height;
    save(state, &existing);
    if let (true, Some(rounds)) = (starting, &existing.rounds) {
        let open = round::current(state, model_id)?
            .is_some_and(|r| r.status != um_proto::um::training::v1::RoundStatus::Closed as i32);
        if !open {
            round::open_next(state, &existing, rounds, height)?;
        }
    }
    Ok(())
}

/// Moves the head of a lineage to a newly accepted version.
fn set_head(state: &mut StateView, lineage: &Lineage, version: u64) {
    let mut moved = lineage.clone();
    moved.head_version = version;
    save(state, &moved);
}

/// The proto view of a lineage, for queries and the verifier.
pub fn lineage_proto(lineage: &Lineage) -> proto::ModelLineage {
    proto::ModelLineage {
        model_id: lineage.model_id.clone(),
        spec_json: lineage.spec.clone(),
        hyperparams: Some(lineage.hyperparams.to_proto()),
        created_height: lineage.created_height,
        updated_height: lineage.updated_height,
        dataset_id: lineage.dataset_id.clone(),
        head_version: lineage.head_version,
        rounds: lineage.rounds.as_ref().map(round::RoundParams::to_proto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::{Decimal, Uint128};

    fn hyperparams() -> Hyperparams {
        Hyperparams {
            learning_rate: Decimal::percent(10),
            batch_size: 32,
            local_steps: 5,
            verification_tolerance: Decimal::permille(1),
            min_improvement: Decimal::zero(),
            reward_per_update: Uint128::new(1),
            reward_halving_interval: 0,
        }
    }

    /// Issue 13, finding 11: a lineage of tens of millions of parameters
    /// cost a flat 20,000 gas, wrote hundreds of megabytes of initial
    /// weights and could never be updated (a submission is capped). It is
    /// refused before anything is built; one that fits pays per byte.
    #[test]
    fn a_lineage_whose_updates_could_not_fit_a_tx_is_refused() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        TrainingParams::default().save(&mut state).unwrap();
        let huge = r#"{"kind":"mlp","input":[1,28,28],"hidden":[4096,4096],"classes":10}"#;
        let err =
            create_lineage_from_dao(&mut state, 1, "huge", huge, &hyperparams(), None).unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest);
        assert!(err.log.contains("must fit in"), "{}", err.log);
        assert!(lineage(&state, "huge").unwrap().is_none());
        assert!(state
            .pending_changes()
            .keys()
            .all(|k| !k.starts_with(&crate::store::blob_key(&[]))));

        let small = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;
        let gas =
            create_lineage_from_dao(&mut state, 1, "small", small, &hyperparams(), None).unwrap();
        let params = TrainingParams::default();
        let version = records::version(&state, "small", 0).unwrap().unwrap();
        assert_eq!(gas, params.weights_cost_per_byte * version.weights_size);
        assert!(version.weights_size > 4 * (784 * 32 + 32 + 32 * 10 + 10));

        // A dataset the DAO names must exist.
        let err =
            create_lineage_from_dao(&mut state, 1, "lm", small, &hyperparams(), Some("texts"))
                .unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest);
        assert!(
            err.log.contains("no dataset lineage \"texts\""),
            "{}",
            err.log
        );
        assert!(lineage(&state, "lm").unwrap().is_none());
    }
}
