use std::time::Duration;

use base64::Engine;
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgInstantiateContract, MsgStoreCode, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use cosmos_sdk_proto::Any;
use serde_json::Value;
use um_client::keys::Key;
use um_client::rpc::{RpcClient, TxResult};
use um_client::tx_builder::{self, TxOptions};
use um_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum GovError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("tx failed with code {code}: {log}")]
    TxFailed { code: u32, log: String },
    #[error("tx result has no {0} event")]
    MissingEvent(String),
    #[error("{0}")]
    Invalid(String),
    #[error("reading {path}: {message}")]
    Io { path: String, message: String },
}

/// A signer on a chain: what every governance step needs.
pub struct Chain<'a> {
    pub rpc: &'a RpcClient,
    pub chain_id: String,
    pub key: &'a Key,
    pub timeout: Duration,
}

impl<'a> Chain<'a> {
    pub fn new(rpc: &'a RpcClient, key: &'a Key) -> Result<Self, GovError> {
        Ok(Self {
            rpc,
            chain_id: rpc.chain_id()?,
            key,
            timeout: Duration::from_secs(60),
        })
    }

    pub fn address(&self) -> &str {
        &self.key.address
    }

    /// Signs, broadcasts, waits for the block; a failed tx is an error.
    pub fn submit(&self, messages: Vec<Any>, gas_limit: u64) -> Result<TxResult, GovError> {
        let signer = tx_builder::signer_data(self.rpc, &self.chain_id, &self.key.address)?;
        let options = TxOptions {
            gas_limit,
            ..TxOptions::default()
        };
        let tx = tx_builder::sign_tx(self.key, messages, &signer, &options)?;
        let result = self.rpc.broadcast_and_wait(&tx, self.timeout)?;
        if !result.is_ok() {
            return Err(GovError::TxFailed {
                code: result.code,
                log: result.log,
            });
        }
        Ok(result)
    }

    /// Uploads `wasm` gzipped, as wasmd's clients do: the chain unpacks it,
    /// and the tx stays within CometBFT's 1 MB RPC request limit
    /// (nrn_versions.wasm alone is 0.8 MB, 1.1 MB once the tx is base64).
    pub fn store_code(&self, wasm: Vec<u8>) -> Result<u64, GovError> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzipped = std::io::Write::write_all(&mut encoder, &wasm)
            .and_then(|()| encoder.finish())
            .map_err(|e| GovError::Invalid(format!("gzip of the wasm: {e}")))?;
        let msg = MsgStoreCode {
            sender: self.key.address.clone(),
            wasm_byte_code: gzipped,
            instantiate_permission: None,
        };
        let result = self.submit(vec![any(&msg)], 60_000_000)?;
        let code_id = event(&result, "store_code", "code_id")?;
        code_id
            .parse()
            .map_err(|_| GovError::Invalid(format!("code id {code_id:?} is not a number")))
    }

    pub fn instantiate(
        &self,
        code_id: u64,
        label: &str,
        msg: &Value,
        admin: Option<&str>,
    ) -> Result<String, GovError> {
        let msg = MsgInstantiateContract {
            sender: self.key.address.clone(),
            admin: admin.unwrap_or_default().to_string(),
            code_id,
            label: label.to_string(),
            msg: msg.to_string().into_bytes(),
            funds: Vec::new(),
        };
        let result = self.submit(vec![any(&msg)], 5_000_000)?;
        event(&result, "instantiate", "_contract_address")
    }

    pub fn execute(&self, contract: &str, msg: &Value) -> Result<TxResult, GovError> {
        self.execute_with_gas(contract, msg, DEFAULT_EXECUTE_GAS)
    }

    /// [`Chain::execute`] with a gas limit of its own (a proposal whose
    /// action stores a new lineage's weights needs more than the default).
    pub fn execute_with_gas(
        &self,
        contract: &str,
        msg: &Value,
        gas_limit: u64,
    ) -> Result<TxResult, GovError> {
        self.submit(
            vec![execute_msg(&self.key.address, contract, msg)],
            gas_limit,
        )
    }

    /// cw20 `Send` of `amount` to `contract` with `hook` as its message.
    pub fn cw20_send(
        &self,
        token: &str,
        contract: &str,
        amount: u128,
        hook: &Value,
    ) -> Result<TxResult, GovError> {
        let hook = base64::engine::general_purpose::STANDARD.encode(hook.to_string());
        self.execute(
            token,
            &serde_json::json!({"send": {"contract": contract, "amount": amount.to_string(), "msg": hook}}),
        )
    }
}

/// Gas limit of a contract execution sent by [`Chain::execute`].
pub const DEFAULT_EXECUTE_GAS: u64 = 5_000_000;

pub fn smart_query(rpc: &RpcClient, contract: &str, query: &Value) -> Result<Value, GovError> {
    let request = QuerySmartContractStateRequest {
        address: contract.to_string(),
        query_data: query.to_string().into_bytes(),
    };
    let response: QuerySmartContractStateResponse = rpc
        .query_proto("/cosmwasm.wasm.v1.Query/SmartContractState", &request)
        .map_err(|e| match e {
            ClientError::Decode { message, .. } => GovError::Invalid(message),
            other => GovError::Client(other),
        })?;
    serde_json::from_slice(&response.data).map_err(|e| GovError::Invalid(e.to_string()))
}

pub fn execute_msg(sender: &str, contract: &str, msg: &Value) -> Any {
    any(&MsgExecuteContract {
        sender: sender.to_string(),
        contract: contract.to_string(),
        msg: msg.to_string().into_bytes(),
        funds: Vec::new(),
    })
}

/// Packs a message as a tx's `Any` under its own type URL.
pub use um_client::msgs::any;

pub fn event(result: &TxResult, kind: &str, key: &str) -> Result<String, GovError> {
    result
        .event_value(kind, key)
        .map(str::to_string)
        .ok_or_else(|| GovError::MissingEvent(format!("{kind}.{key}")))
}
