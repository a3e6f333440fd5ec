//! The node that bench/hot_paths.rs and bench/gas_calibration.rs drive:
//! a real `App` over a temporary store and VM cache, with the nrn-token
//! contract of artifacts/ instantiated and one funded key.
//!
//! FinalizeBlock runs against the committed state and keeps its result in
//! memory until Commit, so calling it again for the same height re-executes
//! the same block from the same state.

#![allow(dead_code)]

use cosmos_sdk_proto::cosmos::auth::v1beta1::{
    BaseAccount, QueryAccountRequest, QueryAccountResponse,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgInstantiateContract, MsgStoreCode,
};
use cosmos_sdk_proto::Any;
use prost::Message;
use tendermint_abci::Application;
use tendermint_proto::google::protobuf::Timestamp;
use tendermint_proto::v0_38::abci as pb;
use um_app::app::{App, Node};
use um_app::store::Store;
use um_app::wasm::WasmVm;
use um_client::keys::Key;
use um_client::msgs::any;
use um_client::tx_builder::{sign_tx, SignerData, TxOptions};

pub const CHAIN: &str = "um-bench-1";
const MNEMONIC: &str = "surround miss nominee dream gap cross assault thank captain prosper drop duty group candy wealth weather scale put";

pub fn time(height: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_700_000_000 + height,
        nanos: 0,
    })
}

/// A node with the nrn-token contract instantiated, `key` holding NRN.
pub struct Chain {
    pub app: App,
    pub _cache: tempfile::TempDir,
    pub key: Key,
    pub token: String,
    pub height: i64,
}

impl Chain {
    pub fn new() -> Self {
        let cache = tempfile::tempdir().expect("temp dir");
        let wasm = WasmVm::new(cache.path()).expect("wasm module");
        let node = Node::with_parts(Store::temporary().expect("store"), wasm).expect("node");
        let app = App::new(node);
        let key = Key::from_mnemonic("bench", MNEMONIC).expect("key");
        let wasm = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/nrn_token.wasm"),
        )
        .expect("artifacts/nrn_token.wasm (make contracts)");
        // The token is deployed at genesis and pinned, as the governance
        // suite's token is on a real chain.
        use base64::Engine;
        let genesis = serde_json::json!({
            "auth": {"accounts": []},
            "wasm": {
                "codes": [{
                    "creator": key.address,
                    "wasm_base64": base64::engine::general_purpose::STANDARD.encode(&wasm),
                }],
                "contracts": [{
                    "code_id": 1, "creator": key.address, "admin": key.address,
                    "label": "NRN", "pinned": true,
                    "msg": {
                        "name": "Neuron", "symbol": "NRN", "decimals": 6,
                        "initial_balances": [{"address": key.address, "amount": "1000000000000"}],
                        "mint": null, "marketing": null,
                    },
                }],
            },
        });
        let response = app.init_chain(pb::RequestInitChain {
            chain_id: CHAIN.into(),
            initial_height: 1,
            time: time(0),
            app_state_bytes: genesis.to_string().into_bytes().into(),
            ..Default::default()
        });
        assert!(!response.app_hash.is_empty(), "genesis failed");
        let chain = Chain {
            app,
            _cache: cache,
            key,
            token: um_app::wasm::classic_contract_address(1, 1).expect("token address"),
            height: 1,
        };
        // Genesis is committed with the first block: benchmarks re-run
        // FinalizeBlock at a height on committed state.
        chain.finalize(1, &[]);
        chain.app.commit();
        chain
    }

    /// Stores `wasm` in a block of its own; its code id.
    pub fn store_code(&mut self, wasm: Vec<u8>) -> u64 {
        let store = any(&MsgStoreCode {
            sender: self.key.address.clone(),
            wasm_byte_code: wasm,
            instantiate_permission: None,
        });
        let result = self.commit_one(store, 100_000_000);
        event(&result, "store_code", "code_id")
            .parse::<u64>()
            .expect("code id")
    }

    /// Instantiates `code_id` with `msg` in a block of its own; its address.
    pub fn instantiate(&mut self, code_id: u64, msg: &serde_json::Value, gas: u64) -> String {
        let instantiate = any(&MsgInstantiateContract {
            sender: self.key.address.clone(),
            admin: self.key.address.clone(),
            code_id,
            label: format!("contract {code_id}"),
            msg: msg.to_string().into_bytes(),
            funds: Vec::new(),
        });
        let result = self.commit_one(instantiate, gas);
        event(&result, "instantiate", "_contract_address").to_string()
    }

    pub fn account(&self) -> Option<BaseAccount> {
        let response = self.app.query(pb::RequestQuery {
            path: "/cosmos.auth.v1beta1.Query/Account".into(),
            data: QueryAccountRequest {
                address: self.key.address.clone(),
            }
            .encode_to_vec()
            .into(),
            ..Default::default()
        });
        if response.code != 0 {
            return None;
        }
        let any = QueryAccountResponse::decode(response.value.as_ref())
            .ok()?
            .account?;
        BaseAccount::decode(any.value.as_slice()).ok()
    }

    pub fn signer(&self, offset: u64) -> SignerData {
        let (account_number, sequence) = self
            .account()
            .map(|a| (a.account_number, a.sequence))
            .unwrap_or((0, 0));
        SignerData {
            chain_id: CHAIN.into(),
            account_number,
            sequence: sequence + offset,
        }
    }

    pub fn sign(&self, msg: Any, gas_limit: u64, offset: u64) -> Vec<u8> {
        let options = TxOptions {
            gas_limit,
            ..TxOptions::default()
        };
        sign_tx(&self.key, vec![msg], &self.signer(offset), &options).expect("signed")
    }

    pub fn finalize(&self, height: i64, txs: &[Vec<u8>]) -> pb::ResponseFinalizeBlock {
        self.app.finalize_block(pb::RequestFinalizeBlock {
            txs: txs.iter().map(|t| t.clone().into()).collect(),
            height,
            time: time(height),
            ..Default::default()
        })
    }

    pub fn commit_one(&mut self, msg: Any, gas: u64) -> pb::ExecTxResult {
        let tx = self.sign(msg, gas, 0);
        self.height += 1;
        let mut response = self.finalize(self.height, &[tx]);
        self.app.commit();
        let result = response.tx_results.remove(0);
        assert_eq!(result.code, 0, "setup tx failed: {}", result.log);
        result
    }

    /// `n` signed transfers with consecutive sequences, for the next height.
    pub fn transfers(&self, n: u64) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| self.sign(self.transfer_msg(), 400_000, i))
            .collect()
    }

    pub fn transfer_msg(&self) -> Any {
        any(&MsgExecuteContract {
            sender: self.key.address.clone(),
            contract: self.token.clone(),
            msg: serde_json::json!({"transfer": {"recipient": recipient(), "amount": "1"}})
                .to_string()
                .into_bytes(),
            funds: Vec::new(),
        })
    }
}

/// Where the transfers go: an account of its own (20 bytes of 1).
pub fn recipient() -> String {
    um_client::address::encode(&[1u8; 20])
}

pub fn event<'a>(result: &'a pb::ExecTxResult, kind: &str, key: &str) -> &'a str {
    result
        .events
        .iter()
        .filter(|e| e.r#type == kind)
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
        .unwrap_or_else(|| panic!("no {kind}.{key} event"))
}
