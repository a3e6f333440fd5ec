//! Bounds of the DAO's own settings, in one place. One passed proposal can
//! change any setting, so each bound stops a single vote from breaking
//! governance for good. Checked at instantiation, when an `UpdateDaoConfig`
//! is proposed (before anyone votes on it) and again when it is executed.
//!
//! The staking settings a proposal may change have their bounds beside the
//! staking interface (`um_bindings::staking::check_settings`), where the
//! staking contract enforces them too.

use cosmwasm_std::Decimal;

use crate::error::ContractError;
use crate::state::Config;

/// Smallest quorum: below 5% of the stake a handful of holders could decide
/// everything while nobody is watching.
pub const MIN_QUORUM: Decimal = Decimal::percent(5);
/// Largest quorum: every bonded token voting.
pub const MAX_QUORUM: Decimal = Decimal::one();
/// Smallest pass threshold: a minority of the decisive votes never passes a
/// proposal.
pub const MIN_THRESHOLD: Decimal = Decimal::percent(50);
/// Thresholds stay strictly below this: `yes > threshold × decisive` can
/// never hold at 1, which would freeze governance for ever.
pub const THRESHOLD_LIMIT: Decimal = Decimal::one();
/// Smallest veto threshold: below 10% a tiny minority could veto (and burn
/// the deposit of) every proposal. No relation to `threshold` is needed: a
/// veto vote already counts against a proposal in the threshold, the veto
/// threshold only decides when the deposit is burned as well.
pub const MIN_VETO_THRESHOLD: Decimal = Decimal::percent(10);
/// Largest veto threshold: all votes cast being vetoes.
pub const MAX_VETO_THRESHOLD: Decimal = Decimal::one();
/// Shortest voting period: one block.
pub const MIN_VOTING_PERIOD_BLOCKS: u64 = 1;
/// Longest voting period, about two months at one block per 5 s. Far larger
/// values would let a proposal's end height overflow (so every later
/// `Propose` failed) or keep proposals open for ever.
pub const MAX_VOTING_PERIOD_BLOCKS: u64 = 1_000_000;
/// Execution window of a passed proposal when the config names none (about
/// six days at one block per 5 s).
pub const DEFAULT_EXECUTION_PERIOD_BLOCKS: u64 = 100_000;
/// Shortest execution window: long enough for someone to get an `Execute`
/// into a block after the vote ends.
pub const MIN_EXECUTION_PERIOD_BLOCKS: u64 = 100;
/// Longest execution window: a passed proposal should not wait months and
/// then override decisions taken since.
pub const MAX_EXECUTION_PERIOD_BLOCKS: u64 = 1_000_000;

/// The proposal deposit has no bound of its own here: it must not exceed the
/// token's total supply (nobody could propose any more), which takes a query
/// and is checked by the contract.
pub fn check_bounds(config: &Config) -> Result<(), ContractError> {
    if config.quorum < MIN_QUORUM || config.quorum > MAX_QUORUM {
        return Err(invalid(
            "quorum",
            format!("must be between {MIN_QUORUM} and {MAX_QUORUM}"),
        ));
    }
    if config.threshold < MIN_THRESHOLD || config.threshold >= THRESHOLD_LIMIT {
        return Err(invalid(
            "threshold",
            format!("must be at least {MIN_THRESHOLD} and below {THRESHOLD_LIMIT}"),
        ));
    }
    if config.veto_threshold < MIN_VETO_THRESHOLD || config.veto_threshold > MAX_VETO_THRESHOLD {
        return Err(invalid(
            "veto_threshold",
            format!("must be between {MIN_VETO_THRESHOLD} and {MAX_VETO_THRESHOLD}"),
        ));
    }
    if !(MIN_VOTING_PERIOD_BLOCKS..=MAX_VOTING_PERIOD_BLOCKS).contains(&config.voting_period_blocks)
    {
        return Err(invalid(
            "voting_period_blocks",
            format!("must be between {MIN_VOTING_PERIOD_BLOCKS} and {MAX_VOTING_PERIOD_BLOCKS}"),
        ));
    }
    if !(MIN_EXECUTION_PERIOD_BLOCKS..=MAX_EXECUTION_PERIOD_BLOCKS)
        .contains(&config.execution_period_blocks)
    {
        return Err(invalid(
            "execution_period_blocks",
            format!(
                "must be between {MIN_EXECUTION_PERIOD_BLOCKS} and {MAX_EXECUTION_PERIOD_BLOCKS}"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> ContractError {
    ContractError::InvalidConfig {
        field: field.to_string(),
        reason: reason.into(),
    }
}
