//! Every storage path of the training module.

pub const LINEAGE_PREFIX: &[u8] = b"training/lineage/";

pub fn lineage(model_id: &str) -> Vec<u8> {
    [LINEAGE_PREFIX, model_id.as_bytes()].concat()
}
