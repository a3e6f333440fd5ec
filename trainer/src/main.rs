//! `um-trainer`: the Trainer gRPC service of a validator (`serve`) and the
//! trainer loop that submits updates (`train`).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use um_proto::um::training::v1::ModelVersion;
use um_trainer::chain::{self, ChainClient};
use um_trainer::device::{device_name, DeviceChoice};
use um_trainer::predict::{Input, Prediction};
use um_trainer::service::{ChainSource, TrainerService};
use um_trainer::train_loop::{self, CheckpointServing, LoopConfig, ServingError};

#[derive(Parser, Debug)]
#[command(
    name = "um-trainer",
    version,
    about = "Training and verification for Unstoppable Models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve um.trainer.v1.Trainer (Verify, Train, Evaluate, Status) for a validator's umd.
    Serve(ServeArgs),
    /// Train a model on chain: fetch the head, step, submit, wait for the verdict, repeat
    /// (for a lineage in collaborative rounds: claim a free shard of each round, then train it).
    Train(TrainArgs),
    /// Generate text with a language lineage (a `gpt` spec): download the
    /// head's (or a version's) weights, check their hash, continue a prompt.
    Sample(SampleArgs),
    /// Run a lineage's head (or a version) on one input, locally: class
    /// probabilities of a digit, or text continuing a prompt.
    Predict(PredictArgs),
}

#[derive(Args, Debug)]
struct PredictArgs {
    #[command(flatten)]
    of: VersionArgs,
    /// An image lineage: a 28x28 PNG file, or a file holding a JSON array of
    /// 784 pixels (0 background, 255 ink). A language lineage: the prompt.
    input: String,
    /// Language lineages: bytes to generate.
    #[arg(long, default_value_t = 80)]
    tokens: usize,
    /// Language lineages: softmax temperature (0: the most likely byte).
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Language lineages: seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Which weights to run: a lineage's head or one of its versions, from a
/// node of the chain, on a device.
#[derive(Args, Debug)]
struct VersionArgs {
    /// CometBFT RPC of a node of the chain.
    #[arg(long, env = "UMD_NODE", default_value = "http://127.0.0.1:26657")]
    node: String,
    /// Model lineage.
    #[arg(long)]
    model: String,
    /// Version to use (default: the head).
    #[arg(long)]
    version: Option<u64>,
    /// Compute device: auto (CUDA when present), cpu or cuda.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
}

#[derive(Args, Debug)]
struct SampleArgs {
    #[command(flatten)]
    of: VersionArgs,
    /// Text to continue.
    #[arg(long, default_value = "")]
    prompt: String,
    /// Bytes to generate.
    #[arg(long, default_value_t = 200)]
    tokens: usize,
    /// Softmax temperature (0: the most likely byte each time).
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Seed of the draws: the same seed, version and prompt give the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9091")]
    listen: String,
    /// CometBFT RPC of the node whose datasets and weights to use.
    #[arg(long, env = "UMD_NODE", default_value = "http://127.0.0.1:26657")]
    node: String,
    /// Compute device: auto (CUDA when present), cpu or cuda.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// libtorch intra-op threads (default: libtorch's choice).
    #[arg(long)]
    threads: Option<u16>,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// CometBFT RPC of a node of the chain.
    #[arg(long, env = "UMD_NODE", default_value = "http://127.0.0.1:26657")]
    node: String,
    /// Submit updates through umd's gRPC server (e.g. http://127.0.0.1:9090,
    /// `cosmos.tx.v1beta1.Service/BroadcastTx`) instead of CometBFT's RPC.
    #[arg(long, env = "UMD_GRPC")]
    grpc: Option<String>,
    /// umd home whose keyring (<home>/keys) holds the key.
    #[arg(long, env = "UMD_HOME", default_value = "~/.umd")]
    home: String,
    /// Keyring backend, as for umd: file (encrypted; passphrase from
    /// UMD_KEYRING_PASSPHRASE or asked on the terminal), os (none on this
    /// build) or test (plain text: throwaway localnet keys only).
    #[arg(
        long = "keyring-backend",
        env = um_client::keys::BACKEND_ENV,
        default_value = "file",
        value_parser = parse_backend,
    )]
    keyring_backend: um_client::keys::Backend,
    /// Name of the trainer's key (bonded as a trainer in nrn-staking).
    #[arg(long)]
    key: String,
    /// Model lineage to train.
    #[arg(long)]
    model: String,
    /// Stop after this many accepted updates, or round contributions merged
    /// into a version (0: run forever).
    #[arg(long, default_value_t = 0)]
    updates: u64,
    /// First nonce (default: the current time in milliseconds, so a restart
    /// does not repeat earlier batches).
    #[arg(long)]
    nonce_start: Option<u64>,
    /// Blocks to wait for the validators' decision on an update before moving on.
    #[arg(long, default_value_t = 20)]
    timeout_blocks: u64,
    /// Gas limit of a submit tx (default: 2,000,000 + 42 per byte of weights); a
    /// round's shard claim has its own small fixed limit.
    #[arg(long)]
    gas: Option<u64>,
    /// Give up after this many rounds in a row without an accepted update (0: never).
    #[arg(long, default_value_t = 20)]
    max_failures: u64,
    /// Stop once an accepted version reaches this held-out (validation)
    /// accuracy, as the validators measured it, e.g. 0.9.
    #[arg(long)]
    target_accuracy: Option<f64>,
    /// Stop once an accepted version's held-out loss, as the validators
    /// measured it, is at most this (nats per byte for a language model).
    #[arg(long)]
    target_loss: Option<f64>,
    /// For a language lineage: print 80 bytes of text written by every
    /// version whose number is a multiple of this.
    #[arg(long, default_value_t = 0)]
    sample_every: u64,
    /// Compute device: auto (CUDA when present), cpu or cuda.
    #[arg(long, default_value = "auto")]
    device: DeviceChoice,
    /// Serve a round's checkpoints over HTTP on HOST:PORT (port 0 picks a
    /// free one) instead of sending them in the tx, from memory until the
    /// round is over. Every validator must reach it: a checkpoint they
    /// cannot fetch gets the contribution rejected.
    #[arg(long, value_name = "HOST:PORT")]
    checkpoint_listen: Option<String>,
    /// Where the validators reach the checkpoint server (the tx's
    /// checkpoint_source; default: http:// and the address it listens on,
    /// which must then name a host, not 0.0.0.0 or ::).
    #[arg(
        long,
        value_name = "http://HOST:PORT",
        requires = "checkpoint_listen",
        value_parser = parse_checkpoint_url,
    )]
    checkpoint_url: Option<String>,
}

fn parse_checkpoint_url(url: &str) -> Result<String, String> {
    um_client::checkpoints::check_source(url)
        .map(|()| url.to_string())
        .map_err(|e| e.to_string())
}

/// The checkpoint server `args` ask for, started; `None` for checkpoints
/// in the tx.
fn checkpoint_serving(args: &TrainArgs) -> Result<Option<CheckpointServing>, ServingError> {
    args.checkpoint_listen
        .as_deref()
        .map(|listen| CheckpointServing::start(listen, args.checkpoint_url.as_deref()))
        .transpose()
}

fn parse_backend(name: &str) -> Result<um_client::keys::Backend, String> {
    name.parse()
        .map_err(|e: um_client::ClientError| e.to_string())
}

fn main() -> ExitCode {
    // Before anything can start libtorch's (MKL's) threads: see runtime.rs.
    um_trainer::runtime::prepare_process_env();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Train(args) => train(args),
        Command::Sample(args) => sample(args),
        Command::Predict(args) => predict(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("um-trainer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), Box<dyn Error>> {
    let device = args.device.resolve()?;
    if let Some(threads) = args.threads {
        tch::set_num_threads(i32::from(threads.max(1)));
    }
    let source = Arc::new(ChainSource::new(ChainClient::new(&args.node)));
    let service = TrainerService::new(source, device);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        eprintln!(
            "um-trainer {} serving um.trainer.v1.Trainer on {} (device {}, {} threads, libtorch {}), data from {}",
            env!("CARGO_PKG_VERSION"),
            listener.local_addr()?,
            device_name(device),
            tch::get_num_threads(),
            um_trainer::runtime::torch_version(),
            args.node
        );
        service.serve(listener, std::future::pending()).await?;
        Ok(())
    })
}

fn train(args: TrainArgs) -> Result<(), Box<dyn Error>> {
    // First: a server nobody can reach is refused before the keyring asks
    // for a passphrase.
    let checkpoints = checkpoint_serving(&args)?;
    if let Some(serving) = &checkpoints {
        println!(
            "serving round checkpoints on {} as {}",
            serving.server.local_addr(),
            serving.source
        );
    }
    let device = args.device.resolve()?;
    let key = chain::load_key(&expand_home(&args.home), &args.key, args.keyring_backend)?;
    let mut chain = ChainClient::new(&args.node);
    if let Some(endpoint) = &args.grpc {
        chain = chain.with_grpc(endpoint);
    }
    let config = LoopConfig {
        model_id: args.model,
        updates: args.updates,
        nonce_start: args.nonce_start.unwrap_or_else(time_nonce),
        timeout_blocks: args.timeout_blocks,
        gas_limit: args.gas,
        max_failures: args.max_failures,
        device,
        target_accuracy: args.target_accuracy,
        target_loss: args.target_loss,
        sample_every: args.sample_every,
        checkpoints,
    };
    let summary = train_loop::run(&chain, &key, &config, &mut |line| println!("{line}"))?;
    if let (Some(target), Some(reached)) = (args.target_accuracy, summary.last_accuracy) {
        if reached >= target {
            println!("target reached: held-out accuracy {reached:.4} >= {target}");
        }
    }
    if let (Some(target), Some(reached)) = (args.target_loss, summary.last_loss) {
        if reached <= target {
            println!("target reached: held-out loss {reached:.4} <= {target}");
        }
    }
    if summary.rounds > 0 {
        println!(
            "done: {} rounds, {} contributions merged, {} not merged, {} rejected, {} undecided, {} refused",
            summary.rounds,
            summary.accepted,
            summary.not_merged,
            summary.rejected,
            summary.undecided,
            summary.refused
        );
        return Ok(());
    }
    println!(
        "done: {} accepted, {} rejected, {} undecided, {} refused, {} not submitted; next nonce {}",
        summary.accepted,
        summary.rejected,
        summary.undecided,
        summary.refused,
        summary.skipped,
        summary.next_nonce
    );
    Ok(())
}

/// The model of a lineage's head (or `version`), its weights downloaded
/// and checked against the hash the chain records for the version.
fn version_model(of: &VersionArgs) -> Result<(ModelVersion, um_trainer::Model), Box<dyn Error>> {
    let device = of.device.resolve()?;
    let chain = ChainClient::new(&of.node);
    let lineage = chain.lineage(&of.model)?;
    let spec = um_trainer::ModelSpec::parse(&lineage.spec_json)?;
    let version = match of.version {
        Some(number) => chain.version(&of.model, number)?,
        None => chain.head(&of.model)?,
    };
    let weights = chain.weights(&version.weights_sha256)?;
    let model = um_trainer::Model::from_safetensors(&spec, &weights, device)?;
    Ok((version, model))
}

fn sample(args: SampleArgs) -> Result<(), Box<dyn Error>> {
    let (version, model) = version_model(&args.of)?;
    let text = um_trainer::sample::generate(
        &model,
        args.prompt.as_bytes(),
        &um_trainer::sample::SampleParams {
            tokens: args.tokens,
            temperature: args.temperature,
            seed: args.seed,
        },
    )?;
    eprintln!(
        "{} v{} (weights {}, held-out loss {:.4} nats/byte), {} bytes at temperature {}:",
        args.of.model,
        version.version,
        hex::encode(&version.weights_sha256),
        version.validation_loss,
        args.tokens,
        args.temperature
    );
    println!("{}{}", args.prompt, String::from_utf8_lossy(&text));
    Ok(())
}

fn predict(args: PredictArgs) -> Result<(), Box<dyn Error>> {
    let (version, model) = version_model(&args.of)?;
    let input = match model.spec().task() {
        um_trainer::spec::Task::Classify { .. } => Input::Pixels(read_digit(&args.input)?),
        um_trainer::spec::Task::NextByte { .. } => Input::Text {
            prompt: args.input.as_bytes().to_vec(),
            params: um_trainer::sample::SampleParams {
                tokens: args.tokens,
                temperature: args.temperature,
                seed: args.seed,
            },
        },
    };
    eprintln!(
        "{} v{} (weights {})",
        args.of.model,
        version.version,
        hex::encode(&version.weights_sha256)
    );
    match um_trainer::predict::predict(&model, &args.of.model, &input)? {
        Prediction::Classes {
            probabilities,
            predicted,
        } => {
            println!("class {predicted}");
            for (class, p) in probabilities.iter().enumerate() {
                println!("{class}\t{p:.6}");
            }
        }
        Prediction::Text(text) => println!("{}{}", args.input, String::from_utf8_lossy(&text)),
    }
    Ok(())
}

/// A digit's pixels from a PNG file or a JSON array of 784 numbers.
fn read_digit(path: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if bytes.starts_with(b"\x89PNG") {
        return Ok(um_formats::image::digit_from_png(&bytes).map_err(|e| format!("{path}: {e}"))?);
    }
    let values: Vec<serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{path} is neither a PNG nor a JSON array of pixels: {e}"))?;
    pixels_from_json(&values).map_err(|e| format!("{path}: {e}").into())
}

/// 784 integers 0..=255.
fn pixels_from_json(values: &[serde_json::Value]) -> Result<Vec<u8>, String> {
    if values.len() != um_formats::dataset::PIXELS {
        return Err(format!(
            "a digit has {} pixels (28x28), not {}",
            um_formats::dataset::PIXELS,
            values.len()
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| format!("pixel {i} is {v}, not an integer from 0 to 255"))
        })
        .collect()
}

fn time_nonce() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `~/x` under $HOME, like umd's `--home`.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_args(extra: &[&str]) -> Result<TrainArgs, clap::Error> {
        let base = ["um-trainer", "train", "--key", "alice", "--model", "m"];
        let cli = Cli::try_parse_from(base.iter().chain(extra))?;
        match cli.command {
            Command::Train(args) => Ok(args),
            _ => unreachable!("a train command"),
        }
    }

    #[test]
    fn a_checkpoint_server_on_every_address_needs_a_url() {
        for listen in ["0.0.0.0:0", "[::]:0"] {
            let args = train_args(&["--checkpoint-listen", listen]).unwrap();
            let err = checkpoint_serving(&args).unwrap_err();
            assert!(
                matches!(err, ServingError::Unspecified { .. }),
                "{listen}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(listen), "{message}");
            assert!(message.contains("--checkpoint-url"), "{message}");
        }
        let args = train_args(&[
            "--checkpoint-listen",
            "0.0.0.0:0",
            "--checkpoint-url",
            "http://trainer.example:9300",
        ])
        .unwrap();
        let serving = checkpoint_serving(&args).unwrap().unwrap();
        assert_eq!(serving.source, "http://trainer.example:9300");
        assert!(serving.server.local_addr().ip().is_unspecified());
    }

    #[test]
    fn a_digit_is_read_from_a_png_or_a_json_array() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..784).map(|i| (i % 256) as u8).collect();
        let png = dir.path().join("digit.png");
        std::fs::write(&png, um_formats::image::digit_to_png(&pixels).unwrap()).unwrap();
        assert_eq!(read_digit(png.to_str().unwrap()).unwrap(), pixels);
        let json = dir.path().join("digit.json");
        std::fs::write(&json, serde_json::to_vec(&pixels).unwrap()).unwrap();
        assert_eq!(read_digit(json.to_str().unwrap()).unwrap(), pixels);
        for (name, bytes, message) in [
            ("short.json", &b"[1,2,3]"[..], "not 3"),
            ("big.json", b"[256]", "not 1"),
            ("text.txt", b"hello", "neither a PNG nor"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = read_digit(path.to_str().unwrap()).unwrap_err().to_string();
            assert!(err.contains(message), "{name}: {err}");
        }
        let mut values = vec![serde_json::json!(0); 784];
        values[5] = serde_json::json!(-1);
        let err = pixels_from_json(&values).unwrap_err();
        assert!(err.contains("pixel 5"), "{err}");
        let err = read_digit("/nonexistent/digit.png")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn the_checkpoint_flags_are_checked() {
        let args = train_args(&["--checkpoint-listen", "127.0.0.1:0"]).unwrap();
        let serving = checkpoint_serving(&args).unwrap().unwrap();
        assert_eq!(
            serving.source,
            format!("http://{}", serving.server.local_addr())
        );
        assert_ne!(serving.server.local_addr().port(), 0);
        assert!(checkpoint_serving(&train_args(&[]).unwrap())
            .unwrap()
            .is_none());
        // A path, another scheme, or a URL without a server to name.
        for bad in [
            &[
                "--checkpoint-listen",
                "127.0.0.1:0",
                "--checkpoint-url",
                "http://a:1/x",
            ][..],
            &[
                "--checkpoint-listen",
                "127.0.0.1:0",
                "--checkpoint-url",
                "https://a:1",
            ],
            &["--checkpoint-url", "http://a:1"],
        ] {
            assert!(train_args(bad).is_err(), "{bad:?}");
        }
        let taken = serving.server.local_addr().to_string();
        let err =
            checkpoint_serving(&train_args(&["--checkpoint-listen", &taken]).unwrap()).unwrap_err();
        assert!(matches!(err, ServingError::Listen { .. }), "{err:?}");
    }
}
