//! Every storage path of the dataset module.
//!
//! Numbers inside keys are big-endian so that prefix scans return them in
//! ascending order. Dataset ids are 1-64 of `[a-z0-9_-]`, so an id never
//! contains the `/` that ends it inside a key.

/// JSON [`super::DatasetParams`].
pub const PARAMS: &[u8] = b"dataset/params";

/// Id the next proposed delta gets (8 bytes BE; absent means 1).
pub const NEXT_DELTA_ID: &[u8] = b"dataset/next_delta_id";

/// `head/<dataset id>` → newest version number (8 bytes BE); one key per
/// lineage, so a scan of the prefix lists the lineages in id order.
pub const HEAD_PREFIX: &[u8] = b"dataset/head/";

pub fn head(dataset_id: &str) -> Vec<u8> {
    [HEAD_PREFIX, dataset_id.as_bytes()].concat()
}

/// `version/<dataset id>/<version>` → encoded `um.dataset.v1.Dataset`.
pub fn version(dataset_id: &str, version: u64) -> Vec<u8> {
    [&versions_of(dataset_id)[..], &version.to_be_bytes()].concat()
}

pub fn versions_of(dataset_id: &str) -> Vec<u8> {
    [b"dataset/version/", dataset_id.as_bytes(), b"/"].concat()
}

/// `record/<sha256>` → `label ‖ pixels`, the bytes the hash is taken of:
/// records are content-addressed and shared by every dataset and version
/// that holds them.
pub fn record(hash: &[u8]) -> Vec<u8> {
    [b"dataset/record/", hash].concat()
}

/// `member/<dataset id>/<sha256>` → the versions of the lineage that hold
/// the record, as spans `[from, until)` (8 + 8 bytes BE each; `until` is
/// `u64::MAX` while the record is in the newest version). A delta touches
/// only the keys of the records it adds or removes, not the whole set, and
/// a scan of the prefix visits records in ascending hash order.
pub fn member(dataset_id: &str, hash: &[u8]) -> Vec<u8> {
    [&members_of(dataset_id)[..], hash].concat()
}

pub fn members_of(dataset_id: &str) -> Vec<u8> {
    [b"dataset/member/", dataset_id.as_bytes(), b"/"].concat()
}

pub const DELTA_PREFIX: &[u8] = b"dataset/delta/";

/// `delta/<id>` → encoded `um.dataset.v1.DatasetDelta`.
pub fn delta(id: u64) -> Vec<u8> {
    [DELTA_PREFIX, &id.to_be_bytes()].concat()
}

/// `delta_by_dataset/<dataset id>/<delta id>` → empty: the deltas of one
/// lineage, so that listing them reads only theirs.
pub fn delta_of_dataset(dataset_id: &str, id: u64) -> Vec<u8> {
    [&deltas_of_dataset(dataset_id)[..], &id.to_be_bytes()].concat()
}

pub fn deltas_of_dataset(dataset_id: &str) -> Vec<u8> {
    [b"dataset/delta_by_dataset/", dataset_id.as_bytes(), b"/"].concat()
}

/// `escrow/<delta id>` → bech32 address of the cw20 token the delta's
/// deposit was taken in; present while the module owes a refund, so a
/// refund goes back in the token that was paid even if the registry has
/// moved to another token since.
pub fn escrow(delta_id: u64) -> Vec<u8> {
    [b"dataset/escrow/", &delta_id.to_be_bytes()[..]].concat()
}

/// `expiry/<height, 8 bytes BE><delta id, 8 bytes BE>` → empty: a proposed
/// delta that expires at that height unless decided before; in height
/// order, so an end-block reads only what is due.
pub const EXPIRY_PREFIX: &[u8] = b"dataset/expiry/";

pub fn expiry(expires_at: u64, delta_id: u64) -> Vec<u8> {
    [
        EXPIRY_PREFIX,
        &expires_at.to_be_bytes(),
        &delta_id.to_be_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_reach_into_each_others_keys() {
        // "a" and "a-b" share a byte prefix but not a key prefix.
        assert!(!member("a-b", &[0; 32]).starts_with(&members_of("a")));
        assert!(!version("a-b", 0).starts_with(&versions_of("a")));
        assert!(delta(1) < delta(2) && delta(255) < delta(256));
    }
}
