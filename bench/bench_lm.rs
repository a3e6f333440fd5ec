//! Benchmarks of issue 19: the language lineage of `make demo-lm` on the
//! works of Shakespeare (`data/shakespeare`), CPU, without a chain. Every
//! result is one JSON line on stdout.
//!
//! ```text
//! bench_lm export DIR            the training split's records, the base weights and
//!                                the batches of REPS steps, for bench/scripts/torch_gpt.py
//! bench_lm step REPS             um-trainer's step: REPS steps from the base, per-step
//!                                losses and records (and bytes) per second
//! bench_lm alone SECS            the no-chain loop: plain updates from version 0, each
//!                                kept when its held-out loss is not above the head's
//!                                (the chain's rule with min_improvement 0), for SECS s
//! bench_lm compression ROUNDS K  ROUNDS rounds of K trainers on disjoint shards, merged
//!                                as the chain merges them, for f32, f16, bf16 and topk
//!                                (with error feedback): bytes per contribution and
//!                                held-out loss after the same samples
//! ```

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use serde_json::json;
use tch::Device;
use um_formats::compress::{self, Compression, Encoder};
use um_trainer::dataset::{load_text_dir, Dataset, RECORD_BYTES};
use um_trainer::eval::evaluate;
use um_trainer::hyperparams::TrainParams;
use um_trainer::model::Model;
use um_trainer::spec::ModelSpec;
use um_trainer::step::{batch_indices, run_round_step, run_step, RoundShard, StepRequest};
use um_trainer::weights::{weights_hash, Weights};

/// The demo-lm lineage (`scripts/demo-lm.sh`).
pub const SPEC: &str =
    r#"{"kind":"gpt","vocab":256,"block_size":64,"layers":2,"heads":4,"embed":64}"#;
const LEARNING_RATE: f64 = 0.5;
const BATCH: u32 = 8;
const LOCAL_STEPS: u32 = 20;
/// Any address works: it only seeds the batches.
const TRAINER: &str = "um1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu";

fn params() -> TrainParams {
    TrainParams {
        learning_rate: LEARNING_RATE,
        batch_size: BATCH,
        local_steps: LOCAL_STEPS,
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    um_trainer::runtime::prepare_process_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_lm export DIR | step REPS | alone SECS | compression ROUNDS K";
    let mode = args.first().ok_or(usage)?.as_str();
    let number =
        |i: usize| -> Result<u64, Box<dyn Error>> { Ok(args.get(i).ok_or(usage)?.parse::<u64>()?) };
    let spec = ModelSpec::parse(SPEC)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/shakespeare");
    let dataset = Dataset::from_records(load_text_dir(&root)?);
    let base = Model::init(&spec, 1, Device::Cpu)?.to_safetensors();
    match mode {
        "export" => export(Path::new(args.get(1).ok_or(usage)?), &dataset, &base),
        "step" => step(&spec, &dataset, &base, number(1)? as u32),
        "alone" => alone(&spec, &dataset, base, number(1)? as f64),
        "compression" => compression(&spec, &dataset, &base, number(1)?, number(2)? as u32),
        _ => Err(usage.into()),
    }
}

/// For the PyTorch side: the training split (785-byte records in order),
/// the base weights, and the batch indices of nonce 1's steps.
fn export(dir: &Path, dataset: &Dataset, base: &[u8]) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(dir)?;
    let records: Vec<u8> = dataset.train().iter().flat_map(|r| r.bytes()).collect();
    std::fs::write(dir.join("train.bin"), &records)?;
    std::fs::write(dir.join("base.safetensors"), base)?;
    let base_hash: [u8; 32] = hex::decode(weights_hash(base))?
        .try_into()
        .map_err(|_| "a 32-byte hash")?;
    let steps: Vec<Vec<usize>> = (0..LOCAL_STEPS)
        .map(|s| batch_indices(&base_hash, TRAINER, 1, s, BATCH, dataset.train().len()))
        .collect();
    let meta = json!({
        "spec": serde_json::from_str::<serde_json::Value>(SPEC)?,
        "record_bytes": RECORD_BYTES,
        "learning_rate": LEARNING_RATE,
        "batches": steps,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string())?;
    println!(
        "{}",
        json!({"bench": "lm_export", "dir": dir, "train": dataset.train().len()})
    );
    Ok(())
}

/// `reps` updates of `LOCAL_STEPS` steps each, nonce 1 then 2, …: the
/// per-step losses of nonce 1 (the PyTorch side repeats those batches) and
/// the speed.
fn step(spec: &ModelSpec, dataset: &Dataset, base: &[u8], reps: u32) -> Result<(), Box<dyn Error>> {
    let mut secs = Vec::new();
    let mut first_losses = Vec::new();
    for rep in 0..reps.max(1) {
        let request = StepRequest {
            spec,
            base_weights: base,
            trainer: TRAINER,
            nonce: 1 + u64::from(rep),
            params: params(),
            dataset,
        };
        let started = Instant::now();
        let out = run_step(&request, Device::Cpu)?;
        secs.push(started.elapsed().as_secs_f64());
        if rep == 0 {
            first_losses = out.step_losses;
        }
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    let records = f64::from(BATCH * LOCAL_STEPS);
    println!(
        "{}",
        json!({
            "bench": "lm_step",
            "side": "um-trainer",
            "threads": tch::get_num_threads(),
            "reps": reps,
            "median_update_secs": median,
            "records_per_sec": records / median,
            "tokens_per_sec": records * 768.0 / median,
            "losses": first_losses,
        })
    );
    Ok(())
}

/// The no-chain loop of the demo's lineage.
fn alone(
    spec: &ModelSpec,
    dataset: &Dataset,
    mut head: Vec<u8>,
    cap: f64,
) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let eval = |weights: &[u8]| -> Result<f64, Box<dyn Error>> {
        Ok(evaluate(
            &Model::from_safetensors(spec, weights, Device::Cpu)?,
            dataset.validation(),
        )?
        .loss)
    };
    let mut head_loss = eval(&head)?;
    let (mut version, mut nonce) = (0u64, 1u64);
    while started.elapsed().as_secs_f64() < cap {
        let out = run_step(
            &StepRequest {
                spec,
                base_weights: &head,
                trainer: TRAINER,
                nonce,
                params: params(),
                dataset,
            },
            Device::Cpu,
        )?;
        nonce += 1;
        let loss = eval(&out.weights)?;
        if loss <= head_loss {
            head = out.weights;
            head_loss = loss;
            version += 1;
            println!(
                "{}",
                json!({"bench": "lm_alone_version", "version": version,
                       "secs": started.elapsed().as_secs_f64(), "loss": loss})
            );
        }
    }
    println!(
        "{}",
        json!({
            "bench": "lm_alone",
            "cap_secs": cap,
            "threads": tch::get_num_threads(),
            "versions": version,
            "updates": nonce - 1,
            "best_loss": head_loss,
        })
    );
    Ok(())
}

/// `rounds` rounds of `k` trainers per scheme, from the same base and the
/// same shards: what each scheme costs in bytes and in held-out loss.
fn compression(
    spec: &ModelSpec,
    dataset: &Dataset,
    base: &[u8],
    rounds: u64,
    k: u32,
) -> Result<(), Box<dyn Error>> {
    for scheme in [
        Compression::F32,
        Compression::F16,
        Compression::Bf16,
        Compression::TopK,
    ] {
        let started = Instant::now();
        let mut head = Weights::decode(spec, base)?;
        let mut encoders: Vec<Encoder> = (0..k).map(|_| Encoder::new(scheme)).collect();
        let mut bytes = 0u64;
        let mut cosines = Vec::new();
        for round in 1..=rounds {
            let head_bytes = head.encode();
            let seed: [u8; 32] = hex::decode(weights_hash(&head_bytes))?
                .try_into()
                .map_err(|_| "a 32-byte hash")?;
            let mut decoded = Vec::new();
            for (shard, encoder) in encoders.iter_mut().enumerate() {
                let out = run_round_step(
                    &StepRequest {
                        spec,
                        base_weights: &head_bytes,
                        trainer: TRAINER,
                        nonce: 0,
                        params: params(),
                        dataset,
                    },
                    &RoundShard {
                        round,
                        seed,
                        shard: shard as u32,
                        shards: k,
                    },
                    Device::Cpu,
                )?;
                let new = Weights::decode(spec, &out.weights)?;
                let delta = compress::delta(&head, &new)?;
                let sent = if scheme == Compression::F32 {
                    bytes += out.weights.len() as u64;
                    delta.clone()
                } else {
                    let payload = encoder.encode(&delta)?;
                    bytes += payload.len() as u64;
                    compress::decode(spec, scheme, &payload)?
                };
                cosines.push(compress::cosine(&sent, &delta));
                decoded.push(sent);
            }
            // The chain's merge with outer learning rate 1 and fewer than
            // four contributions: the plain mean, entry by entry, in shard order.
            let mut mean = decoded[0].clone();
            for (t, tensor) in mean.iter_mut().enumerate() {
                for (i, value) in tensor.iter_mut().enumerate() {
                    let mut sum = 0f32;
                    for d in &decoded {
                        sum += head.tensors[t].data[i] + d[t][i];
                    }
                    *value = sum / k as f32 - head.tensors[t].data[i];
                }
            }
            head = compress::apply(&head, &mean)?;
        }
        let loss = evaluate(
            &Model::from_safetensors(spec, &head.encode(), Device::Cpu)?,
            dataset.validation(),
        )?;
        let contributions = rounds * u64::from(k);
        println!(
            "{}",
            json!({
                "bench": "lm_compression",
                "scheme": scheme.name(),
                "rounds": rounds,
                "trainers": k,
                "records": contributions * u64::from(BATCH * LOCAL_STEPS),
                "bytes_per_contribution": bytes / contributions,
                "f32_weights_bytes": 4 * spec.parameter_count(),
                "held_out_loss": loss.loss,
                "held_out_accuracy": loss.accuracy,
                "mean_cosine_sent_vs_computed": cosines.iter().sum::<f64>() / cosines.len() as f64,
                "secs": started.elapsed().as_secs_f64(),
            })
        );
    }
    Ok(())
}
