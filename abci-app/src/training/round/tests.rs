//! A round's life through the module's own functions: contributions in,
//! tallies applied as the end-block would, the merge, its evaluation, the
//! fallback and the next round.

use cosmos_sdk_proto::Any;
use cosmwasm_std::{Decimal, Uint128};
use um_bindings::Hyperparams;
use um_formats::{ModelSpec, Weights};
use um_proto::um::training::v1::{Round, RoundStatus, Update, UpdateKind, UpdateStatus};

use super::*;
use crate::context::{Contracts, MsgResult, TxContext};
use crate::store::Store;
use crate::training::decide::{self, Decision, Tally};
use crate::training::{create_lineage, NewLineage};

const MODEL: &str = "digits";
const SPEC: &str = r#"{"kind":"mlp","input":[1,4,4],"hidden":[3],"classes":2}"#;

/// No contracts: rewards cannot be minted (reported in the event, as when
/// the token refuses), nothing else is asked of them here.
struct NoContracts;

impl Contracts for NoContracts {
    fn execute(&self, _: &mut TxContext<'_>, _: &str, _: &Any) -> Result<MsgResult, TxError> {
        Err(TxError::new(Code::NotFound, "no contracts"))
    }
    fn sudo(&self, _: &mut TxContext<'_>, _: &str, _: &[u8]) -> Result<MsgResult, TxError> {
        Err(TxError::new(Code::NotFound, "no contracts"))
    }
    fn query_smart(
        &self,
        _: &StateView,
        _: &BlockInfo,
        _: &str,
        _: &[u8],
    ) -> Result<Vec<u8>, TxError> {
        Err(TxError::new(Code::NotFound, "no contracts"))
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

fn hyperparams() -> Hyperparams {
    Hyperparams {
        learning_rate: Decimal::percent(10),
        batch_size: 4,
        local_steps: 2,
        verification_tolerance: Decimal::permille(1),
        min_improvement: Decimal::zero(),
        reward_per_update: Uint128::new(3_000_000),
        reward_halving_interval: 0,
    }
}

fn rounds(max_contributions: u32) -> RoundParams {
    RoundParams {
        max_contributions,
        round_blocks: 5,
        outer_learning_rate: Decimal::one(),
        eval_samples: 100,
        checkpoint_interval: 0,
        segments_per_validator: 0,
        compression: String::new(),
    }
}

fn block(height: u64) -> BlockInfo {
    BlockInfo {
        height,
        hash: vec![height as u8; 32],
        ..BlockInfo::default()
    }
}

fn lineage_with_rounds(state: &mut StateView, max_contributions: u32) -> Round {
    lineage_with(state, rounds(max_contributions))
}

fn lineage_with(state: &mut StateView, round_params: RoundParams) -> Round {
    create_lineage(
        state,
        1,
        &NewLineage {
            model_id: MODEL,
            spec: SPEC,
            hyperparams: &hyperparams(),
            dataset_id: "mnist",
            init_seed: 7,
            rounds: Some(&round_params),
        },
    )
    .unwrap();
    current(state, MODEL).unwrap().unwrap()
}

/// Stores a pending contribution of `trainer` on `shard`, as delivery does.
fn contribute(state: &mut StateView, trainer: &str, shard: u32, seed: u64, height: u64) -> u64 {
    let spec = ModelSpec::parse(SPEC).unwrap();
    contribute_bytes(
        state,
        trainer,
        shard,
        Weights::init(&spec, seed).encode(),
        height,
    )
}

/// [`contribute`] with the contribution's bytes (weights or a payload).
fn contribute_bytes(
    state: &mut StateView,
    trainer: &str,
    shard: u32,
    weights: Vec<u8>,
    height: u64,
) -> u64 {
    let mut round = current(state, MODEL).unwrap().unwrap();
    check_contribution(state, &round, round.number, shard, trainer, height).unwrap();
    let sha = records::put_blob(state, &weights);
    let id = records::next_update_id(state).unwrap();
    records::save_update(
        state,
        &Update {
            id,
            model_id: MODEL.into(),
            base_version: round.base_version,
            trainer: trainer.into(),
            weights_sha256: sha.to_vec(),
            status: UpdateStatus::Pending as i32,
            expires_height: height + 20,
            kind: UpdateKind::Contribution as i32,
            round: round.number,
            shard,
            ..Default::default()
        },
    );
    add_contribution(state, &mut round, id, shard, height);
    id
}

/// Applies `decision` to update `id` as the end-block's tally would, with
/// a validator's measured loss recorded for the accepting side.
fn decide_update(state: &mut StateView, id: u64, decision: Decision, loss: f32, height: u64) {
    let mut update = records::update(state, id).unwrap().unwrap();
    records::save_verdict(
        state,
        id,
        &um_proto::um::training::v1::Verdict {
            validator: vec![1; 20],
            accept: decision == Decision::Accept,
            measured_validation_loss: loss,
            power: 10,
            ..Default::default()
        },
    );
    let tally = Tally {
        accept: 10,
        total: 10,
        ..Tally::default()
    };
    decide::apply(
        &NoContracts,
        state,
        &block(height),
        &TrainingParams::default(),
        &mut update,
        tally,
        decision,
    )
    .unwrap();
}

fn weights_of(state: &StateView, sha: &[u8]) -> Vec<f32> {
    let spec = ModelSpec::parse(SPEC).unwrap();
    let bytes = records::blob(state, sha).unwrap().unwrap();
    Weights::decode(&spec, &bytes)
        .unwrap()
        .tensors
        .into_iter()
        .flat_map(|t| t.data)
        .collect()
}

#[test]
fn a_full_round_merges_its_verified_contributions_and_the_next_opens_from_the_merge() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with_rounds(&mut state, 2);
    assert_eq!((opened.number, opened.base_version), (1, 0));
    assert_eq!(
        opened.seed,
        round_seed(&opened.base_weights_sha256, MODEL, 1)
    );
    let a = contribute(&mut state, "um1alice", 1, 11, 2);
    let b = contribute(&mut state, "um1bob", 0, 12, 2);
    let params = TrainingParams::default();

    // Full, but a contribution still waits for verdicts: no merge yet.
    decide_update(&mut state, a, Decision::Accept, 0.5, 3);
    assert_eq!(
        records::update(&state, a).unwrap().unwrap().status,
        UpdateStatus::Verified as i32
    );
    end_block(&mut state, &block(3), &params).unwrap();
    assert_eq!(
        current(&state, MODEL).unwrap().unwrap().status,
        RoundStatus::Open as i32
    );

    decide_update(&mut state, b, Decision::Accept, 0.4, 4);
    let events = end_block(&mut state, &block(4), &params).unwrap();
    assert_eq!(events[0].kind, "round_candidate");
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(round.status, RoundStatus::Evaluating as i32);
    let candidate = records::update(&state, round.candidate_update_id)
        .unwrap()
        .unwrap();
    assert_eq!(candidate.kind, UpdateKind::Merge as i32);
    // In shard order: bob's shard 0, then alice's shard 1.
    assert_eq!(candidate.contributions, vec![b, a]);
    assert_eq!(
        candidate.eval_seed,
        block(4).hash,
        "held out with a seed nobody knew"
    );
    let (wa, wb) = (
        weights_of(
            &state,
            &records::update(&state, a).unwrap().unwrap().weights_sha256,
        ),
        weights_of(
            &state,
            &records::update(&state, b).unwrap().unwrap().weights_sha256,
        ),
    );
    let merged = weights_of(&state, &candidate.weights_sha256);
    for i in 0..merged.len() {
        assert_eq!(merged[i], (wa[i] + wb[i]) / 2.0);
    }

    decide_update(&mut state, candidate.id, Decision::Accept, 0.3, 5);
    let events = end_block(&mut state, &block(5), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(closed.status, RoundStatus::Closed as i32);
    assert_eq!(
        (closed.outcome.as_str(), closed.version),
        (OUTCOME_MERGED, 1)
    );
    let version = records::version(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(version.update_ids, vec![b, a]);
    assert_eq!(version.weights_sha256, candidate.weights_sha256);
    for id in [a, b] {
        let contribution = records::update(&state, id).unwrap().unwrap();
        assert_eq!(contribution.status, UpdateStatus::Accepted as i32);
        assert_eq!(contribution.version, 1);
        // Merged away: only the version's bytes are kept.
        assert!(records::blob(&state, &contribution.weights_sha256)
            .unwrap()
            .is_none());
    }
    let next = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(
        (next.number, next.base_version, next.opened_height),
        (2, 1, 5)
    );
    assert_eq!(next.status, RoundStatus::Open as i32);
    assert!(events.iter().any(|e| e.kind == "round_opened"));
}

/// A compressed round merges what its payloads decode to: the round's base
/// plus each pseudo-gradient, then the mean, as for full weights; a single
/// contribution becomes exactly base + its decoded delta.
#[test]
fn a_compressed_round_merges_the_decoded_pseudo_gradients() {
    use um_formats::compress::{self, Compression, Encoder};
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with(
        &mut state,
        RoundParams {
            compression: "bf16".into(),
            ..rounds(2)
        },
    );
    assert_eq!(round_compression(&opened).unwrap(), Compression::Bf16);
    let spec = ModelSpec::parse(SPEC).unwrap();
    let base_bytes = records::blob(&state, &opened.base_weights_sha256)
        .unwrap()
        .unwrap();
    let base = Weights::decode(&spec, &base_bytes).unwrap();
    let deltas: Vec<compress::Delta> = [21, 22]
        .iter()
        .map(|seed| {
            compress::delta(&base, &Weights::init(&spec, *seed))
                .unwrap()
                .into_iter()
                .map(|t| t.into_iter().map(|x| x / 8.0).collect())
                .collect()
        })
        .collect();
    let payloads: Vec<Vec<u8>> = deltas
        .iter()
        .map(|d| Encoder::new(Compression::Bf16).encode(d).unwrap())
        .collect();
    let a = contribute_bytes(&mut state, "um1alice", 0, payloads[0].clone(), 2);
    let b = contribute_bytes(&mut state, "um1bob", 1, payloads[1].clone(), 2);
    decide_update(&mut state, a, Decision::Accept, 0.5, 3);
    decide_update(&mut state, b, Decision::Accept, 0.4, 3);
    let params = TrainingParams::default();
    end_block(&mut state, &block(3), &params).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    let candidate = records::update(&state, round.candidate_update_id)
        .unwrap()
        .unwrap();
    let merged = weights_of(&state, &candidate.weights_sha256);
    let decoded: Vec<Vec<f32>> = payloads
        .iter()
        .map(|p| {
            let delta = compress::decode(&spec, Compression::Bf16, p).unwrap();
            compress::apply(&base, &delta)
                .unwrap()
                .tensors
                .into_iter()
                .flat_map(|t| t.data)
                .collect()
        })
        .collect();
    assert_eq!(merged.len(), decoded[0].len());
    for i in 0..merged.len() {
        assert_eq!(
            merged[i],
            (decoded[0][i] + decoded[1][i]) / 2.0,
            "entry {i}"
        );
    }
}

/// Found by `make demo-lm`: in a compressed round of one contribution, a
/// candidate the validators rejected was proposed again, block after
/// block (the check for "the contribution's own weights" compared the
/// candidate with the payload's hash). It closes with no version.
#[test]
fn a_rejected_compressed_candidate_of_one_contribution_closes_the_round() {
    use um_formats::compress::{self, Compression, Encoder};
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with(
        &mut state,
        RoundParams {
            compression: "topk".into(),
            ..rounds(1)
        },
    );
    let spec = ModelSpec::parse(SPEC).unwrap();
    let base = Weights::decode(
        &spec,
        &records::blob(&state, &opened.base_weights_sha256)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let delta = compress::delta(&base, &Weights::init(&spec, 31)).unwrap();
    let payload = Encoder::new(Compression::TopK).encode(&delta).unwrap();
    let a = contribute_bytes(&mut state, "um1alice", 0, payload, 2);
    decide_update(&mut state, a, Decision::Accept, 0.5, 3);
    let params = TrainingParams::default();
    end_block(&mut state, &block(3), &params).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(round.status, RoundStatus::Evaluating as i32);
    let candidate = round.candidate_update_id;

    decide_update(&mut state, candidate, Decision::Reject, 0.9, 4);
    end_block(&mut state, &block(4), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(closed.status, RoundStatus::Closed as i32, "{closed:?}");
    assert_eq!(closed.outcome, OUTCOME_NO_IMPROVEMENT);
    assert_eq!(closed.candidate_update_id, candidate, "no second candidate");
    let next = current(&state, MODEL).unwrap().unwrap();
    assert_eq!((next.number, next.base_version), (2, 0));
}

#[test]
fn a_merge_that_does_not_improve_falls_back_to_the_best_contribution_once() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    lineage_with_rounds(&mut state, 3);
    let params = TrainingParams::default();
    let a = contribute(&mut state, "um1alice", 0, 11, 2);
    let b = contribute(&mut state, "um1bob", 1, 12, 2);
    let c = contribute(&mut state, "um1carol", 2, 13, 2);
    decide_update(&mut state, a, Decision::Accept, 0.5, 3);
    decide_update(&mut state, b, Decision::Accept, 0.2, 3);
    // Carol's is rejected: never merged.
    decide_update(&mut state, c, Decision::Reject, 0.9, 3);
    end_block(&mut state, &block(3), &params).unwrap();
    let first = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    assert_eq!(
        records::update(&state, first)
            .unwrap()
            .unwrap()
            .contributions,
        vec![a, b]
    );

    decide_update(&mut state, first, Decision::Reject, 0.0, 4);
    end_block(&mut state, &block(4), &params).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(round.status, RoundStatus::Evaluating as i32);
    let fallback = records::update(&state, round.candidate_update_id)
        .unwrap()
        .unwrap();
    assert_eq!(fallback.contributions, vec![b], "bob's measured lowest");

    decide_update(&mut state, fallback.id, Decision::Reject, 0.0, 5);
    end_block(&mut state, &block(5), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(
        (closed.outcome.as_str(), closed.version),
        (OUTCOME_NO_IMPROVEMENT, 0)
    );
    for id in [a, b] {
        let contribution = records::update(&state, id).unwrap().unwrap();
        assert_eq!(contribution.status, UpdateStatus::Rejected as i32);
        assert_eq!(contribution.reason, REASON_NOT_MERGED);
    }
    let next = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(
        (next.number, next.base_version),
        (2, 0),
        "the head did not move"
    );
}

/// An outer learning rate past the mean steps even a round of one
/// contribution past it. When that overshoots, the fallback is the
/// contribution's own bytes, not the same step again: a benchmark run at
/// outer lr 3 made no version in 180 s before, every round ending with
/// NO_IMPROVEMENT while each contribution alone improved.
#[test]
fn an_overshooting_outer_step_falls_back_to_the_contributions_own_weights() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with(
        &mut state,
        RoundParams {
            outer_learning_rate: Decimal::percent(300),
            ..rounds(1)
        },
    );
    let params = TrainingParams::default();
    let a = contribute(&mut state, "um1alice", 0, 11, 2);
    decide_update(&mut state, a, Decision::Accept, 0.5, 3);
    end_block(&mut state, &block(3), &params).unwrap();
    let stepped_id = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    let stepped = records::update(&state, stepped_id).unwrap().unwrap();
    let own = records::update(&state, a).unwrap().unwrap().weights_sha256;
    assert_eq!(stepped.contributions, vec![a]);
    let (base, mine, far) = (
        weights_of(&state, &opened.base_weights_sha256),
        weights_of(&state, &own),
        weights_of(&state, &stepped.weights_sha256),
    );
    for i in 0..far.len() {
        assert_eq!(far[i], base[i] + 3.0 * (mine[i] - base[i]));
    }

    decide_update(&mut state, stepped_id, Decision::Reject, 0.0, 4);
    end_block(&mut state, &block(4), &params).unwrap();
    let fallback_id = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    assert_ne!(fallback_id, stepped_id, "a second candidate");
    let fallback = records::update(&state, fallback_id).unwrap().unwrap();
    assert_eq!(fallback.contributions, vec![a]);
    assert_eq!(fallback.weights_sha256, own, "the contribution itself");

    decide_update(&mut state, fallback_id, Decision::Accept, 0.5, 5);
    end_block(&mut state, &block(5), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(closed.version, 1);
    assert_eq!(
        records::version(&state, MODEL, 1)
            .unwrap()
            .unwrap()
            .weights_sha256,
        own
    );
}

#[test]
fn the_best_contribution_becomes_the_version_when_the_merge_fails() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    lineage_with_rounds(&mut state, 2);
    let params = TrainingParams::default();
    let a = contribute(&mut state, "um1alice", 0, 11, 2);
    let b = contribute(&mut state, "um1bob", 1, 12, 2);
    decide_update(&mut state, a, Decision::Accept, 0.3, 3);
    decide_update(&mut state, b, Decision::Accept, 0.6, 3);
    end_block(&mut state, &block(3), &params).unwrap();
    let merge = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    decide_update(&mut state, merge, Decision::Reject, 0.0, 4);
    end_block(&mut state, &block(4), &params).unwrap();
    let fallback = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    decide_update(&mut state, fallback, Decision::Accept, 0.3, 5);
    end_block(&mut state, &block(5), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(
        (closed.outcome.as_str(), closed.version),
        (OUTCOME_BEST_CONTRIBUTION, 1)
    );
    let version = records::version(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(
        (version.update_ids.clone(), version.trainer.as_str()),
        (vec![a], "um1alice")
    );
    assert_eq!(
        records::update(&state, a).unwrap().unwrap().status,
        UpdateStatus::Accepted as i32
    );
    assert_eq!(
        records::update(&state, b).unwrap().unwrap().reason,
        REASON_NOT_MERGED
    );
}

#[test]
fn a_round_closes_at_its_deadline_with_what_it_has_and_never_empty() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with_rounds(&mut state, 4);
    assert_eq!(
        opened.closes_height, 0,
        "no deadline before the first contribution"
    );
    let params = TrainingParams::default();
    // Long after it opened, with nothing: it stays open for the first comer.
    end_block(&mut state, &block(50), &params).unwrap();
    assert_eq!(current(&state, MODEL).unwrap().unwrap().number, 1);
    let a = contribute(&mut state, "um1alice", 2, 11, 60);
    assert_eq!(current(&state, MODEL).unwrap().unwrap().closes_height, 65);
    decide_update(&mut state, a, Decision::Accept, 0.3, 61);
    end_block(&mut state, &block(65), &params).unwrap();
    assert_eq!(
        current(&state, MODEL).unwrap().unwrap().status,
        RoundStatus::Open as i32,
        "others may still join until height 65"
    );
    end_block(&mut state, &block(66), &params).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(round.status, RoundStatus::Evaluating as i32);
    let candidate = records::update(&state, round.candidate_update_id)
        .unwrap()
        .unwrap();
    let contribution = records::update(&state, a).unwrap().unwrap();
    // One contribution at an outer learning rate of 1 merges to itself.
    assert_eq!(candidate.weights_sha256, contribution.weights_sha256);
}

#[test]
fn contributions_are_refused_off_round_on_taken_shards_and_twice_per_trainer() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let round = lineage_with_rounds(&mut state, 2);
    let refused = |state: &StateView, msg_round: u64, shard: u32, trainer: &str, height: u64| {
        let round = current(state, MODEL).unwrap().unwrap();
        check_contribution(state, &round, msg_round, shard, trainer, height)
            .unwrap_err()
            .log
    };
    assert!(refused(&state, 2, 0, "um1alice", 2).contains("round 2, but digits is in round 1"));
    assert!(refused(&state, 1, 2, "um1alice", 2).contains("shard 2 of a round of 2 shards"));
    assert!(round.closes_height == 0);
    contribute(&mut state, "um1alice", 0, 11, 2);
    assert!(refused(&state, 1, 1, "um1bob", 2 + 5 + 1).contains("takes no more"));
    assert!(refused(&state, 1, 0, "um1bob", 2).contains("shard 0 of round 1 is taken"));
    assert!(refused(&state, 1, 1, "um1alice", 2).contains("already contributed"));
    contribute(&mut state, "um1bob", 1, 12, 2);
    assert!(refused(&state, 1, 1, "um1carol", 2).contains("is full"));
}

#[test]
fn round_params_are_bounded() {
    for bad in [
        RoundParams {
            max_contributions: 0,
            ..rounds(1)
        },
        RoundParams {
            max_contributions: MAX_CONTRIBUTIONS + 1,
            ..rounds(1)
        },
        RoundParams {
            round_blocks: 0,
            ..rounds(1)
        },
        RoundParams {
            outer_learning_rate: Decimal::zero(),
            ..rounds(1)
        },
        RoundParams {
            outer_learning_rate: Decimal::percent(1601),
            ..rounds(1)
        },
    ] {
        assert_eq!(
            bad.validate().unwrap_err().code,
            Code::InvalidRequest,
            "{bad:?}"
        );
    }
    assert!(rounds(MAX_CONTRIBUTIONS).validate().is_ok());
    let past_the_mean = RoundParams {
        outer_learning_rate: Decimal::percent(250),
        ..rounds(4)
    };
    assert!(past_the_mean.validate().is_ok());
}

#[test]
fn the_dao_starts_and_ends_rounds_and_a_round_in_progress_finishes() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    create_lineage(
        &mut state,
        1,
        &NewLineage {
            model_id: MODEL,
            spec: SPEC,
            hyperparams: &hyperparams(),
            dataset_id: "mnist",
            init_seed: 7,
            rounds: None,
        },
    )
    .unwrap();
    assert!(current(&state, MODEL).unwrap().is_none());
    crate::training::set_round_params(&mut state, 2, MODEL, Some(rounds(1))).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!((round.number, round.opened_height), (1, 2));
    let bad = RoundParams {
        max_contributions: 0,
        ..rounds(1)
    };
    assert!(crate::training::set_round_params(&mut state, 3, MODEL, Some(bad)).is_err());

    let a = contribute(&mut state, "um1alice", 0, 11, 3);
    crate::training::set_round_params(&mut state, 3, MODEL, None).unwrap();
    let params = TrainingParams::default();
    decide_update(&mut state, a, Decision::Accept, 0.3, 4);
    end_block(&mut state, &block(4), &params).unwrap();
    let candidate = current(&state, MODEL).unwrap().unwrap().candidate_update_id;
    decide_update(&mut state, candidate, Decision::Accept, 0.2, 5);
    end_block(&mut state, &block(5), &params).unwrap();
    let last = current(&state, MODEL).unwrap().unwrap();
    assert_eq!((last.number, last.outcome.as_str()), (1, OUTCOME_MERGED));
    end_block(&mut state, &block(6), &params).unwrap();
    assert_eq!(
        current(&state, MODEL).unwrap().unwrap().number,
        1,
        "no next round"
    );
}

/// Issue 16, disputes: a validator whose sample found a segment that
/// re-executes to other weights opens a dispute; the verdicts recorded so
/// far (which may not have looked at it) are dropped, and from then on
/// only verdicts that re-executed the disputed segment count.
#[test]
fn a_failed_segment_opens_a_dispute_only_verdicts_on_that_segment_count() {
    use prost::Message;
    use um_proto::um::abci::v1::{
        BlockIdFlag, ExtendedVote, InjectedVerdicts, VerdictEntry, VoteExtension,
    };
    use um_proto::um::training::v1::VerdictReason;

    let store = Store::temporary().unwrap();
    let mut state = store.view();
    lineage_with_rounds(&mut state, 2);
    let id = contribute(&mut state, "um1alice", 0, 11, 2);
    let mut update = records::update(&state, id).unwrap().unwrap();
    update.checkpoint_hashes = vec![vec![1; 32], vec![2; 32], vec![3; 32]];
    records::save_update(&mut state, &update);

    let vote = |validator: u8, entry: VerdictEntry| ExtendedVote {
        validator_address: vec![validator; 20],
        power: 10,
        extension: VoteExtension {
            verdicts: vec![entry],
        }
        .encode_to_vec(),
        block_id_flag: BlockIdFlag::Commit as i32,
        ..Default::default()
    };
    let accept = |segments: Vec<u32>| VerdictEntry {
        update_id: id,
        accept: true,
        reason: VerdictReason::Ok as i32,
        segments_checked: segments,
        ..VerdictEntry::default()
    };
    let mismatch = VerdictEntry {
        update_id: id,
        accept: false,
        reason: VerdictReason::WeightsMismatch as i32,
        segments_checked: vec![0, 2],
        failed_segment: Some(2),
        ..VerdictEntry::default()
    };
    let inject = |votes: Vec<ExtendedVote>| InjectedVerdicts {
        height: 3,
        votes,
        ..Default::default()
    };

    // Validator 1 accepts on its sample; validator 2 finds segment 2 wrong.
    decide::record_verdicts(&mut state, &inject(vec![vote(1, accept(vec![0, 1]))])).unwrap();
    assert_eq!(records::verdicts(&state, id).unwrap().len(), 1);
    let events =
        decide::record_verdicts(&mut state, &inject(vec![vote(2, mismatch.clone())])).unwrap();
    assert!(events.iter().any(|e| e.kind == "segment_disputed"));
    let disputed = records::update(&state, id).unwrap().unwrap();
    assert_eq!(disputed.disputed_segment, Some(2));
    let verdicts = records::verdicts(&state, id).unwrap();
    assert_eq!(
        verdicts.len(),
        1,
        "validator 1's verdict did not look at segment 2"
    );
    assert_eq!(verdicts[0].failed_segment, Some(2));

    // Validator 1 repeats its old verdict: it does not speak to the
    // dispute. Once it re-executed segment 2, it counts.
    decide::record_verdicts(&mut state, &inject(vec![vote(1, accept(vec![0, 1]))])).unwrap();
    assert_eq!(records::verdicts(&state, id).unwrap().len(), 1);
    decide::record_verdicts(&mut state, &inject(vec![vote(1, accept(vec![0, 1, 2]))])).unwrap();
    assert_eq!(records::verdicts(&state, id).unwrap().len(), 2);
    // A second failure elsewhere opens no second dispute.
    let other = VerdictEntry {
        segments_checked: vec![1, 2],
        failed_segment: Some(1),
        ..mismatch
    };
    decide::record_verdicts(&mut state, &inject(vec![vote(3, other)])).unwrap();
    assert_eq!(
        records::update(&state, id)
            .unwrap()
            .unwrap()
            .disputed_segment,
        Some(2)
    );
}

/// Claims keep two trainers off one shard before either trains it: a
/// claimed shard takes only its claimant's contribution, a trainer holds
/// one claim or contribution per round, and the first claim starts the
/// deadline, so a round whose claims are never delivered still closes and
/// the next opens.
#[test]
fn a_claimed_shard_takes_only_its_claimants_contribution() {
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    let opened = lineage_with_rounds(&mut state, 3);
    let params = TrainingParams::default();
    let number = opened.number;
    let claim = |state: &mut StateView, trainer: &str, shard: u32, height: u64| {
        let mut round = current(state, MODEL).unwrap().unwrap();
        check_claim(state, &round, number, shard, trainer, height)?;
        add_claim(state, &mut round, shard, trainer, height);
        Ok::<_, TxError>(())
    };
    let log = |result: Result<(), TxError>| result.unwrap_err().log;

    claim(&mut state, "um1alice", 1, 2).unwrap();
    let round = current(&state, MODEL).unwrap().unwrap();
    assert_eq!(
        round.closes_height,
        2 + 5,
        "the first claim starts the deadline"
    );
    assert!(log(claim(&mut state, "um1bob", 1, 2)).contains("shard 1 of round 1 is taken"));
    assert!(log(claim(&mut state, "um1alice", 2, 2)).contains("already claimed shard 1"));
    assert!(log(claim(&mut state, "um1bob", 3, 2)).contains("shard 3 of a round of 3"));
    let stale = current(&state, MODEL).unwrap().unwrap();
    assert!(check_claim(&state, &stale, number + 1, 0, "um1bob", 2)
        .unwrap_err()
        .log
        .contains("claim on round 2"));

    let round = current(&state, MODEL).unwrap().unwrap();
    let refused = |shard: u32, trainer: &str| {
        check_contribution(&state, &round, number, shard, trainer, 3)
            .unwrap_err()
            .log
    };
    assert!(refused(1, "um1bob").contains("is claimed by um1alice"));
    assert!(refused(0, "um1alice").contains("claimed shard 1 of round 1, not shard 0"));
    // Claiming is optional: bob contributes to a free shard unclaimed, and
    // a contributed shard is no longer claimable.
    contribute(&mut state, "um1bob", 0, 12, 3);
    assert!(log(claim(&mut state, "um1carol", 0, 3)).contains("is taken"));
    assert!(log(claim(&mut state, "um1bob", 2, 3)).contains("already contributed"));
    let a = contribute(&mut state, "um1alice", 1, 11, 3);
    assert_eq!(records::update(&state, a).unwrap().unwrap().shard, 1);

    // A round holding only claims closes at its deadline, and the next
    // round starts with none.
    let store = Store::temporary().unwrap();
    let mut state = store.view();
    lineage_with_rounds(&mut state, 2);
    claim(&mut state, "um1alice", 0, 2).unwrap();
    end_block(&mut state, &block(7), &params).unwrap();
    assert_eq!(
        current(&state, MODEL).unwrap().unwrap().number,
        1,
        "not yet"
    );
    end_block(&mut state, &block(8), &params).unwrap();
    let closed = load(&state, MODEL, 1).unwrap().unwrap();
    assert_eq!(closed.outcome, OUTCOME_NO_CONTRIBUTIONS);
    let next = current(&state, MODEL).unwrap().unwrap();
    assert_eq!((next.number, next.claims.len()), (2, 0));
}
