//! Typed access to the module's records. Values are the protobuf types of
//! `cosmwasm.wasm.v1` (deterministic encoding, and exactly what queries
//! return), keys come from [`state_key`].

use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    AbsoluteTxPosition, CodeInfo, ContractCodeHistoryEntry, ContractInfo,
};
use prost::Message;

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

fn decode<T: Message + Default>(what: &str, bytes: &[u8]) -> Result<T, TxError> {
    T::decode(bytes)
        .map_err(|e| TxError::new(Code::Internal, format!("corrupt {what} in state: {e}")))
}

fn read_u64(state: &StateView, key: &[u8]) -> Result<u64, TxError> {
    match state.get(key)? {
        None => Ok(0),
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| TxError::new(Code::Internal, "corrupt sequence in state"))?;
            Ok(u64::from_be_bytes(array))
        }
    }
}

/// Increments the sequence at `key` and returns the new value (first is 1).
fn next_in_sequence(state: &mut StateView, key: &[u8]) -> Result<u64, TxError> {
    let next = read_u64(state, key)?
        .checked_add(1)
        .ok_or_else(|| TxError::new(Code::Internal, "sequence overflow"))?;
    state.set(key, next.to_be_bytes().to_vec());
    Ok(next)
}

pub fn next_code_id(state: &mut StateView) -> Result<u64, TxError> {
    next_in_sequence(state, state_key::code_sequence())
}

pub fn next_instance_id(state: &mut StateView) -> Result<u64, TxError> {
    next_in_sequence(state, state_key::instance_sequence())
}

pub fn code_info(state: &StateView, code_id: u64) -> Result<Option<CodeInfo>, TxError> {
    state
        .get(&state_key::code_info(code_id))?
        .map(|bytes| decode("code info", &bytes))
        .transpose()
}

/// Like [`code_info`], but a missing code is the caller's error.
pub fn require_code_info(state: &StateView, code_id: u64) -> Result<CodeInfo, TxError> {
    code_info(state, code_id)?
        .ok_or_else(|| TxError::new(Code::NotFound, format!("code id {code_id} not found")))
}

/// The Wasm bytes with this checksum (a `CodeInfo::code_hash`).
pub fn code_bytes(state: &StateView, checksum: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
    Ok(state.get(&state_key::code_bytes(checksum))?)
}

pub fn has_code_bytes(state: &StateView, checksum: &[u8]) -> Result<bool, TxError> {
    Ok(code_bytes(state, checksum)?.is_some())
}

pub fn save_code_info(state: &mut StateView, code_id: u64, info: &CodeInfo) {
    state.set(&state_key::code_info(code_id), info.encode_to_vec());
}

pub fn save_code_bytes(state: &mut StateView, checksum: &[u8], wasm: &[u8]) {
    state.set(&state_key::code_bytes(checksum), wasm.to_vec());
    state.set(
        &state_key::code_len(checksum),
        (wasm.len() as u64).to_be_bytes().to_vec(),
    );
}

/// The length of the Wasm code with this checksum. Code stored before the
/// length was recorded is measured from its bytes.
pub fn code_len(state: &StateView, checksum: &[u8]) -> Result<u64, TxError> {
    match state.get(&state_key::code_len(checksum))? {
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| TxError::new(Code::Internal, "corrupt code length in state"))?;
            Ok(u64::from_be_bytes(array))
        }
        None => Ok(code_bytes(state, checksum)?.map_or(0, |bytes| bytes.len() as u64)),
    }
}

/// Whether calls to `contract` are priced as pinned.
pub fn is_pinned(state: &StateView, contract: &[u8]) -> Result<bool, TxError> {
    Ok(state.get(&state_key::pinned_contract(contract))?.is_some())
}

pub fn set_pinned(state: &mut StateView, contract: &[u8], pinned: bool) {
    let key = state_key::pinned_contract(contract);
    if pinned {
        state.set(&key, Vec::new());
    } else {
        state.remove(&key);
    }
}

pub fn contract_info(state: &StateView, contract: &[u8]) -> Result<Option<ContractInfo>, TxError> {
    state
        .get(&state_key::contract_info(contract))?
        .map(|bytes| decode("contract info", &bytes))
        .transpose()
}

pub fn save_contract_info(state: &mut StateView, contract: &[u8], info: &ContractInfo) {
    state.set(&state_key::contract_info(contract), info.encode_to_vec());
}

/// All history entries of a contract, oldest first.
pub fn contract_history(
    state: &StateView,
    contract: &[u8],
) -> Result<Vec<ContractCodeHistoryEntry>, TxError> {
    state
        .prefixed(&state_key::contract_history_prefix(contract))?
        .into_iter()
        .map(|(_, bytes)| decode("contract history", &bytes))
        .collect()
}

/// Appends a history entry and moves the contract to the entry's code id in
/// the by-code index.
pub fn append_history(
    state: &mut StateView,
    contract: &[u8],
    entry: &ContractCodeHistoryEntry,
) -> Result<(), TxError> {
    let previous = contract_history(state, contract)?;
    if let Some(last) = previous.last() {
        state.remove(&by_code_key(last, contract));
    }
    let position = previous.len() as u64;
    state.set(
        &state_key::contract_history(contract, position),
        entry.encode_to_vec(),
    );
    state.set(&by_code_key(entry, contract), contract.to_vec());
    Ok(())
}

fn by_code_key(entry: &ContractCodeHistoryEntry, contract: &[u8]) -> Vec<u8> {
    let position = entry.updated.clone().unwrap_or_default();
    state_key::contracts_by_code(
        entry.code_id,
        position.block_height,
        position.tx_index,
        contract,
    )
}

pub fn position(height: u64, tx_index: Option<u32>) -> AbsoluteTxPosition {
    AbsoluteTxPosition {
        block_height: height,
        tx_index: u64::from(tx_index.unwrap_or(0)),
    }
}
