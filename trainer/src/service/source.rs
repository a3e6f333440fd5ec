//! Where the Trainer service gets datasets (and weights that a request left
//! out): the chain ([`ChainSource`]) or memory ([`MemorySource`], for tests
//! and offline use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use thiserror::Error;
use um_proto::tonic::Status;

use crate::chain::{ChainClient, ChainError};
use crate::dataset::Dataset;

/// One dataset version with its root.
#[derive(Debug)]
pub struct SourcedDataset {
    /// Dataset lineage.
    pub dataset_id: String,
    /// Version within the lineage.
    pub version: u64,
    /// `Dataset::root()` of the records.
    pub root: [u8; 32],
    /// The records, split and sorted.
    pub dataset: Dataset,
}

impl SourcedDataset {
    /// Wraps a dataset, computing its root.
    pub fn new(dataset_id: &str, version: u64, dataset: Dataset) -> Self {
        Self {
            dataset_id: dataset_id.to_string(),
            version,
            root: dataset.root(),
            dataset,
        }
    }
}

/// The data a request needs could not be had. Never the claimant's fault:
/// the service answers a gRPC error and a validator abstains.
#[derive(Debug, Error)]
pub enum SourceError {
    /// The source cannot be reached now (e.g. the chain's RPC is down).
    #[error("data source unavailable: {0}")]
    Unavailable(String),
    /// The source has no such dataset version or weights.
    #[error("{0}")]
    NotFound(String),
    /// The data exists but is not what the request expects.
    #[error("dataset {dataset_id} v{version} has root {actual}, the request expects {expected}")]
    RootMismatch {
        dataset_id: String,
        version: u64,
        expected: String,
        actual: String,
    },
    /// The source answered something unusable (bad records, bad hashes).
    #[error("data source: {0}")]
    Invalid(String),
}

impl From<SourceError> for Status {
    fn from(e: SourceError) -> Status {
        match e {
            SourceError::Unavailable(_) => Status::unavailable(e.to_string()),
            SourceError::NotFound(_)
            | SourceError::RootMismatch { .. }
            | SourceError::Invalid(_) => Status::failed_precondition(e.to_string()),
        }
    }
}

impl From<ChainError> for SourceError {
    fn from(e: ChainError) -> SourceError {
        if e.is_unreachable() {
            SourceError::Unavailable(e.to_string())
        } else if e.is_not_found() {
            SourceError::NotFound(e.to_string())
        } else if let ChainError::RootMismatch {
            dataset_id,
            version,
            expected,
            got,
        } = e
        {
            SourceError::RootMismatch {
                dataset_id,
                version,
                expected,
                actual: got,
            }
        } else {
            SourceError::Invalid(e.to_string())
        }
    }
}

/// Datasets (and weights by hash) for the Trainer service. Implementations
/// block; the service calls them on its worker thread.
pub trait DatasetSource: Send + Sync + 'static {
    /// Version `version` of dataset `dataset_id`. With `expected_root`, a
    /// dataset with another root is a [`SourceError::RootMismatch`].
    fn dataset(
        &self,
        dataset_id: &str,
        version: u64,
        expected_root: Option<&[u8; 32]>,
    ) -> Result<Arc<SourcedDataset>, SourceError>;

    /// Safetensors bytes whose SHA-256 is `sha256` (for requests that leave
    /// weights out).
    fn weights(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, SourceError>;
}

fn check_root(
    found: &Arc<SourcedDataset>,
    expected_root: Option<&[u8; 32]>,
) -> Result<(), SourceError> {
    match expected_root {
        Some(expected) if *expected != found.root => Err(SourceError::RootMismatch {
            dataset_id: found.dataset_id.clone(),
            version: found.version,
            expected: hex::encode(expected),
            actual: hex::encode(found.root),
        }),
        _ => Ok(()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent even if a holder panicked.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Datasets and weights held in memory.
#[derive(Default)]
pub struct MemorySource {
    datasets: Mutex<HashMap<(String, u64), Arc<SourcedDataset>>>,
    weights: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a dataset version; returns its root.
    pub fn add_dataset(&self, dataset_id: &str, version: u64, dataset: Dataset) -> [u8; 32] {
        let sourced = Arc::new(SourcedDataset::new(dataset_id, version, dataset));
        let root = sourced.root;
        lock(&self.datasets).insert((dataset_id.to_string(), version), sourced);
        root
    }

    /// Adds weights under their SHA-256; returns it.
    pub fn add_weights(&self, bytes: Vec<u8>) -> [u8; 32] {
        let sha = crate::sha256(&bytes);
        lock(&self.weights).insert(sha, bytes);
        sha
    }
}

impl DatasetSource for MemorySource {
    fn dataset(
        &self,
        dataset_id: &str,
        version: u64,
        expected_root: Option<&[u8; 32]>,
    ) -> Result<Arc<SourcedDataset>, SourceError> {
        let found = lock(&self.datasets)
            .get(&(dataset_id.to_string(), version))
            .cloned()
            .ok_or_else(|| {
                SourceError::NotFound(format!(
                    "dataset {dataset_id:?} version {version} not found"
                ))
            })?;
        check_root(&found, expected_root)?;
        Ok(found)
    }

    fn weights(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, SourceError> {
        lock(&self.weights)
            .get(sha256)
            .cloned()
            .ok_or_else(|| SourceError::NotFound(format!("weights {}", hex::encode(sha256))))
    }
}

/// Datasets kept by [`ChainSource`]: enough for the current version and the
/// one before it while a delta is being accepted.
pub const CHAIN_CACHE: usize = 2;

/// Datasets and weights from the chain, datasets cached by root (LRU).
pub struct ChainSource {
    chain: ChainClient,
    /// Most recently used first.
    cache: Mutex<Vec<Arc<SourcedDataset>>>,
}

impl ChainSource {
    /// A source reading from `chain`.
    pub fn new(chain: ChainClient) -> Self {
        Self {
            chain,
            cache: Mutex::new(Vec::new()),
        }
    }

    fn cached(&self, root: &[u8; 32]) -> Option<Arc<SourcedDataset>> {
        let mut cache = lock(&self.cache);
        let i = cache.iter().position(|d| d.root == *root)?;
        let hit = cache.remove(i);
        cache.insert(0, hit.clone());
        Some(hit)
    }

    fn remember(&self, dataset: Arc<SourcedDataset>) {
        let mut cache = lock(&self.cache);
        cache.retain(|d| d.root != dataset.root);
        cache.insert(0, dataset);
        cache.truncate(CHAIN_CACHE);
    }
}

impl DatasetSource for ChainSource {
    fn dataset(
        &self,
        dataset_id: &str,
        version: u64,
        expected_root: Option<&[u8; 32]>,
    ) -> Result<Arc<SourcedDataset>, SourceError> {
        // The same records under another id or version are the same data: the
        // root is what the step depends on.
        if let Some(hit) = expected_root.and_then(|root| self.cached(root)) {
            return Ok(hit);
        }
        let meta = self.chain.dataset(dataset_id, Some(version))?;
        let chain_root: [u8; 32] = meta.root.as_slice().try_into().map_err(|_| {
            SourceError::Invalid(format!(
                "dataset {dataset_id} v{version}: root of {} bytes",
                meta.root.len()
            ))
        })?;
        if let Some(expected) = expected_root.filter(|e| **e != chain_root) {
            return Err(SourceError::RootMismatch {
                dataset_id: dataset_id.to_string(),
                version,
                expected: hex::encode(expected),
                actual: hex::encode(chain_root),
            });
        }
        if let Some(hit) = self.cached(&chain_root) {
            return Ok(hit);
        }
        let dataset =
            self.chain
                .load_dataset(dataset_id, version, &chain_root, meta.record_count)?;
        let sourced = Arc::new(SourcedDataset {
            dataset_id: dataset_id.to_string(),
            version,
            root: chain_root,
            dataset,
        });
        self.remember(sourced.clone());
        Ok(sourced)
    }

    fn weights(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, SourceError> {
        Ok(self.chain.weights(sha256)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_source_checks_roots() {
        let source = MemorySource::new();
        let ds = crate::testutil::small_mnist().truncated(20, 5);
        let root = source.add_dataset("mnist", 1, ds.clone());
        assert_eq!(root, ds.root());
        let got = source.dataset("mnist", 1, Some(&root)).unwrap();
        assert_eq!(got.dataset.train(), ds.train());
        assert!(source.dataset("mnist", 1, None).is_ok());
        let mut wrong = root;
        wrong[0] ^= 1;
        let err = source.dataset("mnist", 1, Some(&wrong)).unwrap_err();
        assert!(matches!(err, SourceError::RootMismatch { .. }), "{err}");
        assert_eq!(
            Status::from(err).code(),
            um_proto::tonic::Code::FailedPrecondition
        );
        assert!(matches!(
            source.dataset("mnist", 2, None),
            Err(SourceError::NotFound(_))
        ));
        let sha = source.add_weights(b"abc".to_vec());
        assert_eq!(source.weights(&sha).unwrap(), b"abc");
        assert!(source.weights(&[0; 32]).is_err());
    }

    #[test]
    fn chain_source_reports_an_unreachable_node_as_unavailable() {
        // Nothing listens on port 9 of the loopback (discard, never served).
        let source = ChainSource::new(ChainClient::new("http://127.0.0.1:9"));
        let err = source.dataset("mnist", 0, None).unwrap_err();
        assert!(matches!(err, SourceError::Unavailable(_)), "{err}");
        assert_eq!(Status::from(err).code(), um_proto::tonic::Code::Unavailable);
    }

    #[test]
    fn chain_cache_is_lru_by_root() {
        let source = ChainSource::new(ChainClient::new("http://127.0.0.1:9"));
        let full = crate::testutil::small_mnist();
        let a = Arc::new(SourcedDataset::new("d", 0, full.truncated(3, 1)));
        let b = Arc::new(SourcedDataset::new("d", 1, full.truncated(4, 1)));
        let c = Arc::new(SourcedDataset::new("d", 2, full.truncated(5, 1)));
        source.remember(a.clone());
        source.remember(b.clone());
        assert!(source.cached(&a.root).is_some(), "a is now the most recent");
        source.remember(c.clone());
        assert!(source.cached(&b.root).is_none(), "b was the least recent");
        assert!(source.cached(&a.root).is_some() && source.cached(&c.root).is_some());
        // A cached root is answered without the (unreachable) chain.
        let hit = source.dataset("other-id", 9, Some(&c.root)).unwrap();
        assert_eq!(hit.version, 2);
    }
}
