//! `umd genesis …`: edits of genesis.json before the chain starts.

use std::fs;

use anyhow::Context;
use clap::Subcommand;
use um_governance::genesis::{add_suite, GenesisBond};
use um_governance::staking::BondRole;

use super::gov::SuiteSettings;

/// `umd genesis deploy-governance`.
#[derive(clap::Args, Debug)]
pub struct DeployGovernanceArgs {
    /// Key (in this home's keyring) that deploys the suite and operates
    /// this node's validator stake.
    #[arg(long)]
    pub operator: String,
    /// Micro-NRN the operator bonds for this node's consensus key.
    #[arg(long, default_value_t = 100_000_000)]
    pub self_bond: u128,
    /// Blocks per epoch (validator set refresh).
    #[arg(long, default_value_t = 10)]
    pub epoch_blocks: u64,
    /// Also bond a trainer at genesis: `<key name>=<micro-NRN>`
    /// (repeatable); the key is funded with twice the bond.
    #[arg(long = "trainer", value_name = "KEY=AMOUNT")]
    pub trainers: Vec<String>,
    /// Also bond another validator at genesis (a localnet's other
    /// nodes): `<operator>=<pubkey>,<signature>`, as `umd genesis
    /// validator-proof` prints it on the node that holds the consensus key
    /// (repeatable). The operator is a key name in this keyring or a
    /// `um1…` address; it is funded and bonded like this node's operator
    /// (10 × and 1 × --self-bond).
    #[arg(long = "validator", value_name = "OPERATOR=PUBKEY,SIGNATURE")]
    pub validators: Vec<String>,
    #[command(flatten)]
    pub settings: SuiteSettings,
    #[command(flatten)]
    pub home: super::HomeArgs,
    // Only addresses are read: no passphrase is asked.
    #[command(flatten)]
    pub keyring: super::KeyringArgs,
}

#[derive(Subcommand, Debug)]
pub enum GenesisCommand {
    /// Add a genesis account, with --nrn or --unrn an initial NRN balance
    /// (the SDK's add-genesis-account).
    ///
    /// The account is created at InitChain, numbered in order from 0. The
    /// balance goes into the NRN token's initial balances when
    /// deploy-governance already ran, else into
    /// app_state.auth.pending_balances until it runs.
    AddAccount(super::genesis_account::AddAccountArgs),
    /// Deploy token, staking and DAO at InitChain, bond this node as a
    /// validator and register the suite.
    DeployGovernance(DeployGovernanceArgs),
    /// Name the one account that may register a governance suite by tx
    /// (`umd gov deploy`); without one, only a suite deployed at genesis
    /// governs the chain.
    SetRegistrar {
        /// A key name in this home's keyring, or a `um1…` address.
        #[arg(long)]
        registrar: String,
        #[command(flatten)]
        home: super::HomeArgs,
        #[command(flatten)]
        keyring: super::KeyringArgs,
    },
    /// Print this node's proof that OPERATOR may bond its consensus key
    /// (`<pubkey>,<signature>`, base64): what `deploy-governance
    /// --validator` and `umd tx staking bond --consensus-signature` take.
    /// The consensus key signs; nothing leaves the node but the proof.
    ValidatorProof {
        /// The operator's `um1…` address.
        #[arg(long)]
        operator: String,
        /// The chain the bond is for; defaults to this home's genesis.
        #[arg(long)]
        chain_id: Option<String>,
        #[command(flatten)]
        home: super::HomeArgs,
    },
    /// Start a model lineage at genesis (version 0 = deterministic initial
    /// weights from the spec and the seed).
    AddLineage {
        /// Lineage id, 1-64 of [a-z0-9_-].
        #[arg(long)]
        model_id: String,
        /// The model spec JSON, e.g.
        /// {"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}
        #[arg(long)]
        spec: String,
        /// The hyperparameters JSON (um_bindings::Hyperparams: decimals as strings).
        #[arg(long)]
        hyperparams: String,
        /// Dataset the lineage trains and is validated on.
        #[arg(long, default_value = "mnist")]
        dataset: String,
        /// Seed of the initial weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Train in collaborative rounds: the round params JSON, e.g.
        /// {"max_contributions":4,"round_blocks":10,"outer_learning_rate":"1","eval_samples":1000,
        /// "checkpoint_interval":10,"segments_per_validator":2};
        /// without it the lineage takes one update at a time.
        #[arg(long)]
        rounds: Option<String>,
        #[command(flatten)]
        home: super::HomeArgs,
    },
}

pub fn run(command: GenesisCommand) -> anyhow::Result<()> {
    match command {
        GenesisCommand::DeployGovernance(args) => deploy_governance(args),
        GenesisCommand::AddAccount(args) => super::genesis_account::run(args),
        GenesisCommand::SetRegistrar {
            registrar,
            home,
            keyring,
        } => set_registrar(&registrar, &home, &keyring),
        GenesisCommand::AddLineage {
            model_id,
            spec,
            hyperparams,
            dataset,
            seed,
            rounds,
            home,
        } => add_lineage(
            &model_id,
            &spec,
            &hyperparams,
            &dataset,
            seed,
            rounds.as_deref(),
            home,
        ),
        GenesisCommand::ValidatorProof {
            operator,
            chain_id,
            home,
        } => {
            um_client::address::decode(&operator)
                .with_context(|| format!("--operator {operator:?}: bad address"))?;
            let chain_id = match chain_id {
                Some(id) => id,
                None => genesis_chain_id(&home)?,
            };
            let proof = super::consensus_key::bond_proof(&home.path(), &chain_id, &operator)?;
            println!("{}", proof.to_arg());
            Ok(())
        }
    }
}

fn genesis_chain_id(home: &super::HomeArgs) -> anyhow::Result<String> {
    let path = home.path().join("config/genesis.json");
    read_genesis(&path)?["chain_id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{} has no chain_id", path.display()))
}

/// `who` as an address: a `um1…` address as it is, or the address of the
/// key of that name (read without its passphrase).
pub(super) fn key_or_address(
    keyring: &um_client::keys::Keyring,
    who: &str,
) -> anyhow::Result<String> {
    if who.starts_with("um1") {
        um_client::address::decode(who).with_context(|| format!("{who:?}: bad address"))?;
        Ok(who.to_string())
    } else {
        Ok(keyring
            .info(who)
            .with_context(|| format!("no key {who:?} in this home's keyring"))?
            .address)
    }
}

fn set_registrar(
    registrar: &str,
    home: &super::HomeArgs,
    keyring: &super::KeyringArgs,
) -> anyhow::Result<()> {
    let address = key_or_address(&super::keys::keyring(home, keyring)?, registrar)?;
    let path = home.path().join("config/genesis.json");
    let mut genesis = read_genesis(&path)?;
    genesis["app_state"]["gov"]["params"]["registrar"] = serde_json::Value::String(address.clone());
    fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    println!("registrar: {address}");
    Ok(())
}

pub(super) fn read_genesis(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    serde_json::from_slice(&fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        .with_context(|| format!("{} is not JSON", path.display()))
}

fn add_lineage(
    model_id: &str,
    spec: &str,
    hyperparams: &str,
    dataset: &str,
    seed: u64,
    rounds: Option<&str>,
    home: super::HomeArgs,
) -> anyhow::Result<()> {
    let rounds = rounds
        .map(
            |json| -> anyhow::Result<crate::training::round::RoundParams> {
                let rounds: crate::training::round::RoundParams = serde_json::from_str(json)
                    .context("--rounds is not valid round params JSON")?;
                rounds.validate().map_err(|e| anyhow::anyhow!(e.log))?;
                Ok(rounds)
            },
        )
        .transpose()?;
    let spec_checked = crate::training::parse_spec(spec).map_err(|e| anyhow::anyhow!(e.log))?;
    let hyperparams: um_bindings::Hyperparams = serde_json::from_str(hyperparams)
        .context("--hyperparams is not valid hyperparameters JSON")?;
    hyperparams
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid hyperparameters: {e}"))?;
    let path = home.path().join("config/genesis.json");
    let mut genesis = read_genesis(&path)?;
    let lineages = genesis["app_state"]["training"]["lineages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if lineages.iter().any(|l| l["model_id"] == model_id) {
        anyhow::bail!("genesis already has a lineage {model_id:?}");
    }
    let mut lineages = lineages;
    lineages.push(serde_json::json!({
        "model_id": model_id,
        "spec": spec,
        "hyperparams": hyperparams,
        "dataset_id": dataset,
        "init_seed": seed,
        "rounds": rounds,
    }));
    genesis["app_state"]["training"]["lineages"] = serde_json::Value::Array(lineages);
    fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    println!(
        "lineage {model_id}: {} parameters, trains on {dataset}{}",
        spec_checked.parameter_count(),
        match &rounds {
            Some(r) => format!(", in rounds of up to {} contributions", r.max_contributions),
            None => String::new(),
        }
    );
    Ok(())
}

fn deploy_governance(args: DeployGovernanceArgs) -> anyhow::Result<()> {
    let DeployGovernanceArgs {
        operator,
        self_bond,
        epoch_blocks,
        trainers,
        validators,
        settings,
        home,
        keyring,
    } = args;
    let home_path = home.path();
    // Addresses only (`info`): a sealed key's address is readable without
    // its passphrase.
    let keyring = super::keys::keyring(&home, &keyring)?;
    let operator = keyring.info(&operator)?.address;
    let proof = super::consensus_key::bond_proof(&home_path, &genesis_chain_id(&home)?, &operator)?;

    let path = home_path.join("config/genesis.json");
    let mut genesis = read_genesis(&path)?;
    let mut config = settings.config();
    // Balances `umd genesis add-account` recorded before there was a token:
    // minted like --fund's, so they also stand in for the default funding
    // of an operator or trainer they name.
    for (address, amount) in
        super::genesis_account::take_pending_balances(&mut genesis["app_state"])?
    {
        if config.initial_balances.iter().any(|(a, _)| a == &address) {
            anyhow::bail!(
                "{address}: a --fund and a genesis balance from `umd genesis add-account`; \
                 give it one of them"
            );
        }
        config.initial_balances.push((address, amount));
    }
    if !config
        .initial_balances
        .iter()
        .any(|(address, _)| address == &operator)
    {
        config
            .initial_balances
            .push((operator.clone(), self_bond.saturating_mul(10)));
    }
    let mut bonds = vec![GenesisBond {
        operator: operator.clone(),
        amount: self_bond,
        role: BondRole::Validator {
            consensus_pubkey: proof.consensus_pubkey,
            consensus_signature: proof.signature,
        },
    }];
    for validator in validators {
        let Some((who, proof)) = validator.split_once('=') else {
            anyhow::bail!("--validator {validator:?}: expected OPERATOR=PUBKEY,SIGNATURE");
        };
        let address = key_or_address(&keyring, who)
            .with_context(|| format!("--validator {validator:?}: bad operator"))?;
        let proof = super::consensus_key::BondProof::from_arg(proof)
            .with_context(|| format!("--validator {validator:?}"))?;
        if bonds.iter().any(|b| b.operator == address) {
            anyhow::bail!("--validator {validator:?}: {address} already bonds at genesis");
        }
        if !config.initial_balances.iter().any(|(a, _)| a == &address) {
            config
                .initial_balances
                .push((address.clone(), self_bond.saturating_mul(10)));
        }
        bonds.push(GenesisBond {
            operator: address,
            amount: self_bond,
            role: BondRole::Validator {
                consensus_pubkey: proof.consensus_pubkey,
                consensus_signature: proof.signature,
            },
        });
    }
    for trainer in trainers {
        let Some((name, amount)) = trainer.split_once('=') else {
            anyhow::bail!("--trainer {trainer:?}: expected KEY=AMOUNT");
        };
        let amount: u128 = amount
            .parse()
            .with_context(|| format!("--trainer {trainer:?}: amount is not an integer"))?;
        let address = keyring.info(name)?.address;
        if !config.initial_balances.iter().any(|(a, _)| a == &address) {
            config
                .initial_balances
                .push((address.clone(), amount.saturating_mul(2)));
        }
        bonds.push(GenesisBond {
            operator: address,
            amount,
            role: BondRole::Trainer,
        });
    }
    check_balances(&config, &bonds)?;
    let suite = add_suite(&mut genesis["app_state"], &config, &operator, &bonds)?;
    genesis["app_state"]["gov"]["params"]["epoch_blocks"] = serde_json::json!(epoch_blocks);
    fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    println!("{}", suite.describe());
    Ok(())
}

/// What the token and the genesis bonds would refuse at InitChain, found
/// here instead of by a chain that does not start: an address funded
/// twice, a supply above the cap, a bond above its operator's balance.
fn check_balances(
    config: &um_governance::DeployConfig,
    bonds: &[GenesisBond],
) -> anyhow::Result<()> {
    let mut supply: u128 = 0;
    for (i, (address, amount)) in config.initial_balances.iter().enumerate() {
        if config.initial_balances[..i]
            .iter()
            .any(|(a, _)| a == address)
        {
            anyhow::bail!("{address} is funded twice (--fund, add-account)");
        }
        supply = supply.saturating_add(*amount);
    }
    if supply > config.token_cap {
        anyhow::bail!(
            "genesis balances total {supply}unrn, above the token's cap of {}unrn",
            config.token_cap
        );
    }
    for bond in bonds {
        let bonded: u128 = bonds
            .iter()
            .filter(|b| b.operator == bond.operator)
            .fold(0, |sum, b| sum.saturating_add(b.amount));
        let balance = config
            .initial_balances
            .iter()
            .find(|(a, _)| a == &bond.operator)
            .map_or(0, |(_, amount)| *amount);
        if bonded > balance {
            anyhow::bail!(
                "{} bonds {bonded}unrn at genesis but its genesis balance is {balance}unrn",
                bond.operator
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(byte: u8) -> String {
        um_client::address::encode(&[byte; 20])
    }

    fn trainer(operator: &str, amount: u128) -> GenesisBond {
        GenesisBond {
            operator: operator.to_string(),
            amount,
            role: BondRole::Trainer,
        }
    }

    #[test]
    fn balances_that_init_chain_would_refuse_are_refused_here() {
        let mut config = um_governance::DeployConfig::new(std::path::Path::new("artifacts"));
        config.token_cap = 1_000;
        config.initial_balances = vec![(address(1), 600), (address(2), 400)];
        check_balances(
            &config,
            &[trainer(&address(1), 300), trainer(&address(1), 300)],
        )
        .expect("bonds within balance, supply at the cap");

        let err = check_balances(
            &config,
            &[trainer(&address(2), 300), trainer(&address(2), 101)],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("bonds 401unrn") && err.contains("balance is 400unrn"),
            "{err}"
        );
        let err = check_balances(&config, &[trainer(&address(3), 1)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("genesis balance is 0unrn"), "{err}");

        config.initial_balances.push((address(3), 1));
        let err = check_balances(&config, &[]).unwrap_err().to_string();
        assert!(err.contains("above the token's cap of 1000unrn"), "{err}");

        config.initial_balances = vec![(address(1), 1), (address(1), 1)];
        let err = check_balances(&config, &[]).unwrap_err().to_string();
        assert!(err.contains("funded twice"), "{err}");
    }
}
