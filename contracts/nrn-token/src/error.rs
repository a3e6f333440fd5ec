use cosmwasm_std::StdError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    /// Any error of the cw20 logic (unauthorized, cap exceeded, no allowance, ...).
    #[error("{0}")]
    Cw20(#[from] cw20_base::ContractError),

    #[error("cannot migrate from contract `{found}`: expected `{expected}`")]
    WrongContract { expected: String, found: String },

    #[error("cannot migrate from version {stored} to older version {new}")]
    CannotDowngrade { stored: String, new: String },

    #[error("invalid contract version `{version}`: {reason}")]
    InvalidVersion { version: String, reason: String },
}
