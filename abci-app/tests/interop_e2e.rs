//! Standard clients against a real umd on real CometBFT: an unmodified
//! CosmJS signs and broadcasts a cw20 transfer of NRN and reads the balances
//! back through this chain's RPC.
//!
//! The clients run as Node.js processes from `interop/` (installed by
//! `make setup-interop`); each prints one JSON line that the test checks
//! against what the chain itself answers over ABCI.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::*;
use um_client::keys::KeyFile;
use um_governance::DeployConfig;

const NRN: u128 = 1_000_000;

fn interop_dir() -> PathBuf {
    workspace_root().join("interop")
}

/// Runs `node interop/<script> args…` with `envs` and parses the JSON line
/// it prints last; panics with the script's output when it fails.
fn run_node_script(script: &str, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").exists(),
        "{}/node_modules is missing: run `make setup-interop` first",
        dir.display()
    );
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("node {script}: {e} (is Node.js installed?)"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let line = line.unwrap_or_else(|| panic!("node {script} printed no JSON:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("node {script}: {e}: {line}"))
}

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
    let deployer = node.new_key("deployer");
    // The CosmJS wallet derives this key again from the mnemonic alone.
    let cosmjs = node.new_key("cosmjs");
    let recipient = node.new_key("recipient");
    let mut config = DeployConfig::new(&workspace_root().join("artifacts"));
    config.initial_balances = vec![(cosmjs.address.clone(), 500 * NRN)];
    let mut genesis = node.genesis();
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &config,
        &deployer.address,
        &[],
    )
    .unwrap();
    // CosmJS needs the account to exist before it signs (it reads the
    // account number and sequence); on this chain, which has no bank module
    // to create accounts on receipt, genesis creates it.
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
    node.start();

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

    // What CosmJS read, and what the chain answers over ABCI.
    assert_eq!(amount(&result["senderBefore"]), 500 * NRN);
    assert_eq!(amount(&result["recipientBefore"]), 0);
    assert_eq!(amount(&result["senderAfter"]), 500 * NRN - sent);
    assert_eq!(amount(&result["recipientAfter"]), sent);
    assert_eq!(
        node.cw20_balance(&suite.token, &cosmjs.address),
        500 * NRN - sent
    );
    assert_eq!(node.cw20_balance(&suite.token, &recipient.address), sent);
    let tx = node
        .rpc
        .tx(result["txHash"].as_str().unwrap())
        .unwrap()
        .expect("tx indexed by hash");
    assert_eq!(tx.code, 0, "{}", tx.log);
}
