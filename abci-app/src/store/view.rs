use std::collections::BTreeMap;
use std::ops::Bound;

use super::{StoreError, META_PREFIX};

/// Pending writes: `None` marks a deletion.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Key/value pairs in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

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
}

impl StateView {
    pub(super) fn new(committed: sled::Tree) -> Self {
        Self {
            committed: Some(committed),
            layers: vec![Changes::new()],
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(value) = layer.get(key) {
                return Ok(value.clone());
            }
        }
        if key.first() == Some(&META_PREFIX) {
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
        Ok(if descending {
            live.rev().collect()
        } else {
            live.collect()
        })
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

    #[test]
    fn prefix_end_handles_all_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }
}
