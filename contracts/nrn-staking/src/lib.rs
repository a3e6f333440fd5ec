//! `nrn-staking`: trainers and validators bond NRN here.
//!
//! - Bonding is a cw20 `Send` of NRN to this contract with a
//!   [`msg::ReceiveMsg::Bond`] payload; the bond sets (or replaces) the
//!   staker's [`msg::Role`]. The resulting stake must meet the role's
//!   minimum, and a partial `Unbond` must not leave less than it.
//! - Stake is kept in snapshots (every block), so the DAO reads voting power
//!   *at the start of* a proposal's block and stake bonded later never counts.
//! - `Unbond` moves stake into a claim that `Claim` pays out after
//!   `unbonding_period_blocks`.
//! - The chain (`sudo`, never `execute`) slashes fraudulent stakers: a
//!   fraction of their bonded stake and of their pending claims is burned.
//! - The chain reads the bonded validators (`Validators {}`) at the end of
//!   each epoch to set CometBFT voting power: the top `max_validators` by
//!   stake, read from a stake-ordered index so the query's cost does not
//!   grow with the number of registered validators.
//!
//! The interface is `um_bindings::staking`, re-exported in [`msg`].

pub mod contract;
pub mod error;
pub mod msg;
pub mod state;
#[cfg(test)]
mod test_keys;

pub use crate::error::ContractError;
