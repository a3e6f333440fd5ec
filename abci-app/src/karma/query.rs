//! The karma queries (`um.karma.v1.Query`): the leaderboard, paged in key
//! order of the rank index, and one address's karma with its rank.

use prost::Message;
use um_proto::um::karma::v1 as proto;

use super::{contributions, karma, score, state_key};
use crate::codes::{Code, TxError};
use crate::query_page::{not_found, page, page_of, request, DEFAULT_SCAN_LIMIT};
use crate::store::StateView;

pub const LEADERBOARD_PATH: &str = "/um.karma.v1.Query/Leaderboard";
pub const ACCOUNT_PATH: &str = "/um.karma.v1.Query/Account";

const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

pub fn route(state: &StateView, path: &str, data: &[u8]) -> Option<Result<Vec<u8>, TxError>> {
    let result = match path {
        LEADERBOARD_PATH => leaderboard(state, data),
        ACCOUNT_PATH => account(state, data),
        _ => return None,
    };
    Some(result)
}

fn leaderboard(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryLeaderboardRequest = request(data)?;
    let page = page(req.pagination.as_ref(), DEFAULT_PAGE, MAX_PAGE)?;
    let (entries, pagination) = page_of(
        state,
        state_key::RANK_PREFIX,
        false,
        &page,
        DEFAULT_SCAN_LIMIT,
        |_, value| {
            let address = String::from_utf8(value.to_vec()).map_err(|_| {
                TxError::new(Code::Internal, "a leaderboard entry is not an address")
            })?;
            let c = contributions(state, &address)?.ok_or_else(|| {
                TxError::new(Code::Internal, format!("ranked {address} has no karma"))
            })?;
            Ok(karma(&address, c))
        },
        |_| true,
    )?;
    Ok(proto::QueryLeaderboardResponse {
        entries,
        pagination: Some(pagination),
    }
    .encode_to_vec())
}

fn account(state: &StateView, data: &[u8]) -> Result<Vec<u8>, TxError> {
    let req: proto::QueryAccountRequest = request(data)?;
    if req.address.is_empty() {
        return Err(TxError::new(Code::InvalidRequest, "address is empty"));
    }
    let c = contributions(state, &req.address)?.ok_or_else(|| {
        not_found(format!(
            "karma of {:?} (it contributed nothing yet)",
            req.address
        ))
    })?;
    let rank = rank(state, &state_key::rank(score(&c), &req.address))?;
    Ok(proto::QueryAccountResponse {
        karma: Some(karma(&req.address, c)),
        rank,
    }
    .encode_to_vec())
}

/// One more than the entries ahead of `own` in the index, counted lazily
/// up to [`DEFAULT_SCAN_LIMIT`] (a free query reads no more): 0 past that.
fn rank(state: &StateView, own: &[u8]) -> Result<u64, TxError> {
    let mut cursor: Option<Vec<u8>> = None;
    for ahead in 0..DEFAULT_SCAN_LIMIT {
        let (next, _) = state.next_in_range(
            Some(state_key::RANK_PREFIX),
            Some(own),
            cursor.as_deref(),
            false,
        )?;
        match next {
            Some((key, _)) => cursor = Some(key),
            None => return Ok(ahead + 1),
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::karma::{credit, Work};
    use um_proto::um::common::v1::PageRequest;

    #[test]
    fn the_leaderboard_pages_by_score_and_an_account_knows_its_rank() {
        let store = crate::store::Store::temporary().unwrap();
        let mut state = store.view();
        for _ in 0..3 {
            credit(&mut state, "um1alice", Work::Version, 10).unwrap();
        }
        credit(&mut state, "um1bob", Work::Version, 10).unwrap();
        credit(&mut state, "um1carol", Work::Version, 10).unwrap();
        credit(&mut state, "um1mallory", Work::Slash, 10).unwrap();
        let ask = |limit: u64, key: Vec<u8>| -> proto::QueryLeaderboardResponse {
            let req = proto::QueryLeaderboardRequest {
                pagination: Some(PageRequest {
                    key,
                    limit,
                    ..Default::default()
                }),
            };
            let bytes = route(&state, LEADERBOARD_PATH, &req.encode_to_vec())
                .unwrap()
                .unwrap();
            proto::QueryLeaderboardResponse::decode(bytes.as_slice()).unwrap()
        };
        let first = ask(2, Vec::new());
        let names: Vec<&str> = first.entries.iter().map(|k| k.address.as_str()).collect();
        assert_eq!(
            names,
            ["um1alice", "um1bob"],
            "highest score, then ascending address"
        );
        assert_eq!(first.entries[0].score, 32);
        let next = first.pagination.unwrap().next_key;
        let rest = ask(10, next);
        let names: Vec<&str> = rest.entries.iter().map(|k| k.address.as_str()).collect();
        assert_eq!(names, ["um1carol", "um1mallory"]);

        let rank_of = |address: &str| {
            let req = proto::QueryAccountRequest {
                address: address.into(),
            };
            route(&state, ACCOUNT_PATH, &req.encode_to_vec())
                .unwrap()
                .map(|b| proto::QueryAccountResponse::decode(b.as_slice()).unwrap())
        };
        assert_eq!(rank_of("um1alice").unwrap().rank, 1);
        assert_eq!(rank_of("um1carol").unwrap().rank, 3);
        let mallory = rank_of("um1mallory").unwrap();
        assert_eq!((mallory.rank, mallory.karma.unwrap().score), (4, 0));
        assert_eq!(rank_of("um1nobody").unwrap_err().code, Code::NotFound);
        assert_eq!(rank_of("").unwrap_err().code, Code::InvalidRequest);
        assert_eq!(
            route(&state, ACCOUNT_PATH, b"\xff\xff")
                .unwrap()
                .unwrap_err()
                .code,
            Code::InvalidRequest
        );
    }
}
