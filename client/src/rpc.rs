//! A small blocking JSON-RPC client for CometBFT's RPC.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ClientError;

#[derive(Clone, Debug)]
pub struct RpcClient {
    url: String,
    agent: ureq::Agent,
}

/// The result of a tx, as `broadcast_tx_sync` (CheckTx) or `tx` (block)
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxResult {
    pub hash: String,
    pub height: u64,
    pub code: u32,
    pub codespace: String,
    pub log: String,
    pub gas_wanted: u64,
    pub gas_used: u64,
    pub data: Vec<u8>,
    /// (event type, key, value), in order.
    pub events: Vec<(String, String, String)>,
}

impl TxResult {
    pub fn is_ok(&self) -> bool {
        self.code == 0
    }

    /// The first value of `kind.key` among the events.
    pub fn event_value(&self, kind: &str, key: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|(k, attr, _)| k == kind && attr == key)
            .map(|(_, _, v)| v.as_str())
    }
}

/// What an ABCI query returned.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub code: u32,
    pub log: String,
    pub value: Vec<u8>,
    pub height: u64,
}

impl RpcClient {
    pub fn new(url: &str) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        Self {
            url: url.trim_end_matches('/').to_string(),
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.agent.post(&self.url).send_json(request);
        let body: Value = match response {
            Ok(response) => response
                .into_json()
                .map_err(|e| ClientError::Response(e.to_string()))?,
            // CometBFT answers JSON-RPC errors with HTTP 500 and a JSON body.
            Err(ureq::Error::Status(_, response)) => response
                .into_json()
                .map_err(|e| ClientError::Response(e.to_string()))?,
            Err(err) => {
                return Err(ClientError::Rpc {
                    url: self.url.clone(),
                    message: err.to_string(),
                })
            }
        };
        if let Some(error) = body.get("error") {
            let message = [&error["message"], &error["data"]]
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(": ");
            return Err(ClientError::RpcError {
                method: method.to_string(),
                message,
            });
        }
        Ok(body["result"].clone())
    }

    pub fn status(&self) -> Result<Value, ClientError> {
        self.call("status", json!({}))
    }

    pub fn chain_id(&self) -> Result<String, ClientError> {
        let status = self.status()?;
        status["node_info"]["network"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Response("status has no node_info.network".into()))
    }

    pub fn latest_height(&self) -> Result<u64, ClientError> {
        let status = self.status()?;
        parse_u64(&status["sync_info"]["latest_block_height"])
    }

    pub fn latest_app_hash(&self) -> Result<(u64, String), ClientError> {
        let status = self.status()?;
        let height = parse_u64(&status["sync_info"]["latest_block_height"])?;
        let hash = status["sync_info"]["latest_app_hash"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok((height, hash))
    }

    /// The app hash in the header of block `height` (the state after `height - 1`).
    pub fn block_app_hash(&self, height: u64) -> Result<String, ClientError> {
        let block = self.call("block", json!({"height": height.to_string()}))?;
        block["block"]["header"]["app_hash"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Response("block has no header.app_hash".into()))
    }

    pub fn abci_query(&self, path: &str, data: &[u8]) -> Result<QueryResult, ClientError> {
        let result = self.call(
            "abci_query",
            json!({"path": path, "data": hex::encode(data), "height": "0", "prove": false}),
        )?;
        let response = &result["response"];
        Ok(QueryResult {
            code: response["code"].as_u64().unwrap_or(0) as u32,
            log: response["log"].as_str().unwrap_or_default().to_string(),
            value: decode_b64(&response["value"])?,
            height: parse_u64(&response["height"]).unwrap_or(0),
        })
    }

    /// `abci_query` that turns a non-zero code into an error.
    pub fn query_ok(&self, path: &str, data: &[u8]) -> Result<Vec<u8>, ClientError> {
        let result = self.abci_query(path, data)?;
        if result.code != 0 {
            return Err(ClientError::Query {
                path: path.to_string(),
                code: result.code,
                log: result.log,
            });
        }
        Ok(result.value)
    }

    /// A gRPC-style ABCI query: the protobuf `request` in `data`, the
    /// protobuf answer in `value`. A non-zero code is [`ClientError::Query`]
    /// (its `code` says which), an answer that is not a `Resp`
    /// [`ClientError::Decode`].
    pub fn query_proto<Req: Message, Resp: Message + Default>(
        &self,
        path: &str,
        request: &Req,
    ) -> Result<Resp, ClientError> {
        let value = self.query_ok(path, &request.encode_to_vec())?;
        Resp::decode(value.as_slice()).map_err(|e| ClientError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// Sends a tx to the mempool; the result is CheckTx's.
    pub fn broadcast_sync(&self, tx: &[u8]) -> Result<TxResult, ClientError> {
        let result = self.call("broadcast_tx_sync", json!({"tx": B64.encode(tx)}))?;
        Ok(TxResult {
            hash: result["hash"].as_str().unwrap_or_default().to_string(),
            height: 0,
            code: result["code"].as_u64().unwrap_or(0) as u32,
            codespace: result["codespace"].as_str().unwrap_or_default().to_string(),
            log: result["log"].as_str().unwrap_or_default().to_string(),
            gas_wanted: 0,
            gas_used: 0,
            data: decode_b64(&result["data"])?,
            events: Vec::new(),
        })
    }

    /// Hands `tx` to the node's mempool without waiting for CheckTx's
    /// answer (`broadcast_tx_async`): the node refuses here only what it
    /// refuses before asking the app (a full mempool, a tx too large, one
    /// its cache has seen). Returns the tx hash.
    pub fn broadcast_async(&self, tx: &[u8]) -> Result<String, ClientError> {
        let result = self.call("broadcast_tx_async", json!({"tx": B64.encode(tx)}))?;
        Ok(result["hash"].as_str().unwrap_or_default().to_string())
    }

    /// The delivered result of a tx, if it is in a block yet.
    pub fn tx(&self, hash_hex: &str) -> Result<Option<TxResult>, ClientError> {
        let hash = hex::decode(hash_hex).map_err(|e| ClientError::Response(e.to_string()))?;
        let result = match self.call("tx", json!({"hash": B64.encode(hash), "prove": false})) {
            Ok(result) => result,
            Err(ClientError::RpcError { message, .. }) if message.contains("not found") => {
                return Ok(None)
            }
            Err(err) => return Err(err),
        };
        let tx_result = &result["tx_result"];
        let mut events = Vec::new();
        for event in tx_result["events"].as_array().into_iter().flatten() {
            let kind = event["type"].as_str().unwrap_or_default();
            for attribute in event["attributes"].as_array().into_iter().flatten() {
                events.push((
                    kind.to_string(),
                    attribute["key"].as_str().unwrap_or_default().to_string(),
                    attribute["value"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        Ok(Some(TxResult {
            hash: result["hash"].as_str().unwrap_or(hash_hex).to_string(),
            height: parse_u64(&result["height"])?,
            code: tx_result["code"].as_u64().unwrap_or(0) as u32,
            codespace: tx_result["codespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            log: tx_result["log"].as_str().unwrap_or_default().to_string(),
            gas_wanted: parse_u64(&tx_result["gas_wanted"]).unwrap_or(0),
            gas_used: parse_u64(&tx_result["gas_used"]).unwrap_or(0),
            data: decode_b64(&tx_result["data"])?,
            events,
        }))
    }

    /// Broadcasts and waits until the tx is in a block. A tx refused by
    /// CheckTx comes back at once with its code and height 0.
    pub fn broadcast_and_wait(
        &self,
        tx: &[u8],
        timeout: Duration,
    ) -> Result<TxResult, ClientError> {
        let checked = self.broadcast_sync(tx)?;
        if !checked.is_ok() {
            return Ok(checked);
        }
        self.wait_for_tx(&tx_hash(tx), timeout)
    }

    pub fn wait_for_tx(&self, hash_hex: &str, timeout: Duration) -> Result<TxResult, ClientError> {
        let start = Instant::now();
        loop {
            if let Some(result) = self.tx(hash_hex)? {
                return Ok(result);
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Timeout {
                    hash: hash_hex.to_string(),
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the chain has committed `height`.
    pub fn wait_for_height(&self, height: u64, timeout: Duration) -> Result<u64, ClientError> {
        let start = Instant::now();
        loop {
            if let Ok(latest) = self.latest_height() {
                if latest >= height {
                    return Ok(latest);
                }
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Rpc {
                    url: self.url.clone(),
                    message: format!("height {height} not reached within {} s", timeout.as_secs()),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// CometBFT's tx hash: upper-case hex SHA-256 of the tx bytes.
pub fn tx_hash(tx: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(tx))
}

fn parse_u64(value: &Value) -> Result<u64, ClientError> {
    match value {
        Value::String(s) => s
            .parse()
            .map_err(|_| ClientError::Response(format!("not a number: {s:?}"))),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| ClientError::Response(format!("not a u64: {n}"))),
        other => Err(ClientError::Response(format!(
            "expected a number, got {other}"
        ))),
    }
}

fn decode_b64(value: &Value) -> Result<Vec<u8>, ClientError> {
    match value.as_str() {
        None | Some("") => Ok(Vec::new()),
        Some(s) => B64
            .decode(s)
            .map_err(|e| ClientError::Response(format!("base64: {e}"))),
    }
}
