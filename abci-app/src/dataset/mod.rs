//! The dataset module: dataset lineages and their versions, content-addressed
//! records, and the deltas anyone may propose and only the DAO may decide.
//!
//! - Version 0 of a lineage comes from genesis ([`genesis`]); every accepted
//!   delta makes the next version: members − removed + added.
//! - A record is `label ‖ pixels`, addressed by `sha256(label ‖ pixels)`;
//!   its hash also decides its split (validation when `hash[0] < 26`, as in
//!   `um_formats`), and a version's root is `sha256` of its member hashes in
//!   ascending order, so a trainer can check what it downloaded.
//! - [`msg_server`]: `MsgProposeDatasetDelta`, which escrows the proposer's
//!   cw20 deposit in the module account.
//! - [`decide`]: accepting (refund) or rejecting (deposit kept) a delta, on
//!   a passed DAO proposal (`UmMsg::AcceptDatasetDelta` and
//!   `RejectDatasetDelta`).
//! - [`query`]: the `um.dataset.v1.Query` service as ABCI query paths.
//! - [`records`] and [`state_key`]: the module's state.

// Consensus code on untrusted input: no input may make it panic.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod decide;
pub mod genesis;
mod module;
pub mod msg_server;
pub mod params;
pub mod query;
pub mod records;
pub mod state_key;

use um_proto::um::dataset::v1::Dataset;

use crate::codes::{Code, TxError};
use crate::store::StateView;

pub use module::DatasetModule;
pub use params::DatasetParams;

/// Name of the module account that holds deposits in escrow.
pub const MODULE_NAME: &str = "dataset";

/// The module account: the cw20 spender a proposer allows to take the
/// deposit, and the holder of deposits until the DAO decides.
pub fn module_address() -> String {
    um_proto::address::module_address(MODULE_NAME)
}

/// The newest version of a dataset lineage; `None` if there is no such
/// lineage.
pub fn current(state: &StateView, dataset_id: &str) -> Result<Option<Dataset>, TxError> {
    match records::head(state, dataset_id)? {
        None => Ok(None),
        Some(head) => records::version(state, dataset_id, head)?
            .map(Some)
            .ok_or_else(|| {
                TxError::new(
                    Code::Internal,
                    format!("dataset {dataset_id}: head version {head} is not stored"),
                )
            }),
    }
}

/// One version of a dataset lineage; `None` if the lineage or the version
/// does not exist.
pub fn version(
    state: &StateView,
    dataset_id: &str,
    version: u64,
) -> Result<Option<Dataset>, TxError> {
    records::version(state, dataset_id, version)
}

pub(crate) fn validate_dataset_id(dataset_id: &str) -> Result<(), TxError> {
    crate::ids::validate("dataset id", dataset_id)
}

/// Labels are stored as one byte.
pub(crate) fn validate_num_classes(num_classes: u32) -> Result<(), TxError> {
    if (1..=256).contains(&num_classes) {
        Ok(())
    } else {
        Err(TxError::new(
            Code::InvalidRequest,
            format!("num_classes must be 1 to 256, not {num_classes}"),
        ))
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use um_formats::dataset::PIXELS;

    use crate::store::StateView;

    /// `n` distinct synthetic 28×28 digits.
    pub fn digits(n: u8) -> Vec<um_formats::Record> {
        (0..n).map(digit).collect()
    }

    pub fn digit(i: u8) -> um_formats::Record {
        let mut pixels = [0u8; PIXELS];
        for (j, p) in pixels.iter_mut().enumerate() {
            *p = (j as u8).wrapping_mul(i.wrapping_add(1));
        }
        pixels[0] = i;
        um_formats::Record {
            label: i % 10,
            pixels,
        }
    }

    /// A state with dataset "mnist" at version 0 holding `records`.
    pub fn state_with(state: &mut StateView, records: &[um_formats::Record]) {
        let genesis = super::genesis::DatasetGenesis {
            params: super::DatasetParams::default(),
            datasets: vec![
                super::genesis::GenesisDataset::from_records("mnist", 10, records).unwrap(),
            ],
        };
        genesis.apply(state, 0).unwrap();
    }
}
