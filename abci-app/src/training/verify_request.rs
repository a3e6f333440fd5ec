//! What a validator verifies for an update: the claim's key and the
//! `um.trainer.v1.VerifyRequest` built from the committed state. Pure reads
//! of the state; the worker that sends the requests lives with the node
//! process (`crate::node::verifier`).

use um_proto::um::abci::v1::VerdictEntry;
use um_proto::um::trainer::v1::{TrainingStep, VerifyRequest};
use um_proto::um::training::v1::{MsgSubmitUpdate, Update};

use super::{hyperparams_proto, lineage, records};
use crate::codes::TxError;
use crate::store::StateView;

/// What the ABCI methods ask of the validator's verification, whatever
/// runs it (the node process's worker, `crate::node::verifier::Verifier`):
/// the state machine holds this, so it depends on nothing above it.
pub trait Verification: Send + Sync {
    /// An update seen in a proposal: start checking it early.
    fn on_proposed(&self, state: &StateView, msg: &MsgSubmitUpdate);
    /// Pending updates without a result yet (a restart, a missed block).
    fn catch_up(&self, state: &StateView, pending: &[Update]);
    /// The finished verdicts on `pending`, at most `limit`.
    fn verdicts(&self, pending: &[Update], limit: usize) -> Vec<VerdictEntry>;
    /// Forgets what is not pending any more.
    fn retain(&self, pending: &[Update]);
}

/// What a check is kept under: the weights *and* who claims them with which
/// nonce, since a copy of another trainer's weights is its own claim (and
/// fails where the original passes).
pub fn job_key(weights_sha256: &[u8; 32], trainer: &str, nonce: u64) -> [u8; 32] {
    let mut bytes = weights_sha256.to_vec();
    bytes.extend_from_slice(&nonce.to_be_bytes());
    bytes.extend_from_slice(trainer.as_bytes());
    records::sha256(&bytes)
}

pub fn update_key(update: &Update) -> Option<[u8; 32]> {
    let sha = <[u8; 32]>::try_from(update.weights_sha256.as_slice()).ok()?;
    Some(job_key(&sha, &update.trainer, update.nonce))
}

/// Everything the verifier needs, from the committed state; `None` when the
/// update can never be accepted anyway (unknown lineage, stale base).
pub fn request_for(
    state: &StateView,
    msg: &MsgSubmitUpdate,
    update_id: u64,
) -> Result<Option<VerifyRequest>, TxError> {
    let Some(lineage) = lineage(state, &msg.model_id)? else {
        return Ok(None);
    };
    if lineage.head_version != msg.base_version {
        return Ok(None);
    }
    let Some(base) = records::version(state, &msg.model_id, msg.base_version)? else {
        return Ok(None);
    };
    let Some(base_weights) = records::blob(state, &base.weights_sha256)? else {
        return Ok(None);
    };
    let Some(dataset) = crate::dataset::current(state, &lineage.dataset_id)? else {
        return Ok(None);
    };
    // Re-executed with what the update names, which delivery holds equal to
    // the chain's; an update naming others is refused there, so it is not
    // worth a verification here.
    let hyperparams = hyperparams_proto(&lineage.hyperparams);
    if dataset.version != msg.dataset_version
        || dataset.root != msg.dataset_root
        || hyperparams.sha256() != msg.hyperparams_sha256
    {
        return Ok(None);
    }
    Ok(Some(VerifyRequest {
        update_id,
        step: Some(TrainingStep {
            model_id: lineage.model_id.clone(),
            spec_json: lineage.spec.clone(),
            hyperparams: Some(hyperparams),
            base_version: base.version,
            base_weights_sha256: base.weights_sha256.clone(),
            base_weights,
            dataset_id: lineage.dataset_id.clone(),
            dataset_version: dataset.version,
            dataset_root: dataset.root.clone(),
            trainer: msg.trainer.clone(),
            nonce: msg.nonce,
        }),
        claimed_weights_sha256: records::sha256(&msg.weights).to_vec(),
        claimed_weights: msg.weights.clone(),
        claimed_train_loss: msg.claimed_train_loss,
        claimed_validation_loss: msg.claimed_validation_loss,
        // Version 0 was never measured, and a base measured on another
        // dataset version's split says nothing about this one (a delta could
        // add hard validation records and freeze the lineage): the verifier
        // measures the base itself then, on the same split as the update.
        base_validation_loss: (base.version > 0 && base.dataset_version == dataset.version)
            .then_some(base.validation_loss),
    }))
}
