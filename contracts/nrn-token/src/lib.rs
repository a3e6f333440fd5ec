//! NRN ("Neuron"): the cw20 token of Unstoppable Models that trainers and
//! validators stake.
//!
//! The token logic is cw20-base used as a library: this crate adds its own cw2
//! contract name (`crates.io:nrn-token`), a guarded `migrate`, and a place for
//! the chain-specific extensions that later issues add (chain minting).
//!
//! Defaults (set through [`msg::InstantiateMsg`], see [`msg::nrn_instantiate_msg`]):
//! name "Neuron", symbol "NRN", 6 decimals.

pub mod contract;
pub mod error;
pub mod msg;

pub use crate::error::ContractError;
