//! The training module as a test sees it through a node's RPC: the head,
//! the dataset and updates, weights honestly trained by a running
//! `um-trainer serve`, and weights tampered with.

use std::time::{Duration, Instant};

use serde_json::json;
use um_client::keys::Key;
use um_client::rpc::{RpcClient, TxResult};
use um_formats::{ModelSpec, Weights};
use um_governance::Deployment;
use um_proto::um::dataset::v1::{Dataset, QueryDatasetRequest, QueryDatasetResponse};
use um_proto::um::training::v1::{
    QueryHeadRequest, QueryHeadResponse, QueryUpdateRequest, QueryUpdateResponse,
    QueryWeightsRequest, QueryWeightsResponse, Update, UpdateStatus,
};

use super::TestNode;

/// The lineage every training test starts, and its model.
pub const MODEL: &str = "mnist-mlp";
pub const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;

/// The head's version number and weights.
pub fn head(rpc: &RpcClient) -> (u64, Vec<u8>) {
    let resp: QueryHeadResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Head",
            &QueryHeadRequest {
                prove: false,
                model_id: MODEL.into(),
            },
        )
        .unwrap();
    let version = resp.version.unwrap();
    let weights: QueryWeightsResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Weights",
            &QueryWeightsRequest {
                length: Default::default(),
                offset: Default::default(),
                weights_sha256: version.weights_sha256,
            },
        )
        .unwrap();
    (version.version, weights.weights)
}

/// What `MsgSubmitUpdate.hyperparams_sha256` must name: the lineage's
/// hyperparameters now.
pub fn hyperparams_sha256(rpc: &RpcClient) -> Vec<u8> {
    let resp: um_proto::um::training::v1::QueryLineageResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Lineage",
            &um_proto::um::training::v1::QueryLineageRequest {
                prove: false,
                model_id: MODEL.into(),
            },
        )
        .unwrap();
    resp.lineage.unwrap().hyperparams.unwrap().sha256()
}

pub fn current_dataset(rpc: &RpcClient) -> Dataset {
    let resp: QueryDatasetResponse = rpc
        .query_proto(
            "/um.dataset.v1.Query/Dataset",
            &QueryDatasetRequest {
                dataset_id: "mnist".into(),
                version: None,
            },
        )
        .unwrap();
    resp.dataset.unwrap()
}

pub fn update(rpc: &RpcClient, id: u64) -> Update {
    let resp: QueryUpdateResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Update",
            &QueryUpdateRequest {
                prove: false,
                update_id: id,
            },
        )
        .unwrap();
    resp.update.unwrap()
}

/// Waits (two minutes at most) until update `id` is no longer pending;
/// `logs` says what the nodes did when it never is.
pub fn wait_decided(rpc: &RpcClient, id: u64, logs: impl Fn() -> String) -> Update {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let current = update(rpc, id);
        if current.status != UpdateStatus::Pending as i32 {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "update {id} still pending\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The id the chain gave the update submitted by `result`.
pub fn update_id(result: &TxResult) -> u64 {
    result
        .event_value("submit_update", "update_id")
        .unwrap_or_else(|| panic!("no update id in {result:?}"))
        .parse()
        .unwrap()
}

/// Weights honestly trained from the head for `trainer` and `nonce`, by
/// the `Train` service of a running `um-trainer serve`.
pub fn train_remotely(rpc: &RpcClient, endpoint: &str, trainer: &Key, nonce: u64) -> Vec<u8> {
    train_remotely_with(rpc, endpoint, trainer, nonce, None, 0).0
}

/// [`train_remotely`] for a round's shard, with the checkpoints every
/// `checkpoint_interval` steps (none for 0).
pub fn train_remotely_with(
    rpc: &RpcClient,
    endpoint: &str,
    trainer: &Key,
    nonce: u64,
    round_shard: Option<um_proto::um::trainer::v1::RoundShard>,
    checkpoint_interval: u32,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    use um_proto::um::trainer::v1::train_progress::Event;
    use um_proto::um::trainer::v1::trainer_client::TrainerClient;
    use um_proto::um::trainer::v1::{TrainRequest, TrainingStep};
    use um_proto::um::training::v1::{QueryLineageRequest, QueryLineageResponse};

    let lineage: QueryLineageResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Lineage",
            &QueryLineageRequest {
                prove: false,
                model_id: MODEL.into(),
            },
        )
        .unwrap();
    let lineage = lineage.lineage.unwrap();
    let head_version: QueryHeadResponse = rpc
        .query_proto(
            "/um.training.v1.Query/Head",
            &QueryHeadRequest {
                prove: false,
                model_id: MODEL.into(),
            },
        )
        .unwrap();
    let head_version = head_version.version.unwrap();
    let (_, base_weights) = head(rpc);
    let dataset = current_dataset(rpc);
    let step = TrainingStep {
        model_id: MODEL.into(),
        spec_json: lineage.spec_json,
        hyperparams: lineage.hyperparams,
        base_version: head_version.version,
        base_weights_sha256: head_version.weights_sha256,
        base_weights,
        dataset_id: "mnist".into(),
        dataset_version: dataset.version,
        dataset_root: dataset.root,
        trainer: trainer.address.clone(),
        nonce,
        round_shard,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = TrainerClient::connect(endpoint.to_string())
            .await
            .unwrap()
            .max_decoding_message_size(64 << 20);
        let mut stream = client
            .train(TrainRequest {
                step: Some(step),
                omit_weights: false,
                checkpoint_interval,
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(progress) = stream.message().await.unwrap() {
            if let Some(Event::Result(result)) = progress.event {
                return (result.weights, result.checkpoints);
            }
        }
        panic!("the Train stream ended without a result");
    })
}

/// The head's weights moved a little everywhere: not what any batch gives.
pub fn tampered(weights: &[u8]) -> Vec<u8> {
    let spec = ModelSpec::parse(SPEC).unwrap();
    let mut decoded = Weights::decode(&spec, weights).unwrap();
    for tensor in &mut decoded.tensors {
        for value in &mut tensor.data {
            *value += 0.01;
        }
    }
    decoded.encode()
}

/// `address`'s NRN bonded in the staking contract.
pub fn stake(node: &TestNode, suite: &Deployment, address: &str) -> u128 {
    let answer = node.smart_query(
        &suite.staking,
        json!({"stake": {"address": address, "height": null}}),
    );
    answer["stake"].as_str().unwrap().parse().unwrap()
}
