//! Every storage path of the training module.
//!
//! Numbers inside keys are big-endian so that prefix scans return them in
//! ascending order.

pub const LINEAGE_PREFIX: &[u8] = b"training/lineage/";
pub const PARAMS: &[u8] = b"training/params";

/// JSON [`super::supply_rewards::RewardParams`], written when the DAO first
/// sets them.
pub const REWARD_PARAMS: &[u8] = b"training/reward_params";

/// `delta_reward/<delta id, 8 bytes BE>` → the proposer of a delta accepted
/// in this block, paid (and removed) at the block's end, where the token
/// can be called.
pub const DELTA_REWARD_PREFIX: &[u8] = b"training/delta_reward/";

pub fn delta_reward(delta_id: u64) -> Vec<u8> {
    [DELTA_REWARD_PREFIX, &delta_id.to_be_bytes()].concat()
}
pub const NEXT_UPDATE_ID: &[u8] = b"training/next_update_id";
/// `pending/<update id>`: the updates still collecting verdicts.
pub const PENDING_PREFIX: &[u8] = b"training/pending/";

pub fn lineage(model_id: &str) -> Vec<u8> {
    [LINEAGE_PREFIX, model_id.as_bytes()].concat()
}

/// `version/<model id>/<version>` → encoded `um.training.v1.ModelVersion`.
pub fn version(model_id: &str, version: u64) -> Vec<u8> {
    [&versions_of(model_id)[..], &version.to_be_bytes()].concat()
}

pub fn versions_of(model_id: &str) -> Vec<u8> {
    [b"training/version/", model_id.as_bytes(), b"/"].concat()
}

/// The store's blob space ([`crate::store::blob_key`]), beside the Merkle
/// tree: `<sha256>` → safetensors bytes, the content-addressed weights.
pub fn blob(sha256: &[u8]) -> Vec<u8> {
    crate::store::blob_key(sha256)
}

/// `seen/<sha256>` → id of the update that first submitted these weights.
pub fn seen_weights(sha256: &[u8]) -> Vec<u8> {
    [b"training/seen/", sha256].concat()
}

pub const UPDATE_PREFIX: &[u8] = b"training/update/";

/// `update/<id>` → encoded `um.training.v1.Update`.
pub fn update(id: u64) -> Vec<u8> {
    [UPDATE_PREFIX, &id.to_be_bytes()].concat()
}

/// `by_trainer/<trainer address>/<update id>` → empty: the updates of one
/// trainer, so that listing them reads only theirs. Addresses are bech32,
/// so they never contain the `/` that ends them.
pub fn update_by_trainer(trainer: &str, id: u64) -> Vec<u8> {
    [&updates_by_trainer(trainer)[..], &id.to_be_bytes()].concat()
}

pub fn updates_by_trainer(trainer: &str) -> Vec<u8> {
    [b"training/by_trainer/", trainer.as_bytes(), b"/"].concat()
}

/// `by_model/<model id>/<update id>` → empty: the updates of one lineage.
pub fn update_by_model(model_id: &str, id: u64) -> Vec<u8> {
    [&updates_by_model(model_id)[..], &id.to_be_bytes()].concat()
}

pub fn updates_by_model(model_id: &str) -> Vec<u8> {
    [b"training/by_model/", model_id.as_bytes(), b"/"].concat()
}

pub fn pending(id: u64) -> Vec<u8> {
    [PENDING_PREFIX, &id.to_be_bytes()].concat()
}

/// `verdict/<update id>/<validator address>` → encoded `um.training.v1.Verdict`.
pub fn verdict(update_id: u64, validator: &[u8]) -> Vec<u8> {
    [&verdicts_of(update_id)[..], validator].concat()
}

pub fn verdicts_of(update_id: u64) -> Vec<u8> {
    [b"training/verdict/", &update_id.to_be_bytes()[..], b"/"].concat()
}

/// Accepted updates per lineage, for the reward halving.
pub fn accepted_count(model_id: &str) -> Vec<u8> {
    [b"training/accepted/", model_id.as_bytes()].concat()
}

/// `escrow/<update id>` → unrn of the update's verification fee (16 bytes,
/// big-endian), held in the escrow account until the update is decided.
pub fn verification_escrow(update_id: u64) -> Vec<u8> {
    [b"training/escrow/", &update_id.to_be_bytes()[..]].concat()
}

/// `version_weights/<sha256>` → empty: these weights are a version's, so
/// their blob is never pruned.
pub fn version_weights(sha256: &[u8]) -> Vec<u8> {
    [b"training/version_weights/", sha256].concat()
}

/// `round/<model id>/<number>` → encoded `um.training.v1.Round`.
pub fn round(model_id: &str, number: u64) -> Vec<u8> {
    [&rounds_of(model_id)[..], &number.to_be_bytes()].concat()
}

pub fn rounds_of(model_id: &str) -> Vec<u8> {
    [b"training/round/", model_id.as_bytes(), b"/"].concat()
}

/// `current_round/<model id>` → the number of the lineage's current round
/// (8 bytes, big-endian).
pub fn current_round(model_id: &str) -> Vec<u8> {
    [b"training/current_round/", model_id.as_bytes()].concat()
}
