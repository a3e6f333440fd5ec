//! NRN in a cw-multi-test chain, next to a tiny cw20 receiver contract.

use cosmwasm_std::{to_json_binary, Addr, Binary, Uint128};
use cw20::{AllowanceResponse, BalanceResponse, TokenInfoResponse};
use cw_multi_test::{App, ContractWrapper, Executor};
use nrn_token::msg::{
    nrn_instantiate_msg, Cw20Coin, ExecuteMsg, MigrateMsg, MinterResponse, QueryMsg,
};

/// A contract that accepts one cw20 token through `Receive` and remembers what
/// it got. A payload of `"fail"` makes it refuse, to show that the token
/// transfer is rolled back with it.
mod receiver {
    use cosmwasm_schema::cw_serde;
    use cosmwasm_std::{
        to_json_binary, Addr, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdError,
        StdResult, Uint128,
    };
    use cw20::Cw20ReceiveMsg;
    use cw_storage_plus::Item;

    #[cw_serde]
    pub struct InstantiateMsg {
        /// The only token this contract accepts.
        pub token: String,
    }

    #[cw_serde]
    pub enum ExecuteMsg {
        Receive(Cw20ReceiveMsg),
    }

    #[cw_serde]
    pub enum QueryMsg {
        Received {},
    }

    #[cw_serde]
    #[derive(Default)]
    pub struct ReceivedResponse {
        pub total: Uint128,
        pub count: u32,
        pub last_sender: Option<String>,
        pub last_msg: Option<Binary>,
    }

    const TOKEN: Item<Addr> = Item::new("token");
    const RECEIVED: Item<ReceivedResponse> = Item::new("received");

    pub fn instantiate(
        deps: DepsMut,
        _env: Env,
        _info: MessageInfo,
        msg: InstantiateMsg,
    ) -> StdResult<Response> {
        TOKEN.save(deps.storage, &deps.api.addr_validate(&msg.token)?)?;
        RECEIVED.save(deps.storage, &ReceivedResponse::default())?;
        Ok(Response::new())
    }

    pub fn execute(
        deps: DepsMut,
        _env: Env,
        info: MessageInfo,
        msg: ExecuteMsg,
    ) -> StdResult<Response> {
        let ExecuteMsg::Receive(receive) = msg;
        if info.sender != TOKEN.load(deps.storage)? {
            return Err(StdError::generic_err("unknown token"));
        }
        if receive.msg == to_json_binary("fail")? {
            return Err(StdError::generic_err("receiver refused"));
        }
        let mut received = RECEIVED.load(deps.storage)?;
        received.total += receive.amount;
        received.count += 1;
        received.last_sender = Some(receive.sender);
        received.last_msg = Some(receive.msg);
        RECEIVED.save(deps.storage, &received)?;
        Ok(Response::new().add_attribute("action", "receive"))
    }

    pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
        match msg {
            QueryMsg::Received {} => to_json_binary(&RECEIVED.load(deps.storage)?),
        }
    }
}

struct Setup {
    app: App,
    token: Addr,
    receiver: Addr,
    token_code: u64,
    admin: Addr,
    alice: Addr,
    bob: Addr,
}

fn setup() -> Setup {
    let mut app = App::default();
    let admin = app.api().addr_make("admin");
    let alice = app.api().addr_make("alice");
    let bob = app.api().addr_make("bob");

    let token_code = app.store_code(Box::new(
        ContractWrapper::new(
            nrn_token::contract::execute,
            nrn_token::contract::instantiate,
            nrn_token::contract::query,
        )
        .with_migrate(nrn_token::contract::migrate),
    ));
    let receiver_code = app.store_code(Box::new(ContractWrapper::new(
        receiver::execute,
        receiver::instantiate,
        receiver::query,
    )));

    let token = app
        .instantiate_contract(
            token_code,
            admin.clone(),
            &nrn_instantiate_msg(
                vec![
                    Cw20Coin {
                        address: alice.to_string(),
                        amount: Uint128::new(1_000_000),
                    },
                    Cw20Coin {
                        address: bob.to_string(),
                        amount: Uint128::new(10),
                    },
                ],
                Some(MinterResponse {
                    minter: admin.to_string(),
                    cap: Some(Uint128::new(10_000_000)),
                }),
            ),
            &[],
            "nrn",
            Some(admin.to_string()),
        )
        .unwrap();
    let receiver = app
        .instantiate_contract(
            receiver_code,
            admin.clone(),
            &receiver::InstantiateMsg {
                token: token.to_string(),
            },
            &[],
            "receiver",
            None,
        )
        .unwrap();
    Setup {
        app,
        token,
        receiver,
        token_code,
        admin,
        alice,
        bob,
    }
}

fn balance(s: &Setup, addr: &Addr) -> u128 {
    let res: BalanceResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.token,
            &QueryMsg::Balance {
                address: addr.to_string(),
            },
        )
        .unwrap();
    res.balance.u128()
}

fn received(s: &Setup) -> receiver::ReceivedResponse {
    s.app
        .wrap()
        .query_wasm_smart(&s.receiver, &receiver::QueryMsg::Received {})
        .unwrap()
}

fn allowance(s: &Setup, owner: &Addr, spender: &Addr) -> u128 {
    let res: AllowanceResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            &s.token,
            &QueryMsg::Allowance {
                owner: owner.to_string(),
                spender: spender.to_string(),
            },
        )
        .unwrap();
    res.allowance.u128()
}

fn payload(text: &str) -> Binary {
    to_json_binary(text).unwrap()
}

#[test]
fn send_to_receiver_contract() {
    let mut s = setup();
    s.app
        .execute_contract(
            s.alice.clone(),
            s.token.clone(),
            &ExecuteMsg::Send {
                contract: s.receiver.to_string(),
                amount: Uint128::new(100_000),
                msg: payload("stake"),
            },
            &[],
        )
        .unwrap();
    assert_eq!(balance(&s, &s.alice), 900_000);
    assert_eq!(balance(&s, &s.receiver), 100_000);
    assert_eq!(
        received(&s),
        receiver::ReceivedResponse {
            total: Uint128::new(100_000),
            count: 1,
            last_sender: Some(s.alice.to_string()),
            last_msg: Some(payload("stake")),
        }
    );

    s.app
        .execute_contract(
            s.alice.clone(),
            s.token.clone(),
            &ExecuteMsg::Send {
                contract: s.receiver.to_string(),
                amount: Uint128::new(50_000),
                msg: payload("again"),
            },
            &[],
        )
        .unwrap();
    assert_eq!(balance(&s, &s.alice), 850_000);
    assert_eq!(balance(&s, &s.receiver), 150_000);
    let got = received(&s);
    assert_eq!(got.total, Uint128::new(150_000));
    assert_eq!(got.count, 2);
    assert_eq!(got.last_msg, Some(payload("again")));
}

#[test]
fn refused_send_is_rolled_back() {
    let mut s = setup();
    let err = s
        .app
        .execute_contract(
            s.alice.clone(),
            s.token.clone(),
            &ExecuteMsg::Send {
                contract: s.receiver.to_string(),
                amount: Uint128::new(100_000),
                msg: payload("fail"),
            },
            &[],
        )
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("receiver refused"),
        "unexpected error: {err:?}"
    );
    assert_eq!(balance(&s, &s.alice), 1_000_000);
    assert_eq!(balance(&s, &s.receiver), 0);
    assert_eq!(received(&s), receiver::ReceivedResponse::default());
}

#[test]
fn send_more_than_balance_fails() {
    let mut s = setup();
    s.app
        .execute_contract(
            s.bob.clone(),
            s.token.clone(),
            &ExecuteMsg::Send {
                contract: s.receiver.to_string(),
                amount: Uint128::new(11),
                msg: payload("stake"),
            },
            &[],
        )
        .unwrap_err();
    assert_eq!(balance(&s, &s.bob), 10);
    assert_eq!(received(&s).count, 0);
}

#[test]
fn send_from_with_allowance() {
    let mut s = setup();
    let (alice, bob) = (s.alice.clone(), s.bob.clone());
    let send_from = |amount: u128| ExecuteMsg::SendFrom {
        owner: alice.to_string(),
        contract: s.receiver.to_string(),
        amount: Uint128::new(amount),
        msg: payload("from"),
    };

    // No allowance yet.
    s.app
        .execute_contract(bob.clone(), s.token.clone(), &send_from(1), &[])
        .unwrap_err();
    assert_eq!(received(&s).count, 0);

    s.app
        .execute_contract(
            alice.clone(),
            s.token.clone(),
            &ExecuteMsg::IncreaseAllowance {
                spender: bob.to_string(),
                amount: Uint128::new(80_000),
                expires: None,
            },
            &[],
        )
        .unwrap();
    assert_eq!(allowance(&s, &alice, &bob), 80_000);

    s.app
        .execute_contract(bob.clone(), s.token.clone(), &send_from(60_000), &[])
        .unwrap();
    assert_eq!(balance(&s, &alice), 940_000);
    assert_eq!(balance(&s, &bob), 10);
    assert_eq!(balance(&s, &s.receiver), 60_000);
    assert_eq!(allowance(&s, &alice, &bob), 20_000);
    assert_eq!(
        received(&s),
        receiver::ReceivedResponse {
            total: Uint128::new(60_000),
            count: 1,
            // cw20 reports the spender as the sender of a SendFrom.
            last_sender: Some(bob.to_string()),
            last_msg: Some(payload("from")),
        }
    );

    // Beyond the remaining allowance: refused, nothing moves.
    s.app
        .execute_contract(bob.clone(), s.token.clone(), &send_from(20_001), &[])
        .unwrap_err();
    assert_eq!(balance(&s, &alice), 940_000);
    assert_eq!(allowance(&s, &alice, &bob), 20_000);
    assert_eq!(received(&s).total, Uint128::new(60_000));
}

#[test]
fn mint_up_to_cap_and_migrate_through_the_chain() {
    let mut s = setup();
    let mint = |amount: u128| ExecuteMsg::Mint {
        recipient: s.bob.to_string(),
        amount: Uint128::new(amount),
    };
    // Supply 1_000_010, cap 10_000_000: 8_999_990 can still be minted, not one more.
    s.app
        .execute_contract(s.admin.clone(), s.token.clone(), &mint(8_999_991), &[])
        .unwrap_err();
    s.app
        .execute_contract(s.admin.clone(), s.token.clone(), &mint(8_999_990), &[])
        .unwrap();
    let info: TokenInfoResponse = s
        .app
        .wrap()
        .query_wasm_smart(&s.token, &QueryMsg::TokenInfo {})
        .unwrap();
    assert_eq!(info.total_supply, Uint128::new(10_000_000));
    assert_eq!(balance(&s, &s.bob), 9_000_000);

    let version = cw2::query_contract_info(&s.app.wrap(), s.token.to_string()).unwrap();
    assert_eq!(version.contract, "crates.io:nrn-token");
    assert_eq!(version.version, env!("CARGO_PKG_VERSION"));
    let res = s
        .app
        .migrate_contract(
            s.admin.clone(),
            s.token.clone(),
            &MigrateMsg {},
            s.token_code,
        )
        .unwrap();
    assert!(res.events.iter().any(|e| e
        .attributes
        .iter()
        .any(|a| a.key == "action" && a.value == "migrate")));
    // Balances survive the migration.
    assert_eq!(balance(&s, &s.bob), 9_000_000);
}
