//! Issue 8, scenarios 1, 2, 3 and 8, through real processes: a 4-validator
//! localnet (`localnet/up.sh` with `LOCALNET_NETNS`, every node in a network
//! namespace of its own) with two trainers, and a one-node chain whose state
//! lives on a small tmpfs.
//!
//! 1. crash anywhere: validators SIGKILLed at random moments and, through
//!    umd's test hook `UMD_CRASH_AT`, inside FinalizeBlock, before and after
//!    Commit's write and as a verification answer arrives; every restart
//!    recovers and the crashed node has every accepted version it had seen.
//! 2. churn: a random validator killed and restarted while trainers run.
//! 3. partition: 2–2 makes no block and no fork; 3–1 goes on without the
//!    one, which catches up after healing.
//! 8. disk full: umd's store refuses a write; umd stops (exit 2) without a
//!    partial block and goes on once there is space again.
//!
//! The short versions run in `make test`; `make reliability` runs the same
//! tests longer through the environment (`RELIABILITY_CRASH_CYCLES`,
//! `RELIABILITY_CHURN`, `RELIABILITY_PARTITIONS`, `RELIABILITY_SPLIT_SECS`,
//! `RELIABILITY_DISK_ROUNDS`, `RELIABILITY_SEED`). Each test prints a
//! `SUMMARY` line that scripts/reliability/ records. Needs root (network
//! namespaces, tmpfs).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{trainer_binary, umd_binary, workspace_root};
use um_client::rpc::RpcClient;
use um_proto::um::common::v1::PageRequest;
use um_proto::um::training::v1::{ModelVersion, QueryVersionsRequest, QueryVersionsResponse};

const NODES: usize = 4;
const MODEL: &str = "mnist-mlp";
const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;

/// One localnet at a time: the tests of this file would otherwise run four
/// validators each on the same two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// splitmix64: the scenario's choices (victim, crash point, pauses) follow
/// from RELIABILITY_SEED, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A process recorded in a pid file runs a program called `name` (a zombie
/// or a reused pid does not count).
fn alive(pid_file: &Path, name: &str) -> bool {
    let Ok(pid) = fs::read_to_string(pid_file) else {
        return false;
    };
    let Ok(stat) = fs::read_to_string(format!("/proc/{}/stat", pid.trim())) else {
        return false;
    };
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    head.ends_with(&format!("({name}")) && !rest.trim_start().starts_with(['Z', 'X'])
}

/// Seconds since 1970 of a CometBFT time such as
/// "2026-11-23T15:44:48.917889387Z".
fn rfc3339_seconds(text: &str) -> f64 {
    let (date, time) = text
        .trim_end_matches('Z')
        .split_once('T')
        .expect("date T time");
    let ymd: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m, d) = (ymd[0], ymd[1], ymd[2]);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let hms: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    days as f64 * 86_400.0 + hms[0] * 3600.0 + hms[1] * 60.0 + hms[2]
}

/// How many networks this test process has made: each takes the next K, so
/// a test never reuses the K of the one before it, whose veths the kernel
/// may still be freeing.
static NETWORKS_MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A namespace number K (um<K>-…) that no other run uses: no namespace and
/// no host-side veth (um<K>m…) carries it.
fn free_netns_id() -> u8 {
    let listing = |args: &[&str]| {
        let output = Command::new("ip")
            .args(args)
            .output()
            .expect("`ip` runs (iproute2)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let namespaces = listing(&["netns", "list"]);
    let links = listing(&["-o", "link", "show"]);
    let made = NETWORKS_MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = (std::process::id() as usize + 7 * made) % 200;
    (0..200)
        .map(|j| (20 + (start + j) % 200) as u8)
        .find(|k| !namespaces.contains(&format!("um{k}-")) && !links.contains(&format!(": um{k}m")))
        .expect("a free namespace number")
}

/// The network of `localnet/up.sh` with every node in its own namespace,
/// in a temporary folder; `localnet/down.sh --clean` (which deletes the
/// namespaces) on drop.
struct Net {
    _dir: tempfile::TempDir,
    run: PathBuf,
    netns: u8,
    trainers: Vec<(String, Child)>,
    trainer_restarts: u64,
}

impl Net {
    fn up() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let net = Self {
            run: dir.path().join("run"),
            _dir: dir,
            netns: free_netns_id(),
            trainers: Vec::new(),
            trainer_restarts: 0,
        };
        net.script_ok("up.sh", &[&NODES.to_string()]);
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
            .env("LOCALNET_NETNS", self.netns.to_string())
            .env("LOCALNET_DIGITS", "2000")
            .env("LOCALNET_SPEC", SPEC)
            .env("LOCALNET_HYPERPARAMS", hyperparams.to_string())
            .env("UMD", umd_binary())
            .env("UM_TRAINER", trainer_binary())
            .env_remove("UMD_CRASH_AT")
            .stdin(Stdio::null());
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

    /// Starts node `node`; with `crash_at`, its umd runs with that
    /// `UMD_CRASH_AT`.
    fn start_node(&self, node: usize, crash_at: Option<&str>) {
        let mut command = self.command("node.sh");
        command.args(["start", &node.to_string()]);
        if let Some(plan) = crash_at {
            command.env("UMD_CRASH_AT", plan);
        }
        let output = command.output().expect("localnet/node.sh runs");
        assert!(
            output.status.success(),
            "starting node{node}: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
    }

    fn kill_node(&self, node: usize) {
        self.script_ok("node.sh", &["kill", &node.to_string()]);
    }

    fn home(&self, node: usize) -> PathBuf {
        self.run.join(format!("node{node}"))
    }

    fn umd_alive(&self, node: usize) -> bool {
        alive(&self.home(node).join("umd.pid"), "umd")
    }

    fn rpc(&self, node: usize) -> RpcClient {
        // localnet/lib.sh: node i's management address, which the host reaches.
        RpcClient::new(&format!(
            "http://10.213.{}.{}:26657",
            self.netns,
            4 * node + 2
        ))
    }

    fn height(&self, node: usize) -> Option<u64> {
        self.rpc(node).latest_height().ok()
    }

    fn max_height(&self) -> u64 {
        (0..NODES).filter_map(|n| self.height(n)).max().unwrap_or(0)
    }

    /// `localnet/train.sh KEY` in the background, until the test ends.
    fn start_trainer(&mut self, key: &str) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.run.join(format!("{key}.log")))
            .unwrap();
        let child = self
            .command("train.sh")
            .args([key, "--max-failures", "0"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.trainers.push((key.to_string(), child));
    }

    /// A trainer is a client: if its node's crash made it give up, it is
    /// started again (and counted), the chain is what is under test.
    fn keep_trainers_running(&mut self) {
        let exited: Vec<String> = self
            .trainers
            .iter_mut()
            .filter_map(|(key, child)| child.try_wait().ok().flatten().map(|_| key.clone()))
            .collect();
        for key in exited {
            eprintln!(
                "{key} exited; it is started again. Its last words:\n{}",
                tail(&self.run.join(format!("{key}.log")), 3)
            );
            self.trainers.retain(|(k, _)| *k != key);
            self.trainer_restarts += 1;
            self.start_trainer(&key);
        }
    }

    fn stop_trainers(&mut self) {
        for (_, child) in &mut self.trainers {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.trainers.clear();
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for node in 0..NODES {
            let home = self.home(node);
            for (name, lines) in [("umd.log", 12), ("cometbft.log", 8), ("verifier.log", 3)] {
                out += &format!("--- node{node}/{name}\n{}\n", tail(&home.join(name), lines));
            }
        }
        for key in ["trainer1", "trainer2"] {
            let path = self.run.join(format!("{key}.log"));
            out += &format!("--- {key}.log\n{}\n", tail(&path, 5));
        }
        out
    }

    /// Polls `done` every 200 ms until it holds; panics with `what` and the
    /// logs after `timeout`.
    fn wait_until(&mut self, what: &str, timeout: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            self.keep_trainers_running();
            assert!(
                Instant::now() < deadline,
                "timed out after {} s waiting for {what}\n{}",
                timeout.as_secs(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until node `node` has the height every other node had when
    /// asked.
    fn wait_caught_up(&mut self, node: usize) {
        let target = (0..NODES)
            .filter(|n| *n != node)
            .filter_map(|n| self.height(n))
            .max()
            .unwrap_or(0);
        self.wait_until(
            &format!("node{node} to catch up to height {target}"),
            Duration::from_secs(120),
            |net| net.height(node).unwrap_or(0) >= target,
        );
    }

    /// Waits until node `node` votes again: its CometBFT has left block sync
    /// (which a restarted node stays in for ~4-5 s after it reached the
    /// others' height over RPC) and its precommit is in the commit of a block
    /// above `above`. Killing the next validator before that takes two of
    /// four out of consensus, and the other two cannot make a block.
    fn wait_voting(&mut self, node: usize, above: u64) {
        let status = self.rpc(node).call("status", json!({}));
        let address = status
            .ok()
            .and_then(|s| s["validator_info"]["address"].as_str().map(String::from))
            .unwrap_or_default();
        self.wait_until(
            &format!("node{node} to vote in a block above {above}"),
            Duration::from_secs(120),
            |net| {
                let Some(height) = net.height((node + 1) % NODES) else {
                    return false;
                };
                let Ok(commit) = net
                    .rpc((node + 1) % NODES)
                    .call("commit", json!({"height": height.to_string()}))
                else {
                    return false;
                };
                height > above
                    && commit["signed_header"]["commit"]["signatures"]
                        .as_array()
                        .is_some_and(|sigs| {
                            sigs.iter().any(|sig| {
                                sig["validator_address"].as_str() == Some(address.as_str())
                                    && sig["block_id_flag"].as_u64() == Some(2)
                            })
                        })
            },
        );
    }

    /// Every accepted version (version 0 included), by version number;
    /// `None` when the node does not answer.
    fn versions(&self, node: usize) -> Option<Vec<ModelVersion>> {
        let rpc = self.rpc(node);
        let mut versions = Vec::new();
        let mut key = Vec::new();
        loop {
            let request = QueryVersionsRequest {
                prove: false,
                model_id: MODEL.into(),
                pagination: Some(PageRequest {
                    key: key.clone(),
                    limit: 1000,
                    ..Default::default()
                }),
            };
            let page: QueryVersionsResponse = rpc
                .query_proto("/um.training.v1.Query/Versions", &request)
                .ok()?;
            versions.extend(page.versions);
            key = page.pagination.map(|p| p.next_key).unwrap_or_default();
            if key.is_empty() {
                break;
            }
        }
        versions.sort_by_key(|v| v.version);
        Some(versions)
    }

    fn head_version(&self, node: usize) -> Option<u64> {
        Some(self.versions(node)?.last().map(|v| v.version).unwrap_or(0))
    }

    /// The account sequences of trainer1 and trainer2 as node `node` has
    /// them: every tx delivered in a block moves its signer's sequence, so a
    /// committed sequence never goes back (balances do: fees are paid).
    fn trainer_sequences(&self, node: usize) -> Option<[u64; 2]> {
        let rpc = self.rpc(node);
        let keyring = um_client::keys::Keyring::new(&self.home(0).join("keys"));
        let mut out = [0u64; 2];
        for (slot, name) in ["trainer1", "trainer2"].iter().enumerate() {
            let address = keyring.get(name).ok()?.address;
            out[slot] = um_client::tx_builder::query_account(&rpc, &address)
                .ok()?
                .map_or(0, |account| account.sequence);
        }
        Some(out)
    }

    /// (last committed height, app hash) as node `node`'s umd reports them.
    fn abci_info(&self, node: usize) -> Option<(u64, String)> {
        let info = self.rpc(node).call("abci_info", json!({})).ok()?;
        let response = &info["response"];
        let height = response["last_block_height"].as_str()?.parse().ok()?;
        let hash = response["last_block_app_hash"].as_str()?.to_string();
        Some((height, hash))
    }

    fn block_hash(&self, node: usize, height: u64) -> Option<String> {
        let block = self
            .rpc(node)
            .call("block", json!({"height": height.to_string()}))
            .ok()?;
        block["block_id"]["hash"].as_str().map(str::to_string)
    }

    /// Waits until all four apps report the same height, asserts they report
    /// the same app hash there, and returns that height.
    fn agree(&mut self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let infos: Vec<_> = (0..NODES).map(|n| self.abci_info(n)).collect();
            if let Some(first) = infos[0].clone() {
                if infos
                    .iter()
                    .all(|i| i.as_ref().map(|i| i.0) == Some(first.0))
                {
                    for (node, info) in infos.iter().enumerate() {
                        assert_eq!(
                            info.as_ref().map(|i| &i.1),
                            Some(&first.1),
                            "node{node} has another app hash at height {}\n{}",
                            first.0,
                            self.logs()
                        );
                    }
                    return first.0;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the four nodes never reported the same height: {infos:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The BFT time of each block in `heights`, in seconds (node0's headers).
    fn header_times(&self, heights: std::ops::RangeInclusive<u64>) -> Vec<f64> {
        let mut times = Vec::new();
        let (mut low, high) = heights.into_inner();
        while low <= high {
            let top = high.min(low + 19);
            let answer = self
                .rpc(0)
                .call(
                    "blockchain",
                    json!({"minHeight": low.to_string(), "maxHeight": top.to_string()}),
                )
                .expect("blockchain query");
            let mut metas: Vec<(u64, f64)> = answer["block_metas"]
                .as_array()
                .expect("block_metas")
                .iter()
                .map(|m| {
                    let header = &m["header"];
                    let height = header["height"].as_str().unwrap().parse().unwrap();
                    (height, rfc3339_seconds(header["time"].as_str().unwrap()))
                })
                .collect();
            metas.sort_by_key(|m| m.0);
            times.extend(metas.into_iter().map(|m| m.1));
            low = top + 1;
        }
        times
    }

    /// Every node has the same block at every height in `heights` (no fork).
    fn assert_one_chain(&self, heights: std::ops::RangeInclusive<u64>) {
        for height in heights {
            let hashes: Vec<_> = (0..NODES).map(|n| self.block_hash(n, height)).collect();
            assert!(
                hashes[0].is_some() && hashes.iter().all(|h| h == &hashes[0]),
                "block {height} differs between nodes (a fork): {hashes:?}"
            );
        }
    }

    /// Each umd log's crash-hook lines, and lines that show a panic.
    fn hook_crashes(&self, node: usize) -> usize {
        fs::read_to_string(self.home(node).join("umd.log"))
            .unwrap_or_default()
            .matches(": SIGKILL now")
            .count()
    }

    fn assert_no_panics(&self) {
        for node in 0..NODES {
            for name in ["umd.log", "cometbft.log"] {
                let text = fs::read_to_string(self.home(node).join(name)).unwrap_or_default();
                // A CometBFT whose umd was SIGKILLed mid-call reports a
                // consensus failure reading from the dead connection (EOF,
                // reset): that is the crash itself, not a fault.
                let lost_app = |l: &str| {
                    ["EOF", "connection reset", "broken pipe"]
                        .iter()
                        .any(|m| l.contains(m))
                };
                let bad = text.lines().find(|l| {
                    l.contains("panicked at")
                        || (l.contains("CONSENSUS FAILURE") && !lost_app(l))
                        || l.contains("wrong Block.Header.AppHash")
                });
                assert!(bad.is_none(), "node{node}/{name}: {}", bad.unwrap_or(""));
            }
        }
    }

    /// The model's history agrees on every node, is one chain of versions,
    /// and holds at least `min_head` versions; returns the head. The nodes
    /// are read one after the other while blocks go on, and an update sent
    /// before the trainers stopped may still be accepted in between: what
    /// two nodes both hold must be the same at once, and within 30 s they
    /// hold the same versions.
    fn assert_history(&self, min_head: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let reference = loop {
            let all: Vec<Vec<ModelVersion>> = (0..NODES)
                .map(|node| self.versions(node).expect("versions"))
                .collect();
            for (node, theirs) in all.iter().enumerate().skip(1) {
                let common = theirs.len().min(all[0].len());
                assert_eq!(
                    theirs[..common],
                    all[0][..common],
                    "node{node} and node0 tell another history"
                );
            }
            if all.iter().all(|theirs| theirs.len() == all[0].len()) {
                break all[0].clone();
            }
            assert!(
                Instant::now() < deadline,
                "the nodes' histories did not reach the same length: {:?}",
                all.iter().map(Vec::len).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(300));
        };
        for pair in reference.windows(2) {
            assert_eq!(pair[1].parent_version, pair[0].version, "{pair:?}");
        }
        let head = reference.last().map(|v| v.version).unwrap_or(0);
        assert!(
            head >= min_head,
            "head v{head}, but v{min_head} was seen earlier: an accepted version was lost"
        );
        head
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.stop_trainers();
        let _ = self.script("down.sh", &["--clean"]);
    }
}

/// Scenario 1, crash anywhere. Each cycle crashes one random validator twice: a
/// SIGKILL at whatever moment it is in (to restart it with a hook), then
/// the hook's SIGKILL at a chosen point (the n-th FinalizeBlock, Commit
/// before or after its write, or verification answer after the restart) or,
/// one cycle in five, a SIGKILL from outside after a random pause. After
/// each cycle the node restarts, catches up, and still has every version
/// and the trainers' account sequences it had before; at the end all four agree.
#[test]
fn crash_anywhere_recovers_and_agrees() {
    let _serial = serial();
    let cycles = env_u64("RELIABILITY_CRASH_CYCLES", 4);
    let seed = env_u64("RELIABILITY_SEED", 1);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut net = Net::up();
    net.start_trainer("trainer1");
    net.start_trainer("trainer2");
    net.wait_until(
        "a first accepted version",
        Duration::from_secs(240),
        |net| net.head_version(0).unwrap_or(0) >= 1,
    );

    let mut crashes = 0u64;
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut max_head = 0;
    let mut max_sequences = [0u64; 2];
    for cycle in 0..cycles {
        let victim = rng.below(NODES as u64) as usize;
        let witness = (victim + 1 + rng.below(NODES as u64 - 1) as usize) % NODES;
        // What the victim has before: every crash must keep it.
        let head_before = net.head_version(victim).unwrap_or(0);
        let sequences_before = net.trainer_sequences(victim).unwrap_or_default();
        max_head = max_head.max(net.head_version(witness).unwrap_or(0));

        // The first cycles take each hook point in turn, so the short run
        // crosses all of them; later ones draw.
        let points = um_app::fault::POINTS;
        let plan = if cycle < points.len() as u64 {
            Some(points[cycle as usize])
        } else if rng.below(5) == 0 {
            None
        } else {
            Some(points[rng.below(points.len() as u64) as usize])
        };
        net.kill_node(victim);
        crashes += 1;
        *by_kind.entry("sigkill-at-random".into()).or_default() += 1;
        match plan {
            Some(point) => {
                let nth = if point == "verify" {
                    1
                } else {
                    1 + rng.below(3)
                };
                let hooks_before = net.hook_crashes(victim);
                net.start_node(victim, Some(&format!("{point}:{nth}")));
                let deadline = Instant::now() + Duration::from_secs(60);
                while net.umd_alive(victim) && Instant::now() < deadline {
                    net.keep_trainers_running();
                    std::thread::sleep(Duration::from_millis(100));
                }
                if net.umd_alive(victim) {
                    // No update came for it to verify in time: a SIGKILL
                    // from outside instead.
                    net.kill_node(victim);
                    *by_kind.entry("sigkill-at-random".into()).or_default() += 1;
                } else {
                    assert_eq!(
                        net.hook_crashes(victim),
                        hooks_before + 1,
                        "node{victim}'s umd died, but not by UMD_CRASH_AT={point}:{nth}\n{}",
                        net.logs()
                    );
                    *by_kind.entry(point.to_string()).or_default() += 1;
                }
            }
            None => {
                net.start_node(victim, None);
                std::thread::sleep(Duration::from_millis(300 + rng.below(4000)));
                net.kill_node(victim);
                *by_kind.entry("sigkill-at-random".into()).or_default() += 1;
            }
        }
        crashes += 1;
        net.start_node(victim, None);
        net.wait_caught_up(victim);
        let head_after = net.head_version(victim).unwrap_or(0);
        assert!(
            head_after >= head_before,
            "cycle {cycle}: node{victim} had v{head_before} before the crash, v{head_after} after"
        );
        let sequences_after = net.trainer_sequences(victim).unwrap_or_default();
        for slot in 0..2 {
            assert!(
                sequences_after[slot] >= sequences_before[slot],
                "cycle {cycle}: trainer{} sequence on node{victim} went from {} to {}",
                slot + 1,
                sequences_before[slot],
                sequences_after[slot]
            );
            max_sequences[slot] = max_sequences[slot].max(sequences_after[slot]);
        }
    }
    net.stop_trainers();
    let height = net.agree();
    let head = net.assert_history(max_head);
    for node in 0..NODES {
        let sequences = net.trainer_sequences(node).expect("sequences");
        for slot in 0..2 {
            assert!(
                sequences[slot] >= max_sequences[slot],
                "trainer{} has sequence {} on node{node}, had {} earlier",
                slot + 1,
                sequences[slot],
                max_sequences[slot]
            );
        }
    }
    net.assert_no_panics();
    let kinds: Vec<String> = by_kind.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    println!(
        "SUMMARY crashes={crashes} cycles={cycles} seed={seed} kinds={} head_version={head} \
         agreed_height={height} trainer_restarts={} seconds={}",
        kinds.join(","),
        net.trainer_restarts,
        started.elapsed().as_secs()
    );
}

/// Scenario 2, validator churn: a random validator SIGKILLed, down for a random
/// moment, restarted, `RELIABILITY_CHURN` times while two trainers run.
/// The longest gap between the BFT times of consecutive blocks is printed
/// and judged by scripts/reliability/churn.sh (no timing asserts here); the
/// nodes agree at the end and every accepted version survives.
#[test]
fn validator_churn_keeps_one_chain() {
    let _serial = serial();
    let rounds = env_u64("RELIABILITY_CHURN", 2);
    let seed = env_u64("RELIABILITY_SEED", 2);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut net = Net::up();
    net.start_trainer("trainer1");
    net.start_trainer("trainer2");
    // A trainer whose node is down at its first query exits (it names the
    // problem instead of waiting): let both start before the first kill.
    net.wait_until("both trainers to start", Duration::from_secs(120), |net| {
        ["trainer1", "trainer2"].iter().all(|key| {
            fs::read_to_string(net.run.join(format!("{key}.log")))
                .is_ok_and(|log| log.contains("training "))
        })
    });

    let first = net.max_height().max(1);

    let mut max_head = 0;
    for round in 0..rounds {
        let victim = rng.below(NODES as u64) as usize;
        max_head = max_head.max(net.head_version((victim + 1) % NODES).unwrap_or(0));
        net.kill_node(victim);
        net.wait_until(
            &format!("round {round}: two blocks without node{victim}"),
            Duration::from_secs(60),
            {
                let from = net.max_height();
                move |net| net.max_height() >= from + 2
            },
        );
        std::thread::sleep(Duration::from_millis(rng.below(3000)));
        let restarted_at = net.max_height();
        net.start_node(victim, None);
        net.wait_caught_up(victim);
        net.wait_voting(victim, restarted_at);
    }
    net.stop_trainers();
    let height = net.agree();
    // Block times from the chain itself (each header's BFT time), so a slow
    // RPC answer on the two busy cores is not taken for a stall.
    let times = net.header_times(first..=height);
    let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // The height whose header time ended the longest gap, to find it in the
    // nodes' logs (a header's time is when the block before it was committed).
    let worst_height = gaps
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| first + i as u64 + 1);
    net.assert_one_chain(height.saturating_sub(3)..=height);
    let head = net.assert_history(max_head);
    net.assert_no_panics();
    gaps.sort_by(f64::total_cmp);
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    let worst = gaps.last().copied().unwrap_or(0.0);
    println!(
        "SUMMARY rounds={rounds} seed={seed} blocks={} median_block_s={median:.2} \
         max_stall_s={worst:.2} max_stall_before_height={worst_height} head_version={head} \
         agreed_height={height} trainer_restarts={} seconds={}",
        gaps.len(),
        net.trainer_restarts,
        started.elapsed().as_secs()
    );
}

/// Scenario 3, partition, with each validator in its own network namespace: split
/// 2–2 no node gets past the block in flight and, healed, the chain goes on
/// with one block per height on every node; split 3–1 the three go on, the
/// one does not, and healed it catches up.
#[test]
fn partition_halts_two_two_and_heals_three_one() {
    let _serial = serial();
    let rounds = env_u64("RELIABILITY_PARTITIONS", 1);
    let split_secs = env_u64("RELIABILITY_SPLIT_SECS", 6);
    let seed = env_u64("RELIABILITY_SEED", 3);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut net = Net::up();
    let first = net.max_height();
    for round in 0..rounds {
        // 2–2: node0 with a random partner.
        let partner = 1 + rng.below(3) as usize;
        let (a, b): (Vec<usize>, Vec<usize>) = (0..NODES).partition(|n| *n == 0 || *n == partner);
        let group = |g: &[usize]| {
            g.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        net.script_ok("partition.sh", &["split", &group(&a), &group(&b)]);
        let at_split = net.max_height();
        std::thread::sleep(Duration::from_secs(split_secs));
        for node in 0..NODES {
            let height = net.height(node).unwrap_or(0);
            assert!(
                height <= at_split + 1,
                "round {round}: node{node} at {height} during the 2-2 split made at {at_split}\n{}",
                net.logs()
            );
        }
        net.script_ok("partition.sh", &["heal"]);
        let healed_at = net.max_height();
        net.wait_until(
            &format!("round {round}: blocks after healing the 2-2 split"),
            Duration::from_secs(120),
            |net| (0..NODES).all(|n| net.height(n).unwrap_or(0) >= healed_at + 3),
        );

        // 3–1: a random one alone.
        let lone = rng.below(NODES as u64) as usize;
        let three: Vec<usize> = (0..NODES).filter(|n| *n != lone).collect();
        net.script_ok(
            "partition.sh",
            &["split", &group(&three), &lone.to_string()],
        );
        let at_split = net.max_height();
        net.wait_until(
            &format!("round {round}: five blocks of the three without node{lone}"),
            Duration::from_secs(120),
            |net| {
                three
                    .iter()
                    .all(|n| net.height(*n).unwrap_or(0) >= at_split + 5)
            },
        );
        let lone_height = net.height(lone).unwrap_or(0);
        assert!(
            lone_height <= at_split + 1,
            "round {round}: node{lone} alone went on to {lone_height} (split at {at_split})"
        );
        net.script_ok("partition.sh", &["heal"]);
        net.wait_caught_up(lone);
    }
    let height = net.agree();
    net.assert_one_chain(first.max(1)..=height);
    net.assert_no_panics();
    println!(
        "SUMMARY rounds={rounds} splits={} split_secs={split_secs} seed={seed} \
         agreed_height={height} heights_compared={} seconds={}",
        rounds * 2,
        height - first.max(1) + 1,
        started.elapsed().as_secs()
    );
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        fs::create_dir_all(path).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount runs");
        assert!(
            output.status.success(),
            "mounting a {size} tmpfs on {} (this test needs root): {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Self(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// umd started by the test, killed if the test ends early.
struct Umd(Child);

impl Drop for Umd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fills the file system of `dir` until a write fails for want of space.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).expect("filler created");
    let chunk = vec![0xa5u8; 4096];
    loop {
        match file.write_all(&chunk) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(err) => panic!("filling {}: {err}", dir.display()),
        }
    }
    let _ = file.sync_all();
    path
}

/// Scenario 8, disk trouble: umd's state (home/data/umd: sled and the wasm cache)
/// on a small tmpfs that is then filled. The next Commit cannot write:
/// umd says so and exits 2, its CometBFT goes with it, and the store holds
/// the last whole block (its app hash is the one the chain's next header
/// carries). With the space back, umd starts, CometBFT replays the lost
/// block, and the chain goes on.
#[test]
fn full_disk_stops_umd_cleanly_and_it_recovers() {
    let _serial = serial();
    let rounds = env_u64("RELIABILITY_DISK_ROUNDS", 1);
    let started = Instant::now();
    let node = support::TestNode::init();
    let data = node.home.join("data/umd");
    let _tmpfs = Tmpfs::mount(&data, "24m");
    let umd = |node: &support::TestNode| -> Umd {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.home.join("umd.log"))
            .unwrap();
        Umd(Command::new(umd_binary())
            .arg("start")
            .arg("--home")
            .arg(&node.home)
            .env_remove("UMD_CRASH_AT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("umd start runs"))
    };
    let mut child = umd(&node);
    // CometBFT's height counts a block once it is saved, before umd has
    // committed it; at height 4, umd has committed block 3 (CometBFT moves
    // on only after the app's Commit). Waiting for 3 let the disk fill
    // during block 3's Commit, once the Merkle tree made Commits longer.
    node.rpc
        .wait_for_height(4, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no blocks: {e}\n{}", node.logs()));

    let mut stopped_at = Vec::new();
    for round in 0..rounds {
        let filler = fill(&data);
        // Every block writes (at least the block info), so the next Commits fail.
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: umd still runs on a full disk\n{}",
                node.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let log = fs::read_to_string(node.home.join("umd.log")).unwrap();
        assert_eq!(
            status.code(),
            Some(2),
            "round {round}: umd should stop with exit code 2 ({status})\n{}",
            node.logs()
        );
        assert!(
            log.contains("cannot persist block") && log.contains("stopping"),
            "round {round}: no clear message\n{}",
            node.logs()
        );
        assert!(!log.contains("panicked at"), "{}", node.logs());
        // Its CometBFT follows (PR_SET_PDEATHSIG).
        let deadline = Instant::now() + Duration::from_secs(30);
        while node.rpc.status().is_ok() {
            assert!(Instant::now() < deadline, "CometBFT outlived its umd");
            std::thread::sleep(Duration::from_millis(100));
        }

        // Space comes back. The store holds whole blocks only: its height
        // and app hash are those of the last block it committed.
        fs::remove_file(&filler).unwrap();
        let stored = {
            let store = um_app::store::Store::open(&data.join("umd.db")).expect("store opens");
            store.last_commit().expect("last commit")
        };
        assert!(stored.height >= 3, "{stored:?}");
        stopped_at.push(stored.height);

        child = umd(&node);
        node.rpc
            .wait_for_height(stored.height + 3, Duration::from_secs(90))
            .unwrap_or_else(|e| {
                panic!(
                    "round {round}: no blocks after the restart: {e}\n{}",
                    node.logs()
                )
            });
        // The header of the next block carries the app hash the chain agreed
        // on for the stored height: what the store kept is that state.
        let agreed = node.rpc.block_app_hash(stored.height + 1).unwrap();
        assert_eq!(
            agreed,
            hex::encode_upper(&stored.app_hash),
            "round {round}: the store's app hash at {} is not the chain's",
            stored.height
        );
    }
    drop(child);
    let log = fs::read_to_string(node.home.join("umd.log")).unwrap();
    println!(
        "SUMMARY rounds={rounds} stopped_at_heights={stopped_at:?} exits_with_message={} seconds={}",
        log.matches("; stopping").count(),
        started.elapsed().as_secs()
    );
}

/// Found by scenario 8: a wasm VM cache that cannot be written (its disk
/// full) made MsgStoreCode fail with an internal error on that node alone,
/// so its state left the other nodes'. Now umd stops without committing
/// the block, and once the cache can be written the replayed block stores
/// the code as on every other node.
#[test]
fn full_wasm_cache_stops_umd_instead_of_failing_the_tx() {
    let _serial = serial();
    let node = support::TestNode::init();
    let data = node.home.join("data/umd");
    fs::create_dir_all(&data).unwrap();
    // Only the VM cache is short of space; the store has plenty.
    let cache = Tmpfs::mount(&data.join("wasm-cache"), "64k");
    let start = || -> Umd {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.home.join("umd.log"))
            .unwrap();
        Umd(Command::new(umd_binary())
            .arg("start")
            .arg("--home")
            .arg(&node.home)
            .env_remove("UMD_CRASH_AT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("umd start runs"))
    };
    let mut umd = start();
    node.rpc
        .wait_for_height(2, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no blocks: {e}\n{}", node.logs()));
    let alice = node.new_key("alice");
    let msg = cosmos_sdk_proto::cosmwasm::wasm::v1::MsgStoreCode {
        sender: alice.address.clone(),
        wasm_byte_code: support::gzip(&support::artifact("nrn_token.wasm")),
        instantiate_permission: None,
    };
    let tx = node.sign(&alice, vec![um_client::msgs::any(&msg)], 50_000_000);
    let hash = um_client::rpc::tx_hash(&tx);
    let sent = node.rpc.broadcast_sync(&tx).expect("broadcast");
    assert_eq!(sent.code, 0, "CheckTx: {}", sent.log);

    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = umd.0.try_wait().unwrap() {
            break status;
        }
        if let Ok(result) = node.rpc.tx(&hash) {
            assert!(
                result.is_none(),
                "the tx was decided on a node that cannot write its VM cache: {result:?}"
            );
        }
        assert!(
            Instant::now() < deadline,
            "umd runs on with a VM cache it cannot write\n{}",
            node.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(2), "{status}\n{}", node.logs());
    let log = fs::read_to_string(node.home.join("umd.log")).unwrap();
    assert!(
        log.contains("cannot store wasm code") && log.contains("stopping"),
        "{}",
        node.logs()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.rpc.status().is_ok() {
        assert!(Instant::now() < deadline, "CometBFT outlived its umd");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Space again: the block is replayed and the code stored.
    drop(cache);
    let _umd = start();
    // wait_for_height retries while the node starts; wait_for_tx does not.
    node.rpc
        .wait_for_height(4, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no blocks after the restart: {e}\n{}", node.logs()));
    let result = node
        .rpc
        .wait_for_tx(&hash, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("the store tx after the restart: {e}\n{}", node.logs()));
    assert_eq!(result.code, 0, "{}", result.log);
    assert_eq!(result.event_value("store_code", "code_id"), Some("1"));
}
