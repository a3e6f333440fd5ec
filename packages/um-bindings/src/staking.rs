//! The `nrn-staking` contract's interface.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, Uint128};
use cw20::Cw20ReceiveMsg;

#[cw_serde]
pub struct InstantiateMsg {
    /// The cw20 token that is bonded (NRN).
    pub token: String,
    /// May change the config; normally the DAO. `None` until set.
    pub owner: Option<String>,
    pub min_trainer_stake: Uint128,
    pub min_validator_stake: Uint128,
    /// Blocks between `Unbond` and the moment the claim can be collected.
    pub unbonding_period_blocks: u64,
}

/// What a staker bonds for.
#[cw_serde]
pub enum Role {
    Trainer,
    /// `consensus_pubkey`: the validator's 32-byte ed25519 CometBFT key.
    Validator {
        consensus_pubkey: Binary,
    },
}

#[cw_serde]
pub enum ExecuteMsg {
    /// cw20 `Send` hook: bonds the sent amount (the `msg` is a [`ReceiveMsg`]).
    Receive(Cw20ReceiveMsg),
    /// Starts unbonding; the tokens become a claim after the unbonding period.
    Unbond { amount: Uint128 },
    /// Pays out every matured claim.
    Claim {},
    /// Owner only (the DAO).
    UpdateConfig {
        owner: Option<String>,
        min_trainer_stake: Option<Uint128>,
        min_validator_stake: Option<Uint128>,
        unbonding_period_blocks: Option<u64>,
    },
}

/// The `msg` inside a cw20 `Send` to the staking contract.
#[cw_serde]
pub enum ReceiveMsg {
    /// Bonds for `role`; a staker's role is set by its first bond and may be
    /// changed by a later bond.
    Bond { role: Role },
}

/// Entry points only the chain can call.
#[cw_serde]
pub enum SudoMsg {
    /// Burns `fraction` of the staker's bonded tokens (and pending claims).
    Slash {
        address: String,
        fraction: Decimal,
        reason: String,
    },
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    /// Bonded stake at the start of block `height` (before that block's
    /// bonds), or now.
    #[returns(StakeResponse)]
    Stake {
        address: String,
        height: Option<u64>,
    },
    #[returns(TotalStakeResponse)]
    TotalStake { height: Option<u64> },
    #[returns(RoleResponse)]
    Role { address: String },
    /// Voting power: bonded stake at the start of block `height`, so stake
    /// bonded in or after the block a proposal started does not count.
    #[returns(VotingPowerResponse)]
    VotingPower { address: String, height: u64 },
    /// Validators whose stake meets the minimum, ordered by address.
    #[returns(ValidatorsResponse)]
    Validators {},
    #[returns(ClaimsResponse)]
    Claims { address: String },
}

#[cw_serde]
pub struct ConfigResponse {
    pub token: Addr,
    pub owner: Option<Addr>,
    pub min_trainer_stake: Uint128,
    pub min_validator_stake: Uint128,
    pub unbonding_period_blocks: u64,
}

#[cw_serde]
pub struct StakeResponse {
    pub address: String,
    pub stake: Uint128,
}

#[cw_serde]
pub struct TotalStakeResponse {
    pub total: Uint128,
}

#[cw_serde]
pub struct RoleResponse {
    pub address: String,
    pub role: Option<Role>,
    /// Whether the bonded stake meets the role's minimum.
    pub active: bool,
}

#[cw_serde]
pub struct VotingPowerResponse {
    pub address: String,
    pub power: Uint128,
    pub height: u64,
}

#[cw_serde]
pub struct ValidatorInfo {
    pub address: String,
    pub consensus_pubkey: Binary,
    pub stake: Uint128,
}

#[cw_serde]
pub struct ValidatorsResponse {
    pub validators: Vec<ValidatorInfo>,
}

#[cw_serde]
pub struct Claim {
    pub amount: Uint128,
    /// First height at which `Claim {}` pays it out.
    pub release_height: u64,
}

#[cw_serde]
pub struct ClaimsResponse {
    pub claims: Vec<Claim>,
}
