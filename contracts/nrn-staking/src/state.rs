//! Storage of the staking contract.

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Binary, Uint128};
use cw_storage_plus::{Item, Map, SnapshotItem, SnapshotMap, Strategy};

use crate::msg::{Claim, Role};

fn default_max_validators() -> u32 {
    um_bindings::staking::DEFAULT_MAX_VALIDATORS
}

#[cw_serde]
pub struct Config {
    /// The bonded cw20 token (NRN); the only accepted sender of `Receive`.
    pub token: Addr,
    /// May change the config; `None`: the config can never change.
    pub owner: Option<Addr>,
    pub min_trainer_stake: Uint128,
    pub min_validator_stake: Uint128,
    pub unbonding_period_blocks: u64,
    /// Most validators the `Validators` query returns. Absent from configs
    /// stored before it existed.
    #[serde(default = "default_max_validators")]
    pub max_validators: u32,
}

pub const CONFIG: Item<Config> = Item::new("config");

/// Bonded stake per staker, with a snapshot of every block that changed it:
/// `may_load_at_height(h)` is the stake at the start of block `h`.
pub const STAKE: SnapshotMap<&Addr, Uint128> = SnapshotMap::new(
    "stake",
    "stake__checkpoints",
    "stake__changelog",
    Strategy::EveryBlock,
);

/// Sum of all bonded stake (claims excluded), snapshotted like [`STAKE`].
pub const TOTAL_STAKE: SnapshotItem<Uint128> = SnapshotItem::new(
    "total_stake",
    "total_stake__checkpoints",
    "total_stake__changelog",
    Strategy::EveryBlock,
);

/// The role of every staker with bonded stake; removed when the stake
/// reaches zero.
pub const ROLES: Map<&Addr, Role> = Map::new("roles");

/// Stakers whose role is `Validator`, with their consensus pubkey. The
/// `Validators` query reads [`VALIDATORS_BY_STAKE`] instead; `migrate`
/// builds that index from this map.
pub const VALIDATORS: Map<&Addr, Binary> = Map::new("validators");

/// Every validator with non-zero stake, keyed by `(u128::MAX - stake,
/// address)` so an ascending range yields the highest stakes first and equal
/// stakes by ascending address; the value is the consensus pubkey. The
/// `Validators` query reads only the first `max_validators` entries, so its
/// cost does not grow with the number of registered validators. Kept in step
/// with [`STAKE`] and [`VALIDATORS`] by every bond, unbond and slash.
pub const VALIDATORS_BY_STAKE: Map<(u128, &Addr), Binary> = Map::new("validators_by_stake");

/// Consensus pubkey → the staker using it (keeps pubkeys unique).
pub const PUBKEY_OWNERS: Map<&[u8], Addr> = Map::new("pubkey_owners");

/// Pending unbonding claims per staker, ordered by release height.
pub const CLAIMS: Map<&Addr, Vec<Claim>> = Map::new("claims");
