use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use cosmos_sdk_proto::cosmos::auth::v1beta1::QueryAccountRequest;
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    QueryCodeRequest, QueryCodeResponse, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use prost::Message;

use um_client::rpc::RpcClient;
use um_client::tx_builder;

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// An account's number, sequence and public key (JSON with --verify).
    Account {
        address: String,
        #[command(flatten)]
        node: super::NodeArgs,
        #[command(flatten)]
        verify: super::verify::VerifyArgs,
    },
    #[command(subcommand)]
    Wasm(WasmQuery),
    /// Model history, updates and weights.
    #[command(subcommand)]
    Training(super::query_training::TrainingQuery),
    /// Datasets, their versions, records and proposed deltas.
    #[command(subcommand)]
    Dataset(super::dataset::DatasetQuery),
    /// Karma: the leaderboard and one address's contributions, score, badges.
    #[command(subcommand)]
    Karma(super::query_karma::KarmaQuery),
    /// Version NFTs: a token, an owner's tokens, a lineage's, tips and
    /// royalties.
    #[command(subcommand)]
    Versions(super::versions::VersionsQuery),
    /// A model lineage with its DAO-set hyperparameters.
    Lineage {
        model_id: String,
        #[command(flatten)]
        node: super::NodeArgs,
        /// With --verify: the lineage as `um.training.v1.Query/Lineage`
        /// answers it, checked by a light client.
        #[command(flatten)]
        verify: super::verify::VerifyArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum WasmQuery {
    /// Run a contract's JSON query.
    Smart {
        contract: String,
        msg: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Show stored code (and save its bytes with --output).
    Code {
        code_id: u64,
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run(command: QueryCommand) -> anyhow::Result<()> {
    match command {
        QueryCommand::Account {
            address,
            node,
            verify,
        } if verify.verify => {
            let query = super::verify::ProvenQuery {
                rest_path: format!("/cosmos/auth/v1beta1/accounts/{address}"),
                abci_path: crate::auth::query::ACCOUNT_PATH,
                request: QueryAccountRequest { address }.encode_to_vec(),
                render: &crate::api::rest::account_json,
            };
            super::verify::print_verified(&verify, &node.node, &query)?;
        }
        QueryCommand::Account { address, node, .. } => {
            let rpc = RpcClient::new(&node.node);
            match tx_builder::query_account(&rpc, &address)? {
                Some(account) => {
                    println!("address: {}", account.address);
                    println!("account_number: {}", account.account_number);
                    println!("sequence: {}", account.sequence);
                    if let Some(key) = account.pub_key {
                        println!("pub_key: {} {}", key.type_url, hex::encode(key.value));
                    }
                }
                None => anyhow::bail!("account {address} not found"),
            }
        }
        QueryCommand::Training(command) => super::query_training::run(command)?,
        QueryCommand::Dataset(command) => super::dataset::run_query(command)?,
        QueryCommand::Karma(command) => super::query_karma::run(command)?,
        QueryCommand::Versions(command) => super::versions::run_query(command)?,
        QueryCommand::Lineage {
            model_id,
            node,
            verify,
        } if verify.verify => {
            let render = super::verify::um_json("um.training.v1.QueryLineageResponse");
            let query = super::verify::ProvenQuery {
                rest_path: format!("/um/training/v1/models/{model_id}"),
                abci_path: "/um.training.v1.Query/Lineage",
                request: um_proto::um::training::v1::QueryLineageRequest {
                    model_id,
                    prove: true,
                }
                .encode_to_vec(),
                render: &render,
            };
            super::verify::print_verified(&verify, &node.node, &query)?;
        }
        QueryCommand::Lineage { model_id, node, .. } => {
            let rpc = RpcClient::new(&node.node);
            let request = serde_json::json!({"model_id": model_id}).to_string();
            let value = rpc.query_ok("custom/training/lineage", request.as_bytes())?;
            let lineage: serde_json::Value = serde_json::from_slice(&value)?;
            println!("{}", serde_json::to_string_pretty(&lineage)?);
        }
        QueryCommand::Wasm(WasmQuery::Smart {
            contract,
            msg,
            node,
        }) => {
            let rpc = RpcClient::new(&node.node);
            let request = QuerySmartContractStateRequest {
                address: contract,
                query_data: super::tx::json_bytes(&msg)?,
            };
            let value = rpc.query_ok(
                "/cosmwasm.wasm.v1.Query/SmartContractState",
                &request.encode_to_vec(),
            )?;
            let response = QuerySmartContractStateResponse::decode(value.as_slice())?;
            println!("{}", String::from_utf8_lossy(&response.data));
        }
        QueryCommand::Wasm(WasmQuery::Code {
            code_id,
            output,
            node,
        }) => {
            let rpc = RpcClient::new(&node.node);
            let value = rpc.query_ok(
                "/cosmwasm.wasm.v1.Query/Code",
                &QueryCodeRequest { code_id }.encode_to_vec(),
            )?;
            let response = QueryCodeResponse::decode(value.as_slice())?;
            if let Some(info) = &response.code_info {
                println!("code_id: {}", info.code_id);
                println!("creator: {}", info.creator);
                println!("checksum: {}", hex::encode(&info.data_hash));
            }
            println!("size: {} bytes", response.data.len());
            if let Some(path) = output {
                std::fs::write(&path, &response.data)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("saved to {}", path.display());
            }
        }
    }
    Ok(())
}
