//! Accounts like the SDK's, end to end on real CometBFT + umd: `umd genesis
//! add-account` before and after `deploy-governance`, then the node serves
//! each account (number assigned, sequence 0) and its NRN, and a funded
//! genesis account signs its first tx.

mod support;

use std::process::{Command, Output};

use serde_json::json;
use support::*;
use um_client::tx_builder;

/// `umd ARGS` on the node's home, with the test keyring (TestNode's keys
/// are plain text).
fn umd(node: &TestNode, args: &[&str]) -> Output {
    Command::new(umd_binary())
        .args(args)
        .env("UMD_HOME", &node.home)
        .env("UMD_KEYRING_BACKEND", "test")
        .output()
        .expect("umd runs")
}

fn umd_ok(node: &TestNode, args: &[&str]) -> String {
    let output = umd(node, args);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "umd {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn umd_err(node: &TestNode, args: &[&str]) -> String {
    let output = umd(node, args);
    assert!(!output.status.success(), "umd {args:?} should fail");
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn genesis_accounts_get_numbers_and_nrn() {
    let mut node = TestNode::init();
    node.new_key("operator");
    let early = node.new_key("early");
    let late = node.new_key("late");

    // Before the token exists the balance waits in app_state.auth ...
    let out = umd_ok(&node, &["genesis", "add-account", "early", "--nrn", "12.5"]);
    assert!(
        out.contains("account number 0") && out.contains("pending"),
        "{out}"
    );
    assert_eq!(
        node.genesis()["app_state"]["auth"]["pending_balances"],
        json!([{"address": early.address, "amount": "12500000"}])
    );
    // ... and deploy-governance mints it.
    let artifacts = workspace_root().join("artifacts");
    let out = umd_ok(
        &node,
        &[
            "genesis",
            "deploy-governance",
            "--operator",
            "operator",
            "--artifacts",
            artifacts.to_str().expect("utf-8 path"),
        ],
    );
    let token = out
        .lines()
        .find_map(|line| line.strip_prefix("token: "))
        .expect("token address printed")
        .to_string();
    // After it, straight into the token's initial balances, by address.
    let out = umd_ok(
        &node,
        &["genesis", "add-account", &late.address, "--unrn", "7000000"],
    );
    assert!(
        out.contains("account number 1") && out.contains(&token),
        "{out}"
    );

    // Refusals leave the genesis as it was.
    let before = node.genesis();
    let err = umd_err(&node, &["genesis", "add-account", "early"]);
    assert!(err.contains("already is a genesis account"), "{err}");
    let err = umd_err(&node, &["genesis", "add-account", "operator", "--nrn", "1"]);
    assert!(err.contains("already has a genesis balance"), "{err}");
    let err = umd_err(&node, &["genesis", "add-account", "nobody", "--nrn", "x"]);
    assert!(err.contains(r#"--nrn "x": not an amount"#), "{err}");
    let err = umd_err(&node, &["genesis", "add-account", "um1qqqq", "--nrn", "1"]);
    assert!(err.contains("bad address"), "{err}");
    assert_eq!(node.genesis(), before);
    let auth = &before["app_state"]["auth"];
    assert_eq!(auth["accounts"], json!([early.address, late.address]));
    assert!(auth.get("pending_balances").is_none(), "{auth}");

    node.start();
    for (key, number) in [(&early, 0), (&late, 1)] {
        let account = tx_builder::query_account(&node.rpc, &key.address)
            .expect("account query")
            .expect("genesis account exists");
        assert_eq!(account.account_number, number);
        assert_eq!(account.sequence, 0);
        assert!(account.pub_key.is_none());
    }
    let out = umd_ok(
        &node,
        &["query", "account", &late.address, "--node", node.rpc.url()],
    );
    assert!(
        out.contains("account_number: 1") && out.contains("sequence: 0"),
        "{out}"
    );
    assert_eq!(node.cw20_balance(&token, &early.address), 12_500_000);
    assert_eq!(node.cw20_balance(&token, &late.address), 7_000_000);

    // The genesis account signs its first tx with its own number.
    let friend = node.new_key("friend");
    let sent = node.submit_ok(
        &early,
        vec![execute_msg(
            &early.address,
            &token,
            json!({"transfer": {"recipient": friend.address, "amount": "2500000"}}),
        )],
    );
    let acc_seq = format!("{}/0", early.address);
    assert_eq!(sent.event_value("tx", "acc_seq"), Some(acc_seq.as_str()));
    assert_eq!(node.cw20_balance(&token, &friend.address), 2_500_000);
    let account = tx_builder::query_account(&node.rpc, &early.address)
        .expect("account query")
        .expect("account exists");
    assert_eq!((account.account_number, account.sequence), (0, 1));
}
