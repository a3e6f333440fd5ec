//! State sync: the four ABCI snapshot methods and the snapshots a node
//! takes every `interval` blocks.
//!
//! Taking one reads the committed state under Commit's lock (the pairs and
//! blobs of that height, see [`crate::store::snapshot`]) and writes the
//! chunks from a thread of its own, into `<home>/snapshots/<height>/`
//! through a temporary folder renamed when complete, so a listed snapshot
//! is always whole. ListSnapshots and LoadSnapshotChunk read those files
//! and never wait for consensus. A node restoring one (an empty node that
//! CometBFT's state sync offers it to) checks each chunk against the
//! offered metadata, then the rebuilt tree against the app hash the light
//! client verified, before anything is written.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::abci::response_apply_snapshot_chunk::Result as ApplyResult;
use tendermint_proto::v0_38::abci::response_offer_snapshot::Result as OfferResult;

use crate::store::snapshot::{read_chunk, snapshot_hash, Exported, FORMAT};
use crate::store::{Changes, Store};

/// When a node takes snapshots and how many it keeps (`umd start
/// --snapshot-interval`, `--snapshot-keep-recent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// A snapshot after every block whose height is a multiple of this; 0:
    /// none (the node still restores one).
    pub interval: u64,
    /// Snapshots kept on disk; older ones are deleted.
    pub keep_recent: usize,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        Self {
            interval: 0,
            keep_recent: 2,
        }
    }
}

/// Most chunks a restore accepts in one offer, and the largest chunk: a
/// restore holds the pairs in memory until the root is checked, so a peer
/// offering a forged snapshot could otherwise make it take any amount of
/// memory before being caught (4 GiB of our 4 MiB chunks; CometBFT's chunk
/// messages stop at 16 MB).
const MAX_CHUNKS: u32 = 1024;
const MAX_CHUNK_BYTES: usize = 16 << 20;

/// A snapshot's description on disk (`metadata.json`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    height: u64,
    format: u32,
    chunks: u32,
    /// hex SHA-256 of `metadata`.
    hash: String,
    /// hex of the concatenated SHA-256 of the chunks.
    metadata: String,
}

/// A restore in progress: the offered snapshot and the pairs so far.
struct Restore {
    height: u64,
    app_hash: Vec<u8>,
    chunk_hashes: Vec<Vec<u8>>,
    next: usize,
    pairs: Changes,
}

pub struct Snapshots {
    dir: Option<PathBuf>,
    config: SnapshotConfig,
    restore: Mutex<Option<Restore>>,
}

impl Snapshots {
    /// Snapshots in `dir` (`None`: a node without a home, e.g. a test's,
    /// takes none and lists none, and still restores).
    pub fn new(dir: Option<PathBuf>, config: SnapshotConfig) -> Self {
        Self {
            dir,
            config,
            restore: Mutex::new(None),
        }
    }

    fn restoring(&self) -> std::sync::MutexGuard<'_, Option<Restore>> {
        self.restore.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After the commit of `height`: takes a snapshot if one is due. The
    /// export runs here (the state must not move while it is read); writing
    /// the files does not hold up the next block.
    pub fn after_commit(&self, store: &Store, height: u64) {
        let Some(dir) = self.dir.clone() else { return };
        if self.config.interval == 0 || height == 0 || !height.is_multiple_of(self.config.interval)
        {
            return;
        }
        let exported = match store.export_snapshot() {
            Ok(exported) => exported,
            Err(err) => {
                tracing::error!("snapshot at height {height}: {err}");
                return;
            }
        };
        let keep = self.config.keep_recent.max(1);
        std::thread::spawn(move || {
            if let Err(err) = write_snapshot(&dir, &exported) {
                tracing::error!("writing the snapshot of height {}: {err}", exported.height);
                return;
            }
            tracing::info!(
                "snapshot of height {} written: {} chunks",
                exported.height,
                exported.chunks.len()
            );
            prune(&dir, keep);
        });
    }

    pub fn list(&self) -> pb::ResponseListSnapshots {
        let snapshots = self
            .dir
            .as_deref()
            .map(manifests)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|manifest| {
                Some(pb::Snapshot {
                    height: manifest.height,
                    format: manifest.format,
                    chunks: manifest.chunks,
                    hash: hex::decode(&manifest.hash).ok()?.into(),
                    metadata: hex::decode(&manifest.metadata).ok()?.into(),
                })
            })
            .collect();
        pb::ResponseListSnapshots { snapshots }
    }

    pub fn load_chunk(
        &self,
        request: pb::RequestLoadSnapshotChunk,
    ) -> pb::ResponseLoadSnapshotChunk {
        let chunk = match (&self.dir, request.format) {
            (Some(dir), FORMAT) => fs::read(chunk_path(
                &dir.join(request.height.to_string()),
                request.chunk,
            ))
            .unwrap_or_default(),
            _ => Vec::new(),
        };
        pb::ResponseLoadSnapshotChunk {
            chunk: chunk.into(),
        }
    }

    /// Accepts a snapshot for an empty node when its format is ours and its
    /// metadata holds one hash per chunk; `app_hash` is what CometBFT's
    /// light client verified for its height.
    pub fn offer(
        &self,
        store: &Store,
        request: pb::RequestOfferSnapshot,
    ) -> pb::ResponseOfferSnapshot {
        let answer = |result: OfferResult| pb::ResponseOfferSnapshot {
            result: result as i32,
        };
        let Some(snapshot) = request.snapshot else {
            return answer(OfferResult::Reject);
        };
        if snapshot.format != FORMAT {
            return answer(OfferResult::RejectFormat);
        }
        if store.last_commit().map(|c| c.height).unwrap_or(1) != 0 {
            tracing::warn!("a snapshot was offered to a node that has state; refused");
            return answer(OfferResult::Abort);
        }
        let metadata = snapshot.metadata.to_vec();
        if snapshot.chunks == 0
            || snapshot.chunks > MAX_CHUNKS
            || metadata.len() != snapshot.chunks as usize * 32
            || snapshot_hash(&metadata) != snapshot.hash.to_vec()
        {
            return answer(OfferResult::Reject);
        }
        tracing::info!(
            "restoring the snapshot of height {} ({} chunks)",
            snapshot.height,
            snapshot.chunks
        );
        *self.restoring() = Some(Restore {
            height: snapshot.height,
            app_hash: request.app_hash.to_vec(),
            chunk_hashes: metadata.chunks(32).map(<[u8]>::to_vec).collect(),
            next: 0,
            pairs: Changes::new(),
        });
        answer(OfferResult::Accept)
    }

    /// Applies the next chunk; after the last one, restores the state (the
    /// tree must have the verified app hash) and returns the height.
    pub fn apply_chunk(
        &self,
        store: &Store,
        request: pb::RequestApplySnapshotChunk,
    ) -> (pb::ResponseApplySnapshotChunk, Option<u64>) {
        let answer = |result: ApplyResult| pb::ResponseApplySnapshotChunk {
            result: result as i32,
            ..Default::default()
        };
        let mut guard = self.restoring();
        let Some(restore) = guard.as_mut() else {
            return (answer(ApplyResult::Abort), None);
        };
        let index = request.index as usize;
        if index != restore.next || index >= restore.chunk_hashes.len() {
            return (answer(ApplyResult::RejectSnapshot), None);
        }
        if request.chunk.len() > MAX_CHUNK_BYTES
            || Sha256::digest(&request.chunk).to_vec() != restore.chunk_hashes[index]
        {
            tracing::warn!(
                "snapshot chunk {index} from {} does not match its hash",
                request.sender
            );
            let mut response = answer(ApplyResult::Retry);
            response.refetch_chunks = vec![request.index];
            response.reject_senders = vec![request.sender];
            return (response, None);
        }
        if let Err(err) = read_chunk(index, &request.chunk, &mut restore.pairs) {
            tracing::warn!("snapshot of height {}: {err}", restore.height);
            *guard = None;
            return (answer(ApplyResult::RejectSnapshot), None);
        }
        restore.next += 1;
        if restore.next < restore.chunk_hashes.len() {
            return (answer(ApplyResult::Accept), None);
        }
        let Some(done) = guard.take() else {
            return (answer(ApplyResult::Abort), None);
        };
        match store.restore_snapshot(&done.pairs, done.height, &done.app_hash) {
            Ok(()) => {
                tracing::info!(
                    "restored the state of height {} from a snapshot: {} keys and blobs",
                    done.height,
                    done.pairs.len()
                );
                (answer(ApplyResult::Accept), Some(done.height))
            }
            Err(err) => {
                tracing::warn!("snapshot of height {} refused: {err}", done.height);
                (answer(ApplyResult::RejectSnapshot), None)
            }
        }
    }
}

fn chunk_path(snapshot: &Path, index: u32) -> PathBuf {
    snapshot.join(format!("chunk-{index:06}"))
}

fn write_snapshot(dir: &Path, exported: &Exported) -> std::io::Result<()> {
    let final_dir = dir.join(exported.height.to_string());
    if final_dir.exists() {
        return Ok(());
    }
    let partial = dir.join(format!(".partial-{}", exported.height));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial)?;
    for (index, chunk) in exported.chunks.iter().enumerate() {
        fs::write(chunk_path(&partial, index as u32), chunk)?;
    }
    let metadata = exported.metadata();
    let manifest = Manifest {
        height: exported.height,
        format: FORMAT,
        chunks: exported.chunks.len() as u32,
        hash: hex::encode(snapshot_hash(&metadata)),
        metadata: hex::encode(&metadata),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    fs::write(partial.join("metadata.json"), json)?;
    fs::rename(&partial, &final_dir)
}

/// The complete snapshots in `dir`, newest first.
fn manifests(dir: &Path) -> Vec<Manifest> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut all: Vec<Manifest> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok())
        .filter_map(|e| fs::read(e.path().join("metadata.json")).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect();
    all.sort_by_key(|manifest| std::cmp::Reverse(manifest.height));
    all
}

/// Deletes all but the newest `keep` snapshots.
fn prune(dir: &Path, keep: usize) {
    for old in manifests(dir).into_iter().skip(keep) {
        let _ = fs::remove_dir_all(dir.join(old.height.to_string()));
    }
}
