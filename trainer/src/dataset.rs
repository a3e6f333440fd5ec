//! Datasets as tensors. The formats (records, hashes, split, loaders) live in
//! `um-formats`, shared with the chain, and are re-exported here.

use tch::{Device, Kind, Tensor};
use um_formats::spec::Task;

pub use um_formats::dataset::*;

/// Inputs and targets of some records for a model's task.
///
/// - Classify: [`batch_tensors`].
/// - NextByte with context `T`: each record's [`Record::bytes`] give
///   `w = 784 / T` windows (rounded down), window `k` being bytes
///   `[k·T, k·T + T + 1)`: `T` input tokens, each predicting the byte after
///   it. Inputs `[n·w, T]` i64 (records in order, windows in order),
///   targets `[n·w·T]` i64 (the same order, positions in order).
pub fn task_tensors<'a>(
    task: Task,
    records: impl IntoIterator<Item = &'a Record>,
    device: Device,
) -> (Tensor, Tensor) {
    match task {
        Task::Classify { .. } => batch_tensors(records, device),
        Task::NextByte { block_size, .. } => {
            let t = (block_size as usize).clamp(1, PIXELS);
            let windows = PIXELS / t;
            let mut inputs = Vec::new();
            let mut targets = Vec::new();
            for r in records {
                let bytes = r.bytes();
                for k in 0..windows {
                    let window = &bytes[k * t..k * t + t + 1];
                    inputs.extend(window[..t].iter().map(|&b| i64::from(b)));
                    targets.extend(window[1..].iter().map(|&b| i64::from(b)));
                }
            }
            let rows = (inputs.len() / t) as i64;
            let xs = Tensor::from_slice(&inputs)
                .reshape([rows, t as i64])
                .to_device(device);
            let ys = Tensor::from_slice(&targets).to_device(device);
            (xs, ys)
        }
    }
}

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
    fn a_text_record_gives_windows_whose_targets_are_the_next_bytes() {
        let text: Vec<u8> = (0..RECORD_BYTES).map(|i| (i % 251) as u8).collect();
        let r = text_records(&text).remove(0);
        let task = Task::NextByte {
            block_size: 100,
            vocab: 256,
        };
        let (xs, ys) = task_tensors(task, [&r, &r], Device::Cpu);
        // 784 / 100 = 7 windows per record.
        assert_eq!(xs.size(), vec![14, 100]);
        assert_eq!(ys.size(), vec![14 * 100]);
        for (row, k) in [(0i64, 0usize), (6, 6), (13, 6)] {
            for pos in [0usize, 57, 99] {
                let x = xs.int64_value(&[row, pos as i64]);
                let y = ys.int64_value(&[row * 100 + pos as i64]);
                assert_eq!(x, i64::from(text[k * 100 + pos]));
                assert_eq!(y, i64::from(text[k * 100 + pos + 1]));
            }
        }
        // The longest context reads the whole record once.
        let whole = Task::NextByte {
            block_size: 784,
            vocab: 256,
        };
        let (xs, ys) = task_tensors(whole, [&r], Device::Cpu);
        assert_eq!(xs.size(), vec![1, 784]);
        assert_eq!(ys.int64_value(&[783]), i64::from(text[784]));
    }

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
