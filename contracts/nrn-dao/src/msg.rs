//! Messages of the DAO.

use std::fmt;

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, Uint128};
use cw20::Cw20ReceiveMsg;
use um_bindings::{CodeUploadAccess, Hyperparams, RoundParams};

use crate::state::Config;

#[cw_serde]
pub struct InstantiateMsg {
    /// The NRN cw20 token (deposits are paid in it).
    pub token: String,
    /// The `nrn-staking` contract whose stake is the voting power.
    pub staking: String,
    /// Fraction of the total stake at the proposal's start that must vote
    /// (abstain included); in [0.05, 1].
    pub quorum: Decimal,
    /// A proposal passes when yes / (yes + no + veto) is strictly greater;
    /// in [0.5, 1).
    pub threshold: Decimal,
    /// veto / votes cast at or above this vetoes the proposal; in [0.1, 1].
    pub veto_threshold: Decimal,
    /// Blocks a proposal is open for voting; in [1, 1_000_000].
    pub voting_period_blocks: u64,
    /// NRN (micro-units) to send with a proposal; zero allows `Propose`; at
    /// most the token's total supply.
    pub proposal_deposit: Uint128,
    /// Blocks after the end of voting in which a passed proposal can be
    /// executed; in [100, 1_000_000], 100_000 when absent.
    #[serde(default)]
    pub execution_period_blocks: Option<u64>,
}

#[cw_serde]
pub enum ExecuteMsg {
    /// cw20 `Send` hook of the token; the `msg` is a [`ReceiveMsg`].
    Receive(Cw20ReceiveMsg),
    /// Proposes without a deposit; only while the proposal deposit is zero.
    Propose {
        title: String,
        description: String,
        action: ProposalAction,
    },
    /// Votes with the stake bonded at the start of the proposal's start block.
    Vote { proposal_id: u64, vote: VoteOption },
    /// Runs a passed proposal (anyone, once, within its execution window and
    /// after every earlier passed proposal) and refunds its deposit. An
    /// action that fails leaves the proposal ExecutionFailed, deposit
    /// refunded all the same.
    Execute { proposal_id: u64 },
    /// Settles a rejected or expired (deposit refunded) or vetoed (deposit
    /// burned) proposal once voting ended (anyone, once).
    Close { proposal_id: u64 },
}

/// The `msg` inside a cw20 `Send` of the proposal deposit to the DAO.
#[cw_serde]
pub enum ReceiveMsg {
    Propose {
        title: String,
        description: String,
        action: ProposalAction,
    },
}

/// What a passed proposal does.
#[cw_serde]
pub enum ProposalAction {
    /// Chain: replaces the hyperparameters of an existing model lineage.
    SetHyperparams {
        model_id: String,
        hyperparams: Hyperparams,
    },
    /// Chain: applies a proposed dataset delta.
    AcceptDatasetDelta { delta_id: u64 },
    /// Chain: drops a proposed dataset delta.
    RejectDatasetDelta { delta_id: u64 },
    /// Chain: starts a new model lineage (architecture changes are always a
    /// new lineage). Anyone may propose one, a training group of the 2017
    /// design: its deposit is refunded when it passes and kept by the DAO
    /// when the vote rejects it.
    NewModelLineage {
        model_id: String,
        /// The architecture as the trainer's JSON model spec.
        spec: String,
        hyperparams: Hyperparams,
        /// The dataset lineage it trains on (e.g. a text dataset for a
        /// `gpt` spec); the chain's default dataset when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dataset_id: Option<String>,
    },
    /// Changes this DAO's own configuration.
    UpdateDaoConfig {
        quorum: Option<Decimal>,
        threshold: Option<Decimal>,
        veto_threshold: Option<Decimal>,
        voting_period_blocks: Option<u64>,
        proposal_deposit: Option<Uint128>,
        #[serde(default)]
        execution_period_blocks: Option<u64>,
    },
    /// Changes the `nrn-staking` configuration (the DAO is its owner).
    UpdateStakingConfig {
        min_trainer_stake: Option<Uint128>,
        min_validator_stake: Option<Uint128>,
        unbonding_period_blocks: Option<u64>,
        #[serde(default)]
        max_validators: Option<u32>,
    },
    /// Chain: registers another governance suite (e.g. after a migration).
    UpdateChainRegistry {
        token: String,
        staking: String,
        dao: String,
        /// The nrn-versions contract the chain mints version tokens on;
        /// absent: none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        versions: Option<String>,
    },
    /// Migrates a contract whose admin is this DAO (the genesis suite's
    /// three are) to another stored code: the only way their code changes.
    MigrateContract {
        contract: String,
        new_code_id: u64,
        /// The contract's `MigrateMsg`, as JSON.
        msg: Binary,
    },
    /// Chain: changes the fee settings; `None` leaves a field as it is.
    SetFeeParams {
        /// unrn per gas unit; zero makes transactions free.
        min_gas_price: Option<Decimal>,
        /// Fraction (0..=1) of each training reward paid to the validators
        /// instead of the trainer, for their verification work.
        validator_reward_share: Option<Decimal>,
        /// unrn an update pays at submission, refunded when accepted.
        verification_fee: Option<Uint128>,
    },
    /// Chain: changes who may store wasm code (the DAO always may).
    SetCodeUploadAccess { access: CodeUploadAccess },
    /// Chain: stores wasm code as the DAO, the only uploader while access is
    /// `dao_only`; the code id is in the chain's events.
    StoreCode { wasm_byte_code: Binary },
    /// Chain: sets the collaborative rounds of an existing model lineage;
    /// `None` ends them. A round in progress finishes with the params it
    /// opened with; the next one takes these.
    SetRoundParams {
        model_id: String,
        rounds: Option<RoundParams>,
    },
    /// Chain: sets the rewards of the 2017 design: a fraction of the
    /// token's supply per accepted version and per accepted dataset delta
    /// (to its proposer), both halving every `halving_blocks`; `None`
    /// leaves a field as it is.
    SetRewardParams {
        version_supply_fraction: Option<Decimal>,
        delta_supply_fraction: Option<Decimal>,
        halving_blocks: Option<u64>,
    },
    /// Chain: sets how tips on a lineage are shared among the holders of
    /// its version tokens (nrn-versions): equal parts to each of the last
    /// `last_versions` versions (1..=100), a version's part in equal parts
    /// to its tokens' holders.
    SetRoyaltyRule { last_versions: u32 },
}

impl ProposalAction {
    /// Short name for attributes.
    pub fn kind(&self) -> &'static str {
        match self {
            ProposalAction::SetHyperparams { .. } => "set_hyperparams",
            ProposalAction::AcceptDatasetDelta { .. } => "accept_dataset_delta",
            ProposalAction::RejectDatasetDelta { .. } => "reject_dataset_delta",
            ProposalAction::NewModelLineage { .. } => "new_model_lineage",
            ProposalAction::UpdateDaoConfig { .. } => "update_dao_config",
            ProposalAction::UpdateStakingConfig { .. } => "update_staking_config",
            ProposalAction::UpdateChainRegistry { .. } => "update_chain_registry",
            ProposalAction::MigrateContract { .. } => "migrate_contract",
            ProposalAction::SetFeeParams { .. } => "set_fee_params",
            ProposalAction::SetCodeUploadAccess { .. } => "set_code_upload_access",
            ProposalAction::StoreCode { .. } => "store_code",
            ProposalAction::SetRoundParams { .. } => "set_round_params",
            ProposalAction::SetRewardParams { .. } => "set_reward_params",
            ProposalAction::SetRoyaltyRule { .. } => "set_royalty_rule",
        }
    }
}

#[cw_serde]
#[derive(Copy)]
pub enum VoteOption {
    Yes,
    No,
    Abstain,
    Veto,
}

impl fmt::Display for VoteOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VoteOption::Yes => "yes",
            VoteOption::No => "no",
            VoteOption::Abstain => "abstain",
            VoteOption::Veto => "veto",
        })
    }
}

/// Where a proposal stands at a given height.
#[cw_serde]
#[derive(Copy)]
pub enum Status {
    /// Voting is still open (before `end_height`).
    Open,
    /// Voting ended and the proposal passed; waiting for `Execute`.
    Passed,
    /// Voting ended without quorum or without enough yes votes.
    Rejected,
    /// Voting ended with veto votes at or above the veto threshold.
    Vetoed,
    /// Passed and executed.
    Executed,
    /// Passed and executed, but its action failed (see `execution_error`);
    /// the deposit was refunded.
    ExecutionFailed,
    /// Passed, but not executed within its execution window; can only be
    /// closed (deposit refunded).
    Expired,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Open => "open",
            Status::Passed => "passed",
            Status::Rejected => "rejected",
            Status::Vetoed => "vetoed",
            Status::Executed => "executed",
            Status::ExecutionFailed => "execution_failed",
            Status::Expired => "expired",
        })
    }
}

/// Summed voting power per option.
#[cw_serde]
#[derive(Default)]
pub struct Tally {
    pub yes: Uint128,
    pub no: Uint128,
    pub abstain: Uint128,
    pub veto: Uint128,
}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    /// One proposal with its status at the current height and its tally.
    #[returns(ProposalResponse)]
    Proposal { proposal_id: u64 },
    /// Proposals by ascending id; `limit` defaults to 10, at most 30.
    #[returns(ProposalListResponse)]
    ListProposals {
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(VoteResponse)]
    Vote { proposal_id: u64, voter: String },
    /// Votes on one proposal by ascending voter address; `limit` defaults to
    /// 10, at most 30.
    #[returns(VoteListResponse)]
    ListVotes {
        proposal_id: u64,
        start_after: Option<String>,
        limit: Option<u32>,
    },
}

pub type ConfigResponse = Config;

#[cw_serde]
pub struct ProposalResponse {
    pub id: u64,
    pub title: String,
    pub description: String,
    pub proposer: Addr,
    pub action: ProposalAction,
    /// Status at the height of the query.
    pub status: Status,
    /// The block the proposal was created in; voting power is the stake at
    /// the start of this block.
    pub start_height: u64,
    /// First block in which voting is closed.
    pub end_height: u64,
    /// Total bonded stake at the start of `start_height`.
    pub total_stake: Uint128,
    /// The deposit paid (refunded on execution or rejection, burned on veto).
    pub deposit: Uint128,
    /// The voting rules in force when the proposal was created.
    pub quorum: Decimal,
    pub threshold: Decimal,
    pub veto_threshold: Decimal,
    pub votes: Tally,
    /// Whether `Close` settled the proposal (rejected, vetoed or expired).
    pub closed: bool,
    /// First block in which the proposal, if passed, can no longer be
    /// executed.
    pub execution_end_height: u64,
    /// Why the action failed, for an ExecutionFailed proposal.
    pub execution_error: Option<String>,
}

#[cw_serde]
pub struct ProposalListResponse {
    pub proposals: Vec<ProposalResponse>,
}

#[cw_serde]
pub struct VoteInfo {
    pub voter: Addr,
    pub vote: VoteOption,
    pub weight: Uint128,
}

#[cw_serde]
pub struct VoteResponse {
    /// `None` when the address did not vote.
    pub vote: Option<VoteInfo>,
}

#[cw_serde]
pub struct VoteListResponse {
    pub votes: Vec<VoteInfo>,
}

/// Migrating needs no parameters: the stored cw2 info says where we come from.
#[cw_serde]
pub struct MigrateMsg {}
