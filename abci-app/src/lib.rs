//! umd: the Unstoppable Models ABCI application.

pub mod address;
pub mod api;
pub mod app;
pub mod auth;
pub mod bindings;
pub mod cli;
pub mod codes;
pub mod context;
pub mod dataset;
pub mod fault;
#[cfg(test)]
mod fuzz_inputs;
pub mod genesis;
pub mod gov;
pub mod ids;
pub mod modules;
pub mod node;
pub mod query_page;
pub mod store;
pub mod telemetry;
pub mod training;
pub mod tx;
pub mod wasm;
