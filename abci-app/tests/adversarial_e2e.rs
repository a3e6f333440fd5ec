//! Hostile parties against a real chain (CometBFT + umd + `um-trainer
//! serve` on loopback), the short versions of the reliability scenarios 4
//! and 6 (`make reliability` runs the long ones).
//!
//! Byzantine trainers: weights of the wrong shapes (slashed), an oversized
//! update, an update without stake, copies of another trainer's update
//! (verified against the copier's own batch: never accepted, slashed when
//! its verdicts come first; the original accepted even when front-run) and
//! a mempool flood; the honest trainer keeps its stake and its updates land. Tampered, other-batch and NaN
//! weights, stale bases and replays of accepted weights are in
//! training_e2e.rs.
//!
//! Hostile contracts: an endless loop, unbounded memory growth, deep
//! recursion, huge storage writes, huge events and a contract calling
//! itself end in out-of-gas or a clear error, and the chain goes on.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use support::training::*;
use support::*;
use um_client::codes::Code;
use um_client::keys::Key;
use um_client::rpc::{RpcClient, TxResult};
use um_client::tx_builder::{self, TxOptions};
use um_formats::{ModelSpec, Weights};
use um_governance::staking::BondRole;
use um_governance::{DeployConfig, Deployment};
use um_proto::um::training::v1::{MsgSubmitUpdate, UpdateStatus};

const NRN: u128 = 1_000_000;
/// Same input and classes, another hidden width: tensors of other shapes.
const OTHER_SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[16],"classes":10}"#;
const DIGITS: &str = "2000";
/// A safetensors file of `count` one-float tensors that all claim the
/// same bytes.
fn same_offset_weights(count: usize) -> Vec<u8> {
    let entries: Vec<String> = (0..count)
        .map(|i| format!(r#""t{i:02}":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#))
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes
}

/// Txs of the mempool flood: garbage, then validly signed ones; times
/// UM_FLOOD_SCALE (`make reliability` floods harder).
const FLOOD_GARBAGE: usize = 200;
const FLOOD_SIGNED: u64 = 150;

fn flood_scale() -> usize {
    std::env::var("UM_FLOOD_SCALE")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
        .clamp(1, 50)
}

/// NRN a bonded trainer of [`training_chain`] keeps unbonded when it is
/// `underfunded`: enough for the fees of two 10M-gas txs, not for one
/// verification fee (1 NRN).
const UNDERFUNDED: u128 = 600_000;

/// A one-validator chain with its verifier, the MNIST subset, the
/// governance suite and a lineage at version 0; `bonded` trainers have 100
/// NRN staked and 100 NRN more, `underfunded` ones 100 NRN staked and
/// [`UNDERFUNDED`] more, `unbonded` keys only hold 200 NRN. Keys come back
/// in that order; `start_args` go to `umd start`.
fn training_chain(
    bonded: &[&str],
    underfunded: &[&str],
    unbonded: &[&str],
    start_args: &[&str],
) -> (TestNode, Vec<Key>, Deployment, Verifier) {
    let digits = workspace_root().join("data/mnist");
    let dataset = format!("mnist={}", digits.display());
    let mut node = TestNode::init_with(&["--dataset", &dataset, "--dataset-limit", DIGITS]);
    let deployer = node.new_key("deployer");
    let keys: Vec<Key> = bonded
        .iter()
        .chain(underfunded)
        .chain(unbonded)
        .map(|name| node.new_key(name))
        .collect();
    let stakers = bonded.len() + underfunded.len();
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let balance = if (bonded.len()..stakers).contains(&i) {
                100 * NRN + UNDERFUNDED
            } else {
                200 * NRN
            };
            (k.address.clone(), balance)
        })
        .collect();
    config.token_cap = 1_000_000 * NRN;
    let bonds: Vec<_> = keys[..stakers]
        .iter()
        .map(|k| um_governance::genesis::GenesisBond {
            operator: k.address.clone(),
            amount: 100 * NRN,
            role: BondRole::Trainer,
        })
        .collect();
    let mut genesis = node.genesis();
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &deployer.address,
        &bonds,
    )
    .unwrap();
    genesis["app_state"]["training"] = json!({
        "params": {"expiry_blocks": 30},
        "lineages": [{
            "model_id": MODEL,
            "spec": SPEC,
            "hyperparams": {
                "learning_rate": "0.1",
                "batch_size": 32,
                "local_steps": 5,
                "verification_tolerance": "0.001",
                "min_improvement": "0.0001",
                "reward_per_update": NRN.to_string(),
                "reward_halving_interval": 0,
            },
            "dataset_id": "mnist",
            "init_seed": 7,
        }],
    });
    node.set_genesis(&genesis);
    // The verifier reads the dataset from the node: RPC first, then restart
    // the node with the verifier.
    node.start();
    let verifier = Verifier::start(&node);
    node.stop();
    let mut args = vec!["--verifier", verifier.endpoint.as_str()];
    args.extend_from_slice(start_args);
    node.start_with(&args);
    (node, keys, suite, verifier)
}

fn submit_msg(rpc: &RpcClient, key: &Key, nonce: u64, weights: Vec<u8>) -> MsgSubmitUpdate {
    let dataset = current_dataset(rpc);
    MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: MODEL.into(),
        base_version: head(rpc).0,
        dataset_version: dataset.version,
        nonce,
        weights,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: hyperparams_sha256(rpc),
        dataset_root: dataset.root,
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    }
}

fn submit_weights(node: &TestNode, key: &Key, nonce: u64, weights: Vec<u8>) -> TxResult {
    let msg = submit_msg(&node.rpc, key, nonce, weights);
    node.submit(key, vec![any(&msg)], 30_000_000)
}

/// Signs `count` txs of `key` with consecutive sequences from the current
/// one, without waiting for any of them.
fn signed_burst(
    node: &TestNode,
    key: &Key,
    msg: &cosmos_sdk_proto::Any,
    count: u64,
) -> Vec<Vec<u8>> {
    let mut signer = node.signer(key);
    let options = TxOptions {
        gas_limit: 200_000,
        ..TxOptions::default()
    };
    (0..count)
        .map(|_| {
            let tx = tx_builder::sign_tx(key, vec![msg.clone()], &signer, &options).unwrap();
            signer.sequence += 1;
            tx
        })
        .collect()
}

#[test]
fn byzantine_trainers_are_refused_or_slashed_and_the_honest_trainer_lands() {
    let (node, keys, suite, verifier) =
        training_chain(&["alice", "mallory"], &[], &["nobody", "flooder"], &[]);
    let (alice, mallory, nobody, flooder) = (&keys[0], &keys[1], &keys[2], &keys[3]);
    let alice_stake = stake(&node, &suite, &alice.address);
    let mallory_stake = stake(&node, &suite, &mallory.address);
    let alice_balance = node.cw20_balance(&suite.token, &alice.address);
    let mallory_balance = node.cw20_balance(&suite.token, &mallory.address);
    let (_, genesis_weights) = head(&node.rpc);

    // Without stake: refused before anything is stored.
    let honest_for_nobody = train_remotely(&node.rpc, &verifier.endpoint, nobody, 1);
    let result = submit_weights(&node, nobody, 1, honest_for_nobody);
    assert_eq!(result.code, Code::NotPermitted.value(), "{}", result.log);
    assert!(
        result.log.contains("not bonded as a trainer"),
        "{}",
        result.log
    );

    // Wrong shapes: valid safetensors of another model; fraud anyone can
    // see, rejected and slashed in its own block.
    let other = Weights::init(&ModelSpec::parse(OTHER_SPEC).unwrap(), 7).encode();
    let result = submit_weights(&node, mallory, 1, other);
    assert_eq!(result.code, 0, "{}", result.log);
    let shapes = update(&node.rpc, update_id(&result));
    assert_eq!(shapes.status, UpdateStatus::Rejected as i32);
    assert!(
        shapes.reason.contains("SHAPE_MISMATCH"),
        "{}",
        shapes.reason
    );
    assert!(shapes.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), mallory_stake / 2);

    // Forty tensors at the same offsets: the safetensors crate names one
    // of them in its error by the process's hash order. The chain stores
    // the reason's code only, and describes the layout in an order of its
    // own (the replays at the end check that every process agrees).
    let before = stake(&node, &suite, &mallory.address);
    let result = submit_weights(&node, mallory, 5, same_offset_weights(40));
    assert_eq!(result.code, 0, "{}", result.log);
    let malformed = update(&node.rpc, update_id(&result));
    assert_eq!(malformed.status, UpdateStatus::Rejected as i32);
    assert_eq!(malformed.reason, "VERDICT_REASON_MALFORMED_WEIGHTS");
    assert!(malformed.slashed);
    assert_eq!(
        result.event_value("submit_update", "detail"),
        Some("weights are not decodable safetensors: tensor `t01` starts at 0, the previous tensor ends at 4")
    );
    assert_eq!(stake(&node, &suite, &mallory.address), before / 2);

    // Oversized: well past CometBFT's 1 MiB mempool limit; never reaches
    // a block, and the node answers with the reason.
    let mut oversized = genesis_weights.clone();
    oversized.resize(1_500_000, 0);
    let msg = submit_msg(&node.rpc, mallory, 2, oversized);
    let tx = node.sign(mallory, vec![any(&msg)], 30_000_000);
    match node.rpc.broadcast_sync(&tx) {
        Err(err) => assert!(err.to_string().contains("too large"), "{err}"),
        Ok(result) => {
            assert_eq!(result.code, Code::TxTooLarge.value(), "{}", result.log);
        }
    }

    // A copy of alice's update, sent right behind hers: alice's is
    // accepted; the copy is a replay once hers is accepted, and before that
    // a claim of its own, verified with mallory's batch: never accepted.
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 1);
    let tx_alice = node.sign(
        alice,
        vec![any(&submit_msg(&node.rpc, alice, 1, honest.clone()))],
        30_000_000,
    );
    let tx_copy = node.sign(
        mallory,
        vec![any(&submit_msg(&node.rpc, mallory, 3, honest))],
        30_000_000,
    );
    let sent_alice = node.rpc.broadcast_sync(&tx_alice).unwrap();
    let sent_copy = node.rpc.broadcast_sync(&tx_copy).unwrap();
    assert_eq!(sent_alice.code, 0, "{}", sent_alice.log);
    assert_eq!(sent_copy.code, 0, "{}", sent_copy.log);
    let wait = Duration::from_secs(60);
    let landed = node.rpc.wait_for_tx(&sent_alice.hash, wait).unwrap();
    let copied = node.rpc.wait_for_tx(&sent_copy.hash, wait).unwrap();
    assert_eq!(landed.code, 0, "{}", landed.log);
    let decided = wait_decided(&node.rpc, update_id(&landed), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Accepted as i32, "{decided:?}");
    if copied.code == 0 {
        let copy = wait_decided(&node.rpc, update_id(&copied), || node.logs());
        assert_eq!(copy.status, UpdateStatus::Rejected as i32, "{copy:?}");
        // Fraud when its verdicts came first; obsolete (unslashed, never
        // verified) when alice's acceptance moved the head first.
        assert!(
            copy.reason.contains("WEIGHTS_MISMATCH") || copy.reason == "OBSOLETE_BASE",
            "{}",
            copy.reason
        );
    } else {
        assert_eq!(copied.code, Code::InvalidRequest.value(), "{}", copied.log);
        assert!(copied.log.contains("replay"), "{}", copied.log);
    }

    // Front-running: the copy lands first. The verifier re-trains it with
    // the copier's own batch, finds other weights and the copier is
    // slashed; alice's identical bytes, submitted after, are her own claim
    // and accepted.
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 2);
    let before_copy = stake(&node, &suite, &mallory.address);
    let copy = submit_weights(&node, mallory, 4, honest.clone());
    assert_eq!(copy.code, 0, "{}", copy.log);
    let original = submit_weights(&node, alice, 2, honest);
    assert_eq!(original.code, 0, "{}", original.log);
    let decided = wait_decided(&node.rpc, update_id(&copy), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Rejected as i32);
    assert!(
        decided.reason.contains("WEIGHTS_MISMATCH"),
        "{}",
        decided.reason
    );
    assert!(decided.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), before_copy / 2);
    let decided = wait_decided(&node.rpc, update_id(&original), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Accepted as i32, "{decided:?}");

    // Mempool flood: garbage and a burst of validly signed txs, then
    // alice's next update, which must still land.
    let scale = flood_scale();
    for i in 0..FLOOD_GARBAGE * scale {
        let garbage: Vec<u8> = (0..64 + i % 4096).map(|j| (i * 31 + j * 7) as u8).collect();
        let sent = node.rpc.broadcast_sync(&garbage).unwrap();
        assert_ne!(sent.code, 0, "garbage admitted to the mempool");
    }
    let spam = execute_msg(
        &flooder.address,
        &suite.token,
        json!({"transfer": {"recipient": flooder.address, "amount": "1"}}),
    );
    // One tx first, so the flooder's account (and its number) exists.
    let first = node.submit(flooder, vec![spam.clone()], 200_000);
    assert_eq!(first.code, 0, "{}", first.log);
    let burst = signed_burst(&node, flooder, &spam, FLOOD_SIGNED * scale as u64);
    let mut hashes = Vec::new();
    for tx in &burst {
        let sent = node.rpc.broadcast_sync(tx).unwrap();
        assert_eq!(sent.code, 0, "{}", sent.log);
        hashes.push(sent.hash);
    }
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 4);
    let result = submit_weights(&node, alice, 4, honest);
    assert_eq!(result.code, 0, "{}", result.log);
    let decided = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Accepted as i32, "{decided:?}");
    let last = node.rpc.wait_for_tx(hashes.last().unwrap(), wait).unwrap();
    assert!(last.height > 0);

    // The honest trainer: stake untouched, one NRN per accepted update less
    // the validators' 10 % share, less the fee of each of its three
    // submissions (30M gas at 0.025 unrn); its verification fees came back.
    // The cheater earned nothing and paid for every tx it got into a block.
    assert_eq!(stake(&node, &suite, &alice.address), alice_stake);
    let submission_fee = 30_000_000 * 25 / 1000;
    assert_eq!(
        node.cw20_balance(&suite.token, &alice.address) - alice_balance,
        3 * (NRN - NRN / 10) - 3 * submission_fee
    );
    assert!(node.cw20_balance(&suite.token, &mallory.address) < mallory_balance);
    assert_eq!(head(&node.rpc).0, 3);
    let heights = support::replay::assert_replays_agree(&node);
    eprintln!("determinism: two replays agreed with the chain at all {heights} heights");
    eprintln!(
        "flood: {} garbage txs refused by CheckTx, {} signed txs delivered; alice's update {} accepted",
        FLOOD_GARBAGE * scale,
        FLOOD_SIGNED * scale as u64,
        decided.id
    );
}

/// One Prometheus sample of umd's `/metrics` at `rest`.
fn metric(rest: &str, name: &str) -> f64 {
    let text = ureq::get(&format!("http://{rest}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

/// The head's tensors with one value moved by `mark`: shaped like an
/// honest update, bytes of its own.
fn shaped(weights: &[u8], mark: usize) -> Vec<u8> {
    let spec = ModelSpec::parse(SPEC).unwrap();
    let mut decoded = Weights::decode(&spec, weights).unwrap();
    decoded.tensors[0].data[mark] += 0.5;
    decoded.encode()
}

/// Flood txs per key, each declaring this gas: forty of them fill a block
/// (400M gas).
const FLOOD_ROUNDS: usize = 2;
const FLOOD_GAS: u64 = 10_000_000;

/// Issue 15, the verifier flood: forty shaped updates per block, from
/// twenty unbonded keys (with NRN for their fees) and twenty bonded keys
/// that cannot pay the verification fee. Each pays its tx fee and fails
/// delivery, the validator re-trains none of them, and an honest update
/// sent in the middle of the flood, at a higher gas price, is accepted
/// within its expiry.
#[test]
fn a_verifier_flood_from_unbonded_and_underfunded_keys_is_never_retrained() {
    let names =
        |prefix: &str| -> Vec<String> { (0..20).map(|i| format!("{prefix}{i:02}")).collect() };
    let (underfunded, unbonded) = (names("poor"), names("loud"));
    let rest = format!("127.0.0.1:{}", free_port());
    let grpc = format!("127.0.0.1:{}", free_port());
    let (node, keys, suite, verifier) = training_chain(
        &["alice"],
        &underfunded.iter().map(String::as_str).collect::<Vec<_>>(),
        &unbonded.iter().map(String::as_str).collect::<Vec<_>>(),
        &["--api-address", &rest, "--grpc-address", &grpc],
    );
    let (alice, flooders) = (&keys[0], &keys[1..]);
    let verified_before = metric(&rest, "umd_verification_seconds_count");
    let balances_before: Vec<u128> = flooders
        .iter()
        .map(|k| node.cw20_balance(&suite.token, &k.address))
        .collect();
    let (_, head_weights) = head(&node.rpc);

    let flood_options = TxOptions {
        gas_limit: FLOOD_GAS,
        ..TxOptions::default()
    };
    // One tx per flooder and round, all signed first and then sent at once
    // from eight threads, so they share blocks; a round is sent once the one
    // before is in blocks, so each new account signs with its number.
    let send_round = |round: usize| -> Vec<(usize, String)> {
        let txs: Vec<(usize, Vec<u8>)> = flooders
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let mark = round * flooders.len() + i;
                let msg = submit_msg(&node.rpc, key, mark as u64, shaped(&head_weights, mark));
                let signer = node.signer(key);
                let tx = tx_builder::sign_tx(key, vec![any(&msg)], &signer, &flood_options);
                (i, tx.unwrap())
            })
            .collect();
        std::thread::scope(|scope| {
            let senders: Vec<_> = txs
                .chunks(txs.len().div_ceil(8))
                .map(|chunk| {
                    scope.spawn(|| {
                        chunk
                            .iter()
                            .map(|(i, tx)| {
                                let sent = node.rpc.broadcast_sync(tx).unwrap();
                                // Admitted: the fee is paid; what the update
                                // is worth is for delivery to say.
                                assert_eq!(sent.code, 0, "{}: {}", flooders[*i].name, sent.log);
                                (*i, sent.hash)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            senders
                .into_iter()
                .flat_map(|sender| sender.join().unwrap())
                .collect()
        })
    };
    let wait = Duration::from_secs(120);
    // The honest update is trained first, signed against the same head as
    // the flood and sent right behind its last round.
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 1);
    let honest_options = TxOptions {
        gas_limit: 30_000_000,
        gas_price: "0.05unrn".parse().unwrap(),
        ..TxOptions::default()
    };
    let honest_tx = tx_builder::sign_tx(
        alice,
        vec![any(&submit_msg(&node.rpc, alice, 1, honest))],
        &node.signer(alice),
        &honest_options,
    )
    .unwrap();
    let mut flood: Vec<(usize, String)> = Vec::new();
    for round in 0..FLOOD_ROUNDS {
        for (_, hash) in &flood {
            node.rpc.wait_for_tx(hash, wait).unwrap();
        }
        flood.extend(send_round(round));
    }
    let honest_sent = node.rpc.broadcast_sync(&honest_tx).unwrap();
    assert_eq!(honest_sent.code, 0, "{}", honest_sent.log);

    let landed = node.rpc.wait_for_tx(&honest_sent.hash, wait).unwrap();
    assert_eq!(landed.code, 0, "{}", landed.log);
    let decided = wait_decided(&node.rpc, update_id(&landed), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Accepted as i32, "{decided:?}");
    assert!(
        decided.decided_height <= decided.expires_height,
        "{decided:?}"
    );

    let mut per_block = std::collections::BTreeMap::<u64, usize>::new();
    for (i, hash) in &flood {
        let result = node.rpc.wait_for_tx(hash, wait).unwrap();
        *per_block.entry(result.height).or_default() += 1;
        let key = &flooders[*i];
        if key.name.starts_with("poor") {
            assert_eq!(
                result.code,
                Code::InsufficientFunds.value(),
                "{}: {}",
                key.name,
                result.log
            );
            assert!(
                result.log.contains("cannot pay the verification fee"),
                "{}",
                result.log
            );
        } else {
            assert_eq!(
                result.code,
                Code::NotPermitted.value(),
                "{}: {}",
                key.name,
                result.log
            );
            assert!(
                result.log.contains("not bonded as a trainer"),
                "{}",
                result.log
            );
        }
        assert_eq!(
            fee_of(&result),
            FLOOD_GAS as u128 * 25 / 1000,
            "{}",
            key.name
        );
    }
    // Every flooder paid for each of its txs, and nothing else.
    for (key, before) in flooders.iter().zip(&balances_before) {
        let paid = FLOOD_ROUNDS as u128 * FLOOD_GAS as u128 * 25 / 1000;
        assert_eq!(
            node.cw20_balance(&suite.token, &key.address),
            before - paid,
            "{}",
            key.name
        );
    }
    // The one re-training the validator did is the honest update's.
    let verified = metric(&rest, "umd_verification_seconds_count") - verified_before;
    assert_eq!(
        verified,
        1.0,
        "re-trainings during the flood\n{}",
        node.logs()
    );
    eprintln!(
        "verifier flood: {} shaped updates from {} unbonded and {} underfunded keys in blocks {:?} (height: txs); 1 re-training (the honest update {}, accepted at height {})",
        flood.len(),
        unbonded.len(),
        underfunded.len(),
        per_block,
        decided.id,
        decided.decided_height
    );
}

/// Milliseconds of the day of an RFC 3339 UTC time ("…T12:34:56.789Z"),
/// enough to subtract the times of consecutive blocks.
fn rfc3339_millis(time: &str) -> i64 {
    let clock = time.split('T').nth(1).unwrap_or("").trim_end_matches('Z');
    let mut parts = clock.split(':');
    let hours: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minutes: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let seconds: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
    (hours * 3600 + minutes * 60) * 1000 + (seconds * 1000.0) as i64
}

/// The OK answer of a contract call with nothing in it.
const EMPTY_RESPONSE: &str = r#"{"ok":{"messages":[],"attributes":[],"events":[],"data":null}}"#;

/// A minimal CosmWasm contract in WAT: `instantiate` answers
/// [`EMPTY_RESPONSE`], `execute` runs `body` (a function of the message
/// region `$msg` returning a result region). Helpers: `$static` makes a
/// region of bytes in memory, `$db_write`/`$db_read` reach storage; "last"
/// lies at 16, the empty response at 64.
fn contract(body: &str, extra: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
  (import "env" "db_write" (func $db_write (param i32 i32)))
  (import "env" "db_read" (func $db_read (param i32) (result i32)))
  (import "env" "db_scan" (func $db_scan (param i32 i32 i32) (result i32)))
  (import "env" "db_next" (func $db_next (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "last")
  (data (i32.const 64) "{empty}")
  (func (export "interface_version_8"))
  (func $allocate (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    (global.set $heap
      (i32.and
        (i32.add (i32.add (i32.add (local.get $region) (i32.const 12)) (local.get $size))
                 (i32.const 7))
        (i32.const -8)))
    (block $enough
      (loop $grow
        (br_if $enough (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $grow)))
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 12)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (local.get $region))
  (func (export "deallocate") (param i32))
  (func $static (param $ptr i32) (param $len i32) (result i32)
    (local $region i32)
    (local.set $region (call $allocate (i32.const 0)))
    (i32.store (local.get $region) (local.get $ptr))
    (i32.store offset=4 (local.get $region) (local.get $len))
    (i32.store offset=8 (local.get $region) (local.get $len))
    (local.get $region))
  (func $empty (result i32) (call $static (i32.const 64) (i32.const {empty_len})))
  (func (export "instantiate") (param i32 i32 i32) (result i32) (call $empty))
  {extra}
  (func (export "execute") (param i32) (param i32) (param $msg i32) (result i32)
    {body}))"#,
        empty = EMPTY_RESPONSE.replace('"', "\\\""),
        empty_len = EMPTY_RESPONSE.len(),
    );
    wat::parse_str(wat).expect("contract assembles")
}

/// Every file under `dir` with its size: what a "wrote nothing" check
/// compares.
fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(entry.path().display().to_string(), meta.len());
            }
        }
    }
    files
}

/// Txs each censor queues, declaring the chain's max_tx_gas each.
const CENSOR_TXS: u64 = 4;
const CENSOR_GAS: u64 = 100_000_000;

/// Issue 15, three attacks on one chain (fees on, code upload allowed to
/// one account): code spam is refused to others and paid for; the same code
/// uploaded again does not store or pay for its bytes again; txs that
/// declare the whole block's gas cost their senders that gas, and an honest
/// tx at a higher price lands ahead of them; a query flood from 32 clients
/// (simulated uploads of new code, smart and list queries) writes nothing
/// to the VM cache while blocks go on.
#[test]
fn code_spam_censorship_and_query_floods_cost_their_senders_and_harm_nothing() {
    let mut node = TestNode::init();
    let deployer = node.new_key("deployer");
    let (uploader, spammer, honest) = (
        node.new_key("uploader"),
        node.new_key("spammer"),
        node.new_key("honest"),
    );
    let censors: Vec<Key> = (0..4)
        .map(|i| node.new_key(&format!("censor{i}")))
        .collect();
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = [&uploader, &spammer, &honest]
        .into_iter()
        .chain(&censors)
        .map(|k| (k.address.clone(), 20 * NRN))
        .collect();
    config.token_cap = 1_000_000 * NRN;
    let mut genesis = node.genesis();
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &deployer.address,
        &[],
    )
    .unwrap();
    genesis["app_state"]["wasm"]["params"]["code_upload_access"] =
        json!({"any_of": {"addresses": [uploader.address]}});
    node.set_genesis(&genesis);
    let rest = format!("127.0.0.1:{}", free_port());
    let grpc = format!("127.0.0.1:{}", free_port());
    node.start_with(&["--api-address", &rest, "--grpc-address", &grpc]);
    let price = |gas: u64| gas as u128 * 25 / 1000;

    // Code spam: refused by permission, its fee paid all the same.
    let store = |key: &Key, wasm: Vec<u8>| {
        let msg = cosmos_sdk_proto::cosmwasm::wasm::v1::MsgStoreCode {
            sender: key.address.clone(),
            wasm_byte_code: wasm,
            instantiate_permission: None,
        };
        node.submit(key, vec![any(&msg)], 5_000_000)
    };
    let spam = contract("unreachable", "(func $spam)");
    let before = node.cw20_balance(&suite.token, &spammer.address);
    let refused = store(&spammer, spam);
    assert_eq!(refused.code, Code::NotPermitted.value(), "{}", refused.log);
    assert!(
        refused.log.contains("may not upload code"),
        "{}",
        refused.log
    );
    assert_eq!(fee_of(&refused), price(5_000_000));
    assert_eq!(
        node.cw20_balance(&suite.token, &spammer.address),
        before - price(5_000_000)
    );

    // The same bytes twice: a second code id, but the bytes are stored and
    // paid for (30 gas per byte, and their compilation) once.
    let code = contract("unreachable", "(func $twice)");
    let first = store(&uploader, code.clone());
    let again = store(&uploader, code.clone());
    assert_eq!(
        (first.code, again.code),
        (0, 0),
        "{} {}",
        first.log,
        again.log
    );
    assert_ne!(
        first.event_value("store_code", "code_id"),
        again.event_value("store_code", "code_id")
    );
    assert_eq!(
        first.event_value("store_code", "code_checksum"),
        again.event_value("store_code", "code_checksum")
    );
    assert!(
        first.gas_used - again.gas_used >= 30 * code.len() as u64,
        "first upload {} gas, again {} gas, {} bytes",
        first.gas_used,
        again.gas_used,
        code.len()
    );

    // Declared-gas censorship: four censors queue txs declaring 100M gas
    // each (a quarter of the block, the most one sender may take); an
    // honest transfer at twice the price, sent after all of them, lands
    // ahead of most.
    let transfer = |from: &Key| {
        execute_msg(
            &from.address,
            &suite.token,
            json!({"transfer": {"recipient": from.address, "amount": "1"}}),
        )
    };
    for censor in &censors {
        // A first tx, so the censor's account (and its number) exists.
        assert_eq!(node.submit(censor, vec![transfer(censor)], 200_000).code, 0);
    }
    let censor_before: Vec<u128> = censors
        .iter()
        .map(|c| node.cw20_balance(&suite.token, &c.address))
        .collect();
    let censor_options = TxOptions {
        gas_limit: CENSOR_GAS,
        ..TxOptions::default()
    };
    // The mempool holds two blocks' worth of declared gas (issue 17): the
    // censors' txs beyond it are refused at once, which bounds how far
    // ahead they can queue.
    let mut censor_hashes = Vec::new();
    let mut censor_admitted = Vec::new();
    let mut refused = 0;
    for censor in &censors {
        let mut signer = node.signer(censor);
        let mut admitted = 0u128;
        for _ in 0..CENSOR_TXS {
            let tx = tx_builder::sign_tx(censor, vec![transfer(censor)], &signer, &censor_options)
                .unwrap();
            let sent = node.rpc.broadcast_sync(&tx).unwrap();
            if sent.code == Code::MempoolFull.value() {
                assert!(sent.log.contains("mempool full"), "{}", sent.log);
                refused += 1;
                break;
            }
            assert_eq!(sent.code, 0, "{}", sent.log);
            signer.sequence += 1;
            admitted += 1;
            censor_hashes.push(sent.hash);
        }
        censor_admitted.push(admitted);
    }
    assert!(censor_hashes.len() >= 4, "{censor_hashes:?}");
    let honest_options = TxOptions {
        gas_limit: 200_000,
        gas_price: "0.05unrn".parse().unwrap(),
        ..TxOptions::default()
    };
    let tx = tx_builder::sign_tx(
        &honest,
        vec![transfer(&honest)],
        &node.signer(&honest),
        &honest_options,
    )
    .unwrap();
    let sent = node.rpc.broadcast_sync(&tx).unwrap();
    assert_eq!(sent.code, 0, "{}", sent.log);
    let wait = Duration::from_secs(120);
    let honest_landed = node.rpc.wait_for_tx(&sent.hash, wait).unwrap();
    assert_eq!(honest_landed.code, 0, "{}", honest_landed.log);
    let censor_heights: Vec<u64> = censor_hashes
        .iter()
        .map(|hash| node.rpc.wait_for_tx(hash, wait).unwrap().height)
        .collect();
    let last_censor = censor_heights.iter().max().copied().unwrap_or(0);
    // First in, first out would put it after every censor tx.
    assert!(
        honest_landed.height < last_censor,
        "honest tx at {}, censor txs at {censor_heights:?}",
        honest_landed.height
    );
    for ((censor, before), admitted) in censors.iter().zip(&censor_before).zip(&censor_admitted) {
        assert_eq!(
            node.cw20_balance(&suite.token, &censor.address),
            before - admitted * price(CENSOR_GAS),
            "{} paid for the gas it declared",
            censor.name
        );
    }
    eprintln!(
        "censorship: {} txs of {CENSOR_GAS} gas from {} censors at heights {censor_heights:?} ({refused} censors refused by the full mempool), {} unrn each; the honest tx at height {}",
        censor_hashes.len(),
        censors.len(),
        price(CENSOR_GAS),
        honest_landed.height
    );

    // A query flood: nothing reaches the disk.
    let cache = node.home.join("data/umd/wasm-cache");
    let cached = files_under(&cache);
    assert!(!cached.is_empty(), "no VM cache at {}", cache.display());
    let new_code = contract("unreachable", "(func $simulated_only)");
    let upload = cosmos_sdk_proto::cosmwasm::wasm::v1::MsgStoreCode {
        sender: uploader.address.clone(),
        wasm_byte_code: new_code,
        instantiate_permission: None,
    };
    let simulate_body = json!({
        "tx_bytes": base64::engine::general_purpose::STANDARD
            .encode(node.sign(&uploader, vec![any(&upload)], 5_000_000)),
    })
    .to_string();
    let balance_query = base64::engine::general_purpose::STANDARD
        .encode(json!({"balance": {"address": honest.address}}).to_string());
    let paths = [
        format!(
            "/cosmwasm/wasm/v1/contract/{}/smart/{balance_query}",
            suite.token
        ),
        "/um/training/v1/updates?pagination.limit=100".to_string(),
    ];
    let height_before = node.rpc.latest_height().unwrap();
    let answers = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..32)
            .map(|client| {
                let (rest, body, paths) = (&rest, &simulate_body, &paths);
                scope.spawn(move || {
                    let mut statuses = Vec::new();
                    for round in 0..6 {
                        let status = match (client + round) % 3 {
                            0 => rest_status(
                                rest,
                                "POST",
                                "/cosmos/tx/v1beta1/simulate",
                                Some(body.as_bytes()),
                            ),
                            kind => rest_status(rest, "GET", &paths[kind - 1], None),
                        };
                        statuses.push(status);
                    }
                    statuses
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|client| client.join().unwrap())
            .collect::<Vec<u16>>()
    });
    // Answered, or refused as busy (the per-client and overall limits).
    assert!(
        answers.iter().all(|status| [200, 429].contains(status)),
        "{answers:?}"
    );
    let answered = answers.iter().filter(|status| **status == 200).count();
    assert!(answered > 0, "{answers:?}");
    node.rpc
        .wait_for_height(height_before + 2, Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        files_under(&cache),
        cached,
        "the query flood wrote to the VM cache"
    );
    eprintln!(
        "query flood: {} requests from 32 clients, {answered} answered, the rest 429; the VM cache unchanged ({} files)",
        answers.len(),
        cached.len()
    );
}

/// Runs `msg` on a fresh instance of `wasm` with `gas` and returns the
/// result (printed, for the reliability logs).
fn hostile_call(node: &TestNode, key: &Key, wasm: Vec<u8>, msg: Value, gas: u64) -> TxResult {
    let code_id = node.store_code(key, wasm);
    let contract = node.instantiate(key, code_id, json!({}), "hostile");
    let result = node.submit(key, vec![execute_msg(&key.address, &contract, msg)], gas);
    eprintln!(
        "hostile contract {code_id}: code {} gas {} at height {}: {}",
        result.code,
        result.gas_used,
        result.height,
        result.log.chars().take(300).collect::<String>()
    );
    result
}

#[test]
fn hostile_contracts_run_out_of_gas_or_fail_clearly_and_the_chain_goes_on() {
    let mut node = TestNode::init();
    node.start();
    let key = node.new_key("attacker");
    let gas = 3_000_000;
    let height = |node: &TestNode| node.rpc.latest_height().unwrap();

    let endless = contract("(loop $forever (br $forever)) unreachable", "");
    let result = hostile_call(&node, &key, endless.clone(), json!({}), gas);
    assert_eq!(result.code, Code::OutOfGas.value(), "{}", result.log);
    // The same loop asking for the chain's whole max_tx_gas (100M, once
    // ~12 s of compute on every node) gets only max_tx_contract_gas (3M) for
    // contract code, and says so.
    let result = hostile_call(&node, &key, endless, json!({}), 100_000_000);
    assert_eq!(result.code, Code::OutOfGas.value(), "{}", result.log);
    assert!(result.log.contains("max_tx_contract_gas"), "{}", result.log);
    assert!(result.gas_used < 4_000_000, "gas used {}", result.gas_used);

    // Grows a page at a time until the VM's memory limit refuses, then traps.
    let memory = contract(
        "(loop $more
           (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
           (br $more))
         unreachable",
        "",
    );
    let result = hostile_call(&node, &key, memory, json!({}), gas);
    assert_eq!(result.code, Code::VmError.value(), "{}", result.log);
    assert!(result.log.contains("unreachable"), "{}", result.log);

    // Blocks full of txs that each touch their whole memory (8 MiB), the
    // slowest thing gas buys: 15 ms for 87,049 gas before issue 17 (32 MiB,
    // memory priced like any operator), so a block budget's worth of them
    // took about a second. Each now pays for its memory before it runs, so
    // a block holds ~70 (3.2 ms each, release) and the budget splits them.
    let hog = contract(
        "(local $i i32)
         (block $full (loop $grow
           (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
           (local.set $i (i32.const 0))
           (loop $touch
             (i32.store8 (i32.add (i32.shl (i32.sub (memory.size) (i32.const 1)) (i32.const 16))
                                  (local.get $i)) (i32.const 1))
             (local.set $i (i32.add (local.get $i) (i32.const 4096)))
             (br_if $touch (i32.lt_u (local.get $i) (i32.const 65536))))
           (br $grow)))
         (call $empty)",
        "",
    );
    let code_id = node.store_code(&key, hog);
    let hog = node.instantiate(&key, code_id, json!({}), "memory-hog");
    // Four senders of 30 each: the mempool keeps one sender to two blocks
    // of its quarter of the budget (~35 of these), so one sender alone
    // could never fill a block.
    let senders: Vec<_> = (0..4).map(|i| node.new_key(&format!("hog{i}"))).collect();
    for sender in &senders {
        // Its first tx creates its account, whose number the rest sign with.
        node.submit_ok(sender, vec![execute_msg(&sender.address, &hog, json!({}))]);
    }
    let per_sender = 30;
    let hogs = senders.len() as u64 * per_sender;
    let mut hashes = Vec::new();
    for sender in &senders {
        let first = node.signer(sender);
        for i in 0..per_sender {
            let signer = tx_builder::SignerData {
                sequence: first.sequence + i,
                ..first.clone()
            };
            let options = TxOptions {
                gas_limit: 700_000,
                ..TxOptions::default()
            };
            let msg = execute_msg(&sender.address, &hog, json!({}));
            let tx = tx_builder::sign_tx(sender, vec![msg], &signer, &options).unwrap();
            hashes.push((
                sender.address.clone(),
                node.rpc.broadcast_async(&tx).unwrap(),
            ));
        }
    }
    let mut heights = std::collections::BTreeSet::new();
    for (sender, hash) in &hashes {
        let result = node
            .rpc
            .wait_for_tx(hash, Duration::from_secs(120))
            .unwrap();
        assert_eq!(result.code, 0, "{}", result.log);
        node.note_fee(sender, &result);
        heights.insert(result.height);
    }
    eprintln!("memory hogs: {hogs} txs in blocks {heights:?}");
    assert!(heights.len() >= 2, "one block took all {hogs}: {heights:?}");

    let recursion = contract(
        "(call $deep (i32.const 0))",
        "(func $deep (param $n i32) (result i32) (call $deep (i32.add (local.get $n) (i32.const 1))))",
    );
    let result = hostile_call(&node, &key, recursion, json!({}), gas);
    assert_eq!(result.code, Code::VmError.value(), "{}", result.log);
    assert!(
        result.log.contains("call stack exhausted"),
        "{}",
        result.log
    );

    // 60 kB values under ever new keys, until the gas runs out.
    let storage = contract(
        "(local $i i32)
         (loop $write
           (i32.store (i32.const 16) (local.get $i))
           (call $db_write (call $static (i32.const 16) (i32.const 4))
                           (call $static (i32.const 128) (i32.const 60000)))
           (local.set $i (i32.add (local.get $i) (i32.const 1)))
           (br $write))
         unreachable",
        "",
    );
    let result = hostile_call(&node, &key, storage, json!({}), gas);
    assert_eq!(result.code, Code::OutOfGas.value(), "{}", result.log);

    // Range storms over 400 stored records. `{}` stores them; "storm"
    // opens ranges in a loop (each range was once copied whole for 30 gas
    // and kept until the call ended: gigabytes per tx, on every node);
    // "stepping" walks range after range to the end.
    let ranges = contract(
        "(local $i i32) (local $id i32) (local $n i32)
         (if (i32.eq (i32.load offset=8 (local.get $msg)) (i32.const 2)) (then
           (loop $write
             (i32.store (i32.const 16) (local.get $i))
             (call $db_write (call $static (i32.const 16) (i32.const 4))
                             (call $static (i32.const 128) (i32.const 100)))
             (local.set $i (i32.add (local.get $i) (i32.const 1)))
             (br_if $write (i32.lt_u (local.get $i) (i32.const 400))))))
         (if (i32.eq (i32.load offset=8 (local.get $msg)) (i32.const 7)) (then
           (loop $scan
             (drop (call $db_scan (i32.const 0) (i32.const 0) (i32.const 1)))
             (br $scan))))
         (if (i32.eq (i32.load offset=8 (local.get $msg)) (i32.const 10)) (then
           (loop $outer
             (local.set $id (call $db_scan (i32.const 0) (i32.const 0) (i32.const 1)))
             (local.set $n (i32.const 0))
             (loop $inner
               (drop (call $db_next (local.get $id)))
               (local.set $n (i32.add (local.get $n) (i32.const 1)))
               (br_if $inner (i32.lt_u (local.get $n) (i32.const 401))))
             (br $outer))))
         (call $empty)",
        "",
    );
    let code_id = node.store_code(&key, ranges);
    let ranges = node.instantiate(&key, code_id, json!({}), "range-storm");
    // 400 writes of 100 bytes, after an instance of unpinned code.
    let stored = node.submit(
        &key,
        vec![execute_msg(&key.address, &ranges, json!({}))],
        4_000_000,
    );
    assert_eq!(stored.code, 0, "{}", stored.log);
    let storm = node.submit(
        &key,
        vec![execute_msg(&key.address, &ranges, json!("storm"))],
        gas,
    );
    eprintln!(
        "range storm: code {} gas {}: {}",
        storm.code, storm.gas_used, storm.log
    );
    assert_eq!(storm.code, Code::VmError.value(), "{}", storm.log);
    assert!(storm.log.contains("at most 256 iterators"), "{}", storm.log);
    let stepping = node.submit(
        &key,
        vec![execute_msg(&key.address, &ranges, json!("stepping"))],
        gas,
    );
    eprintln!(
        "range stepping: code {} gas {}: {}",
        stepping.code, stepping.gas_used, stepping.log
    );
    assert_eq!(stepping.code, Code::OutOfGas.value(), "{}", stepping.log);

    // Builds a response with one 4 MB event attribute in its own memory
    // (no tx could carry it): the VM refuses results over 256 KiB.
    let prefix = r#"{"ok":{"messages":[],"attributes":[{"key":"huge","value":""#;
    let suffix = r#""}],"events":[],"data":null}}"#;
    let huge = 4 << 20;
    let events = contract(
        &format!(
            "(local $i i32)
             (drop (memory.grow (i32.const 66)))
             (loop $fill
               (i32.store (i32.add (i32.const 65536) (local.get $i)) (i32.const 0x78787878))
               (local.set $i (i32.add (local.get $i) (i32.const 4)))
               (br_if $fill (i32.lt_u (local.get $i) (i32.const {huge}))))
             (local.set $i (i32.const 0))
             (loop $copy
               (i32.store8 (i32.add (i32.const {tail}) (local.get $i))
                           (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $copy (i32.lt_u (local.get $i) (i32.const {suffix_len}))))
             (call $static (i32.const {start}) (i32.const {total}))",
            tail = 65536 + huge,
            suffix_len = suffix.len(),
            start = 65536 - prefix.len(),
            total = prefix.len() + huge + suffix.len(),
        ),
        &format!(
            "(data (i32.const {start}) \"{prefix}\") (data (i32.const 1024) \"{suffix}\")",
            start = 65536 - prefix.len(),
            prefix = prefix.replace('"', "\\\""),
            suffix = suffix.replace('"', "\\\""),
        ),
    );
    let result = hostile_call(&node, &key, events, json!({}), gas);
    assert_eq!(result.code, Code::VmError.value(), "{}", result.log);
    assert!(result.log.contains("Data too long"), "{}", result.log);

    // Calls itself: the first call stores a response whose sub-message runs
    // the contract again with "go"; "go" answers with that response.
    let replay = contract(
        "(if (result i32) (i32.lt_u (i32.load offset=8 (local.get $msg)) (i32.const 8))
           (then (call $db_read (call $static (i32.const 16) (i32.const 4))))
           (else
             (call $db_write (call $static (i32.const 16) (i32.const 4)) (local.get $msg))
             (call $empty)))",
        "",
    );
    let code_id = node.store_code(&key, replay);
    let contract_address = node.instantiate(&key, code_id, json!({}), "self-caller");
    let again = base64::engine::general_purpose::STANDARD.encode(r#""go""#);
    let loop_response = json!({"ok": {"messages": [{
        "id": 0, "payload": "", "gas_limit": null, "reply_on": "never",
        "msg": {"wasm": {"execute": {"contract_addr": contract_address, "msg": again, "funds": []}}},
    }], "attributes": [], "events": [], "data": null}});
    let stored = node.submit(
        &key,
        vec![execute_msg(&key.address, &contract_address, loop_response)],
        gas,
    );
    assert_eq!(stored.code, 0, "{}", stored.log);
    // Eleven instances of unpinned code, each paying for its memory, come
    // before the depth limit.
    let result = node.submit(
        &key,
        vec![execute_msg(&key.address, &contract_address, json!("go"))],
        10_000_000,
    );
    eprintln!("self-caller: code {}: {}", result.code, result.log);
    assert_eq!(result.code, Code::InvalidRequest.value(), "{}", result.log);
    assert!(result.log.contains("depth limit"), "{}", result.log);

    // Block intervals while the hostile txs ran, for the reliability log
    // (timings are reported, not asserted).
    let last = height(&node);
    let times: Vec<i64> = (2..=last)
        .filter_map(|h| {
            let block = node
                .rpc
                .call("block", json!({"height": h.to_string()}))
                .ok()?;
            let time = block["block"]["header"]["time"].as_str()?.to_string();
            Some(rfc3339_millis(&time))
        })
        .collect();
    let mut intervals: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    intervals.sort_unstable();
    if let (Some(max), Some(median)) = (intervals.last(), intervals.get(intervals.len() / 2)) {
        eprintln!(
            "block intervals over {} blocks with hostile txs: median {median} ms, max {max} ms",
            intervals.len()
        );
    }

    // The node is unaffected: it keeps making blocks and running txs.
    let before = height(&node);
    node.rpc
        .wait_for_height(before + 3, Duration::from_secs(30))
        .unwrap();
    let code_id = node.store_code(&key, contract("(call $empty)", ""));
    let fine = node.instantiate(&key, code_id, json!({}), "fine");
    let result = node.submit(&key, vec![execute_msg(&key.address, &fine, json!({}))], gas);
    assert_eq!(result.code, 0, "{}", result.log);
}

/// Byzantine modes of node3, one round each: a lie in its vote extensions
/// and a lie as proposer. `make test` runs the first two rounds, `make
/// reliability` all (UM_BYZANTINE_ROUNDS).
const BYZANTINE_ROUNDS: [&str; 8] = [
    "always-accept,forge-verdicts",
    "malformed-extensions,omit-verdicts",
    "always-reject,forge-verdicts",
    "oversized-extensions,omit-verdicts",
    "always-reject,omit-verdicts",
    "oversized-extensions,forge-verdicts",
    "always-accept,omit-verdicts",
    "malformed-extensions,forge-verdicts",
];
const VALIDATORS: usize = 4;

/// A base address 127.0.K.2 whose four nodes' ports are all free, so the
/// test meets neither an operator's localnet nor another test's.
fn free_base_ip() -> String {
    let start = (std::process::id() as usize + 97) % 200;
    for k in (0..200).map(|j| 20 + (start + j) % 200) {
        let free = (0..VALIDATORS).all(|i| {
            [26656u16, 26657, 26658, 9091].iter().all(|port| {
                std::net::TcpListener::bind((format!("127.0.{k}.{}", 2 + i).as_str(), *port))
                    .is_ok()
            })
        });
        if free {
            return format!("127.0.{k}.2");
        }
    }
    panic!("no free 127.0.K.2-5 block of addresses for the localnet");
}

/// Four validators of `localnet/up.sh` in a temporary folder (each with
/// CometBFT, umd and its verifier); `localnet/down.sh` on drop.
struct Localnet {
    _dir: tempfile::TempDir,
    run: std::path::PathBuf,
    base_ip: String,
}

impl Localnet {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let net = Self {
            run: dir.path().join("run"),
            _dir: dir,
            base_ip: free_base_ip(),
        };
        net.script_ok("up.sh", &[&VALIDATORS.to_string()], None);
        net
    }

    fn script_ok(&self, script: &str, args: &[&str], byzantine: Option<&str>) -> String {
        let hyperparams = json!({
            "learning_rate": "0.1",
            "batch_size": 32,
            "local_steps": 5,
            "verification_tolerance": "0.001",
            "min_improvement": "0.0001",
            "reward_per_update": NRN.to_string(),
            "reward_halving_interval": 0,
        });
        let mut command = Command::new(workspace_root().join("localnet").join(script));
        command
            .args(args)
            .env("LOCALNET_DIR", &self.run)
            .env("LOCALNET_BASE_IP", &self.base_ip)
            .env("LOCALNET_DIGITS", DIGITS)
            .env("LOCALNET_SPEC", SPEC)
            .env("LOCALNET_HYPERPARAMS", hyperparams.to_string())
            .env("UMD", umd_binary())
            .env("UM_TRAINER", trainer_binary())
            .env_remove("UMD_BYZANTINE")
            .stdin(std::process::Stdio::null());
        if let Some(modes) = byzantine {
            command.env("UMD_BYZANTINE", modes);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "localnet/{script} {args:?} failed\n{}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn rpc(&self, node: usize) -> RpcClient {
        let (prefix, last) = self.base_ip.rsplit_once('.').unwrap();
        let last: usize = last.parse().unwrap();
        RpcClient::new(&format!("http://{prefix}.{}:26657", last + node))
    }

    fn log(&self, node: usize, name: &str) -> String {
        std::fs::read_to_string(self.run.join(format!("node{node}")).join(name)).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for node in 0..VALIDATORS {
            for name in ["umd.log", "cometbft.log", "verifier.log"] {
                let text = self.log(node, name);
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(12)..].join("\n");
                out += &format!("--- node{node}/{name}\n{tail}\n");
            }
        }
        out
    }

    /// The verifier (`um-trainer serve`) of `node`.
    fn verifier(&self, node: usize) -> String {
        let (prefix, last) = self.base_ip.rsplit_once('.').unwrap();
        let last: usize = last.parse().unwrap();
        format!("http://{prefix}.{}:9091", last + node)
    }

    fn key(&self, name: &str) -> Key {
        um_client::keys::Keyring::new(&self.run.join("node0/keys"))
            .get(name)
            .unwrap()
    }

    fn submit(&self, key: &Key, msg: &MsgSubmitUpdate) -> TxResult {
        let rpc = self.rpc(0);
        let chain_id = rpc.chain_id().unwrap();
        let signer = tx_builder::signer_data(&rpc, &chain_id, &key.address).unwrap();
        let options = TxOptions {
            gas_limit: 30_000_000,
            ..TxOptions::default()
        };
        let msgs = vec![any(msg)];
        let tx = tx_builder::sign_tx(key, msgs, &signer, &options).unwrap();
        rpc.broadcast_and_wait(&tx, Duration::from_secs(60))
            .unwrap()
    }

    /// The staking contract of the genesis suite, from the registry.
    fn stake(&self, address: &str) -> u128 {
        let rpc = self.rpc(0);
        let registry: Value =
            serde_json::from_slice(&rpc.query_ok("custom/gov/registry", &[]).unwrap()).unwrap();
        let request = cosmos_sdk_proto::cosmwasm::wasm::v1::QuerySmartContractStateRequest {
            address: registry["staking"].as_str().unwrap().to_string(),
            query_data: json!({"stake": {"address": address, "height": null}})
                .to_string()
                .into_bytes(),
        };
        let response: cosmos_sdk_proto::cosmwasm::wasm::v1::QuerySmartContractStateResponse = rpc
            .query_proto("/cosmwasm.wasm.v1.Query/SmartContractState", &request)
            .unwrap();
        let answer: Value = serde_json::from_slice(&response.data).unwrap();
        answer["stake"].as_str().unwrap().parse().unwrap()
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let mut command = Command::new(workspace_root().join("localnet/down.sh"));
        let _ = command
            .env("LOCALNET_DIR", &self.run)
            .env("LOCALNET_BASE_IP", &self.base_ip)
            .stdin(std::process::Stdio::null())
            .output();
    }
}

fn byzantine_rounds() -> usize {
    std::env::var("UM_BYZANTINE_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2)
        .clamp(1, BYZANTINE_ROUNDS.len())
}

#[test]
fn byzantine_validators_are_outvoted_and_forged_verdict_blocks_refused() {
    let net = Localnet::up();
    let rpc = net.rpc(0);
    let rounds = byzantine_rounds();
    for (round, modes) in BYZANTINE_ROUNDS[..rounds].iter().enumerate() {
        // node3 turns byzantine (its umd restarted with the test hook).
        net.script_ok("node.sh", &["stop", "3"], None);
        net.script_ok("node.sh", &["start", "3"], Some(modes));
        let target = rpc.latest_height().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while net.rpc(3).latest_height().unwrap_or(0) < target {
            assert!(
                Instant::now() < deadline,
                "node3 did not catch up\n{}",
                net.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        assert!(
            net.log(3, "umd.log").contains("BYZANTINE TEST MODE"),
            "node3 runs with {modes}"
        );
        // The trainers take turns at cheating, so neither falls below the
        // minimum stake in the long run.
        let (honest, cheater) = if round % 2 == 0 {
            ("trainer1", "trainer2")
        } else {
            ("trainer2", "trainer1")
        };

        // An honest update is accepted: three honest accepts outweigh
        // whatever node3 says.
        let before = head(&rpc).0;
        net.script_ok("train.sh", &[honest, "--updates", "1"], None);
        let (after, head_weights) = head(&rpc);
        assert_eq!(after, before + 1, "round {round} ({modes}): honest update");

        // Tampered weights are fraud for the honest majority: rejected
        // and slashed, whatever node3 says.
        let cheater_key = net.key(cheater);
        let stake_before = net.stake(&cheater_key.address);
        let msg = submit_msg(
            &rpc,
            &cheater_key,
            1_000 + round as u64,
            tampered(&head_weights),
        );
        let result = net.submit(&cheater_key, &msg);
        assert_eq!(result.code, 0, "{}", result.log);
        let decided = wait_decided(&rpc, update_id(&result), || net.logs());
        assert_eq!(
            decided.status,
            UpdateStatus::Rejected as i32,
            "round {round} ({modes}): {decided:?}\n{}",
            net.logs()
        );
        assert!(
            decided.reason.contains("WEIGHTS_MISMATCH"),
            "{}",
            decided.reason
        );
        assert!(decided.slashed);
        assert_eq!(net.stake(&cheater_key.address), stake_before / 2);
        assert_eq!(head(&rpc).0, after, "the head did not move");
    }

    // Issue 13, finding 5: half the power (node2 and node3) calls an honest
    // update fraud. Fraud needs more than 2/3 of one set's power, so the
    // update is rejected and nobody is slashed; more than 1/3 used to slash.
    for node in ["2", "3"] {
        net.script_ok("node.sh", &["stop", node], None);
        net.script_ok("node.sh", &["start", node], Some("always-reject"));
    }
    let target = rpc.latest_height().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (2..VALIDATORS).any(|n| net.rpc(n).latest_height().unwrap_or(0) < target) {
        assert!(
            Instant::now() < deadline,
            "node2/3 did not catch up\n{}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let honest = net.key("trainer1");
    let stake_before = net.stake(&honest.address);
    let weights = train_remotely(&rpc, &net.verifier(0), &honest, 7_000);
    let result = net.submit(&honest, &submit_msg(&rpc, &honest, 7_000, weights));
    assert_eq!(result.code, 0, "{}", result.log);
    let decided = wait_decided(&rpc, update_id(&result), || net.logs());
    assert_eq!(
        decided.status,
        UpdateStatus::Rejected as i32,
        "two byzantine of four: {decided:?}\n{}",
        net.logs()
    );
    assert!(!decided.slashed, "{decided:?}");
    assert_eq!(net.stake(&honest.address), stake_before);
    eprintln!(
        "minority: an honest update called fraud by node2 and node3 (reject power {} of accept {} + reject): rejected, not slashed",
        decided.reject_power, decided.accept_power
    );

    // What the honest validators saw of node3's lies.
    let honest_logs: String = (0..3).map(|n| net.log(n, "umd.log")).collect();
    let ran = |mode: &str| BYZANTINE_ROUNDS[..rounds].iter().any(|m| m.contains(mode));
    if ran("forge-verdicts") {
        assert!(
            honest_logs.contains("rejecting proposal")
                && honest_logs.contains("bad extension signature"),
            "the forged verdict tx was refused in ProcessProposal\n{}",
            net.logs()
        );
    }
    if ran("malformed-extensions") || ran("oversized-extensions") {
        assert!(
            honest_logs.contains("refusing vote extension"),
            "node3's extensions were refused\n{}",
            net.logs()
        );
    }

    eprintln!(
        "BYZANTINE {rounds} rounds ({}): each an honest update accepted and a tampered one slashed; \
         honest nodes refused {} proposals and {} vote extensions of node3",
        BYZANTINE_ROUNDS[..rounds].join(" | "),
        honest_logs.matches("rejecting proposal").count(),
        honest_logs.matches("refusing vote extension").count(),
    );

    // node3 lied, but executed every block as the others did.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let infos: Vec<Option<(u64, String)>> = (0..VALIDATORS)
            .map(|n| {
                let info = net.rpc(n).call("abci_info", json!({})).ok()?;
                let response = &info["response"];
                Some((
                    response["last_block_height"].as_str()?.parse().ok()?,
                    response["last_block_app_hash"].as_str()?.to_string(),
                ))
            })
            .collect();
        let first = infos[0].clone();
        if first.is_some()
            && infos
                .iter()
                .all(|i| i.as_ref().map(|i| i.0) == first.as_ref().map(|f| f.0))
        {
            for (node, info) in infos.iter().enumerate() {
                assert_eq!(info, &first, "node{node} disagrees\n{}", net.logs());
            }
            break;
        }
        assert!(Instant::now() < deadline, "nodes never at one height");
        std::thread::sleep(Duration::from_millis(100));
    }

    double_signer_is_slashed_and_removed(&net);
}

/// Issue 13, finding 9, for real: a second node runs with a copy of node3's
/// validator key (a fresh node key, state and address), so node3's key signs
/// twice at some height; CometBFT turns that into evidence and the chain
/// must slash node3's operator and take node3 out of the set.
fn double_signer_is_slashed_and_removed(net: &Localnet) {
    let rpc = net.rpc(0);
    let node3 = net.run.join("node3");
    let twin = net.run.join("node3-twin");
    std::fs::create_dir_all(twin.join("config")).unwrap();
    std::fs::create_dir_all(twin.join("data")).unwrap();
    for file in ["genesis.json", "priv_validator_key.json"] {
        std::fs::copy(
            node3.join("config").join(file),
            twin.join("config").join(file),
        )
        .unwrap();
    }
    std::fs::write(
        twin.join("data/priv_validator_state.json"),
        r#"{"height":"0","round":0,"step":0}"#,
    )
    .unwrap();
    let ip = |node: usize| {
        let (prefix, last) = net.base_ip.rsplit_once('.').unwrap();
        format!("{prefix}.{}", last.parse::<usize>().unwrap() + node)
    };
    let config = std::fs::read_to_string(node3.join("config/config.toml")).unwrap();
    std::fs::write(
        twin.join("config/config.toml"),
        config.replace(&format!("{}:", ip(3)), &format!("{}:", ip(4))),
    )
    .unwrap();
    let key: Value = serde_json::from_slice(
        &std::fs::read(node3.join("config/priv_validator_key.json")).unwrap(),
    )
    .unwrap();
    let pubkey = key["pub_key"]["value"].as_str().unwrap().to_string();
    let in_set = |rpc: &RpcClient| {
        rpc.call("validators", json!({"per_page": "100"}))
            .map(|v| {
                v["validators"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|val| val["pub_key"]["value"] == pubkey.as_str())
            })
            .unwrap_or(true)
    };
    assert!(in_set(&rpc), "node3 signs before the twin starts");
    let from = rpc.latest_height().unwrap();
    let log = std::fs::File::create(twin.join("umd.log")).unwrap();
    let mut child = Command::new(umd_binary())
        .args([
            "start",
            "--grpc-address",
            "off",
            "--api-address",
            "off",
            "--home",
        ])
        .arg(&twin)
        .env_remove("UMD_BYZANTINE")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();

    // The evidence lands in a block; its double_sign event names the outcome.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut checked = from;
    let event = 'found: loop {
        let latest = rpc.latest_height().unwrap();
        while checked < latest {
            // The newest block's results may not be stored yet: try again.
            let Ok(results) = rpc.call(
                "block_results",
                json!({"height": (checked + 1).to_string()}),
            ) else {
                break;
            };
            checked += 1;
            let events = results["finalize_block_events"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if let Some(event) = events.into_iter().find(|e| e["type"] == "double_sign") {
                break 'found (checked, event);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no double_sign evidence in blocks {from}..={checked}\n{}\n--- twin\n{}",
            net.logs(),
            std::fs::read_to_string(twin.join("umd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    let (height, event) = event;
    let attr = |key: &str| {
        event["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == key)
            .and_then(|a| a["value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(attr("removed"), "true", "{event}");
    assert_eq!(attr("slashed"), "true", "{event}");
    // CometBFT applies the removal two blocks later; node3 stays out.
    rpc.wait_for_height(height + 3, Duration::from_secs(30))
        .unwrap();
    assert!(
        !in_set(&rpc),
        "node3 is still in the set after its double sign"
    );
    eprintln!(
        "double sign: evidence against node3 in block {height} ({} blocks after the twin started): operator {} slashed {}, removed from the set",
        height - from,
        attr("operator"),
        attr("fraction")
    );
}

/// Any bytes in field 1: a string field for the query requests, so bytes
/// that are not UTF-8 make an undecodable request.
#[derive(Clone, PartialEq, prost::Message)]
struct Junk {
    #[prost(bytes = "vec", tag = "1")]
    data: Vec<u8>,
}

/// Sends `request` raw on a fresh TCP connection and returns what came back
/// (possibly nothing: the server may just close).
fn raw_http(address: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may close before reading everything; that is an answer.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The HTTP status of `path`, through a real client.
fn rest_status(rest: &str, method: &str, path: &str, body: Option<&[u8]>) -> u16 {
    let request =
        ureq::request(method, &format!("http://{rest}{path}")).timeout(Duration::from_secs(30));
    let result = match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_bytes(body),
        None => request.call(),
    };
    match result {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        // The server answered (413) and closed while a huge body was still
        // being sent: refused all the same.
        Err(err) if body.is_some_and(|b| b.len() > 1 << 20) => {
            eprintln!("{method} {}: closed: {err}", &path[..path.len().min(80)]);
            413
        }
        Err(err) => panic!("{method} {}: {err}", &path[..path.len().min(80)]),
    }
}

#[test]
fn hostile_requests_to_grpc_and_rest_get_errors_and_the_node_serves_on() {
    let mut node = TestNode::init();
    let grpc = format!("127.0.0.1:{}", free_port());
    let rest = format!("127.0.0.1:{}", free_port());
    node.start_with(&["--grpc-address", &grpc, "--api-address", &rest]);
    let healthy = |node: &TestNode| {
        assert_eq!(
            rest_status(&rest, "GET", "/openapi.json", None),
            200,
            "REST still answers\n{}",
            node.logs()
        );
        node.rpc.status().expect("CometBFT and umd still up");
    };
    healthy(&node);

    // REST: malformed and oversized requests are 4xx.
    let bad = [
        (
            "POST",
            "/cosmos/tx/v1beta1/txs".to_string(),
            Some(b"{\"tx_bytes\":".to_vec()),
        ),
        (
            "POST",
            "/cosmos/tx/v1beta1/txs".to_string(),
            Some(vec![0xff; 1000]),
        ),
        (
            "POST",
            "/cosmos/tx/v1beta1/txs".to_string(),
            Some(vec![b'['; 100_000]),
        ),
        (
            "POST",
            "/cosmos/tx/v1beta1/simulate".to_string(),
            Some(br#"{"tx_bytes":"%%%"}"#.to_vec()),
        ),
        (
            "POST",
            "/cosmos/tx/v1beta1/txs".to_string(),
            Some(format!(r#"{{"tx_bytes":"{}"}}"#, "A".repeat(20 << 20)).into_bytes()),
        ),
        (
            "GET",
            format!("/um/training/v1/updates/{}", "9".repeat(40)),
            None,
        ),
        ("GET", "/um/training/v1/updates/-1".to_string(), None),
        ("GET", "/cosmos/tx/v1beta1/txs/%ZZ".to_string(), None),
        (
            "GET",
            format!("/um/training/v1/models/{}/head", "m".repeat(100_000)),
            None,
        ),
        (
            "GET",
            "/um/training/v1/models/mnist/versions?pagination.limit=99999999999999999999999"
                .to_string(),
            None,
        ),
        ("GET", "/no/such/route".to_string(), None),
    ];
    for (method, path, body) in &bad {
        let status = rest_status(&rest, method, path, body.as_deref());
        assert!(
            (400..500).contains(&status),
            "{method} {}: {status}",
            &path[..path.len().min(80)]
        );
    }
    // Not HTTP at all, a header of 1 MB, a request line of 1 MB: refused or
    // closed, never a 5xx, and the server answers the next one.
    for request in [
        b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n".to_vec(),
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "h".repeat(1 << 20)
        )
        .into_bytes(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(1 << 20)).into_bytes(),
        b"POST /cosmos/tx/v1beta1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{"
            .to_vec(),
    ] {
        let answer = raw_http(&rest, &request);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }
    healthy(&node);

    // gRPC: undecodable and oversized requests are refused with a status.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = |path: &'static str, junk: Junk| -> tonic::Status {
        runtime.block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = tonic::client::Grpc::new(channel);
            client.ready().await.unwrap();
            let answer = client
                .unary(
                    tonic::Request::new(junk),
                    tonic::codegen::http::uri::PathAndQuery::from_static(path),
                    tonic::codec::ProstCodec::<Junk, Junk>::default(),
                )
                .await;
            match answer {
                Ok(_) => panic!("{path} accepted junk"),
                Err(status) => status,
            }
        })
    };
    let status = call(
        "/um.training.v1.Query/Head",
        Junk {
            data: vec![0xff, 0xfe, 0xfd],
        },
    );
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let status = call(
        "/um.training.v1.Query/Update",
        Junk {
            data: vec![0x08; 64],
        },
    );
    assert!(
        matches!(
            status.code(),
            tonic::Code::InvalidArgument | tonic::Code::NotFound
        ),
        "{status:?}"
    );
    let status = call(
        "/um.training.v1.Query/Head",
        Junk {
            data: vec![b'a'; 20 << 20],
        },
    );
    assert!(
        matches!(
            status.code(),
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{status:?}"
    );
    let status = call("/no.such.Service/Method", Junk { data: vec![1] });
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    // Not HTTP/2 at all on the gRPC port.
    let _ = raw_http(&grpc, b"\x16\x03\x01 not a gRPC client \r\n\r\n");
    healthy(&node);
}
