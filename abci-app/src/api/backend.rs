//! What the gRPC services and REST routes run on: queries answered in
//! process by the ABCI query router from the last committed state (the very
//! answers ABCI `Query` gives), and txs broadcast to / looked up in the
//! local CometBFT over its RPC. Both servers also hold every request to a
//! per-client limit ([`ClientLimits`]) before it may wait for a query slot.

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
use tendermint_proto::v0_38::abci::RequestQuery;
use um_client::rpc::RpcClient;
use um_client::ClientError;
use um_proto::um::common::v1::StateProof;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// A query's answer, with its proof when one was asked for.
pub struct Answer {
    pub value: Vec<u8>,
    pub proof: Option<StateProof>,
}

pub struct Backend {
    app: App,
    rpc: RpcClient,
    /// Queries running at once (smart queries and simulations run contract
    /// code): the rest of the machine stays with consensus.
    query_slots: Arc<Semaphore>,
    /// Queries waiting for a slot; beyond [`MAX_WAITING_QUERIES`] a new one
    /// is refused at once rather than queued without bound.
    waiting: AtomicUsize,
    /// Requests in flight per client address, REST and gRPC together.
    clients: Arc<ClientLimits>,
    /// The node's `um-trainer serve` for predictions, if it has one.
    predictor: Option<super::predict::Predictor>,
}

/// Queries that may wait for a slot before new ones are refused (429 /
/// RESOURCE_EXHAUSTED).
pub const MAX_WAITING_QUERIES: usize = 64;

/// Requests one client may have in flight at once, over REST and gRPC
/// together; the next is refused at once (429 / RESOURCE_EXHAUSTED). Without
/// it one client could take every query slot and all
/// [`MAX_WAITING_QUERIES`] places in the queue, and every other client
/// would be refused as busy. 8 leaves room for a browser (6 connections a
/// host) or a client's honest parallelism, and is an eighth of the queue.
pub const MAX_REQUESTS_PER_CLIENT: usize = 8;

/// Requests in flight per client. An entry lives only while its count is
/// above zero, so the map holds at most one entry per request in flight
/// however many addresses have come and gone.
pub struct ClientLimits {
    limit: usize,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted request of a client; dropping it (the answer sent, the
/// request cancelled, or a panic unwinding the handler) gives the place back.
pub struct ClientPermit {
    limits: Arc<ClientLimits>,
    client: IpAddr,
}

impl ClientLimits {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The map is only ever left consistent (no code that can panic runs
    /// while it is held), so a poisoned lock is still good to use.
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One more request of `ip`, unless it has `limit` in flight already.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ClientPermit, ApiError> {
        let client = client_key(ip);
        let mut counts = self.counts();
        let count = counts.entry(client).or_insert(0);
        if *count >= self.limit {
            return Err(ApiError::busy(format!(
                "this client ({client}) already has {} requests in flight on this node; wait for their answers before sending more",
                self.limit
            )));
        }
        *count += 1;
        Ok(ClientPermit {
            limits: self.clone(),
            client,
        })
    }

    /// Requests in flight of the client `ip` belongs to.
    pub fn in_flight(&self, ip: IpAddr) -> usize {
        self.counts().get(&client_key(ip)).copied().unwrap_or(0)
    }

    /// Clients with a request in flight (the map's size).
    pub fn clients(&self) -> usize {
        self.counts().len()
    }
}

impl Drop for ClientPermit {
    fn drop(&mut self) {
        let mut counts = self.limits.counts();
        if let Some(count) = counts.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Who a request is counted against: an IPv4 address (also when it comes
/// IPv4-mapped over IPv6), or an IPv6 address's /64, the block a single
/// IPv6 host is usually given; counting each of its addresses would let
/// one host open 2^64 clients.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

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
            clients: Arc::new(ClientLimits::new(MAX_REQUESTS_PER_CLIENT)),
            predictor: None,
        }
    }

    /// Forwards predictions to `predictor`.
    pub fn with_predictor(mut self, predictor: super::predict::Predictor) -> Self {
        self.predictor = Some(predictor);
        self
    }

    pub fn predictor(&self) -> Option<&super::predict::Predictor> {
        self.predictor.as_ref()
    }

    /// Admits one request of the client at `peer` (REST or gRPC), or
    /// refuses it as busy when that client already has
    /// [`MAX_REQUESTS_PER_CLIENT`] in flight. Hold the permit until the
    /// answer is ready. A request whose peer is unknown (only in-process
    /// callers: both servers always know it) is not limited.
    pub fn client_slot(&self, peer: Option<SocketAddr>) -> Result<Option<ClientPermit>, ApiError> {
        peer.map(|peer| self.clients.admit(peer.ip())).transpose()
    }

    /// ABCI query `path` with protobuf `data`; the protobuf answer.
    pub async fn query(&self, path: &str, data: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        Ok(self.query_proven(path, data, false).await?.value)
    }

    /// [`Self::query`], with `prove`: also the proof of every key the
    /// answer read (of an error too, which then carries it), at the height
    /// the answer is for.
    pub async fn query_proven(
        &self,
        path: &str,
        data: Vec<u8>,
        prove: bool,
    ) -> Result<Answer, ApiError> {
        let app = self.app.clone();
        let request = RequestQuery {
            data: data.into(),
            path: path.to_string(),
            height: 0,
            prove,
        };
        let permit = self.query_slot().await?;
        // Contract code runs on a blocking thread, not on the async workers.
        let response = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            app.query_request(request)
        })
        .await
        .map_err(|e| ApiError::internal(format!("query task failed: {e}")))?;
        let proof = response
            .proof_ops
            .map(|ops| crate::app::query_proof::state_proof(response.height, &ops.ops));
        if response.code != 0 {
            let err = ApiError::from_abci(response.code, &response.codespace, &response.log);
            return Err(match proof {
                Some(proof) => err.with_proof(proof),
                None => err,
            });
        }
        Ok(Answer {
            value: response.value.to_vec(),
            proof,
        })
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

#[cfg(test)]
mod client_limit_tests {
    use super::*;
    use crate::api::error::Kind;
    use crate::app::Node;
    use crate::store::Store;
    use crate::wasm::WasmVm;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::Request;
    use tonic::codegen::Service;
    use tonic::transport::server::TcpConnectInfo;

    fn backend(cache: &std::path::Path) -> Arc<Backend> {
        let node =
            Node::with_parts(Store::temporary().unwrap(), WasmVm::new(cache).unwrap()).unwrap();
        Arc::new(Backend::new(App::new(node), "http://127.0.0.1:9"))
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40_000)
    }

    /// A client with its requests in flight took every query slot and the
    /// whole wait queue, so every other client was refused as busy. Now one
    /// client is refused past MAX_REQUESTS_PER_CLIENT while another is still
    /// served, and the counts drop back (and out of the map) as answers go.
    #[test]
    fn one_client_at_its_limit_is_refused_and_another_is_served() {
        let cache = tempfile::tempdir().unwrap();
        let backend = backend(cache.path());
        let (a, b) = (peer("10.0.0.1"), peer("10.0.0.2"));
        let held: Vec<_> = (0..MAX_REQUESTS_PER_CLIENT)
            .map(|_| backend.client_slot(Some(a)).unwrap())
            .collect();
        let Err(refused) = backend.client_slot(Some(a)) else {
            panic!("a request past the client's limit was admitted");
        };
        assert_eq!(refused.kind, Kind::Busy);
        assert_eq!(refused.http_status().as_u16(), 429);
        assert_eq!(refused.grpc_code(), tonic::Code::ResourceExhausted);
        assert!(refused.message.contains("10.0.0.1"), "{}", refused.message);
        // Another port of the same address is the same client.
        assert!(backend
            .client_slot(Some(SocketAddr::new(a.ip(), 1)))
            .is_err());
        let other = backend.client_slot(Some(b)).unwrap();
        assert!(other.is_some(), "another client is served");
        assert_eq!(backend.clients.in_flight(a.ip()), MAX_REQUESTS_PER_CLIENT);
        assert_eq!(backend.clients.clients(), 2);

        // Each answer (or a cancelled request) gives its place back.
        let mut held = held;
        held.pop();
        assert!(backend.client_slot(Some(a)).unwrap().is_some());
        drop(held);
        drop(other);
        assert_eq!(
            backend.clients.clients(),
            0,
            "no entry outlives its requests"
        );
    }

    /// A handler that panics (or whose future is dropped) still releases.
    #[test]
    fn a_panicking_request_gives_its_place_back() {
        let limits = Arc::new(ClientLimits::new(1));
        let ip: IpAddr = "10.0.0.3".parse().unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _permit = limits.admit(ip).unwrap();
            panic!("handler failed");
        }));
        assert!(caught.is_err());
        assert_eq!(limits.clients(), 0);
        assert!(limits.admit(ip).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let limits = Arc::new(ClientLimits::new(1));
        let _one = limits.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(limits
            .admit("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_err());
        assert!(limits.admit("2001:db8:1:3::1".parse().unwrap()).is_ok());
        let _v4 = limits.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(limits.admit("::ffff:192.0.2.1".parse().unwrap()).is_err());
    }

    /// The REST router and the gRPC routes both take the client's place
    /// from the peer address their servers attach, and refuse past the
    /// limit with 429 / RESOURCE_EXHAUSTED; another client gets its answer.
    #[test]
    fn rest_and_grpc_refuse_a_client_past_its_limit_and_serve_another() {
        let cache = tempfile::tempdir().unwrap();
        let backend = backend(cache.path());
        let (a, b) = (peer("10.0.0.1"), peer("10.0.0.2"));
        let _held: Vec<_> = (0..MAX_REQUESTS_PER_CLIENT)
            .map(|_| backend.client_slot(Some(a)).unwrap())
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut rest = crate::api::rest::router(backend.clone());
            let get = |from: SocketAddr| {
                let mut request = Request::get("/openapi.json").body(Body::empty()).unwrap();
                request.extensions_mut().insert(ConnectInfo(from));
                request
            };
            let refused = rest.call(get(a)).await.unwrap();
            assert_eq!(refused.status().as_u16(), 429);
            let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("requests in flight"),
                "{body}"
            );
            assert_eq!(rest.call(get(b)).await.unwrap().status().as_u16(), 200);

            let mut grpc = crate::api::grpc::routes(backend.clone())
                .unwrap()
                .into_axum_router();
            // An empty message (5-byte frame header) to a method umd does
            // not implement: answered at once, so a served call shows as
            // UNIMPLEMENTED and a refused one as RESOURCE_EXHAUSTED.
            let call = |from: SocketAddr| {
                let mut request = Request::post("/cosmos.tx.v1beta1.Service/GetBlockWithTxs")
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(Body::from(vec![0u8; 5]))
                    .unwrap();
                request.extensions_mut().insert(TcpConnectInfo {
                    local_addr: None,
                    remote_addr: Some(from),
                });
                request
            };
            let status = |response: &axum::response::Response| {
                tonic::Status::from_header_map(response.headers()).map(|s| s.code())
            };
            let refused = grpc.call(call(a)).await.unwrap();
            assert_eq!(status(&refused), Some(tonic::Code::ResourceExhausted));
            let served = grpc.call(call(b)).await.unwrap();
            assert_eq!(status(&served), Some(tonic::Code::Unimplemented));
        });
        assert_eq!(backend.clients.in_flight(peer("10.0.0.2").ip()), 0);
    }
}
