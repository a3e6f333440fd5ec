//! The service in-process on 127.0.0.1:0, driven by a tonic client, with
//! real MNIST digits from an in-memory source.

use std::sync::{Arc, OnceLock};

use tokio::sync::oneshot;
use um_proto::tonic::transport::Channel;
use um_proto::tonic::Code;
use um_proto::um::dataset::v1::Split;
use um_proto::um::trainer::v1::trainer_client::TrainerClient;
use um_proto::um::trainer::v1::{self as proto, train_progress::Event};
use um_proto::um::training::v1::{Hyperparams, VerdictReason};

use super::*;
use crate::spec::ModelSpec;
use crate::step::run_step;
use crate::testutil;
use crate::weights::Weights;

const TRAINER: &str = "um1alicealicealicealicealicealicealice00";
const DATASET: &str = "mnist";
const VERSION: u64 = 3;

struct Fixture {
    spec: ModelSpec,
    base: Vec<u8>,
    honest: Vec<u8>,
    honest_train_loss: f64,
    root: [u8; 32],
}

fn spec_json() -> &'static str {
    r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#
}

fn hyperparams() -> Hyperparams {
    Hyperparams {
        learning_rate: "0.1".into(),
        batch_size: 32,
        local_steps: 6,
        verification_tolerance: "0.000001".into(),
        min_improvement: "0.001".into(),
        reward_per_update: "1000000".into(),
        reward_halving_interval: 0,
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let spec = ModelSpec::parse(spec_json()).unwrap();
        let base = Weights::init(&spec, 4).encode();
        let params = crate::Hyperparams::from_proto(&hyperparams())
            .unwrap()
            .train_params()
            .unwrap();
        let out = run_step(
            &StepRequest {
                spec: &spec,
                base_weights: &base,
                trainer: TRAINER,
                nonce: 1,
                params,
                dataset: testutil::small_mnist(),
            },
            Device::Cpu,
        )
        .unwrap();
        Fixture {
            spec,
            base,
            honest: out.weights,
            honest_train_loss: out.mean_train_loss,
            root: testutil::small_mnist().root(),
        }
    })
}

/// A running service and a client of it; the server stops on drop.
struct Running {
    client: TrainerClient<Channel>,
    source: Arc<MemorySource>,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let source = Arc::new(MemorySource::new());
    source.add_dataset(DATASET, VERSION, testutil::small_mnist().clone());
    let service = TrainerService::new(source.clone(), Device::Cpu);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(service.serve(listener, async {
        let _ = stopped.await;
    }));
    let client = TrainerClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    Running {
        client,
        source,
        _stop: stop,
    }
}

fn step(nonce: u64) -> proto::TrainingStep {
    let f = fixture();
    proto::TrainingStep {
        model_id: "mnist-mlp".into(),
        spec_json: spec_json().into(),
        hyperparams: Some(hyperparams()),
        base_version: 0,
        base_weights_sha256: crate::sha256(&f.base).to_vec(),
        base_weights: f.base.clone(),
        dataset_id: DATASET.into(),
        dataset_version: VERSION,
        dataset_root: f.root.to_vec(),
        trainer: TRAINER.into(),
        nonce,
        round_shard: None,
    }
}

fn verify_request(claimed: &[u8]) -> proto::VerifyRequest {
    proto::VerifyRequest {
        update_id: 7,
        step: Some(step(1)),
        claimed_weights_sha256: crate::sha256(claimed).to_vec(),
        claimed_weights: claimed.to_vec(),
        claimed_train_loss: 1.0,
        claimed_validation_loss: 1.0,
        base_validation_loss: None,
        ..Default::default()
    }
}

fn edited(f: impl FnOnce(&mut Weights)) -> Vec<u8> {
    let fx = fixture();
    let mut w = Weights::decode(&fx.spec, &fx.honest).unwrap();
    f(&mut w);
    w.encode()
}

async fn status(r: &mut Running) -> proto::StatusResponse {
    r.client
        .status(proto::StatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_gives_verdicts_on_claims_and_errors_on_everything_else() {
    let f = fixture();
    let mut r = start().await;
    let before = status(&mut r).await;
    assert_eq!((before.verified, before.failed, before.queued), (0, 0, 0));

    // Honest: re-executed bit for bit on the CPU, and it learned something.
    let v = r
        .client
        .verify(verify_request(&f.honest))
        .await
        .unwrap()
        .into_inner();
    assert!(v.accept, "{v:?}");
    assert_eq!(v.reason, VerdictReason::Ok as i32);
    assert_eq!(v.relative_distance, 0.0);
    assert_eq!(v.measured_train_loss, f.honest_train_loss as f32);
    assert!(v.measured_validation_loss < v.base_validation_loss, "{v:?}");
    assert!((0.0..=1.0).contains(&v.measured_validation_accuracy));
    assert_eq!(v.device, "cpu");
    assert_eq!(v.detail, "accepted");
    assert!(v.total_ms >= v.reexecute_ms + v.evaluate_ms, "{v:?}");

    // One value moved: not what the claimed batch gives.
    let tampered = edited(|w| w.tensors[0].data[100] += 0.01);
    let v = r
        .client
        .verify(verify_request(&tampered))
        .await
        .unwrap()
        .into_inner();
    assert!(!v.accept);
    assert_eq!(v.reason, VerdictReason::WeightsMismatch as i32, "{v:?}");
    assert!(v.relative_distance > 1e-6, "{v:?}");
    assert!(v.detail.contains("relative L2 distance"), "{}", v.detail);

    // NaN, garbage and wrong shapes are verdicts too (the trainer's fault).
    let nan = edited(|w| w.tensors[1].data[0] = f32::NAN);
    let other_spec =
        ModelSpec::parse(r#"{"kind":"mlp","input":[784],"hidden":[16],"classes":10}"#).unwrap();
    for (claimed, reason) in [
        (nan, VerdictReason::NonFinite),
        (b"not safetensors".to_vec(), VerdictReason::MalformedWeights),
        (
            Weights::init(&other_spec, 1).encode(),
            VerdictReason::ShapeMismatch,
        ),
    ] {
        let v = r
            .client
            .verify(verify_request(&claimed))
            .await
            .unwrap()
            .into_inner();
        assert!(!v.accept);
        assert_eq!(v.reason, reason as i32, "{v:?}");
        assert_eq!(v.relative_distance, 0.0, "stopped before re-execution");
    }

    // The chain's record of the base loss is what the improvement is measured against.
    let mut req = verify_request(&f.honest);
    req.base_validation_loss = Some(0.05);
    let v = r.client.verify(req).await.unwrap().into_inner();
    assert_eq!(
        v.reason,
        VerdictReason::InsufficientImprovement as i32,
        "{v:?}"
    );
    assert_eq!(v.base_validation_loss, 0.05);

    // Weights left out of the request are fetched by hash from the source.
    let sha = r.source.add_weights(f.honest.clone());
    let mut req = verify_request(&f.honest);
    req.claimed_weights.clear();
    assert_eq!(req.claimed_weights_sha256, sha.to_vec());
    let v = r.client.verify(req).await.unwrap().into_inner();
    assert!(v.accept, "{v:?}");
    let verdicts = 7;

    // Not the trainer's fault: errors, so that the validator abstains.
    let mut wrong_root = verify_request(&f.honest);
    wrong_root.step.as_mut().unwrap().dataset_root[0] ^= 1;
    let mut unknown_version = verify_request(&f.honest);
    unknown_version.step.as_mut().unwrap().dataset_version = 99;
    let mut bad_base_hash = verify_request(&f.honest);
    bad_base_hash.step.as_mut().unwrap().base_weights_sha256[0] ^= 1;
    let mut missing_base = verify_request(&f.honest);
    missing_base.step.as_mut().unwrap().base_weights.clear();
    let mut no_step = verify_request(&f.honest);
    no_step.step = None;
    let mut bad_tolerance = verify_request(&f.honest);
    bad_tolerance
        .step
        .as_mut()
        .unwrap()
        .hyperparams
        .as_mut()
        .unwrap()
        .verification_tolerance = "-1".into();
    let mut unclaimed = verify_request(&f.honest);
    unclaimed.claimed_weights.clear();
    unclaimed.claimed_weights_sha256.clear();
    // Issue 13, finding 14: each factor within its bound, the product
    // (100,000 steps of 65,536 samples) years of work for the one slot.
    let mut endless = verify_request(&f.honest);
    {
        let hyperparams = endless.step.as_mut().unwrap().hyperparams.as_mut().unwrap();
        hyperparams.local_steps = 100_000;
        hyperparams.batch_size = 65_536;
    }
    let cases = [
        (wrong_root, Code::FailedPrecondition, "root"),
        (unknown_version, Code::FailedPrecondition, "version 99"),
        (bad_base_hash, Code::InvalidArgument, "base weights hash"),
        (missing_base, Code::FailedPrecondition, "base weights"),
        (no_step, Code::InvalidArgument, "no step"),
        (
            bad_tolerance,
            Code::InvalidArgument,
            "verification_tolerance",
        ),
        (unclaimed, Code::InvalidArgument, "claimed_weights"),
        (endless, Code::InvalidArgument, "units of work"),
    ];
    let errors = cases.len() as u64;
    for (req, code, needle) in cases {
        let err = r.client.verify(req).await.unwrap_err();
        assert_eq!(err.code(), code, "{err:?}");
        assert!(err.message().contains(needle), "{err:?}");
    }

    let after = status(&mut r).await;
    assert_eq!(after.verified, verdicts);
    assert_eq!(after.failed, errors);
    assert_eq!(after.queued, 0);
    assert_eq!((after.trained, after.evaluated), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_and_status() {
    let f = fixture();
    let mut r = start().await;
    let request = |weights: &[u8], split: Split| proto::EvaluateRequest {
        model_id: "mnist-mlp".into(),
        spec_json: spec_json().into(),
        weights_sha256: crate::sha256(weights).to_vec(),
        weights: weights.to_vec(),
        dataset_id: DATASET.into(),
        dataset_version: VERSION,
        dataset_root: f.root.to_vec(),
        split: split as i32,
    };
    let base = r
        .client
        .evaluate(request(&f.base, Split::Unspecified))
        .await
        .unwrap()
        .into_inner();
    let honest = r
        .client
        .evaluate(request(&f.honest, Split::Validation))
        .await
        .unwrap()
        .into_inner();
    let train = r
        .client
        .evaluate(request(&f.honest, Split::Train))
        .await
        .unwrap()
        .into_inner();
    let ds = testutil::small_mnist();
    assert_eq!(base.examples, ds.validation().len() as u64);
    assert_eq!(train.examples, ds.train().len() as u64);
    // Untrained: about ln(10) and chance; six steps already do better.
    assert!((base.loss - 10f32.ln()).abs() < 0.3, "{base:?}");
    assert!(honest.loss < base.loss, "{honest:?} vs {base:?}");
    assert!(honest.accuracy > base.accuracy && honest.accuracy <= 1.0);
    assert!(train.loss.is_finite() && train.loss > 0.0);
    assert_eq!(honest.device, "cpu");

    let mut bad = request(&f.honest, Split::Validation);
    bad.weights = b"junk".to_vec();
    let err = r.client.evaluate(bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    let s = status(&mut r).await;
    assert_eq!(s.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(s.device, "cpu");
    assert_eq!(s.torch_version, "2.13.0");
    assert_eq!(s.cuda_available, tch::Cuda::is_available());
    assert!(s.threads >= 1);
    assert_eq!((s.evaluated, s.failed, s.queued), (3, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn train_streams_every_step_then_the_result() {
    let f = fixture();
    let mut r = start().await;
    let mut stream = r
        .client
        .train(proto::TrainRequest {
            step: Some(step(1)),
            omit_weights: false,
            checkpoint_interval: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut steps = Vec::new();
    let mut result = None;
    while let Some(message) = stream.message().await.unwrap() {
        match message.event.unwrap() {
            Event::Step(p) => {
                assert!(result.is_none(), "the result comes last");
                steps.push(p);
            }
            Event::Result(t) => result = Some(t),
        }
    }
    assert_eq!(
        steps.iter().map(|p| p.step).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert!(steps
        .iter()
        .all(|p| p.total_steps == 6 && p.loss.is_finite()));
    let result = result.unwrap();
    // Same step as the fixture's: the same bytes.
    assert_eq!(result.weights, f.honest);
    assert_eq!(result.weights_sha256, crate::sha256(&f.honest).to_vec());
    assert_eq!(result.train_loss, f.honest_train_loss as f32);
    let mean = steps.iter().map(|p| f64::from(p.loss)).sum::<f64>() / 6.0;
    assert!((f64::from(result.train_loss) - mean).abs() < 1e-5);
    assert!(result.validation_loss > 0.0 && result.validation_accuracy > 0.1);

    // Another nonce, weights left out of the answer.
    let mut stream = r
        .client
        .train(proto::TrainRequest {
            step: Some(step(2)),
            omit_weights: true,
            checkpoint_interval: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = stream.message().await.unwrap() {
        last = message.event;
    }
    let Some(Event::Result(other)) = last else {
        panic!("{last:?}")
    };
    assert!(other.weights.is_empty());
    assert_ne!(other.weights_sha256, result.weights_sha256);

    // A wrong root ends the stream with an error.
    let mut wrong = step(1);
    wrong.dataset_root[5] ^= 1;
    let mut stream = r
        .client
        .train(proto::TrainRequest {
            step: Some(wrong),
            omit_weights: true,
            checkpoint_interval: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let err = stream.message().await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    let s = status(&mut r).await;
    assert_eq!((s.trained, s.failed, s.queued), (2, 1, 0));
}

/// Issue 16: a round's contribution trained and verified through the
/// service, and a round's merged candidate judged on a held-out subset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_contributions_and_candidates() {
    let f = fixture();
    let mut r = start().await;
    let shard = proto::RoundShard {
        round: 2,
        round_seed: vec![0x33; 32],
        shard: 1,
        shards: 3,
    };
    // The trainer's address does not enter a contribution's batches.
    let mut contribution = step(0);
    contribution.trainer.clear();
    contribution.round_shard = Some(shard.clone());
    let mut stream = r
        .client
        .train(proto::TrainRequest {
            step: Some(contribution.clone()),
            omit_weights: false,
            checkpoint_interval: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(message) = stream.message().await.unwrap() {
        last = message.event;
    }
    let Some(Event::Result(trained)) = last else {
        panic!("{last:?}")
    };
    let params = crate::Hyperparams::from_proto(&hyperparams())
        .unwrap()
        .train_params()
        .unwrap();
    let expected = crate::step::run_round_step(
        &StepRequest {
            spec: &f.spec,
            base_weights: &f.base,
            trainer: TRAINER,
            nonce: 77,
            params,
            dataset: testutil::small_mnist(),
        },
        &crate::step::RoundShard {
            round: 2,
            seed: [0x33; 32],
            shard: 1,
            shards: 3,
        },
        Device::Cpu,
    )
    .unwrap();
    assert_eq!(trained.weights, expected.weights);
    assert_ne!(trained.weights, f.honest);

    // Verified as a contribution: accepted on reproduction, even against a
    // recorded base loss it does not beat.
    let verify = |claimed: &[u8], step: proto::TrainingStep, mode: proto::VerifyMode| {
        let mut req = verify_request(claimed);
        req.step = Some(step);
        req.mode = mode as i32;
        req
    };
    let mut req = verify(
        &trained.weights,
        contribution.clone(),
        proto::VerifyMode::Contribution,
    );
    req.base_validation_loss = Some(0.01);
    let v = r.client.verify(req.clone()).await.unwrap().into_inner();
    assert!(v.accept, "{v:?}");
    assert_eq!(v.reason, VerdictReason::Ok as i32);
    assert_eq!(v.relative_distance, 0.0);
    assert_eq!(v.base_validation_loss, 0.01);
    assert!(v.measured_validation_loss > 0.01);
    // The same request as a single update: not enough improvement.
    req.mode = proto::VerifyMode::Update as i32;
    let v = r.client.verify(req).await.unwrap().into_inner();
    assert_eq!(
        v.reason,
        VerdictReason::InsufficientImprovement as i32,
        "{v:?}"
    );
    // Claimed for another shard: a mismatch.
    let mut other = contribution.clone();
    other.round_shard.as_mut().unwrap().shard = 2;
    let v = r
        .client
        .verify(verify(
            &trained.weights,
            other,
            proto::VerifyMode::Contribution,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.reason, VerdictReason::WeightsMismatch as i32, "{v:?}");

    // A candidate: nothing re-executed, no trainer needed.
    let mut merge = step(0);
    merge.trainer.clear();
    let candidate = |claimed: &[u8], seed: Vec<u8>, samples| {
        let mut req = verify(claimed, merge.clone(), proto::VerifyMode::Candidate);
        req.eval_seed = seed;
        req.eval_samples = samples;
        req
    };
    let v = r
        .client
        .verify(candidate(&f.honest, vec![7; 32], 200))
        .await
        .unwrap()
        .into_inner();
    assert!(v.accept, "{v:?}");
    assert!(v.measured_validation_loss < v.base_validation_loss, "{v:?}");
    assert_eq!((v.relative_distance, v.measured_train_loss), (0.0, 0.0));
    let v = r
        .client
        .verify(candidate(&f.base, vec![7; 32], 200))
        .await
        .unwrap()
        .into_inner();
    assert!(!v.accept);
    assert_eq!(
        v.reason,
        VerdictReason::InsufficientImprovement as i32,
        "{v:?}"
    );
    assert_eq!(v.measured_validation_loss, v.base_validation_loss);

    // Malformed round fields are the caller's mistake.
    let mut bad_seed = contribution.clone();
    bad_seed.round_shard.as_mut().unwrap().round_seed = vec![1; 8];
    let mut bad_shard = contribution;
    bad_shard.round_shard.as_mut().unwrap().shard = 3;
    let mut unknown_mode = verify_request(&f.honest);
    unknown_mode.mode = 9;
    let cases = [
        verify(&trained.weights, bad_seed, proto::VerifyMode::Contribution),
        verify(&trained.weights, bad_shard, proto::VerifyMode::Contribution),
        candidate(&f.honest, vec![7; 5], 200),
        unknown_mode,
    ];
    for req in cases {
        let err = r.client.verify(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
    let s = status(&mut r).await;
    assert_eq!((s.trained, s.verified, s.failed), (1, 5, 4));
}

/// Issue 16, sampled verification: Train returns the checkpoints, Verify
/// re-executes the segments it is given and names the one that fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_segments() {
    let f = fixture();
    let mut r = start().await;
    let mut contribution = step(0);
    contribution.trainer.clear();
    contribution.round_shard = Some(proto::RoundShard {
        round: 5,
        round_seed: vec![0x66; 32],
        shard: 0,
        shards: 2,
    });
    let train = |interval: u32| proto::TrainRequest {
        step: Some(contribution.clone()),
        omit_weights: false,
        checkpoint_interval: interval,
    };
    // 6 steps every 4: segments (0, 4) and (4, 2), one checkpoint.
    let mut stream = r.client.train(train(4)).await.unwrap().into_inner();
    let mut last = None;
    while let Some(message) = stream.message().await.unwrap() {
        last = message.event;
    }
    let Some(Event::Result(trained)) = last else {
        panic!("{last:?}")
    };
    let params = crate::Hyperparams::from_proto(&hyperparams())
        .unwrap()
        .train_params()
        .unwrap();
    let request = StepRequest {
        spec: &f.spec,
        base_weights: &f.base,
        trainer: "",
        nonce: 0,
        params,
        dataset: testutil::small_mnist(),
    };
    let shard = crate::step::RoundShard {
        round: 5,
        seed: [0x66; 32],
        shard: 0,
        shards: 2,
    };
    let expected = crate::step::run_step_checkpointed(
        &request,
        Some(&shard),
        4,
        Device::Cpu,
        crate::step::MAX_STEP_TIME,
        |_, _| std::ops::ControlFlow::Continue(()),
    )
    .unwrap();
    assert_eq!(trained.checkpoints.len(), 1);
    assert_eq!(trained.checkpoints, expected.checkpoints);
    assert_eq!(trained.weights, expected.weights);

    let segment = |index: u32, start: &[u8], end: &[u8]| {
        let (first_step, steps) = crate::step::segment_bounds(6, 4, index);
        proto::Segment {
            index,
            first_step,
            steps,
            start_weights: start.to_vec(),
            end_weights: end.to_vec(),
            // umd fills the weights of served checkpoints before it asks.
            ..Default::default()
        }
    };
    let verify = |claimed: &[u8], segments: Vec<proto::Segment>| {
        let mut req = verify_request(claimed);
        req.step = Some(contribution.clone());
        req.mode = proto::VerifyMode::Contribution as i32;
        req.segments = segments;
        req
    };
    let checkpoint = &trained.checkpoints[0];
    let honest = r
        .client
        .verify(verify(&trained.weights, vec![segment(1, checkpoint, &[])]))
        .await
        .unwrap()
        .into_inner();
    assert!(honest.accept, "{honest:?}");
    assert_eq!(honest.segments_checked, [1]);
    assert_eq!(honest.failed_segment, None);

    // The checkpoint faked: segment 0 fails, segment 1 (computed honestly
    // from the fake) passes.
    let mut w = Weights::decode(&f.spec, checkpoint).unwrap();
    w.tensors[2].data[5] -= 0.1;
    let fake = w.encode();
    let fake_end = crate::step::run_segment(&request, Some(&shard), 4, 2, &fake, Device::Cpu)
        .unwrap()
        .weights;
    let caught = r
        .client
        .verify(verify(
            &fake_end,
            vec![segment(0, &[], &fake), segment(1, &fake, &[])],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!caught.accept);
    assert_eq!(
        caught.reason,
        VerdictReason::WeightsMismatch as i32,
        "{caught:?}"
    );
    assert_eq!(caught.failed_segment, Some(0));
    assert_eq!(caught.segments_checked, [0]);
    assert!(caught.relative_distance > 1e-6, "{caught:?}");
    let missed = r
        .client
        .verify(verify(&fake_end, vec![segment(1, &fake, &[])]))
        .await
        .unwrap()
        .into_inner();
    assert!(missed.accept, "{missed:?}");
    assert_eq!(missed.segments_checked, [1]);

    // Malformed segment lists, and checkpoints too many to answer, are the
    // caller's mistake.
    let mut update = verify(&trained.weights, vec![segment(1, checkpoint, &[])]);
    update.mode = proto::VerifyMode::Update as i32;
    // A served checkpoint named by hash whose bytes umd did not fill in (or
    // filled in wrong) is not re-executed from the base instead.
    let unfilled = |start: &[u8]| {
        let mut s = segment(1, start, &[]);
        s.start_sha256 = crate::sha256(checkpoint).to_vec();
        verify(&trained.weights, vec![s])
    };
    let cases = [
        verify(
            &trained.weights,
            vec![segment(1, checkpoint, &[]), segment(0, &[], checkpoint)],
        ),
        verify(&trained.weights, vec![segment(2, checkpoint, &[])]),
        update,
        unfilled(&[]),
        unfilled(&fake),
    ];
    for req in cases {
        let err = r.client.verify(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains("segment"), "{err:?}");
    }
    // 3,000 steps with a checkpoint after each: about 300 MB of weights.
    let mut huge = train(1);
    huge.step
        .as_mut()
        .unwrap()
        .hyperparams
        .as_mut()
        .unwrap()
        .local_steps = 3000;
    let err = r.client.train(huge).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("checkpoints"), "{err:?}");

    let s = status(&mut r).await;
    assert_eq!((s.trained, s.verified, s.failed), (1, 3, 6));
}

/// Issue 20: Predict runs cached models beside the job queue: class
/// probabilities of a digit (the evaluation's argmax), text for a
/// language model, clear errors for the wrong input, unknown weights or a
/// hash that does not match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_classifies_digits_and_continues_prompts() {
    let f = fixture();
    let mut r = start().await;
    // The honest weights only by hash: the source has them.
    let sha = r.source.add_weights(f.honest.clone());
    let digit = testutil::small_mnist().validation()[0].clone();
    let request = |input| proto::PredictRequest {
        model_id: "mnist-mlp".into(),
        spec_json: spec_json().into(),
        weights_sha256: sha.to_vec(),
        weights: Vec::new(),
        input: Some(input),
    };
    let pixels = proto::predict_request::Input::Pixels(digit.pixels.to_vec());
    let first = r
        .client
        .predict(request(pixels.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.cached, "loaded on first use");
    assert_eq!(first.probabilities.len(), 10);
    let sum: f32 = first.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    let model = Model::from_safetensors(&f.spec, &f.honest, Device::Cpu).unwrap();
    let (xs, _) = crate::dataset::batch_tensors([&digit], Device::Cpu);
    let argmax = model.forward(&xs).argmax(-1, false).int64_value(&[0]);
    assert_eq!(i64::from(first.predicted_class), argmax);
    let again = r
        .client
        .predict(request(pixels.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(again.cached, "the second prediction uses the loaded model");
    assert_eq!(again.probabilities, first.probabilities);

    // Wrong input for the lineage, too few pixels, no input.
    let text = proto::predict_request::Input::Text(proto::TextPrompt {
        prompt: b"ROMEO.".to_vec(),
        tokens: 5,
        temperature: 0.8,
        seed: 1,
    });
    let err = r.client.predict(request(text)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("classifies images"), "{err:?}");
    let short = proto::predict_request::Input::Pixels(vec![0; 700]);
    let err = r.client.predict(request(short)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let mut none = request(pixels.clone());
    none.input = None;
    let err = r.client.predict(none).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // Weights nobody has, and bytes that are not what their hash says.
    let mut unknown = request(pixels.clone());
    unknown.weights_sha256 = vec![7; 32];
    let err = r.client.predict(unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let mut lying = request(pixels.clone());
    lying.weights_sha256 = vec![8; 32];
    lying.weights = f.base.clone();
    let err = r.client.predict(lying).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // A language model continues a prompt as `um-trainer sample` does.
    let gpt = testutil::gpt_spec();
    let lm = Model::init(&gpt, 3, Device::Cpu).unwrap();
    let lm_weights = lm.to_safetensors();
    let prompt = proto::TextPrompt {
        prompt: b"KING.".to_vec(),
        tokens: 16,
        temperature: 0.0,
        seed: 0,
    };
    let answer = r
        .client
        .predict(proto::PredictRequest {
            model_id: "lm".into(),
            spec_json: gpt.to_json(),
            weights_sha256: crate::sha256(&lm_weights).to_vec(),
            weights: lm_weights.clone(),
            input: Some(proto::predict_request::Input::Text(prompt.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    let expected = crate::sample::generate(
        &lm,
        b"KING.",
        &SampleParams {
            tokens: 16,
            temperature: 0.0,
            seed: 0,
        },
    )
    .unwrap();
    assert_eq!(answer.text, expected);
    assert!(answer.probabilities.is_empty());
    let too_long = proto::TextPrompt {
        tokens: MAX_PREDICT_TOKENS + 1,
        ..prompt
    };
    let err = r
        .client
        .predict(proto::PredictRequest {
            model_id: "lm".into(),
            spec_json: gpt.to_json(),
            weights_sha256: crate::sha256(&lm_weights).to_vec(),
            weights: lm_weights,
            input: Some(proto::predict_request::Input::Text(too_long)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    let s = status(&mut r).await;
    assert_eq!(s.predicted, 3);
    assert_eq!(s.queued, 0, "predictions never wait in the job queue");
}
