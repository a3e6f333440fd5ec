//! Text from a language lineage (`gpt` spec): the model continues a prompt
//! one byte at a time, each byte drawn from the next-byte distribution of
//! the last `block_size` bytes.
//!
//! A draw is reproducible: byte `i` of the continuation uses the uniform
//! `u = (w >> 11) / 2^53` of the first u64 (big-endian) of
//! `sha256("um/sample" ‖ seed (u64 BE) ‖ i (u64 BE))`, and picks the first
//! byte whose cumulative probability (softmax of `logits / temperature`,
//! in f64, bytes in order) exceeds `u`. Temperature 0 takes the most
//! likely byte (the lowest on a tie).

use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};
use thiserror::Error;

use crate::model::Model;
use crate::spec::ModelSpec;

/// Longest continuation one call generates.
pub const MAX_SAMPLE_TOKENS: usize = 100_000;

/// How to continue a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleParams {
    /// Bytes to generate.
    pub tokens: usize,
    /// Softmax temperature, ≥ 0 (0: the most likely byte each time).
    pub temperature: f64,
    /// Seed of the draws.
    pub seed: u64,
}

/// Why no text was generated.
#[derive(Debug, Error)]
pub enum SampleError {
    #[error("model {0} is not a language model (a gpt spec): it has no text to generate")]
    NotALanguageModel(String),
    #[error("temperature must be a finite number ≥ 0, not {0}")]
    BadTemperature(f64),
    #[error("at most {MAX_SAMPLE_TOKENS} tokens per sample, not {0}")]
    TooManyTokens(usize),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// The bytes `model` appends to `prompt` (an empty prompt starts from a
/// newline).
pub fn generate(
    model: &Model,
    prompt: &[u8],
    params: &SampleParams,
) -> Result<Vec<u8>, SampleError> {
    let ModelSpec::Gpt { block_size, .. } = *model.spec() else {
        return Err(SampleError::NotALanguageModel(model.spec().to_json()));
    };
    if !params.temperature.is_finite() || params.temperature < 0.0 {
        return Err(SampleError::BadTemperature(params.temperature));
    }
    if params.tokens > MAX_SAMPLE_TOKENS {
        return Err(SampleError::TooManyTokens(params.tokens));
    }
    let mut text: Vec<u8> = if prompt.is_empty() {
        b"\n".to_vec()
    } else {
        prompt.to_vec()
    };
    let start = text.len();
    let block = block_size as usize;
    tch::no_grad(|| -> Result<(), SampleError> {
        for i in 0..params.tokens {
            let context: Vec<i64> = text[text.len().saturating_sub(block)..]
                .iter()
                .map(|&b| i64::from(b))
                .collect();
            let n = context.len() as i64;
            let xs = Tensor::from_slice(&context)
                .reshape([1, n])
                .to_device(model.device());
            let logits = model
                .forward(&xs)
                .f_select(1, n - 1)?
                .f_reshape([-1])?
                .f_to_kind(Kind::Double)?
                .f_to_device(Device::Cpu)?;
            let len = logits.numel();
            let mut row = vec![0f64; len];
            logits.f_copy_data(&mut row, len)?;
            text.push(pick(&row, params.temperature, params.seed, i as u64));
        }
        Ok(())
    })?;
    Ok(text[start..].to_vec())
}

/// The byte drawn from `logits` (see the module docs).
fn pick(logits: &[f64], temperature: f64, seed: u64, index: u64) -> u8 {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0usize, f64::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 {
                    (i, v)
                } else {
                    best
                }
            })
            .0
    };
    if temperature == 0.0 {
        return argmax() as u8;
    }
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| ((v - max) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return argmax() as u8;
    }
    let mut h = Sha256::new();
    h.update(b"um/sample");
    h.update(seed.to_be_bytes());
    h.update(index.to_be_bytes());
    let digest = h.finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest[..8]);
    let u = (u64::from_be_bytes(word) >> 11) as f64 / (1u64 << 53) as f64;
    let mut cumulative = 0.0;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w / total;
        if u < cumulative {
            return i as u8;
        }
    }
    (weights.len() - 1) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::{run_step, StepRequest};
    use crate::testutil;
    use crate::TrainParams;

    #[test]
    fn sampling_is_reproducible_and_refuses_what_it_cannot_do() {
        let model = Model::init(&testutil::gpt_spec(), 3, Device::Cpu).unwrap();
        let params = SampleParams {
            tokens: 40,
            temperature: 1.0,
            seed: 7,
        };
        let a = generate(&model, b"ROMEO.", &params).unwrap();
        assert_eq!(a.len(), 40);
        assert_eq!(a, generate(&model, b"ROMEO.", &params).unwrap());
        let other = generate(&model, b"ROMEO.", &SampleParams { seed: 8, ..params }).unwrap();
        assert_ne!(a, other, "another seed, other draws");
        // A prompt longer than the context is cut to its last block_size bytes.
        let long = [b'a'; 100];
        assert_eq!(generate(&model, &long, &params).unwrap().len(), 40);

        let greedy = SampleParams {
            temperature: 0.0,
            ..params
        };
        assert_eq!(
            generate(&model, b"", &greedy).unwrap(),
            generate(&model, b"\n", &greedy).unwrap()
        );
        for bad in [-1.0, f64::NAN] {
            let err = generate(
                &model,
                b"x",
                &SampleParams {
                    temperature: bad,
                    ..params
                },
            );
            assert!(
                matches!(err, Err(SampleError::BadTemperature(_))),
                "{err:?}"
            );
        }
        let err = generate(
            &model,
            b"x",
            &SampleParams {
                tokens: MAX_SAMPLE_TOKENS + 1,
                ..params
            },
        );
        assert!(matches!(err, Err(SampleError::TooManyTokens(_))));
        let mlp = Model::init(&testutil::mlp_spec(), 1, Device::Cpu).unwrap();
        assert!(matches!(
            generate(&mlp, b"x", &params),
            Err(SampleError::NotALanguageModel(_))
        ));
    }

    /// After some training on Shakespeare, greedy text is no longer noise:
    /// most of it is letters, spaces and punctuation of the plays.
    #[test]
    fn a_trained_model_writes_text_of_the_plays_alphabet() {
        let spec = testutil::gpt_spec();
        let base = Model::init(&spec, 1, Device::Cpu).unwrap().to_safetensors();
        let out = run_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: "um1sampler",
                nonce: 1,
                params: TrainParams {
                    learning_rate: 0.5,
                    batch_size: 4,
                    local_steps: 40,
                },
                dataset: testutil::shakespeare(),
            },
            Device::Cpu,
        )
        .unwrap();
        let trained = Model::from_safetensors(&spec, &out.weights, Device::Cpu).unwrap();
        let untrained = Model::from_safetensors(&spec, &base, Device::Cpu).unwrap();
        let params = SampleParams {
            tokens: 200,
            temperature: 0.8,
            seed: 1,
        };
        let plain = |text: &[u8]| {
            text.iter()
                .filter(|b| b.is_ascii_alphanumeric() || b" \n.,;:'!?-".contains(b))
                .count()
        };
        let before = generate(&untrained, b"KING.\n", &params).unwrap();
        let after = generate(&trained, b"KING.\n", &params).unwrap();
        eprintln!("untrained: {:?}", String::from_utf8_lossy(&before));
        eprintln!("trained:   {:?}", String::from_utf8_lossy(&after));
        assert!(plain(&after) > 180, "{}", String::from_utf8_lossy(&after));
        assert!(plain(&before) < 120, "{}", String::from_utf8_lossy(&before));
    }
}
