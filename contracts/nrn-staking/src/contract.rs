//! Entry points of the staking contract.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    from_json, to_json_binary, Addr, Binary, Decimal, Deps, DepsMut, Env, MessageInfo, Order,
    OverflowError, OverflowOperation, Response, StdError, StdResult, Storage, Uint128, WasmMsg,
};
use cw2::set_contract_version;
use cw20::Cw20ExecuteMsg;
use cw_utils::nonpayable;
use um_bindings::migrate::check_and_record;
use um_bindings::staking::{check_settings, validator_bond_message, DEFAULT_MAX_VALIDATORS};

use crate::error::ContractError;
use crate::msg::{
    Claim, ClaimsResponse, ConfigResponse, Cw20ReceiveMsg, ExecuteMsg, InstantiateMsg, MigrateMsg,
    QueryMsg, ReceiveMsg, Role, RoleResponse, StakeResponse, SudoMsg, TotalStakeResponse,
    ValidatorInfo, ValidatorsResponse, VotingPowerResponse,
};
use crate::state::{
    Config, CLAIMS, CONFIG, PUBKEY_OWNERS, ROLES, STAKE, TOTAL_STAKE, VALIDATORS,
    VALIDATORS_BY_STAKE,
};

/// cw2 name of this contract; `migrate` only accepts code stored under it.
pub const CONTRACT_NAME: &str = "crates.io:nrn-staking";
/// cw2 version: the crate version.
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Length of an ed25519 CometBFT consensus public key.
pub const CONSENSUS_PUBKEY_LEN: usize = 32;

/// Stores the config (within the bounds of `check_settings`) and a total
/// stake of zero. `owner: None` makes the config immutable: nobody can ever
/// `UpdateConfig`. Native funds are refused.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    nonpayable(&info)?;
    let token = deps.api.addr_validate(&msg.token)?;
    let owner = msg.owner.map(|o| deps.api.addr_validate(&o)).transpose()?;
    let config = Config {
        token,
        owner,
        min_trainer_stake: msg.min_trainer_stake,
        min_validator_stake: msg.min_validator_stake,
        unbonding_period_blocks: msg.unbonding_period_blocks,
        max_validators: msg.max_validators.unwrap_or(DEFAULT_MAX_VALIDATORS),
    };
    validate_config(&config)?;
    CONFIG.save(deps.storage, &config)?;
    TOTAL_STAKE.save(deps.storage, &Uint128::zero(), env.block.height)?;
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("token", config.token)
        .add_attribute("owner", owner_attr(&config.owner))
        .add_attribute("min_trainer_stake", config.min_trainer_stake)
        .add_attribute("min_validator_stake", config.min_validator_stake)
        .add_attribute(
            "unbonding_period_blocks",
            config.unbonding_period_blocks.to_string(),
        )
        .add_attribute("max_validators", config.max_validators.to_string()))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    nonpayable(&info)?;
    match msg {
        ExecuteMsg::Receive(wrapper) => execute_receive(deps, env, info, wrapper),
        ExecuteMsg::Unbond { amount } => execute_unbond(deps, env, info, amount),
        ExecuteMsg::Claim {} => execute_claim(deps, env, info),
        ExecuteMsg::UpdateConfig {
            owner,
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
            max_validators,
        } => execute_update_config(
            deps,
            info,
            owner,
            min_trainer_stake,
            min_validator_stake,
            unbonding_period_blocks,
            max_validators,
        ),
    }
}

/// The cw20 `Send` hook: only the configured token may call it. Bonds the
/// sent amount for the cw20 sender and sets its role. The resulting stake
/// must meet the role's minimum: otherwise dust registrations would cost
/// nothing and could flood the validator set.
fn execute_receive(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    wrapper: Cw20ReceiveMsg,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != config.token {
        return Err(ContractError::WrongToken {
            expected: config.token.to_string(),
            found: info.sender.to_string(),
        });
    }
    if wrapper.amount.is_zero() {
        return Err(ContractError::ZeroAmount {});
    }
    let ReceiveMsg::Bond {
        role,
        consensus_signature,
    } = from_json(&wrapper.msg)?;
    let staker = deps.api.addr_validate(&wrapper.sender)?;
    let height = env.block.height;
    check_key_ownership(
        deps.as_ref(),
        &env.block.chain_id,
        &staker,
        &role,
        consensus_signature.as_ref(),
    )?;

    let stake = STAKE
        .may_load(deps.storage, &staker)?
        .unwrap_or_default()
        .checked_add(wrapper.amount)?;
    let minimum = min_stake(&config, &role);
    if stake < minimum {
        return Err(ContractError::BelowMinimumStake {
            role: role_name(&role).to_string(),
            stake,
            minimum,
        });
    }
    let indexed = indexed_validator(deps.storage, &staker)?;
    set_role(deps.storage, &staker, &role)?;
    STAKE.save(deps.storage, &staker, &stake, height)?;
    reindex_validator(deps.storage, &staker, indexed)?;
    let total = TOTAL_STAKE
        .may_load(deps.storage)?
        .unwrap_or_default()
        .checked_add(wrapper.amount)?;
    TOTAL_STAKE.save(deps.storage, &total, height)?;

    let mut res = Response::new()
        .add_attribute("action", "bond")
        .add_attribute("address", staker)
        .add_attribute("amount", wrapper.amount)
        .add_attribute("role", role_name(&role))
        .add_attribute("stake", stake);
    if let Role::Validator { consensus_pubkey } = &role {
        res = res.add_attribute("consensus_pubkey", consensus_pubkey.to_base64());
    }
    Ok(res)
}

/// Moves `amount` of the sender's bonded stake into a claim released after
/// the unbonding period. Unbonding everything drops the role (and frees a
/// validator's consensus pubkey); a partial unbond must leave at least the
/// role's minimum, so no dust stake stays registered.
fn execute_unbond(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    amount: Uint128,
) -> Result<Response, ContractError> {
    if amount.is_zero() {
        return Err(ContractError::ZeroAmount {});
    }
    let config = CONFIG.load(deps.storage)?;
    let staker = info.sender;
    let height = env.block.height;
    let bonded = STAKE.may_load(deps.storage, &staker)?.unwrap_or_default();
    if amount > bonded {
        return Err(ContractError::InsufficientStake {
            bonded,
            requested: amount,
        });
    }
    let stake = bonded.checked_sub(amount)?;
    if !stake.is_zero() {
        if let Some(role) = ROLES.may_load(deps.storage, &staker)? {
            let minimum = min_stake(&config, &role);
            if stake < minimum {
                return Err(ContractError::UnbondBelowMinimum {
                    role: role_name(&role).to_string(),
                    remaining: stake,
                    minimum,
                });
            }
        }
    }
    let indexed = indexed_validator(deps.storage, &staker)?;
    save_stake(deps.storage, &staker, stake, height)?;
    reindex_validator(deps.storage, &staker, indexed)?;
    sub_total_stake(deps.storage, amount, height)?;

    let release_height = height
        .checked_add(config.unbonding_period_blocks)
        .ok_or_else(|| OverflowError::new(OverflowOperation::Add))?;
    let mut claims = CLAIMS.may_load(deps.storage, &staker)?.unwrap_or_default();
    match claims
        .iter_mut()
        .find(|c| c.release_height == release_height)
    {
        Some(claim) => claim.amount = claim.amount.checked_add(amount)?,
        None => {
            claims.push(Claim {
                amount,
                release_height,
            });
            claims.sort_by_key(|c| c.release_height);
        }
    }
    CLAIMS.save(deps.storage, &staker, &claims)?;

    Ok(Response::new()
        .add_attribute("action", "unbond")
        .add_attribute("address", staker)
        .add_attribute("amount", amount)
        .add_attribute("stake", stake)
        .add_attribute("release_height", release_height.to_string()))
}

/// Pays every claim of the sender whose release height has been reached.
fn execute_claim(deps: DepsMut, env: Env, info: MessageInfo) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let staker = info.sender;
    let claims = CLAIMS.may_load(deps.storage, &staker)?.unwrap_or_default();
    let (matured, pending): (Vec<Claim>, Vec<Claim>) = claims
        .into_iter()
        .partition(|c| c.release_height <= env.block.height);
    let mut amount = Uint128::zero();
    for claim in &matured {
        amount = amount.checked_add(claim.amount)?;
    }
    if amount.is_zero() {
        return Err(ContractError::NothingToClaim {});
    }
    if pending.is_empty() {
        CLAIMS.remove(deps.storage, &staker);
    } else {
        CLAIMS.save(deps.storage, &staker, &pending)?;
    }
    let transfer = WasmMsg::Execute {
        contract_addr: config.token.to_string(),
        msg: to_json_binary(&Cw20ExecuteMsg::Transfer {
            recipient: staker.to_string(),
            amount,
        })?,
        funds: vec![],
    };
    Ok(Response::new()
        .add_message(transfer)
        .add_attribute("action", "claim")
        .add_attribute("address", staker)
        .add_attribute("amount", amount))
}

/// Owner only. `None` fields stay as they are (so the owner can hand the
/// role over, but not renounce it). With no owner the config is immutable.
/// The result must stay within the bounds of `check_settings`. A raised
/// minimum does not evict anyone: stakers below it turn inactive and may
/// top up or unbond everything.
fn execute_update_config(
    deps: DepsMut,
    info: MessageInfo,
    owner: Option<String>,
    min_trainer_stake: Option<Uint128>,
    min_validator_stake: Option<Uint128>,
    unbonding_period_blocks: Option<u64>,
    max_validators: Option<u32>,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    if config.owner.as_ref() != Some(&info.sender) {
        return Err(ContractError::Unauthorized {});
    }
    if let Some(owner) = owner {
        config.owner = Some(deps.api.addr_validate(&owner)?);
    }
    if let Some(min) = min_trainer_stake {
        config.min_trainer_stake = min;
    }
    if let Some(min) = min_validator_stake {
        config.min_validator_stake = min;
    }
    if let Some(period) = unbonding_period_blocks {
        config.unbonding_period_blocks = period;
    }
    if let Some(max) = max_validators {
        config.max_validators = max;
    }
    validate_config(&config)?;
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("address", info.sender)
        .add_attribute("owner", owner_attr(&config.owner))
        .add_attribute("min_trainer_stake", config.min_trainer_stake)
        .add_attribute("min_validator_stake", config.min_validator_stake)
        .add_attribute(
            "unbonding_period_blocks",
            config.unbonding_period_blocks.to_string(),
        )
        .add_attribute("max_validators", config.max_validators.to_string()))
}

fn validate_config(config: &Config) -> Result<(), ContractError> {
    check_settings(
        Some(config.min_trainer_stake),
        Some(config.min_validator_stake),
        Some(config.unbonding_period_blocks),
        Some(config.max_validators),
    )?;
    Ok(())
}

/// Only the chain reaches this entry point; there is no `execute` variant
/// for slashing.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn sudo(deps: DepsMut, env: Env, msg: SudoMsg) -> Result<Response, ContractError> {
    match msg {
        SudoMsg::Slash {
            address,
            fraction,
            reason,
        } => sudo_slash(deps, env, address, fraction, reason),
    }
}

/// Burns `ceil(fraction × amount)` of the staker's bonded stake and of each
/// pending claim: rounding up means a non-zero fraction of a non-zero amount
/// always burns something, so small stakes cannot cheat for free. A staker
/// that already unbonded everything is still slashed through its claims; one
/// with neither stake nor claims is an error.
fn sudo_slash(
    deps: DepsMut,
    env: Env,
    address: String,
    fraction: Decimal,
    reason: String,
) -> Result<Response, ContractError> {
    if fraction.is_zero() || fraction > Decimal::one() {
        return Err(ContractError::InvalidFraction {
            fraction: fraction.to_string(),
        });
    }
    let config = CONFIG.load(deps.storage)?;
    let staker = deps.api.addr_validate(&address)?;
    let height = env.block.height;
    let bonded = STAKE.may_load(deps.storage, &staker)?.unwrap_or_default();
    let claims = CLAIMS.may_load(deps.storage, &staker)?.unwrap_or_default();
    if bonded.is_zero() && claims.is_empty() {
        return Err(ContractError::NoStake { address });
    }

    let stake_slashed = mul_ceil(bonded, fraction)?;
    if !stake_slashed.is_zero() {
        let indexed = indexed_validator(deps.storage, &staker)?;
        save_stake(
            deps.storage,
            &staker,
            bonded.checked_sub(stake_slashed)?,
            height,
        )?;
        reindex_validator(deps.storage, &staker, indexed)?;
        sub_total_stake(deps.storage, stake_slashed, height)?;
    }

    let mut claims_slashed = Uint128::zero();
    let mut remaining = Vec::with_capacity(claims.len());
    for mut claim in claims {
        let cut = mul_ceil(claim.amount, fraction)?;
        claims_slashed = claims_slashed.checked_add(cut)?;
        claim.amount = claim.amount.checked_sub(cut)?;
        if !claim.amount.is_zero() {
            remaining.push(claim);
        }
    }
    if remaining.is_empty() {
        CLAIMS.remove(deps.storage, &staker);
    } else {
        CLAIMS.save(deps.storage, &staker, &remaining)?;
    }

    let amount = stake_slashed.checked_add(claims_slashed)?;
    let mut res = Response::new();
    if !amount.is_zero() {
        res = res.add_message(WasmMsg::Execute {
            contract_addr: config.token.to_string(),
            msg: to_json_binary(&Cw20ExecuteMsg::Burn { amount })?,
            funds: vec![],
        });
    }
    Ok(res
        .add_attribute("action", "slash")
        .add_attribute("address", staker)
        .add_attribute("amount", amount)
        .add_attribute("reason", reason)
        .add_attribute("fraction", fraction.to_string())
        .add_attribute("stake_slashed", stake_slashed)
        .add_attribute("claims_slashed", claims_slashed))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => to_json_binary(&query_config(deps)?),
        QueryMsg::Stake { address, height } => to_json_binary(&query_stake(deps, address, height)?),
        QueryMsg::TotalStake { height } => to_json_binary(&query_total_stake(deps, height)?),
        QueryMsg::Role { address } => to_json_binary(&query_role(deps, address)?),
        QueryMsg::VotingPower { address, height } => {
            to_json_binary(&query_voting_power(deps, address, height)?)
        }
        QueryMsg::Validators {} => to_json_binary(&query_validators(deps)?),
        QueryMsg::Claims { address } => to_json_binary(&query_claims(deps, address)?),
    }
}

fn query_config(deps: Deps) -> StdResult<ConfigResponse> {
    let config = CONFIG.load(deps.storage)?;
    Ok(ConfigResponse {
        token: config.token,
        owner: config.owner,
        min_trainer_stake: config.min_trainer_stake,
        min_validator_stake: config.min_validator_stake,
        unbonding_period_blocks: config.unbonding_period_blocks,
        max_validators: config.max_validators,
    })
}

/// Stake at the start of block `height` (changes made in that block are not
/// included), or the current stake.
fn stake_at(deps: Deps, staker: &Addr, height: Option<u64>) -> StdResult<Uint128> {
    let stake = match height {
        Some(h) => STAKE.may_load_at_height(deps.storage, staker, h)?,
        None => STAKE.may_load(deps.storage, staker)?,
    };
    Ok(stake.unwrap_or_default())
}

fn query_stake(deps: Deps, address: String, height: Option<u64>) -> StdResult<StakeResponse> {
    let staker = deps.api.addr_validate(&address)?;
    let stake = stake_at(deps, &staker, height)?;
    Ok(StakeResponse {
        address: staker.into_string(),
        stake,
    })
}

fn query_total_stake(deps: Deps, height: Option<u64>) -> StdResult<TotalStakeResponse> {
    let total = match height {
        Some(h) => TOTAL_STAKE.may_load_at_height(deps.storage, h)?,
        None => TOTAL_STAKE.may_load(deps.storage)?,
    };
    Ok(TotalStakeResponse {
        total: total.unwrap_or_default(),
    })
}

fn query_role(deps: Deps, address: String) -> StdResult<RoleResponse> {
    let staker = deps.api.addr_validate(&address)?;
    let config = CONFIG.load(deps.storage)?;
    let role = ROLES.may_load(deps.storage, &staker)?;
    let stake = STAKE.may_load(deps.storage, &staker)?.unwrap_or_default();
    let active = match &role {
        Some(Role::Trainer) => stake >= config.min_trainer_stake && !stake.is_zero(),
        Some(Role::Validator { .. }) => stake >= config.min_validator_stake && !stake.is_zero(),
        None => false,
    };
    Ok(RoleResponse {
        address: staker.into_string(),
        role,
        active,
    })
}

fn query_voting_power(deps: Deps, address: String, height: u64) -> StdResult<VotingPowerResponse> {
    let staker = deps.api.addr_validate(&address)?;
    let power = stake_at(deps, &staker, Some(height))?;
    Ok(VotingPowerResponse {
        address: staker.into_string(),
        power,
        height,
    })
}

/// The `max_validators` highest-staked validators whose current stake meets
/// `min_validator_stake` (equal stakes: lower address first), answered in
/// ascending address order. Reads the config and at most `max_validators`
/// index entries: the chain runs this query under a fixed gas limit at every
/// epoch, so its cost must not grow with the number of registrations.
fn query_validators(deps: Deps) -> StdResult<ValidatorsResponse> {
    let config = CONFIG.load(deps.storage)?;
    let mut validators = vec![];
    let by_stake = VALIDATORS_BY_STAKE.range(deps.storage, None, None, Order::Ascending);
    for item in by_stake.take(config.max_validators as usize) {
        let ((inverted_stake, address), consensus_pubkey) = item?;
        let stake = Uint128::new(u128::MAX - inverted_stake);
        // Ordered by stake: every later entry is below the minimum too.
        if stake < config.min_validator_stake {
            break;
        }
        validators.push(ValidatorInfo {
            address: address.into_string(),
            consensus_pubkey,
            stake,
        });
    }
    validators.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(ValidatorsResponse { validators })
}

fn query_claims(deps: Deps, address: String) -> StdResult<ClaimsResponse> {
    let staker = deps.api.addr_validate(&address)?;
    Ok(ClaimsResponse {
        claims: CLAIMS.may_load(deps.storage, &staker)?.unwrap_or_default(),
    })
}

/// Accepts only code that was stored as `crates.io:nrn-staking`, never moves
/// the version backwards, and records the new version. Builds the stake
/// index of the validators when coming from a version without it (a
/// one-time walk over every registered validator).
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let outcome = check_and_record(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    if VALIDATORS_BY_STAKE.is_empty(deps.storage) {
        let registered = VALIDATORS
            .range(deps.storage, None, None, Order::Ascending)
            .collect::<StdResult<Vec<_>>>()?;
        for (validator, consensus_pubkey) in registered {
            let stake = STAKE
                .may_load(deps.storage, &validator)?
                .unwrap_or_default();
            if !stake.is_zero() {
                VALIDATORS_BY_STAKE.save(
                    deps.storage,
                    (index_stake(stake), &validator),
                    &consensus_pubkey,
                )?;
            }
        }
    }
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", outcome.from_version)
        .add_attribute("to_version", outcome.to_version))
}

/// A validator taking a consensus key must prove it holds the key: its
/// signature over [`validator_bond_message`]. Otherwise anyone who read a
/// node's public key could bond it first and keep its operator out of the
/// set. Keeping the key it already holds needs no new proof.
fn check_key_ownership(
    deps: Deps,
    chain_id: &str,
    staker: &Addr,
    role: &Role,
    signature: Option<&Binary>,
) -> Result<(), ContractError> {
    let Role::Validator { consensus_pubkey } = role else {
        return Ok(());
    };
    if consensus_pubkey.len() != CONSENSUS_PUBKEY_LEN {
        return Err(ContractError::InvalidPubkeyLength {
            len: consensus_pubkey.len(),
        });
    }
    if VALIDATORS.may_load(deps.storage, staker)?.as_ref() == Some(consensus_pubkey) {
        return Ok(());
    }
    let signature = signature.ok_or(ContractError::MissingConsensusSignature {})?;
    let message = validator_bond_message(chain_id, staker.as_str());
    // A malformed key or signature is an invalid proof, not a VM error.
    let valid = deps
        .api
        .ed25519_verify(&message, signature, consensus_pubkey)
        .unwrap_or(false);
    if !valid {
        return Err(ContractError::InvalidConsensusSignature {});
    }
    Ok(())
}

/// Sets `role` for `staker`: checks a validator's pubkey (32 bytes, not used
/// by another staker) and frees the pubkey of a role it replaces.
fn set_role(storage: &mut dyn Storage, staker: &Addr, role: &Role) -> Result<(), ContractError> {
    if let Role::Validator { consensus_pubkey } = role {
        if consensus_pubkey.len() != CONSENSUS_PUBKEY_LEN {
            return Err(ContractError::InvalidPubkeyLength {
                len: consensus_pubkey.len(),
            });
        }
        if let Some(owner) = PUBKEY_OWNERS.may_load(storage, consensus_pubkey.as_slice())? {
            if owner != staker {
                return Err(ContractError::PubkeyInUse {
                    owner: owner.into_string(),
                });
            }
        }
    }
    clear_role(storage, staker)?;
    if let Role::Validator { consensus_pubkey } = role {
        PUBKEY_OWNERS.save(storage, consensus_pubkey.as_slice(), staker)?;
        VALIDATORS.save(storage, staker, consensus_pubkey)?;
    }
    ROLES.save(storage, staker, role)?;
    Ok(())
}

/// Removes the staker's role and, for a validator, its pubkey entries.
fn clear_role(storage: &mut dyn Storage, staker: &Addr) -> StdResult<()> {
    if let Some(Role::Validator { consensus_pubkey }) = ROLES.may_load(storage, staker)? {
        PUBKEY_OWNERS.remove(storage, consensus_pubkey.as_slice());
        VALIDATORS.remove(storage, staker);
    }
    ROLES.remove(storage, staker);
    Ok(())
}

/// Records the staker's new bonded stake at `height`; at zero the entry and
/// the role go away.
fn save_stake(
    storage: &mut dyn Storage,
    staker: &Addr,
    stake: Uint128,
    height: u64,
) -> StdResult<()> {
    if stake.is_zero() {
        STAKE.remove(storage, staker, height)?;
        clear_role(storage, staker)
    } else {
        STAKE.save(storage, staker, &stake, height)
    }
}

fn sub_total_stake(
    storage: &mut dyn Storage,
    amount: Uint128,
    height: u64,
) -> Result<(), ContractError> {
    let total = TOTAL_STAKE
        .may_load(storage)?
        .unwrap_or_default()
        .checked_sub(amount)?;
    TOTAL_STAKE.save(storage, &total, height)?;
    Ok(())
}

fn mul_ceil(amount: Uint128, fraction: Decimal) -> StdResult<Uint128> {
    amount
        .checked_mul_ceil(fraction)
        .map_err(|e| StdError::generic_err(e.to_string()))
}

/// The minimum bonded stake of `role`.
fn min_stake(config: &Config, role: &Role) -> Uint128 {
    match role {
        Role::Trainer => config.min_trainer_stake,
        Role::Validator { .. } => config.min_validator_stake,
    }
}

/// The [`VALIDATORS_BY_STAKE`] key part of `stake`: inverted so that an
/// ascending range starts at the highest stake.
fn index_stake(stake: Uint128) -> u128 {
    u128::MAX - stake.u128()
}

/// The staker's entry in [`VALIDATORS_BY_STAKE`] as the current state
/// implies it: a validator with non-zero stake has one.
fn indexed_validator(storage: &dyn Storage, staker: &Addr) -> StdResult<Option<(u128, Binary)>> {
    let Some(consensus_pubkey) = VALIDATORS.may_load(storage, staker)? else {
        return Ok(None);
    };
    let stake = STAKE.may_load(storage, staker)?.unwrap_or_default();
    Ok((!stake.is_zero()).then(|| (index_stake(stake), consensus_pubkey)))
}

/// Brings the staker's [`VALIDATORS_BY_STAKE`] entry in line with the state
/// after a change; `before` is [`indexed_validator`] from before it. Called
/// by every path that changes a stake or a role, so the index never drifts.
fn reindex_validator(
    storage: &mut dyn Storage,
    staker: &Addr,
    before: Option<(u128, Binary)>,
) -> StdResult<()> {
    let after = indexed_validator(storage, staker)?;
    if before == after {
        return Ok(());
    }
    if let Some((key, _)) = before {
        VALIDATORS_BY_STAKE.remove(storage, (key, staker));
    }
    if let Some((key, consensus_pubkey)) = after {
        VALIDATORS_BY_STAKE.save(storage, (key, staker), &consensus_pubkey)?;
    }
    Ok(())
}

fn role_name(role: &Role) -> &'static str {
    match role {
        Role::Trainer => "trainer",
        Role::Validator { .. } => "validator",
    }
}

fn owner_attr(owner: &Option<Addr>) -> String {
    owner
        .as_ref()
        .map_or_else(|| "none".to_string(), |o| o.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::{bond_signature, consensus_key, consensus_key_of};
    use cosmwasm_std::testing::{
        message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
    };
    use cosmwasm_std::{attr, coins, from_json, CosmosMsg, OwnedDeps, SubMsg};
    use cw2::get_contract_version;
    use cw_utils::PaymentError;
    use um_bindings::migrate::MigrateError;

    type Deps_ = OwnedDeps<MockStorage, MockApi, MockQuerier>;

    const START: u64 = 100;
    const PERIOD: u64 = 10;
    const MIN_TRAINER: u128 = 100;
    const MIN_VALIDATOR: u128 = 1_000;

    struct Users {
        token: Addr,
        owner: Addr,
        alice: Addr,
        bob: Addr,
        carol: Addr,
    }

    fn env_at(height: u64) -> Env {
        let mut env = mock_env();
        env.block.height = height;
        env
    }

    fn setup_with_owner(owner: bool) -> (Deps_, Users) {
        let mut deps = mock_dependencies();
        let u = Users {
            token: deps.api.addr_make("nrn-token"),
            owner: deps.api.addr_make("dao"),
            alice: deps.api.addr_make("alice"),
            bob: deps.api.addr_make("bob"),
            carol: deps.api.addr_make("carol"),
        };
        let msg = InstantiateMsg {
            token: u.token.to_string(),
            owner: owner.then(|| u.owner.to_string()),
            min_trainer_stake: Uint128::new(MIN_TRAINER),
            min_validator_stake: Uint128::new(MIN_VALIDATOR),
            unbonding_period_blocks: PERIOD,
            max_validators: None,
        };
        let creator = deps.api.addr_make("creator");
        instantiate(
            deps.as_mut(),
            env_at(START),
            message_info(&creator, &[]),
            msg,
        )
        .unwrap();
        (deps, u)
    }

    fn setup() -> (Deps_, Users) {
        setup_with_owner(true)
    }

    fn pubkey(byte: u8) -> Binary {
        consensus_key_of(byte)
    }

    fn validator(byte: u8) -> Role {
        Role::Validator {
            consensus_pubkey: pubkey(byte),
        }
    }

    /// A cw20 `Receive` as `token` delivers it for a `Send` by `staker`,
    /// signed by the consensus key if the test made it.
    fn receive(staker: &Addr, amount: u128, role: Role) -> ExecuteMsg {
        let signature = bond_signature(&mock_env().block.chain_id, staker.as_str(), &role);
        receive_signed(staker, amount, role, signature)
    }

    fn receive_signed(
        staker: &Addr,
        amount: u128,
        role: Role,
        consensus_signature: Option<Binary>,
    ) -> ExecuteMsg {
        ExecuteMsg::Receive(Cw20ReceiveMsg {
            sender: staker.to_string(),
            amount: Uint128::new(amount),
            msg: to_json_binary(&ReceiveMsg::Bond {
                role,
                consensus_signature,
            })
            .unwrap(),
        })
    }

    fn bond(
        deps: &mut Deps_,
        u: &Users,
        height: u64,
        staker: &Addr,
        amount: u128,
        role: Role,
    ) -> Result<Response, ContractError> {
        execute(
            deps.as_mut(),
            env_at(height),
            message_info(&u.token, &[]),
            receive(staker, amount, role),
        )
    }

    fn exec(
        deps: &mut Deps_,
        height: u64,
        sender: &Addr,
        msg: ExecuteMsg,
    ) -> Result<Response, ContractError> {
        execute(
            deps.as_mut(),
            env_at(height),
            message_info(sender, &[]),
            msg,
        )
    }

    fn slash(
        deps: &mut Deps_,
        height: u64,
        staker: &Addr,
        fraction: &str,
    ) -> Result<Response, ContractError> {
        sudo(
            deps.as_mut(),
            env_at(height),
            SudoMsg::Slash {
                address: staker.to_string(),
                fraction: fraction.parse().unwrap(),
                reason: "fraud".to_string(),
            },
        )
    }

    fn q<T: cosmwasm_schema::serde::de::DeserializeOwned>(deps: &Deps_, msg: QueryMsg) -> T {
        from_json(query(deps.as_ref(), mock_env(), msg).unwrap()).unwrap()
    }

    fn stake(deps: &Deps_, addr: &Addr, height: Option<u64>) -> u128 {
        let res: StakeResponse = q(
            deps,
            QueryMsg::Stake {
                address: addr.to_string(),
                height,
            },
        );
        res.stake.u128()
    }

    fn total(deps: &Deps_, height: Option<u64>) -> u128 {
        let res: TotalStakeResponse = q(deps, QueryMsg::TotalStake { height });
        res.total.u128()
    }

    fn power(deps: &Deps_, addr: &Addr, height: u64) -> u128 {
        let res: VotingPowerResponse = q(
            deps,
            QueryMsg::VotingPower {
                address: addr.to_string(),
                height,
            },
        );
        assert_eq!(res.height, height);
        res.power.u128()
    }

    fn role(deps: &Deps_, addr: &Addr) -> RoleResponse {
        q(
            deps,
            QueryMsg::Role {
                address: addr.to_string(),
            },
        )
    }

    fn claims(deps: &Deps_, addr: &Addr) -> Vec<Claim> {
        let res: ClaimsResponse = q(
            deps,
            QueryMsg::Claims {
                address: addr.to_string(),
            },
        );
        res.claims
    }

    fn validators(deps: &Deps_) -> Vec<ValidatorInfo> {
        let res: ValidatorsResponse = q(deps, QueryMsg::Validators {});
        res.validators
    }

    fn cw20_msg(u: &Users, msg: Cw20ExecuteMsg) -> SubMsg {
        SubMsg::new(CosmosMsg::Wasm(WasmMsg::Execute {
            contract_addr: u.token.to_string(),
            msg: to_json_binary(&msg).unwrap(),
            funds: vec![],
        }))
    }

    #[test]
    fn instantiate_stores_config_total_and_cw2() {
        let (deps, u) = setup();
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(
            config,
            ConfigResponse {
                token: u.token.clone(),
                owner: Some(u.owner.clone()),
                min_trainer_stake: Uint128::new(MIN_TRAINER),
                min_validator_stake: Uint128::new(MIN_VALIDATOR),
                unbonding_period_blocks: PERIOD,
                max_validators: 100,
            }
        );
        assert_eq!(total(&deps, None), 0);
        assert_eq!(total(&deps, Some(START)), 0);
        let version = get_contract_version(&deps.storage).unwrap();
        assert_eq!(version.contract, "crates.io:nrn-staking");
        assert_eq!(version.version, CONTRACT_VERSION);
    }

    #[test]
    fn instantiate_validates_addresses_and_refuses_funds() {
        let mut deps = mock_dependencies();
        let creator = deps.api.addr_make("creator");
        let msg = InstantiateMsg {
            token: "not-an-address".to_string(),
            owner: None,
            min_trainer_stake: Uint128::one(),
            min_validator_stake: Uint128::one(),
            unbonding_period_blocks: 1,
            max_validators: None,
        };
        let err = instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&creator, &[]),
            msg.clone(),
        )
        .unwrap_err();
        assert!(matches!(err, ContractError::Std(_)), "{err:?}");

        let msg = InstantiateMsg {
            token: creator.to_string(),
            ..msg
        };
        let err = instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&creator, &coins(5, "unrn")),
            msg,
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Payment(PaymentError::NonPayable {}));
    }

    #[test]
    fn bond_from_token_sets_stake_role_and_attributes() {
        let (mut deps, u) = setup();
        let res = bond(&mut deps, &u, START + 1, &u.alice, 500, Role::Trainer).unwrap();
        assert!(res.messages.is_empty());
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "bond"),
                attr("address", u.alice.as_str()),
                attr("amount", "500"),
                attr("role", "trainer"),
                attr("stake", "500"),
            ]
        );
        bond(&mut deps, &u, START + 2, &u.alice, 250, Role::Trainer).unwrap();
        bond(&mut deps, &u, START + 2, &u.bob, 150, Role::Trainer).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), 750);
        assert_eq!(stake(&deps, &u.bob, None), 150);
        assert_eq!(stake(&deps, &u.carol, None), 0);
        assert_eq!(total(&deps, None), 900);
        assert_eq!(
            role(&deps, &u.alice),
            RoleResponse {
                address: u.alice.to_string(),
                role: Some(Role::Trainer),
                active: true,
            }
        );
        // The minimum rises above bob's stake: the role is kept but inactive.
        exec(
            &mut deps,
            START + 3,
            &u.owner,
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: Some(Uint128::new(200)),
                min_validator_stake: None,
                unbonding_period_blocks: None,
                max_validators: None,
            },
        )
        .unwrap();
        assert_eq!(
            role(&deps, &u.bob),
            RoleResponse {
                address: u.bob.to_string(),
                role: Some(Role::Trainer),
                active: false,
            }
        );
        assert_eq!(
            role(&deps, &u.carol),
            RoleResponse {
                address: u.carol.to_string(),
                role: None,
                active: false,
            }
        );
    }

    #[test]
    fn receive_from_other_contract_zero_amount_or_bad_payload_is_refused() {
        let (mut deps, u) = setup();
        let fake_token = deps.api.addr_make("fake-token");
        let err = exec(
            &mut deps,
            START + 1,
            &fake_token,
            receive(&u.alice, 500, Role::Trainer),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ContractError::WrongToken {
                expected: u.token.to_string(),
                found: fake_token.to_string(),
            }
        );
        // A staker calling Receive itself is no better.
        let err = exec(
            &mut deps,
            START + 1,
            &u.alice,
            receive(&u.alice, 500, Role::Trainer),
        )
        .unwrap_err();
        assert!(matches!(err, ContractError::WrongToken { .. }), "{err:?}");

        let err = bond(&mut deps, &u, START + 1, &u.alice, 0, Role::Trainer).unwrap_err();
        assert_eq!(err, ContractError::ZeroAmount {});

        let bad = ExecuteMsg::Receive(Cw20ReceiveMsg {
            sender: u.alice.to_string(),
            amount: Uint128::new(5),
            msg: to_json_binary(&"bond please").unwrap(),
        });
        let err = exec(&mut deps, START + 1, &u.token, bad).unwrap_err();
        assert!(matches!(err, ContractError::Std(_)), "{err:?}");

        let err = execute(
            deps.as_mut(),
            env_at(START + 1),
            message_info(&u.token, &coins(1, "unrn")),
            receive(&u.alice, 5, Role::Trainer),
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Payment(PaymentError::NonPayable {}));

        assert_eq!(stake(&deps, &u.alice, None), 0);
        assert_eq!(total(&deps, None), 0);
    }

    /// Issue 13, finding 8: anyone who read a node's consensus public key
    /// could bond it first (squat it) and keep its operator out of the
    /// validator set. A key is now taken only with its signature over the
    /// chain and the operator taking it.
    #[test]
    fn a_consensus_key_is_bonded_only_with_its_signature_for_that_operator() {
        let (mut deps, u) = setup();
        let chain_id = mock_env().block.chain_id;
        let key = validator(21);
        let attempt = |deps: &mut Deps_, staker: &Addr, signature: Option<Binary>| {
            execute(
                deps.as_mut(),
                env_at(START + 1),
                message_info(&u.token, &[]),
                receive_signed(staker, 1_000, key.clone(), signature),
            )
        };
        // The squatter has no signature, or only the operator's.
        assert_eq!(
            attempt(&mut deps, &u.bob, None).unwrap_err(),
            ContractError::MissingConsensusSignature {}
        );
        let alices = bond_signature(&chain_id, u.alice.as_str(), &key);
        assert_eq!(
            attempt(&mut deps, &u.bob, alices.clone()).unwrap_err(),
            ContractError::InvalidConsensusSignature {}
        );
        let other_chain = bond_signature("another-chain", u.alice.as_str(), &key);
        let junk = Some(Binary::new(vec![1; 7]));
        for signature in [other_chain, junk] {
            assert_eq!(
                attempt(&mut deps, &u.alice, signature).unwrap_err(),
                ContractError::InvalidConsensusSignature {}
            );
        }
        assert_eq!(stake(&deps, &u.bob, None), 0);
        assert_eq!(stake(&deps, &u.alice, None), 0);

        // The operator the key signed for takes it; adding stake to the key
        // it holds needs no new proof, taking another key does.
        attempt(&mut deps, &u.alice, alices).unwrap();
        attempt(&mut deps, &u.alice, None).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), 2_000);
        let err = execute(
            deps.as_mut(),
            env_at(START + 2),
            message_info(&u.token, &[]),
            receive_signed(&u.alice, 1, validator(22), None),
        )
        .unwrap_err();
        assert_eq!(err, ContractError::MissingConsensusSignature {});
    }

    #[test]
    fn validator_pubkey_must_be_32_bytes_and_unique() {
        let (mut deps, u) = setup();
        for len in [0usize, 31, 33, 64] {
            let role = Role::Validator {
                consensus_pubkey: Binary::new(vec![7; len]),
            };
            let err = bond(&mut deps, &u, START + 1, &u.alice, 1_000, role).unwrap_err();
            assert_eq!(err, ContractError::InvalidPubkeyLength { len });
        }
        assert_eq!(stake(&deps, &u.alice, None), 0);

        let res = bond(&mut deps, &u, START + 1, &u.alice, 1_000, validator(7)).unwrap();
        assert!(res
            .attributes
            .contains(&attr("consensus_pubkey", pubkey(7).to_base64())));
        assert!(res.attributes.contains(&attr("role", "validator")));

        // Another staker cannot take alice's key.
        let err = bond(&mut deps, &u, START + 1, &u.bob, 1_000, validator(7)).unwrap_err();
        assert_eq!(
            err,
            ContractError::PubkeyInUse {
                owner: u.alice.to_string()
            }
        );
        // alice may bond again with her own key.
        bond(&mut deps, &u, START + 2, &u.alice, 1, validator(7)).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), 1_001);

        // alice switches to another key: the old one is free for bob.
        bond(&mut deps, &u, START + 3, &u.alice, 1, validator(8)).unwrap();
        bond(&mut deps, &u, START + 3, &u.bob, 1_000, validator(7)).unwrap();
        let err = bond(&mut deps, &u, START + 3, &u.carol, 1_000, validator(8)).unwrap_err();
        assert!(matches!(err, ContractError::PubkeyInUse { .. }), "{err:?}");

        // Switching to trainer frees the key too.
        bond(&mut deps, &u, START + 4, &u.alice, 1, Role::Trainer).unwrap();
        bond(&mut deps, &u, START + 4, &u.carol, 1_000, validator(8)).unwrap();
        assert_eq!(role(&deps, &u.alice).role, Some(Role::Trainer));
        let vals: Vec<String> = validators(&deps).into_iter().map(|v| v.address).collect();
        assert!(!vals.contains(&u.alice.to_string()));
        assert_eq!(vals.len(), 2);
    }

    #[test]
    fn stake_snapshots_exclude_changes_of_the_queried_block() {
        let (mut deps, u) = setup();
        let h = START + 5;
        bond(&mut deps, &u, h, &u.alice, 300, Role::Trainer).unwrap();
        assert_eq!(power(&deps, &u.alice, h), 0);
        assert_eq!(power(&deps, &u.alice, h + 1), 300);
        assert_eq!(stake(&deps, &u.alice, Some(h)), 0);
        assert_eq!(stake(&deps, &u.alice, Some(h + 1)), 300);
        assert_eq!(total(&deps, Some(h)), 0);
        assert_eq!(total(&deps, Some(h + 1)), 300);

        // More stake at h + 3, some of it unbonded at h + 6.
        bond(&mut deps, &u, h + 3, &u.alice, 200, Role::Trainer).unwrap();
        bond(&mut deps, &u, h + 3, &u.bob, 1_000, Role::Trainer).unwrap();
        exec(
            &mut deps,
            h + 6,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(400),
            },
        )
        .unwrap();
        let expected = [
            (h, 0, 0),
            (h + 1, 300, 300),
            (h + 3, 300, 300),
            (h + 4, 500, 1_500),
            (h + 6, 500, 1_500),
            (h + 7, 100, 1_100),
            (h + 100, 100, 1_100),
        ];
        for (height, alice, all) in expected {
            assert_eq!(power(&deps, &u.alice, height), alice, "height {height}");
            assert_eq!(total(&deps, Some(height)), all, "height {height}");
        }
        assert_eq!(stake(&deps, &u.alice, None), 100);
        assert_eq!(power(&deps, &u.bob, h + 3), 0);
        assert_eq!(power(&deps, &u.bob, h + 4), 1_000);
    }

    #[test]
    fn unbond_then_claim_after_the_period() {
        let (mut deps, u) = setup();
        let h = START + 1;
        bond(&mut deps, &u, h, &u.alice, 1_000, Role::Trainer).unwrap();

        let unbond = |amount: u128| ExecuteMsg::Unbond {
            amount: Uint128::new(amount),
        };
        let err = exec(&mut deps, h + 1, &u.alice, unbond(1_001)).unwrap_err();
        assert_eq!(
            err,
            ContractError::InsufficientStake {
                bonded: Uint128::new(1_000),
                requested: Uint128::new(1_001),
            }
        );
        let err = exec(&mut deps, h + 1, &u.alice, unbond(0)).unwrap_err();
        assert_eq!(err, ContractError::ZeroAmount {});
        let err = exec(&mut deps, h + 1, &u.bob, unbond(1)).unwrap_err();
        assert!(
            matches!(err, ContractError::InsufficientStake { .. }),
            "{err:?}"
        );

        let res = exec(&mut deps, h + 1, &u.alice, unbond(300)).unwrap();
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "unbond"),
                attr("address", u.alice.as_str()),
                attr("amount", "300"),
                attr("stake", "700"),
                attr("release_height", (h + 1 + PERIOD).to_string()),
            ]
        );
        // Two unbonds in one block make one claim; a later one another.
        exec(&mut deps, h + 1, &u.alice, unbond(100)).unwrap();
        exec(&mut deps, h + 3, &u.alice, unbond(50)).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), 550);
        assert_eq!(total(&deps, None), 550);
        assert_eq!(
            claims(&deps, &u.alice),
            vec![
                Claim {
                    amount: Uint128::new(400),
                    release_height: h + 1 + PERIOD,
                },
                Claim {
                    amount: Uint128::new(50),
                    release_height: h + 3 + PERIOD,
                },
            ]
        );

        // Not yet.
        let err = exec(&mut deps, h + PERIOD, &u.alice, ExecuteMsg::Claim {}).unwrap_err();
        assert_eq!(err, ContractError::NothingToClaim {});
        let err = exec(&mut deps, h + 100, &u.bob, ExecuteMsg::Claim {}).unwrap_err();
        assert_eq!(err, ContractError::NothingToClaim {});

        // First claim matures at its release height.
        let res = exec(&mut deps, h + 1 + PERIOD, &u.alice, ExecuteMsg::Claim {}).unwrap();
        assert_eq!(
            res.messages,
            vec![cw20_msg(
                &u,
                Cw20ExecuteMsg::Transfer {
                    recipient: u.alice.to_string(),
                    amount: Uint128::new(400),
                }
            )]
        );
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "claim"),
                attr("address", u.alice.as_str()),
                attr("amount", "400"),
            ]
        );
        assert_eq!(claims(&deps, &u.alice).len(), 1);
        let err = exec(&mut deps, h + 2 + PERIOD, &u.alice, ExecuteMsg::Claim {}).unwrap_err();
        assert_eq!(err, ContractError::NothingToClaim {});

        let res = exec(&mut deps, h + 50, &u.alice, ExecuteMsg::Claim {}).unwrap();
        assert_eq!(
            res.messages,
            vec![cw20_msg(
                &u,
                Cw20ExecuteMsg::Transfer {
                    recipient: u.alice.to_string(),
                    amount: Uint128::new(50),
                }
            )]
        );
        assert!(claims(&deps, &u.alice).is_empty());
        // Claims were never part of the bonded stake.
        assert_eq!(stake(&deps, &u.alice, None), 550);
    }

    #[test]
    fn unbonding_everything_drops_the_role_and_frees_the_pubkey() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 2_000, validator(1)).unwrap();
        assert_eq!(validators(&deps).len(), 1);
        exec(
            &mut deps,
            START + 2,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(2_000),
            },
        )
        .unwrap();
        assert_eq!(
            role(&deps, &u.alice),
            RoleResponse {
                address: u.alice.to_string(),
                role: None,
                active: false,
            }
        );
        assert!(validators(&deps).is_empty());
        bond(&mut deps, &u, START + 3, &u.bob, 2_000, validator(1)).unwrap();
        assert_eq!(validators(&deps)[0].address, u.bob.to_string());
        // alice's stake history is kept.
        assert_eq!(power(&deps, &u.alice, START + 2), 2_000);
        assert_eq!(power(&deps, &u.alice, START + 3), 0);
    }

    #[test]
    fn validators_meet_the_minimum_and_are_ordered_by_address() {
        let (mut deps, u) = setup();
        let mut stakers: Vec<Addr> = (0..5)
            .map(|i| deps.api.addr_make(&format!("val{i}")))
            .collect();
        for (i, staker) in stakers.iter().enumerate() {
            bond(
                &mut deps,
                &u,
                START + 1,
                staker,
                MIN_VALIDATOR,
                validator(i as u8),
            )
            .unwrap();
        }
        // A slash takes val0 below the minimum.
        slash(&mut deps, START + 1, &stakers[0], "0.001").unwrap();
        assert_eq!(stake(&deps, &stakers[0], None), MIN_VALIDATOR - 1);
        bond(&mut deps, &u, START + 1, &u.alice, 50_000, Role::Trainer).unwrap();
        assert_eq!(
            role(&deps, &stakers[0]),
            RoleResponse {
                address: stakers[0].to_string(),
                role: Some(validator(0)),
                active: false,
            }
        );
        assert!(role(&deps, &stakers[1]).active);

        let below = stakers.remove(0);
        stakers.sort();
        let expected: Vec<ValidatorInfo> = stakers
            .iter()
            .map(|a| ValidatorInfo {
                address: a.to_string(),
                consensus_pubkey: ROLES
                    .load(&deps.storage, a)
                    .map(|r| match r {
                        Role::Validator { consensus_pubkey } => consensus_pubkey,
                        Role::Trainer => panic!("not a validator"),
                    })
                    .unwrap(),
                stake: Uint128::new(MIN_VALIDATOR),
            })
            .collect();
        assert_eq!(validators(&deps), expected);

        // Topping up brings val0 in.
        bond(&mut deps, &u, START + 2, &below, 1, validator(0)).unwrap();
        let vals = validators(&deps);
        assert_eq!(vals.len(), 5);
        assert!(vals.windows(2).all(|w| w[0].address < w[1].address));
        assert!(vals.iter().any(|v| v.address == below.to_string()
            && v.consensus_pubkey == pubkey(0)
            && v.stake == Uint128::new(MIN_VALIDATOR)));
    }

    #[test]
    fn update_config_is_owner_only() {
        let (mut deps, u) = setup();
        let update = ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: Some(Uint128::new(7)),
            min_validator_stake: None,
            unbonding_period_blocks: Some(3),
            max_validators: None,
        };
        let err = exec(&mut deps, START + 1, &u.alice, update.clone()).unwrap_err();
        assert_eq!(err, ContractError::Unauthorized {});
        let res = exec(&mut deps, START + 1, &u.owner, update).unwrap();
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "update_config"),
                attr("address", u.owner.as_str()),
                attr("owner", u.owner.as_str()),
                attr("min_trainer_stake", "7"),
                attr("min_validator_stake", MIN_VALIDATOR.to_string()),
                attr("unbonding_period_blocks", "3"),
                attr("max_validators", "100"),
            ]
        );
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.min_trainer_stake, Uint128::new(7));
        assert_eq!(config.min_validator_stake, Uint128::new(MIN_VALIDATOR));
        assert_eq!(config.unbonding_period_blocks, 3);

        // Hand over to bob: the old owner is out.
        exec(
            &mut deps,
            START + 2,
            &u.owner,
            ExecuteMsg::UpdateConfig {
                owner: Some(u.bob.to_string()),
                min_trainer_stake: None,
                min_validator_stake: None,
                unbonding_period_blocks: None,
                max_validators: None,
            },
        )
        .unwrap();
        let again = ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: None,
            min_validator_stake: Some(Uint128::new(9)),
            unbonding_period_blocks: None,
            max_validators: None,
        };
        let err = exec(&mut deps, START + 3, &u.owner, again.clone()).unwrap_err();
        assert_eq!(err, ContractError::Unauthorized {});
        exec(&mut deps, START + 3, &u.bob, again).unwrap();
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.owner, Some(u.bob.clone()));
        assert_eq!(config.min_validator_stake, Uint128::new(9));
    }

    #[test]
    fn without_owner_the_config_is_immutable() {
        let (mut deps, u) = setup_with_owner(false);
        let creator = deps.api.addr_make("creator");
        for sender in [&creator, &u.owner, &u.alice] {
            let err = exec(
                &mut deps,
                START + 1,
                sender,
                ExecuteMsg::UpdateConfig {
                    owner: Some(sender.to_string()),
                    min_trainer_stake: None,
                    min_validator_stake: None,
                    unbonding_period_blocks: None,
                    max_validators: None,
                },
            )
            .unwrap_err();
            assert_eq!(err, ContractError::Unauthorized {});
        }
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.owner, None);
    }

    #[test]
    fn slash_burns_a_fraction_of_stake_and_claims() {
        let (mut deps, u) = setup();
        let h = START + 1;
        bond(&mut deps, &u, h, &u.alice, 1_005, Role::Trainer).unwrap();
        bond(&mut deps, &u, h, &u.bob, 500, Role::Trainer).unwrap();
        exec(
            &mut deps,
            h + 1,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(205),
            },
        )
        .unwrap();
        exec(
            &mut deps,
            h + 2,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(9),
            },
        )
        .unwrap();
        // alice: 791 bonded, claims 205 and 9.
        let res = slash(&mut deps, h + 3, &u.alice, "0.1").unwrap();
        // Rounded up, so no part escapes: ceil(79.1) + ceil(20.5) + ceil(0.9) = 80 + 21 + 1
        assert_eq!(
            res.messages,
            vec![cw20_msg(
                &u,
                Cw20ExecuteMsg::Burn {
                    amount: Uint128::new(102)
                }
            )]
        );
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "slash"),
                attr("address", u.alice.as_str()),
                attr("amount", "102"),
                attr("reason", "fraud"),
                attr("fraction", "0.1"),
                attr("stake_slashed", "80"),
                attr("claims_slashed", "22"),
            ]
        );
        assert_eq!(stake(&deps, &u.alice, None), 711);
        assert_eq!(stake(&deps, &u.bob, None), 500);
        assert_eq!(total(&deps, None), 1_211);
        assert_eq!(
            claims(&deps, &u.alice),
            vec![
                Claim {
                    amount: Uint128::new(184),
                    release_height: h + 1 + PERIOD,
                },
                Claim {
                    amount: Uint128::new(8),
                    release_height: h + 2 + PERIOD,
                },
            ]
        );
        // Snapshots: the slash counts from the next block.
        assert_eq!(power(&deps, &u.alice, h + 3), 791);
        assert_eq!(power(&deps, &u.alice, h + 4), 711);
        assert_eq!(total(&deps, Some(h + 3)), 1_291);
        assert_eq!(total(&deps, Some(h + 4)), 1_211);
        assert_eq!(role(&deps, &u.alice).role, Some(Role::Trainer));
    }

    #[test]
    fn slash_everything_removes_stake_role_and_claims() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 3_000, validator(3)).unwrap();
        exec(
            &mut deps,
            START + 1,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(1_000),
            },
        )
        .unwrap();
        let res = slash(&mut deps, START + 2, &u.alice, "1").unwrap();
        assert_eq!(
            res.messages,
            vec![cw20_msg(
                &u,
                Cw20ExecuteMsg::Burn {
                    amount: Uint128::new(3_000)
                }
            )]
        );
        assert_eq!(stake(&deps, &u.alice, None), 0);
        assert_eq!(total(&deps, None), 0);
        assert!(claims(&deps, &u.alice).is_empty());
        assert_eq!(role(&deps, &u.alice).role, None);
        assert!(validators(&deps).is_empty());
        // Nothing left to slash.
        let err = slash(&mut deps, START + 3, &u.alice, "0.5").unwrap_err();
        assert_eq!(
            err,
            ContractError::NoStake {
                address: u.alice.to_string()
            }
        );
    }

    #[test]
    fn slash_reaches_stake_that_is_already_unbonding() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 1_000, Role::Trainer).unwrap();
        exec(
            &mut deps,
            START + 2,
            &u.alice,
            ExecuteMsg::Unbond {
                amount: Uint128::new(1_000),
            },
        )
        .unwrap();
        let res = slash(&mut deps, START + 3, &u.alice, "0.5").unwrap();
        assert!(res.attributes.contains(&attr("amount", "500")));
        assert!(res.attributes.contains(&attr("stake_slashed", "0")));
        assert_eq!(claims(&deps, &u.alice)[0].amount, Uint128::new(500));
        assert_eq!(total(&deps, None), 0);
    }

    #[test]
    fn slash_checks_fraction_and_address() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 1_000, Role::Trainer).unwrap();
        for fraction in ["0", "1.000000000000000001", "2"] {
            let err = slash(&mut deps, START + 2, &u.alice, fraction).unwrap_err();
            assert!(
                matches!(err, ContractError::InvalidFraction { .. }),
                "{fraction}: {err:?}"
            );
        }
        let err = slash(&mut deps, START + 2, &u.bob, "0.5").unwrap_err();
        assert_eq!(
            err,
            ContractError::NoStake {
                address: u.bob.to_string()
            }
        );
        let err = sudo(
            deps.as_mut(),
            env_at(START + 2),
            SudoMsg::Slash {
                address: "not-an-address".to_string(),
                fraction: Decimal::percent(50),
                reason: "fraud".to_string(),
            },
        )
        .unwrap_err();
        assert!(matches!(err, ContractError::Std(_)), "{err:?}");
        assert_eq!(stake(&deps, &u.alice, None), 1_000);
    }

    #[test]
    fn a_non_zero_slash_of_a_non_zero_stake_never_rounds_to_zero() {
        let (mut deps, u) = setup();
        // The smallest minimum there is: 1 micro-NRN.
        exec(
            &mut deps,
            START,
            &u.owner,
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: Some(Uint128::one()),
                min_validator_stake: None,
                unbonding_period_blocks: None,
                max_validators: None,
            },
        )
        .unwrap();
        bond(&mut deps, &u, START + 1, &u.alice, 1, Role::Trainer).unwrap();
        let res = slash(&mut deps, START + 2, &u.alice, "0.1").unwrap();
        assert_eq!(
            res.messages,
            vec![cw20_msg(
                &u,
                Cw20ExecuteMsg::Burn {
                    amount: Uint128::one()
                }
            )]
        );
        assert!(res.attributes.contains(&attr("stake_slashed", "1")));
        assert_eq!(stake(&deps, &u.alice, None), 0);
        assert_eq!(role(&deps, &u.alice).role, None);

        // The smallest fraction there is still takes 1 of a large stake, and
        // 1 of each pending claim.
        bond(&mut deps, &u, START + 3, &u.bob, 1_000, Role::Trainer).unwrap();
        exec(
            &mut deps,
            START + 4,
            &u.bob,
            ExecuteMsg::Unbond {
                amount: Uint128::new(10),
            },
        )
        .unwrap();
        let res = slash(&mut deps, START + 5, &u.bob, "0.000000000000000001").unwrap();
        assert!(res.attributes.contains(&attr("stake_slashed", "1")));
        assert!(res.attributes.contains(&attr("claims_slashed", "1")));
        assert_eq!(stake(&deps, &u.bob, None), 989);
        assert_eq!(claims(&deps, &u.bob)[0].amount, Uint128::new(9));
    }

    #[test]
    fn slash_is_not_an_execute_message() {
        let raw = br#"{"slash":{"address":"x","fraction":"1","reason":"r"}}"#;
        assert!(from_json::<ExecuteMsg>(raw.as_slice()).is_err());
        assert!(from_json::<SudoMsg>(raw.as_slice()).is_ok());
    }

    #[test]
    fn execute_refuses_native_funds() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 1_000, Role::Trainer).unwrap();
        let err = execute(
            deps.as_mut(),
            env_at(START + 2),
            message_info(&u.alice, &coins(1, "unrn")),
            ExecuteMsg::Unbond {
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Payment(PaymentError::NonPayable {}));
    }

    fn update_config(
        deps: &mut Deps_,
        u: &Users,
        msg: ExecuteMsg,
    ) -> Result<Response, ContractError> {
        exec(deps, START, &u.owner, msg)
    }

    fn set_max_validators(deps: &mut Deps_, u: &Users, max: u32) {
        update_config(
            deps,
            u,
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: None,
                min_validator_stake: None,
                unbonding_period_blocks: None,
                max_validators: Some(max),
            },
        )
        .unwrap();
    }

    /// A consensus pubkey unique to `i`.
    fn pubkey_n(i: u32) -> Binary {
        let mut seed = [0xAB; CONSENSUS_PUBKEY_LEN];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        consensus_key(seed)
    }

    fn validator_n(i: u32) -> Role {
        Role::Validator {
            consensus_pubkey: pubkey_n(i),
        }
    }

    fn addresses(vals: &[ValidatorInfo]) -> Vec<String> {
        vals.iter().map(|v| v.address.clone()).collect()
    }

    /// The addresses of `(address, stake)` pairs that should make the top
    /// `n`: highest stake first, equal stakes by ascending address; returned
    /// in address order like the query.
    fn expected_top(mut all: Vec<(Addr, u128)>, n: usize) -> Vec<String> {
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut top: Vec<String> = all
            .into_iter()
            .take(n)
            .map(|(a, _)| a.to_string())
            .collect();
        top.sort();
        top
    }

    #[test]
    fn bond_below_the_role_minimum_is_refused() {
        let (mut deps, u) = setup();
        let err = bond(&mut deps, &u, START + 1, &u.alice, 1, Role::Trainer).unwrap_err();
        assert_eq!(
            err,
            ContractError::BelowMinimumStake {
                role: "trainer".to_string(),
                stake: Uint128::one(),
                minimum: Uint128::new(MIN_TRAINER),
            }
        );
        let err = bond(
            &mut deps,
            &u,
            START + 1,
            &u.bob,
            MIN_VALIDATOR - 1,
            validator(1),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ContractError::BelowMinimumStake {
                role: "validator".to_string(),
                stake: Uint128::new(MIN_VALIDATOR - 1),
                minimum: Uint128::new(MIN_VALIDATOR),
            }
        );
        // Nothing of the refused bonds stayed: no stake, no role, key free.
        assert_eq!(total(&deps, None), 0);
        assert_eq!(role(&deps, &u.bob).role, None);
        assert!(validators(&deps).is_empty());
        bond(
            &mut deps,
            &u,
            START + 1,
            &u.carol,
            MIN_VALIDATOR,
            validator(1),
        )
        .unwrap();

        // Exactly the minimum is enough; later top-ups of any size are fine.
        bond(
            &mut deps,
            &u,
            START + 2,
            &u.alice,
            MIN_TRAINER,
            Role::Trainer,
        )
        .unwrap();
        bond(&mut deps, &u, START + 2, &u.alice, 1, Role::Trainer).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), MIN_TRAINER + 1);

        // Switching role: the whole resulting stake must meet the new role's
        // minimum; a refused switch keeps the old role.
        let err = bond(&mut deps, &u, START + 3, &u.alice, 1, validator(2)).unwrap_err();
        assert_eq!(
            err,
            ContractError::BelowMinimumStake {
                role: "validator".to_string(),
                stake: Uint128::new(MIN_TRAINER + 2),
                minimum: Uint128::new(MIN_VALIDATOR),
            }
        );
        assert_eq!(role(&deps, &u.alice).role, Some(Role::Trainer));
        bond(
            &mut deps,
            &u,
            START + 3,
            &u.alice,
            MIN_VALIDATOR - MIN_TRAINER - 1,
            validator(2),
        )
        .unwrap();
        assert_eq!(role(&deps, &u.alice).role, Some(validator(2)));
        assert_eq!(validators(&deps).len(), 2);
    }

    #[test]
    fn unbond_that_leaves_dust_is_refused() {
        let (mut deps, u) = setup();
        bond(&mut deps, &u, START + 1, &u.alice, 150, Role::Trainer).unwrap();
        let unbond = |amount: u128| ExecuteMsg::Unbond {
            amount: Uint128::new(amount),
        };
        let err = exec(&mut deps, START + 2, &u.alice, unbond(51)).unwrap_err();
        assert_eq!(
            err,
            ContractError::UnbondBelowMinimum {
                role: "trainer".to_string(),
                remaining: Uint128::new(99),
                minimum: Uint128::new(MIN_TRAINER),
            }
        );
        assert_eq!(stake(&deps, &u.alice, None), 150);
        assert!(claims(&deps, &u.alice).is_empty());
        // Down to the minimum, then everything.
        exec(&mut deps, START + 2, &u.alice, unbond(50)).unwrap();
        exec(&mut deps, START + 3, &u.alice, unbond(100)).unwrap();
        assert_eq!(stake(&deps, &u.alice, None), 0);

        // A validator left below a raised minimum may only leave entirely.
        bond(&mut deps, &u, START + 4, &u.bob, 3_000, validator(1)).unwrap();
        update_config(
            &mut deps,
            &u,
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: None,
                min_validator_stake: Some(Uint128::new(5_000)),
                unbonding_period_blocks: None,
                max_validators: None,
            },
        )
        .unwrap();
        let err = exec(&mut deps, START + 5, &u.bob, unbond(1)).unwrap_err();
        assert!(
            matches!(err, ContractError::UnbondBelowMinimum { .. }),
            "{err:?}"
        );
        exec(&mut deps, START + 5, &u.bob, unbond(3_000)).unwrap();
        assert!(validators(&deps).is_empty());
    }

    #[test]
    fn config_bounds_are_checked_at_instantiate_and_update() {
        let (mut deps, u) = setup();
        let creator = deps.api.addr_make("creator");
        let valid = InstantiateMsg {
            token: u.token.to_string(),
            owner: None,
            min_trainer_stake: Uint128::one(),
            min_validator_stake: Uint128::one(),
            unbonding_period_blocks: 1,
            max_validators: None,
        };
        type Edit = Box<dyn Fn(&mut InstantiateMsg)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "min_trainer_stake",
                Box::new(|m| m.min_trainer_stake = Uint128::zero()),
            ),
            (
                "min_validator_stake",
                Box::new(|m| m.min_validator_stake = Uint128::zero()),
            ),
            (
                "unbonding_period_blocks",
                Box::new(|m| m.unbonding_period_blocks = 0),
            ),
            (
                "unbonding_period_blocks",
                Box::new(|m| m.unbonding_period_blocks = 1_000_001),
            ),
            ("max_validators", Box::new(|m| m.max_validators = Some(0))),
            (
                "max_validators",
                Box::new(|m| m.max_validators = Some(1_001)),
            ),
        ];
        for (field, edit) in &cases {
            let mut msg = valid.clone();
            edit(&mut msg);
            let err = instantiate(deps.as_mut(), mock_env(), message_info(&creator, &[]), msg)
                .unwrap_err();
            assert!(
                matches!(&err, ContractError::InvalidConfig { field: f, .. } if f == field),
                "{field}: {err:?}"
            );
        }
        // The bounds themselves are accepted.
        instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&creator, &[]),
            InstantiateMsg {
                unbonding_period_blocks: 1_000_000,
                max_validators: Some(1_000),
                ..valid
            },
        )
        .unwrap();
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.max_validators, 1_000);
        assert_eq!(config.unbonding_period_blocks, 1_000_000);

        let (mut deps, u) = setup();
        let update = |min_trainer: Option<u128>,
                      min_validator: Option<u128>,
                      period: Option<u64>,
                      max: Option<u32>| {
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: min_trainer.map(Uint128::new),
                min_validator_stake: min_validator.map(Uint128::new),
                unbonding_period_blocks: period,
                max_validators: max,
            }
        };
        for (field, msg) in [
            ("min_trainer_stake", update(Some(0), None, None, None)),
            ("min_validator_stake", update(None, Some(0), None, None)),
            ("unbonding_period_blocks", update(None, None, Some(0), None)),
            (
                "unbonding_period_blocks",
                update(None, None, Some(u64::MAX), None),
            ),
            ("max_validators", update(None, None, None, Some(0))),
            ("max_validators", update(None, None, None, Some(u32::MAX))),
        ] {
            let err = update_config(&mut deps, &u, msg).unwrap_err();
            assert!(
                matches!(&err, ContractError::InvalidConfig { field: f, .. } if f == field),
                "{field}: {err:?}"
            );
        }
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.unbonding_period_blocks, PERIOD);
        assert_eq!(config.max_validators, 100);
        let res = update_config(&mut deps, &u, update(None, None, None, Some(7))).unwrap();
        assert!(res.attributes.contains(&attr("max_validators", "7")));
        let config: ConfigResponse = q(&deps, QueryMsg::Config {});
        assert_eq!(config.max_validators, 7);
    }

    /// Counts every read a query makes: each `get` and each entry a range
    /// yields.
    struct CountingStorage<'a> {
        inner: &'a MockStorage,
        reads: std::cell::Cell<usize>,
    }

    impl Storage for CountingStorage<'_> {
        fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
            self.reads.set(self.reads.get() + 1);
            self.inner.get(key)
        }

        fn range<'b>(
            &'b self,
            start: Option<&[u8]>,
            end: Option<&[u8]>,
            order: Order,
        ) -> Box<dyn Iterator<Item = cosmwasm_std::Record> + 'b> {
            Box::new(
                self.inner
                    .range(start, end, order)
                    .inspect(move |_| self.reads.set(self.reads.get() + 1)),
            )
        }

        fn set(&mut self, _key: &[u8], _value: &[u8]) {
            panic!("a query must not write");
        }

        fn remove(&mut self, _key: &[u8]) {
            panic!("a query must not write");
        }
    }

    /// The validators query and how many storage reads it took.
    fn validators_counted(deps: &Deps_) -> (Vec<ValidatorInfo>, usize) {
        let storage = CountingStorage {
            inner: &deps.storage,
            reads: std::cell::Cell::new(0),
        };
        let counted = Deps {
            storage: &storage,
            api: &deps.api,
            querier: cosmwasm_std::QuerierWrapper::new(&deps.querier),
        };
        let res: ValidatorsResponse =
            from_json(query(counted, mock_env(), QueryMsg::Validators {}).unwrap()).unwrap();
        (res.validators, storage.reads.get())
    }

    #[test]
    fn the_validators_query_reads_only_the_top_set_however_many_register() {
        let (mut deps, u) = setup();
        let count = 2_000u32;
        let mut all = vec![];
        for i in 0..count {
            let staker = deps.api.addr_make(&format!("validator{i}"));
            // Many equal stakes, so ties at the cut are decided by address.
            let amount = MIN_VALIDATOR + u128::from(i % 150);
            bond(&mut deps, &u, START + 1, &staker, amount, validator_n(i)).unwrap();
            all.push((staker, amount));
        }
        let max = um_bindings::staking::DEFAULT_MAX_VALIDATORS as usize;
        let (vals, reads) = validators_counted(&deps);
        assert_eq!(vals.len(), max);
        assert_eq!(addresses(&vals), expected_top(all.clone(), max));
        assert!(vals.windows(2).all(|w| w[0].address < w[1].address));
        for v in &vals {
            let i = all
                .iter()
                .position(|(a, _)| a.as_str() == v.address)
                .unwrap();
            assert_eq!(v.stake, Uint128::new(all[i].1));
            assert_eq!(v.consensus_pubkey, pubkey_n(i as u32));
        }
        // One read per member plus the config: nothing like 2,000.
        assert!(reads <= max + 2, "{reads} reads");

        // A smaller set reads less.
        set_max_validators(&mut deps, &u, 10);
        let (vals, reads) = validators_counted(&deps);
        assert_eq!(addresses(&vals), expected_top(all, 10));
        assert!(reads <= 12, "{reads} reads");
    }

    #[test]
    fn slash_unbond_and_role_changes_move_validators_in_and_out_of_the_top_set() {
        let (mut deps, u) = setup();
        set_max_validators(&mut deps, &u, 3);
        let vals: Vec<Addr> = (0..5)
            .map(|i| deps.api.addr_make(&format!("top{i}")))
            .collect();
        let stakes = [5_000u128, 4_000, 3_000, 2_000, 1_500];
        for (i, (staker, amount)) in vals.iter().zip(stakes).enumerate() {
            bond(&mut deps, &u, START + 1, staker, amount, validator(i as u8)).unwrap();
        }
        let top = |deps: &Deps_| {
            let mut members = addresses(&validators(deps));
            members.sort();
            members
        };
        let set_of = |idx: &[usize]| {
            let mut members: Vec<String> = idx.iter().map(|&i| vals[i].to_string()).collect();
            members.sort();
            members
        };
        assert_eq!(top(&deps), set_of(&[0, 1, 2]));

        // A slash below the next one's stake: top3 takes its place.
        slash(&mut deps, START + 2, &vals[0], "0.7").unwrap();
        assert_eq!(stake(&deps, &vals[0], None), 1_500);
        assert_eq!(top(&deps), set_of(&[1, 2, 3]));
        // Unbonding: top1 goes below top0's 1,500 and top4 ties with top0;
        // the lower address of the two takes the last seat.
        exec(
            &mut deps,
            START + 3,
            &vals[1],
            ExecuteMsg::Unbond {
                amount: Uint128::new(2_600),
            },
        )
        .unwrap();
        let tie_winner = if vals[0] < vals[4] { 0 } else { 4 };
        assert_eq!(top(&deps), set_of(&[2, 3, tie_winner]));
        // Turning trainer leaves the set.
        bond(&mut deps, &u, START + 4, &vals[2], 1, Role::Trainer).unwrap();
        assert_eq!(top(&deps), set_of(&[0, 3, 4]));
        // A top-up brings a validator back in, with its new stake.
        bond(&mut deps, &u, START + 5, &vals[1], 10_000, validator(1)).unwrap();
        assert_eq!(top(&deps), set_of(&[1, 3, tie_winner]));
        let listed = validators(&deps);
        let one = listed
            .iter()
            .find(|v| v.address == vals[1].as_str())
            .unwrap();
        assert_eq!(one.stake, Uint128::new(11_400));
        assert_eq!(one.consensus_pubkey, pubkey(1));
        // Slashing everything and unbonding everything leave it too.
        slash(&mut deps, START + 6, &vals[1], "1").unwrap();
        exec(
            &mut deps,
            START + 6,
            &vals[3],
            ExecuteMsg::Unbond {
                amount: Uint128::new(2_000),
            },
        )
        .unwrap();
        assert_eq!(top(&deps), set_of(&[0, 4]));
        // Below the minimum after it was raised: not listed, however few remain.
        update_config(
            &mut deps,
            &u,
            ExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: None,
                min_validator_stake: Some(Uint128::new(1_501)),
                unbonding_period_blocks: None,
                max_validators: None,
            },
        )
        .unwrap();
        assert!(validators(&deps).is_empty());
    }

    #[test]
    fn migrate_indexes_validators_registered_before_the_index() {
        let (mut deps, u) = setup();
        // State as the previous version left it: stake and the validator map,
        // no stake index.
        let old: Vec<(Addr, u128)> = (0..4)
            .map(|i| (deps.api.addr_make(&format!("old{i}")), 1_000 * (i + 1)))
            .collect();
        for (i, (staker, amount)) in old.iter().enumerate() {
            let role = validator(i as u8);
            STAKE
                .save(&mut deps.storage, staker, &Uint128::new(*amount), START)
                .unwrap();
            ROLES.save(&mut deps.storage, staker, &role).unwrap();
            VALIDATORS
                .save(&mut deps.storage, staker, &pubkey(i as u8))
                .unwrap();
            PUBKEY_OWNERS
                .save(&mut deps.storage, pubkey(i as u8).as_slice(), staker)
                .unwrap();
        }
        assert!(validators(&deps).is_empty());
        set_max_validators(&mut deps, &u, 3);
        migrate(deps.as_mut(), mock_env(), MigrateMsg {}).unwrap();
        assert_eq!(addresses(&validators(&deps)), expected_top(old.clone(), 3));
        // Migrating again changes nothing.
        migrate(deps.as_mut(), mock_env(), MigrateMsg {}).unwrap();
        assert_eq!(addresses(&validators(&deps)), expected_top(old, 3));
    }

    #[test]
    fn migrate_bumps_version_and_refuses_other_contracts_and_downgrades() {
        let (mut deps, _) = setup();
        let env = mock_env();
        let res = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap();
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "migrate"),
                attr("from_version", CONTRACT_VERSION),
                attr("to_version", CONTRACT_VERSION),
            ]
        );

        set_contract_version(&mut deps.storage, CONTRACT_NAME, "0.0.1").unwrap();
        migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap();
        assert_eq!(
            get_contract_version(&deps.storage).unwrap().version,
            CONTRACT_VERSION
        );

        set_contract_version(&mut deps.storage, CONTRACT_NAME, "99.0.0").unwrap();
        let err = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
        assert_eq!(
            err,
            ContractError::Migrate(MigrateError::CannotDowngrade {
                stored: "99.0.0".to_string(),
                new: CONTRACT_VERSION.to_string(),
            })
        );

        set_contract_version(&mut deps.storage, "crates.io:nrn-token", CONTRACT_VERSION).unwrap();
        let err = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
        assert_eq!(
            err,
            ContractError::Migrate(MigrateError::WrongContract {
                expected: CONTRACT_NAME.to_string(),
                found: "crates.io:nrn-token".to_string(),
            })
        );

        set_contract_version(&mut deps.storage, CONTRACT_NAME, "not-semver").unwrap();
        let err = migrate(deps.as_mut(), env, MigrateMsg {}).unwrap_err();
        assert!(
            matches!(
                err,
                ContractError::Migrate(MigrateError::InvalidVersion { .. })
            ),
            "{err:?}"
        );
    }
}
