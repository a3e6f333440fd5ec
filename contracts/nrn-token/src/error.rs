use cosmwasm_std::{StdError, Uint128};
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    /// Any error of the cw20 logic (unauthorized, cap exceeded, no allowance, ...).
    #[error("{0}")]
    Cw20(#[from] cw20_base::ContractError),

    /// A chain transfer (`SudoMsg::Transfer`) of more than `from` holds,
    /// e.g. a fee the signer cannot pay.
    #[error("insufficient funds: {address} holds {available} but {needed} must be moved")]
    InsufficientFunds {
        address: String,
        needed: Uint128,
        available: Uint128,
    },

    /// A refused migration: another contract, a downgrade or a non-semver version.
    #[error(transparent)]
    Migrate(#[from] um_bindings::migrate::MigrateError),
}
