//! Every storage path of the karma module.

/// `karma/account/<address>` → protobuf `um.karma.v1.Contributions`.
pub const ACCOUNT_PREFIX: &[u8] = b"karma/account/";

pub fn account(address: &str) -> Vec<u8> {
    [ACCOUNT_PREFIX, address.as_bytes()].concat()
}

/// `karma/rank/<u64::MAX − score, 8 bytes BE><address>` → the address: the
/// leaderboard, read in key order (highest score first, ties by ascending
/// address). Exactly one entry per account, moved when its score changes.
pub const RANK_PREFIX: &[u8] = b"karma/rank/";

pub fn rank(score: u64, address: &str) -> Vec<u8> {
    [
        RANK_PREFIX,
        &(u64::MAX - score).to_be_bytes(),
        address.as_bytes(),
    ]
    .concat()
}
