//! The REST gateway: Cosmos-style routes mirroring the gRPC queries, each
//! answered by the same ABCI query and rendered in the proto3 JSON mapping
//! (see [`super::json`]), plus the weights download, `/openapi.json`,
//! `/metrics` and the dashboard.
//!
//! [`ROUTES`] is the one list of routes: the router is built from it and so
//! is the OpenAPI document, so the two cannot disagree.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use cosmos_sdk_proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxResponse;
use cosmos_sdk_proto::cosmos::base::query::v1beta1 as cosmos_query;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    BroadcastMode, BroadcastTxRequest, GetTxRequest, SimulateRequest, SimulateResponse, Tx,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    CodeInfoResponse, QueryCodeRequest, QueryCodeResponse, QueryCodesRequest, QueryCodesResponse,
    QueryContractInfoRequest, QueryContractInfoResponse, QueryRawContractStateRequest,
    QueryRawContractStateResponse, QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use um_proto::um::common::v1::PageRequest;
use um_proto::um::dataset::v1 as dataset;
use um_proto::um::karma::v1 as karma;
use um_proto::um::training::v1 as training;

use super::backend::{Backend, MAX_TX_BYTES};
use super::error::{json_response, ApiError, Kind};
use super::{json, openapi};
use crate::codes::Code;
use crate::telemetry as metrics;

/// Largest request body (JSON with a base64 tx) the gateway reads.
pub const MAX_BODY: usize = MAX_TX_BYTES * 4 / 3 + 4096;

type Reply = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
type Handler = fn(Ctx) -> Reply;

/// One route: the OpenAPI document and the router are both built from it.
pub struct Route {
    /// `get` or `post`.
    pub method: &'static str,
    /// OpenAPI path template, `{name}` for a path parameter.
    pub path: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, OpenAPI type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// Media type of the 200 answer.
    pub produces: &'static str,
    /// Name of the OpenAPI schema of the 200 answer (JSON routes), or of
    /// the request body for `post` routes, as `(request, response)`.
    pub schemas: (&'static str, &'static str),
    handler: Handler,
}

const JSON: &str = "application/json";

const PAGE: [(&str, &str, &str); 5] = [
    (
        "pagination.key",
        "string",
        "base64 `next_key` of the previous page",
    ),
    (
        "pagination.offset",
        "string",
        "items to skip (when no key is given)",
    ),
    (
        "pagination.limit",
        "string",
        "page size (0: the server's default)",
    ),
    (
        "pagination.count_total",
        "boolean",
        "also return the total (first page only)",
    ),
    (
        "pagination.reverse",
        "boolean",
        "the opposite of the documented order",
    ),
];

/// `?prove=true` of the routes whose answers can be proven.
const PROVE: (&str, &str, &str) = (
    "prove",
    "boolean",
    "also return `proof`: the height the answer is for and the ICS23 proof of every state key it read, against the app hash in the header of the next height (a NotFound carries the proof of absence in its error body)",
);

macro_rules! with_page {
    ($($extra:expr),* $(,)?) => {
        &[$($extra,)* PAGE[0], PAGE[1], PAGE[2], PAGE[3], PAGE[4]]
    };
}

/// Every route of the gateway.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/cosmos/auth/v1beta1/accounts/{address}",
        summary: "An account (cosmos.auth.v1beta1.Query/Account).",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "QueryAccountResponse"),
        handler: |c| Box::pin(account(c)),
    },
    Route {
        method: "post",
        path: "/cosmos/tx/v1beta1/txs",
        summary: "Broadcasts a signed tx (BROADCAST_MODE_SYNC: the CheckTx result).",
        query: &[],
        produces: JSON,
        schemas: ("BroadcastTxRequest", "BroadcastTxResponse"),
        handler: |c| Box::pin(broadcast(c)),
    },
    Route {
        method: "get",
        path: "/cosmos/tx/v1beta1/txs/{hash}",
        summary: "A delivered tx and its result, by hex hash.",
        query: &[],
        produces: JSON,
        schemas: ("", "GetTxResponse"),
        handler: |c| Box::pin(get_tx(c)),
    },
    Route {
        method: "post",
        path: "/cosmos/tx/v1beta1/simulate",
        summary: "Runs a signed tx against the committed state without keeping it; its gas.",
        query: &[],
        produces: JSON,
        schemas: ("SimulateRequest", "SimulateResponse"),
        handler: |c| Box::pin(simulate(c)),
    },
    Route {
        method: "get",
        path: "/cosmwasm/wasm/v1/contract/{address}",
        summary: "A contract's info.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "QueryContractInfoResponse"),
        handler: |c| Box::pin(contract_info(c)),
    },
    Route {
        method: "get",
        path: "/cosmwasm/wasm/v1/contract/{address}/smart/{query_data}",
        summary: "A contract's answer to a JSON query given in base64.",
        query: &[],
        produces: JSON,
        schemas: ("", "QuerySmartContractStateResponse"),
        handler: |c| Box::pin(smart(c)),
    },
    Route {
        method: "get",
        path: "/cosmwasm/wasm/v1/contract/{address}/raw/{query_data}",
        summary: "The raw value of a contract's storage key given in base64.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "QueryRawContractStateResponse"),
        handler: |c| Box::pin(raw(c)),
    },
    Route {
        method: "get",
        path: "/cosmwasm/wasm/v1/code",
        summary: "Stored wasm codes.",
        query: with_page!(),
        produces: JSON,
        schemas: ("", "QueryCodesResponse"),
        handler: |c| Box::pin(codes(c)),
    },
    Route {
        method: "get",
        path: "/cosmwasm/wasm/v1/code/{code_id}",
        summary: "One stored wasm code, with its bytes.",
        query: &[],
        produces: JSON,
        schemas: ("", "QueryCodeResponse"),
        handler: |c| Box::pin(code(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models",
        summary: "Model lineages, ascending model_id.",
        query: with_page!(),
        produces: JSON,
        schemas: ("", "um.training.v1.QueryLineagesResponse"),
        handler: |c| Box::pin(models(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}",
        summary: "One model lineage.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryLineageResponse"),
        handler: |c| Box::pin(model(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/head",
        summary: "The newest accepted version of a lineage.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryHeadResponse"),
        handler: |c| Box::pin(head(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/round",
        summary: "The current collaborative round of a lineage in round mode.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryRoundResponse"),
        handler: |c| Box::pin(round(c, false)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/rounds/{number}",
        summary: "One round of a lineage: its contributions, candidate and outcome.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryRoundResponse"),
        handler: |c| Box::pin(round(c, true)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/versions",
        summary: "The versions of a lineage, newest first.",
        query: with_page!(PROVE),
        produces: JSON,
        schemas: ("", "um.training.v1.QueryVersionsResponse"),
        handler: |c| Box::pin(versions(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/versions/{version}",
        summary: "One version of a lineage.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryVersionResponse"),
        handler: |c| Box::pin(version(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/models/{model_id}/versions/{version}/weights",
        summary: "The version's weights (safetensors); header X-Weights-Sha256 is their hex SHA-256 as the chain records it.",
        query: &[],
        produces: "application/octet-stream",
        schemas: ("", ""),
        handler: |c| Box::pin(weights(c)),
    },
    Route {
        method: "post",
        path: "/um/training/v1/models/{model_id}/predict",
        summary: "Runs the head (or ?version=N) on one input: class probabilities of a 28x28 digit (the body a PNG, or JSON {\"image\": [784 pixels]} or {\"png\": base64}), or text continuing {\"prompt\": text, \"tokens\", \"temperature\", \"seed\"} for a language lineage. Forwarded to the node's um-trainer serve; 503 without one.",
        query: &[("version", "string", "the version to run (default: the head)")],
        produces: JSON,
        schemas: ("PredictBody", "um.training.v1.PredictResponse"),
        handler: |c| Box::pin(predict(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/updates",
        summary: "Updates, newest first, optionally filtered.",
        query: with_page!(
            ("model_id", "string", "only this lineage"),
            ("status", "string", "only this status, e.g. UPDATE_STATUS_ACCEPTED"),
            ("trainer", "string", "only this trainer (bech32)"),
        ),
        produces: JSON,
        schemas: ("", "um.training.v1.QueryUpdatesResponse"),
        handler: |c| Box::pin(updates(c)),
    },
    Route {
        method: "get",
        path: "/um/training/v1/updates/{update_id}",
        summary: "One update, its status and its verdicts.",
        query: &[PROVE],
        produces: JSON,
        schemas: ("", "um.training.v1.QueryUpdateResponse"),
        handler: |c| Box::pin(update(c)),
    },
    Route {
        method: "get",
        path: "/um/karma/v1/leaderboard",
        summary: "Addresses by karma score, highest first (ties: ascending address), with their contributions and badges.",
        query: with_page!(),
        produces: JSON,
        schemas: ("", "um.karma.v1.QueryLeaderboardResponse"),
        handler: |c| Box::pin(leaderboard(c)),
    },
    Route {
        method: "get",
        path: "/um/karma/v1/accounts/{address}",
        summary: "One address's karma: contributions, score, badges and rank.",
        query: &[],
        produces: JSON,
        schemas: ("", "um.karma.v1.QueryAccountResponse"),
        handler: |c| Box::pin(karma_account(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/datasets",
        summary: "The latest version of every dataset, ascending dataset_id.",
        query: with_page!(),
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryDatasetsResponse"),
        handler: |c| Box::pin(datasets(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/datasets/{dataset_id}",
        summary: "One version of a dataset (the latest by default).",
        query: &[("version", "string", "version number; absent for the latest")],
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryDatasetResponse"),
        handler: |c| Box::pin(dataset_one(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/datasets/{dataset_id}/versions",
        summary: "Every version of a dataset, newest first.",
        query: with_page!(),
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryDatasetVersionsResponse"),
        handler: |c| Box::pin(dataset_versions(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/datasets/{dataset_id}/records",
        summary: "The records of a dataset version, ascending record hash.",
        query: with_page!(
            ("version", "string", "version number; absent for the latest"),
            ("split", "string", "SPLIT_TRAIN or SPLIT_VALIDATION; absent for both"),
        ),
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryRecordsResponse"),
        handler: |c| Box::pin(records(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/deltas",
        summary: "Proposed dataset deltas, newest first, optionally filtered.",
        query: with_page!(
            ("dataset_id", "string", "only this dataset"),
            ("status", "string", "only this status, e.g. DELTA_STATUS_ACCEPTED"),
        ),
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryDeltasResponse"),
        handler: |c| Box::pin(deltas(c)),
    },
    Route {
        method: "get",
        path: "/um/dataset/v1/deltas/{delta_id}",
        summary: "One dataset delta.",
        query: &[],
        produces: JSON,
        schemas: ("", "um.dataset.v1.QueryDeltaResponse"),
        handler: |c| Box::pin(delta(c)),
    },
    Route {
        method: "get",
        path: "/openapi.json",
        summary: "This document.",
        query: &[],
        produces: JSON,
        schemas: ("", ""),
        handler: |_| Box::pin(async { Ok(json_response(StatusCode::OK, &openapi::document())) }),
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Metrics in the Prometheus text format.",
        query: &[],
        produces: "text/plain",
        schemas: ("", ""),
        handler: |_| Box::pin(async { Ok(metrics_page()) }),
    },
    Route {
        method: "get",
        path: "/",
        summary: "The dashboard.",
        query: &[],
        produces: "text/html",
        schemas: ("", ""),
        handler: |_| Box::pin(async { asset("index.html") }),
    },
    Route {
        method: "get",
        path: "/assets/{file}",
        summary: "A file of the dashboard.",
        query: &[],
        produces: "application/octet-stream",
        schemas: ("", ""),
        handler: |c| Box::pin(async move { asset(c.param("file")) }),
    },
];

/// The files of `abci-app/assets/dashboard/`, embedded at build time.
const ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// What a handler gets: path parameters, query parameters and body.
pub struct Ctx {
    backend: Arc<Backend>,
    params: HashMap<String, String>,
    query: Vec<(String, String)>,
    body: Bytes,
    /// The `Range` header, for the weights download.
    range: Option<String>,
}

impl Ctx {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    fn param_u64(&self, name: &str) -> Result<u64, ApiError> {
        let raw = self.param(name);
        raw.parse()
            .map_err(|_| ApiError::invalid(format!("{name} {raw:?} is not a non-negative integer")))
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query_u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.query(name)
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ApiError::invalid(format!("{name} {raw:?} is not a non-negative integer"))
                })
            })
            .transpose()
    }

    fn query_bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.query(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::invalid(format!(
                "{name} {other:?} is not true or false"
            ))),
        }
    }

    /// `pagination.*` as a `PageRequest`; `None` when none is given.
    fn page(&self) -> Result<Option<PageRequest>, ApiError> {
        if !self.query.iter().any(|(k, _)| k.starts_with("pagination.")) {
            return Ok(None);
        }
        let key = match self.query("pagination.key") {
            None | Some("") => Vec::new(),
            Some(key) => base64_param("pagination.key", key)?,
        };
        Ok(Some(PageRequest {
            key,
            offset: self.query_u64("pagination.offset")?.unwrap_or(0),
            limit: self.query_u64("pagination.limit")?.unwrap_or(0),
            count_total: self.query_bool("pagination.count_total")?,
            reverse: self.query_bool("pagination.reverse")?,
        }))
    }

    fn cosmos_page(&self) -> Result<Option<cosmos_query::PageRequest>, ApiError> {
        Ok(self.page()?.map(|p| cosmos_query::PageRequest {
            key: p.key,
            offset: p.offset,
            limit: p.limit,
            count_total: p.count_total,
            reverse: p.reverse,
        }))
    }

    /// An enum query parameter by its proto name; 0 when absent.
    fn query_enum(&self, name: &str, parse: fn(&str) -> Option<i32>) -> Result<i32, ApiError> {
        match self.query(name) {
            None | Some("") => Ok(0),
            Some(raw) => parse(raw)
                .ok_or_else(|| ApiError::invalid(format!("{name} {raw:?} is not a known value"))),
        }
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))
    }
}

/// Base64 in a URL: standard or URL-safe alphabet, padded or not.
fn base64_param(name: &str, raw: &str) -> Result<Vec<u8>, ApiError> {
    let lenient =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, lenient);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient);
    standard
        .decode(raw)
        .or_else(|_| url_safe.decode(raw))
        .map_err(|e| ApiError::invalid(format!("{name} is not base64: {e}")))
}

fn ok_json(value: Value) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &value))
}

/// An ABCI query of an `um.*` service, answered as proto3 JSON.
async fn um_query<Req: Message>(
    ctx: &Ctx,
    path: &str,
    response_type: &str,
    request: Req,
) -> Result<Response, ApiError> {
    let bytes = ctx.backend.query(path, request.encode_to_vec()).await?;
    let value = json::to_json(response_type, &bytes)
        .map_err(|e| ApiError::internal(format!("{response_type}: {e}")))?;
    ok_json(value)
}

async fn account(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QueryAccountRequest {
        address: ctx.param("address").to_string(),
    };
    proven_cosmos_query(
        &ctx,
        crate::auth::query::ACCOUNT_PATH,
        &request,
        account_json,
    )
    .await
}

/// A plain-state Cosmos query, answered as `render` writes it, with the
/// answer's `proof` when `?prove=true`.
async fn proven_cosmos_query<Req: Message>(
    ctx: &Ctx,
    path: &str,
    request: &Req,
    render: fn(&[u8]) -> Result<Value, String>,
) -> Result<Response, ApiError> {
    let answer = ctx
        .backend
        .query_proven(path, request.encode_to_vec(), ctx.query_bool("prove")?)
        .await?;
    let mut value =
        render(&answer.value).map_err(|e| ApiError::internal(format!("{path}: {e}")))?;
    if let Some(proof) = &answer.proof {
        value["proof"] = json::state_proof_json(proof);
    }
    ok_json(value)
}

/// The REST JSON of an encoded `QueryAccountResponse`.
pub fn account_json(bytes: &[u8]) -> Result<Value, String> {
    let response = QueryAccountResponse::decode(bytes).map_err(|e| e.to_string())?;
    let account = response.account.map(|any| {
        let base = BaseAccount::decode(any.value.as_slice()).unwrap_or_default();
        json!({
            "@type": any.type_url,
            "address": base.address,
            "pub_key": base.pub_key.map(|key| {
                let inner = PubKey::decode(key.value.as_slice()).unwrap_or_default();
                json!({"@type": key.type_url, "key": STANDARD.encode(inner.key)})
            }),
            "account_number": base.account_number.to_string(),
            "sequence": base.sequence.to_string(),
        })
    });
    Ok(json!({ "account": account }))
}

/// `cosmos.crypto.*.PubKey`: `bytes key = 1`.
#[derive(Clone, PartialEq, Message)]
struct PubKey {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
}

fn tx_body_bytes(ctx: &Ctx) -> Result<Vec<u8>, ApiError> {
    let body = ctx.json_body()?;
    let encoded = body["tx_bytes"]
        .as_str()
        .ok_or_else(|| ApiError::invalid("the body needs \"tx_bytes\": base64 of a TxRaw"))?;
    let tx = STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE.decode(encoded))
        .map_err(|e| ApiError::invalid(format!("tx_bytes is not base64: {e}")))?;
    if tx.is_empty() {
        return Err(ApiError::invalid("tx_bytes is empty"));
    }
    Ok(tx)
}

async fn broadcast(ctx: Ctx) -> Result<Response, ApiError> {
    let tx_bytes = tx_body_bytes(&ctx)?;
    let body = ctx.json_body()?;
    let mode = match &body["mode"] {
        Value::Null => BroadcastMode::Sync as i32,
        Value::String(name) => BroadcastMode::from_str_name(name)
            .map(|m| m as i32)
            .ok_or_else(|| ApiError::invalid(format!("unknown broadcast mode {name:?}")))?,
        other => return Err(ApiError::invalid(format!("mode {other} is not a string"))),
    };
    metrics::broadcast(false);
    let response = ctx
        .backend
        .broadcast(BroadcastTxRequest { tx_bytes, mode })
        .await?;
    ok_json(json!({ "tx_response": tx_response_json(&response) }))
}

async fn get_tx(ctx: Ctx) -> Result<Response, ApiError> {
    let response = ctx
        .backend
        .get_tx(GetTxRequest {
            hash: ctx.param("hash").to_string(),
        })
        .await?;
    ok_json(json!({
        "tx": response.tx.as_ref().map(tx_json),
        "tx_response": response.tx_response.as_ref().map(tx_response_json),
    }))
}

// `Result.data` is deprecated in the Cosmos SDK but is what umd fills.
#[allow(deprecated)]
async fn simulate(ctx: Ctx) -> Result<Response, ApiError> {
    let request = SimulateRequest {
        tx: None,
        tx_bytes: tx_body_bytes(&ctx)?,
    };
    let response: SimulateResponse = ctx
        .backend
        .query_msg("/cosmos.tx.v1beta1.Service/Simulate", &request)
        .await?;
    ok_json(json!({
        "gas_info": response.gas_info.map(|g| json!({
            "gas_wanted": g.gas_wanted.to_string(),
            "gas_used": g.gas_used.to_string(),
        })),
        "result": response.result.map(|r| json!({
            "data": STANDARD.encode(&r.data),
            "log": r.log,
            "events": [],
            "msg_responses": r.msg_responses.iter()
                .map(|any| json::any_to_json(&any.type_url, &any.value))
                .collect::<Vec<_>>(),
        })),
    }))
}

fn tx_response_json(r: &TxResponse) -> Value {
    json!({
        "height": r.height.to_string(),
        "txhash": r.txhash,
        "codespace": r.codespace,
        "code": r.code,
        "data": r.data,
        "raw_log": r.raw_log,
        "logs": [],
        "info": r.info,
        "gas_wanted": r.gas_wanted.to_string(),
        "gas_used": r.gas_used.to_string(),
        "tx": r.tx.as_ref().and_then(|any| Tx::decode(any.value.as_slice()).ok()).map(|tx| {
            let mut value = tx_json(&tx);
            if let Value::Object(map) = &mut value {
                map.insert("@type".into(), Value::String("/cosmos.tx.v1beta1.Tx".into()));
            }
            value
        }),
        "timestamp": r.timestamp,
        "events": r.events.iter().map(|e| json!({
            "type": e.r#type,
            "attributes": e.attributes.iter().map(|a| json!({
                "key": a.key, "value": a.value, "index": a.index,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn tx_json(tx: &Tx) -> Value {
    let any = |a: &cosmos_sdk_proto::Any| json::any_to_json(&a.type_url, &a.value);
    json!({
        "body": tx.body.as_ref().map(|b| json!({
            "messages": b.messages.iter().map(any).collect::<Vec<_>>(),
            "memo": b.memo,
            "timeout_height": b.timeout_height.to_string(),
        })),
        "auth_info": tx.auth_info.as_ref().map(|a| json!({
            "signer_infos": a.signer_infos.iter().map(|s| json!({
                "public_key": s.public_key.as_ref().map(any),
                "sequence": s.sequence.to_string(),
            })).collect::<Vec<_>>(),
            "fee": a.fee.as_ref().map(|f| json!({
                "amount": f.amount.iter().map(|c| json!({"denom": c.denom, "amount": c.amount}))
                    .collect::<Vec<_>>(),
                "gas_limit": f.gas_limit.to_string(),
                "payer": f.payer,
                "granter": f.granter,
            })),
        })),
        "signatures": tx.signatures.iter().map(|s| STANDARD.encode(s)).collect::<Vec<_>>(),
    })
}

const WASM: &str = "/cosmwasm.wasm.v1.Query/";

async fn contract_info(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QueryContractInfoRequest {
        address: ctx.param("address").to_string(),
    };
    proven_cosmos_query(
        &ctx,
        &format!("{WASM}ContractInfo"),
        &request,
        contract_info_json,
    )
    .await
}

/// The REST JSON of an encoded `QueryContractInfoResponse`.
pub fn contract_info_json(bytes: &[u8]) -> Result<Value, String> {
    let response = QueryContractInfoResponse::decode(bytes).map_err(|e| e.to_string())?;
    Ok(json!({
        "address": response.address,
        "contract_info": response.contract_info.map(|i| json!({
            "code_id": i.code_id.to_string(),
            "creator": i.creator,
            "admin": i.admin,
            "label": i.label,
            "ibc_port_id": i.ibc_port_id,
        })),
    }))
}

async fn smart(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QuerySmartContractStateRequest {
        address: ctx.param("address").to_string(),
        query_data: base64_param("query_data", ctx.param("query_data"))?,
    };
    let response: QuerySmartContractStateResponse = ctx
        .backend
        .query_msg(&format!("{WASM}SmartContractState"), &request)
        .await?;
    // Contracts answer JSON; the Cosmos gateway inlines it.
    let data = serde_json::from_slice(&response.data)
        .unwrap_or_else(|_| Value::String(STANDARD.encode(&response.data)));
    ok_json(json!({ "data": data }))
}

async fn raw(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QueryRawContractStateRequest {
        address: ctx.param("address").to_string(),
        query_data: base64_param("query_data", ctx.param("query_data"))?,
    };
    proven_cosmos_query(&ctx, &format!("{WASM}RawContractState"), &request, raw_json).await
}

/// The REST JSON of an encoded `QueryRawContractStateResponse`.
pub fn raw_json(bytes: &[u8]) -> Result<Value, String> {
    let response = QueryRawContractStateResponse::decode(bytes).map_err(|e| e.to_string())?;
    Ok(json!({ "data": STANDARD.encode(&response.data) }))
}

fn code_info_json(info: &CodeInfoResponse) -> Value {
    json!({
        "code_id": info.code_id.to_string(),
        "creator": info.creator,
        "data_hash": STANDARD.encode(&info.data_hash),
    })
}

fn cosmos_page_json(page: Option<&cosmos_query::PageResponse>) -> Value {
    page.map(|p| {
        json!({
            "next_key": if p.next_key.is_empty() { Value::Null } else { Value::String(STANDARD.encode(&p.next_key)) },
            "total": p.total.to_string(),
        })
    })
    .unwrap_or(Value::Null)
}

async fn codes(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QueryCodesRequest {
        pagination: ctx.cosmos_page()?,
    };
    let response: QueryCodesResponse = ctx
        .backend
        .query_msg(&format!("{WASM}Codes"), &request)
        .await?;
    ok_json(json!({
        "code_infos": response.code_infos.iter().map(code_info_json).collect::<Vec<_>>(),
        "pagination": cosmos_page_json(response.pagination.as_ref()),
    }))
}

async fn code(ctx: Ctx) -> Result<Response, ApiError> {
    let request = QueryCodeRequest {
        code_id: ctx.param_u64("code_id")?,
    };
    let response: QueryCodeResponse = ctx
        .backend
        .query_msg(&format!("{WASM}Code"), &request)
        .await?;
    ok_json(json!({
        "code_info": response.code_info.as_ref().map(code_info_json),
        "data": STANDARD.encode(&response.data),
    }))
}

async fn models(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryLineagesRequest {
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Lineages",
        "um.training.v1.QueryLineagesResponse",
        request,
    )
    .await
}

async fn model(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryLineageRequest {
        prove: ctx.query_bool("prove")?,
        model_id: ctx.param("model_id").to_string(),
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Lineage",
        "um.training.v1.QueryLineageResponse",
        request,
    )
    .await
}

async fn head(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryHeadRequest {
        prove: ctx.query_bool("prove")?,
        model_id: ctx.param("model_id").to_string(),
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Head",
        "um.training.v1.QueryHeadResponse",
        request,
    )
    .await
}

async fn round(ctx: Ctx, numbered: bool) -> Result<Response, ApiError> {
    let request = training::QueryRoundRequest {
        prove: ctx.query_bool("prove")?,
        model_id: ctx.param("model_id").to_string(),
        number: if numbered {
            ctx.param_u64("number")?
        } else {
            0
        },
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Round",
        "um.training.v1.QueryRoundResponse",
        request,
    )
    .await
}

async fn versions(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryVersionsRequest {
        prove: ctx.query_bool("prove")?,
        model_id: ctx.param("model_id").to_string(),
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Versions",
        "um.training.v1.QueryVersionsResponse",
        request,
    )
    .await
}

async fn version(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryVersionRequest {
        model_id: ctx.param("model_id").to_string(),
        version: ctx.param_u64("version")?,
        prove: ctx.query_bool("prove")?,
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Version",
        "um.training.v1.QueryVersionResponse",
        request,
    )
    .await
}

async fn weights(ctx: Ctx) -> Result<Response, ApiError> {
    let model_id = ctx.param("model_id").to_string();
    let number = ctx.param_u64("version")?;
    let response: training::QueryVersionResponse = ctx
        .backend
        .query_msg(
            "/um.training.v1.Query/Version",
            &training::QueryVersionRequest {
                model_id: model_id.clone(),
                version: number,
                prove: false,
            },
        )
        .await?;
    let sha = response
        .version
        .map(|v| v.weights_sha256)
        .ok_or_else(|| ApiError::internal("the version record has no weights hash"))?;
    let blob: training::QueryWeightsResponse = ctx
        .backend
        .query_msg(
            "/um.training.v1.Query/Weights",
            &training::QueryWeightsRequest {
                length: Default::default(),
                offset: Default::default(),
                weights_sha256: sha.clone(),
            },
        )
        .await?;
    // The store is content-addressed; a mismatch would be a corrupt node.
    if Sha256::digest(&blob.weights)[..] != sha[..] {
        return Err(ApiError::internal("stored weights do not match their hash"));
    }
    let sha_hex = hex::encode(&sha);
    let disposition = format!("attachment; filename=\"{model_id}-v{number}.safetensors\"")
        .parse()
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let total = blob.weights.len() as u64;
    let range = ctx.range.as_deref().map(|range| byte_range(range, total));
    let mut response = match range {
        None | Some(RangeAsked::Ignored) => (StatusCode::OK, blob.weights).into_response(),
        Some(RangeAsked::Unsatisfiable) => {
            let mut refused = ApiError::invalid(format!(
                "the range is outside the {total} bytes of these weights"
            ))
            .into_response();
            *refused.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(value) = format!("bytes */{total}").parse() {
                refused.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(refused);
        }
        Some(RangeAsked::Bytes(first, last)) => {
            let part = blob.weights[first as usize..=last as usize].to_vec();
            let mut partial = (StatusCode::PARTIAL_CONTENT, part).into_response();
            if let Ok(value) = format!("bytes {first}-{last}/{total}").parse() {
                partial.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            partial
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    if let Ok(value) = sha_hex.parse() {
        headers.insert("x-weights-sha256", value);
    }
    Ok(response)
}

/// What a `Range` header asks of `total` bytes.
#[derive(Debug, PartialEq)]
enum RangeAsked {
    /// `first..=last`, within the bytes.
    Bytes(u64, u64),
    /// Outside them: 416.
    Unsatisfiable,
    /// Not a single byte range (several ranges, another unit, malformed):
    /// answered whole, as RFC 9110 lets a server do.
    Ignored,
}

/// Parses `bytes=first-last`, `bytes=first-` and `bytes=-suffix`.
fn byte_range(header: &str, total: u64) -> RangeAsked {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAsked::Ignored;
    };
    if spec.contains(',') {
        return RangeAsked::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsked::Ignored;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (first, last) = match (first.trim(), last.trim()) {
        ("", "") => return RangeAsked::Ignored,
        ("", suffix) => match number(suffix) {
            Some(0) => return RangeAsked::Unsatisfiable,
            Some(n) => (total.saturating_sub(n), total.saturating_sub(1)),
            None => return RangeAsked::Ignored,
        },
        (first, "") => match number(first) {
            Some(first) => (first, total.saturating_sub(1)),
            None => return RangeAsked::Ignored,
        },
        (first, last) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => {
                (first, last.min(total.saturating_sub(1)))
            }
            _ => return RangeAsked::Ignored,
        },
    };
    if total == 0 || first >= total {
        return RangeAsked::Unsatisfiable;
    }
    RangeAsked::Bytes(first, last)
}

fn update_status(name: &str) -> Option<i32> {
    training::UpdateStatus::from_str_name(name).map(|s| s as i32)
}

async fn leaderboard(ctx: Ctx) -> Result<Response, ApiError> {
    let request = karma::QueryLeaderboardRequest {
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        crate::karma::query::LEADERBOARD_PATH,
        "um.karma.v1.QueryLeaderboardResponse",
        request,
    )
    .await
}

async fn karma_account(ctx: Ctx) -> Result<Response, ApiError> {
    let request = karma::QueryAccountRequest {
        address: ctx.param("address").to_string(),
    };
    um_query(
        &ctx,
        crate::karma::query::ACCOUNT_PATH,
        "um.karma.v1.QueryAccountResponse",
        request,
    )
    .await
}

async fn predict(ctx: Ctx) -> Result<Response, ApiError> {
    let request =
        super::predict::parse_body(ctx.param("model_id"), ctx.query_u64("version")?, &ctx.body)?;
    let response = ctx.backend.predict(request).await?;
    let value = json::to_json("um.training.v1.PredictResponse", &response.encode_to_vec())
        .map_err(|e| ApiError::internal(format!("um.training.v1.PredictResponse: {e}")))?;
    ok_json(value)
}

async fn updates(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryUpdatesRequest {
        model_id: ctx.query("model_id").unwrap_or("").to_string(),
        status: ctx.query_enum("status", update_status)?,
        trainer: ctx.query("trainer").unwrap_or("").to_string(),
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Updates",
        "um.training.v1.QueryUpdatesResponse",
        request,
    )
    .await
}

async fn update(ctx: Ctx) -> Result<Response, ApiError> {
    let request = training::QueryUpdateRequest {
        prove: ctx.query_bool("prove")?,
        update_id: ctx.param_u64("update_id")?,
    };
    um_query(
        &ctx,
        "/um.training.v1.Query/Update",
        "um.training.v1.QueryUpdateResponse",
        request,
    )
    .await
}

async fn datasets(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryDatasetsRequest {
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/Datasets",
        "um.dataset.v1.QueryDatasetsResponse",
        request,
    )
    .await
}

async fn dataset_one(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryDatasetRequest {
        dataset_id: ctx.param("dataset_id").to_string(),
        version: ctx.query_u64("version")?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/Dataset",
        "um.dataset.v1.QueryDatasetResponse",
        request,
    )
    .await
}

async fn dataset_versions(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryDatasetVersionsRequest {
        dataset_id: ctx.param("dataset_id").to_string(),
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/DatasetVersions",
        "um.dataset.v1.QueryDatasetVersionsResponse",
        request,
    )
    .await
}

async fn records(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryRecordsRequest {
        dataset_id: ctx.param("dataset_id").to_string(),
        version: ctx.query_u64("version")?,
        split: ctx.query_enum("split", |n| {
            dataset::Split::from_str_name(n).map(|s| s as i32)
        })?,
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/Records",
        "um.dataset.v1.QueryRecordsResponse",
        request,
    )
    .await
}

async fn deltas(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryDeltasRequest {
        dataset_id: ctx.query("dataset_id").unwrap_or("").to_string(),
        status: ctx.query_enum("status", |n| {
            dataset::DeltaStatus::from_str_name(n).map(|s| s as i32)
        })?,
        pagination: ctx.page()?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/Deltas",
        "um.dataset.v1.QueryDeltasResponse",
        request,
    )
    .await
}

async fn delta(ctx: Ctx) -> Result<Response, ApiError> {
    let request = dataset::QueryDeltaRequest {
        delta_id: ctx.param_u64("delta_id")?,
    };
    um_query(
        &ctx,
        "/um.dataset.v1.Query/Delta",
        "um.dataset.v1.QueryDeltaResponse",
        request,
    )
    .await
}

fn metrics_page() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::render(),
    )
        .into_response()
}

fn asset(name: &str) -> Result<Response, ApiError> {
    let Some((_, bytes)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::not_found(format!("no dashboard file {name:?}")));
    };
    let kind = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, kind)], *bytes).into_response())
}

/// `a=1&b=x%20y` as pairs, percent- and `+`-decoded.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid("malformed percent-encoding in the query"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid("the query is not UTF-8"))
}

async fn dispatch(
    route: &'static Route,
    backend: Arc<Backend>,
    params: Result<Path<HashMap<String, String>>, PathRejection>,
    request: Request,
) -> Response {
    let result = async {
        // Before anything else (reading a body, waiting for a query slot):
        // a client past its limit costs no more than this refusal.
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        let _client = backend.client_slot(peer)?;
        let Path(params) =
            params.map_err(|e| ApiError::invalid(format!("bad path parameter: {e}")))?;
        let query = parse_query(request.uri().query().unwrap_or(""))?;
        if let Some((unknown, _)) = query
            .iter()
            .find(|(k, _)| !route.query.iter().any(|(name, _, _)| name == k))
        {
            return Err(ApiError::invalid(format!(
                "unknown query parameter {unknown:?} for {}",
                route.path
            )));
        }
        let too_large = || {
            ApiError::new(
                Kind::TooLarge,
                Code::TxTooLarge,
                format!("the body exceeds {MAX_BODY} bytes"),
            )
        };
        // A declared length over the limit is refused before reading a byte.
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_BODY as u64) {
            return Err(too_large());
        }
        let range = request
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = if route.method == "post" {
            axum::body::to_bytes(request.into_body(), MAX_BODY)
                .await
                .map_err(|e| {
                    ApiError::new(
                        Kind::TooLarge,
                        Code::TxTooLarge,
                        format!("the body exceeds {MAX_BODY} bytes or could not be read: {e}"),
                    )
                })?
        } else {
            Bytes::new()
        };
        (route.handler)(Ctx {
            backend,
            params,
            query,
            body,
            range,
        })
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `{name}` segments as axum's `:name`.
pub fn axum_path(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Message of the 404 for paths that match no route.
pub const NO_ROUTE: &str = "no such route; see /openapi.json";

/// The REST router.
pub fn router(backend: Arc<Backend>) -> axum::Router {
    let mut router = axum::Router::new();
    for route in ROUTES {
        let handler =
            move |State(backend): State<Arc<Backend>>,
                  params: Result<Path<HashMap<String, String>>, PathRejection>,
                  request: Request| dispatch(route, backend, params, request);
        let method = match route.method {
            "post" => post(handler),
            _ => get(handler),
        };
        router = router.route(&axum_path(route.path), method);
    }
    router
        .fallback(|| async {
            ApiError::new(Kind::NotFound, Code::NotFound, NO_ROUTE).into_response()
        })
        .with_state(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_parse() {
        assert_eq!(
            axum_path("/um/training/v1/models/{model_id}/versions/{version}"),
            "/um/training/v1/models/:model_id/versions/:version"
        );
        let q = parse_query("pagination.limit=5&trainer=um1%20x&a+b=c").unwrap();
        assert_eq!(q[0], ("pagination.limit".into(), "5".into()));
        assert_eq!(q[1], ("trainer".into(), "um1 x".into()));
        assert_eq!(q[2], ("a b".into(), "c".into()));
        assert!(parse_query("x=%zz").is_err());
        assert!(parse_query("x=%f").is_err());
        assert_eq!(base64_param("k", "MTAw").unwrap(), b"100");
        assert_eq!(base64_param("k", "eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert!(base64_param("k", "!!").is_err());
    }

    #[test]
    fn byte_ranges_parse_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), RangeAsked::Bytes(0, 99));
        assert_eq!(byte_range("bytes=900-", 1000), RangeAsked::Bytes(900, 999));
        assert_eq!(byte_range("bytes=-100", 1000), RangeAsked::Bytes(900, 999));
        assert_eq!(byte_range("bytes=-5000", 1000), RangeAsked::Bytes(0, 999));
        assert_eq!(
            byte_range("bytes=990-5000", 1000),
            RangeAsked::Bytes(990, 999)
        );
        assert_eq!(byte_range("bytes=1000-", 1000), RangeAsked::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 1000), RangeAsked::Unsatisfiable);
        assert_eq!(byte_range("bytes=5-1", 1000), RangeAsked::Ignored);
        assert_eq!(byte_range("bytes=0-1,5-6", 1000), RangeAsked::Ignored);
        assert_eq!(byte_range("items=0-1", 1000), RangeAsked::Ignored);
        assert_eq!(byte_range("bytes=x-1", 1000), RangeAsked::Ignored);
    }

    #[test]
    fn every_route_is_unique_and_documented_once() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.path)), "{}", route.path);
            assert!(route.path.starts_with('/'));
        }
        assert!(ASSETS.iter().any(|(name, _)| *name == "index.html"));
    }
}
