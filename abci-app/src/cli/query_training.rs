//! `umd query training …`: model history, updates and weights.

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as URL_B64};
use base64::Engine;
use clap::Subcommand;
use prost::Message;
use um_client::rpc::RpcClient;

use super::verify::{download_checked, print_verified, um_json, ProvenQuery, VerifyArgs};
use um_proto::um::common::v1::PageRequest;
use um_proto::um::training::v1::{
    ModelVersion, QueryHeadRequest, QueryHeadResponse, QueryRoundRequest, QueryRoundResponse,
    QueryUpdateRequest, QueryUpdateResponse, QueryVersionRequest, QueryVersionResponse,
    QueryVersionsRequest, QueryVersionsResponse, QueryWeightsRequest, QueryWeightsResponse,
    RoundStatus, UpdateKind, UpdateStatus, VerdictReason,
};

#[derive(Subcommand, Debug)]
pub enum TrainingQuery {
    /// The accepted versions of a model, oldest first: its history. With
    /// --verify, every page is checked by a light client (pages of 100).
    Versions {
        model_id: String,
        #[command(flatten)]
        node: super::NodeArgs,
        #[command(flatten)]
        verify: VerifyArgs,
    },
    /// One version of a model (JSON): its weights hash, parent, trainer and
    /// the held-out loss the validators measured. With --verify, checked by
    /// a light client; a version that does not exist is then proven absent.
    Version {
        model_id: String,
        version: u64,
        #[command(flatten)]
        node: super::NodeArgs,
        #[command(flatten)]
        verify: VerifyArgs,
    },
    /// One submitted update with its status and the verdicts on it (JSON
    /// with --verify).
    Update {
        update_id: u64,
        #[command(flatten)]
        node: super::NodeArgs,
        #[command(flatten)]
        verify: VerifyArgs,
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
        /// With --verify: the version's record is light-client verified and
        /// the downloaded bytes are checked against its proven hash.
        #[command(flatten)]
        verify: VerifyArgs,
    },
}

/// Versions per verified page: a page is proven key by key, at most 256.
const VERIFIED_PAGE: u64 = 100;

fn print_versions_header() {
    println!(
        "{:>7} {:>7} {:>9} {:>8} {:>8}  {:<16}  trainer",
        "version", "parent", "val_loss", "val_acc", "height", "weights"
    );
}

fn print_version_row(v: &ModelVersion) {
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

pub fn run(command: TrainingQuery) -> anyhow::Result<()> {
    match command {
        TrainingQuery::Versions {
            model_id,
            node,
            verify,
        } if verify.verify => {
            print_versions_header();
            let render = um_json("um.training.v1.QueryVersionsResponse");
            let mut next_key = Vec::new();
            loop {
                // What the REST route builds from these parameters, so the
                // answer re-run here is the one the node was asked for.
                let request = QueryVersionsRequest {
                    model_id: model_id.clone(),
                    pagination: Some(PageRequest {
                        key: next_key.clone(),
                        limit: VERIFIED_PAGE,
                        reverse: true,
                        ..Default::default()
                    }),
                    prove: true,
                };
                let mut rest_path = format!(
                    "/um/training/v1/models/{model_id}/versions?pagination.limit={VERIFIED_PAGE}&pagination.reverse=true"
                );
                if !next_key.is_empty() {
                    rest_path += &format!("&pagination.key={}", URL_B64.encode(&next_key));
                }
                let query = ProvenQuery {
                    rest_path,
                    abci_path: "/um.training.v1.Query/Versions",
                    request: request.encode_to_vec(),
                    render: &render,
                };
                let verified = super::verify::verified(&verify, &node.node, &query)?;
                eprintln!("{}", verified.summary(&verify));
                let Some(bytes) = verified.proven_bytes else {
                    bail!("proven absent: {}", verified.absent.unwrap_or_default());
                };
                let page = QueryVersionsResponse::decode(bytes.as_slice())?;
                page.versions.iter().for_each(print_version_row);
                next_key = page.pagination.map(|p| p.next_key).unwrap_or_default();
                if next_key.is_empty() {
                    break;
                }
            }
        }
        TrainingQuery::Versions { model_id, node, .. } => {
            let rpc = RpcClient::new(&node.node);
            print_versions_header();
            let mut next_key = Vec::new();
            loop {
                let page: QueryVersionsResponse = rpc.query_proto(
                    "/um.training.v1.Query/Versions",
                    &QueryVersionsRequest {
                        prove: false,
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
                page.versions.iter().for_each(print_version_row);
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
                    prove: false,
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
                    &QueryUpdateRequest {
                        prove: false,
                        update_id: *id,
                    },
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
        TrainingQuery::Version {
            model_id,
            version,
            node,
            verify,
        } => {
            let request = QueryVersionRequest {
                model_id: model_id.clone(),
                version,
                prove: true,
            };
            let render = um_json("um.training.v1.QueryVersionResponse");
            if verify.verify {
                let query = ProvenQuery {
                    rest_path: format!("/um/training/v1/models/{model_id}/versions/{version}"),
                    abci_path: "/um.training.v1.Query/Version",
                    request: request.encode_to_vec(),
                    render: &render,
                };
                print_verified(&verify, &node.node, &query)?;
            } else {
                let rpc = RpcClient::new(&node.node);
                let bytes =
                    rpc.query_ok("/um.training.v1.Query/Version", &request.encode_to_vec())?;
                let answer = render(&bytes).map_err(|e| anyhow::anyhow!(e))?;
                println!("{}", serde_json::to_string_pretty(&answer)?);
            }
        }
        TrainingQuery::Update {
            update_id,
            node,
            verify,
        } if verify.verify => {
            let render = um_json("um.training.v1.QueryUpdateResponse");
            let query = ProvenQuery {
                rest_path: format!("/um/training/v1/updates/{update_id}"),
                abci_path: "/um.training.v1.Query/Update",
                request: QueryUpdateRequest {
                    update_id,
                    prove: true,
                }
                .encode_to_vec(),
                render: &render,
            };
            print_verified(&verify, &node.node, &query)?;
        }
        TrainingQuery::Update {
            update_id, node, ..
        } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryUpdateResponse = rpc.query_proto(
                "/um.training.v1.Query/Update",
                &QueryUpdateRequest {
                    prove: false,
                    update_id,
                },
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
            verify,
        } if verify.verify => {
            let (rest_path, abci_path, request, render) = match version {
                Some(number) => (
                    format!("/um/training/v1/models/{model_id}/versions/{number}"),
                    "/um.training.v1.Query/Version",
                    QueryVersionRequest {
                        model_id: model_id.clone(),
                        version: number,
                        prove: true,
                    }
                    .encode_to_vec(),
                    um_json("um.training.v1.QueryVersionResponse"),
                ),
                None => (
                    format!("/um/training/v1/models/{model_id}/head"),
                    "/um.training.v1.Query/Head",
                    QueryHeadRequest {
                        model_id: model_id.clone(),
                        prove: true,
                    }
                    .encode_to_vec(),
                    um_json("um.training.v1.QueryHeadResponse"),
                ),
            };
            let query = ProvenQuery {
                rest_path,
                abci_path,
                request,
                render: &render,
            };
            let verified = super::verify::verified(&verify, &node.node, &query)?;
            eprintln!("{}", verified.summary(&verify));
            let Some(answer) = verified.answer else {
                bail!("proven absent: {}", verified.absent.unwrap_or_default());
            };
            let record = &answer["version"];
            let number = record["version"].as_str().unwrap_or_default();
            let sha = B64
                .decode(record["weights_sha256"].as_str().unwrap_or_default())
                .context("the proven record's weights hash")?;
            let url = format!(
                "{}/um/training/v1/models/{model_id}/versions/{number}/weights",
                verify.rest.trim_end_matches('/')
            );
            let weights = download_checked(&url, &sha)?;
            std::fs::write(&output, &weights)
                .with_context(|| format!("writing {}", output.display()))?;
            println!(
                "saved version {number} of {model_id} ({} bytes, sha256 {}, proven) to {}",
                weights.len(),
                hex::encode(&sha),
                output.display()
            );
        }
        TrainingQuery::Weights {
            model_id,
            version,
            output,
            node,
            ..
        } => {
            let rpc = RpcClient::new(&node.node);
            let version = match version {
                Some(number) => {
                    rpc.query_proto::<_, QueryVersionResponse>(
                        "/um.training.v1.Query/Version",
                        &QueryVersionRequest {
                            prove: false,
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
                            prove: false,
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
                    length: Default::default(),
                    offset: Default::default(),
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
