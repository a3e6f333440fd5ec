//! Messages of the NRN token.
//!
//! Instantiate, execute and query messages are cw20-base's own, so every cw20
//! client (wallets, explorers, other contracts) talks to NRN unchanged.

use cosmwasm_schema::cw_serde;

pub use cw20::{Cw20Coin, Cw20ReceiveMsg, Logo, MinterResponse};
pub use cw20_base::msg::{ExecuteMsg, InstantiateMarketingInfo, InstantiateMsg, QueryMsg};
/// The chain's entries: `MintReward` and `Transfer` (see [`crate::contract::sudo`]).
pub use um_bindings::token::SudoMsg;

/// Default token name.
pub const DEFAULT_NAME: &str = "Neuron";
/// Default ticker symbol.
pub const DEFAULT_SYMBOL: &str = "NRN";
/// Default number of decimals: 1 NRN = 10^6 base units.
pub const DEFAULT_DECIMALS: u8 = 6;

/// An [`InstantiateMsg`] with the NRN defaults (name "Neuron", symbol "NRN",
/// 6 decimals) and no marketing info.
pub fn nrn_instantiate_msg(
    initial_balances: Vec<Cw20Coin>,
    mint: Option<MinterResponse>,
) -> InstantiateMsg {
    InstantiateMsg {
        name: DEFAULT_NAME.to_string(),
        symbol: DEFAULT_SYMBOL.to_string(),
        decimals: DEFAULT_DECIMALS,
        initial_balances,
        mint,
        marketing: None,
    }
}

/// Migrating needs no parameters: the stored cw2 info says where we come from.
#[cw_serde]
pub struct MigrateMsg {}
