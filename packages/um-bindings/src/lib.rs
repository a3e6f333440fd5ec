//! The contract ↔ chain interface of Unstoppable Models.
//!
//! - [`UmMsg`]: what the DAO asks the chain to do (a custom `CosmosMsg`);
//!   the chain takes it only from the registered DAO contract.
//! - [`UmQuery`]: what contracts may ask the chain.
//! - [`staking`]: the `nrn-staking` interface the DAO and the chain use.
//! - [`token`]: the `nrn-token` entry the chain uses to mint rewards.
//! - [`migrate`]: the guarded cw2 version check that the contracts'
//!   `migrate` entry points share.
//! - `proto` (feature `proto`): [`Hyperparams`] to and from its wire
//!   message `um.training.v1.Hyperparams`, for the chain and the trainer.
//!
//! All numbers are integers or `Decimal`: contracts run in a VM that
//! refuses floating point.

pub mod migrate;
#[cfg(feature = "proto")]
pub mod proto;
pub mod staking;
pub mod token;

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{CustomMsg, CustomQuery, Decimal, Uint128};

/// Training hyperparameters of one model lineage, set by the DAO.
#[cw_serde]
pub struct Hyperparams {
    /// SGD learning rate.
    pub learning_rate: Decimal,
    /// Samples per optimizer step.
    pub batch_size: u32,
    /// Optimizer steps in one submitted update.
    pub local_steps: u32,
    /// Largest relative L2 distance between claimed and re-executed weights.
    pub verification_tolerance: Decimal,
    /// Smallest relative drop of validation loss an update must achieve.
    pub min_improvement: Decimal,
    /// NRN (micro-units) minted to the trainer of an accepted update.
    pub reward_per_update: Uint128,
    /// Accepted updates after which the reward halves; 0 never halves.
    pub reward_halving_interval: u64,
}

impl Hyperparams {
    /// Refuses values no trainer could work with.
    pub fn validate(&self) -> Result<(), String> {
        if self.learning_rate.is_zero() {
            return Err("learning_rate must be positive".into());
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return Err("batch_size must be between 1 and 65536".into());
        }
        if self.local_steps == 0 || self.local_steps > 10_000 {
            return Err("local_steps must be between 1 and 10000".into());
        }
        if self.verification_tolerance > Decimal::one() {
            return Err("verification_tolerance must be at most 1".into());
        }
        if self.min_improvement >= Decimal::one() {
            return Err("min_improvement must be below 1".into());
        }
        Ok(())
    }
}

/// Chain messages a contract can emit as `CosmosMsg::Custom`.
#[cw_serde]
pub enum UmMsg {
    /// Replaces the hyperparameters of an existing model lineage.
    SetHyperparams {
        model_id: String,
        hyperparams: Hyperparams,
    },
    /// Applies a proposed dataset delta, making a new dataset version.
    AcceptDatasetDelta { delta_id: u64 },
    /// Drops a proposed dataset delta.
    RejectDatasetDelta { delta_id: u64 },
    /// Starts a new model lineage. Architecture changes are always a new
    /// lineage, never a silent change of an existing one.
    CreateModelLineage {
        model_id: String,
        /// The architecture as the trainer's JSON model spec.
        spec: String,
        hyperparams: Hyperparams,
    },
    /// Points the chain at other governance contracts (e.g. a migrated
    /// suite). Once the suite is registered, only the DAO can do this.
    UpdateRegistry {
        token: String,
        staking: String,
        dao: String,
    },
}

impl CustomMsg for UmMsg {}

/// Chain queries a contract can make as `QueryRequest::Custom`.
#[cw_serde]
#[derive(QueryResponses)]
pub enum UmQuery {
    #[returns(HyperparamsResponse)]
    Hyperparams { model_id: String },
    #[returns(HeadVersionResponse)]
    HeadVersion { model_id: String },
}

impl CustomQuery for UmQuery {}

#[cw_serde]
pub struct HyperparamsResponse {
    pub model_id: String,
    /// `None` when no lineage has this id.
    pub hyperparams: Option<Hyperparams>,
}

#[cw_serde]
pub struct HeadVersionResponse {
    pub model_id: String,
    /// The newest accepted version; `None` before the first one.
    pub version: Option<u64>,
    /// Hex SHA-256 of the head weights.
    pub weights_hash: Option<String>,
}
