//! `MsgProposeDatasetDelta`: checks a proposed change against the newest
//! version of its dataset, escrows the deposit and records the delta as
//! PROPOSED. Nothing in the dataset changes until the DAO accepts it.

use std::collections::BTreeSet;

use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract;
use cosmos_sdk_proto::Any;
use prost::{Message, Name};
use um_proto::um::dataset::v1::{
    Dataset, DatasetDelta, DeltaStatus, MsgProposeDatasetDelta, MsgProposeDatasetDeltaResponse,
    Record, Split,
};

use super::records::{self, Hash};
use super::{module_address, state_key, DatasetParams};
use crate::codes::{Code, TxError};
use crate::context::{Event, MsgResult, TxContext};

pub fn handles(type_url: &str) -> bool {
    type_url == MsgProposeDatasetDelta::type_url()
}

pub fn handle(ctx: &mut TxContext<'_>, signer: &str, msg: &Any) -> Result<MsgResult, TxError> {
    let size = msg.value.len() as u64;
    let msg = MsgProposeDatasetDelta::decode(msg.value.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("MsgProposeDatasetDelta: {e}")))?;
    if msg.proposer != signer {
        return Err(TxError::new(
            Code::WrongSigner,
            format!("proposer {} did not sign the tx", msg.proposer),
        ));
    }
    let params = DatasetParams::load(ctx.state)?;
    ctx.gas.consume(
        params.delta_cost_per_byte.saturating_mul(size),
        "storing the dataset delta",
    )?;
    let dataset = super::current(ctx.state, &msg.dataset_id)?.ok_or_else(|| {
        TxError::new(
            Code::NotFound,
            format!("dataset {:?} not found", msg.dataset_id),
        )
    })?;
    let changes = msg.add.len().saturating_add(msg.remove.len());
    if changes == 0 {
        return Err(TxError::new(
            Code::InvalidRequest,
            "the delta changes nothing: give records to add or to remove",
        ));
    }
    if changes > params.max_delta_records as usize {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "the delta adds and removes {changes} records, more than the limit of {}",
                params.max_delta_records
            ),
        ));
    }
    let deposit = parse_deposit(&msg.deposit)?;
    if deposit < params.min_deposit.u128() {
        return Err(TxError::new(
            Code::InsufficientDeposit,
            format!(
                "deposit of {deposit} micro-NRN is below the minimum of {}",
                params.min_deposit
            ),
        ));
    }
    let add = check_additions(ctx, &dataset, msg.add)?;
    let remove = check_removals(ctx, &dataset, &msg.remove)?;

    let mut events = Vec::new();
    let token = if deposit > 0 {
        let (token, escrow_events) = take_deposit(ctx, &msg.proposer, deposit)?;
        events.extend(escrow_events);
        Some(token)
    } else {
        None
    };
    let id = records::next_delta_id(ctx.state)?;
    if let Some(token) = &token {
        records::set_escrow_token(ctx.state, id, token);
    }
    let delta = DatasetDelta {
        id,
        dataset_id: dataset.dataset_id.clone(),
        proposer: msg.proposer.clone(),
        add,
        remove: remove.iter().map(|h| h.to_vec()).collect(),
        deposit: deposit.to_string(),
        status: DeltaStatus::Proposed as i32,
        height: ctx.block.height,
        base_version: dataset.version,
        decided_height: 0,
        result_version: 0,
        split_salt: Vec::new(),
    };
    records::save_delta(ctx.state, &delta);
    if let Some(expires_at) = params.expiry_height(delta.height) {
        ctx.state
            .set(&state_key::expiry(expires_at, id), Vec::new());
    }
    events.insert(
        0,
        Event::new("dataset_delta_proposed")
            .attr("delta_id", id.to_string())
            .attr("dataset_id", &delta.dataset_id)
            .attr("proposer", &delta.proposer)
            .attr("base_version", dataset.version.to_string())
            .attr("add", delta.add.len().to_string())
            .attr("remove", delta.remove.len().to_string())
            .attr("deposit", &delta.deposit),
    );
    Ok(MsgResult {
        response: Some(Any {
            type_url: MsgProposeDatasetDeltaResponse::type_url(),
            value: MsgProposeDatasetDeltaResponse { delta_id: id }.encode_to_vec(),
        }),
        events,
    })
}

/// Micro-NRN as a base-10 integer; empty means none.
fn parse_deposit(text: &str) -> Result<u128, TxError> {
    if text.is_empty() {
        return Ok(0);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!("deposit {text:?} is not an integer amount of micro-NRN"),
        ));
    }
    text.parse().map_err(|_| {
        TxError::new(
            Code::InvalidRequest,
            format!("deposit {text:?} is too large"),
        )
    })
}

/// The records to add, with their hashes filled in, in the order given.
fn check_additions(
    ctx: &TxContext<'_>,
    dataset: &Dataset,
    add: Vec<Record>,
) -> Result<Vec<Record>, TxError> {
    let pixels = u64::from(dataset.image_rows) * u64::from(dataset.image_cols);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(add.len());
    for (index, mut record) in add.into_iter().enumerate() {
        let invalid =
            |what: String| TxError::new(Code::InvalidRecord, format!("add[{index}]: {what}"));
        if record.pixels.len() as u64 != pixels {
            return Err(invalid(format!(
                "{} pixels, but {} images are {}x{} = {pixels}",
                record.pixels.len(),
                dataset.dataset_id,
                dataset.image_rows,
                dataset.image_cols
            )));
        }
        let label = u8::try_from(record.label)
            .ok()
            .filter(|label| u32::from(*label) < dataset.num_classes)
            .ok_or_else(|| {
                invalid(format!(
                    "label {} is not below num_classes {}",
                    record.label, dataset.num_classes
                ))
            })?;
        let hash = records::record_hash(label, &record.pixels);
        if !record.hash.is_empty() && record.hash != hash {
            return Err(invalid(format!(
                "hash {} is not sha256(label ‖ pixels) = {}",
                hex::encode(&record.hash),
                hex::encode(hash)
            )));
        }
        if !seen.insert(hash) {
            return Err(TxError::new(
                Code::DuplicateRecord,
                format!(
                    "add[{index}]: record {} appears twice in the delta",
                    hex::encode(hash)
                ),
            ));
        }
        if records::is_member(ctx.state, &dataset.dataset_id, dataset.version, &hash)? {
            return Err(TxError::new(
                Code::DuplicateRecord,
                format!(
                    "add[{index}]: record {} is already in {} version {}",
                    hex::encode(hash),
                    dataset.dataset_id,
                    dataset.version
                ),
            ));
        }
        record.hash = hash.to_vec();
        // The chain decides the split on acceptance; a proposer's choice
        // is not kept.
        record.split = Split::Unspecified as i32;
        out.push(record);
    }
    Ok(out)
}

fn check_removals(
    ctx: &TxContext<'_>,
    dataset: &Dataset,
    remove: &[Vec<u8>],
) -> Result<Vec<Hash>, TxError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(remove.len());
    for (index, bytes) in remove.iter().enumerate() {
        let hash = records::as_hash(bytes).ok_or_else(|| {
            TxError::new(
                Code::InvalidRecord,
                format!(
                    "remove[{index}]: a record hash is 32 bytes, not {}",
                    bytes.len()
                ),
            )
        })?;
        if !seen.insert(hash) {
            return Err(TxError::new(
                Code::DuplicateRecord,
                format!(
                    "remove[{index}]: record {} appears twice in the delta",
                    hex::encode(hash)
                ),
            ));
        }
        if !records::is_member(ctx.state, &dataset.dataset_id, dataset.version, &hash)? {
            return Err(TxError::new(
                Code::RecordNotFound,
                format!(
                    "remove[{index}]: record {} is not in {} version {}",
                    hex::encode(hash),
                    dataset.dataset_id,
                    dataset.version
                ),
            ));
        }
        out.push(hash);
    }
    Ok(out)
}

/// Moves the deposit from the proposer to the module account with cw20
/// `transfer_from`, executed by the module account as the spender the
/// proposer allowed. Returns the token and the token's events.
fn take_deposit(
    ctx: &mut TxContext<'_>,
    proposer: &str,
    amount: u128,
) -> Result<(String, Vec<Event>), TxError> {
    let registry = crate::gov::registry(ctx.state)?.ok_or_else(|| {
        TxError::new(
            Code::NotPermitted,
            "no governance contracts are registered, so there is no NRN token to take the deposit in",
        )
    })?;
    let module = module_address();
    let transfer = serde_json::json!({"transfer_from": {
        "owner": proposer,
        "recipient": module,
        "amount": amount.to_string(),
    }});
    let execute = Any {
        type_url: MsgExecuteContract::type_url(),
        value: MsgExecuteContract {
            sender: module.clone(),
            contract: registry.token.clone(),
            msg: transfer.to_string().into_bytes(),
            funds: Vec::new(),
        }
        .encode_to_vec(),
    };
    let wasm = ctx.wasm;
    match wasm.execute(ctx, &module, &execute) {
        Ok(result) => Ok((registry.token, result.events)),
        Err(err) if err.code == Code::ContractError => Err(TxError::new(
            err.code,
            format!(
                "the deposit of {amount} micro-NRN could not be taken from {proposer}; allow the \
                 dataset module {module} to spend it first (cw20 increase_allowance on {}): {}",
                registry.token, err.log
            ),
        )),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{BlockInfo, GasMeter};
    use crate::dataset::testutil::{digit, digits, state_with};
    use crate::store::{StateView, Store};
    use crate::wasm::WasmVm;

    fn proposer() -> String {
        crate::address::encode(&[5; 20])
    }

    fn record(r: &um_formats::Record) -> Record {
        Record {
            hash: Vec::new(),
            label: u32::from(r.label),
            pixels: r.pixels.to_vec(),
            split: 0,
        }
    }

    fn propose(
        wasm: &WasmVm,
        state: &mut StateView,
        msg: MsgProposeDatasetDelta,
    ) -> Result<MsgResult, TxError> {
        let block = BlockInfo {
            height: 7,
            ..BlockInfo::default()
        };
        let mut gas = GasMeter::new(100_000_000);
        let mut ctx = TxContext {
            state,
            block: &block,
            gas: &mut gas,
            tx_index: 0,
            simulate: false,
            wasm,
        };
        let any = Any {
            type_url: MsgProposeDatasetDelta::type_url(),
            value: msg.encode_to_vec(),
        };
        handle(&mut ctx, &proposer(), &any)
    }

    fn free_params(state: &mut StateView) {
        DatasetParams {
            min_deposit: 0u128.into(),
            ..DatasetParams::default()
        }
        .save(state)
        .unwrap();
    }

    #[test]
    fn bad_deltas_are_refused_with_their_own_codes() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let genesis = digits(20);
        state_with(&mut state, &genesis);
        free_params(&mut state);
        let new = record(&digit(100));
        let base = MsgProposeDatasetDelta {
            proposer: proposer(),
            dataset_id: "mnist".into(),
            add: vec![new.clone()],
            remove: vec![genesis[3].hash().to_vec()],
            deposit: String::new(),
        };
        let code = |state: &mut StateView, msg: MsgProposeDatasetDelta| {
            let err = propose(&wasm, state, msg).unwrap_err();
            (err.code, err.log)
        };
        let mut short = new.clone();
        short.pixels.pop();
        let mut big_label = new.clone();
        big_label.label = 10;
        let mut wrong_hash = new.clone();
        wrong_hash.hash = vec![1; 32];
        let cases: Vec<(MsgProposeDatasetDelta, Code, &str)> = vec![
            (
                MsgProposeDatasetDelta {
                    dataset_id: "cifar".into(),
                    ..base.clone()
                },
                Code::NotFound,
                "dataset \"cifar\" not found",
            ),
            (
                MsgProposeDatasetDelta {
                    proposer: crate::address::encode(&[6; 20]),
                    ..base.clone()
                },
                Code::WrongSigner,
                "did not sign",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![],
                    remove: vec![],
                    ..base.clone()
                },
                Code::InvalidRequest,
                "changes nothing",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![short],
                    ..base.clone()
                },
                Code::InvalidRecord,
                "783 pixels",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![big_label],
                    ..base.clone()
                },
                Code::InvalidRecord,
                "label 10",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![wrong_hash],
                    ..base.clone()
                },
                Code::InvalidRecord,
                "is not sha256",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![record(&genesis[0])],
                    ..base.clone()
                },
                Code::DuplicateRecord,
                "already in mnist version 0",
            ),
            (
                MsgProposeDatasetDelta {
                    add: vec![new.clone(), new.clone()],
                    ..base.clone()
                },
                Code::DuplicateRecord,
                "twice",
            ),
            (
                MsgProposeDatasetDelta {
                    remove: vec![digit(101).hash().to_vec()],
                    ..base.clone()
                },
                Code::RecordNotFound,
                "is not in mnist version 0",
            ),
            (
                MsgProposeDatasetDelta {
                    remove: vec![vec![1; 31]],
                    ..base.clone()
                },
                Code::InvalidRecord,
                "32 bytes",
            ),
            (
                MsgProposeDatasetDelta {
                    deposit: "1e6".into(),
                    ..base.clone()
                },
                Code::InvalidRequest,
                "not an integer",
            ),
            (
                MsgProposeDatasetDelta {
                    // A deposit needs the token, which this chain lacks.
                    deposit: "5".into(),
                    ..base.clone()
                },
                Code::NotPermitted,
                "no governance contracts",
            ),
        ];
        for (msg, want, words) in cases {
            let (got, log) = code(&mut state, msg);
            assert_eq!(got, want, "{log}");
            assert!(log.contains(words), "{log:?} should say {words:?}");
        }
        DatasetParams {
            min_deposit: 10u128.into(),
            max_delta_records: 1,
            ..DatasetParams::default()
        }
        .save(&mut state)
        .unwrap();
        let (got, log) = code(
            &mut state,
            MsgProposeDatasetDelta {
                remove: vec![],
                deposit: "9".into(),
                ..base.clone()
            },
        );
        assert_eq!(got, Code::InsufficientDeposit, "{log}");
        let (got, log) = code(&mut state, base.clone());
        assert_eq!(got, Code::InvalidRequest, "{log}");
        assert!(log.contains("limit of 1"), "{log}");
        assert!(records::delta(&state, 1).unwrap().is_none());
    }

    #[test]
    fn a_free_delta_is_recorded_as_proposed() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let genesis = digits(20);
        state_with(&mut state, &genesis);
        free_params(&mut state);
        let mut given = record(&digit(100));
        given.hash = digit(100).hash().to_vec();
        let msg = MsgProposeDatasetDelta {
            proposer: proposer(),
            dataset_id: "mnist".into(),
            add: vec![record(&digit(101)), given],
            remove: vec![genesis[3].hash().to_vec()],
            deposit: "0".into(),
        };
        let result = propose(&wasm, &mut state, msg).unwrap();
        let response = result.response.unwrap();
        assert_eq!(
            response.type_url,
            "/um.dataset.v1.MsgProposeDatasetDeltaResponse"
        );
        assert_eq!(
            MsgProposeDatasetDeltaResponse::decode(response.value.as_slice())
                .unwrap()
                .delta_id,
            1
        );
        assert_eq!(result.events[0].kind, "dataset_delta_proposed");
        let delta = records::delta(&state, 1).unwrap().unwrap();
        assert_eq!(delta.status, DeltaStatus::Proposed as i32);
        assert_eq!((delta.height, delta.base_version), (7, 0));
        assert_eq!(delta.add[0].hash, digit(101).hash().to_vec(), "filled in");
        assert_eq!(delta.add[1].hash, digit(100).hash().to_vec());
        assert_eq!(delta.deposit, "0");
        assert!(records::escrow_token(&state, 1).unwrap().is_none());
        // Proposing changes nothing in the dataset.
        assert_eq!(
            super::super::current(&state, "mnist")
                .unwrap()
                .unwrap()
                .version,
            0
        );
    }
}
