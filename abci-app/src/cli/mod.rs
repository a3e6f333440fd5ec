//! The `umd` command line.

mod config_edit;
mod consensus_key;
mod dataset;
mod genesis;
mod genesis_account;
mod gov;
mod init;
mod keys;
mod query;
mod query_karma;
mod query_training;
pub mod replay;
mod staking;
mod start;
mod tx;
mod verify;
mod versions;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "umd",
    version,
    about = "Unstoppable Models node: ABCI app, CometBFT launcher and client"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a node home: CometBFT config, keys and a genesis with app_state.
    Init(init::InitArgs),
    /// Run the ABCI app and the CometBFT node; Ctrl-C stops both.
    Start(start::StartArgs),
    /// Manage the keyring (BIP39 mnemonics, secp256k1): file, os or test backend.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Sign and broadcast transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Query chain state through CometBFT's ABCI query.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// Governance: deploy the suite, propose, vote, execute.
    #[command(subcommand)]
    Gov(gov::GovCommand),
    /// Edit genesis.json before the first start.
    #[command(subcommand)]
    Genesis(genesis::GenesisCommand),
    /// Apply a chain's blocks from genesis in a fresh state and print each
    /// height's app hash beside the chain's (finds where a node diverged).
    Replay(replay::ReplayArgs),
}

/// Where the node or client keeps its files.
#[derive(clap::Args, Clone, Debug)]
pub struct HomeArgs {
    /// Node and keyring directory.
    #[arg(long, env = "UMD_HOME", default_value = "~/.umd")]
    pub home: String,
}

impl HomeArgs {
    pub fn path(&self) -> PathBuf {
        expand_home(&self.home)
    }
}

/// Which keyring backend holds the keys (see `um_client::keys`).
#[derive(clap::Args, Clone, Debug)]
pub struct KeyringArgs {
    /// Keyring backend: file (encrypted with a passphrase, from
    /// UMD_KEYRING_PASSPHRASE or asked on the terminal), os (the OS keyring;
    /// none on this build) or test (plain text: throwaway localnet keys only).
    #[arg(
        long = "keyring-backend",
        env = um_client::keys::BACKEND_ENV,
        default_value = "file",
        value_parser = parse_backend,
    )]
    pub keyring_backend: um_client::keys::Backend,
}

fn parse_backend(name: &str) -> Result<um_client::keys::Backend, String> {
    name.parse()
        .map_err(|e: um_client::ClientError| e.to_string())
}

/// How a client reaches the chain.
#[derive(clap::Args, Clone, Debug)]
pub struct NodeArgs {
    /// CometBFT RPC address.
    #[arg(long, env = "UMD_NODE", default_value = "http://127.0.0.1:26657")]
    pub node: String,
}

pub fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => PathBuf::from(path),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Start(args) => start::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Tx(command) => tx::run(command),
        Command::Query(command) => query::run(command),
        Command::Gov(command) => gov::run(command),
        Command::Genesis(command) => genesis::run(command),
        Command::Replay(args) => replay::run(args),
    }
}
