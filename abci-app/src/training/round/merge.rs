//! The merge of a round's verified contributions: pure f32 arithmetic in a
//! fixed order, so every node computes the same bytes.

use um_formats::compress::{self, Compression};
use um_formats::{ModelSpec, Weights};

use crate::codes::{Code, TxError};

/// The weights a contribution stands for: its bytes in an `f32` round, the
/// round's base plus its decoded pseudo-gradient in a compressed one
/// (`um_formats::compress`). Delivery refused undecodable payloads, so an
/// error here is the store's.
pub fn contribution_weights(
    spec: &ModelSpec,
    compression: Compression,
    base: &[u8],
    bytes: Vec<u8>,
) -> Result<Vec<u8>, TxError> {
    if compression == Compression::F32 {
        return Ok(bytes);
    }
    let internal = |what: &str, e: String| TxError::new(Code::Internal, format!("{what}: {e}"));
    let base =
        Weights::decode(spec, base).map_err(|e| internal("stored base weights", e.to_string()))?;
    let delta = compress::decode(spec, compression, &bytes)
        .map_err(|e| internal("stored contribution", e.to_string()))?;
    let weights = compress::apply(&base, &delta)
        .map_err(|e| internal("stored contribution", e.to_string()))?;
    Ok(weights.encode())
}

/// From this many contributions on, each coordinate drops its lowest and
/// highest value before averaging (a trimmed mean): one contribution,
/// however extreme, then moves no coordinate beyond the others' range.
pub const TRIM_FROM: usize = 4;

/// `base + outer_lr × (mean − base)` per coordinate, where `mean` is the
/// (trimmed) mean of the contributions' values; with `outer_lr` = 1 the
/// mean itself, so one contribution merges to its own exact bytes.
///
/// Order is fixed: contributions as given (the round gives shard order), their
/// values sorted with `f32::total_cmp` before a trimmed sum, summed left to
/// right in f32 and divided by the count in f32.
pub fn merge(
    spec: &ModelSpec,
    base: &[u8],
    contributions: &[Vec<u8>],
    outer_lr: f32,
) -> Result<Vec<u8>, TxError> {
    let decode = |bytes: &[u8], what: &str| {
        Weights::decode(spec, bytes)
            .map_err(|e| TxError::new(Code::Internal, format!("stored {what} weights: {e}")))
    };
    if contributions.is_empty() {
        return Err(TxError::new(Code::Internal, "a merge of no contributions"));
    }
    let mut merged = decode(base, "base")?;
    let decoded: Vec<Weights> = contributions
        .iter()
        .map(|bytes| decode(bytes, "contribution"))
        .collect::<Result<_, _>>()?;
    let mut values = Vec::with_capacity(decoded.len());
    for (t, tensor) in merged.tensors.iter_mut().enumerate() {
        for (i, base_value) in tensor.data.iter_mut().enumerate() {
            values.clear();
            for contribution in &decoded {
                let value = contribution
                    .tensors
                    .get(t)
                    .and_then(|tensor| tensor.data.get(i))
                    .copied()
                    .ok_or_else(|| {
                        TxError::new(Code::Internal, "a contribution of another shape")
                    })?;
                values.push(value);
            }
            let mean = trimmed_mean(&mut values);
            *base_value = if outer_lr == 1.0 {
                mean
            } else {
                *base_value + outer_lr * (mean - *base_value)
            };
        }
    }
    Ok(merged.encode())
}

/// The mean of `values`, without their lowest and highest from
/// [`TRIM_FROM`] values on; `values` is reordered.
fn trimmed_mean(values: &mut [f32]) -> f32 {
    let kept: &[f32] = if values.len() >= TRIM_FROM {
        values.sort_by(f32::total_cmp);
        &values[1..values.len() - 1]
    } else {
        values
    };
    let mut sum = 0.0f32;
    for value in kept {
        sum += *value;
    }
    sum / kept.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"{"kind":"mlp","input":[1,4,4],"hidden":[3],"classes":2}"#;

    fn weights(seed: u64) -> (ModelSpec, Vec<u8>) {
        let spec = ModelSpec::parse(SPEC).unwrap();
        let bytes = Weights::init(&spec, seed).encode();
        (spec, bytes)
    }

    fn values(spec: &ModelSpec, bytes: &[u8]) -> Vec<f32> {
        Weights::decode(spec, bytes)
            .unwrap()
            .tensors
            .into_iter()
            .flat_map(|t| t.data)
            .collect()
    }

    #[test]
    fn one_contribution_merges_to_its_own_bytes() {
        let (spec, base) = weights(1);
        let (_, contribution) = weights(2);
        let merged = merge(&spec, &base, std::slice::from_ref(&contribution), 1.0).unwrap();
        assert_eq!(merged, contribution);
    }

    #[test]
    fn the_merge_is_the_mean_and_an_outer_step_toward_it() {
        let (spec, base) = weights(1);
        let (a, b) = (weights(2).1, weights(3).1);
        let merged = merge(&spec, &base, &[a.clone(), b.clone()], 1.0).unwrap();
        let (va, vb, vm) = (values(&spec, &a), values(&spec, &b), values(&spec, &merged));
        for i in 0..vm.len() {
            assert_eq!(vm[i], (va[i] + vb[i]) / 2.0);
        }
        let half = merge(&spec, &base, &[a.clone(), b.clone()], 0.5).unwrap();
        let (vbase, vhalf) = (values(&spec, &base), values(&spec, &half));
        for i in 0..vm.len() {
            assert_eq!(vhalf[i], vbase[i] + 0.5 * (vm[i] - vbase[i]));
        }
        // Past the mean: the outer step extrapolates the mean pseudo-gradient.
        let far = values(&spec, &merge(&spec, &base, &[a, b], 2.5).unwrap());
        for i in 0..vm.len() {
            assert_eq!(far[i], vbase[i] + 2.5 * (vm[i] - vbase[i]));
        }
        // The same inputs give the same bytes, whatever order they came in
        // from (the caller orders them by id).
        assert_eq!(
            merge(&spec, &base, &[weights(2).1, weights(3).1], 1.0).unwrap(),
            merged
        );
    }

    #[test]
    fn from_four_contributions_an_outlier_is_trimmed() {
        let (spec, base) = weights(1);
        let honest: Vec<Vec<u8>> = (2..5).map(|seed| weights(seed).1).collect();
        let mut outlier = Weights::decode(&spec, &weights(5).1).unwrap();
        for tensor in &mut outlier.tensors {
            for value in &mut tensor.data {
                *value = 1.0e6;
            }
        }
        let mut all = honest.clone();
        all.push(outlier.encode());
        let merged = values(&spec, &merge(&spec, &base, &all, 1.0).unwrap());
        let honest_values: Vec<Vec<f32>> = honest.iter().map(|b| values(&spec, b)).collect();
        for (i, value) in merged.iter().enumerate() {
            let lowest = honest_values.iter().map(|v| v[i]).fold(f32::MAX, f32::min);
            let highest = honest_values.iter().map(|v| v[i]).fold(f32::MIN, f32::max);
            assert!(
                (lowest..=highest).contains(value),
                "{value} outside {lowest}..{highest}"
            );
        }
    }
}
