//! Entry points of the DAO.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    from_json, to_json_binary, Addr, Binary, CosmosMsg, Decimal, Deps, DepsMut, Empty, Env,
    MessageInfo, Order, Reply, Response, StdResult, Storage, SubMsg, SubMsgResult, Uint128,
    WasmMsg,
};
use cw2::set_contract_version;
use cw20::{Cw20ExecuteMsg, Cw20QueryMsg, Cw20ReceiveMsg, TokenInfoResponse};
use cw_storage_plus::Bound;
use cw_utils::nonpayable;
use um_bindings::migrate::check_and_record;
use um_bindings::staking::{
    check_settings, ExecuteMsg as StakingExecuteMsg, QueryMsg as StakingQueryMsg,
    TotalStakeResponse, VotingPowerResponse,
};
use um_bindings::versions::validate_royalty_rule;
use um_bindings::{validate_fee_params, validate_reward_params, Hyperparams, UmMsg, UmQuery};

use crate::bounds::{check_bounds, invalid, DEFAULT_EXECUTION_PERIOD_BLOCKS};
use crate::error::ContractError;
use crate::msg::{
    ExecuteMsg, InstantiateMsg, MigrateMsg, ProposalAction, ProposalListResponse, ProposalResponse,
    QueryMsg, ReceiveMsg, Status, Tally, VoteInfo, VoteListResponse, VoteOption, VoteResponse,
};
use crate::state::{
    Ballot, Config, Proposal, VotingRules, BALLOTS, CONFIG, PASSING, PASSING_INDEXED, PROPOSALS,
    PROPOSAL_COUNT, UNSETTLED,
};

/// cw2 name of this contract; `migrate` only accepts code stored under it.
pub const CONTRACT_NAME: &str = "crates.io:nrn-dao";
/// cw2 version: the crate version.
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Page size of the list queries when none is given.
pub const DEFAULT_LIMIT: u32 = 10;
/// Largest page size of the list queries.
pub const MAX_LIMIT: u32 = 30;

/// Longest proposal title, in bytes.
pub const MAX_TITLE_LEN: usize = 256;
/// Longest proposal description, in bytes.
pub const MAX_DESCRIPTION_LEN: usize = 16 * 1024;
/// Longest model id, in bytes.
pub const MAX_MODEL_ID_LEN: usize = 128;
/// Longest model spec (JSON), in bytes.
pub const MAX_SPEC_LEN: usize = 64 * 1024;
/// Largest wasm code a `StoreCode` proposal may carry, in bytes: the chain's
/// own limit on an upload (`MAX_WASM_SIZE`), so a proposal the chain would
/// refuse is refused before anyone votes on it.
pub const MAX_WASM_BYTE_CODE_LEN: usize = 3 * 1024 * 1024;
/// Longest failure reason kept with an ExecutionFailed proposal, in bytes.
pub const MAX_EXECUTION_ERROR_LEN: usize = 1024;

type ContractResult = Result<Response<UmMsg>, ContractError>;

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut<UmQuery>,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> ContractResult {
    nonpayable(&info)?;
    let config = Config {
        token: deps.api.addr_validate(&msg.token)?,
        staking: deps.api.addr_validate(&msg.staking)?,
        quorum: msg.quorum,
        threshold: msg.threshold,
        veto_threshold: msg.veto_threshold,
        voting_period_blocks: msg.voting_period_blocks,
        proposal_deposit: msg.proposal_deposit,
        execution_period_blocks: msg
            .execution_period_blocks
            .unwrap_or(DEFAULT_EXECUTION_PERIOD_BLOCKS),
    };
    validate_config(deps.as_ref(), &config)?;
    CONFIG.save(deps.storage, &config)?;
    PROPOSAL_COUNT.save(deps.storage, &0)?;
    PASSING_INDEXED.save(deps.storage, &Empty {})?;
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("token", config.token)
        .add_attribute("staking", config.staking)
        .add_attribute("quorum", config.quorum.to_string())
        .add_attribute("threshold", config.threshold.to_string())
        .add_attribute("veto_threshold", config.veto_threshold.to_string())
        .add_attribute(
            "voting_period_blocks",
            config.voting_period_blocks.to_string(),
        )
        .add_attribute("proposal_deposit", config.proposal_deposit)
        .add_attribute(
            "execution_period_blocks",
            config.execution_period_blocks.to_string(),
        ))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> ContractResult {
    nonpayable(&info)?;
    match msg {
        ExecuteMsg::Receive(receive) => execute_receive(deps, env, info, receive),
        ExecuteMsg::Propose {
            title,
            description,
            action,
        } => {
            let config = CONFIG.load(deps.storage)?;
            if !config.proposal_deposit.is_zero() {
                return Err(ContractError::DepositRequired {
                    deposit: config.proposal_deposit,
                });
            }
            propose(
                deps,
                env,
                config,
                info.sender,
                Uint128::zero(),
                title,
                description,
                action,
            )
        }
        ExecuteMsg::Vote { proposal_id, vote } => execute_vote(deps, env, info, proposal_id, vote),
        ExecuteMsg::Execute { proposal_id } => execute_execute(deps, env, info, proposal_id),
        ExecuteMsg::Close { proposal_id } => execute_close(deps, env, info, proposal_id),
    }
}

fn execute_receive(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    receive: Cw20ReceiveMsg,
) -> ContractResult {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != config.token {
        return Err(ContractError::WrongToken {
            expected: config.token.to_string(),
            found: info.sender.to_string(),
        });
    }
    if receive.amount != config.proposal_deposit {
        return Err(ContractError::WrongDeposit {
            expected: config.proposal_deposit,
            received: receive.amount,
        });
    }
    let proposer = deps.api.addr_validate(&receive.sender)?;
    match from_json(&receive.msg)? {
        ReceiveMsg::Propose {
            title,
            description,
            action,
        } => propose(
            deps,
            env,
            config,
            proposer,
            receive.amount,
            title,
            description,
            action,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn propose(
    deps: DepsMut<UmQuery>,
    env: Env,
    config: Config,
    proposer: Addr,
    deposit: Uint128,
    title: String,
    description: String,
    action: ProposalAction,
) -> ContractResult {
    validate_text("title", &title, MAX_TITLE_LEN)?;
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(ContractError::InvalidProposal {
            reason: format!("description is longer than {MAX_DESCRIPTION_LEN} bytes"),
        });
    }
    validate_action(deps.as_ref(), &action, &config)?;

    let start_height = env.block.height;
    let end_height = start_height
        .checked_add(config.voting_period_blocks)
        .ok_or_else(|| ContractError::InvalidConfig {
            field: "voting_period_blocks".to_string(),
            reason: "the voting period ends beyond the last height".to_string(),
        })?;
    let total: TotalStakeResponse = deps.querier.query_wasm_smart(
        &config.staking,
        &StakingQueryMsg::TotalStake {
            height: Some(start_height),
        },
    )?;
    if total.total.is_zero() {
        return Err(ContractError::NoStake {});
    }

    let id = PROPOSAL_COUNT.load(deps.storage)? + 1;
    PROPOSAL_COUNT.save(deps.storage, &id)?;
    let kind = action.kind();
    let proposal = Proposal {
        id,
        title,
        description,
        proposer,
        action,
        start_height,
        end_height,
        total_stake: total.total,
        deposit,
        rules: VotingRules {
            quorum: config.quorum,
            threshold: config.threshold,
            veto_threshold: config.veto_threshold,
            execution_period_blocks: config.execution_period_blocks,
        },
        votes: Tally::default(),
        executed: false,
        closed: false,
        execution_error: None,
    };
    // No `PASSING` entry: a proposal without votes does not pass.
    PROPOSALS.save(deps.storage, id, &proposal)?;
    Ok(Response::new()
        .add_attribute("action", "propose")
        .add_attribute("proposal_id", id.to_string())
        .add_attribute("sender", proposal.proposer)
        .add_attribute("proposal_action", kind)
        .add_attribute("status", Status::Open.to_string())
        .add_attribute("start_height", start_height.to_string())
        .add_attribute("end_height", end_height.to_string())
        .add_attribute("total_stake", proposal.total_stake)
        .add_attribute("deposit", deposit))
}

fn execute_vote(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    proposal_id: u64,
    vote: VoteOption,
) -> ContractResult {
    let mut proposal = load_proposal(deps.storage, proposal_id)?;
    if env.block.height >= proposal.end_height {
        return Err(ContractError::VotingClosed {
            id: proposal_id,
            end_height: proposal.end_height,
        });
    }
    if BALLOTS.has(deps.storage, (proposal_id, &info.sender)) {
        return Err(ContractError::AlreadyVoted {
            id: proposal_id,
            voter: info.sender.to_string(),
        });
    }
    let config = CONFIG.load(deps.storage)?;
    let power: VotingPowerResponse = deps.querier.query_wasm_smart(
        &config.staking,
        &StakingQueryMsg::VotingPower {
            address: info.sender.to_string(),
            height: proposal.start_height,
        },
    )?;
    if power.power.is_zero() {
        return Err(ContractError::NoVotingPower {
            voter: info.sender.to_string(),
            height: proposal.start_height,
        });
    }
    proposal.votes.add(vote, power.power)?;
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;
    index_passing(deps.storage, &proposal, env.block.height)?;
    BALLOTS.save(
        deps.storage,
        (proposal_id, &info.sender),
        &Ballot {
            vote,
            weight: power.power,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "vote")
        .add_attribute("proposal_id", proposal_id.to_string())
        .add_attribute("sender", info.sender)
        .add_attribute("vote", vote.to_string())
        .add_attribute("weight", power.power)
        .add_attribute("status", Status::Open.to_string()))
}

/// Runs a passed proposal once. The action goes out as a sub-message that
/// replies only on error, so a failing action does not revert this tx: the
/// reply marks the proposal ExecutionFailed, and the deposit is refunded
/// either way (a failed action is no fault of the proposer's, and a deposit
/// must never stay locked). The sub-message has no gas limit of its own, so
/// an executor cannot make an action fail by sending too little gas: running
/// out of gas reverts the whole tx.
///
/// A passed proposal must be executed before `execution_end_height`, and
/// after every passed proposal with a lower id (see [`check_execution_order`]).
fn execute_execute(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    proposal_id: u64,
) -> ContractResult {
    let height = env.block.height;
    let mut proposal = load_proposal(deps.storage, proposal_id)?;
    match proposal.status(height)? {
        Status::Passed => {}
        Status::Executed | Status::ExecutionFailed => {
            return Err(ContractError::AlreadyExecuted { id: proposal_id })
        }
        Status::Open => {
            return Err(ContractError::VotingOpen {
                id: proposal_id,
                end_height: proposal.end_height,
            })
        }
        Status::Expired => {
            return Err(ContractError::ExecutionExpired {
                id: proposal_id,
                execution_end_height: proposal.execution_end_height(),
            })
        }
        status @ (Status::Rejected | Status::Vetoed) => {
            return Err(ContractError::NotPassed {
                id: proposal_id,
                status: status.to_string(),
            })
        }
    }
    check_execution_order(deps.storage, proposal_id, height)?;

    let config = CONFIG.load(deps.storage)?;
    // Bounds are checked again: what was valid when proposed may not be now
    // (the config or the token supply changed meanwhile).
    let messages = validate_action(deps.as_ref(), &proposal.action, &config)
        .and_then(|()| action_messages(deps.storage, &config, &proposal.action));
    let mut response = Response::new();
    match messages {
        Ok(messages) => {
            for msg in messages {
                response = response.add_submessage(SubMsg::reply_on_error(msg, proposal_id));
            }
        }
        Err(err) => proposal.execution_error = Some(execution_error(err.to_string())),
    }
    proposal.executed = true;
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;
    PASSING.remove(deps.storage, proposal_id);

    if !proposal.deposit.is_zero() {
        response = response.add_message(token_msg(
            &config.token,
            &Cw20ExecuteMsg::Transfer {
                recipient: proposal.proposer.to_string(),
                amount: proposal.deposit,
            },
        )?);
    }
    let status = proposal.status(height)?;
    response = response
        .add_attribute("action", "execute")
        .add_attribute("proposal_id", proposal_id.to_string())
        .add_attribute("sender", info.sender)
        .add_attribute("proposal_action", proposal.action.kind())
        .add_attribute("status", status.to_string())
        .add_attribute("deposit_refunded", proposal.deposit);
    if let Some(error) = &proposal.execution_error {
        response = response.add_attribute("execution_error", error);
    }
    Ok(response)
}

/// Passed proposals execute in id order: `Execute` refuses while a proposal
/// with a lower id is Passed (voting over, not executed, execution window
/// still open). Otherwise an old proposal executed late could undo a newer
/// decision on the same setting, or a newer action could run before the
/// older one it depends on. Older proposals that are still Open do not
/// block: they can only pass after this one and then run later, as the
/// newer decision.
///
/// Only [`PASSING`] is walked: a proposal outside it has votes that do not
/// make it pass, and it could only join through a `Vote`, which is over for
/// any proposal that would block now. So the walk costs one read per earlier
/// proposal that its voters made pass, however many others there are, and
/// stops at the first that blocks. Entries that can never block again
/// (expired, or settled some other way) are dropped, so each is walked past
/// once at most.
fn check_execution_order(
    storage: &mut dyn Storage,
    proposal_id: u64,
    height: u64,
) -> Result<(), ContractError> {
    let mut settled = vec![];
    let earlier_ids = PASSING.keys(
        &*storage,
        None,
        Some(Bound::exclusive(proposal_id)),
        Order::Ascending,
    );
    for earlier_id in earlier_ids {
        let earlier_id = earlier_id?;
        // A dangling entry is dropped, not an error: an error here would
        // block every later proposal for good.
        let status = match PROPOSALS.may_load(&*storage, earlier_id)? {
            Some(earlier) => Some(earlier.status(height)?),
            None => None,
        };
        match status {
            Some(Status::Passed) => {
                return Err(ContractError::EarlierProposalPending {
                    id: proposal_id,
                    earlier: earlier_id,
                })
            }
            Some(Status::Open) => {}
            Some(
                Status::Rejected
                | Status::Vetoed
                | Status::Expired
                | Status::Executed
                | Status::ExecutionFailed,
            )
            | None => settled.push(earlier_id),
        }
    }
    for id in settled {
        PASSING.remove(storage, id);
    }
    Ok(())
}

/// Whether `proposal` belongs in [`PASSING`] at `height`: its votes make it
/// pass, and it is neither settled nor expired, so it blocks later
/// proposals now or will once its voting ends.
fn may_block_later(proposal: &Proposal, height: u64) -> StdResult<bool> {
    Ok(!proposal.closed
        && matches!(proposal.status(height)?, Status::Open | Status::Passed)
        && proposal.outcome()? == Status::Passed)
}

/// Adds `proposal` to [`PASSING`] or removes it, after its votes changed.
fn index_passing(storage: &mut dyn Storage, proposal: &Proposal, height: u64) -> StdResult<()> {
    if may_block_later(proposal, height)? {
        PASSING.save(storage, proposal.id, &Empty {})
    } else {
        PASSING.remove(storage, proposal.id);
        Ok(())
    }
}

/// The failure reason as stored: cut to [`MAX_EXECUTION_ERROR_LEN`] bytes
/// (on a character boundary) so one long error cannot bloat the state.
fn execution_error(mut error: String) -> String {
    if error.len() > MAX_EXECUTION_ERROR_LEN {
        let mut end = MAX_EXECUTION_ERROR_LEN;
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        error.truncate(end);
    }
    error
}

/// Called only for a failed action sub-message (`reply_on_error`, id = the
/// proposal id): the action's own changes were already rolled back; the
/// proposal is recorded as ExecutionFailed, and the deposit refund that
/// `Execute` queued still goes out.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(deps: DepsMut<UmQuery>, _env: Env, msg: Reply) -> ContractResult {
    let proposal_id = msg.id;
    let SubMsgResult::Err(error) = msg.result else {
        return Err(ContractError::UnexpectedReply { id: proposal_id });
    };
    let mut proposal = load_proposal(deps.storage, proposal_id)?;
    if !proposal.executed || proposal.execution_error.is_some() {
        return Err(ContractError::UnexpectedReply { id: proposal_id });
    }
    let error = execution_error(error);
    proposal.execution_error = Some(error.clone());
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;
    Ok(Response::new()
        .add_attribute("action", "execution_failed")
        .add_attribute("proposal_id", proposal_id.to_string())
        .add_attribute("status", Status::ExecutionFailed.to_string())
        .add_attribute("execution_error", error))
}

/// The messages that carry out `action`; `UpdateDaoConfig` is applied here
/// and emits nothing.
fn action_messages(
    storage: &mut dyn Storage,
    config: &Config,
    action: &ProposalAction,
) -> Result<Vec<CosmosMsg<UmMsg>>, ContractError> {
    let msg = match action.clone() {
        ProposalAction::SetHyperparams {
            model_id,
            hyperparams,
        } => CosmosMsg::Custom(UmMsg::SetHyperparams {
            model_id,
            hyperparams,
        }),
        ProposalAction::AcceptDatasetDelta { delta_id } => {
            CosmosMsg::Custom(UmMsg::AcceptDatasetDelta { delta_id })
        }
        ProposalAction::RejectDatasetDelta { delta_id } => {
            CosmosMsg::Custom(UmMsg::RejectDatasetDelta { delta_id })
        }
        ProposalAction::NewModelLineage {
            model_id,
            spec,
            hyperparams,
            dataset_id,
        } => CosmosMsg::Custom(UmMsg::CreateModelLineage {
            model_id,
            spec,
            hyperparams,
            dataset_id,
        }),
        ProposalAction::UpdateDaoConfig {
            quorum,
            threshold,
            veto_threshold,
            voting_period_blocks,
            proposal_deposit,
            execution_period_blocks,
        } => {
            // Validated by the caller (`validate_action`) against this config.
            let updated = updated_config(
                config,
                quorum,
                threshold,
                veto_threshold,
                voting_period_blocks,
                proposal_deposit,
                execution_period_blocks,
            );
            CONFIG.save(storage, &updated)?;
            return Ok(vec![]);
        }
        ProposalAction::UpdateStakingConfig {
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
            max_validators,
        } => CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr: config.staking.to_string(),
            msg: to_json_binary(&StakingExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake,
                min_validator_stake,
                unbonding_period_blocks,
                max_validators,
            })?,
            funds: vec![],
        }),
        ProposalAction::UpdateChainRegistry {
            token,
            staking,
            dao,
            versions,
        } => CosmosMsg::Custom(UmMsg::UpdateRegistry {
            token,
            staking,
            dao,
            versions,
        }),
        ProposalAction::MigrateContract {
            contract,
            new_code_id,
            msg,
        } => CosmosMsg::Wasm(WasmMsg::Migrate {
            contract_addr: contract,
            new_code_id,
            msg,
        }),
        ProposalAction::SetFeeParams {
            min_gas_price,
            validator_reward_share,
            verification_fee,
        } => CosmosMsg::Custom(UmMsg::SetFeeParams {
            min_gas_price,
            validator_reward_share,
            verification_fee,
        }),
        ProposalAction::SetCodeUploadAccess { access } => {
            CosmosMsg::Custom(UmMsg::SetCodeUploadAccess { access })
        }
        ProposalAction::StoreCode { wasm_byte_code } => {
            CosmosMsg::Custom(UmMsg::StoreCode { wasm_byte_code })
        }
        ProposalAction::SetRoundParams { model_id, rounds } => {
            CosmosMsg::Custom(UmMsg::SetRoundParams { model_id, rounds })
        }
        ProposalAction::SetRewardParams {
            version_supply_fraction,
            delta_supply_fraction,
            halving_blocks,
        } => CosmosMsg::Custom(UmMsg::SetRewardParams {
            version_supply_fraction,
            delta_supply_fraction,
            halving_blocks,
        }),
        ProposalAction::SetRoyaltyRule { last_versions } => {
            CosmosMsg::Custom(UmMsg::SetRoyaltyRule { last_versions })
        }
    };
    Ok(vec![msg])
}

/// Settles a proposal that will never run: rejected or expired (deposit
/// refunded; a rejected training group's kept by the DAO) or vetoed
/// (deposit burned).
fn execute_close(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    proposal_id: u64,
) -> ContractResult {
    let mut proposal = load_proposal(deps.storage, proposal_id)?;
    let status = proposal.status(env.block.height)?;
    match status {
        Status::Open => {
            return Err(ContractError::VotingOpen {
                id: proposal_id,
                end_height: proposal.end_height,
            })
        }
        Status::Passed => return Err(ContractError::CannotClosePassed { id: proposal_id }),
        Status::Executed | Status::ExecutionFailed => {
            return Err(ContractError::AlreadyExecuted { id: proposal_id })
        }
        Status::Rejected | Status::Vetoed | Status::Expired => {}
    }
    if proposal.closed {
        return Err(ContractError::AlreadyClosed { id: proposal_id });
    }
    proposal.closed = true;
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;
    // Only an expired proposal has an entry here still.
    PASSING.remove(deps.storage, proposal_id);

    let config = CONFIG.load(deps.storage)?;
    // A training group (seed 004) is a new lineage anyone may propose: like
    // a dataset delta's, its deposit comes back when the DAO accepts it and
    // stays with the DAO when the vote rejects it.
    let training_group = matches!(proposal.action, ProposalAction::NewModelLineage { .. });
    let (deposit_outcome, cw20_msg) = match status {
        Status::Vetoed => (
            "burned",
            Some(Cw20ExecuteMsg::Burn {
                amount: proposal.deposit,
            }),
        ),
        Status::Rejected if training_group => ("kept", None),
        _ => (
            "refunded",
            Some(Cw20ExecuteMsg::Transfer {
                recipient: proposal.proposer.to_string(),
                amount: proposal.deposit,
            }),
        ),
    };
    let mut response = Response::new();
    if let Some(cw20_msg) = cw20_msg.filter(|_| !proposal.deposit.is_zero()) {
        response = response.add_message(token_msg(&config.token, &cw20_msg)?);
    }
    Ok(response
        .add_attribute("action", "close")
        .add_attribute("proposal_id", proposal_id.to_string())
        .add_attribute("sender", info.sender)
        .add_attribute("status", status.to_string())
        .add_attribute("deposit", proposal.deposit)
        .add_attribute("deposit_outcome", deposit_outcome))
}

fn token_msg(token: &Addr, msg: &Cw20ExecuteMsg) -> StdResult<CosmosMsg<UmMsg>> {
    Ok(CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr: token.to_string(),
        msg: to_json_binary(msg)?,
        funds: vec![],
    }))
}

fn load_proposal(storage: &dyn Storage, id: u64) -> Result<Proposal, ContractError> {
    PROPOSALS
        .may_load(storage, id)?
        .ok_or(ContractError::ProposalNotFound { id })
}

fn updated_config(
    config: &Config,
    quorum: Option<Decimal>,
    threshold: Option<Decimal>,
    veto_threshold: Option<Decimal>,
    voting_period_blocks: Option<u64>,
    proposal_deposit: Option<Uint128>,
    execution_period_blocks: Option<u64>,
) -> Config {
    Config {
        token: config.token.clone(),
        staking: config.staking.clone(),
        quorum: quorum.unwrap_or(config.quorum),
        threshold: threshold.unwrap_or(config.threshold),
        veto_threshold: veto_threshold.unwrap_or(config.veto_threshold),
        voting_period_blocks: voting_period_blocks.unwrap_or(config.voting_period_blocks),
        proposal_deposit: proposal_deposit.unwrap_or(config.proposal_deposit),
        execution_period_blocks: execution_period_blocks.unwrap_or(config.execution_period_blocks),
    }
}

/// The token's total supply, read from the cw20 contract.
fn token_supply(deps: Deps<UmQuery>, token: &Addr) -> StdResult<Uint128> {
    let info: TokenInfoResponse = deps
        .querier
        .query_wasm_smart(token, &Cw20QueryMsg::TokenInfo {})?;
    Ok(info.total_supply)
}

/// Refuses `amount` (a deposit or a minimum stake) above the token's total
/// supply: nobody could ever pay it. No query when it is zero.
fn check_within_supply(
    deps: Deps<UmQuery>,
    token: &Addr,
    field: &str,
    amount: Uint128,
) -> Result<(), ContractError> {
    if amount.is_zero() {
        return Ok(());
    }
    let supply = token_supply(deps, token)?;
    if amount > supply {
        return Err(invalid(
            field,
            format!("{amount} is above the token's total supply of {supply}"),
        ));
    }
    Ok(())
}

/// The bounds of [`crate::bounds`], and a proposal deposit no larger than
/// the token's total supply.
pub fn validate_config(deps: Deps<UmQuery>, config: &Config) -> Result<(), ContractError> {
    check_bounds(config)?;
    check_within_supply(
        deps,
        &config.token,
        "proposal_deposit",
        config.proposal_deposit,
    )
}

fn validate_text(field: &str, value: &str, max_len: usize) -> Result<(), ContractError> {
    if value.trim().is_empty() {
        return Err(ContractError::InvalidProposal {
            reason: format!("{field} must not be empty"),
        });
    }
    if value.len() > max_len {
        return Err(ContractError::InvalidProposal {
            reason: format!("{field} is longer than {max_len} bytes"),
        });
    }
    Ok(())
}

fn validate_model_id(model_id: &str) -> Result<(), ContractError> {
    validate_text("model_id", model_id, MAX_MODEL_ID_LEN)?;
    if model_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ContractError::InvalidProposal {
            reason: "model_id must not contain whitespace or control characters".to_string(),
        });
    }
    Ok(())
}

fn validate_hyperparams(hyperparams: &Hyperparams) -> Result<(), ContractError> {
    hyperparams
        .validate()
        .map_err(|reason| ContractError::InvalidHyperparams { reason })
}

/// Refuses actions that could never be carried out or would set a setting
/// out of bounds: at proposal time, so nobody votes on them, and again at
/// execution.
pub fn validate_action(
    deps: Deps<UmQuery>,
    action: &ProposalAction,
    config: &Config,
) -> Result<(), ContractError> {
    match action {
        ProposalAction::SetHyperparams {
            model_id,
            hyperparams,
        } => {
            validate_model_id(model_id)?;
            validate_hyperparams(hyperparams)
        }
        ProposalAction::AcceptDatasetDelta { .. } | ProposalAction::RejectDatasetDelta { .. } => {
            Ok(())
        }
        ProposalAction::NewModelLineage {
            model_id,
            spec,
            hyperparams,
            dataset_id,
        } => {
            validate_model_id(model_id)?;
            if let Some(dataset_id) = dataset_id {
                // The chain checks the id's characters and that it exists.
                validate_text("dataset_id", dataset_id, MAX_MODEL_ID_LEN)?;
            }
            validate_text("spec", spec, MAX_SPEC_LEN)?;
            validate_hyperparams(hyperparams)
        }
        ProposalAction::UpdateDaoConfig {
            quorum,
            threshold,
            veto_threshold,
            voting_period_blocks,
            proposal_deposit,
            execution_period_blocks,
        } => {
            if quorum.is_none()
                && threshold.is_none()
                && veto_threshold.is_none()
                && voting_period_blocks.is_none()
                && proposal_deposit.is_none()
                && execution_period_blocks.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            validate_config(
                deps,
                &updated_config(
                    config,
                    *quorum,
                    *threshold,
                    *veto_threshold,
                    *voting_period_blocks,
                    *proposal_deposit,
                    *execution_period_blocks,
                ),
            )
        }
        ProposalAction::UpdateStakingConfig {
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
            max_validators,
        } => {
            if min_trainer_stake.is_none()
                && min_validator_stake.is_none()
                && unbonding_period_blocks.is_none()
                && max_validators.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            check_settings(
                *min_trainer_stake,
                *min_validator_stake,
                *unbonding_period_blocks,
                *max_validators,
            )?;
            // A minimum nobody can reach would empty the role for good (for
            // validators: the chain's validator set).
            for (field, minimum) in [
                ("min_trainer_stake", min_trainer_stake),
                ("min_validator_stake", min_validator_stake),
            ] {
                if let Some(minimum) = minimum {
                    check_within_supply(deps, &config.token, field, *minimum)?;
                }
            }
            Ok(())
        }
        ProposalAction::UpdateChainRegistry {
            token,
            staking,
            dao,
            versions,
        } => {
            let mut fields = vec![("token", token), ("staking", staking), ("dao", dao)];
            if let Some(versions) = versions {
                fields.push(("versions", versions));
            }
            for (field, address) in fields {
                if address.trim().is_empty() {
                    return Err(ContractError::InvalidProposal {
                        reason: format!("{field} address is empty"),
                    });
                }
            }
            Ok(())
        }
        ProposalAction::MigrateContract {
            contract,
            new_code_id,
            msg,
        } => {
            deps.api
                .addr_validate(contract)
                .map_err(|_| ContractError::InvalidProposal {
                    reason: format!("{contract:?} is not a contract address"),
                })?;
            if *new_code_id == 0 {
                return Err(ContractError::InvalidProposal {
                    reason: "new_code_id must be a stored code".into(),
                });
            }
            if msg.len() > MAX_SPEC_LEN {
                return Err(ContractError::InvalidProposal {
                    reason: format!("the migrate message is longer than {MAX_SPEC_LEN} bytes"),
                });
            }
            Ok(())
        }
        ProposalAction::SetFeeParams {
            min_gas_price,
            validator_reward_share,
            verification_fee,
        } => {
            if min_gas_price.is_none()
                && validator_reward_share.is_none()
                && verification_fee.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            validate_fee_params(*min_gas_price, *validator_reward_share, *verification_fee)
                .map_err(|reason| ContractError::InvalidFeeParams { reason })?;
            // A fee above the whole supply could never be paid: no update
            // could be submitted until another vote lowered it.
            if let Some(fee) = verification_fee {
                check_within_supply(deps, &config.token, "verification_fee", *fee)?;
            }
            Ok(())
        }
        ProposalAction::SetRewardParams {
            version_supply_fraction,
            delta_supply_fraction,
            halving_blocks,
        } => {
            if version_supply_fraction.is_none()
                && delta_supply_fraction.is_none()
                && halving_blocks.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            validate_reward_params(
                *version_supply_fraction,
                *delta_supply_fraction,
                *halving_blocks,
            )
            .map_err(|reason| ContractError::InvalidProposal { reason })
        }
        ProposalAction::SetRoyaltyRule { last_versions } => validate_royalty_rule(*last_versions)
            .map_err(|reason| ContractError::InvalidProposal { reason }),
        ProposalAction::SetCodeUploadAccess { access } => access
            .validate(deps.api)
            .map_err(|reason| ContractError::InvalidProposal { reason }),
        ProposalAction::StoreCode { wasm_byte_code } => {
            if wasm_byte_code.is_empty() {
                return Err(ContractError::InvalidProposal {
                    reason: "wasm_byte_code is empty".into(),
                });
            }
            if wasm_byte_code.len() > MAX_WASM_BYTE_CODE_LEN {
                return Err(ContractError::InvalidProposal {
                    reason: format!("wasm_byte_code is larger than {MAX_WASM_BYTE_CODE_LEN} bytes"),
                });
            }
            Ok(())
        }
        ProposalAction::SetRoundParams { model_id, rounds } => {
            validate_model_id(model_id)?;
            // `None` (ending the rounds) has nothing to check; whether the
            // lineage exists is the chain's to say at execution, as for
            // `SetHyperparams`.
            match rounds {
                Some(rounds) => rounds
                    .validate()
                    .map_err(|reason| ContractError::InvalidRoundParams { reason }),
                None => Ok(()),
            }
        }
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps<UmQuery>, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    let height = env.block.height;
    Ok(match msg {
        QueryMsg::Config {} => to_json_binary(&CONFIG.load(deps.storage)?)?,
        QueryMsg::Proposal { proposal_id } => {
            let proposal = load_proposal(deps.storage, proposal_id)?;
            to_json_binary(&proposal_response(proposal, height)?)?
        }
        QueryMsg::ListProposals { start_after, limit } => {
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let proposals = PROPOSALS
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit)
                .map(|item| proposal_response(item?.1, height))
                .collect::<StdResult<Vec<_>>>()?;
            to_json_binary(&ProposalListResponse { proposals })?
        }
        QueryMsg::Vote { proposal_id, voter } => {
            load_proposal(deps.storage, proposal_id)?;
            let voter = deps.api.addr_validate(&voter)?;
            let vote = BALLOTS
                .may_load(deps.storage, (proposal_id, &voter))?
                .map(|ballot| VoteInfo {
                    voter,
                    vote: ballot.vote,
                    weight: ballot.weight,
                });
            to_json_binary(&VoteResponse { vote })?
        }
        QueryMsg::ListVotes {
            proposal_id,
            start_after,
            limit,
        } => {
            load_proposal(deps.storage, proposal_id)?;
            let limit = limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize;
            let start_after = start_after
                .map(|addr| deps.api.addr_validate(&addr))
                .transpose()?;
            let votes = BALLOTS
                .prefix(proposal_id)
                .range(
                    deps.storage,
                    start_after.as_ref().map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(limit)
                .map(|item| {
                    let (voter, ballot) = item?;
                    Ok(VoteInfo {
                        voter,
                        vote: ballot.vote,
                        weight: ballot.weight,
                    })
                })
                .collect::<StdResult<Vec<_>>>()?;
            to_json_binary(&VoteListResponse { votes })?
        }
    })
}

fn proposal_response(proposal: Proposal, height: u64) -> StdResult<ProposalResponse> {
    let status = proposal.status(height)?;
    let execution_end_height = proposal.execution_end_height();
    Ok(ProposalResponse {
        id: proposal.id,
        title: proposal.title,
        description: proposal.description,
        proposer: proposal.proposer,
        action: proposal.action,
        status,
        start_height: proposal.start_height,
        end_height: proposal.end_height,
        total_stake: proposal.total_stake,
        deposit: proposal.deposit,
        quorum: proposal.rules.quorum,
        threshold: proposal.rules.threshold,
        veto_threshold: proposal.rules.veto_threshold,
        votes: proposal.votes,
        closed: proposal.closed,
        execution_end_height,
        execution_error: proposal.execution_error,
    })
}

/// Accepts only code that was stored as `crates.io:nrn-dao`, never moves the
/// version backwards, and records the new version. State written before
/// [`PASSING`] existed gets it built, once (see [`build_passing_index`]).
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut<UmQuery>, env: Env, _msg: MigrateMsg) -> ContractResult {
    let outcome = check_and_record(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    if !PASSING_INDEXED.exists(deps.storage) {
        build_passing_index(deps.storage, env.block.height)?;
    }
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", outcome.from_version)
        .add_attribute("to_version", outcome.to_version))
}

/// Lists in [`PASSING`] every stored proposal that may block a later one.
/// Where the previous version left [`UNSETTLED`], only its entries are
/// read: every proposal it dropped was already past voting and unable to
/// pass, or executed. It is cleared, as nothing reads it any more. An empty
/// [`UNSETTLED`] may also mean a version older than it, so then every
/// proposal is read (keeping only ids, not whole proposals, in memory).
fn build_passing_index(storage: &mut dyn Storage, height: u64) -> StdResult<()> {
    let unsettled = UNSETTLED
        .keys(storage, None, None, Order::Ascending)
        .collect::<StdResult<Vec<_>>>()?;
    let passing = if unsettled.is_empty() {
        PROPOSALS
            .range(storage, None, None, Order::Ascending)
            .filter_map(|item| match item {
                Ok((id, proposal)) => match may_block_later(&proposal, height) {
                    Ok(true) => Some(Ok(id)),
                    Ok(false) => None,
                    Err(err) => Some(Err(err)),
                },
                Err(err) => Some(Err(err)),
            })
            .collect::<StdResult<Vec<_>>>()?
    } else {
        let mut passing = vec![];
        for id in unsettled {
            if let Some(proposal) = PROPOSALS.may_load(storage, id)? {
                if may_block_later(&proposal, height)? {
                    passing.push(id);
                }
            }
            UNSETTLED.remove(storage, id);
        }
        passing
    };
    for id in passing {
        PASSING.save(storage, id, &Empty {})?;
    }
    PASSING_INDEXED.save(storage, &Empty {})
}

#[cfg(test)]
mod tests;
