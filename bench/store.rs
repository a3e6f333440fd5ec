//! Issue 18: the Merkle store against the hash-chain store it replaced, in
//! one run on the same machine.
//!
//! *Commit throughput*: blocks of `N` written keys (a third of them
//! updates of existing keys, 64-byte values, keys spread like state keys)
//! committed on top of a store that already holds `BASE_KEYS`; per block,
//! ours computes the Jellyfish Merkle Tree version and writes it with the
//! pairs in one sled batch (`Store::tree_update` + `Store::commit`, as
//! FinalizeBlock and Commit do); the reference writes the same pairs alone
//! and folds them into the hash chain of the old `store/app_hash.rs`
//! (`sha256("um/apphash/v1" ‖ previous ‖ height ‖ sorted change set)`,
//! copied here). Both wait for sled's flush, as Commit does.
//!
//! *Proofs*: the ICS23 proof of one key (existence) and of an absent key
//! (non-existence) at the last height: encoded size, time to produce it
//! (`Store::prove`) and to verify it (`ics23::verify_membership` /
//! `verify_non_membership` against the root, as `umd query --verify` does).
//! The hash chain has no proofs: that column is empty.
//!
//! `cargo bench -p um-app --bench store` (release). With
//! `STORE_BENCH_JSONL=FILE` the rows are also appended to FILE (`make bench`
//! writes them into BENCHMARKS.md).

use std::io::Write;
use std::time::{Duration, Instant};

use ics23::HostFunctionsManager;
use prost::Message;
use sha2::{Digest, Sha256};
use um_app::store::{proof_spec, Changes, CommitInfo, Store};

/// Keys in the store before the measured blocks.
const BASE_KEYS: usize = 100_000;
/// Keys written per measured block.
const BLOCK_SIZES: [usize; 2] = [1_000, 10_000];
/// Measured blocks per size and side; the median is reported.
const BLOCKS: usize = 7;
/// Proofs produced and verified per kind; the median is reported.
const PROOFS: usize = 200;

fn key(n: u64) -> Vec<u8> {
    // State keys share prefixes and differ in their tails, as ours do.
    let spread = Sha256::digest(n.to_be_bytes());
    format!(
        "bench/{:02x}/{}/{}",
        spread[0],
        hex::encode(&spread[1..9]),
        n
    )
    .into_bytes()
}

fn value(n: u64, block: u64) -> Vec<u8> {
    let mut value = Sha256::digest([n.to_be_bytes(), block.to_be_bytes()].concat()).to_vec();
    value.extend_from_slice(&Sha256::digest(value.as_slice()));
    value
}

/// `size` keys for block `block`: a third rewrite base keys, the rest new.
fn block_changes(block: u64, size: usize, next_new: &mut u64) -> Changes {
    let mut changes = Changes::new();
    for i in 0..size as u64 {
        let n = if i % 3 == 0 {
            (block * 7_919 + i * 104_729) % BASE_KEYS as u64
        } else {
            *next_new += 1;
            *next_new
        };
        changes.insert(key(n), Some(value(n, block)));
    }
    changes
}

/// The app hash of the hash-chain store (`store/app_hash.rs` before issue 18).
fn hash_chain(previous: &[u8], height: u64, changes: &Changes) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"um/apphash/v1");
    hasher.update((previous.len() as u64).to_be_bytes());
    hasher.update(previous);
    hasher.update(height.to_be_bytes());
    hasher.update((changes.len() as u64).to_be_bytes());
    for (key, value) in changes {
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key);
        match value {
            Some(value) => {
                hasher.update([1u8]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value);
            }
            None => hasher.update([0u8]),
        }
    }
    hasher.finalize().to_vec()
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Merkle,
    HashChain,
}

/// A store at height 1 holding the base keys.
fn base_store(dir: &std::path::Path, side: Side) -> (Store, CommitInfo) {
    let store = Store::open(dir).expect("store");
    let mut changes = Changes::new();
    for n in 0..BASE_KEYS as u64 {
        changes.insert(key(n), Some(value(n, 0)));
    }
    let (info, _, _) = commit(&store, side, &changes, 1, &[]);
    (store, info)
}

/// Commits `changes` as block `height`; also returns how long the app hash
/// took (FinalizeBlock's part) and the write (Commit's).
fn commit(
    store: &Store,
    side: Side,
    changes: &Changes,
    height: u64,
    previous: &[u8],
) -> (CommitInfo, Duration, Duration) {
    let started = Instant::now();
    let (info, trees) = match side {
        Side::Merkle => {
            let tree = store.tree_update(None, changes, height).expect("tree");
            let info = CommitInfo {
                height,
                app_hash: tree.root.to_vec(),
            };
            (info, vec![tree])
        }
        Side::HashChain => {
            let info = CommitInfo {
                height,
                app_hash: hash_chain(previous, height, changes),
            };
            (info, vec![])
        }
    };
    let hashed = started.elapsed();
    let started = Instant::now();
    store.commit(changes, &trees, &info).expect("commit");
    (info, hashed, started.elapsed())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let mut rows: Vec<serde_json::Value> = Vec::new();
    for side in [Side::Merkle, Side::HashChain] {
        let name = match side {
            Side::Merkle => "merkle",
            Side::HashChain => "hash_chain",
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, mut info) = base_store(dir.path(), side);
        let mut next_new = BASE_KEYS as u64;
        for size in BLOCK_SIZES {
            let (mut samples, mut hashing, mut writing) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..BLOCKS {
                let height = info.height + 1;
                let changes = block_changes(height, size, &mut next_new);
                let started = Instant::now();
                let (next, hashed, written) =
                    commit(&store, side, &changes, height, &info.app_hash);
                samples.push(started.elapsed());
                hashing.push(hashed);
                writing.push(written);
                info = next;
            }
            let block = median(samples);
            let (hashed, written) = (median(hashing), median(writing));
            let keys_per_s = size as f64 / block.as_secs_f64();
            println!(
                "{name:>10} commit of {size:>6} keys: {block:>10.2?} per block ({hashed:.2?} app hash, {written:.2?} write), {keys_per_s:>9.0} keys/s"
            );
            rows.push(serde_json::json!({
                "bench": "store_commit", "side": name, "keys": size,
                "block_ns": block.as_nanos() as u64, "keys_per_s": keys_per_s,
                "hash_ns": hashed.as_nanos() as u64, "write_ns": written.as_nanos() as u64,
                "base_keys": BASE_KEYS, "disk_bytes": store.size_on_disk().unwrap_or(0),
            }));
        }
        if side == Side::HashChain {
            continue;
        }
        let root = info.app_hash.clone();
        let spec = proof_spec();
        for (kind, n) in [("existence", 12_345u64), ("absence", u64::MAX - 1)] {
            let key = key(n);
            let mut produce = Vec::new();
            let mut verify = Vec::new();
            let mut size = 0;
            for _ in 0..PROOFS {
                let started = Instant::now();
                let (value, proof) = store.prove(&key, info.height).expect("proof");
                produce.push(started.elapsed());
                size = proof.encoded_len();
                let started = Instant::now();
                let ok = match &value {
                    Some(value) => ics23::verify_membership::<HostFunctionsManager>(
                        &proof, &spec, &root, &key, value,
                    ),
                    None => ics23::verify_non_membership::<HostFunctionsManager>(
                        &proof, &spec, &root, &key,
                    ),
                };
                verify.push(started.elapsed());
                assert!(ok, "the {kind} proof verifies");
                assert_eq!(value.is_some(), kind == "existence");
            }
            let (produce, verify) = (median(produce), median(verify));
            println!("{kind:>10} proof: {size} bytes, produced in {produce:.2?}, verified in {verify:.2?}");
            rows.push(serde_json::json!({
                "bench": "store_proof", "kind": kind, "bytes": size,
                "produce_ns": produce.as_nanos() as u64, "verify_ns": verify.as_nanos() as u64,
                "keys_in_tree": next_new,
            }));
        }
    }
    if let Ok(path) = std::env::var("STORE_BENCH_JSONL") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("results file");
        for row in rows {
            writeln!(file, "{row}").expect("results written");
        }
    }
}
