//! Dataset records as the chain serves them (`um.dataset.v1.Record`) turned
//! into the trainer's records, checked against their hashes, and with the
//! splits the chain gives them, against the root.

use um_proto::um::dataset::v1 as proto;

use super::ChainError;
use crate::dataset::{Dataset, Record, PIXELS};

/// A chain record as a [`Record`]: 784 pixels, a label that fits a byte, and
/// a hash equal to `sha256(label ‖ pixels)`. The error says what is wrong.
pub fn record_from_proto(r: &proto::Record) -> Result<Record, String> {
    let label = u8::try_from(r.label).map_err(|_| format!("label {} above 255", r.label))?;
    let pixels: [u8; PIXELS] = r
        .pixels
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} pixels, expected {PIXELS}", r.pixels.len()))?;
    let record = Record { label, pixels };
    let hash = record.hash();
    if r.hash.as_slice() != hash {
        return Err(format!(
            "hash {} does not match its content ({})",
            hex::encode(&r.hash),
            hex::encode(hash)
        ));
    }
    Ok(record)
}

/// The split the chain gives a record: `true` for validation. A record
/// without one is refused (the chain decides splits; the trainer does not
/// guess them).
pub fn split_from_proto(r: &proto::Record) -> Result<bool, String> {
    match proto::Split::try_from(r.split) {
        Ok(proto::Split::Train) => Ok(false),
        Ok(proto::Split::Validation) => Ok(true),
        _ => Err(format!(
            "split {} is neither training nor validation",
            r.split
        )),
    }
}

/// The dataset of `records` with their splits (`true`: validation),
/// refused unless its root, which commits to the splits too, is
/// `expected_root`.
pub fn dataset_from_records(
    dataset_id: &str,
    version: u64,
    records: Vec<(Record, bool)>,
    expected_root: &[u8],
) -> Result<Dataset, ChainError> {
    let (validation, train): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|(_, validation)| *validation);
    let dataset = Dataset::from_splits(
        train.into_iter().map(|(r, _)| r),
        validation.into_iter().map(|(r, _)| r),
    );
    let root = dataset.root();
    if root.as_slice() != expected_root {
        return Err(ChainError::RootMismatch {
            dataset_id: dataset_id.to_string(),
            version,
            expected: hex::encode(expected_root),
            got: hex::encode(root),
        });
    }
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto_of(r: &Record) -> proto::Record {
        proto::Record {
            hash: r.hash().to_vec(),
            label: u32::from(r.label),
            pixels: r.pixels.to_vec(),
            split: proto::Split::Train as i32,
        }
    }

    #[test]
    fn records_are_checked_against_their_hash() {
        let real = &crate::testutil::small_mnist().train()[0];
        assert_eq!(&record_from_proto(&proto_of(real)).unwrap(), real);

        let mut wrong_hash = proto_of(real);
        wrong_hash.hash[0] ^= 1;
        assert!(record_from_proto(&wrong_hash)
            .unwrap_err()
            .contains("does not match"));
        let mut no_hash = proto_of(real);
        no_hash.hash.clear();
        assert!(record_from_proto(&no_hash).is_err());
        let mut relabelled = proto_of(real);
        relabelled.label = (relabelled.label + 1) % 10;
        assert!(record_from_proto(&relabelled).is_err());
        let mut big_label = proto_of(real);
        big_label.label = 256;
        assert!(record_from_proto(&big_label)
            .unwrap_err()
            .contains("above 255"));
        let mut short = proto_of(real);
        short.pixels.pop();
        assert!(record_from_proto(&short)
            .unwrap_err()
            .contains("783 pixels"));
    }

    #[test]
    fn the_root_must_match() {
        let ds = crate::testutil::small_mnist().truncated(50, 10);
        let records: Vec<(Record, bool)> = ds
            .train()
            .iter()
            .map(|r| (r.clone(), false))
            .chain(ds.validation().iter().map(|r| (r.clone(), true)))
            .collect();
        let root = ds.root();
        let got = dataset_from_records("mnist", 3, records.clone(), &root).unwrap();
        assert_eq!(got.train(), ds.train());
        assert_eq!(got.validation(), ds.validation());
        // Issue 13, finding 7: a node that moves one record to the other
        // split is caught by the root, before any training on it.
        let mut moved = records.clone();
        moved[0].1 = !moved[0].1;
        let err = dataset_from_records("mnist", 3, moved, &root).unwrap_err();
        assert!(
            matches!(&err, ChainError::RootMismatch { version: 3, .. }),
            "{err}"
        );
        let err = dataset_from_records("mnist", 3, records[1..].to_vec(), &root).unwrap_err();
        assert!(
            matches!(&err, ChainError::RootMismatch { version: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains(&hex::encode(root)), "{err}");
    }
}
