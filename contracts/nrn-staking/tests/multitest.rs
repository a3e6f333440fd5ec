//! nrn-staking next to the real NRN token in a cw-multi-test chain.

use cosmwasm_std::{to_json_binary, Addr, Binary, CosmosMsg, Decimal, Uint128, WasmMsg};
use cw20::{BalanceResponse, Cw20ExecuteMsg, TokenInfoResponse};
use cw_multi_test::error::{AnyError, AnyResult};
use cw_multi_test::{App, AppResponse, ContractWrapper, Executor};
use nrn_staking::msg::{
    Claim, ClaimsResponse, ExecuteMsg, InstantiateMsg, QueryMsg, ReceiveMsg, Role, RoleResponse,
    StakeResponse, SudoMsg, TotalStakeResponse, ValidatorInfo, ValidatorsResponse,
    VotingPowerResponse,
};
use nrn_staking::ContractError;
use nrn_token::msg::{nrn_instantiate_msg, Cw20Coin, MinterResponse};

#[path = "../src/test_keys.rs"]
mod test_keys;
use test_keys::{bond_signature, consensus_key_of};

const PERIOD: u64 = 20;
const MIN_TRAINER: u128 = 1_000;
const MIN_VALIDATOR: u128 = 10_000;

struct Setup {
    app: App,
    token: Addr,
    staking: Addr,
    dao: Addr,
    alice: Addr,
    bob: Addr,
}

fn token_code(app: &mut App) -> u64 {
    app.store_code(Box::new(
        ContractWrapper::new(
            nrn_token::contract::execute,
            nrn_token::contract::instantiate,
            nrn_token::contract::query,
        )
        .with_sudo(nrn_token::contract::sudo),
    ))
}

fn new_token(app: &mut App, code: u64, holders: &[(&Addr, u128)], label: &str) -> Addr {
    let admin = app.api().addr_make("admin");
    let balances = holders
        .iter()
        .map(|(a, amount)| Cw20Coin {
            address: a.to_string(),
            amount: Uint128::new(*amount),
        })
        .collect();
    app.instantiate_contract(
        code,
        admin.clone(),
        &nrn_instantiate_msg(
            balances,
            Some(MinterResponse {
                minter: admin.to_string(),
                cap: Some(Uint128::new(1_000_000_000)),
            }),
        ),
        &[],
        label,
        None,
    )
    .unwrap()
}

fn setup() -> Setup {
    let mut app = App::default();
    let dao = app.api().addr_make("dao");
    let alice = app.api().addr_make("alice");
    let bob = app.api().addr_make("bob");
    let code = token_code(&mut app);
    let token = new_token(&mut app, code, &[(&alice, 100_000), (&bob, 50_000)], "nrn");
    let staking_code = app.store_code(Box::new(
        ContractWrapper::new(
            nrn_staking::contract::execute,
            nrn_staking::contract::instantiate,
            nrn_staking::contract::query,
        )
        .with_sudo(nrn_staking::contract::sudo)
        .with_migrate(nrn_staking::contract::migrate),
    ));
    let staking = app
        .instantiate_contract(
            staking_code,
            dao.clone(),
            &InstantiateMsg {
                token: token.to_string(),
                owner: Some(dao.to_string()),
                min_trainer_stake: Uint128::new(MIN_TRAINER),
                min_validator_stake: Uint128::new(MIN_VALIDATOR),
                unbonding_period_blocks: PERIOD,
                max_validators: None,
            },
            &[],
            "staking",
            Some(dao.to_string()),
        )
        .unwrap();
    Setup {
        app,
        token,
        staking,
        dao,
        alice,
        bob,
    }
}

fn send_bond(
    app: &mut App,
    token: &Addr,
    staking: &Addr,
    from: &Addr,
    amount: u128,
    role: Role,
) -> AnyResult<AppResponse> {
    app.execute_contract(
        from.clone(),
        token.clone(),
        &Cw20ExecuteMsg::Send {
            contract: staking.to_string(),
            amount: Uint128::new(amount),
            msg: to_json_binary(&ReceiveMsg::Bond {
                consensus_signature: bond_signature(
                    &app.block_info().chain_id,
                    from.as_str(),
                    &role,
                ),
                role,
            })
            .unwrap(),
        },
        &[],
    )
}

fn bond(s: &mut Setup, from: &Addr, amount: u128, role: Role) -> AnyResult<AppResponse> {
    let (token, staking) = (s.token.clone(), s.staking.clone());
    send_bond(&mut s.app, &token, &staking, from, amount, role)
}

fn exec(s: &mut Setup, sender: &Addr, msg: &ExecuteMsg) -> AnyResult<AppResponse> {
    let staking = s.staking.clone();
    s.app.execute_contract(sender.clone(), staking, msg, &[])
}

fn balance(s: &Setup, token: &Addr, addr: &Addr) -> u128 {
    let res: BalanceResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            token,
            &cw20::Cw20QueryMsg::Balance {
                address: addr.to_string(),
            },
        )
        .unwrap();
    res.balance.u128()
}

fn supply(s: &Setup) -> u128 {
    let res: TokenInfoResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.token, &cw20::Cw20QueryMsg::TokenInfo {})
        .unwrap();
    res.total_supply.u128()
}

fn stake(s: &Setup, addr: &Addr) -> u128 {
    let res: StakeResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.staking,
            &QueryMsg::Stake {
                address: addr.to_string(),
                height: None,
            },
        )
        .unwrap();
    res.stake.u128()
}

fn power(s: &Setup, addr: &Addr, height: u64) -> u128 {
    let res: VotingPowerResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.staking,
            &QueryMsg::VotingPower {
                address: addr.to_string(),
                height,
            },
        )
        .unwrap();
    res.power.u128()
}

fn total(s: &Setup, height: Option<u64>) -> u128 {
    let res: TotalStakeResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.staking, &QueryMsg::TotalStake { height })
        .unwrap();
    res.total.u128()
}

fn claims(s: &Setup, addr: &Addr) -> Vec<Claim> {
    let res: ClaimsResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.staking,
            &QueryMsg::Claims {
                address: addr.to_string(),
            },
        )
        .unwrap();
    res.claims
}

fn advance(s: &mut Setup, blocks: u64) {
    s.app.update_block(|b| {
        b.height += blocks;
        b.time = b.time.plus_seconds(5 * blocks);
    });
}

fn height(s: &Setup) -> u64 {
    s.app.block_info().height
}

fn contract_err(err: AnyError) -> ContractError {
    err.downcast().unwrap()
}

fn attr<'a>(res: &'a AppResponse, event: &str, key: &str) -> Option<&'a str> {
    res.events
        .iter()
        .filter(|e| e.ty == event)
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

#[test]
fn bond_through_cw20_send_moves_tokens_and_records_stake() {
    let mut s = setup();
    let alice = s.alice.clone();
    let res = bond(&mut s, &alice, 30_000, Role::Trainer).unwrap();
    assert_eq!(attr(&res, "wasm", "action"), Some("send"));
    let bond_event = res
        .events
        .iter()
        .find(|e| {
            e.ty == "wasm"
                && e.attributes
                    .iter()
                    .any(|a| a.key == "action" && a.value == "bond")
        })
        .expect("bond event");
    let get = |k: &str| {
        bond_event
            .attributes
            .iter()
            .find(|a| a.key == k)
            .map(|a| a.value.clone())
    };
    assert_eq!(get("_contract_address"), Some(s.staking.to_string()));
    assert_eq!(get("address"), Some(alice.to_string()));
    assert_eq!(get("amount"), Some("30000".to_string()));
    assert_eq!(get("role"), Some("trainer".to_string()));

    assert_eq!(balance(&s, &s.token, &alice), 70_000);
    assert_eq!(balance(&s, &s.token, &s.staking), 30_000);
    assert_eq!(stake(&s, &alice), 30_000);
    assert_eq!(total(&s, None), 30_000);
    let role: RoleResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.staking,
            &QueryMsg::Role {
                address: alice.to_string(),
            },
        )
        .unwrap();
    assert_eq!(role.role, Some(Role::Trainer));
    assert!(role.active);

    // More than the balance: the cw20 send fails and nothing is bonded.
    assert!(bond(&mut s, &alice, 70_001, Role::Trainer).is_err());
    assert_eq!(stake(&s, &alice), 30_000);
    // Zero: refused by the staking contract, rolled back.
    let err = bond(&mut s, &alice, 0, Role::Trainer).unwrap_err();
    assert_eq!(contract_err(err), ContractError::ZeroAmount {});
}

#[test]
fn another_token_cannot_bond() {
    let mut s = setup();
    let alice = s.alice.clone();
    let code = token_code(&mut s.app);
    let fake = new_token(&mut s.app, code, &[(&alice, 100_000)], "fake");
    let staking = s.staking.clone();
    let err = send_bond(&mut s.app, &fake, &staking, &alice, 5_000, Role::Trainer).unwrap_err();
    assert_eq!(
        contract_err(err),
        ContractError::WrongToken {
            expected: s.token.to_string(),
            found: fake.to_string(),
        }
    );
    // Rolled back: the fake tokens stay with alice, nothing is bonded.
    assert_eq!(balance(&s, &fake, &alice), 100_000);
    assert_eq!(balance(&s, &fake, &staking), 0);
    assert_eq!(stake(&s, &alice), 0);

    // Nor can anyone forge the Receive hook directly.
    let forged = ExecuteMsg::Receive(cw20::Cw20ReceiveMsg {
        sender: alice.to_string(),
        amount: Uint128::new(1_000_000),
        msg: to_json_binary(&ReceiveMsg::Bond {
            role: Role::Trainer,
            consensus_signature: None,
        })
        .unwrap(),
    });
    let err = exec(&mut s, &alice, &forged).unwrap_err();
    assert!(matches!(
        contract_err(err),
        ContractError::WrongToken { .. }
    ));
    assert_eq!(stake(&s, &alice), 0);
}

#[test]
fn validator_pubkey_must_be_ed25519_sized_and_unique() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    let role = |len: usize, byte: u8| Role::Validator {
        consensus_pubkey: if len == 32 {
            consensus_key_of(byte)
        } else {
            Binary::new(vec![byte; len])
        },
    };
    for len in [31, 33] {
        let err = bond(&mut s, &alice, MIN_VALIDATOR, role(len, 1)).unwrap_err();
        assert_eq!(
            contract_err(err),
            ContractError::InvalidPubkeyLength { len }
        );
    }
    assert_eq!(balance(&s, &s.token, &alice), 100_000);

    bond(&mut s, &alice, MIN_VALIDATOR, role(32, 1)).unwrap();
    let err = bond(&mut s, &bob, MIN_VALIDATOR, role(32, 1)).unwrap_err();
    assert_eq!(
        contract_err(err),
        ContractError::PubkeyInUse {
            owner: alice.to_string()
        }
    );
    // Below the minimum: refused and rolled back, the tokens stay with bob.
    let err = bond(&mut s, &bob, MIN_VALIDATOR - 1, role(32, 2)).unwrap_err();
    assert_eq!(
        contract_err(err),
        ContractError::BelowMinimumStake {
            role: "validator".to_string(),
            stake: Uint128::new(MIN_VALIDATOR - 1),
            minimum: Uint128::new(MIN_VALIDATOR),
        }
    );
    assert_eq!(balance(&s, &s.token, &bob), 50_000);

    // Only alice is a validator.
    let vals: ValidatorsResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.staking, &QueryMsg::Validators {})
        .unwrap();
    assert_eq!(
        vals.validators,
        vec![ValidatorInfo {
            address: alice.to_string(),
            consensus_pubkey: consensus_key_of(1),
            stake: Uint128::new(MIN_VALIDATOR),
        }]
    );
    bond(&mut s, &bob, MIN_VALIDATOR, role(32, 2)).unwrap();
    let vals: ValidatorsResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.staking, &QueryMsg::Validators {})
        .unwrap();
    assert_eq!(vals.validators.len(), 2);
    let mut sorted = vals.validators.clone();
    sorted.sort_by(|a, b| a.address.cmp(&b.address));
    assert_eq!(vals.validators, sorted);
}

#[test]
fn voting_power_is_the_stake_at_the_start_of_the_block() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    let h = height(&s);
    bond(&mut s, &alice, 10_000, Role::Trainer).unwrap();
    assert_eq!(power(&s, &alice, h), 0);
    assert_eq!(power(&s, &alice, h + 1), 10_000);
    assert_eq!(total(&s, Some(h)), 0);
    assert_eq!(total(&s, Some(h + 1)), 10_000);

    advance(&mut s, 1);
    // Bonded in block h + 1: not in the power at h + 1.
    bond(&mut s, &alice, 5_000, Role::Trainer).unwrap();
    bond(&mut s, &bob, 7_000, Role::Trainer).unwrap();
    advance(&mut s, 2);
    exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(12_000),
        },
    )
    .unwrap();
    advance(&mut s, 1);

    let expected = [
        (h, 0, 0, 0),
        (h + 1, 10_000, 0, 10_000),
        (h + 2, 15_000, 7_000, 22_000),
        (h + 3, 15_000, 7_000, 22_000),
        (h + 4, 3_000, 7_000, 10_000),
    ];
    for (height, a, b, all) in expected {
        assert_eq!(power(&s, &alice, height), a, "alice at {height}");
        assert_eq!(power(&s, &bob, height), b, "bob at {height}");
        assert_eq!(total(&s, Some(height)), all, "total at {height}");
    }
    assert_eq!(stake(&s, &alice), 3_000);
}

#[test]
fn unbonded_tokens_come_back_after_the_period() {
    let mut s = setup();
    let alice = s.alice.clone();
    bond(&mut s, &alice, 40_000, Role::Trainer).unwrap();
    advance(&mut s, 1);
    let unbond_height = height(&s);
    let res = exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(15_000),
        },
    )
    .unwrap();
    assert_eq!(attr(&res, "wasm", "action"), Some("unbond"));
    assert_eq!(stake(&s, &alice), 25_000);
    assert_eq!(
        claims(&s, &alice),
        vec![Claim {
            amount: Uint128::new(15_000),
            release_height: unbond_height + PERIOD,
        }]
    );
    // Unbonding more than bonded fails.
    let err = exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(25_001),
        },
    )
    .unwrap_err();
    assert!(matches!(
        contract_err(err),
        ContractError::InsufficientStake { .. }
    ));

    advance(&mut s, PERIOD - 1);
    let err = exec(&mut s, &alice, &ExecuteMsg::Claim {}).unwrap_err();
    assert_eq!(contract_err(err), ContractError::NothingToClaim {});
    assert_eq!(balance(&s, &s.token, &alice), 60_000);

    advance(&mut s, 1);
    let res = exec(&mut s, &alice, &ExecuteMsg::Claim {}).unwrap();
    assert_eq!(attr(&res, "wasm", "amount"), Some("15000"));
    assert_eq!(balance(&s, &s.token, &alice), 75_000);
    assert_eq!(balance(&s, &s.token, &s.staking), 25_000);
    assert!(claims(&s, &alice).is_empty());
    // Paid once only.
    let err = exec(&mut s, &alice, &ExecuteMsg::Claim {}).unwrap_err();
    assert_eq!(contract_err(err), ContractError::NothingToClaim {});
}

#[test]
fn the_chain_slashes_through_sudo_and_the_tokens_are_burned() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    bond(&mut s, &alice, 40_000, Role::Trainer).unwrap();
    bond(&mut s, &bob, 20_000, Role::Trainer).unwrap();
    exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(10_000),
        },
    )
    .unwrap();
    advance(&mut s, 1);
    let supply_before = supply(&s);
    assert_eq!(supply_before, 150_000);
    let h = height(&s);

    let res = s
        .app
        .wasm_sudo(
            s.staking.clone(),
            &SudoMsg::Slash {
                address: alice.to_string(),
                fraction: Decimal::percent(25),
                reason: "fraudulent update 7".to_string(),
            },
        )
        .unwrap();
    assert_eq!(attr(&res, "wasm", "action"), Some("slash"));
    assert_eq!(attr(&res, "wasm", "address"), Some(alice.as_str()));
    assert_eq!(attr(&res, "wasm", "reason"), Some("fraudulent update 7"));
    // 25% of 30_000 bonded + 25% of the 10_000 claim.
    assert_eq!(attr(&res, "wasm", "amount"), Some("10000"));

    assert_eq!(stake(&s, &alice), 22_500);
    assert_eq!(stake(&s, &bob), 20_000);
    assert_eq!(claims(&s, &alice)[0].amount, Uint128::new(7_500));
    assert_eq!(total(&s, None), 42_500);
    assert_eq!(supply(&s), supply_before - 10_000);
    assert_eq!(balance(&s, &s.token, &s.staking), 50_000);
    // The snapshot moves from the next block on.
    assert_eq!(power(&s, &alice, h), 30_000);
    assert_eq!(power(&s, &alice, h + 1), 22_500);

    // Nobody staked: an error, nothing burned.
    let carol = s.app.api().addr_make("carol");
    let err = s
        .app
        .wasm_sudo(
            s.staking.clone(),
            &SudoMsg::Slash {
                address: carol.to_string(),
                fraction: Decimal::percent(25),
                reason: "x".to_string(),
            },
        )
        .unwrap_err();
    assert_eq!(
        contract_err(err),
        ContractError::NoStake {
            address: carol.to_string()
        }
    );
    assert_eq!(supply(&s), supply_before - 10_000);
}

#[test]
fn accounts_cannot_slash_through_execute() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    bond(&mut s, &alice, 40_000, Role::Trainer).unwrap();
    let raw = format!(r#"{{"slash":{{"address":"{alice}","fraction":"1","reason":"grief"}}}}"#);
    for sender in [&bob, &alice, &s.dao.clone()] {
        let err = s
            .app
            .execute(
                sender.clone(),
                CosmosMsg::Wasm(WasmMsg::Execute {
                    contract_addr: s.staking.to_string(),
                    msg: Binary::new(raw.clone().into_bytes()),
                    funds: vec![],
                }),
            )
            .unwrap_err();
        assert!(
            format!("{err:?}").contains("unknown variant `slash`"),
            "{err:?}"
        );
    }
    assert_eq!(stake(&s, &alice), 40_000);
    assert_eq!(supply(&s), 150_000);
}

#[test]
fn only_the_owner_updates_the_config() {
    let mut s = setup();
    let (alice, dao) = (s.alice.clone(), s.dao.clone());
    let update = ExecuteMsg::UpdateConfig {
        owner: None,
        min_trainer_stake: Some(Uint128::new(50_000)),
        min_validator_stake: None,
        unbonding_period_blocks: Some(5),
        max_validators: None,
    };
    let err = exec(&mut s, &alice, &update).unwrap_err();
    assert_eq!(contract_err(err), ContractError::Unauthorized {});

    bond(&mut s, &alice, 40_000, Role::Trainer).unwrap();
    let role = |s: &Setup| -> RoleResponse {
        s.app
            .wrap()
            .query_wasm_smart(
                &s.staking,
                &QueryMsg::Role {
                    address: alice.to_string(),
                },
            )
            .unwrap()
    };
    assert!(role(&s).active);
    let res = exec(&mut s, &dao, &update).unwrap();
    assert_eq!(attr(&res, "wasm", "action"), Some("update_config"));
    // Below the new minimum.
    assert!(!role(&s).active);
    // alice can no longer unbond part of her stake, only all of it.
    let err = exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(1),
        },
    )
    .unwrap_err();
    assert!(matches!(
        contract_err(err),
        ContractError::UnbondBelowMinimum { .. }
    ));
    // New unbonding period applies.
    let h = height(&s);
    exec(
        &mut s,
        &alice,
        &ExecuteMsg::Unbond {
            amount: Uint128::new(40_000),
        },
    )
    .unwrap();
    assert_eq!(claims(&s, &alice)[0].release_height, h + 5);

    // Out-of-bounds settings are refused.
    for bad in [
        ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: None,
            min_validator_stake: None,
            unbonding_period_blocks: Some(0),
            max_validators: None,
        },
        ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: Some(Uint128::zero()),
            min_validator_stake: None,
            unbonding_period_blocks: None,
            max_validators: None,
        },
        ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: None,
            min_validator_stake: None,
            unbonding_period_blocks: None,
            max_validators: Some(0),
        },
    ] {
        let err = exec(&mut s, &dao, &bad).unwrap_err();
        assert!(matches!(
            contract_err(err),
            ContractError::InvalidConfig { .. }
        ));
    }
}

fn validators(s: &Setup) -> Vec<ValidatorInfo> {
    let res: ValidatorsResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.staking, &QueryMsg::Validators {})
        .unwrap();
    res.validators
}

#[test]
fn dust_bonds_are_refused_and_the_chain_reads_a_bounded_top_set() {
    let mut s = setup();
    let dao = s.dao.clone();
    let holders: Vec<Addr> = (0..12)
        .map(|i| s.app.api().addr_make(&format!("validator{i}")))
        .collect();
    let minter = s.app.api().addr_make("admin");
    for holder in &holders {
        s.app
            .execute_contract(
                minter.clone(),
                s.token.clone(),
                &Cw20ExecuteMsg::Mint {
                    recipient: holder.to_string(),
                    amount: Uint128::new(2 * MIN_VALIDATOR + 100),
                },
                &[],
            )
            .unwrap();
    }

    // 1 micro-NRN registrations: refused, nothing bonded.
    let err = bond(
        &mut s,
        &holders[0].clone(),
        1,
        Role::Validator {
            consensus_pubkey: consensus_key_of(100),
        },
    )
    .unwrap_err();
    assert!(matches!(
        contract_err(err),
        ContractError::BelowMinimumStake { .. }
    ));
    assert_eq!(total(&s, None), 0);

    exec(
        &mut s,
        &dao,
        &ExecuteMsg::UpdateConfig {
            owner: None,
            min_trainer_stake: None,
            min_validator_stake: None,
            unbonding_period_blocks: None,
            max_validators: Some(5),
        },
    )
    .unwrap();
    for (i, holder) in holders.iter().enumerate() {
        // validator0 has the highest stake, validator11 the lowest.
        let amount = MIN_VALIDATOR + 100 - i as u128;
        bond(
            &mut s,
            &holder.clone(),
            amount,
            Role::Validator {
                consensus_pubkey: consensus_key_of(i as u8 + 1),
            },
        )
        .unwrap();
    }
    let names = |vals: &[ValidatorInfo]| -> Vec<String> {
        let mut names: Vec<String> = vals.iter().map(|v| v.address.clone()).collect();
        names.sort();
        names
    };
    let expected = |idx: &[usize]| -> Vec<String> {
        let mut names: Vec<String> = idx.iter().map(|&i| holders[i].to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&validators(&s)), expected(&[0, 1, 2, 3, 4]));

    // The chain slashes validator1 below the minimum: validator5 moves in.
    s.app
        .wasm_sudo(
            s.staking.clone(),
            &SudoMsg::Slash {
                address: holders[1].to_string(),
                fraction: Decimal::percent(50),
                reason: "double sign".to_string(),
            },
        )
        .unwrap();
    assert_eq!(names(&validators(&s)), expected(&[0, 2, 3, 4, 5]));
    // validator0 leaves: validator6 moves in.
    exec(
        &mut s,
        &holders[0].clone(),
        &ExecuteMsg::Unbond {
            amount: Uint128::new(MIN_VALIDATOR + 100),
        },
    )
    .unwrap();
    assert_eq!(names(&validators(&s)), expected(&[2, 3, 4, 5, 6]));
    // validator11 tops up past everyone: in, and validator6 out.
    bond(
        &mut s,
        &holders[11].clone(),
        MIN_VALIDATOR,
        Role::Validator {
            consensus_pubkey: consensus_key_of(12),
        },
    )
    .unwrap();
    let vals = validators(&s);
    assert_eq!(names(&vals), expected(&[2, 3, 4, 5, 11]));
    let mut sorted = vals.clone();
    sorted.sort_by(|a, b| a.address.cmp(&b.address));
    assert_eq!(vals, sorted);
}
