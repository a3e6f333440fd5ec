//! Decentralized training end to end on real CometBFT + umd + um-trainer
//! (CPU): an honest trainer's updates are verified by the validator's own
//! `um-trainer serve`, accepted in a row with falling validation loss and
//! rewarded in NRN; cheaters are refused or rejected, and slashed for
//! fraud; a validator whose verifier is down abstains and the update
//! expires unslashed; a dataset delta the DAO passes is the dataset the
//! next update trains on.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::training::*;
use support::*;
use um_client::keys::Key;
use um_client::rpc::TxResult;
use um_formats::{ModelSpec, Weights};
use um_governance::staking::BondRole;
use um_governance::{DeployConfig, Deployment};
use um_proto::um::training::v1::{
    MsgSubmitUpdate, QueryUpdatesRequest, QueryUpdatesResponse, QueryVersionsRequest,
    QueryVersionsResponse, RoundStatus, UpdateStatus,
};

const NRN: u128 = 1_000_000;
/// Digits in the test chain's genesis dataset (the first ones by hash).
const DIGITS: &str = "2000";

fn hyperparams() -> Value {
    json!({
        "learning_rate": "0.1",
        "batch_size": 32,
        "local_steps": 5,
        "verification_tolerance": "0.001",
        "min_improvement": "0.0001",
        "reward_per_update": NRN.to_string(),
        "reward_halving_interval": 0,
    })
}

/// A one-validator chain with the MNIST subset, the governance suite, the
/// lineage at version 0 and the given trainers bonded with 100 NRN each.
fn training_chain(trainers: &[&str], expiry_blocks: u64) -> (TestNode, Vec<Key>, Deployment) {
    training_chain_with(trainers, expiry_blocks, None)
}

/// [`training_chain`] whose lineage trains in collaborative `rounds`.
fn training_chain_with(
    trainers: &[&str],
    expiry_blocks: u64,
    rounds: Option<Value>,
) -> (TestNode, Vec<Key>, Deployment) {
    let digits = workspace_root().join("data/mnist");
    let dataset = format!("mnist={}", digits.display());
    let node = TestNode::init_with(&["--dataset", &dataset, "--dataset-limit", DIGITS]);
    let keys: Vec<Key> = trainers.iter().map(|name| node.new_key(name)).collect();
    let bonds = vec![100 * NRN; keys.len()];
    let (mut genesis, suite) = governed_genesis(&node, &keys, 200 * NRN, &bonds);
    genesis["app_state"]["training"] = json!({
        "params": {"expiry_blocks": expiry_blocks},
        "lineages": [{
            "model_id": MODEL,
            "spec": SPEC,
            "hyperparams": hyperparams(),
            "dataset_id": "mnist",
            "init_seed": 7,
            "rounds": rounds,
        }],
    });
    node.set_genesis(&genesis);
    (node, keys, suite)
}

/// `node`'s genesis with the governance suite: `keys` hold `balance` NRN
/// each and are bonded as trainers with `bonds` (in order); votes last 6
/// blocks.
fn governed_genesis(
    node: &TestNode,
    keys: &[Key],
    balance: u128,
    bonds: &[u128],
) -> (Value, Deployment) {
    let deployer = node.new_key("deployer");
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = keys.iter().map(|k| (k.address.clone(), balance)).collect();
    config.token_cap = 1_000_000 * NRN;
    // Short votes, for the tests that pass proposals.
    config.voting_period_blocks = 6;
    let bonds: Vec<_> = keys
        .iter()
        .zip(bonds)
        .map(|(k, amount)| um_governance::genesis::GenesisBond {
            operator: k.address.clone(),
            amount: *amount,
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
    (genesis, suite)
}

fn submit_weights(
    node: &TestNode,
    key: &Key,
    base_version: u64,
    nonce: u64,
    weights: Vec<u8>,
) -> TxResult {
    let dataset = current_dataset(&node.rpc);
    let msg = MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: MODEL.into(),
        base_version,
        dataset_version: dataset.version,
        nonce,
        weights,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: hyperparams_sha256(&node.rpc),
        dataset_root: dataset.root,
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    node.submit(key, vec![any(&msg)], 30_000_000)
}

fn with_nan(weights: &[u8]) -> Vec<u8> {
    let spec = ModelSpec::parse(SPEC).unwrap();
    let mut decoded = Weights::decode(&spec, weights).unwrap();
    decoded.tensors[0].data[3] = f32::NAN;
    // Weights::encode writes what it is given; the chain must catch it.
    decoded.encode()
}

/// A version-1 lineage head started from verified training; returns the
/// node (running with its verifier), the keys and the suite.
fn started_with_verifier(
    trainers: &[&str],
    expiry_blocks: u64,
) -> (TestNode, Vec<Key>, Deployment, Verifier) {
    started_with_verifier_and(trainers, expiry_blocks, None)
}

fn started_with_verifier_and(
    trainers: &[&str],
    expiry_blocks: u64,
    rounds: Option<Value>,
) -> (TestNode, Vec<Key>, Deployment, Verifier) {
    let (mut node, keys, suite) = training_chain_with(trainers, expiry_blocks, rounds);
    // The verifier reads the dataset from the node, so the node's RPC must
    // be up first; until the verifier listens, the validator abstains.
    node.start();
    let verifier = Verifier::start(&node);
    node.stop();
    node.start_with(&["--verifier", &verifier.endpoint]);
    (node, keys, suite, verifier)
}

fn run_trainer(node: &TestNode, key: &str, updates: u32) {
    let output = Command::new(trainer_binary())
        .args(["train", "--node", node.rpc.url(), "--home"])
        .arg(&node.home)
        .args(["--key", key, "--model", MODEL, "--updates"])
        // TestNode's keys are plain text (see TestNode::keyring).
        .env("UMD_KEYRING_BACKEND", "test")
        .arg(updates.to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "um-trainer train failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        node.logs()
    );
}

/// Proposes `action` as `voter` (the only staker), votes yes, waits for the
/// vote to end and executes it.
fn pass_proposal(node: &TestNode, suite: &Deployment, voter: &Key, title: &str, action: &Value) {
    pass_proposal_with_gas(node, suite, voter, title, action, 5_000_000);
}

/// [`pass_proposal`], executed with `gas` (a new lineage stores its weights).
fn pass_proposal_with_gas(
    node: &TestNode,
    suite: &Deployment,
    voter: &Key,
    title: &str,
    action: &Value,
    gas: u64,
) {
    use um_governance::proposals::{self, VoteOption};
    let chain = um_governance::Chain::new(&node.rpc, voter).unwrap();
    let proposal = proposals::propose(&chain, suite, title, "", action).unwrap();
    proposals::vote(&chain, suite, proposal, VoteOption::Yes).unwrap();
    wait_for_vote_end(node, suite, proposal);
    proposals::execute_with_gas(&chain, suite, proposal, gas).unwrap();
}

/// Waits (at most a minute) until proposal `id` is no longer open.
fn wait_for_vote_end(node: &TestNode, suite: &Deployment, id: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while um_governance::proposals::show(&node.rpc, suite, id).unwrap()["status"] == "open" {
        assert!(Instant::now() < deadline, "the vote did not end");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Issue 13, finding 4: an honest update trained just before the DAO
/// changes the hyperparameters was re-executed with the new ones, judged
/// WEIGHTS_MISMATCH and its trainer slashed. It names the hyperparameters it
/// used, so it is refused at delivery and nothing is slashed.
#[test]
fn an_update_trained_before_a_hyperparameter_change_is_refused_not_slashed() {
    let (node, keys, suite, verifier) = started_with_verifier(&["alice"], 30);
    let alice = &keys[0];
    let stake_before = stake(&node, &suite, &alice.address);
    let trained_with = hyperparams_sha256(&node.rpc);
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 1);

    let mut changed = hyperparams();
    changed["learning_rate"] = json!("0.05");
    let action = json!({"set_hyperparams": {"model_id": MODEL, "hyperparams": changed}});
    pass_proposal(&node, &suite, alice, "a smaller step", &action);
    assert_ne!(hyperparams_sha256(&node.rpc), trained_with);

    let dataset = current_dataset(&node.rpc);
    let msg = MsgSubmitUpdate {
        trainer: alice.address.clone(),
        model_id: MODEL.into(),
        base_version: head(&node.rpc).0,
        dataset_version: dataset.version,
        nonce: 1,
        weights: honest,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: trained_with,
        dataset_root: dataset.root,
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let refused = node.submit(alice, vec![any(&msg)], 30_000_000);
    assert_eq!(
        refused.code,
        um_client::codes::Code::InvalidRequest.value(),
        "{}",
        refused.log
    );
    assert!(refused.log.contains("hyperparameters"), "{}", refused.log);
    assert_eq!(stake(&node, &suite, &alice.address), stake_before);

    // The trainer picks up the new hyperparameters and lands an update.
    run_trainer(&node, "alice", 1);
    assert_eq!(head(&node.rpc).0, 1);
    assert_eq!(stake(&node, &suite, &alice.address), stake_before);

    // Finding 6: with an unbonding period no longer than the verdict window
    // (30 + 1 blocks here) a cheater could unbond and withdraw before its
    // verdicts; the chain takes no update until governance lengthens it.
    let action = json!({"update_staking_config": {
        "min_trainer_stake": null, "min_validator_stake": null, "unbonding_period_blocks": 31}});
    pass_proposal(&node, &suite, alice, "shorter unbonding", &action);
    let honest = train_remotely(&node.rpc, &verifier.endpoint, alice, 2);
    let dataset = current_dataset(&node.rpc);
    let msg = MsgSubmitUpdate {
        trainer: alice.address.clone(),
        model_id: MODEL.into(),
        base_version: 1,
        dataset_version: dataset.version,
        nonce: 2,
        weights: honest,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: hyperparams_sha256(&node.rpc),
        dataset_root: dataset.root,
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let refused = node.submit(alice, vec![any(&msg)], 30_000_000);
    assert_eq!(
        refused.code,
        um_client::codes::Code::NotPermitted.value(),
        "{}",
        refused.log
    );
    assert!(
        refused.log.contains("unbonding period (31 blocks)"),
        "{}",
        refused.log
    );
}

#[test]
fn honest_updates_are_accepted_and_rewarded_and_cheaters_are_slashed() {
    let (node, keys, suite, verifier) = started_with_verifier(&["alice", "mallory"], 30);
    let (alice, mallory) = (&keys[0], &keys[1]);

    let balance_before = node.cw20_balance(&suite.token, &alice.address);
    run_trainer(&node, "alice", 5);

    let versions: QueryVersionsResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Versions",
            &QueryVersionsRequest {
                prove: false,
                model_id: MODEL.into(),
                // Oldest first (the default is newest first).
                pagination: Some(um_proto::um::common::v1::PageRequest {
                    reverse: true,
                    ..Default::default()
                }),
            },
        )
        .unwrap();
    let accepted = &versions.versions[1..];
    assert!(accepted.len() >= 5, "{} versions", accepted.len());
    for pair in accepted.windows(2) {
        assert_eq!(pair[1].parent_version, pair[0].version);
        assert!(
            pair[1].validation_loss < pair[0].validation_loss,
            "validation loss must fall: {} then {}",
            pair[0].validation_loss,
            pair[1].validation_loss
        );
    }
    assert!(accepted.iter().all(|v| v.trainer == alice.address));
    // One NRN per accepted update, less the validators' 10 % share, less
    // the fees of alice's txs and the verification fee (1 NRN) of each of
    // her updates not accepted (forfeited, or still in escrow).
    let updates: QueryUpdatesResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Updates",
            &QueryUpdatesRequest {
                trainer: alice.address.clone(),
                pagination: Some(um_proto::um::common::v1::PageRequest {
                    limit: 100,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
    let not_accepted = updates
        .updates
        .iter()
        .filter(|u| u.status != UpdateStatus::Accepted as i32)
        .count() as u128;
    let fees = node.fees_paid_on_chain(&alice.address);
    assert!(fees > 0, "alice paid for her txs");
    let balance = node.cw20_balance(&suite.token, &alice.address);
    assert_eq!(
        balance + fees + not_accepted * NRN,
        balance_before + accepted.len() as u128 * (NRN - NRN / 10),
        "0.9 NRN per accepted update"
    );

    // Tampered weights: passes the cheap checks, fails re-execution: fraud.
    let alice_stake = stake(&node, &suite, &alice.address);
    let mallory_stake = stake(&node, &suite, &mallory.address);
    let (head_version, head_weights) = head(&node.rpc);
    let result = submit_weights(&node, mallory, head_version, 1, tampered(&head_weights));
    assert_eq!(result.code, 0, "{}", result.log);
    let decided = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Rejected as i32);
    assert!(
        decided.reason.contains("WEIGHTS_MISMATCH"),
        "{}",
        decided.reason
    );
    assert!(decided.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), mallory_stake / 2);

    // NaN: fraud anyone can see, rejected and slashed in the same block.
    let result = submit_weights(&node, mallory, head_version, 2, with_nan(&head_weights));
    assert_eq!(result.code, 0, "{}", result.log);
    let nan = update(&node.rpc, update_id(&result));
    assert_eq!(nan.status, UpdateStatus::Rejected as i32);
    assert!(nan.reason.contains("NON_FINITE"), "{}", nan.reason);
    assert!(nan.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), mallory_stake / 4);

    // Honestly trained weights, but of another batch: trained with nonce 10
    // (by the verifier's own Train service), claimed as nonce 11.
    let other_batch = train_remotely(&node.rpc, &verifier.endpoint, mallory, 10);
    let result = submit_weights(&node, mallory, head_version, 11, other_batch);
    assert_eq!(result.code, 0, "{}", result.log);
    let decided = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Rejected as i32);
    assert!(
        decided.reason.contains("WEIGHTS_MISMATCH"),
        "{}",
        decided.reason
    );
    assert!(decided.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), mallory_stake / 8);

    // Stale base and a replay of alice's accepted weights are refused outright.
    let result = submit_weights(&node, mallory, head_version - 1, 3, tampered(&head_weights));
    assert_eq!(result.code, um_client::codes::Code::InvalidRequest.value());
    assert!(result.log.contains("stale base"), "{}", result.log);
    let result = submit_weights(&node, mallory, head_version, 4, head_weights.clone());
    assert_eq!(result.code, um_client::codes::Code::InvalidRequest.value());
    assert!(result.log.contains("replay"), "{}", result.log);

    // The honest trainer is untouched, and the head did not move.
    assert_eq!(stake(&node, &suite, &alice.address), alice_stake);
    assert_eq!(head(&node.rpc).0, head_version);
}

/// Issue 20, the 2017 rewards: once the DAO sets a fraction of the supply
/// per version and a halving period in blocks, an accepted version mints
/// that fraction of the token's supply halved once per period up to its
/// height (the trainer's share and the validators' together), instead of
/// the lineage's fixed `reward_per_update`. A training group (a new lineage
/// anyone proposes) that the vote rejects leaves its deposit with the DAO.
#[test]
fn the_2017_rewards_mint_a_fraction_of_the_supply_and_a_rejected_training_group_keeps_its_deposit()
{
    let (node, keys, suite, _verifier) = started_with_verifier(&["alice"], 30);
    let alice = &keys[0];
    // Short enough that the version comes after at least one halving.
    const HALVING_BLOCKS: u64 = 8;
    pass_proposal(
        &node,
        &suite,
        alice,
        "the 2017 rewards",
        &json!({"set_reward_params": {
            "version_supply_fraction": "0.00001",
            "halving_blocks": HALVING_BLOCKS,
        }}),
    );
    let supply = || -> u128 {
        node.smart_query(&suite.token, json!({"token_info": {}}))["total_supply"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = supply();
    run_trainer(&node, "alice", 1);
    let (head_version, _) = head(&node.rpc);
    let version: um_proto::um::training::v1::QueryVersionResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Version",
            &um_proto::um::training::v1::QueryVersionRequest {
                prove: false,
                model_id: MODEL.into(),
                version: head_version,
            },
        )
        .unwrap();
    let height = version.version.unwrap().height;
    // Fees and deposits move tokens; only rewards mint them.
    let minted = supply() - before;
    let expected = (before / 100_000) >> (height / HALVING_BLOCKS);
    eprintln!("supply {before}, version at height {height}: minted {minted}, expected {expected}");
    assert!(height >= HALVING_BLOCKS, "halved at least once");
    assert_eq!(minted, expected);
    assert!(
        expected > 0 && expected != NRN,
        "not the fixed reward_per_update"
    );

    // A training group: carol, who holds no stake, proposes a new lineage
    // with the DAO's deposit; the vote rejects it and the DAO keeps it.
    use um_governance::proposals::{self, VoteOption};
    let carol = node.new_key("carol");
    let as_alice = um_governance::Chain::new(&node.rpc, alice).unwrap();
    as_alice
        .execute(
            &suite.token,
            &json!({"transfer": {"recipient": carol.address, "amount": (10 * NRN).to_string()}}),
        )
        .unwrap();
    let as_carol = um_governance::Chain::new(&node.rpc, &carol).unwrap();
    let dao_before = node.cw20_balance(&suite.token, &suite.dao);
    let group = json!({"new_model_lineage": {
        "model_id": "carols-group", "spec": SPEC,
        "hyperparams": {
            "learning_rate": "0.1", "batch_size": 32, "local_steps": 5,
            "verification_tolerance": "0.001", "min_improvement": "0",
            "reward_per_update": "0", "reward_halving_interval": 0,
        },
    }});
    let id = proposals::propose(&as_carol, &suite, "carol's training group", "", &group).unwrap();
    let deposit = node.cw20_balance(&suite.token, &suite.dao) - dao_before;
    assert!(deposit > 0, "the proposal deposit is escrowed with the DAO");
    proposals::vote(&as_alice, &suite, id, VoteOption::No).unwrap();
    wait_for_vote_end(&node, &suite, id);
    let closed = as_carol
        .execute(&suite.dao, &json!({"close": {"proposal_id": id}}))
        .unwrap();
    assert_eq!(
        closed.event_value("wasm", "deposit_outcome"),
        Some("kept"),
        "{closed:?}"
    );
    assert_eq!(
        node.cw20_balance(&suite.token, &suite.dao),
        dao_before + deposit,
        "the DAO keeps a rejected training group's deposit"
    );
}

#[test]
fn a_validator_without_its_verifier_abstains_and_the_update_expires() {
    let (mut node, keys, suite) = training_chain(&["mallory"], 6);
    let mallory = &keys[0];
    // Nothing listens there: every Verify call fails.
    let dead = format!("http://127.0.0.1:{}", free_port());
    node.start_with(&["--verifier", &dead]);
    let before = stake(&node, &suite, &mallory.address);
    let (head_version, head_weights) = head(&node.rpc);
    let result = submit_weights(&node, mallory, head_version, 1, tampered(&head_weights));
    assert_eq!(result.code, 0, "{}", result.log);
    let decided = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(decided.status, UpdateStatus::Expired as i32, "{decided:?}");
    assert!(!decided.slashed);
    assert_eq!(
        decided.accept_power + decided.reject_power,
        0,
        "nobody voted"
    );
    assert_eq!(stake(&node, &suite, &mallory.address), before);
    let log = std::fs::read_to_string(node.home.join("umd.log")).unwrap();
    assert!(log.contains("abstaining"), "umd says why it abstains");
}

#[test]
fn a_dataset_delta_passed_by_the_dao_is_what_the_next_updates_train_on() {
    use um_proto::um::dataset::v1::{
        MsgProposeDatasetDelta, QueryRecordsRequest, QueryRecordsResponse, Record,
    };

    let (node, keys, suite, _verifier) = started_with_verifier(&["alice"], 30);
    let alice = &keys[0];
    run_trainer(&node, "alice", 1);
    let (first, _) = head(&node.rpc);
    let before = current_dataset(&node.rpc);
    assert_eq!(before.version, 0);

    // Remove the first digit (by hash) and add a new one.
    let page: QueryRecordsResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Records",
            &QueryRecordsRequest {
                dataset_id: "mnist".into(),
                pagination: Some(um_proto::um::common::v1::PageRequest {
                    limit: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .unwrap();
    let removed = page.records[0].hash.clone();
    let mut pixels = vec![0u8; 784];
    for row in 4..24 {
        pixels[row * 28 + 14] = 255;
    }
    let added = Record {
        hash: Vec::new(),
        label: 1,
        pixels,
        split: 0,
    };
    let deposit = 1_000u128;
    let propose = MsgProposeDatasetDelta {
        proposer: alice.address.clone(),
        dataset_id: "mnist".into(),
        add: vec![added],
        remove: vec![removed.clone()],
        deposit: deposit.to_string(),
    };
    let allow = execute_msg(
        &alice.address,
        &suite.token,
        json!({"increase_allowance": {
            "spender": um_client::address::module_address("dataset"),
            "amount": deposit.to_string()}}),
    );
    let result = node.submit(alice, vec![allow, any(&propose)], 10_000_000);
    assert_eq!(result.code, 0, "{}", result.log);
    let delta_id: u64 = result
        .event_value("dataset_delta_proposed", "delta_id")
        .unwrap()
        .parse()
        .unwrap();

    let action = json!({"accept_dataset_delta": {"delta_id": delta_id}});
    pass_proposal(&node, &suite, alice, "one digit fewer, one more", &action);
    let after = current_dataset(&node.rpc);
    assert_eq!(after.version, 1);
    assert_ne!(after.root, before.root);
    assert_eq!(after.record_count, before.record_count);

    // An update trained on the old version is refused; the trainer moves on.
    let msg = MsgSubmitUpdate {
        trainer: alice.address.clone(),
        model_id: MODEL.into(),
        base_version: first,
        dataset_version: 0,
        nonce: 99,
        weights: tampered(&head(&node.rpc).1),
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: hyperparams_sha256(&node.rpc),
        dataset_root: before.root.clone(),
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let refused = node.submit(alice, vec![any(&msg)], 30_000_000);
    assert_eq!(refused.code, um_client::codes::Code::InvalidRequest.value());
    assert!(refused.log.contains("dataset version"), "{}", refused.log);

    run_trainer(&node, "alice", 1);
    let (second, _) = head(&node.rpc);
    assert_eq!(second, first + 1);
    let version: um_proto::um::training::v1::QueryVersionResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Version",
            &um_proto::um::training::v1::QueryVersionRequest {
                prove: false,
                model_id: MODEL.into(),
                version: second,
            },
        )
        .unwrap();
    assert_eq!(version.version.unwrap().dataset_version, 1);
}

/// Loss of `weights` on the whole validation split, measured by the
/// verifier's Evaluate (the numbers a candidate is judged by with
/// `eval_samples` 0).
fn validation_loss(node: &TestNode, verifier: &Verifier, weights: Vec<u8>) -> f32 {
    use um_proto::um::dataset::v1::Split;
    use um_proto::um::trainer::v1::trainer_client::TrainerClient;
    use um_proto::um::trainer::v1::EvaluateRequest;
    let dataset = current_dataset(&node.rpc);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = TrainerClient::connect(verifier.endpoint.clone())
            .await
            .unwrap()
            .max_decoding_message_size(64 << 20);
        client
            .evaluate(EvaluateRequest {
                model_id: MODEL.into(),
                spec_json: SPEC.into(),
                weights_sha256: um_app::training::records::sha256(&weights).to_vec(),
                weights,
                dataset_id: "mnist".into(),
                dataset_version: dataset.version,
                dataset_root: dataset.root,
                split: Split::Validation as i32,
            })
            .await
            .unwrap()
            .into_inner()
            .loss
    })
}

fn round(node: &TestNode, number: u64) -> um_proto::um::training::v1::Round {
    round_of(node, MODEL, number)
}

/// Round `number` of `model_id` (0: the current one).
fn round_of(node: &TestNode, model_id: &str, number: u64) -> um_proto::um::training::v1::Round {
    let answer: um_proto::um::training::v1::QueryRoundResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Round",
            &um_proto::um::training::v1::QueryRoundRequest {
                prove: false,
                model_id: model_id.into(),
                number,
            },
        )
        .unwrap();
    answer.round.unwrap()
}

/// The current round once it is open and has no contribution yet.
fn next_open_round(node: &TestNode) -> um_proto::um::training::v1::Round {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = round(node, 0);
        if current.status == RoundStatus::Open as i32 && current.contributions.is_empty() {
            return current;
        }
        assert!(Instant::now() < deadline, "no open round\n{}", node.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_round_closed(node: &TestNode, number: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while round(node, number).status != RoundStatus::Closed as i32 {
        assert!(
            Instant::now() < deadline,
            "round {number} never closed\n{}",
            node.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Shard 0 of a round of one shard.
fn only_shard(open: &um_proto::um::training::v1::Round) -> um_proto::um::trainer::v1::RoundShard {
    um_proto::um::trainer::v1::RoundShard {
        round: open.number,
        round_seed: open.seed.clone(),
        shard: 0,
        shards: 1,
    }
}

fn verdicts_on(node: &TestNode, update_id: u64) -> Vec<um_proto::um::training::v1::Verdict> {
    let answer: um_proto::um::training::v1::QueryUpdateResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Update",
            &um_proto::um::training::v1::QueryUpdateRequest {
                prove: false,
                update_id,
            },
        )
        .unwrap();
    answer.verdicts
}

/// Issue 16: three trainers share each round of a lineage in round mode.
/// Their contributions, each on a shard it claimed first (one trainer's
/// checkpoints served, the others' in the tx), are verified by sampled
/// segments and merged;
/// every merge that became a version lowered the loss on the whole
/// validation split (the candidate's evaluation uses all of it here); each
/// trainer is rewarded; a contribution trained with other hyperparameters
/// is refused, not slashed.
#[test]
fn three_trainers_share_rounds_and_every_version_lowers_the_held_out_loss() {
    const CONTRIBUTIONS: u32 = 2;
    // Each contribution commits a checkpoint after every step; the
    // validator re-executes 2 of its 5 segments.
    let rounds = json!({
        "max_contributions": 3,
        "round_blocks": 40,
        "outer_learning_rate": "1",
        "eval_samples": 0,
        "checkpoint_interval": 1,
        "segments_per_validator": 2,
    });
    let (node, keys, suite, verifier) =
        started_with_verifier_and(&["alice", "bob", "carol"], 60, Some(rounds));
    let before: Vec<u128> = keys
        .iter()
        .map(|k| node.cw20_balance(&suite.token, &k.address))
        .collect();
    let stakes: Vec<u128> = keys
        .iter()
        .map(|k| stake(&node, &suite, &k.address))
        .collect();

    // Stale hyperparameters: refused at delivery, the stake untouched.
    let first = round(&node, 0);
    let dataset = current_dataset(&node.rpc);
    let msg = MsgSubmitUpdate {
        trainer: keys[0].address.clone(),
        model_id: MODEL.into(),
        base_version: 0,
        dataset_version: dataset.version,
        nonce: 0,
        weights: head(&node.rpc).1,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: vec![7; 32],
        dataset_root: dataset.root,
        round: first.number,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let refused = node.submit(&keys[0], vec![any(&msg)], 30_000_000);
    assert_eq!(refused.code, um_client::codes::Code::InvalidRequest.value());
    assert!(refused.log.contains("hyperparameters"), "{}", refused.log);
    assert_eq!(stake(&node, &suite, &keys[0].address), stakes[0]);

    // Bob serves his checkpoints; the others send them in the tx.
    let trainers: Vec<_> = ["alice", "bob", "carol"]
        .iter()
        .map(|name| {
            let serving: &[&str] = match *name {
                "bob" => &["--checkpoint-listen", "127.0.0.1:0"],
                _ => &[],
            };
            Command::new(trainer_binary())
                .args(["train", "--node", node.rpc.url(), "--home"])
                .arg(&node.home)
                .args(["--key", name, "--model", MODEL, "--updates"])
                .arg(CONTRIBUTIONS.to_string())
                .args(serving)
                .env("UMD_KEYRING_BACKEND", "test")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for trainer in trainers {
        let output = trainer.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "um-trainer train failed:\n{}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            node.logs()
        );
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    }

    // Every closed round: what it merged and what it made.
    let current = round(&node, 0);
    let mut merged_all_three = 0;
    let mut contributors = std::collections::BTreeSet::new();
    for number in 1..current.number {
        let closed = round(&node, number);
        assert_eq!(closed.status, RoundStatus::Closed as i32, "round {number}");
        let mut shards = closed.shards.clone();
        shards.sort_unstable();
        shards.dedup();
        assert_eq!(
            shards.len(),
            closed.shards.len(),
            "one contribution per shard"
        );
        for id in &closed.contributions {
            let contribution = update(&node.rpc, *id);
            // um-trainer claims its shard before it trains it.
            assert!(
                closed
                    .claims
                    .iter()
                    .any(|c| c.shard == contribution.shard && c.trainer == contribution.trainer),
                "round {number}: {:?} has no claim for {contribution:?}",
                closed.claims
            );
            assert_eq!(
                contribution.checkpoint_source.is_empty(),
                contribution.trainer != keys[1].address,
                "only bob's checkpoints are served: {contribution:?}"
            );
        }
        if closed.outcome == "MERGED" {
            let candidate = update(&node.rpc, closed.candidate_update_id);
            for id in &candidate.contributions {
                contributors.insert(update(&node.rpc, *id).trainer);
            }
            if candidate.contributions.len() == 3 {
                merged_all_three += 1;
            }
        }
        eprintln!(
            "round {number}: {} contributions, outcome {}, version {}",
            closed.contributions.len(),
            closed.outcome,
            closed.version
        );
    }
    assert!(merged_all_three >= 1, "no round merged all three trainers");
    assert_eq!(contributors.len(), 3);

    // The head's held-out loss never rose, version after version.
    let versions: QueryVersionsResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Versions",
            &QueryVersionsRequest {
                prove: false,
                model_id: MODEL.into(),
                pagination: None,
            },
        )
        .unwrap();
    let mut losses = Vec::new();
    for version in versions.versions.iter().rev() {
        let weights: um_proto::um::training::v1::QueryWeightsResponse = node
            .rpc
            .query_proto(
                "/um.training.v1.Query/Weights",
                &um_proto::um::training::v1::QueryWeightsRequest {
                    length: Default::default(),
                    offset: Default::default(),
                    weights_sha256: version.weights_sha256.clone(),
                },
            )
            .unwrap();
        losses.push((
            version.version,
            validation_loss(&node, &verifier, weights.weights),
        ));
    }
    eprintln!("held-out loss by version: {losses:?}");
    assert!(losses.len() >= 2, "{losses:?}");
    for pair in losses.windows(2) {
        assert!(pair[1].1 < pair[0].1, "the loss rose: {losses:?}");
    }

    // Each trainer earned a share of a merge, kept its stake.
    for (i, key) in keys.iter().enumerate() {
        let now = node.cw20_balance(&suite.token, &key.address);
        let fees = node.fees_paid_on_chain(&key.address);
        assert!(now + fees > before[i], "{} earned nothing", key.name);
        assert_eq!(stake(&node, &suite, &key.address), stakes[i]);
    }
}

/// Issue 16, sampled verification: contributions commit a checkpoint after
/// each of their 5 steps, and the validator re-executes 2 of the 5
/// segments, drawn with the hash of the block that delivered them. A
/// trainer whose last segment is faked (honest checkpoints, final weights
/// moved) gets through when the sample misses it (each time with
/// probability 3/5 here) and is caught when it does not: the dispute makes
/// the validator re-execute that segment, and the trainer is slashed. The
/// merges the misses made still had to beat the head.
#[test]
fn a_faked_segment_is_caught_by_the_sampling_and_slashed_after_the_dispute() {
    const ATTEMPTS: usize = 16;
    let rounds = json!({
        "max_contributions": 1,
        "round_blocks": 5,
        "outer_learning_rate": "1",
        "eval_samples": 0,
        "checkpoint_interval": 1,
        "segments_per_validator": 2,
    });
    let (node, keys, suite, verifier) = started_with_verifier_and(&["mallory"], 60, Some(rounds));
    let mallory = &keys[0];
    let stake_before = stake(&node, &suite, &mallory.address);
    let mut escapes = 0;
    let mut caught = None;
    for attempt in 0..ATTEMPTS {
        let open = next_open_round(&node);
        let (weights, checkpoints) = train_remotely_with(
            &node.rpc,
            &verifier.endpoint,
            mallory,
            0,
            Some(only_shard(&open)),
            1,
        );
        assert_eq!(
            checkpoints.len(),
            4,
            "5 steps, a checkpoint after each but the last"
        );
        let dataset = current_dataset(&node.rpc);
        let msg = MsgSubmitUpdate {
            trainer: mallory.address.clone(),
            model_id: MODEL.into(),
            base_version: open.base_version,
            dataset_version: dataset.version,
            nonce: 0,
            weights: tampered(&weights),
            claimed_train_loss: 1.0,
            claimed_validation_loss: 1.0,
            hyperparams_sha256: hyperparams_sha256(&node.rpc),
            dataset_root: dataset.root,
            round: open.number,
            shard: 0,
            checkpoints,
            checkpoint_hashes: Vec::new(),
            checkpoint_source: String::new(),
        };
        let result = node.submit(mallory, vec![any(&msg)], 60_000_000);
        assert_eq!(result.code, 0, "{}", result.log);
        let decided = wait_decided(&node.rpc, update_id(&result), || node.logs());
        if decided.slashed {
            caught = Some((attempt, decided));
            break;
        }
        escapes += 1;
        assert_eq!(decided.status, UpdateStatus::Verified as i32, "{decided:?}");
        // Let the round finish before the next attempt.
        wait_round_closed(&node, open.number);
    }
    let (attempt, decided) = caught.unwrap_or_else(|| {
        panic!("{ATTEMPTS} faked contributions, none caught (chance 0.6^{ATTEMPTS})")
    });
    assert_eq!(decided.status, UpdateStatus::Rejected as i32);
    assert_eq!(decided.reason, "VERDICT_REASON_WEIGHTS_MISMATCH");
    assert_eq!(
        decided.disputed_segment,
        Some(4),
        "the last segment is the faked one"
    );
    let verdicts: um_proto::um::training::v1::QueryUpdateResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Update",
            &um_proto::um::training::v1::QueryUpdateRequest {
                prove: false,
                update_id: decided.id,
            },
        )
        .unwrap();
    assert!(verdicts
        .verdicts
        .iter()
        .all(|v| v.segments_checked.contains(&4) && v.failed_segment == Some(4)));
    assert_eq!(stake(&node, &suite, &mallory.address), stake_before / 2);
    eprintln!("faked last segment: {escapes} escaped the sample, caught at attempt {attempt}");
}

/// Issue 16: checkpoints too large for a tx stay with their trainer, which
/// serves them (`checkpoint_source`) while its round lasts. The validator
/// fetches the ones its sample needs and verifies the contribution by them;
/// a trainer that does not serve them is disputed and rejected, unslashed.
/// A tx that mixes both forms, names a source that is more than
/// `http://host:port` (a path on the validator's own CometBFT RPC, say) or a
/// hash that is not 32 bytes is refused.
#[test]
fn served_checkpoints_are_fetched_for_the_sample_and_withheld_ones_reject_unslashed() {
    use um_client::checkpoints::CheckpointServer;
    let rounds = json!({
        "max_contributions": 1,
        "round_blocks": 5,
        "outer_learning_rate": "1",
        "eval_samples": 0,
        "checkpoint_interval": 1,
        "segments_per_validator": 2,
    });
    let (node, keys, suite, verifier) = started_with_verifier_and(&["carol"], 60, Some(rounds));
    let carol = &keys[0];
    let stake_before = stake(&node, &suite, &carol.address);
    let server = CheckpointServer::start("127.0.0.1:0").unwrap();
    let source = format!("http://{}", server.local_addr());
    let contribution = |open: &um_proto::um::training::v1::Round, served: bool| {
        let (weights, checkpoints) = train_remotely_with(
            &node.rpc,
            &verifier.endpoint,
            carol,
            0,
            Some(only_shard(open)),
            1,
        );
        let hashes: Vec<Vec<u8>> = checkpoints
            .into_iter()
            .map(|bytes| match served {
                true => server.put(open.number, bytes).to_vec(),
                false => <sha2::Sha256 as sha2::Digest>::digest(&bytes).to_vec(),
            })
            .collect();
        let dataset = current_dataset(&node.rpc);
        MsgSubmitUpdate {
            trainer: carol.address.clone(),
            model_id: MODEL.into(),
            base_version: open.base_version,
            dataset_version: dataset.version,
            nonce: 0,
            weights,
            claimed_train_loss: 1.0,
            claimed_validation_loss: 1.0,
            hyperparams_sha256: hyperparams_sha256(&node.rpc),
            dataset_root: dataset.root,
            round: open.number,
            shard: 0,
            checkpoints: Vec::new(),
            checkpoint_hashes: hashes,
            checkpoint_source: source.clone(),
        }
    };

    let open = next_open_round(&node);
    let msg = contribution(&open, true);
    assert_eq!(msg.checkpoint_hashes.len(), 4, "5 steps, 4 checkpoints");
    let mut both = msg.clone();
    both.checkpoints = vec![b"inline too".to_vec(); 4];
    let mut path = msg.clone();
    path.checkpoint_source = format!("{source}/unsafe_flush_mempool?");
    let mut short = msg.clone();
    short.checkpoint_hashes[2].truncate(31);
    for (bad, says) in [
        (both, "not both"),
        (path, "host:port"),
        (short, "has 31 bytes, not 32"),
    ] {
        let refused = node.submit(carol, vec![any(&bad)], 60_000_000);
        assert_ne!(refused.code, 0, "{says}");
        assert!(refused.log.contains(says), "{}", refused.log);
    }
    let result = node.submit(carol, vec![any(&msg)], 60_000_000);
    assert_eq!(result.code, 0, "{}", result.log);
    let served = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(served.status, UpdateStatus::Verified as i32, "{served:?}");
    assert_eq!(served.checkpoint_source, source);
    let verdicts = verdicts_on(&node, served.id);
    assert!(
        verdicts
            .iter()
            .all(|v| v.accept && v.segments_checked.len() == 2),
        "{verdicts:?}"
    );
    wait_round_closed(&node, open.number);

    // Committed to, never served.
    let open = next_open_round(&node);
    let msg = contribution(&open, false);
    let result = node.submit(carol, vec![any(&msg)], 60_000_000);
    assert_eq!(result.code, 0, "{}", result.log);
    let withheld = wait_decided(&node.rpc, update_id(&result), || node.logs());
    assert_eq!(
        withheld.status,
        UpdateStatus::Rejected as i32,
        "{withheld:?}"
    );
    assert_eq!(withheld.reason, "VERDICT_REASON_CHECKPOINT_UNAVAILABLE");
    assert!(!withheld.slashed);
    let disputed = withheld.disputed_segment.expect("a dispute on the segment");
    let verdicts = verdicts_on(&node, withheld.id);
    assert!(
        verdicts
            .iter()
            .all(|v| !v.accept && v.failed_segment == Some(disputed) && v.detail.contains("404")),
        "{verdicts:?}"
    );
    assert_eq!(stake(&node, &suite, &carol.address), stake_before);
}

/// What the proxy in front of umd's REST gateway lies about.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lie {
    Nothing,
    /// The version's held-out loss in the JSON answer.
    AnswerField,
    /// The version record inside its existence proof (and the answer to
    /// match): a node inventing a better loss.
    ProvenValue,
    /// The proof's height: a proof for another height.
    ProofHeight,
    /// One byte of the downloaded weights.
    WeightsByte,
}

/// An HTTP proxy to `upstream` that alters answers in flight per [`Lie`].
struct LyingRest {
    url: String,
    lie: std::sync::Arc<std::sync::Mutex<Lie>>,
}

impl LyingRest {
    fn start(upstream: String) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let lie = std::sync::Arc::new(std::sync::Mutex::new(Lie::Nothing));
        let current = lie.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let lie = *current.lock().unwrap();
                let _ = Self::serve(stream, &upstream, lie);
            }
        });
        Self { url, lie }
    }

    fn set(&self, lie: Lie) {
        *self.lie.lock().unwrap() = lie;
    }

    fn serve(mut stream: std::net::TcpStream, upstream: &str, lie: Lie) -> std::io::Result<()> {
        use std::io::{BufRead, Read, Write};
        let mut reader = std::io::BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let response = match ureq::get(&format!("{upstream}{path}")).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(err) => panic!("upstream: {err}"),
        };
        let status = response.status();
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body)?;
        let body = tell(lie, path, body);
        write!(
            stream,
            "HTTP/1.1 {status} Lie\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        stream.write_all(&body)
    }
}

/// `body` of the answer to `path`, altered by `lie`.
fn tell(lie: Lie, path: &str, mut body: Vec<u8>) -> Vec<u8> {
    use base64::Engine;
    use prost::Message;
    let b64 = base64::engine::general_purpose::STANDARD;
    if path.contains("/weights") {
        if lie == Lie::WeightsByte {
            body[100] ^= 1;
        }
        return body;
    }
    let Ok(mut json) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    match lie {
        Lie::Nothing | Lie::WeightsByte => return body,
        Lie::AnswerField => json["version"]["validation_loss"] = json!(0.001),
        Lie::ProofHeight => {
            let height: u64 = json["proof"]["height"].as_str().unwrap().parse().unwrap();
            json["proof"]["height"] = json!((height - 1).to_string());
        }
        Lie::ProvenValue => {
            json["version"]["validation_loss"] = json!(0.001);
            for op in json["proof"]["ops"].as_array_mut().unwrap() {
                let key = b64.decode(op["key"].as_str().unwrap()).unwrap();
                if !key.starts_with(b"training/version/") {
                    continue;
                }
                let data = b64.decode(op["data"].as_str().unwrap()).unwrap();
                let mut proof = ics23::CommitmentProof::decode(data.as_slice()).unwrap();
                if let Some(ics23::commitment_proof::Proof::Exist(existence)) = &mut proof.proof {
                    let mut version = um_proto::um::training::v1::ModelVersion::decode(
                        existence.value.as_slice(),
                    )
                    .unwrap();
                    version.validation_loss = 0.001;
                    existence.value = version.encode_to_vec();
                }
                op["data"] = json!(b64.encode(proof.encode_to_vec()));
            }
        }
    }
    serde_json::to_vec(&json).unwrap()
}

/// `umd query …` with `--verify` from the trusted header `trust`.
fn verify_query(
    node: &TestNode,
    rest: &str,
    trust: &(u64, String),
    args: &[&str],
) -> (bool, String, String) {
    let output = Command::new(umd_binary())
        .arg("query")
        .args(args)
        .args(["--verify", "--rest", rest, "--node", node.rpc.url()])
        .args([
            "--trust-height",
            &trust.0.to_string(),
            "--trust-hash",
            &trust.1,
        ])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Issue 18: a version of a lineage read over REST is checked on the
/// user's side (light client from a trusted header, ICS23 proofs, the query
/// re-run over the proven keys, the weights against the proven hash); a
/// node lying in its REST answers is caught whatever it alters, and a
/// version that does not exist is proven absent.
#[test]
fn a_version_read_over_rest_is_light_client_verified_and_a_lying_node_is_caught() {
    let (mut node, _keys, _suite, verifier) = started_with_verifier(&["alice"], 30);
    let rest = format!("127.0.0.1:{}", free_port());
    node.stop();
    node.start_with(&["--verifier", &verifier.endpoint, "--api-address", &rest]);
    run_trainer(&node, "alice", 1);
    let proxy = LyingRest::start(format!("http://{rest}"));
    let block = node.rpc.call("block", json!({"height": "2"})).unwrap();
    let trust = (2, block["block_id"]["hash"].as_str().unwrap().to_string());

    let (ok, stdout, stderr) = verify_query(
        &node,
        &proxy.url,
        &trust,
        &["training", "version", MODEL, "1"],
    );
    assert!(ok, "{stdout}\n{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["version"]["version"], "1");
    assert!(
        stderr.contains("verified: the state after block"),
        "{stderr}"
    );

    // The whole history, page by page, each page proven.
    let (ok, stdout, stderr) =
        verify_query(&node, &proxy.url, &trust, &["training", "versions", MODEL]);
    assert!(ok, "{stdout}\n{stderr}");
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "versions 0 and 1:\n{stdout}");
    assert!(rows[1].trim_start().starts_with("1 "), "{stdout}");
    assert!(
        stderr.contains("verified: the state after block"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("v1.safetensors");
    let weights_args = [
        "training",
        "weights",
        MODEL,
        "--version",
        "1",
        "--output",
        saved.to_str().unwrap(),
    ];
    let (ok, stdout, stderr) = verify_query(&node, &proxy.url, &trust, &weights_args);
    assert!(ok, "{stdout}\n{stderr}");
    let sha = um_app::training::records::sha256(&std::fs::read(&saved).unwrap());
    assert_eq!(
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sha),
        answer["version"]["weights_sha256"].as_str().unwrap()
    );

    let (ok, stdout, stderr) = verify_query(
        &node,
        &proxy.url,
        &trust,
        &["training", "version", MODEL, "999"],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.starts_with("proven absent:"), "{stdout}");

    for (lie, args, caught) in [
        (
            Lie::AnswerField,
            &["training", "version", MODEL, "1"][..],
            "not what its proven state says",
        ),
        (
            Lie::ProvenValue,
            &["training", "version", MODEL, "1"][..],
            "does not verify against the app hash",
        ),
        (
            Lie::ProofHeight,
            &["training", "version", MODEL, "1"][..],
            "does not verify against the app hash",
        ),
        (Lie::WeightsByte, &weights_args[..], "not to the proven"),
    ] {
        proxy.set(lie);
        let (ok, stdout, stderr) = verify_query(&node, &proxy.url, &trust, args);
        assert!(!ok, "{lie:?} was not caught:\n{stdout}");
        assert!(stderr.contains(caught), "{lie:?}: {stderr}");
    }

    // A trusted hash that is not the chain's header at that height.
    proxy.set(Lie::Nothing);
    let forged = (2, "AB".repeat(32));
    let (ok, _, stderr) = verify_query(
        &node,
        &proxy.url,
        &forged,
        &["training", "version", MODEL, "1"],
    );
    assert!(!ok);
    assert!(stderr.contains("not the trusted"), "{stderr}");
}

// ------------------------------------------------------------ issue 19

const LM: &str = "shakespeare-gpt";
const LM_SPEC: &str =
    r#"{"kind":"gpt","vocab":256,"block_size":64,"layers":2,"heads":4,"embed":64}"#;

fn lm_dataset(node: &TestNode) -> um_proto::um::dataset::v1::Dataset {
    use um_proto::um::dataset::v1::{QueryDatasetRequest, QueryDatasetResponse};
    let resp: QueryDatasetResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Dataset",
            &QueryDatasetRequest {
                dataset_id: "shakespeare".into(),
                version: None,
            },
        )
        .unwrap();
    resp.dataset.unwrap()
}

/// A contribution to the LM's current open round, from `key`, of `payload`.
fn submit_lm_contribution(node: &TestNode, key: &Key, shard: u32, payload: Vec<u8>) -> TxResult {
    let open = round_of(node, LM, 0);
    let dataset = lm_dataset(node);
    let lineage: um_proto::um::training::v1::QueryLineageResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Lineage",
            &um_proto::um::training::v1::QueryLineageRequest {
                prove: false,
                model_id: LM.into(),
            },
        )
        .unwrap();
    let msg = MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: LM.into(),
        base_version: open.base_version,
        dataset_version: dataset.version,
        nonce: 0,
        weights: payload,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: lineage.lineage.unwrap().hyperparams.unwrap().sha256(),
        dataset_root: dataset.root,
        round: open.number,
        shard,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    node.submit(key, vec![any(&msg)], 60_000_000)
}

/// Issue 19: a byte-level transformer lineage on the works of Shakespeare,
/// created by the DAO with its dataset named and its rounds set to send
/// top-k compressed contributions. A payload of full weights is refused at
/// delivery as fraud anyone can see; a well-formed payload that decodes to
/// something else than its shard's work is caught by the validator's
/// re-execution; both are slashed. Two honest trainers then train it with
/// compressed contributions, each version verified, merged and better on
/// the held-out text than the one before.
#[test]
fn a_language_lineage_created_by_the_dao_trains_on_compressed_contributions() {
    use um_formats::compress::{Compression, Encoder};
    use um_proto::um::training::v1::QueryVersionsRequest;

    let texts = workspace_root().join("data/shakespeare");
    // All of it: a limit keeps the records of the lowest hashes, which are
    // the validation split's.
    let mut node = TestNode::init_with(&["--dataset", &format!("shakespeare={}", texts.display())]);
    let names = ["alice", "bob", "mallory", "trudy"];
    let keys: Vec<Key> = names.iter().map(|name| node.new_key(name)).collect();
    // Alice holds most of the stake: her vote alone passes a proposal.
    let bonds = [1_000 * NRN, 100 * NRN, 100 * NRN, 100 * NRN];
    let (mut genesis, suite) = governed_genesis(&node, &keys, 2_000 * NRN, &bonds);
    genesis["app_state"]["training"] = json!({"params": {"expiry_blocks": 60}});
    node.set_genesis(&genesis);
    node.start();
    let verifier = Verifier::start(&node);
    node.stop();
    let api = format!("127.0.0.1:{}", free_port());
    node.start_with(&[
        "--verifier",
        &verifier.endpoint,
        "--api-address",
        &api,
        "--grpc-address",
        "off",
    ]);
    let dataset = lm_dataset(&node);
    assert_eq!(dataset.num_classes, 256, "text records: a byte per class");
    eprintln!(
        "shakespeare: {} text records, {} for training, {} held out",
        dataset.record_count, dataset.train_count, dataset.validation_count
    );
    assert!(dataset.train_count > 5_000 && dataset.validation_count > 500);

    // The DAO creates the lineage on the text dataset, then sets its rounds.
    let alice = &keys[0];
    let create = json!({"new_model_lineage": {
        "model_id": LM,
        "spec": LM_SPEC,
        "dataset_id": "shakespeare",
        "hyperparams": {
            "learning_rate": "0.5", "batch_size": 4, "local_steps": 8,
            "verification_tolerance": "0.0001", "min_improvement": "0",
            "reward_per_update": "1000000", "reward_halving_interval": 0,
        },
    }});
    pass_proposal_with_gas(
        &node,
        &suite,
        alice,
        "a language model",
        &create,
        40_000_000,
    );
    let rounds = json!({"set_round_params": {"model_id": LM, "rounds": {
        "max_contributions": 2, "round_blocks": 60, "outer_learning_rate": "1",
        "eval_samples": 0, "compression": "topk",
    }}});
    pass_proposal(&node, &suite, alice, "compressed rounds", &rounds);
    let opened = round_of(&node, LM, 0);
    assert_eq!(opened.params.as_ref().unwrap().compression, "topk");
    let spec = ModelSpec::parse(LM_SPEC).unwrap();
    let (mallory, trudy) = (&keys[2], &keys[3]);
    let stakes = (
        stake(&node, &suite, &mallory.address),
        stake(&node, &suite, &trudy.address),
    );

    // Full f32 weights where the round takes a payload: fraud at delivery.
    let full = Weights::init(&spec, 3).encode();
    let result = submit_lm_contribution(&node, trudy, 0, full);
    assert_eq!(result.code, 0, "{}", result.log);
    let refused = update(&node.rpc, update_id(&result));
    assert_eq!(refused.status, UpdateStatus::Rejected as i32);
    assert_eq!(refused.reason, "VERDICT_REASON_MALFORMED_WEIGHTS");
    // A well-formed payload of some other delta than the shard's work.
    let unrelated: Vec<Vec<f32>> = Weights::init(&spec, 99)
        .tensors
        .into_iter()
        .map(|t| t.data.into_iter().map(|x| x / 100.0).collect())
        .collect();
    let lie = Encoder::new(Compression::TopK).encode(&unrelated).unwrap();
    assert_eq!(lie.len() as u64, Compression::TopK.payload_len(&spec));
    let result = submit_lm_contribution(&node, mallory, 1, lie);
    assert_eq!(result.code, 0, "{}", result.log);
    let caught = wait_decided(&node.rpc, update_id(&result), || node.logs());
    let verifier_log =
        || std::fs::read_to_string(node.home.join("verifier.log")).unwrap_or_default();
    assert_eq!(
        caught.status,
        UpdateStatus::Rejected as i32,
        "{caught:?}\n{}",
        verifier_log()
    );
    assert_eq!(
        caught.reason, "VERDICT_REASON_WEIGHTS_MISMATCH",
        "{caught:?}"
    );
    assert!(caught.slashed);
    assert_eq!(stake(&node, &suite, &mallory.address), stakes.0 / 2);
    assert_eq!(stake(&node, &suite, &trudy.address), stakes.1 / 2);

    // Two honest trainers, compressed contributions.
    let trainers: Vec<_> = ["alice", "bob"]
        .iter()
        .map(|name| {
            Command::new(trainer_binary())
                .args(["train", "--node", node.rpc.url(), "--home"])
                .arg(&node.home)
                .args(["--key", name, "--model", LM, "--updates", "3"])
                .env("UMD_KEYRING_BACKEND", "test")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut logs = String::new();
    for trainer in trainers {
        let output = trainer.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "um-trainer train failed:\n{out}\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            node.logs()
        );
        logs.push_str(&out);
    }
    eprintln!("{logs}");
    let payload = Compression::TopK.payload_len(&spec);
    assert!(
        logs.contains(&format!("sent as topk ({payload} bytes)")),
        "{logs}"
    );
    let full_size = 4 * spec.parameter_count();
    eprintln!("a contribution: {payload} bytes compressed, {full_size} bytes of f32 weights");

    // Every version after 0 merged compressed contributions and lowered
    // the held-out loss (nats per byte) the validators measured, all on
    // the whole held-out split (eval_samples 0): with a subset, each
    // version is measured on its own draw and the numbers do not compare.
    let versions: QueryVersionsResponse = node
        .rpc
        .query_proto(
            "/um.training.v1.Query/Versions",
            &QueryVersionsRequest {
                prove: false,
                model_id: LM.into(),
                pagination: None,
            },
        )
        .unwrap();
    let mut history: Vec<(u64, f32)> = versions
        .versions
        .iter()
        .map(|v| (v.version, v.validation_loss))
        .collect();
    history.sort_by_key(|(v, _)| *v);
    eprintln!("held-out loss by version: {history:?}");
    assert!(history.len() >= 3, "{history:?}");
    for pair in history[1..].windows(2) {
        assert!(pair[1].1 < pair[0].1, "the loss rose: {history:?}");
    }
    assert!(history[1].1 < 256f32.ln(), "{history:?}");
    let mut merged_trainers = std::collections::BTreeMap::<String, u64>::new();
    for version in &versions.versions {
        for id in &version.update_ids {
            let contribution = update(&node.rpc, *id);
            assert_eq!(contribution.weights_size, payload, "{contribution:?}");
            *merged_trainers.entry(contribution.trainer).or_default() += 1;
        }
    }
    assert_eq!(merged_trainers.keys().cloned().collect::<Vec<_>>(), {
        let mut honest = vec![keys[0].address.clone(), keys[1].address.clone()];
        honest.sort();
        honest
    });
    the_leaderboard_ranks_the_run(&node, &api, &keys, &merged_trainers);

    // Anyone can use it: the head's weights, hash-checked, continue a prompt.
    let sample = |extra: &[&str]| {
        Command::new(trainer_binary())
            .args(["sample", "--node", node.rpc.url(), "--model", LM])
            .args(["--prompt", "HAMLET.\n", "--tokens", "60"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let head_version = history.last().unwrap().0;
    let output = sample(&[]);
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{out}\n{err}");
    eprintln!("{err}{out}");
    assert!(out.starts_with("HAMLET.\n"), "{out}");
    assert!(out.len() > "HAMLET.\n".len() + 30, "{out}");
    assert!(err.contains(&format!("{LM} v{head_version} ")), "{err}");
    let output = sample(&["--version", "999"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("version 999"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    the_head_writes_over_rest_and_on_the_dashboard(&node, &api, head_version);
    drop(verifier);
}

/// Issue 20's karma: the leaderboard (REST and `umd query karma`) ranks
/// the two honest trainers by their merged contributions, each credited
/// with exactly those; the two slashed trainers carry a slash each and a
/// score of 0, below them.
fn the_leaderboard_ranks_the_run(
    node: &TestNode,
    api: &str,
    keys: &[Key],
    merged: &std::collections::BTreeMap<String, u64>,
) {
    let board: Value = ureq::get(&format!("http://{api}/um/karma/v1/leaderboard"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    eprintln!("karma leaderboard: {board}");
    let entries = board["entries"].as_array().unwrap();
    let number = |v: &Value| v.as_str().unwrap_or("0").parse::<u64>().unwrap();
    let position = |address: &str| {
        entries
            .iter()
            .position(|e| e["address"] == address)
            .unwrap_or_else(|| panic!("{address} is not on the leaderboard: {board}"))
    };
    for (address, count) in merged {
        let entry = &entries[position(address)];
        assert_eq!(
            number(&entry["contributions"]["round_contributions"]),
            *count,
            "{entry}"
        );
        assert!(number(&entry["score"]) >= 5 * count, "{entry}");
        assert!(
            entry["badges"]
                .as_array()
                .unwrap()
                .contains(&json!("first-version")),
            "{entry}"
        );
    }
    // More merged contributions first; equal ones by ascending address.
    let mut honest: Vec<(&String, u64)> = merged.iter().map(|(a, n)| (a, *n)).collect();
    honest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (first, second) = (honest[0].0, honest[1].0);
    assert!(
        position(first) < position(second),
        "ranked by accepted work: {board}"
    );
    for slashed in [&keys[2].address, &keys[3].address] {
        let entry = &entries[position(slashed)];
        assert_eq!(number(&entry["contributions"]["slashes"]), 1, "{entry}");
        assert_eq!(number(&entry["score"]), 0, "{entry}");
        assert!(position(slashed) > position(second), "{board}");
    }
    let account: Value = ureq::get(&format!("http://{api}/um/karma/v1/accounts/{first}"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(account["rank"], "1", "{account}");
    let output = Command::new(umd_binary())
        .args(["query", "karma", "leaderboard", "--node", node.rpc.url()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    eprintln!("{table}");
    let first_row = table.lines().nth(1).unwrap_or_default();
    assert!(first_row.contains(first.as_str()), "{table}");
}

/// Issues 19 and 20: the language head answers REST predictions (through
/// the validator's um-trainer serve) with the text `um-trainer predict`
/// and `um-trainer sample` write locally from the same weights, and the
/// dashboard shows a sample from the head.
fn the_head_writes_over_rest_and_on_the_dashboard(node: &TestNode, api: &str, head: u64) {
    let prompt = "HAMLET.\n";
    let answer: Value = ureq::post(&format!("http://{api}/um/training/v1/models/{LM}/predict"))
        .send_json(json!({"prompt": prompt, "tokens": 60, "temperature": 0}))
        .unwrap()
        .into_json()
        .unwrap();
    eprintln!("REST predict: {answer}");
    assert_eq!(answer["version"], head.to_string(), "{answer}");
    let text = answer["text"].as_str().unwrap();
    assert!(text.chars().count() >= 30, "{answer}");
    let local = |command: &str, extra: &[&str]| {
        let output = Command::new(trainer_binary())
            .args([command, "--node", node.rpc.url(), "--model", LM])
            .args(extra)
            .args(["--tokens", "60", "--temperature", "0"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{command}: {out}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    };
    let predicted = local("predict", &[prompt]);
    let sampled = local("sample", &["--prompt", prompt]);
    assert_eq!(predicted, sampled);
    assert_eq!(
        predicted.trim_end_matches('\n'),
        format!("{prompt}{text}").trim_end_matches('\n')
    );
    // An image for a language lineage is refused, clearly.
    let refused = ureq::post(&format!("http://{api}/um/training/v1/models/{LM}/predict"))
        .send_json(json!({"image": vec![0; 784]}));
    let response = match refused {
        Err(ureq::Error::Status(400, response)) => response,
        other => panic!("an image for a language model: {other:?}"),
    };
    let error: Value = response.into_json().unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("language model"),
        "{error}"
    );

    let artifacts = workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("dashboard-lm.png");
    let mut browser = support::browser::Browser::open(
        &format!("http://{api}/"),
        &screenshot,
        node.home.join("dashboard-mjs.log"),
        &[("SAMPLE_MODEL", std::path::Path::new(LM))],
    );
    browser.next("loaded");
    let shown = browser.next("sample");
    eprintln!("dashboard sample: {shown}");
    assert_eq!(shown["model"], LM);
    assert_eq!(shown["version"], head.to_string(), "{shown}");
    assert!(
        shown["text"].as_str().unwrap().chars().count() >= 100,
        "{shown}"
    );
    assert!(
        shown["caption"]
            .as_str()
            .unwrap()
            .contains(&format!("version {head}")),
        "{shown}"
    );
    browser.finish();
}
