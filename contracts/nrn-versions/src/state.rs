//! Storage of the versions contract, next to the cw721 library's own
//! (`Cw721Config`'s keys, `collection_minter`, `ownership`, ...).

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Uint128};
use cw_storage_plus::{Item, Map};

use crate::msg::TipRecord;

#[cw_serde]
pub struct Config {
    /// The cw20 token tips are paid in (NRN); the only accepted sender of
    /// `Receive`.
    pub token: Addr,
    /// Tips are shared over the lineage's last this many versions.
    pub royalty_last_versions: u32,
}

pub const CONFIG: Item<Config> = Item::new("versions_config");

/// The token ids of each minted version, in contribution order, keyed by
/// (model id, version): a tip walks the lineage's newest versions here.
pub const VERSION_TOKENS: Map<(&str, u64), Vec<String>> = Map::new("version_tokens");

/// Every tip paid, by id (1, 2, ...).
pub const TIPS: Map<u64, TipRecord> = Map::new("tips");

/// Number of tips paid: the id of the last one.
pub const TIP_COUNT: Item<u64> = Item::new("tip_count");

/// Royalties received per address, in total.
pub const EARNED: Map<&Addr, Uint128> = Map::new("earned");

/// Tips paid per lineage, in total.
pub const TIPPED: Map<&str, Uint128> = Map::new("tipped");
