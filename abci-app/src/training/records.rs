//! The training module's records in the state: weights blobs, versions,
//! updates (with the pending index) and verdicts, stored as protobuf.

use prost::Message;
use sha2::{Digest, Sha256};
use um_proto::um::training::v1::{ModelVersion, Update, Verdict};

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, TxError> {
    M::decode(bytes).map_err(|e| TxError::new(Code::Internal, format!("stored {what}: {e}")))
}

/// Stores weights under their SHA-256 and returns it; storing the same bytes
/// twice is a no-op.
pub fn put_blob(state: &mut StateView, bytes: &[u8]) -> [u8; 32] {
    let sha = sha256(bytes);
    state.set(&state_key::blob(&sha), bytes.to_vec());
    sha
}

/// Deletes the weights stored under `sha`, unless they are a version's (a
/// copy of accepted weights shares their blob) or an update still waiting
/// for its verdicts has the same bytes.
pub fn prune_blob(state: &mut StateView, sha: &[u8]) -> Result<bool, TxError> {
    let still_needed = pending_updates(state)?
        .iter()
        .any(|update| update.weights_sha256 == sha);
    if still_needed {
        return Ok(false);
    }
    prune_unheld_blob(state, sha)
}

/// [`prune_blob`] for a caller that knows no pending update holds `sha`
/// (the end-block, which has the pending list in hand, so deciding many
/// updates does not read every pending record once per decision).
pub fn prune_unheld_blob(state: &mut StateView, sha: &[u8]) -> Result<bool, TxError> {
    if state.get(&state_key::version_weights(sha))?.is_some() {
        return Ok(false);
    }
    state.remove(&state_key::blob(sha));
    Ok(true)
}

pub fn blob(state: &StateView, sha: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
    Ok(state.get(&state_key::blob(sha))?)
}

pub fn save_version(state: &mut StateView, version: &ModelVersion) {
    state.set(
        &state_key::version(&version.model_id, version.version),
        version.encode_to_vec(),
    );
    // The blob is a version's now: never pruned, whatever happens to other
    // updates with the same bytes.
    state.set(
        &state_key::version_weights(&version.weights_sha256),
        Vec::new(),
    );
}

pub fn version(
    state: &StateView,
    model_id: &str,
    version: u64,
) -> Result<Option<ModelVersion>, TxError> {
    state
        .get(&state_key::version(model_id, version))?
        .map(|bytes| decode(&bytes, "model version"))
        .transpose()
}

/// Every version of a lineage, ascending.
pub fn versions(state: &StateView, model_id: &str) -> Result<Vec<ModelVersion>, TxError> {
    state
        .prefixed(&state_key::versions_of(model_id))?
        .into_iter()
        .map(|(_, bytes)| decode(&bytes, "model version"))
        .collect()
}

pub fn next_update_id(state: &mut StateView) -> Result<u64, TxError> {
    let next =
        match state.get(state_key::NEXT_UPDATE_ID)? {
            Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
                TxError::new(Code::Internal, "stored next update id is not 8 bytes")
            })?),
            None => 1,
        };
    state.set(state_key::NEXT_UPDATE_ID, (next + 1).to_be_bytes().to_vec());
    Ok(next)
}

/// Saves an update and keeps the indexes in step: by trainer and by
/// lineage (which never change), and pending by status.
pub fn save_update(state: &mut StateView, update: &Update) {
    state.set(&state_key::update(update.id), update.encode_to_vec());
    state.set(
        &state_key::update_by_trainer(&update.trainer, update.id),
        Vec::new(),
    );
    state.set(
        &state_key::update_by_model(&update.model_id, update.id),
        Vec::new(),
    );
    if update.status == um_proto::um::training::v1::UpdateStatus::Pending as i32 {
        state.set(&state_key::pending(update.id), Vec::new());
    } else {
        state.remove(&state_key::pending(update.id));
    }
}

pub fn update(state: &StateView, id: u64) -> Result<Option<Update>, TxError> {
    state
        .get(&state_key::update(id))?
        .map(|bytes| decode(&bytes, "update"))
        .transpose()
}

/// Pending updates, ascending id.
pub fn pending_updates(state: &StateView) -> Result<Vec<Update>, TxError> {
    let mut out = Vec::new();
    for (key, _) in state.prefixed(state_key::PENDING_PREFIX)? {
        let id_bytes = &key[state_key::PENDING_PREFIX.len()..];
        let id = u64::from_be_bytes(
            id_bytes
                .try_into()
                .map_err(|_| TxError::new(Code::Internal, "malformed pending index key"))?,
        );
        if let Some(update) = update(state, id)? {
            out.push(update);
        }
    }
    Ok(out)
}

/// The id of the update that first submitted these weights, if any.
pub fn seen_weights(state: &StateView, sha: &[u8]) -> Result<Option<u64>, TxError> {
    Ok(state
        .get(&state_key::seen_weights(sha))?
        .and_then(|bytes| bytes.as_slice().try_into().ok().map(u64::from_be_bytes)))
}

pub fn mark_weights_seen(state: &mut StateView, sha: &[u8], update_id: u64) {
    state.set(
        &state_key::seen_weights(sha),
        update_id.to_be_bytes().to_vec(),
    );
}

pub fn verdict(
    state: &StateView,
    update_id: u64,
    validator: &[u8],
) -> Result<Option<Verdict>, TxError> {
    state
        .get(&state_key::verdict(update_id, validator))?
        .map(|bytes| decode(&bytes, "verdict"))
        .transpose()
}

pub fn save_verdict(state: &mut StateView, update_id: u64, verdict: &Verdict) {
    state.set(
        &state_key::verdict(update_id, &verdict.validator),
        verdict.encode_to_vec(),
    );
}

/// Verdicts on an update, ordered by validator address.
/// Forgets the verdicts recorded on an update (a dispute makes them moot:
/// they may not have looked at the disputed segment).
pub fn clear_verdicts(state: &mut StateView, update_id: u64) -> Result<(), TxError> {
    let keys: Vec<Vec<u8>> = state
        .prefixed(&state_key::verdicts_of(update_id))?
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    for key in keys {
        state.remove(&key);
    }
    Ok(())
}

pub fn verdicts(state: &StateView, update_id: u64) -> Result<Vec<Verdict>, TxError> {
    state
        .prefixed(&state_key::verdicts_of(update_id))?
        .into_iter()
        .map(|(_, bytes)| decode(&bytes, "verdict"))
        .collect()
}

pub fn accepted_count(state: &StateView, model_id: &str) -> Result<u64, TxError> {
    Ok(state
        .get(&state_key::accepted_count(model_id))?
        .and_then(|bytes| bytes.as_slice().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0))
}

pub fn set_accepted_count(state: &mut StateView, model_id: &str, count: u64) {
    state.set(
        &state_key::accepted_count(model_id),
        count.to_be_bytes().to_vec(),
    );
}

#[cfg(test)]
mod tests {
    use um_proto::um::training::v1::UpdateStatus;

    use super::*;
    use crate::store::Store;

    fn update(id: u64, sha: [u8; 32], status: UpdateStatus) -> Update {
        Update {
            id,
            trainer: "um1trainer".into(),
            model_id: "digits".into(),
            weights_sha256: sha.to_vec(),
            status: status as i32,
            ..Default::default()
        }
    }

    /// Issue 15: the weights of decided, unaccepted updates were kept for
    /// ever. A blob goes once nothing pending needs it and no version is
    /// made of it (adversarial_e2e's copy of an accepted update once took
    /// the head's weights with it).
    #[test]
    fn a_blob_is_pruned_unless_a_pending_copy_needs_it() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let sha = put_blob(&mut state, b"weights");
        save_update(&mut state, &update(1, sha, UpdateStatus::Rejected));
        save_update(&mut state, &update(2, sha, UpdateStatus::Pending));
        assert!(
            !prune_blob(&mut state, &sha).unwrap(),
            "update 2 still needs it"
        );
        assert!(blob(&state, &sha).unwrap().is_some());
        save_update(&mut state, &update(2, sha, UpdateStatus::Expired));
        assert!(prune_blob(&mut state, &sha).unwrap());
        assert!(blob(&state, &sha).unwrap().is_none());

        // A rejected copy of a version's weights leaves them in place.
        let accepted = put_blob(&mut state, b"accepted weights");
        save_version(
            &mut state,
            &ModelVersion {
                model_id: "digits".into(),
                version: 1,
                weights_sha256: accepted.to_vec(),
                ..Default::default()
            },
        );
        save_update(&mut state, &update(3, accepted, UpdateStatus::Rejected));
        assert!(!prune_blob(&mut state, &accepted).unwrap());
        assert!(blob(&state, &accepted).unwrap().is_some());
    }
}
