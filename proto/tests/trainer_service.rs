//! The generated tonic client and server of `um.trainer.v1.Trainer` talk to
//! each other over loopback, server streaming included. The mock only echoes
//! what the real um-trainer computes.

use std::net::SocketAddr;

use um_proto::tonic::codegen::tokio_stream::{self, wrappers::TcpListenerStream};
use um_proto::tonic::{self, transport::Server, Code, Request, Response, Status};
use um_proto::um::trainer::v1::trainer_client::TrainerClient;
use um_proto::um::trainer::v1::trainer_server::{Trainer, TrainerServer};
use um_proto::um::trainer::v1::{
    predict_request, train_progress, EvaluateRequest, EvaluateResponse, PredictRequest,
    PredictResponse, StatusRequest, StatusResponse, StepProgress, TrainProgress, TrainRequest,
    TrainResult, TrainingStep, VerifyRequest, VerifyResponse,
};
use um_proto::um::training::v1::{Hyperparams, VerdictReason};

/// The query services of both modules are generated as client and server
/// too (compile-time check).
#[allow(dead_code)]
fn query_services_exist<T, D>(channel: tonic::transport::Channel, training: T, dataset: D)
where
    T: um_proto::um::training::v1::query_server::Query,
    D: um_proto::um::dataset::v1::query_server::Query,
{
    use um_proto::um::{dataset, training};
    let _ = training::v1::query_client::QueryClient::new(channel.clone());
    let _ = dataset::v1::query_client::QueryClient::new(channel);
    let _ = training::v1::query_server::QueryServer::new(training);
    let _ = dataset::v1::query_server::QueryServer::new(dataset);
}

struct MockTrainer;

#[tonic::async_trait]
impl Trainer for MockTrainer {
    type TrainStream = tonic::codegen::BoxStream<TrainProgress>;

    async fn train(
        &self,
        request: Request<TrainRequest>,
    ) -> Result<Response<Self::TrainStream>, Status> {
        let step = request
            .into_inner()
            .step
            .ok_or_else(|| Status::invalid_argument("step is required"))?;
        let total = step.hyperparams.map(|h| h.local_steps).unwrap_or(0);
        let mut events: Vec<TrainProgress> = (1..=total)
            .map(|i| TrainProgress {
                event: Some(train_progress::Event::Step(StepProgress {
                    step: i,
                    total_steps: total,
                    loss: 1.0 / i as f32,
                    elapsed_ms: u64::from(i),
                })),
            })
            .collect();
        events.push(TrainProgress {
            event: Some(train_progress::Event::Result(TrainResult {
                weights_sha256: vec![0xEE; 32],
                weights: vec![1, 2, 3],
                train_loss: 0.5,
                validation_loss: 0.4,
                validation_accuracy: 0.9,
                device: "cpu".into(),
                train_ms: 4,
                evaluate_ms: 1,
                checkpoints: vec![vec![4, 5]],
            })),
        });
        let stream = tokio_stream::iter(events.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn verify(
        &self,
        request: Request<VerifyRequest>,
    ) -> Result<Response<VerifyResponse>, Status> {
        let request = request.into_inner();
        if request.claimed_weights.is_empty() {
            // A verifier failure is an error (the validator abstains), not a verdict.
            return Err(Status::unavailable("claimed weights not in cache"));
        }
        let reason = if request.claimed_weights.iter().all(|b| *b == 0) {
            VerdictReason::WeightsMismatch
        } else {
            VerdictReason::Ok
        };
        Ok(Response::new(VerifyResponse {
            accept: reason.is_accept(),
            reason: reason as i32,
            measured_validation_loss: 0.4,
            relative_distance: if reason.is_accept() { 0.0 } else { 1.0 },
            base_validation_loss: request.base_validation_loss.unwrap_or(0.5),
            device: "cpu".into(),
            ..Default::default()
        }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        Ok(Response::new(EvaluateResponse {
            loss: 0.4,
            accuracy: 0.9,
            examples: request.into_inner().dataset_version * 1000,
            device: "cpu".into(),
            evaluate_ms: 2,
        }))
    }

    async fn predict(
        &self,
        request: Request<PredictRequest>,
    ) -> Result<Response<PredictResponse>, Status> {
        // A mock: the class is the first pixel's value modulo 10.
        match request.into_inner().input {
            Some(predict_request::Input::Pixels(pixels)) if !pixels.is_empty() => {
                Ok(Response::new(PredictResponse {
                    predicted_class: u32::from(pixels[0] % 10),
                    ..Default::default()
                }))
            }
            _ => Err(Status::invalid_argument("pixels expected")),
        }
    }

    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(StatusResponse {
            version: "test".into(),
            device: "cpu".into(),
            ..Default::default()
        }))
    }
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(TrainerServer::new(MockTrainer))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

fn step(local_steps: u32) -> TrainingStep {
    TrainingStep {
        model_id: "mnist-mlp".into(),
        hyperparams: Some(Hyperparams {
            local_steps,
            ..Default::default()
        }),
        base_weights_sha256: vec![1; 32],
        trainer: "um1trainer".into(),
        nonce: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn trainer_client_and_server_work_over_loopback() {
    let addr = serve().await;
    let mut client = TrainerClient::connect(format!("http://{addr}"))
        .await
        .unwrap();

    // Server streaming: local_steps progress messages, then the result.
    let mut stream = client
        .train(TrainRequest {
            step: Some(step(3)),
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
            train_progress::Event::Step(progress) => steps.push(progress.step),
            train_progress::Event::Result(done) => result = Some(done),
        }
    }
    assert_eq!(steps, [1, 2, 3]);
    assert_eq!(result.unwrap().weights_sha256, vec![0xEE; 32]);

    let verdict = client
        .verify(VerifyRequest {
            update_id: 1,
            step: Some(step(3)),
            claimed_weights: vec![0; 8],
            base_validation_loss: Some(0.6),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!verdict.accept);
    assert_eq!(verdict.reason(), VerdictReason::WeightsMismatch);
    assert!(verdict.reason().is_fraud());
    assert_eq!(verdict.base_validation_loss, 0.6);

    let abstain = client
        .verify(VerifyRequest::default())
        .await
        .expect_err("an unavailable verifier is an error, not a verdict");
    assert_eq!(abstain.code(), Code::Unavailable);

    let evaluated = client
        .evaluate(EvaluateRequest {
            dataset_version: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(evaluated.examples, 2000);

    let status = client.status(StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.device, "cpu");
}
