//! Pieces every module's ABCI queries share: decoding the protobuf
//! request and paging in-memory lists with `um.common.v1.PageRequest`
//! (wire-compatible with the Cosmos SDK's), the cursor being a decimal offset.

use prost::Message;
use um_proto::um::common::v1::{PageRequest, PageResponse};

use crate::codes::{Code, TxError};

pub fn request<M: Message + Default>(data: &[u8]) -> Result<M, TxError> {
    M::decode(data).map_err(|e| {
        TxError::new(
            Code::InvalidRequest,
            format!("undecodable {}: {e}", std::any::type_name::<M>()),
        )
    })
}

pub fn not_found(what: String) -> TxError {
    TxError::new(Code::NotFound, format!("{what} not found"))
}

/// A page of an in-memory list, the cursor being a decimal offset.
pub struct Page {
    pub offset: u64,
    pub limit: u64,
    pub count_total: bool,
    pub reverse: bool,
}

pub fn page(request: Option<&PageRequest>, default: u64, max: u64) -> Result<Page, TxError> {
    let Some(request) = request else {
        return Ok(Page {
            offset: 0,
            limit: default,
            count_total: false,
            reverse: false,
        });
    };
    let offset = if request.key.is_empty() {
        request.offset
    } else {
        std::str::from_utf8(&request.key)
            .ok()
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| TxError::new(Code::InvalidRequest, "malformed page key"))?
    };
    Ok(Page {
        offset,
        limit: limit(request.limit, default, max),
        count_total: request.count_total && request.key.is_empty(),
        reverse: request.reverse,
    })
}

pub fn limit(requested: u64, default: u64, max: u64) -> u64 {
    match requested {
        0 => default,
        n => n.min(max),
    }
}

/// The page of `items` (already in their default order).
pub fn paginate<T>(mut items: Vec<T>, page: &Page) -> (Vec<T>, PageResponse) {
    if page.reverse {
        items.reverse();
    }
    let total = items.len() as u64;
    let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let taken: Vec<T> = items
        .into_iter()
        .skip(start)
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .collect();
    let next = page.offset.saturating_add(taken.len() as u64);
    let response = PageResponse {
        next_key: if next < total {
            next.to_string().into_bytes()
        } else {
            Vec::new()
        },
        total: if page.count_total { total } else { 0 },
    };
    (taken, response)
}
