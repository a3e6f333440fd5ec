//! The training module at each ABCI phase: the one door from `app/` into
//! the life of an update.
//!
//! | phase | here |
//! |---|---|
//! | PrepareProposal | [`verdict_tx`]: the previous height's verdicts as the block's first tx |
//! | ProcessProposal | [`check_verdict_tx`], [`verify_proposed`] |
//! | FinalizeBlock | [`deliver_verdict_tx`]; messages and end-block through [`super::TrainingModule`] |
//! | ExtendVote | [`vote_extension`] |
//! | VerifyVoteExtension | [`check_vote_extension`] |

use cosmos_sdk_proto::Any;
use prost::{Message, Name};
use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::{InjectedVerdicts, VerdictEntry};
use um_proto::um::training::v1::MsgSubmitUpdate;

use super::extension::{self, MAX_VERDICTS};
use super::verify_request::{self, Verification};
use super::{decide, records, submit};
use crate::codes::TxError;
use crate::context::{BlockInfo, Contracts, Event};
use crate::store::StateView;

/// The verdict tx for the block at `height`: the extended commit of the
/// height before, when any extension says something and the tx passes the
/// check every validator will run on it.
pub fn verdict_tx(
    state: &StateView,
    chain_id: &str,
    height: i64,
    commit: &pb::ExtendedCommitInfo,
) -> Result<Option<Vec<u8>>, String> {
    let Some(previous) = height.checked_sub(1) else {
        return Ok(None);
    };
    if commit.votes.iter().all(|v| v.vote_extension.is_empty()) {
        return Ok(None);
    }
    let injected = extension::build_injected(previous, commit);
    let previous = u64::try_from(previous).map_err(|e| e.to_string())?;
    extension::check_injected(state, chain_id, &injected, previous)?;
    Ok(Some(injected.encode_to_vec()))
}

/// The rule for a verdict tx in the block at `height`, the same in
/// ProcessProposal (which refuses the block) and FinalizeBlock (which
/// ignores the tx: a node that syncs blocks never ran ProcessProposal):
/// first in the block, decodable, and carrying the extended commit of the
/// height before, signed by its validators.
pub fn check_verdict_tx(
    state: &StateView,
    chain_id: &str,
    height: u64,
    index: usize,
    tx: &[u8],
) -> Result<InjectedVerdicts, String> {
    if index != 0 {
        return Err(format!("verdict tx at position {index}; only first"));
    }
    let injected = InjectedVerdicts::decode_tx(tx).map_err(|e| e.to_string())?;
    extension::check_injected(state, chain_id, &injected, height.saturating_sub(1))?;
    Ok(injected)
}

/// FinalizeBlock's verdict tx: checked, then its verdicts recorded for the
/// end-block tally.
pub fn deliver_verdict_tx(
    state: &mut StateView,
    block: &BlockInfo,
    index: usize,
    tx: &[u8],
) -> Result<Vec<Event>, String> {
    let injected = check_verdict_tx(state, &block.chain_id, block.height, index, tx)?;
    decide::record_verdicts(state, &injected).map_err(|e| e.log)
}

/// Stake checks (a staking contract query each) one proposal may cost a
/// validator in [`verify_proposed`]: unbonded keys cost nothing to make, so
/// their updates must not cost a query each without end. Past the budget,
/// updates are not verified early; the ones delivery takes are pending and
/// caught up at the next ExtendVote.
pub const MAX_STAKE_CHECKS_PER_PROPOSAL: usize = 16;

/// Starts verifying the updates of a proposed block's messages early, from
/// the committed state (`block` is its last block). Verification is
/// admitted, not owed: a tx that reaches here passed the ante checks, and
/// an update is queued only when delivery would take it (its signer is the
/// trainer, bonded above the minimum; it builds on the head, with the
/// current dataset and hyperparameters), so unbonded keys cannot make
/// validators re-train.
pub fn verify_proposed(
    verifier: &dyn Verification,
    wasm: &dyn Contracts,
    state: &StateView,
    block: &BlockInfo,
    signer: &str,
    messages: &[Any],
    stake_checks_left: &mut usize,
) {
    for msg in messages
        .iter()
        .filter(|msg| msg.type_url == MsgSubmitUpdate::type_url())
    {
        let Ok(update) = MsgSubmitUpdate::decode(msg.value.as_slice()) else {
            continue;
        };
        let key = verify_request::claim_key(&verify_request::Claim::of_msg(&update));
        if update.trainer != signer || !verifier.wants(&key, &update.trainer) {
            continue;
        }
        let Some(left) = stake_checks_left.checked_sub(1) else {
            return;
        };
        *stake_checks_left = left;
        if let Err(err) = submit::require_active_trainer(wasm, state, block, &update.trainer) {
            tracing::debug!("not verifying a proposed update: {}", err.log);
            continue;
        }
        match verify_request::request_for_msg(state, &update) {
            Ok(Some(request)) => verifier.verify(key, request),
            Ok(None) => {}
            Err(err) => tracing::debug!("not verifying a proposed update: {}", err.log),
        }
    }
}

/// This validator's verdicts for its vote extension: the finished ones on
/// updates pending in the committed state (at most [`MAX_VERDICTS`]);
/// pending updates without a check yet (a restart, a missed proposal) start
/// one now.
pub fn vote_extension(
    verifier: &dyn Verification,
    state: &StateView,
) -> Result<Vec<VerdictEntry>, TxError> {
    let pending = records::pending_updates(state)?;
    verifier.retain(&pending);
    for update in &pending {
        let Some(key) = verify_request::update_key(update) else {
            continue;
        };
        if !verifier.wants(&key, &update.trainer) {
            continue;
        }
        match verify_request::request_for_update(state, update) {
            Ok(Some(request)) => verifier.verify(key, request),
            Ok(None) => {}
            Err(err) => tracing::warn!(update = update.id, "cannot verify: {}", err.log),
        }
    }
    Ok(verifier.verdicts(&pending, MAX_VERDICTS))
}

/// VerifyVoteExtension checks form only (decodable, ordered, consistent,
/// bounded); whether a verdict is right is for the tally, and refusing a
/// vote for its opinion would only cost the network liveness.
pub fn check_vote_extension(bytes: &[u8]) -> Result<(), String> {
    extension::check_form(bytes).map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use um_proto::um::trainer::v1::VerifyRequest;
    use um_proto::um::training::v1::Update;

    use super::*;
    use crate::context::{MsgResult, TxContext};
    use crate::gov::{self, Registry};
    use crate::store::Store;

    /// Staking that knows no trainer, counting the queries it answers.
    #[derive(Default)]
    struct NoTrainers(AtomicUsize);

    impl Contracts for NoTrainers {
        fn execute(&self, _: &mut TxContext<'_>, _: &str, _: &Any) -> Result<MsgResult, TxError> {
            unreachable!("no tx runs here")
        }
        fn sudo(&self, _: &mut TxContext<'_>, _: &str, _: &[u8]) -> Result<MsgResult, TxError> {
            unreachable!("no tx runs here")
        }
        fn query_smart(
            &self,
            _: &StateView,
            _: &BlockInfo,
            _: &str,
            _: &[u8],
        ) -> Result<Vec<u8>, TxError> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(br#"{"address":"um1x","role":null,"active":false}"#.to_vec())
        }
        fn contract_creator(&self, _: &StateView, _: &str) -> Result<Option<String>, TxError> {
            Ok(None)
        }
        fn abci_query(
            &self,
            _: &StateView,
            _: &BlockInfo,
            _: &str,
            _: &[u8],
        ) -> Option<Result<Vec<u8>, TxError>> {
            None
        }
        fn init_genesis(
            &self,
            _: &mut StateView,
            _: &BlockInfo,
            _: &serde_json::Value,
        ) -> Result<(), TxError> {
            Ok(())
        }
    }

    #[derive(Default)]
    struct Recorder(AtomicUsize);

    impl Verification for Recorder {
        fn wants(&self, _: &[u8; 32], _: &str) -> bool {
            true
        }
        fn verify(&self, _: [u8; 32], _: VerifyRequest) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn verdicts(&self, _: &[Update], _: usize) -> Vec<VerdictEntry> {
            Vec::new()
        }
        fn retain(&self, _: &[Update]) {}
    }

    /// Issue 15: updates from unbonded keys (free to make) in a proposal
    /// cost a staking query each; a proposal of forty of them costs at most
    /// the budget, and none is verified.
    #[test]
    fn a_flood_of_unbonded_updates_costs_a_bounded_number_of_stake_checks() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let suite = crate::address::encode(&[1; 32]);
        gov::register(
            &mut state,
            &Registry {
                token: suite.clone(),
                staking: suite.clone(),
                dao: suite,
            },
        )
        .unwrap();
        let flooder = crate::address::encode(&[9; 20]);
        let updates: Vec<Any> = (0..40)
            .map(|nonce| Any {
                type_url: MsgSubmitUpdate::type_url(),
                value: MsgSubmitUpdate {
                    trainer: flooder.clone(),
                    model_id: "digits".into(),
                    nonce,
                    weights: vec![nonce as u8; 64],
                    ..Default::default()
                }
                .encode_to_vec(),
            })
            .collect();
        let (staking, verifier) = (NoTrainers::default(), Recorder::default());
        let mut checks_left = MAX_STAKE_CHECKS_PER_PROPOSAL;
        for update in updates.chunks(4) {
            verify_proposed(
                &verifier,
                &staking,
                &state,
                &BlockInfo::default(),
                &flooder,
                update,
                &mut checks_left,
            );
        }
        assert_eq!(
            staking.0.load(Ordering::Relaxed),
            MAX_STAKE_CHECKS_PER_PROPOSAL
        );
        assert_eq!(verifier.0.load(Ordering::Relaxed), 0);
    }
}
