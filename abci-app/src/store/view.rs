use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};

use super::{StoreError, META_PREFIX};

/// Pending writes: `None` marks a deletion.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Key/value pairs in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// One step of a lazy walk: the pair found (if any) and how many keys
/// deleted in a pending layer were passed over to find it.
pub type Step = (Option<(Vec<u8>, Vec<u8>)>, u64);

/// Committed state plus a stack of uncommitted layers.
///
/// The bottom layer holds the block's writes; a checkpoint pushes a layer so
/// a failing transaction or sub-message can be thrown away without touching
/// what came before it.
#[derive(Default)]
pub struct StateView {
    /// `None` only for a detached view (see `Default`), which reads as empty.
    committed: Option<sled::Tree>,
    layers: Vec<Changes>,
    /// Every key read (a point read, found or not, or a pair a range
    /// returned), when recording: the keys a proven query must prove.
    reads: Option<Arc<Mutex<BTreeSet<Vec<u8>>>>>,
}

impl StateView {
    pub(super) fn new(committed: sled::Tree) -> Self {
        Self {
            committed: Some(committed),
            layers: vec![Changes::new()],
            reads: None,
        }
    }

    /// This view, recording from now on every key it reads: what an answer
    /// depends on, so a proven query proves exactly those keys and a client
    /// can re-run the query over them alone.
    pub fn recording(mut self) -> Self {
        self.reads = Some(Arc::default());
        self
    }

    /// The keys read since [`Self::recording`], ascending (empty when not
    /// recording).
    pub fn keys_read(&self) -> Vec<Vec<u8>> {
        self.reads
            .as_ref()
            .map(|reads| {
                let reads = reads.lock().unwrap_or_else(PoisonError::into_inner);
                reads.iter().cloned().collect()
            })
            .unwrap_or_default()
    }

    fn record<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        if let Some(reads) = &self.reads {
            // Only inserts happen under the lock, so a poisoned set is whole.
            let mut reads = reads.lock().unwrap_or_else(PoisonError::into_inner);
            reads.extend(keys.into_iter().map(<[u8]>::to_vec));
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.record([key]);
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.get(key) {
                return Ok(value.clone());
            }
        }
        if super::is_reserved(key) {
            return Ok(None);
        }
        match &self.committed {
            Some(tree) => Ok(tree.get(key)?.map(|v| v.to_vec())),
            None => Ok(None),
        }
    }

    pub fn set(&mut self, key: &[u8], value: Vec<u8>) {
        self.top().insert(key.to_vec(), Some(value));
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.top().insert(key.to_vec(), None);
    }

    /// Starts a layer that [`Self::discard_checkpoint`] can drop whole.
    pub fn checkpoint(&mut self) {
        self.layers.push(Changes::new());
    }

    /// Folds the newest layer into the one below it.
    pub fn keep_checkpoint(&mut self) {
        if self.layers.len() > 1 {
            if let Some(top) = self.layers.pop() {
                self.top().extend(top);
            }
        }
    }

    pub fn discard_checkpoint(&mut self) {
        if self.layers.len() > 1 {
            self.layers.pop();
        }
    }

    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// All live pairs with `start <= key < end`, ascending or descending.
    ///
    /// The range is materialized: it merges committed and pending data, and
    /// contracts ask for bounded pages in practice.
    pub fn range(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        descending: bool,
    ) -> Result<Records, StoreError> {
        if let (Some(start), Some(end)) = (start, end) {
            if start >= end {
                return Ok(Vec::new());
            }
        }
        let lower = match start {
            Some(start) if start.first() != Some(&META_PREFIX) => Bound::Included(start.to_vec()),
            _ => Bound::Included(vec![META_PREFIX + 1]),
        };
        let upper = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        if let Bound::Excluded(end) = &upper {
            if end.as_slice() <= [META_PREFIX + 1].as_slice() {
                return Ok(Vec::new());
            }
        }
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        if let Some(tree) = &self.committed {
            for entry in tree.range((lower.clone(), upper.clone())) {
                let (key, value) = entry?;
                merged.insert(key.to_vec(), Some(value.to_vec()));
            }
        }
        for layer in &self.layers {
            for (key, value) in layer.range((lower.clone(), upper.clone())) {
                merged.insert(key.clone(), value.clone());
            }
        }
        let live = merged.into_iter().filter_map(|(k, v)| v.map(|v| (k, v)));
        let records: Records = if descending {
            live.rev().collect()
        } else {
            live.collect()
        };
        self.record(records.iter().map(|(key, _)| key.as_slice()));
        Ok(records)
    }

    /// The first live pair strictly past `after` (or from the start when
    /// `after` is `None`) in `[start, end)`, in the given direction, read
    /// lazily: one seek into sled and into each pending layer per step, so
    /// the work and memory of a step do not grow with the range.
    ///
    /// Also returns how many keys deleted in a pending layer were passed
    /// over, so that a caller charging gas per step can charge them too.
    pub fn next_in_range(
        &self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        after: Option<&[u8]>,
        descending: bool,
    ) -> Result<Step, StoreError> {
        let floor = vec![META_PREFIX + 1];
        let mut lower = match start {
            Some(start) if start > floor.as_slice() => Bound::Included(start.to_vec()),
            _ => Bound::Included(floor),
        };
        let mut upper = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        let mut skipped = 0u64;
        let mut past = after.map(<[u8]>::to_vec);
        loop {
            if let Some(key) = past.take() {
                if descending {
                    narrow_upper(&mut upper, key);
                } else {
                    narrow_lower(&mut lower, key);
                }
            }
            if is_empty_range(&lower, &upper) {
                return Ok((None, skipped));
            }
            let bounds = (
                lower.as_ref().map(Vec::as_slice),
                upper.as_ref().map(Vec::as_slice),
            );
            let mut best: Option<Vec<u8>> = None;
            let mut consider = |key: &[u8]| {
                let better = match &best {
                    None => true,
                    Some(b) if descending => key > b.as_slice(),
                    Some(b) => key < b.as_slice(),
                };
                if better {
                    best = Some(key.to_vec());
                }
            };
            if let Some(tree) = &self.committed {
                let mut range = tree.range::<&[u8], _>(bounds);
                let found = if descending {
                    range.next_back()
                } else {
                    range.next()
                };
                if let Some(entry) = found {
                    consider(&entry?.0);
                }
            }
            for layer in &self.layers {
                let mut range = layer.range::<[u8], _>(bounds);
                let found = if descending {
                    range.next_back()
                } else {
                    range.next()
                };
                if let Some((key, _)) = found {
                    consider(key);
                }
            }
            let Some(key) = best else {
                return Ok((None, skipped));
            };
            match self.get(&key)? {
                Some(value) => return Ok((Some((key, value)), skipped)),
                None => {
                    skipped += 1;
                    past = Some(key);
                }
            }
        }
    }

    /// Every pair whose key starts with `prefix`, ascending.
    pub fn prefixed(&self, prefix: &[u8]) -> Result<Records, StoreError> {
        let end = prefix_end(prefix);
        self.range(Some(prefix), end.as_deref(), false)
    }

    /// The block's writes so far, all checkpoints folded in.
    pub fn pending_changes(&self) -> Changes {
        let mut all = Changes::new();
        for layer in &self.layers {
            all.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        all
    }

    pub fn into_changes(self) -> Changes {
        let mut layers = self.layers.into_iter();
        let mut all = layers.next().unwrap_or_default();
        for layer in layers {
            all.extend(layer);
        }
        all
    }

    fn top(&mut self) -> &mut Changes {
        if self.layers.is_empty() {
            self.layers.push(Changes::new());
        }
        let last = self.layers.len() - 1;
        &mut self.layers[last]
    }
}

/// `upper` narrowed to exclude `key` and everything above it.
fn narrow_upper(upper: &mut Bound<Vec<u8>>, key: Vec<u8>) {
    let inside = match upper {
        Bound::Excluded(end) => key < *end,
        Bound::Included(end) => key <= *end,
        Bound::Unbounded => true,
    };
    if inside {
        *upper = Bound::Excluded(key);
    }
}

/// `lower` narrowed to exclude `key` and everything below it.
fn narrow_lower(lower: &mut Bound<Vec<u8>>, key: Vec<u8>) {
    let inside = match lower {
        Bound::Included(start) => key >= *start,
        Bound::Excluded(start) => key > *start,
        Bound::Unbounded => true,
    };
    if inside {
        *lower = Bound::Excluded(key);
    }
}

/// Whether no key lies between the bounds (sled and BTreeMap panic on
/// inverted ranges).
fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        (Bound::Included(l), Bound::Included(u)) => l > u,
        _ => false,
    }
}

/// The smallest key greater than every key with this prefix, or `None` when
/// no such key exists (the prefix is all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{CommitInfo, Store};
    use super::*;

    fn store_with(pairs: &[(&[u8], &[u8])]) -> Store {
        let store = Store::temporary().unwrap();
        let mut view = store.view();
        for (k, v) in pairs {
            view.set(k, v.to_vec());
        }
        store
            .commit(
                &view.into_changes(),
                &[],
                &CommitInfo {
                    height: 1,
                    app_hash: vec![],
                },
            )
            .unwrap();
        store
    }

    #[test]
    fn discarded_checkpoint_leaves_earlier_writes() {
        let store = store_with(&[(b"k", b"committed")]);
        let mut view = store.view();
        view.set(b"a", b"kept".to_vec());
        view.checkpoint();
        view.set(b"a", b"dropped".to_vec());
        view.remove(b"k");
        assert_eq!(view.get(b"k").unwrap(), None);
        view.discard_checkpoint();
        assert_eq!(view.get(b"a").unwrap(), Some(b"kept".to_vec()));
        assert_eq!(view.get(b"k").unwrap(), Some(b"committed".to_vec()));
        view.checkpoint();
        view.set(b"b", b"new".to_vec());
        view.keep_checkpoint();
        assert_eq!(view.depth(), 1);
        assert_eq!(view.get(b"b").unwrap(), Some(b"new".to_vec()));
    }

    #[test]
    fn range_merges_pending_over_committed_in_order() {
        let store = store_with(&[
            (b"p/1", b"a"),
            (b"p/2", b"b"),
            (b"p/3", b"c"),
            (b"q/1", b"x"),
        ]);
        let mut view = store.view();
        view.remove(b"p/2");
        view.set(b"p/25", b"new".to_vec());
        view.checkpoint();
        view.set(b"p/0", b"top".to_vec());
        let keys = |records: Records| records.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(view.prefixed(b"p/").unwrap()),
            vec![
                b"p/0".to_vec(),
                b"p/1".to_vec(),
                b"p/25".to_vec(),
                b"p/3".to_vec()
            ]
        );
        assert_eq!(
            keys(view.range(Some(b"p/1"), Some(b"p/3"), true).unwrap()),
            vec![b"p/25".to_vec(), b"p/1".to_vec()]
        );
        assert!(view
            .range(Some(b"p/3"), Some(b"p/1"), false)
            .unwrap()
            .is_empty());
        // Metadata never shows up in a range over the whole state.
        assert!(view
            .range(None, None, false)
            .unwrap()
            .iter()
            .all(|(k, _)| k[0] != META_PREFIX));
    }

    /// Stepping lazily gives exactly what the materialized range gives,
    /// both ways, with pending writes and deletions over committed data.
    #[test]
    fn lazy_steps_match_the_range_and_count_skipped_deletions() {
        let store = store_with(&[
            (b"p/1", b"a"),
            (b"p/2", b"b"),
            (b"p/3", b"c"),
            (b"p/4", b"d"),
            (b"q/1", b"x"),
        ]);
        let mut view = store.view();
        view.remove(b"p/2");
        view.remove(b"p/3");
        view.set(b"p/25", b"new".to_vec());
        view.checkpoint();
        view.set(b"p/0", b"top".to_vec());
        view.remove(b"p/25");
        view.set(b"p/3", b"back".to_vec());
        for descending in [false, true] {
            for (start, end) in [
                (Some(&b"p/"[..]), Some(&b"p0"[..])),
                (Some(&b"p/1"[..]), Some(&b"p/4"[..])),
                (None, None),
                (Some(&b"p/4"[..]), Some(&b"p/1"[..])),
            ] {
                let mut stepped = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let (next, _) = view
                        .next_in_range(start, end, after.as_deref(), descending)
                        .unwrap();
                    let Some((key, value)) = next else { break };
                    after = Some(key.clone());
                    stepped.push((key, value));
                }
                assert_eq!(
                    stepped,
                    view.range(start, end, descending).unwrap(),
                    "{start:?}..{end:?} descending {descending}"
                );
            }
        }
        // p/2 (deleted) and p/25 (written, then deleted) lie between p/1 and p/3.
        let (next, skipped) = view
            .next_in_range(Some(b"p/"), Some(b"p0"), Some(b"p/1"), false)
            .unwrap();
        assert_eq!(next.unwrap().0, b"p/3".to_vec());
        assert_eq!(skipped, 2);
    }

    #[test]
    fn prefix_end_handles_all_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
