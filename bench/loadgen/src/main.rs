//! um-loadgen: the load generator of `make bench` (issue 7, item 1).
//!
//! Drives a loopback network with txs from a few senders, each with a
//! bounded number of txs in flight, and watches the blocks of the first
//! node to time every tx from its broadcast to the block that commits it.
//! Two modes, the same generator and the same measurement for both:
//!
//! * `chain`: signed cw20 NRN transfers (`MsgExecuteContract` to the token
//!   of the governance registry) to a umd network;
//! * `kvstore`: `key=value` txs to CometBFT's built-in kvstore app.
//!
//! Bounded in count (`--txs`) and in time (`--duration`, then at most
//! `--drain` seconds waiting for what is still in flight); refuses any node
//! that is not on loopback. Prints one JSON line with the results.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::{Parser, ValueEnum};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{SimulateRequest, SimulateResponse};
use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use um_client::keys::{Key, Keyring};
use um_client::rpc::RpcClient;
use um_client::tx_builder::{self, SignerData, TxOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Chain,
    Kvstore,
}

#[derive(Parser, Debug)]
#[command(
    name = "um-loadgen",
    about = "Loopback load generator: committed tx/s and latency"
)]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// CometBFT RPC of a node (repeat for several); sender i broadcasts to
    /// node i mod N, blocks are read from the first.
    #[arg(long = "node", required = true)]
    nodes: Vec<String>,
    /// chain mode: a sender as KEYRING_DIR:KEY_NAME (repeat); it must hold NRN.
    #[arg(long = "sender")]
    senders: Vec<String>,
    /// kvstore mode: number of senders.
    #[arg(long, default_value_t = 4)]
    kv_senders: usize,
    /// Most txs to send in all.
    #[arg(long, default_value_t = 20_000)]
    txs: u64,
    /// Most seconds of sending.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Most seconds to wait after sending for in-flight txs to commit.
    #[arg(long, default_value_t = 30.0)]
    drain: f64,
    /// Most txs of one sender broadcast and not yet seen in a block.
    #[arg(long, default_value_t = 200)]
    window: usize,
    /// chain mode: gas limit of each transfer, or `auto`: what a wallet
    /// sets (CosmJS's fee "auto"): one transfer simulated per sender, times
    /// 1.4. The block's contract-gas budget counts limits, not use, so an
    /// inflated limit lowers throughput.
    #[arg(long, default_value = "auto")]
    gas: GasLimit,
    /// chain mode: unrn per gas each transfer pays (`0unrn` on a chain
    /// whose `min_gas_price` is zero: the feeless comparison).
    #[arg(long, default_value = um_client::fees::DEFAULT_GAS_PRICE)]
    gas_price: um_client::fees::GasPrice,
    /// `sync` waits for each tx's CheckTx answer before the next one
    /// (`broadcast_tx_sync`, what a wallet does); `async` only hands it to
    /// the mempool (`broadcast_tx_async`), so one sender keeps many CheckTx
    /// requests in flight. A `sync` sender waits a round trip through
    /// CometBFT's socket client to the out-of-process app per tx (~75 tx/s
    /// per sender measured on 2026-12-05, whatever the app's speed). `async`
    /// refusals by the app are not seen at broadcast: a sender with a tx in
    /// flight for 4 s and none of its txs committed for as long counts those
    /// in flight as refused and starts again from the chain's sequence.
    #[arg(long, value_enum, default_value_t = Broadcast::Sync)]
    broadcast: Broadcast,
    /// Offered load in tx/s over all senders (0: as fast as the window
    /// allows). Below capacity, latency is the chain's, not queueing.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Broadcast {
    Sync,
    Async,
}

#[derive(Clone, Copy, Debug)]
enum GasLimit {
    Auto,
    Fixed(u64),
}

impl std::str::FromStr for GasLimit {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        if value == "auto" {
            return Ok(GasLimit::Auto);
        }
        value
            .parse()
            .map(GasLimit::Fixed)
            .map_err(|_| format!("{value:?}: expected a gas amount or `auto`"))
    }
}

/// CosmJS's default multiplier of the simulated gas for fee "auto".
const AUTO_GAS_ADJUSTMENT: f64 = 1.4;

/// umd answers a simulation as an ABCI query on the gRPC method's path.
const SIMULATE_PATH: &str = "/cosmos.tx.v1beta1.Service/Simulate";

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(result) => println!("{result}"),
        Err(err) => {
            eprintln!("um-loadgen: {err:#}");
            std::process::exit(1);
        }
    }
}

/// Only loopback: a benchmark must not load anything beyond this machine.
fn check_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("--node {url:?}: expected http://HOST:PORT"))?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    if !loopback {
        bail!("--node {url:?}: only loopback addresses are allowed");
    }
    Ok(())
}

/// What a sender thread needs to make its next tx.
enum TxSource {
    Chain {
        key: Key,
        signer: SignerData,
        token: String,
        recipient: String,
        gas: u64,
        gas_price: um_client::fees::GasPrice,
    },
    Kv {
        sender: usize,
        next: u64,
        /// Distinguishes runs, so a repeated run does not resend txs the
        /// mempool cache of the last one still knows.
        run: u64,
    },
}

impl TxSource {
    fn next_tx(&mut self) -> anyhow::Result<Vec<u8>> {
        match self {
            TxSource::Chain {
                key,
                signer,
                token,
                recipient,
                gas,
                gas_price,
            } => {
                let msg = MsgExecuteContract {
                    sender: key.address.clone(),
                    contract: token.clone(),
                    msg: json!({"transfer": {"recipient": recipient, "amount": "1"}})
                        .to_string()
                        .into_bytes(),
                    funds: Vec::new(),
                };
                let any = um_client::msgs::any(&msg);
                let options = TxOptions {
                    gas_limit: *gas,
                    gas_price: *gas_price,
                    ..TxOptions::default()
                };
                let tx = tx_builder::sign_tx(key, vec![any], signer, &options)?;
                signer.sequence += 1;
                Ok(tx)
            }
            TxSource::Kv { sender, next, run } => {
                let tx = format!("lg{run}s{sender}n{next}={next}").into_bytes();
                *next += 1;
                Ok(tx)
            }
        }
    }

    /// A sender without an account signs its first tx with account number
    /// 0 and every later one with the number that tx gets: so that first tx
    /// goes in (and is waited for) before the measurement.
    fn create_account(&mut self, rpc: &RpcClient) -> anyhow::Result<()> {
        let TxSource::Chain { key, .. } = self else {
            return Ok(());
        };
        if tx_builder::query_account(rpc, &key.address)?.is_some() {
            return Ok(());
        }
        let tx = self.next_tx()?;
        let result = rpc.broadcast_and_wait(&tx, Duration::from_secs(60))?;
        if result.code != 0 {
            bail!(
                "creating the sender's account: code {}: {}",
                result.code,
                result.log
            );
        }
        // The next block's CheckTx state has it; sign from the chain's numbers.
        rpc.wait_for_height(result.height + 1, Duration::from_secs(60))?;
        self.resync(rpc)
    }

    /// `--gas auto`: simulates the next transfer (not sent) and sets the
    /// gas limit of every transfer to its gas used times the adjustment.
    fn estimate_gas(&mut self, rpc: &RpcClient) -> anyhow::Result<()> {
        let tx_bytes = self.next_tx()?;
        let TxSource::Chain { signer, gas, .. } = self else {
            return Ok(());
        };
        // Simulated, never broadcast: the next transfer reuses its sequence.
        signer.sequence -= 1;
        #[allow(deprecated)]
        let request = SimulateRequest {
            tx_bytes,
            ..SimulateRequest::default()
        };
        let reply: SimulateResponse = rpc
            .query_proto(SIMULATE_PATH, &request)
            .context("simulating a transfer (--gas auto)")?;
        let used = reply
            .gas_info
            .context("the simulation reports no gas")?
            .gas_used;
        *gas = (used as f64 * AUTO_GAS_ADJUSTMENT).ceil() as u64;
        Ok(())
    }

    /// After a refused tx: the chain's sequence, once nothing is in flight.
    fn resync(&mut self, rpc: &RpcClient) -> anyhow::Result<()> {
        if let TxSource::Chain { key, signer, .. } = self {
            *signer = tx_builder::signer_data(rpc, &signer.chain_id, &key.address)?;
        }
        Ok(())
    }
}

struct Sent {
    at: Instant,
    sender: usize,
}

/// Whether sender `i` has a tx in flight for longer than [`ASYNC_STALL`]
/// and none of its txs committed for as long (looked at no more than every
/// 250 ms per sender). A tx refused at CheckTx stops every later sequence
/// of its sender, so its commits stop; a chain that is merely slow (a long
/// queue of txs in flight) still commits some of them, and is not stalled.
fn stalled(shared: &Shared, i: usize) -> bool {
    let now = shared.now_ms();
    let last_look = shared.progress_ms[i].load(Ordering::Acquire);
    if shared.in_flight[i].load(Ordering::Acquire) == 0 || now < last_look + 250 {
        return false;
    }
    shared.progress_ms[i].store(now, Ordering::Release);
    let last_commit = shared.committed_ms[i].load(Ordering::Acquire);
    if last_commit > 0 && now.saturating_sub(last_commit) < ASYNC_STALL.as_millis() as u64 {
        return false;
    }
    let oldest = lock(&shared.pending)
        .values()
        .filter(|sent| sent.sender == i)
        .map(|sent| sent.at)
        .min();
    oldest.is_some_and(|at| at.elapsed() > ASYNC_STALL)
}

/// Drops sender `i`'s txs in flight from the books; how many there were.
fn forget_in_flight(shared: &Shared, i: usize) -> u64 {
    let mut pending = lock(&shared.pending);
    let before = pending.len();
    pending.retain(|_, sent| sent.sender != i);
    let lost = before - pending.len();
    shared.in_flight[i].store(0, Ordering::Release);
    lost as u64
}

#[derive(Default)]
struct Totals {
    latencies: Vec<Duration>,
    committed_ok: u64,
    committed_failed: u64,
    failed_logs: HashMap<String, u64>,
    first_commit: Option<Instant>,
    last_commit: Option<Instant>,
    blocks: u64,
    max_block_txs: u64,
    /// When the watcher saw each block's results.
    block_seen: Vec<Instant>,
}

struct Shared {
    pending: Mutex<HashMap<String, Sent>>,
    in_flight: Vec<AtomicUsize>,
    totals: Mutex<Totals>,
    sent: AtomicU64,
    refused: AtomicU64,
    stop_sending: AtomicBool,
    stop_watching: AtomicBool,
    refused_logs: Mutex<HashMap<String, u64>>,
    /// Per sender: when it last looked for stalled txs, in ms since
    /// `epoch`.
    progress_ms: Vec<AtomicU64>,
    /// Per sender: when the watcher last saw one of its txs committed, in
    /// ms since `epoch` (0: none yet).
    committed_ms: Vec<AtomicU64>,
    epoch: Instant,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// An `async` sender with a tx in flight for this long takes its txs in
/// flight as refused at CheckTx (a full mempool, say, which
/// `broadcast_tx_async` does not report; its later sequences then fail
/// too) and starts again from the chain's sequence.
const ASYNC_STALL: Duration = Duration::from_secs(4);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(args: &Args) -> anyhow::Result<Value> {
    for node in &args.nodes {
        check_loopback(node)?;
    }
    let rpcs: Vec<RpcClient> = args.nodes.iter().map(|u| RpcClient::new(u)).collect();
    let chain_id = rpcs[0].chain_id().context("reading the chain id")?;
    let start_height = rpcs[0].latest_height()?;
    let run_id = start_height;

    let mut sources = Vec::new();
    match args.mode {
        Mode::Chain => {
            if args.senders.is_empty() {
                bail!("chain mode needs at least one --sender KEYRING_DIR:KEY_NAME");
            }
            let registry = rpcs[0]
                .query_ok("custom/gov/registry", &[])
                .context("reading the governance registry (the NRN token)")?;
            let registry: Value = serde_json::from_slice(&registry)?;
            let token = registry["token"]
                .as_str()
                .context("the registry names no token")?
                .to_string();
            let mut keys = Vec::new();
            for sender in &args.senders {
                let (dir, name) = sender.rsplit_once(':').with_context(|| {
                    format!("--sender {sender:?}: expected KEYRING_DIR:KEY_NAME")
                })?;
                keys.push(Keyring::new(&PathBuf::from(dir)).get(name)?);
            }
            let addresses: Vec<String> = keys.iter().map(|k| k.address.clone()).collect();
            for (i, key) in keys.into_iter().enumerate() {
                let rpc = &rpcs[i % rpcs.len()];
                let mut source = TxSource::Chain {
                    signer: tx_builder::signer_data(rpc, &chain_id, &key.address)?,
                    key,
                    token: token.clone(),
                    // Round robin among the senders: balances stay put.
                    recipient: addresses[(i + 1) % addresses.len()].clone(),
                    gas: match args.gas {
                        GasLimit::Fixed(gas) => gas,
                        // Until simulated: enough for the account's first transfer.
                        GasLimit::Auto => 400_000,
                    },
                    gas_price: args.gas_price,
                };
                source.create_account(rpc)?;
                if matches!(args.gas, GasLimit::Auto) {
                    source.estimate_gas(rpc)?;
                }
                sources.push(source);
            }
        }
        Mode::Kvstore => {
            if args.kv_senders == 0 {
                bail!("--kv-senders must be at least 1");
            }
            for sender in 0..args.kv_senders {
                sources.push(TxSource::Kv {
                    sender,
                    next: 0,
                    run: run_id,
                });
            }
        }
    }

    let gas_limits: Vec<u64> = sources
        .iter()
        .filter_map(|source| match source {
            TxSource::Chain { gas, .. } => Some(*gas),
            TxSource::Kv { .. } => None,
        })
        .collect();

    let shared = Arc::new(Shared {
        pending: Mutex::new(HashMap::new()),
        in_flight: (0..sources.len()).map(|_| AtomicUsize::new(0)).collect(),
        totals: Mutex::new(Totals::default()),
        sent: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        stop_sending: AtomicBool::new(false),
        stop_watching: AtomicBool::new(false),
        refused_logs: Mutex::new(HashMap::new()),
        progress_ms: (0..sources.len()).map(|_| AtomicU64::new(0)).collect(),
        committed_ms: (0..sources.len()).map(|_| AtomicU64::new(0)).collect(),
        epoch: Instant::now(),
    });

    let watcher = {
        let shared = shared.clone();
        let rpc = rpcs[0].clone();
        std::thread::spawn(move || watch(&rpc, start_height + 1, &shared))
    };

    let started = Instant::now();
    for progress in &shared.progress_ms {
        progress.store(shared.now_ms(), Ordering::Release);
    }
    let send_for = Duration::from_secs_f64(args.duration.max(0.0));
    let mut senders = Vec::new();
    for (i, mut source) in sources.into_iter().enumerate() {
        let shared = shared.clone();
        let rpc = rpcs[i % rpcs.len()].clone();
        let (max_txs, window) = (args.txs, args.window.max(1));
        let broadcast = args.broadcast;
        // Each sender's share of the offered load: its k-th tx leaves at k / rate.
        let interval = (args.rate > 0.0)
            .then(|| Duration::from_secs_f64(shared.in_flight.len() as f64 / args.rate));
        senders.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut next_at = started;
            loop {
                if started.elapsed() >= send_for || shared.stop_sending.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if interval.is_some() {
                    let now = Instant::now();
                    if now < next_at {
                        std::thread::sleep((next_at - now).min(Duration::from_millis(50)));
                        continue;
                    }
                }
                if broadcast == Broadcast::Async && stalled(&shared, i) {
                    let lost = forget_in_flight(&shared, i);
                    shared.sent.fetch_sub(lost, Ordering::AcqRel);
                    shared.refused.fetch_add(lost, Ordering::Relaxed);
                    *lock(&shared.refused_logs)
                        .entry(format!(
                            "async: not committed within {} s (refused at CheckTx)",
                            ASYNC_STALL.as_secs()
                        ))
                        .or_default() += lost;
                    std::thread::sleep(Duration::from_millis(500));
                    source.resync(&rpc)?;
                    continue;
                }
                if shared.in_flight[i].load(Ordering::Acquire) >= window {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                // Claim one of the --txs before making it.
                if shared.sent.fetch_add(1, Ordering::AcqRel) >= max_txs {
                    shared.sent.fetch_sub(1, Ordering::AcqRel);
                    return Ok(());
                }
                if let Some(interval) = interval {
                    next_at += interval;
                }
                let tx = source.next_tx()?;
                let hash = hex::encode_upper(Sha256::digest(&tx));
                shared.in_flight[i].fetch_add(1, Ordering::AcqRel);
                lock(&shared.pending).insert(
                    hash.clone(),
                    Sent {
                        at: Instant::now(),
                        sender: i,
                    },
                );
                let refused = match broadcast {
                    Broadcast::Sync => match rpc.broadcast_sync(&tx) {
                        Ok(result) if result.code == 0 => None,
                        Ok(result) => Some(format!("code {}: {}", result.code, result.log)),
                        Err(err) => Some(err.to_string()),
                    },
                    Broadcast::Async => rpc.broadcast_async(&tx).err().map(|e| e.to_string()),
                };
                if let Some(why) = refused {
                    if lock(&shared.pending).remove(&hash).is_some() {
                        shared.in_flight[i].fetch_sub(1, Ordering::AcqRel);
                    }
                    shared.sent.fetch_sub(1, Ordering::AcqRel);
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                    let why: String = why.chars().take(120).collect();
                    *lock(&shared.refused_logs).entry(why).or_default() += 1;
                    // Later sequences would all be refused: wait until what
                    // is in flight is in, then sign from the chain's sequence.
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while shared.in_flight[i].load(Ordering::Acquire) > 0
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    source.resync(&rpc)?;
                }
            }
        }));
    }
    let mut sender_errors = Vec::new();
    for sender in senders {
        match sender.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => sender_errors.push(format!("{err:#}")),
            Err(_) => sender_errors.push("a sender thread panicked".into()),
        }
    }
    let sending_secs = started.elapsed().as_secs_f64();
    let drain_until = Instant::now() + Duration::from_secs_f64(args.drain.max(0.0));
    while !lock(&shared.pending).is_empty() && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stop_watching.store(true, Ordering::Release);
    let watch_error = match watcher.join() {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(format!("{err:#}")),
        Err(_) => Some("the block watcher panicked".into()),
    };

    let totals = lock(&shared.totals);
    let mut latencies: Vec<f64> = totals
        .latencies
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> Value {
        if latencies.is_empty() {
            return Value::Null;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        json!(latencies[rank.clamp(1, latencies.len()) - 1])
    };
    let committed = totals.committed_ok + totals.committed_failed;
    // From the first broadcast to the block that committed the last tx.
    let span = totals
        .last_commit
        .map(|t| t.duration_since(started).as_secs_f64())
        .unwrap_or(0.0);
    let tps = if span > 0.0 {
        totals.committed_ok as f64 / span
    } else {
        0.0
    };
    let mut intervals: Vec<f64> = totals
        .block_seen
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_secs_f64() * 1000.0)
        .collect();
    intervals.sort_by(f64::total_cmp);
    let interval_p50 = intervals.get(intervals.len() / 2).copied();
    Ok(json!({
        "mode": match args.mode { Mode::Chain => "chain", Mode::Kvstore => "kvstore" },
        "nodes": args.nodes.len(),
        "senders": shared.in_flight.len(),
        "window": args.window,
        "broadcast": match args.broadcast { Broadcast::Sync => "sync", Broadcast::Async => "async" },
        "offered_tx_per_s": args.rate,
        "gas_limit": gas_limits,
        "sent": shared.sent.load(Ordering::Acquire),
        "refused_at_broadcast": shared.refused.load(Ordering::Acquire),
        "refused_logs": *lock(&shared.refused_logs),
        "committed_ok": totals.committed_ok,
        "committed_failed": totals.committed_failed,
        "failed_logs": totals.failed_logs,
        "not_committed": lock(&shared.pending).len(),
        "sending_secs": sending_secs,
        "span_secs": span,
        "committed_tx_per_s": tps,
        "latency_ms": {"p50": pct(50.0), "p99": pct(99.0), "max": pct(100.0), "n": latencies.len()},
        "blocks": totals.blocks,
        // Between consecutive blocks as the watcher saw their results.
        "block_interval_ms": {"p50": interval_p50, "max": intervals.last()},
        "max_block_txs": totals.max_block_txs,
        "committed_total": committed,
        "errors": sender_errors.into_iter().chain(watch_error).collect::<Vec<_>>(),
    }))
}

/// Reads every block from `height` on as soon as it exists and times the
/// txs of this run in it, with their result codes.
fn watch(rpc: &RpcClient, mut height: u64, shared: &Shared) -> anyhow::Result<()> {
    loop {
        if shared.stop_watching.load(Ordering::Acquire) {
            return Ok(());
        }
        let block = match rpc.call("block", json!({"height": height.to_string()})) {
            Ok(block) => block,
            // Not there yet (CometBFT answers "height N must be less than or
            // equal to the current blockchain height").
            Err(um_client::ClientError::RpcError { .. }) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let txs: Vec<Vec<u8>> = block["block"]["data"]["txs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().and_then(|s| B64.decode(s).ok()))
            .collect();
        let codes: Vec<(u32, String)> = if !txs.is_empty() {
            // The block is stored before the app has executed it: its
            // results come a moment later.
            let mut tries = 0;
            let results = loop {
                match rpc.call("block_results", json!({"height": height.to_string()})) {
                    Ok(results) => break results,
                    Err(um_client::ClientError::RpcError { .. }) if tries < 2000 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(err) => return Err(err.into()),
                }
            };
            results["txs_results"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["code"].as_u64().unwrap_or(0) as u32,
                        r["log"]
                            .as_str()
                            .unwrap_or_default()
                            .chars()
                            .take(120)
                            .collect(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        // Committed: in a block whose results the app has returned.
        let seen = Instant::now();
        let mut pending = lock(&shared.pending);
        let mut totals = lock(&shared.totals);
        totals.blocks += 1;
        totals.block_seen.push(seen);
        totals.max_block_txs = totals.max_block_txs.max(txs.len() as u64);
        for (i, tx) in txs.iter().enumerate() {
            let hash = hex::encode_upper(Sha256::digest(tx));
            let Some(sent) = pending.remove(&hash) else {
                continue;
            };
            shared.in_flight[sent.sender].fetch_sub(1, Ordering::AcqRel);
            shared.committed_ms[sent.sender].store(shared.now_ms().max(1), Ordering::Release);
            totals.latencies.push(seen.duration_since(sent.at));
            match codes.get(i) {
                Some((code, log)) if *code != 0 => {
                    totals.committed_failed += 1;
                    *totals
                        .failed_logs
                        .entry(format!("code {code}: {log}"))
                        .or_default() += 1;
                }
                _ => totals.committed_ok += 1,
            }
            totals.first_commit.get_or_insert(seen);
            totals.last_commit = Some(seen);
        }
        drop(totals);
        drop(pending);
        height += 1;
    }
}
