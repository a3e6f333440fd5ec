//! Committed state on sled, with the block's pending changes kept in memory.
//!
//! Every key of the consensus state lives in one sled tree, twice: flat, for
//! reads and lazy range iteration, and as a leaf of a Jellyfish Merkle Tree
//! ([`merkle`]) whose root is the app hash and which proves any key's value,
//! or its absence, at any kept height. A block's writes are buffered in a
//! [`StateView`] and reach disk in one atomic batch at `Commit`, together
//! with the block's tree nodes, the height and the app hash, so a crash
//! either keeps the whole block or none of it and `Info` can tell CometBFT
//! exactly which height to replay from.

mod merkle;
pub mod snapshot;
mod view;

pub use merkle::{proof_spec, TreeUpdate};
pub use view::{prefix_end, Changes, StateView};

use thiserror::Error;

/// Keys under this prefix are bookkeeping of the store itself and are not
/// part of the application state that the app hash commits to.
const META_PREFIX: u8 = 0x00;

/// Content-addressed blobs (model weights, checkpoints): beside the tree,
/// not in it. A blob's key is the SHA-256 of its bytes, and the records that
/// name a blob (versions, updates) are in the tree, so the app hash commits
/// to every blob through its hash while proofs stay small: a proof carries
/// its neighbours' values, which would otherwise be megabytes of weights.
/// Blobs are written and deleted with the block's other changes, in the same
/// atomic batch, and read like any state key; range scans never see them.
const BLOB_PREFIX: &[u8] = b"\x00blob/";

/// The state key of the blob whose SHA-256 is `sha256`.
pub fn blob_key(sha256: &[u8]) -> Vec<u8> {
    [BLOB_PREFIX, sha256].concat()
}

fn is_blob_key(key: &[u8]) -> bool {
    key.starts_with(BLOB_PREFIX)
}

/// Whether `key` is the store's own bookkeeping (under the metadata prefix
/// and not a blob): no state write or snapshot may carry one.
fn is_reserved(key: &[u8]) -> bool {
    key.first() == Some(&META_PREFIX) && !is_blob_key(key)
}
const META_HEIGHT: &[u8] = b"\x00meta/height";
const META_APP_HASH: &[u8] = b"\x00meta/app_hash";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("storage backend: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupted store metadata: {0}")]
    Corrupted(&'static str),
    #[error("state key {0:?} uses the reserved metadata prefix")]
    ReservedKey(Vec<u8>),
    #[error("merkle tree: {0}")]
    Tree(String),
    #[error("height {0} is not kept in the merkle tree")]
    VersionNotKept(u64),
}

/// How long [`Store::open`] waits for another holder of the lock to go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// sled 0.34 reports a held lock only as an `Other` I/O error with this text.
fn is_lock_contention(err: &std::io::Error) -> bool {
    err.to_string().contains("could not acquire lock")
}

/// The last state written by `Commit`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitInfo {
    pub height: u64,
    pub app_hash: Vec<u8>,
}

/// Handle on the node's sled database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    state: sled::Tree,
}

impl Store {
    /// Opens the store, waiting up to [`LOCK_WAIT`] for its file lock. A
    /// process forked while the lock was held keeps it until it execs, and
    /// a umd restarted at once may find its predecessor still exiting; a
    /// second live umd on the same home still gets the lock error.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let waited_since = std::time::Instant::now();
        let db = loop {
            match sled::open(path) {
                Err(sled::Error::Io(e))
                    if is_lock_contention(&e) && waited_since.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other?,
            }
        };
        let state = db.open_tree("state")?;
        Ok(Self { db, state })
    }

    /// A throwaway store for tests; removed when dropped.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        let state = db.open_tree("state")?;
        Ok(Self { db, state })
    }

    pub fn last_commit(&self) -> Result<CommitInfo, StoreError> {
        let height = match self.state.get(META_HEIGHT)? {
            None => 0,
            Some(bytes) => {
                let array: [u8; 8] = bytes
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupted("height is not 8 bytes"))?;
                u64::from_be_bytes(array)
            }
        };
        let app_hash = self
            .state
            .get(META_APP_HASH)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        Ok(CommitInfo { height, app_hash })
    }

    /// A view of the committed state that buffers writes in memory.
    pub fn view(&self) -> StateView {
        StateView::new(self.state.clone())
    }

    /// A view of the committed state with `changes` already applied.
    pub fn view_with(&self, changes: &Changes) -> StateView {
        let mut view = self.view();
        for (key, value) in changes {
            match value {
                Some(value) => view.set(key, value.clone()),
                None => view.remove(key),
            }
        }
        view
    }

    /// The tree at height `version`: the committed tree, then `base` (an
    /// update computed but not written yet: the genesis state, which the
    /// first block commits), then `changes`. Writes nothing.
    pub fn tree_update(
        &self,
        base: Option<&TreeUpdate>,
        changes: &Changes,
        version: u64,
    ) -> Result<TreeUpdate, StoreError> {
        merkle::compute(&self.state, base, changes, version)
    }

    /// The value of `key` after block `height` and an ICS23 proof of it, or
    /// of its absence, against that height's app hash.
    pub fn prove(
        &self,
        key: &[u8],
        height: u64,
    ) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), StoreError> {
        if key.first() == Some(&META_PREFIX) {
            return Err(StoreError::ReservedKey(key.to_vec()));
        }
        merkle::prove(&self.state, key, height)
    }

    /// Forgets the tree versions before `keep_from` (what only they read);
    /// the state itself, and every version from `keep_from` on, stay whole.
    pub fn prune_versions_before(&self, keep_from: u64) -> Result<usize, StoreError> {
        merkle::prune(&self.state, keep_from)
    }

    /// The app hash after block `height`, if the tree still holds it.
    pub fn tree_root(&self, height: u64) -> Result<Option<[u8; 32]>, StoreError> {
        merkle::root(&self.state, height)
    }

    /// Writes a block's changes, its tree nodes (`trees`, in height order),
    /// its height and its app hash in one atomic batch and waits until they
    /// are durable.
    pub fn commit(
        &self,
        changes: &Changes,
        trees: &[TreeUpdate],
        info: &CommitInfo,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for tree in trees {
            tree.write_to(&mut batch)?;
        }
        for (key, value) in changes {
            if is_reserved(key) {
                return Err(StoreError::ReservedKey(key.clone()));
            }
            match value {
                Some(value) => batch.insert(key.as_slice(), value.as_slice()),
                None => batch.remove(key.as_slice()),
            }
        }
        batch.insert(META_HEIGHT, &info.height.to_be_bytes());
        batch.insert(META_APP_HASH, info.app_hash.as_slice());
        self.state.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// Size of the database on disk, for operators and benchmarks.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_persists_changes_and_metadata_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let info = CommitInfo {
            height: 7,
            app_hash: vec![1, 2, 3],
        };
        {
            let store = Store::open(dir.path()).unwrap();
            let mut view = store.view();
            view.set(b"a/1", b"one".to_vec());
            view.set(b"a/2", b"two".to_vec());
            view.remove(b"a/2");
            store.commit(&view.into_changes(), &[], &info).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.last_commit().unwrap(), info);
        let view = store.view();
        assert_eq!(view.get(b"a/1").unwrap(), Some(b"one".to_vec()));
        assert_eq!(view.get(b"a/2").unwrap(), None);
    }

    #[test]
    fn open_waits_for_a_lock_that_is_let_go_but_not_for_one_that_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let held = Store::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let err = Store::open(dir.path()).err().expect("the lock is held");
        assert!(is_lock_contention_error(&err), "{err}");
        assert!(started.elapsed() >= LOCK_WAIT);

        let releaser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        Store::open(dir.path()).expect("the lock was let go within the wait");
        releaser.join().unwrap();
    }

    fn is_lock_contention_error(err: &StoreError) -> bool {
        matches!(err, StoreError::Sled(sled::Error::Io(e)) if is_lock_contention(e))
    }

    /// Issue 18: weights live beside the tree. A blob is committed and read
    /// back like state, but the app hash does not change with it, no range
    /// scan returns it and it has no proof (its hash is what is proven).
    #[test]
    fn blobs_are_committed_beside_the_tree_not_in_it() {
        let store = Store::temporary().unwrap();
        let mut view = store.view();
        view.set(b"a/1", b"one".to_vec());
        let without = store.tree_update(None, &view.pending_changes(), 1).unwrap();
        let key = blob_key(&[7; 32]);
        view.set(&key, vec![9; 1000]);
        let changes = view.into_changes();
        let with = store.tree_update(None, &changes, 1).unwrap();
        assert_eq!(with.root, without.root, "blobs are not in the app hash");
        let info = CommitInfo {
            height: 1,
            app_hash: with.root.to_vec(),
        };
        store.commit(&changes, &[with], &info).unwrap();
        let view = store.view();
        assert_eq!(view.get(&key).unwrap(), Some(vec![9; 1000]));
        assert_eq!(view.range(None, None, false).unwrap().len(), 1);
        assert!(matches!(
            store.prove(&key, 1),
            Err(StoreError::ReservedKey(_))
        ));
        let mut view = store.view();
        view.remove(&key);
        let tree = store.tree_update(None, &view.pending_changes(), 2).unwrap();
        let info = CommitInfo {
            height: 2,
            app_hash: tree.root.to_vec(),
        };
        store.commit(&view.into_changes(), &[tree], &info).unwrap();
        assert_eq!(store.view().get(&key).unwrap(), None, "deleted");
    }

    #[test]
    fn state_keys_cannot_overwrite_metadata() {
        let store = Store::temporary().unwrap();
        let mut view = store.view();
        view.set(META_HEIGHT, vec![0; 8]);
        let err = store
            .commit(&view.into_changes(), &[], &CommitInfo::default())
            .unwrap_err();
        assert!(matches!(err, StoreError::ReservedKey(_)));
        assert_eq!(store.last_commit().unwrap().height, 0);
    }
}
