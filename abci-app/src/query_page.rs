//! Pieces every module's ABCI queries share: decoding the protobuf
//! request and paging in-memory lists with `um.common.v1.PageRequest`
//! (wire-compatible with the Cosmos SDK's), the cursor being a decimal offset.

use prost::Message;
use um_proto::um::common::v1::{PageRequest, PageResponse};

use crate::codes::{Code, TxError};
use crate::store::StateView;

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

/// The page of the records under `prefix` that `keep` accepts, read lazily
/// in key order (`newest_first`: descending; the page's `reverse` flips
/// it): the records before the page are read and dropped, the page is kept,
/// and reading stops one match after it (to know whether a next page
/// exists). Memory holds one page whatever the state holds; only
/// `count_total` (first page only) reads every record, and keeps none.
pub fn page_of<T>(
    state: &StateView,
    prefix: &[u8],
    newest_first: bool,
    page: &Page,
    decode: impl Fn(&[u8]) -> Result<T, TxError>,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, PageResponse), TxError> {
    let end = crate::store::prefix_end(prefix);
    let descending = newest_first != page.reverse;
    let mut cursor: Option<Vec<u8>> = None;
    let mut skipped = 0u64;
    let mut matched = 0u64;
    let mut items = Vec::new();
    let mut more = false;
    loop {
        let (next, _) =
            state.next_in_range(Some(prefix), end.as_deref(), cursor.as_deref(), descending)?;
        let Some((key, value)) = next else { break };
        cursor = Some(key);
        let item = decode(&value)?;
        if !keep(&item) {
            continue;
        }
        matched += 1;
        if skipped < page.offset {
            skipped += 1;
        } else if (items.len() as u64) < page.limit {
            items.push(item);
        } else {
            more = true;
            if !page.count_total {
                break;
            }
        }
    }
    let next = page.offset.saturating_add(items.len() as u64);
    let response = PageResponse {
        next_key: if more {
            next.to_string().into_bytes()
        } else {
            Vec::new()
        },
        total: if page.count_total { matched } else { 0 },
    };
    Ok((items, response))
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

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use um_proto::um::training::v1::Update;

    use crate::store::Store;
    use crate::training::{records, state_key};

    fn update(id: u64, model: &str) -> Update {
        Update {
            id,
            model_id: model.into(),
            ..Default::default()
        }
    }

    fn decode(bytes: &[u8]) -> Result<Update, TxError> {
        Update::decode(bytes).map_err(|_| TxError::new(Code::Internal, "stored update"))
    }

    /// Issue 13, finding 10: list queries decoded every record and then
    /// kept a page (about 1 GB per request after ~1,300 maximum-size
    /// deltas). A page now reads up to one match past itself: a record
    /// that cannot be decoded, far past the page, is never touched.
    #[test]
    fn a_page_reads_only_up_to_the_record_after_it() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        // Update 1 is garbage; the newest-first walk meets it last.
        state.set(&state_key::update(1), b"\xff\xff garbage".to_vec());
        for id in 2..=20 {
            let model = if id % 2 == 0 { "even" } else { "odd" };
            records::save_update(&mut state, &update(id, model));
        }
        let page = |offset, limit, count_total| Page {
            offset,
            limit,
            count_total,
            reverse: false,
        };
        let even = |u: &Update| u.model_id == "even";
        let (first, response) = page_of(
            &state,
            state_key::UPDATE_PREFIX,
            true,
            &page(0, 3, false),
            decode,
            even,
        )
        .unwrap();
        assert_eq!(
            first.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![20, 18, 16]
        );
        assert_eq!(response.next_key, b"3".to_vec());
        let (second, response) = page_of(
            &state,
            state_key::UPDATE_PREFIX,
            true,
            &page(3, 3, false),
            decode,
            even,
        )
        .unwrap();
        assert_eq!(
            second.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![14, 12, 10]
        );
        assert_eq!(response.next_key, b"6".to_vec());
        // A page that ends next to the garbage: the match after it (2)
        // says a next page exists, and the walk stops there.
        let (third, response) = page_of(
            &state,
            state_key::UPDATE_PREFIX,
            true,
            &page(6, 3, false),
            decode,
            even,
        )
        .unwrap();
        assert_eq!(
            third.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![8, 6, 4]
        );
        assert_eq!(response.next_key, b"9".to_vec());
        // Oldest first, and a total that does read everything (here: the
        // garbage, which is reported, not skipped).
        let reversed = Page {
            reverse: true,
            ..page(0, 2, false)
        };
        assert!(
            page_of(
                &state,
                state_key::UPDATE_PREFIX,
                true,
                &reversed,
                decode,
                even
            )
            .is_err(),
            "oldest first starts at the garbage"
        );
        assert!(page_of(
            &state,
            state_key::UPDATE_PREFIX,
            true,
            &page(0, 3, true),
            decode,
            even
        )
        .is_err());
    }
}
