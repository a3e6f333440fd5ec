//! The localnet end to end, through its own scripts: `localnet/up.sh 4`
//! starts four validators on loopback addresses of their own (CometBFT +
//! umd + `um-trainer serve` each); two trainers (`localnet/train.sh`) race
//! to submit updates; a validator is killed (SIGKILL of its umd and its
//! CometBFT) and the chain goes on accepting updates; restarted, it catches
//! up and all four agree on the app hash. The model only improves and ends
//! well above chance on the held-out digits.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use serde_json::json;
use support::browser::run_node_script;
use support::{nft_traits, trainer_binary, umd_binary, workspace_root};
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::training::v1::{
    ModelVersion, QueryUpdateRequest, QueryUpdateResponse, QueryVersionsRequest,
    QueryVersionsResponse, QueryWeightsRequest, QueryWeightsResponse,
};

const NODES: usize = 4;
const MODEL: &str = "mnist-mlp";
const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;
/// Versions to reach with every validator up, before one is killed.
const FIRST_VERSIONS: u64 = 10;
/// More versions to reach while the killed validator is down.
const VERSIONS_WHILE_DOWN: u64 = 3;

/// A base address 127.0.K.2 whose four nodes' ports are all free, so the
/// test neither meets an operator's localnet (127.0.0.2…) nor another run.
fn free_base_ip() -> String {
    // Tests of this binary run side by side: each takes a block no other
    // one of this process took (both would find the same one free until
    // its nodes bind).
    static TAKEN: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let start = std::process::id() as usize % 200;
    for k in (0..200).map(|j| 20 + (start + j) % 200) {
        if taken.contains(&k) {
            continue;
        }
        let free = (0..NODES).all(|i| {
            [26656u16, 26657, 26658, 9091].iter().all(|port| {
                TcpListener::bind((format!("127.0.{k}.{}", 2 + i).as_str(), *port)).is_ok()
            })
        });
        if free {
            taken.push(k);
            return format!("127.0.{k}.2");
        }
    }
    panic!("no free 127.0.K.2-5 block of addresses for the localnet");
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The network of `localnet/up.sh` in a temporary folder; `localnet/down.sh`
/// on drop.
struct Localnet {
    _dir: tempfile::TempDir,
    run: PathBuf,
    base_ip: String,
    trainers: Vec<(String, Child)>,
    /// `LOCALNET_ROUNDS`: the lineage trains in collaborative rounds.
    rounds: Option<String>,
    /// More settings of the scripts (`LOCALNET_TEXTS`, ...).
    env: Vec<(&'static str, String)>,
}

impl Localnet {
    fn up() -> Self {
        Self::up_with(None)
    }

    fn up_with(rounds: Option<String>) -> Self {
        Self::up_with_env(rounds, Vec::new())
    }

    fn up_with_env(rounds: Option<String>, env: Vec<(&'static str, String)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let net = Self {
            run: dir.path().join("run"),
            _dir: dir,
            base_ip: free_base_ip(),
            trainers: Vec::new(),
            rounds,
            env,
        };
        let output = net.script("up.sh", &[&NODES.to_string()]);
        assert!(
            output.status.success(),
            "localnet/up.sh failed\n{}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            net.logs()
        );
        net
    }

    fn command(&self, script: &str) -> Command {
        let hyperparams = json!({
            "learning_rate": "0.1",
            "batch_size": 32,
            "local_steps": 5,
            "verification_tolerance": "0.001",
            "min_improvement": "0.0001",
            "reward_per_update": "1000000",
            "reward_halving_interval": 0,
        });
        let mut command = Command::new(workspace_root().join("localnet").join(script));
        command
            .env("LOCALNET_DIR", &self.run)
            .env("LOCALNET_BASE_IP", &self.base_ip)
            .env("LOCALNET_DIGITS", "2000")
            .env("LOCALNET_SPEC", SPEC)
            .env("LOCALNET_HYPERPARAMS", hyperparams.to_string())
            .env("UMD", umd_binary())
            .env("UM_TRAINER", trainer_binary())
            .stdin(Stdio::null());
        if let Some(rounds) = &self.rounds {
            command.env("LOCALNET_ROUNDS", rounds);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn script(&self, script: &str, args: &[&str]) -> Output {
        self.command(script)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running localnet/{script}: {e}"))
    }

    fn script_ok(&self, script: &str, args: &[&str]) -> String {
        let output = self.script(script, args);
        assert!(
            output.status.success(),
            "localnet/{script} {args:?} failed\n{}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn rpc(&self, node: usize) -> RpcClient {
        RpcClient::new(&self.rpc_url(node))
    }

    fn rpc_url(&self, node: usize) -> String {
        format!("http://{}:26657", self.ip(node))
    }

    /// The loopback address node `node` listens on.
    fn ip(&self, node: usize) -> String {
        let (prefix, last) = self.base_ip.rsplit_once('.').unwrap();
        let last: usize = last.parse().unwrap();
        format!("{prefix}.{}", last + node)
    }

    /// `umd ARGS --node <node0> --home <node0's home>` (test keyring), as an
    /// operator types it; its stdout.
    fn umd(&self, args: &[&str]) -> String {
        let output = Command::new(umd_binary())
            .args(args)
            .args(["--node", &self.rpc_url(0)])
            .env("UMD_KEYRING_BACKEND", "test")
            .env("UMD_HOME", self.run.join("node0"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("umd {args:?}: {e}"));
        assert!(
            output.status.success(),
            "umd {args:?} failed\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `localnet/train.sh KEY` in the background, until the test ends.
    fn start_trainer(&mut self, key: &str) {
        let log = fs::File::create(self.run.join(format!("{key}.log"))).unwrap();
        let child = self
            .command("train.sh")
            .args([key, "--max-failures", "0"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.trainers.push((key.to_string(), child));
    }

    fn stop_trainers(&mut self) {
        for (_, child) in &mut self.trainers {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.trainers.clear();
    }

    /// Panics (with the logs) when a trainer has exited: they run forever.
    fn check_trainers(&mut self) {
        let exited = self
            .trainers
            .iter_mut()
            .find_map(|(key, child)| Some((key.clone(), child.try_wait().ok()??)));
        if let Some((key, status)) = exited {
            panic!("trainer {key} exited ({status})\n{}", self.logs());
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for node in 0..NODES {
            let home = self.run.join(format!("node{node}"));
            for (name, lines) in [("umd.log", 15), ("cometbft.log", 8), ("verifier.log", 5)] {
                out += &format!("--- node{node}/{name}\n{}\n", tail(&home.join(name), lines));
            }
        }
        for key in ["trainer1", "trainer2", "trainer3"] {
            let path = self.run.join(format!("{key}.log"));
            out += &format!("--- {key}.log\n{}\n", tail(&path, 8));
        }
        out
    }

    fn height(&self, node: usize) -> Option<u64> {
        self.rpc(node).latest_height().ok()
    }

    /// Polls `done` every 300 ms (checking the trainers are alive) until it
    /// holds; panics with `what` and the logs after `timeout`.
    fn wait_until(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            self.check_trainers();
            assert!(
                Instant::now() < deadline,
                "timed out after {} s waiting for {what}\n{}",
                timeout.as_secs(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Every accepted version (version 0 included), by version number.
    fn versions(&self, node: usize) -> Vec<ModelVersion> {
        self.versions_of(node, MODEL)
    }

    /// [`Self::versions`] of lineage `model`.
    fn versions_of(&self, node: usize, model: &str) -> Vec<ModelVersion> {
        let rpc = self.rpc(node);
        let mut versions = Vec::new();
        let mut key = Vec::new();
        loop {
            let request = QueryVersionsRequest {
                prove: false,
                model_id: model.into(),
                pagination: Some(PageRequest {
                    key: key.clone(),
                    limit: 1000,
                    ..Default::default()
                }),
            };
            let page: QueryVersionsResponse = rpc
                .query_proto("/um.training.v1.Query/Versions", &request)
                .unwrap_or_else(|e| panic!("Versions query: {e}\n{}", self.logs()));
            versions.extend(page.versions);
            key = page.pagination.map(|p| p.next_key).unwrap_or_default();
            if key.is_empty() {
                break;
            }
        }
        versions.sort_by_key(|v| v.version);
        versions
    }

    fn smart_query(
        &self,
        node: usize,
        contract: &str,
        query: serde_json::Value,
    ) -> serde_json::Value {
        let request = QuerySmartContractStateRequest {
            address: contract.to_string(),
            query_data: query.to_string().into_bytes(),
        };
        let response: QuerySmartContractStateResponse = self
            .rpc(node)
            .query_proto("/cosmwasm.wasm.v1.Query/SmartContractState", &request)
            .unwrap_or_else(|e| panic!("smart query {query}: {e}"));
        serde_json::from_slice(&response.data).unwrap()
    }

    fn head_version(&self, node: usize) -> u64 {
        self.versions(node).last().map(|v| v.version).unwrap_or(0)
    }

    /// (last committed height, app hash) as node `node`'s umd reports them.
    fn abci_info(&self, node: usize) -> Option<(u64, String)> {
        let info = self.rpc(node).call("abci_info", json!({})).ok()?;
        let response = &info["response"];
        let height = response["last_block_height"].as_str()?.parse().ok()?;
        let hash = response["last_block_app_hash"].as_str()?.to_string();
        Some((height, hash))
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        self.stop_trainers();
        let _ = self.script("down.sh", &[]);
    }
}

/// Issue 15 on the 4-validator localnet: a new key gets its first NRN from
/// `localnet/faucet.sh`; an unmodified CosmJS (fee "auto" at 0.025 unrn per
/// gas) uploads a contract, instantiates and executes it, and transfers
/// NRN; the fees of all of it land with the validators' operators.
fn newcomer_uses_cosmjs_and_the_fees_reach_the_validators(net: &Localnet) {
    let registry: serde_json::Value = serde_json::from_slice(
        &net.rpc(0)
            .query_ok("custom/gov/registry", &[])
            .expect("gov registry"),
    )
    .unwrap();
    let token = registry["token"]
        .as_str()
        .expect("registered token")
        .to_string();
    let balance = |address: &str| -> u128 {
        net.smart_query(0, &token, json!({"balance": {"address": address}}))["balance"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let keys_of =
        |node: usize| um_client::keys::Keyring::new(&net.run.join(format!("node{node}/keys")));
    let operators: Vec<String> = (0..NODES)
        .map(|node| keys_of(node).info("operator").unwrap().address)
        .collect();
    let faucet = keys_of(0).info("faucet").unwrap().address;
    let collector = um_app::fee::fee_collector();
    let held = |addresses: &[String]| -> u128 { addresses.iter().map(|a| balance(a)).sum() };
    let operators_before = held(&operators);
    let collector_before = balance(&collector);
    let faucet_before = balance(&faucet);

    let phrase = bip39::Mnemonic::from_entropy(&[42u8; 16])
        .unwrap()
        .to_string();
    let newcomer = um_client::keys::Key::from_mnemonic("newcomer", &phrase).unwrap();
    let out = net.script_ok("faucet.sh", &[&newcomer.address, "50"]);
    assert_eq!(balance(&newcomer.address), 50_000_000, "{out}");
    let faucet_fee = faucet_before - balance(&faucet) - 50_000_000;
    assert!(faucet_fee > 0, "the faucet paid its fee");

    let result = run_node_script(
        "cosmjs-newcomer.mjs",
        &[],
        &[
            ("UM_RPC", &format!("http://{}:26657", net.base_ip)),
            ("UM_MNEMONIC", &phrase),
            (
                "UM_WASM",
                &workspace_root()
                    .join("artifacts/nrn_token.wasm")
                    .display()
                    .to_string(),
            ),
            ("UM_TOKEN", &token),
            ("UM_RECIPIENT", &operators[1]),
            ("UM_AMOUNT", "1000000"),
        ],
    );
    eprintln!("cosmjs-newcomer.mjs: {result}");
    assert_eq!(result["address"], newcomer.address.as_str());
    assert_eq!(result["newTokenBalances"]["sender"], "990");
    assert_eq!(result["newTokenBalances"]["recipient"], "10");
    let mut fees = 0u128;
    for name in ["upload", "instantiate", "execute", "transfer"] {
        let tx = &result["txs"][name];
        let fee: u128 = tx["fee"].as_str().unwrap().parse().unwrap();
        let wanted = u128::from(tx["gasWanted"].as_u64().unwrap());
        assert_eq!(fee, (wanted * 25).div_ceil(1000), "{name}: {tx}");
        fees += fee;
    }
    let after: u128 = result["nrnAfter"].as_str().unwrap().parse().unwrap();
    assert_eq!(after, 50_000_000 - 1_000_000 - fees);

    // Every fee paid since (the faucet's and the newcomer's four) went to
    // the operators by power, or waits in the collector for the next block.
    let last = result["txs"]["transfer"]["height"].as_u64().unwrap();
    while net.height(0).unwrap_or(0) <= last + 1 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let received = held(&operators) - operators_before - 1_000_000;
    let waiting = balance(&collector) - collector_before;
    assert_eq!(received + waiting, fees + faucet_fee);
    assert!(
        received > waiting,
        "paid out: {received}, waiting: {waiting}"
    );
}

#[test]
fn four_validators_train_survive_a_crash_and_agree() {
    let started = Instant::now();
    let mut net = Localnet::up();
    let up_took = started.elapsed();
    for node in 0..NODES {
        assert!(
            net.height(node).unwrap_or(0) >= 1,
            "node{node} has no block"
        );
    }
    let status = net.script_ok("status.sh", &[]);
    for node in 0..NODES {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("node{node} ")))
            .unwrap_or_else(|| panic!("no node{node} in localnet/status.sh:\n{status}"));
        assert!(
            line.contains(" up ") && line.contains("up ("),
            "node{node} not fully up:\n{status}"
        );
    }

    newcomer_uses_cosmjs_and_the_fees_reach_the_validators(&net);

    // Two trainers race on the same head, each through a node of its own.
    net.start_trainer("trainer1");
    net.start_trainer("trainer2");
    net.wait_until(
        &format!("{FIRST_VERSIONS} accepted versions"),
        Duration::from_secs(180),
        |net| net.head_version(0) >= FIRST_VERSIONS,
    );
    let trained_until = started.elapsed();

    // A crash: SIGKILL of node3's umd and CometBFT (no trainer talks to it).
    let before_kill = net.head_version(0);
    let height_at_kill = net.height(0).unwrap();
    net.script_ok("node.sh", &["kill", "3"]);
    assert!(net.height(3).is_none(), "node3's RPC still answers");
    net.wait_until(
        "blocks and accepted updates with node3 down",
        Duration::from_secs(120),
        |net| {
            net.head_version(0) >= before_kill + VERSIONS_WHILE_DOWN
                && (0..3).all(|n| net.height(n).unwrap_or(0) >= height_at_kill + 5)
        },
    );
    let while_down = net.head_version(0) - before_kill;

    // Restarted, it catches up with the others.
    net.script_ok("node.sh", &["start", "3"]);
    let target = net.height(0).unwrap();
    net.wait_until("node3 to catch up", Duration::from_secs(120), |net| {
        net.height(3).unwrap_or(0) >= target
    });
    let caught_up = started.elapsed();

    // node2's verifier dies (SIGKILL): node2 abstains, and the other three
    // (300 of 400 power) still accept updates.
    let pid = fs::read_to_string(net.run.join("node2/verifier.pid")).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success(), "killing node2's verifier (pid {pid})");
    let before_verifier_kill = net.head_version(0);
    net.wait_until(
        "updates accepted without node2's verifier",
        Duration::from_secs(120),
        |net| net.head_version(0) >= before_verifier_kill + 2,
    );
    // The second version after the kill was trained from the first, so it
    // was submitted after node2's verifier died.
    let later = &net.versions(0)[before_verifier_kill as usize + 2];
    let update_id = later.update_ids[0];
    let answer: QueryUpdateResponse = net
        .rpc(0)
        .query_proto(
            "/um.training.v1.Query/Update",
            &QueryUpdateRequest {
                prove: false,
                update_id,
            },
        )
        .unwrap();
    let verdicts = answer.verdicts;
    assert_eq!(
        verdicts.len(),
        3,
        "node2 abstained on update {update_id}: {verdicts:?}"
    );
    assert!(verdicts.iter().all(|v| v.accept && v.power == 100));
    // A fifth node joins by state sync once the chain is past height 300,
    // while the trainers go on.
    let joined = join_by_state_sync(&mut net);
    net.stop_trainers();

    // All four apps report the same app hash at the same height.
    let deadline = Instant::now() + Duration::from_secs(60);
    let agreed = loop {
        // The four validators and the node that joined by state sync.
        let infos: Vec<_> = (0..=joined).map(|n| net.abci_info(n)).collect();
        if let Some(first) = infos[0].clone() {
            if infos
                .iter()
                .all(|i| i.as_ref().map(|i| i.0) == Some(first.0))
            {
                for (node, info) in infos.iter().enumerate() {
                    assert_eq!(
                        info.as_ref().unwrap().1,
                        first.1,
                        "node{node} has another app hash at height {}\n{}",
                        first.0,
                        net.logs()
                    );
                }
                break first;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the four nodes never reported the same height: {infos:?}\n{}",
            net.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        agreed.0 > target,
        "agreed at {} before catching up",
        agreed.0
    );
    // The same from the block headers: each node checked it against its own state.
    let header_hashes: Vec<String> = (0..NODES)
        .map(|n| net.rpc(n).block_app_hash(agreed.0).unwrap())
        .collect();
    assert!(
        header_hashes.iter().all(|h| h == &header_hashes[0]),
        "{header_hashes:?}"
    );

    // Each validator is bonded in nrn-staking with its own consensus key,
    // the same stake each, and CometBFT's set has the power that stake gives.
    let registry: serde_json::Value = serde_json::from_slice(
        &net.rpc(0)
            .query_ok("custom/gov/registry", &[])
            .expect("gov registry"),
    )
    .unwrap();
    let staking = registry["staking"].as_str().expect("registered staking");
    let bonded = net.smart_query(0, staking, json!({"validators": {}}));
    let mut bonded_keys: Vec<String> = bonded["validators"]
        .as_array()
        .expect("validators list")
        .iter()
        .map(|v| {
            assert_eq!(v["stake"], "100000000", "{v}");
            v["consensus_pubkey"].as_str().unwrap().to_string()
        })
        .collect();
    let cometbft_set = net.rpc(0).call("validators", json!({})).unwrap();
    let mut node_keys: Vec<String> = cometbft_set["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["voting_power"], "100", "{v}");
            v["pub_key"]["value"].as_str().unwrap().to_string()
        })
        .collect();
    bonded_keys.sort();
    node_keys.sort();
    assert_eq!(bonded_keys.len(), NODES, "{bonded}");
    assert_eq!(bonded_keys, node_keys);

    // The model's history: a chain of versions whose validation loss never
    // rises, trained by both trainers, well above chance on held-out digits.
    let versions = net.versions(3);
    assert_eq!(
        versions,
        net.versions(0),
        "node3 and node0 tell another history"
    );
    let accepted = &versions[1..];
    assert!(
        accepted.len() as u64 >= FIRST_VERSIONS + VERSIONS_WHILE_DOWN,
        "{} versions",
        accepted.len()
    );
    for pair in versions.windows(2) {
        assert_eq!(pair[1].parent_version, pair[0].version, "{pair:?}");
    }
    for pair in accepted.windows(2) {
        assert!(
            pair[1].validation_loss <= pair[0].validation_loss,
            "validation loss rose from v{} ({}) to v{} ({})",
            pair[0].version,
            pair[0].validation_loss,
            pair[1].version,
            pair[1].validation_loss
        );
    }
    let trainers: std::collections::BTreeSet<_> = accepted.iter().map(|v| &v.trainer).collect();
    assert_eq!(
        trainers.len(),
        2,
        "both trainers got updates in: {trainers:?}"
    );
    let head = accepted.last().unwrap();
    assert!(
        head.validation_accuracy > 0.5,
        "held-out accuracy {} after {} versions",
        head.validation_accuracy,
        accepted.len()
    );

    // Issue 20, use the model: the node that joined (its REST forwards
    // predictions to node0's um-trainer serve) predicts every held-out
    // digit with the head, as accurately as the chain recorded; and the
    // leaderboard ranks the two trainers by their accepted versions.
    predictions_match_the_recorded_accuracy(&net, joined, head);
    the_leaderboard_ranks_the_trainers_by_their_versions(&mut net);

    net.script_ok("down.sh", &[]);
    for node in 0..=joined {
        assert!(
            net.height(node).is_none(),
            "node{node} still answers after down.sh"
        );
    }
    eprintln!(
        "localnet: up in {:.0?}; {FIRST_VERSIONS} versions at {:.0?}; {while_down} versions with node3 down; \
         caught up at {:.0?}; {} versions, held-out accuracy {:.3}, app hash agreed at height {}; total {:.0?}",
        up_took,
        trained_until,
        caught_up,
        accepted.len(),
        head.validation_accuracy,
        agreed.0,
        started.elapsed()
    );
}

/// Every held-out digit of the localnet's dataset, predicted over `node`'s
/// REST with `head`: the share predicted right is the accuracy the chain
/// recorded for it, within a point.
fn predictions_match_the_recorded_accuracy(net: &Localnet, node: usize, head: &ModelVersion) {
    use um_proto::um::dataset::v1::{QueryRecordsRequest, QueryRecordsResponse, Split};

    let rpc = net.rpc(0);
    let mut records = Vec::new();
    let mut key = Vec::new();
    loop {
        let page: QueryRecordsResponse = rpc
            .query_proto(
                "/um.dataset.v1.Query/Records",
                &QueryRecordsRequest {
                    dataset_id: "mnist".into(),
                    version: None,
                    split: Split::Validation as i32,
                    pagination: Some(PageRequest {
                        key: key.clone(),
                        limit: 1000,
                        ..Default::default()
                    }),
                },
            )
            .unwrap();
        records.extend(page.records);
        key = page.pagination.map(|p| p.next_key).unwrap_or_default();
        if key.is_empty() {
            break;
        }
    }
    assert!(records.len() > 500, "{} held-out digits", records.len());
    let url = format!(
        "http://{}:1317/um/training/v1/models/{MODEL}/predict?version={}",
        net.ip(node),
        head.version
    );
    let started = Instant::now();
    let mut right = 0;
    for record in &records {
        let answer: serde_json::Value = ureq::post(&url)
            .timeout(Duration::from_secs(30))
            .send_json(json!({"image": record.pixels}))
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
            .into_json()
            .unwrap();
        assert_eq!(answer["version"], head.version.to_string(), "{answer}");
        if answer["predicted_class"] == record.label {
            right += 1;
        }
    }
    let accuracy = right as f64 / records.len() as f64;
    eprintln!(
        "node{node} predicted {right}/{} held-out digits right with v{} ({accuracy:.4}; the chain recorded {:.4}) in {:.1} s",
        records.len(),
        head.version,
        head.validation_accuracy,
        started.elapsed().as_secs_f64()
    );
    assert!(
        (accuracy - head.validation_accuracy as f64).abs() <= 0.01,
        "{accuracy} against the recorded {}",
        head.validation_accuracy
    );
}

/// Karma counts every accepted version of each trainer (waiting for the
/// last decisions after the trainers stopped), and the leaderboard puts
/// the one with more versions first.
fn the_leaderboard_ranks_the_trainers_by_their_versions(net: &mut Localnet) {
    use um_proto::um::karma::v1::{QueryLeaderboardRequest, QueryLeaderboardResponse};

    let keyring = um_client::keys::Keyring::new(&net.run.join("node0/keys"));
    let trainers: Vec<String> = ["trainer1", "trainer2"]
        .iter()
        .map(|name| keyring.info(name).unwrap().address)
        .collect();
    let board = |net: &Localnet| -> Vec<(String, u64, u64)> {
        let answer: QueryLeaderboardResponse = net
            .rpc(0)
            .query_proto(
                "/um.karma.v1.Query/Leaderboard",
                &QueryLeaderboardRequest {
                    pagination: Some(PageRequest {
                        limit: 20,
                        ..Default::default()
                    }),
                },
            )
            .unwrap();
        answer
            .entries
            .into_iter()
            .filter(|k| trainers.contains(&k.address))
            .map(|k| {
                let versions = k.contributions.unwrap_or_default().versions;
                (k.address, versions, k.score)
            })
            .collect()
    };
    let versions_by = |net: &Localnet, trainer: &str| -> u64 {
        net.versions(0)[1..]
            .iter()
            .filter(|v| v.trainer == trainer)
            .count() as u64
    };
    net.wait_until(
        "karma to count every accepted version",
        Duration::from_secs(60),
        |net| {
            let board = board(net);
            board.len() == 2
                && board
                    .iter()
                    .all(|(address, versions, _)| *versions == versions_by(net, address))
        },
    );
    let board = board(net);
    eprintln!("leaderboard (address, versions, score): {board:?}");
    assert!(board[0].1 >= board[1].1, "{board:?}");
    assert!(board[0].2 >= board[1].2, "{board:?}");
}

/// Issue 18: waits for height 305 (the validators take a snapshot every
/// 100 blocks), then starts a full node with `localnet/join.sh
/// --state-sync` and waits until it is at the head. It must have started
/// from the snapshot, not from genesis: its block store begins at the
/// snapshot's height and its umd says it restored that state; and it must
/// serve an old version's weights as the validators do. Returns its number.
fn join_by_state_sync(net: &mut Localnet) -> usize {
    net.wait_until(
        "height 305, past the snapshot of height 300",
        Duration::from_secs(400),
        |net| net.height(0).unwrap_or(0) >= 305,
    );
    let joined: usize = net
        .script_ok("join.sh", &["--state-sync"])
        .trim()
        .parse()
        .expect("join.sh prints the new node's number");
    assert_eq!(joined, NODES);
    net.wait_until(
        "the node that joined by state sync to reach the head",
        Duration::from_secs(180),
        |net| {
            let head = net.height(0).unwrap_or(u64::MAX);
            net.height(joined).unwrap_or(0) + 1 >= head
        },
    );
    let status = net.rpc(joined).status().unwrap();
    let earliest: u64 = status["sync_info"]["earliest_block_height"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        earliest >= 300,
        "node{joined} holds blocks from {earliest}: it replayed instead of restoring a snapshot"
    );
    let log = fs::read_to_string(net.run.join(format!("node{joined}/umd.log"))).unwrap();
    let restored = log
        .lines()
        .find(|line| line.contains("restored the state of height"))
        .unwrap_or_else(|| panic!("node{joined}'s umd did not restore a snapshot:\n{log}"));
    eprintln!("node{joined}: {restored}; blocks from {earliest}");

    let weights_of = |node: usize, version: &ModelVersion| {
        let answer: QueryWeightsResponse = net
            .rpc(node)
            .query_proto(
                "/um.training.v1.Query/Weights",
                &QueryWeightsRequest {
                    length: Default::default(),
                    offset: Default::default(),
                    weights_sha256: version.weights_sha256.clone(),
                },
            )
            .unwrap();
        answer.weights
    };
    // The trainers go on, so the two are read a moment apart: the history
    // both hold must be the same, whichever has a version more.
    let history = net.versions(joined);
    let reference = net.versions(0);
    let common = history.len().min(reference.len());
    assert!(common >= 2, "{common} versions in common");
    assert_eq!(
        history[..common],
        reference[..common],
        "node{joined} tells another history"
    );
    let old = &history[1];
    let weights = weights_of(joined, old);
    assert!(!weights.is_empty());
    assert_eq!(weights, weights_of(0, old));
    joined
}

/// Issue 16 on the 4-validator localnet: three trainers, each through a
/// node of its own, share collaborative rounds whose contributions are
/// verified by sampled segments (2 of 5 per validator) of checkpoints
/// their trainers serve (`localnet/train.sh`'s default); rounds merge all
/// three, every merge that became a version lowered the loss on the whole
/// validation split (the candidates are evaluated on all of it here); then
/// a fourth trainer that fakes one segment of five is caught by the
/// sampling and slashed after all four re-execute the disputed segment
/// (its contribution naming other hyperparameters was refused first, not
/// judged); and the four validators agree on the app hash.
#[test]
fn four_validators_merge_three_trainers_in_rounds() {
    const VERSIONS: u64 = 3;
    let rounds = json!({
        "max_contributions": 3,
        "round_blocks": 20,
        "outer_learning_rate": "1",
        "eval_samples": 0,
        "checkpoint_interval": 1,
        "segments_per_validator": 2,
    });
    let started = Instant::now();
    let mut net = Localnet::up_with(Some(rounds.to_string()));
    for trainer in ["trainer1", "trainer2", "trainer3"] {
        net.start_trainer(trainer);
    }
    net.wait_until(
        &format!("{VERSIONS} versions from rounds"),
        Duration::from_secs(300),
        |net| net.head_version(0) >= VERSIONS,
    );
    let versions = net.versions(0);
    let mut merged_three = 0;
    let mut contributors = std::collections::BTreeSet::new();
    for version in &versions[1..] {
        if version.update_ids.len() == 3 {
            merged_three += 1;
        }
        for id in &version.update_ids {
            let answer: QueryUpdateResponse = net
                .rpc(0)
                .query_proto(
                    "/um.training.v1.Query/Update",
                    &QueryUpdateRequest {
                        prove: false,
                        update_id: *id,
                    },
                )
                .unwrap();
            let update = answer.update.unwrap();
            // localnet/train.sh serves the checkpoints from the trainer's
            // own port; each validator fetched the ones it sampled.
            assert!(
                update.checkpoint_source.starts_with("http://127.0.0.1:"),
                "update {id}: {update:?}"
            );
            contributors.insert(update.trainer);
            // Every validator's verdict re-executed a sample of segments.
            assert!(
                answer
                    .verdicts
                    .iter()
                    .all(|v| !v.segments_checked.is_empty()),
                "update {id}: {:?}",
                answer.verdicts
            );
        }
    }
    assert!(
        merged_three >= 1,
        "no version merged three contributions: {versions:?}"
    );
    assert_eq!(contributors.len(), 3, "{contributors:?}");
    // Each was rewarded: a `reward` event of the end-block that accepted a
    // version, with a positive amount, names it.
    for trainer in &contributors {
        let found = net
            .rpc(0)
            .call(
                "block_search",
                json!({"query": format!("reward.trainer='{trainer}'"), "per_page": "5"}),
            )
            .unwrap();
        let rewards: Vec<u128> = found["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|block| {
                let height = block["block"]["header"]["height"].as_str()?.to_string();
                let results = net
                    .rpc(0)
                    .call("block_results", json!({"height": height}))
                    .ok()?;
                results["finalize_block_events"]
                    .as_array()?
                    .iter()
                    .filter(|e| e["type"] == "reward")
                    .filter(|e| {
                        e["attributes"].as_array().is_some_and(|attributes| {
                            attributes
                                .iter()
                                .any(|a| a["key"] == "trainer" && a["value"] == trainer.as_str())
                        })
                    })
                    .find_map(|e| {
                        e["attributes"]
                            .as_array()?
                            .iter()
                            .find(|a| a["key"] == "amount")?["value"]
                            .as_str()?
                            .parse()
                            .ok()
                    })
            })
            .collect();
        assert!(
            rewards.iter().any(|amount| *amount > 0),
            "{trainer} was not rewarded: {found}"
        );
    }
    let losses: Vec<f32> = versions[1..].iter().map(|v| v.validation_loss).collect();
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]),
        "the held-out loss rose: {losses:?}"
    );
    net.stop_trainers();
    let (attempts, cheat) = fake_a_segment_until_caught(&net);
    // The four agree: the same app hash in the header of one height.
    let height = net.height(0).unwrap();
    net.wait_until("all four at the height", Duration::from_secs(60), |net| {
        (0..NODES).all(|n| net.height(n).unwrap_or(0) > height)
    });
    let hashes: Vec<String> = (0..NODES)
        .map(|n| {
            let block = net
                .rpc(n)
                .call("block", json!({"height": height.to_string()}))
                .unwrap();
            block["block"]["header"]["app_hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    eprintln!(
        "rounds on 4 validators: {} versions in {:.0} s, {merged_three} merging all three trainers; held-out loss {losses:?}; a faked segment caught at attempt {attempts} (update {})",
        versions.len() - 1,
        started.elapsed().as_secs_f64(),
        cheat.id,
    );
}

/// Issue 16 on four validators: trainer4 contributes honest checkpoints
/// (served from this process) and final weights moved off them, so its
/// last segment is faked. Each validator samples 2 of the 5 segments; one
/// that samples the last finds the mismatch and opens a dispute; all four
/// then re-execute that segment, and more than 2/3 of the power finding the
/// same mismatch slashes. Returns the attempt that was caught (a miss,
/// with probability (3/5)^4 per attempt, lets the next round try again)
/// and the update.
fn fake_a_segment_until_caught(net: &Localnet) -> (usize, um_proto::um::training::v1::Update) {
    use cosmos_sdk_proto::Any;
    use support::training::{tampered, train_remotely_with};
    use um_client::checkpoints::CheckpointServer;
    use um_client::keys::Keyring;
    use um_client::tx_builder::{sign_tx, signer_data, TxOptions};
    use um_proto::um::training::v1::{
        MsgClaimShard, MsgSubmitUpdate, QueryRoundRequest, QueryRoundResponse, RoundStatus,
        UpdateStatus,
    };
    const ATTEMPTS: usize = 6;

    let rpc = net.rpc(0);
    let chain_id = rpc.chain_id().unwrap();
    let cheat = Keyring::new(&net.run.join("node0").join("keys"))
        .get("trainer4")
        .unwrap();
    let verifier = format!("http://{}:9091", net.base_ip);
    let server = CheckpointServer::start("127.0.0.1:0").unwrap();
    let source = format!("http://{}", server.local_addr());
    let round = |number: u64| {
        let answer: QueryRoundResponse = rpc
            .query_proto(
                "/um.training.v1.Query/Round",
                &QueryRoundRequest {
                    prove: false,
                    model_id: MODEL.into(),
                    number,
                },
            )
            .unwrap();
        answer.round.unwrap()
    };
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "{what}\n{}", net.logs());
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // A shard neither contributed nor claimed (the stopped trainers may
    // hold claims in the current round).
    let free_shard = |r: &um_proto::um::training::v1::Round| {
        let shards = r.params.as_ref().map_or(0, |p| p.max_contributions);
        (0..shards).find(|s| !r.shards.contains(s) && !r.claims.iter().any(|c| c.shard == *s))
    };
    let sign_and_send = |msg: Any| {
        let signer = signer_data(&rpc, &chain_id, &cheat.address).unwrap();
        let options = TxOptions {
            gas_limit: 20_000_000,
            ..TxOptions::default()
        };
        let tx = sign_tx(&cheat, vec![msg], &signer, &options).unwrap();
        rpc.broadcast_and_wait(&tx, Duration::from_secs(60))
            .unwrap()
    };
    for attempt in 1..=ATTEMPTS {
        // Claimed first, as um-trainer does: a trainer stopped a moment
        // ago may still have had a claim on its way.
        let (open, shard) = loop {
            wait("an open round with a free shard", &|| {
                let r = round(0);
                r.status == RoundStatus::Open as i32 && free_shard(&r).is_some()
            });
            let open = round(0);
            let shard = free_shard(&open).unwrap();
            let claim = MsgClaimShard {
                trainer: cheat.address.clone(),
                model_id: MODEL.into(),
                round: open.number,
                shard,
            };
            if sign_and_send(um_client::msgs::any(&claim)).code == 0 {
                break (open, shard);
            }
        };
        let shards = open.params.as_ref().unwrap().max_contributions;
        let (weights, checkpoints) = train_remotely_with(
            &rpc,
            &verifier,
            &cheat,
            0,
            Some(um_proto::um::trainer::v1::RoundShard {
                round: open.number,
                round_seed: open.seed.clone(),
                shard,
                shards,
            }),
            1,
        );
        assert_eq!(
            checkpoints.len(),
            4,
            "5 steps, a checkpoint after each but the last"
        );
        let dataset = support::training::current_dataset(&rpc);
        let msg = MsgSubmitUpdate {
            trainer: cheat.address.clone(),
            model_id: MODEL.into(),
            base_version: open.base_version,
            dataset_version: dataset.version,
            nonce: 0,
            weights: tampered(&weights),
            claimed_train_loss: 1.0,
            claimed_validation_loss: 1.0,
            hyperparams_sha256: support::training::hyperparams_sha256(&rpc),
            dataset_root: dataset.root,
            round: open.number,
            shard,
            checkpoints: Vec::new(),
            checkpoint_hashes: checkpoints
                .into_iter()
                .map(|c| server.put(open.number, c).to_vec())
                .collect(),
            checkpoint_source: source.clone(),
        };
        let send = |msg: &MsgSubmitUpdate| sign_and_send(um_client::msgs::any(msg));
        if attempt == 1 {
            // Trained with other hyperparameters than the chain's (before a
            // DAO change, or served by a lying node): refused, not judged.
            let stale = MsgSubmitUpdate {
                hyperparams_sha256: vec![7; 32],
                ..msg.clone()
            };
            let refused = send(&stale);
            assert_eq!(refused.code, um_client::codes::Code::InvalidRequest.value());
            assert!(refused.log.contains("hyperparameters"), "{}", refused.log);
        }
        let result = send(&msg);
        assert_eq!(result.code, 0, "{}", result.log);
        let id = support::training::update_id(&result);
        let decided = support::training::wait_decided(&rpc, id, || net.logs());
        if decided.slashed {
            assert_eq!(decided.status, UpdateStatus::Rejected as i32);
            assert_eq!(decided.reason, "VERDICT_REASON_WEIGHTS_MISMATCH");
            assert_eq!(
                decided.disputed_segment,
                Some(4),
                "the last segment is the faked one"
            );
            let answer: QueryUpdateResponse = rpc
                .query_proto(
                    "/um.training.v1.Query/Update",
                    &QueryUpdateRequest {
                        prove: false,
                        update_id: id,
                    },
                )
                .unwrap();
            // More than 2/3 of the four equal powers re-executed the
            // disputed segment and found it.
            let found = answer
                .verdicts
                .iter()
                .filter(|v| v.segments_checked.contains(&4) && v.failed_segment == Some(4))
                .count();
            assert!(found >= 3, "{:?}", answer.verdicts);
            return (attempt, decided);
        }
        assert_eq!(decided.status, UpdateStatus::Verified as i32, "{decided:?}");
        wait("the cheat's round to close", &|| {
            round(open.number).status == RoundStatus::Closed as i32
        });
    }
    panic!("{ATTEMPTS} faked contributions, none caught (chance 0.13^{ATTEMPTS})");
}

/// A tiny byte-level transformer: the test is about the chain's path for a
/// language lineage, with four validators re-executing every contribution.
const LM: &str = "shakespeare-gpt";
const LM_SPEC: &str =
    r#"{"kind":"gpt","vocab":256,"block_size":32,"layers":1,"heads":2,"embed":32}"#;

/// Issue 19 on the 4-validator localnet: the DAO creates a language lineage
/// on the Shakespeare dataset and sets its rounds to top-k compressed
/// contributions; a well-formed payload that decodes to something else
/// than its shard's work is rejected by the validators' re-execution and
/// its trainer slashed; two trainers then train the lineage, every version
/// merged from compressed contributions and better on the held-out text
/// than the one before, and all four validators hold the same history.
#[test]
fn four_validators_train_a_language_lineage_the_dao_created_on_compressed_contributions() {
    use um_formats::compress::{Compression, Encoder};
    use um_governance::proposals::{self, VoteOption};
    use um_proto::um::training::v1::{
        MsgSubmitUpdate, QueryLineageRequest, QueryLineageResponse, QueryRoundRequest,
        QueryRoundResponse, UpdateStatus,
    };
    const VERSIONS: u64 = 3;
    let started = Instant::now();
    let texts = workspace_root().join("data/shakespeare");
    let mut net = Localnet::up_with_env(
        None,
        vec![
            ("LOCALNET_TEXTS", texts.display().to_string()),
            ("LOCALNET_TRAIN_MODEL", LM.to_string()),
        ],
    );
    let rpc = net.rpc(0);
    let suite = proposals::registered_suite(&rpc).unwrap();
    let keyring = um_client::keys::Keyring::new(&net.run.join("node0/keys"));
    let key = |name: &str| keyring.get(name).unwrap();
    // Trainers 1 to 4 and node0's operator: 500 of the 800 NRN bonded.
    let voters: Vec<_> = ["trainer1", "trainer2", "trainer3", "trainer4", "operator"]
        .iter()
        .map(|name| key(name))
        .collect();
    let pass = |title: &str, action: serde_json::Value, gas: u64| {
        let chain = um_governance::Chain::new(&rpc, &voters[0]).unwrap();
        let id = proposals::propose(&chain, &suite, title, "", &action).unwrap();
        for voter in &voters {
            let chain = um_governance::Chain::new(&rpc, voter).unwrap();
            proposals::vote(&chain, &suite, id, VoteOption::Yes).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while proposals::show(&rpc, &suite, id).unwrap()["status"] == "open" {
            assert!(
                Instant::now() < deadline,
                "the vote on {title:?} did not end"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        proposals::execute_with_gas(&chain, &suite, id, gas).unwrap();
    };
    pass(
        "a language model",
        json!({"new_model_lineage": {
            "model_id": LM,
            "spec": LM_SPEC,
            "dataset_id": "shakespeare",
            "hyperparams": {
                "learning_rate": "0.5", "batch_size": 4, "local_steps": 8,
                "verification_tolerance": "0.0001", "min_improvement": "0",
                "reward_per_update": "1000000", "reward_halving_interval": 0,
            },
        }}),
        40_000_000,
    );
    pass(
        "compressed rounds",
        json!({"set_round_params": {"model_id": LM, "rounds": {
            "max_contributions": 2, "round_blocks": 30, "outer_learning_rate": "1",
            "eval_samples": 0, "compression": "topk",
        }}}),
        5_000_000,
    );
    // Issue 20: tips on a lineage go to the holders of its last two
    // versions' tokens.
    pass(
        "royalties over the last two versions",
        json!({"set_royalty_rule": {"last_versions": 2}}),
        5_000_000,
    );
    let nfts = suite
        .versions
        .clone()
        .expect("the genesis suite has nrn-versions");
    let cw721 = |query: serde_json::Value| -> serde_json::Value {
        um_governance::smart_query(&rpc, &nfts, &query).unwrap_or_else(|e| panic!("{query}: {e}"))
    };
    assert_eq!(
        cw721(json!({"config": {}}))["royalty_last_versions"],
        2,
        "the DAO's rule reached the contract"
    );
    let round: QueryRoundResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Round",
            &QueryRoundRequest {
                prove: false,
                model_id: LM.into(),
                number: 0,
            },
        )
        .unwrap();
    let round = round.round.unwrap();
    assert_eq!(round.params.as_ref().unwrap().compression, "topk");
    eprintln!(
        "lineage {LM} created and set to top-k rounds by the DAO at {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // Trainer 3 sends a well-formed top-k payload of an unrelated delta.
    let spec = um_formats::ModelSpec::parse(LM_SPEC).unwrap();
    let unrelated: Vec<Vec<f32>> = um_formats::Weights::init(&spec, 99)
        .tensors
        .into_iter()
        .map(|t| t.data.into_iter().map(|x| x / 100.0).collect())
        .collect();
    let lie = Encoder::new(Compression::TopK).encode(&unrelated).unwrap();
    let lineage: QueryLineageResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Lineage",
            &QueryLineageRequest {
                prove: false,
                model_id: LM.into(),
            },
        )
        .unwrap();
    let lineage = lineage.lineage.unwrap();
    let dataset: um_proto::um::dataset::v1::QueryDatasetResponse = rpc
        .query_proto(
            "/um.dataset.v1.Query/Dataset",
            &um_proto::um::dataset::v1::QueryDatasetRequest {
                dataset_id: "shakespeare".into(),
                version: None,
            },
        )
        .unwrap();
    let dataset = dataset.dataset.unwrap();
    eprintln!(
        "shakespeare on the localnet: {} records, {} for training, {} held out",
        dataset.record_count, dataset.train_count, dataset.validation_count
    );
    let mallory = key("trainer3");
    let staked = |address: &str| -> u128 {
        let answer: QuerySmartContractStateResponse = rpc
            .query_proto(
                "/cosmwasm.wasm.v1.Query/SmartContractState",
                &QuerySmartContractStateRequest {
                    address: suite.staking.clone(),
                    query_data: json!({"stake": {"address": address, "height": null}})
                        .to_string()
                        .into_bytes(),
                },
            )
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer.data).unwrap();
        answer["stake"].as_str().unwrap().parse().unwrap()
    };
    let stake_before = staked(&mallory.address);
    let msg = MsgSubmitUpdate {
        trainer: mallory.address.clone(),
        model_id: LM.into(),
        base_version: round.base_version,
        dataset_version: dataset.version,
        nonce: 0,
        weights: lie,
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        hyperparams_sha256: lineage.hyperparams.unwrap().sha256(),
        dataset_root: dataset.root,
        round: round.number,
        shard: 1,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let chain = um_governance::Chain::new(&rpc, &mallory).unwrap();
    let result = chain
        .submit(vec![um_client::msgs::any(&msg)], 60_000_000)
        .unwrap();
    let fraud_id: u64 = result
        .event_value("submit_update", "update_id")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no update id in {result:?}"));

    for trainer in ["trainer1", "trainer2"] {
        net.start_trainer(trainer);
    }
    let update_of = |id: u64| -> QueryUpdateResponse {
        rpc.query_proto(
            "/um.training.v1.Query/Update",
            &QueryUpdateRequest {
                prove: false,
                update_id: id,
            },
        )
        .unwrap()
    };
    net.wait_until("the fraud's verdict", Duration::from_secs(300), |_| {
        update_of(fraud_id).update.unwrap().status != UpdateStatus::Pending as i32
    });
    let caught = update_of(fraud_id);
    let update = caught.update.clone().unwrap();
    assert_eq!(update.status, UpdateStatus::Rejected as i32, "{caught:?}");
    assert_eq!(
        update.reason, "VERDICT_REASON_WEIGHTS_MISMATCH",
        "{caught:?}"
    );
    assert!(
        caught.verdicts.len() >= 3 && caught.verdicts.iter().all(|v| !v.accept),
        "every validator re-executed and rejected it: {:?}",
        caught.verdicts
    );
    net.wait_until("the fraud's slash", Duration::from_secs(60), |_| {
        staked(&mallory.address) < stake_before
    });
    assert_eq!(staked(&mallory.address), stake_before / 2, "stake halved");

    net.wait_until(
        &format!("{VERSIONS} language versions from rounds"),
        Duration::from_secs(600),
        |net| {
            net.versions_of(0, LM)
                .last()
                .is_some_and(|v| v.version >= VERSIONS)
        },
    );
    net.stop_trainers();
    let versions = net.versions_of(0, LM);
    let payload = Compression::TopK.payload_len(&spec);
    let mut contributors = std::collections::BTreeSet::new();
    for pair in versions[1..].windows(2) {
        assert!(
            pair[1].validation_loss < pair[0].validation_loss,
            "held-out loss fell: {versions:?}"
        );
    }
    for version in &versions[1..] {
        eprintln!(
            "{LM} v{}: held-out loss {:.4} nats/byte, {} contribution(s)",
            version.version,
            version.validation_loss,
            version.update_ids.len()
        );
        for id in &version.update_ids {
            let update = update_of(*id).update.unwrap();
            assert_eq!(
                update.weights_size, payload,
                "update {id}: a top-k payload, not f32 weights"
            );
            contributors.insert(update.trainer);
        }
    }
    assert!(versions[1].validation_loss < 5.0, "{versions:?}");
    assert_eq!(
        contributors,
        [key("trainer1").address, key("trainer2").address]
            .into_iter()
            .collect(),
        "both honest trainers' compressed contributions were merged"
    );
    // Issue 20's karma for verification: each validator's operator is
    // credited with its verdicts on decided updates; trainer 3 with its slash.
    let karma_of = |address: &str| -> um_proto::um::karma::v1::Contributions {
        let answer: um_proto::um::karma::v1::QueryAccountResponse = rpc
            .query_proto(
                "/um.karma.v1.Query/Account",
                &um_proto::um::karma::v1::QueryAccountRequest {
                    address: address.into(),
                },
            )
            .unwrap_or_else(|e| panic!("karma of {address}: {e}"));
        answer.karma.unwrap().contributions.unwrap()
    };
    for node in 0..NODES {
        let operator = um_client::keys::Keyring::new(&net.run.join(format!("node{node}/keys")))
            .info("operator")
            .unwrap()
            .address;
        let karma = karma_of(&operator);
        // A verdict that comes after the others decided is not recorded, so
        // a slow verifier has fewer; none has none.
        assert!(karma.verdicts >= 1, "node{node}'s operator: {karma:?}");
    }
    assert_eq!(karma_of(&mallory.address).slashes, 1);

    version_nfts_change_hands_and_earn_tips(&net, &nfts, &cw721, &versions, &update_of);

    // All four validators hold the same history of the lineage.
    for node in 1..NODES {
        let theirs = net.versions_of(node, LM);
        let common = versions.len().min(theirs.len());
        assert_eq!(theirs[..common], versions[..common], "node{node}");
    }

    // Issue 20's 2017 rewards: with the DAO's delta fraction (the design's
    // 0.0001 %), the faucet's accepted delta of new text mints it
    // supply / 1,000,000 at the accepting block.
    pass(
        "reward dataset deltas",
        json!({"set_reward_params": {"delta_supply_fraction": "0.000001"}}),
        5_000_000,
    );
    let text = tempfile::NamedTempFile::new().unwrap();
    let lines: String = (0..40)
        .map(|i| format!("Line {i} of a delta the localnet test wrote, new to every play.\n"))
        .collect();
    fs::write(text.path(), lines).unwrap();
    let proposed = net.umd(&[
        "tx",
        "dataset",
        "propose-delta",
        "--dataset",
        "shakespeare",
        "--add-text",
        &text.path().display().to_string(),
        "--from",
        "faucet",
    ]);
    let delta_id: u64 = proposed
        .lines()
        .find_map(|l| l.strip_prefix("delta_id: "))
        .and_then(|id| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("no delta id in {proposed}"));
    let supply = || -> u128 {
        let info =
            um_governance::smart_query(&rpc, &suite.token, &json!({"token_info": {}})).unwrap();
        info["total_supply"].as_str().unwrap().parse().unwrap()
    };
    let supply_before = supply();
    pass(
        "accept the faucet's delta",
        json!({"accept_dataset_delta": {"delta_id": delta_id}}),
        60_000_000,
    );
    let supply_after = supply();
    let faucet = key("faucet").address;
    let found = rpc
        .call(
            "block_search",
            json!({"query": format!("delta_reward.proposer='{faucet}'"), "per_page": "5"}),
        )
        .unwrap();
    assert_eq!(found["total_count"], "1", "{found}");
    let height = found["blocks"][0]["block"]["header"]["height"]
        .as_str()
        .unwrap()
        .to_string();
    let results = rpc
        .call("block_results", json!({"height": height}))
        .unwrap();
    let reward: u128 = results["finalize_block_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "delta_reward")
        .flat_map(|e| e["attributes"].as_array().unwrap().iter())
        .find(|a| a["key"] == "amount")
        .and_then(|a| a["value"].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no delta_reward amount at height {height}: {results}"));
    eprintln!(
        "delta {delta_id} accepted at height {height}: the faucet's reward is {reward} unrn (supply {supply_before} .. {supply_after})"
    );
    // Minted between the two reads; the supply only grew in between.
    assert!(
        (supply_before / 1_000_000..=supply_after / 1_000_000).contains(&reward),
        "{reward}"
    );
    assert_eq!(karma_of(&faucet).deltas, 1);
    eprintln!(
        "{} language versions on 4 validators in {:.0} s",
        versions.len() - 1,
        started.elapsed().as_secs_f64()
    );
}

/// Issue 20, versions as NFTs: every accepted version of the language
/// lineage is a cw721 token of each merged contributor, with the chain's
/// record as metadata; CosmJS gives one away with `transfer_nft`; a tip
/// (`umd tx versions tip`) is split among the current holders of the last
/// two versions' tokens, as the DAO ruled.
fn version_nfts_change_hands_and_earn_tips(
    net: &Localnet,
    nfts: &str,
    cw721: &dyn Fn(serde_json::Value) -> serde_json::Value,
    versions: &[ModelVersion],
    update_of: &dyn Fn(u64) -> QueryUpdateResponse,
) {
    use std::collections::BTreeMap;

    let keyring = um_client::keys::Keyring::new(&net.run.join("node0/keys"));
    let address_of = |name: &str| keyring.info(name).unwrap().address;
    let traits_of = |token_id: &str| -> BTreeMap<String, String> {
        nft_traits(&cw721(json!({"nft_info": {"token_id": token_id}}))["extension"])
    };
    // Versions accepted after `versions` was read (a round that closed
    // late) have tokens too; the ones read are checked against the chain.
    let minted = cw721(json!({"version_tokens": {"model_id": LM, "limit": 100}}));
    let minted = minted["versions"].as_array().unwrap().clone();
    assert!(minted.len() >= versions.len() - 1, "{minted:?}");
    for (entry, version) in minted.iter().zip(&versions[1..]) {
        assert_eq!(entry["version"], version.version);
        let ids = entry["token_ids"].as_array().unwrap();
        assert_eq!(ids.len(), version.update_ids.len(), "{entry}");
        for (id, update_id) in ids.iter().zip(&version.update_ids) {
            let id = id.as_str().unwrap();
            let contributor = update_of(*update_id).update.unwrap().trainer;
            let owner = cw721(json!({"owner_of": {"token_id": id}}));
            assert_eq!(owner["owner"], contributor.as_str(), "{id}");
            let traits = traits_of(id);
            let expected = [
                ("model_id", LM.to_string()),
                ("version", version.version.to_string()),
                ("weights_sha256", hex::encode(&version.weights_sha256)),
                ("validation_loss", version.validation_loss.to_string()),
                (
                    "validation_accuracy",
                    version.validation_accuracy.to_string(),
                ),
                ("height", version.height.to_string()),
                ("dataset_version", version.dataset_version.to_string()),
            ];
            for (name, value) in expected {
                assert_eq!(traits[name], value, "{id}: {name}");
            }
        }
    }
    eprintln!(
        "{} versions minted as tokens: {:?}",
        minted.len(),
        minted.iter().map(|v| &v["token_ids"]).collect::<Vec<_>>()
    );

    // The CLI's generic wasm query speaks cw721 too: trainer 1's tokens.
    let trainer1 = address_of("trainer1");
    let listed = net.umd(&[
        "query",
        "wasm",
        "smart",
        nfts,
        &json!({"tokens": {"owner": trainer1, "limit": 100}}).to_string(),
    ]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let trainer1_tokens: Vec<String> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert!(!trainer1_tokens.is_empty(), "{listed}");

    // CosmJS gives trainer 1's token of the newest version to node0's
    // operator with the standard transfer_nft.
    let newest = minted.last().unwrap();
    let given = newest["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .find(|id| trainer1_tokens.contains(id))
        .unwrap_or_else(|| panic!("trainer 1 holds no token of {newest}"));
    let operator = address_of("operator");
    let mnemonic: um_client::keys::KeyFile =
        serde_json::from_slice(&fs::read(net.run.join("node0/keys/trainer1.json")).unwrap())
            .unwrap();
    let moved = run_node_script(
        "cosmjs-nft.mjs",
        &[],
        &[
            ("UM_RPC", &net.rpc_url(0)),
            ("UM_MNEMONIC", &mnemonic.mnemonic),
            ("UM_CONTRACT", nfts),
            ("UM_TOKEN_ID", &given),
            ("UM_RECIPIENT", &operator),
        ],
    );
    eprintln!("cosmjs-nft.mjs: {moved}");
    assert_eq!(moved["ownerBefore"], trainer1.as_str());
    assert_eq!(moved["ownerAfter"], operator.as_str());
    assert!(moved["recipientTokens"]
        .as_array()
        .unwrap()
        .contains(&json!(given)));
    assert_eq!(
        cw721(json!({"owner_of": {"token_id": given}}))["owner"],
        operator.as_str(),
        "the chain agrees"
    );

    // The faucet tips the lineage from the CLI. The tip is shared over the
    // last two versions accepted before its block, whoever holds their
    // tokens now: each version half, each token of a version its part.
    const TIP: u128 = 3_001;
    let printed = net.umd(&[
        "tx",
        "versions",
        "tip",
        LM,
        &TIP.to_string(),
        "--from",
        "faucet",
    ]);
    eprintln!("umd tx versions tip: {printed}");
    let tips = cw721(json!({"tips": {"limit": 100}}));
    let tip = tips["tips"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(tip["payer"], address_of("faucet").as_str());
    assert_eq!(tip["amount"], TIP.to_string());
    let tip_height = tip["height"].as_u64().unwrap();
    let minted = cw721(json!({"version_tokens": {"model_id": LM, "limit": 100}}));
    let eligible: Vec<Vec<String>> = minted["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["token_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        // Minted at the end of an earlier block than the tip's.
        .filter(|ids| traits_of(&ids[0])["height"].parse::<u64>().unwrap() < tip_height)
        .collect();
    let last_two = &eligible[eligible.len().saturating_sub(2)..];
    let mut expected: BTreeMap<String, u128> = BTreeMap::new();
    let per_version = TIP / last_two.len() as u128;
    let mut paid = 0;
    for ids in last_two {
        for id in ids {
            let holder = cw721(json!({"owner_of": {"token_id": id}}))["owner"]
                .as_str()
                .unwrap()
                .to_string();
            let part = per_version / ids.len() as u128;
            *expected.entry(holder).or_default() += part;
            paid += part;
        }
    }
    let newest_first_holder =
        cw721(json!({"owner_of": {"token_id": last_two[last_two.len() - 1][0]}}))["owner"]
            .as_str()
            .unwrap()
            .to_string();
    *expected.entry(newest_first_holder).or_default() += TIP - paid;
    let recorded: BTreeMap<String, u128> = tip["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|share| {
            (
                share["address"].as_str().unwrap().to_string(),
                share["amount"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    eprintln!("tip of {TIP} unrn at height {tip_height}: {recorded:?}");
    assert_eq!(
        recorded, expected,
        "the DAO's rule over the current holders"
    );
    assert_eq!(recorded.values().sum::<u128>(), TIP);
    if last_two.iter().flatten().any(|id| *id == given) {
        assert!(
            recorded.contains_key(&operator),
            "the token's new holder earns"
        );
    }
    // The NRN really moved: every holder's royalties are on record, the
    // contract keeps nothing, and the CLI printed who received what.
    for (holder, amount) in &recorded {
        let earned = cw721(json!({"earned": {"address": holder}}));
        assert_eq!(earned["amount"], amount.to_string(), "{holder}");
        assert!(
            printed.contains(&format!("royalty {holder}:{amount}")),
            "{printed}"
        );
    }
    let rpc = net.rpc(0);
    let registry = um_governance::proposals::registered_suite(&rpc).unwrap();
    let held = um_governance::smart_query(
        &rpc,
        &registry.token,
        &json!({"balance": {"address": nfts}}),
    )
    .unwrap();
    assert_eq!(held["balance"], "0", "tips pass straight through");
}
