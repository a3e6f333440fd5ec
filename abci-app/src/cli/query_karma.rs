//! `umd query karma`: the leaderboard and one address's karma.

use clap::Subcommand;
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::karma::v1::{
    Karma, QueryAccountRequest, QueryAccountResponse, QueryLeaderboardRequest,
    QueryLeaderboardResponse,
};

use crate::karma::query::{ACCOUNT_PATH, LEADERBOARD_PATH};

#[derive(Subcommand, Debug)]
pub enum KarmaQuery {
    /// Addresses by score, highest first: score, badges, what each contributed.
    Leaderboard {
        /// Entries to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// One address's karma and rank.
    Account {
        address: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run(command: KarmaQuery) -> anyhow::Result<()> {
    match command {
        KarmaQuery::Leaderboard { limit, node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryLeaderboardResponse = rpc.query_proto(
                LEADERBOARD_PATH,
                &QueryLeaderboardRequest {
                    pagination: Some(PageRequest {
                        limit,
                        ..Default::default()
                    }),
                },
            )?;
            println!(
                "{:>4}  {:<45} {:>7}  {:>8} {:>6} {:>6} {:>7} {:>8} {:>7}  badges",
                "rank",
                "address",
                "score",
                "versions",
                "rounds",
                "deltas",
                "records",
                "verdicts",
                "slashes"
            );
            for (index, karma) in answer.entries.iter().enumerate() {
                println!("{:>4}  {}", index + 1, row(karma));
            }
            if answer.entries.is_empty() {
                println!("(nobody has contributed yet)");
            }
        }
        KarmaQuery::Account { address, node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryAccountResponse =
                rpc.query_proto(ACCOUNT_PATH, &QueryAccountRequest { address })?;
            let karma = answer.karma.unwrap_or_default();
            let rank = match answer.rank {
                0 => "below the 10,000th".to_string(),
                n => n.to_string(),
            };
            println!("rank {rank}");
            println!("{}", serde_json::to_string_pretty(&json(&karma))?);
        }
    }
    Ok(())
}

fn row(karma: &Karma) -> String {
    let c = karma.contributions.unwrap_or_default();
    format!(
        "{:<45} {:>7}  {:>8} {:>6} {:>6} {:>7} {:>8} {:>7}  {}",
        karma.address,
        karma.score,
        c.versions,
        c.round_contributions,
        c.deltas,
        c.records,
        c.verdicts,
        c.slashes,
        karma.badges.join(", ")
    )
}

fn json(karma: &Karma) -> serde_json::Value {
    let c = karma.contributions.unwrap_or_default();
    serde_json::json!({
        "address": karma.address,
        "score": karma.score,
        "badges": karma.badges,
        "contributions": {
            "versions": c.versions,
            "round_contributions": c.round_contributions,
            "deltas": c.deltas,
            "records": c.records,
            "verdicts": c.verdicts,
            "slashes": c.slashes,
            "active_periods": c.active_periods,
            "first_height": c.first_height,
            "last_height": c.last_height,
        },
    })
}
