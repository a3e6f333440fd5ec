//! Entry points of the NRN token. The cw20 logic is cw20-base's; this module
//! only adds NRN's own cw2 identity and a guarded migration.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    Binary, Deps, DepsMut, Env, MessageInfo, Response, StdError, StdResult, Uint128,
};
use cw2::set_contract_version;
use cw20_base::state::{BALANCES, TOKEN_INFO};
use um_bindings::migrate::check_and_record;

use crate::error::ContractError;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, SudoMsg};

/// cw2 name of this contract; `migrate` only accepts code stored under it.
pub const CONTRACT_NAME: &str = "crates.io:nrn-token";
/// cw2 version: the crate version.
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Creates the token. Name, symbol, decimals, initial balances, the minter
/// (with an optional cap on the total supply) and marketing info all come
/// from `msg`; NRN's defaults are "Neuron" / "NRN" / 6 decimals (see
/// [`crate::msg::nrn_instantiate_msg`]). Validation is cw20-base's: name 3-50
/// bytes, symbol `[a-zA-Z-]{3,12}`, decimals <= 18, no duplicate initial
/// accounts, initial supply not above the cap.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    mut deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    let name = msg.name.clone();
    let symbol = msg.symbol.clone();
    let decimals = msg.decimals;
    let res = cw20_base::contract::instantiate(deps.branch(), env, info, msg)?;
    // cw20-base records itself as `crates.io:cw20-base`; NRN is its own contract.
    set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(res
        .add_attribute("action", "instantiate")
        .add_attribute("name", name)
        .add_attribute("symbol", symbol)
        .add_attribute("decimals", decimals.to_string()))
}

/// The whole cw20 interface: transfer, send, burn, allowances
/// (increase/decrease, transfer_from, send_from, burn_from), mint and
/// update_minter, update_marketing and upload_logo.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    Ok(cw20_base::contract::execute(deps, env, info, msg)?)
}

/// The cw20 queries: balance, token_info, minter, allowance, all_allowances,
/// all_spender_allowances, all_accounts, marketing_info, download_logo.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    cw20_base::contract::query(deps, env, msg)
}

/// Entry points only the chain can call (sudo is unreachable from a
/// transaction): the chain's module account mints training rewards, and the
/// chain moves fees (signer to fee collector, fee collector to validators).
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn sudo(deps: DepsMut, _env: Env, msg: SudoMsg) -> Result<Response, ContractError> {
    match msg {
        SudoMsg::MintReward { recipient, amount } => sudo_mint_reward(deps, recipient, amount),
        SudoMsg::Transfer { from, to, amount } => sudo_transfer(deps, from, to, amount),
    }
}

/// Moves `amount` from `from` to `to` without the owner's signature: the
/// chain has already authorised it (the fee is part of the signed tx, or
/// the fee collector is the chain's own account). The balance check runs
/// even when nothing moves, so an overdraft is refused whatever the
/// recipient. A zero amount or `from == to` writes nothing.
fn sudo_transfer(
    deps: DepsMut,
    from: String,
    to: String,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let from_addr = deps.api.addr_validate(&from)?;
    let to_addr = deps.api.addr_validate(&to)?;
    let available = BALANCES
        .may_load(deps.storage, &from_addr)?
        .unwrap_or_default();
    let remaining =
        available
            .checked_sub(amount)
            .map_err(|_| ContractError::InsufficientFunds {
                address: from_addr.to_string(),
                needed: amount,
                available,
            })?;
    if !amount.is_zero() && from_addr != to_addr {
        let to_balance = BALANCES
            .may_load(deps.storage, &to_addr)?
            .unwrap_or_default()
            .checked_add(amount)
            .map_err(StdError::from)?;
        BALANCES.save(deps.storage, &from_addr, &remaining)?;
        BALANCES.save(deps.storage, &to_addr, &to_balance)?;
    }
    Ok(Response::new()
        .add_attribute("action", "chain_transfer")
        .add_attribute("from", from_addr)
        .add_attribute("to", to_addr)
        .add_attribute("amount", amount))
}

/// Mints like cw20-base's `Mint` without its minter check: the total supply
/// still may not pass the cap (the cap of the minter data; no minter data
/// means no cap). A zero amount is accepted and changes nothing, as in
/// cw20-base 2.
fn sudo_mint_reward(
    deps: DepsMut,
    recipient: String,
    amount: Uint128,
) -> Result<Response, ContractError> {
    let mut config = TOKEN_INFO.load(deps.storage)?;
    config.total_supply = config
        .total_supply
        .checked_add(amount)
        .map_err(StdError::from)?;
    if let Some(cap) = config.get_cap() {
        if config.total_supply > cap {
            return Err(cw20_base::ContractError::CannotExceedCap {}.into());
        }
    }
    let rcpt_addr = deps.api.addr_validate(&recipient)?;
    TOKEN_INFO.save(deps.storage, &config)?;
    let balance = BALANCES
        .may_load(deps.storage, &rcpt_addr)?
        .unwrap_or_default()
        .checked_add(amount)
        .map_err(StdError::from)?;
    BALANCES.save(deps.storage, &rcpt_addr, &balance)?;
    Ok(Response::new()
        .add_attribute("action", "mint_reward")
        .add_attribute("to", rcpt_addr)
        .add_attribute("amount", amount))
}

/// Accepts only code that was stored as `crates.io:nrn-token`, never moves the
/// version backwards, and records the new version.
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    let outcome = check_and_record(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", outcome.from_version)
        .add_attribute("to_version", outcome.to_version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{
        nrn_instantiate_msg, Cw20Coin, Cw20ReceiveMsg, InstantiateMarketingInfo, Logo,
        MinterResponse,
    };
    use cosmwasm_std::testing::{
        message_info, mock_dependencies, mock_env, MockApi, MockQuerier, MockStorage,
    };
    use cosmwasm_std::{
        attr, from_json, to_json_binary, Addr, CosmosMsg, OverflowError, OverflowOperation,
        OwnedDeps, StdError, SubMsg, Uint128, WasmMsg,
    };
    use cw2::get_contract_version;
    use cw20::{
        AllowanceResponse, BalanceResponse, LogoInfo, MarketingInfoResponse, TokenInfoResponse,
    };
    use cw20_base::ContractError as Cw20Error;
    use um_bindings::migrate::MigrateError;

    type Deps_ = OwnedDeps<MockStorage, MockApi, MockQuerier>;

    const CAP: u128 = 2_000_000;

    struct Users {
        alice: Addr,
        bob: Addr,
        carol: Addr,
        minter: Addr,
    }

    fn users(deps: &Deps_) -> Users {
        Users {
            alice: deps.api.addr_make("alice"),
            bob: deps.api.addr_make("bob"),
            carol: deps.api.addr_make("carol"),
            minter: deps.api.addr_make("minter"),
        }
    }

    /// alice 1_000_000, bob 500_000, minter `minter` with cap 2_000_000.
    fn setup() -> (Deps_, Users) {
        let mut deps = mock_dependencies();
        let u = users(&deps);
        let msg = nrn_instantiate_msg(
            vec![
                Cw20Coin {
                    address: u.alice.to_string(),
                    amount: Uint128::new(1_000_000),
                },
                Cw20Coin {
                    address: u.bob.to_string(),
                    amount: Uint128::new(500_000),
                },
            ],
            Some(MinterResponse {
                minter: u.minter.to_string(),
                cap: Some(Uint128::new(CAP)),
            }),
        );
        let creator = deps.api.addr_make("creator");
        instantiate(deps.as_mut(), mock_env(), message_info(&creator, &[]), msg).unwrap();
        (deps, u)
    }

    fn balance(deps: &Deps_, addr: &Addr) -> u128 {
        let res: BalanceResponse = from_json(
            query(
                deps.as_ref(),
                mock_env(),
                QueryMsg::Balance {
                    address: addr.to_string(),
                },
            )
            .unwrap(),
        )
        .unwrap();
        res.balance.u128()
    }

    fn token_info(deps: &Deps_) -> TokenInfoResponse {
        from_json(query(deps.as_ref(), mock_env(), QueryMsg::TokenInfo {}).unwrap()).unwrap()
    }

    fn exec(deps: &mut Deps_, sender: &Addr, msg: ExecuteMsg) -> Result<Response, ContractError> {
        execute(deps.as_mut(), mock_env(), message_info(sender, &[]), msg)
    }

    /// The error of spending more than a balance or an allowance.
    fn overflow() -> ContractError {
        ContractError::Cw20(Cw20Error::Std(StdError::overflow(OverflowError::new(
            OverflowOperation::Sub,
        ))))
    }

    #[test]
    fn instantiate_stores_token_info_balances_minter_and_cw2() {
        let (deps, u) = setup();
        let info = token_info(&deps);
        assert_eq!(
            info,
            TokenInfoResponse {
                name: "Neuron".to_string(),
                symbol: "NRN".to_string(),
                decimals: 6,
                total_supply: Uint128::new(1_500_000),
            }
        );
        assert_eq!(balance(&deps, &u.alice), 1_000_000);
        assert_eq!(balance(&deps, &u.bob), 500_000);
        assert_eq!(balance(&deps, &u.carol), 0);

        let minter: Option<MinterResponse> =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::Minter {}).unwrap()).unwrap();
        assert_eq!(
            minter,
            Some(MinterResponse {
                minter: u.minter.to_string(),
                cap: Some(Uint128::new(CAP)),
            })
        );

        let version = get_contract_version(&deps.storage).unwrap();
        assert_eq!(version.contract, "crates.io:nrn-token");
        assert_eq!(version.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn instantiate_reports_attributes() {
        let mut deps = mock_dependencies();
        let creator = deps.api.addr_make("creator");
        let res = instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&creator, &[]),
            nrn_instantiate_msg(vec![], None),
        )
        .unwrap();
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "instantiate"),
                attr("name", "Neuron"),
                attr("symbol", "NRN"),
                attr("decimals", "6"),
            ]
        );
        assert_eq!(token_info(&deps).total_supply, Uint128::zero());
    }

    #[test]
    fn instantiate_rejects_initial_supply_above_cap() {
        let mut deps = mock_dependencies();
        let alice = deps.api.addr_make("alice");
        let msg = nrn_instantiate_msg(
            vec![Cw20Coin {
                address: alice.to_string(),
                amount: Uint128::new(CAP + 1),
            }],
            Some(MinterResponse {
                minter: alice.to_string(),
                cap: Some(Uint128::new(CAP)),
            }),
        );
        let err =
            instantiate(deps.as_mut(), mock_env(), message_info(&alice, &[]), msg).unwrap_err();
        assert_eq!(
            err,
            ContractError::Cw20(Cw20Error::Std(StdError::generic_err(
                "Initial supply greater than cap"
            )))
        );
    }

    #[test]
    fn instantiate_rejects_invalid_token_info() {
        let mut deps = mock_dependencies();
        let alice = deps.api.addr_make("alice");

        let mut bad_symbol = nrn_instantiate_msg(vec![], None);
        bad_symbol.symbol = "N1".to_string();
        let err = instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&alice, &[]),
            bad_symbol,
        )
        .unwrap_err();
        assert!(
            matches!(err, ContractError::Cw20(Cw20Error::Std(StdError::GenericErr { ref msg, .. })) if msg.starts_with("Ticker symbol")),
            "{err:?}"
        );

        let mut bad_decimals = nrn_instantiate_msg(vec![], None);
        bad_decimals.decimals = 19;
        let err = instantiate(
            deps.as_mut(),
            mock_env(),
            message_info(&alice, &[]),
            bad_decimals,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ContractError::Cw20(Cw20Error::Std(StdError::generic_err(
                "Decimals must not exceed 18"
            )))
        );

        let dup = nrn_instantiate_msg(
            vec![
                Cw20Coin {
                    address: alice.to_string(),
                    amount: Uint128::new(1),
                },
                Cw20Coin {
                    address: alice.to_string(),
                    amount: Uint128::new(2),
                },
            ],
            None,
        );
        let err =
            instantiate(deps.as_mut(), mock_env(), message_info(&alice, &[]), dup).unwrap_err();
        assert_eq!(
            err,
            ContractError::Cw20(Cw20Error::DuplicateInitialBalanceAddresses {})
        );
    }

    #[test]
    fn transfer_moves_tokens_and_keeps_supply() {
        let (mut deps, u) = setup();
        let res = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Transfer {
                recipient: u.carol.to_string(),
                amount: Uint128::new(250_000),
            },
        )
        .unwrap();
        assert_eq!(res.attributes[0], attr("action", "transfer"));
        assert_eq!(balance(&deps, &u.alice), 750_000);
        assert_eq!(balance(&deps, &u.carol), 250_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));

        // More than the balance: refused, nothing moves.
        let err = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Transfer {
                recipient: u.carol.to_string(),
                amount: Uint128::new(750_001),
            },
        )
        .unwrap_err();
        assert_eq!(err, overflow());
        assert_eq!(balance(&deps, &u.alice), 750_000);
        assert_eq!(balance(&deps, &u.carol), 250_000);

        // A bad recipient address is refused.
        let err = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Transfer {
                recipient: "not-an-address".to_string(),
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, ContractError::Cw20(Cw20Error::Std(_))),
            "{err:?}"
        );
    }

    #[test]
    fn burn_lowers_balance_and_supply() {
        let (mut deps, u) = setup();
        exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::Burn {
                amount: Uint128::new(200_000),
            },
        )
        .unwrap();
        assert_eq!(balance(&deps, &u.bob), 300_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_300_000));

        let err = exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::Burn {
                amount: Uint128::new(300_001),
            },
        )
        .unwrap_err();
        assert_eq!(err, overflow());
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_300_000));
    }

    #[test]
    fn mint_up_to_cap_then_fails_past_it() {
        let (mut deps, u) = setup();
        // Supply 1_500_000, cap 2_000_000: exactly 500_000 can still be minted.
        exec(
            &mut deps,
            &u.minter,
            ExecuteMsg::Mint {
                recipient: u.carol.to_string(),
                amount: Uint128::new(400_000),
            },
        )
        .unwrap();
        assert_eq!(balance(&deps, &u.carol), 400_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_900_000));

        let err = exec(
            &mut deps,
            &u.minter,
            ExecuteMsg::Mint {
                recipient: u.carol.to_string(),
                amount: Uint128::new(100_001),
            },
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::CannotExceedCap {}));
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_900_000));

        exec(
            &mut deps,
            &u.minter,
            ExecuteMsg::Mint {
                recipient: u.carol.to_string(),
                amount: Uint128::new(100_000),
            },
        )
        .unwrap();
        assert_eq!(token_info(&deps).total_supply, Uint128::new(CAP));

        // Only the minter mints.
        let err = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Mint {
                recipient: u.alice.to_string(),
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::Unauthorized {}));
    }

    #[test]
    fn update_minter_hands_over_and_can_remove_minting() {
        let (mut deps, u) = setup();
        exec(
            &mut deps,
            &u.minter,
            ExecuteMsg::UpdateMinter {
                new_minter: Some(u.bob.to_string()),
            },
        )
        .unwrap();
        let mint = |to: &Addr| ExecuteMsg::Mint {
            recipient: to.to_string(),
            amount: Uint128::new(10),
        };
        let err = exec(&mut deps, &u.minter, mint(&u.carol)).unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::Unauthorized {}));
        exec(&mut deps, &u.bob, mint(&u.carol)).unwrap();
        assert_eq!(balance(&deps, &u.carol), 10);

        // The cap stays with the minter role.
        let minter: Option<MinterResponse> =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::Minter {}).unwrap()).unwrap();
        assert_eq!(
            minter,
            Some(MinterResponse {
                minter: u.bob.to_string(),
                cap: Some(Uint128::new(CAP)),
            })
        );

        exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::UpdateMinter { new_minter: None },
        )
        .unwrap();
        let minter: Option<MinterResponse> =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::Minter {}).unwrap()).unwrap();
        assert_eq!(minter, None);
        let err = exec(&mut deps, &u.bob, mint(&u.carol)).unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::Unauthorized {}));
    }

    #[test]
    fn allowance_and_transfer_from() {
        let (mut deps, u) = setup();
        let allowance = |deps: &Deps_| -> u128 {
            let res: AllowanceResponse = from_json(
                query(
                    deps.as_ref(),
                    mock_env(),
                    QueryMsg::Allowance {
                        owner: u.alice.to_string(),
                        spender: u.bob.to_string(),
                    },
                )
                .unwrap(),
            )
            .unwrap();
            res.allowance.u128()
        };

        // Without an allowance, transfer_from is refused.
        let err = exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::TransferFrom {
                owner: u.alice.to_string(),
                recipient: u.carol.to_string(),
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::NoAllowance {}));

        exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::IncreaseAllowance {
                spender: u.bob.to_string(),
                amount: Uint128::new(300_000),
                expires: None,
            },
        )
        .unwrap();
        assert_eq!(allowance(&deps), 300_000);

        exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::TransferFrom {
                owner: u.alice.to_string(),
                recipient: u.carol.to_string(),
                amount: Uint128::new(200_000),
            },
        )
        .unwrap();
        assert_eq!(balance(&deps, &u.alice), 800_000);
        assert_eq!(balance(&deps, &u.carol), 200_000);
        assert_eq!(balance(&deps, &u.bob), 500_000);
        assert_eq!(allowance(&deps), 100_000);

        // Beyond the remaining allowance.
        let err = exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::TransferFrom {
                owner: u.alice.to_string(),
                recipient: u.carol.to_string(),
                amount: Uint128::new(100_001),
            },
        )
        .unwrap_err();
        assert_eq!(err, overflow());
        assert_eq!(balance(&deps, &u.alice), 800_000);

        // Decrease, then burn_from the rest.
        exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::DecreaseAllowance {
                spender: u.bob.to_string(),
                amount: Uint128::new(40_000),
                expires: None,
            },
        )
        .unwrap();
        assert_eq!(allowance(&deps), 60_000);
        exec(
            &mut deps,
            &u.bob,
            ExecuteMsg::BurnFrom {
                owner: u.alice.to_string(),
                amount: Uint128::new(60_000),
            },
        )
        .unwrap();
        assert_eq!(balance(&deps, &u.alice), 740_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_440_000));
        assert_eq!(allowance(&deps), 0);
    }

    #[test]
    fn send_to_contract_moves_tokens_and_calls_receive() {
        let (mut deps, u) = setup();
        let staking = deps.api.addr_make("staking-contract");
        let payload = to_json_binary(&"stake").unwrap();
        let res = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Send {
                contract: staking.to_string(),
                amount: Uint128::new(100_000),
                msg: payload.clone(),
            },
        )
        .unwrap();
        assert_eq!(balance(&deps, &u.alice), 900_000);
        assert_eq!(balance(&deps, &staking), 100_000);

        let receive = Cw20ReceiveMsg {
            sender: u.alice.to_string(),
            amount: Uint128::new(100_000),
            msg: payload,
        };
        assert_eq!(
            res.messages,
            vec![SubMsg::new(CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr: staking.to_string(),
                msg: receive.into_json_binary().unwrap(),
                funds: vec![],
            }))]
        );
    }

    #[test]
    fn marketing_can_be_updated_by_marketing_address_only() {
        let mut deps = mock_dependencies();
        let u = users(&deps);
        let mut msg = nrn_instantiate_msg(vec![], None);
        msg.marketing = Some(InstantiateMarketingInfo {
            project: Some("Unstoppable Models".to_string()),
            description: Some("Neuron".to_string()),
            marketing: Some(u.alice.to_string()),
            logo: None,
        });
        instantiate(deps.as_mut(), mock_env(), message_info(&u.alice, &[]), msg).unwrap();

        let update = ExecuteMsg::UpdateMarketing {
            project: None,
            description: Some("stake NRN to train models".to_string()),
            marketing: None,
        };
        let err = exec(&mut deps, &u.bob, update.clone()).unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::Unauthorized {}));
        exec(&mut deps, &u.alice, update).unwrap();
        exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::UploadLogo(Logo::Url("https://example.com/nrn.png".to_string())),
        )
        .unwrap();

        let info: MarketingInfoResponse =
            from_json(query(deps.as_ref(), mock_env(), QueryMsg::MarketingInfo {}).unwrap())
                .unwrap();
        assert_eq!(
            info,
            MarketingInfoResponse {
                project: Some("Unstoppable Models".to_string()),
                description: Some("stake NRN to train models".to_string()),
                marketing: Some(u.alice.clone()),
                logo: Some(LogoInfo::Url("https://example.com/nrn.png".to_string())),
            }
        );
    }

    #[test]
    fn migrate_bumps_version_and_refuses_other_contracts_and_downgrades() {
        let (mut deps, _) = setup();
        let env = mock_env();

        // Same version: allowed, nothing changes.
        let res = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap();
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "migrate"),
                attr("from_version", CONTRACT_VERSION),
                attr("to_version", CONTRACT_VERSION),
            ]
        );

        // From an older version: bumped.
        set_contract_version(&mut deps.storage, CONTRACT_NAME, "0.0.1").unwrap();
        migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap();
        assert_eq!(
            get_contract_version(&deps.storage).unwrap().version,
            CONTRACT_VERSION
        );

        // From a newer version: refused, version kept.
        set_contract_version(&mut deps.storage, CONTRACT_NAME, "99.0.0").unwrap();
        let err = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
        assert_eq!(
            err,
            ContractError::Migrate(MigrateError::CannotDowngrade {
                stored: "99.0.0".to_string(),
                new: CONTRACT_VERSION.to_string(),
            })
        );
        assert_eq!(
            get_contract_version(&deps.storage).unwrap().version,
            "99.0.0"
        );

        // Another contract (even plain cw20-base): refused.
        set_contract_version(&mut deps.storage, "crates.io:cw20-base", "0.0.1").unwrap();
        let err = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
        assert_eq!(
            err,
            ContractError::Migrate(MigrateError::WrongContract {
                expected: "crates.io:nrn-token".to_string(),
                found: "crates.io:cw20-base".to_string(),
            })
        );

        // A version that is not semver: refused.
        set_contract_version(&mut deps.storage, CONTRACT_NAME, "v1").unwrap();
        let err = migrate(deps.as_mut(), env, MigrateMsg {}).unwrap_err();
        assert!(
            matches!(err, ContractError::Migrate(MigrateError::InvalidVersion { ref version, .. }) if version == "v1"),
            "{err:?}"
        );
    }

    fn mint_reward(deps: &mut Deps_, to: &Addr, amount: u128) -> Result<Response, ContractError> {
        sudo(
            deps.as_mut(),
            mock_env(),
            SudoMsg::MintReward {
                recipient: to.to_string(),
                amount: Uint128::new(amount),
            },
        )
    }

    #[test]
    fn sudo_mint_reward_raises_balance_and_supply() {
        let (mut deps, u) = setup();
        let res = mint_reward(&mut deps, &u.carol, 300_000).unwrap();
        assert!(res.messages.is_empty());
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "mint_reward"),
                attr("to", u.carol.as_str()),
                attr("amount", "300000"),
            ]
        );
        assert_eq!(balance(&deps, &u.carol), 300_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_800_000));

        // Onto an existing balance.
        mint_reward(&mut deps, &u.alice, 5).unwrap();
        assert_eq!(balance(&deps, &u.alice), 1_000_005);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_800_005));

        // The minter role is untouched: the cw20 minter still mints, nobody else does.
        let err = exec(
            &mut deps,
            &u.alice,
            ExecuteMsg::Mint {
                recipient: u.alice.to_string(),
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::Unauthorized {}));
    }

    #[test]
    fn sudo_mint_reward_respects_the_cap() {
        let (mut deps, u) = setup();
        // Supply 1_500_000, cap 2_000_000: exactly up to the cap is fine.
        mint_reward(&mut deps, &u.carol, 499_999).unwrap();
        let err = mint_reward(&mut deps, &u.carol, 2).unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::CannotExceedCap {}));
        assert_eq!(balance(&deps, &u.carol), 499_999);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_999_999));
        mint_reward(&mut deps, &u.carol, 1).unwrap();
        assert_eq!(token_info(&deps).total_supply, Uint128::new(CAP));
        let err = mint_reward(&mut deps, &u.bob, 1).unwrap_err();
        assert_eq!(err, ContractError::Cw20(Cw20Error::CannotExceedCap {}));
        assert_eq!(balance(&deps, &u.bob), 500_000);

        // An invalid recipient changes nothing.
        let (mut deps, _) = setup();
        let err = sudo(
            deps.as_mut(),
            mock_env(),
            SudoMsg::MintReward {
                recipient: "not-an-address".to_string(),
                amount: Uint128::new(1),
            },
        )
        .unwrap_err();
        assert!(matches!(err, ContractError::Std(_)), "{err:?}");
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));
    }

    fn chain_transfer(
        deps: &mut Deps_,
        from: &Addr,
        to: &Addr,
        amount: u128,
    ) -> Result<Response, ContractError> {
        sudo(
            deps.as_mut(),
            mock_env(),
            SudoMsg::Transfer {
                from: from.to_string(),
                to: to.to_string(),
                amount: Uint128::new(amount),
            },
        )
    }

    #[test]
    fn sudo_transfer_moves_the_balance_and_keeps_supply() {
        let (mut deps, u) = setup();
        let res = chain_transfer(&mut deps, &u.alice, &u.carol, 250_000).unwrap();
        assert!(res.messages.is_empty());
        assert_eq!(
            res.attributes,
            vec![
                attr("action", "chain_transfer"),
                attr("from", u.alice.as_str()),
                attr("to", u.carol.as_str()),
                attr("amount", "250000"),
            ]
        );
        assert_eq!(balance(&deps, &u.alice), 750_000);
        assert_eq!(balance(&deps, &u.carol), 250_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));

        // The whole balance, onto an existing one.
        chain_transfer(&mut deps, &u.bob, &u.carol, 500_000).unwrap();
        assert_eq!(balance(&deps, &u.bob), 0);
        assert_eq!(balance(&deps, &u.carol), 750_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));
    }

    #[test]
    fn sudo_transfer_refuses_an_overdraft_and_changes_nothing() {
        let (mut deps, u) = setup();
        let err = chain_transfer(&mut deps, &u.bob, &u.carol, 500_001).unwrap_err();
        assert_eq!(
            err,
            ContractError::InsufficientFunds {
                address: u.bob.to_string(),
                needed: Uint128::new(500_001),
                available: Uint128::new(500_000),
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "insufficient funds: {} holds 500000 but 500001 must be moved",
                u.bob
            )
        );
        assert_eq!(balance(&deps, &u.bob), 500_000);
        assert_eq!(balance(&deps, &u.carol), 0);

        // An account without any balance, and an overdraft to itself.
        let err = chain_transfer(&mut deps, &u.carol, &u.bob, 1).unwrap_err();
        assert!(
            matches!(err, ContractError::InsufficientFunds { available, .. } if available.is_zero()),
            "{err:?}"
        );
        let err = chain_transfer(&mut deps, &u.bob, &u.bob, 500_001).unwrap_err();
        assert!(
            matches!(err, ContractError::InsufficientFunds { .. }),
            "{err:?}"
        );
        assert_eq!(balance(&deps, &u.bob), 500_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));
    }

    #[test]
    fn sudo_transfer_of_zero_or_to_itself_changes_nothing() {
        let (mut deps, u) = setup();
        let res = chain_transfer(&mut deps, &u.carol, &u.alice, 0).unwrap();
        assert_eq!(res.attributes[0], attr("action", "chain_transfer"));
        chain_transfer(&mut deps, &u.alice, &u.carol, 0).unwrap();
        chain_transfer(&mut deps, &u.alice, &u.alice, 400_000).unwrap();
        assert_eq!(balance(&deps, &u.alice), 1_000_000);
        assert_eq!(balance(&deps, &u.carol), 0);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));
        // No balance entry was written for carol.
        let accounts: cw20::AllAccountsResponse = from_json(
            query(
                deps.as_ref(),
                mock_env(),
                QueryMsg::AllAccounts {
                    start_after: None,
                    limit: None,
                },
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(accounts.accounts.len(), 2);
    }

    #[test]
    fn sudo_transfer_refuses_invalid_addresses() {
        let (mut deps, u) = setup();
        for (from, to) in [
            ("not-an-address".to_string(), u.carol.to_string()),
            (u.alice.to_string(), "not-an-address".to_string()),
        ] {
            let err = sudo(
                deps.as_mut(),
                mock_env(),
                SudoMsg::Transfer {
                    from,
                    to,
                    amount: Uint128::new(1),
                },
            )
            .unwrap_err();
            assert!(matches!(err, ContractError::Std(_)), "{err:?}");
        }
        assert_eq!(balance(&deps, &u.alice), 1_000_000);
        assert_eq!(token_info(&deps).total_supply, Uint128::new(1_500_000));
    }
}
