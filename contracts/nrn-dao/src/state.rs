//! Storage of the DAO and the tally rules.

use std::cmp::Ordering;

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Decimal, Empty, StdResult, Uint128};
use cw_storage_plus::{Item, Map};

use crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS;
use crate::msg::{ProposalAction, Status, Tally, VoteOption};

fn default_execution_period_blocks() -> u64 {
    DEFAULT_EXECUTION_PERIOD_BLOCKS
}

#[cw_serde]
pub struct Config {
    pub token: Addr,
    pub staking: Addr,
    pub quorum: Decimal,
    pub threshold: Decimal,
    pub veto_threshold: Decimal,
    pub voting_period_blocks: u64,
    pub proposal_deposit: Uint128,
    /// Blocks after the end of voting in which a passed proposal can be
    /// executed. Absent from configs stored before it existed.
    #[serde(default = "default_execution_period_blocks")]
    pub execution_period_blocks: u64,
}

/// The rules a proposal is decided by, copied from the config at creation.
#[cw_serde]
pub struct VotingRules {
    pub quorum: Decimal,
    pub threshold: Decimal,
    pub veto_threshold: Decimal,
    /// The execution window after `end_height`. Absent from proposals stored
    /// before it existed, which get the default.
    #[serde(default = "default_execution_period_blocks")]
    pub execution_period_blocks: u64,
}

#[cw_serde]
pub struct Proposal {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub proposer: Addr,
    pub action: ProposalAction,
    pub start_height: u64,
    pub end_height: u64,
    pub total_stake: Uint128,
    pub deposit: Uint128,
    pub rules: VotingRules,
    pub votes: Tally,
    /// Whether `Execute` ran (its action may still have failed).
    pub executed: bool,
    pub closed: bool,
    /// Why the action of an executed proposal failed; `None` when it
    /// succeeded or was not executed.
    #[serde(default)]
    pub execution_error: Option<String>,
}

#[cw_serde]
pub struct Ballot {
    pub vote: VoteOption,
    pub weight: Uint128,
}

pub const CONFIG: Item<Config> = Item::new("config");
/// The id of the last proposal; ids start at 1.
pub const PROPOSAL_COUNT: Item<u64> = Item::new("proposal_count");
pub const PROPOSALS: Map<u64, Proposal> = Map::new("proposals");
pub const BALLOTS: Map<(u64, &Addr), Ballot> = Map::new("ballots");
/// Ids of the proposals whose votes, as they stand, make them pass and that
/// are not executed, closed or found expired: the only ones that can keep a
/// later proposal from executing. `Execute` walks this instead of every
/// unsettled proposal, so proposals nobody votes for (spam included) cost it
/// nothing. A proposal's outcome changes only with its votes, so `Vote`
/// keeps its entry right; `Execute` and `Close` remove it, and `Execute`
/// drops earlier entries that expired.
pub const PASSING: Map<u64, Empty> = Map::new("passing");
/// Set once [`PASSING`] lists every proposal it should: at instantiation, or
/// by the one `migrate` that builds it for state written before it existed.
/// An empty [`PASSING`] alone cannot tell "none passing" from "never built",
/// and rebuilding on every migration would walk every proposal each time.
pub const PASSING_INDEXED: Item<Empty> = Item::new("passing_indexed");
/// Left by the previous version: the proposals not yet executed or closed
/// (minus some it found could no longer pass). Only `migrate` reads it, to
/// build [`PASSING`] from fewer proposals than all of them, and clears it.
pub const UNSETTLED: Map<u64, Empty> = Map::new("unsettled");

impl Tally {
    /// Adds `weight` to the option's count.
    pub fn add(&mut self, vote: VoteOption, weight: Uint128) -> StdResult<()> {
        let count = match vote {
            VoteOption::Yes => &mut self.yes,
            VoteOption::No => &mut self.no,
            VoteOption::Abstain => &mut self.abstain,
            VoteOption::Veto => &mut self.veto,
        };
        *count = count.checked_add(weight)?;
        Ok(())
    }

    /// All votes cast, abstain included.
    pub fn cast(&self) -> StdResult<Uint128> {
        Ok(self
            .yes
            .checked_add(self.no)?
            .checked_add(self.abstain)?
            .checked_add(self.veto)?)
    }
}

/// Compares `numerator / denominator` with `fraction` exactly (in 256 bits,
/// so no overflow and no rounding). A zero denominator compares as zero.
pub fn compare_ratio(numerator: Uint128, denominator: Uint128, fraction: Decimal) -> Ordering {
    if denominator.is_zero() {
        return if fraction.is_zero() {
            Ordering::Equal
        } else {
            Ordering::Less
        };
    }
    numerator
        .full_mul(Decimal::one().atomics())
        .cmp(&fraction.atomics().full_mul(denominator))
}

impl Proposal {
    /// First block in which a passed proposal can no longer be executed.
    pub fn execution_end_height(&self) -> u64 {
        self.end_height
            .saturating_add(self.rules.execution_period_blocks)
    }

    /// The status at `height`: Open before `end_height`, then the final
    /// outcome; once executed, Executed or ExecutionFailed; a Passed one not
    /// executed by `execution_end_height` is Expired.
    pub fn status(&self, height: u64) -> StdResult<Status> {
        if self.executed {
            return Ok(if self.execution_error.is_some() {
                Status::ExecutionFailed
            } else {
                Status::Executed
            });
        }
        if height < self.end_height {
            return Ok(Status::Open);
        }
        match self.outcome()? {
            Status::Passed if height >= self.execution_end_height() => Ok(Status::Expired),
            outcome => Ok(outcome),
        }
    }

    /// The outcome of the votes as they stand.
    pub fn outcome(&self) -> StdResult<Status> {
        let votes = &self.votes;
        let cast = votes.cast()?;
        if cast.is_zero()
            || compare_ratio(cast, self.total_stake, self.rules.quorum) == Ordering::Less
        {
            return Ok(Status::Rejected);
        }
        if compare_ratio(votes.veto, cast, self.rules.veto_threshold) != Ordering::Less {
            return Ok(Status::Vetoed);
        }
        let decisive = votes.yes.checked_add(votes.no)?.checked_add(votes.veto)?;
        if !decisive.is_zero()
            && compare_ratio(votes.yes, decisive, self.rules.threshold) == Ordering::Greater
        {
            return Ok(Status::Passed);
        }
        Ok(Status::Rejected)
    }
}
