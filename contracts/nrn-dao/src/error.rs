use cosmwasm_std::{StdError, Uint128};
use cw_utils::PaymentError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Payment(#[from] PaymentError),

    #[error("invalid {field}: {reason}")]
    InvalidConfig { field: String, reason: String },

    #[error("invalid hyperparameters: {reason}")]
    InvalidHyperparams { reason: String },

    #[error("invalid fee parameters: {reason}")]
    InvalidFeeParams { reason: String },

    #[error("invalid round parameters: {reason}")]
    InvalidRoundParams { reason: String },

    #[error("invalid proposal: {reason}")]
    InvalidProposal { reason: String },

    #[error("the proposal changes nothing: set at least one field")]
    EmptyUpdate {},

    #[error(
        "proposing needs a deposit of {deposit}: send it through the token with a Propose hook"
    )]
    DepositRequired { deposit: Uint128 },

    #[error("only the configured token {expected} is accepted, not {found}")]
    WrongToken { expected: String, found: String },

    #[error("the proposal deposit is exactly {expected}, not {received}")]
    WrongDeposit {
        expected: Uint128,
        received: Uint128,
    },

    #[error("no stake is bonded: nobody could vote on a proposal")]
    NoStake {},

    #[error("proposal {id} not found")]
    ProposalNotFound { id: u64 },

    #[error("voting on proposal {id} ended at height {end_height}")]
    VotingClosed { id: u64, end_height: u64 },

    #[error("{voter} already voted on proposal {id}")]
    AlreadyVoted { id: u64, voter: String },

    #[error("{voter} has no voting power at height {height} (stake bonded at or after the proposal's start does not count)")]
    NoVotingPower { voter: String, height: u64 },

    #[error("voting on proposal {id} is open until height {end_height}")]
    VotingOpen { id: u64, end_height: u64 },

    #[error("proposal {id} did not pass (status: {status})")]
    NotPassed { id: u64, status: String },

    #[error("proposal {id} was already executed")]
    AlreadyExecuted { id: u64 },

    #[error("proposal {id} was already closed")]
    AlreadyClosed { id: u64 },

    #[error("proposal {id} passed: execute it instead of closing it")]
    CannotClosePassed { id: u64 },

    #[error("proposal {id} passed but could only be executed before height {execution_end_height}: close it to refund its deposit")]
    ExecutionExpired { id: u64, execution_end_height: u64 },

    /// Passed proposals execute in id order, so a late execution cannot
    /// undo a newer decision.
    #[error("proposal {earlier} passed before proposal {id} and is not executed yet: execute it first (or let its execution window end)")]
    EarlierProposalPending { id: u64, earlier: u64 },

    /// A `reply` the DAO never asked for.
    #[error("unexpected reply {id}")]
    UnexpectedReply { id: u64 },

    /// A refused migration: another contract, a downgrade or a non-semver version.
    #[error(transparent)]
    Migrate(#[from] um_bindings::migrate::MigrateError),
}

impl From<um_bindings::staking::InvalidSetting> for ContractError {
    fn from(err: um_bindings::staking::InvalidSetting) -> Self {
        ContractError::InvalidConfig {
            field: err.field.to_string(),
            reason: err.reason,
        }
    }
}
