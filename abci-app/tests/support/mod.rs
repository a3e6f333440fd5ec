//! A real node for end-to-end tests: `umd start` running its CometBFT on
//! loopback ports of its own, in a temporary home.

#![allow(dead_code)]

pub mod browser;
pub mod replay;
pub mod training;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    MsgExecuteContract, MsgInstantiateContract, MsgStoreCode, QuerySmartContractStateRequest,
    QuerySmartContractStateResponse,
};
use cosmos_sdk_proto::Any;
use serde_json::Value;
use um_client::keys::{Key, Keyring};
use um_client::rpc::{RpcClient, TxResult};
use um_client::tx_builder::{self, SignerData, TxOptions};

pub const CHAIN_ID: &str = "um-test-1";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn umd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_umd"))
}

/// The um-trainer binary next to umd: `cargo test --workspace` builds both;
/// a narrower `cargo test -p um-app` builds it here.
pub fn trainer_binary() -> PathBuf {
    let path = umd_binary().with_file_name("um-trainer");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "um-trainer", "--bin", "um-trainer"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building um-trainer");
    }
    path
}

pub fn artifact(name: &str) -> Vec<u8> {
    let path = workspace_root().join("artifacts").join(name);
    fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `make contracts` first)", path.display()))
}

/// A loopback port nobody listens on, below Linux's ephemeral range
/// (32768-60999). A port the kernel hands out for `:0` can be handed out
/// again, to the next outgoing connection, before the node binds it (a
/// test once failed with "address already in use" that way); ports taken
/// from a counter of this process, below that range, are not.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Test binaries run one after another; the pid spreads them out anyway.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id() % 60 * 200;
    for _ in 0..12_000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (start + offset) % 12_000;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free loopback port in 20000-31999")
}

pub struct TestNode {
    pub home: PathBuf,
    _dir: tempfile::TempDir,
    pub rpc: RpcClient,
    process: Option<Child>,
    /// unrn each address paid in fees for the txs sent through `submit`.
    fees: std::sync::Mutex<std::collections::BTreeMap<String, u128>>,
}

impl TestNode {
    /// `umd init` in a fresh home with fast blocks; not started yet.
    pub fn init() -> Self {
        Self::init_with(&[])
    }

    /// [`Self::init`] with more `umd init` arguments.
    pub fn init_with(extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("node");
        let rpc_port = free_port();
        let status = Command::new(umd_binary())
            .args([
                "init",
                "--chain-id",
                CHAIN_ID,
                "--timeout-commit",
                "300ms",
                // Tests upload code by tx (a public network leaves it to the DAO).
                "--code-upload-access",
                "everybody",
                "--home",
            ])
            .arg(&home)
            .arg("--rpc-laddr")
            .arg(format!("tcp://127.0.0.1:{rpc_port}"))
            .arg("--p2p-laddr")
            .arg(format!("tcp://127.0.0.1:{}", free_port()))
            .arg("--abci-laddr")
            .arg(format!("tcp://127.0.0.1:{}", free_port()))
            .args(extra_args)
            .stdout(Stdio::null())
            .status()
            .expect("umd init runs");
        assert!(status.success(), "umd init failed");
        Self {
            home,
            _dir: dir,
            rpc: RpcClient::new(&format!("http://127.0.0.1:{rpc_port}")),
            process: None,
            fees: Default::default(),
        }
    }

    pub fn genesis(&self) -> Value {
        let bytes = fs::read(self.home.join("config/genesis.json")).expect("genesis.json");
        serde_json::from_slice(&bytes).expect("genesis is JSON")
    }

    pub fn set_genesis(&self, genesis: &Value) {
        fs::write(
            self.home.join("config/genesis.json"),
            serde_json::to_vec_pretty(genesis).expect("genesis serializes"),
        )
        .expect("genesis written");
    }

    /// Starts `umd start` and waits until the app has committed a block
    /// (CometBFT reports a height once the block is stored, which can be
    /// before the app has committed it).
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// [`Self::start`] with more `umd start` arguments.
    pub fn start_with(&mut self, extra_args: &[&str]) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("umd.log"))
            .expect("log file");
        let child = Command::new(umd_binary())
            .arg("start")
            .arg("--home")
            .arg(&self.home)
            .args(extra_args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("umd start runs");
        self.process = Some(child);
        if let Err(err) = self.rpc.wait_for_height(2, Duration::from_secs(60)) {
            panic!("node did not produce a block: {err}\n{}", self.logs());
        }
    }

    /// SIGKILL, as a crash would: nothing gets to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // CometBFT follows its parent (PR_SET_PDEATHSIG); wait until its RPC is gone.
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.rpc.status().is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM: the clean shutdown an operator does with Ctrl-C.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            unsafe_sigterm(child.id());
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.rpc.status().is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.home.join(name)).unwrap_or_default();
        let tail = |s: String| {
            s.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!(
            "--- umd.log\n{}\n--- cometbft.log\n{}",
            tail(read("umd.log")),
            tail(read("cometbft.log"))
        )
    }

    /// The home's keyring in the test backend (plain text): a umd or
    /// um-trainer spawned to use these keys must select it too
    /// (`UMD_KEYRING_BACKEND=test`), since the CLIs default to `file`.
    pub fn keyring(&self) -> Keyring {
        Keyring::new(&self.home.join("keys"))
    }

    pub fn new_key(&self, name: &str) -> Key {
        self.keyring().add(name, None).expect("key added");
        self.keyring().get(name).expect("key read")
    }

    pub fn signer(&self, key: &Key) -> SignerData {
        tx_builder::signer_data(&self.rpc, CHAIN_ID, &key.address).expect("signer data")
    }

    pub fn sign(&self, key: &Key, msgs: Vec<Any>, gas_limit: u64) -> Vec<u8> {
        let options = TxOptions {
            gas_limit,
            ..TxOptions::default()
        };
        tx_builder::sign_tx(key, msgs, &self.signer(key), &options).expect("tx signed")
    }

    /// Signs, broadcasts and waits for the block; the result may be a failure
    /// (whose fee is paid all the same, and counted in `fees_paid`).
    pub fn submit(&self, key: &Key, msgs: Vec<Any>, gas_limit: u64) -> TxResult {
        let tx = self.sign(key, msgs, gas_limit);
        let result = self
            .rpc
            .broadcast_and_wait(&tx, Duration::from_secs(60))
            .expect("tx broadcast");
        self.note_fee(&key.address, &result);
        result
    }

    /// A genesis bond of this node's consensus key by `operator`, with the
    /// proof `umd genesis validator-proof` makes on the node's host.
    pub fn validator_bond(
        &self,
        operator: &str,
        amount: u128,
    ) -> um_governance::genesis::GenesisBond {
        use base64::Engine;
        let proof = Command::new(umd_binary())
            .args(["genesis", "validator-proof", "--operator", operator])
            .arg("--home")
            .arg(&self.home)
            .output()
            .expect("umd genesis validator-proof runs");
        assert!(proof.status.success(), "{proof:?}");
        let proof = String::from_utf8(proof.stdout).expect("proof is text");
        let (pubkey, signature) = proof.trim().split_once(',').expect("PUBKEY,SIGNATURE");
        let decode = |text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64")
        };
        um_governance::genesis::GenesisBond {
            operator: operator.to_string(),
            amount,
            role: um_governance::staking::BondRole::Validator {
                consensus_pubkey: decode(pubkey),
                consensus_signature: decode(signature),
            },
        }
    }

    /// Counts the fee `result` says `payer` paid.
    pub fn note_fee(&self, payer: &str, result: &TxResult) {
        self.note_fee_amount(payer, fee_of(result));
    }

    /// Counts the fee a `umd tx …` printed (`fee: 5000unrn`) as `payer`'s.
    pub fn note_cli_fee(&self, payer: &str, output: &str) {
        let fee = output
            .lines()
            .find_map(|line| line.strip_prefix("fee: "))
            .and_then(|fee| fee.trim().strip_suffix("unrn"))
            .and_then(|amount| amount.parse().ok())
            .unwrap_or(0);
        self.note_fee_amount(payer, fee);
    }

    fn note_fee_amount(&self, payer: &str, fee: u128) {
        if fee > 0 {
            *self
                .fees
                .lock()
                .unwrap()
                .entry(payer.to_string())
                .or_default() += fee;
        }
    }

    /// unrn `address` paid in fees in every block so far, as the chain's
    /// `tx.fee` events say (CometBFT's tx index, `tx.fee_payer`): for txs
    /// sent by another process, such as a trainer.
    pub fn fees_paid_on_chain(&self, address: &str) -> u128 {
        let mut total = 0;
        for page in 1.. {
            let answer = self
                .rpc
                .call(
                    "tx_search",
                    serde_json::json!({
                        "query": format!("tx.fee_payer='{address}'"),
                        "page": page.to_string(),
                        "per_page": "100",
                    }),
                )
                .expect("tx_search");
            let txs = answer["txs"].as_array().cloned().unwrap_or_default();
            for tx in &txs {
                let events = tx["tx_result"]["events"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                total += events
                    .iter()
                    .filter(|event| event["type"] == "tx")
                    .flat_map(|event| event["attributes"].as_array().cloned().unwrap_or_default())
                    .filter(|attribute| attribute["key"] == "fee")
                    .filter_map(|attribute| {
                        attribute["value"]
                            .as_str()
                            .and_then(|fee| fee.strip_suffix("unrn"))
                            .and_then(|amount| amount.parse::<u128>().ok())
                    })
                    .sum::<u128>();
            }
            let total_count: usize = answer["total_count"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            if txs.is_empty() || page * 100 >= total_count {
                break;
            }
        }
        total
    }

    /// unrn `address` paid in fees for the txs sent through [`Self::submit`].
    pub fn fees_paid(&self, address: &str) -> u128 {
        self.fees.lock().unwrap().get(address).copied().unwrap_or(0)
    }

    pub fn submit_ok(&self, key: &Key, msgs: Vec<Any>) -> TxResult {
        let result = self.submit(key, msgs, 3_000_000);
        assert_eq!(result.code, 0, "tx failed: {}", result.log);
        result
    }

    pub fn store_code(&self, key: &Key, wasm: Vec<u8>) -> u64 {
        let msg = MsgStoreCode {
            sender: key.address.clone(),
            wasm_byte_code: wasm,
            instantiate_permission: None,
        };
        let result = self.submit(key, vec![any(&msg)], 50_000_000);
        assert_eq!(result.code, 0, "store failed: {}", result.log);
        result
            .event_value("store_code", "code_id")
            .expect("store_code.code_id event")
            .parse()
            .expect("numeric code id")
    }

    pub fn instantiate(&self, key: &Key, code_id: u64, msg: Value, label: &str) -> String {
        let msg = MsgInstantiateContract {
            sender: key.address.clone(),
            admin: key.address.clone(),
            code_id,
            label: label.to_string(),
            msg: msg.to_string().into_bytes(),
            funds: Vec::new(),
        };
        let result = self.submit_ok(key, vec![any(&msg)]);
        result
            .event_value("instantiate", "_contract_address")
            .expect("instantiate._contract_address event")
            .to_string()
    }

    pub fn smart_query(&self, contract: &str, query: Value) -> Value {
        let request = QuerySmartContractStateRequest {
            address: contract.to_string(),
            query_data: query.to_string().into_bytes(),
        };
        let response: QuerySmartContractStateResponse = self
            .rpc
            .query_proto("/cosmwasm.wasm.v1.Query/SmartContractState", &request)
            .expect("smart query");
        serde_json::from_slice(&response.data).expect("query result is JSON")
    }

    pub fn cw20_balance(&self, token: &str, address: &str) -> u128 {
        let value = self.smart_query(token, serde_json::json!({"balance": {"address": address}}));
        value["balance"]
            .as_str()
            .expect("balance string")
            .parse()
            .expect("numeric balance")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop();
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

pub use um_client::msgs::any;

pub fn execute_msg(sender: &str, contract: &str, msg: Value) -> Any {
    any(&MsgExecuteContract {
        sender: sender.to_string(),
        contract: contract.to_string(),
        msg: msg.to_string().into_bytes(),
        funds: Vec::new(),
    })
}

pub fn token_instantiate_msg(holders: &[(&str, u128)], minter: &str) -> Value {
    serde_json::json!({
        "name": "Neuron",
        "symbol": "NRN",
        "decimals": 6,
        "initial_balances": holders
            .iter()
            .map(|(address, amount)| serde_json::json!({"address": address, "amount": amount.to_string()}))
            .collect::<Vec<_>>(),
        "mint": {"minter": minter, "cap": "1000000000000"},
        "marketing": null,
    })
}

/// A version NFT's metadata (the `extension` of cw721 `nft_info`) as
/// trait type → value.
pub fn nft_traits(extension: &Value) -> std::collections::BTreeMap<String, String> {
    extension["attributes"]
        .as_array()
        .unwrap_or_else(|| panic!("no attributes in {extension}"))
        .iter()
        .map(|t| {
            let value = t["value"].as_str().unwrap().to_string();
            (t["trait_type"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

pub fn path_exists(path: &Path) -> bool {
    path.exists()
}

/// `um-trainer serve` for the node, killed on drop.
pub struct Verifier {
    child: Child,
    pub endpoint: String,
}

impl Verifier {
    pub fn start(node: &TestNode) -> Self {
        Self::start_with(node, &[])
    }

    /// With extra `serve` flags (e.g. `--device cpu`).
    pub fn start_with(node: &TestNode, extra_args: &[&str]) -> Self {
        let port = free_port();
        let log = std::fs::File::create(node.home.join("verifier.log")).unwrap();
        let child = Command::new(trainer_binary())
            .arg("serve")
            .args(extra_args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--node")
            .arg(node.rpc.url())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "verifier did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fee a delivered tx paid, from its `tx.fee` event (`5000unrn`); 0 for
/// a tx that never passed the ante step.
pub fn fee_of(result: &TxResult) -> u128 {
    result
        .event_value("tx", "fee")
        .and_then(|fee| fee.strip_suffix("unrn"))
        .and_then(|amount| amount.parse().ok())
        .unwrap_or(0)
}
