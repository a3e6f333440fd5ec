use cosmwasm_std::StdError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    /// Any error of the cw20 logic (unauthorized, cap exceeded, no allowance, ...).
    #[error("{0}")]
    Cw20(#[from] cw20_base::ContractError),

    /// A refused migration: another contract, a downgrade or a non-semver version.
    #[error(transparent)]
    Migrate(#[from] um_bindings::migrate::MigrateError),
}
