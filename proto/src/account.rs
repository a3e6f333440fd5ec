//! The Cosmos auth shapes that the chain stores and answers with and that
//! clients build: a secp256k1 public key as `Any`, the account query path.

use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey;
use cosmos_sdk_proto::Any;
use prost::Message;

pub use crate::type_urls::SECP256K1_PUBKEY as SECP256K1_PUBKEY_TYPE_URL;

/// Path of the auth module's account query.
pub const ACCOUNT_QUERY_PATH: &str = "/cosmos.auth.v1beta1.Query/Account";

/// A compressed secp256k1 public key as `Any`.
pub fn pubkey_any(compressed: &[u8]) -> Any {
    Any {
        type_url: SECP256K1_PUBKEY_TYPE_URL.to_string(),
        value: PubKey {
            key: compressed.to_vec(),
        }
        .encode_to_vec(),
    }
}
