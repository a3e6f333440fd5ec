//! Every storage path of the gov module.

/// The governance contracts (JSON [`super::Registry`]).
pub const REGISTRY: &[u8] = b"gov/registry";

/// JSON [`super::GovParams`].
pub const PARAMS: &[u8] = b"gov/params";

/// The validator set as last reported to CometBFT: pubkey → power.
pub const VALIDATOR_PREFIX: &[u8] = b"gov/validator/";

pub fn validator(ed25519_pubkey: &[u8]) -> Vec<u8> {
    [VALIDATOR_PREFIX, ed25519_pubkey].concat()
}
