//! ABCI queries of the training module: the `um.training.v1.Query` service
//! as gRPC-style paths (protobuf request in `data`, response in `value`),
//! and the older JSON paths under `custom/training/…`.

use prost::Message;
use serde::Deserialize;
use um_proto::um::training::v1::{self as proto, UpdateStatus};

use super::{lineage_proto, records, state_key};
use crate::codes::{Code, TxError};
use crate::query_page::{indexed, not_found, page, page_of, paginate, request, DEFAULT_SCAN_LIMIT};
use crate::store::StateView;

pub const LINEAGE_PATH: &str = "custom/training/lineage";
pub const LINEAGES_PATH: &str = "custom/training/lineages";

/// Largest page any list query returns.
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineageRequest {
    model_id: String,
}

pub fn handle(state: &StateView, path: &str, data: &[u8]) -> Option<Result<Vec<u8>, TxError>> {
    let result = match path {
        LINEAGE_PATH => lineage_json(state, data),
        LINEAGES_PATH => super::lineages(state).and_then(|all| to_json(&all)),
        "/um.training.v1.Query/Lineages" => lineages(state, data),
        "/um.training.v1.Query/Lineage" => lineage(state, data),
        "/um.training.v1.Query/Head" => head(state, data),
        "/um.training.v1.Query/Versions" => versions(state, data),
        "/um.training.v1.Query/Version" => version(state, data),
        "/um.training.v1.Query/Update" => update(state, data),
        "/um.training.v1.Query/Updates" => updates(state, data),
        "/um.training.v1.Query/Weights" => weights(state, data),
        "/um.training.v1.Query/Round" => round(state, data),
        _ => return None,
    };
    Some(result)
}

fn round(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryRoundRequest = request(data)?;
    if super::lineage(state, &req.model_id)?.is_none() {
        return Err(not_found(format!("model lineage {:?}", req.model_id)));
    }
    let round = match req.number {
        0 => super::round::current(state, &req.model_id)?,
        number => super::round::load(state, &req.model_id, number)?,
    };
    let round = round.ok_or_else(|| match req.number {
        0 => not_found(format!("rounds of {:?} (it has none)", req.model_id)),
        number => not_found(format!("round {number} of {:?}", req.model_id)),
    })?;
    Ok(proto::QueryRoundResponse {
        proof: None,
        round: Some(round),
    }
    .encode_to_vec())
}

fn lineages(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryLineagesRequest = request(data)?;
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    let (lineages, pagination) = paginate(super::lineages(state)?, &page)?;
    Ok(proto::QueryLineagesResponse {
        lineages: lineages.iter().map(lineage_proto).collect(),
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn lineage(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryLineageRequest = request(data)?;
    let lineage = super::lineage(state, &req.model_id)?
        .ok_or_else(|| not_found(format!("model lineage {:?}", req.model_id)))?;
    Ok(proto::QueryLineageResponse {
        proof: None,
        lineage: Some(lineage_proto(&lineage)),
    }
    .encode_to_vec())
}

fn head(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryHeadRequest = request(data)?;
    let lineage = super::lineage(state, &req.model_id)?
        .ok_or_else(|| not_found(format!("model lineage {:?}", req.model_id)))?;
    let version = records::version(state, &req.model_id, lineage.head_version)?
        .ok_or_else(|| TxError::new(Code::Internal, "head version record missing"))?;
    Ok(proto::QueryHeadResponse {
        proof: None,
        version: Some(version),
    }
    .encode_to_vec())
}

fn versions(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryVersionsRequest = request(data)?;
    if super::lineage(state, &req.model_id)?.is_none() {
        return Err(not_found(format!("model lineage {:?}", req.model_id)));
    }
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    // Stored in ascending version order; the service documents newest
    // first. Read lazily: a lineage's history grows without bound.
    let (versions, pagination) = page_of(
        state,
        &state_key::versions_of(&req.model_id),
        true,
        &page,
        DEFAULT_SCAN_LIMIT,
        |_, bytes| {
            proto::ModelVersion::decode(bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored model version: {e}")))
        },
        |_| true,
    )?;
    Ok(proto::QueryVersionsResponse {
        proof: None,
        versions,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn version(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryVersionRequest = request(data)?;
    let version = records::version(state, &req.model_id, req.version)?
        .ok_or_else(|| not_found(format!("version {} of {:?}", req.version, req.model_id)))?;
    Ok(proto::QueryVersionResponse {
        proof: None,
        version: Some(version),
    }
    .encode_to_vec())
}

fn update(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryUpdateRequest = request(data)?;
    let update = records::update(state, req.update_id)?
        .ok_or_else(|| not_found(format!("update {}", req.update_id)))?;
    Ok(proto::QueryUpdateResponse {
        proof: None,
        verdicts: records::verdicts(state, update.id)?,
        update: Some(update),
    }
    .encode_to_vec())
}

fn updates(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryUpdatesRequest = request(data)?;
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    let keep = |u: &proto::Update| {
        (req.model_id.is_empty() || u.model_id == req.model_id)
            && (req.trainer.is_empty() || u.trainer == req.trainer)
            && (req.status == UpdateStatus::Unspecified as i32 || u.status == req.status)
    };
    // Newest first, as the service documents; read lazily, one page held.
    // A trainer's or a lineage's updates are read through their index, so
    // listing them does not walk everyone else's.
    let index = if !req.trainer.is_empty() {
        Some(state_key::updates_by_trainer(&req.trainer))
    } else if !req.model_id.is_empty() {
        Some(state_key::updates_by_model(&req.model_id))
    } else if req.status == UpdateStatus::Pending as i32 {
        Some(state_key::PENDING_PREFIX.to_vec())
    } else {
        None
    };
    let (updates, pagination) = match index {
        Some(prefix) => page_of(
            state,
            &prefix,
            true,
            &page,
            DEFAULT_SCAN_LIMIT,
            |key, _| indexed(key, "update", |id| records::update(state, id)),
            keep,
        )?,
        None => page_of(
            state,
            state_key::UPDATE_PREFIX,
            true,
            &page,
            DEFAULT_SCAN_LIMIT,
            |_, bytes| {
                proto::Update::decode(bytes)
                    .map_err(|e| TxError::new(Code::Internal, format!("stored update: {e}")))
            },
            keep,
        )?,
    };
    Ok(proto::QueryUpdatesResponse {
        updates,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn weights(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryWeightsRequest = request(data)?;
    let weights = records::blob(state, &req.weights_sha256)?
        .ok_or_else(|| not_found(format!("weights {}", hex::encode(&req.weights_sha256))))?;
    let total_size = weights.len() as u64;
    if req.offset == 0 && req.length == 0 {
        return Ok(proto::QueryWeightsResponse {
            weights,
            total_size,
        }
        .encode_to_vec());
    }
    if req.offset >= total_size {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!(
                "offset {} is past the end of the {total_size} bytes",
                req.offset
            ),
        ));
    }
    let end = match req.length {
        0 => total_size,
        length => req.offset.saturating_add(length).min(total_size),
    };
    Ok(proto::QueryWeightsResponse {
        weights: weights[req.offset as usize..end as usize].to_vec(),
        total_size,
    }
    .encode_to_vec())
}

fn lineage_json(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let request: LineageRequest = serde_json::from_slice(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("expected {{\"model_id\": …}}: {e}"),
        )
    })?;
    match super::lineage(state, &request.model_id)? {
        Some(lineage) => to_json(&lineage),
        None => Err(not_found(format!("model lineage {:?}", request.model_id))),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, TxError> {
    serde_json::to_vec(value).map_err(|e| TxError::new(Code::Internal, e.to_string()))
}
