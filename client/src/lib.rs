//! Client side of the chain: addresses, keys, signed txs, CometBFT RPC and
//! the result codes. umd's CLI, the governance tooling, the tests and the
//! trainer all use this crate; umd itself uses its wire definitions.

pub mod checkpoints;
pub mod codes;
pub mod fees;
pub mod keys;
pub mod light;
pub mod msgs;
pub mod proof;
pub mod rpc;
pub mod tx_builder;

/// Bech32 `um1…` addresses (defined with the wire types, which the chain
/// shares).
pub use um_proto::address;

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
    /// The AEAD tag did not verify: either the passphrase is not the one
    /// the key was sealed with, or the file was altered.
    #[error("wrong passphrase or corrupted key file (key {0:?})")]
    WrongPassphrase(String),
    #[error(
        "the file keyring needs a passphrase: set {env} or run on a terminal to be prompted \
         (throwaway localnet keys: --keyring-backend test)",
        env = keys::PASSPHRASE_ENV
    )]
    NoPassphrase,
    #[error("no OS keyring on this host; use --keyring-backend file")]
    OsKeyringUnavailable,
    /// A key file of the other format than the selected backend's: the
    /// backends never read each other's keys, so a plain-text key is only
    /// ever used when the test backend was asked for.
    #[error(
        "key {name:?} is {stored}, not a key of the {selected} backend \
         (select its backend with --keyring-backend or {env})",
        env = keys::BACKEND_ENV
    )]
    WrongBackend {
        name: String,
        stored: &'static str,
        selected: keys::Backend,
    },
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
    /// The query answered, but not with the protobuf message asked for.
    #[error("decoding the answer of {path}: {message}")]
    Decode { path: String, message: String },
    #[error("signing: {0}")]
    Signing(String),
    #[error("tx {hash} was not included within {seconds} s")]
    Timeout { hash: String, seconds: u64 },
}
