//! A blocking client of the chain for trainers and verifiers: the training
//! (lineages, heads, versions, weights, updates, rounds) and dataset queries as gRPC-style ABCI queries through CometBFT's RPC
//! (protobuf request in `data`, protobuf response in `value`, answered by
//! umd), and `MsgSubmitUpdate` and `MsgClaimShard` signed and broadcast.
//!
//! Every answer that carries content is checked against its content
//! address: weights against the SHA-256 they were asked by, records against
//! their hashes, a dataset against its root.
//!
//! Blocking (ureq underneath): call it from a plain thread or inside
//! `tokio::task::spawn_blocking`.

#[cfg(test)]
pub(crate) mod fake;
pub mod grpc;
mod records;
mod submit;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use thiserror::Error;
use um_client::codes::Code;
use um_client::keys::{Backend, Key, Keyring, PassphraseSource};
use um_client::rpc::RpcClient;
use um_client::ClientError;
use um_proto::prost::Message;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::dataset::v1 as dataset_proto;
use um_proto::um::training::v1 as training_proto;

use crate::dataset::{Dataset, Record};

pub use records::{dataset_from_records, record_from_proto, split_from_proto};
pub use submit::{
    submit_gas, update_id, CLAIM_SHARD_GAS, CLAIM_SHARD_TYPE_URL, SUBMIT_GAS_BASE,
    SUBMIT_GAS_PER_BYTE, SUBMIT_UPDATE_TYPE_URL, UPDATE_EVENTS,
};

/// `um.training.v1.Query/Lineage`.
pub const LINEAGE_PATH: &str = "/um.training.v1.Query/Lineage";
/// `um.training.v1.Query/Head`.
pub const HEAD_PATH: &str = "/um.training.v1.Query/Head";
/// `um.training.v1.Query/Version`.
pub const VERSION_PATH: &str = "/um.training.v1.Query/Version";
/// `um.training.v1.Query/Weights`.
pub const WEIGHTS_PATH: &str = "/um.training.v1.Query/Weights";
/// `um.training.v1.Query/Update`.
pub const UPDATE_PATH: &str = "/um.training.v1.Query/Update";
/// `um.training.v1.Query/Round`.
pub const ROUND_PATH: &str = "/um.training.v1.Query/Round";
/// `um.dataset.v1.Query/Dataset`.
pub const DATASET_PATH: &str = "/um.dataset.v1.Query/Dataset";
/// `um.dataset.v1.Query/Records`.
pub const RECORDS_PATH: &str = "/um.dataset.v1.Query/Records";
/// Records asked for per page (the chain caps pages at 1000).
pub const RECORDS_PAGE: u64 = 1000;
/// The most records a dataset may have for this trainer (about 1.6 GB of
/// 28 × 28 digits): what a node's answers are bounded by before the root
/// check can refuse them.
pub const MAX_DATASET_RECORDS: u64 = 2_000_000;

/// Something the chain client could not do.
#[derive(Debug, Error)]
pub enum ChainError {
    #[error("chain unreachable: {0}")]
    Unreachable(String),
    #[error("{what} not found on chain ({path}: {log})")]
    NotFound {
        what: String,
        path: &'static str,
        log: String,
    },
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        path: &'static str,
        code: u32,
        log: String,
    },
    #[error("{path}: undecodable answer: {message}")]
    Decode { path: &'static str, message: String },
    #[error("{path}: the answer has no {field}")]
    Missing {
        path: &'static str,
        field: &'static str,
    },
    #[error("weights asked by sha256 {expected} hash to {got}")]
    WeightsHash { expected: String, got: String },
    #[error("dataset {dataset_id} v{version}: record {index}: {problem}")]
    Record {
        dataset_id: String,
        version: u64,
        index: usize,
        problem: String,
    },
    #[error("dataset {dataset_id} v{version}: the records have root {got}, expected {expected}")]
    RootMismatch {
        dataset_id: String,
        version: u64,
        expected: String,
        got: String,
    },
    #[error("dataset {dataset_id} v{version}: {problem}")]
    Pagination {
        dataset_id: String,
        version: u64,
        problem: String,
    },
    #[error("key {name:?} not found in the keyring {dir}")]
    KeyMissing { name: String, dir: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl ChainError {
    /// Whether the chain could not be reached at all (worth retrying later).
    /// That includes a CometBFT whose umd has just died (crashed, or being
    /// restarted): its RPC still answers, but with an error reading from
    /// the app ("read message: EOF", "connection reset by peer").
    pub fn is_unreachable(&self) -> bool {
        match self {
            ChainError::Unreachable(_)
            | ChainError::Client(ClientError::Rpc { .. } | ClientError::Timeout { .. }) => true,
            ChainError::Client(ClientError::RpcError { message, .. }) => {
                ["read message:", "connection reset by peer", "broken pipe"]
                    .iter()
                    .any(|sign| message.contains(sign))
            }
            _ => false,
        }
    }

    /// Whether the chain answered that the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ChainError::NotFound { .. })
    }
}

/// How long [`ChainClient::submit_update`] waits for its tx to be in a block.
pub const DEFAULT_TX_TIMEOUT: Duration = Duration::from_secs(60);

/// The chain as a trainer and a verifier see it.
#[derive(Clone, Debug)]
pub struct ChainClient {
    rpc: RpcClient,
    tx_timeout: Duration,
    /// umd's gRPC server, when txs go through its `BroadcastTx` instead of
    /// CometBFT's RPC.
    grpc: Option<String>,
}

impl ChainClient {
    /// A client of the CometBFT RPC at `node` (e.g. `http://127.0.0.1:26657`).
    pub fn new(node: &str) -> Self {
        Self {
            rpc: RpcClient::new(node),
            tx_timeout: DEFAULT_TX_TIMEOUT,
            grpc: None,
        }
    }

    /// Submits txs through umd's gRPC `cosmos.tx.v1beta1.Service` at
    /// `endpoint` (e.g. `http://127.0.0.1:9090`); queries still use the RPC.
    pub fn with_grpc(mut self, endpoint: &str) -> Self {
        self.grpc = Some(endpoint.to_string());
        self
    }

    /// Waits up to `timeout` for a submitted tx to be in a block.
    pub fn with_tx_timeout(mut self, timeout: Duration) -> Self {
        self.tx_timeout = timeout;
        self
    }

    /// The underlying RPC client (status, heights, raw queries).
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// `address`'s balance of the registered NRN token in micro-NRN;
    /// `None` when the chain has no governance suite registered.
    pub fn nrn_balance(&self, address: &str) -> Result<Option<u128>, ChainError> {
        const REGISTRY: &str = "custom/gov/registry";
        const SMART: &str = "/cosmwasm.wasm.v1.Query/SmartContractState";
        let registry = self.rpc.abci_query(REGISTRY, &[]).map_err(unreachable)?;
        if registry.code != 0 {
            return Ok(None);
        }
        let decode = |path: &'static str, message: String| ChainError::Decode { path, message };
        let registry: serde_json::Value =
            serde_json::from_slice(&registry.value).map_err(|e| decode(REGISTRY, e.to_string()))?;
        let Some(token) = registry["token"].as_str() else {
            return Err(decode(REGISTRY, "no token".into()));
        };
        let request = cosmos_sdk_proto::cosmwasm::wasm::v1::QuerySmartContractStateRequest {
            address: token.to_string(),
            query_data: serde_json::json!({"balance": {"address": address}})
                .to_string()
                .into_bytes(),
        };
        let response: cosmos_sdk_proto::cosmwasm::wasm::v1::QuerySmartContractStateResponse =
            self.rpc.query_proto(SMART, &request).map_err(|e| match e {
                ClientError::Decode { message, .. } => decode(SMART, message),
                e => ChainError::Query {
                    path: SMART,
                    code: 0,
                    log: e.to_string(),
                },
            })?;
        let answer: serde_json::Value =
            serde_json::from_slice(&response.data).map_err(|e| decode(SMART, e.to_string()))?;
        answer["balance"]
            .as_str()
            .and_then(|b| b.parse().ok())
            .map(Some)
            .ok_or_else(|| decode(SMART, format!("not a cw20 balance: {answer}")))
    }

    /// The latest committed height.
    pub fn latest_height(&self) -> Result<u64, ChainError> {
        self.rpc.latest_height().map_err(unreachable)
    }

    /// The chain id, from the node's status.
    pub fn chain_id(&self) -> Result<String, ChainError> {
        self.rpc.chain_id().map_err(unreachable)
    }

    /// A protobuf query at `path`; `what` names the object in a not-found error.
    pub fn query<Req: Message, Resp: Message + Default>(
        &self,
        path: &'static str,
        request: &Req,
        what: impl FnOnce() -> String,
    ) -> Result<Resp, ChainError> {
        self.rpc.query_proto(path, request).map_err(|e| match e {
            ClientError::Query { code, log, .. } if code == Code::NotFound.value() => {
                ChainError::NotFound {
                    what: what(),
                    path,
                    log,
                }
            }
            ClientError::Query { code, log, .. } => ChainError::Query { path, code, log },
            ClientError::Decode { message, .. } => ChainError::Decode { path, message },
            other => unreachable(other),
        })
    }

    /// A model lineage (spec, hyperparameters, dataset, head number).
    pub fn lineage(&self, model_id: &str) -> Result<training_proto::ModelLineage, ChainError> {
        let response: training_proto::QueryLineageResponse = self.query(
            LINEAGE_PATH,
            &training_proto::QueryLineageRequest {
                prove: false,
                model_id: model_id.to_string(),
            },
            || format!("model {model_id:?}"),
        )?;
        response.lineage.ok_or(ChainError::Missing {
            path: LINEAGE_PATH,
            field: "lineage",
        })
    }

    /// The head (newest accepted version) of a lineage.
    pub fn head(&self, model_id: &str) -> Result<training_proto::ModelVersion, ChainError> {
        let response: training_proto::QueryHeadResponse = self.query(
            HEAD_PATH,
            &training_proto::QueryHeadRequest {
                prove: false,
                model_id: model_id.to_string(),
            },
            || format!("model {model_id:?}"),
        )?;
        response.version.ok_or(ChainError::Missing {
            path: HEAD_PATH,
            field: "version",
        })
    }

    /// One version of a lineage.
    pub fn version(
        &self,
        model_id: &str,
        version: u64,
    ) -> Result<training_proto::ModelVersion, ChainError> {
        let response: training_proto::QueryVersionResponse = self.query(
            VERSION_PATH,
            &training_proto::QueryVersionRequest {
                prove: false,
                model_id: model_id.to_string(),
                version,
            },
            || format!("version {version} of {model_id:?}"),
        )?;
        response.version.ok_or(ChainError::Missing {
            path: VERSION_PATH,
            field: "version",
        })
    }

    /// A round of a lineage in round mode: `number` 0 is the current one.
    pub fn round(&self, model_id: &str, number: u64) -> Result<training_proto::Round, ChainError> {
        let response: training_proto::QueryRoundResponse = self.query(
            ROUND_PATH,
            &training_proto::QueryRoundRequest {
                prove: false,
                model_id: model_id.to_string(),
                number,
            },
            || match number {
                0 => format!("current round of {model_id:?}"),
                n => format!("round {n} of {model_id:?}"),
            },
        )?;
        response.round.ok_or(ChainError::Missing {
            path: ROUND_PATH,
            field: "round",
        })
    }

    /// Safetensors bytes by their SHA-256, checked against it.
    pub fn weights(&self, sha256: &[u8]) -> Result<Vec<u8>, ChainError> {
        let response: training_proto::QueryWeightsResponse = self.query(
            WEIGHTS_PATH,
            &training_proto::QueryWeightsRequest {
                length: Default::default(),
                offset: Default::default(),
                weights_sha256: sha256.to_vec(),
            },
            || format!("weights {}", hex::encode(sha256)),
        )?;
        let got = crate::sha256(&response.weights);
        if got.as_slice() != sha256 {
            return Err(ChainError::WeightsHash {
                expected: hex::encode(sha256),
                got: hex::encode(got),
            });
        }
        Ok(response.weights)
    }

    /// One version of a dataset (`None`: the current one).
    pub fn dataset(
        &self,
        dataset_id: &str,
        version: Option<u64>,
    ) -> Result<dataset_proto::Dataset, ChainError> {
        let response: dataset_proto::QueryDatasetResponse = self.query(
            DATASET_PATH,
            &dataset_proto::QueryDatasetRequest {
                dataset_id: dataset_id.to_string(),
                version,
            },
            || match version {
                Some(v) => format!("dataset {dataset_id:?} version {v}"),
                None => format!("dataset {dataset_id:?}"),
            },
        )?;
        response.dataset.ok_or(ChainError::Missing {
            path: DATASET_PATH,
            field: "dataset",
        })
    }

    /// Every record of a dataset version (both splits) with its split
    /// (`true`: validation), each checked against its hash, in the chain's
    /// order (ascending hash).
    /// At most `record_count` records (the count the dataset's metadata
    /// states, itself at most [`MAX_DATASET_RECORDS`]) and at most
    /// [`RECORDS_PAGE`] per page are taken before the root check: a node
    /// that pages forever cannot fill this process's memory.
    pub fn records(
        &self,
        dataset_id: &str,
        version: u64,
        record_count: u64,
    ) -> Result<Vec<(Record, bool)>, ChainError> {
        let pagination_error = |problem: String| ChainError::Pagination {
            dataset_id: dataset_id.to_string(),
            version,
            problem,
        };
        if record_count > MAX_DATASET_RECORDS {
            return Err(pagination_error(format!(
                "the chain states {record_count} records, more than this trainer takes ({MAX_DATASET_RECORDS})"
            )));
        }
        let mut out: Vec<(Record, bool)> = Vec::new();
        let mut key: Vec<u8> = Vec::new();
        let mut total: Option<u64> = None;
        loop {
            let first = out.is_empty() && key.is_empty();
            let request = dataset_proto::QueryRecordsRequest {
                dataset_id: dataset_id.to_string(),
                version: Some(version),
                split: dataset_proto::Split::Unspecified as i32,
                pagination: Some(PageRequest {
                    key: key.clone(),
                    // Used only while the server gives no cursor.
                    offset: if key.is_empty() { out.len() as u64 } else { 0 },
                    limit: RECORDS_PAGE,
                    count_total: first,
                    reverse: false,
                }),
            };
            let response: dataset_proto::QueryRecordsResponse =
                self.query(RECORDS_PATH, &request, || {
                    format!("dataset {dataset_id:?} version {version}")
                })?;
            let page = response.pagination.unwrap_or_default();
            if first && page.total > 0 {
                total = Some(page.total);
            }
            let returned = response.records.len();
            if returned as u64 > RECORDS_PAGE {
                return Err(pagination_error(format!(
                    "the chain returned {returned} records for a page of at most {RECORDS_PAGE}"
                )));
            }
            if (out.len() + returned) as u64 > record_count {
                return Err(pagination_error(format!(
                    "the chain returned more than the {record_count} records it states"
                )));
            }
            for r in response.records {
                let index = out.len();
                let checked = record_from_proto(&r)
                    .and_then(|record| split_from_proto(&r).map(|validation| (record, validation)));
                out.push(checked.map_err(|problem| ChainError::Record {
                    dataset_id: dataset_id.to_string(),
                    version,
                    index,
                    problem,
                })?);
            }
            if !page.next_key.is_empty() {
                if returned == 0 || page.next_key == key {
                    return Err(pagination_error(
                        "the chain returned an empty page with a cursor".into(),
                    ));
                }
                key = page.next_key;
                continue;
            }
            // No cursor: the last page, unless the server pages by offset only
            // and said how many there are.
            match total {
                Some(t) if (out.len() as u64) < t && returned > 0 => {
                    key.clear();
                    continue;
                }
                Some(t) if (out.len() as u64) != t => {
                    return Err(pagination_error(format!(
                        "the chain counted {t} records but returned {}",
                        out.len()
                    )));
                }
                _ => return Ok(out),
            }
        }
    }

    /// A dataset version's records as a [`Dataset`], checked against `root`
    /// (the `Dataset.root` the chain stores for that version).
    pub fn load_dataset(
        &self,
        dataset_id: &str,
        version: u64,
        root: &[u8],
        record_count: u64,
    ) -> Result<Dataset, ChainError> {
        let records = self.records(dataset_id, version, record_count)?;
        dataset_from_records(dataset_id, version, records, root)
    }

    /// One update with its status and verdicts.
    pub fn update(
        &self,
        update_id: u64,
    ) -> Result<training_proto::QueryUpdateResponse, ChainError> {
        self.query(
            UPDATE_PATH,
            &training_proto::QueryUpdateRequest {
                prove: false,
                update_id,
            },
            || format!("update {update_id}"),
        )
    }
}

/// The key `name` of the keyring under a umd home (`<home>/keys`, where
/// `umd keys add` writes it) with `backend`; the `file` backend's
/// passphrase comes from `UMD_KEYRING_PASSPHRASE` or the terminal.
pub fn load_key(home: &Path, name: &str, backend: Backend) -> Result<Key, ChainError> {
    let dir = home.join("keys");
    let keyring = Keyring::open(&dir, backend, PassphraseSource::EnvOrPrompt)?;
    keyring.get(name).map_err(|e| match e {
        ClientError::KeyNotFound(_) => ChainError::KeyMissing {
            name: name.to_string(),
            dir: dir.display().to_string(),
        },
        other => ChainError::Client(other),
    })
}

fn unreachable(e: ClientError) -> ChainError {
    match e {
        // ureq's messages usually name the URL already.
        ClientError::Rpc { url, message } if message.contains(&url) => {
            ChainError::Unreachable(message)
        }
        ClientError::Rpc { url, message } => ChainError::Unreachable(format!("{url}: {message}")),
        other => ChainError::Client(other),
    }
}
