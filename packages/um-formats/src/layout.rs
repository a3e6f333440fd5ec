//! A deterministic check of a safetensors file's layout, run before the
//! `safetensors` crate sees the bytes.
//!
//! The crate reads the header into a `HashMap` seeded per process and sorts
//! tensors by offsets only, so when two tensors share offsets its error
//! names whichever the process's hash order put second, and can even be of
//! another kind. Two validators must describe the same bad bytes the same
//! way, so the layout is checked here first, in an order that depends only on
//! the bytes: tensors sorted by (start, end, name). Whatever passes this
//! check, the crate accepts as well.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The crate's own limit on the header length.
const MAX_HEADER_BYTES: u64 = 100_000_000;
const METADATA_KEY: &str = "__metadata__";

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Why the layout is refused: every message is a function of the bytes.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!(
            "{} bytes: too short for the 8-byte header length",
            bytes.len()
        ));
    };
    let header_len = u64::from_le_bytes(*length);
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "header length {header_len} exceeds {MAX_HEADER_BYTES}"
        ));
    }
    let header_len = header_len as usize;
    if header_len > rest.len() {
        return Err(format!(
            "header length {header_len} exceeds the {} bytes that follow",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(header_len);
    if header.first() != Some(&b'{') {
        return Err("header does not start with '{'".into());
    }
    let mut fields: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| format!("header is not a JSON object: {}", json_error_kind(&e)))?;
    if let Some(metadata) = fields.remove(METADATA_KEY) {
        let _: BTreeMap<String, String> = serde_json::from_value(metadata)
            .map_err(|_| "__metadata__ is not a map of strings".to_string())?;
    }
    let mut tensors = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let entry: Entry = serde_json::from_value(value).map_err(|_| {
            format!("tensor `{name}`: not {{dtype, shape, data_offsets: [start, end]}}")
        })?;
        let width = dtype_bits(&entry.dtype)
            .ok_or_else(|| format!("tensor `{name}`: unknown dtype {:?}", entry.dtype))?;
        let (start, end) = entry.data_offsets;
        let bits = entry
            .shape
            .iter()
            .try_fold(width, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("tensor `{name}`: shape overflows"))?;
        if bits % 8 != 0 || end.checked_sub(start) != Some(bits / 8) {
            return Err(format!(
                "tensor `{name}`: offsets [{start}, {end}] do not hold its shape {:?} of {}",
                entry.shape, entry.dtype
            ));
        }
        tensors.push((start, end, name));
    }
    tensors.sort();
    let mut cursor = 0u64;
    for (start, end, name) in &tensors {
        if *start != cursor {
            return Err(format!(
                "tensor `{name}` starts at {start}, the previous tensor ends at {cursor}"
            ));
        }
        cursor = *end;
    }
    if cursor != data.len() as u64 {
        return Err(format!(
            "tensors cover {cursor} bytes but the data is {} bytes",
            data.len()
        ));
    }
    Ok(())
}

/// The category of a serde_json error with its position: its wording comes
/// from serde_json, but it is a pure function of the input.
fn json_error_kind(err: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        err.classify(),
        err.line(),
        err.column()
    )
}

/// Bits per element of the dtypes `safetensors` 0.8 knows.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" => 64,
        "C64" => 64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data_len: usize) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data_len));
        bytes
    }

    /// Forty tensors at the same offsets: the `safetensors` crate's error
    /// names one of them by the process's hash order; ours always names the
    /// second by name.
    #[test]
    fn tensors_sharing_offsets_get_one_message() {
        let entries: Vec<String> = (0..40)
            .map(|i| format!(r#""t{i:02}":{{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#))
            .collect();
        let bytes = file(&format!("{{{}}}", entries.join(",")), 4);
        assert_eq!(
            check(&bytes).unwrap_err(),
            "tensor `t01` starts at 0, the previous tensor ends at 4"
        );
    }

    #[test]
    fn refuses_bad_layouts_and_passes_what_the_crate_writes() {
        assert!(check(&[1, 2, 3]).unwrap_err().contains("too short"));
        assert!(check(&file("[]", 0)).unwrap_err().contains("'{'"));
        assert!(check(&file("{\"a\":", 0)).unwrap_err().contains("JSON"));
        let gap = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        assert!(check(&file(gap, 8)).unwrap_err().contains("starts at 4"));
        let short = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#;
        assert!(check(&file(short, 4)).unwrap_err().contains("do not hold"));
        let tail = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        assert!(check(&file(tail, 8)).unwrap_err().contains("cover 4"));
        let mut huge = file(tail, 4);
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check(&huge).unwrap_err().contains("exceeds"));

        let data = [0u8; 12];
        let views = [
            (
                "b",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &data[..8])
                    .unwrap(),
            ),
            (
                "a",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data[8..])
                    .unwrap(),
            ),
        ];
        let meta = std::collections::HashMap::from([("k".to_string(), "v".to_string())]);
        let written = safetensors::serialize(views, Some(meta)).unwrap();
        assert_eq!(check(&written), Ok(()));
    }
}
