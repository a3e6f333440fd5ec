//! NRN ("Neuron"): the cw20 token of Unstoppable Models that trainers and
//! validators stake.
//!
//! The token logic is cw20-base used as a library: this crate adds its own cw2
//! contract name (`crates.io:nrn-token`), a guarded `migrate`, and the chain's
//! own entry point: `sudo` `MintReward` (training rewards, within the cap).
//!
//! Defaults (set through [`msg::InstantiateMsg`], see [`msg::nrn_instantiate_msg`]):
//! name "Neuron", symbol "NRN", 6 decimals.

pub mod contract;
pub mod error;
pub mod msg;

pub use crate::error::ContractError;
