use cosmwasm_std::{DivideByZeroError, OverflowError, StdError};
use cw721::error::Cw721ContractError;
use cw_utils::PaymentError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Overflow(#[from] OverflowError),

    #[error("{0}")]
    DivideByZero(#[from] DivideByZeroError),

    /// Refused by the cw721 logic (not the owner, not approved, ...).
    #[error("{0}")]
    Cw721(#[from] Cw721ContractError),

    /// Native coins sent along: the contract holds none.
    #[error("{0}")]
    Payment(#[from] PaymentError),

    /// A royalty rule outside `um_bindings::versions::validate_royalty_rule`.
    #[error("invalid royalty rule: {reason}")]
    InvalidRoyaltyRule { reason: String },

    /// A `MintVersion` the contract cannot mint.
    #[error("invalid version mint: {reason}")]
    InvalidMint { reason: String },

    #[error("version {version} of {model_id} is already minted")]
    VersionExists { model_id: String, version: u64 },

    /// `Receive` called by a contract other than the configured token.
    #[error("tips are paid in {expected}, got a Receive from {found}")]
    WrongToken { expected: String, found: String },

    #[error("lineage {model_id} has no version tokens to tip")]
    NoVersionTokens { model_id: String },

    #[error("amount must be greater than zero")]
    ZeroAmount {},

    /// A refused migration: another contract, a downgrade or a non-semver version.
    #[error(transparent)]
    Migrate(#[from] um_bindings::migrate::MigrateError),
}
