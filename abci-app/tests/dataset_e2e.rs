//! The dataset module end to end on real CometBFT + umd: a genesis dataset of
//! real MNIST digits served whole and checked against its root, deltas with
//! cw20 deposits decided by DAO proposals, and bad deltas refused.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use um_client::codes::Code;
use um_client::keys::Key;
use um_governance::proposals::{self, VoteOption};
use um_governance::staking::{self, BondRole};
use um_governance::{Chain, DeployConfig, Deployment};
use um_proto::um::common::v1::PageRequest;
use um_proto::um::dataset::v1::{
    Dataset, DatasetDelta, DeltaStatus, MsgProposeDatasetDelta, QueryDatasetRequest,
    QueryDatasetResponse, QueryDatasetVersionsRequest, QueryDatasetVersionsResponse,
    QueryDeltaRequest, QueryDeltaResponse, QueryDeltasRequest, QueryDeltasResponse,
    QueryRecordsRequest, QueryRecordsResponse, Record, Split,
};

const NRN: u128 = 1_000_000;
/// Records of the genesis dataset: the first ones of data/mnist in hash order.
const GENESIS_RECORDS: usize = 2_000;
const DEPOSIT: u128 = 5 * NRN;

/// All MNIST digits of data/mnist, distinct, in hash order.
fn mnist_in_hash_order() -> Vec<um_formats::Record> {
    let records =
        um_formats::dataset::load_mnist_json_dir(workspace_root().join("data/mnist")).unwrap();
    let mut hashed: Vec<_> = records.into_iter().map(|r| (r.hash(), r)).collect();
    hashed.sort_by_key(|(hash, _)| *hash);
    hashed.dedup_by_key(|(hash, _)| *hash);
    hashed.into_iter().map(|(_, r)| r).collect()
}

fn root_of(records: &[um_formats::Record]) -> Vec<u8> {
    um_formats::Dataset::from_records(records.to_vec())
        .root()
        .to_vec()
}

/// The split salt of delta `delta_id` accepted in the block of `height`,
/// as the dataset module documents it, from the block hash CometBFT gives.
fn split_salt_at(node: &TestNode, height: u64, delta_id: u64) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let block = node
        .rpc
        .call("block", json!({"height": height.to_string()}))
        .unwrap();
    let hash = hex::decode(block["block_id"]["hash"].as_str().unwrap()).unwrap();
    let mut hasher = Sha256::new();
    hasher.update(b"um/dataset/split-salt");
    hasher.update(&hash);
    hasher.update(delta_id.to_be_bytes());
    hasher.finalize().to_vec()
}

/// A node whose genesis holds the first 2,000 digits as dataset "mnist",
/// with a 5 NRN minimum deposit, started.
fn start_node() -> TestNode {
    let mnist = workspace_root().join("data/mnist");
    let mut node = TestNode::init_with(&[
        "--dataset",
        &format!("mnist={}", mnist.display()),
        "--dataset-limit",
        &GENESIS_RECORDS.to_string(),
    ]);
    // alice deploys the governance suite by tx: genesis names her registrar.
    let alice = node.new_key("alice");
    let mut genesis = node.genesis();
    genesis["app_state"]["dataset"]["params"]["min_deposit"] = json!(DEPOSIT.to_string());
    genesis["app_state"]["gov"]["params"]["registrar"] = json!(alice.address);
    node.set_genesis(&genesis);
    node.start();
    node
}

fn dataset(node: &TestNode, version: Option<u64>) -> Dataset {
    let answer: QueryDatasetResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Dataset",
            &QueryDatasetRequest {
                dataset_id: "mnist".into(),
                version,
            },
        )
        .unwrap();
    answer.dataset.unwrap()
}

fn delta(node: &TestNode, delta_id: u64) -> DatasetDelta {
    let answer: QueryDeltaResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Delta",
            &QueryDeltaRequest { delta_id },
        )
        .unwrap();
    answer.delta.unwrap()
}

/// Every record of a version through the paginated Records query, each
/// checked against its hash.
fn all_records(node: &TestNode, version: Option<u64>, split: Split) -> Vec<um_formats::Record> {
    let mut out = Vec::new();
    let mut key = Vec::new();
    let mut last: Option<Vec<u8>> = None;
    loop {
        let page: QueryRecordsResponse = node
            .rpc
            .query_proto(
                "/um.dataset.v1.Query/Records",
                &QueryRecordsRequest {
                    dataset_id: "mnist".into(),
                    version,
                    split: split as i32,
                    pagination: Some(PageRequest {
                        key,
                        limit: 700,
                        ..Default::default()
                    }),
                },
            )
            .unwrap();
        for record in page.records {
            assert_ne!(record.split, Split::Unspecified as i32, "a split is named");
            let digit = um_formats::Record {
                label: u8::try_from(record.label).unwrap(),
                pixels: record.pixels.as_slice().try_into().unwrap(),
            };
            assert_eq!(digit.hash().to_vec(), record.hash, "hash is the content's");
            assert!(
                last.as_ref().is_none_or(|l| l < &record.hash),
                "ascending hash order"
            );
            last = Some(record.hash);
            out.push(digit);
        }
        key = page.pagination.unwrap().next_key;
        if key.is_empty() {
            return out;
        }
    }
}

fn record(r: &um_formats::Record) -> Record {
    Record {
        hash: Vec::new(),
        label: u32::from(r.label),
        pixels: r.pixels.to_vec(),
        split: 0,
    }
}

fn propose_msg(
    proposer: &Key,
    dataset_id: &str,
    add: Vec<Record>,
    remove: Vec<Vec<u8>>,
    deposit: u128,
) -> cosmos_sdk_proto::Any {
    any(&MsgProposeDatasetDelta {
        proposer: proposer.address.clone(),
        dataset_id: dataset_id.into(),
        add,
        remove,
        deposit: deposit.to_string(),
    })
}

fn allow_msg(owner: &Key, suite: &Deployment, amount: u128) -> cosmos_sdk_proto::Any {
    execute_msg(
        &owner.address,
        &suite.token,
        json!({"increase_allowance": {"spender": module_address(), "amount": amount.to_string()}}),
    )
}

fn module_address() -> String {
    um_client::address::module_address("dataset")
}

fn deploy_suite(node: &TestNode, deployer: &Key, funded: &[&Key]) -> Deployment {
    let chain = Chain::new(&node.rpc, deployer).unwrap();
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.voting_period_blocks = 6;
    config.initial_balances = funded
        .iter()
        .map(|key| (key.address.clone(), 1_000 * NRN))
        .collect();
    um_governance::deploy(&chain, &config).unwrap()
}

fn umd(node: &TestNode, args: &[&str]) -> String {
    let output = Command::new(umd_binary())
        .args(args)
        .arg("--node")
        .arg(node.rpc.url())
        // TestNode's keys are plain text (see TestNode::keyring).
        .env("UMD_KEYRING_BACKEND", "test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "umd {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn genesis_dataset_is_served_whole_and_bad_deltas_are_refused() {
    let node = start_node();
    let mnist = mnist_in_hash_order();
    let genesis = &mnist[..GENESIS_RECORDS];

    let v0 = dataset(&node, None);
    assert_eq!((v0.version, v0.delta_id, v0.height), (0, 0, 0));
    assert_eq!(v0.record_count, GENESIS_RECORDS as u64);
    assert_eq!((v0.image_rows, v0.image_cols, v0.num_classes), (28, 28, 10));
    assert_eq!(v0.root, root_of(genesis), "root of the same digits");
    let expected = um_formats::Dataset::from_records(genesis.to_vec());
    assert_eq!(v0.validation_count, expected.validation().len() as u64);
    assert_eq!(v0.train_count, expected.train().len() as u64);

    let served = all_records(&node, None, Split::Unspecified);
    assert_eq!(served, genesis, "exactly the genesis digits, in hash order");
    let validation = all_records(&node, Some(0), Split::Validation);
    assert_eq!(validation, expected.validation());
    assert_eq!(all_records(&node, Some(0), Split::Train), expected.train());

    let alice = node.keyring().get("alice").unwrap();
    let dana = node.new_key("dana");
    let suite = deploy_suite(&node, &alice, &[&alice, &dana]);
    let new = record(&mnist[GENESIS_RECORDS]);
    let existing = genesis[10].hash().to_vec();
    let refused = |msgs: Vec<cosmos_sdk_proto::Any>, code: Code, words: &[&str]| {
        let result = node.submit(&dana, msgs, 20_000_000);
        assert_eq!(result.code, code.value(), "{}", result.log);
        assert_eq!(result.codespace, "um");
        for word in words {
            assert!(
                result.log.contains(word),
                "{:?} should say {word:?}",
                result.log
            );
        }
    };
    let mut short = new.clone();
    short.pixels.pop();
    let missing = mnist[GENESIS_RECORDS + 1].hash().to_vec();
    let missing_hex = hex::encode(&missing);
    let module = module_address();
    let cases = [
        (
            propose_msg(&dana, "cifar", vec![new.clone()], vec![], DEPOSIT),
            Code::NotFound,
            vec!["dataset \"cifar\" not found"],
        ),
        (
            propose_msg(&dana, "mnist", vec![], vec![missing.clone()], DEPOSIT),
            Code::RecordNotFound,
            vec!["remove[0]", &missing_hex, "is not in mnist version 0"],
        ),
        (
            propose_msg(&dana, "mnist", vec![record(&genesis[7])], vec![], DEPOSIT),
            Code::DuplicateRecord,
            vec!["add[0]", "already in mnist version 0"],
        ),
        (
            propose_msg(&dana, "mnist", vec![new.clone(), short], vec![], DEPOSIT),
            Code::InvalidRecord,
            vec!["add[1]", "783 pixels", "28x28 = 784"],
        ),
        (
            propose_msg(&dana, "mnist", vec![new.clone()], vec![], DEPOSIT - 1),
            Code::InsufficientDeposit,
            vec!["below the minimum of 5000000"],
        ),
        (
            // Without an allowance the token refuses the transfer_from.
            propose_msg(&dana, "mnist", vec![new.clone()], vec![existing], DEPOSIT),
            Code::ContractError,
            vec!["No allowance", "increase_allowance", &module],
        ),
    ];
    for (msg, code, words) in cases {
        refused(vec![msg], code, &words);
    }
    // A smaller allowance than the deposit is refused the same way, and the
    // allowance given in the failed tx is rolled back with it.
    refused(
        vec![
            allow_msg(&dana, &suite, DEPOSIT - 1),
            propose_msg(&dana, "mnist", vec![new.clone()], vec![], DEPOSIT),
        ],
        Code::ContractError,
        &["message index: 1", "increase_allowance"],
    );
    let allowance = node.smart_query(
        &suite.token,
        json!({"allowance": {"owner": dana.address, "spender": module_address()}}),
    );
    assert_eq!(allowance["allowance"], "0");

    // Nothing was proposed, nothing was paid.
    let deltas: QueryDeltasResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Deltas",
            &QueryDeltasRequest::default(),
        )
        .unwrap();
    assert!(deltas.deltas.is_empty());
    // Only the fees of dana's failed txs.
    assert_eq!(
        node.cw20_balance(&suite.token, &dana.address),
        1_000 * NRN - node.fees_paid(&dana.address)
    );
    assert_eq!(node.cw20_balance(&suite.token, &module_address()), 0);
    assert_eq!(dataset(&node, None), v0);
}

fn status(node: &TestNode, suite: &Deployment, id: u64) -> String {
    proposals::show(&node.rpc, suite, id).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn wait_blocks(node: &TestNode, blocks: u64) {
    let now = node.rpc.latest_height().unwrap();
    node.rpc
        .wait_for_height(now + blocks, Duration::from_secs(60))
        .unwrap();
}

fn write_idx(dir: &Path, records: &[um_formats::Record]) -> (String, String) {
    let (images, labels) = um_formats::dataset::write_idx(records);
    let images_path = dir.join("add-images-idx3-ubyte.gz");
    let labels_path = dir.join("add-labels-idx1-ubyte.gz");
    std::fs::write(&images_path, gzip(&images)).unwrap();
    std::fs::write(&labels_path, gzip(&labels)).unwrap();
    (
        images_path.display().to_string(),
        labels_path.display().to_string(),
    )
}

#[test]
fn the_dao_accepts_and_rejects_deltas_and_deposits_follow() {
    let node = start_node();
    let mnist = mnist_in_hash_order();
    let genesis = &mnist[..GENESIS_RECORDS];
    let home = node.home.display().to_string();
    let alice = node.keyring().get("alice").unwrap();
    let bob = node.new_key("bob");
    let dana = node.new_key("dana");
    let erin = node.new_key("erin");
    let suite = deploy_suite(&node, &alice, &[&alice, &bob, &dana, &erin]);
    let as_alice = Chain::new(&node.rpc, &alice).unwrap();
    let as_bob = Chain::new(&node.rpc, &bob).unwrap();
    staking::bond(&as_alice, &suite, 300 * NRN, &BondRole::Trainer).unwrap();
    staking::bond(&as_bob, &suite, 200 * NRN, &BondRole::Trainer).unwrap();
    let v0 = dataset(&node, None);

    // Delta 1, with the CLI (which puts the allowance in the same tx):
    // twenty new digits, one genesis digit out. Its author ground them
    // (issue 13, finding 7): all twenty would be validation records by
    // their hash alone, so hard or mislabelled ones could be held out to
    // freeze the lineage.
    // (The genesis digits are the lowest hashes, so the author grinds:
    // one corner pixel of each new digit, until its hash qualifies.)
    let ground: Vec<um_formats::Record> = mnist[GENESIS_RECORDS..GENESIS_RECORDS + 20]
        .iter()
        .map(|r| {
            (0..=255u8)
                .map(|corner| {
                    let mut digit = r.clone();
                    digit.pixels[0] = corner;
                    digit
                })
                .find(|digit| um_formats::Record::is_validation_hash(&digit.hash()))
                .expect("one of 256 corners qualifies")
        })
        .collect();
    assert_eq!(ground.len(), 20);
    let added = ground.as_slice();
    let removed = &genesis[0];
    let files = tempfile::tempdir().unwrap();
    let (images, labels) = write_idx(files.path(), added);
    let removed_hex = hex::encode(removed.hash());
    let deposit = DEPOSIT.to_string();
    let out = umd(
        &node,
        &[
            "tx",
            "dataset",
            "propose-delta",
            "--dataset",
            "mnist",
            "--add-idx",
            &images,
            &labels,
            "--remove",
            &removed_hex,
            "--deposit",
            &deposit,
            "--from",
            "dana",
            "--home",
            &home,
        ],
    );
    assert!(out.contains("delta_id: 1"), "{out}");
    node.note_cli_fee(&dana.address, &out);
    // Delta 2, as a plain tx: one more digit.
    let result = node.submit_ok(
        &erin,
        vec![
            allow_msg(&erin, &suite, DEPOSIT),
            propose_msg(
                &erin,
                "mnist",
                vec![record(&mnist[GENESIS_RECORDS + 3])],
                vec![],
                DEPOSIT,
            ),
        ],
    );
    assert_eq!(
        result.event_value("dataset_delta_proposed", "delta_id"),
        Some("2")
    );
    assert_eq!(
        result.event_value("dataset_delta_proposed", "base_version"),
        Some("0")
    );
    for key in [&dana, &erin] {
        assert_eq!(
            node.cw20_balance(&suite.token, &key.address),
            995 * NRN - node.fees_paid(&key.address)
        );
    }
    assert_eq!(
        node.cw20_balance(&suite.token, &module_address()),
        2 * DEPOSIT
    );
    let proposed = delta(&node, 1);
    assert_eq!(proposed.status, DeltaStatus::Proposed as i32);
    assert_eq!(
        (proposed.proposer.as_str(), proposed.base_version),
        (dana.address.as_str(), 0)
    );
    assert_eq!(proposed.add.len(), 20);
    assert_eq!(proposed.remove, vec![removed.hash().to_vec()]);
    assert_eq!(dataset(&node, None), v0, "a proposal changes nothing");

    // The DAO sets the 2017 design's delta reward (0.0001 % of the supply
    // to the proposer), accepts 1 and rejects 2; a fourth proposal would
    // accept 2 too.
    let mut ids = Vec::new();
    for action in [
        json!({"set_reward_params": {"delta_supply_fraction": "0.000001"}}),
        json!({"accept_dataset_delta": {"delta_id": 1}}),
        json!({"reject_dataset_delta": {"delta_id": 2}}),
        json!({"accept_dataset_delta": {"delta_id": 2}}),
    ] {
        let id = proposals::propose(&as_alice, &suite, "dataset delta", "", &action).unwrap();
        proposals::vote(&as_alice, &suite, id, VoteOption::Yes).unwrap();
        proposals::vote(&as_bob, &suite, id, VoteOption::Yes).unwrap();
        ids.push(id);
    }
    while ids.iter().any(|&id| status(&node, &suite, id) == "open") {
        wait_blocks(&node, 1);
    }
    for &id in &ids {
        assert_eq!(status(&node, &suite, id), "passed");
    }
    proposals::execute(&as_bob, &suite, ids[0]).unwrap();
    let supply: u128 = node.smart_query(&suite.token, json!({"token_info": {}}))["total_supply"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    proposals::execute(&as_bob, &suite, ids[1]).unwrap();
    proposals::execute(&as_bob, &suite, ids[2]).unwrap();
    // The fourth proposal's action fails: the proposal is settled as
    // failed, with the chain's reason, and its deposit is not locked.
    proposals::execute(&as_bob, &suite, ids[3]).unwrap();
    let shown = proposals::show(&node.rpc, &suite, ids[3]).unwrap();
    assert_eq!(shown["status"], "execution_failed", "{shown}");
    let why = shown["execution_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("dataset delta 2 was already decided"),
        "{shown}"
    );
    assert!(why.contains("DELTA_STATUS_REJECTED"), "{shown}");

    // Version 1: the genesis digits − the removed one + the twenty added,
    // split by the salt of the block that accepted them, not by their
    // author: about two of the twenty are held out, not twenty.
    let v1 = dataset(&node, None);
    let accepted = delta(&node, 1);
    assert_eq!(
        accepted.split_salt,
        split_salt_at(&node, accepted.decided_height, 1)
    );
    let (held_out, trained_on): (Vec<_>, Vec<_>) = added
        .iter()
        .cloned()
        .partition(|r| um_formats::Record::is_validation_salted(&accepted.split_salt, &r.hash()));
    assert!(
        held_out.len() < 12,
        "{} of the 20 ground digits held out",
        held_out.len()
    );
    let genesis_v1 = um_formats::Dataset::from_records(genesis[1..].to_vec());
    let expected = um_formats::Dataset::from_splits(
        genesis_v1.train().iter().cloned().chain(trained_on),
        genesis_v1
            .validation()
            .iter()
            .cloned()
            .chain(held_out.clone()),
    );
    assert_eq!((v1.version, v1.delta_id), (1, 1));
    assert_eq!(v1.record_count, GENESIS_RECORDS as u64 + 19);
    assert_eq!(v1.validation_count, expected.validation().len() as u64);
    assert_ne!(v1.root, v0.root);
    assert_eq!(v1.root, expected.root().to_vec());
    let served = all_records(&node, None, Split::Unspecified);
    let served_validation = all_records(&node, None, Split::Validation);
    assert!(held_out.iter().all(|r| served_validation.contains(r)));
    assert_eq!(served_validation.len(), expected.validation().len());
    assert_eq!(
        um_formats::Dataset::from_splits(
            served
                .iter()
                .filter(|r| !served_validation.contains(r))
                .cloned(),
            served_validation.clone()
        )
        .root()
        .to_vec(),
        v1.root
    );
    assert_eq!(served.len(), genesis.len() - 1 + added.len());
    assert!(!served.contains(removed));
    assert!(added.iter().all(|r| served.contains(r)));
    // Version 0 is still there as it was.
    assert_eq!(dataset(&node, Some(0)), v0);
    assert_eq!(all_records(&node, Some(0), Split::Unspecified), genesis);
    let versions: QueryDatasetVersionsResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/DatasetVersions",
            &QueryDatasetVersionsRequest {
                dataset_id: "mnist".into(),
                pagination: None,
            },
        )
        .unwrap();
    assert_eq!(versions.versions, vec![v1.clone(), v0.clone()]);

    assert_eq!(accepted.status, DeltaStatus::Accepted as i32);
    assert_eq!(accepted.result_version, 1);
    assert_eq!(accepted.decided_height, v1.height);
    let rejected = delta(&node, 2);
    assert_eq!(rejected.status, DeltaStatus::Rejected as i32);
    assert_eq!(rejected.result_version, 0);
    assert!(rejected.decided_height > 0);
    // Dana got her deposit back, and (issue 20) her reward of 0.0001 % of
    // the supply at the accepting block; Erin's deposit stays with the
    // module and earns nothing.
    let reward = supply / 1_000_000;
    assert!(reward > 0, "supply {supply}");
    assert_eq!(
        node.cw20_balance(&suite.token, &dana.address),
        1_000 * NRN - node.fees_paid(&dana.address) + reward
    );
    let paid = node
        .rpc
        .call(
            "block_search",
            json!({"query": format!("delta_reward.proposer='{}'", dana.address), "per_page": "5"}),
        )
        .unwrap();
    assert_eq!(paid["total_count"], "1", "{paid}");
    // Her karma counts the delta and the records it added.
    let karma: um_proto::um::karma::v1::QueryAccountResponse = node
        .rpc
        .query_proto(
            "/um.karma.v1.Query/Account",
            &um_proto::um::karma::v1::QueryAccountRequest {
                address: dana.address.clone(),
            },
        )
        .unwrap();
    let contributions = karma.karma.unwrap().contributions.unwrap();
    assert_eq!((contributions.deltas, contributions.records), (1, 20));
    assert_eq!(
        node.cw20_balance(&suite.token, &erin.address),
        995 * NRN - node.fees_paid(&erin.address)
    );
    assert_eq!(node.cw20_balance(&suite.token, &module_address()), DEPOSIT);

    // The CLI shows the same and downloads a version checked against its root.
    let shown: Value =
        serde_json::from_str(&umd(&node, &["query", "dataset", "show", "mnist"])).unwrap();
    assert_eq!(shown["root"], hex::encode(&v1.root));
    assert_eq!(shown["version"], 1);
    let shown: Value =
        serde_json::from_str(&umd(&node, &["query", "dataset", "delta", "2"])).unwrap();
    assert_eq!(shown["status"], "rejected");
    let download = tempfile::tempdir().unwrap();
    let path = download.path().display().to_string();
    let out = umd(
        &node,
        &[
            "query",
            "dataset",
            "records",
            "mnist",
            "--version",
            "0",
            "--output",
            &path,
        ],
    );
    assert!(out.contains("2000 records of mnist version 0"), "{out}");
    let saved = um_formats::dataset::load_idx(
        download.path().join("mnist-v0-images-idx3-ubyte.gz"),
        download.path().join("mnist-v0-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    assert_eq!(saved, genesis);
}
