//! The chain client against the fake chain of [`super::fake`].

use std::sync::Arc;

use um_proto::um::training::v1 as tr;

use super::fake::{FakeChain, Paging};
use super::*;
use crate::service::{ChainSource, DatasetSource, SourceError};
use crate::testutil;
use crate::weights::Weights;

const SPEC: &str = r#"{"kind":"mlp","input":[784],"hidden":[8],"classes":10}"#;

pub fn hyper() -> tr::Hyperparams {
    tr::Hyperparams {
        learning_rate: "0.1".into(),
        batch_size: 32,
        local_steps: 3,
        verification_tolerance: "0.000001".into(),
        min_improvement: "0".into(),
        reward_per_update: "1000000".into(),
        reward_halving_interval: 0,
    }
}

/// 750 real digits: three pages of 300 at most.
fn dataset() -> Dataset {
    testutil::small_mnist().truncated(660, 90)
}

fn fake() -> FakeChain {
    let spec = crate::spec::ModelSpec::parse(SPEC).unwrap();
    FakeChain::start(
        "mnist-mlp",
        SPEC,
        hyper(),
        Weights::init(&spec, 1).encode(),
        &dataset(),
    )
}

#[test]
fn queries_decode_and_name_what_is_missing() {
    let fake = fake();
    let chain = ChainClient::new(&fake.url);
    assert_eq!(chain.chain_id().unwrap(), "fake-chain");
    let lineage = chain.lineage("mnist-mlp").unwrap();
    assert_eq!(lineage.dataset_id, "mnist");
    assert_eq!(lineage.hyperparams.unwrap().local_steps, 3);
    let head = chain.head("mnist-mlp").unwrap();
    assert_eq!(head.version, 0);
    let weights = chain.weights(&head.weights_sha256).unwrap();
    assert_eq!(crate::sha256(&weights).to_vec(), head.weights_sha256);

    let err = chain.lineage("nope").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("model \"nope\""), "{err}");
    let err = chain.dataset("mnist", Some(7)).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // Rounds: none while the lineage advances one update at a time.
    let err = chain.round("mnist-mlp", 0).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("current round"), "{err}");
    fake.open_rounds(4, 10);
    let round = chain.round("mnist-mlp", 0).unwrap();
    assert_eq!((round.number, round.base_version), (1, 0));
    assert_eq!(round.base_weights_sha256, head.weights_sha256);
    assert_eq!(round.seed.len(), 32);
    assert_eq!(round.params.unwrap().max_contributions, 4);
    assert_eq!(chain.round("mnist-mlp", 1).unwrap().number, 1);
    let err = chain.round("mnist-mlp", 2).unwrap_err();
    assert!(
        err.to_string().contains("round 2 of \"mnist-mlp\""),
        "{err}"
    );

    fake.state().corrupt_weights = true;
    let err = chain.weights(&head.weights_sha256).unwrap_err();
    assert!(matches!(err, ChainError::WeightsHash { .. }), "{err:?}");

    let down = ChainClient::new("http://127.0.0.1:9");
    let err = down.lineage("mnist-mlp").unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains("chain unreachable"), "{err}");
}

#[test]
fn records_follow_cursors_or_offsets_and_must_match_the_root() {
    let expected = dataset();
    for paging in [Paging::Cursor, Paging::OffsetOnly] {
        let fake = fake();
        fake.state().paging = Some(paging);
        let chain = ChainClient::new(&fake.url);
        let meta = chain.dataset("mnist", None).unwrap();
        assert_eq!(meta.version, 2);
        let loaded = chain
            .load_dataset("mnist", 2, &meta.root, meta.record_count)
            .unwrap();
        assert_eq!(loaded.train(), expected.train(), "{paging:?}");
        assert_eq!(loaded.validation(), expected.validation(), "{paging:?}");
        assert_eq!(fake.count(RECORDS_PATH), 3, "750 records in pages of 300");

        let mut wrong = meta.root.clone();
        wrong[0] ^= 1;
        let err = chain
            .load_dataset("mnist", 2, &wrong, meta.record_count)
            .unwrap_err();
        assert!(matches!(err, ChainError::RootMismatch { .. }), "{err:?}");

        // Issue 13, finding 14: a node that serves more than it states is
        // cut off before the records pile up (and before the root check).
        let err = chain
            .load_dataset("mnist", 2, &meta.root, meta.record_count - 1)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("more than the 749 records it states"),
            "{err}"
        );
        let err = chain
            .load_dataset("mnist", 2, &meta.root, MAX_DATASET_RECORDS + 1)
            .unwrap_err();
        assert!(
            err.to_string().contains("more than this trainer takes"),
            "{err}"
        );
    }

    // A record whose content does not match its hash is refused by index.
    let fake = fake();
    fake.state().records[400].label ^= 1;
    let err = ChainClient::new(&fake.url)
        .records("mnist", 2, 750)
        .unwrap_err();
    assert!(
        matches!(err, ChainError::Record { index: 400, .. }),
        "{err:?}"
    );
}

#[test]
fn chain_source_caches_by_root_and_refuses_other_roots() {
    let fake = fake();
    let source = ChainSource::new(ChainClient::new(&fake.url));
    let root: [u8; 32] = dataset().root();
    let first = source.dataset("mnist", 2, Some(&root)).unwrap();
    let again = source.dataset("mnist", 2, None).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "served from the cache");
    assert_eq!(fake.count(RECORDS_PATH), 3, "records fetched once");
    assert_eq!(first.dataset.len(), 750);

    let mut other = root;
    other[31] ^= 1;
    let err = source.dataset("mnist", 2, Some(&other)).unwrap_err();
    assert!(matches!(err, SourceError::RootMismatch { .. }), "{err}");
    assert!(matches!(
        source.dataset("mnist", 5, None),
        Err(SourceError::NotFound(_))
    ));
    let head = ChainClient::new(&fake.url).head("mnist-mlp").unwrap();
    let sha: [u8; 32] = head.weights_sha256.as_slice().try_into().unwrap();
    assert!(source.weights(&sha).is_ok());
}

#[test]
fn keys_come_from_the_umd_home() {
    let home = tempfile::tempdir().unwrap();
    let added = Keyring::new(&home.path().join("keys"))
        .add("alice", None)
        .unwrap();
    assert_eq!(
        load_key(home.path(), "alice", Backend::Test)
            .unwrap()
            .address,
        added.address
    );
    // A plain-text key is used only when the test backend is asked for.
    let err = load_key(home.path(), "alice", Backend::File).err().unwrap();
    assert!(err.to_string().contains("--keyring-backend"), "{err}");
    let err = load_key(home.path(), "bob", Backend::Test).err().unwrap();
    assert!(matches!(err, ChainError::KeyMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("\"bob\""), "{err}");
}

/// Found by `make reliability` (crash anywhere): a trainer whose node's umd
/// was SIGKILLed got "Internal error: read message: EOF" from CometBFT's
/// RPC and gave up although told never to; that is the app being away, to
/// wait out like an unreachable node.
#[test]
fn an_rpc_error_from_a_dead_app_is_unreachable_not_fatal() {
    let rpc_error = |message: &str| {
        ChainError::Client(ClientError::RpcError {
            method: "abci_query".into(),
            message: message.into(),
        })
    };
    assert!(rpc_error("Internal error: read message: EOF").is_unreachable());
    assert!(rpc_error(
        "Internal error: read message: read tcp 10.212.62.2:38950->10.212.62.2:26658: read: connection reset by peer"
    )
    .is_unreachable());
    assert!(!rpc_error("Invalid params: height must be greater than 0").is_unreachable());
    assert!(!ChainError::KeyMissing {
        name: "bob".into(),
        dir: "keys".into()
    }
    .is_unreachable());
}

/// The fake takes a round's checkpoints as umd does: N − 1 of them in the
/// tx, or N − 1 hashes with the source that serves them, never a mix.
#[test]
fn the_fake_takes_checkpoints_in_the_tx_or_served_never_mixed() {
    let fake = fake();
    // 3 local steps, a checkpoint every step: 2 checkpoints.
    fake.open_rounds_with_checkpoints(4, 10, 1);
    let chain = ChainClient::new(&fake.url);
    let home = tempfile::tempdir().unwrap();
    Keyring::new(&home.path().join("keys"))
        .add("alice", None)
        .unwrap();
    let key = load_key(home.path(), "alice", Backend::Test).unwrap();
    let head = chain.head("mnist-mlp").unwrap();
    let (one, two) = (vec![1u8; 32], vec![2u8; 32]);
    let msg = |shard: u32| tr::MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: "mnist-mlp".into(),
        dataset_version: 2,
        weights: chain.weights(&head.weights_sha256).unwrap(),
        round: 1,
        shard,
        ..Default::default()
    };
    let source = "http://127.0.0.1:9300".to_string();
    let refused = [
        // Both forms.
        tr::MsgSubmitUpdate {
            checkpoints: vec![b"a".to_vec(), b"b".to_vec()],
            checkpoint_hashes: vec![one.clone(), two.clone()],
            checkpoint_source: source.clone(),
            ..msg(0)
        },
        tr::MsgSubmitUpdate {
            checkpoints: vec![b"a".to_vec(), b"b".to_vec()],
            checkpoint_source: source.clone(),
            ..msg(0)
        },
        // Hashes without a source, or with one that is not host:port.
        tr::MsgSubmitUpdate {
            checkpoint_hashes: vec![one.clone(), two.clone()],
            ..msg(0)
        },
        tr::MsgSubmitUpdate {
            checkpoint_hashes: vec![one.clone(), two.clone()],
            checkpoint_source: format!("{source}/x"),
            ..msg(0)
        },
        // A hash that is no SHA-256, or a count other than N − 1.
        tr::MsgSubmitUpdate {
            checkpoint_hashes: vec![one.clone(), vec![2u8; 31]],
            checkpoint_source: source.clone(),
            ..msg(0)
        },
        tr::MsgSubmitUpdate {
            checkpoint_hashes: vec![one.clone()],
            checkpoint_source: source.clone(),
            ..msg(0)
        },
        tr::MsgSubmitUpdate {
            checkpoints: vec![b"a".to_vec()],
            ..msg(0)
        },
    ];
    for msg in &refused {
        let result = chain.submit_update(&key, msg, 1).unwrap();
        assert!(!result.is_ok(), "{msg:?}");
        assert!(!result.log.is_empty(), "{result:?}");
    }
    let served = tr::MsgSubmitUpdate {
        checkpoint_hashes: vec![one.clone(), two.clone()],
        checkpoint_source: source.clone(),
        ..msg(3)
    };
    let result = chain.submit_update(&key, &served, 1).unwrap();
    assert!(result.is_ok(), "{result:?}");
    let update = chain
        .update(update_id(&result).unwrap())
        .unwrap()
        .update
        .unwrap();
    assert_eq!(update.checkpoint_hashes, [one, two]);
    assert_eq!(update.checkpoint_source, source);
}

/// The fake takes claims as umd does: one per trainer and round, on a
/// free shard of the current open round, from a bonded trainer; a claimed
/// shard then takes only its claimant's contribution.
#[test]
fn the_fake_takes_claims_by_umds_rules() {
    let fake = fake();
    let chain = ChainClient::new(&fake.url);
    let home = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(&home.path().join("keys"));
    keyring.add("alice", None).unwrap();
    keyring.add("bob", None).unwrap();
    let alice = load_key(home.path(), "alice", Backend::Test).unwrap();
    let bob = load_key(home.path(), "bob", Backend::Test).unwrap();
    let claim = |key: &Key, round: u64, shard: u32| {
        let msg = tr::MsgClaimShard {
            trainer: key.address.clone(),
            model_id: "mnist-mlp".into(),
            round,
            shard,
        };
        chain.claim_shard(key, &msg).unwrap()
    };
    let refused = |result: um_client::rpc::TxResult, log: &str| {
        assert!(!result.is_ok(), "{result:?}");
        assert!(result.log.contains(log), "{log:?} in {result:?}");
    };
    refused(claim(&alice, 1, 0), "does not train in rounds");

    fake.open_rounds(3, 10);
    refused(
        claim(&alice, 2, 0),
        "claim on round 2, but mnist-mlp is in round 1",
    );
    refused(
        claim(&alice, 1, 3),
        "shard 3 of a round of 3 shards (0 to 2)",
    );
    fake.state().unbonded.insert(bob.address.clone());
    refused(claim(&bob, 1, 2), "is not bonded");
    fake.state().unbonded.clear();

    let taken = claim(&alice, 1, 1);
    assert!(taken.is_ok(), "{taken:?}");
    let round = chain.round("mnist-mlp", 0).unwrap();
    assert_eq!(
        round.claims,
        [tr::ShardClaim {
            shard: 1,
            trainer: alice.address.clone(),
            height: taken.height,
        }]
    );
    assert_eq!(
        round.closes_height,
        taken.height + 10,
        "the claim starts the deadline"
    );
    assert!(round.shards.is_empty());
    refused(claim(&bob, 1, 1), "shard 1 of round 1 is taken");
    refused(claim(&alice, 1, 2), "already claimed shard 1 of round 1");

    let head = chain.head("mnist-mlp").unwrap();
    let update = |key: &Key, shard: u32| tr::MsgSubmitUpdate {
        trainer: key.address.clone(),
        model_id: "mnist-mlp".into(),
        dataset_version: 2,
        weights: [
            chain.weights(&head.weights_sha256).unwrap(),
            vec![shard as u8],
        ]
        .concat(),
        round: 1,
        shard,
        ..Default::default()
    };
    let submit = |msg: &tr::MsgSubmitUpdate, key: &Key| chain.submit_update(key, msg, 1).unwrap();
    refused(
        submit(&update(&bob, 1), &bob),
        &format!("shard 1 of round 1 is claimed by {}", alice.address),
    );
    refused(
        submit(&update(&alice, 0), &alice),
        &format!("{} claimed shard 1 of round 1, not shard 0", alice.address),
    );
    assert!(submit(&update(&alice, 1), &alice).is_ok());
    // Unclaimed shards still take anyone's contribution.
    assert!(submit(&update(&bob, 2), &bob).is_ok());
    refused(claim(&bob, 1, 0), "already contributed to round 1");

    let state = fake.state();
    assert!(state
        .claims_sent
        .iter()
        .all(|(_, gas)| *gas == CLAIM_SHARD_GAS));
    assert_eq!(state.gas_limits, [1; 4], "the submissions' own");
    let round = state.rounds.last().unwrap();
    assert_eq!(round.shards, [1, 2]);
    assert_eq!(round.claims.len(), 1);
}
