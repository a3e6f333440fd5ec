//! Every storage path of the auth module.

pub fn account(address_bytes: &[u8]) -> Vec<u8> {
    [b"auth/account/".as_slice(), address_bytes].concat()
}

pub const NEXT_ACCOUNT_NUMBER: &[u8] = b"auth/next_account_number";

pub const CHAIN_ID: &[u8] = b"auth/chain_id";

pub const PARAMS: &[u8] = b"auth/params";
