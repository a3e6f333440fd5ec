//! The `um.trainer.v1.Trainer` gRPC service (`um-trainer serve`): training
//! steps, verification of someone else's update, evaluation, status.
//!
//! - Verdicts are about the claimed weights only. Whatever is not the
//!   claimant's fault (the dataset or base weights cannot be had, a root
//!   differs, the request is malformed, libtorch fails) is a gRPC error, so
//!   that a validator abstains instead of voting.
//! - Datasets come from a [`DatasetSource`]: the chain ([`ChainSource`],
//!   cached by root) or memory ([`MemorySource`]).
//! - Heavy work runs one job at a time on tokio's blocking pool ([`jobs`]);
//!   predictions run beside it, a few at once, on models cached by hash.

// tonic's `Status` is the error of every handler of the generated trait;
// boxing it inside only to unbox it at the boundary would gain nothing.
#![allow(clippy::result_large_err)]

pub mod convert;
pub mod jobs;
pub mod source;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tch::Device;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use um_proto::tonic::{self, Request, Response, Status};
use um_proto::um::dataset::v1::Split;
use um_proto::um::trainer::v1 as proto;
use um_proto::um::trainer::v1::trainer_server::{Trainer, TrainerServer};

use crate::device::device_name;
use crate::eval::{evaluate, EvalError};
use crate::hyperparams::HyperparamsExt;
use crate::model::{Model, ModelError};
use crate::predict::{predict, CacheError, Input, ModelCache, PredictError, Prediction};
use crate::sample::SampleParams;
use crate::step::{run_step_checkpointed, segment_count, StepError, StepRequest, MAX_STEP_TIME};
use crate::verify::{verify_with, Segment, VerifyError, VerifyMode, VerifyOptions, VerifyRequest};

use convert::{
    eval_seed_from_proto, millis, optional_sha256_field, spec_field, step_from_proto,
    verdict_reason, verify_mode_from_proto, Step,
};
use jobs::{Jobs, Kind};
pub use source::{ChainSource, DatasetSource, MemorySource, SourceError, SourcedDataset};

/// Largest gRPC message either way: weights travel in requests and answers
/// (tonic's default of 4 MiB is too small for larger models).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Models kept loaded for Predict (e.g. the heads of a few lineages and
/// the version before each).
pub const PREDICT_CACHED_MODELS: usize = 4;
/// Longest prompt and continuation of one Predict: the model reads only
/// its last block_size bytes, and generating costs a forward pass a byte.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;
pub const MAX_PREDICT_TOKENS: u32 = 2_000;

/// The service. Cheap to clone (shared state).
#[derive(Clone)]
pub struct TrainerService {
    inner: Arc<Inner>,
}

struct Inner {
    source: Arc<dyn DatasetSource>,
    device: Device,
    jobs: Arc<Jobs>,
    models: ModelCache,
    started: Instant,
}

/// The server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl TrainerService {
    /// A service computing on `device` with data from `source`.
    pub fn new(source: Arc<dyn DatasetSource>, device: Device) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                device,
                jobs: Arc::new(Jobs::default()),
                models: ModelCache::new(PREDICT_CACHED_MODELS),
                started: Instant::now(),
            }),
        }
    }

    /// The device the service computes on.
    pub fn device(&self) -> Device {
        self.inner.device
    }

    /// The tonic server of this service, with message limits raised for weights.
    pub fn into_server(self) -> TrainerServer<Self> {
        TrainerServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        tonic::transport::Server::builder()
            .add_service(self.into_server())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await?;
        Ok(())
    }

    /// Binds `addr` (e.g. `127.0.0.1:9091`) and serves until `shutdown`.
    pub async fn serve_at(
        self,
        addr: &str,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        self.serve(listener, shutdown).await
    }
}

impl Inner {
    /// Weights given in the request (checked against their hash) or fetched by it.
    fn weights(&self, what: &str, bytes: Vec<u8>, sha256: &[u8; 32]) -> Result<Vec<u8>, Status> {
        if bytes.is_empty() {
            return self.source.weights(sha256).map_err(|e| {
                Status::failed_precondition(format!("{what} weights unavailable: {e}"))
            });
        }
        let got = crate::sha256(&bytes);
        if got != *sha256 {
            return Err(Status::invalid_argument(format!(
                "{what} weights hash to {}, the request says {}",
                hex::encode(got),
                hex::encode(sha256)
            )));
        }
        Ok(bytes)
    }

    fn dataset(
        &self,
        dataset_id: &str,
        version: u64,
        root: Option<&[u8; 32]>,
    ) -> Result<Arc<SourcedDataset>, Status> {
        let found = self.source.dataset(dataset_id, version, root)?;
        // The source promises this; a wrong dataset would turn into wrong verdicts.
        if let Some(expected) = root.filter(|r| **r != found.root) {
            return Err(SourceError::RootMismatch {
                dataset_id: dataset_id.to_string(),
                version,
                expected: hex::encode(expected),
                actual: hex::encode(found.root),
            }
            .into());
        }
        Ok(found)
    }

    fn verify(
        &self,
        step: Step,
        mode: VerifyMode,
        req: proto::VerifyRequest,
    ) -> Result<proto::VerifyResponse, Status> {
        let started = Instant::now();
        // A contribution's held-out samples (a candidate's come with its mode).
        let (eval_seed, eval_samples) = match mode {
            VerifyMode::Contribution => (eval_seed_from_proto(&req)?, req.eval_samples),
            _ => ([0; 32], 0),
        };
        let base_weights = self.weights("base", step.base_weights, &step.base_sha256)?;
        let claimed_sha =
            optional_sha256_field("claimed_weights_sha256", &req.claimed_weights_sha256)?;
        let claimed = match claimed_sha {
            Some(sha) => self.weights("claimed", req.claimed_weights, &sha)?,
            None if req.claimed_weights.is_empty() => {
                return Err(Status::invalid_argument(
                    "neither claimed_weights nor claimed_weights_sha256 is set",
                ))
            }
            None => req.claimed_weights,
        };
        let data = self.dataset(
            &step.dataset_id,
            step.dataset_version,
            step.dataset_root.as_ref(),
        )?;
        let load = started.elapsed();
        // umd fills in the bytes of checkpoints the trainer serves. A
        // segment naming one by hash without its bytes would be re-executed
        // from the base (empty start) or checked against the claimed weights
        // (empty end), and an honest contribution judged fraud.
        for s in &req.segments {
            for (what, sha, bytes) in [
                ("start", &s.start_sha256, &s.start_weights),
                ("end", &s.end_sha256, &s.end_weights),
            ] {
                if !sha.is_empty() && crate::sha256(bytes)[..] != sha[..] {
                    return Err(Status::invalid_argument(format!(
                        "segment {}: {what}_weights do not hash to {what}_sha256 {}",
                        s.index,
                        hex::encode(sha)
                    )));
                }
            }
        }
        let compression = um_formats::compress::Compression::parse(&req.compression)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let segments: Vec<Segment<'_>> = req
            .segments
            .iter()
            .map(|s| Segment {
                index: s.index,
                first_step: s.first_step,
                steps: s.steps,
                start_weights: &s.start_weights,
                end_weights: &s.end_weights,
            })
            .collect();
        let (verdict, timings) = verify_with(
            &VerifyRequest {
                spec: &step.spec,
                base_weights: &base_weights,
                claimed_weights: &claimed,
                trainer: &step.trainer,
                nonce: step.nonce,
                hyperparams: &step.hyperparams,
                dataset: &data.dataset,
                base_val_loss: req.base_validation_loss.map(f64::from),
            },
            &VerifyOptions {
                round_shard: step.round_shard.as_ref(),
                mode,
                segments: &segments,
                eval_seed,
                eval_samples,
                compression,
            },
            self.device,
        )
        .map_err(verify_status)?;
        let reason = verdict_reason(&verdict.reason);
        let f = |x: Option<f64>| x.unwrap_or(0.0) as f32;
        Ok(proto::VerifyResponse {
            accept: verdict.accept,
            reason: reason as i32,
            detail: verdict.reason.to_string(),
            measured_validation_loss: f(verdict.measured_val_loss),
            measured_validation_accuracy: f(verdict.accuracy),
            relative_distance: f(verdict.relative_distance),
            base_validation_loss: f(verdict.base_val_loss),
            measured_train_loss: f(verdict.recomputed_train_loss),
            device: device_name(self.device),
            load_ms: millis(load),
            reexecute_ms: millis(timings.reexecute),
            evaluate_ms: millis(timings.evaluate),
            total_ms: millis(started.elapsed()),
            segments_checked: verdict.segments_checked,
            failed_segment: verdict.failed_segment,
        })
    }

    fn evaluate(&self, req: proto::EvaluateRequest) -> Result<proto::EvaluateResponse, Status> {
        let spec = spec_field(&req.spec_json)?;
        let sha = optional_sha256_field("weights_sha256", &req.weights_sha256)?;
        let bytes = match sha {
            Some(sha) => self.weights("evaluated", req.weights, &sha)?,
            None if req.weights.is_empty() => {
                return Err(Status::invalid_argument(
                    "neither weights nor weights_sha256 is set",
                ))
            }
            None => req.weights,
        };
        let root = optional_sha256_field("dataset_root", &req.dataset_root)?;
        let data = self.dataset(&req.dataset_id, req.dataset_version, root.as_ref())?;
        let model = Model::from_safetensors(&spec, &bytes, self.device)
            .map_err(|e| Status::invalid_argument(format!("weights: {e}")))?;
        let records = match Split::try_from(req.split) {
            Ok(Split::Train) => data.dataset.train(),
            Ok(Split::Unspecified | Split::Validation) => data.dataset.validation(),
            Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "unknown split {}",
                    req.split
                )))
            }
        };
        let started = Instant::now();
        let e = evaluate(&model, records).map_err(eval_status)?;
        Ok(proto::EvaluateResponse {
            loss: e.loss as f32,
            accuracy: e.accuracy as f32,
            examples: e.count as u64,
            device: device_name(self.device),
            evaluate_ms: millis(started.elapsed()),
        })
    }

    fn predict(&self, req: proto::PredictRequest) -> Result<proto::PredictResponse, Status> {
        let started = Instant::now();
        let input = predict_input(req.input)?;
        let spec = spec_field(&req.spec_json)?;
        let sha = optional_sha256_field("weights_sha256", &req.weights_sha256)?
            .ok_or_else(|| Status::invalid_argument("weights_sha256 is required"))?;
        let bytes = req.weights;
        let (model, cached) = self
            .models
            .get_or_load(&spec, &sha, self.device, || {
                self.weights("predicted", bytes, &sha)
            })
            .map_err(|e| match e {
                CacheError::Load(status) => status,
                CacheError::Model(m) => Status::invalid_argument(format!("weights: {m}")),
            })?;
        // A prediction leaves the model as it was: a poisoned lock still
        // holds a good model.
        let model = model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let prediction = predict(&model, &req.model_id, &input).map_err(predict_status)?;
        drop(model);
        let mut response = proto::PredictResponse {
            device: device_name(self.device),
            cached,
            ..Default::default()
        };
        match prediction {
            Prediction::Classes {
                probabilities,
                predicted,
            } => {
                response.probabilities = probabilities;
                response.predicted_class = predicted;
            }
            Prediction::Text(text) => response.text = text,
        }
        response.predict_ms = millis(started.elapsed());
        Ok(response)
    }

    fn train(
        &self,
        step: Step,
        options: TrainOptions,
        progress: &mpsc::Sender<Result<proto::TrainProgress, Status>>,
    ) -> Result<proto::TrainResult, Status> {
        let base_weights = self.weights("base", step.base_weights, &step.base_sha256)?;
        let data = self.dataset(
            &step.dataset_id,
            step.dataset_version,
            step.dataset_root.as_ref(),
        )?;
        let params = step
            .hyperparams
            .train_params()
            .map_err(|e| Status::invalid_argument(format!("step.hyperparams: {e}")))?;
        let started = Instant::now();
        let outcome = run_step_checkpointed(
            &StepRequest {
                spec: &step.spec,
                base_weights: &base_weights,
                trainer: &step.trainer,
                nonce: step.nonce,
                params,
                dataset: &data.dataset,
            },
            step.round_shard.as_ref(),
            options.checkpoint_interval,
            self.device,
            MAX_STEP_TIME,
            |s, loss| {
                let event = proto::train_progress::Event::Step(proto::StepProgress {
                    step: s + 1,
                    total_steps: params.local_steps,
                    loss: loss as f32,
                    elapsed_ms: millis(started.elapsed()),
                });
                // A client that went away stops the step: nobody reads on,
                // and the slot is the only one.
                match progress.blocking_send(Ok(proto::TrainProgress { event: Some(event) })) {
                    Ok(()) => std::ops::ControlFlow::Continue(()),
                    Err(_) => std::ops::ControlFlow::Break(()),
                }
            },
        )
        .map_err(step_status)?;
        let train_ms = millis(started.elapsed());
        let started = Instant::now();
        let model = Model::from_safetensors(&step.spec, &outcome.weights, self.device)
            .map_err(|e| Status::internal(format!("reloading the new weights: {e}")))?;
        let e = evaluate(&model, data.dataset.validation()).map_err(eval_status)?;
        let sha = crate::sha256(&outcome.weights);
        Ok(proto::TrainResult {
            weights_sha256: sha.to_vec(),
            weights: if options.omit_weights {
                Vec::new()
            } else {
                outcome.weights
            },
            train_loss: outcome.mean_train_loss as f32,
            validation_loss: e.loss as f32,
            validation_accuracy: e.accuracy as f32,
            device: device_name(self.device),
            train_ms,
            evaluate_ms: millis(started.elapsed()),
            checkpoints: outcome.checkpoints,
        })
    }
}

/// What a Train request asks for beyond its step.
#[derive(Debug, Clone, Copy)]
struct TrainOptions {
    omit_weights: bool,
    checkpoint_interval: u32,
}

/// Refuses a Train request whose answer could not travel: the weights
/// (unless omitted) and the checkpoints together past [`MAX_MESSAGE_BYTES`].
/// Checked before training, since the checkpoints are also held in memory
/// until the step ends (`local_steps` of them with an interval of 1).
fn check_train_answer(step: &Step, options: TrainOptions) -> Result<(), Status> {
    let checkpoints = segment_count(step.hyperparams.local_steps, options.checkpoint_interval) - 1;
    let copies = u64::from(checkpoints) + u64::from(!options.omit_weights);
    // 4 bytes per f32 value; the safetensors header is small beside them.
    let bytes = copies
        .saturating_mul(step.spec.parameter_count())
        .saturating_mul(4);
    if bytes > MAX_MESSAGE_BYTES as u64 {
        return Err(Status::invalid_argument(format!(
            "checkpoint_interval {} asks for {checkpoints} checkpoints: about {bytes} bytes of weights in the answer, more than its limit of {MAX_MESSAGE_BYTES}",
            options.checkpoint_interval
        )));
    }
    Ok(())
}

/// A Predict request's input, bounded before any work.
fn predict_input(input: Option<proto::predict_request::Input>) -> Result<Input, Status> {
    use proto::predict_request::Input as Given;
    match input {
        Some(Given::Pixels(pixels)) => Ok(Input::Pixels(pixels)),
        Some(Given::Text(text)) => {
            if text.prompt.len() > MAX_PROMPT_BYTES {
                return Err(Status::invalid_argument(format!(
                    "the prompt has {} bytes; at most {MAX_PROMPT_BYTES}",
                    text.prompt.len()
                )));
            }
            if text.tokens > MAX_PREDICT_TOKENS {
                return Err(Status::invalid_argument(format!(
                    "at most {MAX_PREDICT_TOKENS} tokens per prediction, not {}",
                    text.tokens
                )));
            }
            Ok(Input::Text {
                prompt: text.prompt,
                params: SampleParams {
                    tokens: text.tokens as usize,
                    temperature: f64::from(text.temperature),
                    seed: text.seed,
                },
            })
        }
        None => Err(Status::invalid_argument(
            "no input: set pixels (an image lineage) or text (a language lineage)",
        )),
    }
}

fn predict_status(e: PredictError) -> Status {
    match e {
        PredictError::Torch(t) => torch_status("prediction", &t),
        PredictError::Sample(crate::sample::SampleError::Torch(t)) => {
            torch_status("prediction", &t)
        }
        other => Status::invalid_argument(other.to_string()),
    }
}

fn torch_status(context: &str, e: &tch::TchError) -> Status {
    let message = format!("{context}: {e}");
    if message.contains("out of memory") {
        Status::resource_exhausted(message)
    } else {
        Status::internal(message)
    }
}

fn step_status(e: StepError) -> Status {
    match e {
        StepError::Torch(t) => torch_status("training step", &t),
        StepError::Model(m) => Status::failed_precondition(format!("base weights: {m}")),
        e @ StepError::Cancelled { .. } => Status::cancelled(e.to_string()),
        e @ StepError::TimedOut { .. } => Status::deadline_exceeded(e.to_string()),
        e @ StepError::InvalidShard(_) => Status::invalid_argument(e.to_string()),
        e @ StepError::InvalidSegment(_) => Status::invalid_argument(e.to_string()),
        other => Status::failed_precondition(other.to_string()),
    }
}

fn eval_status(e: EvalError) -> Status {
    match e {
        EvalError::Torch(t) => torch_status("evaluation", &t),
        EvalError::Empty => Status::failed_precondition("the split to evaluate on is empty"),
    }
}

fn verify_status(e: VerifyError) -> Status {
    match e {
        VerifyError::Hyperparams(h) => Status::invalid_argument(format!("hyperparameters: {h}")),
        VerifyError::Base(ModelError::Spec(s)) => Status::invalid_argument(s.to_string()),
        VerifyError::Base(m) => Status::failed_precondition(format!("base weights: {m}")),
        VerifyError::Step(s) => step_status(s),
        VerifyError::Eval(e) => eval_status(e),
        e @ VerifyError::Segments(_) => Status::invalid_argument(e.to_string()),
    }
}

/// One line per finished request on stderr.
fn log_result<T>(what: &str, result: &Result<T, Status>, describe: impl FnOnce(&T) -> String) {
    match result {
        Ok(value) => eprintln!("{what}: {}", describe(value)),
        Err(status) => eprintln!("{what}: error {:?}: {}", status.code(), status.message()),
    }
}

#[tonic::async_trait]
impl Trainer for TrainerService {
    type TrainStream = ReceiverStream<Result<proto::TrainProgress, Status>>;

    async fn train(
        &self,
        request: Request<proto::TrainRequest>,
    ) -> Result<Response<Self::TrainStream>, Status> {
        let request = request.into_inner();
        let options = TrainOptions {
            omit_weights: request.omit_weights,
            checkpoint_interval: request.checkpoint_interval,
        };
        let step = match step_from_proto(request.step, true)
            .and_then(|step| check_train_answer(&step, options).map(|()| step))
        {
            Ok(step) => step,
            Err(status) => {
                self.inner
                    .jobs
                    .finish(Kind::Train, &Err::<(), _>(status.clone()));
                return Err(status);
            }
        };
        let (sender, receiver) = mpsc::channel(64);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let what = format!("train {}", step.describe());
            let progress = sender.clone();
            let worker = inner.clone();
            let result = inner
                .jobs
                .run(move || worker.train(step, options, &progress))
                .await;
            inner.jobs.finish(Kind::Train, &result);
            log_result(&what, &result, |r| {
                format!(
                    "train loss {:.4}, validation loss {:.4}, accuracy {:.4}, {} ms",
                    r.train_loss, r.validation_loss, r.validation_accuracy, r.train_ms
                )
            });
            let last = result.map(|r| proto::TrainProgress {
                event: Some(proto::train_progress::Event::Result(r)),
            });
            let _ = sender.send(last).await;
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn verify(
        &self,
        request: Request<proto::VerifyRequest>,
    ) -> Result<Response<proto::VerifyResponse>, Status> {
        let mut request = request.into_inner();
        let what = format!(
            "verify update {} ({})",
            request.update_id,
            proto::VerifyMode::try_from(request.mode).map_or("unknown mode", |m| m.as_str_name())
        );
        let (jobs, inner) = (self.inner.jobs.clone(), self.inner.clone());
        // A candidate is evaluated, not re-executed: its step needs no batch seed.
        let parsed = verify_mode_from_proto(&request).and_then(|mode| {
            let executed = !matches!(mode, VerifyMode::Candidate { .. });
            step_from_proto(request.step.take(), executed).map(|step| (mode, step))
        });
        let result = match parsed {
            Ok((mode, step)) => match step.hyperparams.verify_params() {
                Ok(_) => jobs.run(move || inner.verify(step, mode, request)).await,
                Err(e) => Err(Status::invalid_argument(format!("step.hyperparams: {e}"))),
            },
            Err(status) => Err(status),
        };
        self.inner.jobs.finish(Kind::Verify, &result);
        log_result(&what, &result, |r| {
            format!(
                "{} {} (distance {:.3e}, validation loss {:.4}), {} ms",
                if r.accept { "accept" } else { "reject" },
                um_proto::um::training::v1::VerdictReason::try_from(r.reason)
                    .map(|v| v.as_str_name())
                    .unwrap_or("?"),
                r.relative_distance,
                r.measured_validation_loss,
                r.total_ms
            )
        });
        result.map(Response::new)
    }

    async fn evaluate(
        &self,
        request: Request<proto::EvaluateRequest>,
    ) -> Result<Response<proto::EvaluateResponse>, Status> {
        let request = request.into_inner();
        let what = format!(
            "evaluate {} on {} v{}",
            request.model_id, request.dataset_id, request.dataset_version
        );
        let (jobs, inner) = (self.inner.jobs.clone(), self.inner.clone());
        let result = jobs.run(move || inner.evaluate(request)).await;
        self.inner.jobs.finish(Kind::Evaluate, &result);
        log_result(&what, &result, |r| {
            format!(
                "loss {:.4}, accuracy {:.4} on {} records",
                r.loss, r.accuracy, r.examples
            )
        });
        result.map(Response::new)
    }

    async fn predict(
        &self,
        request: Request<proto::PredictRequest>,
    ) -> Result<Response<proto::PredictResponse>, Status> {
        let request = request.into_inner();
        let what = format!("predict {}", request.model_id);
        let inner = self.inner.clone();
        let result = self
            .inner
            .jobs
            .run_predict(move || inner.predict(request))
            .await;
        self.inner.jobs.finish(Kind::Predict, &result);
        if let Err(status) = &result {
            eprintln!("{what}: error {:?}: {}", status.code(), status.message());
        }
        result.map(Response::new)
    }

    async fn status(
        &self,
        _request: Request<proto::StatusRequest>,
    ) -> Result<Response<proto::StatusResponse>, Status> {
        let c = self.inner.jobs.counters();
        Ok(Response::new(proto::StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            device: device_name(self.inner.device),
            cuda_available: tch::Cuda::is_available(),
            threads: u32::try_from(tch::get_num_threads()).unwrap_or(0),
            torch_version: crate::runtime::torch_version().to_string(),
            queued: c.queued,
            verified: c.verified,
            trained: c.trained,
            evaluated: c.evaluated,
            predicted: c.predicted,
            failed: c.failed,
            uptime_seconds: self.inner.started.elapsed().as_secs(),
        }))
    }
}

#[cfg(test)]
mod tests;
