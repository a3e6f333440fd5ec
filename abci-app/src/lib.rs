//! umd: the Unstoppable Models ABCI application.

pub mod codes;
pub mod context;
pub mod store;
pub mod wasm;
pub mod address;
pub mod auth;
pub mod app;
pub mod genesis;
pub mod modules;
pub mod tx;
pub mod client;
pub mod cli;
