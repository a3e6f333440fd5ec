//! Using the model over the API: `um.training.v1.Inference/Predict` (gRPC)
//! and `POST /um/training/v1/models/{model_id}/predict` (REST).
//!
//! umd has no libtorch. It checks the input, reads the lineage's spec and
//! the version's weights hash from committed state, and forwards to its
//! node's `um-trainer serve` (`um.trainer.v1.Trainer/Predict`), which loads
//! the weights by that hash (checked) and keeps the model cached. Not
//! consensus code: nothing here is stored.
//!
//! A node without a predictor answers UNAVAILABLE (503). Each call holds one
//! of [`PREDICT_IN_FLIGHT`] places (the next is refused as busy, 429), on
//! top of the per-client limit every request has.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{OnceCell, Semaphore};
use tonic::transport::{Channel, Endpoint};
use um_formats::spec::{ModelSpec, Task};
use um_proto::um::trainer::v1 as trainer;
use um_proto::um::trainer::v1::trainer_client::TrainerClient;
use um_proto::um::training::v1 as training;
use um_proto::um::training::v1::predict_request::Input;

use super::backend::Backend;
use super::error::ApiError;

/// Predictions this node forwards at once.
pub const PREDICT_IN_FLIGHT: usize = 4;
/// Bytes a prompt may have, and bytes one request may generate, over the
/// API (the predictor runs one forward pass per byte generated).
pub const MAX_PROMPT_BYTES: usize = 4096;
pub const MAX_TOKENS: u32 = 400;
/// Bytes generated when a request names no number.
pub const DEFAULT_TOKENS: u32 = 80;
pub const DEFAULT_TEMPERATURE: f32 = 0.8;
pub const MAX_TEMPERATURE: f32 = 10.0;
/// Longest a forwarded prediction may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The node's `um-trainer serve`, as a predictor.
pub struct Predictor {
    endpoint: String,
    channel: OnceCell<Channel>,
    in_flight: Arc<Semaphore>,
}

impl Predictor {
    /// A predictor at `endpoint` (e.g. `http://127.0.0.1:9091`); nothing is
    /// connected until the first prediction.
    pub fn new(endpoint: &str) -> Result<Self, String> {
        Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("predictor endpoint {endpoint:?}: {e}"))?;
        Ok(Self {
            endpoint: endpoint.to_string(),
            channel: OnceCell::new(),
            in_flight: Arc::new(Semaphore::new(PREDICT_IN_FLIGHT)),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn client(&self) -> Result<TrainerClient<Channel>, ApiError> {
        let channel = self
            .channel
            .get_or_try_init(|| async {
                Endpoint::from_shared(self.endpoint.clone())
                    .map(|e| {
                        e.connect_timeout(CONNECT_TIMEOUT)
                            .timeout(CALL_TIMEOUT)
                            .connect_lazy()
                    })
                    .map_err(|e| ApiError::unavailable(format!("predictor endpoint: {e}")))
            })
            .await?
            .clone();
        Ok(TrainerClient::new(channel).max_decoding_message_size(MAX_ANSWER_BYTES))
    }
}

/// A prediction's answer is small (probabilities, or text of at most a
/// few thousand bytes); requests carry no weights.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The request a REST body describes: the bytes of a PNG, or a JSON
/// object with exactly one of `image` (784 integers), `png` (base64) or
/// `prompt` (text), and for a prompt `tokens`, `temperature` and `seed`.
pub fn parse_body(
    model_id: &str,
    version: Option<u64>,
    body: &[u8],
) -> Result<training::PredictRequest, ApiError> {
    let mut request = training::PredictRequest {
        model_id: model_id.to_string(),
        version,
        ..Default::default()
    };
    if body.starts_with(b"\x89PNG") {
        request.input = Some(Input::Png(body.to_vec()));
        return Ok(request);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!(
            "the body is neither a PNG nor JSON ({{\"image\": [784 pixels]}}, {{\"png\": base64}} or {{\"prompt\": text}}): {e}"
        ))
    })?;
    let Value::Object(fields) = value else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    let mut inputs = 0;
    for (name, field) in &fields {
        match name.as_str() {
            "image" => {
                inputs += 1;
                request.input = Some(Input::Pixels(json_pixels(field)?));
            }
            "png" => {
                inputs += 1;
                let text = field
                    .as_str()
                    .ok_or_else(|| ApiError::invalid("png must be a base64 string"))?;
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
                    .map_err(|e| ApiError::invalid(format!("png is not base64: {e}")))?;
                request.input = Some(Input::Png(bytes));
            }
            "prompt" => {
                inputs += 1;
                let text = field
                    .as_str()
                    .ok_or_else(|| ApiError::invalid("prompt must be a string"))?;
                request.input = Some(Input::Prompt(text.to_string()));
            }
            "tokens" => {
                request.tokens = field
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| ApiError::invalid("tokens must be a non-negative integer"))?;
            }
            "temperature" => {
                let t = field
                    .as_f64()
                    .ok_or_else(|| ApiError::invalid("temperature must be a number"))?;
                request.temperature = Some(t as f32);
            }
            "seed" => {
                request.seed = match field {
                    Value::String(s) => s.parse().ok(),
                    other => other.as_u64(),
                }
                .ok_or_else(|| ApiError::invalid("seed must be a non-negative integer"))?;
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown field {other:?}: expected image, png or prompt, and for a prompt tokens, temperature and seed"
                )))
            }
        }
    }
    if inputs != 1 {
        return Err(ApiError::invalid(
            "give exactly one input: image (784 pixels), png (base64) or prompt",
        ));
    }
    Ok(request)
}

fn json_pixels(field: &Value) -> Result<Vec<u8>, ApiError> {
    let values = field
        .as_array()
        .ok_or_else(|| ApiError::invalid("image must be an array of 784 pixels"))?;
    if values.len() != um_formats::dataset::PIXELS {
        return Err(ApiError::invalid(format!(
            "image has {} pixels; a digit has {} (28x28, row-major)",
            values.len(),
            um_formats::dataset::PIXELS
        )));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "image pixel {i} is {v}, not an integer from 0 to 255"
                    ))
                })
        })
        .collect()
}

/// The trainer's input for `request`, checked against the lineage's task
/// and bounded.
fn trainer_input(
    request: &training::PredictRequest,
    task: Task,
) -> Result<trainer::predict_request::Input, ApiError> {
    use trainer::predict_request::Input as Forward;
    let image = |pixels: Vec<u8>| match task {
        Task::Classify { .. } => Ok(Forward::Pixels(pixels)),
        Task::NextByte { .. } => Err(ApiError::invalid(format!(
            "{} is a language model: send a prompt, not an image",
            request.model_id
        ))),
    };
    match &request.input {
        None => Err(ApiError::invalid(
            "no input: set pixels or png (an image lineage) or prompt (a language lineage)",
        )),
        Some(Input::Pixels(pixels)) => {
            if pixels.len() != um_formats::dataset::PIXELS {
                return Err(ApiError::invalid(format!(
                    "pixels has {} bytes; a digit has {} (28x28, row-major)",
                    pixels.len(),
                    um_formats::dataset::PIXELS
                )));
            }
            image(pixels.clone())
        }
        Some(Input::Png(png)) => {
            let pixels = um_formats::image::digit_from_png(png)
                .map_err(|e| ApiError::invalid(format!("png: {e}")))?;
            image(pixels)
        }
        Some(Input::Prompt(prompt)) => {
            if matches!(task, Task::Classify { .. }) {
                return Err(ApiError::invalid(format!(
                    "{} classifies images: send image, png or pixels, not a prompt",
                    request.model_id
                )));
            }
            if prompt.len() > MAX_PROMPT_BYTES {
                return Err(ApiError::invalid(format!(
                    "the prompt has {} bytes; at most {MAX_PROMPT_BYTES}",
                    prompt.len()
                )));
            }
            let tokens = match request.tokens {
                0 => DEFAULT_TOKENS,
                n if n > MAX_TOKENS => {
                    return Err(ApiError::invalid(format!(
                        "at most {MAX_TOKENS} tokens per request, not {n}"
                    )))
                }
                n => n,
            };
            let temperature = request.temperature.unwrap_or(DEFAULT_TEMPERATURE);
            if !(0.0..=MAX_TEMPERATURE).contains(&temperature) {
                return Err(ApiError::invalid(format!(
                    "temperature must be from 0 to {MAX_TEMPERATURE}, not {temperature}"
                )));
            }
            Ok(Forward::Text(trainer::TextPrompt {
                prompt: prompt.as_bytes().to_vec(),
                tokens,
                temperature,
                seed: request.seed,
            }))
        }
    }
}

impl Backend {
    /// Runs `request` on this node's predictor.
    pub async fn predict(
        &self,
        request: training::PredictRequest,
    ) -> Result<training::PredictResponse, ApiError> {
        let predictor = self.predictor().ok_or_else(|| {
            ApiError::unavailable(
                "this node has no predictor: its operator starts umd with --predictor (or --verifier) naming a running `um-trainer serve`",
            )
        })?;
        let _place = predictor
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                ApiError::busy(format!(
                    "this node is running {PREDICT_IN_FLIGHT} predictions already; ask again later"
                ))
            })?;
        let lineage: training::QueryLineageResponse = self
            .query_msg(
                "/um.training.v1.Query/Lineage",
                &training::QueryLineageRequest {
                    model_id: request.model_id.clone(),
                    prove: false,
                },
            )
            .await?;
        let spec_json = lineage
            .lineage
            .map(|l| l.spec_json)
            .ok_or_else(|| ApiError::internal("the lineage record has no spec"))?;
        let spec = ModelSpec::parse(&spec_json)
            .map_err(|e| ApiError::internal(format!("the lineage's stored spec: {e}")))?;
        let input = trainer_input(&request, spec.task())?;
        let version = match request.version {
            Some(number) => {
                self.query_msg::<_, training::QueryVersionResponse>(
                    "/um.training.v1.Query/Version",
                    &training::QueryVersionRequest {
                        model_id: request.model_id.clone(),
                        version: number,
                        prove: false,
                    },
                )
                .await?
                .version
            }
            None => {
                self.query_msg::<_, training::QueryHeadResponse>(
                    "/um.training.v1.Query/Head",
                    &training::QueryHeadRequest {
                        model_id: request.model_id.clone(),
                        prove: false,
                    },
                )
                .await?
                .version
            }
        }
        .ok_or_else(|| ApiError::internal("the version record is empty"))?;
        let forwarded = trainer::PredictRequest {
            model_id: request.model_id.clone(),
            spec_json,
            weights_sha256: version.weights_sha256.clone(),
            weights: Vec::new(),
            input: Some(input),
        };
        let answer = predictor
            .client()
            .await?
            .predict(forwarded)
            .await
            .map_err(|status| predictor_error(predictor.endpoint(), status))?
            .into_inner();
        Ok(training::PredictResponse {
            model_id: request.model_id,
            version: version.version,
            weights_sha256: version.weights_sha256,
            probabilities: answer.probabilities,
            predicted_class: answer.predicted_class,
            text: String::from_utf8_lossy(&answer.text).into_owned(),
            device: answer.device,
            predict_ms: answer.predict_ms,
        })
    }
}

/// The predictor's refusal as the caller's error: its INVALID_ARGUMENT is
/// the input's fault (400), its RESOURCE_EXHAUSTED a busy node (429);
/// anything else is the node's predictor failing (503).
fn predictor_error(endpoint: &str, status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::InvalidArgument => ApiError::invalid(status.message().to_string()),
        tonic::Code::ResourceExhausted => ApiError::busy(status.message().to_string()),
        code => ApiError::unavailable(format!(
            "this node's predictor ({endpoint}) failed: {code:?}: {}",
            status.message()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::Kind;

    fn mlp() -> Task {
        Task::Classify {
            input_len: 784,
            classes: 10,
        }
    }

    #[test]
    fn bodies_parse_into_one_input() {
        let png = um_formats::image::digit_to_png(&[7; 784]).unwrap();
        let r = parse_body("m", Some(3), &png).unwrap();
        assert_eq!(r.version, Some(3));
        assert_eq!(r.input, Some(Input::Png(png.clone())));

        let image = serde_json::json!({"image": vec![255; 784]}).to_string();
        let r = parse_body("m", None, image.as_bytes()).unwrap();
        assert_eq!(r.input, Some(Input::Pixels(vec![255; 784])));

        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png);
        let r = parse_body("m", None, format!("{{\"png\":\"{b64}\"}}").as_bytes()).unwrap();
        assert_eq!(r.input, Some(Input::Png(png)));

        let r = parse_body(
            "lm",
            None,
            br#"{"prompt":"ROMEO.","tokens":20,"temperature":0,"seed":"7"}"#,
        )
        .unwrap();
        assert_eq!(r.input, Some(Input::Prompt("ROMEO.".into())));
        assert_eq!((r.tokens, r.temperature, r.seed), (20, Some(0.0), 7));

        for bad in [
            &b"not json"[..],
            b"[1,2]",
            b"{}",
            br#"{"prompt":"a","image":[]}"#,
            br#"{"image":[1,2,3]}"#,
            br#"{"image":"abc"}"#,
            br#"{"png":"***"}"#,
            br#"{"prompt":5}"#,
            br#"{"prompt":"a","tokens":-1}"#,
            br#"{"prompt":"a","colour":"red"}"#,
        ] {
            let err = parse_body("m", None, bad).unwrap_err();
            assert_eq!(err.kind, Kind::Invalid, "{}", String::from_utf8_lossy(bad));
        }
        let mut pixels = vec![0u64; 784];
        pixels[100] = 256;
        let err = parse_body(
            "m",
            None,
            serde_json::json!({"image": pixels}).to_string().as_bytes(),
        )
        .unwrap_err();
        assert!(err.message.contains("pixel 100 is 256"), "{err}");
    }

    #[test]
    fn inputs_are_checked_against_the_lineage_and_bounded() {
        let gpt = Task::NextByte {
            vocab: 256,
            block_size: 64,
        };
        let with = |input: Input| training::PredictRequest {
            model_id: "m".into(),
            input: Some(input),
            ..Default::default()
        };
        assert!(trainer_input(&with(Input::Pixels(vec![0; 784])), mlp()).is_ok());
        assert!(trainer_input(&with(Input::Pixels(vec![0; 783])), mlp()).is_err());
        assert!(trainer_input(&with(Input::Png(b"\x89PNG junk".to_vec())), mlp()).is_err());
        let err = trainer_input(&with(Input::Prompt("hi".into())), mlp()).unwrap_err();
        assert!(err.message.contains("classifies images"), "{err}");
        let err = trainer_input(&with(Input::Pixels(vec![0; 784])), gpt).unwrap_err();
        assert!(err.message.contains("language model"), "{err}");

        let forwarded = trainer_input(&with(Input::Prompt("hi".into())), gpt).unwrap();
        let trainer::predict_request::Input::Text(text) = forwarded else {
            panic!("text expected");
        };
        assert_eq!(
            (text.tokens, text.temperature),
            (DEFAULT_TOKENS, DEFAULT_TEMPERATURE)
        );
        for (tokens, temperature) in [(MAX_TOKENS + 1, None), (1, Some(-0.5)), (1, Some(f32::NAN))]
        {
            let request = training::PredictRequest {
                tokens,
                temperature,
                ..with(Input::Prompt("hi".into()))
            };
            assert!(
                trainer_input(&request, gpt).is_err(),
                "{tokens} {temperature:?}"
            );
        }
        let long = "x".repeat(MAX_PROMPT_BYTES + 1);
        assert!(trainer_input(&with(Input::Prompt(long)), gpt).is_err());
        assert!(trainer_input(&training::PredictRequest::default(), mlp()).is_err());
    }

    #[test]
    fn the_predictors_refusals_keep_their_class() {
        let e = |code| predictor_error("http://p", tonic::Status::new(code, "x")).kind;
        assert_eq!(e(tonic::Code::InvalidArgument), Kind::Invalid);
        assert_eq!(e(tonic::Code::ResourceExhausted), Kind::Busy);
        assert_eq!(e(tonic::Code::FailedPrecondition), Kind::Unavailable);
        assert_eq!(e(tonic::Code::Unavailable), Kind::Unavailable);
    }
}

#[cfg(test)]
mod backend_tests {
    use super::*;
    use crate::api::error::Kind;
    use crate::app::{App, Node};
    use crate::store::Store;
    use crate::wasm::WasmVm;

    fn backend(cache: &std::path::Path, predictor: Option<&str>) -> Backend {
        let node =
            Node::with_parts(Store::temporary().unwrap(), WasmVm::new(cache).unwrap()).unwrap();
        let backend = Backend::new(App::new(node), "http://127.0.0.1:9");
        match predictor {
            Some(endpoint) => backend.with_predictor(Predictor::new(endpoint).unwrap()),
            None => backend,
        }
    }

    fn digit(model_id: &str) -> training::PredictRequest {
        training::PredictRequest {
            model_id: model_id.into(),
            input: Some(Input::Pixels(vec![0; 784])),
            ..Default::default()
        }
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_node_without_a_predictor_answers_unavailable() {
        let cache = tempfile::tempdir().unwrap();
        let err = run(backend(cache.path(), None).predict(digit("m"))).unwrap_err();
        assert_eq!(err.kind, Kind::Unavailable);
        assert_eq!(err.http_status().as_u16(), 503);
        assert!(err.message.contains("--predictor"), "{err}");
    }

    #[test]
    fn predictions_past_the_nodes_places_are_refused_as_busy_and_unknown_lineages_are_not_found() {
        let cache = tempfile::tempdir().unwrap();
        let backend = backend(cache.path(), Some("http://127.0.0.1:9"));
        let err = run(backend.predict(digit("nobody"))).unwrap_err();
        assert_eq!(err.kind, Kind::NotFound, "{err}");
        let predictor = backend.predictor().unwrap();
        let held = predictor
            .in_flight
            .clone()
            .try_acquire_many_owned(PREDICT_IN_FLIGHT as u32)
            .unwrap();
        let err = run(backend.predict(digit("nobody"))).unwrap_err();
        assert_eq!(err.kind, Kind::Busy);
        assert_eq!(err.http_status().as_u16(), 429);
        drop(held);
        assert_eq!(
            run(backend.predict(digit("nobody"))).unwrap_err().kind,
            Kind::NotFound
        );
        assert!(Predictor::new("not a url at all").is_err());
    }
}
