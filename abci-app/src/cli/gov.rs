//! `umd gov …`: the governance suite on a running chain.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use um_client::rpc::RpcClient;
use um_governance::proposals::{self, VoteOption};
use um_governance::{Chain, DeployConfig};

#[derive(clap::Args, Debug, Clone)]
pub struct Signer {
    /// Key that signs.
    #[arg(long)]
    pub from: String,
    #[command(flatten)]
    pub node: super::NodeArgs,
    #[command(flatten)]
    pub home: super::HomeArgs,
    #[command(flatten)]
    pub keyring: super::KeyringArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SuiteSettings {
    /// Folder with nrn_token.wasm, nrn_staking.wasm, nrn_dao.wasm.
    #[arg(long, default_value = "artifacts")]
    pub artifacts: PathBuf,
    /// NRN balances at instantiation, as ADDRESS=MICRO_NRN (repeatable).
    #[arg(long = "fund", value_parser = parse_fund)]
    pub funds: Vec<(String, u128)>,
    #[arg(long, default_value_t = 20)]
    pub voting_period_blocks: u64,
    #[arg(long, default_value_t = 1_000_000)]
    pub proposal_deposit: u128,
    #[arg(long, default_value = "0.334")]
    pub quorum: String,
    #[arg(long, default_value = "0.5")]
    pub threshold: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub min_validator_stake: u128,
    #[arg(long, default_value_t = 1_000_000)]
    pub min_trainer_stake: u128,
    /// Must be longer than the chain's verdict window (expiry_blocks + 1),
    /// or the chain refuses updates.
    #[arg(long, default_value_t = 100)]
    pub unbonding_period_blocks: u64,
}

impl SuiteSettings {
    pub fn config(&self) -> DeployConfig {
        DeployConfig {
            initial_balances: self.funds.clone(),
            voting_period_blocks: self.voting_period_blocks,
            proposal_deposit: self.proposal_deposit,
            quorum: self.quorum.clone(),
            threshold: self.threshold.clone(),
            min_validator_stake: self.min_validator_stake,
            min_trainer_stake: self.min_trainer_stake,
            unbonding_period_blocks: self.unbonding_period_blocks,
            ..DeployConfig::new(&self.artifacts)
        }
    }
}

pub fn parse_fund(text: &str) -> Result<(String, u128), String> {
    let (address, amount) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ADDRESS=AMOUNT, got {text:?}"))?;
    let amount = amount
        .parse()
        .map_err(|_| format!("amount {amount:?} is not a whole number of micro-NRN"))?;
    um_client::address::decode(address).map_err(|e| e.to_string())?;
    Ok((address.to_string(), amount))
}

#[derive(Subcommand, Debug)]
pub enum GovCommand {
    /// Store and instantiate token, staking and DAO, link and register them.
    Deploy {
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        settings: SuiteSettings,
    },
    /// Propose an action (JSON ProposalAction), posting the DAO's deposit.
    Propose {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        /// e.g. '{"set_hyperparams":{"model_id":"mnist-mlp","hyperparams":{…}}}'
        #[arg(long)]
        action: String,
        #[command(flatten)]
        signer: Signer,
    },
    /// Vote yes, no, abstain or veto with the stake bonded when the proposal started.
    Vote {
        proposal_id: u64,
        option: String,
        #[command(flatten)]
        signer: Signer,
    },
    /// Execute a passed proposal (anyone may).
    Execute {
        proposal_id: u64,
        #[command(flatten)]
        signer: Signer,
    },
    /// Show a proposal with its status and tally.
    Show {
        proposal_id: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// The registered token, staking and DAO contracts.
    Registry {
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run(command: GovCommand) -> anyhow::Result<()> {
    match command {
        GovCommand::Deploy { signer, settings } => with_chain(&signer, |chain| {
            let suite = um_governance::deploy(chain, &settings.config())?;
            println!(
                "token: {}\nstaking: {}\ndao: {}",
                suite.token, suite.staking, suite.dao
            );
            Ok(())
        }),
        GovCommand::Propose {
            title,
            description,
            action,
            signer,
        } => with_chain(&signer, |chain| {
            let action: serde_json::Value =
                serde_json::from_str(&action).context("--action must be JSON")?;
            let suite = proposals::registered_suite(chain.rpc)?;
            let id = proposals::propose(chain, &suite, &title, &description, &action)?;
            println!("proposal_id: {id}");
            Ok(())
        }),
        GovCommand::Vote {
            proposal_id,
            option,
            signer,
        } => with_chain(&signer, |chain| {
            let option: VoteOption = option.parse()?;
            let suite = proposals::registered_suite(chain.rpc)?;
            proposals::vote(chain, &suite, proposal_id, option)?;
            println!("voted {option:?} on proposal {proposal_id}");
            Ok(())
        }),
        GovCommand::Execute {
            proposal_id,
            signer,
        } => with_chain(&signer, |chain| {
            let suite = proposals::registered_suite(chain.rpc)?;
            proposals::execute(chain, &suite, proposal_id)?;
            println!("executed proposal {proposal_id}");
            Ok(())
        }),
        GovCommand::Show { proposal_id, node } => {
            let rpc = RpcClient::new(&node.node);
            let suite = proposals::registered_suite(&rpc)?;
            let proposal = proposals::show(&rpc, &suite, proposal_id)?;
            println!("{}", serde_json::to_string_pretty(&proposal)?);
            Ok(())
        }
        GovCommand::Registry { node } => {
            let rpc = RpcClient::new(&node.node);
            let suite = proposals::registered_suite(&rpc)?;
            println!(
                "token: {}\nstaking: {}\ndao: {}",
                suite.token, suite.staking, suite.dao
            );
            Ok(())
        }
    }
}

pub fn with_chain(
    signer: &Signer,
    run: impl FnOnce(&Chain<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let key = super::keys::keyring(&signer.home, &signer.keyring)?.get(&signer.from)?;
    let rpc = RpcClient::new(&signer.node.node);
    let chain = Chain::new(&rpc, &key)?;
    run(&chain)
}
