//! Entry points of the versions contract.

use std::collections::BTreeMap;

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    from_json, to_json_binary, Addr, Binary, Deps, DepsMut, Env, MessageInfo, Order, Response,
    StdResult, Storage, Uint128, WasmMsg,
};
use cw2::set_contract_version;
use cw20::Cw20ExecuteMsg;
use cw721::extension::Cw721OnchainExtensions;
use cw721::msg::{Cw721InstantiateMsg, NftExtensionMsg};
use cw721::state::Trait;
use cw721::traits::{Cw721Execute, Cw721Query};
use cw_storage_plus::Bound;
use cw_utils::nonpayable;
use um_bindings::migrate::check_and_record;
use um_bindings::versions::{token_id, validate_royalty_rule, MAX_VERSION_OWNERS};

use crate::error::ContractError;
use crate::msg::{
    ConfigResponse, Cw20ReceiveMsg, EarnedResponse, ExecuteMsg, InstantiateMsg, MigrateMsg,
    QueryMsg, ReceiveMsg, Share, SudoMsg, TipRecord, TipSharesResponse, TippedResponse,
    TipsResponse, VersionMint, VersionTokens, VersionTokensResponse,
};
use crate::state::{Config, CONFIG, EARNED, TIPPED, TIPS, TIP_COUNT, VERSION_TOKENS};

/// cw2 name of this contract; `migrate` only accepts code stored under it.
pub const CONTRACT_NAME: &str = "crates.io:nrn-versions";
/// cw2 version: the crate version.
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Page size of the list queries when none is asked for.
pub const DEFAULT_LIMIT: u32 = 10;
/// Largest page of the list queries.
pub const MAX_LIMIT: u32 = 100;

/// Longest model id (the chain's rule for lineage ids: 1-64 of `[a-z0-9_-]`).
pub const MAX_MODEL_ID_LEN: usize = 64;

/// The cw721 library with on-chain metadata (`Option<NftExtension>`).
fn cw721() -> Cw721OnchainExtensions<'static> {
    Cw721OnchainExtensions::default()
}

/// Stores the config and instantiates the cw721 collection with the
/// contract itself as minter and creator: no account can ever mint, nor
/// update the collection or a token's metadata.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    nonpayable(&info)?;
    let token = deps.api.addr_validate(&msg.token)?;
    validate_royalty_rule(msg.royalty_last_versions)
        .map_err(|reason| ContractError::InvalidRoyaltyRule { reason })?;
    let this = env.contract.address.to_string();
    cw721().instantiate(
        deps.branch(),
        &env,
        &info,
        Cw721InstantiateMsg {
            name: msg.name.clone(),
            symbol: msg.symbol.clone(),
            collection_info_extension: None,
            minter: Some(this.clone()),
            creator: Some(this.clone()),
            withdraw_address: None,
        },
    )?;
    let config = Config {
        token,
        royalty_last_versions: msg.royalty_last_versions,
    };
    CONFIG.save(deps.storage, &config)?;
    TIP_COUNT.save(deps.storage, &0)?;
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("name", msg.name)
        .add_attribute("symbol", msg.symbol)
        .add_attribute("minter", this)
        .add_attribute("token", config.token)
        .add_attribute(
            "royalty_last_versions",
            config.royalty_last_versions.to_string(),
        ))
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
        standard => match standard.into_cw721() {
            Some(msg) => Ok(cw721().execute(deps, &env, &info, msg)?),
            // Only `Receive` has no cw721 counterpart, and it is handled above.
            None => Err(ContractError::Std(cosmwasm_std::StdError::generic_err(
                "unsupported message",
            ))),
        },
    }
}

/// The cw20 `Send` hook: only the configured token may call it. Pays a tip
/// out to the current holders of the lineage's latest version tokens.
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
    let ReceiveMsg::Tip { model_id } = from_json(&wrapper.msg)?;
    let payer = deps.api.addr_validate(&wrapper.sender)?;
    let amount = wrapper.amount;
    let shares = tip_shares(
        deps.storage,
        &model_id,
        amount,
        config.royalty_last_versions,
    )?;

    let mut res = Response::new()
        .add_attribute("action", "tip")
        .add_attribute("model_id", &model_id)
        .add_attribute("payer", &payer)
        .add_attribute("amount", amount);
    for share in &shares {
        res = res
            .add_message(WasmMsg::Execute {
                contract_addr: config.token.to_string(),
                msg: to_json_binary(&Cw20ExecuteMsg::Transfer {
                    recipient: share.address.to_string(),
                    amount: share.amount,
                })?,
                funds: vec![],
            })
            .add_attribute("royalty", format!("{}:{}", share.address, share.amount));
        let earned = EARNED
            .may_load(deps.storage, &share.address)?
            .unwrap_or_default()
            .checked_add(share.amount)?;
        EARNED.save(deps.storage, &share.address, &earned)?;
    }
    let tipped = TIPPED
        .may_load(deps.storage, &model_id)?
        .unwrap_or_default()
        .checked_add(amount)?;
    TIPPED.save(deps.storage, &model_id, &tipped)?;
    let id = TIP_COUNT
        .may_load(deps.storage)?
        .unwrap_or_default()
        .checked_add(1)
        .ok_or_else(|| cosmwasm_std::StdError::generic_err("tip id overflow"))?;
    TIP_COUNT.save(deps.storage, &id)?;
    TIPS.save(
        deps.storage,
        id,
        &TipRecord {
            id,
            model_id,
            payer,
            amount,
            height: env.block.height,
            shares,
        },
    )?;
    Ok(res.add_attribute("tip_id", id.to_string()))
}

/// The split of a tip of `amount` on `model_id` among the current holders:
/// equal parts to each of the lineage's last `last_versions` versions that
/// have tokens, a version's part in equal parts to its tokens, whatever
/// does not divide to the holder of the newest version's first token.
/// One entry per holder, ordered by address, no zero amounts; the amounts
/// add up to `amount`.
pub fn tip_shares(
    storage: &dyn Storage,
    model_id: &str,
    amount: Uint128,
    last_versions: u32,
) -> Result<Vec<Share>, ContractError> {
    if amount.is_zero() {
        return Err(ContractError::ZeroAmount {});
    }
    let versions = VERSION_TOKENS
        .prefix(model_id)
        .range(storage, None, None, Order::Descending)
        .take(last_versions as usize)
        .collect::<StdResult<Vec<(u64, Vec<String>)>>>()?;
    let newest_first_token = versions
        .first()
        .and_then(|(_, tokens)| tokens.first())
        .ok_or_else(|| ContractError::NoVersionTokens {
            model_id: model_id.to_string(),
        })?;

    let nfts = cw721().config.nft_info;
    let owner_of = |token_id: &str| -> StdResult<Addr> { Ok(nfts.load(storage, token_id)?.owner) };
    let version_part = amount.checked_div(Uint128::from(versions.len() as u128))?;
    let mut by_holder: BTreeMap<Addr, Uint128> = BTreeMap::new();
    let mut paid = Uint128::zero();
    for (_, tokens) in &versions {
        if tokens.is_empty() {
            continue;
        }
        let token_part = version_part.checked_div(Uint128::from(tokens.len() as u128))?;
        if token_part.is_zero() {
            continue;
        }
        for token in tokens {
            let holder = by_holder.entry(owner_of(token)?).or_default();
            *holder = holder.checked_add(token_part)?;
            paid = paid.checked_add(token_part)?;
        }
    }
    let remainder = amount.checked_sub(paid)?;
    if !remainder.is_zero() {
        let holder = by_holder.entry(owner_of(newest_first_token)?).or_default();
        *holder = holder.checked_add(remainder)?;
    }
    Ok(by_holder
        .into_iter()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(address, amount)| Share { address, amount })
        .collect())
}

/// The chain's entries: minting a version's tokens and the royalty rule.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn sudo(deps: DepsMut, env: Env, msg: SudoMsg) -> Result<Response, ContractError> {
    match msg {
        SudoMsg::MintVersion(mint) => sudo_mint_version(deps, env, mint),
        SudoMsg::SetRoyaltyRule { last_versions } => {
            validate_royalty_rule(last_versions)
                .map_err(|reason| ContractError::InvalidRoyaltyRule { reason })?;
            CONFIG.update(deps.storage, |mut config| -> StdResult<_> {
                config.royalty_last_versions = last_versions;
                Ok(config)
            })?;
            Ok(Response::new()
                .add_attribute("action", "set_royalty_rule")
                .add_attribute("last_versions", last_versions.to_string()))
        }
    }
}

fn invalid_mint(reason: impl Into<String>) -> ContractError {
    ContractError::InvalidMint {
        reason: reason.into(),
    }
}

fn validate_mint(deps: Deps, mint: &VersionMint) -> Result<Vec<Addr>, ContractError> {
    let id_ok = !mint.model_id.is_empty()
        && mint.model_id.len() <= MAX_MODEL_ID_LEN
        && mint
            .model_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(invalid_mint(format!(
            "model_id {:?} must be 1-{MAX_MODEL_ID_LEN} of [a-z0-9_-]",
            mint.model_id
        )));
    }
    if mint.owners.is_empty() {
        return Err(invalid_mint("a version needs at least one owner"));
    }
    if mint.owners.len() > MAX_VERSION_OWNERS as usize {
        return Err(invalid_mint(format!(
            "{} owners: a version has at most {MAX_VERSION_OWNERS}",
            mint.owners.len()
        )));
    }
    for (field, value) in [
        ("weights_sha256", &mint.weights_sha256),
        ("validation_loss", &mint.validation_loss),
        ("validation_accuracy", &mint.validation_accuracy),
    ] {
        if value.is_empty() {
            return Err(invalid_mint(format!("{field} must not be empty")));
        }
    }
    if VERSION_TOKENS.has(deps.storage, (&mint.model_id, mint.version)) {
        return Err(ContractError::VersionExists {
            model_id: mint.model_id.clone(),
            version: mint.version,
        });
    }
    mint.owners
        .iter()
        .map(|owner| {
            deps.api
                .addr_validate(owner)
                .map_err(|e| invalid_mint(format!("owner {owner:?}: {e}")))
        })
        .collect()
}

fn attribute(trait_type: &str, value: impl Into<String>) -> Trait {
    Trait {
        display_type: None,
        trait_type: trait_type.to_string(),
        value: value.into(),
    }
}

/// The on-chain metadata of a version's `index`-th token of `owners`.
fn version_metadata(mint: &VersionMint, index: usize, owners: usize) -> NftExtensionMsg {
    let VersionMint {
        model_id,
        version,
        height,
        ..
    } = mint;
    let mut attributes = vec![
        attribute("model_id", model_id.as_str()),
        attribute("version", version.to_string()),
        attribute("weights_sha256", mint.weights_sha256.as_str()),
        attribute("validation_loss", mint.validation_loss.as_str()),
        attribute("validation_accuracy", mint.validation_accuracy.as_str()),
        attribute("height", height.to_string()),
        attribute("dataset_version", mint.dataset_version.to_string()),
    ];
    let (name, description) = if owners > 1 {
        let n = index + 1;
        attributes.push(attribute("contribution", format!("{n}/{owners}")));
        (
            format!("{model_id} v{version} #{n}"),
            format!(
                "Contribution {n} of {owners} to version {version} of the {model_id} lineage, accepted by the chain at height {height}."
            ),
        )
    } else {
        (
            format!("{model_id} v{version}"),
            format!(
                "Version {version} of the {model_id} lineage, accepted by the chain at height {height}."
            ),
        )
    };
    NftExtensionMsg {
        name: Some(name),
        description: Some(description),
        attributes: Some(attributes),
        ..NftExtensionMsg::default()
    }
}

/// Mints one token per owner through the cw721 mint logic, with the
/// contract itself as the minter, and indexes them under the version.
fn sudo_mint_version(
    mut deps: DepsMut,
    env: Env,
    mint: VersionMint,
) -> Result<Response, ContractError> {
    let owners = validate_mint(deps.as_ref(), &mint)?;
    let minter = MessageInfo {
        sender: env.contract.address.clone(),
        funds: vec![],
    };
    let lib = cw721();
    let count = owners.len();
    let mut token_ids = Vec::with_capacity(count);
    for (index, owner) in owners.iter().enumerate() {
        let id = token_id(&mint.model_id, mint.version, index, count);
        lib.mint(
            deps.branch(),
            &env,
            &minter,
            id.clone(),
            owner.to_string(),
            None,
            Some(version_metadata(&mint, index, count)),
        )?;
        token_ids.push(id);
    }
    VERSION_TOKENS.save(deps.storage, (&mint.model_id, mint.version), &token_ids)?;
    Ok(Response::new()
        .add_attribute("action", "mint_version")
        .add_attribute("model_id", &mint.model_id)
        .add_attribute("version", mint.version.to_string())
        .add_attribute("token_ids", token_ids.join(","))
        .add_attribute(
            "owners",
            owners
                .iter()
                .map(Addr::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    match msg {
        QueryMsg::Config {} => {
            let config = CONFIG.load(deps.storage)?;
            Ok(to_json_binary(&ConfigResponse {
                token: config.token,
                royalty_last_versions: config.royalty_last_versions,
            })?)
        }
        QueryMsg::VersionTokens {
            model_id,
            start_after,
            limit,
        } => Ok(to_json_binary(&query_version_tokens(
            deps,
            &model_id,
            start_after,
            limit,
        )?)?),
        QueryMsg::TipShares { model_id, amount } => {
            let config = CONFIG.load(deps.storage)?;
            let shares = tip_shares(
                deps.storage,
                &model_id,
                amount,
                config.royalty_last_versions,
            )?;
            Ok(to_json_binary(&TipSharesResponse { shares })?)
        }
        QueryMsg::Tips { start_after, limit } => {
            let tips = TIPS
                .range(
                    deps.storage,
                    start_after.map(Bound::exclusive),
                    None,
                    Order::Ascending,
                )
                .take(page_limit(limit))
                .map(|item| item.map(|(_, tip)| tip))
                .collect::<StdResult<Vec<_>>>()?;
            Ok(to_json_binary(&TipsResponse { tips })?)
        }
        QueryMsg::Earned { address } => {
            let address = deps.api.addr_validate(&address)?;
            let amount = EARNED.may_load(deps.storage, &address)?.unwrap_or_default();
            Ok(to_json_binary(&EarnedResponse { address, amount })?)
        }
        QueryMsg::Tipped { model_id } => {
            let amount = TIPPED
                .may_load(deps.storage, &model_id)?
                .unwrap_or_default();
            Ok(to_json_binary(&TippedResponse { model_id, amount })?)
        }
        standard => match standard.into_cw721() {
            Some(msg) => Ok(cw721().query(deps, &env, msg)?),
            // Every query of ours is answered above.
            None => Err(ContractError::Std(cosmwasm_std::StdError::generic_err(
                "unsupported query",
            ))),
        },
    }
}

fn page_limit(limit: Option<u32>) -> usize {
    limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

fn query_version_tokens(
    deps: Deps,
    model_id: &str,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> StdResult<VersionTokensResponse> {
    let versions = VERSION_TOKENS
        .prefix(model_id)
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(page_limit(limit))
        .map(|item| item.map(|(version, token_ids)| VersionTokens { version, token_ids }))
        .collect::<StdResult<Vec<_>>>()?;
    Ok(VersionTokensResponse { versions })
}

/// Accepts only code that was stored as `crates.io:nrn-versions`, never
/// moves the version backwards, and records the new version.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let outcome = check_and_record(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", outcome.from_version)
        .add_attribute("to_version", outcome.to_version))
}
