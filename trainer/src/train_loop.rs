//! The trainer loop (`um-trainer train`): fetch the head of a model and its
//! dataset from the chain, run the step, submit it, wait for the verdict,
//! again.
//!
//! A round that cannot succeed is not submitted: when the new weights do not
//! lower the validation loss by the lineage's `min_improvement` (measured
//! against the base's loss as the chain recorded it, like the validators
//! do), the loop tries the next nonce instead. A refused tx, a rejected or
//! expired update, or an update still undecided after `timeout_blocks` is
//! reported and the loop goes on with a fresh nonce. After `max_failures`
//! rounds in a row without an accepted update it gives up.
//!
//! A lineage with collaborative rounds (`ModelLineage.rounds` with
//! `max_contributions` ≥ 1) is trained in rounds instead:
//!
//! 1. read the current round (`Query/Round`, number 0); when it is open and
//!    trains from the head, pick a shard: the one this trainer claimed
//!    already (after a restart, or a claim whose answer was lost), else the
//!    preferred one ([`preferred_shard`]) or the first free one going up
//!    cyclically from it ([`pick_shard`]), free meaning neither contributed
//!    nor claimed; when none is free, the round is not open, or this
//!    trainer already contributed to it, wait for the next round (one poll
//!    per block, one progress line per change);
//! 2. claim the shard (`MsgClaimShard`, unless it holds the claim already):
//!    a training takes seconds to minutes, and without a claim two trainers
//!    that picked the same shard both train it and the second submission
//!    is refused, its training wasted; a claim costs a block and a small
//!    fee. A refused claim (another trainer was quicker, the round filled
//!    or closed) is reported and the round read again a block later,
//!    without training. A chain from before claims (the claim is an
//!    unknown message to it) is trained unclaimed from then on;
//! 3. train that shard from the round's base ([`crate::step`] rule 8: no
//!    nonce, so no nonce search and no local improvement check: the chain
//!    judges the merge) and submit it with the round's number and the shard;
//!    when the round asks for checkpoints (`RoundParams.checkpoint_interval`
//!    c > 0), with the weights after steps c, 2c, … below `local_steps`
//!    ([`crate::step`] rule 11), which the validators re-execute a sample of:
//!    in the tx, or, with a checkpoint server configured
//!    ([`CheckpointServing`]), served from memory and named in the tx by
//!    their SHA-256 and the server's URL;
//! 4. a refused submission (the shard was just taken, the round closed) is
//!    reported and the round read again a block later;
//! 5. wait until the round is closed (or a newer one is current), print
//!    one line (round, contributions merged, outcome, the head's validation
//!    loss and accuracy, NRN earned), and start again.
//!
//! A contribution counts as accepted when it is part of the version its
//! round produced; `max_failures` counts rounds in a row without that.
//!
//! Served checkpoints stay available until their round is over: a
//! validator that cannot fetch a sampled one gets the contribution
//! rejected. They are forgotten once the round is decided, and whenever
//! the loop reads round r as the current one (before it contributes to r,
//! or while it waits), those of every round below r: closed by then.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tch::Device;
use thiserror::Error;
use um_client::checkpoints::{check_source, CheckpointServer, SourceError};
use um_client::codes::Code;
use um_client::keys::Key;
use um_proto::um::training::v1::{
    self as proto, MsgClaimShard, MsgSubmitUpdate, RoundStatus, UpdateStatus,
};

use crate::chain::{submit_gas, update_id, ChainClient, ChainError};
use crate::dataset::Dataset;
use crate::eval::{evaluate, EvalError};
use crate::hyperparams::{Hyperparams, HyperparamsExt};
use crate::model::{Model, ModelError};
use crate::spec::ModelSpec;
use crate::step::{
    run_step, run_step_checkpointed, RoundShard, StepError, StepRequest, MAX_STEP_TIME,
};
use crate::weights::Weights;
use um_formats::compress::{self, CompressError, Compression, Encoder};

/// `Update.reason` the chain gives a verified contribution whose round
/// produced no version from it: not merged, and no fraud either.
const NOT_MERGED: &str = "NOT_MERGED";

/// What the loop does.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Lineage to train.
    pub model_id: String,
    /// Stop after this many accepted updates; 0 runs forever.
    pub updates: u64,
    /// Nonce of the first attempt; every attempt uses the next one.
    pub nonce_start: u64,
    /// Blocks to wait for a decision on a submitted update before moving on.
    pub timeout_blocks: u64,
    /// Gas limit of the submit tx; `None` sizes it from the weights ([`submit_gas`]).
    pub gas_limit: Option<u64>,
    /// Give up after this many rounds in a row without an accepted update; 0 never.
    pub max_failures: u64,
    /// Where the step runs.
    pub device: Device,
    /// Stop once an accepted version's held-out accuracy (as the
    /// validators measured it) reaches this.
    pub target_accuracy: Option<f64>,
    /// Stop once an accepted version's held-out loss (as the validators
    /// measured it; nats per byte for a language model) is at most this.
    pub target_loss: Option<f64>,
    /// For a language lineage: report a short sample of every version
    /// whose number is a multiple of this (0: never).
    pub sample_every: u64,
    /// Serve a round's checkpoints from here instead of sending them in the
    /// tx; `None` sends them in the tx.
    pub checkpoints: Option<CheckpointServing>,
}

/// A checkpoint server and the URL the validators reach it at: the
/// contribution names its checkpoints by SHA-256 (`checkpoint_hashes`) and
/// this URL (`checkpoint_source`), and the validators fetch the ones they
/// sample from it while the round lasts.
#[derive(Clone)]
pub struct CheckpointServing {
    /// Holds each round's checkpoints under the round's number.
    pub server: Arc<CheckpointServer>,
    /// `http://host:port`, checked with [`check_source`].
    pub source: String,
}

/// Why checkpoints cannot be served as asked.
#[derive(Debug, Error)]
pub enum ServingError {
    #[error("--checkpoint-url: {0}")]
    Source(#[from] SourceError),
    #[error("--checkpoint-listen {listen}: {source}")]
    Listen {
        listen: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "--checkpoint-listen {listen} listens on every address of this machine ({addr}), \
         which is no address a validator can fetch from: give --checkpoint-url http://HOST:PORT \
         with the address and port every validator reaches this server at"
    )]
    Unspecified { listen: String, addr: SocketAddr },
}

impl CheckpointServing {
    /// Starts a server on `listen` (`host:port`; port 0 picks a free one),
    /// reached by the validators at `url`, or by default at its own address;
    /// a server on every address (0.0.0.0, ::) needs `url`, as its own
    /// address names no host.
    pub fn start(listen: &str, url: Option<&str>) -> Result<Self, ServingError> {
        if let Some(url) = url {
            check_source(url)?;
        }
        let unspecified = |addr: SocketAddr| url.is_none() && addr.ip().is_unspecified();
        // Refused before binding when the address says so plainly, so the
        // message is this one and not, say, "address in use".
        if let Some(addr) = listen
            .parse::<SocketAddr>()
            .ok()
            .filter(|a| unspecified(*a))
        {
            return Err(ServingError::Unspecified {
                listen: listen.to_string(),
                addr,
            });
        }
        let server = CheckpointServer::start(listen).map_err(|source| ServingError::Listen {
            listen: listen.to_string(),
            source,
        })?;
        let addr = server.local_addr();
        // A host name that resolved to every address.
        if unspecified(addr) {
            return Err(ServingError::Unspecified {
                listen: listen.to_string(),
                addr,
            });
        }
        let source = match url {
            Some(url) => url.to_string(),
            None => format!("http://{addr}"),
        };
        check_source(&source)?;
        Ok(Self {
            server: Arc::new(server),
            source,
        })
    }
}

impl std::fmt::Debug for CheckpointServing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointServing")
            .field("listen", &self.server.local_addr())
            .field("source", &self.source)
            .field("served", &self.server.len())
            .finish()
    }
}

/// What the loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopSummary {
    /// Updates the chain accepted.
    pub accepted: u64,
    /// Updates the chain rejected.
    pub rejected: u64,
    /// Updates that expired or were still pending at the timeout.
    pub undecided: u64,
    /// Txs the chain refused.
    pub refused: u64,
    /// Steps not submitted because they did not improve enough.
    pub skipped: u64,
    /// Round contributions the chain verified but whose round produced no
    /// version from them (round mode).
    pub not_merged: u64,
    /// Rounds this trainer contributed to and saw decided (round mode).
    pub rounds: u64,
    /// The nonce the next attempt would use.
    pub next_nonce: u64,
    /// Validation accuracy of the last version this trainer got accepted.
    pub last_accuracy: Option<f64>,
    /// Validation loss of the last version this trainer got accepted.
    pub last_loss: Option<f64>,
}

/// The loop stopped.
#[derive(Debug, Error)]
pub enum LoopError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("model {model_id}: {problem}")]
    Lineage { model_id: String, problem: String },
    #[error("training step: {0}")]
    Step(#[from] StepError),
    #[error("evaluation: {0}")]
    Eval(#[from] EvalError),
    #[error("new weights: {0}")]
    Model(#[from] ModelError),
    #[error("tx {hash} succeeded but names no update id (no MsgSubmitUpdateResponse, no submit_update event)")]
    NoUpdateId { hash: String },
    #[error("giving up after {failures} rounds in a row without an accepted update; last: {last}")]
    GivingUp { failures: u64, last: String },
    #[error("compressing the contribution: {0}")]
    Compress(#[from] CompressError),
}

/// Everything one round needs from the chain, cached across rounds.
#[derive(Default)]
struct Cache {
    /// (sha256, safetensors) of the last head.
    weights: Option<(Vec<u8>, Vec<u8>)>,
    /// (root, records) of the last dataset version.
    dataset: Option<(Vec<u8>, Dataset)>,
    /// (base sha256 ‖ dataset root, validation loss) of a base measured here:
    /// version 0, or a base accepted on another dataset version.
    base_loss: Option<(Vec<u8>, f64)>,
    /// The trainer's NRN balance when the loop started.
    earnings: Option<Earnings>,
    /// Whether the last attempt found the lineage in round mode.
    round_mode: bool,
    /// Why the loop waits for a round, as last reported (reported once per change).
    waiting: Option<String>,
    /// The last round this trainer is known to have a contribution in, so
    /// that waiting for its close does not query its contributions every block.
    contributed_in: Option<u64>,
    /// The chain refused a claim as an unknown message: it predates shard
    /// claims, so shards are trained unclaimed (as before claims) from then on.
    claims_unsupported: bool,
    /// The encoder of a compressed round's contributions, with the error
    /// feedback it carries from one of this trainer's contributions to the
    /// next (`um_formats::compress`); reset when the scheme changes.
    encoder: Option<Encoder>,
}

/// The state of the model when an attempt starts.
struct Snapshot {
    lineage: proto::ModelLineage,
    head: proto::ModelVersion,
    spec: ModelSpec,
    dataset_version: u64,
    /// What the update names, so that the chain refuses it (rather than
    /// slashing) if they are not the chain's when it is delivered.
    hyperparams_sha256: Vec<u8>,
    dataset_root: Vec<u8>,
}

/// How one attempt ended.
enum Outcome {
    /// With the held-out accuracy the validators measured.
    Accepted {
        accuracy: f64,
        loss: f64,
        version: u64,
    },
    Rejected,
    Undecided,
    Refused,
    Skipped,
    /// A round's contribution that the round's version does not include.
    NotMerged,
    /// No contribution was possible (round full, closed, or not on the
    /// head); a block was waited out. Not a failure.
    Waited,
    /// The chain could not be reached during the round.
    Unreachable,
}

/// Runs the loop with `key` as the trainer; progress lines go to `report`.
pub fn run(
    chain: &ChainClient,
    key: &Key,
    config: &LoopConfig,
    report: &mut dyn FnMut(&str),
) -> Result<LoopSummary, LoopError> {
    let mut summary = LoopSummary {
        next_nonce: config.nonce_start,
        ..LoopSummary::default()
    };
    let mut cache = Cache::default();
    let mut failures = 0u64;
    // The first lineage query names the problem plainly (no such model,
    // chain unreachable); later chain hiccups are retried as failed rounds.
    let lineage = chain.lineage(&config.model_id)?;
    cache.earnings = Some(Earnings::start(chain, &key.address));
    let how = match round_shards(&lineage) {
        Some(shards) => format!("in collaborative rounds of up to {shards} contributions"),
        None => format!("from nonce {}", config.nonce_start),
    };
    report(&format!(
        "training {} (dataset {}) as {} on {}, {how}",
        lineage.model_id,
        lineage.dataset_id,
        key.address,
        crate::device::device_name(config.device),
    ));
    cache.round_mode = round_shards(&lineage).is_some();
    while config.updates == 0 || summary.accepted < config.updates {
        let what = if cache.round_mode {
            "round".to_string()
        } else {
            format!("nonce {}", summary.next_nonce)
        };
        let outcome = match attempt(chain, key, config, &mut cache, &mut summary, report) {
            Ok(outcome) => outcome,
            Err(LoopError::Chain(e)) if e.is_unreachable() => {
                report(&format!("{what}: {e}; retrying"));
                std::thread::sleep(Duration::from_secs(2));
                Outcome::Unreachable
            }
            Err(e) => return Err(e),
        };
        let last = match outcome {
            Outcome::Accepted {
                accuracy,
                loss,
                version,
            } => {
                summary.accepted += 1;
                summary.last_accuracy = Some(accuracy);
                summary.last_loss = Some(loss);
                failures = 0;
                if config.sample_every > 0 && version % config.sample_every == 0 {
                    report(&sample_line(chain, config, version));
                }
                if config
                    .target_accuracy
                    .is_some_and(|target| accuracy >= target)
                    || config.target_loss.is_some_and(|target| loss <= target)
                {
                    break;
                }
                continue;
            }
            Outcome::Rejected => {
                summary.rejected += 1;
                "rejected"
            }
            Outcome::Undecided => {
                summary.undecided += 1;
                "undecided"
            }
            Outcome::Refused => {
                summary.refused += 1;
                "refused"
            }
            Outcome::Skipped => {
                summary.skipped += 1;
                "no improvement"
            }
            Outcome::NotMerged => {
                summary.not_merged += 1;
                "not merged"
            }
            Outcome::Waited => continue,
            Outcome::Unreachable => "chain unreachable",
        };
        failures += 1;
        if config.max_failures > 0 && failures >= config.max_failures {
            return Err(LoopError::GivingUp {
                failures,
                last: last.to_string(),
            });
        }
    }
    Ok(summary)
}

fn lineage_problem(model_id: &str, problem: impl std::fmt::Display) -> LoopError {
    LoopError::Lineage {
        model_id: model_id.to_string(),
        problem: problem.to_string(),
    }
}

/// The head, its weights, the dataset: refreshed from the chain, cached by hash.
fn fetch_snapshot(
    chain: &ChainClient,
    config: &LoopConfig,
    cache: &mut Cache,
) -> Result<Snapshot, LoopError> {
    let lineage = chain.lineage(&config.model_id)?;
    let spec =
        ModelSpec::parse(&lineage.spec_json).map_err(|e| lineage_problem(&config.model_id, e))?;
    let head = chain.head(&config.model_id)?;
    if cache.weights.as_ref().map(|w| &w.0) != Some(&head.weights_sha256) {
        let bytes = chain.weights(&head.weights_sha256)?;
        cache.weights = Some((head.weights_sha256.clone(), bytes));
    }
    if lineage.dataset_id.is_empty() {
        return Err(lineage_problem(
            &config.model_id,
            "the lineage names no dataset",
        ));
    }
    let meta = chain.dataset(&lineage.dataset_id, None)?;
    if cache.dataset.as_ref().map(|d| &d.0) != Some(&meta.root) {
        let dataset = chain.load_dataset(
            &lineage.dataset_id,
            meta.version,
            &meta.root,
            meta.record_count,
        )?;
        cache.dataset = Some((meta.root.clone(), dataset));
    }
    Ok(Snapshot {
        hyperparams_sha256: lineage
            .hyperparams
            .as_ref()
            .map(|h| h.sha256())
            .unwrap_or_default(),
        lineage,
        head,
        spec,
        dataset_version: meta.version,
        dataset_root: meta.root.clone(),
    })
}

/// One attempt: a single update with the next nonce, or, for a lineage in
/// round mode, one contribution to the current round (or a block's wait).
fn attempt(
    chain: &ChainClient,
    key: &Key,
    config: &LoopConfig,
    cache: &mut Cache,
    summary: &mut LoopSummary,
    report: &mut dyn FnMut(&str),
) -> Result<Outcome, LoopError> {
    let snap = fetch_snapshot(chain, config, cache)?;
    cache.round_mode = round_shards(&snap.lineage).is_some();
    if cache.round_mode {
        return round_attempt(chain, key, config, cache, &snap, summary, report);
    }
    let nonce = summary.next_nonce;
    summary.next_nonce = nonce.wrapping_add(1);
    let (Some((_, base)), Some((_, dataset))) = (&cache.weights, &cache.dataset) else {
        return Err(lineage_problem(&config.model_id, "nothing fetched"));
    };
    let hyper =
        snap.lineage.hyperparams.as_ref().ok_or_else(|| {
            lineage_problem(&config.model_id, "the lineage has no hyperparameters")
        })?;
    let hyper = Hyperparams::from_proto(hyper).map_err(|e| lineage_problem(&config.model_id, e))?;
    let train = hyper
        .train_params()
        .map_err(|e| lineage_problem(&config.model_id, e))?;
    let checks = hyper
        .verify_params()
        .map_err(|e| lineage_problem(&config.model_id, e))?;

    let started = Instant::now();
    let out = run_step(
        &StepRequest {
            spec: &snap.spec,
            base_weights: base,
            trainer: &key.address,
            nonce,
            params: train,
            dataset,
        },
        config.device,
    )?;
    let model = Model::from_safetensors(&snap.spec, &out.weights, config.device)?;
    let new = evaluate(&model, dataset.validation())?;
    let base_loss = base_loss(&snap, base, dataset, config.device, &mut cache.base_loss)?;
    let required = base_loss * (1.0 - checks.min_improvement);
    report(&format!(
        "nonce {nonce}: {} v{} → train loss {:.4}, validation loss {:.4} (base {:.4}), accuracy {:.4}, {} ms",
        snap.lineage.model_id,
        snap.head.version,
        out.mean_train_loss,
        new.loss,
        base_loss,
        new.accuracy,
        started.elapsed().as_millis()
    ));
    // The validators' rule; false for a NaN loss, which is never submitted.
    let improves = new.loss <= required;
    if !improves {
        report(&format!(
            "nonce {nonce}: validation loss must be at most {required:.4} to be accepted; trying the next nonce"
        ));
        return Ok(Outcome::Skipped);
    }

    let msg = MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: snap.lineage.model_id.clone(),
        base_version: snap.head.version,
        dataset_version: snap.dataset_version,
        nonce,
        claimed_train_loss: out.mean_train_loss as f32,
        claimed_validation_loss: new.loss as f32,
        weights: out.weights,
        hyperparams_sha256: snap.hyperparams_sha256.clone(),
        dataset_root: snap.dataset_root.clone(),
        round: 0,
        shard: 0,
        checkpoints: Vec::new(),
        checkpoint_hashes: Vec::new(),
        checkpoint_source: String::new(),
    };
    let gas = config
        .gas_limit
        .unwrap_or_else(|| submit_gas(msg.weights.len()));
    let result = chain.submit_update(key, &msg, gas)?;
    if !result.is_ok() {
        report(&format!("nonce {nonce}: {}", refusal(&result)));
        return Ok(Outcome::Refused);
    }
    let id = update_id(&result).ok_or_else(|| LoopError::NoUpdateId {
        hash: result.hash.clone(),
    })?;
    report(&format!(
        "nonce {nonce}: update {id} submitted at height {} (tx {}, gas {}/{})",
        result.height, result.hash, result.gas_used, gas
    ));
    let update = wait_decided(chain, id, result.height, config.timeout_blocks)?;
    let status = UpdateStatus::try_from(update.status).unwrap_or(UpdateStatus::Unspecified);
    let (outcome, counts) = match status {
        UpdateStatus::Accepted => (
            Outcome::Accepted {
                accuracy: 0.0,
                loss: 0.0,
                version: 0,
            },
            (summary.accepted + 1, summary.rejected),
        ),
        UpdateStatus::Rejected => (Outcome::Rejected, (summary.accepted, summary.rejected + 1)),
        _ => (Outcome::Undecided, (summary.accepted, summary.rejected)),
    };
    // The chain's measurement of an accepted version; ours otherwise.
    let (loss, accuracy, version) = match status {
        UpdateStatus::Accepted => match chain.version(&snap.lineage.model_id, update.version) {
            Ok(v) => (
                f64::from(v.validation_loss),
                f64::from(v.validation_accuracy),
                v.version,
            ),
            Err(_) => (new.loss, new.accuracy, update.version),
        },
        _ => (new.loss, new.accuracy, snap.head.version),
    };
    let height = chain.latest_height().unwrap_or(result.height);
    let why = if update.reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", update.reason)
    };
    let earned = earned_note(cache, chain);
    report(&format!(
        "height {height} | {} v{version} | update {id} {}{why}{} | val loss {loss:.4} | accuracy {accuracy:.4} | accepted {} rejected {}{earned}",
        snap.lineage.model_id,
        status.as_str_name().trim_start_matches("UPDATE_STATUS_"),
        if update.slashed { ", slashed" } else { "" },
        counts.0,
        counts.1,
    ));
    Ok(match outcome {
        Outcome::Accepted { .. } => Outcome::Accepted {
            accuracy,
            loss,
            version,
        },
        other => other,
    })
}

/// A progress line with 80 bytes the language lineage's `version`
/// writes after a newline (temperature 0.8, seed 0); why not, when it
/// cannot (not a language model, weights unavailable).
fn sample_line(chain: &ChainClient, config: &LoopConfig, version: u64) -> String {
    let text = || -> Result<String, String> {
        let lineage = chain.lineage(&config.model_id).map_err(|e| e.to_string())?;
        let spec = ModelSpec::parse(&lineage.spec_json).map_err(|e| e.to_string())?;
        let record = chain
            .version(&config.model_id, version)
            .map_err(|e| e.to_string())?;
        let weights = chain
            .weights(&record.weights_sha256)
            .map_err(|e| e.to_string())?;
        let model =
            Model::from_safetensors(&spec, &weights, config.device).map_err(|e| e.to_string())?;
        let params = crate::sample::SampleParams {
            tokens: 80,
            temperature: 0.8,
            seed: 0,
        };
        let bytes = crate::sample::generate(&model, b"\n", &params).map_err(|e| e.to_string())?;
        Ok(format!("{:?}", String::from_utf8_lossy(&bytes)))
    };
    match text() {
        Ok(text) => format!("sample v{version}: {text}"),
        Err(why) => format!("sample v{version}: none ({why})"),
    }
}

/// Shards per round of a lineage in round mode; `None` for a lineage that
/// advances one update at a time.
fn round_shards(lineage: &proto::ModelLineage) -> Option<u32> {
    lineage
        .rounds
        .as_ref()
        .map(|r| r.max_contributions)
        .filter(|&k| k >= 1)
}

/// The shard `trainer` prefers in a round of `shards` shards seeded by
/// `seed`: `u32::from_be_bytes(sha256(seed ‖ trainer)[0..4]) mod shards`,
/// so trainers spread over the shards without talking to each other.
/// `shards` must not be 0.
pub fn preferred_shard(seed: &[u8], trainer: &str, shards: u32) -> u32 {
    let digest = crate::sha256(&[seed, trainer.as_bytes()].concat());
    let [a, b, c, d, ..] = digest;
    u32::from_be_bytes([a, b, c, d]) % shards.max(1)
}

/// The shard `trainer` takes in `round`: the one it holds a claim on and
/// has not contributed yet, else the preferred one, else the first free
/// one going up cyclically from it, where free means neither contributed
/// (`Round.shards`) nor claimed (`Round.claims`); `None` when no shard is
/// free (or the round has none).
pub fn pick_shard(round: &proto::Round, trainer: &str) -> Option<u32> {
    let shards = round.params.as_ref()?.max_contributions;
    if shards == 0 {
        return None;
    }
    if let Some(claim) = held_claim(round, trainer) {
        return Some(claim.shard);
    }
    let preferred = preferred_shard(&round.seed, trainer, shards);
    let claimed = |shard: u32| round.claims.iter().any(|c| c.shard == shard);
    // In u64: preferred + offset can pass u32::MAX for a huge shard count.
    (0..shards)
        .map(|offset| ((u64::from(preferred) + u64::from(offset)) % u64::from(shards)) as u32)
        .find(|&shard| !round.shards.contains(&shard) && !claimed(shard))
}

/// `trainer`'s claim in `round` on a shard it has not contributed yet: it
/// claimed before a restart, or its claim went through but the answer was
/// lost. The chain takes one claim per trainer and round, so this shard is
/// the one to train, without claiming again.
pub fn held_claim<'r>(round: &'r proto::Round, trainer: &str) -> Option<&'r proto::ShardClaim> {
    let shards = round.params.as_ref()?.max_contributions;
    round
        .claims
        .iter()
        .find(|c| c.trainer == trainer && c.shard < shards && !round.shards.contains(&c.shard))
}

/// Waits for the next block: how the round-mode loop polls ("every block or
/// so") instead of spinning on the chain.
fn wait_next_block(chain: &ChainClient) -> Result<(), LoopError> {
    let height = chain.latest_height()?;
    // A chain that makes no block for a minute is as good as unreachable.
    chain
        .rpc()
        .wait_for_height(height.saturating_add(1), Duration::from_secs(60))
        .map_err(|e| ChainError::Unreachable(e.to_string()))?;
    Ok(())
}

/// Whether `trainer` already has a contribution in `round` (the chain takes
/// one per trainer and round; after a restart, or a submission whose
/// answer was lost, training again would be wasted).
fn contributed(
    chain: &ChainClient,
    round: &proto::Round,
    trainer: &str,
) -> Result<bool, LoopError> {
    for id in &round.contributions {
        let update = chain.update(*id)?.update;
        if update.is_some_and(|u| u.trainer == trainer) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One contribution to the current round, or a block's wait when none is
/// possible (see the module docs).
fn round_attempt(
    chain: &ChainClient,
    key: &Key,
    config: &LoopConfig,
    cache: &mut Cache,
    snap: &Snapshot,
    summary: &mut LoopSummary,
    report: &mut dyn FnMut(&str),
) -> Result<Outcome, LoopError> {
    let model_id = snap.lineage.model_id.as_str();
    let round = chain.round(model_id, 0)?;
    if let Some(serving) = &config.checkpoints {
        // Round r is current, so every round below it is closed and no
        // validator fetches their checkpoints any more: this drops those of
        // a round left undecided before a contribution to round r, or
        // while the loop waits.
        serving.server.forget_below(round.number);
    }
    let status = RoundStatus::try_from(round.status).unwrap_or(RoundStatus::Unspecified);
    let shards = round.params.as_ref().map_or(0, |p| p.max_contributions);
    if round.base_version > snap.head.version {
        // The round is newer than the head read a moment ago: the chain
        // moved on between the two queries. Read both again a block later,
        // without calling it a wait.
        wait_next_block(chain)?;
        return Ok(Outcome::Waited);
    }
    let wait = if status != RoundStatus::Open {
        Some(format!(
            "round {} is {}",
            round.number,
            status.as_str_name().trim_start_matches("ROUND_STATUS_")
        ))
    } else if round.base_version != snap.head.version
        || round.base_weights_sha256 != snap.head.weights_sha256
    {
        Some(format!(
            "round {} trains from v{}, the head is v{}",
            round.number, round.base_version, snap.head.version
        ))
    } else if shards == 0 {
        Some(format!("round {} has no shards", round.number))
    } else if pick_shard(&round, &key.address).is_none() {
        Some(format!("round {}: all {shards} shards taken", round.number))
    } else if cache.contributed_in == Some(round.number)
        || contributed(chain, &round, &key.address)?
    {
        cache.contributed_in = Some(round.number);
        Some(format!("round {}: contributed already", round.number))
    } else {
        None
    };
    let shard = match (wait, pick_shard(&round, &key.address)) {
        (None, Some(shard)) => shard,
        (why, _) => {
            let why = why.unwrap_or_else(|| format!("round {}: no free shard", round.number));
            if cache.waiting.as_deref() != Some(why.as_str()) {
                report(&format!("{why}; waiting for the next round"));
                cache.waiting = Some(why);
            }
            wait_next_block(chain)?;
            return Ok(Outcome::Waited);
        }
    };
    cache.waiting = None;
    let label = format!("round {} shard {shard}/{shards}", round.number);
    match held_claim(&round, &key.address) {
        Some(claim) => report(&format!(
            "{label}: claimed at height {} already; training it",
            claim.height
        )),
        None if cache.claims_unsupported => {}
        None => {
            let claim = MsgClaimShard {
                trainer: key.address.clone(),
                model_id: model_id.to_string(),
                round: round.number,
                shard,
            };
            if let Some(outcome) = claim_shard(chain, key, cache, &claim, &label, report)? {
                return Ok(outcome);
            }
        }
    }
    contribute(
        chain,
        key,
        config,
        cache,
        snap,
        &round,
        Contribution { shard, shards },
        summary,
        report,
    )
}

/// Sends `claim`; `None` when the shard is this trainer's to train (claimed
/// now, or the chain takes no claims), else how the attempt ended: refused,
/// with no training, the round to be read again a block later.
fn claim_shard(
    chain: &ChainClient,
    key: &Key,
    cache: &mut Cache,
    claim: &MsgClaimShard,
    label: &str,
    report: &mut dyn FnMut(&str),
) -> Result<Option<Outcome>, LoopError> {
    let result = chain.claim_shard(key, claim)?;
    if result.is_ok() {
        report(&format!("{label}: claimed at height {}", result.height));
        return Ok(None);
    }
    // umd before claims: it has no MsgClaimShard, but trains rounds as
    // before, so training unclaimed still works there.
    let unknown = result.code == Code::UnknownMessage.value()
        && (result.codespace.is_empty() || result.codespace == um_client::codes::CODESPACE);
    if unknown {
        cache.claims_unsupported = true;
        report(&format!(
            "{label}: the chain takes no shard claims ({}); training shards unclaimed",
            refusal(&result)
        ));
        return Ok(None);
    }
    report(&format!(
        "{label}: claim {}; reading the round again",
        refusal(&result)
    ));
    // A block later, like a refused submission: the round read again then
    // shows the claim that won, or the round's new state.
    wait_next_block(chain)?;
    Ok(Some(Outcome::Refused))
}

/// The shard a contribution trains.
#[derive(Debug, Clone, Copy)]
struct Contribution {
    shard: u32,
    shards: u32,
}

/// Trains `pick.shard` of `round`, submits it, waits for the round's
/// decision and reports it.
#[allow(clippy::too_many_arguments)]
fn contribute(
    chain: &ChainClient,
    key: &Key,
    config: &LoopConfig,
    cache: &mut Cache,
    snap: &Snapshot,
    round: &proto::Round,
    pick: Contribution,
    summary: &mut LoopSummary,
    report: &mut dyn FnMut(&str),
) -> Result<Outcome, LoopError> {
    let model_id = snap.lineage.model_id.as_str();
    let (Some((_, base)), Some((_, dataset))) = (&cache.weights, &cache.dataset) else {
        return Err(lineage_problem(model_id, "nothing fetched"));
    };
    let hyper = snap
        .lineage
        .hyperparams
        .as_ref()
        .ok_or_else(|| lineage_problem(model_id, "the lineage has no hyperparameters"))?;
    let hyper = Hyperparams::from_proto(hyper).map_err(|e| lineage_problem(model_id, e))?;
    let train = hyper
        .train_params()
        .map_err(|e| lineage_problem(model_id, e))?;
    let seed: [u8; 32] = round.seed.as_slice().try_into().map_err(|_| {
        lineage_problem(
            model_id,
            format!(
                "round {} has a seed of {} bytes, not 32",
                round.number,
                round.seed.len()
            ),
        )
    })?;
    let shard = RoundShard {
        round: round.number,
        seed,
        shard: pick.shard,
        shards: pick.shards,
    };
    let label = format!(
        "round {} shard {}/{}",
        round.number, pick.shard, pick.shards
    );

    // The round's own parameters, as the chain checks the submission
    // against them (N − 1 checkpoints exactly).
    let checkpoint_interval = round.params.as_ref().map_or(0, |p| p.checkpoint_interval);
    let started = Instant::now();
    let out = run_step_checkpointed(
        &StepRequest {
            spec: &snap.spec,
            base_weights: base,
            trainer: &key.address,
            nonce: 0,
            params: train,
            dataset,
        },
        Some(&shard),
        checkpoint_interval,
        config.device,
        MAX_STEP_TIME,
        |_, _| std::ops::ControlFlow::Continue(()),
    )?;
    let compression = Compression::parse(round.params.as_ref().map_or("", |p| &p.compression))
        .map_err(|e| lineage_problem(model_id, e))?;
    // What is sent: the weights, or in a compressed round the payload of
    // the pseudo-gradient, and the weights it stands for once decoded.
    let (sent, model) = if compression == Compression::F32 {
        let model = Model::from_safetensors(&snap.spec, &out.weights, config.device)?;
        (out.weights, model)
    } else {
        let decode = |bytes: &[u8]| {
            Weights::decode(&snap.spec, bytes).map_err(|e| LoopError::Model(e.into()))
        };
        let base_weights = decode(base)?;
        let delta = compress::delta(&base_weights, &decode(&out.weights)?)?;
        let encoder = match &mut cache.encoder {
            Some(encoder) if encoder.scheme() == compression => encoder,
            other => other.insert(Encoder::new(compression)),
        };
        let payload = encoder.encode(&delta)?;
        let decoded = compress::apply(
            &base_weights,
            &compress::decode(&snap.spec, compression, &payload)?,
        )?;
        let mut model = Model::zeros(&snap.spec, config.device).map_err(ModelError::from)?;
        model.load_weights(&decoded).map_err(ModelError::from)?;
        (payload, model)
    };
    // The claim the chain records; the merge, not this number, decides.
    let new = evaluate(&model, dataset.validation())?;
    // Served only when there is something to serve: a round without
    // checkpoints gets the plain form.
    let serving = config
        .checkpoints
        .as_ref()
        .filter(|_| !out.checkpoints.is_empty());
    let checkpoints = match (out.checkpoints.len(), serving) {
        (0, _) => String::new(),
        (n, None) => format!(", {n} checkpoints every {checkpoint_interval} steps"),
        (n, Some(serving)) => format!(
            ", {n} checkpoints every {checkpoint_interval} steps, served at {}",
            serving.source
        ),
    };
    let sent_as = match compression {
        Compression::F32 => String::new(),
        scheme => format!(", sent as {} ({} bytes)", scheme.name(), sent.len()),
    };
    report(&format!(
        "{label}: {model_id} v{} → train loss {:.4}, validation loss {:.4}, accuracy {:.4}, {} ms{checkpoints}{sent_as}",
        snap.head.version,
        out.mean_train_loss,
        new.loss,
        new.accuracy,
        started.elapsed().as_millis()
    ));

    // Served before the tx is sent: validators may fetch as soon as it is
    // in a block, before this loop hears back.
    let (checkpoints, checkpoint_hashes, checkpoint_source) = match serving {
        Some(serving) => (
            Vec::new(),
            out.checkpoints
                .into_iter()
                .map(|bytes| serving.server.put(round.number, bytes).to_vec())
                .collect(),
            serving.source.clone(),
        ),
        None => (out.checkpoints, Vec::new(), String::new()),
    };
    let msg = MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: model_id.to_string(),
        base_version: snap.head.version,
        dataset_version: snap.dataset_version,
        nonce: 0,
        claimed_train_loss: out.mean_train_loss as f32,
        claimed_validation_loss: new.loss as f32,
        weights: sent,
        hyperparams_sha256: snap.hyperparams_sha256.clone(),
        dataset_root: snap.dataset_root.clone(),
        round: round.number,
        shard: pick.shard,
        checkpoints,
        checkpoint_hashes,
        checkpoint_source,
    };
    let gas = config
        .gas_limit
        .unwrap_or_else(|| submit_gas(stored_bytes(&msg)));
    let result = chain.submit_update(key, &msg, gas)?;
    if !result.is_ok() {
        report(&format!(
            "{label}: {}; reading the round again",
            refusal(&result)
        ));
        // The next attempt reads the round again: a block later, so a
        // refusal that persists is not retried in a tight loop. The round's
        // served checkpoints stay: a refusal ("already contributed") may
        // follow a submission to this round whose answer was lost, and that
        // contribution's checkpoints are among them.
        wait_next_block(chain)?;
        return Ok(Outcome::Refused);
    }
    let id = update_id(&result).ok_or_else(|| LoopError::NoUpdateId {
        hash: result.hash.clone(),
    })?;
    report(&format!(
        "{label}: contribution {id} submitted at height {} (tx {}, gas {}/{})",
        result.height, result.hash, result.gas_used, gas
    ));
    cache.contributed_in = Some(round.number);
    // A round's deadline starts with its first contribution: this one's,
    // when the round had none when it was read.
    let round_blocks = round.params.as_ref().map_or(0, |p| p.round_blocks);
    let deadline = round
        .closes_height
        .max(result.height.saturating_add(round_blocks))
        .saturating_add(config.timeout_blocks);
    // An undecided round keeps its checkpoints: it may still be open or
    // evaluating. The next contribution, to a later round, forgets them.
    let Some(decided) = wait_round_decided(chain, model_id, round.number, deadline)? else {
        report(&format!(
            "{label}: round {} undecided at height {deadline}; moving on",
            round.number
        ));
        return Ok(Outcome::Undecided);
    };
    if let Some(serving) = &config.checkpoints {
        serving.server.forget_below(round.number.saturating_add(1));
    }
    summary.rounds += 1;
    report_round(chain, cache, model_id, &decided, id, summary, report)
}

/// The bytes the chain stores for `msg`, which size its default gas: the
/// weights and the checkpoints in the tx (charged alike, with the tx bytes
/// they fill), or, for served checkpoints, their 32-byte hashes and the
/// source.
fn stored_bytes(msg: &MsgSubmitUpdate) -> usize {
    let inline = msg
        .checkpoints
        .iter()
        .fold(msg.weights.len(), |sum, c| sum.saturating_add(c.len()));
    inline
        .saturating_add(32usize.saturating_mul(msg.checkpoint_hashes.len()))
        .saturating_add(msg.checkpoint_source.len())
}

/// Polls round `number` once per block until it is closed or a newer round
/// is current; `None` once `deadline` has passed without that.
fn wait_round_decided(
    chain: &ChainClient,
    model_id: &str,
    number: u64,
    deadline: u64,
) -> Result<Option<proto::Round>, LoopError> {
    loop {
        let round = chain.round(model_id, number)?;
        if round.status == RoundStatus::Closed as i32 || chain.round(model_id, 0)?.number > number {
            return Ok(Some(round));
        }
        if chain.latest_height()? >= deadline {
            return Ok(None);
        }
        wait_next_block(chain)?;
    }
}

/// "tx refused (code C[, codespace]): log" for the progress line.
fn refusal(result: &um_client::rpc::TxResult) -> String {
    let codespace = if result.codespace.is_empty() {
        String::new()
    } else {
        format!(", {}", result.codespace)
    };
    format!(
        "tx refused (code {}{codespace}): {}",
        result.code, result.log
    )
}

/// " | earned X NRN" (net of fees) for the progress line, when the loop
/// reads balances.
fn earned_note(cache: &Cache, chain: &ChainClient) -> String {
    cache
        .earnings
        .as_ref()
        .and_then(|earnings| earnings.earned(chain))
        .map(|micro| {
            format!(
                " | earned {}.{:06} NRN",
                micro / 1_000_000,
                micro % 1_000_000
            )
        })
        .unwrap_or_default()
}

/// The progress line of a decided round this trainer contributed `id` to,
/// and what it means for the contribution.
fn report_round(
    chain: &ChainClient,
    cache: &Cache,
    model_id: &str,
    round: &proto::Round,
    id: u64,
    summary: &LoopSummary,
    report: &mut dyn FnMut(&str),
) -> Result<Outcome, LoopError> {
    // The candidate names the contributions it merged (MERGED), or the one
    // it took (BEST_CONTRIBUTION).
    let candidate = match round.candidate_update_id {
        0 => None,
        candidate => chain.update(candidate)?.update,
    };
    let ours = chain.update(id)?.update;
    let outcome = round.outcome.as_str();
    let merged = match outcome {
        "MERGED" => candidate
            .as_ref()
            .map_or(round.contributions.len(), |c| c.contributions.len()),
        "BEST_CONTRIBUTION" => 1,
        _ => 0,
    };
    let ours_status = ours
        .as_ref()
        .and_then(|u| UpdateStatus::try_from(u.status).ok())
        .unwrap_or(UpdateStatus::Unspecified);
    let in_version = round.version != 0
        && (ours_status == UpdateStatus::Accepted
            || round.candidate_update_id == id
            || candidate
                .as_ref()
                .is_some_and(|c| c.contributions.contains(&id)));
    let fraud = ours_status == UpdateStatus::Rejected
        && ours
            .as_ref()
            .is_some_and(|u| u.reason != NOT_MERGED && !u.reason.is_empty());
    let head = chain.head(model_id)?;
    let height = chain.latest_height().unwrap_or(round.closed_height);
    let earned = earned_note(cache, chain);
    let why = ours
        .as_ref()
        .filter(|u| !u.reason.is_empty())
        .map(|u| format!(" ({})", u.reason))
        .unwrap_or_default();
    let slashed = if ours.as_ref().is_some_and(|u| u.slashed) {
        ", slashed"
    } else {
        ""
    };
    let (accepted, rejected) = match (in_version, fraud) {
        (true, _) => (summary.accepted + 1, summary.rejected),
        (false, true) => (summary.accepted, summary.rejected + 1),
        _ => (summary.accepted, summary.rejected),
    };
    report(&format!(
        "height {height} | {model_id} round {} {} | {merged} contributions merged | contribution {id} {}{why}{slashed} | head v{} val loss {:.4} | accuracy {:.4} | accepted {accepted} rejected {rejected}{earned}",
        round.number,
        if outcome.is_empty() { "DECIDED" } else { outcome },
        ours_status.as_str_name().trim_start_matches("UPDATE_STATUS_"),
        head.version,
        head.validation_loss,
        head.validation_accuracy,
    ));
    Ok(if in_version {
        Outcome::Accepted {
            accuracy: f64::from(head.validation_accuracy),
            loss: f64::from(head.validation_loss),
            version: head.version,
        }
    } else if fraud {
        Outcome::Rejected
    } else {
        Outcome::NotMerged
    })
}

/// NRN the trainer gained since the loop started: its cw20 balance on the
/// registered token now minus then. Absent when the chain has no
/// governance suite (nothing is minted there either).
struct Earnings {
    address: String,
    start: Option<u128>,
}

impl Earnings {
    fn start(chain: &ChainClient, address: &str) -> Self {
        Self {
            address: address.to_string(),
            start: chain.nrn_balance(address).ok().flatten(),
        }
    }

    fn earned(&self, chain: &ChainClient) -> Option<u128> {
        let now = chain.nrn_balance(&self.address).ok().flatten()?;
        Some(now.saturating_sub(self.start?))
    }
}

/// The base's validation loss as the validators take it: the chain's record
/// for versions after 0, measured here for version 0.
fn base_loss(
    snap: &Snapshot,
    base: &[u8],
    dataset: &Dataset,
    device: Device,
    cached: &mut Option<(Vec<u8>, f64)>,
) -> Result<f64, LoopError> {
    // The validators compare on the update's dataset version; the head's
    // recorded loss is from the version it was accepted on.
    if snap.head.version > 0
        && snap.head.dataset_version == snap.dataset_version
        && snap.head.validation_loss.is_finite()
    {
        return Ok(f64::from(snap.head.validation_loss));
    }
    let key = [snap.head.weights_sha256.as_slice(), &snap.dataset_root].concat();
    if let Some((cached_key, loss)) = cached {
        if *cached_key == key {
            return Ok(*loss);
        }
    }
    let model = Model::from_safetensors(&snap.spec, base, device)?;
    let loss = evaluate(&model, dataset.validation())?.loss;
    *cached = Some((key, loss));
    Ok(loss)
}

/// Polls the update once per block until it is decided or `timeout_blocks`
/// blocks have passed since `submitted_height`.
fn wait_decided(
    chain: &ChainClient,
    update_id: u64,
    submitted_height: u64,
    timeout_blocks: u64,
) -> Result<proto::Update, LoopError> {
    let deadline = submitted_height.saturating_add(timeout_blocks);
    loop {
        let update = chain.update(update_id)?.update.ok_or(ChainError::Missing {
            path: crate::chain::UPDATE_PATH,
            field: "update",
        })?;
        if update.status != UpdateStatus::Pending as i32 {
            return Ok(update);
        }
        let height = chain.latest_height()?;
        if height >= deadline {
            return Ok(update);
        }
        // A chain that makes no block for a minute is as good as unreachable.
        chain
            .rpc()
            .wait_for_height(height + 1, Duration::from_secs(60))
            .map_err(|e| ChainError::Unreachable(e.to_string()))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::fake::FakeChain;
    use crate::chain::RECORDS_PATH;
    use crate::step::run_round_step;
    use crate::weights::Weights;

    const SPEC: &str = r#"{"kind":"mlp","input":[784],"hidden":[16],"classes":10}"#;
    /// The faucet mnemonic of CosmJS's test chains.
    const PHRASE: &str = "economy stock theory fatal elder harbor betray wasp final emotion task crumble siren bottom lizard educate guess current outdoor pair theory focus wife stone";

    fn setup() -> (FakeChain, Key, Vec<u8>, Dataset) {
        let spec = ModelSpec::parse(SPEC).unwrap();
        let base = Weights::init(&spec, 1).encode();
        let dataset = crate::testutil::small_mnist().truncated(660, 90);
        let hyper = proto::Hyperparams {
            learning_rate: "0.1".into(),
            batch_size: 32,
            local_steps: 3,
            verification_tolerance: "0.000001".into(),
            min_improvement: "0".into(),
            reward_per_update: "1".into(),
            reward_halving_interval: 0,
        };
        let fake = FakeChain::start("mnist-mlp", SPEC, hyper, base.clone(), &dataset);
        (
            fake,
            Key::from_mnemonic("alice", PHRASE).unwrap(),
            base,
            dataset,
        )
    }

    fn config(updates: u64, max_failures: u64) -> LoopConfig {
        LoopConfig {
            model_id: "mnist-mlp".into(),
            updates,
            nonce_start: 100,
            timeout_blocks: 20,
            gas_limit: None,
            max_failures,
            device: Device::Cpu,
            target_accuracy: None,
            target_loss: None,
            sample_every: 0,
            checkpoints: None,
        }
    }

    #[test]
    fn stops_at_the_target_accuracy() {
        let (fake, key, _, _) = setup();
        let chain = ChainClient::new(&fake.url);
        let mut config = config(5, 5);
        config.target_accuracy = Some(0.0);
        let summary = run(&chain, &key, &config, &mut |_| {}).unwrap();
        assert_eq!(summary.accepted, 1, "any accuracy meets a target of 0");
        assert!(summary.last_accuracy.is_some());
        config.target_accuracy = Some(1.1);
        config.updates = 2;
        let summary = run(&chain, &key, &config, &mut |_| {}).unwrap();
        assert_eq!(
            summary.accepted, 2,
            "an unreachable target leaves --updates in charge"
        );
        // A loss target: any loss meets one of 100, none one of 0.
        config.target_accuracy = None;
        config.updates = 5;
        config.target_loss = Some(100.0);
        let summary = run(&chain, &key, &config, &mut |_| {}).unwrap();
        assert_eq!(summary.accepted, 1);
        assert!(summary.last_loss.is_some_and(|l| l > 0.0 && l <= 100.0));
        config.target_loss = Some(0.0);
        config.updates = 2;
        let summary = run(&chain, &key, &config, &mut |_| {}).unwrap();
        assert_eq!(summary.accepted, 2);
        // An MLP lineage has no text to show: the line says why.
        config.target_loss = None;
        config.updates = 1;
        config.sample_every = 1;
        let mut lines = Vec::new();
        run(&chain, &key, &config, &mut |l| lines.push(l.to_string())).unwrap();
        let line = lines.iter().find(|l| l.starts_with("sample v")).unwrap();
        assert!(line.contains("not a language model"), "{line}");
    }

    #[test]
    fn submits_honest_steps_until_enough_are_accepted() {
        let (fake, key, base, dataset) = setup();
        fake.state().reject.insert(2);
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(2, 5), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.rejected), (2, 1), "{log}");
        assert_eq!(summary.refused + summary.undecided, 0, "{log}");
        assert_eq!(summary.next_nonce, 100 + 3 + summary.skipped, "{log}");
        assert!(log.contains("update 1 ACCEPTED"), "{log}");
        assert!(
            log.contains("update 2 REJECTED (VERDICT_REASON_WEIGHTS_MISMATCH"),
            "{log}"
        );
        assert!(log.contains("mnist-mlp v2 | update 3 ACCEPTED"), "{log}");
        assert!(log.contains("accepted 2 rejected 1"), "{log}");

        let state = fake.state();
        let sent = &state.submitted;
        assert_eq!(sent.len(), 3);
        assert!(sent.windows(2).all(|w| w[0].nonce < w[1].nonce));
        assert_eq!(
            sent.iter().map(|m| m.base_version).collect::<Vec<_>>(),
            [0, 1, 1],
            "the rejected update did not move the head"
        );
        assert!(sent
            .iter()
            .all(|m| m.trainer == key.address && m.dataset_version == 2));
        // The first submission is exactly the step the validators re-execute.
        let spec = ModelSpec::parse(SPEC).unwrap();
        let params = Hyperparams::from_proto(state.lineage.hyperparams.as_ref().unwrap())
            .unwrap()
            .train_params()
            .unwrap();
        let expected = run_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: &key.address,
                nonce: sent[0].nonce,
                params,
                dataset: &dataset,
            },
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(sent[0].weights, expected.weights);
        assert_eq!(sent[0].claimed_train_loss, expected.mean_train_loss as f32);
        // Each accepted version lowered the validation loss.
        assert!(sent[2].claimed_validation_loss <= sent[0].claimed_validation_loss);
        assert_eq!(state.versions.len(), 3);
        drop(state);
        assert_eq!(fake.count(RECORDS_PATH), 3, "the dataset was fetched once");
    }

    /// The preferred shard computed here from the rule, not with the loop's code.
    fn expected_preferred(seed: &[u8], address: &str, shards: u32) -> u32 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest([seed, address.as_bytes()].concat());
        u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % shards
    }

    /// An open round of four shards whose seed is 32 bytes of `seed`.
    fn round_of_four(seed: u8) -> proto::Round {
        proto::Round {
            seed: vec![seed; 32],
            params: Some(proto::RoundParams {
                max_contributions: 4,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn current_seed(fake: &FakeChain) -> Vec<u8> {
        fake.state().rounds.last().unwrap().seed.clone()
    }

    #[test]
    fn shards_are_picked_from_the_preferred_one_up() {
        let mut round = round_of_four(3);
        let me = "um1me";
        let p = expected_preferred(&round.seed, me, 4);
        assert_eq!(preferred_shard(&round.seed, me, 4), p);
        assert_eq!(pick_shard(&round, me), Some(p));
        round.shards = vec![p, (p + 1) % 4];
        assert_eq!(pick_shard(&round, me), Some((p + 2) % 4), "cyclically up");
        round.shards = vec![(p + 3) % 4, p, (p + 2) % 4, (p + 1) % 4];
        assert_eq!(pick_shard(&round, me), None, "full");
        round.params = None;
        assert_eq!(pick_shard(&round, me), None);
        // Different trainers spread over the shards.
        let spread: std::collections::BTreeSet<u32> = (0..40)
            .map(|i| preferred_shard(&[3; 32], &format!("um1trainer{i}"), 4))
            .collect();
        assert_eq!(spread.len(), 4);
    }

    #[test]
    fn claimed_shards_are_skipped_and_a_held_claim_comes_first() {
        let claim = |shard: u32, trainer: &str| proto::ShardClaim {
            shard,
            trainer: trainer.into(),
            height: 12,
        };
        let mut round = round_of_four(5);
        let me = "um1me";
        let p = expected_preferred(&round.seed, me, 4);
        round.claims = vec![claim(p, "um1other")];
        assert_eq!(pick_shard(&round, me), Some((p + 1) % 4));
        assert_eq!(held_claim(&round, me), None);
        // Claimed by one, contributed by another: both skipped.
        round.shards = vec![(p + 1) % 4];
        assert_eq!(pick_shard(&round, me), Some((p + 2) % 4));
        // This trainer's own claim wins over its preferred shard.
        round.claims.push(claim((p + 3) % 4, me));
        assert_eq!(pick_shard(&round, me), Some((p + 3) % 4));
        assert_eq!(held_claim(&round, me).map(|c| c.height), Some(12));
        // Once contributed, the claim is spent.
        round.shards.push((p + 3) % 4);
        assert_eq!(held_claim(&round, me), None);
        assert_eq!(pick_shard(&round, me), Some((p + 2) % 4));
        round.claims.push(claim((p + 2) % 4, "um1third"));
        assert_eq!(pick_shard(&round, me), None, "taken or claimed");
    }

    #[test]
    fn round_mode_trains_the_preferred_free_shard_and_reports_the_merge() {
        let (fake, key, base, dataset) = setup();
        fake.open_rounds(4, 30);
        let seed = current_seed(&fake);
        let preferred = expected_preferred(&seed, &key.address, 4);
        // Someone was quicker on the preferred shard.
        fake.state().take_shard(preferred, "um1other");
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.rounds), (1, 1), "{log}");
        assert_eq!(summary.next_nonce, 100, "no nonce is used in round mode");
        assert!(log.contains("collaborative rounds of up to 4"), "{log}");

        let state = fake.state();
        assert_eq!(state.submitted.len(), 1, "{log}");
        let sent = &state.submitted[0];
        let shard = (preferred + 1) % 4;
        assert_eq!((sent.round, sent.shard, sent.nonce), (1, shard, 0));
        assert_eq!(sent.base_version, 0);
        assert_eq!(sent.dataset_version, 2);
        assert_eq!(sent.dataset_root, dataset.root().to_vec());
        assert_eq!(
            sent.hyperparams_sha256,
            state.lineage.hyperparams.as_ref().unwrap().sha256()
        );
        // Exactly the contribution the validators re-execute.
        let spec = ModelSpec::parse(SPEC).unwrap();
        let params = Hyperparams::from_proto(state.lineage.hyperparams.as_ref().unwrap())
            .unwrap()
            .train_params()
            .unwrap();
        let expected = run_round_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: "anyone: the shard decides",
                nonce: 0,
                params,
                dataset: &dataset,
            },
            &RoundShard {
                round: 1,
                seed: seed.as_slice().try_into().unwrap(),
                shard,
                shards: 4,
            },
            Device::Cpu,
        )
        .unwrap();
        assert_eq!(sent.weights, expected.weights);
        assert_eq!(sent.claimed_train_loss, expected.mean_train_loss as f32);
        assert!(sent.claimed_validation_loss.is_finite());
        assert!(
            log.contains(&format!(
                "round 1 shard {shard}/4: contribution 2 submitted"
            )),
            "{log}"
        );
        assert!(
            log.contains(
                "mnist-mlp round 1 MERGED | 2 contributions merged | contribution 2 ACCEPTED | head v1 val loss 0.2500 | accuracy 0.7500"
            ),
            "{log}"
        );
        assert_eq!(state.rounds.len(), 2, "round 2 opened from the merge");
        let claimed: Vec<(u64, u32)> = state
            .claims_sent
            .iter()
            .map(|(c, _)| (c.round, c.shard))
            .collect();
        assert_eq!(claimed, [(1, shard)], "{log}");
    }

    /// A compressed round: the contribution is the payload of its
    /// pseudo-gradient, which decodes (as the merge and the verifiers
    /// decode it) to the re-executed step's weights up to the scheme's
    /// loss; the second contribution carries the first's error feedback.
    #[test]
    fn compressed_rounds_send_the_payload_of_the_pseudo_gradient() {
        use um_formats::compress::{self, Compression};
        let (fake, key, base, dataset) = setup();
        fake.open_compressed_rounds(1, 30, "topk");
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(2, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!(summary.accepted, 2, "{log}");
        let spec = ModelSpec::parse(SPEC).unwrap();
        let state = fake.state();
        let sent = &state.submitted;
        assert_eq!(sent.len(), 2, "{log}");
        let topk_len = Compression::TopK.payload_len(&spec) as usize;
        assert!(sent.iter().all(|s| s.weights.len() == topk_len));
        assert!(
            topk_len * 30 < base.len(),
            "{topk_len} bytes vs {} of f32 weights",
            base.len()
        );
        assert!(
            log.contains(&format!("sent as topk ({topk_len} bytes)")),
            "{log}"
        );

        // The first payload against the step the validators re-execute.
        let params = Hyperparams::from_proto(state.lineage.hyperparams.as_ref().unwrap())
            .unwrap()
            .train_params()
            .unwrap();
        let round = &state.rounds[0];
        let expected = run_round_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: "anyone",
                nonce: 0,
                params,
                dataset: &dataset,
            },
            &RoundShard {
                round: 1,
                seed: round.seed.as_slice().try_into().unwrap(),
                shard: 0,
                shards: 1,
            },
            Device::Cpu,
        )
        .unwrap();
        let base_weights = Weights::decode(&spec, &base).unwrap();
        let recomputed = compress::delta(
            &base_weights,
            &Weights::decode(&spec, &expected.weights).unwrap(),
        )
        .unwrap();
        let first = compress::decode(&spec, Compression::TopK, &sent[0].weights).unwrap();
        let cosine = compress::cosine(&first, &recomputed);
        assert!(
            cosine >= crate::verify::MIN_TOPK_COSINE,
            "cosine {cosine} with the re-executed step"
        );
        eprintln!("first contribution: cosine {cosine:.3} with the re-executed pseudo-gradient");
        // The round's merge made version 1 from the decoded payload.
        let v1 = &state.versions[1];
        let merged = Weights::decode(&spec, &state.blobs[&v1.weights_sha256]).unwrap();
        assert_eq!(merged, compress::apply(&base_weights, &first).unwrap());
        // Error feedback: the second payload is not what a fresh encoder
        // makes of its own step, and still points its way.
        assert_eq!(sent[1].base_version, 1);
        let v1_bytes = merged.encode();
        let second = run_round_step(
            &StepRequest {
                spec: &spec,
                base_weights: &v1_bytes,
                trainer: "anyone",
                nonce: 0,
                params,
                dataset: &dataset,
            },
            &RoundShard {
                round: 2,
                seed: state.rounds[1].seed.as_slice().try_into().unwrap(),
                shard: 0,
                shards: 1,
            },
            Device::Cpu,
        )
        .unwrap();
        let delta2 =
            compress::delta(&merged, &Weights::decode(&spec, &second.weights).unwrap()).unwrap();
        let fresh = compress::Encoder::new(Compression::TopK)
            .encode(&delta2)
            .unwrap();
        assert_ne!(
            fresh, sent[1].weights,
            "the residual of the first was added"
        );
        let decoded2 = compress::decode(&spec, Compression::TopK, &sent[1].weights).unwrap();
        let cosine2 = compress::cosine(&decoded2, &delta2);
        eprintln!("second contribution: cosine {cosine2:.3}");
        assert!(cosine2 >= crate::verify::MIN_TOPK_COSINE, "{cosine2}");
    }

    /// The type URLs, rounds, shards and codes of the txs the fake got.
    fn delivered(fake: &FakeChain) -> Vec<(&'static str, u64, u32, u32)> {
        fake.state()
            .delivered
            .iter()
            .map(|(url, round, shard, code)| {
                let kind = match url.as_str() {
                    crate::chain::CLAIM_SHARD_TYPE_URL => "claim",
                    crate::chain::SUBMIT_UPDATE_TYPE_URL => "submit",
                    _ => "other",
                };
                (kind, *round, *shard, *code)
            })
            .collect()
    }

    /// Lines of `log` that report a training (one per step run).
    fn trainings(log: &str) -> Vec<&str> {
        log.lines().filter(|l| l.contains("train loss")).collect()
    }

    #[test]
    fn round_mode_claims_the_shard_before_training_it() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(4, 30);
        let p = expected_preferred(&current_seed(&fake), &key.address, 4);
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.refused), (1, 0), "{log}");
        assert_eq!(
            delivered(&fake),
            [("claim", 1, p, 0), ("submit", 1, p, 0)],
            "{log}"
        );
        let state = fake.state();
        let (claim, gas) = &state.claims_sent[0];
        assert_eq!(
            *claim,
            MsgClaimShard {
                trainer: key.address.clone(),
                model_id: "mnist-mlp".into(),
                round: 1,
                shard: p,
            }
        );
        assert_eq!(*gas, crate::chain::CLAIM_SHARD_GAS, "not the submission's");
        let recorded = &state.rounds[0].claims;
        assert_eq!(recorded.len(), 1);
        assert_eq!(
            (recorded[0].shard, recorded[0].trainer.as_str()),
            (p, key.address.as_str())
        );
        // The claim's line, then the training's, on the same shard.
        let label = format!("round 1 shard {p}/4: ");
        let claimed = format!("{label}claimed at height {}", recorded[0].height);
        let at = |needle: &str| lines.iter().position(|l| l.starts_with(needle));
        let claimed_at = at(&claimed).expect(&log);
        let trained_at = at(&format!("{label}mnist-mlp v0 → train loss")).expect(&log);
        let submitted_at = at(&format!("{label}contribution 1 submitted")).expect(&log);
        assert!(
            claimed_at < trained_at && trained_at < submitted_at,
            "{log}"
        );
        assert_eq!(trainings(&log).len(), 1, "{log}");
        // The claim started the round's deadline, as umd does.
        assert_eq!(state.rounds[0].closes_height, recorded[0].height + 30);
    }

    #[test]
    fn round_mode_skips_a_shard_claimed_by_another_trainer() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(4, 30);
        let p = expected_preferred(&current_seed(&fake), &key.address, 4);
        // Claimed, not contributed: the shard is free by `Round.shards`.
        fake.state().claim_for(p, "um1other");
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.refused), (1, 0), "{log}");
        let next = (p + 1) % 4;
        assert_eq!(
            delivered(&fake),
            [("claim", 1, next, 0), ("submit", 1, next, 0)],
            "{log}"
        );
        assert!(!log.contains(&format!("shard {p}/4")), "{log}");
        assert!(
            log.contains(&format!("round 1 shard {next}/4: claimed at height")),
            "{log}"
        );
        assert_eq!(trainings(&log).len(), 1, "{log}");
    }

    #[test]
    fn round_mode_a_refused_claim_costs_no_training() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(3, 20);
        let p = expected_preferred(&current_seed(&fake), &key.address, 3);
        // Another trainer's claim on the same shard lands first.
        fake.state().steal_next_claim = true;
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 5), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.refused, summary.accepted), (1, 1), "{log}");
        let next = (p + 1) % 3;
        assert!(
            log.contains(&format!(
                "round 1 shard {p}/3: claim tx refused (code 14, um): shard {p} of round 1 is taken; pick a free one; reading the round again"
            )),
            "{log}"
        );
        assert_eq!(
            delivered(&fake),
            [
                ("claim", 1, p, 14),
                ("claim", 1, next, 0),
                ("submit", 1, next, 0)
            ],
            "{log}"
        );
        // One training, of the shard claimed second: none for the refusal.
        let trained = trainings(&log);
        assert_eq!(trained.len(), 1, "{log}");
        assert!(
            trained[0].starts_with(&format!("round 1 shard {next}/3: ")),
            "{log}"
        );
        // The round was read again after the refusal: the thief's claim is
        // why the second pick is the next shard up.
        let state = fake.state();
        let claims: Vec<(u32, &str)> = state.rounds[0]
            .claims
            .iter()
            .map(|c| (c.shard, c.trainer.as_str()))
            .collect();
        assert_eq!(claims, [(p, "um1thief"), (next, key.address.as_str())]);
    }

    /// A trainer the chain refuses every claim (not bonded) never trains,
    /// and gives up like after refused submissions.
    #[test]
    fn round_mode_an_unbonded_trainer_trains_nothing() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(2, 20);
        fake.state().unbonded.insert(key.address.clone());
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let err = run(&chain, &key, &config(1, 2), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap_err();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert!(
            matches!(&err, LoopError::GivingUp { failures: 2, last } if last == "refused"),
            "{err:?}"
        );
        assert_eq!(log.matches("is not bonded").count(), 2, "{log}");
        assert!(trainings(&log).is_empty(), "{log}");
        assert!(fake.state().submitted.is_empty());
    }

    /// After a restart, or a claim whose answer was lost: the chain holds
    /// this trainer's claim, which is trained without a second claim (the
    /// chain would refuse it).
    #[test]
    fn round_mode_trains_a_shard_it_claimed_before_without_claiming_again() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(4, 30);
        let p = expected_preferred(&current_seed(&fake), &key.address, 4);
        let held = (p + 2) % 4;
        let height = {
            let mut state = fake.state();
            state.claim_for(held, &key.address);
            state.height
        };
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.refused), (1, 0), "{log}");
        assert_eq!(delivered(&fake), [("submit", 1, held, 0)], "{log}");
        assert!(fake.state().claims_sent.is_empty(), "{log}");
        assert!(
            log.contains(&format!(
                "round 1 shard {held}/4: claimed at height {height} already; training it"
            )),
            "{log}"
        );
        assert_eq!(trainings(&log).len(), 1, "{log}");
    }

    /// A round that asks for checkpoints gets N − 1 of them, the weights
    /// after every `c` steps of the contribution it gets.
    #[test]
    fn round_mode_sends_the_checkpoints_the_round_asks_for() {
        let (fake, key, base, dataset) = setup();
        // 3 local steps, a checkpoint every step: N = 3 segments, 2 checkpoints.
        fake.open_rounds_with_checkpoints(2, 30, 1);
        let seed = current_seed(&fake);
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 3), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!(summary.accepted, 1, "{log}");
        assert!(log.contains("2 checkpoints every 1 steps"), "{log}");

        let state = fake.state();
        let sent = &state.submitted[0];
        let spec = ModelSpec::parse(SPEC).unwrap();
        let params = Hyperparams::from_proto(state.lineage.hyperparams.as_ref().unwrap())
            .unwrap()
            .train_params()
            .unwrap();
        let request = StepRequest {
            spec: &spec,
            base_weights: &base,
            trainer: "",
            nonce: 0,
            params,
            dataset: &dataset,
        };
        let shard = RoundShard {
            round: 1,
            seed: seed.as_slice().try_into().unwrap(),
            shard: sent.shard,
            shards: 2,
        };
        let expected = run_round_step(&request, &shard, Device::Cpu).unwrap();
        assert_eq!(sent.weights, expected.weights);
        assert_eq!(sent.checkpoints.len(), 2);
        // Checkpoint j is the weights after j steps (rule 11): a segment
        // re-executed from it gives the next one, and the last the weights.
        let mut at = base.clone();
        for (j, checkpoint) in sent.checkpoints.iter().enumerate() {
            let next =
                crate::step::run_segment(&request, Some(&shard), j as u32, 1, &at, Device::Cpu)
                    .unwrap()
                    .weights;
            assert_eq!(next, *checkpoint, "checkpoint {}", j + 1);
            at = next;
        }
        assert_ne!(sent.checkpoints[0], sent.checkpoints[1]);
        let last = crate::step::run_segment(&request, Some(&shard), 2, 1, &at, Device::Cpu)
            .unwrap()
            .weights;
        assert_eq!(last, sent.weights);
        // The chain charges checkpoint bytes as weights bytes: the gas
        // limit covers them all.
        let bytes = sent.weights.len() + sent.checkpoints.iter().map(Vec::len).sum::<usize>();
        assert_eq!(state.gas_limits, [submit_gas(bytes)]);
        assert!(submit_gas(bytes) > submit_gas(sent.weights.len()));
        // The fake chain took them (it refuses another count, as umd does).
        let update = state
            .updates
            .iter()
            .find(|u| u.trainer == key.address)
            .unwrap();
        assert_eq!(
            update.checkpoint_hashes,
            sent.checkpoints
                .iter()
                .map(|c| crate::sha256(c).to_vec())
                .collect::<Vec<_>>()
        );
    }

    /// With a checkpoint server, the checkpoints are served instead of
    /// sent: the tx names them by SHA-256 and the server's URL, the chain
    /// fetches them when it closes the round (a validator may need them
    /// until then), and the trainer forgets them once the round is decided.
    #[test]
    fn round_mode_serves_the_checkpoints_until_the_round_is_decided() {
        let (fake, key, base, dataset) = setup();
        // As above: 3 local steps, a checkpoint every step, 2 checkpoints.
        fake.open_rounds_with_checkpoints(2, 30, 1);
        let serving = CheckpointServing::start("127.0.0.1:0", None).unwrap();
        let source = format!("http://{}", serving.server.local_addr());
        assert_eq!(serving.source, source);
        let chain = ChainClient::new(&fake.url);
        let mut config = config(2, 3);
        config.checkpoints = Some(serving.clone());
        let mut lines = Vec::new();
        let mut served_at_submission = Vec::new();
        let summary = run(&chain, &key, &config, &mut |l| {
            if l.contains("submitted at height") {
                served_at_submission.push(serving.server.len());
            }
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.accepted, summary.rounds), (2, 2), "{log}");
        assert!(
            log.contains(&format!("2 checkpoints every 1 steps, served at {source}")),
            "{log}"
        );
        // Only the round's own: round 1's were gone before round 2's came.
        assert_eq!(served_at_submission, [2, 2], "{log}");

        let state = fake.state();
        assert_eq!(state.submitted.len(), 2, "{log}");
        let spec = ModelSpec::parse(SPEC).unwrap();
        let params = Hyperparams::from_proto(state.lineage.hyperparams.as_ref().unwrap())
            .unwrap()
            .train_params()
            .unwrap();
        let fetcher = um_client::checkpoints::Fetcher::new(Duration::from_secs(5), 1 << 24);
        for (i, sent) in state.submitted.iter().enumerate() {
            let number = i as u64 + 1;
            assert_eq!(sent.round, number);
            assert!(sent.checkpoints.is_empty(), "round {number}: not in the tx");
            assert_eq!(sent.checkpoint_hashes.len(), 2);
            assert_eq!(sent.checkpoint_source, source);
            // Gas for what the chain stores: the hashes and the source, not
            // the checkpoints' bytes.
            assert_eq!(
                state.gas_limits[i],
                submit_gas(sent.weights.len() + 2 * 32 + source.len())
            );
            // What the chain fetched at the close is what the step made
            // (checkpoint j: the weights after j steps, rule 11); the fake
            // merges a round into a copy of its contribution, so round 2
            // trained from round 1's weights.
            let round_base = match i {
                0 => base.clone(),
                _ => state.submitted[i - 1].weights.clone(),
            };
            let request = StepRequest {
                spec: &spec,
                base_weights: &round_base,
                trainer: "",
                nonce: 0,
                params,
                dataset: &dataset,
            };
            let shard = RoundShard {
                round: number,
                seed: state.rounds[i].seed.as_slice().try_into().unwrap(),
                shard: sent.shard,
                shards: 2,
            };
            let id = state
                .updates
                .iter()
                .find(|u| u.trainer == key.address && u.round == number)
                .unwrap()
                .id;
            let fetched: Vec<_> = state
                .checkpoint_fetches
                .iter()
                .filter(|(update, _, _)| *update == id)
                .collect();
            assert_eq!(fetched.len(), 2, "round {number}");
            let mut at = round_base.clone();
            for (j, (_, sha, bytes)) in fetched.into_iter().enumerate() {
                let bytes = bytes.as_ref().unwrap();
                assert_eq!(*sha, sent.checkpoint_hashes[j]);
                assert_eq!(crate::sha256(bytes).to_vec(), *sha);
                let next =
                    crate::step::run_segment(&request, Some(&shard), j as u32, 1, &at, Device::Cpu)
                        .unwrap()
                        .weights;
                assert_eq!(*bytes, next, "round {number}, checkpoint {}", j + 1);
                at = next;
            }
            let last = crate::step::run_segment(&request, Some(&shard), 2, 1, &at, Device::Cpu)
                .unwrap()
                .weights;
            assert_eq!(last, sent.weights);
            // Decided, so no longer served.
            for sha in &sent.checkpoint_hashes {
                assert!(
                    matches!(
                        fetcher.fetch(&source, sha),
                        Err(um_client::checkpoints::FetchError::Status { status: 404, .. })
                    ),
                    "round {number}"
                );
            }
        }
        assert_ne!(
            state.submitted[0].checkpoint_hashes,
            state.submitted[1].checkpoint_hashes
        );
        assert!(serving.server.is_empty());
    }

    /// A server the validators cannot reach costs the contribution (the
    /// fake, like umd, rejects it without slashing).
    #[test]
    fn round_mode_with_an_unreachable_checkpoint_server_is_rejected() {
        let (fake, key, _, _) = setup();
        fake.open_rounds_with_checkpoints(2, 30, 1);
        // A port nobody listens on any more.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let serving = CheckpointServing {
            server: Arc::new(CheckpointServer::start("127.0.0.1:0").unwrap()),
            source: format!("http://{closed}"),
        };
        let chain = ChainClient::new(&fake.url);
        let mut config = config(1, 1);
        config.checkpoints = Some(serving);
        let mut lines = Vec::new();
        let err = run(&chain, &key, &config, &mut |l| lines.push(l.to_string())).unwrap_err();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert!(
            matches!(&err, LoopError::GivingUp { failures: 1, last } if last == "rejected"),
            "{err:?}"
        );
        assert!(
            log.contains("REJECTED (VERDICT_REASON_CHECKPOINT_UNAVAILABLE"),
            "{log}"
        );
        assert!(!log.contains("slashed"), "{log}");
    }

    #[test]
    fn checkpoint_servers_need_an_address_validators_can_reach() {
        for listen in ["0.0.0.0:0", "[::]:0"] {
            let err = CheckpointServing::start(listen, None).unwrap_err();
            assert!(matches!(err, ServingError::Unspecified { .. }), "{err:?}");
        }
        let serving = CheckpointServing::start("0.0.0.0:0", Some("http://10.0.0.7:9300")).unwrap();
        assert_eq!(serving.source, "http://10.0.0.7:9300");
        let err = CheckpointServing::start("127.0.0.1:0", Some("http://a:1/x")).unwrap_err();
        assert!(matches!(err, ServingError::Source(_)), "{err:?}");
        let serving = CheckpointServing::start("[::1]:0", None);
        // Where the machine has IPv6 loopback: the source brackets it.
        if let Ok(serving) = serving {
            assert!(serving.source.starts_with("http://[::1]:"), "{serving:?}");
        }
    }

    #[test]
    fn round_mode_waits_while_the_round_is_full_then_joins_the_next() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(2, 20);
        {
            let mut state = fake.state();
            state.take_shard(0, "um1a");
            state.take_shard(1, "um1b");
            state.round_outcome.insert(2, "NO_IMPROVEMENT".to_string());
        }
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let err = run(&chain, &key, &config(1, 1), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap_err();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert!(
            matches!(&err, LoopError::GivingUp { failures: 1, last } if last == "not merged"),
            "{err:?}"
        );
        assert_eq!(
            log.matches("round 1: all 2 shards taken; waiting for the next round")
                .count(),
            1,
            "said once, while it waited: {log}"
        );
        let state = fake.state();
        assert_eq!(state.submitted.len(), 1, "nothing sent to the full round");
        let sent = &state.submitted[0];
        let seed2 = state.rounds[1].seed.clone();
        assert_eq!(sent.round, 2);
        assert_eq!(sent.shard, expected_preferred(&seed2, &key.address, 2));
        assert_eq!(sent.nonce, 0);
        assert_eq!(sent.base_version, 1, "round 1 merged into v1");
        assert!(
            log.contains("round 2 NO_IMPROVEMENT | 0 contributions merged | contribution 4 REJECTED (NOT_MERGED)"),
            "{log}"
        );
        drop(state);
        // One poll a block, not a spin: round 2 took about 20 blocks.
        let polls = fake.count(crate::chain::ROUND_PATH);
        assert!(polls < 120, "{polls} round queries");
    }

    /// After a restart: the chain takes one contribution per trainer and
    /// round, so a round already contributed to is waited out, not trained.
    #[test]
    fn round_mode_skips_a_round_it_already_contributed_to() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(3, 15);
        fake.state().take_shard(1, &key.address);
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 2), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert!(
            log.contains("round 1: contributed already; waiting for the next round"),
            "{log}"
        );
        let state = fake.state();
        let rounds: Vec<u64> = state.submitted.iter().map(|m| m.round).collect();
        assert_eq!(rounds, [2], "{log}");
        let claimed: Vec<u64> = state.claims_sent.iter().map(|(c, _)| c.round).collect();
        assert_eq!(claimed, [2], "no claim where it contributed: {log}");
        assert_eq!(summary.accepted, 1);
    }

    /// A chain from before claims: the claim is an unknown message, the
    /// shard is trained unclaimed, and the submission can lose the race
    /// that claims prevent.
    #[test]
    fn round_mode_reads_the_round_again_after_a_refusal() {
        let (fake, key, _, _) = setup();
        fake.open_rounds(3, 20);
        let preferred = expected_preferred(&current_seed(&fake), &key.address, 3);
        {
            let mut state = fake.state();
            state.claims_unknown = true;
            state.steal_next_shard = true;
        }
        let chain = ChainClient::new(&fake.url);
        let mut lines = Vec::new();
        let summary = run(&chain, &key, &config(1, 5), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        let log = lines.join("\n");
        eprintln!("{log}");
        assert_eq!((summary.refused, summary.accepted), (1, 1), "{log}");
        assert!(
            log.contains(&format!("tx refused (code 18): shard {preferred} is taken")),
            "{log}"
        );
        let state = fake.state();
        let shards: Vec<(u64, u32)> = state.submitted.iter().map(|m| (m.round, m.shard)).collect();
        assert_eq!(shards, [(1, preferred), (1, (preferred + 1) % 3)]);
        assert!(
            log.contains("round 1 MERGED | 2 contributions merged"),
            "{log}"
        );
        // Claimed once, then no more: the chain does not know claims.
        assert_eq!(state.claims_sent.len(), 1, "{log}");
        assert_eq!(
            log.matches("the chain takes no shard claims").count(),
            1,
            "{log}"
        );
        assert!(state.rounds[0].claims.is_empty());
    }

    #[test]
    fn names_a_missing_model_and_gives_up_when_nothing_is_accepted() {
        let (fake, key, _, _) = setup();
        let chain = ChainClient::new(&fake.url);
        let mut other = config(1, 5);
        other.model_id = "nope".into();
        let err = run(&chain, &key, &other, &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, LoopError::Chain(e) if e.is_not_found()),
            "{err:?}"
        );
        assert!(err.to_string().contains("\"nope\""), "{err}");

        fake.state().reject.extend(1..=10);
        let err = run(&chain, &key, &config(1, 2), &mut |_| {}).unwrap_err();
        assert!(
            matches!(&err, LoopError::GivingUp { failures: 2, .. }),
            "{err:?}"
        );
        assert_eq!(fake.state().submitted.len(), 2);
    }
}
