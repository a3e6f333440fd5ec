//! Entry points of `nrn-token` only the chain can call.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::Uint128;

#[cw_serde]
pub enum SudoMsg {
    /// Mints rewards; still bounded by the token's cap.
    MintReward { recipient: String, amount: Uint128 },
}
