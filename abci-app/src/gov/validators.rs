//! The CometBFT validator set, following bonded stake in `nrn-staking`.

use std::collections::BTreeMap;

use um_bindings::staking::ValidatorsResponse;

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

/// ed25519 consensus pubkey → voting power.
pub type PowerMap = BTreeMap<Vec<u8>, u64>;

pub fn current(state: &StateView) -> Result<PowerMap, TxError> {
    let prefix_len = state_key::VALIDATOR_PREFIX.len();
    state
        .prefixed(state_key::VALIDATOR_PREFIX)?
        .into_iter()
        .map(|(key, value)| {
            let power = value
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    TxError::new(Code::Internal, "stored validator power is not 8 bytes")
                })?;
            Ok((key[prefix_len..].to_vec(), power))
        })
        .collect()
}

/// Records a set CometBFT already has (genesis) or was just told of.
pub fn apply(state: &mut StateView, updates: &[(Vec<u8>, u64)]) {
    for (pubkey, power) in updates {
        if *power == 0 {
            state.remove(&state_key::validator(pubkey));
        } else {
            state.set(&state_key::validator(pubkey), power.to_be_bytes().to_vec());
        }
    }
}

/// The set the staking contract asks for: each validator's stake in whole
/// units of `stake_per_power`; validators below one unit are left out.
pub fn desired(response: &ValidatorsResponse, stake_per_power: u64) -> PowerMap {
    let mut set = PowerMap::new();
    for validator in &response.validators {
        let power = validator.stake.u128() / u128::from(stake_per_power.max(1));
        let power = u64::try_from(power).unwrap_or(u64::MAX).min(MAX_POWER);
        if power > 0 && validator.consensus_pubkey.len() == 32 {
            set.insert(validator.consensus_pubkey.to_vec(), power);
        }
    }
    set
}

/// CometBFT's cap on total voting power is i64::MAX / 8; one validator's
/// power stays far below it.
const MAX_POWER: u64 = 1 << 50;

/// Updates that turn `current` into `desired`, in key order. An empty
/// `desired` yields nothing: a chain without bonded validators keeps its
/// genesis set rather than stop.
pub fn updates(current: &PowerMap, desired: &PowerMap) -> Vec<(Vec<u8>, u64)> {
    if desired.is_empty() {
        return Vec::new();
    }
    let mut changes = BTreeMap::new();
    for pubkey in current.keys() {
        if !desired.contains_key(pubkey) {
            changes.insert(pubkey.clone(), 0);
        }
    }
    for (pubkey, power) in desired {
        if current.get(pubkey) != Some(power) {
            changes.insert(pubkey.clone(), *power);
        }
    }
    changes.into_iter().collect()
}

/// Notes that `set` signs the blocks from `height` on. CometBFT applies the
/// updates returned by block E from block E+2, so the end-of-epoch code
/// records them at E+2, and genesis at the initial height.
pub fn record_set_from(state: &mut StateView, height: u64, set: &PowerMap) {
    let entries: Vec<(String, u64)> = set
        .iter()
        .map(|(pubkey, power)| (hex::encode(pubkey), *power))
        .collect();
    // A list of strings and integers always serializes.
    state.set(
        &state_key::valset(height),
        serde_json::to_vec(&entries).unwrap_or_default(),
    );
}

/// The set that signed height `height`, as recorded by [`record_set_from`];
/// `None` before the first record (a chain from before the history).
pub fn set_at(state: &StateView, height: u64) -> Result<Option<PowerMap>, TxError> {
    let end = state_key::valset(height.saturating_add(1));
    // One step, not the range: the history grows by a record per epoch, and
    // this runs at every block with a pending update.
    let (newest, _) =
        state.next_in_range(Some(state_key::VALSET_PREFIX), Some(&end), None, true)?;
    let Some((_, bytes)) = newest else {
        return Ok(None);
    };
    let entries: Vec<(String, u64)> = serde_json::from_slice(&bytes)
        .map_err(|e| TxError::new(Code::Internal, format!("stored validator set: {e}")))?;
    entries
        .into_iter()
        .map(|(pubkey, power)| {
            hex::decode(&pubkey)
                .map(|pubkey| (pubkey, power))
                .map_err(|e| TxError::new(Code::Internal, format!("stored validator key: {e}")))
        })
        .collect::<Result<PowerMap, TxError>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::{Binary, Uint128};
    use um_bindings::staking::ValidatorInfo;

    fn info(key: u8, stake: u128) -> ValidatorInfo {
        ValidatorInfo {
            address: format!("v{key}"),
            consensus_pubkey: Binary::from(vec![key; 32]),
            stake: Uint128::new(stake),
        }
    }

    #[test]
    fn desired_set_counts_whole_units_and_skips_dust_and_bad_keys() {
        let response = ValidatorsResponse {
            validators: vec![
                info(1, 5_500_000),
                info(2, 999_999),
                ValidatorInfo {
                    consensus_pubkey: Binary::from(vec![3; 31]),
                    ..info(3, 9_000_000)
                },
            ],
        };
        let set = desired(&response, 1_000_000);
        assert_eq!(set.len(), 1);
        assert_eq!(set[&vec![1u8; 32]], 5);
    }

    #[test]
    fn updates_add_change_and_remove_but_never_empty_the_set() {
        let current: PowerMap = [(vec![1; 32], 10), (vec![2; 32], 5)].into_iter().collect();
        let desired: PowerMap = [(vec![1; 32], 10), (vec![3; 32], 7)].into_iter().collect();
        assert_eq!(
            updates(&current, &desired),
            vec![(vec![2; 32], 0), (vec![3; 32], 7)]
        );
        assert!(updates(&current, &PowerMap::new()).is_empty());
        assert!(updates(&current, &current).is_empty());
    }

    #[test]
    fn apply_then_current_round_trips() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        apply(&mut state, &[(vec![1; 32], 10), (vec![2; 32], 5)]);
        apply(&mut state, &[(vec![2; 32], 0)]);
        let set = current(&state).unwrap();
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![(vec![1; 32], 10)]);
    }
}
