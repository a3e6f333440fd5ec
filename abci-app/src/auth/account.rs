use cosmos_sdk_proto::cosmos::auth::v1beta1::BaseAccount;
use cosmos_sdk_proto::Any;
use prost::Message;

use super::state_key;
use crate::address;
use crate::codes::{Code, TxError};
use crate::store::StateView;

pub use um_proto::account::SECP256K1_PUBKEY_TYPE_URL;
pub const BASE_ACCOUNT_TYPE_URL: &str = "/cosmos.auth.v1beta1.BaseAccount";

pub fn load(state: &StateView, address_bytes: &[u8]) -> Result<Option<BaseAccount>, TxError> {
    match state.get(&state_key::account(address_bytes))? {
        None => Ok(None),
        Some(bytes) => BaseAccount::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| TxError::new(Code::Internal, format!("stored account: {e}"))),
    }
}

pub fn save(state: &mut StateView, address_bytes: &[u8], account: &BaseAccount) {
    state.set(&state_key::account(address_bytes), account.encode_to_vec());
}

/// Creates an account with the next free account number.
pub fn create(state: &mut StateView, address_bytes: &[u8]) -> Result<BaseAccount, TxError> {
    let number = match state.get(state_key::NEXT_ACCOUNT_NUMBER)? {
        Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
            TxError::new(Code::Internal, "stored next account number is not 8 bytes")
        })?),
        None => 0,
    };
    state.set(
        state_key::NEXT_ACCOUNT_NUMBER,
        (number + 1).to_be_bytes().to_vec(),
    );
    let account = BaseAccount {
        address: address::encode(address_bytes),
        pub_key: None,
        account_number: number,
        sequence: 0,
    };
    save(state, address_bytes, &account);
    Ok(account)
}

pub use um_proto::account::pubkey_any;

pub fn to_any(account: &BaseAccount) -> Any {
    Any {
        type_url: BASE_ACCOUNT_TYPE_URL.to_string(),
        value: account.encode_to_vec(),
    }
}
