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

use std::time::{Duration, Instant};

use tch::Device;
use thiserror::Error;
use um_client::keys::Key;
use um_proto::um::training::v1::{self as proto, MsgSubmitUpdate, UpdateStatus};

use crate::chain::{submit_gas, update_id, ChainClient, ChainError};
use crate::dataset::Dataset;
use crate::eval::{evaluate, EvalError};
use crate::hyperparams::{Hyperparams, HyperparamsExt};
use crate::model::{Model, ModelError};
use crate::spec::ModelSpec;
use crate::step::{run_step, StepError, StepRequest};

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
    /// The nonce the next attempt would use.
    pub next_nonce: u64,
    /// Validation accuracy of the last version this trainer got accepted.
    pub last_accuracy: Option<f64>,
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
}

/// The state of the model when a round starts.
struct Round {
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
    },
    Rejected,
    Undecided,
    Refused,
    Skipped,
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
    report(&format!(
        "training {} (dataset {}) as {} on {}, from nonce {}",
        lineage.model_id,
        lineage.dataset_id,
        key.address,
        crate::device::device_name(config.device),
        config.nonce_start
    ));
    while config.updates == 0 || summary.accepted < config.updates {
        let nonce = summary.next_nonce;
        summary.next_nonce = nonce.wrapping_add(1);
        let outcome = match attempt(chain, key, config, &mut cache, nonce, &summary, report) {
            Ok(outcome) => outcome,
            Err(LoopError::Chain(e)) if e.is_unreachable() => {
                report(&format!("nonce {nonce}: {e}; retrying"));
                std::thread::sleep(Duration::from_secs(2));
                Outcome::Unreachable
            }
            Err(e) => return Err(e),
        };
        let last = match outcome {
            Outcome::Accepted { accuracy } => {
                summary.accepted += 1;
                summary.last_accuracy = Some(accuracy);
                failures = 0;
                if config
                    .target_accuracy
                    .is_some_and(|target| accuracy >= target)
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
fn fetch_round(
    chain: &ChainClient,
    config: &LoopConfig,
    cache: &mut Cache,
) -> Result<Round, LoopError> {
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
    Ok(Round {
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

fn attempt(
    chain: &ChainClient,
    key: &Key,
    config: &LoopConfig,
    cache: &mut Cache,
    nonce: u64,
    summary: &LoopSummary,
    report: &mut dyn FnMut(&str),
) -> Result<Outcome, LoopError> {
    let round = fetch_round(chain, config, cache)?;
    let (Some((_, base)), Some((_, dataset))) = (&cache.weights, &cache.dataset) else {
        return Err(lineage_problem(&config.model_id, "nothing fetched"));
    };
    let hyper =
        round.lineage.hyperparams.as_ref().ok_or_else(|| {
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
            spec: &round.spec,
            base_weights: base,
            trainer: &key.address,
            nonce,
            params: train,
            dataset,
        },
        config.device,
    )?;
    let model = Model::from_safetensors(&round.spec, &out.weights, config.device)?;
    let new = evaluate(&model, dataset.validation())?;
    let base_loss = base_loss(&round, base, dataset, config.device, &mut cache.base_loss)?;
    let required = base_loss * (1.0 - checks.min_improvement);
    report(&format!(
        "nonce {nonce}: {} v{} → train loss {:.4}, validation loss {:.4} (base {:.4}), accuracy {:.4}, {} ms",
        round.lineage.model_id,
        round.head.version,
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
        model_id: round.lineage.model_id.clone(),
        base_version: round.head.version,
        dataset_version: round.dataset_version,
        nonce,
        claimed_train_loss: out.mean_train_loss as f32,
        claimed_validation_loss: new.loss as f32,
        weights: out.weights,
        hyperparams_sha256: round.hyperparams_sha256.clone(),
        dataset_root: round.dataset_root.clone(),
        round: 0,
        shard: 0,
    };
    let gas = config
        .gas_limit
        .unwrap_or_else(|| submit_gas(msg.weights.len()));
    let result = chain.submit_update(key, &msg, gas)?;
    if !result.is_ok() {
        report(&format!(
            "nonce {nonce}: tx refused (code {}{}): {}",
            result.code,
            if result.codespace.is_empty() {
                String::new()
            } else {
                format!(", {}", result.codespace)
            },
            result.log
        ));
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
            Outcome::Accepted { accuracy: 0.0 },
            (summary.accepted + 1, summary.rejected),
        ),
        UpdateStatus::Rejected => (Outcome::Rejected, (summary.accepted, summary.rejected + 1)),
        _ => (Outcome::Undecided, (summary.accepted, summary.rejected)),
    };
    // The chain's measurement of an accepted version; ours otherwise.
    let (loss, accuracy, version) = match status {
        UpdateStatus::Accepted => match chain.version(&round.lineage.model_id, update.version) {
            Ok(v) => (
                f64::from(v.validation_loss),
                f64::from(v.validation_accuracy),
                v.version,
            ),
            Err(_) => (new.loss, new.accuracy, update.version),
        },
        _ => (new.loss, new.accuracy, round.head.version),
    };
    let height = chain.latest_height().unwrap_or(result.height);
    let why = if update.reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", update.reason)
    };
    let earned = cache
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
        .unwrap_or_default();
    report(&format!(
        "height {height} | {} v{version} | update {id} {}{why}{} | val loss {loss:.4} | accuracy {accuracy:.4} | accepted {} rejected {}{earned}",
        round.lineage.model_id,
        status.as_str_name().trim_start_matches("UPDATE_STATUS_"),
        if update.slashed { ", slashed" } else { "" },
        counts.0,
        counts.1,
    ));
    Ok(match outcome {
        Outcome::Accepted { .. } => Outcome::Accepted { accuracy },
        other => other,
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
    round: &Round,
    base: &[u8],
    dataset: &Dataset,
    device: Device,
    cached: &mut Option<(Vec<u8>, f64)>,
) -> Result<f64, LoopError> {
    // The validators compare on the update's dataset version; the head's
    // recorded loss is from the version it was accepted on.
    if round.head.version > 0
        && round.head.dataset_version == round.dataset_version
        && round.head.validation_loss.is_finite()
    {
        return Ok(f64::from(round.head.validation_loss));
    }
    let key = [round.head.weights_sha256.as_slice(), &round.dataset_root].concat();
    if let Some((cached_key, loss)) = cached {
        if *cached_key == key {
            return Ok(*loss);
        }
    }
    let model = Model::from_safetensors(&round.spec, base, device)?;
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
