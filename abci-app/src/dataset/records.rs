//! The module's records in the state: content-addressed records, the
//! membership of each record in the versions of a lineage, versions and
//! deltas.

use prost::Message;
use sha2::{Digest, Sha256};
use um_proto::um::dataset::v1::{Dataset, DatasetDelta, Record, Split};

use super::state_key;
use crate::codes::{Code, TxError};
use crate::store::StateView;

/// `until` of a span whose record is still in the newest version.
const OPEN: u64 = u64::MAX;

pub type Hash = [u8; 32];

/// `sha256(label ‖ pixels)`: for 28×28 digits exactly
/// `um_formats::Record::hash`, which the trainer recomputes.
pub fn record_hash(label: u8, pixels: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([label]);
    hasher.update(pixels);
    hasher.finalize().into()
}

/// The split a member's flag names.
fn split_of(validation: bool) -> Split {
    if validation {
        Split::Validation
    } else {
        Split::Train
    }
}

pub fn as_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

fn corrupt(what: impl std::fmt::Display) -> TxError {
    TxError::new(Code::Internal, format!("stored {what} is corrupt"))
}

// --- records ---

/// Stores a record under its hash (a no-op if it is already stored).
pub fn put_record(state: &mut StateView, label: u8, pixels: &[u8]) -> Hash {
    let hash = record_hash(label, pixels);
    let mut value = Vec::with_capacity(1 + pixels.len());
    value.push(label);
    value.extend_from_slice(pixels);
    state.set(&state_key::record(&hash), value);
    hash
}

pub fn record(state: &StateView, hash: &Hash) -> Result<Option<Record>, TxError> {
    let Some(value) = state.get(&state_key::record(hash))? else {
        return Ok(None);
    };
    let (label, pixels) = value
        .split_first()
        .ok_or_else(|| corrupt(format_args!("record {}", hex::encode(hash))))?;
    Ok(Some(Record {
        hash: hash.to_vec(),
        label: u32::from(*label),
        pixels: pixels.to_vec(),
        split: Split::Unspecified as i32,
    }))
}

// --- membership ---

/// A span of versions `[from, until)` that hold a record, and the split the
/// record has in them (decided when it joined).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    from: u64,
    until: u64,
    validation: bool,
}

const SPAN_BYTES: usize = 17;

fn decode_spans(bytes: &[u8]) -> Result<Vec<Span>, TxError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(SPAN_BYTES) {
        return Err(corrupt("membership"));
    }
    bytes
        .chunks_exact(SPAN_BYTES)
        .map(|span| {
            let from = span.get(..8).and_then(as_u64);
            let until = span.get(8..16).and_then(as_u64);
            let validation = match span.get(16) {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            };
            match (from, until, validation) {
                (Some(from), Some(until), Some(validation)) => Ok(Span {
                    from,
                    until,
                    validation,
                }),
                _ => Err(corrupt("membership")),
            }
        })
        .collect()
}

fn encode_spans(spans: &[Span]) -> Vec<u8> {
    spans
        .iter()
        .flat_map(|span| {
            let mut bytes = Vec::with_capacity(SPAN_BYTES);
            bytes.extend_from_slice(&span.from.to_be_bytes());
            bytes.extend_from_slice(&span.until.to_be_bytes());
            bytes.push(u8::from(span.validation));
            bytes
        })
        .collect()
}

/// Whether `version` holds the record, and if so in which split (`true`:
/// validation).
fn split_in(spans: &[Span], version: u64) -> Option<bool> {
    spans
        .iter()
        .find(|span| span.from <= version && version < span.until)
        .map(|span| span.validation)
}

fn spans(state: &StateView, dataset_id: &str, hash: &Hash) -> Result<Vec<Span>, TxError> {
    match state.get(&state_key::member(dataset_id, hash))? {
        None => Ok(Vec::new()),
        Some(bytes) => decode_spans(&bytes),
    }
}

pub fn is_member(
    state: &StateView,
    dataset_id: &str,
    version: u64,
    hash: &Hash,
) -> Result<bool, TxError> {
    Ok(split_in(&spans(state, dataset_id, hash)?, version).is_some())
}

/// Makes the record a member from `version` on, in the validation split
/// if `validation`. The caller makes sure it is not a member of the newest
/// version (which is `version - 1`).
pub fn join(
    state: &mut StateView,
    dataset_id: &str,
    version: u64,
    hash: &Hash,
    validation: bool,
) -> Result<(), TxError> {
    let mut spans = spans(state, dataset_id, hash)?;
    spans.push(Span {
        from: version,
        until: OPEN,
        validation,
    });
    state.set(&state_key::member(dataset_id, hash), encode_spans(&spans));
    Ok(())
}

/// Ends the record's membership before `version`; a no-op for a record that
/// is not in the newest version.
pub fn leave(
    state: &mut StateView,
    dataset_id: &str,
    version: u64,
    hash: &Hash,
) -> Result<(), TxError> {
    let mut spans = spans(state, dataset_id, hash)?;
    let mut changed = false;
    for span in spans.iter_mut().filter(|span| span.until == OPEN) {
        span.until = version;
        changed = true;
    }
    if changed {
        state.set(&state_key::member(dataset_id, hash), encode_spans(&spans));
    }
    Ok(())
}

/// A record of a version and its split there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub hash: Hash,
    pub validation: bool,
}

impl Member {
    pub fn split(&self) -> Split {
        split_of(self.validation)
    }
}

/// Which members of a version a page holds.
#[derive(Clone, Debug, Default)]
pub struct MemberPage {
    /// Only hashes strictly after this one (strictly before when
    /// `descending`): a cursor.
    pub after: Option<Hash>,
    /// Matching members to skip first.
    pub skip: u64,
    /// At most this many; `None` for all.
    pub limit: Option<u64>,
    pub descending: bool,
    /// `Split::Unspecified` for both splits.
    pub split: Split,
}

/// The members of `version` that `page` asks for, in hash order, and
/// whether more follow.
pub fn members(
    state: &StateView,
    dataset_id: &str,
    version: u64,
    page: &MemberPage,
) -> Result<(Vec<Member>, bool), TxError> {
    members_counted(state, dataset_id, version, page).map(|(hashes, more, _)| (hashes, more))
}

/// [`members`], and how many membership keys were read to find them
/// (removed records keep their keys, so this can exceed the result).
///
/// The keys are read one at a time and reading stops at the page's end, so
/// a page costs what it returns plus the keys it passes over, never the
/// whole history.
pub fn members_counted(
    state: &StateView,
    dataset_id: &str,
    version: u64,
    page: &MemberPage,
) -> Result<(Vec<Member>, bool, u64), TxError> {
    let prefix = state_key::members_of(dataset_id);
    // The prefix ends in '/', so bumping that byte bounds every key under it.
    let mut prefix_end = prefix.clone();
    if let Some(last) = prefix_end.last_mut() {
        *last += 1;
    }
    let after = page
        .after
        .as_ref()
        .map(|hash| state_key::member(dataset_id, hash));
    let mut cursor = after;
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut read = 0u64;
    loop {
        let (next, passed) = state.next_in_range(
            Some(&prefix),
            Some(&prefix_end),
            cursor.as_deref(),
            page.descending,
        )?;
        read = read.saturating_add(passed);
        let Some((key, value)) = next else {
            return Ok((out, false, read));
        };
        read = read.saturating_add(1);
        let hash = key
            .get(prefix.len()..)
            .and_then(as_hash)
            .ok_or_else(|| corrupt("membership key"))?;
        cursor = Some(key);
        let Some(validation) = split_in(&decode_spans(&value)?, version) else {
            continue;
        };
        let member = Member { hash, validation };
        if page.split != Split::Unspecified && member.split() != page.split {
            continue;
        }
        if skipped < page.skip {
            skipped += 1;
            continue;
        }
        if page.limit.is_some_and(|limit| out.len() as u64 >= limit) {
            return Ok((out, true, read));
        }
        out.push(member);
    }
}

/// Every member of `version`, ascending: what its root commits to.
pub fn all_members(
    state: &StateView,
    dataset_id: &str,
    version: u64,
) -> Result<Vec<Member>, TxError> {
    all_members_counted(state, dataset_id, version).map(|(hashes, _)| hashes)
}

/// [`all_members`], and the number of membership keys read to find them.
pub fn all_members_counted(
    state: &StateView,
    dataset_id: &str,
    version: u64,
) -> Result<(Vec<Member>, u64), TxError> {
    members_counted(state, dataset_id, version, &MemberPage::default())
        .map(|(hashes, _, read)| (hashes, read))
}

/// Fills in a version's counts and root from its members (ascending).
pub fn summarize(dataset: &mut Dataset, members: &[Member]) {
    let validation = members.iter().filter(|m| m.validation).count() as u64;
    dataset.record_count = members.len() as u64;
    dataset.validation_count = validation;
    dataset.train_count = dataset.record_count - validation;
    dataset.root =
        um_formats::dataset_root(members.iter().map(|m| (&m.hash, m.validation))).to_vec();
}

// --- versions ---

pub fn head(state: &StateView, dataset_id: &str) -> Result<Option<u64>, TxError> {
    match state.get(&state_key::head(dataset_id))? {
        None => Ok(None),
        Some(bytes) => as_u64(&bytes)
            .map(Some)
            .ok_or_else(|| corrupt(format_args!("head of dataset {dataset_id}"))),
    }
}

/// Every lineage's id, ascending.
pub fn dataset_ids(state: &StateView) -> Result<Vec<String>, TxError> {
    state
        .prefixed(state_key::HEAD_PREFIX)?
        .into_iter()
        .map(|(key, _)| {
            key.get(state_key::HEAD_PREFIX.len()..)
                .and_then(|id| String::from_utf8(id.to_vec()).ok())
                .ok_or_else(|| corrupt("dataset head key"))
        })
        .collect()
}

pub fn version(
    state: &StateView,
    dataset_id: &str,
    version: u64,
) -> Result<Option<Dataset>, TxError> {
    match state.get(&state_key::version(dataset_id, version))? {
        None => Ok(None),
        Some(bytes) => Dataset::decode(bytes.as_slice())
            .map(Some)
            .map_err(|_| corrupt(format_args!("version {version} of dataset {dataset_id}"))),
    }
}

/// Stores a version and makes it the lineage's newest.
pub fn save_version(state: &mut StateView, dataset: &Dataset) {
    state.set(
        &state_key::version(&dataset.dataset_id, dataset.version),
        dataset.encode_to_vec(),
    );
    state.set(
        &state_key::head(&dataset.dataset_id),
        dataset.version.to_be_bytes().to_vec(),
    );
}

/// All versions of a lineage, oldest first.
pub fn versions(state: &StateView, dataset_id: &str) -> Result<Vec<Dataset>, TxError> {
    state
        .prefixed(&state_key::versions_of(dataset_id))?
        .into_iter()
        .map(|(_, bytes)| {
            Dataset::decode(bytes.as_slice())
                .map_err(|_| corrupt(format_args!("version of dataset {dataset_id}")))
        })
        .collect()
}

// --- deltas ---

pub fn next_delta_id(state: &mut StateView) -> Result<u64, TxError> {
    let id = match state.get(state_key::NEXT_DELTA_ID)? {
        None => 1,
        Some(bytes) => as_u64(&bytes).ok_or_else(|| corrupt("next delta id"))?,
    };
    state.set(
        state_key::NEXT_DELTA_ID,
        id.saturating_add(1).to_be_bytes().to_vec(),
    );
    Ok(id)
}

pub fn delta(state: &StateView, id: u64) -> Result<Option<DatasetDelta>, TxError> {
    match state.get(&state_key::delta(id))? {
        None => Ok(None),
        Some(bytes) => DatasetDelta::decode(bytes.as_slice())
            .map(Some)
            .map_err(|_| corrupt(format_args!("delta {id}"))),
    }
}

/// Saves a delta and its entry in the index of its lineage's deltas.
pub fn save_delta(state: &mut StateView, delta: &DatasetDelta) {
    state.set(&state_key::delta(delta.id), delta.encode_to_vec());
    state.set(
        &state_key::delta_of_dataset(&delta.dataset_id, delta.id),
        Vec::new(),
    );
}

pub fn escrow_token(state: &StateView, delta_id: u64) -> Result<Option<String>, TxError> {
    match state.get(&state_key::escrow(delta_id))? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| corrupt(format_args!("escrow of delta {delta_id}"))),
    }
}

pub fn set_escrow_token(state: &mut StateView, delta_id: u64, token: &str) {
    state.set(&state_key::escrow(delta_id), token.as_bytes().to_vec());
}

pub fn clear_escrow(state: &mut StateView, delta_id: u64) {
    state.remove(&state_key::escrow(delta_id));
}

fn as_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn hash(first: u8, n: u8) -> Hash {
        let mut h = [n; 32];
        h[0] = first;
        h
    }

    #[test]
    fn membership_follows_versions_and_rejoins() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let h = hash(100, 1);
        join(&mut state, "d", 0, &h, false).unwrap();
        leave(&mut state, "d", 2, &h).unwrap();
        // Rejoining under another delta's salt may change its split.
        join(&mut state, "d", 5, &h, true).unwrap();
        let member = |v| is_member(&state, "d", v, &h).unwrap();
        assert_eq!(
            (0..7).map(member).collect::<Vec<_>>(),
            [true, true, false, false, false, true, true]
        );
        let split = |v| {
            let (members, _) = members(&state, "d", v, &MemberPage::default()).unwrap();
            members.first().map(Member::split)
        };
        assert_eq!(split(1), Some(Split::Train));
        assert_eq!(split(3), None);
        assert_eq!(split(6), Some(Split::Validation));
        assert!(!is_member(&state, "other", 0, &h).unwrap());
        // Leaving when not a member changes nothing.
        let before = state.get(&state_key::member("d", &h)).unwrap();
        leave(&mut state, "e", 3, &h).unwrap();
        assert_eq!(state.get(&state_key::member("d", &h)).unwrap(), before);
        assert_eq!(state.get(&state_key::member("e", &h)).unwrap(), None);
    }

    #[test]
    fn member_pages_filter_by_version_split_and_cursor() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        // Here, as at genesis, validation records have hash[0] < 26.
        let all: Vec<Hash> = (0..10u8).map(|i| hash(i * 20, i)).collect();
        for h in &all {
            join(&mut state, "d", 0, h, h[0] < 26).unwrap();
        }
        leave(&mut state, "d", 1, &all[3]).unwrap();
        let page = |p: MemberPage, v| {
            let (members, more) = members(&state, "d", v, &p).unwrap();
            (members.iter().map(|m| m.hash).collect::<Vec<_>>(), more)
        };

        let (v0, more) = page(MemberPage::default(), 0);
        assert_eq!((v0, more), (all.clone(), false));
        let mut v1 = all.clone();
        v1.remove(3);
        assert_eq!(
            all_members(&state, "d", 1)
                .unwrap()
                .iter()
                .map(|m| m.hash)
                .collect::<Vec<_>>(),
            v1
        );

        let first = page(
            MemberPage {
                limit: Some(4),
                ..Default::default()
            },
            1,
        );
        assert_eq!(first, (v1[..4].to_vec(), true));
        let rest = page(
            MemberPage {
                after: Some(v1[3]),
                limit: Some(100),
                ..Default::default()
            },
            1,
        );
        assert_eq!(rest, (v1[4..].to_vec(), false));
        let skipped = page(
            MemberPage {
                skip: 7,
                ..Default::default()
            },
            1,
        );
        assert_eq!(skipped.0, v1[7..].to_vec());
        let down = page(
            MemberPage {
                after: Some(v1[4]),
                descending: true,
                ..Default::default()
            },
            1,
        );
        assert_eq!(down.0, vec![v1[3], v1[2], v1[1], v1[0]]);
        let validation = page(
            MemberPage {
                split: Split::Validation,
                ..Default::default()
            },
            0,
        );
        assert_eq!(validation.0, vec![all[0], all[1]]);
        let train = page(
            MemberPage {
                split: Split::Train,
                ..Default::default()
            },
            1,
        );
        assert_eq!(train.0.len(), 7);
        assert!(train.0.iter().all(|h| h[0] >= 26));
    }

    #[test]
    fn records_are_content_addressed_like_um_formats() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        let digit = um_formats::Record {
            label: 7,
            pixels: [3; um_formats::dataset::PIXELS],
        };
        let hash = put_record(&mut state, digit.label, &digit.pixels);
        assert_eq!(hash, digit.hash());
        let stored = record(&state, &hash).unwrap().unwrap();
        assert_eq!(stored.label, 7);
        assert_eq!(stored.pixels, digit.pixels.to_vec());
        assert_eq!(stored.hash, hash.to_vec());
        assert!(record(&state, &[0; 32]).unwrap().is_none());
    }

    #[test]
    fn delta_ids_start_at_one() {
        let store = Store::temporary().unwrap();
        let mut state = store.view();
        assert_eq!(next_delta_id(&mut state).unwrap(), 1);
        assert_eq!(next_delta_id(&mut state).unwrap(), 2);
    }
}
