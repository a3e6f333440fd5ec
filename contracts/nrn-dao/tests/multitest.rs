//! The DAO in a cw-multi-test chain with the real NRN token and the real
//! nrn-staking contract. The chain's own module is a small custom handler that
//! records every `UmMsg` it is asked to carry out.

use std::cell::RefCell;
use std::rc::Rc;

use cosmwasm_schema::serde::{de::DeserializeOwned, Serialize};
use cosmwasm_std::testing::{MockApi, MockStorage};
use cosmwasm_std::{
    to_json_binary, Addr, Api, Binary, BlockInfo, Decimal, Empty, Querier, Storage, Uint128,
};
use cw20::{BalanceResponse, TokenInfoResponse};
use cw_multi_test::error::{bail, AnyError, AnyResult};
use cw_multi_test::{
    App, AppResponse, BankKeeper, BasicAppBuilder, ContractWrapper, CosmosRouter, Executor, Module,
    WasmKeeper,
};
use nrn_dao::msg::{
    ExecuteMsg, InstantiateMsg, ProposalAction, ProposalResponse, QueryMsg, ReceiveMsg, Status,
    VoteOption, VoteResponse,
};
use nrn_dao::ContractError;
use nrn_token::msg::{
    nrn_instantiate_msg, Cw20Coin, ExecuteMsg as TokenExecuteMsg, QueryMsg as TokenQueryMsg,
};
use um_bindings::staking::{
    ConfigResponse as StakingConfigResponse, ExecuteMsg as StakingExecuteMsg,
    InstantiateMsg as StakingInstantiateMsg, QueryMsg as StakingQueryMsg,
    ReceiveMsg as StakingReceiveMsg, Role,
};
use um_bindings::{Hyperparams, RoundParams, UmMsg, UmQuery};

/// The chain side of `UmMsg`: remembers every message, in order. Refuses
/// to accept the dataset delta [`MISSING_DELTA`], as the chain refuses an
/// unknown delta.
#[derive(Clone, Default)]
struct ChainRecorder {
    received: Rc<RefCell<Vec<UmMsg>>>,
}

impl Module for ChainRecorder {
    type ExecT = UmMsg;
    type QueryT = UmQuery;
    type SudoT = Empty;

    fn execute<ExecC, QueryC>(
        &self,
        _api: &dyn Api,
        _storage: &mut dyn Storage,
        _router: &dyn CosmosRouter<ExecC = ExecC, QueryC = QueryC>,
        _block: &BlockInfo,
        _sender: Addr,
        msg: UmMsg,
    ) -> AnyResult<AppResponse> {
        if msg
            == (UmMsg::AcceptDatasetDelta {
                delta_id: MISSING_DELTA,
            })
        {
            bail!("dataset delta {MISSING_DELTA} not found");
        }
        self.received.borrow_mut().push(msg);
        Ok(AppResponse::default())
    }

    fn query(
        &self,
        _api: &dyn Api,
        _storage: &dyn Storage,
        _querier: &dyn Querier,
        _block: &BlockInfo,
        request: UmQuery,
    ) -> AnyResult<Binary> {
        bail!("the DAO is not expected to query the chain: {request:?}")
    }

    fn sudo<ExecC, QueryC>(
        &self,
        _api: &dyn Api,
        _storage: &mut dyn Storage,
        _router: &dyn CosmosRouter<ExecC = ExecC, QueryC = QueryC>,
        _block: &BlockInfo,
        msg: Empty,
    ) -> AnyResult<AppResponse> {
        bail!("unexpected custom sudo {msg:?}")
    }
}

type UmApp = App<BankKeeper, MockApi, MockStorage, ChainRecorder, WasmKeeper<UmMsg, UmQuery>>;

const DEPOSIT: u128 = 10_000;
/// A dataset delta the chain does not know.
const MISSING_DELTA: u64 = 666;
const PERIOD: u64 = 20;
const EXECUTION_PERIOD: u64 = 200;
const START_BALANCE: u128 = 1_000_000;

struct Chain {
    app: UmApp,
    chain: ChainRecorder,
    token: Addr,
    staking: Addr,
    dao: Addr,
    admin: Addr,
    alice: Addr,
    bob: Addr,
    carol: Addr,
}

fn setup() -> Chain {
    let chain = ChainRecorder::default();
    let mut app = BasicAppBuilder::<UmMsg, UmQuery>::new_custom()
        .with_custom(chain.clone())
        .build(|_, _, _| {});
    let admin = app.api().addr_make("admin");
    let alice = app.api().addr_make("alice");
    let bob = app.api().addr_make("bob");
    let carol = app.api().addr_make("carol");

    let token_code = app.store_code(Box::new(ContractWrapper::new_with_empty(
        nrn_token::contract::execute,
        nrn_token::contract::instantiate,
        nrn_token::contract::query,
    )));
    let staking_code = app.store_code(Box::new(ContractWrapper::new_with_empty(
        nrn_staking::contract::execute,
        nrn_staking::contract::instantiate,
        nrn_staking::contract::query,
    )));
    let dao_code = app.store_code(Box::new(
        ContractWrapper::new(
            nrn_dao::contract::execute,
            nrn_dao::contract::instantiate,
            nrn_dao::contract::query,
        )
        .with_migrate(nrn_dao::contract::migrate)
        .with_reply(nrn_dao::contract::reply),
    ));

    let token = app
        .instantiate_contract(
            token_code,
            admin.clone(),
            &nrn_instantiate_msg(
                [&alice, &bob, &carol]
                    .iter()
                    .map(|a| Cw20Coin {
                        address: a.to_string(),
                        amount: Uint128::new(START_BALANCE),
                    })
                    .collect(),
                None,
            ),
            &[],
            "nrn",
            None,
        )
        .unwrap();
    // The admin owns staking until the DAO exists, then hands it over.
    let staking = app
        .instantiate_contract(
            staking_code,
            admin.clone(),
            &StakingInstantiateMsg {
                token: token.to_string(),
                owner: Some(admin.to_string()),
                min_trainer_stake: Uint128::new(100),
                min_validator_stake: Uint128::new(1_000),
                unbonding_period_blocks: 10,
                max_validators: None,
            },
            &[],
            "nrn-staking",
            None,
        )
        .unwrap();
    let dao = app
        .instantiate_contract(
            dao_code,
            admin.clone(),
            &InstantiateMsg {
                token: token.to_string(),
                staking: staking.to_string(),
                quorum: Decimal::percent(40),
                threshold: Decimal::percent(50),
                veto_threshold: Decimal::permille(334),
                voting_period_blocks: PERIOD,
                proposal_deposit: Uint128::new(DEPOSIT),
                execution_period_blocks: Some(EXECUTION_PERIOD),
            },
            &[],
            "nrn-dao",
            Some(admin.to_string()),
        )
        .unwrap();
    app.execute_contract(
        admin.clone(),
        staking.clone(),
        &StakingExecuteMsg::UpdateConfig {
            owner: Some(dao.to_string()),
            min_trainer_stake: None,
            min_validator_stake: None,
            unbonding_period_blocks: None,
            max_validators: None,
        },
        &[],
    )
    .unwrap();

    let c = Chain {
        app,
        chain,
        token,
        staking,
        dao,
        admin,
        alice,
        bob,
        carol,
    };
    assert_eq!(c.staking_config().owner, Some(c.dao.clone()));
    c
}

fn hyperparams() -> Hyperparams {
    Hyperparams {
        learning_rate: Decimal::permille(3),
        batch_size: 128,
        local_steps: 50,
        verification_tolerance: Decimal::permille(5),
        min_improvement: Decimal::permille(1),
        reward_per_update: Uint128::new(2_500_000),
        reward_halving_interval: 10_000,
    }
}

/// The DAO's `ContractError` inside a multi-test error.
fn dao_error(err: &AnyError) -> &ContractError {
    err.downcast_ref::<ContractError>()
        .unwrap_or_else(|| panic!("not a DAO error: {err:?}"))
}

impl Chain {
    fn query<T: DeserializeOwned>(&self, contract: &Addr, msg: &impl Serialize) -> T {
        self.app.wrap().query_wasm_smart(contract, msg).unwrap()
    }

    fn balance(&self, addr: &Addr) -> u128 {
        let res: BalanceResponse = self.query(
            &self.token,
            &TokenQueryMsg::Balance {
                address: addr.to_string(),
            },
        );
        res.balance.u128()
    }

    fn supply(&self) -> u128 {
        let res: TokenInfoResponse = self.query(&self.token, &TokenQueryMsg::TokenInfo {});
        res.total_supply.u128()
    }

    fn staking_config(&self) -> StakingConfigResponse {
        self.query(&self.staking, &StakingQueryMsg::Config {})
    }

    fn proposal(&self, proposal_id: u64) -> ProposalResponse {
        self.query(&self.dao, &QueryMsg::Proposal { proposal_id })
    }

    fn height(&self) -> u64 {
        self.app.block_info().height
    }

    fn advance(&mut self, blocks: u64) {
        self.app.update_block(|b| {
            b.height += blocks;
            b.time = b.time.plus_seconds(5 * blocks);
        });
    }

    fn recorded(&self) -> Vec<UmMsg> {
        self.chain.received.borrow().clone()
    }

    /// Bonds `amount` for `who` as a trainer through a cw20 `Send`.
    fn bond(&mut self, who: &Addr, amount: u128) {
        self.app
            .execute_contract(
                who.clone(),
                self.token.clone(),
                &TokenExecuteMsg::Send {
                    contract: self.staking.to_string(),
                    amount: Uint128::new(amount),
                    msg: to_json_binary(&StakingReceiveMsg::Bond {
                        role: Role::Trainer,
                        consensus_signature: None,
                    })
                    .unwrap(),
                },
                &[],
            )
            .unwrap();
    }

    /// `who` proposes `action` with the deposit; returns the proposal id.
    fn propose(&mut self, who: &Addr, action: ProposalAction) -> u64 {
        let res = self
            .app
            .execute_contract(
                who.clone(),
                self.token.clone(),
                &TokenExecuteMsg::Send {
                    contract: self.dao.to_string(),
                    amount: Uint128::new(DEPOSIT),
                    msg: to_json_binary(&ReceiveMsg::Propose {
                        title: "proposal".to_string(),
                        description: "from the multitest".to_string(),
                        action,
                    })
                    .unwrap(),
                },
                &[],
            )
            .unwrap();
        res.events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == "proposal_id")
            .map(|a| a.value.parse().unwrap())
            .unwrap()
    }

    fn vote(&mut self, who: &Addr, proposal_id: u64, vote: VoteOption) -> AnyResult<AppResponse> {
        self.app.execute_contract(
            who.clone(),
            self.dao.clone(),
            &ExecuteMsg::Vote { proposal_id, vote },
            &[],
        )
    }

    fn dao_exec(&mut self, who: &Addr, msg: ExecuteMsg) -> AnyResult<AppResponse> {
        self.app
            .execute_contract(who.clone(), self.dao.clone(), &msg, &[])
    }
}

#[test]
fn passed_hyperparams_proposal_reaches_the_chain_and_refunds_the_deposit() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);

    let id = c.propose(
        &alice,
        ProposalAction::SetHyperparams {
            model_id: "mnist-mlp".to_string(),
            hyperparams: hyperparams(),
        },
    );
    assert_eq!(c.balance(&alice), START_BALANCE - 600_000 - DEPOSIT);
    assert_eq!(c.balance(&c.dao), DEPOSIT);
    let p = c.proposal(id);
    assert_eq!(p.total_stake, Uint128::new(900_000));
    assert_eq!(p.start_height, c.height());
    assert_eq!(p.end_height, c.height() + PERIOD);

    c.vote(&alice, id, VoteOption::Yes).unwrap();
    c.advance(1);
    c.vote(&bob, id, VoteOption::Yes).unwrap();
    let err = c.vote(&bob, id, VoteOption::No).unwrap_err();
    assert_eq!(
        *dao_error(&err),
        ContractError::AlreadyVoted {
            id,
            voter: bob.to_string()
        }
    );
    let p = c.proposal(id);
    assert_eq!(p.votes.yes, Uint128::new(900_000));
    assert_eq!(p.status, Status::Open);
    let ballot: VoteResponse = c.query(
        &c.dao,
        &QueryMsg::Vote {
            proposal_id: id,
            voter: bob.to_string(),
        },
    );
    assert_eq!(ballot.vote.map(|v| v.weight), Some(Uint128::new(300_000)));

    // Too early: refused, nothing reaches the chain.
    let err = c
        .dao_exec(&carol, ExecuteMsg::Execute { proposal_id: id })
        .unwrap_err();
    assert_eq!(
        *dao_error(&err),
        ContractError::VotingOpen {
            id,
            end_height: p.end_height
        }
    );
    assert!(c.recorded().is_empty());

    c.advance(PERIOD);
    assert_eq!(c.proposal(id).status, Status::Passed);
    // Anyone may execute.
    c.dao_exec(&carol, ExecuteMsg::Execute { proposal_id: id })
        .unwrap();
    assert_eq!(
        c.recorded(),
        vec![UmMsg::SetHyperparams {
            model_id: "mnist-mlp".to_string(),
            hyperparams: hyperparams(),
        }]
    );
    assert_eq!(c.balance(&alice), START_BALANCE - 600_000);
    assert_eq!(c.balance(&c.dao), 0);
    assert_eq!(c.proposal(id).status, Status::Executed);

    let err = c
        .dao_exec(&carol, ExecuteMsg::Execute { proposal_id: id })
        .unwrap_err();
    assert_eq!(*dao_error(&err), ContractError::AlreadyExecuted { id });
    assert_eq!(c.recorded().len(), 1);
}

#[test]
fn failed_proposals_change_nothing_and_settle_their_deposits() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 400_000);
    c.advance(1);
    let supply = c.supply();

    // Nobody votes: no quorum.
    let ignored = c.propose(
        &carol,
        ProposalAction::SetHyperparams {
            model_id: "mnist-mlp".to_string(),
            hyperparams: hyperparams(),
        },
    );
    // Vetoed: bob's 400k veto is 40% of the votes cast (33.4% needed),
    // although yes has 60%.
    let vetoed = c.propose(&carol, ProposalAction::AcceptDatasetDelta { delta_id: 1 });
    c.vote(&alice, vetoed, VoteOption::Yes).unwrap();
    c.vote(&bob, vetoed, VoteOption::Veto).unwrap();
    assert_eq!(c.balance(&carol), START_BALANCE - 2 * DEPOSIT);

    c.advance(PERIOD);
    assert_eq!(c.proposal(ignored).status, Status::Rejected);
    assert_eq!(c.proposal(vetoed).status, Status::Vetoed);
    for id in [ignored, vetoed] {
        let err = c
            .dao_exec(&alice, ExecuteMsg::Execute { proposal_id: id })
            .unwrap_err();
        assert!(matches!(dao_error(&err), ContractError::NotPassed { id: i, .. } if *i == id));
    }
    assert!(c.recorded().is_empty());

    // Closing: the rejected deposit comes back, the vetoed one is burned.
    c.dao_exec(
        &alice,
        ExecuteMsg::Close {
            proposal_id: ignored,
        },
    )
    .unwrap();
    assert_eq!(c.balance(&carol), START_BALANCE - DEPOSIT);
    c.dao_exec(
        &alice,
        ExecuteMsg::Close {
            proposal_id: vetoed,
        },
    )
    .unwrap();
    assert_eq!(c.balance(&carol), START_BALANCE - DEPOSIT);
    assert_eq!(c.balance(&c.dao), 0);
    assert_eq!(c.supply(), supply - DEPOSIT);
    assert!(c.proposal(ignored).closed && c.proposal(vetoed).closed);
    assert!(c.recorded().is_empty());
}

#[test]
fn stake_bonded_after_the_proposal_started_gives_no_power() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 100_000);
    c.advance(1);

    let id = c.propose(&alice, ProposalAction::RejectDatasetDelta { delta_id: 9 });
    let start = c.height();
    // Same block as the proposal: too late.
    c.bond(&bob, 500_000);
    let err = c.vote(&bob, id, VoteOption::No).unwrap_err();
    assert_eq!(
        *dao_error(&err),
        ContractError::NoVotingPower {
            voter: bob.to_string(),
            height: start
        }
    );
    // A later block: too late as well; alice's extra stake does not count.
    c.advance(1);
    c.bond(&carol, 500_000);
    c.bond(&alice, 400_000);
    assert!(matches!(
        dao_error(&c.vote(&carol, id, VoteOption::No).unwrap_err()),
        ContractError::NoVotingPower { .. }
    ));
    c.vote(&alice, id, VoteOption::Yes).unwrap();
    let p = c.proposal(id);
    assert_eq!(p.total_stake, Uint128::new(100_000));
    assert_eq!(p.votes.yes, Uint128::new(100_000));
    assert_eq!(p.votes.no, Uint128::zero());

    // Only alice's 100k counted, and it passes; the late 1.4M could not stop it.
    c.advance(PERIOD);
    c.dao_exec(&carol, ExecuteMsg::Execute { proposal_id: id })
        .unwrap();
    assert_eq!(
        c.recorded(),
        vec![UmMsg::RejectDatasetDelta { delta_id: 9 }]
    );
}

#[test]
fn update_staking_config_proposal_changes_the_minimum_stake() {
    let mut c = setup();
    let (alice, bob, admin) = (c.alice.clone(), c.bob.clone(), c.admin.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);

    // The admin handed staking over: it can no longer change it.
    c.app
        .execute_contract(
            admin,
            c.staking.clone(),
            &StakingExecuteMsg::UpdateConfig {
                owner: None,
                min_trainer_stake: Some(Uint128::new(1)),
                min_validator_stake: None,
                unbonding_period_blocks: None,
                max_validators: None,
            },
            &[],
        )
        .unwrap_err();
    assert_eq!(c.staking_config().min_trainer_stake, Uint128::new(100));

    let id = c.propose(
        &bob,
        ProposalAction::UpdateStakingConfig {
            min_trainer_stake: Some(Uint128::new(5_000)),
            min_validator_stake: None,
            unbonding_period_blocks: Some(30),
            max_validators: Some(25),
        },
    );
    c.vote(&alice, id, VoteOption::Yes).unwrap();
    c.vote(&bob, id, VoteOption::No).unwrap();
    c.advance(PERIOD);
    assert_eq!(c.proposal(id).status, Status::Passed);
    c.dao_exec(&alice, ExecuteMsg::Execute { proposal_id: id })
        .unwrap();

    let cfg = c.staking_config();
    assert_eq!(cfg.min_trainer_stake, Uint128::new(5_000));
    assert_eq!(cfg.min_validator_stake, Uint128::new(1_000));
    assert_eq!(cfg.unbonding_period_blocks, 30);
    assert_eq!(cfg.max_validators, 25);
    assert_eq!(cfg.owner, Some(c.dao.clone()));
    assert_eq!(c.balance(&bob), START_BALANCE - 300_000);
    assert!(c.recorded().is_empty());
}

impl Chain {
    /// alice and bob vote yes on `proposal_id`.
    fn pass(&mut self, proposal_id: u64) {
        let (alice, bob) = (self.alice.clone(), self.bob.clone());
        self.vote(&alice, proposal_id, VoteOption::Yes).unwrap();
        self.vote(&bob, proposal_id, VoteOption::Yes).unwrap();
    }

    fn execute(&mut self, proposal_id: u64) -> AnyResult<AppResponse> {
        let carol = self.carol.clone();
        self.dao_exec(&carol, ExecuteMsg::Execute { proposal_id })
    }
}

fn event_attr<'a>(res: &'a AppResponse, key: &str) -> Option<&'a str> {
    res.events
        .iter()
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .map(|a| a.value.as_str())
}

#[test]
fn a_failing_action_settles_the_proposal_and_refunds_the_deposit() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);
    let id = c.propose(
        &carol,
        ProposalAction::AcceptDatasetDelta {
            delta_id: MISSING_DELTA,
        },
    );
    c.pass(id);
    c.advance(PERIOD);
    assert_eq!(c.balance(&carol), START_BALANCE - DEPOSIT);

    // The chain refuses the action, yet the Execute tx goes through.
    let res = c.execute(id).unwrap();
    assert_eq!(event_attr(&res, "status"), Some("executed"));
    assert!(res.events.iter().any(|e| e
        .attributes
        .iter()
        .any(|a| a.key == "action" && a.value == "execution_failed")));
    let p = c.proposal(id);
    assert_eq!(p.status, Status::ExecutionFailed);
    assert!(
        p.execution_error
            .as_deref()
            .unwrap_or_default()
            .contains("not found"),
        "{:?}",
        p.execution_error
    );
    // The deposit is back, not locked in the DAO; nothing reached the chain.
    assert_eq!(c.balance(&carol), START_BALANCE);
    assert_eq!(c.balance(&c.dao), 0);
    assert!(c.recorded().is_empty());
    // At most once.
    let err = c.execute(id).unwrap_err();
    assert_eq!(*dao_error(&err), ContractError::AlreadyExecuted { id });
    let err = c
        .dao_exec(&carol, ExecuteMsg::Close { proposal_id: id })
        .unwrap_err();
    assert_eq!(*dao_error(&err), ContractError::AlreadyExecuted { id });
    assert_eq!(c.balance(&carol), START_BALANCE);
}

#[test]
fn passed_proposals_run_in_order_and_expire() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);
    let lineage = ProposalAction::NewModelLineage {
        model_id: "mnist-cnn".to_string(),
        spec: "{}".to_string(),
        hyperparams: hyperparams(),
        dataset_id: None,
    };
    let mut tuned = hyperparams();
    tuned.batch_size = 256;
    let tune = ProposalAction::SetHyperparams {
        model_id: "mnist-cnn".to_string(),
        hyperparams: tuned.clone(),
    };
    let first = c.propose(&carol, lineage);
    let second = c.propose(&carol, tune);
    c.pass(first);
    c.pass(second);
    c.advance(PERIOD);

    // The newer one waits for the older one.
    let err = c.execute(second).unwrap_err();
    assert_eq!(
        *dao_error(&err),
        ContractError::EarlierProposalPending {
            id: second,
            earlier: first,
        }
    );
    assert!(c.recorded().is_empty());
    c.execute(first).unwrap();
    c.execute(second).unwrap();
    assert!(matches!(
        c.recorded().as_slice(),
        [UmMsg::CreateModelLineage { .. }, UmMsg::SetHyperparams { hyperparams, .. }]
            if *hyperparams == tuned
    ));

    // A third passes but nobody executes it in time.
    let third = c.propose(&carol, ProposalAction::RejectDatasetDelta { delta_id: 4 });
    c.pass(third);
    c.advance(PERIOD + EXECUTION_PERIOD);
    assert_eq!(c.proposal(third).status, Status::Expired);
    let err = c.execute(third).unwrap_err();
    assert!(matches!(
        dao_error(&err),
        ContractError::ExecutionExpired { id, .. } if *id == third
    ));
    assert_eq!(c.balance(&carol), START_BALANCE - DEPOSIT);
    c.dao_exec(&alice, ExecuteMsg::Close { proposal_id: third })
        .unwrap();
    assert_eq!(c.balance(&carol), START_BALANCE);
    assert_eq!(c.recorded().len(), 2);
}

#[test]
fn dao_settings_are_bounded_by_the_token_supply() {
    let mut c = setup();
    let (alice, bob) = (c.alice.clone(), c.bob.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);
    let supply = c.supply();
    let err = c
        .app
        .execute_contract(
            alice.clone(),
            c.token.clone(),
            &TokenExecuteMsg::Send {
                contract: c.dao.to_string(),
                amount: Uint128::new(DEPOSIT),
                msg: to_json_binary(&ReceiveMsg::Propose {
                    title: "lock everyone out".to_string(),
                    description: String::new(),
                    action: ProposalAction::UpdateDaoConfig {
                        quorum: None,
                        threshold: None,
                        veto_threshold: None,
                        voting_period_blocks: None,
                        proposal_deposit: Some(Uint128::new(supply + 1)),
                        execution_period_blocks: None,
                    },
                })
                .unwrap(),
            },
            &[],
        )
        .unwrap_err();
    assert!(matches!(
        dao_error(&err),
        ContractError::InvalidConfig { field, .. } if field == "proposal_deposit"
    ));
    // Rolled back: the deposit stayed with alice.
    assert_eq!(c.balance(&alice), START_BALANCE - 600_000);

    // The whole supply is the most a deposit can be.
    let id = c.propose(
        &alice,
        ProposalAction::UpdateDaoConfig {
            quorum: None,
            threshold: None,
            veto_threshold: None,
            voting_period_blocks: None,
            proposal_deposit: Some(Uint128::new(supply)),
            execution_period_blocks: None,
        },
    );
    c.pass(id);
    c.advance(PERIOD);
    c.execute(id).unwrap();
    let config: nrn_dao::msg::ConfigResponse = c.query(&c.dao, &QueryMsg::Config {});
    assert_eq!(config.proposal_deposit, Uint128::new(supply));
}

/// Collaborative rounds by proposal: started with params, then ended; a
/// proposal the chain would refuse never opens, and its deposit stays with
/// the proposer.
#[test]
fn round_params_proposals_start_and_end_rounds_on_the_chain() {
    let mut c = setup();
    let (alice, bob, carol) = (c.alice.clone(), c.bob.clone(), c.carol.clone());
    c.bond(&alice, 600_000);
    c.bond(&bob, 300_000);
    c.advance(1);
    let rounds = RoundParams {
        max_contributions: 4,
        round_blocks: 30,
        outer_learning_rate: Decimal::percent(70),
        eval_samples: 200,
        checkpoint_interval: 0,
        segments_per_validator: 0,
        compression: "topk".to_string(),
    };

    let err = c
        .app
        .execute_contract(
            carol.clone(),
            c.token.clone(),
            &TokenExecuteMsg::Send {
                contract: c.dao.to_string(),
                amount: Uint128::new(DEPOSIT),
                msg: to_json_binary(&ReceiveMsg::Propose {
                    title: "too many contributions".to_string(),
                    description: String::new(),
                    action: ProposalAction::SetRoundParams {
                        model_id: "mnist-mlp".to_string(),
                        rounds: Some(RoundParams {
                            max_contributions: 17,
                            ..rounds.clone()
                        }),
                    },
                })
                .unwrap(),
            },
            &[],
        )
        .unwrap_err();
    assert!(matches!(
        dao_error(&err),
        ContractError::InvalidRoundParams { reason } if reason.contains("max_contributions")
    ));
    assert_eq!(c.balance(&carol), START_BALANCE, "rolled back");

    let start = c.propose(
        &carol,
        ProposalAction::SetRoundParams {
            model_id: "mnist-mlp".to_string(),
            rounds: Some(rounds.clone()),
        },
    );
    c.pass(start);
    c.advance(PERIOD);
    let res = c.execute(start).unwrap();
    assert_eq!(
        event_attr(&res, "proposal_action"),
        Some("set_round_params")
    );
    assert_eq!(c.proposal(start).status, Status::Executed);

    let end = c.propose(
        &carol,
        ProposalAction::SetRoundParams {
            model_id: "mnist-mlp".to_string(),
            rounds: None,
        },
    );
    c.pass(end);
    c.advance(PERIOD);
    c.execute(end).unwrap();
    assert_eq!(c.proposal(end).status, Status::Executed);

    assert_eq!(
        c.recorded(),
        vec![
            UmMsg::SetRoundParams {
                model_id: "mnist-mlp".to_string(),
                rounds: Some(rounds),
            },
            UmMsg::SetRoundParams {
                model_id: "mnist-mlp".to_string(),
                rounds: None,
            },
        ]
    );
    // Both deposits are back.
    assert_eq!(c.balance(&carol), START_BALANCE);
    assert_eq!(c.balance(&c.dao), 0);
}
