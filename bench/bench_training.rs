//! Benchmarks of issue 7, items 2 and 3 (driven by `bench/scripts/run.sh`,
//! `make bench`; results in BENCHMARKS.md).
//!
//! ```text
//! bench_training export DIR          the training split, base weights and a reference
//!                                    run for the PyTorch side (bench/scripts/torch_train.py)
//! bench_training train REPS THREADS… training speed: REPS updates of `run_step` per thread count
//! bench_training verify REPS THREADS verification cost for local_steps 1, 8 and 32
//! bench_training alone BASE LOCAL_STEPS MIN_IMPROVEMENT CAP_S [LR BATCH SPEC]
//!                                    time to accuracy without a chain (item 4): from the
//!                                    weights in file BASE (or `init:SEED`), the trainer's loop alone, with the
//!                                    chain lineage's learning rate, batch size and model spec
//!                                    (defaults: the demo's, below)
//! ```
//!
//! The model and hyperparameters are the demo's: MLP 784-128-64-10 (init seed
//! 1), SGD lr 0.1, batch 64, 40 local steps, on the 10,000 MNIST digits of
//! `data/mnist`, CPU. Every result is one JSON line on stdout.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use tch::Device;
use um_trainer::dataset::{load_mnist_json_dir, Dataset};
use um_trainer::eval::evaluate;
use um_trainer::hyperparams::{Hyperparams, TrainParams};
use um_trainer::model::Model;
use um_trainer::spec::ModelSpec;
use um_trainer::step::{run_step, StepRequest};
use um_trainer::verify::{verify_timed, VerifyRequest};

/// The demo's lineage.
const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}"#;
/// Any address works: it only seeds the batches.
const TRAINER: &str = "um1qypqxpq9qcrsszg2pvxq6rs0zqg3yyc5lzv7xu";
const LEARNING_RATE: &str = "0.1";
const BATCH: u32 = 64;
const TRAIN_STEPS: u32 = 40;
const VERIFY_STEPS: [u32; 3] = [1, 8, 32];

fn main() -> Result<(), Box<dyn Error>> {
    um_trainer::runtime::prepare_process_env();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_training export DIR | train REPS THREADS... | verify REPS THREADS \
                 | alone BASE LOCAL_STEPS MIN_IMPROVEMENT CAP_S [LR BATCH SPEC]";
    let mode = args.first().ok_or(usage)?.as_str();
    let spec = ModelSpec::parse(SPEC)?;
    let dataset = load_dataset()?;
    let base = Model::init(&spec, 1, Device::Cpu)?.to_safetensors();
    match mode {
        "export" => export(Path::new(args.get(1).ok_or(usage)?), &spec, &dataset, &base),
        "alone" => {
            let base_arg = args.get(1).ok_or(usage)?;
            let local_steps: u32 = args.get(2).ok_or(usage)?.parse()?;
            let min_improvement: f64 = args.get(3).ok_or(usage)?.parse()?;
            let cap: f64 = args.get(4).ok_or(usage)?.parse()?;
            let learning_rate = args.get(5).map_or(LEARNING_RATE, String::as_str);
            let batch_size: u32 = args.get(6).map_or(Ok(BATCH), |b| b.parse())?;
            // The chain's lineage may differ from the demo's: the same spec
            // as its genesis, so BASE (its version 0) decodes.
            let spec = match args.get(7) {
                Some(text) => ModelSpec::parse(text)?,
                None => spec,
            };
            // `init:SEED`: the spec's initial weights from SEED (what
            // `umd genesis add-lineage --seed` makes), to try a spec without a chain.
            let base = match base_arg.strip_prefix("init:") {
                Some(seed) => Model::init(&spec, seed.parse()?, Device::Cpu)?.to_safetensors(),
                None => std::fs::read(base_arg)?,
            };
            let params = TrainParams {
                learning_rate: learning_rate.parse()?,
                batch_size,
                local_steps,
            };
            tch::set_num_threads(1);
            alone(&spec, &dataset, base, params, min_improvement, cap)
        }
        "train" | "verify" => {
            let reps: usize = args.get(1).ok_or(usage)?.parse()?;
            let threads: Vec<i32> = args[2..]
                .iter()
                .map(|t| t.parse())
                .collect::<Result<_, _>>()?;
            if threads.is_empty() {
                return Err(usage.into());
            }
            for t in threads {
                tch::set_num_threads(t);
                if mode == "train" {
                    train(&spec, &dataset, &base, reps.max(1), t)?;
                } else {
                    verification(&spec, &dataset, &base, reps.max(1), t)?;
                }
            }
            Ok(())
        }
        _ => Err(usage.into()),
    }
}

fn load_dataset() -> Result<Dataset, Box<dyn Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let records = load_mnist_json_dir(&dir)
        .map_err(|e| format!("{}: {e} (run `make setup-mnist`)", dir.display()))?;
    Ok(Dataset::from_records(records))
}

fn params(local_steps: u32) -> TrainParams {
    TrainParams {
        learning_rate: LEARNING_RATE.parse().expect("a decimal"),
        batch_size: BATCH,
        local_steps,
    }
}

fn request<'a>(
    spec: &'a ModelSpec,
    dataset: &'a Dataset,
    base: &'a [u8],
    nonce: u64,
    local_steps: u32,
) -> StepRequest<'a> {
    StepRequest {
        spec,
        base_weights: base,
        trainer: TRAINER,
        nonce,
        params: params(local_steps),
        dataset,
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Training split as raw bytes, base weights, and the losses of nonce 1 so
/// the PyTorch side can check it trains on exactly the same batches.
fn export(
    dir: &Path,
    spec: &ModelSpec,
    dataset: &Dataset,
    base: &[u8],
) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(dir)?;
    let train = dataset.train();
    let pixels: Vec<u8> = train.iter().flat_map(|r| r.pixels).collect();
    let labels: Vec<u8> = train.iter().map(|r| r.label).collect();
    std::fs::write(dir.join("train_pixels.u8"), pixels)?;
    std::fs::write(dir.join("train_labels.u8"), labels)?;
    std::fs::write(dir.join("base.safetensors"), base)?;
    let out = run_step(&request(spec, dataset, base, 1, TRAIN_STEPS), Device::Cpu)?;
    let reference = json!({
        "trainer": TRAINER,
        "nonce": 1,
        "learning_rate": LEARNING_RATE,
        "batch_size": BATCH,
        "local_steps": TRAIN_STEPS,
        "train_len": train.len(),
        "step_losses": out.step_losses,
    });
    std::fs::write(dir.join("reference.json"), reference.to_string())?;
    println!("{reference}");
    Ok(())
}

/// REPS updates of TRAIN_STEPS steps (nonces 1..=REPS, after one warm-up).
fn train(
    spec: &ModelSpec,
    dataset: &Dataset,
    base: &[u8],
    reps: usize,
    threads: i32,
) -> Result<(), Box<dyn Error>> {
    run_step(&request(spec, dataset, base, 0, TRAIN_STEPS), Device::Cpu)?;
    let mut secs = Vec::with_capacity(reps);
    let mut first_loss = None;
    for nonce in 1..=reps as u64 {
        let started = Instant::now();
        let out = run_step(
            &request(spec, dataset, base, nonce, TRAIN_STEPS),
            Device::Cpu,
        )?;
        secs.push(started.elapsed().as_secs_f64());
        first_loss.get_or_insert(out.mean_train_loss);
    }
    let samples = f64::from(TRAIN_STEPS * BATCH);
    println!(
        "{}",
        json!({
            "bench": "train",
            "side": "um-trainer",
            "threads": threads,
            "reps": reps,
            "local_steps": TRAIN_STEPS,
            "batch_size": BATCH,
            "secs": secs,
            "median_secs": median(&secs),
            "samples_per_s": samples / median(&secs),
            "mean_loss_nonce1": first_loss,
        })
    );
    Ok(())
}

/// For each local_steps: the trainer's time (run_step, then the new weights
/// loaded and evaluated on the validation split, as `train_loop` does) and a
/// validator's `verify` of that honest update, the base loss taken as
/// recorded on chain (versions after 0) and measured (version 0).
fn verification(
    spec: &ModelSpec,
    dataset: &Dataset,
    base: &[u8],
    reps: usize,
    threads: i32,
) -> Result<(), Box<dyn Error>> {
    let base_loss = evaluate(
        &Model::from_safetensors(spec, base, Device::Cpu)?,
        dataset.validation(),
    )?
    .loss;
    for local_steps in VERIFY_STEPS {
        let hyper = Hyperparams {
            learning_rate: LEARNING_RATE.parse()?,
            batch_size: BATCH,
            local_steps,
            verification_tolerance: "0.001".parse()?,
            min_improvement: cosmwasm_std::Decimal::zero(),
            reward_per_update: cosmwasm_std::Uint128::zero(),
            reward_halving_interval: 0,
        };
        let (mut produce, mut check, mut check_v0) = (Vec::new(), Vec::new(), Vec::new());
        let (mut reexecute, mut evaluate_secs) = (Vec::new(), Vec::new());
        // Nonce 0 is a warm-up, not counted.
        for nonce in 0..=reps as u64 {
            let started = Instant::now();
            let out = run_step(
                &request(spec, dataset, base, nonce, local_steps),
                Device::Cpu,
            )?;
            let model = Model::from_safetensors(spec, &out.weights, Device::Cpu)?;
            evaluate(&model, dataset.validation())?;
            let produced = started.elapsed().as_secs_f64();
            let mut req = VerifyRequest {
                spec,
                base_weights: base,
                claimed_weights: &out.weights,
                trainer: TRAINER,
                nonce,
                hyperparams: &hyper,
                dataset,
                base_val_loss: Some(base_loss),
            };
            let started = Instant::now();
            let (verdict, timings) = verify_timed(&req, Device::Cpu)?;
            let checked = started.elapsed().as_secs_f64();
            // Same machine, same thread count: re-execution is bit for bit.
            if verdict.relative_distance != Some(0.0) {
                return Err(format!("honest update not reproduced exactly: {verdict:?}").into());
            }
            req.base_val_loss = None;
            let started = Instant::now();
            verify_timed(&req, Device::Cpu)?;
            let checked_v0 = started.elapsed().as_secs_f64();
            if nonce > 0 {
                produce.push(produced);
                check.push(checked);
                check_v0.push(checked_v0);
                reexecute.push(timings.reexecute.as_secs_f64());
                evaluate_secs.push(timings.evaluate.as_secs_f64());
            }
        }
        let ratios: Vec<f64> = check.iter().zip(&produce).map(|(c, p)| c / p).collect();
        let ratios_v0: Vec<f64> = check_v0.iter().zip(&produce).map(|(c, p)| c / p).collect();
        println!(
            "{}",
            json!({
                "bench": "verify",
                "threads": threads,
                "reps": reps,
                "local_steps": local_steps,
                "batch_size": BATCH,
                "validation_len": dataset.validation().len(),
                "train_median_secs": median(&produce),
                "verify_median_secs": median(&check),
                "verify_v0_median_secs": median(&check_v0),
                "reexecute_median_secs": median(&reexecute),
                "evaluate_median_secs": median(&evaluate_secs),
                "ratio_median": median(&ratios),
                "ratio_v0_median": median(&ratios_v0),
            })
        );
    }
    Ok(())
}

/// Item 4's reference: the loop of `um-trainer train` without the chain.
/// Each round trains `local_steps` from the head with the next nonce and
/// evaluates the result on the validation split; it becomes the head when
/// the validation loss is at most the head's times (1 - min_improvement),
/// the rule the validators apply. Stops at 95 % validation accuracy or
/// after `cap` seconds; reports when 90 % and 95 % were reached.
fn alone(
    spec: &ModelSpec,
    dataset: &Dataset,
    mut head: Vec<u8>,
    params: TrainParams,
    min_improvement: f64,
    cap: f64,
) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let eval = |weights: &[u8]| -> Result<_, Box<dyn Error>> {
        Ok(evaluate(
            &Model::from_safetensors(spec, weights, Device::Cpu)?,
            dataset.validation(),
        )?)
    };
    let mut head_eval = eval(&head)?;
    let (mut versions, mut rounds) = (0u64, 0u64);
    let (mut at90, mut at95) = (None, None);
    let mut nonce = 1u64;
    while started.elapsed().as_secs_f64() < cap && at95.is_none() {
        let request = StepRequest {
            spec,
            base_weights: &head,
            trainer: TRAINER,
            nonce,
            params,
            dataset,
        };
        let out = run_step(&request, Device::Cpu)?;
        nonce += 1;
        rounds += 1;
        let e = eval(&out.weights)?;
        if e.loss <= head_eval.loss * (1.0 - min_improvement) {
            head = out.weights;
            head_eval = e;
            versions += 1;
            let now = (started.elapsed().as_secs_f64(), versions);
            if head_eval.accuracy >= 0.90 && at90.is_none() {
                at90 = Some(now);
            }
            if head_eval.accuracy >= 0.95 {
                at95 = Some(now);
            }
        }
    }
    println!(
        "{}",
        json!({
            "bench": "accuracy",
            "side": "alone",
            "trainers": 1,
            "local_steps": params.local_steps,
            "learning_rate": params.learning_rate,
            "batch_size": params.batch_size,
            "secs_to_90": at90.map(|a| a.0),
            "versions_to_90": at90.map(|a| a.1),
            "secs_to_95": at95.map(|a| a.0),
            "versions_to_95": at95.map(|a| a.1),
            "final_accuracy": head_eval.accuracy,
            "versions": versions,
            "rounds": rounds,
            "secs": started.elapsed().as_secs_f64(),
            "cap_secs": cap,
        })
    );
    Ok(())
}
