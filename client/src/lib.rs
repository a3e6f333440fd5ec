//! Client side of the chain: addresses, keys, signed txs, CometBFT RPC and
//! the result codes. umd's CLI, the governance tooling, the tests and the
//! trainer all use this crate; umd itself uses its wire definitions.

pub mod address;
pub mod codes;
pub mod keys;
pub mod msgs;
pub mod rpc;
pub mod tx_builder;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("key {0:?} not found in the keyring")]
    KeyNotFound(String),
    #[error("key {0:?} already exists")]
    KeyExists(String),
    #[error("invalid mnemonic: {0}")]
    Mnemonic(String),
    #[error("keyring: {0}")]
    Keyring(String),
    #[error("cannot reach CometBFT RPC at {url}: {message}")]
    Rpc { url: String, message: String },
    #[error("RPC {method} returned an error: {message}")]
    RpcError { method: String, message: String },
    #[error("unexpected RPC response: {0}")]
    Response(String),
    #[error("query {path} failed with code {code}: {log}")]
    Query {
        path: String,
        code: u32,
        log: String,
    },
    #[error("signing: {0}")]
    Signing(String),
    #[error("tx {hash} was not included within {seconds} s")]
    Timeout { hash: String, seconds: u64 },
}
