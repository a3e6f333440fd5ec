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

/// `valset/<height>` → the whole set (JSON `[[pubkey hex, power], …]`) that
/// signs blocks from that height on, written whenever it changes; the set
/// of height H is the entry with the greatest height ≤ H.
pub const VALSET_PREFIX: &[u8] = b"gov/valset/";

/// `tombstone/<ed25519 pubkey>` → the height at which the key was caught
/// double signing; it never joins the set again.
pub fn tombstone(ed25519_pubkey: &[u8]) -> Vec<u8> {
    [b"gov/tombstone/", ed25519_pubkey].concat()
}

pub fn valset(height: u64) -> Vec<u8> {
    [VALSET_PREFIX, &height.to_be_bytes()].concat()
}
