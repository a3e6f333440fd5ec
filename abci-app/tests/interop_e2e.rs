//! Standard clients against a real umd on real CometBFT: an unmodified
//! CosmJS signs and broadcasts a cw20 transfer of NRN and reads the balances
//! back through this chain's RPC; headless Chromium shows the dashboard of a
//! chain that really trains (one chart point per version, refreshed without
//! reloading); schemathesis fuzzes every REST route of /openapi.json and
//! finds no server error and no answer off its schema.
//!
//! The clients run as processes from `interop/` (Node.js, installed by
//! `make setup-interop` with Debian's chromium) and `.venv` (schemathesis);
//! they print JSON lines that the tests check against what the chain itself
//! answers over ABCI.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::browser::{run_node_script, Browser};
use support::*;
use um_client::keys::KeyFile;
use um_governance::staking::BondRole;
use um_governance::DeployConfig;
use um_proto::um::training::v1::{ModelVersion, QueryVersionsRequest, QueryVersionsResponse};

const NRN: u128 = 1_000_000;
const MODEL: &str = "mnist-mlp";
/// A tiny MLP and few steps: the test is about what the page shows, not
/// about learning.
const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;
const DIGITS: &str = "2000";

fn mnemonic_of(node: &TestNode, name: &str) -> String {
    let bytes = std::fs::read(node.home.join("keys").join(format!("{name}.json"))).unwrap();
    let file: KeyFile = serde_json::from_slice(&bytes).unwrap();
    file.mnemonic
}

fn amount(value: &Value) -> u128 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .unwrap()
}

#[test]
fn cosmjs_signs_and_broadcasts_a_cw20_transfer_and_reads_the_balances_back() {
    let mut node = TestNode::init();
    // The validator's operator, bonded with the node's key: the fees are
    // paid to it.
    let operator = node.new_key("operator");
    // The CosmJS wallet derives this key again from the mnemonic alone.
    let cosmjs = node.new_key("cosmjs");
    // A new key: no account, no NRN until CosmJS sends it some.
    let recipient = node.new_key("recipient");
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = vec![
        (cosmjs.address.clone(), 500 * NRN),
        (operator.address.clone(), 100 * NRN),
    ];
    let mut genesis = node.genesis();
    let bond = node.validator_bond(&operator.address, 100 * NRN);
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &operator.address,
        &[bond],
    )
    .unwrap();
    // CosmJS needs the account to exist before it signs (it reads the
    // account number and sequence): a genesis account, as `umd genesis
    // add-account` makes.
    let auth = &mut genesis["app_state"]["auth"];
    if !auth.is_object() {
        *auth = json!({});
    }
    let accounts = &mut auth["accounts"];
    if !accounts.is_array() {
        *accounts = json!([]);
    }
    accounts.as_array_mut().unwrap().push(json!(cosmjs.address));
    node.set_genesis(&genesis);
    // CosmJS needs only CometBFT's RPC.
    node.start_with(&["--api-address", "off", "--grpc-address", "off"]);

    let sent = 1_234_567u128;
    let mnemonic = mnemonic_of(&node, "cosmjs");
    let sent_text = sent.to_string();
    let result = run_node_script(
        "cosmjs-transfer.mjs",
        &[],
        &[
            ("UM_RPC", node.rpc.url()),
            ("UM_MNEMONIC", &mnemonic),
            ("UM_TOKEN", &suite.token),
            ("UM_RECIPIENT", &recipient.address),
            ("UM_AMOUNT", &sent_text),
            ("UM_FRESH_MNEMONIC", &mnemonic_of(&node, "recipient")),
        ],
    );

    eprintln!("cosmjs-transfer.mjs: {result}");
    assert_eq!(result["chainId"], CHAIN_ID);
    assert_eq!(
        result["sender"],
        cosmjs.address.as_str(),
        "same HD path and prefix"
    );
    assert_eq!(
        result["sequenceAfter"].as_u64(),
        result["sequenceBefore"].as_u64().map(|s| s + 1)
    );
    assert_eq!(result["indexedCode"], 0, "the tx found by hash succeeded");
    assert_eq!(result["indexedHeight"], result["height"]);
    let (gas_used, gas_wanted) = (
        result["gasUsed"].as_u64().unwrap(),
        result["gasWanted"].as_u64().unwrap(),
    );
    assert!(
        gas_used > 0 && gas_used <= gas_wanted,
        "simulated gas covers the tx: used {gas_used}, wanted {gas_wanted}"
    );
    let event = result["transferEvent"]
        .as_array()
        .expect("wasm transfer event");
    let attribute = |key: &str| {
        event
            .iter()
            .find(|a| a["key"] == key)
            .and_then(|a| a["value"].as_str())
            .unwrap_or_else(|| panic!("no {key} in {event:?}"))
            .to_string()
    };
    assert_eq!(attribute("from"), cosmjs.address);
    assert_eq!(attribute("to"), recipient.address);
    assert_eq!(attribute("amount"), sent_text);

    // What CosmJS read, and what the chain answers over ABCI. The fee is
    // the gas CosmJS asked for at 0.025 unrn per gas, rounded up, in NRN.
    let fee = 500 * NRN - sent - amount(&result["senderAfter"]);
    assert_eq!(
        fee,
        (u128::from(gas_wanted) * 25).div_ceil(1000),
        "fee of {gas_wanted} gas"
    );
    assert_eq!(amount(&result["senderBefore"]), 500 * NRN);
    assert_eq!(amount(&result["recipientBefore"]), 0);
    assert_eq!(amount(&result["recipientAfter"]), sent);
    let tx = node
        .rpc
        .tx(result["txHash"].as_str().unwrap())
        .unwrap()
        .expect("tx indexed by hash");
    assert_eq!(tx.code, 0, "{}", tx.log);

    // The recipient had no account; receiving NRN opened one, so CosmJS
    // signs its first tx unchanged (fee "auto" and all), sending half back.
    let first = &result["fresh"];
    assert_eq!(first["address"], recipient.address.as_str());
    assert_eq!(first["existedBefore"], true, "{first}");
    assert_eq!(first["sequenceAfter"], 1);
    assert_eq!(first["accountNumberAfter"], first["accountNumberBefore"]);
    let back = sent / 2;
    let first_fee = sent - back - amount(&first["balanceAfter"]);
    let first_gas = u128::from(first["gasWanted"].as_u64().unwrap());
    assert_eq!(first_fee, (first_gas * 25).div_ceil(1000));
    assert_eq!(
        node.cw20_balance(&suite.token, &recipient.address),
        sent - back - first_fee
    );
    assert_eq!(
        node.cw20_balance(&suite.token, &cosmjs.address),
        500 * NRN - sent - fee + back
    );
    // The fees land with the validator that signed the blocks after them:
    // its operator, the one signer, gets all of them (its whole balance was
    // bonded).
    let paid_from = first["height"].as_u64().unwrap() + 1;
    while node.rpc.latest_height().unwrap() <= paid_from {
        std::thread::sleep(Duration::from_millis(200));
    }
    let collector = um_app::fee::fee_collector();
    assert_eq!(node.cw20_balance(&suite.token, &collector), 0);
    assert_eq!(
        node.cw20_balance(&suite.token, &operator.address),
        fee + first_fee
    );
}

/// A one-validator training chain (MNIST subset, governance suite, trainer
/// `alice` bonded, the lineage at version 0) running with its verifier and
/// its REST API; returns the node, the verifier and the API's base URL.
fn training_chain_with_api() -> (TestNode, Verifier, String) {
    let digits = workspace_root().join("data/mnist");
    let dataset = format!("mnist={}", digits.display());
    let mut node = TestNode::init_with(&["--dataset", &dataset, "--dataset-limit", DIGITS]);
    let deployer = node.new_key("deployer");
    let alice = node.new_key("alice");
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = vec![(alice.address.clone(), 200 * NRN)];
    let bonds = [um_governance::genesis::GenesisBond {
        operator: alice.address.clone(),
        amount: 100 * NRN,
        role: BondRole::Trainer,
    }];
    let mut genesis = node.genesis();
    um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &deployer.address,
        &bonds,
    )
    .unwrap();
    genesis["app_state"]["training"] = json!({
        "lineages": [{
            "model_id": MODEL,
            "spec": SPEC,
            "hyperparams": {
                "learning_rate": "0.1",
                "batch_size": 32,
                "local_steps": 5,
                "verification_tolerance": "0.001",
                "min_improvement": "0",
                "reward_per_update": NRN.to_string(),
                "reward_halving_interval": 0,
            },
            "dataset_id": "mnist",
            "init_seed": 7,
        }],
    });
    node.set_genesis(&genesis);
    // The verifier reads the dataset through the node's RPC, so the node
    // comes up once without it.
    node.start_with(&["--api-address", "off", "--grpc-address", "off"]);
    let verifier = Verifier::start(&node);
    node.stop();
    let api_port = free_port();
    let api_address = format!("127.0.0.1:{api_port}");
    let grpc_address = format!("127.0.0.1:{}", free_port());
    node.start_with(&[
        "--verifier",
        &verifier.endpoint,
        "--api-address",
        &api_address,
        "--grpc-address",
        &grpc_address,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "REST API did not listen\n{}",
            node.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (node, verifier, format!("http://{api_address}"))
}

fn train(node: &TestNode, updates: u32) {
    let output = Command::new(trainer_binary())
        .args(["train", "--node", node.rpc.url(), "--home"])
        .arg(&node.home)
        .args(["--key", "alice", "--model", MODEL, "--updates"])
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

/// Every version of the model as the chain reports it over ABCI, oldest first.
fn chain_versions(node: &TestNode) -> Vec<ModelVersion> {
    let request = QueryVersionsRequest {
        prove: false,
        model_id: MODEL.into(),
        pagination: None,
    };
    let answer: QueryVersionsResponse = node
        .rpc
        .query_proto("/um.training.v1.Query/Versions", &request)
        .unwrap();
    let mut versions = answer.versions;
    versions.sort_by_key(|v| v.version);
    versions
}

/// The page shows what the chain holds: one chart point and one table row
/// per version, the same heights and trainers, and one accepting verdict
/// (the only validator's) per accepted version; nothing failed on the page
/// and it asked nothing of any other host.
fn assert_page_matches_chain(facts: &Value, versions: &[ModelVersion]) {
    assert_eq!(facts["statusOk"], true, "{}", facts["status"]);
    for key in [
        "consoleErrors",
        "pageErrors",
        "failedRequests",
        "foreignRequests",
    ] {
        assert_eq!(facts[key], json!([]), "{key}: {}", facts[key]);
    }
    let models = facts["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{facts}");
    let model = &models[0];
    assert_eq!(model["model"], MODEL);
    assert_eq!(
        model["points"],
        versions.len(),
        "one chart point per version"
    );
    // Version 0 (the initial weights) has no measured loss.
    assert_eq!(model["measured"], versions.len() - 1);
    let canvas = &model["canvas"];
    assert!(canvas["width"].as_u64().unwrap() > 100, "{canvas}");
    assert!(canvas["height"].as_u64().unwrap() > 100, "{canvas}");
    let rows = model["rows"].as_array().unwrap();
    assert_eq!(rows.len(), versions.len(), "one table row per version");
    // The table is newest first.
    for (row, version) in rows.iter().zip(versions.iter().rev()) {
        assert_eq!(row["version"], version.version.to_string(), "{row}");
        assert_eq!(row["height"], version.height.to_string(), "{row}");
        if version.version > 0 {
            assert_eq!(row["trainer"], version.trainer.as_str(), "{row}");
            assert_eq!(row["verdicts"], "1 / 0", "{row}");
            let loss: f32 = row["validationLoss"].as_str().unwrap().parse().unwrap();
            assert!((loss - version.validation_loss).abs() < 1e-3, "{row}");
        }
    }
    // The karma leaderboard: the one trainer, credited with every version.
    let board = facts["leaderboard"].as_array().unwrap();
    let trainer = versions.last().unwrap().trainer.as_str();
    let row = board
        .iter()
        .find(|row| row["address"] == trainer)
        .unwrap_or_else(|| {
            panic!(
                "{trainer} is not on the leaderboard: {}",
                facts["leaderboard"]
            )
        });
    let cells = row["cells"].as_array().unwrap();
    assert_eq!(
        cells[3],
        (versions.len() - 1).to_string(),
        "versions: {row}"
    );
    assert!(
        cells[9].as_str().unwrap().contains("first-version"),
        "badges: {row}"
    );
    let datasets = facts["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 1, "{facts}");
    assert_eq!(datasets[0]["dataset"], "mnist");
    assert_eq!(datasets[0]["rows"], 1, "the genesis dataset version");
}

#[test]
fn the_dashboard_charts_every_version_and_refreshes_itself_and_the_rest_api_survives_fuzzing() {
    let (node, _verifier, api) = training_chain_with_api();
    train(&node, 2);
    let versions = chain_versions(&node);
    assert_eq!(versions.len(), 3, "version 0 and two accepted updates");

    let artifacts = workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let digits = node.home.join("pad-digits.json");
    let chosen = digits_the_head_gets_right(&node, &api, 5);
    std::fs::write(&digits, serde_json::to_vec(&chosen).unwrap()).unwrap();
    let mut browser = Browser::open(
        &format!("{api}/"),
        &screenshot,
        node.home.join("dashboard-mjs.log"),
        &[("PAD_DIGITS", &digits)],
    );
    let loaded = browser.next("loaded");
    eprintln!("dashboard loaded: {loaded}");
    assert_page_matches_chain(&loaded, &versions);
    let pad = browser.next("pad");
    eprintln!("drawing pad: {pad}");
    assert_pad_predicts(&pad, &chosen, &versions);

    // One more version while the page stays open: its own refresh shows it.
    train(&node, 1);
    let versions = chain_versions(&node);
    assert_eq!(versions.len(), 4);
    browser.send(&format!("points {}", versions.len()));
    let refreshed = browser.next("refreshed");
    assert_page_matches_chain(&refreshed, &versions);
    assert_eq!(refreshed["navigations"], 1, "the page was not reloaded");
    assert!(refreshed["refreshes"].as_u64() > loaded["refreshes"].as_u64());

    let done = browser.finish();
    assert_page_matches_chain(&done, &versions);
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    eprintln!("screenshot: {} ({} bytes)", screenshot.display(), png.len());

    fuzz_rest_api(&api, &artifacts);
}

/// Held-out digits whose class the head's REST prediction gets right, the
/// most confident first (distinct labels first), as `[{label, pixels}]`.
fn digits_the_head_gets_right(node: &TestNode, api: &str, count: usize) -> Vec<Value> {
    use um_proto::um::dataset::v1::{QueryRecordsRequest, QueryRecordsResponse, Split};
    let page: QueryRecordsResponse = node
        .rpc
        .query_proto(
            "/um.dataset.v1.Query/Records",
            &QueryRecordsRequest {
                dataset_id: "mnist".into(),
                version: None,
                split: Split::Validation as i32,
                pagination: Some(um_proto::um::common::v1::PageRequest {
                    limit: 200,
                    ..Default::default()
                }),
            },
        )
        .unwrap();
    let mut right: Vec<(f64, u32, Vec<u8>)> = Vec::new();
    for record in page.records {
        let answer: Value = ureq::post(&format!("{api}/um/training/v1/models/{MODEL}/predict"))
            .send_json(json!({ "image": record.pixels }))
            .unwrap()
            .into_json()
            .unwrap();
        if answer["predicted_class"].as_u64() == Some(u64::from(record.label)) {
            let p = answer["probabilities"][record.label as usize]
                .as_f64()
                .unwrap();
            right.push((p, record.label, record.pixels));
        }
    }
    // The surest first: the pad re-centres a digit as MNIST did, which may
    // move it by a pixel.
    right.sort_by(|a, b| b.0.total_cmp(&a.0));
    let right: Vec<(u32, Vec<u8>)> = right.into_iter().map(|(_, l, p)| (l, p)).collect();
    let mut chosen: Vec<(u32, Vec<u8>)> = Vec::new();
    for (label, pixels) in &right {
        if chosen.len() < count && !chosen.iter().any(|(l, _)| l == label) {
            chosen.push((*label, pixels.clone()));
        }
    }
    for (label, pixels) in right {
        if chosen.len() < count && !chosen.iter().any(|(_, p)| *p == pixels) {
            chosen.push((label, pixels));
        }
    }
    assert_eq!(chosen.len(), count, "the head gets too few digits right");
    chosen
        .into_iter()
        .map(|(label, pixels)| json!({ "label": label, "pixels": pixels }))
        .collect()
}

/// Issue 20's drawing pad: a stroke drawn with the mouse gets the head's
/// probabilities (ten, summing to one); each real digit rendered onto the
/// pad is classified as the REST API classifies its pixels, by the head.
fn assert_pad_predicts(pad: &Value, chosen: &[Value], versions: &[ModelVersion]) {
    let head = versions.last().unwrap().version.to_string();
    let stroke = &pad["stroke"];
    assert_eq!(stroke["note"], "", "{stroke}");
    assert_eq!(stroke["version"], head.as_str(), "{stroke}");
    let p: Vec<f64> = stroke["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10, "{stroke}");
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{stroke}");
    let class: usize = stroke["predicted"].as_str().unwrap().parse().unwrap();
    assert!(p.iter().all(|&x| x <= p[class]), "{stroke}");
    let digits = pad["digits"].as_array().unwrap();
    assert_eq!(digits.len(), chosen.len());
    for (shown, digit) in digits.iter().zip(chosen) {
        assert_eq!(shown["label"], digit["label"]);
        assert_eq!(shown["version"], head.as_str(), "{shown}");
        assert_eq!(
            shown["predicted"], digit["label"],
            "a real digit drawn onto the pad: {shown}"
        );
    }
}

/// schemathesis over every operation of /openapi.json (positive and negative
/// inputs, a fixed seed so a failure reproduces): no 5xx, every answer
/// matches the status codes, content type and schema the document gives for
/// it, malformed input is refused, unknown methods are refused.
fn fuzz_rest_api(api: &str, artifacts: &std::path::Path) {
    let schemathesis = workspace_root().join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run `make setup-interop` first",
        schemathesis.display()
    );
    let junit = artifacts.join("schemathesis-junit.xml");
    let output = Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{api}/openapi.json"))
        .args([
            // Every check but positive_data_acceptance: the document types
            // ids, addresses, hashes and pagination numbers as plain strings
            // without patterns, so schemathesis counts "0" as a valid
            // address and expects it accepted; the server's 400 is right.
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "20",
            "--seed",
            "1",
            // One worker: with several, hypothesis parses lambdas' source on
            // threads at once and CPython 3.11's parser fails on that
            // ("AST constructor recursion depth mismatch"), a tool crash.
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
        ])
        .arg(&junit)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Vec<&str> = stdout.lines().rev().take(25).collect();
    eprintln!(
        "schemathesis: {}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        output.status.success(),
        "schemathesis found failures ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
