//! Messages of the staking contract: the agreed interface of
//! `um_bindings::staking`, plus the migrate message.

use cosmwasm_schema::cw_serde;

pub use cw20::Cw20ReceiveMsg;
pub use um_bindings::staking::{
    Claim, ClaimsResponse, ConfigResponse, ExecuteMsg, InstantiateMsg, QueryMsg, ReceiveMsg, Role,
    RoleResponse, StakeResponse, SudoMsg, TotalStakeResponse, ValidatorInfo, ValidatorsResponse,
    VotingPowerResponse,
};

/// Migrating needs no parameters: the stored cw2 info says where we come from.
#[cw_serde]
pub struct MigrateMsg {}
