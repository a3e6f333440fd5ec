//! End to end through real CometBFT v0.38 + umd on loopback: the NRN token
//! lifecycle, refusals of bad input, crash recovery and determinism.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;
use um_app::codes::Code;
use um_client::tx_builder::{self, SignerData, TxOptions};

/// Stores the token (gzipped, as clients usually upload), instantiates it
/// with `holder` owning 1,000,000 and returns the contract address.
fn deploy_token(node: &TestNode, holder: &um_client::keys::Key) -> String {
    let code_id = node.store_code(holder, gzip(&artifact("nrn_token.wasm")));
    assert_eq!(code_id, 1);
    node.instantiate(
        holder,
        code_id,
        token_instantiate_msg(&[(&holder.address, 1_000_000)], &holder.address),
        "nrn",
    )
}

#[test]
fn token_transfers_allowances_and_refusals() {
    let mut node = TestNode::init();
    node.start();
    let alice = node.new_key("alice");
    let bob = node.new_key("bob");
    let carol = node.new_key("carol");
    let token = deploy_token(&node, &alice);

    let info = node.smart_query(&token, json!({"token_info": {}}));
    assert_eq!(info["symbol"], "NRN");
    assert_eq!(info["decimals"], 6);

    // Transfer.
    let transfer = execute_msg(
        &alice.address,
        &token,
        json!({"transfer": {"recipient": bob.address, "amount": "1000"}}),
    );
    let result = node.submit_ok(&alice, vec![transfer]);
    assert!(result.height > 0);
    let transfer_gas = result.gas_used;
    assert_eq!(result.event_value("wasm", "action"), Some("transfer"));
    // Alice's third tx (after store and instantiate) used sequence 2.
    let acc_seq = format!("{}/2", alice.address);
    assert_eq!(result.event_value("tx", "acc_seq"), Some(acc_seq.as_str()));
    assert_eq!(node.cw20_balance(&token, &alice.address), 999_000);
    assert_eq!(node.cw20_balance(&token, &bob.address), 1_000);

    // Allowance, then bob moves alice's tokens to carol with it.
    node.submit_ok(
        &alice,
        vec![execute_msg(
            &alice.address,
            &token,
            json!({"increase_allowance": {"spender": bob.address, "amount": "500"}}),
        )],
    );
    node.submit_ok(
        &bob,
        vec![execute_msg(
            &bob.address,
            &token,
            json!({"transfer_from": {"owner": alice.address, "recipient": carol.address, "amount": "200"}}),
        )],
    );
    assert_eq!(node.cw20_balance(&token, &alice.address), 998_800);
    assert_eq!(node.cw20_balance(&token, &carol.address), 200);
    let allowance = node.smart_query(
        &token,
        json!({"allowance": {"owner": alice.address, "spender": bob.address}}),
    );
    assert_eq!(allowance["allowance"], "300");
    // Spending past the allowance is the contract's error, and moves nothing.
    let overspend = node.submit(
        &bob,
        vec![execute_msg(
            &bob.address,
            &token,
            json!({"transfer_from": {"owner": alice.address, "recipient": carol.address, "amount": "301"}}),
        )],
        3_000_000,
    );
    assert_eq!(
        overspend.code,
        Code::ContractError.value(),
        "{}",
        overspend.log
    );

    let balances =
        |node: &TestNode| [&alice, &bob, &carol].map(|k| node.cw20_balance(&token, &k.address));
    let before = balances(&node);
    let height_before = node.rpc.latest_height().unwrap();

    // Garbage bytes.
    let garbage = node.rpc.broadcast_sync(b"definitely not a tx").unwrap();
    assert_eq!(garbage.code, Code::TxDecode.value(), "{}", garbage.log);
    assert_eq!(garbage.codespace, "um");

    // A signature that does not match.
    let transfer = execute_msg(
        &alice.address,
        &token,
        json!({"transfer": {"recipient": bob.address, "amount": "1"}}),
    );
    let mut tampered = node.sign(&alice, vec![transfer.clone()], 3_000_000);
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let bad_sig = node.rpc.broadcast_sync(&tampered).unwrap();
    assert_eq!(bad_sig.code, Code::Unauthorized.value(), "{}", bad_sig.log);

    // A sequence that was already used.
    let mut stale = node.signer(&alice);
    stale.sequence -= 1;
    let replay = tx_builder::sign_tx(
        &alice,
        vec![transfer.clone()],
        &stale,
        &TxOptions::default(),
    )
    .unwrap();
    let replayed = node.rpc.broadcast_sync(&replay).unwrap();
    assert_eq!(
        replayed.code,
        Code::WrongSequence.value(),
        "{}",
        replayed.log
    );

    // Signed for another chain.
    let other_chain = SignerData {
        chain_id: "some-other-chain".into(),
        ..node.signer(&alice)
    };
    let foreign = tx_builder::sign_tx(
        &alice,
        vec![transfer.clone()],
        &other_chain,
        &TxOptions::default(),
    )
    .unwrap();
    let wrong_chain = node.rpc.broadcast_sync(&foreign).unwrap();
    assert_eq!(
        wrong_chain.code,
        Code::WrongChainId.value(),
        "{}",
        wrong_chain.log
    );

    // Code that is not wasm passes the mempool but fails in the block.
    let invalid_wasm = any(&cosmos_sdk_proto::cosmwasm::wasm::v1::MsgStoreCode {
        sender: alice.address.clone(),
        wasm_byte_code: b"\0asm\x01\0\0\0garbage".to_vec(),
        instantiate_permission: None,
    });
    let stored = node.submit(&alice, vec![invalid_wasm], 50_000_000);
    assert_eq!(stored.code, Code::InvalidWasm.value(), "{}", stored.log);
    assert!(stored.height > 0);

    // A contract call that runs out of gas: a little less than a transfer
    // needs, so the VM itself stops it.
    let starved = node.submit(&alice, vec![transfer], transfer_gas - 3_000);
    assert_eq!(starved.code, Code::OutOfGas.value(), "{}", starved.log);
    assert!(starved.height > 0);

    assert_eq!(balances(&node), before, "refused txs must not move tokens");
    let later = node
        .rpc
        .wait_for_height(height_before + 3, Duration::from_secs(30))
        .unwrap();
    assert!(later >= height_before + 3, "the chain keeps making blocks");

    // The CLI reads the same state.
    let output = std::process::Command::new(umd_binary())
        .args(["query", "wasm", "smart", &token])
        .arg(json!({"balance": {"address": carol.address}}).to_string())
        .arg("--node")
        .arg(node.rpc.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"{"balance":"200"}"#
    );
}

#[test]
fn sigkill_while_txs_flow_then_restart_agrees_on_app_hash() {
    let mut node = TestNode::init();
    node.start();
    let alice = node.new_key("alice");
    let bob = node.new_key("bob");
    let token = deploy_token(&node, &alice);

    // Keep transfers flowing from a second thread while the node dies.
    let stop = Arc::new(AtomicBool::new(false));
    let flow = {
        let stop = stop.clone();
        let rpc = um_client::rpc::RpcClient::new(node.rpc.url());
        let alice = node.keyring().get("alice").unwrap();
        let (bob, token) = (bob.address.clone(), token.clone());
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let Ok(signer) = tx_builder::signer_data(&rpc, CHAIN_ID, &alice.address) else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                let msg = execute_msg(
                    &alice.address,
                    &token,
                    json!({"transfer": {"recipient": bob, "amount": "1"}}),
                );
                if let Ok(tx) =
                    tx_builder::sign_tx(&alice, vec![msg], &signer, &TxOptions::default())
                {
                    if let Ok(result) = rpc.broadcast_and_wait(&tx, Duration::from_secs(5)) {
                        if result.code == 0 {
                            sent += 1;
                        }
                    }
                }
            }
            sent
        })
    };
    node.rpc
        .wait_for_height(
            node.rpc.latest_height().unwrap() + 4,
            Duration::from_secs(30),
        )
        .unwrap();
    let crashed_at = node.rpc.latest_height().unwrap();
    let hashes_before: Vec<String> = (2..=crashed_at)
        .map(|h| node.rpc.block_app_hash(h).unwrap())
        .collect();
    node.kill();

    node.start();
    let resumed = node
        .rpc
        .wait_for_height(crashed_at + 3, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("chain did not resume: {e}\n{}", node.logs()));
    stop.store(true, Ordering::SeqCst);
    let sent = flow.join().unwrap();
    assert!(sent > 0, "transfers went through around the crash");
    assert!(resumed > crashed_at);

    let hashes_after: Vec<String> = (2..=crashed_at)
        .map(|h| node.rpc.block_app_hash(h).unwrap())
        .collect();
    assert_eq!(hashes_before, hashes_after);
    // Every delivered transfer is in the state: the supply is conserved and
    // bob holds exactly what alice lost.
    let alice_balance = node.cw20_balance(&token, &alice.address);
    let bob_balance = node.cw20_balance(&token, &bob.address);
    assert_eq!(alice_balance + bob_balance, 1_000_000);
    assert!(bob_balance >= sent as u128);
}

#[test]
fn replay_from_genesis_reaches_the_same_app_hash_at_every_height() {
    let mut node = TestNode::init();
    node.start();
    let alice = node.new_key("alice");
    let bob = node.new_key("bob");
    let token = deploy_token(&node, &alice);
    for amount in 1..=3 {
        node.submit_ok(
            &alice,
            vec![execute_msg(
                &alice.address,
                &token,
                json!({"transfer": {"recipient": bob.address, "amount": amount.to_string()}}),
            )],
        );
    }
    node.stop();
    let last = {
        let committed = um_app::store::Store::open(&node.home.join("data/umd/umd.db")).unwrap();
        committed.last_commit().unwrap()
    };
    assert!(last.height > 3);

    // Throw away the application state only: CometBFT keeps its blocks and,
    // at the handshake, replays every one of them from genesis.
    std::fs::remove_dir_all(node.home.join("data/umd")).unwrap();
    node.start();
    node.rpc
        .wait_for_height(last.height + 2, Duration::from_secs(60))
        .unwrap();
    // The header of block H+1 carries the app hash after H.
    let replayed_hash = node.rpc.block_app_hash(last.height + 1).unwrap();
    assert_eq!(replayed_hash, hex::encode_upper(&last.app_hash));
    assert_eq!(node.cw20_balance(&token, &bob.address), 6);
    assert_eq!(node.cw20_balance(&token, &alice.address), 999_994);
}

#[test]
fn genesis_app_state_creates_accounts_and_deploys_the_token() {
    use base64::Engine;
    use cosmos_sdk_proto::cosmwasm::wasm::v1::{
        QueryContractsByCodeRequest, QueryContractsByCodeResponse,
    };

    let mut node = TestNode::init();
    let alice = node.new_key("alice");
    let bob = node.new_key("bob");
    let mut genesis = node.genesis();
    genesis["app_state"]["auth"]["accounts"] = json!([alice.address, bob.address]);
    genesis["app_state"]["wasm"] = json!({
        "codes": [{
            "creator": alice.address,
            "wasm_base64": base64::engine::general_purpose::STANDARD.encode(artifact("nrn_token.wasm")),
        }],
        "contracts": [{
            "code_id": 1,
            "creator": alice.address,
            "admin": alice.address,
            "label": "nrn",
            "msg": token_instantiate_msg(&[(&bob.address, 5_000)], &alice.address),
        }],
    });
    node.set_genesis(&genesis);
    node.start();

    let bob_account = tx_builder::query_account(&node.rpc, &bob.address)
        .unwrap()
        .expect("bob exists");
    assert_eq!(
        bob_account.account_number, 1,
        "genesis accounts are numbered in order"
    );
    let contracts: QueryContractsByCodeResponse = node
        .rpc
        .query_proto(
            "/cosmwasm.wasm.v1.Query/ContractsByCode",
            &QueryContractsByCodeRequest {
                code_id: 1,
                pagination: None,
            },
        )
        .unwrap();
    let token = contracts.contracts[0].clone();
    assert_eq!(node.cw20_balance(&token, &bob.address), 5_000);
    node.submit_ok(
        &bob,
        vec![execute_msg(
            &bob.address,
            &token,
            json!({"transfer": {"recipient": alice.address, "amount": "1234"}}),
        )],
    );
    assert_eq!(node.cw20_balance(&token, &alice.address), 1_234);
}

/// Issue 18: a proven answer from CometBFT's `abci_query` checks out against
/// the app hash that the header of the next height carries, for a value and
/// for an absence; the same proof fails against another header's hash.
#[test]
fn a_proven_abci_query_verifies_against_the_next_header() {
    use base64::Engine;
    use ics23::HostFunctionsManager;
    use prost::Message;

    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap()
    };
    let mut node = TestNode::init();
    node.start();
    let height = node
        .rpc
        .wait_for_height(3, Duration::from_secs(60))
        .unwrap()
        - 1;
    node.rpc
        .wait_for_height(height + 2, Duration::from_secs(60))
        .unwrap();
    let header_hash =
        |h: u64| hex::decode(node.rpc.block_app_hash(h).unwrap()).expect("hex app hash");
    let (trusted, other) = (header_hash(height + 1), header_hash(height + 2));
    let spec = um_app::store::proof_spec();
    let query = |key: &[u8]| {
        let result = node
            .rpc
            .call(
                "abci_query",
                json!({"path": "/store/state/key", "data": hex::encode(key),
                       "height": height.to_string(), "prove": true}),
            )
            .unwrap();
        let response = result["response"].clone();
        assert_eq!(response["code"].as_u64().unwrap_or(0), 0, "{response}");
        assert_eq!(response["height"], height.to_string());
        let ops = response["proofOps"]["ops"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(ops.len(), 1, "{response}");
        assert_eq!(ops[0]["type"], "ics23:jmt");
        let proof = ics23::CommitmentProof::decode(b64(&ops[0]["data"]).as_slice()).unwrap();
        (b64(&response["value"]), proof)
    };

    let key = b"app/last_block";
    let (value, proof) = query(key);
    assert!(String::from_utf8_lossy(&value).contains(&format!("\"height\":{height}")));
    assert!(ics23::verify_membership::<HostFunctionsManager>(
        &proof, &spec, &trusted, key, &value
    ));
    assert!(!ics23::verify_membership::<HostFunctionsManager>(
        &proof, &spec, &other, key, &value
    ));

    let missing = b"training/version/no-such-lineage/1";
    let (value, proof) = query(missing);
    assert!(value.is_empty());
    assert!(ics23::verify_non_membership::<HostFunctionsManager>(
        &proof, &spec, &trusted, missing
    ));
}
