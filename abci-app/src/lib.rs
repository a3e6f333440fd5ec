//! umd: the Unstoppable Models ABCI application.

pub mod address;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod codes;
pub mod context;
pub mod contract_requests;
pub mod dataset;
pub mod fault;
pub mod fee;
#[cfg(test)]
mod fuzz_inputs;
pub mod genesis;
pub mod gov;
pub mod ids;
pub mod karma;
pub mod module;
pub mod node;
pub mod query_page;
pub mod storage_gas;
pub mod store;
pub mod telemetry;
#[cfg(test)]
mod toy;
pub mod training;
pub mod wasm;
