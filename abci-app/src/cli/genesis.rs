//! `umd genesis …`: edits of genesis.json before the chain starts.

use std::fs;

use anyhow::Context;
use base64::Engine;
use clap::Subcommand;
use um_governance::genesis::{add_suite, GenesisBond};
use um_governance::staking::BondRole;

use super::gov::SuiteSettings;

#[derive(Subcommand, Debug)]
pub enum GenesisCommand {
    /// Deploy token, staking and DAO at InitChain, bond this node as a
    /// validator and register the suite.
    DeployGovernance {
        /// Key (in this home's keyring) that deploys the suite and operates
        /// this node's validator stake.
        #[arg(long)]
        operator: String,
        /// Micro-NRN the operator bonds for this node's consensus key.
        #[arg(long, default_value_t = 100_000_000)]
        self_bond: u128,
        /// Blocks per epoch (validator set refresh).
        #[arg(long, default_value_t = 10)]
        epoch_blocks: u64,
        #[command(flatten)]
        settings: SuiteSettings,
        #[command(flatten)]
        home: super::HomeArgs,
    },
}

pub fn run(command: GenesisCommand) -> anyhow::Result<()> {
    let GenesisCommand::DeployGovernance {
        operator,
        self_bond,
        epoch_blocks,
        settings,
        home,
    } = command;
    let home_path = home.path();
    let operator = super::keys::keyring(&home).file(&operator)?.address;
    let pubkey = super::staking::node_consensus_pubkey(&home_path)?;
    let consensus_pubkey = base64::engine::general_purpose::STANDARD.decode(&pubkey)?;

    let mut config = settings.config();
    if !config
        .initial_balances
        .iter()
        .any(|(address, _)| address == &operator)
    {
        config
            .initial_balances
            .push((operator.clone(), self_bond.saturating_mul(10)));
    }
    let path = home_path.join("config/genesis.json");
    let mut genesis: serde_json::Value = serde_json::from_slice(
        &fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let bond = GenesisBond {
        operator: operator.clone(),
        amount: self_bond,
        role: BondRole::Validator { consensus_pubkey },
    };
    let suite = add_suite(&mut genesis["app_state"], &config, &operator, &[bond])?;
    genesis["app_state"]["gov"]["params"]["epoch_blocks"] = serde_json::json!(epoch_blocks);
    fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    println!(
        "token: {}\nstaking: {}\ndao: {}",
        suite.token, suite.staking, suite.dao
    );
    Ok(())
}
