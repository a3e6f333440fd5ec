use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::config_edit;
use super::init::cometbft_binary;
use crate::app::{App, Node};

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    pub home: super::HomeArgs,
    /// The CometBFT v0.38 binary.
    #[arg(long, env = "UMD_COMETBFT")]
    pub cometbft: Option<PathBuf>,
    /// Serve ABCI only; CometBFT is started by someone else.
    #[arg(long)]
    pub abci_only: bool,
    /// This validator's `um-trainer serve` (e.g. http://127.0.0.1:9091),
    /// which re-checks submitted updates; without one the validator
    /// abstains from every verdict.
    #[arg(long, env = "UMD_VERIFIER")]
    pub verifier: Option<String>,
    /// The `um-trainer serve` that predictions over REST/gRPC are forwarded
    /// to (`POST /um/training/v1/models/{id}/predict`); default: the
    /// verifier. "off" answers them 503 even with a verifier.
    #[arg(long, env = "UMD_PREDICTOR")]
    pub predictor: Option<String>,
    /// gRPC server (cosmos.tx/auth, cosmwasm and um.* queries, reflection):
    /// host:port, or "off".
    #[arg(long, env = "UMD_GRPC_ADDRESS", default_value = "127.0.0.1:9090")]
    pub grpc_address: String,
    /// REST gateway (Cosmos-style routes, /openapi.json, /metrics, the
    /// dashboard): host:port, or "off".
    #[arg(long, env = "UMD_API_ADDRESS", default_value = "127.0.0.1:1317")]
    pub api_address: String,
    /// This node's floor on gas prices for its mempool (the SDK's
    /// `minimum-gas-prices`), e.g. `0.05unrn`; blocks are still judged by
    /// the chain's `min_gas_price` alone.
    #[arg(long, env = "UMD_MINIMUM_GAS_PRICES")]
    pub minimum_gas_prices: Option<um_client::fees::GasPrice>,
    /// Take a state-sync snapshot after every block whose height is a
    /// multiple of this (0: none), into <home>/data/snapshots; new nodes
    /// join from it with CometBFT's `[statesync]`.
    #[arg(long, env = "UMD_SNAPSHOT_INTERVAL", default_value_t = 0)]
    pub snapshot_interval: u64,
    /// Merkle tree versions kept for proofs at past heights: the last this
    /// many (the Cosmos SDK's default); 0 keeps every version (an archive
    /// node). The state and the model history are never pruned.
    #[arg(long, env = "UMD_PRUNING_KEEP_RECENT", default_value_t = crate::app::DEFAULT_PRUNING_KEEP_RECENT)]
    pub pruning_keep_recent: u64,
    /// Snapshots kept on disk (older ones are deleted).
    #[arg(long, env = "UMD_SNAPSHOT_KEEP_RECENT", default_value_t = 2)]
    pub snapshot_keep_recent: usize,
    /// Test hook of the reliability scenarios: misbehave as a byzantine
    /// validator (comma-separated modes of `app::byzantine`). Only in
    /// binaries built with the `test-hooks` feature (`make test`).
    #[cfg(feature = "test-hooks")]
    #[arg(long, env = "UMD_BYZANTINE", hide = true)]
    pub byzantine: Option<String>,
}

pub fn run(args: StartArgs) -> anyhow::Result<()> {
    let home = args.home.path();
    let config = fs::read_to_string(home.join("config/config.toml"))
        .with_context(|| format!("no node in {} (run `umd init` first)", home.display()))?;
    let proxy = config_edit::get(&config, "", "proxy_app")
        .unwrap_or_else(|| "tcp://127.0.0.1:26658".to_string());
    let Some(abci_addr) = proxy.strip_prefix("tcp://") else {
        bail!("proxy_app {proxy:?} must be a tcp:// address");
    };

    let data = home.join("data/umd");
    fs::create_dir_all(&data)?;
    let mut node =
        Node::open(&data).with_context(|| format!("opening state in {}", data.display()))?;
    if let Some(endpoint) = &args.verifier {
        let mut verifier = crate::node::verifier::Verifier::start(endpoint)
            .context("starting the verifier worker")?;
        // The consensus address draws this validator's own sample of each
        // contribution's segments; a node without a key (a full node)
        // samples with none.
        if let Ok(key) = super::consensus_key::node_signing_key(&home) {
            verifier = verifier.with_identity(crate::gov::validators::consensus_address(
                key.verification_key().as_bytes(),
            ));
        }
        node = node.with_verifier(std::sync::Arc::new(verifier));
        println!("umd: verifying updates with {endpoint}");
    }
    node = node.with_pruning(args.pruning_keep_recent);
    if let Some(price) = args.minimum_gas_prices {
        let decimal = cosmwasm_std::Decimal::from_str(price.to_string().trim_end_matches("unrn"))
            .map_err(|e| anyhow::anyhow!("--minimum-gas-prices {price}: {e}"))?;
        node = node.with_min_gas_price(decimal);
        println!("umd: mempool admits gas prices of at least {price}");
    }
    #[cfg(feature = "test-hooks")]
    if let Some(modes) = &args.byzantine {
        let modes = modes
            .parse::<crate::app::byzantine::Byzantine>()
            .map_err(anyhow::Error::msg)?;
        node = node.with_byzantine(modes);
        println!("umd: BYZANTINE TEST MODE {modes:?}");
    }
    let api = crate::api::ApiConfig {
        grpc: crate::api::parse_address(&args.grpc_address)
            .map_err(|e| anyhow::anyhow!("--grpc-address: {e}"))?,
        rest: crate::api::parse_address(&args.api_address)
            .map_err(|e| anyhow::anyhow!("--api-address: {e}"))?,
        rpc_url: rpc_url(&config),
        predictor: match args.predictor.as_deref().map(str::trim) {
            Some(off) if off.is_empty() || off.eq_ignore_ascii_case("off") => None,
            Some(endpoint) => Some(endpoint.to_string()),
            None => args.verifier.clone(),
        },
    };
    let app = App::new(node).with_snapshots(crate::app::snapshots::Snapshots::new(
        Some(home.join("data/snapshots")),
        crate::app::snapshots::SnapshotConfig {
            interval: args.snapshot_interval,
            keep_recent: args.snapshot_keep_recent,
        },
    ));
    let server = tendermint_abci::ServerBuilder::default()
        .bind(abci_addr, app.clone())
        .with_context(|| format!("binding ABCI on {abci_addr}"))?;
    start_api(&api, app)?;
    println!(
        "umd: ABCI listening on {abci_addr}, state in {}",
        data.display()
    );
    std::thread::spawn(move || {
        if let Err(err) = server.listen() {
            eprintln!("umd: ABCI server stopped: {err}");
            std::process::exit(3);
        }
    });

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;

    let mut cometbft = if args.abci_only {
        None
    } else {
        wait_for_previous_cometbft(&home);
        Some(spawn_cometbft(&home, args.cometbft.as_deref())?)
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(child) = cometbft.as_mut() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "CometBFT exited ({status}); see {}",
                    home.join("cometbft.log").display()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if let Some(child) = cometbft.as_mut() {
        stop_child(child);
        let _ = fs::remove_file(home.join(COMETBFT_PID_FILE));
    }
    println!("umd: stopped");
    Ok(())
}

/// The local CometBFT RPC as an http:// URL, from `[rpc] laddr`.
fn rpc_url(config: &str) -> String {
    let laddr = config_edit::get(config, "rpc", "laddr")
        .unwrap_or_else(|| "tcp://127.0.0.1:26657".to_string());
    let host_port = laddr.strip_prefix("tcp://").unwrap_or(&laddr);
    // A wildcard listen address is reached on loopback.
    let host_port = host_port.replace("0.0.0.0", "127.0.0.1");
    format!("http://{host_port}")
}

/// Starts gRPC and REST. A port already in use is reported, not fatal:
/// they serve clients, not consensus, and several nodes on one machine
/// (tests, localnets) would otherwise all need distinct flags.
fn start_api(config: &crate::api::ApiConfig, app: App) -> anyhow::Result<()> {
    let started = crate::api::start(config, app).context("starting gRPC/REST")?;
    for (what, result) in [("gRPC", started.grpc), ("REST", started.rest)] {
        match result {
            Ok(Some(addr)) => println!("umd: {what} listening on {addr}"),
            Ok(None) => println!("umd: {what} off"),
            Err(err) => eprintln!("umd: WARNING: {what} not served: {err}"),
        }
    }
    match &config.predictor {
        Some(endpoint) => println!("umd: predictions forwarded to {endpoint}"),
        None => println!("umd: no predictor: predictions answer 503"),
    }
    Ok(())
}

/// Where `umd start` records the CometBFT it spawned.
const COMETBFT_PID_FILE: &str = "cometbft.pid";

/// How long the CometBFT of a dead umd gets to finish its SIGTERM shutdown
/// before it is killed.
const PREVIOUS_COMETBFT_GRACE: Duration = Duration::from_secs(10);

/// After umd dies hard, its CometBFT gets SIGTERM (PR_SET_PDEATHSIG) but may
/// still be closing its databases; a new CometBFT started then fails on the
/// database lock. So wait, bounded, for the one umd started last time. Its
/// shutdown can also hang for good with its app gone (seen in CI: still
/// running two minutes on), so after the grace it gets SIGKILL: CometBFT's
/// stores and WAL are made to survive that, as they survive a power cut.
fn wait_for_previous_cometbft(home: &std::path::Path) {
    let Ok(text) = fs::read_to_string(home.join(COMETBFT_PID_FILE)) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    if !is_live_cometbft(pid) {
        return;
    }
    println!("umd: waiting for the previous CometBFT (pid {pid}) to exit");
    if wait_until_gone(pid, PREVIOUS_COMETBFT_GRACE) {
        return;
    }
    eprintln!(
        "umd: the previous CometBFT (pid {pid}) is still running after {} s; killing it",
        PREVIOUS_COMETBFT_GRACE.as_secs()
    );
    if let Ok(raw_pid) = libc::pid_t::try_from(pid) {
        // The pid was just checked to be a live process named cometbft, the
        // one this home's pid file names.
        unsafe {
            libc::kill(raw_pid, libc::SIGKILL);
        }
    }
    if !wait_until_gone(pid, Duration::from_secs(10)) {
        eprintln!("umd: WARNING: the previous CometBFT (pid {pid}) survived SIGKILL");
    }
}

/// Polls until `pid` is no live CometBFT; false if it still is at `limit`.
fn wait_until_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while is_live_cometbft(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// A running (not zombie) process named cometbft; a pid reused by anything
/// else does not count.
fn is_live_cometbft(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // stat is "pid (comm) state ...": comm may hold spaces, so split at ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return false;
    };
    let named_cometbft = head.contains("(cometbft");
    let state = tail.trim_start().chars().next();
    named_cometbft && !matches!(state, Some('Z') | Some('X') | None)
}

fn spawn_cometbft(
    home: &std::path::Path,
    explicit: Option<&std::path::Path>,
) -> anyhow::Result<Child> {
    let binary = cometbft_binary(explicit);
    let log_path = home.join("cometbft.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let mut command = Command::new(&binary);
    command
        .args(["start", "--home"])
        .arg(home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // If umd dies (even by SIGKILL) its CometBFT goes too, so a restart
        // never finds the old one holding the ports and the block store.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    let child = command.spawn().with_context(|| {
        format!(
            "starting {} (is CometBFT installed? `make setup`)",
            binary.display()
        )
    })?;
    fs::write(home.join(COMETBFT_PID_FILE), child.id().to_string())
        .context("recording CometBFT's pid")?;
    println!(
        "umd: CometBFT started (pid {}), log in {}",
        child.id(),
        log_path.display()
    );
    Ok(child)
}

/// SIGTERM first so CometBFT closes its databases, SIGKILL if it hangs.
fn stop_child(child: &mut Child) {
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fake CometBFT is a symlink, not a copy: a copy is a file this
    /// process wrote, and a test in another thread that forks while the
    /// copy's write descriptor is open makes exec fail with ETXTBSY (CI saw
    /// it). The kernel names a process after the path it was started by, so
    /// the link still runs as "cometbft".
    #[test]
    fn only_a_running_process_named_cometbft_counts() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("cometbft");
        std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
        let mut child = Command::new(&fake).arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(is_live_cometbft(pid));
        assert!(
            !is_live_cometbft(std::process::id()),
            "this test is not cometbft"
        );
        child.kill().unwrap();
        // Killed but not yet reaped: a zombie holds no database lock.
        std::thread::sleep(Duration::from_millis(200));
        assert!(!is_live_cometbft(pid));
        child.wait().unwrap();
        assert!(!is_live_cometbft(pid), "gone");

        // A pid file naming something else is not waited for.
        fs::write(
            dir.path().join(COMETBFT_PID_FILE),
            std::process::id().to_string(),
        )
        .unwrap();
        let started = Instant::now();
        wait_for_previous_cometbft(dir.path());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// CI saw a dead umd's CometBFT hang in its SIGTERM shutdown and the
    /// restarted node fail on its database lock: one that will not go is
    /// killed after the grace.
    #[test]
    fn a_previous_cometbft_that_will_not_exit_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("cometbft");
        std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
        let mut child = Command::new(&fake).arg("300").spawn().unwrap();
        fs::write(dir.path().join(COMETBFT_PID_FILE), child.id().to_string()).unwrap();

        let started = Instant::now();
        wait_for_previous_cometbft(dir.path());
        assert!(!is_live_cometbft(child.id()));
        assert!(started.elapsed() >= PREVIOUS_COMETBFT_GRACE);
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }
}
