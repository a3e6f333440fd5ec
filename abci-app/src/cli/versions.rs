//! `umd tx versions tip|transfer` and `umd query versions …`: the version
//! NFTs of nrn-versions. The same standard cw721 messages work through
//! `umd tx wasm execute` / `umd query wasm smart` and from CosmJS.

use clap::Subcommand;
use serde_json::json;
use um_client::rpc::RpcClient;
use um_governance::proposals::registered_suite;
use um_governance::versions;

use super::gov::{with_chain, Signer};

#[derive(Subcommand, Debug)]
pub enum VersionsTx {
    /// Tip a lineage: micro-NRN shared among the current holders of its
    /// latest versions' tokens, by the DAO's royalty rule.
    Tip {
        model_id: String,
        amount: u128,
        #[command(flatten)]
        signer: Signer,
    },
    /// Give a version token to another address (cw721 `transfer_nft`).
    Transfer {
        token_id: String,
        recipient: String,
        #[command(flatten)]
        signer: Signer,
    },
}

#[derive(Subcommand, Debug)]
pub enum VersionsQuery {
    /// A token's owner and metadata (cw721 `all_nft_info`).
    Nft {
        token_id: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// The tokens an address holds (cw721 `tokens`).
    Tokens {
        owner: String,
        #[arg(long)]
        start_after: Option<String>,
        #[arg(long, default_value_t = 30)]
        limit: u32,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// A lineage's versions and their token ids, oldest first.
    Lineage {
        model_id: String,
        #[arg(long)]
        start_after: Option<u64>,
        #[arg(long, default_value_t = 30)]
        limit: u32,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Tips paid, oldest first, with who received what.
    Tips {
        #[arg(long)]
        start_after: Option<u64>,
        #[arg(long, default_value_t = 30)]
        limit: u32,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Royalties an address has received in all.
    Earned {
        address: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// How a tip of AMOUNT on a lineage would be shared now, and the rule.
    Shares {
        model_id: String,
        amount: u128,
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run_tx(command: VersionsTx) -> anyhow::Result<()> {
    match command {
        VersionsTx::Tip {
            model_id,
            amount,
            signer,
        } => with_chain(&signer, |chain| {
            let suite = registered_suite(chain.rpc)?;
            let result = versions::tip(chain, &suite, &model_id, amount)?;
            println!(
                "tipped {amount} uNRN on {model_id} at height {}",
                result.height
            );
            for (kind, key, value) in &result.events {
                if kind == "wasm" && key == "royalty" {
                    println!("  royalty {value}");
                }
            }
            Ok(())
        }),
        VersionsTx::Transfer {
            token_id,
            recipient,
            signer,
        } => with_chain(&signer, |chain| {
            let suite = registered_suite(chain.rpc)?;
            let result = versions::transfer(chain, &suite, &token_id, &recipient)?;
            println!(
                "transferred {token_id} to {recipient} at height {}",
                result.height
            );
            Ok(())
        }),
    }
}

pub fn run_query(command: VersionsQuery) -> anyhow::Result<()> {
    let (node, query) = match command {
        VersionsQuery::Nft { token_id, node } => {
            (node, json!({"all_nft_info": {"token_id": token_id}}))
        }
        VersionsQuery::Tokens {
            owner,
            start_after,
            limit,
            node,
        } => (
            node,
            json!({"tokens": {"owner": owner, "start_after": start_after, "limit": limit}}),
        ),
        VersionsQuery::Lineage {
            model_id,
            start_after,
            limit,
            node,
        } => (
            node,
            json!({"version_tokens": {"model_id": model_id, "start_after": start_after, "limit": limit}}),
        ),
        VersionsQuery::Tips {
            start_after,
            limit,
            node,
        } => (
            node,
            json!({"tips": {"start_after": start_after, "limit": limit}}),
        ),
        VersionsQuery::Earned { address, node } => (node, json!({"earned": {"address": address}})),
        VersionsQuery::Shares {
            model_id,
            amount,
            node,
        } => (
            node,
            json!({"tip_shares": {"model_id": model_id, "amount": amount.to_string()}}),
        ),
    };
    let rpc = RpcClient::new(&node.node);
    let suite = registered_suite(&rpc)?;
    let answer = versions::query(&rpc, &suite, &query)?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
