use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgInstantiateContract, MsgMigrateContract, MsgStoreCode,
};
use cosmos_sdk_proto::Any;

use um_client::msgs::any;
use um_client::rpc::RpcClient;
use um_client::tx_builder::{self, TxOptions};

#[derive(clap::Args, Debug)]
pub struct TxArgs {
    /// Key that signs.
    #[arg(long)]
    pub from: String,
    #[arg(long, default_value_t = 2_000_000)]
    pub gas: u64,
    /// Defaults to the chain id the node reports.
    #[arg(long)]
    pub chain_id: Option<String>,
    #[arg(long, default_value = "")]
    pub memo: String,
    /// unrn per gas; the fee is the gas limit at this price, rounded up.
    #[arg(long, default_value = um_client::fees::DEFAULT_GAS_PRICE)]
    pub gas_prices: um_client::fees::GasPrice,
    /// The whole fee, e.g. `50000unrn`, instead of `--gas-prices`.
    #[arg(long, value_parser = parse_fee)]
    pub fees: Option<u128>,
    #[command(flatten)]
    pub node: super::NodeArgs,
    #[command(flatten)]
    pub home: super::HomeArgs,
    #[command(flatten)]
    pub keyring: super::KeyringArgs,
}

#[derive(Subcommand, Debug)]
pub enum TxCommand {
    #[command(subcommand)]
    Wasm(WasmTx),
    #[command(subcommand)]
    Staking(super::staking::StakingTx),
    /// Propose dataset deltas.
    #[command(subcommand)]
    Dataset(super::dataset::DatasetTx),
    /// Version NFTs: tip a lineage's holders, give a token away.
    #[command(subcommand)]
    Versions(super::versions::VersionsTx),
}

#[derive(Subcommand, Debug)]
pub enum WasmTx {
    /// Upload wasm byte code (plain or gzipped).
    Store {
        file: PathBuf,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Instantiate stored code with a JSON message.
    Instantiate {
        code_id: u64,
        msg: String,
        #[arg(long)]
        label: String,
        /// Address allowed to migrate the contract.
        #[arg(long)]
        admin: Option<String>,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Execute a contract with a JSON message.
    Execute {
        contract: String,
        msg: String,
        #[command(flatten)]
        tx: TxArgs,
    },
    /// Migrate a contract to new code (admin only).
    Migrate {
        contract: String,
        code_id: u64,
        msg: String,
        #[command(flatten)]
        tx: TxArgs,
    },
}

pub fn run(command: TxCommand) -> anyhow::Result<()> {
    let wasm = match command {
        TxCommand::Wasm(wasm) => wasm,
        TxCommand::Staking(staking) => return super::staking::run(staking),
        TxCommand::Dataset(dataset) => return super::dataset::run_tx(dataset),
        TxCommand::Versions(versions) => return super::versions::run_tx(versions),
    };
    match wasm {
        WasmTx::Store { file, tx } => {
            let code = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let sender = sender(&tx)?;
            let msg = MsgStoreCode {
                sender,
                wasm_byte_code: code,
                instantiate_permission: None,
            };
            broadcast(&tx, any(&msg))
        }
        WasmTx::Instantiate {
            code_id,
            msg,
            label,
            admin,
            tx,
        } => {
            let msg = MsgInstantiateContract {
                sender: sender(&tx)?,
                admin: admin.unwrap_or_default(),
                code_id,
                label,
                msg: json_bytes(&msg)?,
                funds: Vec::new(),
            };
            broadcast(&tx, any(&msg))
        }
        WasmTx::Execute { contract, msg, tx } => {
            let msg = MsgExecuteContract {
                sender: sender(&tx)?,
                contract,
                msg: json_bytes(&msg)?,
                funds: Vec::new(),
            };
            broadcast(&tx, any(&msg))
        }
        WasmTx::Migrate {
            contract,
            code_id,
            msg,
            tx,
        } => {
            let msg = MsgMigrateContract {
                sender: sender(&tx)?,
                contract,
                code_id,
                msg: json_bytes(&msg)?,
            };
            broadcast(&tx, any(&msg))
        }
    }
}

/// `50000unrn` (or `50000`) as unrn.
fn parse_fee(text: &str) -> Result<u128, String> {
    let number = text
        .strip_suffix(um_client::fees::FEE_DENOM)
        .unwrap_or(text);
    number
        .parse::<u128>()
        .map_err(|_| format!("{text:?}: expected a whole amount of unrn, like 50000unrn"))
}

/// Checks the argument is JSON and returns its bytes unchanged.
pub fn json_bytes(text: &str) -> anyhow::Result<Vec<u8>> {
    serde_json::from_str::<serde_json::Value>(text)
        .with_context(|| format!("message is not valid JSON: {text}"))?;
    Ok(text.as_bytes().to_vec())
}

fn sender(tx: &TxArgs) -> anyhow::Result<String> {
    Ok(super::keys::keyring(&tx.home, &tx.keyring)?
        .info(&tx.from)?
        .address)
}

fn broadcast(args: &TxArgs, msg: Any) -> anyhow::Result<()> {
    let key = super::keys::keyring(&args.home, &args.keyring)?.get(&args.from)?;
    let rpc = RpcClient::new(&args.node.node);
    let chain_id = match &args.chain_id {
        Some(id) => id.clone(),
        None => rpc.chain_id()?,
    };
    let signer = tx_builder::signer_data(&rpc, &chain_id, &key.address)?;
    let options = TxOptions {
        gas_limit: args.gas,
        memo: args.memo.clone(),
        gas_price: args.gas_prices,
        fee: args.fees,
        ..TxOptions::default()
    };
    let tx = tx_builder::sign_tx(&key, vec![msg], &signer, &options)?;
    let result = rpc.broadcast_and_wait(&tx, Duration::from_secs(60))?;
    println!("txhash: {}", result.hash);
    println!("height: {}", result.height);
    println!("code: {}", result.code);
    println!("gas: {} used of {}", result.gas_used, result.gas_wanted);
    for (kind, key, value) in &result.events {
        println!("event {kind}.{key} = {value}");
    }
    if !result.is_ok() {
        bail!(
            "tx failed with code {} ({}): {}",
            result.code,
            result.codespace,
            result.log
        );
    }
    Ok(())
}
