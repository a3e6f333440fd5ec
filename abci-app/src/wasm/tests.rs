//! End-to-end tests of the wasm module through the real VM.
//!
//! Two contracts are used: the NRN token (`artifacts/nrn_token.wasm`, a
//! cw20-base wrapper built by `scripts/build-contracts.sh`) and "reflect", a
//! tiny contract hand-written in WAT below whose entry points return the
//! message they were given, so a test can make a contract answer anything
//! (sub-messages, errors, events) without a contract toolchain.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;

use base64::Engine;
use cosmos_sdk_proto::cosmos::base::query::v1beta1::PageRequest;
use cosmos_sdk_proto::cosmos::base::v1beta1::Coin;
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgClearAdmin, MsgExecuteContract, MsgExecuteContractResponse, MsgInstantiateContract,
    MsgInstantiateContract2, MsgInstantiateContract2Response, MsgInstantiateContractResponse,
    MsgMigrateContract, MsgStoreCode, MsgStoreCodeResponse, MsgUpdateAdmin,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    QueryCodeRequest, QueryCodeResponse, QueryCodesRequest, QueryCodesResponse,
    QueryContractHistoryRequest, QueryContractHistoryResponse, QueryContractInfoRequest,
    QueryContractInfoResponse, QueryContractsByCodeRequest, QueryContractsByCodeResponse,
    QueryRawContractStateRequest, QueryRawContractStateResponse, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use cosmos_sdk_proto::Any;
use cosmwasm_std_vm::{ContractResult, SystemError, SystemResult};
use cosmwasm_vm::{BackendError, Querier};
use prost::{Message, Name};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::address;
use super::gas;
use super::host::Host;
use super::keeper::pack;
use super::limits::{MAX_DISPATCH_DEPTH, MAX_QUERY_DEPTH};
use super::querier::ChainQuerier;
use super::*;
use crate::codes::Code;
use crate::context::{Contracts, Event, GasMeter};
use crate::module::Module;
use crate::store::Store;

/// Enough to store the NRN token (~400 KB at 34 gas per byte) in one tx.
const GAS: u64 = 50_000_000;

/// One VM cache for the whole test process: compiled modules are shared
/// between tests (each test still has its own state).
static MODULE: LazyLock<(tempfile::TempDir, WasmVm)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let module = WasmVm::new(dir.path()).expect("wasm module");
    // Tests run in parallel on this one cache, which a node never does: two
    // tests storing a fixture for the first time at once would both write
    // its compiled module while one of them already runs it. Compiled here,
    // once, every later store finds the fixtures cached.
    for wasm in [&*NRN_TOKEN, &*REFLECT] {
        module
            .cache()
            .store_code(wasm, true, true)
            .expect("test fixture compiles");
    }
    (dir, module)
});

static NRN_TOKEN: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../artifacts/nrn_token.wasm");
    std::fs::read(path).unwrap_or_else(|e| {
        panic!("{path}: {e}; build the contracts first (scripts/build-contracts.sh)")
    })
});

/// `{"ok":{...,"data":"replied"}}`: what reflect's `reply` returns.
const REPLY_RESPONSE: &str =
    r#"{"ok":{"messages":[],"attributes":[],"events":[],"data":"cmVwbGllZA=="}}"#;

/// instantiate/execute/migrate/sudo: store the message under `last` and return
/// it as the result; query: return the message; reply: store the `Reply`
/// under `reply` and return [`REPLY_RESPONSE`]. A bump allocator that never
/// frees is enough for one call.
static REFLECT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let wat = format!(
        r#"(module
  (import "env" "db_write" (func $db_write (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "last")
  (data (i32.const 32) "reply")
  (data (i32.const 64) "{reply}")
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
  (func $echo (param $msg i32) (result i32)
    (call $db_write (call $static (i32.const 16) (i32.const 4)) (local.get $msg))
    (local.get $msg))
  (func (export "instantiate") (param i32 i32 i32) (result i32) (call $echo (local.get 2)))
  (func (export "execute") (param i32 i32 i32) (result i32) (call $echo (local.get 2)))
  (func (export "migrate") (param i32 i32) (result i32) (call $echo (local.get 1)))
  (func (export "sudo") (param i32 i32) (result i32) (call $echo (local.get 1)))
  (func (export "query") (param i32 i32) (result i32) (local.get 1))
  (func (export "reply") (param i32 i32) (result i32)
    (call $db_write (call $static (i32.const 32) (i32.const 5)) (local.get 1))
    (call $static (i32.const 64) (i32.const {reply_len}))))"#,
        reply = REPLY_RESPONSE.replace('"', "\\\""),
        reply_len = REPLY_RESPONSE.len(),
    );
    wat::parse_str(wat).expect("reflect contract assembles")
});

fn account(n: u8) -> String {
    address::encode(&[n; 20]).expect("account address")
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn attr<'a>(events: &'a [Event], kind: &str, key: &str) -> Option<&'a str> {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .flat_map(|e| e.attributes.iter())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// A chain with its own state, run like the tx runner runs messages: each in
/// a checkpoint that is kept on success and discarded on error.
struct Chain<'m> {
    _store: Store,
    state: StateView,
    block: BlockInfo,
    module: &'m WasmVm,
}

impl<'m> Chain<'m> {
    fn new() -> Self {
        Self::with_module(&MODULE.1)
    }

    fn with_module(module: &'m WasmVm) -> Self {
        let store = Store::temporary().expect("store");
        let state = store.view();
        Self {
            _store: store,
            state,
            block: BlockInfo {
                chain_id: "um-test".to_string(),
                height: 7,
                time_nanos: 1_700_000_000_000_000_000,
                hash: Vec::new(),
            },
            module,
        }
    }

    /// Runs one message; returns its result and the gas it used.
    fn tx(&mut self, signer: &str, msg: Any, gas_limit: u64) -> (Result<MsgResult, TxError>, u64) {
        self.tx_capped(signer, msg, gas_limit, u64::MAX)
    }

    /// `tx` with contract code limited to `contract_limit` gas, as a
    /// signed tx is (`max_tx_contract_gas`).
    fn tx_capped(
        &mut self,
        signer: &str,
        msg: Any,
        gas_limit: u64,
        contract_limit: u64,
    ) -> (Result<MsgResult, TxError>, u64) {
        assert!(WasmModule.handles(&msg.type_url), "{}", msg.type_url);
        let mut gas = GasMeter::new(gas_limit).with_contract_limit(contract_limit);
        self.state.checkpoint();
        let result = {
            let mut ctx = TxContext {
                state: &mut self.state,
                block: &self.block,
                gas: &mut gas,
                tx_index: 2,
                simulate: false,
                wasm: self.module,
            };
            self.module.handle_msg(&mut ctx, signer, &msg)
        };
        if result.is_ok() {
            self.state.keep_checkpoint();
        } else {
            self.state.discard_checkpoint();
        }
        (result, gas.used())
    }

    /// Runs one message as the `Simulate` query does; nothing it writes
    /// is kept.
    fn simulate(&mut self, signer: &str, msg: Any) -> (Result<MsgResult, TxError>, u64) {
        let mut gas = GasMeter::new(GAS);
        self.state.checkpoint();
        let result = {
            let mut ctx = TxContext {
                state: &mut self.state,
                block: &self.block,
                gas: &mut gas,
                tx_index: 0,
                simulate: true,
                wasm: self.module,
            };
            self.module.handle_msg(&mut ctx, signer, &msg)
        };
        self.state.discard_checkpoint();
        (result, gas.used())
    }

    /// The DAO's upload path, kept like a message on success.
    fn store_code_as(&mut self, dao: &str, wasm: &[u8]) -> (Result<MsgResult, TxError>, u64) {
        let mut gas = GasMeter::new(GAS);
        self.state.checkpoint();
        let result = {
            let mut ctx = TxContext {
                state: &mut self.state,
                block: &self.block,
                gas: &mut gas,
                tx_index: 0,
                simulate: false,
                wasm: self.module,
            };
            self.module.store_code_as(&mut ctx, dao, wasm)
        };
        if result.is_ok() {
            self.state.keep_checkpoint();
        } else {
            self.state.discard_checkpoint();
        }
        (result, gas.used())
    }

    /// How many copies of code bytes the state holds.
    fn stored_code_copies(&self) -> usize {
        // Blobs are outside range scans: count the pending writes.
        self.state
            .pending_changes()
            .iter()
            .filter(|(key, value)| {
                key.starts_with(&super::state_key::code_bytes(&[])) && value.is_some()
            })
            .count()
    }

    fn ok(&mut self, signer: &str, msg: Any) -> MsgResult {
        let (result, _) = self.tx(signer, msg, GAS);
        result.unwrap_or_else(|e| panic!("tx failed: {e:?}"))
    }

    fn store_code(&mut self, wasm: &[u8]) -> u64 {
        let msg = MsgStoreCode {
            sender: account(1),
            wasm_byte_code: wasm.to_vec(),
            instantiate_permission: None,
        };
        let result = self.ok(&account(1), pack(&msg));
        response::<MsgStoreCodeResponse>(&result).code_id
    }

    fn instantiate(&mut self, code_id: u64, msg: &Value, admin: &str) -> String {
        let result = self.ok(&account(1), instantiate_msg(code_id, msg, admin));
        response::<MsgInstantiateContractResponse>(&result).address
    }

    fn execute(
        &mut self,
        signer: &str,
        contract: &str,
        msg: &Value,
    ) -> (Result<MsgResult, TxError>, u64) {
        self.execute_with_gas(signer, contract, msg, GAS)
    }

    fn execute_with_gas(
        &mut self,
        signer: &str,
        contract: &str,
        msg: &Value,
        gas_limit: u64,
    ) -> (Result<MsgResult, TxError>, u64) {
        let msg = MsgExecuteContract {
            sender: signer.to_string(),
            contract: contract.to_string(),
            msg: msg.to_string().into_bytes(),
            funds: Vec::new(),
        };
        self.tx(signer, pack(&msg), gas_limit)
    }

    fn query<Req: Message + Name, Resp: Message + Default>(
        &self,
        req: &Req,
    ) -> Result<Resp, TxError> {
        let path = format!(
            "/cosmwasm.wasm.v1.Query/{}",
            Req::NAME
                .trim_start_matches("Query")
                .trim_end_matches("Request")
        );
        let bytes = self
            .module
            .abci_query(&self.state, &self.block, &path, &req.encode_to_vec())
            .expect("a wasm path")?;
        Ok(Resp::decode(bytes.as_slice()).expect("response decodes"))
    }

    fn smart(&self, contract: &str, msg: &Value) -> Result<Value, TxError> {
        let resp: QuerySmartContractStateResponse =
            self.query(&QuerySmartContractStateRequest {
                address: contract.to_string(),
                query_data: msg.to_string().into_bytes(),
            })?;
        Ok(serde_json::from_slice(&resp.data).expect("query answer is JSON"))
    }

    fn raw(&self, contract: &str, key: &[u8]) -> Vec<u8> {
        let resp: QueryRawContractStateResponse = self
            .query(&QueryRawContractStateRequest {
                address: contract.to_string(),
                query_data: key.to_vec(),
            })
            .expect("raw query");
        resp.data
    }

    fn balance(&self, token: &str, owner: &str) -> u128 {
        let answer = self
            .smart(token, &json!({ "balance": { "address": owner } }))
            .expect("balance query");
        answer["balance"]
            .as_str()
            .expect("balance")
            .parse()
            .expect("number")
    }

    /// A NRN token (code `code_id`) with the given initial balances.
    fn token(&mut self, code_id: u64, balances: &[(&str, u128)]) -> String {
        self.instantiate(code_id, &token_init(balances), "")
    }
}

fn token_init(balances: &[(&str, u128)]) -> Value {
    let initial: Vec<Value> = balances
        .iter()
        .map(|(address, amount)| json!({ "address": address, "amount": amount.to_string() }))
        .collect();
    json!({ "name": "Neuron", "symbol": "NRN", "decimals": 6, "initial_balances": initial })
}

fn instantiate_proto(code_id: u64, msg: &Value, admin: &str) -> MsgInstantiateContract {
    MsgInstantiateContract {
        sender: account(1),
        admin: admin.to_string(),
        code_id,
        label: "test contract".to_string(),
        msg: msg.to_string().into_bytes(),
        funds: Vec::new(),
    }
}

fn instantiate_msg(code_id: u64, msg: &Value, admin: &str) -> Any {
    pack(&instantiate_proto(code_id, msg, admin))
}

fn response<M: Message + Name + Default>(result: &MsgResult) -> M {
    let any = result.response.as_ref().expect("a response");
    assert_eq!(any.type_url, M::type_url());
    M::decode(any.value.as_slice()).expect("response decodes")
}

/// A reflect answer: `{"ok": Response}`.
fn reflect_ok(messages: Value, attributes: Value, data: Option<&str>) -> Value {
    json!({ "ok": {
        "messages": messages,
        "attributes": attributes,
        "events": [],
        "data": data.map(b64),
    }})
}

/// A sub-message executing `contract` with `msg`.
fn sub_execute(
    id: u64,
    contract: &str,
    msg: &Value,
    reply_on: &str,
    gas_limit: Option<u64>,
) -> Value {
    json!({
        "id": id,
        "payload": b64("pay"),
        "msg": { "wasm": { "execute": {
            "contract_addr": contract,
            "msg": b64(msg.to_string()),
            "funds": [],
        }}},
        "gas_limit": gas_limit,
        "reply_on": reply_on,
    })
}

/// The `Reply` the reflect contract at `contract` last received, if any.
fn last_reply(chain: &Chain, contract: &str) -> Option<Value> {
    let raw = chain.raw(contract, b"reply");
    (!raw.is_empty()).then(|| serde_json::from_slice(&raw).expect("reply JSON"))
}

fn reflect_pair(chain: &mut Chain) -> (String, String) {
    let code = chain.store_code(&REFLECT);
    let init = reflect_ok(json!([]), json!([]), None);
    (
        chain.instantiate(code, &init, ""),
        chain.instantiate(code, &init, ""),
    )
}

#[test]
fn store_code_accepts_plain_and_gzip_and_keeps_the_bytes() {
    let mut chain = Chain::new();
    let wasm: &[u8] = &NRN_TOKEN;
    let checksum = Sha256::digest(wasm).to_vec();

    let msg = MsgStoreCode {
        sender: account(1),
        wasm_byte_code: wasm.to_vec(),
        instantiate_permission: None,
    };
    let (result, gas_used) = chain.tx(&account(1), pack(&msg), GAS);
    let result = result.expect("store code");
    let stored: MsgStoreCodeResponse = response(&result);
    assert_eq!(stored.code_id, 1);
    assert_eq!(stored.checksum, checksum);
    assert!(gas_used >= gas::COMPILE_COST_PER_BYTE * wasm.len() as u64);
    assert_eq!(attr(&result.events, "store_code", "code_id"), Some("1"));
    assert_eq!(
        attr(&result.events, "store_code", "code_checksum"),
        Some(hex::encode(&checksum).as_str())
    );

    let zipped = MsgStoreCode {
        wasm_byte_code: gzip(wasm),
        ..msg
    };
    let stored: MsgStoreCodeResponse = response(&chain.ok(&account(1), pack(&zipped)));
    assert_eq!(stored.code_id, 2);
    assert_eq!(stored.checksum, checksum);

    // Both codes keep the unzipped bytes, which is what `Code` returns.
    for code_id in [1, 2] {
        let code: QueryCodeResponse = chain.query(&QueryCodeRequest { code_id }).unwrap();
        assert_eq!(code.data, wasm);
        let info = code.code_info.expect("code info");
        assert_eq!(
            (info.code_id, info.data_hash.as_slice()),
            (code_id, checksum.as_slice())
        );
        assert_eq!(info.creator, account(1));
    }
}

/// Every file under `dir` with its inode, length and modification time.
fn files_with_identity(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64, u64, SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else {
                files.push((path, meta.ino(), meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Storing bytes the cache already holds must leave their compiled module
/// alone: running instances are memory-mapped from that file, and a
/// rewrite under one killed this suite with SIGBUS. A node that has the
/// code cached pays the same gas as one that compiles it.
#[test]
fn storing_cached_code_again_leaves_the_compiled_module_alone() {
    let dir = tempfile::tempdir().unwrap();
    let module = WasmVm::new(dir.path()).unwrap();
    let mut chain = Chain::with_module(&module);
    // Another chain (state) on the same cache: the code is new to its state
    // but already compiled.
    let mut other = Chain::with_module(&module);
    fn store(chain: &mut Chain) -> (u64, u64) {
        let msg = MsgStoreCode {
            sender: account(1),
            wasm_byte_code: REFLECT.clone(),
            instantiate_permission: None,
        };
        let (result, gas_used) = chain.tx(&account(1), pack(&msg), GAS);
        let stored: MsgStoreCodeResponse = response(&result.expect("store code"));
        (stored.code_id, gas_used)
    }
    let (first, first_gas) = store(&mut chain);
    let init = reflect_ok(json!([]), json!([]), None);
    let running = chain.instantiate(first, &init, "");
    let compiled = files_with_identity(dir.path());
    assert!(compiled.len() >= 2, "the wasm and its module: {compiled:?}");

    let (second, second_gas) = store(&mut chain);
    assert_eq!(second, first + 1);
    assert!(second_gas < first_gas, "a re-upload is not compiled again");
    assert_eq!(files_with_identity(dir.path()), compiled);
    let (other_first, other_gas) = store(&mut other);
    assert_eq!((other_first, other_gas), (first, first_gas));
    assert_eq!(files_with_identity(dir.path()), compiled);

    chain.instantiate(second, &init, "");
    chain
        .execute(
            &account(1),
            &running,
            &reflect_ok(json!([]), json!([]), None),
        )
        .0
        .expect("the first contract still runs");
}

#[test]
fn invalid_wasm_is_rejected_without_using_a_code_id() {
    let mut chain = Chain::new();
    // A valid Wasm module that is no contract (no memory, no exports).
    let empty_module = b"\0asm\x01\0\0\0".to_vec();
    for bad in [
        empty_module,
        b"not wasm at all".to_vec(),
        gzip(b"\0asm garbage"),
    ] {
        let msg = MsgStoreCode {
            sender: account(1),
            wasm_byte_code: bad,
            instantiate_permission: None,
        };
        let err = chain.tx(&account(1), pack(&msg), GAS).0.unwrap_err();
        assert_eq!(err.code, Code::InvalidWasm, "{}", err.log);
    }
    assert_eq!(chain.store_code(&REFLECT), 1);
}

#[test]
fn instantiate_uses_the_classic_address_and_records_the_contract() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let result = chain.ok(
        &account(1),
        instantiate_msg(code_id, &token_init(&[]), &account(9)),
    );
    let address = response::<MsgInstantiateContractResponse>(&result).address;
    assert_eq!(
        address,
        address::encode(&address::classic_contract_address(1, 1)).unwrap()
    );
    assert_eq!(
        attr(&result.events, "instantiate", "_contract_address"),
        Some(address.as_str())
    );
    assert_eq!(attr(&result.events, "instantiate", "code_id"), Some("1"));
    assert_eq!(kinds(&result.events), ["instantiate", "wasm"]);
    assert_eq!(
        attr(&result.events, "wasm", "_contract_address"),
        Some(address.as_str())
    );
    assert_eq!(attr(&result.events, "wasm", "symbol"), Some("NRN"));

    let info: QueryContractInfoResponse = chain
        .query(&QueryContractInfoRequest {
            address: address.clone(),
        })
        .unwrap();
    let info = info.contract_info.expect("contract info");
    assert_eq!(info.code_id, code_id);
    assert_eq!(info.creator, account(1));
    assert_eq!(info.admin, account(9));
    assert_eq!(info.label, "test contract");
    assert_eq!(
        info.created.map(|c| (c.block_height, c.tx_index)),
        Some((7, 2))
    );

    // The second instance gets the next instance id.
    let second = chain.token(code_id, &[]);
    assert_eq!(
        second,
        address::encode(&address::classic_contract_address(1, 2)).unwrap()
    );
    let by_code: QueryContractsByCodeResponse = chain
        .query(&QueryContractsByCodeRequest {
            code_id,
            pagination: None,
        })
        .unwrap();
    assert_eq!(by_code.contracts.len(), 2);
    assert!(by_code.contracts.contains(&address) && by_code.contracts.contains(&second));

    // Unknown code, bad label, bad JSON, bad admin.
    for (msg, code) in [
        (instantiate_msg(99, &token_init(&[]), ""), Code::NotFound),
        (
            pack(&MsgInstantiateContract {
                label: String::new(),
                ..instantiate_proto(code_id, &json!({}), "")
            }),
            Code::InvalidRequest,
        ),
        (
            pack(&MsgInstantiateContract {
                msg: b"{not json".to_vec(),
                ..instantiate_proto(code_id, &json!({}), "")
            }),
            Code::InvalidRequest,
        ),
        (
            instantiate_msg(code_id, &token_init(&[]), "cosmos1xyz"),
            Code::InvalidAddress,
        ),
    ] {
        let err = chain.tx(&account(1), msg, GAS).0.unwrap_err();
        assert_eq!(err.code, code, "{}", err.log);
    }
}

#[test]
fn cw20_transfer_moves_balances_and_queries_see_them() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let (alice, bob) = (account(10), account(11));
    let token = chain.token(code_id, &[(&alice, 1_000)]);

    let transfer = json!({ "transfer": { "recipient": bob, "amount": "300" } });
    let (result, gas_used) = chain.execute(&alice, &token, &transfer);
    let result = result.expect("transfer");
    assert_eq!(kinds(&result.events), ["execute", "wasm"]);
    assert_eq!(
        attr(&result.events, "execute", "_contract_address"),
        Some(token.as_str())
    );
    assert_eq!(attr(&result.events, "wasm", "action"), Some("transfer"));
    assert_eq!(attr(&result.events, "wasm", "amount"), Some("300"));
    let data: MsgExecuteContractResponse = response(&result);
    assert!(data.data.is_empty());
    // Not pinned: the instance costs its memory and its code's load.
    let instance = gas::instance_cost(false, NRN_TOKEN.len() as u64);
    assert!(
        gas_used > instance && gas_used < instance + 100_000,
        "gas used: {gas_used}"
    );

    assert_eq!(chain.balance(&token, &alice), 700);
    assert_eq!(chain.balance(&token, &bob), 300);
    let info = chain.smart(&token, &json!({ "token_info": {} })).unwrap();
    assert_eq!(info["total_supply"], "1000");
    assert_eq!(info["symbol"], "NRN");

    // cw20-base keeps balances in the map "balance" keyed by address.
    let key = [&[0u8, 7][..], b"balance", bob.as_bytes()].concat();
    assert_eq!(chain.raw(&token, &key), b"\"300\"");
    assert!(chain.raw(&token, b"no such key").is_empty());

    // Overspending is the contract's error, and changes nothing.
    let too_much = json!({ "transfer": { "recipient": bob, "amount": "701" } });
    let err = chain.execute(&alice, &token, &too_much).0.unwrap_err();
    assert_eq!(err.code, Code::ContractError);
    assert!(err.log.starts_with("contract error: "), "{}", err.log);
    assert!(
        err.log.contains("execute wasm contract failed"),
        "{}",
        err.log
    );
    assert_eq!(chain.balance(&token, &alice), 700);
}

/// A pinned contract (the governance suite) pays the measured time of an
/// instance, not a whole memory and a load from disk; the module stays in
/// the VM's memory either way.
#[test]
fn a_pinned_contract_pays_a_small_instance_cost() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let (alice, bob) = (account(10), account(11));
    let token = chain.token(code_id, &[(&alice, 1_000)]);
    let transfer = json!({ "transfer": { "recipient": bob, "amount": "1" } });
    // The first creates bob's balance; the next two do the same work.
    chain
        .execute(&alice, &token, &transfer)
        .0
        .expect("transfer");
    let (result, unpinned) = chain.execute(&alice, &token, &transfer);
    result.expect("transfer");
    super::set_pinned(&mut chain.state, &token, true).unwrap();
    let (result, pinned) = chain.execute(&alice, &token, &transfer);
    result.expect("transfer");
    assert_eq!(
        unpinned - pinned,
        gas::instance_cost(false, NRN_TOKEN.len() as u64) - gas::PINNED_INSTANCE_COST
    );
    assert_eq!(chain.balance(&token, &bob), 3);
}

#[test]
fn running_out_of_gas_fails_with_out_of_gas_and_changes_nothing() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let (alice, bob) = (account(10), account(11));
    let token = chain.token(code_id, &[(&alice, 1_000)]);
    let transfer = json!({ "transfer": { "recipient": bob, "amount": "5" } });

    // Not even enough for the instance; then enough for the instance but not
    // for the contract's storage writes.
    let instance = gas::instance_cost(false, NRN_TOKEN.len() as u64);
    for limit in [instance - 1, instance + 2_000] {
        let (result, used) = chain.execute_with_gas(&alice, &token, &transfer, limit);
        let err = result.unwrap_err();
        assert_eq!(err.code, Code::OutOfGas, "{}", err.log);
        assert_eq!(used, limit);
        assert_eq!(chain.balance(&token, &alice), 1_000);
        assert_eq!(chain.balance(&token, &bob), 0);
    }
    // The same message with enough gas goes through.
    chain
        .execute(&alice, &token, &transfer)
        .0
        .expect("transfer");
    assert_eq!(chain.balance(&token, &bob), 5);
}

#[test]
fn funds_and_foreign_senders_are_refused() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let alice = account(10);
    let token = chain.token(code_id, &[(&alice, 1_000)]);
    let transfer = json!({ "transfer": { "recipient": account(11), "amount": "5" } });
    let with_funds = MsgExecuteContract {
        sender: alice.clone(),
        contract: token.clone(),
        msg: transfer.to_string().into_bytes(),
        funds: vec![Coin {
            denom: "unrn".to_string(),
            amount: "1".to_string(),
        }],
    };
    let err = chain.tx(&alice, pack(&with_funds), GAS).0.unwrap_err();
    assert_eq!(err.code, Code::FundsNotSupported);

    let init = MsgInstantiateContract {
        funds: with_funds.funds.clone(),
        ..instantiate_proto(code_id, &token_init(&[]), "")
    };
    assert_eq!(
        chain.tx(&account(1), pack(&init), GAS).0.unwrap_err().code,
        Code::FundsNotSupported
    );

    // Alice's message, signed by Bob.
    let alices = MsgExecuteContract {
        funds: Vec::new(),
        ..with_funds
    };
    let err = chain.tx(&account(11), pack(&alices), GAS).0.unwrap_err();
    assert_eq!(err.code, Code::WrongSigner);
    assert_eq!(chain.balance(&token, &alice), 1_000);
    chain
        .tx(&alice, pack(&alices), GAS)
        .0
        .expect("signed by the sender");
    assert_eq!(chain.balance(&token, &alice), 995);
}

#[test]
fn only_the_admin_migrates_and_changes_the_admin() {
    let mut chain = Chain::new();
    let v1 = chain.store_code(&NRN_TOKEN);
    let v2 = chain.store_code(&gzip(&NRN_TOKEN));
    let (admin, other) = (account(20), account(21));
    let token = {
        let result = chain.ok(
            &account(1),
            instantiate_msg(v1, &token_init(&[(&admin, 5)]), &admin),
        );
        response::<MsgInstantiateContractResponse>(&result).address
    };
    let migrate = |sender: &str| MsgMigrateContract {
        sender: sender.to_string(),
        contract: token.clone(),
        code_id: v2,
        msg: b"{}".to_vec(),
    };

    let err = chain.tx(&other, pack(&migrate(&other)), GAS).0.unwrap_err();
    assert_eq!(err.code, Code::NotPermitted);
    let result = chain.ok(&admin, pack(&migrate(&admin)));
    assert_eq!(attr(&result.events, "migrate", "code_id"), Some("2"));
    assert_eq!(
        attr(&result.events, "migrate", "_contract_address"),
        Some(token.as_str())
    );
    assert_eq!(attr(&result.events, "wasm", "action"), Some("migrate"));

    let info: QueryContractInfoResponse = chain
        .query(&QueryContractInfoRequest {
            address: token.clone(),
        })
        .unwrap();
    assert_eq!(info.contract_info.unwrap().code_id, v2);
    let history: QueryContractHistoryResponse = chain
        .query(&QueryContractHistoryRequest {
            address: token.clone(),
            pagination: None,
        })
        .unwrap();
    assert_eq!(
        history
            .entries
            .iter()
            .map(|e| e.code_id)
            .collect::<Vec<_>>(),
        [v1, v2]
    );
    let on = |code_id| -> Vec<String> {
        let resp: QueryContractsByCodeResponse = chain
            .query(&QueryContractsByCodeRequest {
                code_id,
                pagination: None,
            })
            .unwrap();
        resp.contracts
    };
    assert!(on(v1).is_empty());
    assert_eq!(on(v2), std::slice::from_ref(&token));
    assert_eq!(chain.balance(&token, &admin), 5);

    // Admin changes: only by the admin; after clearing, nobody migrates.
    let update = |sender: &str, new_admin: &str| MsgUpdateAdmin {
        sender: sender.to_string(),
        new_admin: new_admin.to_string(),
        contract: token.clone(),
    };
    let err = chain
        .tx(&other, pack(&update(&other, &other)), GAS)
        .0
        .unwrap_err();
    assert_eq!(err.code, Code::NotPermitted);
    let result = chain.ok(&admin, pack(&update(&admin, &other)));
    assert_eq!(
        attr(&result.events, "update_contract_admin", "new_admin_address"),
        Some(other.as_str())
    );
    assert_eq!(
        chain
            .tx(&admin, pack(&migrate(&admin)), GAS)
            .0
            .unwrap_err()
            .code,
        Code::NotPermitted
    );
    let clear = MsgClearAdmin {
        sender: other.clone(),
        contract: token.clone(),
    };
    chain.ok(&other, pack(&clear));
    let err = chain.tx(&other, pack(&migrate(&other)), GAS).0.unwrap_err();
    assert_eq!(err.code, Code::NotPermitted);
    assert!(err.log.contains("no admin"), "{}", err.log);
}

#[test]
fn cw20_send_to_a_contract_that_cannot_receive_rolls_everything_back() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let alice = account(10);
    let token = chain.token(code_id, &[(&alice, 1_000)]);
    // Another token as "receiver": it has no `receive` message.
    let receiver = chain.token(code_id, &[]);

    let send = json!({ "send": { "contract": receiver, "amount": "100", "msg": b64("{}") } });
    let err = chain.execute(&alice, &token, &send).0.unwrap_err();
    assert_eq!(err.code, Code::ContractError, "{}", err.log);
    assert!(
        err.log.contains("execute wasm contract failed"),
        "{}",
        err.log
    );
    // The receiver's own error (it has no `receive` message) is what failed.
    assert!(err.log.contains("receive"), "{}", err.log);
    assert_eq!(chain.balance(&token, &alice), 1_000);
    assert_eq!(chain.balance(&token, &receiver), 0);
}

#[test]
fn abci_queries_refuse_bad_input() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let token = chain.token(code_id, &[(&account(10), 1)]);
    let nobody = address::encode(&[5u8; 32]).unwrap();
    let query = |path: &str, data: &[u8]| {
        chain
            .module
            .abci_query(&chain.state, &chain.block, path, data)
    };

    assert!(query("/cosmos.bank.v1beta1.Query/Balance", b"").is_none());
    assert_eq!(
        query("/cosmwasm.wasm.v1.Query/Nope", b"")
            .unwrap()
            .unwrap_err()
            .code,
        Code::InvalidRequest
    );
    for path in [
        "SmartContractState",
        "RawContractState",
        "ContractInfo",
        "Code",
    ] {
        let err = query(&format!("/cosmwasm.wasm.v1.Query/{path}"), &[0xff, 0xff])
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest, "{path}");
    }

    let smart = |address: &str, data: &[u8]| {
        chain
            .query::<_, QuerySmartContractStateResponse>(&QuerySmartContractStateRequest {
                address: address.to_string(),
                query_data: data.to_vec(),
            })
            .map(|r| r.data)
    };
    let err = smart(&nobody, b"{}").unwrap_err();
    assert_eq!(err.code, Code::NotFound);
    assert!(err.log.contains("not found"));
    assert_eq!(
        smart("um1bad", b"{}").unwrap_err().code,
        Code::InvalidAddress
    );
    assert_eq!(
        smart(&token, b"{oops").unwrap_err().code,
        Code::InvalidRequest
    );
    let err = smart(&token, br#"{"no_such_query":{}}"#).unwrap_err();
    assert_eq!(err.code, Code::ContractError, "{}", err.log);
    assert!(smart(&token, br#"{"token_info":{}}"#).is_ok());

    let raw = chain.query::<_, QueryRawContractStateResponse>(&QueryRawContractStateRequest {
        address: nobody.clone(),
        query_data: b"k".to_vec(),
    });
    assert_eq!(raw.unwrap_err().code, Code::NotFound);
    let info =
        chain.query::<_, QueryContractInfoResponse>(&QueryContractInfoRequest { address: nobody });
    assert!(info.unwrap_err().log.contains("not found"));
    let code = chain.query::<_, QueryCodeResponse>(&QueryCodeRequest { code_id: 42 });
    assert_eq!(code.unwrap_err().code, Code::NotFound);
}

#[test]
fn codes_query_pages_by_key_and_limit() {
    let mut chain = Chain::new();
    for _ in 0..3 {
        chain.store_code(&REFLECT);
    }
    let page = |key: Vec<u8>, limit: u64, reverse: bool| -> QueryCodesResponse {
        chain
            .query(&QueryCodesRequest {
                pagination: Some(PageRequest {
                    key,
                    offset: 0,
                    limit,
                    count_total: true,
                    reverse,
                }),
            })
            .unwrap()
    };
    let ids = |resp: &QueryCodesResponse| {
        resp.code_infos
            .iter()
            .map(|c| c.code_id)
            .collect::<Vec<_>>()
    };

    let all = page(Vec::new(), 0, false);
    assert_eq!(ids(&all), [1, 2, 3]);
    assert_eq!(all.pagination.as_ref().unwrap().total, 3);
    assert!(all.pagination.unwrap().next_key.is_empty());

    let first = page(Vec::new(), 2, false);
    assert_eq!(ids(&first), [1, 2]);
    let next_key = first.pagination.unwrap().next_key;
    assert_eq!(next_key, 3u64.to_be_bytes());
    assert_eq!(ids(&page(next_key, 2, false)), [3]);

    let backwards = page(Vec::new(), 2, true);
    assert_eq!(ids(&backwards), [3, 2]);
    assert_eq!(
        ids(&page(backwards.pagination.unwrap().next_key, 5, true)),
        [1]
    );
}

#[test]
fn sub_message_success_replies_with_the_response_and_reply_data_wins() {
    let mut chain = Chain::new();
    let (caller, callee) = reflect_pair(&mut chain);
    let inner = reflect_ok(
        json!([]),
        json!([{ "key": "inner", "value": "yes" }]),
        Some("inner"),
    );
    let outer = reflect_ok(
        json!([sub_execute(7, &callee, &inner, "success", None)]),
        json!([{ "key": "outer", "value": "yes" }]),
        Some("outer"),
    );
    let result = chain
        .execute(&account(1), &caller, &outer)
        .0
        .expect("execute");
    assert_eq!(
        kinds(&result.events),
        ["execute", "wasm", "execute", "wasm", "reply"]
    );
    // The callee's events carry its own address.
    assert_eq!(result.events[2].attributes[0].1, callee);
    assert_eq!(
        result.events[3].attributes[1],
        ("inner".to_string(), "yes".to_string())
    );
    assert_eq!(result.events[4].attributes[0].1, caller);

    // The reply's data ("replied") replaces the caller's own ("outer").
    let data: MsgExecuteContractResponse = response(&result);
    assert_eq!(data.data, b"replied");

    let reply = last_reply(&chain, &caller).expect("reply was called");
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["payload"], b64("pay"));
    assert!(reply["gas_used"].as_u64().unwrap() > gas::INSTANCE_COST);
    let ok = &reply["result"]["ok"];
    let inner_response = MsgExecuteContractResponse {
        data: b"inner".to_vec(),
    }
    .encode_to_vec();
    assert_eq!(
        ok["msg_responses"][0]["type_url"],
        MsgExecuteContractResponse::type_url()
    );
    assert_eq!(ok["msg_responses"][0]["value"], b64(&inner_response));
    assert_eq!(ok["data"], b64(&inner_response));
    assert_eq!(ok["events"][0]["type"], "execute");
    // Both contracts' writes are kept.
    assert_eq!(chain.raw(&callee, b"last"), inner.to_string().into_bytes());
    assert_eq!(chain.raw(&caller, b"last"), outer.to_string().into_bytes());
}

#[test]
fn failed_sub_message_with_reply_on_error_is_undone_and_reported() {
    let mut chain = Chain::new();
    let (caller, callee) = reflect_pair(&mut chain);
    let before = chain.raw(&callee, b"last");
    let failing = json!({ "error": "boom" });
    let outer = reflect_ok(
        json!([sub_execute(3, &callee, &failing, "error", None)]),
        json!([]),
        None,
    );
    let result = chain
        .execute(&account(1), &caller, &outer)
        .0
        .expect("execute");
    // Nothing of the callee: its write and events are gone.
    assert_eq!(chain.raw(&callee, b"last"), before);
    assert_eq!(kinds(&result.events), ["execute", "reply"]);
    let reply = last_reply(&chain, &caller).expect("reply was called");
    assert_eq!(reply["id"], 3);
    let error = reply["result"]["error"].as_str().expect("an error result");
    assert!(
        error.contains("boom") && error.contains("contract error"),
        "{error}"
    );

    // On success, reply_on = error does not call reply.
    let (caller2, _) = reflect_pair(&mut chain);
    let fine = reflect_ok(json!([]), json!([]), None);
    let outer = reflect_ok(
        json!([sub_execute(4, &callee, &fine, "error", None)]),
        json!([]),
        None,
    );
    chain
        .execute(&account(1), &caller2, &outer)
        .0
        .expect("execute");
    assert!(last_reply(&chain, &caller2).is_none());
}

#[test]
fn failed_sub_message_without_reply_fails_the_whole_message() {
    let mut chain = Chain::new();
    let (caller, callee) = reflect_pair(&mut chain);
    let caller_before = chain.raw(&caller, b"last");
    for reply_on in ["success", "never"] {
        let outer = reflect_ok(
            json!([sub_execute(
                1,
                &callee,
                &json!({ "error": "nope" }),
                reply_on,
                None
            )]),
            json!([]),
            None,
        );
        let err = chain.execute(&account(1), &caller, &outer).0.unwrap_err();
        assert_eq!(err.code, Code::ContractError, "{}", err.log);
        assert!(err.log.contains("nope"));
        assert_eq!(chain.raw(&caller, b"last"), caller_before);
        assert!(last_reply(&chain, &caller).is_none());
    }
}

#[test]
fn a_sub_message_gas_limit_is_the_contracts_to_handle() {
    let mut chain = Chain::new();
    let (caller, callee) = reflect_pair(&mut chain);
    let fine = reflect_ok(json!([]), json!([]), None);
    // Below the instance cost: the sub-message runs out of its own gas.
    let outer = reflect_ok(
        json!([sub_execute(5, &callee, &fine, "always", Some(1_000))]),
        json!([]),
        None,
    );
    let (result, used) = chain.execute(&account(1), &caller, &outer);
    result.expect("the caller handles the failure");
    let reply = last_reply(&chain, &caller).expect("reply was called");
    let error = reply["result"]["error"].as_str().expect("an error result");
    assert!(error.contains("out of gas"), "{error}");
    assert_eq!(reply["gas_used"], 1_000);
    assert!(used > 1_000);

    // Without a limit, running out of the tx's gas ends the tx, reply or not.
    let outer = reflect_ok(
        json!([sub_execute(6, &callee, &fine, "always", None)]),
        json!([]),
        None,
    );
    // Enough for the caller's instance, not for the callee's as well.
    let limit = gas::instance_cost(false, REFLECT.len() as u64) * 3 / 2;
    let (result, _) = chain.execute_with_gas(&account(1), &caller, &outer, limit);
    assert_eq!(result.unwrap_err().code, Code::OutOfGas);
}

#[test]
fn unsupported_messages_and_bad_events_are_refused() {
    let mut chain = Chain::new();
    let (caller, callee) = reflect_pair(&mut chain);
    let bank = json!({ "id": 0, "msg": { "bank": { "send": {
        "to_address": account(3), "amount": [{ "denom": "u", "amount": "1" }] } } },
        "gas_limit": null, "reply_on": "never" });
    let custom = json!({ "id": 0, "msg": { "custom": { "set_hyperparams": {} } },
        "gas_limit": null, "reply_on": "never" });
    let outer = reflect_ok(json!([bank]), json!([]), None);
    let err = chain.execute(&account(1), &caller, &outer).0.unwrap_err();
    assert_eq!(err.code, Code::UnknownMessage, "{}", err.log);
    assert!(err.log.contains("not supported"));
    // Custom messages go to the chain's bindings, which here take none.
    let outer = reflect_ok(json!([custom]), json!([]), None);
    let err = chain.execute(&account(1), &caller, &outer).0.unwrap_err();
    assert_eq!(err.code, Code::UnknownMessage, "{}", err.log);
    assert!(err.log.contains("no custom messages"), "{}", err.log);
    let paid = json!({ "id": 0, "msg": { "wasm": { "execute": {
        "contract_addr": callee, "msg": b64("{}"), "funds": [{ "denom": "u", "amount": "1" }] } } },
        "gas_limit": null, "reply_on": "never" });
    let outer = reflect_ok(json!([paid]), json!([]), None);
    assert_eq!(
        chain
            .execute(&account(1), &caller, &outer)
            .0
            .unwrap_err()
            .code,
        Code::FundsNotSupported
    );
    let reserved = reflect_ok(
        json!([]),
        json!([{ "key": "_contract_address", "value": "x" }]),
        None,
    );
    assert_eq!(
        chain
            .execute(&account(1), &caller, &reserved)
            .0
            .unwrap_err()
            .code,
        Code::ContractError
    );
}

#[test]
fn nested_sub_messages_are_limited_in_depth() {
    let mut chain = Chain::new();
    let (caller, _) = reflect_pair(&mut chain);
    // The caller calls itself `levels` times.
    let nested = |levels: u32| {
        let mut msg = reflect_ok(json!([]), json!([]), None);
        for _ in 0..levels {
            msg = reflect_ok(
                json!([sub_execute(0, &caller, &msg, "never", None)]),
                json!([]),
                None,
            );
        }
        msg
    };
    chain
        .execute(&account(1), &caller, &nested(limits::MAX_DISPATCH_DEPTH))
        .0
        .expect("at the limit");
    let err = chain
        .execute(
            &account(1),
            &caller,
            &nested(limits::MAX_DISPATCH_DEPTH + 1),
        )
        .0
        .unwrap_err();
    assert!(err.log.contains("depth"), "{}", err.log);
}

#[test]
fn instantiate2_address_is_predictable_and_taken_once() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&REFLECT);
    let msg = MsgInstantiateContract2 {
        sender: account(1),
        admin: String::new(),
        code_id,
        label: "predictable".to_string(),
        msg: reflect_ok(json!([]), json!([]), Some("hi"))
            .to_string()
            .into_bytes(),
        funds: Vec::new(),
        salt: b"salt".to_vec(),
        fix_msg: false,
    };
    let result = chain.ok(&account(1), pack(&msg));
    let created: MsgInstantiateContract2Response = response(&result);
    let expected = address::predictable_contract_address(
        &Sha256::digest(&*REFLECT),
        &[1u8; 20],
        b"salt",
        b"",
        false,
    )
    .unwrap();
    assert_eq!(created.address, address::encode(&expected).unwrap());
    assert_eq!(created.data, b"hi");
    let err = chain.tx(&account(1), pack(&msg), GAS).0.unwrap_err();
    assert_eq!(err.code, Code::InvalidRequest);
    assert!(err.log.contains("already exists"));
}

#[test]
fn contracts_query_the_chain_through_the_querier() {
    let mut chain = Chain::new();
    let (reflect, _) = reflect_pair(&mut chain);
    let code_id = chain.store_code(&NRN_TOKEN);
    let token = chain.token(code_id, &[(&account(10), 42)]);
    let cache = chain.module.cache();
    let block = chain.block.clone();
    Host::with_owned_state(
        &cache,
        &crate::wasm::host::no_bindings(),
        &mut chain.state,
        &block,
        Some(0),
        |host| {
            let querier = ChainQuerier::new(Arc::clone(host), 0);
            let ask = |request: Value, gas_limit: u64| {
                querier.query_raw(request.to_string().as_bytes(), gas_limit)
            };
            let answer = |request: Value| -> Value {
                match ask(request, u64::MAX).0 {
                    Ok(SystemResult::Ok(ContractResult::Ok(data))) => {
                        serde_json::from_slice(&data).unwrap()
                    }
                    other => panic!("unexpected answer: {other:?}"),
                }
            };

            let smart = json!({ "wasm": { "smart": { "contract_addr": token,
            "msg": b64(json!({ "balance": { "address": account(10) } }).to_string()) } } });
            assert_eq!(answer(smart.clone())["balance"], "42");
            let (_, gas_info) = ask(smart.clone(), u64::MAX);
            assert!(gas_info.externally_used > gas::to_cw(gas::INSTANCE_COST));
            assert!(matches!(
                ask(smart, 1_000).0,
                Err(BackendError::OutOfGas {})
            ));

            let echo = json!({ "wasm": { "smart": { "contract_addr": reflect,
            "msg": b64(json!({ "error": "no" }).to_string()) } } });
            assert!(
                matches!(ask(echo, u64::MAX).0, Ok(SystemResult::Ok(ContractResult::Err(e))) if e == "no")
            );

            let info = answer(json!({ "wasm": { "contract_info": { "contract_addr": token } } }));
            assert_eq!(info["code_id"], code_id);
            assert_eq!(info["creator"], account(1));
            let code = answer(json!({ "wasm": { "code_info": { "code_id": code_id } } }));
            assert_eq!(code["checksum"], hex::encode(Sha256::digest(&*NRN_TOKEN)));
            let raw =
                json!({ "wasm": { "raw": { "contract_addr": reflect, "key": b64("last") } } });
            assert!(
                matches!(ask(raw, u64::MAX).0, Ok(SystemResult::Ok(ContractResult::Ok(d))) if !d.is_empty())
            );
            let balance =
                answer(json!({ "bank": { "balance": { "address": account(10), "denom": "u" } } }));
            assert_eq!(balance["amount"]["amount"], "0");

            let nobody = address::encode(&[5u8; 32]).unwrap();
            assert!(matches!(
                ask(
                    json!({ "wasm": { "contract_info": { "contract_addr": nobody } } }),
                    u64::MAX
                )
                .0,
                Ok(SystemResult::Err(SystemError::NoSuchContract { .. }))
            ));
            // Custom queries go to the chain's bindings, which here answer none.
            assert!(matches!(
                ask(json!({ "custom": {} }), u64::MAX).0,
                Ok(SystemResult::Ok(ContractResult::Err(_)))
            ));
            assert!(matches!(
                querier.query_raw(b"{nope", u64::MAX).0,
                Ok(SystemResult::Err(SystemError::InvalidRequest { .. }))
            ));

            let deep = ChainQuerier::new(Arc::clone(host), MAX_QUERY_DEPTH);
            let smart =
                json!({ "wasm": { "smart": { "contract_addr": reflect, "msg": b64("{}") } } });
            let outcome = deep.query_raw(smart.to_string().as_bytes(), u64::MAX).0;
            assert!(
                matches!(outcome, Ok(SystemResult::Ok(ContractResult::Err(e))) if e.contains("depth"))
            );
        },
    );
}

#[test]
fn a_node_without_the_code_in_its_cache_restores_it_from_state() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&NRN_TOKEN);
    let alice = account(10);
    let token = chain.token(code_id, &[(&alice, 1_000)]);

    // Same state, a brand-new (empty) cache directory.
    let dir = tempfile::tempdir().unwrap();
    let fresh = WasmVm::new(dir.path()).unwrap();
    chain.module = &fresh;
    assert_eq!(chain.balance(&token, &alice), 1_000);
    let transfer = json!({ "transfer": { "recipient": account(11), "amount": "1" } });
    chain
        .execute(&alice, &token, &transfer)
        .0
        .expect("transfer on the fresh node");
    assert_eq!(chain.balance(&token, &account(11)), 1);
}

#[test]
fn genesis_stores_and_instantiates_like_messages() {
    let alice = account(10);
    let genesis: WasmGenesis = serde_json::from_value(json!({
        "codes": [{ "creator": account(1), "wasm_base64": b64(&*NRN_TOKEN) }],
        "contracts": [{
            "code_id": 1, "creator": account(1), "admin": account(2), "label": "nrn",
            "msg": token_init(&[(&alice, 77)]),
        }],
    }))
    .unwrap();
    let mut chain = Chain::new();
    let block = chain.block.clone();
    chain
        .module
        .init_genesis_from(&mut chain.state, &block, &genesis)
        .expect("genesis");
    let token = address::encode(&address::classic_contract_address(1, 1)).unwrap();
    assert_eq!(chain.balance(&token, &alice), 77);
    // The next message-made contract continues the sequences.
    assert_eq!(chain.store_code(&REFLECT), 2);

    let broken = WasmGenesis {
        contracts: vec![GenesisContract {
            code_id: 9,
            ..genesis.contracts[0].clone()
        }],
        ..WasmGenesis::default()
    };
    let err = chain
        .module
        .init_genesis_from(&mut chain.state, &block, &broken)
        .unwrap_err();
    assert_eq!(err.code, Code::NotFound);
    assert!(err.log.contains("genesis"));
}

#[test]
fn the_module_can_live_in_shared_node_state() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WasmVm>();
    assert!(WasmModule.handles("/cosmwasm.wasm.v1.MsgExecuteContract"));
    assert!(!WasmModule.handles("/cosmos.bank.v1beta1.MsgSend"));
}

/// Bindings that answer `{"sudo_again":{"contract","msg"}}` with a sudo of
/// `contract` with `msg`, as the chain answers the DAO's royalty rule.
struct SudoAgain;

impl crate::context::CustomBindings for SudoAgain {
    fn execute(
        &self,
        _: &mut StateView,
        _: &BlockInfo,
        _: &str,
        msg: &[u8],
    ) -> Result<crate::context::CustomOutcome, TxError> {
        let msg: Value = serde_json::from_slice(msg).expect("custom JSON");
        let call = &msg["sudo_again"];
        Ok(crate::context::CustomOutcome {
            sudo_calls: vec![crate::context::SudoCall {
                contract: call["contract"].as_str().expect("contract").to_string(),
                msg: call["msg"].to_string().into_bytes(),
            }],
            ..Default::default()
        })
    }

    fn query(&self, _: &StateView, _: &[u8]) -> Result<Vec<u8>, TxError> {
        Err(TxError::new(Code::UnknownMessage, "no custom queries"))
    }
}

/// A sudo the chain makes for a contract's custom message runs below that
/// message's depth: a contract whose sudo asks for the same sudo again
/// stops at the sub-message depth limit, instead of starting from depth 0
/// each time and recursing until the gas runs out.
#[test]
fn a_sudo_asked_for_by_a_custom_message_keeps_the_sub_message_depth() {
    let dir = tempfile::tempdir().unwrap();
    let module = WasmVm::new(dir.path())
        .unwrap()
        .with_bindings(Arc::new(SudoAgain));
    let mut chain = Chain::with_module(&module);
    let code = chain.store_code(&REFLECT);
    let reflect = chain.instantiate(code, &reflect_ok(json!([]), json!([]), None), "");
    // Each sudo answer asks for one more sudo of the same contract.
    let again = |inner: &Value| {
        reflect_ok(
            json!([{
                "id": 0,
                "payload": "",
                "msg": {"custom": {"sudo_again": {"contract": reflect, "msg": inner}}},
                "gas_limit": null,
                "reply_on": "never",
            }]),
            json!([]),
            None,
        )
    };
    // Nested deeper than the limit; each level alone is a depth of 1 when
    // counted from 0 again.
    let mut msg = reflect_ok(json!([]), json!([]), None);
    for _ in 0..=MAX_DISPATCH_DEPTH + 2 {
        msg = again(&msg);
    }
    let mut gas = GasMeter::new(GAS);
    let err = {
        let mut ctx = TxContext {
            state: &mut chain.state,
            block: &chain.block,
            gas: &mut gas,
            tx_index: 0,
            simulate: false,
            wasm: chain.module,
        };
        chain
            .module
            .sudo(&mut ctx, &reflect, msg.to_string().as_bytes())
            .unwrap_err()
    };
    assert!(err.log.contains("depth limit"), "{}", err.log);
}

#[test]
fn other_modules_reach_contracts_through_sudo_and_queries() {
    let mut chain = Chain::new();
    let (reflect, callee) = reflect_pair(&mut chain);
    let inner = reflect_ok(json!([]), json!([]), None);
    let msg = reflect_ok(
        json!([sub_execute(1, &callee, &inner, "never", None)]),
        json!([{ "key": "slashed", "value": "1" }]),
        Some("done"),
    );
    let mut gas = GasMeter::new(GAS);
    chain.state.checkpoint();
    let result = {
        let mut ctx = TxContext {
            state: &mut chain.state,
            block: &chain.block,
            gas: &mut gas,
            tx_index: 0,
            simulate: false,
            wasm: chain.module,
        };
        chain
            .module
            .sudo(&mut ctx, &reflect, msg.to_string().as_bytes())
    }
    .expect("sudo");
    chain.state.keep_checkpoint();
    assert_eq!(kinds(&result.events), ["sudo", "wasm", "execute"]);
    assert_eq!(attr(&result.events, "wasm", "slashed"), Some("1"));
    let any = result.response.expect("response");
    assert_eq!(any.type_url, "/cosmwasm.wasm.v1.MsgSudoContractResponse");
    assert!(gas.used() > 2 * gas::INSTANCE_COST);
    assert_eq!(chain.raw(&callee, b"last"), inner.to_string().into_bytes());

    let answer = chain
        .module
        .query_smart(
            &chain.state,
            &chain.block,
            &reflect,
            br#"{"ok":"eyJ4IjoxfQ=="}"#,
        )
        .expect("query");
    assert_eq!(answer, br#"{"x":1}"#);
    assert_eq!(
        chain
            .module
            .contract_creator(&chain.state, &reflect)
            .unwrap(),
        Some(account(1))
    );
    let nobody = address::encode(&[5u8; 32]).unwrap();
    assert_eq!(
        chain
            .module
            .contract_creator(&chain.state, &nobody)
            .unwrap(),
        None
    );
    assert_eq!(
        chain
            .module
            .contract_creator(&chain.state, "um1bad")
            .unwrap_err()
            .code,
        Code::InvalidAddress
    );
}

/// Instantiates to an empty response; its `execute` loops forever.
static ENDLESS: LazyLock<Vec<u8>> =
    LazyLock::new(|| empty_response_contract("(loop $forever (br $forever)) unreachable"));

/// Its `execute` grows memory one page at a time, touching every 4 KiB,
/// until the VM refuses, then answers an empty response if it stopped at the
/// instance limit (and traps if it got past it).
static MEMORY_HOG: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let limit_pages = super::limits::INSTANCE_MEMORY_MIB * 16;
    empty_response_contract(&format!(
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
    (if (i32.gt_u (memory.size) (i32.const {limit_pages})) (then unreachable))
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.const {len}))
    (i32.store (i32.const 24) (i32.const {len}))
    (i32.const 16)",
        len = EMPTY_RESPONSE.len(),
    ))
});

const EMPTY_RESPONSE: &str = r#"{"ok":{"messages":[],"attributes":[],"events":[],"data":null}}"#;

/// A contract that instantiates to an empty response and whose `execute`
/// runs `execute` (WAT instructions).
fn empty_response_contract(execute: &str) -> Vec<u8> {
    let empty = EMPTY_RESPONSE;
    let wat = format!(
        r#"(module
  (memory (export "memory") 1)
  (data (i32.const 64) "{body}")
  (func (export "interface_version_8"))
  (global $heap (mut i32) (i32.const 4096))
  (func (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    (global.set $heap (i32.add (i32.add (local.get $region) (i32.const 16)) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.const 16)))))
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 16)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (local.get $region))
  (func (export "deallocate") (param i32))
  (func (export "instantiate") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.const {len}))
    (i32.store (i32.const 24) (i32.const {len}))
    (i32.const 16))
  (func (export "execute") (param i32 i32 i32) (result i32)
    {execute}))"#,
        body = empty.replace('"', "\\\""),
        len = empty.len(),
    );
    wat::parse_str(wat).expect("test contract assembles")
}

/// A contract that is not pinned may touch its whole linear memory for a
/// few operators' gas; the page faults made that the slowest thing gas could
/// buy (15 ms for 87,049 gas at the 32 MiB limit, BENCHMARKS.md), so a
/// block of such txs took seconds. The memory is now bounded and paid
/// before the instance exists.
#[test]
fn an_instance_pays_for_its_whole_memory_before_it_runs() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&MEMORY_HOG);
    let hog = chain.instantiate(code_id, &json!({}), "");
    let instance = gas::instance_cost(false, MEMORY_HOG.len() as u64);
    assert!(instance >= gas::INSTANCE_COST);

    // It stops at the instance limit, having paid at the schedule's rate
    // (~7 ns per gas) for ~0.47 ms per touched MiB (the gas calibration):
    // at least 65,000 gas per MiB. Before, all 32 MiB cost 87,049 gas.
    let (result, used) = chain.execute_with_gas(&account(1), &hog, &json!({}), 3_000_000);
    result.expect("memory stops growing at the instance limit");
    let mib = super::limits::INSTANCE_MEMORY_MIB as u64;
    assert!(used / mib >= 65_000, "{used} gas for {mib} MiB");

    // A gas limit below the instance's price fails before any page is
    // touched, charged exactly its limit.
    let (result, used) = chain.execute_with_gas(&account(1), &hog, &json!({}), instance - 1);
    assert_eq!(result.unwrap_err().code, Code::OutOfGas);
    assert_eq!(used, instance - 1);
}

#[test]
fn contract_code_stops_at_the_contract_limit_whatever_the_gas_limit() {
    let mut chain = Chain::new();
    let code_id = chain.store_code(&ENDLESS);
    let endless = chain.instantiate(code_id, &json!({}), "");
    let cap = 200_000;
    let execute = |contract: &str| {
        pack(&MsgExecuteContract {
            sender: account(1),
            contract: contract.to_string(),
            msg: b"{}".to_vec(),
            funds: Vec::new(),
        })
    };
    // 100M gas asked, but contract code gets only the cap: the loop ends
    // there, with an error that names the limit, and the tx is charged what
    // ran (not its whole gas limit).
    let (result, used) = chain.tx_capped(&account(1), execute(&endless), 100_000_000, cap);
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::OutOfGas, "{}", err.log);
    assert!(err.log.contains("max_tx_contract_gas"), "{}", err.log);
    let instance = gas::instance_cost(false, ENDLESS.len() as u64);
    assert!(used <= cap + instance, "used {used}");

    // Through a sub-message with a gas limit of its own the allowance goes
    // on: the callee gets what the caller left of it, and the caller's reply
    // finds none left, so the tx fails having spent no more than the cap in
    // contract code (plus the instances it loaded).
    let (caller, _) = reflect_pair(&mut chain);
    let outer = reflect_ok(
        json!([sub_execute(
            7,
            &endless,
            &json!({}),
            "always",
            Some(50_000_000)
        )]),
        json!([]),
        None,
    );
    let msg = MsgExecuteContract {
        sender: account(1),
        contract: caller.clone(),
        msg: outer.to_string().into_bytes(),
        funds: Vec::new(),
    };
    let (result, used) = chain.tx_capped(&account(1), pack(&msg), 100_000_000, cap);
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::OutOfGas, "{}", err.log);
    assert!(err.log.contains("max_tx_contract_gas"), "{}", err.log);
    let reflect = gas::instance_cost(false, REFLECT.len() as u64);
    assert!(used <= cap + 2 * reflect + instance, "used {used}");
}

fn store_msg(sender: &str, wasm: &[u8]) -> Any {
    pack(&MsgStoreCode {
        sender: sender.to_string(),
        wasm_byte_code: wasm.to_vec(),
        instantiate_permission: None,
    })
}

/// `wasm` with a custom section (name `pad`) of `payload` bytes appended:
/// other code, `extra` bytes longer, that runs the same.
fn padded(wasm: &[u8], payload: usize) -> (Vec<u8>, u64) {
    let mut body = vec![3, b'p', b'a', b'd'];
    body.resize(body.len() + payload, 0x5a);
    let mut section = vec![0u8];
    let mut size = body.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            section.push(byte);
            break;
        }
        section.push(byte | 0x80);
    }
    section.extend(body);
    let mut out = wasm.to_vec();
    out.extend(&section);
    (out, section.len() as u64)
}

/// The `cosmwasm.wasm.v1` params as a client reads them.
fn upload_params(chain: &Chain) -> cosmos_sdk_proto::cosmwasm::wasm::v1::AccessConfig {
    use cosmos_sdk_proto::cosmwasm::wasm::v1::{QueryParamsRequest, QueryParamsResponse};
    let resp: QueryParamsResponse = chain.query(&QueryParamsRequest {}).expect("params");
    let params = resp.params.expect("params");
    assert_eq!(
        params.instantiate_default_permission,
        cosmos_sdk_proto::cosmwasm::wasm::v1::AccessType::Everybody as i32
    );
    params.code_upload_access.expect("code upload access")
}

#[test]
fn identical_code_is_stored_once_under_new_code_ids_and_re_uploads_are_cheap() {
    let mut chain = Chain::new();
    let wasm: &[u8] = &NRN_TOKEN;
    let len = wasm.len() as u64;
    let (first, first_gas) = chain.tx(&account(1), store_msg(&account(1), wasm), GAS);
    let first: MsgStoreCodeResponse = response(&first.expect("first upload"));
    // Another sender, zipped: the same unzipped bytes.
    let (second, second_gas) = chain.tx(&account(2), store_msg(&account(2), &gzip(wasm)), GAS);
    let second: MsgStoreCodeResponse = response(&second.expect("second upload"));
    assert_eq!((first.code_id, second.code_id), (1, 2));
    assert_eq!(first.checksum, second.checksum);
    assert_eq!(chain.stored_code_copies(), 1);
    assert_eq!(
        chain
            .state
            .get(&super::state_key::code_bytes(&first.checksum))
            .unwrap(),
        Some(wasm.to_vec())
    );

    // The re-upload pays for hashing and its record, nothing per stored or
    // compiled byte.
    assert!(
        first_gas >= (gas::COMPILE_COST_PER_BYTE + crate::storage_gas::GAS_PER_STORED_BYTE) * len
    );
    assert!(
        second_gas < gas::HASH_COST_PER_BYTE * len + 10_000,
        "{second_gas}"
    );
    assert!(second_gas * 20 < first_gas, "{second_gas} vs {first_gas}");
    // The records differ only in their creators, both 20-byte accounts.
    assert_eq!(
        first_gas - second_gas,
        gas::COMPILE_COST_PER_BYTE * len
            + gas::write_cost(
                super::state_key::code_bytes(&first.checksum).len(),
                wasm.len()
            )
    );

    // Each code id answers as before, with its own creator, and runs.
    for (code_id, creator) in [(1, account(1)), (2, account(2))] {
        let code: QueryCodeResponse = chain.query(&QueryCodeRequest { code_id }).unwrap();
        assert_eq!(code.data, wasm);
        let info = code.code_info.expect("code info");
        assert_eq!(
            (info.data_hash, info.creator),
            (first.checksum.clone(), creator)
        );
    }
    let codes: QueryCodesResponse = chain
        .query(&QueryCodesRequest { pagination: None })
        .unwrap();
    assert_eq!(codes.code_infos.len(), 2);
    let token = chain.token(2, &[(&account(10), 5)]);
    assert_eq!(chain.balance(&token, &account(10)), 5);

    // A node with an empty cache restores shared bytes for either code id.
    let dir = tempfile::tempdir().unwrap();
    let fresh = WasmVm::new(dir.path()).unwrap();
    chain.module = &fresh;
    assert_eq!(chain.balance(&token, &account(10)), 5);
}

#[test]
fn every_stored_byte_is_priced() {
    assert_eq!(
        gas::WRITE_COST_PER_BYTE,
        crate::storage_gas::GAS_PER_STORED_BYTE
    );
    // Private cache: these bytes exist in no other test.
    let dir = tempfile::tempdir().unwrap();
    let module = WasmVm::new(dir.path()).unwrap();
    let mut chain = Chain::with_module(&module);
    let (small, small_extra) = padded(&REFLECT, 10);
    let (large, large_extra) = padded(&REFLECT, 20_010);
    let (result, small_gas) = chain.tx(&account(1), store_msg(&account(1), &small), GAS);
    result.expect("small code");
    let (result, large_gas) = chain.tx(&account(1), store_msg(&account(1), &large), GAS);
    result.expect("large code");
    let extra = large_extra - small_extra;
    assert_eq!(
        large_gas - small_gas,
        (gas::HASH_COST_PER_BYTE
            + gas::COMPILE_COST_PER_BYTE
            + crate::storage_gas::GAS_PER_STORED_BYTE)
            * extra
    );
    assert_eq!(chain.stored_code_copies(), 2);
}

#[test]
fn dao_only_refuses_uploads_by_message_and_in_simulation_but_not_the_dao() {
    let mut chain = Chain::new();
    set_code_upload_access(&mut chain.state, &CodeUploadAccess::DaoOnly).expect("set");
    assert_eq!(
        code_upload_access(&chain.state).unwrap(),
        CodeUploadAccess::DaoOnly
    );
    let (result, gas_used) = chain.tx(&account(1), store_msg(&account(1), &REFLECT), GAS);
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::NotPermitted);
    assert!(
        err.log
            .contains("code upload is restricted to the DAO (code_upload_access = dao_only)"),
        "{}",
        err.log
    );
    assert_eq!(gas_used, 0, "refused before any work");
    let (result, _) = chain.simulate(&account(1), store_msg(&account(1), &REFLECT));
    assert_eq!(result.unwrap_err().code, Code::NotPermitted);

    // The DAO's path stores, pays and deduplicates like a message.
    let dao = address::encode(&[0xda; 32]).unwrap();
    let (result, first_gas) = chain.store_code_as(&dao, &REFLECT);
    let result = result.expect("the DAO uploads");
    let stored: MsgStoreCodeResponse = response(&result);
    assert_eq!(stored.code_id, 1, "the refused upload used no code id");
    assert_eq!(attr(&result.events, "store_code", "code_id"), Some("1"));
    assert!(
        first_gas
            >= (gas::COMPILE_COST_PER_BYTE + crate::storage_gas::GAS_PER_STORED_BYTE)
                * REFLECT.len() as u64
    );
    let (again, again_gas) = chain.store_code_as(&dao, &gzip(&REFLECT));
    assert_eq!(response::<MsgStoreCodeResponse>(&again.unwrap()).code_id, 2);
    assert!(again_gas < first_gas);
    assert_eq!(chain.stored_code_copies(), 1);
    let code: QueryCodeResponse = chain.query(&QueryCodeRequest { code_id: 1 }).unwrap();
    assert_eq!(code.code_info.unwrap().creator, dao);
    assert_eq!(
        chain.store_code_as("um1bad", &REFLECT).0.unwrap_err().code,
        Code::InvalidAddress
    );

    let access = upload_params(&chain);
    assert_eq!(
        access.permission,
        cosmos_sdk_proto::cosmwasm::wasm::v1::AccessType::Nobody as i32
    );
}

#[test]
fn any_of_admits_listed_accounts_only() {
    let mut chain = Chain::new();
    assert_eq!(
        upload_params(&chain).permission,
        cosmos_sdk_proto::cosmwasm::wasm::v1::AccessType::Everybody as i32
    );
    let listed = CodeUploadAccess::AnyOf {
        addresses: vec![account(1), account(3)],
    };
    set_code_upload_access(&mut chain.state, &listed).expect("set");
    assert_eq!(chain.store_code(&REFLECT), 1);
    let (result, _) = chain.tx(&account(2), store_msg(&account(2), &REFLECT), GAS);
    let err = result.unwrap_err();
    assert_eq!(err.code, Code::NotPermitted);
    assert!(
        err.log.contains("code_upload_access = any_of"),
        "{}",
        err.log
    );
    assert!(err.log.contains(&account(2)), "{}", err.log);
    let (result, _) = chain.simulate(&account(2), store_msg(&account(2), &REFLECT));
    assert_eq!(result.unwrap_err().code, Code::NotPermitted);
    let (result, _) = chain.simulate(&account(3), store_msg(&account(3), &REFLECT));
    result.expect("a listed account simulates");

    let access = upload_params(&chain);
    assert_eq!(
        access.permission,
        cosmos_sdk_proto::cosmwasm::wasm::v1::AccessType::AnyOfAddresses as i32
    );
    assert_eq!(access.addresses, [account(1), account(3)]);

    // A bad list changes nothing.
    for bad in [
        Vec::new(),
        vec!["um1bad".to_string()],
        vec![account(4), account(4)],
    ] {
        let bad = CodeUploadAccess::AnyOf { addresses: bad };
        assert!(set_code_upload_access(&mut chain.state, &bad).is_err());
    }
    assert_eq!(code_upload_access(&chain.state).unwrap(), listed);
}

#[test]
fn genesis_params_round_trip_and_malformed_access_is_refused() {
    let section = json!({
        "params": { "code_upload_access": { "any_of": { "addresses": [account(1)] } } },
        "codes": [
            { "creator": account(9), "wasm_base64": b64(&*REFLECT) },
            { "creator": account(9), "wasm_base64": b64(gzip(&REFLECT)) },
        ],
        "contracts": [],
        "executions": [],
    });
    let parsed: WasmGenesis = serde_json::from_value(section.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), section);
    let mut chain = Chain::new();
    let block = chain.block.clone();
    chain
        .module
        .init_genesis(&mut chain.state, &block, &section)
        .expect("genesis");
    assert_eq!(
        code_upload_access(&chain.state).unwrap(),
        parsed.params.code_upload_access
    );
    // Genesis codes are trusted (their creator is not on the list), and
    // identical ones share their bytes.
    assert_eq!(chain.stored_code_copies(), 1);
    let codes: QueryCodesResponse = chain
        .query(&QueryCodesRequest { pagination: None })
        .unwrap();
    assert_eq!(codes.code_infos.len(), 2);
    assert_eq!(upload_params(&chain).addresses, [account(1)]);

    // Omitted params are the defaults, and the default genesis says so.
    assert_eq!(
        serde_json::from_value::<WasmGenesis>(json!({}))
            .unwrap()
            .params,
        WasmParams::default()
    );
    assert_eq!(
        WasmModule.default_genesis()["params"]["code_upload_access"],
        json!("everybody")
    );

    let dao_only = json!({ "params": { "code_upload_access": "dao_only" } });
    let mut chain = Chain::new();
    chain
        .module
        .init_genesis(&mut chain.state, &block, &dao_only)
        .expect("dao_only genesis");
    assert_eq!(
        code_upload_access(&chain.state).unwrap(),
        CodeUploadAccess::DaoOnly
    );

    let malformed = [
        (json!("dao"), Code::InvalidRequest, "unknown variant"),
        (
            json!({ "any_of": [account(1)] }),
            Code::InvalidRequest,
            "app_state.wasm",
        ),
        (
            json!({ "any_of": { "addresses": [] } }),
            Code::InvalidRequest,
            "must not be empty",
        ),
        (
            json!({ "any_of": { "addresses": ["um1bad"] } }),
            Code::InvalidAddress,
            "wasm genesis: params: code_upload_access any_of address #1",
        ),
    ];
    for (access, code, log) in malformed {
        let section = json!({
            "params": { "code_upload_access": access },
            "codes": [{ "creator": account(9), "wasm_base64": b64(&*REFLECT) }],
        });
        let mut chain = Chain::new();
        let err = chain
            .module
            .init_genesis(&mut chain.state, &block, &section)
            .unwrap_err();
        assert_eq!(err.code, code, "{access}: {}", err.log);
        assert!(err.log.contains(log), "{access}: {}", err.log);
        assert_eq!(chain.stored_code_copies(), 0, "{access}: nothing stored");
    }
}
