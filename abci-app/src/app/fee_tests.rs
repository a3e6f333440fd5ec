//! Issue 15: fees in NRN through the real ABCI shell and the real token.

use cosmos_sdk_proto::Any;
use prost::Message;
use tendermint_abci::Application;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;

use super::tests::{app_on, finalize, genesis, genesis_with_suite, key, query_ok, TestApp, CHAIN};
use crate::codes::Code;
use crate::store::Store;
use um_client::fees::GasPrice;
use um_client::keys::Key;
use um_client::tx_builder::{sign_tx, SignerData, TxOptions};

const FLOODER_MNEMONIC: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const THIRD_MNEMONIC: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";

fn nothing() -> Any {
    Any {
        type_url: "/um.test.Nothing".into(),
        value: vec![],
    }
}

fn signed(key: &Key, account_number: u64, sequence: u64, msg: Any, options: &TxOptions) -> Vec<u8> {
    let signer = SignerData {
        chain_id: CHAIN.into(),
        account_number,
        sequence,
    };
    sign_tx(key, vec![msg], &signer, options).unwrap()
}

fn with_price(gas_limit: u64, price: &str) -> TxOptions {
    TxOptions {
        gas_limit,
        gas_price: price.parse::<GasPrice>().unwrap(),
        ..TxOptions::default()
    }
}

fn check(app: &super::App, tx: &[u8]) -> pb::ResponseCheckTx {
    app.check_tx(pb::RequestCheckTx {
        tx: tx.to_vec().into(),
        r#type: 0,
    })
}

fn balance(app: &super::App, token: &str, address: &str) -> u128 {
    use cosmos_sdk_proto::cosmwasm::wasm::v1::{
        QuerySmartContractStateRequest, QuerySmartContractStateResponse,
    };
    let answer = query_ok(
        app,
        "/cosmwasm.wasm.v1.Query/SmartContractState",
        QuerySmartContractStateRequest {
            address: token.into(),
            query_data: serde_json::json!({"balance": {"address": address}})
                .to_string()
                .into_bytes(),
        }
        .encode_to_vec(),
    );
    let data = QuerySmartContractStateResponse::decode(answer.as_slice())
        .unwrap()
        .data;
    let json: serde_json::Value = serde_json::from_slice(&data).unwrap();
    json["balance"].as_str().unwrap().parse().unwrap()
}

fn undistributed(app: &super::App) -> u128 {
    let status: crate::fee::module::FeeStatus =
        serde_json::from_slice(&query_ok(app, crate::fee::module::STATUS_PATH, vec![])).unwrap();
    status.undistributed.parse().unwrap()
}

/// FinalizeBlock with `signers` (consensus address, power) as the previous
/// block's commit.
fn finalize_signed(
    app: &super::App,
    height: i64,
    txs: Vec<Vec<u8>>,
    signers: &[(Vec<u8>, i64)],
) -> pb::ResponseFinalizeBlock {
    let votes = signers
        .iter()
        .map(|(address, power)| pb::VoteInfo {
            validator: Some(pb::Validator {
                address: address.clone().into(),
                power: *power,
            }),
            block_id_flag: tendermint_proto::v0_38::types::BlockIdFlag::Commit as i32,
        })
        .collect();
    let response = app.finalize_block(pb::RequestFinalizeBlock {
        txs: txs.into_iter().map(Into::into).collect(),
        height,
        time: Some(Timestamp {
            seconds: 1_700_000_000 + height,
            nanos: 0,
        }),
        decided_last_commit: Some(pb::CommitInfo { round: 0, votes }),
        ..Default::default()
    });
    app.commit();
    response
}

/// A tx pays `gas_limit × price` before its messages run, and keeps paying
/// when a message fails; too low a fee, a fee in another denomination and
/// a signer who cannot pay are refused by CheckTx and by delivery without
/// a trace. The next block pays the fee to the validators that signed it,
/// by power: a signer no bond names leaves its share for later.
#[test]
fn fees_are_taken_before_messages_and_paid_to_the_signers_by_power() {
    let TestApp { app, _cache } = app_on(Store::temporary().unwrap());
    let (suite, _) = genesis_with_suite(&app);
    finalize(&app, 1, vec![]);
    let trainer = key();
    let operator = crate::address::encode(&[7; 20]);
    let collector = crate::fee::fee_collector();
    let before = balance(&app, &suite.token, &trainer.address);
    let operator_before = balance(&app, &suite.token, &operator);

    // 0.024 is below the chain's 0.025.
    let cheap = signed(&trainer, 1, 0, nothing(), &with_price(200_000, "0.024"));
    let refused = check(&app, &cheap);
    assert_eq!(
        refused.code,
        Code::InsufficientFee.value(),
        "{}",
        refused.log
    );
    assert!(refused.log.contains("required 5000unrn"), "{}", refused.log);
    // A fee in another denomination, properly signed.
    let foreign = {
        use cosmos_sdk_proto::cosmos::tx::v1beta1::{AuthInfo, SignDoc, TxRaw};
        let tx = TxRaw::decode(
            signed(&trainer, 1, 0, nothing(), &with_price(200_000, "0.025")).as_slice(),
        )
        .unwrap();
        let mut auth = AuthInfo::decode(tx.auth_info_bytes.as_slice()).unwrap();
        auth.fee.as_mut().unwrap().amount = vec![cosmos_sdk_proto::cosmos::base::v1beta1::Coin {
            denom: "uatom".into(),
            amount: "5000".into(),
        }];
        let auth_info_bytes = auth.encode_to_vec();
        let sign_doc = SignDoc {
            body_bytes: tx.body_bytes.clone(),
            auth_info_bytes: auth_info_bytes.clone(),
            chain_id: CHAIN.into(),
            account_number: 1,
        };
        let signature = trainer.signing_key.sign(&sign_doc.encode_to_vec()).unwrap();
        TxRaw {
            body_bytes: tx.body_bytes,
            auth_info_bytes,
            signatures: vec![signature.to_vec()],
        }
        .encode_to_vec()
    };
    let refused = check(&app, &foreign);
    assert_eq!(
        refused.code,
        Code::InsufficientFee.value(),
        "{}",
        refused.log
    );
    assert!(refused.log.contains("uatom"), "{}", refused.log);
    let broke = Key::from_mnemonic("broke", FLOODER_MNEMONIC).unwrap();
    let unfunded = signed(&broke, 0, 0, nothing(), &with_price(200_000, "0.025"));
    let refused = check(&app, &unfunded);
    assert_eq!(
        refused.code,
        Code::InsufficientFunds.value(),
        "{}",
        refused.log
    );

    // A proposer that includes them has its block refused: they would
    // take block space without paying for it.
    for unpaid in [&cheap, &unfunded] {
        let status = app
            .process_proposal(pb::RequestProcessProposal {
                txs: vec![unpaid.clone().into()],
                height: 2,
                ..Default::default()
            })
            .status;
        assert_eq!(
            status,
            pb::response_process_proposal::ProposalStatus::Reject as i32
        );
    }

    // Delivery: the cheap and the unfunded tx fail and change nothing; the
    // paying tx's message fails (no module handles it) but its fee is paid.
    let paying = signed(&trainer, 1, 0, nothing(), &with_price(200_000, "0.1"));
    let block = finalize(&app, 2, vec![cheap, unfunded, paying]);
    let codes: Vec<u32> = block.tx_results.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            Code::InsufficientFee.value(),
            Code::InsufficientFunds.value(),
            Code::UnknownMessage.value()
        ]
    );
    let fee = 20_000u128;
    assert_eq!(balance(&app, &suite.token, &trainer.address), before - fee);
    assert_eq!(balance(&app, &suite.token, &collector), fee);
    assert_eq!(undistributed(&app), fee);
    assert_eq!(balance(&app, &suite.token, &broke.address), 0);

    // Height 3: the bonded validator (power 30) and a key no bond names
    // (power 10) signed height 2.
    let bonded = ed25519_consensus::SigningKey::from([9u8; 32]);
    let bonded_address =
        crate::gov::validators::consensus_address(&bonded.verification_key().to_bytes());
    let stranger = vec![0xAB; 20];
    let block = finalize_signed(&app, 3, vec![], &[(bonded_address, 30), (stranger, 10)]);
    let payout = block
        .events
        .iter()
        .find(|e| e.r#type == "fee_payout")
        .expect("a fee_payout event");
    assert!(payout
        .attributes
        .iter()
        .any(|a| a.key == "amount" && a.value == "15000unrn"));
    assert_eq!(
        balance(&app, &suite.token, &operator),
        operator_before + 15_000
    );
    assert_eq!(balance(&app, &suite.token, &collector), 5_000);
    assert_eq!(undistributed(&app), 5_000);
}

/// CheckTx applies the node's own `--minimum-gas-prices` on top of the
/// chain's; blocks are judged by the chain's alone.
#[test]
fn the_node_minimum_gas_price_binds_only_its_mempool() {
    let cache = tempfile::tempdir().unwrap();
    let node = super::Node::with_parts(
        Store::temporary().unwrap(),
        crate::wasm::WasmVm::new(cache.path()).unwrap(),
    )
    .unwrap()
    .with_min_gas_price(cosmwasm_std::Decimal::percent(5));
    let app = super::App::new(node);
    genesis_with_suite(&app);
    finalize(&app, 1, vec![]);
    let trainer = key();
    let at_chain_minimum = signed(&trainer, 1, 0, nothing(), &with_price(200_000, "0.025"));
    let refused = check(&app, &at_chain_minimum);
    assert_eq!(
        refused.code,
        Code::InsufficientFee.value(),
        "{}",
        refused.log
    );
    let above = signed(&trainer, 1, 0, nothing(), &with_price(200_000, "0.05"));
    assert_eq!(check(&app, &above).code, 0);
    let block = finalize(&app, 2, vec![at_chain_minimum]);
    assert_eq!(block.tx_results[0].code, Code::UnknownMessage.value());
}

/// Declared-gas censorship: one account's huge cheap txs used to fill the
/// block in mempool order. Now the proposer takes the best price first,
/// each sender's txs in sequence order, and one sender gets at most a
/// quarter of the block's gas beyond its first tx.
#[test]
fn proposals_order_by_gas_price_and_cap_each_sender() {
    let TestApp { app, _cache } = app_on(Store::temporary().unwrap());
    genesis(&app);
    finalize(&app, 1, vec![]);
    let censor = key();
    let honest = Key::from_mnemonic("honest", FLOODER_MNEMONIC).unwrap();
    let third = Key::from_mnemonic("third", THIRD_MNEMONIC).unwrap();
    // Without a governance suite nothing is charged, but prices still rank.
    let censor_txs: Vec<Vec<u8>> = (0..3)
        .map(|seq| signed(&censor, 0, seq, nothing(), &with_price(60_000_000, "0.025")))
        .collect();
    let honest_tx = signed(&honest, 0, 0, nothing(), &with_price(200_000, "1"));
    let third_tx = signed(&third, 0, 0, nothing(), &with_price(200_000, "0.5"));
    let mut mempool = censor_txs.clone();
    mempool.push(third_tx.clone());
    mempool.push(honest_tx.clone());
    let proposal = app.prepare_proposal(pb::RequestPrepareProposal {
        max_tx_bytes: 1_000_000,
        txs: mempool.into_iter().map(Into::into).collect(),
        height: 2,
        ..Default::default()
    });
    let included: Vec<Vec<u8>> = proposal.txs.iter().map(|tx| tx.to_vec()).collect();
    // 60M + 60M would pass the censor's 100M share (a quarter of 400M).
    assert_eq!(included, vec![honest_tx, third_tx, censor_txs[0].clone()]);
}

/// Receiving NRN opens the recipient's account, so a new key can read its
/// account number and sign its first tx with an unmodified client.
#[test]
fn receiving_nrn_opens_the_recipient_account() {
    use cosmos_sdk_proto::cosmos::auth::v1beta1::{
        BaseAccount, QueryAccountRequest, QueryAccountResponse,
    };
    let TestApp { app, _cache } = app_on(Store::temporary().unwrap());
    let (suite, _) = genesis_with_suite(&app);
    finalize(&app, 1, vec![]);
    let trainer = key();
    let newcomer = Key::from_mnemonic("new", THIRD_MNEMONIC).unwrap();
    let account_query = |address: &str| {
        app.query(pb::RequestQuery {
            path: "/cosmos.auth.v1beta1.Query/Account".into(),
            data: QueryAccountRequest {
                address: address.into(),
            }
            .encode_to_vec()
            .into(),
            ..Default::default()
        })
    };
    assert_eq!(
        account_query(&newcomer.address).code,
        Code::NotFound.value()
    );
    let transfer = Any {
        type_url: "/cosmwasm.wasm.v1.MsgExecuteContract".into(),
        value: cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract {
            sender: trainer.address.clone(),
            contract: suite.token.clone(),
            msg: serde_json::json!({"transfer": {"recipient": newcomer.address, "amount": "5000000"}})
                .to_string()
                .into_bytes(),
            funds: vec![],
        }
        .encode_to_vec(),
    };
    let block = finalize(
        &app,
        2,
        vec![signed(
            &trainer,
            1,
            0,
            transfer,
            &with_price(2_000_000, "0.025"),
        )],
    );
    assert_eq!(block.tx_results[0].code, 0, "{}", block.tx_results[0].log);
    let answer = account_query(&newcomer.address);
    assert_eq!(answer.code, 0, "{}", answer.log);
    let any = QueryAccountResponse::decode(answer.value.as_ref())
        .unwrap()
        .account
        .unwrap();
    let account = BaseAccount::decode(any.value.as_slice()).unwrap();
    assert_eq!(account.sequence, 0);
    assert!(account.account_number >= 2, "after the genesis accounts");
    // Its first tx signs with that number and pays its fee.
    let first = signed(
        &newcomer,
        account.account_number,
        0,
        nothing(),
        &with_price(200_000, "0.025"),
    );
    let block = finalize(&app, 3, vec![first]);
    assert_eq!(block.tx_results[0].code, Code::UnknownMessage.value());
    assert_eq!(
        balance(&app, &suite.token, &newcomer.address),
        5_000_000 - 5_000
    );
}
