use cosmwasm_std::{OverflowError, StdError, Uint128};
use cw_utils::PaymentError;
use thiserror::Error;

#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("{0}")]
    Overflow(#[from] OverflowError),

    /// Native coins sent along with a message; only cw20 NRN is bonded.
    #[error("{0}")]
    Payment(#[from] PaymentError),

    #[error("unauthorized")]
    Unauthorized {},

    /// `Receive` called by a contract other than the configured token.
    #[error("only {expected} can be bonded, got a Receive from {found}")]
    WrongToken { expected: String, found: String },

    #[error("amount must be greater than zero")]
    ZeroAmount {},

    #[error("validator consensus pubkey must be 32 bytes (ed25519), got {len}")]
    InvalidPubkeyLength { len: usize },

    #[error("consensus pubkey already used by {owner}")]
    PubkeyInUse { owner: String },

    #[error("bonding a consensus key needs its signature over this chain and operator (see validator_bond_message)")]
    MissingConsensusSignature {},

    #[error("the consensus signature does not verify for this chain, operator and key")]
    InvalidConsensusSignature {},

    /// A setting outside its bounds (see `um_bindings::staking::check_settings`).
    #[error("invalid {field}: {reason}")]
    InvalidConfig { field: String, reason: String },

    /// A bond that would leave the staker below its role's minimum: dust
    /// registrations would otherwise flood the validator set for free.
    #[error("a {role} must have at least {minimum} bonded; this bond would leave {stake}")]
    BelowMinimumStake {
        role: String,
        stake: Uint128,
        minimum: Uint128,
    },

    /// A partial unbond that would leave a dust stake behind.
    #[error("unbonding would leave {remaining}, below the {role} minimum of {minimum}: unbond everything or keep at least the minimum")]
    UnbondBelowMinimum {
        role: String,
        remaining: Uint128,
        minimum: Uint128,
    },

    #[error("cannot unbond {requested}: only {bonded} bonded")]
    InsufficientStake { bonded: Uint128, requested: Uint128 },

    #[error("no matured claims")]
    NothingToClaim {},

    #[error("slash fraction must be in (0, 1], got {fraction}")]
    InvalidFraction { fraction: String },

    #[error("{address} has no stake and no pending claims")]
    NoStake { address: String },

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
