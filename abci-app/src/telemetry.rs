//! Process-wide counters and latency histograms of umd, rendered in the
//! Prometheus text exposition format (served by `api` at `GET /metrics`).
//! A leaf: consensus code records into it and depends on nothing above. Plain atomics: the
//! ABCI methods record into them without locks, and nothing here feeds back
//! into consensus (the wall clock is read only to measure).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The ABCI methods umd times.
#[derive(Clone, Copy, Debug)]
pub enum AbciMethod {
    Info,
    InitChain,
    Query,
    CheckTx,
    PrepareProposal,
    ProcessProposal,
    ExtendVote,
    VerifyVoteExtension,
    FinalizeBlock,
    Commit,
}

const METHODS: [(AbciMethod, &str); 10] = [
    (AbciMethod::Info, "info"),
    (AbciMethod::InitChain, "init_chain"),
    (AbciMethod::Query, "query"),
    (AbciMethod::CheckTx, "check_tx"),
    (AbciMethod::PrepareProposal, "prepare_proposal"),
    (AbciMethod::ProcessProposal, "process_proposal"),
    (AbciMethod::ExtendVote, "extend_vote"),
    (AbciMethod::VerifyVoteExtension, "verify_vote_extension"),
    (AbciMethod::FinalizeBlock, "finalize_block"),
    (AbciMethod::Commit, "commit"),
];

static HEIGHT: AtomicU64 = AtomicU64::new(0);
static TXS: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static EXPIRED: AtomicU64 = AtomicU64::new(0);
static BROADCASTS_GRPC: AtomicU64 = AtomicU64::new(0);
static BROADCASTS_REST: AtomicU64 = AtomicU64::new(0);
static VERIFICATION: Histogram = Histogram::new();
static ABCI: [Histogram; METHODS.len()] = [const { Histogram::new() }; METHODS.len()];

/// Times one ABCI method call; records when dropped.
pub struct AbciTimer {
    method: AbciMethod,
    started: Instant,
}

impl AbciTimer {
    pub fn start(method: AbciMethod) -> Self {
        Self {
            method,
            started: Instant::now(),
        }
    }
}

impl Drop for AbciTimer {
    fn drop(&mut self) {
        ABCI[self.method as usize].observe(self.started.elapsed());
    }
}

/// The last height the app committed.
pub fn set_height(height: u64) {
    HEIGHT.store(height, Ordering::Relaxed);
}

pub fn height() -> u64 {
    HEIGHT.load(Ordering::Relaxed)
}

/// Txs executed by FinalizeBlock (the injected verdict tx not counted).
pub fn add_txs(count: u64) {
    TXS.fetch_add(count, Ordering::Relaxed);
}

/// An update decided with `status` (`UPDATE_STATUS_ACCEPTED`, ...).
pub fn update_decided(status: &str) {
    match status {
        "UPDATE_STATUS_ACCEPTED" => ACCEPTED.fetch_add(1, Ordering::Relaxed),
        "UPDATE_STATUS_REJECTED" => REJECTED.fetch_add(1, Ordering::Relaxed),
        "UPDATE_STATUS_EXPIRED" => EXPIRED.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

/// A tx broadcast through the gRPC server (`grpc: true`) or the REST gateway.
pub fn broadcast(grpc: bool) {
    let counter = if grpc {
        &BROADCASTS_GRPC
    } else {
        &BROADCASTS_REST
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One verification by this validator's `um-trainer` that returned a finding.
pub fn observe_verification(elapsed: Duration) {
    VERIFICATION.observe(elapsed);
}

/// Every metric in the Prometheus text format (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    gauge(
        &mut out,
        "umd_height",
        "Last block height the app committed.",
        "gauge",
        height(),
    );
    gauge(
        &mut out,
        "umd_txs_total",
        "Txs executed in finalized blocks since umd started.",
        "counter",
        TXS.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP umd_updates_total Training updates decided since umd started, by outcome."
    );
    let _ = writeln!(out, "# TYPE umd_updates_total counter");
    for (outcome, counter) in [
        ("accepted", &ACCEPTED),
        ("rejected", &REJECTED),
        ("expired", &EXPIRED),
    ] {
        let _ = writeln!(
            out,
            "umd_updates_total{{outcome=\"{outcome}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP umd_broadcast_tx_total Txs broadcast through this node's gRPC server or REST gateway."
    );
    let _ = writeln!(out, "# TYPE umd_broadcast_tx_total counter");
    for (via, counter) in [("grpc", &BROADCASTS_GRPC), ("rest", &BROADCASTS_REST)] {
        let _ = writeln!(
            out,
            "umd_broadcast_tx_total{{via=\"{via}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP umd_verification_seconds Time this validator's um-trainer took to verify an update."
    );
    let _ = writeln!(out, "# TYPE umd_verification_seconds histogram");
    VERIFICATION.render(&mut out, "umd_verification_seconds", "");
    let _ = writeln!(
        out,
        "# HELP umd_abci_seconds Time spent in each ABCI method."
    );
    let _ = writeln!(out, "# TYPE umd_abci_seconds histogram");
    for (method, name) in METHODS {
        ABCI[method as usize].render(&mut out, "umd_abci_seconds", &format!("method=\"{name}\""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_into_cumulative_buckets() {
        let h = Histogram::new();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let mut out = String::new();
        h.render(&mut out, "x", "m=\"a\"");
        assert!(out.contains("x_bucket{m=\"a\",le=\"0.001\"} 0"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"5\"} 1"), "{out}");
        assert!(out.contains("x_bucket{m=\"a\",le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("x_count{m=\"a\"} 2"), "{out}");
    }

    #[test]
    fn every_method_is_rendered() {
        let text = render();
        for (_, name) in METHODS {
            assert!(text.contains(&format!("method=\"{name}\"")), "{name}");
        }
        assert!(text.contains("umd_updates_total{outcome=\"expired\"}"));
    }
}
