//! The validator's link to its own `um-trainer` (`um.trainer.v1.Trainer/Verify`).
//!
//! Not consensus code: results depend on timing and on whether the verifier
//! is up, and they reach the chain only as this validator's signed verdicts.
//! Jobs start as soon as an update is seen (ProcessProposal) and again for
//! any pending update without a result (a restart, a block missed while
//! catching up); one job runs at a time on a background thread. A verifier
//! that is down or errs yields no verdict: the validator abstains.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use um_client::checkpoints::Fetcher;

use um_proto::um::abci::v1::VerdictEntry;
use um_proto::um::trainer::v1::trainer_client::TrainerClient;
use um_proto::um::trainer::v1::VerifyRequest;
use um_proto::um::training::v1::{Update, VerdictReason};

use crate::training::verify_request::{update_key, Verification};

/// Attempts per update before the validator gives up and abstains. A dead
/// verifier costs one attempt per height, so this leaves an operator some
/// blocks to restart it.
const MAX_ATTEMPTS: u32 = 10;
/// Retains (one per ExtendVote) a finding may go through before its claim
/// is pending. ExtendVote at a height runs before that height's block is
/// finalized, so an update verified from its proposal is not stored yet at
/// the first retain; dropping its finding then made every honest update
/// be verified twice. A claim whose tx failed delivery is dropped after
/// these.
const RETAINS_BEFORE_PENDING: u8 = 2;
/// Checks waiting at once, over all trainers and for one trainer.
const MAX_QUEUED: usize = 64;
const MAX_QUEUED_PER_TRAINER: usize = 4;
/// Longest a single Verify call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest gRPC message either way (weights travel in both directions).
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// Longest one checkpoint fetch may take, and all of one job's together: a
/// trainer's slow server holds this one worker, which every other claim
/// waits for.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
const FETCH_BUDGET: Duration = Duration::from_secs(60);
/// A checkpoint has the claimed weights' tensors, so their size; this much
/// more leaves room for a different safetensors header.
const CHECKPOINT_SLACK_BYTES: usize = 64 * 1024;

/// A finished check, keyed by the claim's key
/// (`crate::training::verify_request::claim_key`).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub accept: bool,
    pub reason: VerdictReason,
    pub detail: String,
    pub measured_validation_loss: f32,
    pub measured_validation_accuracy: f32,
    pub relative_distance: f32,
    /// Segments re-executed (for a contribution with checkpoints) and the
    /// first whose weights differed.
    pub segments_checked: Vec<u32>,
    pub failed_segment: Option<u32>,
}

#[derive(Default)]
struct Progress {
    findings: BTreeMap<[u8; 32], Finding>,
    /// Checks waiting or running, with the trainer that claims each.
    queued: BTreeMap<[u8; 32], String>,
    attempts: BTreeMap<[u8; 32], u32>,
    /// Retains each finding has gone through without its claim pending.
    unclaimed: BTreeMap<[u8; 32], u8>,
}

impl Progress {
    /// Whether a check of `key` (claimed by `trainer`) may be queued: not
    /// queued, done or out of attempts, and the queue not full overall or
    /// for this trainer. Each job holds weights and costs a re-training, and
    /// a flood of claims must not push honest ones out of their verdict
    /// window; a claim left out is offered again at the next height.
    fn would_admit(&self, key: &[u8; 32], trainer: &str) -> bool {
        let attempts = self.attempts.get(key).copied().unwrap_or(0);
        if self.findings.contains_key(key)
            || self.queued.contains_key(key)
            || attempts >= MAX_ATTEMPTS
        {
            return false;
        }
        let of_trainer = self.queued.values().filter(|t| *t == trainer).count();
        if self.queued.len() >= MAX_QUEUED || of_trainer >= MAX_QUEUED_PER_TRAINER {
            tracing::debug!(%trainer, queued = self.queued.len(), "verification queue full");
            return false;
        }
        true
    }

    /// Keeps what the `live` (pending) claims need, and the findings of
    /// claims not pending yet for [`RETAINS_BEFORE_PENDING`] retains; the
    /// rest goes, so memory stays bounded.
    fn retain(&mut self, live: &BTreeSet<[u8; 32]>) {
        for key in self.findings.keys() {
            if live.contains(key) {
                self.unclaimed.remove(key);
            } else {
                let retains = self.unclaimed.entry(*key).or_default();
                *retains = retains.saturating_add(1);
            }
        }
        let unclaimed = &self.unclaimed;
        self.findings.retain(|key, _| {
            live.contains(key)
                || unclaimed
                    .get(key)
                    .is_some_and(|retains| *retains <= RETAINS_BEFORE_PENDING)
        });
        let findings = &self.findings;
        self.unclaimed.retain(|key, _| findings.contains_key(key));
        let queued = &self.queued;
        self.attempts.retain(|key, _| {
            live.contains(key) || findings.contains_key(key) || queued.contains_key(key)
        });
    }

    /// Queues a check of `key` if [`Self::would_admit`] says so.
    fn admit(&mut self, key: [u8; 32], trainer: String) -> bool {
        if !self.would_admit(&key, &trainer) {
            return false;
        }
        let attempts = self.attempts.get(&key).copied().unwrap_or(0);
        self.queued.insert(key, trainer);
        self.attempts.insert(key, attempts + 1);
        true
    }
}

pub struct Verifier {
    endpoint: String,
    /// This validator's consensus address (see `Verification::identity`).
    identity: Vec<u8>,
    progress: Arc<Mutex<Progress>>,
    jobs: Mutex<mpsc::Sender<([u8; 32], VerifyRequest)>>,
}

impl Verifier {
    /// Starts the background worker for the verifier at `endpoint`
    /// (e.g. `http://127.0.0.1:9091`); nothing connects until a job comes.
    pub fn start(endpoint: &str) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel::<([u8; 32], VerifyRequest)>();
        let progress = Arc::new(Mutex::new(Progress::default()));
        let worker_progress = progress.clone();
        let worker_endpoint = endpoint.to_string();
        std::thread::Builder::new()
            .name("verifier".into())
            .spawn(move || run_worker(&worker_endpoint, receiver, &worker_progress))?;
        Ok(Self {
            endpoint: endpoint.to_string(),
            identity: Vec::new(),
            progress,
            jobs: Mutex::new(sender),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Samples contributions' segments as the validator with consensus
    /// address `identity`.
    pub fn with_identity(mut self, identity: Vec<u8>) -> Self {
        self.identity = identity;
        self
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a check unless one is queued, done, or out of attempts.
    fn enqueue(&self, key: [u8; 32], request: VerifyRequest) {
        {
            let mut progress = self.progress();
            let trainer = request
                .step
                .as_ref()
                .map(|step| step.trainer.clone())
                .unwrap_or_default();
            if !progress.admit(key, trainer) {
                return;
            }
        }
        let sent = self
            .jobs
            .lock()
            .map(|jobs| jobs.send((key, request)).is_ok())
            .unwrap_or(false);
        if !sent {
            self.progress().queued.remove(&key);
        }
    }

    /// This validator's verdicts on the pending updates it has checked,
    /// ascending update id, at most `limit`.
    pub fn verdicts(&self, pending: &[Update], limit: usize) -> Vec<VerdictEntry> {
        let progress = self.progress();
        pending
            .iter()
            .filter_map(|update| {
                let finding = progress.findings.get(&update_key(update)?)?;
                Some(VerdictEntry {
                    update_id: update.id,
                    accept: finding.accept,
                    reason: finding.reason as i32,
                    measured_validation_loss: finding.measured_validation_loss,
                    relative_distance: finding.relative_distance,
                    measured_validation_accuracy: finding.measured_validation_accuracy,
                    detail: finding.detail.clone(),
                    segments_checked: finding.segments_checked.clone(),
                    failed_segment: finding.failed_segment,
                })
            })
            .take(limit)
            .collect()
    }

    /// Forgets findings for weights no longer pending, so memory stays bounded.
    pub fn retain(&self, pending: &[Update]) {
        let live: BTreeSet<[u8; 32]> = pending.iter().filter_map(update_key).collect();
        self.progress().retain(&live);
    }
}

impl Verification for Verifier {
    fn wants(&self, key: &[u8; 32], trainer: &str) -> bool {
        self.progress().would_admit(key, trainer)
    }

    fn verify(&self, key: [u8; 32], request: VerifyRequest) {
        self.enqueue(key, request);
    }

    fn verdicts(&self, pending: &[Update], limit: usize) -> Vec<VerdictEntry> {
        Verifier::verdicts(self, pending, limit)
    }

    fn retain(&self, pending: &[Update]) {
        Verifier::retain(self, pending);
    }

    fn identity(&self) -> Vec<u8> {
        self.identity.clone()
    }
}

fn run_worker(
    endpoint: &str,
    jobs: mpsc::Receiver<([u8; 32], VerifyRequest)>,
    progress: &Mutex<Progress>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!("verifier worker cannot start: {err}");
            return;
        }
    };
    let mut client = None;
    while let Ok((key, mut request)) = jobs.recv() {
        let update_id = request.update_id;
        let started = Instant::now();
        let result = match fetch_checkpoints(&mut request) {
            Ok(()) => runtime.block_on(call(endpoint, &mut client, request)),
            Err(unavailable) => Ok(unavailable),
        };
        crate::fault::point("verify");
        let mut progress = progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        progress.queued.remove(&key);
        match result {
            Ok(finding) => {
                crate::telemetry::observe_verification(started.elapsed());
                tracing::info!(
                    update = update_id,
                    accept = finding.accept,
                    reason = finding.reason.as_str_name(),
                    loss = finding.measured_validation_loss,
                    "verified"
                );
                progress.findings.insert(key, finding);
            }
            Err(err) => {
                // Dropping the client makes the next job reconnect.
                client = None;
                tracing::warn!(
                    update = update_id,
                    "verifier unavailable, abstaining: {err}"
                );
            }
        }
    }
}

/// Fills in the checkpoints that a contribution's trainer serves
/// (`VerifyRequest.checkpoint_source`), each fetched once and checked
/// against its hash. One that cannot be had is this validator's finding on
/// its segment: a rejection naming the segment, which opens a dispute, so
/// every validator then tries to fetch it; a trainer that withholds it from
/// more than a third of the power is rejected, not slashed (withholding is
/// not provable, but it forfeits the verification fee).
fn fetch_checkpoints(request: &mut VerifyRequest) -> Result<(), Finding> {
    if request.checkpoint_source.is_empty() {
        return Ok(());
    }
    let fetcher = Fetcher::new(
        FETCH_TIMEOUT,
        request
            .claimed_weights
            .len()
            .saturating_add(CHECKPOINT_SLACK_BYTES),
    );
    let source = request.checkpoint_source.clone();
    let deadline = Instant::now() + FETCH_BUDGET;
    let mut fetched: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for segment in &mut request.segments {
        let index = segment.index;
        let ends = [
            (&segment.start_sha256, &mut segment.start_weights),
            (&segment.end_sha256, &mut segment.end_weights),
        ];
        for (sha, weights) in ends {
            if sha.is_empty() || !weights.is_empty() {
                continue;
            }
            if let Some(bytes) = fetched.get(sha) {
                weights.clone_from(bytes);
                continue;
            }
            if Instant::now() >= deadline {
                let detail =
                    format!("fetching checkpoints from {source} took over {FETCH_BUDGET:?}");
                return Err(unavailable(index, detail));
            }
            match fetcher.fetch(&source, sha) {
                Ok(bytes) => {
                    weights.clone_from(&bytes);
                    fetched.insert(sha.clone(), bytes);
                }
                Err(err) => return Err(unavailable(index, format!("segment {index}: {err}"))),
            }
        }
    }
    Ok(())
}

fn unavailable(segment: u32, detail: String) -> Finding {
    Finding {
        accept: false,
        reason: VerdictReason::CheckpointUnavailable,
        detail: clipped(detail),
        measured_validation_loss: 0.0,
        measured_validation_accuracy: 0.0,
        relative_distance: 0.0,
        segments_checked: vec![segment],
        failed_segment: Some(segment),
    }
}

/// `detail` cut to what a vote extension carries.
fn clipped(mut detail: String) -> String {
    let mut cut = detail
        .len()
        .min(crate::training::extension::MAX_DETAIL_BYTES);
    while !detail.is_char_boundary(cut) {
        cut -= 1;
    }
    detail.truncate(cut);
    detail
}

async fn call(
    endpoint: &str,
    client: &mut Option<TrainerClient<um_proto::tonic::transport::Channel>>,
    request: VerifyRequest,
) -> Result<Finding, String> {
    if client.is_none() {
        let channel = um_proto::tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("bad verifier endpoint {endpoint}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .connect()
            .await
            .map_err(|e| format!("connecting to {endpoint}: {e}"))?;
        *client = Some(
            TrainerClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        );
    }
    let Some(connected) = client.as_mut() else {
        return Err("no verifier connection".into());
    };
    let response = connected
        .verify(request)
        .await
        .map_err(|status| format!("{}: {}", status.code(), status.message()))?
        .into_inner();
    let reason = VerdictReason::try_from(response.reason)
        .ok()
        .filter(|r| *r != VerdictReason::Unspecified)
        .ok_or_else(|| format!("verifier answered unknown reason {}", response.reason))?;
    let finite = |x: f32| if x.is_finite() { x } else { 0.0 };
    Ok(Finding {
        accept: reason.is_accept(),
        reason,
        detail: clipped(response.detail),
        measured_validation_loss: finite(response.measured_validation_loss),
        measured_validation_accuracy: finite(response.measured_validation_accuracy),
        relative_distance: finite(response.relative_distance),
        // An extension carries at most this many; more says nothing more.
        segments_checked: response
            .segments_checked
            .into_iter()
            .take(crate::training::extension::MAX_SEGMENTS)
            .collect(),
        failed_segment: response.failed_segment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&i.to_be_bytes());
        key
    }

    /// Issue 15: a flood of claims fills neither one trainer's share of the
    /// queue past its bound nor the whole queue; others still get in.
    #[test]
    fn the_queue_is_bounded_per_trainer_and_overall() {
        let mut progress = Progress::default();
        let flooder = "um1flooder".to_string();
        let admitted = (0..40)
            .filter(|i| progress.admit(key(*i), flooder.clone()))
            .count();
        assert_eq!(admitted, MAX_QUEUED_PER_TRAINER);
        assert!(progress.admit(key(1000), "um1honest".into()));
        assert!(
            !progress.admit(key(1000), "um1honest".into()),
            "queued once"
        );
        for i in 0..200u32 {
            progress.admit(key(2000 + i), format!("um1sybil{i}"));
        }
        assert_eq!(progress.queued.len(), MAX_QUEUED);
        assert!(!progress.admit(key(5000), "um1late".into()));
        // A finished job frees its place.
        progress.queued.remove(&key(1000));
        assert!(progress.admit(key(5000), "um1late".into()));
    }

    fn finding() -> Finding {
        Finding {
            accept: true,
            reason: VerdictReason::Ok,
            detail: String::new(),
            measured_validation_loss: 1.0,
            measured_validation_accuracy: 0.5,
            relative_distance: 0.0,
            segments_checked: Vec::new(),
            failed_segment: None,
        }
    }

    /// An update verified from its proposal is not pending at the
    /// ExtendVote of its own height; its finding must wait for it (else it
    /// is verified a second time), and go when it never comes.
    #[test]
    fn findings_wait_for_their_claim_to_be_pending_then_go() {
        let mut progress = Progress::default();
        let (delivered, failed) = (key(1), key(2));
        for claim in [delivered, failed] {
            assert!(progress.admit(claim, "um1trainer".into()));
            progress.queued.remove(&claim);
            progress.findings.insert(claim, finding());
        }
        // ExtendVote of the proposal's height: nothing pending yet.
        progress.retain(&BTreeSet::new());
        assert!(progress.findings.contains_key(&delivered));
        assert!(
            !progress.would_admit(&delivered, "um1trainer"),
            "not verified again"
        );
        // The next heights: one was delivered and is pending, one never is.
        let live = BTreeSet::from([delivered]);
        for _ in 0..RETAINS_BEFORE_PENDING + 1 {
            progress.retain(&live);
        }
        assert!(progress.findings.contains_key(&delivered));
        assert!(!progress.findings.contains_key(&failed));
        assert!(progress.unclaimed.is_empty());
        assert!(!progress.attempts.contains_key(&failed));
    }
}
