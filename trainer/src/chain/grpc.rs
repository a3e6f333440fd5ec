//! Submitting txs through umd's gRPC server (`cosmos.tx.v1beta1.Service`):
//! `BroadcastTx` (CheckTx), then `GetTx` until the tx is in a block. The
//! alternative to CometBFT's RPC for a trainer that reaches a node's gRPC
//! port (`um-trainer train --grpc URL`).
//!
//! Blocking like the rest of [`super::ChainClient`]: each call runs on a
//! thread of its own with a one-thread runtime, so it can be called from a
//! plain thread or from inside `spawn_blocking`.

use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxResponse;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    BroadcastMode, BroadcastTxRequest, BroadcastTxResponse, GetTxRequest, GetTxResponse,
};
use um_client::rpc::TxResult;
use um_proto::prost::Message;
use um_proto::tonic;
use um_proto::tonic::codegen::http::uri::PathAndQuery;
use um_proto::tonic::transport::{Channel, Endpoint};

use super::ChainError;

/// Path of `cosmos.tx.v1beta1.Service/BroadcastTx`.
pub const BROADCAST_TX_PATH: &str = "/cosmos.tx.v1beta1.Service/BroadcastTx";
/// Path of `cosmos.tx.v1beta1.Service/GetTx`.
pub const GET_TX_PATH: &str = "/cosmos.tx.v1beta1.Service/GetTx";

/// How often `GetTx` is asked while the tx is not in a block yet.
const POLL: Duration = Duration::from_millis(100);

/// Broadcasts `tx` through the gRPC server at `endpoint` and waits up to
/// `timeout` for it to be in a block. A tx refused by CheckTx comes back at
/// once with its code and height 0, as over CometBFT's RPC.
pub fn broadcast_and_wait(
    endpoint: &str,
    tx: Vec<u8>,
    timeout: Duration,
) -> Result<TxResult, ChainError> {
    let endpoint = endpoint.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ChainError::Unreachable(format!("gRPC runtime: {e}")))?;
        runtime.block_on(submit(&endpoint, tx, timeout))
    })
    .join()
    .unwrap_or_else(|_| Err(ChainError::Unreachable("the gRPC thread panicked".into())))
}

async fn submit(endpoint: &str, tx: Vec<u8>, timeout: Duration) -> Result<TxResult, ChainError> {
    let unreachable =
        |e: &dyn std::fmt::Display| ChainError::Unreachable(format!("{endpoint}: {e}"));
    let channel = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| unreachable(&e))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|e| unreachable(&e))?;
    let mut client = tonic::client::Grpc::new(channel).max_encoding_message_size(64 << 20);

    let broadcast: BroadcastTxResponse = unary(
        &mut client,
        BROADCAST_TX_PATH,
        BroadcastTxRequest {
            tx_bytes: tx,
            mode: BroadcastMode::Sync as i32,
        },
    )
    .await
    .map_err(|status| status_error(endpoint, BROADCAST_TX_PATH, status))?;
    let checked = broadcast.tx_response.ok_or(ChainError::Missing {
        path: BROADCAST_TX_PATH,
        field: "tx_response",
    })?;
    if checked.code != 0 {
        return tx_result(checked);
    }
    let hash = checked.txhash.clone();
    let started = Instant::now();
    loop {
        let answer: Result<GetTxResponse, tonic::Status> = unary(
            &mut client,
            GET_TX_PATH,
            GetTxRequest { hash: hash.clone() },
        )
        .await;
        match answer {
            Ok(found) => {
                return tx_result(found.tx_response.ok_or(ChainError::Missing {
                    path: GET_TX_PATH,
                    field: "tx_response",
                })?)
            }
            Err(status) if status.code() == tonic::Code::NotFound => {}
            Err(status) => return Err(status_error(endpoint, GET_TX_PATH, status)),
        }
        if started.elapsed() > timeout {
            return Err(ChainError::Client(um_client::ClientError::Timeout {
                hash,
                seconds: timeout.as_secs(),
            }));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn unary<Req, Resp>(
    client: &mut tonic::client::Grpc<Channel>,
    path: &'static str,
    request: Req,
) -> Result<Resp, tonic::Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic::codec::ProstCodec::<Req, Resp>::default();
    client
        .unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            codec,
        )
        .await
        .map(tonic::Response::into_inner)
}

fn status_error(endpoint: &str, path: &'static str, status: tonic::Status) -> ChainError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
            ChainError::Unreachable(format!("{endpoint}{path}: {}", status.message()))
        }
        code => ChainError::Query {
            path,
            code: code as u32,
            log: status.message().to_string(),
        },
    }
}

/// A `TxResponse` as the `TxResult` CometBFT's RPC gives: `data` back from
/// upper-case hex to bytes, events flattened to (type, key, value).
fn tx_result(response: TxResponse) -> Result<TxResult, ChainError> {
    let data = hex::decode(&response.data).map_err(|e| ChainError::Decode {
        path: GET_TX_PATH,
        message: format!("data is not hex: {e}"),
    })?;
    let events = response
        .events
        .iter()
        .flat_map(|event| {
            event
                .attributes
                .iter()
                .map(|a| (event.r#type.clone(), a.key.clone(), a.value.clone()))
        })
        .collect();
    Ok(TxResult {
        hash: response.txhash,
        height: u64::try_from(response.height).unwrap_or(0),
        code: response.code,
        codespace: response.codespace,
        log: response.raw_log,
        gas_wanted: u64::try_from(response.gas_wanted).unwrap_or(0),
        gas_used: u64::try_from(response.gas_used).unwrap_or(0),
        data,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_responses_become_tx_results() {
        let response = TxResponse {
            height: 9,
            txhash: "AB".into(),
            code: 0,
            data: "0A0B".into(),
            events: vec![cosmos_sdk_proto::tendermint::abci::Event {
                r#type: "submit_update".into(),
                attributes: vec![cosmos_sdk_proto::tendermint::abci::EventAttribute {
                    key: "update_id".into(),
                    value: "4".into(),
                    index: true,
                }],
            }],
            ..Default::default()
        };
        let result = tx_result(response).unwrap();
        assert_eq!(result.height, 9);
        assert_eq!(result.data, vec![0x0a, 0x0b]);
        assert_eq!(result.event_value("submit_update", "update_id"), Some("4"));
        let bad = TxResponse {
            data: "zz".into(),
            ..Default::default()
        };
        assert!(tx_result(bad).is_err());
    }

    #[test]
    fn an_unreachable_server_is_unreachable() {
        let err =
            broadcast_and_wait("http://127.0.0.1:9", vec![1], Duration::from_secs(1)).unwrap_err();
        assert!(err.is_unreachable(), "{err}");
    }
}
