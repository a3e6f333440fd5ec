//! Issue 7, item 6: criterion micro-benchmarks of umd's hot paths.
//!
//! * `tx/decode_and_signature`: decode a signed cw20 transfer and run the
//!   ante checks of FinalizeBlock (chain id, secp256k1 signature, sequence);
//! * `finalize_block/cw20_transfer_x1` and `.../x1000`: FinalizeBlock with
//!   1 and with 1,000 signed cw20 NRN transfers through the wasm VM (the real
//!   nrn-token contract of artifacts/), and an empty block for reference;
//! * `vote_extensions/check_injected/4` and `/100`: the check every
//!   validator runs on the verdict tx in ProcessProposal (one ed25519
//!   signature and a form check per validator).
//!
//! FinalizeBlock runs against the committed state and keeps its result in
//! memory until Commit, so calling it again for the same height re-executes
//! the same block from the same state: every iteration does the same work.
//!
//! `cargo bench -p um-app --bench hot_paths` (release); `make bench` runs it.

#[path = "chain_fixture.rs"]
mod chain_fixture;

use std::time::Duration;

use chain_fixture::{Chain, CHAIN};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ed25519_consensus::SigningKey as EdKey;
use prost::Message;
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;
use um_app::auth::ante::{authenticate, decode, forget_verified_signatures, Mode};
use um_app::auth::AuthParams;
use um_app::context::GasMeter;
use um_app::gov::validators::{record_set_from, PowerMap};
use um_app::store::Store;
use um_app::training::extension::{build_injected, check_injected, consensus_address};
use um_client::tx_builder::{sign_tx, SignerData, TxOptions};
use um_proto::um::abci::v1::{BlockIdFlag, CanonicalVoteExtension, VerdictEntry, VoteExtension};
use um_proto::um::training::v1::VerdictReason;

fn bench_tx(c: &mut Criterion) {
    let chain = Chain::new();
    // A store of its own with nothing in it: the signer is a new account,
    // which signs with account number 0 and sequence 0; loading, creating
    // and verifying is the same work as for an existing account.
    let msg = chain.transfer_msg();
    let signer = SignerData {
        chain_id: CHAIN.into(),
        account_number: 0,
        sequence: 0,
    };
    let options = TxOptions {
        gas_limit: 400_000,
        ..TxOptions::default()
    };
    let tx = sign_tx(&chain.key, vec![msg], &signer, &options).expect("signed");
    let store = Store::temporary().expect("store");
    let params = AuthParams::default();
    let check = |mut state| {
        let decoded = decode(&tx, &params, Mode::Deliver)?;
        let mut gas = GasMeter::new(400_000);
        authenticate(
            &mut state,
            &decoded,
            CHAIN,
            &params,
            &mut gas,
            Mode::Deliver,
        )
    };
    check(store.view()).expect("the tx passes the ante checks");
    c.bench_function("tx/decode_and_signature", |b| {
        // Nothing remembered: every iteration verifies the signature in full.
        let fresh = || {
            forget_verified_signatures();
            store.view()
        };
        b.iter_batched(fresh, check, BatchSize::PerIteration)
    });
}

/// FinalizeBlock of `txs` at `height`, every tx expected to succeed. Not
/// inlined, so a profiler can collect exactly this
/// (`valgrind --tool=callgrind --toggle-collect='*measured_finalize*'`).
#[inline(never)]
fn measured_finalize(chain: &Chain, height: i64, txs: &[Vec<u8>]) -> pb::ResponseFinalizeBlock {
    chain.finalize(height, txs)
}

/// The block must be what the benchmark claims: every transfer succeeds.
fn assert_all_ok(chain: &Chain, height: i64, txs: &[Vec<u8>]) {
    let response = chain.finalize(height, txs);
    let failed = response.tx_results.iter().find(|r| r.code != 0);
    assert!(failed.is_none(), "{failed:?}");
}

fn bench_finalize(c: &mut Criterion) {
    let chain = Chain::new();
    let height = chain.height + 1;
    let one = chain.transfers(1);
    let thousand = chain.transfers(1000);
    let mut group = c.benchmark_group("finalize_block");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("empty", |b| {
        b.iter(|| measured_finalize(&chain, height, &[]))
    });
    // Criterion calls each routine once per sample: check the block once.
    let mut checked = false;
    // Without CheckTx first: signatures verified in full every time, as on
    // a node that never saw the txs (nothing remembered between iterations).
    group.bench_function("cw20_transfer_x1", |b| {
        if !std::mem::replace(&mut checked, true) {
            assert_all_ok(&chain, height, &one);
        }
        b.iter_batched(
            forget_verified_signatures,
            |()| measured_finalize(&chain, height, &one),
            BatchSize::PerIteration,
        )
    });
    group.measurement_time(Duration::from_secs(20));
    let mut checked = false;
    group.bench_function("cw20_transfer_x1000", |b| {
        if !std::mem::replace(&mut checked, true) {
            assert_all_ok(&chain, height, &thousand);
        }
        b.iter_batched(
            forget_verified_signatures,
            |()| measured_finalize(&chain, height, &thousand),
            BatchSize::PerIteration,
        )
    });
    // The same blocks after CheckTx let their txs into this node's mempool,
    // which is how a validator meets them on a chain. The mempool view keeps
    // the sequences it has seen until a commit, so each tx is checked once:
    // `one` is the first of `thousand` (same signer, sequence and bytes).
    assert_eq!(one[0], thousand[0]);
    let checked_upto = std::cell::Cell::new(0);
    let check_upto = |n: usize| {
        for tx in &thousand[checked_upto.get().min(n)..n] {
            let response = chain.app.check_tx(pb::RequestCheckTx {
                tx: tx.clone().into(),
                r#type: pb::CheckTxType::New as i32,
            });
            assert_eq!(response.code, 0, "{}", response.log);
        }
        checked_upto.set(checked_upto.get().max(n));
    };
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("cw20_transfer_x1_after_check_tx", |b| {
        check_upto(1);
        b.iter(|| measured_finalize(&chain, height, &one))
    });
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("cw20_transfer_x1000_after_check_tx", |b| {
        check_upto(1000);
        b.iter(|| measured_finalize(&chain, height, &thousand))
    });
    group.finish();
}

/// The verdict tx for an extended commit of `n` equal validators, every one
/// signing an extension with one verdict.
fn injected(n: usize) -> (Store, um_proto::um::abci::v1::InjectedVerdicts) {
    let height = 7;
    let keys: Vec<EdKey> = (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            EdKey::from(seed)
        })
        .collect();
    let extension = VoteExtension {
        verdicts: vec![VerdictEntry {
            update_id: 1,
            accept: true,
            reason: VerdictReason::Ok as i32,
            measured_validation_loss: 0.5,
            relative_distance: 0.0,
            measured_validation_accuracy: 0.9,
            detail: String::new(),
            ..VerdictEntry::default()
        }],
    }
    .encode_to_vec();
    let mut votes: Vec<pb::ExtendedVoteInfo> = keys
        .iter()
        .map(|key| {
            let pubkey = key.verification_key().to_bytes();
            let sign_bytes = CanonicalVoteExtension {
                extension: extension.clone(),
                height,
                round: 0,
                chain_id: CHAIN.into(),
            }
            .sign_bytes();
            pb::ExtendedVoteInfo {
                validator: Some(pb::Validator {
                    address: consensus_address(&pubkey).into(),
                    power: 10,
                }),
                vote_extension: extension.clone().into(),
                extension_signature: key.sign(&sign_bytes).to_bytes().to_vec().into(),
                block_id_flag: BlockIdFlag::Commit as i32,
            }
        })
        .collect();
    // CometBFT's order: power descending, then address.
    votes.sort_by(|a, b| {
        let (a, b) = (
            a.validator.clone().unwrap_or_default(),
            b.validator.clone().unwrap_or_default(),
        );
        b.power.cmp(&a.power).then(a.address.cmp(&b.address))
    });
    let store = Store::temporary().expect("store");
    let mut state = store.view();
    let set: PowerMap = keys
        .iter()
        .map(|k| (k.verification_key().to_bytes().to_vec(), 10))
        .collect();
    record_set_from(&mut state, 1, &set);
    store
        .commit(&state.pending_changes(), &[], &Default::default())
        .expect("set recorded");
    let injected = build_injected(height, &pb::ExtendedCommitInfo { round: 0, votes });
    (store, injected)
}

fn bench_vote_extensions(c: &mut Criterion) {
    let mut group = c.benchmark_group("vote_extensions/check_injected");
    for n in [4, 100] {
        let (store, injected) = injected(n);
        let state = store.view();
        check_injected(&state, CHAIN, &injected, 7).expect("a genuine extended commit passes");
        group.bench_function(n.to_string(), |b| {
            b.iter(|| check_injected(&state, CHAIN, &injected, 7))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_tx, bench_finalize, bench_vote_extensions);
criterion_main!(benches);
