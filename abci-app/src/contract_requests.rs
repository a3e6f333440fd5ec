//! What contracts may ask of the chain: [`UmMsg`] from the registered DAO,
//! and [`UmQuery`] from anyone. The messages are defined in the
//! `um-bindings` package, which the contracts share; this is the chain's
//! side, which hands them to the modules.

use um_bindings::{HeadVersionResponse, HyperparamsResponse, UmMsg, UmQuery};

use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, CustomBindings, CustomOutcome, Event, SudoCall};
use crate::store::StateView;
use crate::{dataset, fee, gov, training, wasm};

pub struct ContractRequests;

impl CustomBindings for ContractRequests {
    fn execute(
        &self,
        state: &mut StateView,
        block: &BlockInfo,
        contract: &str,
        msg: &[u8],
    ) -> Result<CustomOutcome, TxError> {
        let Some(registry) = gov::registry(state)? else {
            return Err(TxError::new(
                Code::NotPermitted,
                "chain messages are refused: no governance contracts are registered",
            ));
        };
        if contract != registry.dao {
            return Err(TxError::new(
                Code::NotPermitted,
                format!(
                    "only the registered DAO {} may send chain messages, not {contract}",
                    registry.dao
                ),
            ));
        }
        let msg: UmMsg = serde_json::from_slice(msg)
            .map_err(|e| TxError::new(Code::InvalidRequest, format!("not a UmMsg: {e}")))?;
        let event = Event::new("um_governance").attr("dao", contract);
        match msg {
            UmMsg::SetHyperparams {
                model_id,
                hyperparams,
            } => {
                training::set_hyperparams(state, block.height, &model_id, &hyperparams)?;
                Ok(vec![event
                    .attr("action", "set_hyperparams")
                    .attr("model_id", model_id)]
                .into())
            }
            UmMsg::CreateModelLineage {
                model_id,
                spec,
                hyperparams,
                dataset_id,
            } => {
                let gas = training::create_lineage_from_dao(
                    state,
                    block.height,
                    &model_id,
                    &spec,
                    &hyperparams,
                    dataset_id.as_deref(),
                )?;
                let mut outcome = CustomOutcome::from(vec![event
                    .attr("action", "create_model_lineage")
                    .attr("model_id", model_id)]);
                outcome.gas = gas;
                Ok(outcome)
            }
            UmMsg::UpdateRegistry {
                token,
                staking,
                dao,
                versions,
            } => {
                gov::replace_registry(
                    state,
                    &gov::Registry {
                        token,
                        staking,
                        dao,
                        versions,
                    },
                )?;
                Ok(vec![event.attr("action", "update_registry")].into())
            }
            UmMsg::SetFeeParams {
                min_gas_price,
                validator_reward_share,
                verification_fee,
            } => {
                let mut params = fee::FeeParams::load(state)?;
                if let Some(price) = min_gas_price {
                    params.min_gas_price = price;
                }
                if let Some(share) = validator_reward_share {
                    params.validator_reward_share = share;
                }
                if let Some(amount) = verification_fee {
                    params.verification_fee = amount;
                }
                params.save(state)?;
                Ok(vec![event
                    .attr("action", "set_fee_params")
                    .attr("min_gas_price", params.min_gas_price.to_string())
                    .attr(
                        "validator_reward_share",
                        params.validator_reward_share.to_string(),
                    )
                    .attr("verification_fee", params.verification_fee.to_string())]
                .into())
            }
            UmMsg::SetCodeUploadAccess { access } => {
                // The same JSON on both sides; the chain's own validation
                // (account addresses, no duplicates) decides.
                let access: wasm::CodeUploadAccess = serde_json::to_value(&access)
                    .and_then(serde_json::from_value)
                    .map_err(|e| {
                        TxError::new(Code::InvalidRequest, format!("code upload access: {e}"))
                    })?;
                wasm::set_code_upload_access(state, &access)?;
                let rule = serde_json::to_string(&access).unwrap_or_default();
                Ok(vec![event
                    .attr("action", "set_code_upload_access")
                    .attr("code_upload_access", rule)]
                .into())
            }
            UmMsg::StoreCode { wasm_byte_code } => Ok(CustomOutcome {
                events: vec![event.attr("action", "store_code")],
                store_code: Some(wasm_byte_code.to_vec()),
                ..CustomOutcome::default()
            }),
            UmMsg::AcceptDatasetDelta { delta_id } => {
                let mut outcome = dataset::decide::accept(state, block, delta_id)?;
                if let Some(delta) = dataset::records::delta(state, delta_id)? {
                    training::supply_rewards::note_delta_reward(state, delta_id, &delta.proposer)?;
                }
                outcome.events.insert(
                    0,
                    event
                        .attr("action", "accept_dataset_delta")
                        .attr("delta_id", delta_id.to_string()),
                );
                Ok(outcome)
            }
            UmMsg::SetRewardParams {
                version_supply_fraction,
                delta_supply_fraction,
                halving_blocks,
            } => {
                let mut params = training::supply_rewards::RewardParams::load(state)?;
                if let Some(fraction) = version_supply_fraction {
                    params.version_supply_fraction = fraction;
                }
                if let Some(fraction) = delta_supply_fraction {
                    params.delta_supply_fraction = fraction;
                }
                if let Some(blocks) = halving_blocks {
                    params.halving_blocks = blocks;
                }
                params.save(state)?;
                Ok(vec![event
                    .attr("action", "set_reward_params")
                    .attr(
                        "version_supply_fraction",
                        params.version_supply_fraction.to_string(),
                    )
                    .attr(
                        "delta_supply_fraction",
                        params.delta_supply_fraction.to_string(),
                    )
                    .attr("halving_blocks", params.halving_blocks.to_string())]
                .into())
            }
            UmMsg::SetRoundParams { model_id, rounds } => {
                // Destructured and rebuilt field by field, so that a field
                // added on either side fails to compile here instead of being
                // dropped; the chain's own bounds (`RoundParams::validate`)
                // decide.
                let rounds = rounds.map(
                    |um_bindings::RoundParams {
                         max_contributions,
                         round_blocks,
                         outer_learning_rate,
                         eval_samples,
                         checkpoint_interval,
                         segments_per_validator,
                         compression,
                     }| training::round::RoundParams {
                        max_contributions,
                        round_blocks,
                        outer_learning_rate,
                        eval_samples,
                        checkpoint_interval,
                        segments_per_validator,
                        compression,
                    },
                );
                let shown = match &rounds {
                    Some(r) => serde_json::to_string(r).unwrap_or_default(),
                    None => "none".to_string(),
                };
                training::set_round_params(state, block.height, &model_id, rounds)?;
                // No gas beyond the flat price of a custom message, as for
                // `SetHyperparams`: the lineage record and at most one new
                // round record, neither of which grows with the message
                // beyond the model id that the DAO bounds.
                Ok(vec![event
                    .attr("action", "set_round_params")
                    .attr("model_id", model_id)
                    .attr("rounds", shown)]
                .into())
            }
            UmMsg::SetRoyaltyRule { last_versions } => {
                um_bindings::versions::validate_royalty_rule(last_versions)
                    .map_err(|reason| TxError::new(Code::InvalidRequest, reason))?;
                let Some(versions) = registry.versions else {
                    return Err(TxError::new(
                        Code::NotFound,
                        "no nrn-versions contract is registered: there are no royalties to rule",
                    ));
                };
                let msg = um_bindings::versions::SudoMsg::SetRoyaltyRule { last_versions };
                let msg = serde_json::to_vec(&msg)
                    .map_err(|e| TxError::new(Code::Internal, e.to_string()))?;
                Ok(CustomOutcome {
                    events: vec![event
                        .attr("action", "set_royalty_rule")
                        .attr("last_versions", last_versions.to_string())],
                    // The rule lives in the contract that splits the tips;
                    // only the chain reaches its `sudo`.
                    sudo_calls: vec![SudoCall {
                        contract: versions,
                        msg,
                    }],
                    ..CustomOutcome::default()
                })
            }
            UmMsg::RejectDatasetDelta { delta_id } => {
                let mut outcome = dataset::decide::reject(state, block.height, delta_id)?;
                outcome.events.insert(
                    0,
                    event
                        .attr("action", "reject_dataset_delta")
                        .attr("delta_id", delta_id.to_string()),
                );
                Ok(outcome)
            }
        }
    }

    fn query(&self, state: &StateView, request: &[u8]) -> Result<Vec<u8>, TxError> {
        let request: UmQuery = serde_json::from_slice(request)
            .map_err(|e| TxError::new(Code::InvalidRequest, format!("not a UmQuery: {e}")))?;
        let response = match request {
            UmQuery::Hyperparams { model_id } => {
                let hyperparams = training::lineage(state, &model_id)?.map(|l| l.hyperparams);
                serde_json::to_vec(&HyperparamsResponse {
                    model_id,
                    hyperparams,
                })
            }
            UmQuery::HeadVersion { model_id } => {
                let head = match training::lineage(state, &model_id)? {
                    Some(lineage) => {
                        training::records::version(state, &model_id, lineage.head_version)?
                    }
                    None => None,
                };
                serde_json::to_vec(&HeadVersionResponse {
                    model_id,
                    version: head.as_ref().map(|v| v.version),
                    weights_hash: head.map(|v| hex::encode(v.weights_sha256)),
                })
            }
        };
        response.map_err(|e| TxError::new(Code::Internal, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use cosmwasm_std::{Decimal, Uint128};
    use um_bindings::Hyperparams;

    use super::*;
    use crate::gov::Registry;
    use crate::store::Store;

    fn hyperparams(batch_size: u32) -> Hyperparams {
        Hyperparams {
            learning_rate: Decimal::percent(10),
            batch_size,
            local_steps: 4,
            verification_tolerance: Decimal::permille(1),
            min_improvement: Decimal::zero(),
            reward_per_update: Uint128::new(1_000_000),
            reward_halving_interval: 0,
        }
    }

    #[test]
    fn only_the_registered_dao_changes_hyperparameters() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let block = BlockInfo {
            height: 5,
            ..BlockInfo::default()
        };
        let dao = crate::address::encode(&[9; 32]);
        let other = crate::address::encode(&[8; 32]);
        let create = serde_json::to_vec(&UmMsg::CreateModelLineage {
            model_id: "mnist-mlp".into(),
            spec: r#"{"kind":"mlp","input":[1,28,28],"hidden":[8],"classes":10}"#.into(),
            hyperparams: hyperparams(32),
            dataset_id: None,
        })
        .unwrap();
        let refused = ContractRequests
            .execute(&mut state, &block, &dao, &create)
            .unwrap_err();
        assert_eq!(refused.code, Code::NotPermitted, "nothing registered yet");

        gov::register(
            &mut state,
            &Registry {
                token: other.clone(),
                staking: other.clone(),
                dao: dao.clone(),
                versions: None,
            },
        )
        .unwrap();
        assert_eq!(
            ContractRequests
                .execute(&mut state, &block, &other, &create)
                .unwrap_err()
                .code,
            Code::NotPermitted
        );
        ContractRequests
            .execute(&mut state, &block, &dao, &create)
            .unwrap();
        let set = serde_json::to_vec(&UmMsg::SetHyperparams {
            model_id: "mnist-mlp".into(),
            hyperparams: hyperparams(64),
        })
        .unwrap();
        ContractRequests
            .execute(&mut state, &block, &dao, &set)
            .unwrap();

        let query = serde_json::to_vec(&UmQuery::Hyperparams {
            model_id: "mnist-mlp".into(),
        })
        .unwrap();
        let answer: HyperparamsResponse =
            serde_json::from_slice(&ContractRequests.query(&state, &query).unwrap()).unwrap();
        assert_eq!(answer.hyperparams.unwrap().batch_size, 64);

        let bad = serde_json::to_vec(&UmMsg::SetHyperparams {
            model_id: "mnist-mlp".into(),
            hyperparams: hyperparams(0),
        })
        .unwrap();
        assert_eq!(
            ContractRequests
                .execute(&mut state, &block, &dao, &bad)
                .unwrap_err()
                .code,
            Code::InvalidRequest
        );
        let delta = serde_json::to_vec(&UmMsg::AcceptDatasetDelta { delta_id: 1 }).unwrap();
        assert_eq!(
            ContractRequests
                .execute(&mut state, &block, &dao, &delta)
                .unwrap_err()
                .code,
            Code::NotFound
        );
        // A second registration is refused.
        assert!(gov::register(
            &mut state,
            &Registry {
                token: other.clone(),
                staking: other.clone(),
                dao: other,
                versions: None,
            }
        )
        .is_err());
    }

    /// Issue 20: the DAO sets the 2017 design's rewards field by field; a
    /// fraction above 1 % of the supply is refused and changes nothing.
    #[test]
    fn the_dao_sets_the_supply_rewards() {
        use crate::training::supply_rewards::RewardParams;
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let block = BlockInfo::default();
        let dao = crate::address::encode(&[9; 32]);
        let other = crate::address::encode(&[8; 32]);
        gov::register(
            &mut state,
            &Registry {
                token: other.clone(),
                staking: other,
                dao: dao.clone(),
                versions: None,
            },
        )
        .unwrap();
        let run = |state: &mut StateView, msg: &UmMsg| {
            ContractRequests.execute(state, &block, &dao, &serde_json::to_vec(msg).unwrap())
        };
        let design = Decimal::from_ratio(1u128, 100_000u128);
        run(
            &mut state,
            &UmMsg::SetRewardParams {
                version_supply_fraction: Some(design),
                delta_supply_fraction: None,
                halving_blocks: Some(25_228_800),
            },
        )
        .unwrap();
        run(
            &mut state,
            &UmMsg::SetRewardParams {
                version_supply_fraction: None,
                delta_supply_fraction: Some(design / Uint128::new(10)),
                halving_blocks: None,
            },
        )
        .unwrap();
        let set = RewardParams::load(&state).unwrap();
        assert_eq!(
            set,
            RewardParams {
                version_supply_fraction: design,
                delta_supply_fraction: Decimal::from_ratio(1u128, 1_000_000u128),
                halving_blocks: 25_228_800,
            }
        );
        let err = run(
            &mut state,
            &UmMsg::SetRewardParams {
                version_supply_fraction: Some(Decimal::percent(2)),
                delta_supply_fraction: None,
                halving_blocks: None,
            },
        )
        .unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest);
        assert_eq!(RewardParams::load(&state).unwrap(), set);
    }

    /// Issue 15: the DAO sets the fee parameters and who may upload code;
    /// an upload it passes comes back to the wasm module to store.
    #[test]
    fn the_dao_sets_fees_and_the_code_upload_rule() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let block = BlockInfo::default();
        let dao = crate::address::encode(&[9; 32]);
        let other = crate::address::encode(&[8; 32]);
        gov::register(
            &mut state,
            &Registry {
                token: other.clone(),
                staking: other.clone(),
                dao: dao.clone(),
                versions: None,
            },
        )
        .unwrap();
        let run = |state: &mut StateView, msg: &UmMsg| {
            ContractRequests.execute(state, &block, &dao, &serde_json::to_vec(msg).unwrap())
        };
        run(
            &mut state,
            &UmMsg::SetFeeParams {
                min_gas_price: Some(Decimal::permille(50)),
                validator_reward_share: None,
                verification_fee: Some(Uint128::new(7)),
            },
        )
        .unwrap();
        let params = fee::FeeParams::load(&state).unwrap();
        assert_eq!(params.min_gas_price, Decimal::permille(50));
        assert_eq!(
            params.validator_reward_share,
            Decimal::percent(10),
            "unchanged"
        );
        assert_eq!(params.verification_fee, Uint128::new(7));
        let too_much = UmMsg::SetFeeParams {
            min_gas_price: None,
            validator_reward_share: Some(Decimal::percent(150)),
            verification_fee: None,
        };
        assert_eq!(
            run(&mut state, &too_much).unwrap_err().code,
            Code::InvalidRequest
        );
        assert_eq!(fee::FeeParams::load(&state).unwrap(), params);

        run(
            &mut state,
            &UmMsg::SetCodeUploadAccess {
                access: um_bindings::CodeUploadAccess::DaoOnly,
            },
        )
        .unwrap();
        assert_eq!(
            wasm::code_upload_access(&state).unwrap(),
            wasm::CodeUploadAccess::DaoOnly
        );
        // A contract address is no uploader the chain accepts.
        let contract_list = UmMsg::SetCodeUploadAccess {
            access: um_bindings::CodeUploadAccess::AnyOf {
                addresses: vec![other.clone()],
            },
        };
        assert!(run(&mut state, &contract_list).is_err());
        assert_eq!(
            wasm::code_upload_access(&state).unwrap(),
            wasm::CodeUploadAccess::DaoOnly
        );
        let outcome = run(
            &mut state,
            &UmMsg::StoreCode {
                wasm_byte_code: cosmwasm_std::Binary::from(b"\0asm".to_vec()),
            },
        )
        .unwrap();
        assert_eq!(outcome.store_code.as_deref(), Some(b"\0asm".as_slice()));
    }

    /// Issue 16: the DAO starts a lineage's collaborative rounds (the first
    /// round opens at once, at the block's height) and ends them (the round
    /// in progress finishes); only the DAO may, within the chain's bounds.
    #[test]
    fn the_dao_starts_and_ends_collaborative_rounds() {
        use um_proto::um::training::v1::RoundStatus;

        // The DAO checks proposals against its copy of the chain's bound.
        assert_eq!(
            um_bindings::MAX_ROUND_CONTRIBUTIONS,
            training::round::MAX_CONTRIBUTIONS
        );
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let block = BlockInfo {
            height: 7,
            ..BlockInfo::default()
        };
        let dao = crate::address::encode(&[9; 32]);
        let other = crate::address::encode(&[8; 32]);
        gov::register(
            &mut state,
            &Registry {
                token: other.clone(),
                staking: other.clone(),
                dao: dao.clone(),
                versions: None,
            },
        )
        .unwrap();
        let run = |state: &mut StateView, sender: &str, msg: &UmMsg| {
            ContractRequests.execute(state, &block, sender, &serde_json::to_vec(msg).unwrap())
        };
        run(
            &mut state,
            &dao,
            &UmMsg::CreateModelLineage {
                model_id: "mnist-mlp".into(),
                spec: r#"{"kind":"mlp","input":[1,28,28],"hidden":[8],"classes":10}"#.into(),
                hyperparams: hyperparams(32),
                dataset_id: None,
            },
        )
        .unwrap();
        let rounds = um_bindings::RoundParams {
            max_contributions: 4,
            round_blocks: 30,
            outer_learning_rate: Decimal::percent(70),
            eval_samples: 200,
            checkpoint_interval: 0,
            segments_per_validator: 0,
            compression: "bf16".into(),
        };
        let start = UmMsg::SetRoundParams {
            model_id: "mnist-mlp".into(),
            rounds: Some(rounds.clone()),
        };

        assert_eq!(
            run(&mut state, &other, &start).unwrap_err().code,
            Code::NotPermitted
        );
        assert_eq!(
            training::lineage(&state, "mnist-mlp")
                .unwrap()
                .unwrap()
                .rounds,
            None
        );
        let unknown = UmMsg::SetRoundParams {
            model_id: "no-such-model".into(),
            rounds: Some(rounds.clone()),
        };
        assert_eq!(
            run(&mut state, &dao, &unknown).unwrap_err().code,
            Code::NotFound
        );

        let outcome = run(&mut state, &dao, &start).unwrap();
        assert_eq!(outcome.gas, 0, "the flat price only, as SetHyperparams");
        let attrs = &outcome.events[0].attributes;
        assert!(attrs.contains(&("action".to_string(), "set_round_params".to_string())));
        let lineage = training::lineage(&state, "mnist-mlp").unwrap().unwrap();
        assert_eq!(
            lineage.rounds,
            Some(training::round::RoundParams {
                max_contributions: 4,
                round_blocks: 30,
                outer_learning_rate: Decimal::percent(70),
                eval_samples: 200,
                checkpoint_interval: 0,
                segments_per_validator: 0,
                compression: "bf16".into(),
            })
        );
        assert_eq!(lineage.updated_height, 7);
        let round = training::round::current(&state, "mnist-mlp")
            .unwrap()
            .unwrap();
        assert_eq!(round.number, 1);
        assert_eq!(round.status, RoundStatus::Open as i32);
        assert_eq!((round.opened_height, round.closes_height), (7, 0));

        // Out of the chain's bounds: refused, nothing changes.
        let too_many = UmMsg::SetRoundParams {
            model_id: "mnist-mlp".into(),
            rounds: Some(um_bindings::RoundParams {
                max_contributions: 17,
                ..rounds.clone()
            }),
        };
        assert_eq!(
            run(&mut state, &dao, &too_many).unwrap_err().code,
            Code::InvalidRequest
        );
        // A scheme the chain cannot decode, or checkpoints of a compressed
        // round: refused by the chain's own bounds too.
        for (compression, checkpoint_interval, why) in [
            ("int8", 0, "unknown compression \"int8\""),
            ("topk", 2, "takes no checkpoints"),
        ] {
            let bad = UmMsg::SetRoundParams {
                model_id: "mnist-mlp".into(),
                rounds: Some(um_bindings::RoundParams {
                    compression: compression.into(),
                    checkpoint_interval,
                    ..rounds.clone()
                }),
            };
            let err = run(&mut state, &dao, &bad).unwrap_err();
            assert_eq!(err.code, Code::InvalidRequest);
            assert!(err.log.contains(why), "{}", err.log);
        }
        assert_eq!(
            training::lineage(&state, "mnist-mlp").unwrap().unwrap(),
            lineage
        );

        let end = UmMsg::SetRoundParams {
            model_id: "mnist-mlp".into(),
            rounds: None,
        };
        run(&mut state, &dao, &end).unwrap();
        assert_eq!(
            training::lineage(&state, "mnist-mlp")
                .unwrap()
                .unwrap()
                .rounds,
            None
        );
        // The round in progress finishes; no other opens.
        assert_eq!(
            training::round::current(&state, "mnist-mlp").unwrap(),
            Some(round)
        );
    }
}
