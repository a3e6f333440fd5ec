//! `umd gov deploy`: the suite on a running chain, linked and registered.

use std::path::{Path, PathBuf};

use serde_json::json;
use um_client::address::module_address;
use um_client::msgs::MsgRegisterGovernance;

use crate::chain::{any, Chain, GovError};

/// The training module's account: the token's minter, so rewards minted by
/// the chain stay under the token's cap.
pub const REWARD_MINTER_MODULE: &str = "training";

#[derive(Clone, Debug)]
pub struct DeployConfig {
    /// Folder with nrn_token.wasm, nrn_staking.wasm, nrn_dao.wasm and
    /// nrn_versions.wasm.
    pub artifacts: PathBuf,
    /// NRN (micro-units) minted at instantiation.
    pub initial_balances: Vec<(String, u128)>,
    pub token_cap: u128,
    pub min_trainer_stake: u128,
    pub min_validator_stake: u128,
    pub unbonding_period_blocks: u64,
    /// Decimals as strings ("0.5"), as the contracts take them.
    pub quorum: String,
    pub threshold: String,
    pub veto_threshold: String,
    pub voting_period_blocks: u64,
    pub proposal_deposit: u128,
}

impl DeployConfig {
    pub fn new(artifacts: &Path) -> Self {
        Self {
            artifacts: artifacts.to_path_buf(),
            initial_balances: Vec::new(),
            token_cap: 21_000_000_000_000,
            min_trainer_stake: 1_000_000,
            min_validator_stake: 1_000_000,
            // Longer than the chain's verdict window (expiry_blocks, 20 by
            // default, plus one): updates are refused otherwise.
            unbonding_period_blocks: 100,
            quorum: "0.334".into(),
            threshold: "0.5".into(),
            veto_threshold: "0.334".into(),
            voting_period_blocks: 20,
            proposal_deposit: 1_000_000,
        }
    }

    pub fn token_msg(&self) -> serde_json::Value {
        json!({
            "name": "Neuron",
            "symbol": "NRN",
            "decimals": 6,
            "initial_balances": self.initial_balances.iter()
                .map(|(address, amount)| json!({"address": address, "amount": amount.to_string()}))
                .collect::<Vec<_>>(),
            "mint": {"minter": module_address(REWARD_MINTER_MODULE), "cap": self.token_cap.to_string()},
            "marketing": null,
        })
    }

    pub fn staking_msg(&self, token: &str, owner: &str) -> serde_json::Value {
        json!({
            "token": token,
            "owner": owner,
            "min_trainer_stake": self.min_trainer_stake.to_string(),
            "min_validator_stake": self.min_validator_stake.to_string(),
            "unbonding_period_blocks": self.unbonding_period_blocks,
        })
    }

    pub fn dao_msg(&self, token: &str, staking: &str) -> serde_json::Value {
        json!({
            "token": token,
            "staking": staking,
            "quorum": self.quorum,
            "threshold": self.threshold,
            "veto_threshold": self.veto_threshold,
            "voting_period_blocks": self.voting_period_blocks,
            "proposal_deposit": self.proposal_deposit.to_string(),
        })
    }

    /// Version NFTs: minted by the chain alone (through `sudo`), tips paid
    /// in `token`.
    pub fn versions_msg(&self, token: &str) -> serde_json::Value {
        serde_json::to_value(um_bindings::versions::InstantiateMsg {
            name: "Unstoppable Models versions".into(),
            symbol: "UMV".into(),
            token: token.to_string(),
            royalty_last_versions: um_bindings::versions::DEFAULT_ROYALTY_LAST_VERSIONS,
        })
        .unwrap_or_default()
    }

    pub fn read_artifact(&self, name: &str) -> Result<Vec<u8>, GovError> {
        let path = self.artifacts.join(name);
        std::fs::read(&path).map_err(|e| GovError::Io {
            path: path.display().to_string(),
            message: format!("{e} (run `make contracts`)"),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub token: String,
    pub staking: String,
    pub dao: String,
    /// nrn-versions; `None` on a chain that registered none.
    pub versions: Option<String>,
}

impl Deployment {
    /// One `role: address` line per contract, as `umd gov registry` prints.
    pub fn describe(&self) -> String {
        let mut lines = format!(
            "token: {}\nstaking: {}\ndao: {}",
            self.token, self.staking, self.dao
        );
        if let Some(versions) = &self.versions {
            lines.push_str(&format!("\nversions: {versions}"));
        }
        lines
    }
}

/// Stores and instantiates token, staking, DAO and version NFTs, hands
/// staking to the DAO, makes the DAO the admin of all four (a migration is a proposal,
/// never the deployer's decision) and registers them with the chain.
pub fn deploy(chain: &Chain<'_>, config: &DeployConfig) -> Result<Deployment, GovError> {
    let token_code = chain.store_code(config.read_artifact("nrn_token.wasm")?)?;
    let staking_code = chain.store_code(config.read_artifact("nrn_staking.wasm")?)?;
    let dao_code = chain.store_code(config.read_artifact("nrn_dao.wasm")?)?;
    let versions_code = chain.store_code(config.read_artifact("nrn_versions.wasm")?)?;
    let admin = Some(chain.address());
    let token = chain.instantiate(token_code, "nrn-token", &config.token_msg(), admin)?;
    let staking = chain.instantiate(
        staking_code,
        "nrn-staking",
        &config.staking_msg(&token, chain.address()),
        admin,
    )?;
    let dao = chain.instantiate(
        dao_code,
        "nrn-dao",
        &config.dao_msg(&token, &staking),
        admin,
    )?;
    let versions = chain.instantiate(
        versions_code,
        "nrn-versions",
        &config.versions_msg(&token),
        admin,
    )?;
    chain.execute(
        &staking,
        &json!({"update_config": {"owner": dao, "min_trainer_stake": null, "min_validator_stake": null, "unbonding_period_blocks": null}}),
    )?;
    let handover: Vec<_> = [&token, &staking, &dao, &versions]
        .into_iter()
        .map(|contract| {
            any(&cosmos_sdk_proto::cosmwasm::wasm::v1::MsgUpdateAdmin {
                sender: chain.address().to_string(),
                new_admin: dao.clone(),
                contract: contract.clone(),
            })
        })
        .collect();
    chain.submit(handover, 1_000_000)?;
    let register = MsgRegisterGovernance {
        sender: chain.address().to_string(),
        token: token.clone(),
        staking: staking.clone(),
        dao: dao.clone(),
        versions: versions.clone(),
    };
    chain.submit(vec![any(&register)], 1_000_000)?;
    Ok(Deployment {
        token,
        staking,
        dao,
        versions: Some(versions),
    })
}
