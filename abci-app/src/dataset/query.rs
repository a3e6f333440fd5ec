//! The `um.dataset.v1.Query` service as gRPC-style ABCI query paths:
//! protobuf request in `data`, protobuf response in `value`.
//!
//! Lists take `um.common.v1.PageRequest`. The cursor (`next_key`) of
//! `Records` is the hash of the last record read, so a client that pages
//! through a version reads each record once however large it is; versions
//! and deltas page with [`crate::query_page::page_of`]'s cursors; the list
//! of lineages is short (the DAO alone adds to it) and pages by offset.

use prost::Message;
use um_proto::um::common::v1::PageResponse;
use um_proto::um::dataset::v1::{self as proto, Dataset, DeltaStatus, Split};

use super::records::{self, MemberPage};
use super::state_key;
use crate::codes::{Code, TxError};
use crate::query_page::{
    indexed, limit, not_found, page, page_of, paginate, request, DEFAULT_SCAN_LIMIT,
};
use crate::store::StateView;

pub const DATASETS_PATH: &str = "/um.dataset.v1.Query/Datasets";
pub const DATASET_PATH: &str = "/um.dataset.v1.Query/Dataset";
pub const DATASET_VERSIONS_PATH: &str = "/um.dataset.v1.Query/DatasetVersions";
pub const DELTAS_PATH: &str = "/um.dataset.v1.Query/Deltas";
pub const DELTA_PATH: &str = "/um.dataset.v1.Query/Delta";
pub const RECORDS_PATH: &str = "/um.dataset.v1.Query/Records";
/// JSON [`super::DatasetParams`] (the proto service has no params call), as
/// the gov module's `custom/gov/params`.
pub const PARAMS_PATH: &str = "custom/dataset/params";

/// Largest page of records (about 0.8 MB of MNIST digits).
pub const MAX_RECORDS_PAGE: u64 = 1000;
const DEFAULT_RECORDS_PAGE: u64 = 100;
/// Deltas carry their records, so their pages are smaller.
const MAX_DELTAS_PAGE: u64 = 100;
const DEFAULT_DELTAS_PAGE: u64 = 20;
/// Deltas one request may decode: two full pages.
const DELTAS_SCAN_LIMIT: u64 = 2 * MAX_DELTAS_PAGE;
const MAX_PAGE: u64 = 1000;
const DEFAULT_PAGE: u64 = 100;

pub fn handle(state: &StateView, path: &str, data: &[u8]) -> Option<Result<Vec<u8>, TxError>> {
    let result = match path {
        DATASETS_PATH => datasets(state, data),
        DATASET_PATH => dataset(state, data),
        DATASET_VERSIONS_PATH => dataset_versions(state, data),
        DELTAS_PATH => deltas(state, data),
        DELTA_PATH => delta(state, data),
        RECORDS_PATH => records(state, data),
        PARAMS_PATH => super::DatasetParams::load(state).and_then(|params| {
            serde_json::to_vec(&params).map_err(|e| TxError::new(Code::Internal, e.to_string()))
        }),
        _ => return None,
    };
    Some(result)
}

fn datasets(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryDatasetsRequest = request(data)?;
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    let (ids, pagination) = paginate(records::dataset_ids(state)?, &page)?;
    let datasets = ids
        .iter()
        .map(|id| {
            super::current(state, id)?
                .ok_or_else(|| TxError::new(Code::Internal, format!("dataset {id} has no head")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(proto::QueryDatasetsResponse {
        datasets,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

/// The asked version, or the newest.
fn resolve(state: &StateView, dataset_id: &str, version: Option<u64>) -> Result<Dataset, TxError> {
    let Some(head) = records::head(state, dataset_id)? else {
        return Err(not_found(format!("dataset {dataset_id:?}")));
    };
    let version = version.unwrap_or(head);
    records::version(state, dataset_id, version)?
        .ok_or_else(|| not_found(format!("version {version} of dataset {dataset_id:?}")))
}

fn dataset(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryDatasetRequest = request(data)?;
    let dataset = resolve(state, &req.dataset_id, req.version)?;
    Ok(proto::QueryDatasetResponse {
        dataset: Some(dataset),
    }
    .encode_to_vec())
}

fn dataset_versions(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryDatasetVersionsRequest = request(data)?;
    if records::head(state, &req.dataset_id)?.is_none() {
        return Err(not_found(format!("dataset {:?}", req.dataset_id)));
    }
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    let (versions, pagination) = page_of(
        state,
        &state_key::versions_of(&req.dataset_id),
        true,
        &page,
        DEFAULT_SCAN_LIMIT,
        |_, bytes| {
            Dataset::decode(bytes)
                .map_err(|e| TxError::new(Code::Internal, format!("stored dataset version: {e}")))
        },
        |_| true,
    )?;
    Ok(proto::QueryDatasetVersionsResponse {
        versions,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn deltas(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryDeltasRequest = request(data)?;
    let page = page(
        req.pagination.as_ref(),
        DEFAULT_DELTAS_PAGE,
        MAX_DELTAS_PAGE,
    )?;
    // Newest first; read lazily, so that a page of deltas (each up to
    // 1,000 records of 784 bytes) holds one page, not every delta ever. One
    // lineage's deltas are read through its index; a status filter reads
    // at most a couple of pages' worth of deltas per request.
    let decode = |bytes: &[u8]| {
        proto::DatasetDelta::decode(bytes)
            .map_err(|e| TxError::new(Code::Internal, format!("stored dataset delta: {e}")))
    };
    let keep = |d: &proto::DatasetDelta| {
        (req.dataset_id.is_empty() || d.dataset_id == req.dataset_id)
            && (req.status == DeltaStatus::Unspecified as i32 || d.status == req.status)
    };
    let (deltas, pagination) = if req.dataset_id.is_empty() {
        page_of(
            state,
            state_key::DELTA_PREFIX,
            true,
            &page,
            DELTAS_SCAN_LIMIT,
            |_, bytes| decode(bytes),
            keep,
        )?
    } else {
        page_of(
            state,
            &state_key::deltas_of_dataset(&req.dataset_id),
            true,
            &page,
            DELTAS_SCAN_LIMIT,
            |key, _| indexed(key, "delta", |id| records::delta(state, id)),
            keep,
        )?
    };
    Ok(proto::QueryDeltasResponse {
        deltas,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn delta(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryDeltaRequest = request(data)?;
    let delta = records::delta(state, req.delta_id)?
        .ok_or_else(|| not_found(format!("dataset delta {}", req.delta_id)))?;
    Ok(proto::QueryDeltaResponse { delta: Some(delta) }.encode_to_vec())
}

fn records(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryRecordsRequest = request(data)?;
    let dataset = resolve(state, &req.dataset_id, req.version)?;
    let split = Split::try_from(req.split)
        .map_err(|_| TxError::new(Code::InvalidRequest, format!("unknown split {}", req.split)))?;
    let pagination = req.pagination.unwrap_or_default();
    let after = if pagination.key.is_empty() {
        None
    } else {
        Some(records::as_hash(&pagination.key).ok_or_else(|| {
            TxError::new(
                Code::InvalidRequest,
                "malformed page key: the key of a records page is a 32-byte record hash",
            )
        })?)
    };
    let limit = limit(pagination.limit, DEFAULT_RECORDS_PAGE, MAX_RECORDS_PAGE);
    let member_page = MemberPage {
        after,
        skip: if after.is_none() {
            pagination.offset
        } else {
            0
        },
        limit: Some(limit),
        descending: pagination.reverse,
        split,
    };
    let (members, more) =
        records::members(state, &dataset.dataset_id, dataset.version, &member_page)?;
    let records = members
        .iter()
        .map(|member| {
            let mut record = records::record(state, &member.hash)?.ok_or_else(|| {
                TxError::new(
                    Code::Internal,
                    format!(
                        "record {} of {} is not stored",
                        hex::encode(member.hash),
                        dataset.dataset_id
                    ),
                )
            })?;
            record.set_split(member.split());
            Ok(record)
        })
        .collect::<Result<Vec<_>, TxError>>()?;
    let total = match split {
        _ if !(pagination.count_total && pagination.key.is_empty()) => 0,
        Split::Unspecified => dataset.record_count,
        Split::Train => dataset.train_count,
        Split::Validation => dataset.validation_count,
    };
    let next_key = match members.last() {
        Some(last) if more => last.hash.to_vec(),
        _ => Vec::new(),
    };
    Ok(proto::QueryRecordsResponse {
        records,
        pagination: Some(PageResponse { next_key, total }),
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use um_proto::um::common::v1::PageRequest;
    use um_proto::um::dataset::v1::{DatasetDelta, Record};

    use super::*;
    use crate::dataset::testutil::{digit, digits, state_with};
    use crate::store::Store;

    fn ask<R: Message + Default>(
        state: &StateView,
        path: &str,
        req: impl Message,
    ) -> Result<R, TxError> {
        let bytes = handle(state, path, &req.encode_to_vec()).unwrap()?;
        Ok(R::decode(bytes.as_slice()).unwrap())
    }

    fn records_page(
        state: &StateView,
        version: Option<u64>,
        split: Split,
        pagination: PageRequest,
    ) -> Result<proto::QueryRecordsResponse, TxError> {
        ask(
            state,
            RECORDS_PATH,
            proto::QueryRecordsRequest {
                dataset_id: "mnist".into(),
                version,
                split: split as i32,
                pagination: Some(pagination),
            },
        )
    }

    /// Every record of a version, paging with the cursor.
    fn fetch_all(state: &StateView, version: Option<u64>, split: Split, limit: u64) -> Vec<Record> {
        let mut out = Vec::new();
        let mut key = Vec::new();
        loop {
            let page = records_page(
                state,
                version,
                split,
                PageRequest {
                    key,
                    limit,
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(page.records.len() as u64 <= limit);
            out.extend(page.records);
            key = page.pagination.unwrap().next_key;
            if key.is_empty() {
                return out;
            }
        }
    }

    #[test]
    fn records_pages_cover_exactly_the_version_in_hash_order() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let genesis = digits(40);
        state_with(&mut state, &genesis);
        let expected = um_formats::Dataset::from_records(genesis.clone());

        let all = fetch_all(&state, None, Split::Unspecified, 7);
        let members: Vec<([u8; 32], bool)> = all
            .iter()
            .map(|r| {
                (
                    r.hash.clone().try_into().unwrap(),
                    r.split == Split::Validation as i32,
                )
            })
            .collect();
        assert!(
            members.windows(2).all(|w| w[0].0 < w[1].0),
            "ascending, distinct"
        );
        assert!(all.iter().all(|r| r.split != Split::Unspecified as i32));
        assert_eq!(
            um_formats::dataset_root(members.iter().map(|(h, v)| (h, *v))),
            expected.root()
        );
        for record in &all {
            let digit = um_formats::Record {
                label: record.label as u8,
                pixels: record.pixels.clone().try_into().unwrap(),
            };
            assert_eq!(digit.hash().to_vec(), record.hash);
        }
        let validation = fetch_all(&state, Some(0), Split::Validation, 1000);
        assert_eq!(validation.len(), expected.validation().len());
        assert!(validation.iter().all(|r| r.hash[0] < 26));
        let train = fetch_all(&state, Some(0), Split::Train, 3);
        assert_eq!(train.len(), expected.train().len());

        // Offsets, totals, reverse order.
        let page = records_page(
            &state,
            None,
            Split::Unspecified,
            PageRequest {
                offset: 38,
                limit: 5,
                count_total: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(page.records, all[38..].to_vec());
        assert_eq!(
            page.pagination.unwrap(),
            PageResponse {
                next_key: vec![],
                total: 40
            }
        );
        let page = records_page(
            &state,
            None,
            Split::Unspecified,
            PageRequest {
                limit: 2,
                reverse: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(page.records, vec![all[39].clone(), all[38].clone()]);
        assert_eq!(page.pagination.unwrap().next_key, all[38].hash);

        let err = |result: Result<proto::QueryRecordsResponse, TxError>| result.unwrap_err();
        let bad_key = PageRequest {
            key: vec![1, 2, 3],
            ..Default::default()
        };
        assert_eq!(
            err(records_page(&state, None, Split::Unspecified, bad_key)).code,
            Code::InvalidRequest
        );
        let missing = err(records_page(
            &state,
            Some(4),
            Split::Unspecified,
            PageRequest::default(),
        ));
        assert_eq!(missing.code, Code::NotFound);
        assert!(missing.log.contains("version 4"), "{}", missing.log);
        let unknown: Result<proto::QueryRecordsResponse, _> = ask(
            &state,
            RECORDS_PATH,
            proto::QueryRecordsRequest {
                dataset_id: "cifar".into(),
                ..Default::default()
            },
        );
        assert_eq!(unknown.unwrap_err().log, "dataset \"cifar\" not found");
        assert!(handle(&state, "/um.dataset.v1.Query/Nope", &[]).is_none());
        let garbage = handle(&state, DATASET_PATH, &[0xff, 0xff])
            .unwrap()
            .unwrap_err();
        assert_eq!(garbage.code, Code::InvalidRequest);
    }

    #[test]
    fn versions_and_deltas_are_listed_newest_first() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        state_with(&mut state, &digits(10));
        for id in 1..=3u64 {
            records::next_delta_id(&mut state).unwrap();
            records::save_delta(
                &mut state,
                &DatasetDelta {
                    id,
                    dataset_id: "mnist".into(),
                    add: vec![Record {
                        label: 1,
                        pixels: digit(100 + id as u8).pixels.to_vec(),
                        ..Default::default()
                    }],
                    status: DeltaStatus::Proposed as i32,
                    ..Default::default()
                },
            );
        }
        crate::dataset::decide::accept(
            &mut state,
            &crate::context::BlockInfo {
                height: 4,
                ..Default::default()
            },
            2,
        )
        .unwrap();
        crate::dataset::decide::reject(&mut state, 5, 3).unwrap();

        let dataset: proto::QueryDatasetResponse = ask(
            &state,
            DATASET_PATH,
            proto::QueryDatasetRequest {
                dataset_id: "mnist".into(),
                version: None,
            },
        )
        .unwrap();
        let newest = dataset.dataset.unwrap();
        assert_eq!(
            (newest.version, newest.record_count, newest.delta_id),
            (1, 11, 2)
        );
        let old: proto::QueryDatasetResponse = ask(
            &state,
            DATASET_PATH,
            proto::QueryDatasetRequest {
                dataset_id: "mnist".into(),
                version: Some(0),
            },
        )
        .unwrap();
        assert_eq!(old.dataset.unwrap().record_count, 10);
        assert_eq!(fetch_all(&state, Some(0), Split::Unspecified, 4).len(), 10);
        assert_eq!(fetch_all(&state, None, Split::Unspecified, 4).len(), 11);

        let versions: proto::QueryDatasetVersionsResponse = ask(
            &state,
            DATASET_VERSIONS_PATH,
            proto::QueryDatasetVersionsRequest {
                dataset_id: "mnist".into(),
                pagination: None,
            },
        )
        .unwrap();
        let numbers: Vec<u64> = versions.versions.iter().map(|v| v.version).collect();
        assert_eq!(numbers, vec![1, 0]);
        let list: proto::QueryDatasetsResponse = ask(
            &state,
            DATASETS_PATH,
            proto::QueryDatasetsRequest { pagination: None },
        )
        .unwrap();
        assert_eq!(list.datasets, vec![newest]);

        let deltas = |status: DeltaStatus, pagination: Option<PageRequest>| -> Vec<u64> {
            let response: proto::QueryDeltasResponse = ask(
                &state,
                DELTAS_PATH,
                proto::QueryDeltasRequest {
                    dataset_id: String::new(),
                    status: status as i32,
                    pagination,
                },
            )
            .unwrap();
            response.deltas.iter().map(|d| d.id).collect()
        };
        assert_eq!(deltas(DeltaStatus::Unspecified, None), vec![3, 2, 1]);
        assert_eq!(deltas(DeltaStatus::Proposed, None), vec![1]);
        assert_eq!(deltas(DeltaStatus::Rejected, None), vec![3]);
        let second_page = PageRequest {
            key: b"1".to_vec(),
            limit: 1,
            ..Default::default()
        };
        assert_eq!(deltas(DeltaStatus::Unspecified, Some(second_page)), vec![2]);
        let one: proto::QueryDeltaResponse =
            ask(&state, DELTA_PATH, proto::QueryDeltaRequest { delta_id: 2 }).unwrap();
        let one = one.delta.unwrap();
        assert_eq!(
            (one.status, one.result_version),
            (DeltaStatus::Accepted as i32, 1)
        );
        let missing: Result<proto::QueryDeltaResponse, _> =
            ask(&state, DELTA_PATH, proto::QueryDeltaRequest { delta_id: 9 });
        assert_eq!(missing.unwrap_err().code, Code::NotFound);
    }
}
