//! The governance suite on a live chain: deploy token, staking and DAO with
//! their links and register them; then bond, propose, vote and execute;
//! tip a lineage's version holders and move version tokens.
//! `umd gov …` and `umd tx staking …` are thin wrappers over this crate.

mod chain;
pub mod deploy;
pub mod genesis;
pub mod proposals;
pub mod staking;
pub mod versions;

pub use chain::{smart_query, Chain, GovError, DEFAULT_EXECUTE_GAS};
pub use deploy::{deploy, DeployConfig, Deployment};
