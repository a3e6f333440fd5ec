//! Entry points of the DAO.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    from_json, to_json_binary, Addr, Binary, CosmosMsg, Decimal, Deps, DepsMut, Env, MessageInfo,
    Order, Response, StdResult, Storage, Uint128, WasmMsg,
};
use cw2::set_contract_version;
use cw20::{Cw20ExecuteMsg, Cw20ReceiveMsg};
use cw_storage_plus::Bound;
use cw_utils::nonpayable;
use um_bindings::migrate::check_and_record;
use um_bindings::staking::{
    ExecuteMsg as StakingExecuteMsg, QueryMsg as StakingQueryMsg, TotalStakeResponse,
    VotingPowerResponse,
};
use um_bindings::{Hyperparams, UmMsg, UmQuery};

use crate::error::ContractError;
use crate::msg::{
    ExecuteMsg, InstantiateMsg, MigrateMsg, ProposalAction, ProposalListResponse, ProposalResponse,
    QueryMsg, ReceiveMsg, Status, Tally, VoteInfo, VoteListResponse, VoteOption, VoteResponse,
};
use crate::state::{
    Ballot, Config, Proposal, VotingRules, BALLOTS, CONFIG, PROPOSALS, PROPOSAL_COUNT,
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
    };
    validate_config(&config)?;
    CONFIG.save(deps.storage, &config)?;
    PROPOSAL_COUNT.save(deps.storage, &0)?;
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
        .add_attribute("proposal_deposit", config.proposal_deposit))
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
    validate_action(&action, &config)?;

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
        },
        votes: Tally::default(),
        executed: false,
        closed: false,
    };
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

fn execute_execute(
    deps: DepsMut<UmQuery>,
    env: Env,
    info: MessageInfo,
    proposal_id: u64,
) -> ContractResult {
    let mut proposal = load_proposal(deps.storage, proposal_id)?;
    match proposal.status(env.block.height)? {
        Status::Passed => {}
        Status::Executed => return Err(ContractError::AlreadyExecuted { id: proposal_id }),
        Status::Open => {
            return Err(ContractError::VotingOpen {
                id: proposal_id,
                end_height: proposal.end_height,
            })
        }
        status @ (Status::Rejected | Status::Vetoed) => {
            return Err(ContractError::NotPassed {
                id: proposal_id,
                status: status.to_string(),
            })
        }
    }
    proposal.executed = true;
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;

    let config = CONFIG.load(deps.storage)?;
    let mut messages = action_messages(deps.storage, &config, &proposal.action)?;
    if !proposal.deposit.is_zero() {
        messages.push(token_msg(
            &config.token,
            &Cw20ExecuteMsg::Transfer {
                recipient: proposal.proposer.to_string(),
                amount: proposal.deposit,
            },
        )?);
    }
    Ok(Response::new()
        .add_messages(messages)
        .add_attribute("action", "execute")
        .add_attribute("proposal_id", proposal_id.to_string())
        .add_attribute("sender", info.sender)
        .add_attribute("proposal_action", proposal.action.kind())
        .add_attribute("status", Status::Executed.to_string())
        .add_attribute("deposit_refunded", proposal.deposit))
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
        } => CosmosMsg::Custom(UmMsg::CreateModelLineage {
            model_id,
            spec,
            hyperparams,
        }),
        ProposalAction::UpdateDaoConfig {
            quorum,
            threshold,
            veto_threshold,
            voting_period_blocks,
            proposal_deposit,
        } => {
            let updated = updated_config(
                config,
                quorum,
                threshold,
                veto_threshold,
                voting_period_blocks,
                proposal_deposit,
            );
            validate_config(&updated)?;
            CONFIG.save(storage, &updated)?;
            return Ok(vec![]);
        }
        ProposalAction::UpdateStakingConfig {
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
        } => CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr: config.staking.to_string(),
            msg: to_json_binary(&StakingExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake,
                min_validator_stake,
                unbonding_period_blocks,
            })?,
            funds: vec![],
        }),
        ProposalAction::UpdateChainRegistry {
            token,
            staking,
            dao,
        } => CosmosMsg::Custom(UmMsg::UpdateRegistry {
            token,
            staking,
            dao,
        }),
    };
    Ok(vec![msg])
}

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
        Status::Executed => return Err(ContractError::AlreadyExecuted { id: proposal_id }),
        Status::Rejected | Status::Vetoed => {}
    }
    if proposal.closed {
        return Err(ContractError::AlreadyClosed { id: proposal_id });
    }
    proposal.closed = true;
    PROPOSALS.save(deps.storage, proposal_id, &proposal)?;

    let config = CONFIG.load(deps.storage)?;
    let (deposit_outcome, cw20_msg) = if status == Status::Vetoed {
        (
            "burned",
            Cw20ExecuteMsg::Burn {
                amount: proposal.deposit,
            },
        )
    } else {
        (
            "refunded",
            Cw20ExecuteMsg::Transfer {
                recipient: proposal.proposer.to_string(),
                amount: proposal.deposit,
            },
        )
    };
    let mut response = Response::new();
    if !proposal.deposit.is_zero() {
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
) -> Config {
    Config {
        token: config.token.clone(),
        staking: config.staking.clone(),
        quorum: quorum.unwrap_or(config.quorum),
        threshold: threshold.unwrap_or(config.threshold),
        veto_threshold: veto_threshold.unwrap_or(config.veto_threshold),
        voting_period_blocks: voting_period_blocks.unwrap_or(config.voting_period_blocks),
        proposal_deposit: proposal_deposit.unwrap_or(config.proposal_deposit),
    }
}

fn invalid_config(field: &str, reason: &str) -> ContractError {
    ContractError::InvalidConfig {
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

/// quorum in (0, 1], threshold in (0, 1), veto threshold in (0, 1], a
/// voting period of at least one block.
pub fn validate_config(config: &Config) -> Result<(), ContractError> {
    if config.quorum.is_zero() || config.quorum > Decimal::one() {
        return Err(invalid_config("quorum", "must be above 0 and at most 1"));
    }
    if config.threshold.is_zero() || config.threshold >= Decimal::one() {
        return Err(invalid_config("threshold", "must be above 0 and below 1"));
    }
    if config.veto_threshold.is_zero() || config.veto_threshold > Decimal::one() {
        return Err(invalid_config(
            "veto_threshold",
            "must be above 0 and at most 1",
        ));
    }
    if config.voting_period_blocks == 0 {
        return Err(invalid_config("voting_period_blocks", "must be at least 1"));
    }
    Ok(())
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

/// Refuses, at proposal time, actions that could never be carried out.
pub fn validate_action(action: &ProposalAction, config: &Config) -> Result<(), ContractError> {
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
        } => {
            validate_model_id(model_id)?;
            validate_text("spec", spec, MAX_SPEC_LEN)?;
            validate_hyperparams(hyperparams)
        }
        ProposalAction::UpdateDaoConfig {
            quorum,
            threshold,
            veto_threshold,
            voting_period_blocks,
            proposal_deposit,
        } => {
            if quorum.is_none()
                && threshold.is_none()
                && veto_threshold.is_none()
                && voting_period_blocks.is_none()
                && proposal_deposit.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            validate_config(&updated_config(
                config,
                *quorum,
                *threshold,
                *veto_threshold,
                *voting_period_blocks,
                *proposal_deposit,
            ))
        }
        ProposalAction::UpdateStakingConfig {
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
        } => {
            if min_trainer_stake.is_none()
                && min_validator_stake.is_none()
                && unbonding_period_blocks.is_none()
            {
                return Err(ContractError::EmptyUpdate {});
            }
            Ok(())
        }
        ProposalAction::UpdateChainRegistry {
            token,
            staking,
            dao,
        } => {
            for (field, address) in [("token", token), ("staking", staking), ("dao", dao)] {
                if address.trim().is_empty() {
                    return Err(ContractError::InvalidProposal {
                        reason: format!("{field} address is empty"),
                    });
                }
            }
            Ok(())
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
    })
}

/// Accepts only code that was stored as `crates.io:nrn-dao`, never moves the
/// version backwards, and records the new version.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut<UmQuery>, _env: Env, _msg: MigrateMsg) -> ContractResult {
    let outcome = check_and_record(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", outcome.from_version)
        .add_attribute("to_version", outcome.to_version))
}

#[cfg(test)]
mod tests;
