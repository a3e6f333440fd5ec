//! Real ed25519 consensus keys for tests, and the bond signatures they give
//! (shared by the unit tests and the multitest).

use std::cell::RefCell;
use std::collections::BTreeMap;

use cosmwasm_std::Binary;
use ed25519_consensus::SigningKey;
use um_bindings::staking::{validator_bond_message, Role};

thread_local! {
    /// Public key → the seed it was made from, for the keys made here.
    static SEEDS: RefCell<BTreeMap<Vec<u8>, [u8; 32]>> = const { RefCell::new(BTreeMap::new()) };
}

/// The consensus public key of the signing key with this seed.
pub fn consensus_key(seed: [u8; 32]) -> Binary {
    let public = SigningKey::from(seed)
        .verification_key()
        .to_bytes()
        .to_vec();
    SEEDS.with(|seeds| seeds.borrow_mut().insert(public.clone(), seed));
    Binary::new(public)
}

/// A key told apart by one byte.
pub fn consensus_key_of(byte: u8) -> Binary {
    consensus_key([byte; 32])
}

/// The signature with which `operator` may bond `role`'s key on
/// `chain_id`; `None` for a trainer or a key not made here.
pub fn bond_signature(chain_id: &str, operator: &str, role: &Role) -> Option<Binary> {
    let Role::Validator { consensus_pubkey } = role else {
        return None;
    };
    let seed = SEEDS.with(|seeds| seeds.borrow().get(consensus_pubkey.as_slice()).copied())?;
    let signature = SigningKey::from(seed).sign(&validator_bond_message(chain_id, operator));
    Some(Binary::new(signature.to_bytes().to_vec()))
}
