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

/// The way from one set to the next in parts of `1 / STEPS`.
const STEPS: u64 = 1 << 20;

/// The set one epoch may move to on the way from `current` to `desired`.
///
/// Voting shares shift by less than a third per epoch: counting each
/// validator's share of the total power, the shares gained (by newcomers
/// or by validators that grew relative to the rest) sum to less than 1/3.
/// So the validators of the previous epoch keep more than two thirds of
/// the power, and can still commit blocks without the newcomers, whatever
/// was bonded or unbonded: one
/// large bond cannot replace the set at once (as a first bond next to an
/// unbonded genesis set did), it takes over only over several epochs, in
/// which the rest can respond. A set that only grows or shrinks in
/// proportion (a lone validator's stake) moves at once.
///
/// Beyond a third, the set moves the largest part of the way (found by
/// bisection, in parts of 2⁻²⁰) that stays within it; where powers are too
/// small for any part to (one unit being more than a third), each
/// validator moves one unit, so the set still gets there.
pub fn bounded_step(current: &PowerMap, desired: &PowerMap) -> PowerMap {
    if desired.is_empty() || current.is_empty() || within_a_third(current, desired) {
        return if desired.is_empty() {
            current.clone()
        } else {
            desired.clone()
        };
    }
    // The shares gained grow with the part of the way taken; `lower` is
    // always a part within a third (0: not moving), `upper` one beyond.
    let (mut lower, mut upper) = (0, STEPS);
    while upper - lower > 1 {
        let middle = lower + (upper - lower) / 2;
        if within_a_third(current, &part_of_the_way(current, desired, middle, false)) {
            lower = middle;
        } else {
            upper = middle;
        }
    }
    let step = part_of_the_way(current, desired, lower, false);
    if lower == 0 || step == *current {
        part_of_the_way(current, desired, 1, true)
    } else {
        step
    }
}

/// `k / STEPS` of the way from `current` to `desired` for every
/// validator (rounded toward `current`, or one unit at least with
/// `at_least_one`); validators left with no power are out.
fn part_of_the_way(current: &PowerMap, desired: &PowerMap, k: u64, at_least_one: bool) -> PowerMap {
    let keys: std::collections::BTreeSet<&Vec<u8>> = current.keys().chain(desired.keys()).collect();
    let mut out = PowerMap::new();
    for key in keys {
        let from = current.get(key).copied().unwrap_or(0);
        let to = desired.get(key).copied().unwrap_or(0);
        let moved = |distance: u64| {
            let part = u64::try_from(u128::from(distance) * u128::from(k) / u128::from(STEPS))
                .unwrap_or(distance);
            if at_least_one && distance > 0 {
                part.max(1)
            } else {
                part
            }
        };
        let power = if to >= from {
            from.saturating_add(moved(to - from))
        } else {
            from.saturating_sub(moved(from - to))
        };
        if power > 0 {
            out.insert(key.clone(), power);
        }
    }
    out
}

/// Whether the shares gained from `before` to `after` sum to less than 1/3:
/// Σ max(0, aᵢ·B − bᵢ·A) < A·B / 3, in integers (A, B the totals).
fn within_a_third(before: &PowerMap, after: &PowerMap) -> bool {
    let total = |set: &PowerMap| set.values().map(|&p| u128::from(p)).sum::<u128>();
    let (before_total, after_total) = (total(before), total(after));
    if before_total == 0 || after_total == 0 {
        return true;
    }
    let gained: u128 = after
        .iter()
        .map(|(key, &power)| {
            let now = u128::from(power).saturating_mul(before_total);
            let then =
                u128::from(before.get(key).copied().unwrap_or(0)).saturating_mul(after_total);
            now.saturating_sub(then)
        })
        .fold(0u128, u128::saturating_add);
    gained.saturating_mul(3) < before_total.saturating_mul(after_total)
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

/// The consensus address CometBFT derives from an ed25519 key.
pub fn consensus_address(pubkey: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(pubkey)[..20].to_vec()
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

    fn set(entries: &[(u8, u64)]) -> PowerMap {
        entries.iter().map(|&(k, p)| (vec![k; 32], p)).collect()
    }

    /// Issue 13, finding 8: the first bond next to a genesis set that
    /// nobody bonded replaced the whole set at the next epoch (`desired` is
    /// only what staking holds). Now shares move by at most a third per
    /// epoch: the newcomer takes over only over several epochs.
    #[test]
    fn one_large_bond_takes_over_only_a_third_of_the_shares_per_epoch() {
        let genesis = set(&[(1, 10), (2, 10), (3, 10), (4, 10)]);
        let target = set(&[(9, 1_000)]);
        let mut now = genesis.clone();
        let mut epochs = 0;
        while now != target {
            let next = bounded_step(&now, &target);
            assert!(within_a_third(&now, &next), "{now:?} -> {next:?}");
            assert_ne!(next, now, "every epoch moves");
            now = next;
            epochs += 1;
            assert!(epochs < 50, "never got there: {now:?}");
        }
        let first = bounded_step(&genesis, &target);
        let newcomer = first[&vec![9u8; 32]];
        let total: u64 = first.values().sum();
        assert!(
            newcomer * 3 < total,
            "{newcomer} of {total} after one epoch"
        );
        assert!(epochs >= 3, "{epochs} epochs");
    }

    #[test]
    fn sets_that_keep_their_shares_or_move_little_move_at_once() {
        // A lone validator's power follows its stake.
        assert_eq!(
            bounded_step(&set(&[(1, 10)]), &set(&[(1, 100)])),
            set(&[(1, 100)])
        );
        // Everyone doubles: no share moves.
        let grown = set(&[(1, 20), (2, 40)]);
        assert_eq!(bounded_step(&set(&[(1, 10), (2, 20)]), &grown), grown);
        // A validator joining with a tenth of the power.
        let joined = set(&[(1, 100), (2, 10)]);
        assert_eq!(bounded_step(&set(&[(1, 100)]), &joined), joined);
        // An empty target keeps the set.
        assert_eq!(bounded_step(&joined, &PowerMap::new()), joined);
    }

    #[test]
    fn powers_too_small_for_a_third_still_get_there() {
        // One unit to a newcomer is half the shares: no part of the way is
        // within a third, so each validator moves one unit per epoch.
        let mut now = set(&[(1, 1)]);
        let target = set(&[(2, 2)]);
        for _ in 0..3 {
            now = bounded_step(&now, &target);
        }
        assert_eq!(now, target);
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
