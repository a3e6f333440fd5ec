//! State sync through the ABCI snapshot methods (issue 18): one node takes a
//! snapshot, an empty node restores it chunk by chunk and then executes the
//! next block to the same app hash; bad chunks, a wrong app hash and an
//! offer to a node with state are refused.

use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;
use tendermint_proto::v0_38::abci::response_apply_snapshot_chunk::Result as ApplyResult;
use tendermint_proto::v0_38::abci::response_offer_snapshot::Result as OfferResult;

use super::snapshots::{SnapshotConfig, Snapshots};
use super::tests::{app_on, finalize, genesis_with_suite, TestApp};
use crate::store::Store;

fn with_snapshots(test: TestApp, dir: Option<&std::path::Path>, interval: u64) -> TestApp {
    let config = SnapshotConfig {
        interval,
        keep_recent: 2,
    };
    TestApp {
        app: test
            .app
            .with_snapshots(Snapshots::new(dir.map(|d| d.to_path_buf()), config)),
        _cache: test._cache,
    }
}

/// Waits for the snapshot the writer thread is making.
fn listed(app: &super::App, height: u64) -> pb::Snapshot {
    for _ in 0..200 {
        let list = app.list_snapshots();
        if let Some(snapshot) = list.snapshots.into_iter().find(|s| s.height == height) {
            return snapshot;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("no snapshot of height {height}");
}

fn chunk(app: &super::App, snapshot: &pb::Snapshot, index: u32) -> Vec<u8> {
    app.load_snapshot_chunk(pb::RequestLoadSnapshotChunk {
        height: snapshot.height,
        format: snapshot.format,
        chunk: index,
    })
    .chunk
    .to_vec()
}

fn offer(app: &super::App, snapshot: &pb::Snapshot, app_hash: &[u8]) -> i32 {
    app.offer_snapshot(pb::RequestOfferSnapshot {
        snapshot: Some(snapshot.clone()),
        app_hash: app_hash.to_vec().into(),
    })
    .result
}

fn apply(app: &super::App, index: u32, chunk: Vec<u8>) -> pb::ResponseApplySnapshotChunk {
    app.apply_snapshot_chunk(pb::RequestApplySnapshotChunk {
        index,
        chunk: chunk.into(),
        sender: "peer".into(),
    })
}

#[test]
fn an_empty_node_restores_a_snapshot_and_follows_the_chain_with_the_same_app_hash() {
    let dir = tempfile::tempdir().unwrap();
    let source = with_snapshots(app_on(Store::temporary().unwrap()), Some(dir.path()), 2);
    genesis_with_suite(&source.app);
    finalize(&source.app, 1, vec![]);
    let hash2 = finalize(&source.app, 2, vec![]).app_hash.to_vec();
    let snapshot = listed(&source.app, 2);
    assert_eq!(snapshot.format, 1);
    assert!(snapshot.chunks >= 1);
    let chunks: Vec<Vec<u8>> = (0..snapshot.chunks)
        .map(|i| chunk(&source.app, &snapshot, i))
        .collect();
    assert!(chunks.iter().all(|c| !c.is_empty()));

    // A wrong app hash: every chunk is taken, the rebuilt tree is not it.
    let wrong = with_snapshots(app_on(Store::temporary().unwrap()), None, 0);
    assert_eq!(
        offer(&wrong.app, &snapshot, &[0; 32]),
        OfferResult::Accept as i32
    );
    let mut last = None;
    for (i, c) in chunks.iter().enumerate() {
        last = Some(apply(&wrong.app, i as u32, c.clone()).result);
    }
    assert_eq!(last, Some(ApplyResult::RejectSnapshot as i32));
    assert_eq!(wrong.app.info(Default::default()).last_block_height, 0);

    // The right one, after a corrupted chunk is refused and refetched.
    let target = with_snapshots(app_on(Store::temporary().unwrap()), None, 0);
    assert_eq!(
        offer(&target.app, &snapshot, &hash2),
        OfferResult::Accept as i32
    );
    let mut corrupted = chunks[0].clone();
    corrupted[10] ^= 1;
    let refused = apply(&target.app, 0, corrupted);
    assert_eq!(refused.result, ApplyResult::Retry as i32);
    assert_eq!(refused.refetch_chunks, vec![0]);
    assert_eq!(refused.reject_senders, vec!["peer".to_string()]);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(
            apply(&target.app, i as u32, c.clone()).result,
            ApplyResult::Accept as i32
        );
    }
    let info = target.app.info(Default::default());
    assert_eq!(info.last_block_height, 2);
    assert_eq!(info.last_block_app_hash.to_vec(), hash2);

    // The next block executes to the same app hash on both, and the
    // restored node serves the version-0 weights (a blob) the other has.
    let next_source = finalize(&source.app, 3, vec![]).app_hash;
    let next_target = finalize(&target.app, 3, vec![]).app_hash;
    assert_eq!(next_source, next_target);
    let weights = |app: &super::App| {
        use prost::Message;
        let version = um_proto::um::training::v1::QueryVersionResponse::decode(
            app.query_committed(
                "/um.training.v1.Query/Version",
                um_proto::um::training::v1::QueryVersionRequest {
                    model_id: "digits".into(),
                    version: 0,
                    prove: false,
                }
                .encode_to_vec(),
            )
            .value
            .as_ref(),
        )
        .unwrap()
        .version
        .unwrap();
        app.query_committed(
            "/um.training.v1.Query/Weights",
            um_proto::um::training::v1::QueryWeightsRequest {
                length: Default::default(),
                offset: Default::default(),
                weights_sha256: version.weights_sha256,
            }
            .encode_to_vec(),
        )
        .value
        .to_vec()
    };
    let restored_weights = weights(&target.app);
    assert!(restored_weights.len() > 1000);
    assert_eq!(restored_weights, weights(&source.app));

    // A node with state takes no snapshot.
    assert_eq!(
        offer(&target.app, &snapshot, &hash2),
        OfferResult::Abort as i32
    );
    // Another format, or metadata that is not one hash per chunk.
    let fresh = with_snapshots(app_on(Store::temporary().unwrap()), None, 0);
    let other_format = pb::Snapshot {
        format: 2,
        ..snapshot.clone()
    };
    assert_eq!(
        offer(&fresh.app, &other_format, &hash2),
        OfferResult::RejectFormat as i32
    );
    let short = pb::Snapshot {
        metadata: snapshot.metadata[..31].to_vec().into(),
        ..snapshot.clone()
    };
    assert_eq!(
        offer(&fresh.app, &short, &hash2),
        OfferResult::Reject as i32
    );
    // A chunk applied with no snapshot offered.
    assert_eq!(
        apply(&fresh.app, 0, chunks[0].clone()).result,
        ApplyResult::Abort as i32
    );
}

/// A snapshot's chunks are refused when a blob is not the content its key
/// names, or keys repeat, whatever hashes the offering peer gave them.
#[test]
fn a_chunk_with_a_forged_blob_or_keys_out_of_order_is_refused() {
    use crate::store::snapshot::{read_chunk, RestoreError};
    use crate::store::{blob_key, Changes};
    let record = |key: &[u8], value: &[u8]| {
        [
            &(key.len() as u32).to_be_bytes()[..],
            key,
            &(value.len() as u32).to_be_bytes()[..],
            value,
        ]
        .concat()
    };
    let mut pairs = Changes::new();
    let forged = record(&blob_key(&[1; 32]), b"not those bytes");
    assert_eq!(
        read_chunk(0, &forged, &mut pairs),
        Err(RestoreError::Blob(0))
    );
    let twice = [record(b"a/1", b"x"), record(b"a/1", b"y")].concat();
    assert_eq!(
        read_chunk(0, &twice, &mut Changes::new()),
        Err(RestoreError::Order(0))
    );
    let meta = record(b"\x00meta/height", &[0; 8]);
    assert_eq!(
        read_chunk(0, &meta, &mut Changes::new()),
        Err(RestoreError::Reserved(0))
    );
    let cut = record(b"a/1", b"xyz");
    assert!(matches!(
        read_chunk(0, &cut[..cut.len() - 1], &mut Changes::new()),
        Err(RestoreError::Malformed(0, _))
    ));
}
