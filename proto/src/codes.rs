//! Result codes returned to CometBFT and clients.
//!
//! Frozen: a code's number and meaning never change once released, because
//! clients match on them. New failures get new numbers at the end.

/// Codespace of every code below.
pub const CODESPACE: &str = "um";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Code {
    Ok = 0,
    /// The bytes are not a `cosmos.tx.v1beta1.TxRaw` we can decode.
    TxDecode = 2,
    /// A signature did not verify against the signer's public key.
    Unauthorized = 4,
    /// The signature, public key or signer info is malformed.
    InvalidSignature = 5,
    /// The tx was signed for another chain.
    WrongChainId = 6,
    /// The signer's sequence does not match the account's.
    WrongSequence = 7,
    /// The signer has no account and the tx carries no public key.
    UnknownAccount = 8,
    /// The tx ran out of its gas limit.
    OutOfGas = 11,
    /// The gas limit is zero or above the per-tx or per-block maximum.
    InvalidGasLimit = 12,
    /// A message type this chain does not handle.
    UnknownMessage = 13,
    /// A message is well-formed protobuf but its content is invalid.
    InvalidRequest = 14,
    /// An address is not bech32 with this chain's prefix.
    InvalidAddress = 15,
    /// The tx exceeds the maximum size.
    TxTooLarge = 16,
    /// The message signer is not the account that signed the tx.
    WrongSigner = 17,
    /// Native coins were attached; NRN is a cw20 token, the chain has none.
    FundsNotSupported = 18,
    /// Wasm byte code failed validation or compilation.
    InvalidWasm = 20,
    /// A contract returned an error.
    ContractError = 21,
    /// A code id or contract address does not exist.
    NotFound = 22,
    /// The sender may not perform this action (e.g. migrate without admin).
    NotPermitted = 23,
    /// The VM failed for a reason other than the contract's own error.
    VmError = 24,
    /// A dataset record does not fit its dataset: pixel count, label, or a
    /// hash that is not the record's.
    InvalidRecord = 25,
    /// A record to add is already in the dataset (or twice in the delta).
    DuplicateRecord = 26,
    /// A record to remove is not in the dataset's current version.
    RecordNotFound = 27,
    /// The deposit offered is below the module's minimum.
    InsufficientDeposit = 28,
    /// The dataset delta was already accepted or rejected.
    DeltaDecided = 29,
    /// The tx's `timeout_height` is below the block's height.
    TxTimeout = 30,
    /// The tx's fee is below its gas limit times the minimum gas price, or
    /// not in `unrn`.
    InsufficientFee = 31,
    /// The signer's NRN balance cannot pay the fee (or another amount the
    /// chain takes, such as a verification fee).
    InsufficientFunds = 32,
    /// This node's mempool already holds as much as the next blocks can
    /// take; the tx was not admitted, retry after a block or two.
    MempoolFull = 33,
    /// The node could not read or write its own state.
    Internal = 99,
}

impl Code {
    pub fn value(self) -> u32 {
        self as u32
    }
}
