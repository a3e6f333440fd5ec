//! Model weights on the host: named f32 arrays in the canonical order of a
//! spec, their safetensors encoding, content hash, deterministic init and the
//! relative L2 distance used by verification. Pure Rust, no libtorch.
//!
//! The encoding is the `safetensors` format (all tensors `F32`, little
//! endian, no metadata), written by the `safetensors` crate, which orders
//! the tensors by dtype alignment then name; [`Weights::encode`] is therefore
//! canonical: one set of values has exactly one encoding, and
//! [`weights_hash`] (hex SHA-256 of the bytes) identifies it. Python loads it
//! with `safetensors.torch.load_file`.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::spec::{InitRule, ModelSpec};

/// Hex SHA-256 of the weights bytes: the content address of a model version.
pub fn weights_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why weights bytes were refused for a spec.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum WeightsError {
    #[error("weights are not decodable safetensors: {0}")]
    Undecodable(String),
    #[error("weights lack tensor `{0}`")]
    MissingTensor(String),
    #[error("weights carry unexpected tensor `{0}`")]
    UnexpectedTensor(String),
    #[error("tensor `{name}` has shape {got:?}, the spec wants {expected:?}")]
    WrongShape {
        name: String,
        expected: Vec<u64>,
        got: Vec<u64>,
    },
    #[error("tensor `{name}` has dtype {got}, only F32 is allowed")]
    WrongDtype { name: String, got: String },
    #[error("tensor `{name}` holds a NaN or infinite value at flat index {index}")]
    NonFinite { name: String, index: usize },
    #[error("weights are valid safetensors but not in the canonical encoding (metadata, order or padding differ)")]
    NonCanonical,
}

/// One named parameter on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    /// Stable parameter name.
    pub name: String,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Values in row-major order.
    pub data: Vec<f32>,
}

/// All parameters of a model, in the spec's canonical order.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// The parameters.
    pub tensors: Vec<NamedArray>,
}

impl Weights {
    /// Deterministic initial weights for a (validated) spec.
    ///
    /// Every value is uniform in `[-b, b)` with `b = 1/sqrt(fan_in)`, PyTorch's
    /// default for `Linear` and `Conv2d` weights and biases. The uniforms come
    /// from SHA-256 in counter mode, not from libtorch's global generator (which
    /// parallel threads would share): block `j` of parameter `name` is
    /// `sha256("um-init" ‖ seed (u64 BE) ‖ name (UTF-8) ‖ j (u32 BE))`; each
    /// block gives eight u32 (BE) `x`, `u = (x >> 8) / 2^24`, and the value is
    /// `f32((2u - 1) · b)` computed in f64. A LayerNorm's scale starts at
    /// one and its shift at zero ([`InitRule`]).
    pub fn init(spec: &ModelSpec, seed: u64) -> Self {
        let tensors = spec
            .parameters()
            .into_iter()
            .map(|p| {
                let n = p.numel() as usize;
                let constant = match p.init {
                    InitRule::Uniform => None,
                    InitRule::Ones => Some(1.0),
                    InitRule::Zeros => Some(0.0),
                };
                if let Some(value) = constant {
                    return NamedArray {
                        name: p.name,
                        shape: p.shape,
                        data: vec![value; n],
                    };
                }
                let bound = 1.0 / (p.fan_in as f64).sqrt();
                let mut data = Vec::with_capacity(n);
                let mut block: u32 = 0;
                while data.len() < n {
                    let mut h = Sha256::new();
                    h.update(b"um-init");
                    h.update(seed.to_be_bytes());
                    h.update(p.name.as_bytes());
                    h.update(block.to_be_bytes());
                    let digest = h.finalize();
                    for chunk in digest.chunks_exact(4) {
                        if data.len() == n {
                            break;
                        }
                        let x = u32::from_be_bytes(chunk.try_into().expect("4 bytes"));
                        let u = f64::from(x >> 8) / f64::from(1u32 << 24);
                        data.push(((2.0 * u - 1.0) * bound) as f32);
                    }
                    block += 1;
                }
                NamedArray {
                    name: p.name,
                    shape: p.shape,
                    data,
                }
            })
            .collect();
        Weights { tensors }
    }

    /// The canonical safetensors bytes.
    pub fn encode(&self) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = self
            .tensors
            .iter()
            .map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views = self.tensors.iter().zip(&bytes).map(|(t, b)| {
            let shape = t.shape.iter().map(|&d| d as usize).collect();
            let view = TensorView::new(Dtype::F32, shape, b).expect("shape matches data");
            (t.name.as_str(), view)
        });
        safetensors::serialize(views, None).expect("f32 tensors always serialize")
    }

    /// Decodes weights for `spec`: exactly the spec's names and shapes, F32,
    /// all values finite. The encoding need not be canonical (see
    /// [`Weights::decode_canonical`]).
    pub fn decode(spec: &ModelSpec, bytes: &[u8]) -> Result<Self, WeightsError> {
        // The layout check first: the crate's own errors depend on the
        // process's hash order (see `layout`), and these reach consensus.
        crate::layout::check(bytes).map_err(WeightsError::Undecodable)?;
        let st = SafeTensors::deserialize(bytes).map_err(|_| {
            WeightsError::Undecodable("refused by the safetensors reader".to_string())
        })?;
        let expected = spec.parameters();
        let wanted: HashMap<&str, ()> = expected.iter().map(|p| (p.name.as_str(), ())).collect();
        let mut present: Vec<&str> = st.names();
        present.sort_unstable();
        if let Some(extra) = present.iter().find(|n| !wanted.contains_key(*n)) {
            return Err(WeightsError::UnexpectedTensor(extra.to_string()));
        }
        let mut tensors = Vec::with_capacity(expected.len());
        for p in expected {
            let view = st
                .tensor(&p.name)
                .map_err(|_| WeightsError::MissingTensor(p.name.clone()))?;
            if view.dtype() != Dtype::F32 {
                return Err(WeightsError::WrongDtype {
                    name: p.name,
                    got: format!("{:?}", view.dtype()),
                });
            }
            let got: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
            if got != p.shape {
                return Err(WeightsError::WrongShape {
                    name: p.name,
                    expected: p.shape,
                    got,
                });
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            if let Some(index) = data.iter().position(|v| !v.is_finite()) {
                return Err(WeightsError::NonFinite {
                    name: p.name,
                    index,
                });
            }
            tensors.push(NamedArray {
                name: p.name,
                shape: p.shape,
                data,
            });
        }
        Ok(Weights { tensors })
    }

    /// [`Weights::decode`], and the bytes must be exactly [`Weights::encode`] of
    /// the result, so that one set of values has one content hash.
    pub fn decode_canonical(spec: &ModelSpec, bytes: &[u8]) -> Result<Self, WeightsError> {
        let weights = Self::decode(spec, bytes)?;
        if weights.encode() != bytes {
            return Err(WeightsError::NonCanonical);
        }
        Ok(weights)
    }

    /// Total number of values.
    pub fn numel(&self) -> usize {
        self.tensors.iter().map(|t| t.data.len()).sum()
    }

    /// `||self - reference|| / ||reference||` over all values (L2 norms in f64,
    /// summed in the canonical order). `None` when names or shapes differ.
    /// A zero reference gives 0 for identical weights and +inf otherwise.
    pub fn relative_distance(&self, reference: &Weights) -> Option<f64> {
        if self.tensors.len() != reference.tensors.len() {
            return None;
        }
        let (mut diff, mut norm) = (0.0f64, 0.0f64);
        for (a, b) in self.tensors.iter().zip(&reference.tensors) {
            if a.name != b.name || a.shape != b.shape || a.data.len() != b.data.len() {
                return None;
            }
            for (&x, &y) in a.data.iter().zip(&b.data) {
                let d = f64::from(x) - f64::from(y);
                diff += d * d;
                norm += f64::from(y) * f64::from(y);
            }
        }
        Some(if norm > 0.0 {
            (diff / norm).sqrt()
        } else if diff == 0.0 {
            0.0
        } else {
            f64::INFINITY
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mlp() -> ModelSpec {
        ModelSpec::parse(r#"{"kind":"mlp","input":[1,28,28],"hidden":[128,64],"classes":10}"#)
            .unwrap()
    }

    #[test]
    fn init_is_deterministic_seeded_and_bounded() {
        let spec = mlp();
        let a = Weights::init(&spec, 7);
        let b = Weights::init(&spec, 7);
        let c = Weights::init(&spec, 8);
        assert_eq!(a.encode(), b.encode());
        assert_ne!(a.encode(), c.encode());
        assert_eq!(a.numel() as u64, spec.parameter_count());
        for t in &a.tensors {
            let fan_in = if t.name == "layers.0.weight" || t.name == "layers.0.bias" {
                784.0
            } else if t.name.starts_with("layers.1") {
                128.0
            } else {
                64.0
            };
            let bound = (1.0 / f64::sqrt(fan_in)) as f32;
            assert!(t.data.iter().all(|v| v.abs() <= bound), "{}", t.name);
            // Spread: the values use most of the range and are not constant.
            let max = t.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(max > 0.5 * bound, "{}", t.name);
        }
        // Pinned first values: changing the init definition must be deliberate.
        // (sha256("um-init" ‖ 7u64 BE ‖ "layers.0.weight" ‖ 0u32 BE), first word.)
        let first = a.tensors[0].data[0];
        let mut h = Sha256::new();
        h.update(b"um-init");
        h.update(7u64.to_be_bytes());
        h.update(b"layers.0.weight");
        h.update(0u32.to_be_bytes());
        let d = h.finalize();
        let x = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let expect = ((2.0 * (f64::from(x >> 8) / 16777216.0) - 1.0) * (1.0 / 28.0)) as f32;
        assert_eq!(first.to_bits(), expect.to_bits());
    }

    #[test]
    fn encode_decode_round_trip_is_bit_exact_and_canonical() {
        let spec = mlp();
        let mut w = Weights::init(&spec, 1);
        // Values whose bits must survive: negative zero, subnormal, extremes.
        w.tensors[1].data[0] = -0.0;
        w.tensors[1].data[1] = f32::from_bits(1);
        w.tensors[1].data[2] = f32::MAX;
        let bytes = w.encode();
        let back = Weights::decode_canonical(&spec, &bytes).unwrap();
        for (a, b) in w.tensors.iter().zip(&back.tensors) {
            assert_eq!(a.name, b.name);
            let abits: Vec<u32> = a.data.iter().map(|v| v.to_bits()).collect();
            let bbits: Vec<u32> = b.data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(abits, bbits, "{}", a.name);
        }
        assert_eq!(back.encode(), bytes);
        assert_eq!(weights_hash(&bytes), weights_hash(&back.encode()));
        assert_eq!(weights_hash(b"").len(), 64);
    }

    #[test]
    fn decode_refuses_what_does_not_fit_the_spec() {
        let spec = mlp();
        let good = Weights::init(&spec, 1);

        let err = Weights::decode(&spec, b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage").unwrap_err();
        assert!(matches!(err, WeightsError::Undecodable(_)), "{err:?}");
        assert!(matches!(
            Weights::decode(&spec, &[1, 2, 3]).unwrap_err(),
            WeightsError::Undecodable(_)
        ));

        let mut missing = good.clone();
        missing.tensors.pop();
        assert_eq!(
            Weights::decode(&spec, &missing.encode()).unwrap_err(),
            WeightsError::MissingTensor("layers.2.bias".into())
        );

        let mut extra = good.clone();
        extra.tensors.push(NamedArray {
            name: "layers.3.bias".into(),
            shape: vec![1],
            data: vec![0.0],
        });
        assert_eq!(
            Weights::decode(&spec, &extra.encode()).unwrap_err(),
            WeightsError::UnexpectedTensor("layers.3.bias".into())
        );

        let mut shape = good.clone();
        shape.tensors[4].shape = vec![64, 10];
        assert_eq!(
            Weights::decode(&spec, &shape.encode()).unwrap_err(),
            WeightsError::WrongShape {
                name: "layers.2.weight".into(),
                expected: vec![10, 64],
                got: vec![64, 10]
            }
        );

        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut nan = good.clone();
            nan.tensors[2].data[17] = bad;
            assert_eq!(
                Weights::decode(&spec, &nan.encode()).unwrap_err(),
                WeightsError::NonFinite {
                    name: "layers.1.weight".into(),
                    index: 17
                }
            );
        }

        // F64 instead of F32.
        let data: Vec<u8> = (0..10u64).flat_map(|_| 0f64.to_le_bytes()).collect();
        let views: Vec<(String, TensorView)> = good
            .tensors
            .iter()
            .map(|t| {
                if t.name == "layers.2.bias" {
                    (
                        t.name.clone(),
                        TensorView::new(Dtype::F64, vec![10], &data).unwrap(),
                    )
                } else {
                    let shape = t.shape.iter().map(|&d| d as usize).collect();
                    let raw: &[u8] = unsafe_free_bytes(&t.data);
                    (
                        t.name.clone(),
                        TensorView::new(Dtype::F32, shape, raw).unwrap(),
                    )
                }
            })
            .collect();
        let bytes = safetensors::serialize(views, None).unwrap();
        assert!(matches!(
            Weights::decode(&spec, &bytes).unwrap_err(),
            WeightsError::WrongDtype { .. }
        ));

        // Same values with metadata: decodable but not canonical.
        let views = good.tensors.iter().map(|t| {
            let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
            (
                t.name.clone(),
                TensorView::new(Dtype::F32, shape, unsafe_free_bytes(&t.data)).unwrap(),
            )
        });
        let meta = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
        let bytes = safetensors::serialize(views, meta).unwrap();
        assert_eq!(Weights::decode(&spec, &bytes).unwrap(), good);
        assert_eq!(
            Weights::decode_canonical(&spec, &bytes).unwrap_err(),
            WeightsError::NonCanonical
        );
    }

    /// Every `HashMap` gets its own hash seed, so the `safetensors` crate's
    /// error for tensors sharing offsets changes from call to call; the
    /// error of `decode` (which reaches consensus) must not.
    #[test]
    fn undecodable_weights_get_the_same_error_every_time() {
        let entries: Vec<String> = (0..40)
            .map(|i| format!(r#""t{i:02}":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#))
            .collect();
        let header = format!("{{{}}}", entries.join(","));
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 4]);

        let crate_errors: std::collections::BTreeSet<String> = (0..50)
            .map(|_| SafeTensors::deserialize(&bytes).unwrap_err().to_string())
            .collect();
        assert!(
            crate_errors.len() > 1,
            "the crate's error did not vary, so this test shows nothing: {crate_errors:?}"
        );
        let ours: std::collections::BTreeSet<String> = (0..50)
            .map(|_| Weights::decode(&mlp(), &bytes).unwrap_err().to_string())
            .collect();
        assert_eq!(ours.len(), 1, "{ours:?}");
    }

    /// The little-endian bytes of f32 values without `unsafe`: leaked, test only.
    fn unsafe_free_bytes(data: &[f32]) -> &'static [u8] {
        let v: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        Box::leak(v.into_boxed_slice())
    }

    #[test]
    fn relative_distance() {
        let spec = mlp();
        let a = Weights::init(&spec, 1);
        assert_eq!(a.relative_distance(&a), Some(0.0));
        let mut b = a.clone();
        b.tensors[0].data[0] += 1.0;
        let norm: f64 = a
            .tensors
            .iter()
            .flat_map(|t| &t.data)
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        let d = b.relative_distance(&a).unwrap();
        let want = (f64::from(b.tensors[0].data[0]) - f64::from(a.tensors[0].data[0])) / norm;
        assert!((d - want).abs() < 1e-12, "{d} vs {want}");
        let other = Weights::init(
            &ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[32],"classes":10}"#)
                .unwrap(),
            1,
        );
        assert_eq!(other.relative_distance(&a), None);
    }
}
