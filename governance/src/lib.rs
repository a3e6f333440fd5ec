//! The governance suite on a live chain: deploy token, staking and DAO with
//! their links and register them; then bond, propose, vote and execute.
//! `umd gov …` and `umd tx staking …` are thin wrappers over this crate.

mod chain;
pub mod deploy;
pub mod genesis;
pub mod proposals;
pub mod staking;

pub use chain::{smart_query, Chain, GovError, DEFAULT_EXECUTE_GAS};
pub use deploy::{deploy, DeployConfig, Deployment};
