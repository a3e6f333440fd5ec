//! `umd query training …`: model history, updates and weights.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::training::v1::{
    QueryHeadRequest, QueryHeadResponse, QueryRoundRequest, QueryRoundResponse, QueryUpdateRequest,
    QueryUpdateResponse, QueryVersionRequest, QueryVersionResponse, QueryVersionsRequest,
    QueryVersionsResponse, QueryWeightsRequest, QueryWeightsResponse, RoundStatus, UpdateKind,
    UpdateStatus, VerdictReason,
};

#[derive(Subcommand, Debug)]
pub enum TrainingQuery {
    /// The accepted versions of a model, oldest first: its history.
    Versions {
        model_id: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// One submitted update with its status and the verdicts on it.
    Update {
        update_id: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// A collaborative round of a model (the current one unless --number):
    /// its contributions, candidate and outcome.
    Round {
        model_id: String,
        #[arg(long, default_value_t = 0)]
        number: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Save a version's weights (the head unless --version) as safetensors.
    Weights {
        model_id: String,
        #[arg(long)]
        version: Option<u64>,
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

pub fn run(command: TrainingQuery) -> anyhow::Result<()> {
    match command {
        TrainingQuery::Versions { model_id, node } => {
            let rpc = RpcClient::new(&node.node);
            println!(
                "{:>7} {:>7} {:>9} {:>8} {:>8}  {:<16}  trainer",
                "version", "parent", "val_loss", "val_acc", "height", "weights"
            );
            let mut next_key = Vec::new();
            loop {
                let page: QueryVersionsResponse = rpc.query_proto(
                    "/um.training.v1.Query/Versions",
                    &QueryVersionsRequest {
                        model_id: model_id.clone(),
                        // Oldest first: a history read top to bottom
                        // (scripts take the newest with `tail`).
                        pagination: Some(PageRequest {
                            key: next_key.clone(),
                            limit: 1000,
                            reverse: true,
                            ..Default::default()
                        }),
                    },
                )?;
                for v in &page.versions {
                    println!(
                        "{:>7} {:>7} {:>9.4} {:>8.4} {:>8}  {:<16}  {}",
                        v.version,
                        v.parent_version,
                        v.validation_loss,
                        v.validation_accuracy,
                        v.height,
                        &hex::encode(&v.weights_sha256)[..16],
                        v.trainer
                    );
                }
                next_key = page.pagination.map(|p| p.next_key).unwrap_or_default();
                if next_key.is_empty() {
                    break;
                }
            }
        }
        TrainingQuery::Round {
            model_id,
            number,
            node,
        } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryRoundResponse = rpc.query_proto(
                "/um.training.v1.Query/Round",
                &QueryRoundRequest {
                    model_id: model_id.clone(),
                    number,
                },
            )?;
            let Some(round) = answer.round else {
                bail!("no round of {model_id}");
            };
            let status = RoundStatus::try_from(round.status)
                .map(|s| s.as_str_name())
                .unwrap_or("?");
            let params = round.params.unwrap_or_default();
            println!(
                "round {} of {}: {status} {}, from version {}",
                round.number, round.model_id, round.outcome, round.base_version
            );
            println!(
                "  opened at {}, closes after {}, {} of {} shards taken",
                round.opened_height,
                round.closes_height,
                round.contributions.len(),
                params.max_contributions
            );
            for (id, shard) in round.contributions.iter().zip(&round.shards) {
                let update: QueryUpdateResponse = rpc.query_proto(
                    "/um.training.v1.Query/Update",
                    &QueryUpdateRequest { update_id: *id },
                )?;
                if let Some(u) = update.update {
                    let status = UpdateStatus::try_from(u.status)
                        .map(|s| s.as_str_name())
                        .unwrap_or("?");
                    println!(
                        "  shard {shard:>2}: update {id} by {} {status} {}",
                        u.trainer, u.reason
                    );
                }
            }
            if round.candidate_update_id != 0 {
                println!("  candidate: update {}", round.candidate_update_id);
            }
            if round.version != 0 {
                println!("  made version {}", round.version);
            }
        }
        TrainingQuery::Update { update_id, node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryUpdateResponse = rpc.query_proto(
                "/um.training.v1.Query/Update",
                &QueryUpdateRequest { update_id },
            )?;
            let Some(update) = answer.update else {
                bail!("update {update_id} not found");
            };
            let status = UpdateStatus::try_from(update.status)
                .map(|s| s.as_str_name())
                .unwrap_or("?");
            let kind = UpdateKind::try_from(update.kind)
                .map(|k| k.as_str_name())
                .unwrap_or("?");
            println!(
                "update {} of {} by {} ({kind})",
                update.id, update.model_id, update.trainer
            );
            if update.kind != UpdateKind::Single as i32 {
                println!(
                    "  round {}, shard {}, merges {:?}",
                    update.round, update.shard, update.contributions
                );
            }
            println!(
                "  base version {}, nonce {}",
                update.base_version, update.nonce
            );
            println!("  status {status} {}", update.reason);
            println!(
                "  accept power {}, reject power {}, slashed {}",
                update.accept_power, update.reject_power, update.slashed
            );
            for verdict in answer.verdicts {
                let reason = VerdictReason::try_from(verdict.reason)
                    .map(|r| r.as_str_name())
                    .unwrap_or("?");
                println!(
                    "  validator {} (power {}): {reason}, loss {:.4}, distance {:.2e}",
                    hex::encode_upper(&verdict.validator),
                    verdict.power,
                    verdict.measured_validation_loss,
                    verdict.relative_distance
                );
            }
        }
        TrainingQuery::Weights {
            model_id,
            version,
            output,
            node,
        } => {
            let rpc = RpcClient::new(&node.node);
            let version = match version {
                Some(number) => {
                    rpc.query_proto::<_, QueryVersionResponse>(
                        "/um.training.v1.Query/Version",
                        &QueryVersionRequest {
                            model_id: model_id.clone(),
                            version: number,
                        },
                    )?
                    .version
                }
                None => {
                    rpc.query_proto::<_, QueryHeadResponse>(
                        "/um.training.v1.Query/Head",
                        &QueryHeadRequest {
                            model_id: model_id.clone(),
                        },
                    )?
                    .version
                }
            };
            let Some(version) = version else {
                bail!("no such version of {model_id}");
            };
            let weights: QueryWeightsResponse = rpc.query_proto(
                "/um.training.v1.Query/Weights",
                &QueryWeightsRequest {
                    weights_sha256: version.weights_sha256.clone(),
                },
            )?;
            let digest = crate::training::records::sha256(&weights.weights);
            if digest.as_slice() != version.weights_sha256.as_slice() {
                bail!(
                    "the node sent weights whose hash does not match version {}",
                    version.version
                );
            }
            std::fs::write(&output, &weights.weights)
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "version {} of {model_id} ({} bytes, sha256 {}) saved to {}",
                version.version,
                weights.weights.len(),
                hex::encode(&version.weights_sha256),
                output.display()
            );
        }
    }
    Ok(())
}
