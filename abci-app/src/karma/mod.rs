//! Karma: what each address contributed, kept as the chain decides it, a
//! score from a fixed rule and badges at thresholds (seed 002: points and
//! badges "like Stack Exchange", for quantity, diversity and frequency).
//!
//! The other modules credit work where they decide it: training when a
//! version is made (its single update's trainer, or each merged round
//! contribution's) and when an update is decided (each validator whose
//! verdict was recorded on it, by operator address) or slashed for fraud;
//! dataset when the DAO accepts a delta (its proposer, and the records it
//! added). Nothing here is paid for by a user: every credit follows a
//! decision that already bounded its own work.
//!
//! The rule (integers, so every node computes the same):
//! - quantity: 10 per version, 5 per merged round contribution, 5 per
//!   accepted delta, 1 per 10 records those added, 1 per 2 verdicts;
//! - diversity: that sum × (2 + kinds) / 3, where kinds counts which of
//!   training, data and verification it did (×1, ×4/3, ×5/3);
//! - frequency: + 2 per period of 1,000 blocks with a contribution;
//! - slashes: − 50 each, never below 0.

pub mod module;
pub mod query;
pub mod state_key;

pub use module::KarmaModule;

use prost::Message;
use um_proto::um::karma::v1::{Contributions, Karma};

use crate::codes::{Code, TxError};
use crate::store::StateView;

/// Blocks per activity period (the frequency part of the score).
pub const PERIOD_BLOCKS: u64 = 1_000;

/// A badge: its name and the rule that earns it.
pub type Badge = (&'static str, fn(&Contributions) -> bool);

/// Badges, in the order they are listed.
pub const BADGES: [Badge; 8] = [
    ("first-version", |c| trained(c) >= 1),
    ("ten-versions", |c| trained(c) >= 10),
    ("hundred-versions", |c| trained(c) >= 100),
    ("first-delta", |c| c.deltas >= 1),
    ("hundred-records", |c| c.records >= 100),
    ("verifier", |c| c.verdicts >= 100),
    ("all-rounder", |c| kinds(c) == 3),
    ("regular", |c| c.active_periods >= 10),
];

/// One piece of work the chain decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// A version made of the address's single update.
    Version,
    /// The address's round contribution merged into a version.
    RoundContribution,
    /// A dataset delta it proposed, accepted with this many added records.
    Delta { records: u64 },
    /// A verdict of its validator on an update now decided.
    Verdict,
    /// A fraud slash of its update.
    Slash,
}

fn trained(c: &Contributions) -> u64 {
    c.versions.saturating_add(c.round_contributions)
}

fn kinds(c: &Contributions) -> u64 {
    u64::from(trained(c) > 0) + u64::from(c.deltas > 0) + u64::from(c.verdicts > 0)
}

/// The score of `c` (the rule of the module docs).
pub fn score(c: &Contributions) -> u64 {
    let quantity = c
        .versions
        .saturating_mul(10)
        .saturating_add(c.round_contributions.saturating_mul(5))
        .saturating_add(c.deltas.saturating_mul(5))
        .saturating_add(c.records / 10)
        .saturating_add(c.verdicts / 2);
    let diverse = quantity.saturating_mul(2 + kinds(c)) / 3;
    diverse
        .saturating_add(c.active_periods.saturating_mul(2))
        .saturating_sub(c.slashes.saturating_mul(50))
}

/// The badges `c` earned, in [`BADGES`] order.
pub fn badges(c: &Contributions) -> Vec<String> {
    BADGES
        .iter()
        .filter(|(_, earned)| earned(c))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// What `address` contributed so far, if anything.
pub fn contributions(state: &StateView, address: &str) -> Result<Option<Contributions>, TxError> {
    state
        .get(&state_key::account(address))?
        .map(|bytes| {
            Contributions::decode(bytes.as_slice()).map_err(|e| {
                TxError::new(Code::Internal, format!("stored karma of {address}: {e}"))
            })
        })
        .transpose()
}

/// The karma of `address` from its contributions.
pub fn karma(address: &str, c: Contributions) -> Karma {
    Karma {
        address: address.to_string(),
        score: score(&c),
        badges: badges(&c),
        contributions: Some(c),
    }
}

/// Credits `work` to `address` at `height`, moving its leaderboard entry.
pub fn credit(
    state: &mut StateView,
    address: &str,
    work: Work,
    height: u64,
) -> Result<(), TxError> {
    if address.is_empty() {
        return Ok(());
    }
    let before = contributions(state, address)?;
    let mut c = before.unwrap_or_default();
    match work {
        Work::Version => c.versions = c.versions.saturating_add(1),
        Work::RoundContribution => c.round_contributions = c.round_contributions.saturating_add(1),
        Work::Delta { records } => {
            c.deltas = c.deltas.saturating_add(1);
            c.records = c.records.saturating_add(records);
        }
        Work::Verdict => c.verdicts = c.verdicts.saturating_add(1),
        Work::Slash => c.slashes = c.slashes.saturating_add(1),
    }
    if work != Work::Slash {
        let period = height / PERIOD_BLOCKS;
        if c.active_periods == 0 || period > c.last_period {
            c.active_periods = c.active_periods.saturating_add(1);
            c.last_period = period;
        }
        if c.first_height == 0 {
            c.first_height = height;
        }
        c.last_height = height;
    }
    if let Some(old) = &before {
        state.remove(&state_key::rank(score(old), address));
    }
    state.set(
        &state_key::rank(score(&c), address),
        address.as_bytes().to_vec(),
    );
    state.set(&state_key::account(address), c.encode_to_vec());
    Ok(())
}

/// The operator address of each bonded validator, by consensus address
/// (what a verdict names), from the staking contract; empty without one.
pub fn operators(
    wasm: &dyn crate::context::Contracts,
    state: &StateView,
    block: &crate::context::BlockInfo,
) -> Result<std::collections::BTreeMap<Vec<u8>, String>, TxError> {
    let Some(registry) = crate::gov::registry(state)? else {
        return Ok(Default::default());
    };
    let answer = wasm.query_smart(state, block, &registry.staking, br#"{"validators":{}}"#)?;
    let response: um_bindings::staking::ValidatorsResponse = serde_json::from_slice(&answer)
        .map_err(|e| {
            TxError::new(
                Code::ContractError,
                format!("staking validators response: {e}"),
            )
        })?;
    Ok(response
        .validators
        .into_iter()
        .map(|v| {
            (
                crate::gov::validators::consensus_address(&v.consensus_pubkey),
                v.address,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_weighs_kind_diversity_frequency_and_slashes() {
        let trainer = Contributions {
            versions: 3,
            active_periods: 1,
            ..Default::default()
        };
        assert_eq!(score(&trainer), 30 + 2);
        // The same quantity over two kinds of work is worth a third more.
        let diverse = Contributions {
            versions: 2,
            deltas: 1,
            records: 25,
            active_periods: 1,
            ..Default::default()
        };
        // (20 + 5 + 2) × 4 / 3 + 2
        assert_eq!(score(&diverse), 36 + 2);
        let slashed = Contributions {
            slashes: 1,
            ..trainer
        };
        assert_eq!(score(&slashed), 0, "never below 0");
        let regular = Contributions {
            active_periods: 12,
            ..trainer
        };
        assert_eq!(score(&regular), 30 + 24);
        assert_eq!(badges(&regular), ["first-version", "regular"]);
        let everything = Contributions {
            versions: 100,
            deltas: 1,
            records: 100,
            verdicts: 100,
            ..Default::default()
        };
        assert_eq!(
            badges(&everything),
            [
                "first-version",
                "ten-versions",
                "hundred-versions",
                "first-delta",
                "hundred-records",
                "verifier",
                "all-rounder"
            ]
        );
        assert!(badges(&Contributions::default()).is_empty());
    }

    #[test]
    fn credits_move_the_leaderboard_entry_and_count_periods() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        credit(&mut state, "um1a", Work::Version, 5).unwrap();
        credit(&mut state, "um1b", Work::Verdict, 6).unwrap();
        credit(&mut state, "um1a", Work::RoundContribution, 1_500).unwrap();
        credit(&mut state, "um1a", Work::Slash, 1_600).unwrap();
        let a = contributions(&state, "um1a").unwrap().unwrap();
        assert_eq!((a.versions, a.round_contributions, a.slashes), (1, 1, 1));
        assert_eq!((a.active_periods, a.last_period), (2, 1), "periods 0 and 1");
        assert_eq!(
            (a.first_height, a.last_height),
            (5, 1_500),
            "a slash is no contribution"
        );
        // One rank entry per account, at its current score.
        let ranks: Vec<Vec<u8>> = state
            .prefixed(state_key::RANK_PREFIX)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            ranks,
            vec![
                state_key::rank(
                    score(&contributions(&state, "um1b").unwrap().unwrap()),
                    "um1b"
                ),
                state_key::rank(score(&a), "um1a"),
            ]
        );
        assert!(contributions(&state, "um1c").unwrap().is_none());
        credit(&mut state, "", Work::Version, 7).unwrap();
        assert!(contributions(&state, "").unwrap().is_none());
    }
}
