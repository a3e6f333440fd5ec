//! `app_state.dataset`: the module's params and the dataset lineages that
//! exist from the first block, each as its version 0.
//!
//! ```json
//! "dataset": {
//!   "params": {"min_deposit": "1000", "max_delta_records": 1000, "delta_cost_per_byte": 30,
//!              "delta_expiry_blocks": 10000},
//!   "datasets": [{
//!     "dataset_id": "mnist", "image_rows": 28, "image_cols": 28, "num_classes": 10,
//!     "records": {"idx_images_gz_b64": "H4sI…", "idx_labels_gz_b64": "H4sI…"}
//!   }]
//! }
//! ```
//!
//! Records travel as standard IDX files (gzipped, base64): 10,000 MNIST
//! digits take about 2.5 MB of genesis instead of 20 MB as JSON numbers.
//! Duplicate records count once; their order does not matter.

use base64::Engine;
use serde::{Deserialize, Serialize};
use um_proto::um::dataset::v1::Dataset;

use super::{params::DatasetParams, records, validate_dataset_id};
use crate::codes::{Code, TxError};
use crate::store::StateView;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetGenesis {
    pub params: DatasetParams,
    pub datasets: Vec<GenesisDataset>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisDataset {
    pub dataset_id: String,
    pub image_rows: u32,
    pub image_cols: u32,
    pub num_classes: u32,
    pub records: GenesisRecords,
}

/// IDX image (`idx3-ubyte`) and label (`idx1-ubyte`) files, base64 of their
/// gzip (plain IDX is accepted too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisRecords {
    pub idx_images_gz_b64: String,
    pub idx_labels_gz_b64: String,
}

impl GenesisDataset {
    /// A 28×28 dataset of `records` (in any order), encoded for genesis.
    pub fn from_records(
        dataset_id: &str,
        num_classes: u32,
        records: &[um_formats::Record],
    ) -> std::io::Result<Self> {
        let (images, labels) = um_formats::dataset::write_idx(records);
        let b64 = |bytes: &[u8]| -> std::io::Result<String> {
            Ok(base64::engine::general_purpose::STANDARD.encode(gzip(bytes)?))
        };
        Ok(Self {
            dataset_id: dataset_id.to_string(),
            image_rows: 28,
            image_cols: 28,
            num_classes,
            records: GenesisRecords {
                idx_images_gz_b64: b64(&images)?,
                idx_labels_gz_b64: b64(&labels)?,
            },
        })
    }

    /// The records, checked against the dataset's shape and classes.
    pub fn decode_records(&self) -> Result<Vec<um_formats::Record>, TxError> {
        let invalid = |what: String| {
            TxError::new(
                Code::InvalidRecord,
                format!("genesis dataset {:?}: {what}", self.dataset_id),
            )
        };
        let b64 = |field: &str, text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| invalid(format!("{field} is not base64: {e}")))
        };
        let images = b64("idx_images_gz_b64", &self.records.idx_images_gz_b64)?;
        let labels = b64("idx_labels_gz_b64", &self.records.idx_labels_gz_b64)?;
        let records =
            um_formats::dataset::parse_idx(&images, &labels).map_err(|e| invalid(e.to_string()))?;
        if let Some(record) = records
            .iter()
            .find(|r| u32::from(r.label) >= self.num_classes)
        {
            return Err(invalid(format!(
                "label {} is not below num_classes {}",
                record.label, self.num_classes
            )));
        }
        Ok(records)
    }
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

impl DatasetGenesis {
    pub fn apply(&self, state: &mut StateView, height: u64) -> Result<(), TxError> {
        self.params.save(state)?;
        for dataset in &self.datasets {
            apply_dataset(state, height, dataset)?;
        }
        Ok(())
    }
}

fn apply_dataset(
    state: &mut StateView,
    height: u64,
    genesis: &GenesisDataset,
) -> Result<(), TxError> {
    let id = &genesis.dataset_id;
    validate_dataset_id(id)?;
    if records::head(state, id)?.is_some() {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!("genesis names dataset {id:?} twice"),
        ));
    }
    // The IDX loader reads 28×28 images only.
    if (genesis.image_rows, genesis.image_cols) != (28, 28) {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "genesis dataset {id:?}: images must be 28x28, not {}x{}",
                genesis.image_rows, genesis.image_cols
            ),
        ));
    }
    super::validate_num_classes(genesis.num_classes)?;
    let mut hashes: Vec<records::Hash> = genesis
        .decode_records()?
        .iter()
        .map(|r| records::put_record(state, r.label, &r.pixels))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // Genesis records split by their hash alone (no salt): whoever writes
    // the genesis file is trusted with the dataset anyway.
    let members: Vec<records::Member> = hashes
        .iter()
        .map(|&hash| records::Member {
            hash,
            validation: um_formats::Record::is_validation_salted(&[], &hash),
        })
        .collect();
    for member in &members {
        records::join(state, id, 0, &member.hash, member.validation)?;
    }
    let mut dataset = Dataset {
        dataset_id: id.clone(),
        version: 0,
        height,
        delta_id: 0,
        image_rows: genesis.image_rows,
        image_cols: genesis.image_cols,
        num_classes: genesis.num_classes,
        ..Default::default()
    };
    records::summarize(&mut dataset, &members);
    records::save_version(state, &dataset);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::testutil::digits;
    use crate::store::Store;

    #[test]
    fn genesis_dataset_round_trips_through_json_and_sets_version_zero() {
        let records = digits(30);
        let mut with_duplicate = records.clone();
        with_duplicate.push(records[4].clone());
        let genesis = DatasetGenesis {
            params: DatasetParams::default(),
            datasets: vec![GenesisDataset::from_records("mnist", 10, &with_duplicate).unwrap()],
        };
        let json = serde_json::to_string(&genesis).unwrap();
        let parsed: DatasetGenesis = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, genesis);

        let store = Store::temporary().unwrap();
        let mut state = store.view();
        parsed.apply(&mut state, 0).unwrap();
        let v0 = super::super::current(&state, "mnist").unwrap().unwrap();
        let expected = um_formats::Dataset::from_records(records.clone());
        assert_eq!(v0.version, 0);
        assert_eq!(v0.delta_id, 0);
        assert_eq!(v0.record_count, 30);
        assert_eq!(v0.validation_count, expected.validation().len() as u64);
        assert_eq!(v0.train_count, expected.train().len() as u64);
        assert_eq!(v0.root, expected.root().to_vec());
        assert_eq!((v0.image_rows, v0.image_cols, v0.num_classes), (28, 28, 10));

        // Twice the same id, or labels beyond the classes, are refused.
        let twice = DatasetGenesis {
            datasets: vec![genesis.datasets[0].clone(), genesis.datasets[0].clone()],
            ..Default::default()
        };
        let err = twice.apply(&mut store.view(), 0).unwrap_err();
        assert!(err.log.contains("twice"), "{}", err.log);
        let few_classes = DatasetGenesis {
            datasets: vec![GenesisDataset::from_records("mnist", 5, &records).unwrap()],
            ..Default::default()
        };
        let err = few_classes.apply(&mut store.view(), 0).unwrap_err();
        assert_eq!(err.code, Code::InvalidRecord);
        let mut not_b64 = genesis.datasets[0].clone();
        not_b64.records.idx_labels_gz_b64 = "%%".into();
        let err = not_b64.decode_records().unwrap_err();
        assert!(err.log.contains("idx_labels_gz_b64"), "{}", err.log);
    }
}
