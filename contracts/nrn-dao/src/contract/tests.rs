//! Unit tests with mock dependencies; the staking contract is a mocked wasm
//! querier that answers `TotalStake` and `VotingPower` from a list of bonds.

use std::cell::Cell;
use std::marker::PhantomData;

use cosmwasm_std::testing::{message_info, mock_env, MockApi, MockQuerier, MockStorage};
use cosmwasm_std::{
    attr, coins, from_json, to_json_binary, Binary, ContractResult as QueryContractResult,
    OwnedDeps, QuerierResult, QuerierWrapper, Record, StdError, SubMsg, SystemError, SystemResult,
    WasmQuery,
};
use cw2::get_contract_version;
use um_bindings::migrate::MigrateError;
use um_bindings::{CodeUploadAccess, RoundParams};

use super::*;
use crate::state::compare_ratio;

type TestDeps = OwnedDeps<MockStorage, MockApi, MockQuerier<UmQuery>, UmQuery>;

const PERIOD: u64 = 100;
const DEPOSIT: u128 = 1_000;
/// Total supply of the mocked token.
const SUPPLY: u128 = 1_000_000;
/// Height at which the tests create their proposals.
const START: u64 = 1_000;
/// Height at which the default stakes were bonded.
const BONDED_AT: u64 = 10;

struct Users {
    token: Addr,
    staking: Addr,
    /// 400 staked.
    alice: Addr,
    /// 300 staked.
    bob: Addr,
    /// 200 staked.
    carol: Addr,
    /// 100 staked.
    erin: Addr,
    /// Proposer, no stake.
    dave: Addr,
}

/// A bond of `amount` by `address` made in block `height` (so it counts
/// from the start of block `height + 1` on).
#[derive(Clone)]
struct Bond {
    address: String,
    amount: u128,
    height: u64,
}

/// Mocks the staking contract at `staking` with `bonds`, and the token with
/// a total supply of [`SUPPLY`].
fn set_bonds(deps: &mut TestDeps, staking: &Addr, bonds: Vec<Bond>) {
    set_contracts(deps, staking, bonds, SUPPLY);
}

/// Mocks the staking contract at `staking` with `bonds`, and the token
/// (`TokenInfo` only) with a total supply of `supply`. `TotalStake` without
/// a height is refused, so a DAO that asks for the current stake fails.
fn set_contracts(deps: &mut TestDeps, staking: &Addr, bonds: Vec<Bond>, supply: u128) {
    let staking = staking.to_string();
    let token = deps.api.addr_make("nrn-token").to_string();
    deps.querier
        .update_wasm(move |query: &WasmQuery| -> QuerierResult {
            let (contract_addr, msg) = match query {
                WasmQuery::Smart { contract_addr, msg } => (contract_addr, msg),
                _ => {
                    return SystemResult::Err(SystemError::UnsupportedRequest {
                        kind: "only smart queries".to_string(),
                    })
                }
            };
            if *contract_addr == token {
                return match from_json::<Cw20QueryMsg>(msg) {
                    Ok(Cw20QueryMsg::TokenInfo {}) => SystemResult::Ok(
                        to_json_binary(&TokenInfoResponse {
                            name: "Neuron".to_string(),
                            symbol: "NRN".to_string(),
                            decimals: 6,
                            total_supply: Uint128::new(supply),
                        })
                        .into(),
                    ),
                    other => SystemResult::Ok(QueryContractResult::Err(format!(
                        "mock token does not answer {other:?}"
                    ))),
                };
            }
            if *contract_addr != staking {
                return SystemResult::Err(SystemError::NoSuchContract {
                    addr: contract_addr.clone(),
                });
            }
            let stake_at = |address: Option<&str>, height: u64| -> Uint128 {
                Uint128::new(
                    bonds
                        .iter()
                        .filter(|b| b.height < height && address.is_none_or(|a| a == b.address))
                        .map(|b| b.amount)
                        .sum(),
                )
            };
            let answer = match from_json::<StakingQueryMsg>(msg) {
                Ok(StakingQueryMsg::TotalStake {
                    height: Some(height),
                }) => to_json_binary(&TotalStakeResponse {
                    total: stake_at(None, height),
                }),
                Ok(StakingQueryMsg::VotingPower { address, height }) => {
                    to_json_binary(&VotingPowerResponse {
                        power: stake_at(Some(&address), height),
                        address,
                        height,
                    })
                }
                other => {
                    return SystemResult::Ok(QueryContractResult::Err(format!(
                        "mock staking does not answer {other:?}"
                    )))
                }
            };
            SystemResult::Ok(answer.into())
        });
}

fn default_bonds(u: &Users) -> Vec<Bond> {
    [
        (&u.alice, 400),
        (&u.bob, 300),
        (&u.carol, 200),
        (&u.erin, 100),
    ]
    .into_iter()
    .map(|(addr, amount)| Bond {
        address: addr.to_string(),
        amount,
        height: BONDED_AT,
    })
    .collect()
}

fn instantiate_msg(u: &Users, deposit: u128) -> InstantiateMsg {
    InstantiateMsg {
        token: u.token.to_string(),
        staking: u.staking.to_string(),
        quorum: Decimal::percent(30),
        threshold: Decimal::percent(50),
        veto_threshold: Decimal::permille(334),
        voting_period_blocks: PERIOD,
        proposal_deposit: Uint128::new(deposit),
        execution_period_blocks: None,
    }
}

fn new_deps() -> (TestDeps, Users) {
    let mut deps = OwnedDeps {
        storage: MockStorage::default(),
        api: MockApi::default(),
        querier: MockQuerier::<UmQuery>::new(&[]),
        custom_query_type: PhantomData,
    };
    let api = deps.api;
    let u = Users {
        token: api.addr_make("nrn-token"),
        staking: api.addr_make("nrn-staking"),
        alice: api.addr_make("alice"),
        bob: api.addr_make("bob"),
        carol: api.addr_make("carol"),
        erin: api.addr_make("erin"),
        dave: api.addr_make("dave"),
    };
    let bonds = default_bonds(&u);
    set_bonds(&mut deps, &u.staking, bonds);
    (deps, u)
}

fn setup_with_deposit(deposit: u128) -> (TestDeps, Users) {
    let (mut deps, u) = new_deps();
    let creator = deps.api.addr_make("creator");
    instantiate(
        deps.as_mut(),
        env_at(1),
        message_info(&creator, &[]),
        instantiate_msg(&u, deposit),
    )
    .unwrap();
    let bonds = default_bonds(&u);
    set_bonds(&mut deps, &u.staking, bonds);
    (deps, u)
}

fn setup() -> (TestDeps, Users) {
    setup_with_deposit(DEPOSIT)
}

fn env_at(height: u64) -> Env {
    let mut env = mock_env();
    env.block.height = height;
    env
}

fn hyperparams() -> Hyperparams {
    Hyperparams {
        learning_rate: Decimal::permille(5),
        batch_size: 64,
        local_steps: 20,
        verification_tolerance: Decimal::percent(1),
        min_improvement: Decimal::permille(2),
        reward_per_update: Uint128::new(5_000_000),
        reward_halving_interval: 1_000,
    }
}

fn set_hyperparams() -> ProposalAction {
    ProposalAction::SetHyperparams {
        model_id: "mnist-mlp".to_string(),
        hyperparams: hyperparams(),
    }
}

/// The token's `Receive` for a deposit of `amount` by `proposer`.
fn receive_msg(proposer: &Addr, amount: u128, action: ProposalAction) -> ExecuteMsg {
    ExecuteMsg::Receive(Cw20ReceiveMsg {
        sender: proposer.to_string(),
        amount: Uint128::new(amount),
        msg: to_json_binary(&ReceiveMsg::Propose {
            title: "Tune mnist".to_string(),
            description: "Smaller learning rate".to_string(),
            action,
        })
        .unwrap(),
    })
}

fn exec(deps: &mut TestDeps, sender: &Addr, msg: ExecuteMsg, height: u64) -> ContractResult {
    execute(
        deps.as_mut(),
        env_at(height),
        message_info(sender, &[]),
        msg,
    )
}

/// dave proposes `action` at `START` with the right deposit; returns the id.
fn propose_ok(deps: &mut TestDeps, u: &Users, action: ProposalAction) -> u64 {
    let res = exec(
        deps,
        &u.token.clone(),
        receive_msg(&u.dave, DEPOSIT, action),
        START,
    )
    .unwrap();
    let id = res
        .attributes
        .iter()
        .find(|a| a.key == "proposal_id")
        .map(|a| a.value.parse().unwrap())
        .unwrap();
    id
}

fn vote(
    deps: &mut TestDeps,
    voter: &Addr,
    proposal_id: u64,
    vote: VoteOption,
    height: u64,
) -> ContractResult {
    exec(deps, voter, ExecuteMsg::Vote { proposal_id, vote }, height)
}

fn proposal(deps: &TestDeps, proposal_id: u64, height: u64) -> ProposalResponse {
    from_json(
        query(
            deps.as_ref(),
            env_at(height),
            QueryMsg::Proposal { proposal_id },
        )
        .unwrap(),
    )
    .unwrap()
}

fn config(deps: &TestDeps) -> Config {
    from_json(query(deps.as_ref(), env_at(START), QueryMsg::Config {}).unwrap()).unwrap()
}

fn token_msg_of(u: &Users, msg: Cw20ExecuteMsg) -> SubMsg<UmMsg> {
    SubMsg::new(CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr: u.token.to_string(),
        msg: to_json_binary(&msg).unwrap(),
        funds: vec![],
    }))
}

fn refund(u: &Users) -> SubMsg<UmMsg> {
    token_msg_of(
        u,
        Cw20ExecuteMsg::Transfer {
            recipient: u.dave.to_string(),
            amount: Uint128::new(DEPOSIT),
        },
    )
}

const END: u64 = START + PERIOD;

// ---------------------------------------------------------------- instantiate

#[test]
fn instantiate_stores_config_and_cw2() {
    let (deps, u) = setup();
    assert_eq!(
        config(&deps),
        Config {
            token: u.token.clone(),
            staking: u.staking.clone(),
            quorum: Decimal::percent(30),
            threshold: Decimal::percent(50),
            veto_threshold: Decimal::permille(334),
            voting_period_blocks: PERIOD,
            proposal_deposit: Uint128::new(DEPOSIT),
            execution_period_blocks: crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS,
        }
    );
    let version = get_contract_version(&deps.storage).unwrap();
    assert_eq!(version.contract, "crates.io:nrn-dao");
    assert_eq!(version.version, CONTRACT_VERSION);
}

#[test]
fn instantiate_refuses_invalid_config_and_funds() {
    let (mut deps, u) = new_deps();
    let creator = deps.api.addr_make("creator");
    type Edit = Box<dyn Fn(&mut InstantiateMsg)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("quorum", Box::new(|m| m.quorum = Decimal::zero())),
        ("quorum", Box::new(|m| m.quorum = Decimal::permille(49))),
        ("quorum", Box::new(|m| m.quorum = Decimal::percent(101))),
        ("threshold", Box::new(|m| m.threshold = Decimal::zero())),
        (
            "threshold",
            Box::new(|m| m.threshold = Decimal::permille(499)),
        ),
        ("threshold", Box::new(|m| m.threshold = Decimal::one())),
        (
            "veto_threshold",
            Box::new(|m| m.veto_threshold = Decimal::zero()),
        ),
        (
            "veto_threshold",
            Box::new(|m| m.veto_threshold = Decimal::permille(99)),
        ),
        (
            "veto_threshold",
            Box::new(|m| m.veto_threshold = Decimal::percent(150)),
        ),
        (
            "voting_period_blocks",
            Box::new(|m| m.voting_period_blocks = 0),
        ),
        (
            "voting_period_blocks",
            Box::new(|m| m.voting_period_blocks = 1_000_001),
        ),
        (
            "voting_period_blocks",
            Box::new(|m| m.voting_period_blocks = u64::MAX),
        ),
        (
            "execution_period_blocks",
            Box::new(|m| m.execution_period_blocks = Some(99)),
        ),
        (
            "execution_period_blocks",
            Box::new(|m| m.execution_period_blocks = Some(1_000_001)),
        ),
        (
            "proposal_deposit",
            Box::new(|m| m.proposal_deposit = Uint128::new(SUPPLY + 1)),
        ),
    ];
    for (field, edit) in cases {
        let mut msg = instantiate_msg(&u, DEPOSIT);
        edit(&mut msg);
        let err =
            instantiate(deps.as_mut(), env_at(1), message_info(&creator, &[]), msg).unwrap_err();
        assert!(
            matches!(&err, ContractError::InvalidConfig { field: f, .. } if f == field),
            "{field}: {err:?}"
        );
    }

    let mut msg = instantiate_msg(&u, DEPOSIT);
    msg.staking = "not-an-address".to_string();
    let err = instantiate(deps.as_mut(), env_at(1), message_info(&creator, &[]), msg).unwrap_err();
    assert!(matches!(err, ContractError::Std(_)), "{err:?}");

    let err = instantiate(
        deps.as_mut(),
        env_at(1),
        message_info(&creator, &coins(5, "unrn")),
        instantiate_msg(&u, DEPOSIT),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::Payment(_)), "{err:?}");

    // Bounds themselves are accepted: quorum 1, veto threshold 1, the
    // longest periods, the whole supply as deposit ...
    let mut msg = instantiate_msg(&u, SUPPLY);
    msg.quorum = Decimal::one();
    msg.veto_threshold = Decimal::one();
    msg.voting_period_blocks = 1_000_000;
    msg.execution_period_blocks = Some(1_000_000);
    instantiate(deps.as_mut(), env_at(1), message_info(&creator, &[]), msg).unwrap();
    // ... and the lowest ones.
    let mut msg = instantiate_msg(&u, 0);
    msg.quorum = Decimal::percent(5);
    msg.threshold = Decimal::percent(50);
    msg.veto_threshold = Decimal::percent(10);
    msg.voting_period_blocks = 1;
    msg.execution_period_blocks = Some(100);
    instantiate(deps.as_mut(), env_at(1), message_info(&creator, &[]), msg).unwrap();
    assert_eq!(config(&deps).execution_period_blocks, 100);
}

// ---------------------------------------------------------------- propose

#[test]
fn propose_with_exact_deposit_records_snapshot() {
    let (mut deps, u) = setup();
    let token = u.token.clone();
    let res = exec(
        &mut deps,
        &token,
        receive_msg(&u.dave, DEPOSIT, set_hyperparams()),
        START,
    )
    .unwrap();
    assert!(res.messages.is_empty());
    assert_eq!(
        res.attributes,
        vec![
            attr("action", "propose"),
            attr("proposal_id", "1"),
            attr("sender", u.dave.to_string()),
            attr("proposal_action", "set_hyperparams"),
            attr("status", "open"),
            attr("start_height", START.to_string()),
            attr("end_height", END.to_string()),
            attr("total_stake", "1000"),
            attr("deposit", DEPOSIT.to_string()),
        ]
    );
    assert_eq!(
        proposal(&deps, 1, START),
        ProposalResponse {
            id: 1,
            title: "Tune mnist".to_string(),
            description: "Smaller learning rate".to_string(),
            proposer: u.dave.clone(),
            action: set_hyperparams(),
            status: Status::Open,
            start_height: START,
            end_height: END,
            total_stake: Uint128::new(1_000),
            deposit: Uint128::new(DEPOSIT),
            quorum: Decimal::percent(30),
            threshold: Decimal::percent(50),
            veto_threshold: Decimal::permille(334),
            votes: Tally::default(),
            closed: false,
            execution_end_height: END + crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS,
            execution_error: None,
        }
    );
    // Ids count up.
    assert_eq!(propose_ok(&mut deps, &u, set_hyperparams()), 2);
}

#[test]
fn total_stake_is_taken_at_the_start_of_the_start_block() {
    let (mut deps, u) = setup();
    let mut bonds = default_bonds(&u);
    // Bonded in the proposal's block and after: not in the snapshot.
    for height in [START, START + 1] {
        bonds.push(Bond {
            address: u.dave.to_string(),
            amount: 5_000,
            height,
        });
    }
    // Bonded the block before: in the snapshot.
    bonds.push(Bond {
        address: u.dave.to_string(),
        amount: 7,
        height: START - 1,
    });
    set_bonds(&mut deps, &u.staking, bonds);
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    assert_eq!(proposal(&deps, id, START).total_stake, Uint128::new(1_007));
}

#[test]
fn propose_refuses_wrong_token_and_wrong_amount() {
    let (mut deps, u) = setup();
    let fake = deps.api.addr_make("fake-token");
    let err = exec(
        &mut deps,
        &fake,
        receive_msg(&u.dave, DEPOSIT, set_hyperparams()),
        START,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::WrongToken {
            expected: u.token.to_string(),
            found: fake.to_string(),
        }
    );

    let token = u.token.clone();
    for amount in [DEPOSIT - 1, DEPOSIT + 1] {
        let err = exec(
            &mut deps,
            &token,
            receive_msg(&u.dave, amount, set_hyperparams()),
            START,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ContractError::WrongDeposit {
                expected: Uint128::new(DEPOSIT),
                received: Uint128::new(amount),
            }
        );
    }

    // A hook that is not a ReceiveMsg.
    let err = exec(
        &mut deps,
        &token,
        ExecuteMsg::Receive(Cw20ReceiveMsg {
            sender: u.dave.to_string(),
            amount: Uint128::new(DEPOSIT),
            msg: to_json_binary(&"bond").unwrap(),
        }),
        START,
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::Std(_)), "{err:?}");

    // Without a deposit while one is required.
    let err = exec(
        &mut deps,
        &u.dave.clone(),
        ExecuteMsg::Propose {
            title: "t".to_string(),
            description: String::new(),
            action: set_hyperparams(),
        },
        START,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::DepositRequired {
            deposit: Uint128::new(DEPOSIT)
        }
    );

    // Native funds are refused.
    let err = execute(
        deps.as_mut(),
        env_at(START),
        message_info(&token, &coins(1, "unrn")),
        receive_msg(&u.dave, DEPOSIT, set_hyperparams()),
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::Payment(_)), "{err:?}");

    // Nothing was stored.
    let list: ProposalListResponse = from_json(
        query(
            deps.as_ref(),
            env_at(START),
            QueryMsg::ListProposals {
                start_after: None,
                limit: None,
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(list.proposals.is_empty());
}

#[test]
fn propose_refuses_invalid_actions() {
    let (mut deps, u) = setup();
    let token = u.token.clone();
    let mut try_propose = |action: ProposalAction| {
        exec(
            &mut deps,
            &token,
            receive_msg(&u.dave, DEPOSIT, action),
            START,
        )
        .unwrap_err()
    };

    let mut bad = hyperparams();
    bad.batch_size = 0;
    assert_eq!(
        try_propose(ProposalAction::SetHyperparams {
            model_id: "mnist-mlp".to_string(),
            hyperparams: bad.clone(),
        }),
        ContractError::InvalidHyperparams {
            reason: "batch_size must be between 1 and 65536".to_string()
        }
    );
    let mut zero_lr = hyperparams();
    zero_lr.learning_rate = Decimal::zero();
    assert_eq!(
        try_propose(ProposalAction::NewModelLineage {
            model_id: "mnist-cnn".to_string(),
            spec: "{\"layers\":[]}".to_string(),
            hyperparams: zero_lr,
            dataset_id: None,
        }),
        ContractError::InvalidHyperparams {
            reason: "learning_rate must be positive".to_string()
        }
    );
    assert!(matches!(
        try_propose(ProposalAction::SetHyperparams {
            model_id: " ".to_string(),
            hyperparams: hyperparams(),
        }),
        ContractError::InvalidProposal { .. }
    ));
    assert!(matches!(
        try_propose(ProposalAction::SetHyperparams {
            model_id: "mnist mlp".to_string(),
            hyperparams: hyperparams(),
        }),
        ContractError::InvalidProposal { .. }
    ));
    assert!(matches!(
        try_propose(ProposalAction::NewModelLineage {
            model_id: "mnist-cnn".to_string(),
            spec: String::new(),
            hyperparams: hyperparams(),
            dataset_id: None,
        }),
        ContractError::InvalidProposal { .. }
    ));
    assert_eq!(
        try_propose(ProposalAction::UpdateDaoConfig {
            quorum: None,
            threshold: None,
            veto_threshold: None,
            voting_period_blocks: None,
            proposal_deposit: None,
            execution_period_blocks: None,
        }),
        ContractError::EmptyUpdate {}
    );
    assert_eq!(
        try_propose(ProposalAction::UpdateDaoConfig {
            quorum: None,
            threshold: Some(Decimal::percent(100)),
            veto_threshold: None,
            voting_period_blocks: None,
            proposal_deposit: None,
            execution_period_blocks: None,
        }),
        ContractError::InvalidConfig {
            field: "threshold".to_string(),
            reason: "must be at least 0.5 and below 1".to_string(),
        }
    );
    assert!(matches!(
        try_propose(ProposalAction::UpdateDaoConfig {
            quorum: Some(Decimal::percent(120)),
            threshold: None,
            veto_threshold: None,
            voting_period_blocks: None,
            proposal_deposit: None,
            execution_period_blocks: None,
        }),
        ContractError::InvalidConfig { .. }
    ));
    assert_eq!(
        try_propose(ProposalAction::UpdateStakingConfig {
            min_trainer_stake: None,
            min_validator_stake: None,
            unbonding_period_blocks: None,
            max_validators: None,
        }),
        ContractError::EmptyUpdate {}
    );

    // An empty title.
    let err = exec(
        &mut deps,
        &u.token.clone(),
        ExecuteMsg::Receive(Cw20ReceiveMsg {
            sender: u.dave.to_string(),
            amount: Uint128::new(DEPOSIT),
            msg: to_json_binary(&ReceiveMsg::Propose {
                title: "  ".to_string(),
                description: String::new(),
                action: set_hyperparams(),
            })
            .unwrap(),
        }),
        START,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::InvalidProposal {
            reason: "title must not be empty".to_string()
        }
    );
}

#[test]
fn propose_refuses_when_nothing_is_staked() {
    let (mut deps, u) = setup();
    set_bonds(&mut deps, &u.staking, vec![]);
    let err = exec(
        &mut deps,
        &u.token.clone(),
        receive_msg(&u.dave, DEPOSIT, set_hyperparams()),
        START,
    )
    .unwrap_err();
    assert_eq!(err, ContractError::NoStake {});
}

#[test]
fn direct_propose_only_without_deposit() {
    let (mut deps, u) = setup_with_deposit(0);
    let res = exec(
        &mut deps,
        &u.erin.clone(),
        ExecuteMsg::Propose {
            title: "Accept delta 7".to_string(),
            description: String::new(),
            action: ProposalAction::AcceptDatasetDelta { delta_id: 7 },
        },
        START,
    )
    .unwrap();
    assert!(res.attributes.contains(&attr("deposit", "0")));
    let p = proposal(&deps, 1, START);
    assert_eq!(p.proposer, u.erin);
    assert_eq!(p.deposit, Uint128::zero());

    // Passed and executed: the chain message, and no zero-amount refund.
    let erin = u.erin.clone();
    vote(&mut deps, &erin, 1, VoteOption::Yes, START).unwrap();
    vote(&mut deps, &u.alice.clone(), 1, VoteOption::Yes, START).unwrap();
    let res = exec(
        &mut deps,
        &erin,
        ExecuteMsg::Execute { proposal_id: 1 },
        END,
    )
    .unwrap();
    assert_eq!(
        res.messages,
        vec![SubMsg::reply_on_error(
            CosmosMsg::Custom(UmMsg::AcceptDatasetDelta { delta_id: 7 }),
            1
        )]
    );
}

// ---------------------------------------------------------------- vote

#[test]
fn votes_are_weighted_by_stake_at_the_start() {
    let (mut deps, u) = setup();
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    let res = vote(&mut deps, &u.alice.clone(), id, VoteOption::Yes, START).unwrap();
    assert_eq!(
        res.attributes,
        vec![
            attr("action", "vote"),
            attr("proposal_id", "1"),
            attr("sender", u.alice.to_string()),
            attr("vote", "yes"),
            attr("weight", "400"),
            attr("status", "open"),
        ]
    );
    vote(&mut deps, &u.bob.clone(), id, VoteOption::No, START + 1).unwrap();
    vote(
        &mut deps,
        &u.carol.clone(),
        id,
        VoteOption::Abstain,
        START + 2,
    )
    .unwrap();
    // The last block of the voting period still counts.
    vote(&mut deps, &u.erin.clone(), id, VoteOption::Veto, END - 1).unwrap();

    let p = proposal(&deps, id, END - 1);
    assert_eq!(p.status, Status::Open);
    assert_eq!(
        p.votes,
        Tally {
            yes: Uint128::new(400),
            no: Uint128::new(300),
            abstain: Uint128::new(200),
            veto: Uint128::new(100),
        }
    );

    let res: VoteResponse = from_json(
        query(
            deps.as_ref(),
            env_at(START),
            QueryMsg::Vote {
                proposal_id: id,
                voter: u.bob.to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        res.vote,
        Some(VoteInfo {
            voter: u.bob.clone(),
            vote: VoteOption::No,
            weight: Uint128::new(300),
        })
    );
    let res: VoteResponse = from_json(
        query(
            deps.as_ref(),
            env_at(START),
            QueryMsg::Vote {
                proposal_id: id,
                voter: u.dave.to_string(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(res.vote, None);

    // ListVotes: ascending by address, paginated.
    let mut expected: Vec<(Addr, VoteOption, u128)> = vec![
        (u.alice.clone(), VoteOption::Yes, 400),
        (u.bob.clone(), VoteOption::No, 300),
        (u.carol.clone(), VoteOption::Abstain, 200),
        (u.erin.clone(), VoteOption::Veto, 100),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let list_votes = |start_after: Option<String>, limit: Option<u32>| -> Vec<VoteInfo> {
        let res: VoteListResponse = from_json(
            query(
                deps.as_ref(),
                env_at(START),
                QueryMsg::ListVotes {
                    proposal_id: id,
                    start_after,
                    limit,
                },
            )
            .unwrap(),
        )
        .unwrap();
        res.votes
    };
    let all = list_votes(None, None);
    assert_eq!(
        all,
        expected
            .iter()
            .map(|(voter, vote, weight)| VoteInfo {
                voter: voter.clone(),
                vote: *vote,
                weight: Uint128::new(*weight),
            })
            .collect::<Vec<_>>()
    );
    let first = list_votes(None, Some(2));
    assert_eq!(first, all[..2].to_vec());
    let rest = list_votes(Some(first[1].voter.to_string()), Some(2));
    assert_eq!(rest, all[2..].to_vec());
}

#[test]
fn voting_twice_is_refused() {
    let (mut deps, u) = setup();
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    let alice = u.alice.clone();
    vote(&mut deps, &alice, id, VoteOption::Yes, START).unwrap();
    for option in [VoteOption::Yes, VoteOption::No] {
        let err = vote(&mut deps, &alice, id, option, START + 1).unwrap_err();
        assert_eq!(
            err,
            ContractError::AlreadyVoted {
                id,
                voter: alice.to_string()
            }
        );
    }
    let p = proposal(&deps, id, START);
    assert_eq!(p.votes.yes, Uint128::new(400));
    assert_eq!(p.votes.no, Uint128::zero());
}

#[test]
fn stake_bonded_at_or_after_the_start_gives_no_power() {
    let (mut deps, u) = setup();
    let mut bonds = default_bonds(&u);
    bonds.push(Bond {
        address: u.dave.to_string(),
        amount: 10_000,
        height: START,
    });
    bonds.push(Bond {
        address: u.alice.to_string(),
        amount: 10_000,
        height: START + 1,
    });
    set_bonds(&mut deps, &u.staking, bonds);
    let id = propose_ok(&mut deps, &u, set_hyperparams());

    // dave bonded in the proposal's own block: no power.
    let err = vote(&mut deps, &u.dave.clone(), id, VoteOption::Yes, START + 2).unwrap_err();
    assert_eq!(
        err,
        ContractError::NoVotingPower {
            voter: u.dave.to_string(),
            height: START
        }
    );
    // Nobody-at-all: no power either.
    let stranger = deps.api.addr_make("stranger");
    let err = vote(&mut deps, &stranger, id, VoteOption::Yes, START).unwrap_err();
    assert!(matches!(err, ContractError::NoVotingPower { .. }));
    // alice's later bond does not add to her weight.
    vote(&mut deps, &u.alice.clone(), id, VoteOption::Yes, START + 2).unwrap();
    assert_eq!(proposal(&deps, id, START).votes.yes, Uint128::new(400));
}

#[test]
fn voting_after_the_period_or_on_unknown_proposals_is_refused() {
    let (mut deps, u) = setup();
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    let err = vote(&mut deps, &u.alice.clone(), id, VoteOption::Yes, END).unwrap_err();
    assert_eq!(
        err,
        ContractError::VotingClosed {
            id,
            end_height: END
        }
    );
    let err = vote(&mut deps, &u.alice.clone(), 9, VoteOption::Yes, START).unwrap_err();
    assert_eq!(err, ContractError::ProposalNotFound { id: 9 });
    let err = query(
        deps.as_ref(),
        env_at(START),
        QueryMsg::Proposal { proposal_id: 9 },
    )
    .unwrap_err();
    assert_eq!(err, ContractError::ProposalNotFound { id: 9 });
}

// ---------------------------------------------------------------- outcomes

/// Stakes: alice 400, bob 300, carol 200, erin 100 (total 1000); quorum 30%,
/// threshold 50% (strictly above), veto 33.4%.
#[test]
fn outcomes_at_the_end_of_the_period() {
    use VoteOption::*;
    let (_, u) = new_deps();
    type Case<'a> = (&'a str, Vec<(&'a Addr, VoteOption)>, Status);
    let cases: Vec<Case> = vec![
        ("all yes", vec![(&u.alice, Yes)], Status::Passed),
        ("no votes", vec![], Status::Rejected),
        (
            "below quorum though unanimous",
            vec![(&u.carol, Yes)],
            Status::Rejected,
        ),
        ("quorum exactly met", vec![(&u.bob, Yes)], Status::Passed),
        (
            "abstain counts for quorum only",
            vec![(&u.carol, Abstain), (&u.erin, Yes)],
            Status::Passed,
        ),
        ("only abstain", vec![(&u.alice, Abstain)], Status::Rejected),
        (
            "yes exactly half: not above the threshold",
            vec![(&u.alice, Yes), (&u.bob, No), (&u.erin, No)],
            Status::Rejected,
        ),
        (
            "majority no",
            vec![(&u.alice, No), (&u.bob, Yes)],
            Status::Rejected,
        ),
        (
            "vetoed despite a yes majority",
            vec![(&u.alice, Yes), (&u.bob, Veto), (&u.erin, Yes)],
            Status::Vetoed,
        ),
        (
            "veto below its threshold",
            vec![
                (&u.alice, Yes),
                (&u.bob, Yes),
                (&u.carol, No),
                (&u.erin, Veto),
            ],
            Status::Passed,
        ),
        (
            "veto votes count against the yes share",
            // veto 100 / cast 800 < 33.4%; yes 400 / (400 + 300 + 100) = 50%:
            // not above (it would be without the veto votes).
            vec![(&u.alice, Yes), (&u.bob, No), (&u.erin, Veto)],
            Status::Rejected,
        ),
    ];
    for (name, votes, expected) in cases {
        let (mut deps, u2) = setup();
        let id = propose_ok(&mut deps, &u2, set_hyperparams());
        for (voter, option) in votes {
            vote(&mut deps, voter, id, option, START + 1).unwrap();
        }
        assert_eq!(proposal(&deps, id, END - 1).status, Status::Open, "{name}");
        assert_eq!(proposal(&deps, id, END).status, expected, "{name}");
        assert_eq!(proposal(&deps, id, END + 1_000).status, expected, "{name}");
    }
}

#[test]
fn ratio_comparison_is_exact() {
    use std::cmp::Ordering::*;
    let n = Uint128::new;
    assert_eq!(compare_ratio(n(1), n(2), Decimal::percent(50)), Equal);
    assert_eq!(
        compare_ratio(n(501), n(1000), Decimal::percent(50)),
        Greater
    );
    assert_eq!(
        compare_ratio(n(334), n(1000), Decimal::permille(334)),
        Equal
    );
    assert_eq!(compare_ratio(n(333), n(1000), Decimal::permille(334)), Less);
    // No overflow with the largest amounts.
    assert_eq!(
        compare_ratio(Uint128::MAX, Uint128::MAX, Decimal::one()),
        Equal
    );
    assert_eq!(
        compare_ratio(Uint128::MAX - n(1), Uint128::MAX, Decimal::one()),
        Less
    );
    // A zero denominator is a zero ratio.
    assert_eq!(compare_ratio(n(0), n(0), Decimal::percent(1)), Less);
    assert_eq!(compare_ratio(n(0), n(0), Decimal::zero()), Equal);
}

// ---------------------------------------------------------------- execute

fn passed_proposal(deps: &mut TestDeps, u: &Users, action: ProposalAction) -> u64 {
    let id = propose_ok(deps, u, action);
    vote(deps, &u.alice.clone(), id, VoteOption::Yes, START + 1).unwrap();
    vote(deps, &u.bob.clone(), id, VoteOption::Yes, START + 1).unwrap();
    id
}

#[test]
fn execute_emits_set_hyperparams_and_refunds_the_deposit() {
    let (mut deps, u) = setup();
    let id = passed_proposal(&mut deps, &u, set_hyperparams());
    assert_eq!(proposal(&deps, id, END).status, Status::Passed);

    let keeper = deps.api.addr_make("keeper");
    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute { proposal_id: id },
        END,
    )
    .unwrap();
    assert_eq!(
        res.messages,
        vec![
            SubMsg::reply_on_error(
                CosmosMsg::Custom(UmMsg::SetHyperparams {
                    model_id: "mnist-mlp".to_string(),
                    hyperparams: hyperparams(),
                }),
                id
            ),
            refund(&u),
        ]
    );
    assert_eq!(
        res.attributes,
        vec![
            attr("action", "execute"),
            attr("proposal_id", id.to_string()),
            attr("sender", keeper.to_string()),
            attr("proposal_action", "set_hyperparams"),
            attr("status", "executed"),
            attr("deposit_refunded", DEPOSIT.to_string()),
        ]
    );
    assert_eq!(proposal(&deps, id, END).status, Status::Executed);

    // Only once.
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute { proposal_id: id },
        END + 1,
    )
    .unwrap_err();
    assert_eq!(err, ContractError::AlreadyExecuted { id });
    // And it cannot be closed afterwards.
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close { proposal_id: id },
        END + 1,
    )
    .unwrap_err();
    assert_eq!(err, ContractError::AlreadyExecuted { id });
}

#[test]
fn execute_refuses_open_rejected_vetoed_and_unknown() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let passed = passed_proposal(&mut deps, &u, set_hyperparams());
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute {
            proposal_id: passed,
        },
        END - 1,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::VotingOpen {
            id: passed,
            end_height: END
        }
    );

    let rejected = propose_ok(&mut deps, &u, set_hyperparams());
    vote(&mut deps, &u.alice.clone(), rejected, VoteOption::No, START).unwrap();
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute {
            proposal_id: rejected,
        },
        END,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::NotPassed {
            id: rejected,
            status: "rejected".to_string()
        }
    );

    let vetoed = propose_ok(&mut deps, &u, set_hyperparams());
    vote(&mut deps, &u.alice.clone(), vetoed, VoteOption::Veto, START).unwrap();
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute {
            proposal_id: vetoed,
        },
        END,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::NotPassed {
            id: vetoed,
            status: "vetoed".to_string()
        }
    );

    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute { proposal_id: 42 },
        END,
    )
    .unwrap_err();
    assert_eq!(err, ContractError::ProposalNotFound { id: 42 });

    // Nothing above marked the passed proposal executed.
    assert_eq!(proposal(&deps, passed, END).status, Status::Passed);
}

#[test]
fn execute_emits_the_other_chain_messages() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let cases = vec![
        (
            ProposalAction::AcceptDatasetDelta { delta_id: 3 },
            CosmosMsg::Custom(UmMsg::AcceptDatasetDelta { delta_id: 3 }),
        ),
        (
            ProposalAction::RejectDatasetDelta { delta_id: 4 },
            CosmosMsg::Custom(UmMsg::RejectDatasetDelta { delta_id: 4 }),
        ),
        (
            ProposalAction::NewModelLineage {
                model_id: "mnist-cnn".to_string(),
                spec: "{\"conv\":[8,16]}".to_string(),
                hyperparams: hyperparams(),
                dataset_id: None,
            },
            CosmosMsg::Custom(UmMsg::CreateModelLineage {
                model_id: "mnist-cnn".to_string(),
                spec: "{\"conv\":[8,16]}".to_string(),
                hyperparams: hyperparams(),
                dataset_id: None,
            }),
        ),
        (
            ProposalAction::UpdateStakingConfig {
                min_trainer_stake: Some(Uint128::new(77)),
                min_validator_stake: None,
                unbonding_period_blocks: Some(5),
                max_validators: Some(50),
            },
            CosmosMsg::Wasm(WasmMsg::Execute {
                contract_addr: u.staking.to_string(),
                msg: to_json_binary(&StakingExecuteMsg::UpdateConfig {
                    owner: None,
                    min_trainer_stake: Some(Uint128::new(77)),
                    min_validator_stake: None,
                    unbonding_period_blocks: Some(5),
                    max_validators: Some(50),
                })
                .unwrap(),
                funds: vec![],
            }),
        ),
        // Issue 13, finding 8: the genesis suite's admin is the DAO, so
        // migrating one of its contracts is a proposal like any other.
        (
            ProposalAction::MigrateContract {
                contract: u.staking.to_string(),
                new_code_id: 9,
                msg: Binary::from(b"{}".to_vec()),
            },
            CosmosMsg::Wasm(WasmMsg::Migrate {
                contract_addr: u.staking.to_string(),
                new_code_id: 9,
                msg: Binary::from(b"{}".to_vec()),
            }),
        ),
    ];
    for (action, expected) in cases {
        let id = passed_proposal(&mut deps, &u, action);
        let res = exec(
            &mut deps,
            &keeper,
            ExecuteMsg::Execute { proposal_id: id },
            END,
        )
        .unwrap();
        assert_eq!(
            res.messages,
            vec![SubMsg::reply_on_error(expected, id), refund(&u)]
        );
    }
}

#[test]
fn execute_emits_fee_and_code_upload_messages() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    // An account's 20 bytes: the chain lets only accounts upload.
    let account = cosmwasm_std::CanonicalAddr::from(vec![7u8; um_bindings::ACCOUNT_ADDRESS_LEN]);
    let uploader = cosmwasm_std::Api::addr_humanize(&deps.api, &account)
        .unwrap()
        .to_string();
    let wasm = Binary::from(b"\0asm\x01\0\0\0".to_vec());
    let cases = vec![
        (
            ProposalAction::SetFeeParams {
                min_gas_price: Some(Decimal::permille(25)),
                validator_reward_share: Some(Decimal::percent(10)),
                verification_fee: Some(Uint128::new(1_000)),
            },
            UmMsg::SetFeeParams {
                min_gas_price: Some(Decimal::permille(25)),
                validator_reward_share: Some(Decimal::percent(10)),
                verification_fee: Some(Uint128::new(1_000)),
            },
            "set_fee_params",
        ),
        // One field, and the bounds' edges: a zero gas price, the whole reward.
        (
            ProposalAction::SetFeeParams {
                min_gas_price: Some(Decimal::zero()),
                validator_reward_share: Some(Decimal::one()),
                verification_fee: None,
            },
            UmMsg::SetFeeParams {
                min_gas_price: Some(Decimal::zero()),
                validator_reward_share: Some(Decimal::one()),
                verification_fee: None,
            },
            "set_fee_params",
        ),
        (
            ProposalAction::SetCodeUploadAccess {
                access: CodeUploadAccess::DaoOnly,
            },
            UmMsg::SetCodeUploadAccess {
                access: CodeUploadAccess::DaoOnly,
            },
            "set_code_upload_access",
        ),
        (
            ProposalAction::SetCodeUploadAccess {
                access: CodeUploadAccess::AnyOf {
                    addresses: vec![uploader.clone()],
                },
            },
            UmMsg::SetCodeUploadAccess {
                access: CodeUploadAccess::AnyOf {
                    addresses: vec![uploader],
                },
            },
            "set_code_upload_access",
        ),
        (
            ProposalAction::SetCodeUploadAccess {
                access: CodeUploadAccess::Everybody,
            },
            UmMsg::SetCodeUploadAccess {
                access: CodeUploadAccess::Everybody,
            },
            "set_code_upload_access",
        ),
        (
            ProposalAction::SetRewardParams {
                version_supply_fraction: Some(Decimal::from_ratio(1u128, 100_000u128)),
                delta_supply_fraction: None,
                halving_blocks: Some(25_228_800),
            },
            UmMsg::SetRewardParams {
                version_supply_fraction: Some(Decimal::from_ratio(1u128, 100_000u128)),
                delta_supply_fraction: None,
                halving_blocks: Some(25_228_800),
            },
            "set_reward_params",
        ),
        (
            ProposalAction::SetRoyaltyRule { last_versions: 5 },
            UmMsg::SetRoyaltyRule { last_versions: 5 },
            "set_royalty_rule",
        ),
        (
            ProposalAction::StoreCode {
                wasm_byte_code: wasm.clone(),
            },
            UmMsg::StoreCode {
                wasm_byte_code: wasm,
            },
            "store_code",
        ),
    ];
    for (action, expected, kind) in cases {
        let id = passed_proposal(&mut deps, &u, action);
        let res = exec(
            &mut deps,
            &keeper,
            ExecuteMsg::Execute { proposal_id: id },
            END,
        )
        .unwrap();
        assert_eq!(
            res.messages,
            vec![
                SubMsg::reply_on_error(CosmosMsg::Custom(expected), id),
                refund(&u)
            ]
        );
        assert!(
            res.attributes.contains(&attr("proposal_action", kind)),
            "{:?}",
            res.attributes
        );
        assert_eq!(proposal(&deps, id, END).status, Status::Executed);
    }
}

#[test]
fn propose_refuses_invalid_fee_and_code_upload_actions() {
    let (mut deps, u) = setup();
    let token = u.token.clone();
    let mut try_propose = |action: ProposalAction| {
        exec(
            &mut deps,
            &token,
            receive_msg(&u.dave, DEPOSIT, action),
            START,
        )
        .unwrap_err()
    };

    assert_eq!(
        try_propose(ProposalAction::SetFeeParams {
            min_gas_price: None,
            validator_reward_share: None,
            verification_fee: None,
        }),
        ContractError::EmptyUpdate {}
    );
    assert_eq!(
        try_propose(ProposalAction::SetFeeParams {
            min_gas_price: Some(Decimal::permille(25)),
            validator_reward_share: Some(Decimal::percent(101)),
            verification_fee: None,
        }),
        ContractError::InvalidFeeParams {
            reason: "validator_reward_share must be at most 1".to_string()
        }
    );
    assert_eq!(
        try_propose(ProposalAction::SetFeeParams {
            min_gas_price: None,
            validator_reward_share: None,
            verification_fee: Some(Uint128::new(SUPPLY + 1)),
        }),
        ContractError::InvalidConfig {
            field: "verification_fee".to_string(),
            reason: format!(
                "{} is above the token's total supply of {SUPPLY}",
                SUPPLY + 1
            ),
        }
    );

    assert_eq!(
        try_propose(ProposalAction::SetRewardParams {
            version_supply_fraction: None,
            delta_supply_fraction: None,
            halving_blocks: None,
        }),
        ContractError::EmptyUpdate {}
    );
    let err = try_propose(ProposalAction::SetRewardParams {
        version_supply_fraction: None,
        delta_supply_fraction: Some(Decimal::percent(2)),
        halving_blocks: None,
    });
    assert!(
        matches!(err, ContractError::InvalidProposal { ref reason } if reason.contains("delta_supply_fraction")),
        "{err:?}"
    );

    for last_versions in [0, 101] {
        let err = try_propose(ProposalAction::SetRoyaltyRule { last_versions });
        assert!(
            matches!(err, ContractError::InvalidProposal { ref reason } if reason.contains("last_versions")),
            "{err:?}"
        );
    }

    assert!(matches!(
        try_propose(ProposalAction::SetCodeUploadAccess {
            access: CodeUploadAccess::AnyOf { addresses: vec![] },
        }),
        ContractError::InvalidProposal { .. }
    ));
    let err = try_propose(ProposalAction::SetCodeUploadAccess {
        access: CodeUploadAccess::AnyOf {
            addresses: vec!["not-an-address".to_string(), u.alice.to_string()],
        },
    });
    assert!(
        matches!(err, ContractError::InvalidProposal { ref reason } if reason.contains("not-an-address")),
        "{err:?}"
    );

    assert_eq!(
        try_propose(ProposalAction::StoreCode {
            wasm_byte_code: Binary::default(),
        }),
        ContractError::InvalidProposal {
            reason: "wasm_byte_code is empty".to_string()
        }
    );
    assert_eq!(
        try_propose(ProposalAction::StoreCode {
            wasm_byte_code: Binary::from(vec![0u8; MAX_WASM_BYTE_CODE_LEN + 1]),
        }),
        ContractError::InvalidProposal {
            reason: format!("wasm_byte_code is larger than {MAX_WASM_BYTE_CODE_LEN} bytes")
        }
    );
    // Nothing was stored.
    let list: ProposalListResponse = from_json(
        query(
            deps.as_ref(),
            env_at(START),
            QueryMsg::ListProposals {
                start_after: None,
                limit: None,
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(list.proposals.is_empty());
}

#[test]
fn fee_and_code_upload_actions_json() {
    let action: ProposalAction = from_json(
        br#"{"set_fee_params":{"min_gas_price":"0.025","validator_reward_share":null,"verification_fee":"1000"}}"#,
    )
    .unwrap();
    assert_eq!(
        action,
        ProposalAction::SetFeeParams {
            min_gas_price: Some(Decimal::permille(25)),
            validator_reward_share: None,
            verification_fee: Some(Uint128::new(1_000)),
        }
    );
    let action: ProposalAction =
        from_json(br#"{"set_code_upload_access":{"access":{"any_of":{"addresses":["um1x"]}}}}"#)
            .unwrap();
    assert_eq!(
        action,
        ProposalAction::SetCodeUploadAccess {
            access: CodeUploadAccess::AnyOf {
                addresses: vec!["um1x".to_string()]
            }
        }
    );
    let action: ProposalAction =
        from_json(br#"{"set_code_upload_access":{"access":"dao_only"}}"#).unwrap();
    assert_eq!(action.kind(), "set_code_upload_access");
    let action: ProposalAction =
        from_json(br#"{"store_code":{"wasm_byte_code":"AGFzbQ=="}}"#).unwrap();
    assert_eq!(
        action,
        ProposalAction::StoreCode {
            wasm_byte_code: Binary::from(b"\0asm".to_vec())
        }
    );
}

#[test]
fn update_dao_config_applies_to_later_proposals() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let update = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::UpdateDaoConfig {
            quorum: Some(Decimal::percent(50)),
            threshold: None,
            veto_threshold: None,
            voting_period_blocks: Some(10),
            proposal_deposit: Some(Uint128::new(5_000)),
            execution_period_blocks: None,
        },
    );
    // Open while the config changes: keeps its own rules.
    let older = propose_ok(&mut deps, &u, set_hyperparams());

    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute {
            proposal_id: update,
        },
        END,
    )
    .unwrap();
    // Applied inside the DAO: only the refund goes out.
    assert_eq!(res.messages, vec![refund(&u)]);
    let cfg = config(&deps);
    assert_eq!(cfg.quorum, Decimal::percent(50));
    assert_eq!(cfg.threshold, Decimal::percent(50));
    assert_eq!(cfg.veto_threshold, Decimal::permille(334));
    assert_eq!(cfg.voting_period_blocks, 10);
    assert_eq!(cfg.proposal_deposit, Uint128::new(5_000));

    // The old deposit is now refused, the new one accepted with the new period.
    let token = u.token.clone();
    let err = exec(
        &mut deps,
        &token,
        receive_msg(&u.dave, DEPOSIT, set_hyperparams()),
        END,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::WrongDeposit {
            expected: Uint128::new(5_000),
            received: Uint128::new(DEPOSIT),
        }
    );
    exec(
        &mut deps,
        &token,
        receive_msg(&u.dave, 5_000, set_hyperparams()),
        END,
    )
    .unwrap();
    let newer = proposal(&deps, 3, END);
    assert_eq!(newer.end_height, END + 10);
    assert_eq!(newer.quorum, Decimal::percent(50));
    assert_eq!(newer.deposit, Uint128::new(5_000));

    // The older proposal kept quorum 30%: bob's 300 of 1000 still passes it.
    assert_eq!(proposal(&deps, older, START).quorum, Decimal::percent(30));
    vote(&mut deps, &u.bob.clone(), older, VoteOption::Yes, START + 1).unwrap();
    assert_eq!(proposal(&deps, older, END).status, Status::Passed);
}

fn dao_update() -> ProposalAction {
    ProposalAction::UpdateDaoConfig {
        quorum: None,
        threshold: None,
        veto_threshold: None,
        voting_period_blocks: None,
        proposal_deposit: None,
        execution_period_blocks: None,
    }
}

fn staking_update() -> ProposalAction {
    ProposalAction::UpdateStakingConfig {
        min_trainer_stake: None,
        min_validator_stake: None,
        unbonding_period_blocks: None,
        max_validators: None,
    }
}

fn execute_at(deps: &mut TestDeps, proposal_id: u64, height: u64) -> ContractResult {
    let keeper = deps.api.addr_make("keeper");
    exec(deps, &keeper, ExecuteMsg::Execute { proposal_id }, height)
}

fn close_at(deps: &mut TestDeps, proposal_id: u64, height: u64) -> ContractResult {
    let keeper = deps.api.addr_make("keeper");
    exec(deps, &keeper, ExecuteMsg::Close { proposal_id }, height)
}

fn attr_of<'a>(res: &'a Response<UmMsg>, key: &str) -> Option<&'a str> {
    res.attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

#[test]
fn out_of_bounds_settings_are_refused_when_proposed() {
    let (mut deps, u) = setup();
    let token = u.token.clone();
    let mut try_propose = |action: ProposalAction| {
        exec(
            &mut deps,
            &token,
            receive_msg(&u.dave, DEPOSIT, action),
            START,
        )
    };
    let dao = |edit: &dyn Fn(&mut ProposalAction)| {
        let mut action = dao_update();
        edit(&mut action);
        action
    };
    macro_rules! dao_field {
        ($field:ident = $value:expr) => {
            dao(&|a| {
                if let ProposalAction::UpdateDaoConfig { $field, .. } = a {
                    *$field = Some($value);
                }
            })
        };
    }
    macro_rules! staking_field {
        ($field:ident = $value:expr) => {{
            let mut action = staking_update();
            if let ProposalAction::UpdateStakingConfig { $field, .. } = &mut action {
                *$field = Some($value);
            }
            action
        }};
    }
    let cases = vec![
        ("quorum", dao_field!(quorum = Decimal::percent(1))),
        ("quorum", dao_field!(quorum = Decimal::permille(1))),
        ("threshold", dao_field!(threshold = Decimal::percent(10))),
        (
            "veto_threshold",
            dao_field!(veto_threshold = Decimal::percent(1)),
        ),
        (
            "voting_period_blocks",
            dao_field!(voting_period_blocks = u64::MAX),
        ),
        ("voting_period_blocks", dao_field!(voting_period_blocks = 0)),
        (
            "proposal_deposit",
            dao_field!(proposal_deposit = Uint128::new(SUPPLY + 1)),
        ),
        (
            "execution_period_blocks",
            dao_field!(execution_period_blocks = 0),
        ),
        (
            "execution_period_blocks",
            dao_field!(execution_period_blocks = u64::MAX),
        ),
        (
            "unbonding_period_blocks",
            staking_field!(unbonding_period_blocks = 0),
        ),
        (
            "unbonding_period_blocks",
            staking_field!(unbonding_period_blocks = 1_000_001),
        ),
        (
            "min_trainer_stake",
            staking_field!(min_trainer_stake = Uint128::zero()),
        ),
        (
            "min_trainer_stake",
            staking_field!(min_trainer_stake = Uint128::new(SUPPLY + 1)),
        ),
        (
            "min_validator_stake",
            staking_field!(min_validator_stake = Uint128::zero()),
        ),
        (
            "min_validator_stake",
            staking_field!(min_validator_stake = Uint128::new(SUPPLY + 1)),
        ),
        ("max_validators", staking_field!(max_validators = 0)),
        ("max_validators", staking_field!(max_validators = 1_001)),
    ];
    for (field, action) in cases {
        let err = try_propose(action.clone()).unwrap_err();
        assert!(
            matches!(&err, ContractError::InvalidConfig { field: f, .. } if f == field),
            "{action:?}: {err:?}"
        );
    }
    // In-bounds values are proposed.
    let fine = [
        dao_field!(quorum = Decimal::percent(5)),
        dao_field!(proposal_deposit = Uint128::new(SUPPLY)),
        dao_field!(execution_period_blocks = 100),
        staking_field!(min_validator_stake = Uint128::new(SUPPLY)),
        staking_field!(max_validators = 1_000),
    ];
    for action in fine {
        try_propose(action).unwrap();
    }
    // Only those: none of the refused ones.
    assert_eq!(PROPOSAL_COUNT.load(&deps.storage).unwrap(), 5);
}

#[test]
fn an_update_out_of_bounds_by_execution_time_fails_and_refunds_the_deposit() {
    let (mut deps, u) = setup();
    // In bounds when proposed: the deposit is the whole supply.
    let id = passed_proposal(&mut deps, &u, {
        let mut a = dao_update();
        if let ProposalAction::UpdateDaoConfig {
            proposal_deposit, ..
        } = &mut a
        {
            *proposal_deposit = Some(Uint128::new(SUPPLY));
        }
        a
    });
    // The supply shrinks (burns) before it is executed.
    set_contracts(&mut deps, &u.staking, default_bonds(&u), SUPPLY - 1);
    let res = execute_at(&mut deps, id, END).unwrap();
    assert_eq!(res.messages, vec![refund(&u)]);
    assert_eq!(attr_of(&res, "status"), Some("execution_failed"));
    assert!(attr_of(&res, "execution_error")
        .unwrap()
        .contains("proposal_deposit"));
    assert_eq!(config(&deps).proposal_deposit, Uint128::new(DEPOSIT));
    let p = proposal(&deps, id, END);
    assert_eq!(p.status, Status::ExecutionFailed);
    assert!(p.execution_error.unwrap().contains("total supply"));
    // Settled: neither executed nor closed again.
    let err = execute_at(&mut deps, id, END + 1).unwrap_err();
    assert_eq!(err, ContractError::AlreadyExecuted { id });
    let err = close_at(&mut deps, id, END + 1).unwrap_err();
    assert_eq!(err, ContractError::AlreadyExecuted { id });
}

#[test]
fn a_failed_action_reply_marks_the_proposal_and_keeps_the_refund() {
    let (mut deps, u) = setup();
    let id = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::AcceptDatasetDelta { delta_id: 9 },
    );
    let res = execute_at(&mut deps, id, END).unwrap();
    let action = SubMsg::reply_on_error(
        CosmosMsg::Custom(UmMsg::AcceptDatasetDelta { delta_id: 9 }),
        id,
    );
    // The action replies on error only; the refund does not depend on it.
    assert_eq!(res.messages, vec![action, refund(&u)]);
    assert_eq!(proposal(&deps, id, END).status, Status::Executed);

    // What the chain does when the action fails.
    let failed = |id: u64, error: &str| Reply {
        id,
        payload: Binary::default(),
        gas_used: 0,
        result: SubMsgResult::Err(error.to_string()),
    };
    let res = reply(deps.as_mut(), env_at(END), failed(id, "no such delta")).unwrap();
    assert_eq!(
        res.attributes,
        vec![
            attr("action", "execution_failed"),
            attr("proposal_id", id.to_string()),
            attr("status", "execution_failed"),
            attr("execution_error", "no such delta"),
        ]
    );
    let p = proposal(&deps, id, END);
    assert_eq!(p.status, Status::ExecutionFailed);
    assert_eq!(p.execution_error.as_deref(), Some("no such delta"));
    // Executes at most once, failed or not.
    let err = execute_at(&mut deps, id, END + 1).unwrap_err();
    assert_eq!(err, ContractError::AlreadyExecuted { id });

    // Replies the DAO never asked for are refused: a second one for the
    // same proposal, one for a proposal not executed, a success.
    let err = reply(deps.as_mut(), env_at(END), failed(id, "again")).unwrap_err();
    assert_eq!(err, ContractError::UnexpectedReply { id });
    let open = propose_ok(&mut deps, &u, set_hyperparams());
    let err = reply(deps.as_mut(), env_at(END), failed(open, "x")).unwrap_err();
    assert_eq!(err, ContractError::UnexpectedReply { id: open });
    let ok = Reply {
        result: SubMsgResult::Ok(cosmwasm_std::SubMsgResponse {
            events: vec![],
            #[allow(deprecated)]
            data: None,
            msg_responses: vec![],
        }),
        ..failed(id, "")
    };
    let err = reply(deps.as_mut(), env_at(END), ok).unwrap_err();
    assert_eq!(err, ContractError::UnexpectedReply { id });
    assert_eq!(
        proposal(&deps, id, END).execution_error.as_deref(),
        Some("no such delta")
    );

    // A very long error is cut before it is stored.
    let id = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::AcceptDatasetDelta { delta_id: 10 },
    );
    let end = START + PERIOD;
    // The earlier proposal nobody voted on was rejected: no block.
    execute_at(&mut deps, id, end).unwrap();
    let long = "é".repeat(MAX_EXECUTION_ERROR_LEN);
    reply(deps.as_mut(), env_at(end), failed(id, &long)).unwrap();
    let stored = proposal(&deps, id, end).execution_error.unwrap();
    assert!(stored.len() <= MAX_EXECUTION_ERROR_LEN && stored.len() >= MAX_EXECUTION_ERROR_LEN - 1);
}

#[test]
fn a_passed_proposal_expires_after_its_execution_window() {
    let (mut deps, u) = setup();
    let window = crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS;
    let late = passed_proposal(&mut deps, &u, set_hyperparams());
    let in_time = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::RejectDatasetDelta { delta_id: 2 },
    );
    assert_eq!(
        proposal(&deps, late, END).execution_end_height,
        END + window
    );
    assert_eq!(
        proposal(&deps, late, END + window - 1).status,
        Status::Passed
    );
    assert_eq!(proposal(&deps, late, END + window).status, Status::Expired);

    // The last block of the window still executes ...
    execute_at(&mut deps, late, END + window - 1).unwrap();
    // ... the first after it does not.
    let err = execute_at(&mut deps, in_time, END + window).unwrap_err();
    assert_eq!(
        err,
        ContractError::ExecutionExpired {
            id: in_time,
            execution_end_height: END + window,
        }
    );
    // An expired proposal is closed, its deposit refunded.
    let res = close_at(&mut deps, in_time, END + window).unwrap();
    assert_eq!(res.messages, vec![refund(&u)]);
    assert_eq!(attr_of(&res, "status"), Some("expired"));
    assert_eq!(attr_of(&res, "deposit_outcome"), Some("refunded"));
    let p = proposal(&deps, in_time, END + window + 5);
    assert_eq!((p.status, p.closed), (Status::Expired, true));
    let err = close_at(&mut deps, in_time, END + window + 5).unwrap_err();
    assert_eq!(err, ContractError::AlreadyClosed { id: in_time });
    let err = execute_at(&mut deps, in_time, END + window + 5).unwrap_err();
    assert!(
        matches!(err, ContractError::ExecutionExpired { .. }),
        "{err:?}"
    );
    // The window is copied into the proposal: a later config change does
    // not move it.
    assert_eq!(
        proposal(&deps, late, END).execution_end_height,
        END + window
    );
}

#[test]
fn passed_proposals_execute_in_id_order() {
    let (mut deps, u) = setup();
    let rejected = propose_ok(&mut deps, &u, set_hyperparams());
    vote(&mut deps, &u.alice.clone(), rejected, VoteOption::No, START).unwrap();
    let first = passed_proposal(&mut deps, &u, dao_update_quorum(40));
    let second = passed_proposal(&mut deps, &u, dao_update_quorum(60));

    // The newer decision cannot run before the older one ...
    let err = execute_at(&mut deps, second, END).unwrap_err();
    assert_eq!(
        err,
        ContractError::EarlierProposalPending {
            id: second,
            earlier: first,
        }
    );
    assert_eq!(proposal(&deps, second, END).status, Status::Passed);
    // ... so the older runs first and the newer one wins.
    execute_at(&mut deps, first, END).unwrap();
    execute_at(&mut deps, second, END).unwrap();
    assert_eq!(config(&deps).quorum, Decimal::percent(60));
    // The rejected proposal before them never blocked, and can still be closed.
    close_at(&mut deps, rejected, END).unwrap();

    // An older passed proposal blocks until it is executed or expires.
    let window = crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS;
    let old_start = START + 1_000;
    let newer_start = old_start + 50_000;
    let old = propose_at(&mut deps, &u, set_hyperparams(), old_start);
    let newer = propose_at(&mut deps, &u, set_hyperparams(), newer_start);
    // The new quorum of 60% needs alice and bob.
    for voter in [u.alice.clone(), u.bob.clone()] {
        vote(&mut deps, &voter, old, VoteOption::Yes, old_start).unwrap();
        vote(&mut deps, &voter, newer, VoteOption::Yes, newer_start).unwrap();
    }
    let err = execute_at(&mut deps, newer, newer_start + PERIOD).unwrap_err();
    assert_eq!(
        err,
        ContractError::EarlierProposalPending {
            id: newer,
            earlier: old,
        }
    );
    let old_expired = old_start + PERIOD + window;
    assert_eq!(proposal(&deps, old, old_expired).status, Status::Expired);
    assert_eq!(proposal(&deps, newer, old_expired).status, Status::Passed);
    execute_at(&mut deps, newer, old_expired).unwrap();
    assert_eq!(proposal(&deps, newer, old_expired).status, Status::Executed);
    // Neither is left in the index of passing proposals: the executed one
    // was removed, the expired one dropped on the way; closing still refunds
    // the expired one.
    assert!(!PASSING.has(&deps.storage, old));
    assert!(!PASSING.has(&deps.storage, newer));
    let res = close_at(&mut deps, old, old_expired).unwrap();
    assert_eq!(res.messages, vec![refund(&u)]);
}

fn dao_update_quorum(percent: u64) -> ProposalAction {
    let mut action = dao_update();
    if let ProposalAction::UpdateDaoConfig { quorum, .. } = &mut action {
        *quorum = Some(Decimal::percent(percent));
    }
    action
}

/// dave proposes `action` at `height`; returns the id.
fn propose_at(deps: &mut TestDeps, u: &Users, action: ProposalAction, height: u64) -> u64 {
    let res = exec(
        deps,
        &u.token.clone(),
        receive_msg(&u.dave, DEPOSIT, action),
        height,
    )
    .unwrap();
    attr_of(&res, "proposal_id").unwrap().parse().unwrap()
}

#[test]
fn an_older_failed_execution_does_not_block_newer_proposals() {
    let (mut deps, u) = setup();
    let first = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::AcceptDatasetDelta { delta_id: 1 },
    );
    let second = passed_proposal(
        &mut deps,
        &u,
        ProposalAction::AcceptDatasetDelta { delta_id: 2 },
    );
    execute_at(&mut deps, first, END).unwrap();
    reply(
        deps.as_mut(),
        env_at(END),
        Reply {
            id: first,
            payload: Binary::default(),
            gas_used: 0,
            result: SubMsgResult::Err("refused".to_string()),
        },
    )
    .unwrap();
    assert_eq!(proposal(&deps, first, END).status, Status::ExecutionFailed);
    execute_at(&mut deps, second, END).unwrap();
}

/// Storage that counts what a call reads: each `get`, each `range` opened
/// and each entry a range yields. The chain charges gas per read, so the
/// count stands in for the gas a call needs.
struct CountingStorage<'a> {
    inner: &'a mut MockStorage,
    reads: Cell<usize>,
}

impl CountingStorage<'_> {
    fn count(&self) {
        self.reads.set(self.reads.get() + 1);
    }
}

impl Storage for CountingStorage<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.count();
        self.inner.get(key)
    }

    fn range<'b>(
        &'b self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> Box<dyn Iterator<Item = Record> + 'b> {
        self.count();
        Box::new(
            self.inner
                .range(start, end, order)
                .inspect(move |_| self.count()),
        )
    }

    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.inner.set(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        self.inner.remove(key);
    }
}

/// What `call` returned, and the storage reads it made.
fn counting_reads<T>(deps: &mut TestDeps, call: impl FnOnce(DepsMut<UmQuery>) -> T) -> (T, usize) {
    let mut storage = CountingStorage {
        inner: &mut deps.storage,
        reads: Cell::new(0),
    };
    let res = call(DepsMut {
        storage: &mut storage,
        api: &deps.api,
        querier: QuerierWrapper::new(&deps.querier),
    });
    (res, storage.reads.get())
}

/// `Execute` of `proposal_id` at `height`, and the storage reads it made.
fn execute_counting_reads(
    deps: &mut TestDeps,
    proposal_id: u64,
    height: u64,
) -> (ContractResult, usize) {
    let keeper = deps.api.addr_make("keeper");
    counting_reads(deps, |deps| {
        execute(
            deps,
            env_at(height),
            message_info(&keeper, &[]),
            ExecuteMsg::Execute { proposal_id },
        )
    })
}

/// The reads of executing two passed proposals after `spam` proposals that
/// nobody votes on: the first while the spam is still open, the second
/// once its voting is over (rejected, never closed).
fn execute_reads_after_spam(spam: u64) -> (usize, usize) {
    let (mut deps, u) = setup();
    let spammer = deps.api.addr_make("spammer");
    for _ in 0..spam {
        exec(
            &mut deps,
            &u.token.clone(),
            receive_msg(&spammer, DEPOSIT, set_hyperparams()),
            START,
        )
        .unwrap();
    }
    // Stands in for an executed `UpdateDaoConfig` that shortened voting, so
    // that later proposals end while the spam is still open.
    let mut shorter = config(&deps);
    shorter.voting_period_blocks = 10;
    CONFIG.save(&mut deps.storage, &shorter).unwrap();
    let mut reads = vec![];
    for start in [START + 1, END] {
        let id = propose_at(&mut deps, &u, set_hyperparams(), start);
        for voter in [u.alice.clone(), u.bob.clone()] {
            vote(&mut deps, &voter, id, VoteOption::Yes, start).unwrap();
        }
        let (res, count) = execute_counting_reads(&mut deps, id, start + 10);
        res.unwrap();
        assert_eq!(proposal(&deps, id, start + 10).status, Status::Executed);
        reads.push(count);
    }
    (reads[0], reads[1])
}

#[test]
fn spam_proposals_do_not_make_execute_read_them() {
    let quiet = execute_reads_after_spam(0);
    let spammed = execute_reads_after_spam(500);
    eprintln!("storage reads of Execute (spam open, spam rejected): 0 spam {quiet:?}, 500 spam {spammed:?}");
    // Every proposal a spammer leaves unsettled would otherwise cost each
    // `Execute` a read, until none fits in a transaction's gas.
    assert_eq!(spammed, quiet);
}

#[test]
fn the_passing_index_follows_the_votes() {
    let (mut deps, u) = setup();
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    assert!(!PASSING.has(&deps.storage, id));
    // 400 of 1000: quorum, and all yes.
    vote(&mut deps, &u.alice.clone(), id, VoteOption::Yes, START).unwrap();
    assert!(PASSING.has(&deps.storage, id));
    vote(&mut deps, &u.bob.clone(), id, VoteOption::No, START).unwrap();
    assert!(PASSING.has(&deps.storage, id));
    // 400 yes against 500 no.
    vote(&mut deps, &u.carol.clone(), id, VoteOption::No, START).unwrap();
    assert!(!PASSING.has(&deps.storage, id));
    // 500 against 500 is no majority.
    vote(&mut deps, &u.erin.clone(), id, VoteOption::Yes, START).unwrap();
    assert!(!PASSING.has(&deps.storage, id));

    // Rejected in the end, so it does not block a later passed proposal; an
    // entry without its proposal does not block either, and is dropped.
    PASSING.save(&mut deps.storage, 0, &Empty {}).unwrap();
    let later = passed_proposal(&mut deps, &u, set_hyperparams());
    assert!(PASSING.has(&deps.storage, later));
    execute_at(&mut deps, later, END).unwrap();
    assert!(PASSING.is_empty(&deps.storage));
}

#[test]
fn expired_passing_proposals_are_walked_past_once() {
    const EXPIRED: usize = 20;
    let (mut deps, u) = setup();
    // Holders of a quorum pass many proposals and let them expire.
    for _ in 0..EXPIRED {
        passed_proposal(&mut deps, &u, set_hyperparams());
    }
    let late = END + crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS;
    let mut reads = vec![];
    for _ in 0..2 {
        let id = propose_at(&mut deps, &u, set_hyperparams(), late);
        for voter in [u.alice.clone(), u.bob.clone()] {
            vote(&mut deps, &voter, id, VoteOption::Yes, late).unwrap();
        }
        let (res, count) = execute_counting_reads(&mut deps, id, late + PERIOD);
        res.unwrap();
        reads.push(count);
    }
    // The first execution reads each expired entry and its proposal, and
    // drops the entry; the next reads none of them.
    assert_eq!(reads[0], reads[1] + 2 * EXPIRED);
    assert!(PASSING.is_empty(&deps.storage));
}

#[test]
fn migrate_indexes_the_passing_proposals_of_an_older_version() {
    // Older state comes without the passing index, with the previous
    // version's list of unsettled proposals or, older still, without it.
    for with_unsettled in [false, true] {
        let (mut deps, u) = setup();
        let first = passed_proposal(&mut deps, &u, set_hyperparams());
        let second = passed_proposal(&mut deps, &u, set_hyperparams());
        let closed = propose_ok(&mut deps, &u, set_hyperparams());
        close_at(&mut deps, closed, END).unwrap();
        let rejected = propose_ok(&mut deps, &u, set_hyperparams());
        vote(&mut deps, &u.alice.clone(), rejected, VoteOption::No, START).unwrap();
        // Still open at END, with votes that pass it.
        let open = propose_at(&mut deps, &u, set_hyperparams(), START + 50);
        for voter in [u.alice.clone(), u.bob.clone()] {
            vote(&mut deps, &voter, open, VoteOption::Yes, START + 50).unwrap();
        }
        for id in [first, second, open] {
            PASSING.remove(&mut deps.storage, id);
        }
        PASSING_INDEXED.remove(&mut deps.storage);
        if with_unsettled {
            for id in [first, second, rejected, open] {
                UNSETTLED.save(&mut deps.storage, id, &Empty {}).unwrap();
            }
        }

        migrate(deps.as_mut(), env_at(END), MigrateMsg {}).unwrap();
        let passing = PASSING
            .keys(&deps.storage, None, None, Order::Ascending)
            .collect::<StdResult<Vec<_>>>()
            .unwrap();
        assert_eq!(passing, vec![first, second, open], "{with_unsettled}");
        assert!(PASSING_INDEXED.exists(&deps.storage));
        assert!(UNSETTLED.is_empty(&deps.storage));
        // Without the index, the order could not be kept.
        let err = execute_at(&mut deps, second, END).unwrap_err();
        assert_eq!(
            err,
            ContractError::EarlierProposalPending {
                id: second,
                earlier: first,
            }
        );
    }
}

#[test]
fn migrate_reads_no_proposals_once_the_index_exists() {
    let reads_with = |proposals: u64| {
        let (mut deps, u) = setup();
        for _ in 0..proposals {
            propose_ok(&mut deps, &u, set_hyperparams());
        }
        let (res, reads) =
            counting_reads(&mut deps, |deps| migrate(deps, env_at(END), MigrateMsg {}));
        res.unwrap();
        reads
    };
    // Each migration proposal would otherwise pay for every proposal ever
    // made.
    assert_eq!(reads_with(200), reads_with(0));
}

#[test]
fn stored_state_and_messages_of_the_previous_version_still_parse() {
    // A config and a proposal as the previous version stored them.
    let config: Config = from_json(
        br#"{"token":"t","staking":"s","quorum":"0.3","threshold":"0.5","veto_threshold":"0.334","voting_period_blocks":10,"proposal_deposit":"5"}"#,
    )
    .unwrap();
    assert_eq!(
        config.execution_period_blocks,
        crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS
    );
    let proposal: Proposal = from_json(
        br#"{"id":1,"title":"t","description":"","proposer":"p","action":{"accept_dataset_delta":{"delta_id":1}},"start_height":10,"end_height":20,"total_stake":"100","deposit":"5","rules":{"quorum":"0.3","threshold":"0.5","veto_threshold":"0.334"},"votes":{"yes":"0","no":"0","abstain":"0","veto":"0"},"executed":true,"closed":false}"#,
    )
    .unwrap();
    assert_eq!(proposal.execution_error, None);
    assert_eq!(proposal.status(100).unwrap(), Status::Executed);
    assert_eq!(
        proposal.execution_end_height(),
        20 + crate::bounds::DEFAULT_EXECUTION_PERIOD_BLOCKS
    );
    // Messages written before the new fields.
    let msg: InstantiateMsg = from_json(
        br#"{"token":"t","staking":"s","quorum":"0.334","threshold":"0.5","veto_threshold":"0.334","voting_period_blocks":20,"proposal_deposit":"1000000"}"#,
    )
    .unwrap();
    assert_eq!(msg.execution_period_blocks, None);
    let action: ProposalAction =
        from_json(br#"{"update_dao_config":{"quorum":"0.5","threshold":null,"veto_threshold":null,"voting_period_blocks":null,"proposal_deposit":null}}"#)
            .unwrap();
    assert!(matches!(
        action,
        ProposalAction::UpdateDaoConfig {
            execution_period_blocks: None,
            ..
        }
    ));
    let action: ProposalAction = from_json(
        br#"{"update_staking_config":{"min_trainer_stake":"5","min_validator_stake":null,"unbonding_period_blocks":null}}"#,
    )
    .unwrap();
    assert!(matches!(
        action,
        ProposalAction::UpdateStakingConfig {
            max_validators: None,
            ..
        }
    ));
}

// ---------------------------------------------------------------- close

/// Issue 20, training groups: a new lineage anyone proposes keeps its
/// deposit with the DAO when the vote rejects it, a missed quorum included
/// (other rejected proposals are refunded).
#[test]
fn a_rejected_training_group_keeps_its_deposit() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let group = || ProposalAction::NewModelLineage {
        model_id: "group-cnn".to_string(),
        spec: "{\"conv\":[8,16]}".to_string(),
        hyperparams: hyperparams(),
        dataset_id: None,
    };
    let rejected = propose_ok(&mut deps, &u, group());
    vote(&mut deps, &u.alice.clone(), rejected, VoteOption::No, START).unwrap();
    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close {
            proposal_id: rejected,
        },
        END,
    )
    .unwrap();
    assert!(res.messages.is_empty(), "{:?}", res.messages);
    assert!(res.attributes.contains(&attr("status", "rejected")));
    assert!(res.attributes.contains(&attr("deposit_outcome", "kept")));
    // One nobody voted on missed its quorum: rejected too, and kept.
    let unvoted = propose_ok(&mut deps, &u, group());
    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close {
            proposal_id: unvoted,
        },
        END,
    )
    .unwrap();
    assert!(res.messages.is_empty(), "{:?}", res.messages);
    assert!(res.attributes.contains(&attr("deposit_outcome", "kept")));
    // Any other rejected proposal is refunded.
    let other = propose_ok(&mut deps, &u, set_hyperparams());
    vote(&mut deps, &u.alice.clone(), other, VoteOption::No, START).unwrap();
    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close { proposal_id: other },
        END,
    )
    .unwrap();
    assert_eq!(res.messages, vec![refund(&u)]);
}

#[test]
fn close_refunds_rejected_and_burns_vetoed() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let rejected = propose_ok(&mut deps, &u, set_hyperparams());
    let vetoed = propose_ok(&mut deps, &u, set_hyperparams());
    vote(&mut deps, &u.alice.clone(), vetoed, VoteOption::Veto, START).unwrap();

    // Not before the end.
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close {
            proposal_id: rejected,
        },
        END - 1,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ContractError::VotingOpen {
            id: rejected,
            end_height: END
        }
    );

    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close {
            proposal_id: rejected,
        },
        END,
    )
    .unwrap();
    assert_eq!(res.messages, vec![refund(&u)]);
    assert_eq!(
        res.attributes,
        vec![
            attr("action", "close"),
            attr("proposal_id", rejected.to_string()),
            attr("sender", keeper.to_string()),
            attr("status", "rejected"),
            attr("deposit", DEPOSIT.to_string()),
            attr("deposit_outcome", "refunded"),
        ]
    );
    let p = proposal(&deps, rejected, END);
    assert_eq!((p.status, p.closed), (Status::Rejected, true));

    let res = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close {
            proposal_id: vetoed,
        },
        END,
    )
    .unwrap();
    assert_eq!(
        res.messages,
        vec![token_msg_of(
            &u,
            Cw20ExecuteMsg::Burn {
                amount: Uint128::new(DEPOSIT)
            }
        )]
    );
    assert!(res.attributes.contains(&attr("status", "vetoed")));
    assert!(res.attributes.contains(&attr("deposit_outcome", "burned")));

    // Once only.
    for id in [rejected, vetoed] {
        let err = exec(
            &mut deps,
            &keeper,
            ExecuteMsg::Close { proposal_id: id },
            END + 5,
        )
        .unwrap_err();
        assert_eq!(err, ContractError::AlreadyClosed { id });
    }
    // A rejected, closed proposal still cannot be executed.
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Execute {
            proposal_id: rejected,
        },
        END + 5,
    )
    .unwrap_err();
    assert!(matches!(err, ContractError::NotPassed { .. }));
}

#[test]
fn close_refuses_a_passed_proposal() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    let id = passed_proposal(&mut deps, &u, set_hyperparams());
    let err = exec(
        &mut deps,
        &keeper,
        ExecuteMsg::Close { proposal_id: id },
        END,
    )
    .unwrap_err();
    assert_eq!(err, ContractError::CannotClosePassed { id });
}

// ---------------------------------------------------------------- queries

#[test]
fn list_proposals_paginates_ascending() {
    let (mut deps, u) = setup();
    for _ in 0..35 {
        propose_ok(&mut deps, &u, set_hyperparams());
    }
    let list = |start_after: Option<u64>, limit: Option<u32>| -> Vec<u64> {
        let res: ProposalListResponse = from_json(
            query(
                deps.as_ref(),
                env_at(START),
                QueryMsg::ListProposals { start_after, limit },
            )
            .unwrap(),
        )
        .unwrap();
        res.proposals.into_iter().map(|p| p.id).collect()
    };
    assert_eq!(list(None, None), (1..=10).collect::<Vec<_>>());
    assert_eq!(list(None, Some(100)), (1..=30).collect::<Vec<_>>());
    assert_eq!(list(Some(30), Some(100)), (31..=35).collect::<Vec<_>>());
    assert_eq!(list(Some(3), Some(2)), vec![4, 5]);
    assert!(list(Some(35), None).is_empty());
}

#[test]
fn vote_queries_validate_inputs() {
    let (mut deps, u) = setup();
    let id = propose_ok(&mut deps, &u, set_hyperparams());
    let err = query(
        deps.as_ref(),
        env_at(START),
        QueryMsg::Vote {
            proposal_id: id,
            voter: "not-an-address".to_string(),
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, ContractError::Std(StdError::GenericErr { .. })),
        "{err:?}"
    );
    let err = query(
        deps.as_ref(),
        env_at(START),
        QueryMsg::ListVotes {
            proposal_id: 5,
            start_after: None,
            limit: None,
        },
    )
    .unwrap_err();
    assert_eq!(err, ContractError::ProposalNotFound { id: 5 });
}

// ---------------------------------------------------------------- migrate

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

    set_contract_version(&mut deps.storage, "crates.io:cw3-flex-multisig", "0.0.1").unwrap();
    let err = migrate(deps.as_mut(), env.clone(), MigrateMsg {}).unwrap_err();
    assert_eq!(
        err,
        ContractError::Migrate(MigrateError::WrongContract {
            expected: "crates.io:nrn-dao".to_string(),
            found: "crates.io:cw3-flex-multisig".to_string(),
        })
    );

    set_contract_version(&mut deps.storage, CONTRACT_NAME, "v1").unwrap();
    let err = migrate(deps.as_mut(), env, MigrateMsg {}).unwrap_err();
    assert!(
        matches!(
            err,
            ContractError::Migrate(MigrateError::InvalidVersion { .. })
        ),
        "{err:?}"
    );
}

// ------------------------------------------------------ collaborative rounds

fn round_params() -> RoundParams {
    RoundParams {
        max_contributions: 4,
        round_blocks: 50,
        outer_learning_rate: Decimal::percent(50),
        eval_samples: 128,
        checkpoint_interval: 0,
        segments_per_validator: 0,
        compression: String::new(),
    }
}

#[test]
fn execute_emits_set_round_params() {
    let (mut deps, u) = setup();
    let keeper = deps.api.addr_make("keeper");
    // Start, the bounds' edges, and end (`None`).
    let edges = RoundParams {
        max_contributions: um_bindings::MAX_ROUND_CONTRIBUTIONS,
        round_blocks: 1,
        outer_learning_rate: Decimal::one(),
        eval_samples: 0,
        checkpoint_interval: 0,
        segments_per_validator: 0,
        compression: String::new(),
    };
    for rounds in [Some(round_params()), Some(edges), None] {
        let id = passed_proposal(
            &mut deps,
            &u,
            ProposalAction::SetRoundParams {
                model_id: "mnist-mlp".to_string(),
                rounds: rounds.clone(),
            },
        );
        let res = exec(
            &mut deps,
            &keeper,
            ExecuteMsg::Execute { proposal_id: id },
            END,
        )
        .unwrap();
        assert_eq!(
            res.messages,
            vec![
                SubMsg::reply_on_error(
                    CosmosMsg::Custom(UmMsg::SetRoundParams {
                        model_id: "mnist-mlp".to_string(),
                        rounds,
                    }),
                    id
                ),
                refund(&u)
            ]
        );
        assert!(
            res.attributes
                .contains(&attr("proposal_action", "set_round_params")),
            "{:?}",
            res.attributes
        );
        assert_eq!(proposal(&deps, id, END).status, Status::Executed);
    }
}

#[test]
fn propose_refuses_invalid_round_params() {
    let (mut deps, u) = setup();
    let token = u.token.clone();
    let mut try_propose = |model_id: &str, rounds: Option<RoundParams>| {
        exec(
            &mut deps,
            &token,
            receive_msg(
                &u.dave,
                DEPOSIT,
                ProposalAction::SetRoundParams {
                    model_id: model_id.to_string(),
                    rounds,
                },
            ),
            START,
        )
        .unwrap_err()
    };
    let with = |change: fn(&mut RoundParams)| {
        let mut rounds = round_params();
        change(&mut rounds);
        Some(rounds)
    };
    let invalid = |reason: &str| ContractError::InvalidRoundParams {
        reason: reason.to_string(),
    };

    assert_eq!(
        try_propose("mnist-mlp", with(|r| r.max_contributions = 0)),
        invalid("max_contributions must be between 1 and 16")
    );
    assert_eq!(
        try_propose("mnist-mlp", with(|r| r.max_contributions = 17)),
        invalid("max_contributions must be between 1 and 16")
    );
    assert_eq!(
        try_propose("mnist-mlp", with(|r| r.round_blocks = 0)),
        invalid("round_blocks must be positive")
    );
    assert_eq!(
        try_propose(
            "mnist-mlp",
            with(|r| r.outer_learning_rate = Decimal::zero())
        ),
        invalid("outer_learning_rate must be in (0, 16]")
    );
    assert_eq!(
        try_propose(
            "mnist-mlp",
            with(|r| r.outer_learning_rate = Decimal::percent(1601))
        ),
        invalid("outer_learning_rate must be in (0, 16]")
    );
    assert_eq!(
        try_propose("mnist-mlp", with(|r| r.compression = "int8".to_string())),
        invalid("compression must be one of f32, f16, bf16, topk, not \"int8\"")
    );
    assert_eq!(
        try_propose(
            "mnist-mlp",
            with(|r| {
                r.compression = "topk".to_string();
                r.checkpoint_interval = 2;
            })
        ),
        invalid("a compressed round takes no checkpoints: checkpoint_interval must be 0")
    );
    // The model id is checked whether rounds start or end.
    for rounds in [Some(round_params()), None] {
        assert!(matches!(
            try_propose("", rounds.clone()),
            ContractError::InvalidProposal { .. }
        ));
        assert!(matches!(
            try_propose("mnist mlp", rounds),
            ContractError::InvalidProposal { .. }
        ));
    }
    // Nothing was stored.
    let list: ProposalListResponse = from_json(
        query(
            deps.as_ref(),
            env_at(START),
            QueryMsg::ListProposals {
                start_after: None,
                limit: None,
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(list.proposals.is_empty());
}

#[test]
fn set_round_params_action_json() {
    // The chain's JSON: the two optional fields take the chain's defaults.
    let action: ProposalAction = from_json(
        br#"{"set_round_params":{"model_id":"mnist-mlp","rounds":{"max_contributions":4,"round_blocks":50}}}"#,
    )
    .unwrap();
    assert_eq!(
        action,
        ProposalAction::SetRoundParams {
            model_id: "mnist-mlp".to_string(),
            rounds: Some(RoundParams {
                max_contributions: 4,
                round_blocks: 50,
                outer_learning_rate: Decimal::one(),
                eval_samples: 0,
                checkpoint_interval: 0,
                segments_per_validator: 0,
                compression: String::new(),
            }),
        }
    );
    assert_eq!(action.kind(), "set_round_params");
    let action: ProposalAction =
        from_json(br#"{"set_round_params":{"model_id":"mnist-mlp","rounds":null}}"#).unwrap();
    assert_eq!(
        action,
        ProposalAction::SetRoundParams {
            model_id: "mnist-mlp".to_string(),
            rounds: None,
        }
    );
    // A misspelt field is refused rather than voted on as its default.
    assert!(from_json::<ProposalAction>(
        br#"{"set_round_params":{"model_id":"m","rounds":{"max_contributions":4,"round_blocks":50,"outer_lr":"0.5"}}}"#,
    )
    .is_err());
}
