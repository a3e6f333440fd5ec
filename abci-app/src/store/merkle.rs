//! The authenticated half of the store: a Jellyfish Merkle Tree (the `jmt`
//! crate, as Penumbra's cnidarium uses it) over every state key, with ICS23
//! proofs of presence and absence.
//!
//! The tree lives in the same sled tree as the flat state, under the store's
//! reserved metadata prefix, so a block's tree nodes, its flat writes, its
//! height and its root reach disk in one atomic batch. A tree version is a
//! block height. Computing a version writes nothing: FinalizeBlock computes
//! the root (the app hash) from the committed tree plus, for the first block,
//! the genesis update that is still in memory; Commit writes both.

use std::collections::BTreeMap;

use jmt::storage::{
    HasPreimage, LeafNode, NibblePath, Node, NodeBatch, NodeKey, TreeReader, TreeUpdateBatch,
};
use jmt::{KeyHash, OwnedValue, Sha256Jmt, Version};
use sha2::Sha256;

use super::{Changes, StoreError};

/// `node/<borsh node key>` → borsh node.
const NODE_PREFIX: &[u8] = b"\x00jmt/node/";
/// `value/<key hash><version, 8 bytes big-endian>` → `1 ‖ value`, or `0` for
/// a deletion: the value a key had from that version on.
const VALUE_PREFIX: &[u8] = b"\x00jmt/value/";
/// `key/<key hash>` → the key: absence proofs name their neighbours' keys.
const PREIMAGE_PREFIX: &[u8] = b"\x00jmt/key/";
/// `stale/<version, 8 bytes big-endian><borsh node key>` → empty: nodes no
/// longer reachable from that version's root, for pruning old versions.
const STALE_PREFIX: &[u8] = b"\x00jmt/stale/";
/// `stale_value/<version><key hash><older version>` → empty: the value the
/// key had from the older version on is not read by that version or later
/// ones (the key was written again), for pruning old versions.
const STALE_VALUE_PREFIX: &[u8] = b"\x00jmt/stale_value/";

/// The ICS23 proof spec of this tree, which a verifier checks proofs against.
pub fn proof_spec() -> ics23::ProofSpec {
    jmt::ics23_spec()
}

/// One version of the tree, computed but not yet written.
#[derive(Debug, Default)]
pub struct TreeUpdate {
    pub version: Version,
    pub root: [u8; 32],
    nodes: NodeBatch,
    stale: Vec<(Version, NodeKey)>,
    /// For each key written: the version of the value it replaced.
    replaced: Vec<(KeyHash, Version)>,
    preimages: BTreeMap<[u8; 32], Vec<u8>>,
}

impl TreeUpdate {
    /// Adds this update's nodes, values, key preimages and stale-node index
    /// to `batch`.
    pub fn write_to(&self, batch: &mut sled::Batch) -> Result<(), StoreError> {
        for (key, node) in self.nodes.nodes() {
            batch.insert(node_key(key)?, encode(node)?);
        }
        for ((version, key_hash), value) in self.nodes.values() {
            batch.insert(
                value_key(key_hash, *version),
                encode_value(value.as_deref()),
            );
        }
        for (key_hash, key) in &self.preimages {
            batch.insert([PREIMAGE_PREFIX, key_hash].concat(), key.as_slice());
        }
        for (version, key) in &self.stale {
            let key = [STALE_PREFIX, &version.to_be_bytes(), &encode(key)?].concat();
            batch.insert(key, &[][..]);
        }
        for (key_hash, older) in &self.replaced {
            let key = [
                STALE_VALUE_PREFIX,
                &self.version.to_be_bytes(),
                &key_hash.0,
                &older.to_be_bytes(),
            ]
            .concat();
            batch.insert(key, &[][..]);
        }
        Ok(())
    }
}

/// Computes version `version` of the tree: the committed tree (and `base`,
/// an update computed before but not yet written) with `changes` applied.
pub fn compute(
    state: &sled::Tree,
    base: Option<&TreeUpdate>,
    changes: &Changes,
    version: Version,
) -> Result<TreeUpdate, StoreError> {
    let mut overlay = Overlay {
        state,
        nodes: base.map(|b| &b.nodes),
        preimages: base.map(|b| &b.preimages),
        placeholder: None,
    };
    // A chain whose first height is above 1 starts its tree at a version
    // above 0, and jmt reads the root of the version before: an empty one.
    if version > 0
        && overlay
            .get_node_option(&root_key(version - 1))
            .map_err(tree_error)?
            .is_none()
        && !has_any_root(state)?
    {
        overlay.placeholder = Some(root_key(version - 1));
    }
    let mut preimages = BTreeMap::new();
    let mut replaced = Vec::new();
    let mut value_set = Vec::with_capacity(changes.len());
    for (key, value) in changes {
        if super::is_blob_key(key) {
            continue;
        }
        if super::is_reserved(key) {
            return Err(StoreError::ReservedKey(key.clone()));
        }
        let key_hash = KeyHash::with::<Sha256>(key);
        let older = overlay.value_version_before(version, key_hash)?;
        // A key written before has its preimage stored (they are never
        // deleted): only new keys add one.
        if value.is_some() && older.is_none() {
            preimages.insert(key_hash.0, key.clone());
        }
        if let Some(older) = older {
            replaced.push((key_hash, older));
        }
        value_set.push((key_hash, value.clone()));
    }
    let tree = Sha256Jmt::new(&overlay);
    // jmt's batch insertion walks the tree once for the whole sorted set
    // and hashes each touched node once; it takes no deletions, so a set
    // with one goes key by key (the root is the same either way: the tree
    // does not depend on how it was built).
    let inserts_only = !value_set.is_empty() && value_set.iter().all(|(_, v)| v.is_some());
    let (root, batch) = if inserts_only {
        let inserts = value_set
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key, value)))
            .collect();
        let (roots, batch) = tree
            .batch_put_value_sets(vec![inserts], None, version)
            .map_err(tree_error)?;
        let root = roots
            .first()
            .copied()
            .ok_or_else(|| StoreError::Tree("no root for the batch".into()))?;
        (root, batch)
    } else {
        tree.put_value_set(value_set, version).map_err(tree_error)?
    };
    let TreeUpdateBatch {
        node_batch,
        stale_node_index_batch,
        ..
    } = batch;
    Ok(TreeUpdate {
        version,
        root: root.0,
        nodes: node_batch,
        stale: stale_node_index_batch
            .into_iter()
            .map(|index| (index.stale_since_version, index.node_key))
            .collect(),
        replaced,
        preimages,
    })
}

/// The root of `version`, if the store holds it.
pub fn root(state: &sled::Tree, version: Version) -> Result<Option<[u8; 32]>, StoreError> {
    let overlay = Overlay::committed(state);
    if overlay
        .get_node_option(&root_key(version))
        .map_err(tree_error)?
        .is_none()
    {
        return Ok(None);
    }
    let tree = Sha256Jmt::new(&overlay);
    Ok(Some(tree.get_root_hash(version).map_err(tree_error)?.0))
}

/// The value of `key` at `version` with an ICS23 proof of it (existence), or
/// of its absence (non-existence), against that version's root.
pub fn prove(
    state: &sled::Tree,
    key: &[u8],
    version: Version,
) -> Result<(Option<Vec<u8>>, ics23::CommitmentProof), StoreError> {
    let overlay = Overlay::committed(state);
    if overlay
        .get_node_option(&root_key(version))
        .map_err(tree_error)?
        .is_none()
    {
        return Err(StoreError::VersionNotKept(version));
    }
    let tree = Sha256Jmt::new(&overlay);
    tree.get_with_ics23_proof(key.to_vec(), version)
        .map_err(tree_error)
}

/// Deletes what only versions before `keep_from` read: nodes that left the
/// tree at or before it and values written over at or before it. Later
/// versions stay whole (their proofs and roots); earlier ones are no longer
/// kept. Returns how many entries went.
pub fn prune(state: &sled::Tree, keep_from: Version) -> Result<usize, StoreError> {
    let mut batch = sled::Batch::default();
    let mut deleted = 0;
    let nodes_end = [STALE_PREFIX, &(keep_from.saturating_add(1)).to_be_bytes()].concat();
    for entry in state.range(STALE_PREFIX.to_vec()..nodes_end) {
        let (index, _) = entry?;
        let node = &index[STALE_PREFIX.len() + 8..];
        batch.remove([NODE_PREFIX, node].concat());
        batch.remove(index);
        deleted += 1;
    }
    let values_end = [
        STALE_VALUE_PREFIX,
        &(keep_from.saturating_add(1)).to_be_bytes(),
    ]
    .concat();
    for entry in state.range(STALE_VALUE_PREFIX.to_vec()..values_end) {
        let (index, _) = entry?;
        let value = &index[STALE_VALUE_PREFIX.len() + 8..];
        batch.remove([VALUE_PREFIX, value].concat());
        batch.remove(index);
        deleted += 1;
    }
    state.apply_batch(batch)?;
    Ok(deleted)
}

fn has_any_root(state: &sled::Tree) -> Result<bool, StoreError> {
    Ok(state.scan_prefix(NODE_PREFIX).next().transpose()?.is_some())
}

/// The key of a version's root: the empty nibble path.
fn root_key(version: Version) -> NodeKey {
    NodeKey::new(version, std::iter::empty().collect::<NibblePath>())
}

/// The committed tree, seen through an update not yet written.
struct Overlay<'a> {
    state: &'a sled::Tree,
    nodes: Option<&'a NodeBatch>,
    preimages: Option<&'a BTreeMap<[u8; 32], Vec<u8>>>,
    /// The empty root a tree starting above version 0 builds on.
    placeholder: Option<NodeKey>,
}

impl<'a> Overlay<'a> {
    fn committed(state: &'a sled::Tree) -> Self {
        Self {
            state,
            nodes: None,
            preimages: None,
            placeholder: None,
        }
    }
}

impl Overlay<'_> {
    /// The version of the newest value of `key_hash` before `version`.
    fn value_version_before(
        &self,
        version: Version,
        key_hash: KeyHash,
    ) -> Result<Option<Version>, StoreError> {
        let Some(before) = version.checked_sub(1) else {
            return Ok(None);
        };
        if let Some(nodes) = self.nodes {
            let newest = nodes
                .values()
                .range((0, key_hash)..=(before, key_hash))
                .rfind(|((_, hash), _)| *hash == key_hash);
            if let Some(((older, _), _)) = newest {
                return Ok(Some(*older));
            }
        }
        let first = value_key(&key_hash, 0);
        let last = value_key(&key_hash, before);
        match self.state.range(first..=last).next_back().transpose()? {
            Some((key, _)) => {
                let tail = &key[key.len() - 8..];
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(tail);
                Ok(Some(Version::from_be_bytes(bytes)))
            }
            None => Ok(None),
        }
    }
}

impl TreeReader for Overlay<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(node) = self.nodes.and_then(|nodes| nodes.get_node(node_key)) {
            return Ok(Some(node.clone()));
        }
        if self.placeholder.as_ref() == Some(node_key) {
            return Ok(Some(Node::Null));
        }
        match self.state.get(node_key_bytes(node_key)?)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        // What the overlay holds is newer than anything committed.
        if let Some(nodes) = self.nodes {
            let newest = nodes
                .values()
                .range((0, key_hash)..=(max_version, key_hash))
                .rfind(|((_, hash), _)| *hash == key_hash);
            if let Some((_, value)) = newest {
                return Ok(value.clone());
            }
        }
        let first = value_key(&key_hash, 0);
        let last = value_key(&key_hash, max_version);
        match self.state.range(first..=last).next_back().transpose()? {
            Some((_, stored)) => Ok(decode_value(&stored)?),
            None => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's restore and overwrite paths ask, and the store uses neither.
        anyhow::bail!("the rightmost leaf is not indexed")
    }
}

impl HasPreimage for Overlay<'_> {
    fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(key) = self.preimages.and_then(|p| p.get(&key_hash.0)) {
            return Ok(Some(key.clone()));
        }
        Ok(self
            .state
            .get([PREIMAGE_PREFIX, &key_hash.0].concat())?
            .map(|key| key.to_vec()))
    }
}

fn node_key(key: &NodeKey) -> Result<Vec<u8>, StoreError> {
    node_key_bytes(key).map_err(|e| StoreError::Tree(e.to_string()))
}

fn node_key_bytes(key: &NodeKey) -> std::io::Result<Vec<u8>> {
    Ok([NODE_PREFIX, &borsh::to_vec(key)?].concat())
}

fn value_key(key_hash: &KeyHash, version: Version) -> Vec<u8> {
    [VALUE_PREFIX, &key_hash.0, &version.to_be_bytes()].concat()
}

fn encode<T: borsh::BorshSerialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    borsh::to_vec(value).map_err(|e| StoreError::Tree(e.to_string()))
}

fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(value) => [&[1u8][..], value].concat(),
        None => vec![0],
    }
}

fn decode_value(stored: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    match stored.split_first() {
        Some((1, value)) => Ok(Some(value.to_vec())),
        Some((0, [])) => Ok(None),
        _ => Err(StoreError::Corrupted("a tree value has no valid tag")),
    }
}

fn tree_error(err: anyhow::Error) -> StoreError {
    StoreError::Tree(format!("{err:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ics23::HostFunctionsManager;

    fn changes(pairs: &[(&str, Option<&str>)]) -> Changes {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec())))
            .collect()
    }

    /// Computes `version` from what is committed and commits it.
    fn put(state: &sled::Tree, pairs: &[(&str, Option<&str>)], version: Version) -> TreeUpdate {
        let update = compute(state, None, &changes(pairs), version).unwrap();
        commit(state, &update);
        update
    }

    fn commit(state: &sled::Tree, update: &TreeUpdate) {
        let mut batch = sled::Batch::default();
        update.write_to(&mut batch).unwrap();
        state.apply_batch(batch).unwrap();
    }

    fn temporary() -> sled::Tree {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.open_tree("state").unwrap()
    }

    fn proves_present(
        root: [u8; 32],
        key: &str,
        value: &str,
        proof: &ics23::CommitmentProof,
    ) -> bool {
        ics23::verify_membership::<HostFunctionsManager>(
            proof,
            &proof_spec(),
            &root.to_vec(),
            key.as_bytes(),
            value.as_bytes(),
        )
    }

    fn proves_absent(root: [u8; 32], key: &str, proof: &ics23::CommitmentProof) -> bool {
        ics23::verify_non_membership::<HostFunctionsManager>(
            proof,
            &proof_spec(),
            &root.to_vec(),
            key.as_bytes(),
        )
    }

    #[test]
    fn the_root_depends_on_the_state_and_not_on_how_it_was_reached() {
        let one_go = temporary();
        let update = put(&one_go, &[("a", Some("1")), ("b", Some("2"))], 0);

        let in_steps = temporary();
        let first = put(&in_steps, &[("a", Some("9")), ("c", Some("3"))], 0);
        let second = put(
            &in_steps,
            &[("a", Some("1")), ("b", Some("2")), ("c", None)],
            1,
        );

        assert_eq!(update.root, second.root);
        assert_ne!(first.root, second.root);
        assert_eq!(root(&in_steps, 0).unwrap(), Some(first.root));
        assert_eq!(root(&in_steps, 1).unwrap(), Some(second.root));
        assert_eq!(root(&in_steps, 2).unwrap(), None);
    }

    #[test]
    fn an_update_not_yet_written_is_the_base_of_the_next() {
        let state = temporary();
        let genesis = compute(&state, None, &changes(&[("a", Some("1"))]), 0).unwrap();
        let block = compute(&state, Some(&genesis), &changes(&[("b", Some("2"))]), 1).unwrap();
        commit(&state, &genesis);
        commit(&state, &block);
        let (value, proof) = prove(&state, b"a", 1).unwrap();
        assert_eq!(value.as_deref(), Some(&b"1"[..]));
        assert!(proves_present(block.root, "a", "1", &proof));
    }

    #[test]
    fn a_tree_may_start_above_version_zero() {
        let state = temporary();
        put(&state, &[("a", Some("1"))], 41);
        let block = put(&state, &[("b", Some("2"))], 42);
        let (_, proof) = prove(&state, b"b", 42).unwrap();
        assert!(proves_present(block.root, "b", "2", &proof));
    }

    #[test]
    fn proofs_of_presence_and_absence_verify_against_their_version_only() {
        let state = temporary();
        let v0 = put(
            &state,
            &[("model/1", Some("w0")), ("model/3", Some("x"))],
            0,
        );
        let v1 = put(&state, &[("model/1", Some("w1")), ("model/3", None)], 1);

        let (value, proof) = prove(&state, b"model/1", 1).unwrap();
        assert_eq!(value.as_deref(), Some(&b"w1"[..]));
        assert!(proves_present(v1.root, "model/1", "w1", &proof));
        assert!(
            !proves_present(v1.root, "model/1", "w0", &proof),
            "a tampered value"
        );
        assert!(
            !proves_present(v0.root, "model/1", "w1", &proof),
            "another version's root"
        );

        // The old version is still provable: history is kept.
        let (value, proof) = prove(&state, b"model/1", 0).unwrap();
        assert_eq!(value.as_deref(), Some(&b"w0"[..]));
        assert!(proves_present(v0.root, "model/1", "w0", &proof));

        let (value, proof) = prove(&state, b"model/3", 1).unwrap();
        assert_eq!(value, None);
        assert!(proves_absent(v1.root, "model/3", &proof));
        assert!(!proves_absent(v0.root, "model/3", &proof));
        let (value, proof) = prove(&state, b"model/2", 1).unwrap();
        assert_eq!(value, None);
        assert!(proves_absent(v1.root, "model/2", &proof));

        assert!(matches!(
            prove(&state, b"model/1", 7),
            Err(StoreError::VersionNotKept(7))
        ));
    }

    /// Versions 0 to 7 of a small history: a key rewritten every version up
    /// to 5, one never rewritten, one written at 6 and deleted at 7.
    fn history(state: &sled::Tree) -> Vec<[u8; 32]> {
        let mut roots = Vec::new();
        for version in 0..6u64 {
            let value = format!("v{version}");
            let pairs = [
                ("model/head", Some(value.as_str())),
                ("model/stable", Some("s")),
            ];
            roots.push(put(state, &pairs, version).root);
        }
        roots.push(put(state, &[("model/gone", Some("x"))], 6).root);
        roots.push(put(state, &[("model/gone", None)], 7).root);
        roots
    }

    /// Issue 18, pruning: versions from `keep_from` on keep every proof and
    /// root, and the same next version is computed; earlier ones are gone,
    /// and so are the nodes and values only they read.
    #[test]
    fn pruning_keeps_the_recent_versions_whole_and_frees_the_older_ones() {
        let state = temporary();
        let entries = |state: &sled::Tree| state.scan_prefix(b"\x00jmt/").count();
        let roots = history(&state);
        let before = entries(&state);
        assert!(prune(&state, 5).unwrap() > 0);
        assert!(entries(&state) < before, "entries were freed");

        for version in 5..=7u64 {
            assert_eq!(
                root(&state, version).unwrap(),
                Some(roots[version as usize])
            );
            let (value, proof) = prove(&state, b"model/head", version).unwrap();
            assert_eq!(value.as_deref(), Some(&b"v5"[..]));
            assert!(proves_present(
                roots[version as usize],
                "model/head",
                "v5",
                &proof
            ));
            let (value, proof) = prove(&state, b"model/stable", version).unwrap();
            assert_eq!(value.as_deref(), Some(&b"s"[..]));
            assert!(proves_present(
                roots[version as usize],
                "model/stable",
                "s",
                &proof
            ));
        }
        let (value, proof) = prove(&state, b"model/gone", 6).unwrap();
        assert_eq!(value.as_deref(), Some(&b"x"[..]));
        assert!(proves_present(roots[6], "model/gone", "x", &proof));
        let (value, proof) = prove(&state, b"model/gone", 7).unwrap();
        assert_eq!(value, None);
        assert!(proves_absent(roots[7], "model/gone", &proof));
        for old in 0..5u64 {
            assert!(matches!(
                prove(&state, b"model/head", old),
                Err(StoreError::VersionNotKept(_))
            ));
        }

        // The next version builds on the pruned tree as on the whole one.
        let whole = temporary();
        history(&whole);
        let next = [("model/head", Some("v8")), ("model/new", Some("n"))];
        assert_eq!(put(&state, &next, 8).root, put(&whole, &next, 8).root);
        // Pruning up to the same version again frees nothing more.
        assert_eq!(prune(&state, 5).unwrap(), 0);
    }

    #[test]
    fn deleting_what_never_existed_changes_nothing() {
        let state = temporary();
        let v0 = put(&state, &[("a", Some("1"))], 0);
        let v1 = put(&state, &[("never", None)], 1);
        assert_eq!(v0.root, v1.root);
        let v2 = compute(&state, None, &Changes::new(), 2).unwrap();
        assert_eq!(v0.root, v2.root);
    }

    #[test]
    fn metadata_keys_stay_out_of_the_tree() {
        let state = temporary();
        let err = compute(
            &state,
            None,
            &changes(&[("\u{0}meta/height", Some("x"))]),
            0,
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::ReservedKey(_)));
    }
}
