//! umd's gRPC server: the query services forward the request bytes as they
//! came to the ABCI query router under the method's own path (the router
//! already speaks these exact paths, `/um.training.v1.Query/Versions`, ...),
//! so gRPC, ABCI and REST answer alike from committed state without a
//! second implementation; `cosmos.tx.v1beta1.Service` broadcasts and finds
//! txs through the local CometBFT; `um.training.v1.Inference/Predict`
//! forwards to the node's predictor ([`super::predict`]). Server reflection lists every served
//! service with complete descriptors: the `um.*` ones from um-proto's own
//! files, `cosmos.*`/`cosmwasm.*` from the upstream files vendored in
//! `proto/third_party/` (cosmos-sdk v0.50.9, wasmd v0.52.0, the versions
//! cosmos-sdk-proto 0.27 was generated from), so grpcurl needs no `-proto`.
//! Every call first takes one of its client's places
//! ([`Backend::client_slot`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::any;
use prost::bytes::{Buf, BufMut};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::server::TcpConnectInfo;
use tonic::Status;

use super::backend::Backend;
use super::error::ApiError;

/// The services umd serves, by gRPC service name.
pub const SERVICES: [&str; 7] = [
    "cosmos.tx.v1beta1.Service",
    "cosmos.auth.v1beta1.Query",
    "cosmwasm.wasm.v1.Query",
    "um.training.v1.Query",
    "um.dataset.v1.Query",
    "um.training.v1.Inference",
    "um.karma.v1.Query",
];

/// The reflection service itself, listed beside [`SERVICES`].
pub const REFLECTION_SERVICE: &str = "grpc.reflection.v1.ServerReflection";

/// Methods of `cosmos.tx.v1beta1.Service` and `cosmos.auth.v1beta1.Query`
/// that umd implements; the other methods of these services answer
/// UNIMPLEMENTED.
const COSMOS_METHODS: [&str; 4] = [
    "/cosmos.tx.v1beta1.Service/BroadcastTx",
    "/cosmos.tx.v1beta1.Service/GetTx",
    "/cosmos.tx.v1beta1.Service/Simulate",
    "/cosmos.auth.v1beta1.Query/Account",
];

/// Largest request message accepted (a tx carrying a model's weights).
const MAX_MESSAGE: usize = 16 << 20;

/// Message bytes passed through untouched.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// One call: the method path and where to answer it.
struct Method {
    backend: Arc<Backend>,
    path: String,
}

type Answer = Pin<Box<dyn Future<Output = Result<tonic::Response<Vec<u8>>, Status>> + Send>>;

impl tonic::server::UnaryService<Vec<u8>> for Method {
    type Response = Vec<u8>;
    type Future = Answer;

    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Answer {
        let backend = self.backend.clone();
        let path = self.path.clone();
        Box::pin(async move {
            let data = request.into_inner();
            answer(&backend, &path, data)
                .await
                .map(tonic::Response::new)
                .map_err(Status::from)
        })
    }
}

async fn answer(backend: &Backend, path: &str, data: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    match path {
        "/cosmos.tx.v1beta1.Service/BroadcastTx" => {
            crate::telemetry::broadcast(true);
            backend.broadcast_raw(&data).await
        }
        "/cosmos.tx.v1beta1.Service/GetTx" => backend.get_tx_raw(&data).await,
        "/um.training.v1.Inference/Predict" => {
            let request = um_proto::um::training::v1::PredictRequest::decode(data.as_slice())
                .map_err(|e| ApiError::invalid(format!("undecodable PredictRequest: {e}")))?;
            Ok(backend.predict(request).await?.encode_to_vec())
        }
        p if p.starts_with("/um.training.v1.Inference/") => Err(ApiError::new(
            super::error::Kind::Unimplemented,
            crate::codes::Code::UnknownMessage,
            format!("{p} is not a method of um.training.v1.Inference"),
        )),
        p if p.starts_with("/cosmos.") && !COSMOS_METHODS.contains(&p) => Err(ApiError::new(
            super::error::Kind::Unimplemented,
            crate::codes::Code::UnknownMessage,
            format!("{p} is not served by umd"),
        )),
        // Simulate, Account, cosmwasm and um.* queries: the ABCI router.
        p => backend.query(p, data).await,
    }
}

async fn call(State(backend): State<Arc<Backend>>, request: Request) -> axum::response::Response {
    // tonic's server puts the peer's address in every request's extensions.
    let peer = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr);
    // Held until the answer is built; dropped as well when the call is
    // cancelled.
    let _client = match backend.client_slot(peer) {
        Ok(permit) => permit,
        Err(err) => return Status::from(err).into_http().into_response(),
    };
    let path = request.uri().path().to_string();
    let mut grpc = tonic::server::Grpc::new(RawCodec).max_decoding_message_size(MAX_MESSAGE);
    grpc.unary(Method { backend, path }, request)
        .await
        .into_response()
}

/// The gRPC routes: every served service, plus reflection.
pub fn routes(
    backend: Arc<Backend>,
) -> Result<tonic::service::Routes, tonic_reflection::server::Error> {
    // Only the served services are listed (the sets also define `Msg`
    // services and um.trainer.v1.Trainer, which umd does not serve). The two
    // sets share no file; were one to be in both, tonic-reflection keeps the
    // first and skips the other (by file name) rather than failing.
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(um_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(um_proto::COSMOS_FILE_DESCRIPTOR_SET);
    for service in SERVICES {
        reflection = reflection.with_service_name(service);
    }
    // Every service a client can call is listed, reflection included.
    reflection = reflection.with_service_name(REFLECTION_SERVICE);
    let reflection = reflection.build_v1()?;
    let mut services = axum::Router::new();
    for service in SERVICES {
        services = services.route(&format!("/{service}/*method"), any(call));
    }
    let services = services.with_state(backend);
    let router = tonic::service::Routes::new(reflection)
        .into_axum_router()
        .merge(services);
    Ok(tonic::service::Routes::from(router))
}
