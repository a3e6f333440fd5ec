//! umd's client-facing servers, beside ABCI: gRPC (default
//! 127.0.0.1:9090) and the REST gateway (default 127.0.0.1:1317), both
//! answering queries from the last committed state through the ABCI query
//! router, and forwarding txs to the local CometBFT.
//!
//! - [`grpc`]: the gRPC services and server reflection;
//! - [`rest`]: the REST routes, the weights download, the dashboard;
//! - [`openapi`]: `/openapi.json`, built from the same route list;
//! - [`metrics`]: `/metrics` (Prometheus text);
//! - [`json`]: the proto3 JSON mapping of the `um.*` messages;
//! - [`predict`]: predictions, forwarded to the node's `um-trainer serve`;
//! - [`error`]: errors as gRPC statuses and JSON bodies;
//! - [`backend`]: queries in process, txs through CometBFT's RPC.

pub mod backend;
pub mod error;
pub mod grpc;
pub mod json;
pub mod openapi;
pub mod predict;
pub mod rest;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use crate::app::App;

/// Where to serve; `None` leaves a server off.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub grpc: Option<SocketAddr>,
    pub rest: Option<SocketAddr>,
    /// The local CometBFT RPC (http://host:port) for broadcasts and tx lookups.
    pub rpc_url: String,
    /// The node's `um-trainer serve` (http://host:port) that predictions
    /// are forwarded to; `None` answers them UNAVAILABLE.
    pub predictor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiStartError {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    #[error("starting the API runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Predictor(String),
}

/// "off" (or an empty value) disables a server; anything else must be
/// `host:port`.
pub fn parse_address(value: &str) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let value = value
        .strip_prefix("tcp://")
        .or_else(|| value.strip_prefix("http://"))
        .unwrap_or(value);
    value
        .parse()
        .map(Some)
        .map_err(|e| format!("{value:?} is not host:port or \"off\": {e}"))
}

/// What [`start`] did with each server: its bound address, `None` when
/// configured off, or why it could not bind.
pub struct Started {
    pub grpc: Result<Option<SocketAddr>, ApiStartError>,
    pub rest: Result<Option<SocketAddr>, ApiStartError>,
}

fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ApiStartError> {
    let error = |source| ApiStartError::Bind { what, addr, source };
    let listener = TcpListener::bind(addr).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    Ok(listener)
}

/// Binds the configured servers and runs them on a runtime of their own
/// for the rest of the process. Each binds independently (one port in use
/// does not stop the other); `Err` only when nothing could start at all.
pub fn start(config: &ApiConfig, app: App) -> Result<Started, ApiStartError> {
    let mut backend = backend::Backend::new(app, &config.rpc_url);
    if let Some(endpoint) = &config.predictor {
        backend = backend
            .with_predictor(predict::Predictor::new(endpoint).map_err(ApiStartError::Predictor)?);
    }
    let backend = Arc::new(backend);
    let grpc = config.grpc.map(|addr| bind("gRPC", addr)).transpose();
    let rest = config.rest.map(|addr| bind("REST", addr)).transpose();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("umd-api")
        .enable_all()
        .build()
        .map_err(ApiStartError::Runtime)?;
    let mut started = Started {
        grpc: Ok(None),
        rest: Ok(None),
    };
    match grpc {
        Ok(Some(listener)) => {
            let routes = grpc::routes(backend.clone())
                .map_err(|e| ApiStartError::Reflection(e.to_string()))?;
            started.grpc = Ok(listener.local_addr().ok());
            runtime.spawn(serve_grpc(listener, routes));
        }
        Ok(None) => {}
        Err(err) => started.grpc = Err(err),
    }
    match rest {
        Ok(Some(listener)) => {
            started.rest = Ok(listener.local_addr().ok());
            runtime.spawn(serve_rest(listener, rest::router(backend)));
        }
        Ok(None) => {}
        Err(err) => started.rest = Err(err),
    }
    // The runtime lives as long as the process: its thread never returns.
    std::thread::Builder::new()
        .name("umd-api".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(ApiStartError::Runtime)?;
    Ok(started)
}

async fn serve_grpc(listener: TcpListener, routes: tonic::service::Routes) {
    let result = async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let incoming = tonic::transport::server::TcpIncoming::from_listener(listener, true, None)?;
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(incoming)
            .await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    if let Err(err) = result {
        eprintln!("umd: gRPC server stopped: {err}");
    }
}

async fn serve_rest(listener: TcpListener, router: axum::Router) {
    let result = async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // The peer's address reaches each request as `ConnectInfo`, for the
        // per-client limit (`Backend::client_slot`).
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }
    .await;
    if let Err(err) = result {
        eprintln!("umd: REST server stopped: {err}");
    }
}
