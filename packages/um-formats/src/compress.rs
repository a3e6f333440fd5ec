//! Compressed contributions: a round's contribution sent as its compressed
//! pseudo-gradient `new − base` instead of the full f32 weights, with one
//! exact decode that the merge and every verifier use.
//!
//! The DAO picks a [`Compression`] per lineage (its round params):
//!
//! - `f32` (or empty): the full weights as canonical safetensors; nothing
//!   here applies.
//! - `f16`, `bf16`: every entry of the delta rounded to nearest-even half
//!   precision (2 bytes an entry instead of 4).
//! - `topk`: the delta of each tensor, flattened, cut into chunks of
//!   [`TOPK_CHUNK`] entries (64×64, the last chunk of a tensor may be
//!   shorter); of each chunk the [`TOPK_KEEP`] entries of largest magnitude
//!   are kept (ties: the lower index), as a u16 index and a bf16 value;
//!   1.56 % of the entries, 4 bytes each. The trainer adds what it did not
//!   send before (error feedback, [`Encoder::encode`]): entries too small
//!   to be sent add up until they are.
//!
//! ## Payload
//!
//! `"UMC1" ‖ scheme (1 byte: 1 f16, 2 bf16, 3 topk) ‖ body`, the body
//! taking the spec's tensors in canonical order:
//!
//! - `f16`/`bf16`: each entry as u16 little-endian bits.
//! - `topk`: per chunk, its `k = min(TOPK_KEEP, chunk length)` indices
//!   (u16 LE, strictly ascending, below the chunk length) and then its `k`
//!   values (bf16 bits, u16 LE), in index order.
//!
//! The length of a payload follows from the spec and the scheme alone, so
//! a payload has exactly one decoding and is refused when its length,
//! magic, scheme, index order or any value (NaN, infinite) is wrong.
//! Decoded values are f32; applying a delta is `base + delta` per entry in
//! f32.

use thiserror::Error;

use crate::spec::ModelSpec;
use crate::weights::{NamedArray, Weights};

/// Entries per top-k chunk (64 × 64, Templar's chunk).
pub const TOPK_CHUNK: usize = 4096;
/// Entries kept per full top-k chunk (Templar's 64 of 4096: 1.56 %).
pub const TOPK_KEEP: usize = 64;

const MAGIC: &[u8; 4] = b"UMC1";

/// How a round's contributions travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Full f32 weights (canonical safetensors).
    #[default]
    F32,
    /// The delta in IEEE half precision.
    F16,
    /// The delta in bfloat16.
    Bf16,
    /// The top [`TOPK_KEEP`] of every [`TOPK_CHUNK`] delta entries, bf16
    /// values, with error feedback.
    TopK,
}

/// A payload or a scheme name was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CompressError {
    #[error("unknown compression {0:?}: one of f32, f16, bf16, topk")]
    UnknownScheme(String),
    #[error("the payload does not start with UMC1 and a scheme byte")]
    BadHeader,
    #[error("the payload is compressed with {got}, the round takes {expected}")]
    WrongScheme {
        expected: &'static str,
        got: &'static str,
    },
    #[error("the payload has {got} bytes, {expected} for this spec and scheme")]
    WrongLength { expected: u64, got: u64 },
    #[error(
        "tensor `{tensor}`, chunk {chunk}: indices must be strictly ascending and below {len}"
    )]
    BadIndices {
        tensor: String,
        chunk: usize,
        len: usize,
    },
    #[error("tensor `{tensor}` holds a NaN or infinite value at flat index {index}")]
    NonFinite { tensor: String, index: usize },
    #[error("the delta does not fit the base: tensor `{0}`")]
    ShapeMismatch(String),
}

impl Compression {
    /// The scheme of a round-params name; empty is `f32`.
    pub fn parse(name: &str) -> Result<Self, CompressError> {
        match name {
            "" | "f32" => Ok(Compression::F32),
            "f16" => Ok(Compression::F16),
            "bf16" => Ok(Compression::Bf16),
            "topk" => Ok(Compression::TopK),
            other => Err(CompressError::UnknownScheme(other.to_string())),
        }
    }

    /// The name the DAO writes.
    pub fn name(self) -> &'static str {
        match self {
            Compression::F32 => "f32",
            Compression::F16 => "f16",
            Compression::Bf16 => "bf16",
            Compression::TopK => "topk",
        }
    }

    fn id(self) -> u8 {
        match self {
            Compression::F32 => 0,
            Compression::F16 => 1,
            Compression::Bf16 => 2,
            Compression::TopK => 3,
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        [Self::F16, Self::Bf16, Self::TopK]
            .into_iter()
            .find(|s| s.id() == id)
    }

    /// Bytes of a payload for `spec` (for `f32`, of the tensor data alone).
    pub fn payload_len(self, spec: &ModelSpec) -> u64 {
        let entries = |n: u64| match self {
            Compression::F32 => 4 * n,
            Compression::F16 | Compression::Bf16 => 2 * n,
            Compression::TopK => {
                let chunk = TOPK_CHUNK as u64;
                let full = n / chunk;
                let tail = (n % chunk).min(TOPK_KEEP as u64);
                4 * (full * TOPK_KEEP as u64 + tail)
            }
        };
        let header = if self == Compression::F32 { 0 } else { 5 };
        header
            + spec
                .parameters()
                .iter()
                .map(|p| entries(p.numel()))
                .sum::<u64>()
    }
}

/// A delta: one f32 vector per tensor of the spec, in canonical order.
pub type Delta = Vec<Vec<f32>>;

/// `new − base` per entry, in f32.
pub fn delta(base: &Weights, new: &Weights) -> Result<Delta, CompressError> {
    base.tensors
        .iter()
        .zip(&new.tensors)
        .map(|(b, n)| {
            if b.name != n.name || b.data.len() != n.data.len() {
                return Err(CompressError::ShapeMismatch(n.name.clone()));
            }
            Ok(b.data.iter().zip(&n.data).map(|(b, n)| n - b).collect())
        })
        .collect()
}

/// `base + delta` per entry, in f32; every result must be finite.
pub fn apply(base: &Weights, delta: &Delta) -> Result<Weights, CompressError> {
    if base.tensors.len() != delta.len() {
        return Err(CompressError::ShapeMismatch(String::new()));
    }
    let tensors = base
        .tensors
        .iter()
        .zip(delta)
        .map(|(b, d)| {
            if b.data.len() != d.len() {
                return Err(CompressError::ShapeMismatch(b.name.clone()));
            }
            let data: Vec<f32> = b.data.iter().zip(d).map(|(b, d)| b + d).collect();
            if let Some(index) = data.iter().position(|v| !v.is_finite()) {
                return Err(CompressError::NonFinite {
                    tensor: b.name.clone(),
                    index,
                });
            }
            Ok(NamedArray {
                name: b.name.clone(),
                shape: b.shape.clone(),
                data,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Weights { tensors })
}

/// A trainer's encoder: the scheme and, for `topk`, the error feedback it
/// carries from one contribution to the next.
#[derive(Debug, Clone)]
pub struct Encoder {
    scheme: Compression,
    residual: Option<Delta>,
}

impl Encoder {
    /// An encoder with no residual yet.
    pub fn new(scheme: Compression) -> Self {
        Encoder {
            scheme,
            residual: None,
        }
    }

    /// The scheme.
    pub fn scheme(&self) -> Compression {
        self.scheme
    }

    /// Forgets the residual (the lineage or the scheme changed).
    pub fn reset(&mut self) {
        self.residual = None;
    }

    /// The payload of `delta`; for `topk`, of `delta` plus the residual,
    /// keeping what was not sent as the next residual. `F32` has no
    /// payload of this kind (the caller sends weights): an empty vector.
    pub fn encode(&mut self, delta: &Delta) -> Result<Vec<u8>, CompressError> {
        let mut payload = Vec::new();
        match self.scheme {
            Compression::F32 => return Ok(payload),
            Compression::F16 | Compression::Bf16 => {
                payload.extend_from_slice(MAGIC);
                payload.push(self.scheme.id());
                for (t, values) in delta.iter().enumerate() {
                    for (i, &v) in values.iter().enumerate() {
                        let bits = half_bits(self.scheme, v);
                        if !half_value(self.scheme, bits).is_finite() {
                            return Err(CompressError::NonFinite {
                                tensor: format!("#{t}"),
                                index: i,
                            });
                        }
                        payload.extend_from_slice(&bits.to_le_bytes());
                    }
                }
            }
            Compression::TopK => {
                let mut target: Delta = delta.clone();
                if let Some(residual) = &self.residual {
                    if residual.len() == target.len()
                        && residual
                            .iter()
                            .zip(&target)
                            .all(|(r, t)| r.len() == t.len())
                    {
                        for (t, r) in target.iter_mut().zip(residual) {
                            for (t, r) in t.iter_mut().zip(r) {
                                *t += r;
                            }
                        }
                    }
                }
                payload.extend_from_slice(MAGIC);
                payload.push(self.scheme.id());
                let mut residual = target.clone();
                for (t, values) in target.iter().enumerate() {
                    for (c, chunk) in values.chunks(TOPK_CHUNK).enumerate() {
                        let kept = top_indices(chunk);
                        let mut sent = Vec::with_capacity(kept.len());
                        for &i in &kept {
                            payload.extend_from_slice(&(i as u16).to_le_bytes());
                        }
                        for &i in &kept {
                            let bits = half_bits(Compression::Bf16, chunk[i]);
                            let value = half_value(Compression::Bf16, bits);
                            if !value.is_finite() {
                                return Err(CompressError::NonFinite {
                                    tensor: format!("#{t}"),
                                    index: c * TOPK_CHUNK + i,
                                });
                            }
                            payload.extend_from_slice(&bits.to_le_bytes());
                            sent.push((i, value));
                        }
                        for (i, value) in sent {
                            residual[t][c * TOPK_CHUNK + i] -= value;
                        }
                    }
                }
                self.residual = Some(residual);
            }
        }
        Ok(payload)
    }
}

/// The indices of the [`TOPK_KEEP`] entries of largest magnitude (ties:
/// the lower index; NaN counts as largest), ascending.
fn top_indices(chunk: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..chunk.len()).collect();
    order.sort_by(|&a, &b| chunk[b].abs().total_cmp(&chunk[a].abs()).then(a.cmp(&b)));
    order.truncate(TOPK_KEEP);
    order.sort_unstable();
    order
}

fn half_bits(scheme: Compression, v: f32) -> u16 {
    match scheme {
        Compression::F16 => half::f16::from_f32(v).to_bits(),
        _ => half::bf16::from_f32(v).to_bits(),
    }
}

fn half_value(scheme: Compression, bits: u16) -> f32 {
    match scheme {
        Compression::F16 => half::f16::from_bits(bits).to_f32(),
        _ => half::bf16::from_bits(bits).to_f32(),
    }
}

/// The delta a payload carries, for `spec` under `scheme` (not `F32`).
pub fn decode(
    spec: &ModelSpec,
    scheme: Compression,
    payload: &[u8],
) -> Result<Delta, CompressError> {
    if payload.len() < 5 || &payload[..4] != MAGIC {
        return Err(CompressError::BadHeader);
    }
    let got = Compression::from_id(payload[4]).ok_or(CompressError::BadHeader)?;
    if got != scheme {
        return Err(CompressError::WrongScheme {
            expected: scheme.name(),
            got: got.name(),
        });
    }
    let expected = scheme.payload_len(spec);
    if payload.len() as u64 != expected {
        return Err(CompressError::WrongLength {
            expected,
            got: payload.len() as u64,
        });
    }
    let mut words = payload[5..]
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]));
    let mut next = || words.next().unwrap_or(0);
    let mut out = Vec::new();
    for p in spec.parameters() {
        let n = p.numel() as usize;
        let mut values = vec![0f32; n];
        match scheme {
            Compression::F32 => {}
            Compression::F16 | Compression::Bf16 => {
                for v in values.iter_mut() {
                    *v = half_value(scheme, next());
                }
            }
            Compression::TopK => {
                for (c, chunk) in values.chunks_mut(TOPK_CHUNK).enumerate() {
                    let k = chunk.len().min(TOPK_KEEP);
                    let indices: Vec<usize> = (0..k).map(|_| usize::from(next())).collect();
                    let ascending = indices.windows(2).all(|w| w[0] < w[1]);
                    if !ascending || indices.last().is_some_and(|&i| i >= chunk.len()) {
                        return Err(CompressError::BadIndices {
                            tensor: p.name.clone(),
                            chunk: c,
                            len: chunk.len(),
                        });
                    }
                    for i in indices {
                        chunk[i] = half_value(Compression::Bf16, next());
                    }
                }
            }
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(CompressError::NonFinite {
                tensor: p.name,
                index,
            });
        }
        out.push(values);
    }
    Ok(out)
}

/// How far a sent delta is from the recomputed one, for verification:
/// `||sent − recomputed|| / ||recomputed||` (in f64; 0 when both are zero,
/// infinite when only the recomputed one is).
pub fn relative_distance(sent: &[Vec<f32>], recomputed: &[Vec<f32>]) -> f64 {
    let (mut diff, mut norm) = (0f64, 0f64);
    for (s, r) in sent.iter().zip(recomputed) {
        for (s, r) in s.iter().zip(r) {
            let d = f64::from(*s) - f64::from(*r);
            diff += d * d;
            norm += f64::from(*r) * f64::from(*r);
        }
    }
    if norm > 0.0 {
        (diff / norm).sqrt()
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

/// The cosine of the angle between a sent delta and the recomputed one
/// (in f64; 0 when either is zero).
pub fn cosine(sent: &[Vec<f32>], recomputed: &[Vec<f32>]) -> f64 {
    let (mut dot, mut a, mut b) = (0f64, 0f64, 0f64);
    for (s, r) in sent.iter().zip(recomputed) {
        for (s, r) in s.iter().zip(r) {
            let (s, r) = (f64::from(*s), f64::from(*r));
            dot += s * r;
            a += s * s;
            b += r * r;
        }
    }
    if a > 0.0 && b > 0.0 {
        dot / (a.sqrt() * b.sqrt())
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        // 4,100 + 4 entries: one full top-k chunk, a short one, a tiny tensor.
        ModelSpec::parse(r#"{"kind":"mlp","input":[1025],"hidden":[4],"classes":2}"#).unwrap()
    }

    fn deltas(spec: &ModelSpec, seed: u64) -> Delta {
        let a = Weights::init(spec, seed);
        a.tensors.into_iter().map(|t| t.data).collect()
    }

    #[test]
    fn scheme_names_round_trip_and_unknown_ones_are_refused() {
        for s in [
            Compression::F32,
            Compression::F16,
            Compression::Bf16,
            Compression::TopK,
        ] {
            assert_eq!(Compression::parse(s.name()), Ok(s));
        }
        assert_eq!(Compression::parse(""), Ok(Compression::F32));
        assert!(matches!(
            Compression::parse("int8"),
            Err(CompressError::UnknownScheme(_))
        ));
    }

    #[test]
    fn half_payloads_decode_to_the_rounded_delta() {
        let spec = spec();
        let d = deltas(&spec, 3);
        for scheme in [Compression::F16, Compression::Bf16] {
            let payload = Encoder::new(scheme).encode(&d).unwrap();
            assert_eq!(payload.len() as u64, scheme.payload_len(&spec));
            assert_eq!(payload.len(), 5 + 2 * spec.parameter_count() as usize);
            let back = decode(&spec, scheme, &payload).unwrap();
            let bound = if scheme == Compression::F16 {
                1.0 / 2048.0
            } else {
                1.0 / 256.0
            };
            let distance = relative_distance(&back, &d);
            assert!(
                distance > 0.0 && distance <= bound,
                "{scheme:?}: {distance}"
            );
            // Decoding is exact: the same payload, the same bits.
            let again = Encoder::new(scheme).encode(&back).unwrap();
            assert_eq!(again, payload);
        }
    }

    #[test]
    fn topk_keeps_the_largest_entries_and_feeds_back_the_rest() {
        let spec = spec();
        let d = deltas(&spec, 4);
        let mut encoder = Encoder::new(Compression::TopK);
        let payload = encoder.encode(&d).unwrap();
        // layers.0.weight: 4 × 1025 = 4100 entries → 64 + 4 kept; bias 4,
        // layers.1.weight 8, bias 2: all kept.
        assert_eq!(payload.len(), 5 + 4 * (64 + 4 + 4 + 8 + 2));
        assert_eq!(payload.len() as u64, Compression::TopK.payload_len(&spec));
        let sent = decode(&spec, Compression::TopK, &payload).unwrap();
        let first = &sent[0][..TOPK_CHUNK];
        assert_eq!(first.iter().filter(|v| **v != 0.0).count(), TOPK_KEEP);
        let smallest_sent = first
            .iter()
            .filter(|v| **v != 0.0)
            .fold(f32::MAX, |m, v| m.min(v.abs()));
        let largest_left = d[0][..TOPK_CHUNK]
            .iter()
            .zip(first)
            .filter(|(_, s)| **s == 0.0)
            .fold(0f32, |m, (v, _)| m.max(v.abs()));
        assert!(smallest_sent >= largest_left * (1.0 - 1.0 / 128.0));
        // Small tensors travel whole.
        assert!(relative_distance(&sent[3..], &d[3..]) < 1.0 / 256.0);
        // Error feedback: sending a zero delta next sends what was left.
        let zero: Delta = d.iter().map(|t| vec![0.0; t.len()]).collect();
        let next = decode(&spec, Compression::TopK, &encoder.encode(&zero).unwrap()).unwrap();
        assert!(next[0].iter().any(|v| *v != 0.0));
        let overlap = next[0][..TOPK_CHUNK]
            .iter()
            .zip(first)
            .filter(|(a, b)| **a != 0.0 && **b != 0.0)
            .count();
        assert_eq!(
            overlap, 0,
            "only the rounding of sent entries is left there"
        );
        // Without the residual, a fresh encoder sends nothing for a zero delta.
        let fresh = decode(
            &spec,
            Compression::TopK,
            &Encoder::new(Compression::TopK).encode(&zero).unwrap(),
        )
        .unwrap();
        assert!(fresh.iter().flatten().all(|v| *v == 0.0));
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let spec = spec();
        let d = deltas(&spec, 5);
        let topk = Encoder::new(Compression::TopK).encode(&d).unwrap();
        let f16 = Encoder::new(Compression::F16).encode(&d).unwrap();
        assert_eq!(
            decode(&spec, Compression::Bf16, &f16),
            Err(CompressError::WrongScheme {
                expected: "bf16",
                got: "f16"
            })
        );
        assert_eq!(
            decode(&spec, Compression::F16, &f16[..f16.len() - 2]),
            Err(CompressError::WrongLength {
                expected: f16.len() as u64,
                got: f16.len() as u64 - 2
            })
        );
        assert_eq!(
            decode(&spec, Compression::F16, b"safetensors"),
            Err(CompressError::BadHeader)
        );
        let mut swapped = topk.clone();
        // The first two indices of the first chunk, swapped: not ascending.
        swapped[5..9].copy_from_slice(&[topk[7], topk[8], topk[5], topk[6]]);
        assert!(matches!(
            decode(&spec, Compression::TopK, &swapped),
            Err(CompressError::BadIndices { chunk: 0, .. })
        ));
        let mut past_end = topk.clone();
        // The last index of the second (4-entry) chunk of layers.0.weight.
        let at = 5 + 64 * 4 + 3 * 2;
        past_end[at..at + 2].copy_from_slice(&4u16.to_le_bytes());
        assert!(matches!(
            decode(&spec, Compression::TopK, &past_end),
            Err(CompressError::BadIndices { chunk: 1, .. })
        ));
        let mut nan = f16.clone();
        nan[5..7].copy_from_slice(&half::f16::NAN.to_bits().to_le_bytes());
        assert!(matches!(
            decode(&spec, Compression::F16, &nan),
            Err(CompressError::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn applying_a_delta_is_f32_addition() {
        let spec = spec();
        let base = Weights::init(&spec, 1);
        let new = Weights::init(&spec, 2);
        let d = delta(&base, &new).unwrap();
        let back = apply(&base, &d).unwrap();
        for (b, n) in back.tensors.iter().zip(&new.tensors) {
            for (b, n) in b.data.iter().zip(&n.data) {
                assert!((b - n).abs() <= 1e-6);
            }
        }
        let mut huge = d.clone();
        huge[0][7] = f32::MAX;
        let mut base_huge = base.clone();
        base_huge.tensors[0].data[7] = f32::MAX;
        assert!(matches!(
            apply(&base_huge, &huge),
            Err(CompressError::NonFinite { index: 7, .. })
        ));
        assert!((cosine(&d, &d) - 1.0).abs() < 1e-12);
        assert_eq!(relative_distance(&d, &d), 0.0);
    }
}
