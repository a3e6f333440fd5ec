//! ABCI queries of the `cosmwasm.wasm.v1.Query` service (what CosmJS's
//! `CosmWasmClient` calls), protobuf in and out.

use std::sync::Arc;

use cosmos_sdk_proto::cosmos::base::query::v1beta1::{PageRequest, PageResponse};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    AccessType, CodeInfoResponse, Model, Params, QueryAllContractStateRequest,
    QueryAllContractStateResponse, QueryCodeRequest, QueryCodeResponse, QueryCodesRequest,
    QueryCodesResponse, QueryContractHistoryRequest, QueryContractHistoryResponse,
    QueryContractInfoRequest, QueryContractInfoResponse, QueryContractsByCodeRequest,
    QueryContractsByCodeResponse, QueryParamsResponse, QueryRawContractStateRequest,
    QueryRawContractStateResponse, QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use prost::Message;

use super::address;
use super::gas::QUERY_GAS_LIMIT;
use super::host::{Host, VmCache};
use super::keeper::Keeper;
use super::params::WasmParams;
use super::state;
use super::state_key;
use crate::codes::{Code, TxError};
use crate::context::{BlockInfo, CustomBindings, GasMeter};
use crate::store::StateView;

/// Prefix of every path this module answers.
pub const PATH_PREFIX: &str = "/cosmwasm.wasm.v1.Query/";

/// Key/value pairs of one page.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Page size when the request names none, and the largest page served.
const DEFAULT_PAGE_LIMIT: u64 = 100;
const MAX_PAGE_LIMIT: u64 = 1_000;

pub(crate) fn handle(
    cache: &Arc<VmCache>,
    bindings: &Arc<dyn CustomBindings>,
    state: &StateView,
    block: &BlockInfo,
    path: &str,
    data: &[u8],
) -> Option<Result<Vec<u8>, TxError>> {
    let method = path.strip_prefix(PATH_PREFIX)?;
    Some(match method {
        "SmartContractState" => smart(cache, bindings, state, block, data),
        "RawContractState" => raw(state, data),
        "ContractInfo" => contract_info(state, data),
        "ContractHistory" => contract_history(state, data),
        "ContractsByCode" => contracts_by_code(state, data),
        "AllContractState" => all_contract_state(state, data),
        "Code" => code(state, data),
        "Codes" => codes(state, data),
        "Params" => params(state),
        _ => Err(TxError::new(
            Code::InvalidRequest,
            format!("unknown wasm query path {path}"),
        )),
    })
}

fn request<M: Message + Default>(data: &[u8]) -> Result<M, TxError> {
    M::decode(data)
        .map_err(|e| TxError::new(Code::InvalidRequest, format!("bad query request: {e}")))
}

fn smart(
    cache: &Arc<VmCache>,
    bindings: &Arc<dyn CustomBindings>,
    state: &StateView,
    block: &BlockInfo,
    data: &[u8],
) -> Result<Vec<u8>, TxError> {
    let req: QuerySmartContractStateRequest = request(data)?;
    let data = smart_query(cache, bindings, state, block, &req.address, &req.query_data)?;
    Ok(QuerySmartContractStateResponse { data }.encode_to_vec())
}

/// Runs a smart query against a read-only `state` with [`QUERY_GAS_LIMIT`].
pub(crate) fn smart_query(
    cache: &Arc<VmCache>,
    bindings: &Arc<dyn CustomBindings>,
    state: &StateView,
    block: &BlockInfo,
    contract: &str,
    msg: &[u8],
) -> Result<Vec<u8>, TxError> {
    Host::with_lent_state(cache, bindings, state, block, |host| {
        let mut gas = GasMeter::new(QUERY_GAS_LIMIT);
        Keeper::new(host).query_smart(&mut gas, contract, msg)
    })
}

fn raw(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryRawContractStateRequest = request(data)?;
    let contract = existing_contract(state, &req.address)?;
    let mut key = state_key::contract_store_prefix(&contract);
    key.extend_from_slice(&req.query_data);
    let data = state.get(&key)?.unwrap_or_default();
    Ok(QueryRawContractStateResponse { data }.encode_to_vec())
}

fn contract_info(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryContractInfoRequest = request(data)?;
    let contract = address::decode_field("address", &req.address)?;
    let info = state::contract_info(state, &contract)?.ok_or_else(|| not_found(&req.address))?;
    Ok(QueryContractInfoResponse {
        address: req.address,
        contract_info: Some(info),
    }
    .encode_to_vec())
}

fn contract_history(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryContractHistoryRequest = request(data)?;
    let contract = existing_contract(state, &req.address)?;
    let prefix = state_key::contract_history_prefix(&contract);
    let (records, pagination) = page(state, &prefix, req.pagination)?;
    let entries = records
        .iter()
        .map(|(_, value)| decode_stored(value))
        .collect::<Result<_, _>>()?;
    Ok(QueryContractHistoryResponse {
        entries,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn contracts_by_code(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryContractsByCodeRequest = request(data)?;
    let prefix = state_key::contracts_by_code_prefix(req.code_id);
    let (records, pagination) = page(state, &prefix, req.pagination)?;
    let contracts = records
        .iter()
        .map(|(_, contract)| address::encode_derived(contract))
        .collect::<Result<_, _>>()?;
    Ok(QueryContractsByCodeResponse {
        contracts,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn all_contract_state(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryAllContractStateRequest = request(data)?;
    let contract = existing_contract(state, &req.address)?;
    let prefix = state_key::contract_store_prefix(&contract);
    let (records, pagination) = page(state, &prefix, req.pagination)?;
    let models = records
        .into_iter()
        .map(|(key, value)| Model { key, value })
        .collect();
    Ok(QueryAllContractStateResponse {
        models,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn code(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryCodeRequest = request(data)?;
    let info = state::require_code_info(state, req.code_id)?;
    let bytes = state::code_bytes(state, &info.code_hash)?.ok_or_else(|| {
        TxError::new(
            Code::Internal,
            format!("bytes of code {} missing", req.code_id),
        )
    })?;
    Ok(QueryCodeResponse {
        code_info: Some(code_info_response(req.code_id, info)),
        data: bytes,
    }
    .encode_to_vec())
}

fn codes(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: QueryCodesRequest = request(data)?;
    let prefix = state_key::code_info_prefix();
    let (records, pagination) = page(state, prefix, req.pagination)?;
    let code_infos = records
        .iter()
        .map(|(key, value)| {
            let id: [u8; 8] = key
                .as_slice()
                .try_into()
                .map_err(|_| TxError::new(Code::Internal, "corrupt code key in state"))?;
            Ok(code_info_response(
                u64::from_be_bytes(id),
                decode_stored(value)?,
            ))
        })
        .collect::<Result<_, TxError>>()?;
    Ok(QueryCodesResponse {
        code_infos,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

/// wasmd's `Params`: who may upload code (our `code_upload_access`, with
/// DAO-only as wasmd's "nobody"), and that anyone may instantiate.
fn params(state: &StateView) -> Result<Vec<u8>, TxError> {
    let access = WasmParams::load(state)?.code_upload_access;
    Ok(QueryParamsResponse {
        params: Some(Params {
            code_upload_access: Some(access.to_access_config()),
            instantiate_default_permission: AccessType::Everybody as i32,
        }),
    }
    .encode_to_vec())
}

fn code_info_response(
    code_id: u64,
    info: cosmos_sdk_proto::cosmwasm::wasm::v1::CodeInfo,
) -> CodeInfoResponse {
    CodeInfoResponse {
        code_id,
        creator: info.creator,
        data_hash: info.code_hash,
        instantiate_permission: info.instantiate_config,
    }
}

/// The bytes of `address`, which must be an existing contract.
fn existing_contract(state: &StateView, address: &str) -> Result<Vec<u8>, TxError> {
    let contract = address::decode_field("address", address)?;
    match state::contract_info(state, &contract)? {
        Some(_) => Ok(contract),
        None => Err(not_found(address)),
    }
}

fn not_found(address: &str) -> TxError {
    TxError::new(Code::NotFound, format!("contract {address} not found"))
}

fn decode_stored<M: Message + Default>(bytes: &[u8]) -> Result<M, TxError> {
    M::decode(bytes)
        .map_err(|e| TxError::new(Code::Internal, format!("corrupt record in state: {e}")))
}

/// One page of the records under `prefix`, keys without the prefix, with the
/// Cosmos SDK's pagination: start after a previous page's `next_key` or skip
/// `offset` records; at most `limit` records; optionally in reverse and with
/// the total count (only on the first page, as the SDK does).
fn page(
    state: &StateView,
    prefix: &[u8],
    request: Option<PageRequest>,
) -> Result<(Records, PageResponse), TxError> {
    let request = request.unwrap_or_default();
    let limit = match request.limit {
        0 => DEFAULT_PAGE_LIMIT,
        limit => limit.min(MAX_PAGE_LIMIT),
    };
    // Read lazily: the page, then one more record for `next_key`; the rest
    // of a contract's storage is not touched (only `count_total`, on a first
    // page, walks it all, keeping nothing).
    let prefix_end = state_key::prefix_end(prefix);
    let (start, end) = if request.key.is_empty() {
        (prefix.to_vec(), prefix_end)
    } else {
        let mut key = prefix.to_vec();
        key.extend_from_slice(&request.key);
        if request.reverse {
            // `next_key` is the first record of the next page: inclusive.
            key.push(0);
            (prefix.to_vec(), Some(key))
        } else {
            (key, prefix_end)
        }
    };
    let first_page = request.key.is_empty();
    let skip = if first_page { request.offset } else { 0 };
    let strip = |key: &[u8]| key.get(prefix.len()..).unwrap_or_default().to_vec();
    let mut cursor: Option<Vec<u8>> = None;
    let mut seen = 0u64;
    let mut page = Vec::new();
    let mut next_key = Vec::new();
    loop {
        let (next, _) = state.next_in_range(
            Some(&start),
            end.as_deref(),
            cursor.as_deref(),
            request.reverse,
        )?;
        let Some((key, value)) = next else { break };
        seen += 1;
        if seen > skip && (page.len() as u64) < limit {
            page.push((strip(&key), value));
        } else if seen > skip && next_key.is_empty() {
            next_key = strip(&key);
            if !(request.count_total && first_page) {
                break;
            }
        }
        cursor = Some(key);
    }
    let total = if request.count_total && first_page {
        seen
    } else {
        0
    };
    Ok((page, PageResponse { next_key, total }))
}
