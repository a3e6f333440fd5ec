//! State-sync snapshots of the store, format 1: every state pair and every
//! blob after one height, in key order, cut into chunks.
//!
//! A chunk is a run of records `u32 key length ‖ key ‖ u32 value length ‖
//! value` (big-endian lengths); a record never spans two chunks. The
//! snapshot's `metadata` is the SHA-256 of each chunk in order and its
//! `hash` the SHA-256 of that metadata, so a restoring node can refuse a
//! bad chunk as it arrives and ask another peer. What makes a restored
//! state trustworthy is not the snapshot's own hashes (a peer chose them)
//! but the app hash CometBFT's light client verified: the tree rebuilt
//! from the chunks must have that root, and every blob must hash to its
//! key.

use sha2::{Digest, Sha256};

use super::{
    blob_key, is_blob_key, is_reserved, Changes, CommitInfo, Store, StoreError, BLOB_PREFIX,
    META_PREFIX,
};

pub const FORMAT: u32 = 1;

/// A chunk is closed once it holds this many bytes (a larger record gets a
/// chunk of its own); CometBFT's state-sync channel takes up to 16 MB.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Largest key and value a restore accepts.
const MAX_KEY: usize = 64 << 10;
const MAX_VALUE: usize = 15 << 20;

/// A snapshot as it is cut, before it is written anywhere.
pub struct Exported {
    pub height: u64,
    pub chunks: Vec<Vec<u8>>,
}

impl Exported {
    /// The SHA-256 of each chunk, concatenated: the snapshot's metadata.
    pub fn metadata(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|chunk| Sha256::digest(chunk).to_vec())
            .collect()
    }
}

/// The snapshot's hash: the SHA-256 of its metadata.
pub fn snapshot_hash(metadata: &[u8]) -> Vec<u8> {
    Sha256::digest(metadata).to_vec()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestoreError {
    #[error("chunk {0} is malformed: {1}")]
    Malformed(usize, &'static str),
    #[error("chunk {0} has a key out of order or repeated")]
    Order(usize),
    #[error("chunk {0} has a store metadata key")]
    Reserved(usize),
    #[error("chunk {0} has a blob whose bytes do not hash to its key")]
    Blob(usize),
    #[error("the restored state's root {found} is not the app hash {expected} of height {height}")]
    AppHash {
        height: u64,
        found: String,
        expected: String,
    },
    #[error("this node already has state (height {0}); only an empty node restores a snapshot")]
    NotEmpty(u64),
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for RestoreError {
    fn from(err: StoreError) -> Self {
        Self::Store(err.to_string())
    }
}

impl Store {
    /// The state and blobs of the last commit, cut into chunks. Call it with
    /// nothing committing meanwhile (the node's Commit does, under its lock).
    pub fn export_snapshot(&self) -> Result<Exported, StoreError> {
        let height = self.last_commit()?.height;
        let mut chunks = Vec::new();
        let mut chunk = Vec::new();
        let blobs = self.state.scan_prefix(BLOB_PREFIX);
        let state = self.state.range([META_PREFIX + 1].as_slice()..);
        for entry in blobs.chain(state) {
            let (key, value) = entry?;
            chunk.extend_from_slice(&(key.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&key);
            chunk.extend_from_slice(&(value.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&value);
            if chunk.len() >= CHUNK_BYTES {
                chunks.push(std::mem::take(&mut chunk));
            }
        }
        if !chunk.is_empty() || chunks.is_empty() {
            chunks.push(chunk);
        }
        Ok(Exported { height, chunks })
    }

    /// Makes this empty store the state after `height` from a snapshot's
    /// pairs, if their tree's root is `app_hash`: the tree is rebuilt at
    /// that version (no history before it), and written with the pairs and
    /// the height in one batch.
    pub fn restore_snapshot(
        &self,
        pairs: &Changes,
        height: u64,
        app_hash: &[u8],
    ) -> Result<(), RestoreError> {
        let last = self.last_commit()?.height;
        if last != 0 {
            return Err(RestoreError::NotEmpty(last));
        }
        let tree = self.tree_update(None, pairs, height)?;
        if tree.root.as_slice() != app_hash {
            return Err(RestoreError::AppHash {
                height,
                found: hex::encode_upper(tree.root),
                expected: hex::encode_upper(app_hash),
            });
        }
        let info = CommitInfo {
            height,
            app_hash: app_hash.to_vec(),
        };
        self.commit(pairs, &[tree], &info)?;
        Ok(())
    }
}

/// Adds chunk `index`'s records to `pairs`, checking that keys ascend
/// across the whole snapshot (blobs first, as exported) and that each blob
/// is the content its key names.
pub fn read_chunk(index: usize, chunk: &[u8], pairs: &mut Changes) -> Result<(), RestoreError> {
    let mut reader = Reader { index, rest: chunk };
    let mut last = pairs.keys().next_back().cloned();
    while !reader.rest.is_empty() {
        let key_len = reader.length()?;
        if key_len == 0 || key_len > MAX_KEY {
            return Err(RestoreError::Malformed(index, "a key is empty or too long"));
        }
        let key = reader.take(key_len)?.to_vec();
        let value_len = reader.length()?;
        if value_len > MAX_VALUE {
            return Err(RestoreError::Malformed(index, "a value is too long"));
        }
        let value = reader.take(value_len)?.to_vec();
        if is_reserved(&key) {
            return Err(RestoreError::Reserved(index));
        }
        if is_blob_key(&key) && blob_key(&Sha256::digest(&value)) != key {
            return Err(RestoreError::Blob(index));
        }
        if last.as_ref().is_some_and(|last| key <= *last) {
            return Err(RestoreError::Order(index));
        }
        last = Some(key.clone());
        pairs.insert(key, Some(value));
    }
    Ok(())
}

struct Reader<'a> {
    index: usize,
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], RestoreError> {
        if self.rest.len() < len {
            return Err(RestoreError::Malformed(
                self.index,
                "a record runs past the chunk",
            ));
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn length(&mut self) -> Result<usize, RestoreError> {
        let bytes = self.take(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    }
}
