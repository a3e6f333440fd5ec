//! What the gRPC services and REST routes run on: queries answered in
//! process by the ABCI query router from the last committed state (the very
//! answers ABCI `Query` gives), and txs broadcast to / looked up in the
//! local CometBFT over its RPC.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxResponse;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    AuthInfo, BroadcastMode, BroadcastTxRequest, BroadcastTxResponse, GetTxRequest, GetTxResponse,
    Tx, TxBody, TxRaw,
};
use cosmos_sdk_proto::tendermint::abci::{Event, EventAttribute};
use prost::Message;
use serde_json::{json, Value};
use um_client::rpc::RpcClient;
use um_client::ClientError;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::app::App;

/// Half the machine's cores (at least one): the other half stays with
/// CometBFT and block execution whatever the query load.
fn default_query_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() / 2)
        .unwrap_or(1)
        .max(1)
}

/// Largest tx the gateway forwards (CometBFT's own limit still applies).
pub const MAX_TX_BYTES: usize = 8 << 20;

pub struct Backend {
    app: App,
    rpc: RpcClient,
    /// Queries running at once (smart queries and simulations run contract
    /// code): the rest of the machine stays with consensus.
    query_slots: Arc<Semaphore>,
    /// Queries waiting for a slot; beyond [`MAX_WAITING_QUERIES`] a new one
    /// is refused at once rather than queued without bound.
    waiting: AtomicUsize,
}

/// Queries that may wait for a slot before new ones are refused (429 /
/// RESOURCE_EXHAUSTED).
pub const MAX_WAITING_QUERIES: usize = 64;

impl Backend {
    pub fn new(app: App, rpc_url: &str) -> Self {
        Self::with_query_slots(app, rpc_url, default_query_slots())
    }

    /// A backend that runs at most `slots` queries at once.
    pub fn with_query_slots(app: App, rpc_url: &str, slots: usize) -> Self {
        Self {
            app,
            rpc: RpcClient::new(rpc_url),
            query_slots: Arc::new(Semaphore::new(slots.max(1))),
            waiting: AtomicUsize::new(0),
        }
    }

    /// ABCI query `path` with protobuf `data`; the protobuf answer.
    pub async fn query(&self, path: &str, data: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        let app = self.app.clone();
        let path = path.to_string();
        let permit = self.query_slot().await?;
        // Contract code runs on a blocking thread, not on the async workers.
        let response = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            app.query_committed(&path, data)
        })
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
        if response.code != 0 {
            return Err(ApiError::from_abci(
                response.code,
                &response.codespace,
                &response.log,
            ));
        }
        Ok(response.value.to_vec())
    }

    /// Waits for a query slot, unless too many queries wait already.
    async fn query_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.query_slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        if waiting >= MAX_WAITING_QUERIES {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::busy(format!(
                "the node is answering as many queries as it will, with {MAX_WAITING_QUERIES} more waiting; ask again later"
            )));
        }
        let permit = self.query_slots.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| ApiError::internal("query slots closed"))
    }

    /// [`Self::query`] with typed request and response.
    pub async fn query_msg<Req: Message, Resp: Message + Default>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp, ApiError> {
        let bytes = self.query(path, request.encode_to_vec()).await?;
        Resp::decode(bytes.as_slice())
            .map_err(|e| ApiError::internal(format!("{path}: undecodable answer: {e}")))
    }

    async fn rpc<T: Send + 'static>(
        &self,
        call: impl FnOnce(&RpcClient) -> Result<T, ClientError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let rpc = self.rpc.clone();
        tokio::task::spawn_blocking(move || call(&rpc))
            .await
            .map_err(|e| ApiError::internal(format!("RPC task failed: {e}")))?
            .map_err(rpc_error)
    }

    /// `cosmos.tx.v1beta1.Service/BroadcastTx`: CheckTx through CometBFT's
    /// `broadcast_tx_sync`. A tx CheckTx refuses is an answer (its code is in
    /// `tx_response`), not an error, as in the Cosmos SDK.
    pub async fn broadcast(&self, request: BroadcastTxRequest) -> Result<TxResponse, ApiError> {
        match BroadcastMode::try_from(request.mode) {
            Ok(BroadcastMode::Sync) | Ok(BroadcastMode::Unspecified) => {}
            _ => {
                return Err(ApiError::invalid(format!(
                    "broadcast mode {} is not supported; use BROADCAST_MODE_SYNC",
                    request.mode
                )))
            }
        }
        if request.tx_bytes.is_empty() {
            return Err(ApiError::invalid("tx_bytes is empty"));
        }
        if request.tx_bytes.len() > MAX_TX_BYTES {
            return Err(ApiError::invalid(format!(
                "tx of {} bytes exceeds {MAX_TX_BYTES}",
                request.tx_bytes.len()
            )));
        }
        let tx = request.tx_bytes;
        let result = self.rpc(move |rpc| rpc.broadcast_sync(&tx)).await?;
        Ok(TxResponse {
            txhash: result.hash,
            codespace: result.codespace,
            code: result.code,
            data: hex::encode_upper(&result.data),
            raw_log: result.log,
            ..Default::default()
        })
    }

    /// `cosmos.tx.v1beta1.Service/GetTx`: the delivered tx and its result
    /// from CometBFT's `tx`.
    pub async fn get_tx(&self, request: GetTxRequest) -> Result<GetTxResponse, ApiError> {
        let hash = hex::decode(request.hash.trim())
            .ok()
            .filter(|h| h.len() == 32)
            .ok_or_else(|| {
                ApiError::invalid(format!("tx hash {:?} is not 64 hex digits", request.hash))
            })?;
        let wanted = hex::encode_upper(&hash);
        let params = json!({"hash": B64.encode(&hash), "prove": false});
        let answer = self.rpc(move |rpc| rpc.call("tx", params)).await;
        let result = match answer {
            Ok(result) => result,
            Err(err) if err.message.contains("not found") => {
                return Err(ApiError::not_found(format!("tx {wanted} not found")))
            }
            Err(err) => return Err(err),
        };
        let tx_bytes = result["tx"]
            .as_str()
            .and_then(|s| B64.decode(s).ok())
            .unwrap_or_default();
        let tx = decode_tx(&tx_bytes);
        let tx_result = &result["tx_result"];
        let response = TxResponse {
            height: number(&result["height"]) as i64,
            txhash: wanted,
            codespace: tx_result["codespace"].as_str().unwrap_or_default().into(),
            code: number(&tx_result["code"]) as u32,
            data: tx_result["data"]
                .as_str()
                .and_then(|s| B64.decode(s).ok())
                .map(hex::encode_upper)
                .unwrap_or_default(),
            raw_log: tx_result["log"].as_str().unwrap_or_default().into(),
            gas_wanted: number(&tx_result["gas_wanted"]) as i64,
            gas_used: number(&tx_result["gas_used"]) as i64,
            tx: tx.as_ref().map(|tx| cosmos_sdk_proto::Any {
                type_url: "/cosmos.tx.v1beta1.Tx".into(),
                value: tx.encode_to_vec(),
            }),
            events: events(&tx_result["events"]),
            ..Default::default()
        };
        Ok(GetTxResponse {
            tx,
            tx_response: Some(response),
        })
    }

    /// `cosmos.tx.v1beta1.Service/BroadcastTx` with its protobuf bytes.
    pub async fn broadcast_raw(&self, request: &[u8]) -> Result<Vec<u8>, ApiError> {
        let request = BroadcastTxRequest::decode(request)
            .map_err(|e| ApiError::invalid(format!("undecodable BroadcastTxRequest: {e}")))?;
        let tx_response = self.broadcast(request).await?;
        Ok(BroadcastTxResponse {
            tx_response: Some(tx_response),
        }
        .encode_to_vec())
    }

    /// `cosmos.tx.v1beta1.Service/GetTx` with its protobuf bytes.
    pub async fn get_tx_raw(&self, request: &[u8]) -> Result<Vec<u8>, ApiError> {
        let request = GetTxRequest::decode(request)
            .map_err(|e| ApiError::invalid(format!("undecodable GetTxRequest: {e}")))?;
        Ok(self.get_tx(request).await?.encode_to_vec())
    }
}

/// A `TxRaw` as the `Tx` it encodes, when it decodes.
fn decode_tx(bytes: &[u8]) -> Option<Tx> {
    let raw = TxRaw::decode(bytes).ok()?;
    Some(Tx {
        body: TxBody::decode(raw.body_bytes.as_slice()).ok(),
        auth_info: AuthInfo::decode(raw.auth_info_bytes.as_slice()).ok(),
        signatures: raw.signatures,
    })
}

/// CometBFT writes int64s as strings, small ints as numbers.
fn number(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

fn events(value: &Value) -> Vec<Event> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| Event {
            r#type: event["type"].as_str().unwrap_or_default().into(),
            attributes: event["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| EventAttribute {
                    key: a["key"].as_str().unwrap_or_default().into(),
                    value: a["value"].as_str().unwrap_or_default().into(),
                    index: a["index"].as_bool().unwrap_or(false),
                })
                .collect(),
        })
        .collect()
}

/// What went wrong talking to CometBFT: an answer it refused (a tx already
/// in the mempool cache, one too large) is the client's fault, anything
/// else means the node's CometBFT is unreachable.
fn rpc_error(err: ClientError) -> ApiError {
    match err {
        ClientError::RpcError { message, .. } => ApiError::invalid(message),
        other => ApiError::unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod query_limit_tests {
    use super::*;
    use crate::api::error::Kind;
    use crate::app::Node;
    use crate::store::Store;
    use crate::wasm::WasmVm;

    /// Issue 15: every REST and gRPC query ran at once on tokio's blocking
    /// pool (up to 512 threads), so 32 clients' smart queries took the CPU
    /// from consensus. Queries now take one of a few slots; past a bounded
    /// queue they are refused with 429 / RESOURCE_EXHAUSTED.
    #[test]
    fn queries_beyond_the_slots_and_the_queue_are_refused_as_busy() {
        let cache = tempfile::tempdir().unwrap();
        let node = Node::with_parts(
            Store::temporary().unwrap(),
            WasmVm::new(cache.path()).unwrap(),
        )
        .unwrap();
        let backend = Arc::new(Backend::with_query_slots(
            App::new(node),
            "http://127.0.0.1:9",
            1,
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let path = crate::fee::module::PARAMS_PATH;
            let held = backend.query_slot().await.unwrap();
            let waiters: Vec<_> = (0..MAX_WAITING_QUERIES)
                .map(|_| {
                    let backend = backend.clone();
                    tokio::spawn(async move { backend.query(path, Vec::new()).await })
                })
                .collect();
            while backend.waiting.load(Ordering::SeqCst) < MAX_WAITING_QUERIES {
                tokio::task::yield_now().await;
            }
            let refused = backend.query(path, Vec::new()).await.unwrap_err();
            assert_eq!(refused.kind, Kind::Busy);
            assert_eq!(refused.http_status().as_u16(), 429);
            assert_eq!(refused.grpc_code(), tonic::Code::ResourceExhausted);
            drop(held);
            for waiter in waiters {
                assert!(waiter.await.unwrap().is_ok(), "a queued query is answered");
            }
        });
    }
}
