//! Using a model: class probabilities of a digit (image lineages) or text
//! continuing a prompt (language lineages, [`crate::sample`]), and the cache
//! of loaded models the Trainer service's `Predict` keeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tch::{Device, Kind};
use thiserror::Error;

use crate::dataset::{batch_tensors, Record, PIXELS};
use crate::model::{Model, ModelError};
use crate::sample::{generate, SampleError, SampleParams};
use crate::spec::{ModelSpec, Task};

/// What to run a model on.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A digit: 784 grayscale pixels, 0 the background, 255 full ink.
    Pixels(Vec<u8>),
    /// A prompt to continue.
    Text {
        prompt: Vec<u8>,
        params: SampleParams,
    },
}

/// What a model made of an [`Input`].
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// The probability of each class, and the most probable (the lowest on
    /// a tie).
    Classes {
        probabilities: Vec<f32>,
        predicted: u32,
    },
    /// The bytes that continue the prompt.
    Text(Vec<u8>),
}

/// Why a model could not run on an input.
#[derive(Debug, Error)]
pub enum PredictError {
    #[error("{model} classifies images: send 784 pixels (a 28x28 digit), not a text prompt")]
    NotALanguageModel { model: String },
    #[error("{model} is a language model: send a text prompt, not pixels")]
    NotAnImageModel { model: String },
    #[error("a digit has {PIXELS} pixels (28x28), not {0}")]
    PixelCount(usize),
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// Runs `model` on `input`.
pub fn predict(model: &Model, model_id: &str, input: &Input) -> Result<Prediction, PredictError> {
    match (model.spec().task(), input) {
        (Task::Classify { .. }, Input::Pixels(pixels)) => classify(model, pixels),
        (Task::NextByte { .. }, Input::Text { prompt, params }) => {
            Ok(Prediction::Text(generate(model, prompt, params)?))
        }
        (Task::Classify { .. }, Input::Text { .. }) => Err(PredictError::NotALanguageModel {
            model: model_id.to_string(),
        }),
        (Task::NextByte { .. }, Input::Pixels(_)) => Err(PredictError::NotAnImageModel {
            model: model_id.to_string(),
        }),
    }
}

/// Softmax of the logits of one digit, computed as evaluation does (the
/// same input scaling, f32 logits).
fn classify(model: &Model, pixels: &[u8]) -> Result<Prediction, PredictError> {
    let record = Record {
        label: 0,
        pixels: pixels
            .try_into()
            .map_err(|_| PredictError::PixelCount(pixels.len()))?,
    };
    let probabilities = tch::no_grad(|| -> Result<Vec<f32>, tch::TchError> {
        let (xs, _) = batch_tensors([&record], model.device());
        let p = model
            .forward(&xs)
            .f_softmax(-1, Kind::Float)?
            .f_reshape([-1])?
            .f_to_device(Device::Cpu)?;
        let mut out = vec![0f32; p.numel()];
        let len = out.len();
        p.f_copy_data(&mut out, len)?;
        Ok(out)
    })?;
    let predicted = probabilities
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |best, (i, &p)| {
            if p > best.1 {
                (i, p)
            } else {
                best
            }
        })
        .0 as u32;
    Ok(Prediction::Classes {
        probabilities,
        predicted,
    })
}

/// Loaded models by (spec, weights hash), the most recently used last. A
/// model is loaded once however many predictions use it; the cache holds at
/// most `capacity` (each the size of its weights). libtorch's tensors are
/// not `Sync`: each model is behind its own lock, so two predictions of one
/// model take turns and those of different models run at once.
pub struct ModelCache {
    capacity: usize,
    entries: Mutex<VecDeque<(CacheKey, SharedModel)>>,
}

type CacheKey = ([u8; 32], String);

/// A cached model, shared between threads.
pub type SharedModel = Arc<Mutex<Model>>;

impl ModelCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The model of `spec` with the weights of hash `sha256`, and whether it
    /// was cached; on a miss, `load` gives the weights' bytes (checked
    /// against `sha256` by the caller) and the model is built outside the
    /// lock.
    pub fn get_or_load<E>(
        &self,
        spec: &ModelSpec,
        sha256: &[u8; 32],
        device: Device,
        load: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<(SharedModel, bool), CacheError<E>> {
        let key = (*sha256, spec.to_json());
        {
            let mut entries = self.lock();
            if let Some(at) = entries.iter().position(|(k, _)| *k == key) {
                if let Some(entry) = entries.remove(at) {
                    let model = entry.1.clone();
                    entries.push_back(entry);
                    return Ok((model, true));
                }
            }
        }
        let bytes = load().map_err(CacheError::Load)?;
        let model = Arc::new(Mutex::new(Model::from_safetensors(spec, &bytes, device)?));
        let mut entries = self.lock();
        if !entries.iter().any(|(k, _)| *k == key) {
            entries.push_back((key, model.clone()));
            while entries.len() > self.capacity {
                entries.pop_front();
            }
        }
        Ok((model, false))
    }

    /// Models held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nothing is left half-done while the lock is held, so a poisoned one
    /// is still good.
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(CacheKey, SharedModel)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A model could not be had for the cache.
#[derive(Debug, Error)]
pub enum CacheError<E> {
    #[error("{0}")]
    Load(E),
    #[error("weights: {0}")]
    Model(#[from] ModelError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    #[test]
    fn a_digit_gets_one_probability_per_class() {
        let spec = testutil::mlp_spec();
        let model = Model::init(&spec, 1, Device::Cpu).unwrap();
        let pixels: Vec<u8> = (0..PIXELS).map(|i| (i % 251) as u8).collect();
        let Prediction::Classes {
            probabilities,
            predicted,
        } = predict(&model, "m", &Input::Pixels(pixels.clone())).unwrap()
        else {
            panic!("classes expected");
        };
        assert_eq!(probabilities.len(), 10);
        let sum: f32 = probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        let best = probabilities[predicted as usize];
        assert!(probabilities.iter().all(|&p| p <= best));
        // The same digit through evaluation's path: the argmax agrees.
        let record = Record {
            label: 0,
            pixels: pixels.try_into().unwrap(),
        };
        let (xs, _) = batch_tensors([&record], Device::Cpu);
        let argmax = model.forward(&xs).argmax(-1, false).int64_value(&[0]);
        assert_eq!(i64::from(predicted), argmax);

        assert!(matches!(
            predict(&model, "m", &Input::Pixels(vec![0; 783])),
            Err(PredictError::PixelCount(783))
        ));
        let text = Input::Text {
            prompt: b"x".to_vec(),
            params: SampleParams {
                tokens: 1,
                temperature: 0.0,
                seed: 0,
            },
        };
        let err = predict(&model, "digits", &text).unwrap_err();
        assert!(
            err.to_string().contains("digits classifies images"),
            "{err}"
        );
    }

    #[test]
    fn a_language_model_continues_a_prompt_and_refuses_pixels() {
        let model = Model::init(&testutil::gpt_spec(), 3, Device::Cpu).unwrap();
        let params = SampleParams {
            tokens: 12,
            temperature: 0.8,
            seed: 5,
        };
        let input = Input::Text {
            prompt: b"HAMLET.".to_vec(),
            params,
        };
        let Prediction::Text(text) = predict(&model, "lm", &input).unwrap() else {
            panic!("text expected");
        };
        assert_eq!(text, generate(&model, b"HAMLET.", &params).unwrap());
        assert!(matches!(
            predict(&model, "lm", &Input::Pixels(vec![0; PIXELS])),
            Err(PredictError::NotAnImageModel { .. })
        ));
    }

    #[test]
    fn the_cache_loads_once_and_keeps_the_most_recently_used() {
        let spec = testutil::mlp_spec();
        let cache = ModelCache::new(2);
        let weights: Vec<Vec<u8>> = (1..=3)
            .map(|seed| {
                Model::init(&spec, seed, Device::Cpu)
                    .unwrap()
                    .to_safetensors()
            })
            .collect();
        let sha: Vec<[u8; 32]> = weights.iter().map(|w| crate::sha256(w)).collect();
        let loads = std::cell::Cell::new(0);
        let get = |i: usize| {
            cache
                .get_or_load(&spec, &sha[i], Device::Cpu, || {
                    loads.set(loads.get() + 1);
                    Ok::<_, String>(weights[i].clone())
                })
                .unwrap()
                .1
        };
        assert!(!get(0));
        assert!(get(0), "loaded once");
        assert!(!get(1));
        assert!(get(0), "0 is now the most recent");
        assert!(!get(2), "evicts 1, the least recently used");
        assert_eq!(cache.len(), 2);
        assert!(get(0));
        assert!(!get(1));
        assert_eq!(loads.get(), 4);
        // A failed load caches nothing.
        let err = cache
            .get_or_load(&spec, &[9; 32], Device::Cpu, || Err("gone".to_string()))
            .unwrap_err();
        assert!(matches!(err, CacheError::Load(ref m) if m == "gone"));
        // Bytes that are not weights of the spec.
        let err = cache
            .get_or_load(&spec, &[8; 32], Device::Cpu, || {
                Ok::<_, String>(vec![1, 2, 3])
            })
            .unwrap_err();
        assert!(matches!(err, CacheError::Model(_)), "{err}");
        assert_eq!(cache.len(), 2);
    }
}
