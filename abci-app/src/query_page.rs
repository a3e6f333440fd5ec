//! Pieces every module's ABCI queries share: decoding the protobuf
//! request and paging with `um.common.v1.PageRequest` (wire-compatible with
//! the Cosmos SDK's).
//!
//! Queries are unauthenticated and free, so what one may read is bounded
//! whatever the state holds or the request asks:
//! - [`page_of`] reads lazily and stops one match past the page;
//! - its `next_key` is a cursor (`@` and the store key of the last record
//!   read), so a client paging with `next_key` reads each record once;
//! - a walk reads at most `scan_limit` records: a filter that matches
//!   rarely returns a short page and a cursor to go on from, instead of
//!   walking the whole history; `offset` and `count_total` are served only
//!   within that limit.

use prost::Message;
use um_proto::um::common::v1::{PageRequest, PageResponse};

use crate::codes::{Code, TxError};
use crate::store::StateView;

/// Records one list query may read (matching or not) when the caller
/// gives no tighter limit.
pub const DEFAULT_SCAN_LIMIT: u64 = 10_000;

/// Marks a `next_key` that is a store cursor rather than a decimal offset.
const CURSOR_TAG: u8 = b'@';

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

/// What a page request asks for.
pub struct Page {
    pub offset: u64,
    pub limit: u64,
    pub count_total: bool,
    pub reverse: bool,
    /// Go on strictly after this key (relative to the list's prefix): the
    /// cursor of a previous page's `next_key`.
    pub after: Option<Vec<u8>>,
}

pub fn page(request: Option<&PageRequest>, default: u64, max: u64) -> Result<Page, TxError> {
    let Some(request) = request else {
        return Ok(Page {
            offset: 0,
            limit: default,
            count_total: false,
            reverse: false,
            after: None,
        });
    };
    let (offset, after) = match request.key.split_first() {
        None => (request.offset, None),
        Some((&CURSOR_TAG, cursor)) => (0, Some(cursor.to_vec())),
        Some(_) => {
            let offset = std::str::from_utf8(&request.key)
                .ok()
                .and_then(|k| k.parse().ok())
                .ok_or_else(|| TxError::new(Code::InvalidRequest, "malformed page key"))?;
            (offset, None)
        }
    };
    Ok(Page {
        offset,
        limit: limit(request.limit, default, max),
        count_total: request.count_total && request.key.is_empty(),
        reverse: request.reverse,
        after,
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
/// it). `decode` gets each record's key after `prefix` and its value.
///
/// Reading stops one match after the page (to know whether a next page
/// exists) or after `scan_limit` records, whichever comes first; memory
/// holds one page. When the limit ends a page early, `next_key` is the
/// cursor of the last record read, so the client goes on from there.
/// Skipping an `offset` or counting a total beyond the limit is refused:
/// paging with `next_key` serves any depth at the cost of each page.
pub fn page_of<T>(
    state: &StateView,
    prefix: &[u8],
    newest_first: bool,
    page: &Page,
    scan_limit: u64,
    decode: impl Fn(&[u8], &[u8]) -> Result<T, TxError>,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, PageResponse), TxError> {
    let end = crate::store::prefix_end(prefix);
    let descending = newest_first != page.reverse;
    let mut cursor: Option<Vec<u8>> = page
        .after
        .as_ref()
        .map(|after| [prefix, after.as_slice()].concat());
    let mut scanned = 0u64;
    let mut skipped = 0u64;
    let mut matched = 0u64;
    let mut items = Vec::new();
    let mut last_returned: Option<Vec<u8>> = None;
    let mut more = false;
    loop {
        if scanned >= scan_limit {
            if page.count_total {
                return Err(too_deep(format!(
                    "a total over more than {scan_limit} records is not served"
                )));
            }
            if skipped < page.offset {
                return Err(too_deep(format!(
                    "offset {} passes more than {scan_limit} records",
                    page.offset
                )));
            }
            // Cut short: whether more match is unknown, so unless the range
            // ends here, go on after the last record read, matched or not
            // (nothing between the page and it matched).
            let (next, _) =
                state.next_in_range(Some(prefix), end.as_deref(), cursor.as_deref(), descending)?;
            more = next.is_some();
            last_returned = cursor.clone();
            break;
        }
        let (next, _) =
            state.next_in_range(Some(prefix), end.as_deref(), cursor.as_deref(), descending)?;
        let Some((key, value)) = next else { break };
        scanned += 1;
        let item = decode(key.get(prefix.len()..).unwrap_or_default(), &value)?;
        cursor = Some(key);
        if !keep(&item) {
            continue;
        }
        matched += 1;
        if skipped < page.offset {
            skipped += 1;
        } else if (items.len() as u64) < page.limit {
            items.push(item);
            last_returned = cursor.clone();
        } else {
            more = true;
            if !page.count_total {
                break;
            }
        }
    }
    let next_key = match last_returned {
        Some(key) if more => {
            let mut next = vec![CURSOR_TAG];
            next.extend_from_slice(key.get(prefix.len()..).unwrap_or_default());
            next
        }
        _ => Vec::new(),
    };
    let response = PageResponse {
        next_key,
        total: if page.count_total { matched } else { 0 },
    };
    Ok((items, response))
}

/// The record an index entry points at: `key` (after the index's prefix)
/// is the record's big-endian id, which `load` reads; `what` names the
/// record in errors. For [`page_of`] over an index.
pub fn indexed<T>(
    key: &[u8],
    what: &str,
    load: impl FnOnce(u64) -> Result<Option<T>, TxError>,
) -> Result<T, TxError> {
    let id = key
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| TxError::new(Code::Internal, format!("malformed {what} index key")))?;
    load(id)?
        .ok_or_else(|| TxError::new(Code::Internal, format!("indexed {what} {id} is not stored")))
}

fn too_deep(what: String) -> TxError {
    TxError::new(
        Code::InvalidRequest,
        format!("{what}; page with next_key instead"),
    )
}

/// The page of `items` (already in their default order): for the short
/// lists the DAO alone can grow, whose cursor is a decimal offset.
pub fn paginate<T>(mut items: Vec<T>, page: &Page) -> Result<(Vec<T>, PageResponse), TxError> {
    if page.after.is_some() {
        return Err(TxError::new(
            Code::InvalidRequest,
            "malformed page key: this list pages by decimal offset",
        ));
    }
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
    Ok((taken, response))
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

    fn decode(_key: &[u8], bytes: &[u8]) -> Result<Update, TxError> {
        Update::decode(bytes).map_err(|_| TxError::new(Code::Internal, "stored update"))
    }

    fn page(offset: u64, limit: u64, count_total: bool) -> Page {
        Page {
            offset,
            limit,
            count_total,
            reverse: false,
            after: None,
        }
    }

    fn ids(updates: &[Update]) -> Vec<u64> {
        updates.iter().map(|u| u.id).collect()
    }

    fn cursor_after(id: u64) -> Vec<u8> {
        [&[CURSOR_TAG][..], &id.to_be_bytes()].concat()
    }

    /// Issue 13, finding 10: list queries decoded every record and then
    /// kept a page (about 1 GB per request after ~1,300 maximum-size
    /// deltas). A page now reads up to one match past itself: a record
    /// that cannot be decoded, far past the page, is never touched; its
    /// cursor goes on from the last record returned.
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
        let even = |u: &Update| u.model_id == "even";
        let walk = |page: &Page| {
            page_of(
                &state,
                state_key::UPDATE_PREFIX,
                true,
                page,
                DEFAULT_SCAN_LIMIT,
                decode,
                even,
            )
        };
        let (first, response) = walk(&page(0, 3, false)).unwrap();
        assert_eq!(ids(&first), vec![20, 18, 16]);
        assert_eq!(response.next_key, cursor_after(16));
        // By cursor and by offset, the same second page.
        let by_cursor = Page {
            after: Some(16u64.to_be_bytes().to_vec()),
            ..page(0, 3, false)
        };
        let (second, response) = walk(&by_cursor).unwrap();
        assert_eq!(ids(&second), vec![14, 12, 10]);
        assert_eq!(response.next_key, cursor_after(10));
        assert_eq!(ids(&walk(&page(3, 3, false)).unwrap().0), vec![14, 12, 10]);
        // A page that ends next to the garbage: the match after it (2)
        // says a next page exists, and the walk stops there.
        let (third, response) = walk(&page(6, 3, false)).unwrap();
        assert_eq!(ids(&third), vec![8, 6, 4]);
        assert_eq!(response.next_key, cursor_after(4));
        // Oldest first, and a total that does read everything (here: the
        // garbage, which is reported, not skipped).
        let reversed = Page {
            reverse: true,
            ..page(0, 2, false)
        };
        assert!(
            walk(&reversed).is_err(),
            "oldest first starts at the garbage"
        );
        assert!(walk(&page(0, 3, true)).is_err());
    }

    /// Issue 13, finding 10: a filter that matches rarely (one trainer's
    /// updates among everyone's) walked the whole history to fill a page.
    /// A walk now stops after its scan limit with a short page and a
    /// cursor to go on from, and a client that follows the cursors still
    /// gets every match once.
    #[test]
    fn a_rare_filter_stops_at_the_scan_limit_and_goes_on_by_cursor() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        for id in 1..=100 {
            let model = if id % 25 == 0 { "rare" } else { "common" };
            records::save_update(&mut state, &update(id, model));
        }
        let rare = |u: &Update| u.model_id == "rare";
        let walk = |page: &Page| {
            page_of(
                &state,
                state_key::UPDATE_PREFIX,
                true,
                page,
                10,
                decode,
                rare,
            )
        };
        let (first, response) = walk(&page(0, 3, false)).unwrap();
        assert_eq!(ids(&first), vec![100], "ten read: 100 down to 91");
        assert_eq!(response.next_key, cursor_after(91));
        let mut all = Vec::new();
        let mut request = PageRequest {
            limit: 3,
            ..Default::default()
        };
        let mut pages = 0;
        loop {
            let (items, response) = walk(&super::page(Some(&request), 3, 3).unwrap()).unwrap();
            all.extend(ids(&items));
            pages += 1;
            if response.next_key.is_empty() {
                break;
            }
            request.key = response.next_key;
        }
        assert_eq!(all, vec![100, 75, 50, 25]);
        assert_eq!(pages, 10, "one page per ten records read");
        // Neither an offset nor a total may read past the limit.
        let err = walk(&page(2, 3, false)).unwrap_err();
        assert_eq!(err.code, Code::InvalidRequest);
        assert!(err.log.contains("next_key"), "{}", err.log);
        assert_eq!(
            walk(&page(0, 3, true)).unwrap_err().code,
            Code::InvalidRequest
        );
        assert_eq!(ids(&walk(&page(1, 3, false)).unwrap().0), Vec::<u64>::new());
    }
}
