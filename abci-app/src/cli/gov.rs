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
    /// Folder with nrn_token.wasm, nrn_staking.wasm, nrn_dao.wasm,
    /// nrn_versions.wasm.
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

/// What a proposal does: exactly one of these.
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct ProposalActionArgs {
    /// Any action, as JSON, e.g.
    /// '{"set_hyperparams":{"model_id":"mnist-mlp","hyperparams":{…}}}'.
    #[arg(long)]
    pub action: Option<String>,
    /// Start (or change) a lineage's collaborative rounds: MODEL_ID and its
    /// round params as JSON, e.g. mnist-mlp
    /// '{"max_contributions":4,"round_blocks":50,"outer_learning_rate":"0.7","eval_samples":256}'
    /// (outer_learning_rate "1" and eval_samples 0 when absent).
    #[arg(long, num_args = 2, value_names = ["MODEL_ID", "JSON"])]
    pub set_round_params: Option<Vec<String>>,
    /// End a lineage's collaborative rounds (the round in progress finishes).
    #[arg(long, value_name = "MODEL_ID")]
    pub end_rounds: Option<String>,
}

impl ProposalActionArgs {
    /// The `ProposalAction` JSON to propose.
    pub fn to_json(&self) -> anyhow::Result<serde_json::Value> {
        if let Some(action) = &self.action {
            return serde_json::from_str(action).context("--action must be JSON");
        }
        if let Some(model_id) = &self.end_rounds {
            return Ok(proposals::set_round_params_action(model_id, None)?);
        }
        match self.set_round_params.as_deref() {
            Some([model_id, rounds]) => Ok(proposals::set_round_params_action(
                model_id,
                Some(rounds.as_str()),
            )?),
            // clap takes exactly two values and one of the three; this is
            // only reached if that configuration changes.
            _ => anyhow::bail!(
                "give --action, --set-round-params MODEL_ID JSON or --end-rounds MODEL_ID"
            ),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum GovCommand {
    /// Store and instantiate token, staking, DAO and version NFTs, link and
    /// register them.
    Deploy {
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        settings: SuiteSettings,
    },
    /// Propose an action (JSON ProposalAction, or one of the shorthands),
    /// posting the DAO's deposit.
    Propose {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        action: ProposalActionArgs,
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
        /// Gas limit: a new model lineage pays 30 gas per byte of its
        /// initial weights (4 bytes a parameter), more than the default.
        #[arg(long, default_value_t = um_governance::DEFAULT_EXECUTE_GAS)]
        gas: u64,
        #[command(flatten)]
        signer: Signer,
    },
    /// Show a proposal with its status and tally.
    Show {
        proposal_id: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// The registered token, staking, DAO and version NFT contracts.
    Registry {
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run(command: GovCommand) -> anyhow::Result<()> {
    match command {
        GovCommand::Deploy { signer, settings } => with_chain(&signer, |chain| {
            let suite = um_governance::deploy(chain, &settings.config())?;
            println!("{}", suite.describe());
            Ok(())
        }),
        GovCommand::Propose {
            title,
            description,
            action,
            signer,
        } => with_chain(&signer, |chain| {
            let action = action.to_json()?;
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
            gas,
            signer,
        } => with_chain(&signer, |chain| {
            let suite = proposals::registered_suite(chain.rpc)?;
            proposals::execute_with_gas(chain, &suite, proposal_id, gas)?;
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
            println!("{}", suite.describe());
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn propose_action(args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let base = ["umd", "gov", "propose", "--from", "alice", "--title", "t"];
        let cli = Cli::try_parse_from([&base[..], args].concat())?;
        match cli.command {
            Command::Gov(GovCommand::Propose { action, .. }) => action.to_json(),
            _ => unreachable!("a propose command"),
        }
    }

    #[test]
    fn round_params_shorthands_build_the_dao_action() {
        assert_eq!(
            propose_action(&[
                "--set-round-params",
                "mnist-mlp",
                r#"{"max_contributions":2,"round_blocks":10,"eval_samples":64}"#,
            ])
            .unwrap(),
            serde_json::json!({"set_round_params": {"model_id": "mnist-mlp", "rounds": {
                "max_contributions": 2,
                "round_blocks": 10,
                "outer_learning_rate": "1",
                "eval_samples": 64,
                "checkpoint_interval": 0,
                "segments_per_validator": 0,
            }}})
        );
        assert_eq!(
            propose_action(&["--end-rounds", "mnist-mlp"]).unwrap(),
            serde_json::json!({"set_round_params": {"model_id": "mnist-mlp", "rounds": null}})
        );
        assert_eq!(
            propose_action(&["--action", r#"{"reject_dataset_delta":{"delta_id":3}}"#]).unwrap(),
            serde_json::json!({"reject_dataset_delta": {"delta_id": 3}})
        );
    }

    #[test]
    fn exactly_one_action_is_given_and_checked() {
        for args in [
            &[][..],
            &["--end-rounds", "a", "--action", "{}"],
            &["--end-rounds", "a", "--set-round-params", "a", "{}"],
            &["--set-round-params", "mnist-mlp"],
        ] {
            assert!(propose_action(args).is_err(), "{args:?}");
        }
        let err = propose_action(&[
            "--set-round-params",
            "mnist-mlp",
            r#"{"max_contributions":0,"round_blocks":10}"#,
        ])
        .unwrap_err();
        assert!(err.to_string().contains("max_contributions"), "{err}");
    }
}
