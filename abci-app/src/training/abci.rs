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

use std::collections::BTreeMap;

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
use crate::fee::FeeParams;
use crate::gov;
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

/// Contract queries (a stake check, then a balance check, per update) that
/// admitting one proposal's updates to verification may cost a validator:
/// unbonded and empty keys cost nothing to make, so their updates must not
/// cost queries without end. Past the budget, updates are not verified
/// early; the ones delivery takes are pending and caught up at the next
/// ExtendVote.
pub const MAX_ADMISSION_QUERIES_PER_PROPOSAL: usize = 32;

/// Admission of one proposal's updates to verification: the queries it may
/// still make and the verification fees its admitted updates will take.
#[derive(Debug)]
pub struct Admission {
    queries_left: usize,
    /// Per trainer, the verification fees of the updates admitted so far in
    /// this proposal, which its balance must cover on top of the next one.
    reserved: BTreeMap<String, u128>,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            queries_left: MAX_ADMISSION_QUERIES_PER_PROPOSAL,
            reserved: BTreeMap::new(),
        }
    }
}

impl Admission {
    pub fn queries_left(&self) -> usize {
        self.queries_left
    }

    fn spend_query(&mut self) -> Result<(), String> {
        self.queries_left = self
            .queries_left
            .checked_sub(1)
            .ok_or("the proposal's admission queries are spent")?;
        Ok(())
    }

    /// Whether delivery would take an update of `trainer` as far as money
    /// goes: bonded above the minimum (in the committed `state`) and able to
    /// pay its verification fee from `balances`, the proposal's state after
    /// the fees of its txs so far, on top of the fees of the trainer's
    /// updates already admitted.
    pub fn admit(
        &mut self,
        wasm: &dyn Contracts,
        state: &StateView,
        balances: &StateView,
        block: &BlockInfo,
        trainer: &str,
    ) -> Result<(), String> {
        self.spend_query()?;
        submit::require_active_trainer(wasm, state, block, trainer).map_err(|e| e.log)?;
        let fee = FeeParams::load(state)
            .map_err(|e| e.log)?
            .verification_fee
            .u128();
        if fee == 0 {
            return Ok(());
        }
        let reserved = self.reserved.get(trainer).copied().unwrap_or(0);
        let needed = reserved.saturating_add(fee);
        self.spend_query()?;
        match gov::token_balance(wasm, balances, block, trainer).map_err(|e| e.log)? {
            // No token, no fee: `verification_fee::take` charges nothing.
            None => Ok(()),
            Some(balance) if balance >= needed => {
                self.reserved.insert(trainer.to_string(), needed);
                Ok(())
            }
            Some(balance) => Err(format!(
                "{trainer} holds {balance}{denom}, short of the verification fees of {needed}{denom}",
                denom = crate::fee::FEE_DENOM
            )),
        }
    }
}

/// Starts verifying the updates of a proposed block's messages early, from
/// the committed state (`block` is its last block). Verification is
/// admitted, not owed: a tx that reaches here passed the ante checks (its
/// fee is paid in `balances`), and an update is queued only when delivery
/// would take it (its signer is the trainer, bonded above the minimum and
/// able to pay the verification fee; it builds on the head, with the
/// current dataset and hyperparameters), so neither unbonded nor empty keys
/// can make validators re-train.
#[allow(clippy::too_many_arguments)]
pub fn verify_proposed(
    verifier: &dyn Verification,
    wasm: &dyn Contracts,
    state: &StateView,
    balances: &StateView,
    block: &BlockInfo,
    proposal_hash: &[u8],
    signer: &str,
    messages: &[Any],
    admission: &mut Admission,
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
        if admission.queries_left() == 0 {
            return;
        }
        if let Err(reason) = admission.admit(wasm, state, balances, block, &update.trainer) {
            tracing::debug!("not verifying a proposed update: {reason}");
            continue;
        }
        let identity = verifier.identity();
        match verify_request::request_for_msg(state, &update, proposal_hash, &identity) {
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
    let identity = verifier.identity();
    for update in &pending {
        let Some(key) = verify_request::update_key(update) else {
            continue;
        };
        if !verifier.wants(&key, &update.trainer) {
            continue;
        }
        match verify_request::request_for_update(state, update, &identity) {
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

    /// Staking and token of fixed answers: every key is a trainer, bonded
    /// above the minimum (`active`) or not, holding what `balances` says;
    /// counts the queries it answers.
    #[derive(Default)]
    struct Ledger {
        queries: AtomicUsize,
        active: bool,
        balances: BTreeMap<String, u128>,
    }

    impl Contracts for Ledger {
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
            query: &[u8],
        ) -> Result<Vec<u8>, TxError> {
            self.queries.fetch_add(1, Ordering::Relaxed);
            let query: serde_json::Value = serde_json::from_slice(query).unwrap();
            let answer = match query["balance"]["address"].as_str() {
                Some(address) => {
                    let balance = self.balances.get(address).copied().unwrap_or(0);
                    serde_json::json!({"balance": balance.to_string()})
                }
                None => serde_json::json!({
                    "address": query["role"]["address"],
                    "role": "trainer",
                    "active": self.active,
                }),
            };
            Ok(answer.to_string().into_bytes())
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

    fn with_suite(store: &Store) -> StateView {
        let mut state = store.view();
        let suite = crate::address::encode(&[1; 32]);
        gov::register(
            &mut state,
            &Registry {
                token: suite.clone(),
                staking: suite.clone(),
                dao: suite,
                versions: None,
            },
        )
        .unwrap();
        state
    }

    /// Issue 15: updates from unbonded keys (free to make) in a proposal
    /// cost a staking query each; a proposal of forty of them costs at most
    /// the budget, and none is verified.
    #[test]
    fn a_flood_of_unbonded_updates_costs_a_bounded_number_of_queries() {
        let store = Store::temporary().unwrap();
        let state = with_suite(&store);
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
        let (ledger, verifier) = (Ledger::default(), Recorder::default());
        let mut admission = Admission::default();
        for update in updates.chunks(4) {
            verify_proposed(
                &verifier,
                &ledger,
                &state,
                &state,
                &BlockInfo::default(),
                &[],
                &flooder,
                update,
                &mut admission,
            );
        }
        assert_eq!(
            ledger.queries.load(Ordering::Relaxed),
            MAX_ADMISSION_QUERIES_PER_PROPOSAL
        );
        assert_eq!(verifier.0.load(Ordering::Relaxed), 0);
    }

    /// Issue 15: a bonded trainer that cannot pay the verification fee (1
    /// NRN by default) would fail delivery, so its updates are not verified;
    /// one that can pay for two has its third refused in the same proposal.
    #[test]
    fn updates_whose_trainer_cannot_pay_the_verification_fee_are_not_admitted() {
        let store = Store::temporary().unwrap();
        let state = with_suite(&store);
        let (poor, rich) = (
            crate::address::encode(&[7; 20]),
            crate::address::encode(&[8; 20]),
        );
        let ledger = Ledger {
            active: true,
            balances: BTreeMap::from([(poor.clone(), 999_999), (rich.clone(), 2_500_000)]),
            ..Ledger::default()
        };
        let block = BlockInfo::default();
        let mut admission = Admission::default();
        let refused = admission
            .admit(&ledger, &state, &state, &block, &poor)
            .unwrap_err();
        assert!(
            refused.contains("short of the verification fees of 1000000unrn"),
            "{refused}"
        );
        assert_eq!(
            admission.admit(&ledger, &state, &state, &block, &rich),
            Ok(())
        );
        assert_eq!(
            admission.admit(&ledger, &state, &state, &block, &rich),
            Ok(())
        );
        let third = admission
            .admit(&ledger, &state, &state, &block, &rich)
            .unwrap_err();
        assert!(third.contains("holds 2500000unrn"), "{third}");
        // A stake query and a balance query per admission asked.
        assert_eq!(ledger.queries.load(Ordering::Relaxed), 8);
        assert_eq!(
            admission.queries_left(),
            MAX_ADMISSION_QUERIES_PER_PROPOSAL - 8
        );
    }
}
