//! The DAO's decision on a delta, reached only through a passed proposal of
//! the registered DAO (`UmMsg::AcceptDatasetDelta` / `RejectDatasetDelta`,
//! see `bindings`).
//!
//! Acceptance applies the delta with set semantics to the newest version,
//! not to the version it was proposed on: a record another accepted delta
//! already added or removed is simply left as it is, so a passed proposal
//! can always be carried out.

use sha2::{Digest, Sha256};
use um_proto::um::dataset::v1::{Dataset, DatasetDelta, DeltaStatus};

use super::records::{self, Hash};
use super::{module_address, state_key, DatasetParams};
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, CustomOutcome, Event, ModuleCall};
use crate::store::StateView;

/// Makes the next version of the delta's dataset and refunds the deposit
/// (a cw20 transfer from the module account, run by the wasm module).
///
/// The records it adds are split under a salt from the hash of the block
/// that accepts it: fixed by consensus, unknown when the delta was
/// proposed or voted on, so its author cannot choose which records are
/// held out for validation.
pub fn accept(
    state: &mut StateView,
    block: &BlockInfo,
    delta_id: u64,
) -> Result<CustomOutcome, TxError> {
    let height = block.height;
    let mut delta = proposed(state, delta_id)?;
    let split_salt = split_salt(&block.hash, delta_id);
    let current = super::current(state, &delta.dataset_id)?.ok_or_else(|| {
        TxError::new(
            Code::Internal,
            format!(
                "dataset {} of delta {delta_id} is not stored",
                delta.dataset_id
            ),
        )
    })?;
    let next = current.version.checked_add(1).ok_or_else(|| {
        TxError::new(
            Code::Internal,
            format!("dataset {} has no next version", current.dataset_id),
        )
    })?;
    let id = &delta.dataset_id;
    // Records that were not members already: what the delta really added
    // (and what its proposer's karma counts).
    let mut joined = 0u64;
    for record in &delta.add {
        let label = u8::try_from(record.label)
            .map_err(|_| TxError::new(Code::Internal, format!("delta {delta_id}: stored label")))?;
        let hash = records::put_record(state, label, &record.pixels);
        if !records::is_member(state, id, current.version, &hash)? {
            let validation = um_formats::Record::is_validation_salted(&split_salt, &hash);
            records::join(state, id, next, &hash, validation)?;
            joined += 1;
        }
    }
    for bytes in &delta.remove {
        let hash: Hash = records::as_hash(bytes).ok_or_else(|| {
            TxError::new(Code::Internal, format!("delta {delta_id}: stored hash"))
        })?;
        records::leave(state, id, next, &hash)?;
    }
    let (members, keys_read) = records::all_members_counted(state, id, next)?;
    let mut dataset = Dataset {
        version: next,
        height,
        delta_id,
        ..current
    };
    records::summarize(&mut dataset, &members);
    records::save_version(state, &dataset);

    crate::karma::credit(
        state,
        &delta.proposer,
        crate::karma::Work::Delta { records: joined },
        height,
    )?;
    delta.status = DeltaStatus::Accepted as i32;
    delta.decided_height = height;
    delta.result_version = next;
    delta.split_salt = split_salt.to_vec();
    drop_pixels(&mut delta);
    records::save_delta(state, &delta);
    clear_expiry(state, &delta)?;

    let calls = match records::escrow_token(state, delta_id)? {
        Some(token) => {
            records::clear_escrow(state, delta_id);
            let refund = serde_json::json!({"transfer": {
                "recipient": delta.proposer,
                "amount": delta.deposit,
            }});
            vec![ModuleCall {
                sender: module_address(),
                contract: token,
                msg: refund.to_string().into_bytes(),
            }]
        }
        None => Vec::new(),
    };
    let refunded = if calls.is_empty() {
        "0"
    } else {
        delta.deposit.as_str()
    };
    let event = Event::new("dataset_delta_accepted")
        .attr("delta_id", delta_id.to_string())
        .attr("dataset_id", &dataset.dataset_id)
        .attr("version", next.to_string())
        .attr("root", hex::encode(&dataset.root))
        .attr("record_count", dataset.record_count.to_string())
        .attr("refunded", refunded);
    Ok(CustomOutcome {
        events: vec![event],
        calls,
        // The new root hashes every member: each key read is paid for, as a
        // contract pays per iterator step.
        gas: crate::wasm::gas::iter_next_cost(MEMBER_KEY_BYTES, SPANS_BYTES)
            .saturating_mul(keys_read.saturating_add(delta_len(&delta))),
        store_code: None,
        sudo_calls: Vec::new(),
    })
}

/// `sha256("um/dataset/split-salt" ‖ block hash ‖ delta id)`: one salt per
/// delta, even for two accepted in one block.
pub fn split_salt(block_hash: &[u8], delta_id: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"um/dataset/split-salt");
    hasher.update(block_hash);
    hasher.update(delta_id.to_be_bytes());
    hasher.finalize().into()
}

/// A membership key's length (prefix, dataset id, hash) and its spans, as
/// priced per key; dataset ids are short, so a fixed size keeps the price
/// independent of the id.
const MEMBER_KEY_BYTES: usize = 64;
const SPANS_BYTES: usize = 17;

fn delta_len(delta: &DatasetDelta) -> u64 {
    (delta.add.len() + delta.remove.len()) as u64
}

/// Marks the delta rejected; the module keeps the deposit (a cost on
/// proposals the token holders did not want).
pub fn reject(state: &mut StateView, height: u64, delta_id: u64) -> Result<CustomOutcome, TxError> {
    let mut delta = proposed(state, delta_id)?;
    delta.status = DeltaStatus::Rejected as i32;
    delta.decided_height = height;
    drop_pixels(&mut delta);
    records::save_delta(state, &delta);
    records::clear_escrow(state, delta_id);
    clear_expiry(state, &delta)?;
    let event = Event::new("dataset_delta_rejected")
        .attr("delta_id", delta_id.to_string())
        .attr("dataset_id", &delta.dataset_id)
        .attr("deposit_kept", &delta.deposit);
    Ok(vec![event].into())
}

/// Most deltas one end-block expires; the rest wait for the next block, so
/// a burst of proposals cannot make one block's work unbounded.
pub const MAX_EXPIRIES_PER_BLOCK: usize = 100;

/// Expires the deltas due at `height` that the DAO has not decided: status
/// EXPIRED, images dropped, deposit kept (as on a rejection).
pub fn expire_due(state: &mut StateView, height: u64) -> Result<Vec<Event>, TxError> {
    let end = [
        state_key::EXPIRY_PREFIX,
        &height.saturating_add(1).to_be_bytes(),
    ]
    .concat();
    let due = state.range(Some(state_key::EXPIRY_PREFIX), Some(&end), false)?;
    let mut events = Vec::new();
    for (key, _) in due.into_iter().take(MAX_EXPIRIES_PER_BLOCK) {
        state.remove(&key);
        let id_bytes = key
            .get(key.len().saturating_sub(8)..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .ok_or_else(|| TxError::new(Code::Internal, "stored delta expiry key"))?;
        let delta_id = u64::from_be_bytes(id_bytes);
        let Some(mut delta) = records::delta(state, delta_id)? else {
            continue;
        };
        if delta.status != DeltaStatus::Proposed as i32 {
            continue;
        }
        delta.status = DeltaStatus::Expired as i32;
        delta.decided_height = height;
        drop_pixels(&mut delta);
        records::save_delta(state, &delta);
        records::clear_escrow(state, delta_id);
        events.push(
            Event::new("dataset_delta_expired")
                .attr("delta_id", delta_id.to_string())
                .attr("dataset_id", &delta.dataset_id)
                .attr("deposit_kept", &delta.deposit),
        );
    }
    Ok(events)
}

/// A decided delta no longer expires.
fn clear_expiry(state: &mut StateView, delta: &DatasetDelta) -> Result<(), TxError> {
    if let Some(expires_at) = DatasetParams::load(state)?.expiry_height(delta.height) {
        state.remove(&state_key::expiry(expires_at, delta.id));
    }
    Ok(())
}

/// A decided delta keeps what it was (hashes, labels, who, when) but not
/// its images: an accepted delta's records now live in the dataset, a
/// rejected one's are not wanted. A 1,000-record delta held ~0.8 MB of
/// pixels for ever (issue 15).
fn drop_pixels(delta: &mut DatasetDelta) {
    for record in &mut delta.add {
        record.pixels = Vec::new();
    }
}

fn proposed(state: &StateView, delta_id: u64) -> Result<DatasetDelta, TxError> {
    let delta = records::delta(state, delta_id)?.ok_or_else(|| {
        TxError::new(
            Code::NotFound,
            format!("dataset delta {delta_id} not found"),
        )
    })?;
    if delta.status != DeltaStatus::Proposed as i32 {
        let status = DeltaStatus::try_from(delta.status)
            .map(|s| s.as_str_name())
            .unwrap_or("DELTA_STATUS_UNSPECIFIED");
        return Err(TxError::new(
            Code::DeltaDecided,
            format!(
                "dataset delta {delta_id} was already decided ({status} at height {}); only a \
                 PROPOSED delta can be accepted or rejected",
                delta.decided_height
            ),
        ));
    }
    Ok(delta)
}

#[cfg(test)]
mod tests {
    use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContract;
    use cosmos_sdk_proto::Any;
    use prost::{Message, Name};
    use serde_json::json;
    use um_proto::um::dataset::v1::{MsgProposeDatasetDelta, Record};

    use super::*;
    use crate::context::{BlockInfo, GasMeter, MsgResult, TxContext};
    use crate::dataset::testutil::{digit, digits, state_with};
    use crate::dataset::{msg_server, DatasetParams};
    use crate::gov::GovModule;
    use crate::module::apply_genesis_sections;
    use crate::store::Store;
    use crate::wasm::WasmModule;
    use crate::wasm::WasmVm;

    const NRN: u128 = 1_000_000;

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

    /// A block at `height` whose hash is made up from the height.
    fn block(height: u64) -> BlockInfo {
        BlockInfo {
            chain_id: "t".into(),
            height,
            time_nanos: 1,
            hash: Sha256::digest(height.to_be_bytes()).to_vec(),
        }
    }

    /// Whether `r`, added by delta `delta_id` accepted at `height` (by
    /// [`block`]), is a validation record.
    fn held_out(r: &um_formats::Record, height: u64, delta_id: u64) -> bool {
        let salt = split_salt(&block(height).hash, delta_id);
        um_formats::Record::is_validation_salted(&salt, &r.hash())
    }

    fn propose(
        wasm: &WasmVm,
        state: &mut StateView,
        add: &[um_formats::Record],
        remove: &[&um_formats::Record],
        deposit: u128,
    ) -> Result<MsgResult, TxError> {
        let msg = MsgProposeDatasetDelta {
            proposer: proposer(),
            dataset_id: "mnist".into(),
            add: add.iter().map(record).collect(),
            remove: remove.iter().map(|r| r.hash().to_vec()).collect(),
            deposit: deposit.to_string(),
        };
        let any = Any {
            type_url: MsgProposeDatasetDelta::type_url(),
            value: msg.encode_to_vec(),
        };
        run(wasm, state, |_, ctx| {
            msg_server::handle(ctx, &proposer(), &any)
        })
    }

    fn run<R>(
        wasm: &WasmVm,
        state: &mut StateView,
        f: impl FnOnce(&WasmVm, &mut TxContext<'_>) -> R,
    ) -> R {
        let block = BlockInfo {
            chain_id: "t".into(),
            height: 3,
            time_nanos: 1,
            hash: Vec::new(),
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
        f(wasm, &mut ctx)
    }

    /// The root of genesis records (split by their hash) and records added
    /// by deltas, each with its split.
    fn root_of(genesis: &[um_formats::Record], added: &[(um_formats::Record, bool)]) -> Vec<u8> {
        let genesis = um_formats::Dataset::from_records(genesis.to_vec());
        let (validation, train): (Vec<_>, Vec<_>) = added.iter().partition(|(_, v)| *v);
        um_formats::Dataset::from_splits(
            genesis
                .train()
                .iter()
                .cloned()
                .chain(train.into_iter().map(|(r, _)| r.clone())),
            genesis
                .validation()
                .iter()
                .cloned()
                .chain(validation.into_iter().map(|(r, _)| r.clone())),
        )
        .root()
        .to_vec()
    }

    #[test]
    fn accepting_makes_the_next_version_with_set_semantics() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let genesis = digits(20);
        state_with(&mut state, &genesis);
        DatasetParams {
            min_deposit: 0u128.into(),
            ..DatasetParams::default()
        }
        .save(&mut state)
        .unwrap();
        let (x, y) = (digit(100), digit(101));
        // Both deltas are proposed on version 0 and overlap.
        propose(
            &wasm,
            &mut state,
            std::slice::from_ref(&x),
            &[&genesis[3]],
            0,
        )
        .unwrap();
        propose(
            &wasm,
            &mut state,
            &[x.clone(), y.clone()],
            &[&genesis[3], &genesis[4]],
            0,
        )
        .unwrap();

        let outcome = accept(&mut state, &block(9), 1).unwrap();
        assert!(outcome.calls.is_empty(), "no deposit, no refund");
        // Issue 13, finding 11: the new root reads every membership key (21:
        // 20 at genesis and x), and the price counts them with the delta's 2
        // entries instead of a flat 20,000.
        let per_key = crate::wasm::gas::iter_next_cost(MEMBER_KEY_BYTES, SPANS_BYTES);
        assert_eq!(outcome.gas, per_key * (21 + 2));
        assert_eq!(outcome.events[0].kind, "dataset_delta_accepted");
        let mut v1: Vec<_> = genesis.clone();
        v1.remove(3);
        let x_split = (x.clone(), held_out(&x, 9, 1));
        let dataset = crate::dataset::current(&state, "mnist").unwrap().unwrap();
        assert_eq!(
            (dataset.version, dataset.height, dataset.delta_id),
            (1, 9, 1)
        );
        assert_eq!(dataset.record_count, 20);
        assert_eq!(dataset.root, root_of(&v1, std::slice::from_ref(&x_split)));
        let delta = records::delta(&state, 1).unwrap().unwrap();
        assert_eq!(delta.status, DeltaStatus::Accepted as i32);
        assert_eq!((delta.decided_height, delta.result_version), (9, 1));

        // The second applies to version 1: x and the removal of genesis[3]
        // are already done, y and the removal of genesis[4] are new. The
        // removed genesis[3] keeps its key, which is read (and paid) too.
        let outcome = accept(&mut state, &block(10), 2).unwrap();
        assert_eq!(outcome.gas, per_key * (22 + 4));
        // The proposer's karma counts the records the deltas really added:
        // x once, then y (x was a member already).
        let karma = crate::karma::contributions(&state, &proposer())
            .unwrap()
            .unwrap();
        assert_eq!((karma.deltas, karma.records), (2, 2));
        let mut v2 = v1.clone();
        v2.retain(|r| r != &genesis[4]);
        let y_split = (y.clone(), held_out(&y, 10, 2));
        let dataset = crate::dataset::current(&state, "mnist").unwrap().unwrap();
        assert_eq!((dataset.version, dataset.record_count), (2, 20));
        assert_eq!(dataset.root, root_of(&v2, &[x_split, y_split]));
        let mut hashes: Vec<_> = v2
            .iter()
            .chain([&x, &y])
            .map(um_formats::Record::hash)
            .collect();
        hashes.sort_unstable();
        let members: Vec<_> = records::all_members(&state, "mnist", 2)
            .unwrap()
            .iter()
            .map(|m| m.hash)
            .collect();
        assert_eq!(members, hashes);
        // Older versions keep their members and roots.
        let v0 = crate::dataset::version(&state, "mnist", 0)
            .unwrap()
            .unwrap();
        assert_eq!(v0.root, root_of(&genesis, &[]));
        assert_eq!(records::all_members(&state, "mnist", 0).unwrap().len(), 20);

        // A decided delta cannot be decided again; an unknown one is not found.
        for result in [accept(&mut state, &block(11), 1), reject(&mut state, 11, 2)] {
            let err = result.unwrap_err();
            assert_eq!(err.code, Code::DeltaDecided);
            assert!(err.log.contains("DELTA_STATUS_ACCEPTED"), "{}", err.log);
        }
        assert_eq!(
            accept(&mut state, &block(11), 3).unwrap_err().code,
            Code::NotFound
        );
        assert_eq!(
            crate::dataset::current(&state, "mnist")
                .unwrap()
                .unwrap()
                .version,
            2
        );
    }

    /// Issue 13, finding 7: the author of a delta chose its records' hashes,
    /// and so which of them were held out for validation (`hash[0] < 26`):
    /// hard or mislabelled records in the validation split can freeze a
    /// lineage. Ground records now split under the accepting block's salt,
    /// about one in ten held out, and another block splits them otherwise.
    #[test]
    fn the_accepting_block_not_the_author_splits_a_deltas_records() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        // Digits 0-4 are the genesis records.
        let ground: Vec<um_formats::Record> = (5..=255u8)
            .map(digit)
            .filter(|r| um_formats::Record::is_validation_hash(&r.hash()))
            .take(20)
            .collect();
        assert_eq!(ground.len(), 20, "enough ground records");
        let splits_at = |height: u64| {
            let store = Store::temporary().unwrap();
            let mut state = store.view();
            state_with(&mut state, &digits(5));
            DatasetParams {
                min_deposit: 0u128.into(),
                ..DatasetParams::default()
            }
            .save(&mut state)
            .unwrap();
            propose(&wasm, &mut state, &ground, &[], 0).unwrap();
            accept(&mut state, &block(height), 1).unwrap();
            let dataset = crate::dataset::current(&state, "mnist").unwrap().unwrap();
            let delta = records::delta(&state, 1).unwrap().unwrap();
            assert_eq!(delta.split_salt, split_salt(&block(height).hash, 1));
            let added: Vec<_> = ground
                .iter()
                .map(|r| (r.clone(), held_out(r, height, 1)))
                .collect();
            assert_eq!(dataset.root, root_of(&digits(5), &added));
            let genesis_held_out = um_formats::Dataset::from_records(digits(5))
                .validation()
                .len() as u64;
            (
                dataset.validation_count - genesis_held_out,
                added.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            )
        };
        let (held_out_at_9, split_at_9) = splits_at(9);
        let (_, split_at_10) = splits_at(10);
        assert!(held_out_at_9 < 10, "{held_out_at_9} of 20 held out");
        assert_ne!(split_at_9, split_at_10, "the block decides, not the author");
    }

    /// A state with the governance suite, the proposer holding 100 NRN and
    /// (optionally) allowing the dataset module to spend 10 NRN.
    fn with_token(wasm: &WasmVm, state: &mut StateView, allowance: bool) -> String {
        let block = BlockInfo {
            chain_id: "t".into(),
            height: 1,
            time_nanos: 1,
            hash: Vec::new(),
        };
        let artifacts = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
        let mut config = um_governance::DeployConfig::new(&artifacts);
        config.initial_balances = vec![(proposer(), 100 * NRN)];
        let mut app_state = serde_json::json!({});
        let deployer = crate::address::encode(&[1; 20]);
        let suite =
            um_governance::genesis::add_suite(&mut app_state, &config, &deployer, &[]).unwrap();
        if allowance {
            let allow = json!({"sender": proposer(), "contract": suite.token,
                "msg": {"increase_allowance": {"spender": crate::dataset::module_address(), "amount": (10 * NRN).to_string()}}});
            app_state["wasm"]["executions"]
                .as_array_mut()
                .unwrap()
                .push(allow);
        }
        apply_genesis_sections(&[&WasmModule, &GovModule], wasm, state, &block, &app_state)
            .unwrap();
        suite.token
    }

    fn balance(wasm: &WasmVm, state: &StateView, token: &str, who: &str) -> u128 {
        let answer = wasm
            .query_smart(
                state,
                &BlockInfo::default(),
                token,
                json!({"balance": {"address": who}}).to_string().as_bytes(),
            )
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&answer).unwrap()["balance"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Issue 15: a delta the DAO never decides kept its images (and its
    /// escrow) for ever. It expires after `delta_expiry_blocks`.
    #[test]
    fn undecided_deltas_expire_and_drop_their_images() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        with_token(&wasm, &mut state, true);
        state_with(&mut state, &digits(20));
        DatasetParams {
            delta_expiry_blocks: 5,
            ..DatasetParams::load(&state).unwrap()
        }
        .save(&mut state)
        .unwrap();
        // Both at height 3: due at 8.
        propose(&wasm, &mut state, &[digit(100)], &[], 4 * NRN).unwrap();
        propose(&wasm, &mut state, &[digit(101)], &[], 5 * NRN).unwrap();
        accept(&mut state, &block(5), 2).unwrap();
        assert!(expire_due(&mut state, 7).unwrap().is_empty());

        let events = expire_due(&mut state, 8).unwrap();
        assert_eq!(events.len(), 1, "only the undecided delta: {events:?}");
        assert_eq!(events[0].attributes[0], ("delta_id".into(), "1".into()));
        let expired = records::delta(&state, 1).unwrap().unwrap();
        assert_eq!(expired.status, DeltaStatus::Expired as i32);
        assert_eq!(expired.decided_height, 8);
        assert!(expired.add.iter().all(|r| r.pixels.is_empty()));
        assert!(records::escrow_token(&state, 1).unwrap().is_none());
        assert_eq!(
            accept(&mut state, &block(9), 1).unwrap_err().code,
            Code::DeltaDecided
        );
        assert!(expire_due(&mut state, 100).unwrap().is_empty());
        assert_eq!(
            records::delta(&state, 2).unwrap().unwrap().status,
            DeltaStatus::Accepted as i32
        );
    }

    #[test]
    fn deposits_are_escrowed_refunded_on_acceptance_and_kept_on_rejection() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let token = with_token(&wasm, &mut state, true);
        state_with(&mut state, &digits(20));
        let module = crate::dataset::module_address();

        let proposed = propose(&wasm, &mut state, &[digit(100)], &[], 4 * NRN).unwrap();
        assert!(
            proposed.events.iter().any(|e| e.kind == "wasm"),
            "the token's transfer_from events come with the proposal"
        );
        propose(&wasm, &mut state, &[digit(101)], &[], 5 * NRN).unwrap();
        assert_eq!(balance(&wasm, &state, &token, &proposer()), 91 * NRN);
        assert_eq!(balance(&wasm, &state, &token, &module), 9 * NRN);
        // The allowance of 10 NRN has 1 left.
        let err = propose(&wasm, &mut state, &[digit(102)], &[], 2 * NRN).unwrap_err();
        assert_eq!(err.code, Code::ContractError);
        assert!(err.log.contains("increase_allowance"), "{}", err.log);
        assert_eq!(
            records::escrow_token(&state, 1).unwrap(),
            Some(token.clone())
        );

        let outcome = accept(&mut state, &block(5), 1).unwrap();
        let [call] = outcome.calls.as_slice() else {
            panic!("one refund expected: {:?}", outcome.calls)
        };
        assert_eq!(
            (call.sender.as_str(), call.contract.as_str()),
            (module.as_str(), token.as_str())
        );
        assert!(records::escrow_token(&state, 1).unwrap().is_none());
        // What the wasm module does with the call (as it does after a DAO's
        // custom message).
        let refund = Any {
            type_url: MsgExecuteContract::type_url(),
            value: MsgExecuteContract {
                sender: call.sender.clone(),
                contract: call.contract.clone(),
                msg: call.msg.clone(),
                funds: vec![],
            }
            .encode_to_vec(),
        };
        run(&wasm, &mut state, |wasm, ctx| {
            wasm.handle_msg(ctx, &module, &refund)
        })
        .unwrap();
        assert_eq!(balance(&wasm, &state, &token, &proposer()), 95 * NRN);
        assert_eq!(balance(&wasm, &state, &token, &module), 5 * NRN);

        let outcome = reject(&mut state, 6, 2).unwrap();
        assert!(outcome.calls.is_empty());
        assert_eq!(
            outcome.events[0].attributes[2],
            ("deposit_kept".into(), (5 * NRN).to_string())
        );
        assert!(records::escrow_token(&state, 2).unwrap().is_none());
        let delta = records::delta(&state, 2).unwrap().unwrap();
        assert_eq!(delta.status, DeltaStatus::Rejected as i32);
        assert_eq!((delta.decided_height, delta.result_version), (6, 0));
        // Issue 15: decided deltas keep their records' hashes and labels,
        // not their images (an accepted one's are in the dataset).
        for id in [1, 2] {
            let decided = records::delta(&state, id).unwrap().unwrap();
            assert_eq!(decided.add.len(), 1);
            assert!(decided
                .add
                .iter()
                .all(|r| r.pixels.is_empty() && r.hash.len() == 32));
        }
        let accepted = records::delta(&state, 1).unwrap().unwrap();
        let hash = records::as_hash(&accepted.add[0].hash).unwrap();
        assert_eq!(
            records::record(&state, &hash)
                .unwrap()
                .map(|r| r.pixels.len()),
            Some(784)
        );
        assert_eq!(
            crate::dataset::current(&state, "mnist")
                .unwrap()
                .unwrap()
                .version,
            1
        );
    }

    #[test]
    fn without_an_allowance_nothing_is_proposed() {
        let cache = tempfile::tempdir().unwrap();
        let wasm = WasmVm::new(cache.path()).unwrap();
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        with_token(&wasm, &mut state, false);
        state_with(&mut state, &digits(5));
        let err = propose(&wasm, &mut state, &[digit(100)], &[], NRN).unwrap_err();
        assert_eq!(err.code, Code::ContractError);
        assert!(err.log.contains("No allowance"), "{}", err.log);
    }
}
