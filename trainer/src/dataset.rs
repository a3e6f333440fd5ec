//! Datasets as tensors. The formats (records, hashes, split, loaders) live in
//! `um-formats`, shared with the chain, and are re-exported here.

use tch::{Device, Kind, Tensor};

pub use um_formats::dataset::*;

/// Model inputs for some records: `[n, 784]` f32 (`pixel / 255`) and `[n]` i64
/// labels, on `device`.
pub fn batch_tensors<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    device: Device,
) -> (Tensor, Tensor) {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for r in records {
        pixels.extend_from_slice(&r.pixels);
        labels.push(i64::from(r.label));
    }
    let n = labels.len() as i64;
    let xs = Tensor::from_slice(&pixels)
        .reshape([n, PIXELS as i64])
        .to_device(device)
        .to_kind(Kind::Float)
        / 255.0;
    let ys = Tensor::from_slice(&labels).to_device(device);
    (xs, ys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_tensors_scale_pixels() {
        let mut pixels = [0u8; PIXELS];
        for (i, p) in pixels.iter_mut().enumerate() {
            *p = (i as u8).wrapping_mul(9).wrapping_add(4);
        }
        let r = Record { label: 4, pixels };
        let (xs, ys) = batch_tensors([&r, &r], Device::Cpu);
        assert_eq!(xs.size(), vec![2, PIXELS as i64]);
        assert_eq!(ys.size(), vec![2]);
        assert_eq!(ys.int64_value(&[1]), 4);
        for i in [0usize, 1, 100, 783] {
            let want = f64::from(r.pixels[i]) / 255.0;
            assert!((xs.double_value(&[1, i as i64]) - want).abs() < 1e-6);
        }
    }
}
