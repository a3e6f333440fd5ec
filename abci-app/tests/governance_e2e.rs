//! Governance end to end on real CometBFT + umd: the suite deployed by txs
//! and at genesis, stake-weighted proposals that change the chain's
//! hyperparameters, refusals of abuse, and validators following stake.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use um_client::rpc::RpcClient;
use um_governance::proposals::{self, VoteOption};
use um_governance::staking::{self, BondRole};
use um_governance::{Chain, DeployConfig, Deployment, GovError};

const NRN: u128 = 1_000_000;

fn hyperparams(batch_size: u32, learning_rate: &str) -> Value {
    json!({
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "local_steps": 4,
        "verification_tolerance": "0.001",
        "min_improvement": "0",
        "reward_per_update": "1000000",
        "reward_halving_interval": 0,
    })
}

fn lineage(rpc: &RpcClient, model_id: &str) -> Option<Value> {
    let request = json!({"model_id": model_id}).to_string();
    let result = rpc
        .abci_query("custom/training/lineage", request.as_bytes())
        .unwrap();
    (result.code == 0).then(|| serde_json::from_slice(&result.value).unwrap())
}

fn wait_blocks(node: &TestNode, blocks: u64) {
    let now = node.rpc.latest_height().unwrap();
    node.rpc
        .wait_for_height(now + blocks, Duration::from_secs(60))
        .unwrap();
}

fn status(node: &TestNode, suite: &Deployment, id: u64) -> String {
    proposals::show(&node.rpc, suite, id).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn tx_code(err: GovError) -> (u32, String) {
    match err {
        GovError::TxFailed { code, log } => (code, log),
        other => panic!("expected a failed tx, got {other}"),
    }
}

#[test]
fn dao_proposals_change_hyperparameters_and_abuse_is_refused() {
    let mut node = TestNode::init();
    let alice = node.new_key("alice");
    // Issue 13, finding 8: without a registrar named at genesis nobody can
    // register a suite by tx (the first one to try would own governance).
    let mut genesis = node.genesis();
    genesis["app_state"]["gov"]["params"]["registrar"] = json!(alice.address);
    node.set_genesis(&genesis);
    node.start();
    let bob = node.new_key("bob");
    let carol = node.new_key("carol");
    let rpc = &node.rpc;
    let as_alice = Chain::new(rpc, &alice).unwrap();
    let as_bob = Chain::new(rpc, &bob).unwrap();
    let as_carol = Chain::new(rpc, &carol).unwrap();

    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.voting_period_blocks = 8;
    config.initial_balances = vec![
        (alice.address.clone(), 1_000 * NRN),
        (bob.address.clone(), 1_000 * NRN),
        (carol.address.clone(), 1_000 * NRN),
    ];
    let suite = um_governance::deploy(&as_alice, &config).unwrap();
    assert_eq!(proposals::registered_suite(rpc).unwrap(), suite);

    staking::bond(&as_alice, &suite, 300 * NRN, &BondRole::Trainer).unwrap();
    staking::bond(&as_bob, &suite, 200 * NRN, &BondRole::Trainer).unwrap();
    wait_blocks(&node, 1);

    let create = json!({"new_model_lineage": {"model_id": "mnist-mlp", "spec": r#"{"kind":"mlp","input":[1,28,28],"hidden":[16],"classes":10}"#,
        "hyperparams": hyperparams(32, "0.1")}});
    let change = json!({"set_hyperparams": {"model_id": "mnist-mlp", "hyperparams": hyperparams(64, "0.05")}});
    let first =
        proposals::propose(&as_alice, &suite, "MNIST MLP", "a first lineage", &create).unwrap();
    let second = proposals::propose(&as_alice, &suite, "bigger batches", "", &change).unwrap();
    for id in [first, second] {
        proposals::vote(&as_alice, &suite, id, VoteOption::Yes).unwrap();
        proposals::vote(&as_bob, &suite, id, VoteOption::Yes).unwrap();
    }
    // Executing before the voting period ends is refused.
    let (code, log) = tx_code(proposals::execute(&as_bob, &suite, first).unwrap_err());
    assert_eq!(code, um_client::codes::Code::ContractError.value());
    assert!(log.to_lowercase().contains("voting"), "{log}");
    // Voting twice is refused.
    let (_, log) = tx_code(proposals::vote(&as_alice, &suite, first, VoteOption::No).unwrap_err());
    assert!(log.to_lowercase().contains("already voted"), "{log}");

    // A third proposal, opened now: stake bonded after it started has no
    // voice, and only a "no" vote comes in, so it fails.
    let reject =
        json!({"set_hyperparams": {"model_id": "mnist-mlp", "hyperparams": hyperparams(8, "0.9")}});
    let third = proposals::propose(&as_bob, &suite, "tiny batches", "", &reject).unwrap();
    staking::bond(&as_carol, &suite, 500 * NRN, &BondRole::Trainer).unwrap();
    let (_, log) = tx_code(proposals::vote(&as_carol, &suite, third, VoteOption::Yes).unwrap_err());
    assert!(log.to_lowercase().contains("voting power"), "{log}");
    proposals::vote(&as_bob, &suite, third, VoteOption::No).unwrap();

    assert!(
        lineage(rpc, "mnist-mlp").is_none(),
        "nothing changes before execution"
    );
    while status(&node, &suite, third) == "open" {
        wait_blocks(&node, 1);
    }
    assert_eq!(status(&node, &suite, first), "passed");
    proposals::execute(&as_carol, &suite, first).unwrap();
    let created = lineage(rpc, "mnist-mlp").expect("lineage created by the DAO");
    assert_eq!(created["hyperparams"]["batch_size"], 32);
    // A new lineage starts at version 0 on the chain's default dataset.
    assert_eq!(created["head_version"], 0);
    assert_eq!(created["dataset_id"], "mnist");
    proposals::execute(&as_carol, &suite, second).unwrap();
    let changed = lineage(rpc, "mnist-mlp").unwrap();
    assert_eq!(changed["hyperparams"]["batch_size"], 64);
    assert_eq!(changed["hyperparams"]["learning_rate"], "0.05");

    // The failed proposal cannot be executed and changes nothing.
    assert_eq!(status(&node, &suite, third), "rejected");
    let (code, _) = tx_code(proposals::execute(&as_alice, &suite, third).unwrap_err());
    assert_ne!(code, 0);
    assert_eq!(lineage(rpc, "mnist-mlp").unwrap(), changed);

    // An account cannot slash: there is no execute path to it.
    let slash = json!({"slash": {"address": bob.address, "fraction": "0.5", "reason": "spite"}});
    let (code, _) = tx_code(as_alice.execute(&suite.staking, &slash).unwrap_err());
    assert_eq!(code, um_client::codes::Code::ContractError.value());
    let bob_stake = um_governance::smart_query(
        rpc,
        &suite.staking,
        &json!({"stake": {"address": bob.address, "height": null}}),
    )
    .unwrap();
    assert_eq!(bob_stake["stake"], (200 * NRN).to_string());

    // A DAO that is not the registered one cannot reach the chain: its
    // passed proposal fails when its chain message is refused.
    let dao_code = code_id_of(rpc, &suite.dao);
    let mut rogue_config = config.clone();
    rogue_config.voting_period_blocks = 3;
    let rogue = Deployment {
        dao: as_alice
            .instantiate(
                dao_code,
                "rogue-dao",
                &rogue_config.dao_msg(&suite.token, &suite.staking),
                None,
            )
            .unwrap(),
        ..suite.clone()
    };
    let id = proposals::propose(&as_alice, &rogue, "rogue", "", &change).unwrap();
    proposals::vote(&as_alice, &rogue, id, VoteOption::Yes).unwrap();
    proposals::vote(&as_bob, &rogue, id, VoteOption::Yes).unwrap();
    while status(&node, &rogue, id) == "open" {
        wait_blocks(&node, 1);
    }
    // The execution settles the proposal as failed (its deposit is not
    // locked forever) and records why.
    proposals::execute(&as_alice, &rogue, id).unwrap();
    let shown = proposals::show(rpc, &rogue, id).unwrap();
    assert_eq!(shown["status"], "execution_failed", "{shown}");
    let why = shown["execution_error"].as_str().unwrap_or_default();
    assert!(why.contains("only the registered DAO"), "{shown}");
    assert_eq!(lineage(rpc, "mnist-mlp").unwrap(), changed);
}

fn code_id_of(rpc: &RpcClient, contract: &str) -> u64 {
    contract_info(rpc, contract).code_id
}

fn contract_info(
    rpc: &RpcClient,
    contract: &str,
) -> cosmos_sdk_proto::cosmwasm::wasm::v1::ContractInfo {
    use cosmos_sdk_proto::cosmwasm::wasm::v1::{
        QueryContractInfoRequest, QueryContractInfoResponse,
    };
    let answer: QueryContractInfoResponse = rpc
        .query_proto(
            "/cosmwasm.wasm.v1.Query/ContractInfo",
            &QueryContractInfoRequest {
                address: contract.to_string(),
            },
        )
        .unwrap();
    answer.contract_info.unwrap()
}

fn validator_keys(rpc: &RpcClient) -> Vec<(String, u64)> {
    let result = rpc.call("validators", json!({})).unwrap();
    result["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["pub_key"]["value"].as_str().unwrap().to_string(),
                v["voting_power"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn wait_for_validators(
    node: &TestNode,
    want: impl Fn(&[(String, u64)]) -> bool,
) -> Vec<(String, u64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let set = validator_keys(&node.rpc);
        if want(&set) {
            return set;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "validator set stuck at {set:?}\n{}",
            node.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn genesis_suite_and_validators_follow_stake() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let mut node = TestNode::init();
    let operator = node.new_key("operator");
    let bob = node.new_key("bob");
    let node_key: Value = serde_json::from_slice(
        &std::fs::read(node.home.join("config/priv_validator_key.json")).unwrap(),
    )
    .unwrap();
    let node_pubkey = node_key["pub_key"]["value"].as_str().unwrap().to_string();

    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = vec![
        (operator.address.clone(), 1_000 * NRN),
        (bob.address.clone(), 100 * NRN),
    ];
    let mut genesis = node.genesis();
    // The node's consensus key lets the operator bond it (issue 13,
    // finding 8), by the CLI an operator runs on the node's host.
    let bond = node.validator_bond(&operator.address, 100 * NRN);
    let BondRole::Validator {
        consensus_pubkey, ..
    } = &bond.role
    else {
        panic!("a validator bond");
    };
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(consensus_pubkey),
        node_pubkey
    );
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &operator.address,
        &[bond],
    )
    .unwrap();
    genesis["app_state"]["gov"]["params"]["epoch_blocks"] = json!(3);
    node.set_genesis(&genesis);
    node.start();

    assert_eq!(proposals::registered_suite(&node.rpc).unwrap(), suite);
    // Issue 13, finding 8: the DAO is the admin of the genesis suite, so
    // the deployer cannot migrate it (the version check inside `migrate`
    // runs in the new code and could not have stopped it).
    for contract in [&suite.token, &suite.staking, &suite.dao] {
        assert_eq!(contract_info(&node.rpc, contract).admin, suite.dao);
    }
    let as_operator = Chain::new(&node.rpc, &operator).unwrap();
    let migrate = cosmos_sdk_proto::cosmwasm::wasm::v1::MsgMigrateContract {
        sender: operator.address.clone(),
        contract: suite.staking.clone(),
        code_id: code_id_of(&node.rpc, &suite.staking),
        msg: b"{}".to_vec(),
    };
    let (code, log) = tx_code(
        as_operator
            .submit(vec![any(&migrate)], 1_000_000)
            .unwrap_err(),
    );
    assert_eq!(code, um_client::codes::Code::NotPermitted.value(), "{log}");
    // At the first epoch the genesis validator's power becomes its stake.
    wait_for_validators(&node, |set| set == [(node_pubkey.clone(), 100)]);

    let new_validator = ed25519_consensus::SigningKey::from([7u8; 32]);
    let new_pubkey = new_validator.verification_key().to_bytes().to_vec();
    let as_bob = Chain::new(&node.rpc, &bob).unwrap();
    let bond_message =
        |operator: &str| um_bindings::staking::validator_bond_message(&as_bob.chain_id, operator);
    // Issue 13, finding 8: a key is squatted no more. Bob cannot bond a
    // key without its signature, nor with one made for another operator;
    // the operator's tokens stay with him.
    let squat = |signature: Vec<u8>| {
        staking::bond(
            &as_bob,
            &suite,
            10 * NRN,
            &BondRole::Validator {
                consensus_pubkey: new_pubkey.clone(),
                consensus_signature: signature,
            },
        )
    };
    let err = squat(Vec::new()).unwrap_err().to_string();
    assert!(err.contains("needs its signature"), "{err}");
    let for_operator = new_validator.sign(&bond_message(&operator.address));
    let err = squat(for_operator.to_bytes().to_vec())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    // Bob paid only the fees of his two refused bonds (5M gas each at
    // 0.025 unrn).
    assert_eq!(
        node.cw20_balance(&suite.token, &bob.address),
        100 * NRN - 2 * 125_000
    );
    let for_bob = new_validator.sign(&bond_message(&bob.address));
    squat(for_bob.to_bytes().to_vec()).unwrap();
    let set = wait_for_validators(&node, |set| set.len() == 2);
    assert!(set.contains(&(b64(&new_pubkey), 10)), "{set:?}");

    staking::unbond(&as_bob, &suite, 10 * NRN).unwrap();
    wait_for_validators(&node, |set| set == [(node_pubkey.clone(), 100)]);

    // Issue 13, finding 8: this genesis names no registrar, so no suite can
    // be registered by tx, by anyone (bob deploys his own, it stays his).
    let err = um_governance::deploy(&as_bob, &config).unwrap_err();
    assert!(err.to_string().contains("named no registrar"), "{err}");
    assert_eq!(proposals::registered_suite(&node.rpc).unwrap(), suite);
    // The chain goes on with the remaining validator.
    wait_blocks(&node, 2);
}
