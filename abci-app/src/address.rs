//! Account addresses, with errors as tx results.

use crate::codes::{Code, TxError};

pub use um_proto::address::{account_bytes_of_pubkey, encode, ACCOUNT_PREFIX};

/// Decodes an `um1…` address or fails with [`Code::InvalidAddress`].
pub fn decode(address: &str) -> Result<Vec<u8>, TxError> {
    um_proto::address::decode(address)
        .map_err(|e| TxError::new(Code::InvalidAddress, e.to_string()))
}
