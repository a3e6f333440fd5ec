//! umd's gRPC server and REST gateway end to end, through the real servers
//! on loopback: a one-validator chain (real CometBFT, fast blocks) with the
//! governance suite, the MNIST subset and a tiny MLP lineage; a real
//! `um-trainer train` submits 100 updates through gRPC `BroadcastTx` and
//! the validator's own `um-trainer serve` verifies them, so the lineage has
//! 101 versions. Then every REST route and every gRPC method is called with
//! good and bad input; the versions are paged through; the downloaded
//! weights hash to the chain's record and PyTorch loads them; the metrics
//! show the height and the accepted updates.

mod support;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine;
use cosmos_sdk_proto::cosmos::auth::v1beta1::{QueryAccountRequest, QueryAccountResponse};
use cosmos_sdk_proto::cosmos::tx::v1beta1::{
    BroadcastMode, BroadcastTxRequest, BroadcastTxResponse, GetTxRequest, GetTxResponse,
    SimulateRequest, SimulateResponse,
};
use cosmos_sdk_proto::cosmwasm::wasm::v1::{
    QueryCodeRequest, QueryCodeResponse, QueryCodesRequest, QueryCodesResponse,
    QueryContractInfoRequest, QueryContractInfoResponse, QueryRawContractStateRequest,
    QueryRawContractStateResponse, QuerySmartContractStateRequest, QuerySmartContractStateResponse,
};
use prost::Message;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::*;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use um_client::keys::Key;
use um_formats::{ModelSpec, Weights};
use um_governance::staking::BondRole;
use um_governance::{DeployConfig, Deployment};
use um_proto::um::common::v1::PageRequest;
use um_proto::um::dataset::v1 as dataset;
use um_proto::um::training::v1 as training;

const NRN: u128 = 1_000_000;
const MODEL: &str = "tiny-mlp";
const SPEC: &str = r#"{"kind":"mlp","input":[1,28,28],"hidden":[32],"classes":10}"#;
const DIGITS: &str = "2000";
/// Accepted updates the trainer makes: with version 0, 101 versions.
const UPDATES: u64 = 100;

/// The running chain and how to reach its APIs.
struct Chain {
    node: TestNode,
    _verifier: Verifier,
    alice: Key,
    suite: Deployment,
    rest: String,
    grpc: String,
    runtime: tokio::runtime::Runtime,
    channel: Channel,
}

fn start_chain() -> Chain {
    let digits = workspace_root().join("data/mnist");
    let dataset = format!("mnist={}", digits.display());
    let mut node = TestNode::init_with(&["--dataset", &dataset, "--dataset-limit", DIGITS]);
    // Fast blocks: every version takes a few blocks (submit, verdicts, decision).
    let config_path = node.home.join("config/config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let fast = config.replace("timeout_commit = \"300ms\"", "timeout_commit = \"50ms\"");
    assert_ne!(config, fast, "timeout_commit not found in config.toml");
    std::fs::write(&config_path, fast).unwrap();

    let deployer = node.new_key("deployer");
    let alice = node.new_key("alice");
    let mut deploy = DeployConfig::new(&workspace_root().join("artifacts"));
    deploy.initial_balances = vec![(alice.address.clone(), 200 * NRN)];
    deploy.token_cap = 1_000_000 * NRN;
    let bonds = vec![um_governance::genesis::GenesisBond {
        operator: alice.address.clone(),
        amount: 100 * NRN,
        role: BondRole::Trainer,
    }];
    let mut genesis = node.genesis();
    let suite = um_governance::genesis::add_suite(
        &mut genesis["app_state"],
        &deploy,
        &deployer.address,
        &bonds,
    )
    .unwrap();
    genesis["app_state"]["training"] = json!({
        "params": {"expiry_blocks": 30},
        "lineages": [{
            "model_id": MODEL,
            "spec": SPEC,
            "hyperparams": {
                "learning_rate": "0.02",
                "batch_size": 32,
                "local_steps": 10,
                "verification_tolerance": "0.001",
                // Any update that does not make the held-out loss worse:
                // the test needs many versions, not a good model.
                "min_improvement": "0",
                "reward_per_update": NRN.to_string(),
                "reward_halving_interval": 0,
            },
            "dataset_id": "mnist",
            "init_seed": 7,
        }],
    });
    node.set_genesis(&genesis);

    // The verifier reads the dataset from the node, so the node's RPC must
    // be up first.
    node.start_with(&["--grpc-address", "off", "--api-address", "off"]);
    let verifier = Verifier::start_with(&node, &["--device", "cpu"]);
    node.stop();
    let grpc = format!("127.0.0.1:{}", free_port());
    let rest = format!("127.0.0.1:{}", free_port());
    node.start_with(&[
        "--verifier",
        &verifier.endpoint,
        "--grpc-address",
        &grpc,
        "--api-address",
        &rest,
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let channel = runtime
        .block_on(
            tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                .unwrap()
                .connect(),
        )
        .unwrap_or_else(|e| panic!("gRPC at {grpc}: {e}\n{}", node.logs()));
    Chain {
        node,
        _verifier: verifier,
        alice,
        suite,
        rest: format!("http://{rest}"),
        grpc: format!("http://{grpc}"),
        runtime,
        channel,
    }
}

/// An HTTP answer.
struct Reply {
    status: u16,
    body: Vec<u8>,
    content_type: String,
    sha_header: Option<String>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }
}

impl Chain {
    fn http(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let url = format!("{}{path}", self.rest);
        let request = ureq::request(method, &url).timeout(Duration::from_secs(30));
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(err) => panic!("{method} {path}: {err}"),
        };
        let status = response.status();
        let content_type = response.header("content-type").unwrap_or("").to_string();
        let sha_header = response.header("x-weights-sha256").map(str::to_string);
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        Reply {
            status,
            body,
            content_type,
            sha_header,
        }
    }

    /// GET that must answer 200 with JSON.
    fn get(&self, path: &str) -> Value {
        let reply = self.http("GET", path, None);
        assert_eq!(
            reply.status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.content_type, "application/json", "GET {path}");
        reply.json()
    }

    /// A request that must fail with `status` and a JSON error body.
    fn fails(&self, method: &str, path: &str, body: Option<&str>, status: u16) -> Value {
        let reply = self.http(method, path, body);
        assert_eq!(
            reply.status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let error = reply.json();
        assert!(error["code"].as_u64().unwrap() > 0, "{error}");
        assert_eq!(error["codespace"], "um", "{error}");
        assert!(!error["message"].as_str().unwrap().is_empty(), "{error}");
        error
    }

    // tonic's own Status, as the generated clients return it.
    #[allow(clippy::result_large_err)]
    fn grpc<Req, Resp>(&self, path: &str, request: Req) -> Result<Resp, tonic::Status>
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        let path = PathAndQuery::try_from(path.to_string()).unwrap();
        self.runtime.block_on(async {
            let mut client =
                tonic::client::Grpc::new(self.channel.clone()).max_decoding_message_size(64 << 20);
            client.ready().await.unwrap();
            client
                .unary(
                    tonic::Request::new(request),
                    path,
                    tonic::codec::ProstCodec::<Req, Resp>::default(),
                )
                .await
                .map(tonic::Response::into_inner)
        })
    }

    fn grpc_ok<Req, Resp>(&self, path: &str, request: Req) -> Resp
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        self.grpc(path, request)
            .unwrap_or_else(|status| panic!("{path}: {status:?}"))
    }

    fn grpc_fails<Req, Resp>(&self, path: &str, request: Req, code: tonic::Code)
    where
        Req: Message + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static + std::fmt::Debug,
    {
        match self.grpc::<Req, Resp>(path, request) {
            Ok(answer) => panic!("{path} answered {answer:?}, expected {code:?}"),
            Err(status) => assert_eq!(status.code(), code, "{path}: {status:?}"),
        }
    }

    fn metric(&self, line_prefix: &str) -> f64 {
        let reply = self.http("GET", "/metrics", None);
        assert_eq!(reply.status, 200);
        let text = String::from_utf8(reply.body).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(line_prefix)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {line_prefix:?} in\n{text}"))
    }
}

fn run_trainer_via_grpc(chain: &Chain) {
    let output = Command::new(trainer_binary())
        .args(["train", "--device", "cpu", "--node", chain.node.rpc.url()])
        .args(["--grpc", &chain.grpc, "--home"])
        .arg(&chain.node.home)
        .args(["--key", "alice", "--model", MODEL, "--nonce-start", "1"])
        // TestNode's keys are plain text (see TestNode::keyring).
        .env("UMD_KEYRING_BACKEND", "test")
        // Rounds that do not lower the held-out loss are retried locally.
        .args(["--max-failures", "200"])
        .args(["--updates", &UPDATES.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "um-trainer train --grpc failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        chain.node.logs()
    );
    std::fs::write(chain.node.home.join("trainer.log"), stdout.as_bytes()).unwrap();
    eprintln!("{}", stdout.lines().last().unwrap_or_default());
}

/// The REST path of `template` with every `{param}` filled in.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut path = template.to_string();
    for (name, value) in values {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(!path.contains('{'), "unfilled parameter in {path}");
    path
}

#[test]
fn grpc_and_rest_serve_the_chain_and_the_trainer_submits_through_grpc() {
    let chain = start_chain();
    let started = Instant::now();
    run_trainer_via_grpc(&chain);
    eprintln!(
        "{UPDATES} updates through gRPC in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // ---- the trainer's txs went through gRPC BroadcastTx
    let via_grpc = chain.metric("umd_broadcast_tx_total{via=\"grpc\"}");
    assert!(via_grpc >= UPDATES as f64, "{via_grpc} gRPC broadcasts");
    let accepted = chain.metric("umd_updates_total{outcome=\"accepted\"}");
    assert!(accepted >= UPDATES as f64, "{accepted} accepted");
    let height = chain.node.rpc.latest_height().unwrap();
    let metric_height = chain.metric("umd_height");
    assert!(
        metric_height >= (height - 1) as f64,
        "{metric_height} vs {height}"
    );
    assert!(chain.metric("umd_txs_total") >= UPDATES as f64);
    assert!(chain.metric("umd_verification_seconds_count") >= UPDATES as f64);
    // Counted since the last restart of umd, so at least the blocks of the
    // training run.
    let finalized = chain.metric("umd_abci_seconds_count{method=\"finalize_block\"}");
    assert!(finalized >= UPDATES as f64, "{finalized} FinalizeBlocks");
    eprintln!(
        "height {height}; verification: {} s over {} updates",
        chain.metric("umd_verification_seconds_sum"),
        chain.metric("umd_verification_seconds_count")
    );

    training_routes(&chain);
    weights_download(&chain);
    dataset_routes(&chain);
    cosmos_routes(&chain);
    grpc_methods(&chain);
    predictions(&chain);
    karma_routes(&chain);
    version_nfts(&chain);
    openapi_matches_the_router(&chain);
}

fn training_routes(chain: &Chain) {
    let models = chain.get("/um/training/v1/models");
    assert_eq!(models["lineages"][0]["model_id"], MODEL);
    let lineage = chain.get(&format!("/um/training/v1/models/{MODEL}"));
    let head_version: u64 = lineage["lineage"]["head_version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(head_version >= UPDATES, "head v{head_version}");
    let head = chain.get(&format!("/um/training/v1/models/{MODEL}/head"));
    assert_eq!(head["version"]["version"], head_version.to_string());

    // Paging through every version, newest first, 30 at a time.
    let mut seen = Vec::new();
    let mut key = String::new();
    let mut first_total = None;
    loop {
        let mut path = format!("/um/training/v1/models/{MODEL}/versions?pagination.limit=30");
        if key.is_empty() {
            path.push_str("&pagination.count_total=true");
        } else {
            path.push_str(&format!("&pagination.key={}", urlencode(&key)));
        }
        let page = chain.get(&path);
        let versions = page["versions"].as_array().unwrap();
        assert!(versions.len() <= 30);
        for v in versions {
            seen.push(v["version"].as_str().unwrap().parse::<u64>().unwrap());
        }
        if first_total.is_none() {
            first_total = Some(page["pagination"]["total"].as_str().unwrap().to_string());
        }
        key = page["pagination"]["next_key"].as_str().unwrap().to_string();
        if key.is_empty() {
            break;
        }
    }
    let expected: Vec<u64> = (0..=head_version).rev().collect();
    assert_eq!(seen, expected, "every version once, newest first");
    assert!(seen.len() > 100, "{} versions", seen.len());
    assert_eq!(first_total.unwrap(), (head_version + 1).to_string());
    let oldest = chain.get(&format!(
        "/um/training/v1/models/{MODEL}/versions?pagination.reverse=true&pagination.limit=2"
    ));
    assert_eq!(oldest["versions"][0]["version"], "0");
    assert_eq!(oldest["versions"][1]["version"], "1");
    let skipped = chain.get(&format!(
        "/um/training/v1/models/{MODEL}/versions?pagination.offset=100&pagination.limit=1"
    ));
    assert_eq!(
        skipped["versions"][0]["version"],
        (head_version - 100).to_string()
    );

    let v1 = chain.get(&format!("/um/training/v1/models/{MODEL}/versions/1"));
    assert_eq!(v1["version"]["parent_version"], "0");
    assert_eq!(v1["version"]["trainer"], chain.alice.address);
    let update_id = v1["version"]["update_ids"][0].as_str().unwrap().to_string();
    let update = chain.get(&format!("/um/training/v1/updates/{update_id}"));
    assert_eq!(update["update"]["status"], "UPDATE_STATUS_ACCEPTED");
    assert!(!update["verdicts"].as_array().unwrap().is_empty());
    assert_eq!(update["verdicts"][0]["reason"], "VERDICT_REASON_OK");
    let accepted = chain.get(&format!(
        "/um/training/v1/updates?status=UPDATE_STATUS_ACCEPTED&model_id={MODEL}&trainer={}&pagination.limit=5",
        chain.alice.address
    ));
    assert_eq!(accepted["updates"].as_array().unwrap().len(), 5);
    assert!(!accepted["pagination"]["next_key"]
        .as_str()
        .unwrap()
        .is_empty());

    // Proofs (issue 18): `?prove=true` adds the answer's height and one
    // ICS23 op per state key read; a NotFound carries its absence proof.
    let proven = chain.get(&format!(
        "/um/training/v1/models/{MODEL}/versions/1?prove=true"
    ));
    assert_eq!(proven["version"], v1["version"]);
    assert_proof(&proven["proof"], "training/version/");
    let absent = chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/99999?prove=true"),
        None,
        404,
    );
    assert_proof(&absent["proof"], "training/version/");
    let account = chain.get(&format!(
        "/cosmos/auth/v1beta1/accounts/{}?prove=true",
        chain.alice.address
    ));
    assert_proof(&account["proof"], "auth/");
    assert!(chain.get(&format!("/um/training/v1/models/{MODEL}/versions/1"))["proof"].is_null());
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/1?prove=yes"),
        None,
        400,
    );

    // Bad input: 4xx with a JSON error, never 5xx.
    chain.fails("GET", "/um/training/v1/models/nope", None, 404);
    chain.fails("GET", "/um/training/v1/models/nope/head", None, 404);
    chain.fails("GET", "/um/training/v1/models/nope/versions", None, 404);
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/99999"),
        None,
        404,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/abc"),
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/-1"),
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions?pagination.limit=x"),
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions?pagination.key=!!"),
        None,
        400,
    );
    // An empty value is not a boolean (schemathesis found it taken as true).
    chain.fails(
        "GET",
        "/um/training/v1/updates?pagination.count_total=",
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions?pagination.key=eHl6"),
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions?pagination.reverse=maybe"),
        None,
        400,
    );
    chain.fails("GET", "/um/training/v1/models?bogus=1", None, 400);
    chain.fails(
        "GET",
        "/um/training/v1/updates?status=UPDATE_STATUS_NOPE",
        None,
        400,
    );
    chain.fails("GET", "/um/training/v1/updates/99999", None, 404);
    chain.fails("GET", "/um/training/v1/updates/one", None, 400);
    chain.fails("GET", "/um/training/v1/updates/%ff", None, 400);
    let missing = chain.fails("GET", "/um/training/v1/nothing", None, 404);
    assert!(missing["message"].as_str().unwrap().contains("openapi"));
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn weights_download(chain: &Chain) {
    let spec = ModelSpec::parse(SPEC).unwrap();
    let head: training::QueryHeadResponse = chain.grpc_ok(
        "/um.training.v1.Query/Head",
        training::QueryHeadRequest {
            prove: false,
            model_id: MODEL.into(),
        },
    );
    let head = head.version.unwrap();
    for number in [0, 1, head.version] {
        let record: training::QueryVersionResponse = chain.grpc_ok(
            "/um.training.v1.Query/Version",
            training::QueryVersionRequest {
                prove: false,
                model_id: MODEL.into(),
                version: number,
            },
        );
        let record = record.version.unwrap();
        let reply = chain.http(
            "GET",
            &format!("/um/training/v1/models/{MODEL}/versions/{number}/weights"),
            None,
        );
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "application/octet-stream");
        let digest = hex::encode(Sha256::digest(&reply.body));
        assert_eq!(digest, hex::encode(&record.weights_sha256), "v{number}");
        assert_eq!(reply.sha_header.as_deref(), Some(digest.as_str()));
        assert_eq!(reply.body.len() as u64, record.weights_size);
        if number != head.version {
            continue;
        }
        weights_in_chunks(chain, number, &reply.body, &record.weights_sha256);
        // PyTorch (safetensors in .venv) loads the head's weights with the
        // spec's tensor names and shapes.
        let decoded = Weights::decode(&spec, &reply.body).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("head.safetensors");
        std::fs::write(&file, &reply.body).unwrap();
        let python = workspace_root().join(".venv/bin/python");
        let output = Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, json\n\
                 from safetensors.torch import load_file\n\
                 t = load_file(sys.argv[1])\n\
                 print(json.dumps({k: [list(v.shape), str(v.dtype), bool(v.isfinite().all())] for k, v in t.items()}))",
            )
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup-venv.sh)", python.display()));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let loaded: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(loaded.as_object().unwrap().len(), decoded.tensors.len());
        for tensor in &decoded.tensors {
            let entry = &loaded[&tensor.name];
            assert_eq!(entry[0], json!(tensor.shape), "{}", tensor.name);
            assert_eq!(entry[1], "torch.float32");
            assert_eq!(entry[2], true, "finite");
        }
    }
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/99999/weights"),
        None,
        404,
    );
    chain.fails(
        "GET",
        &format!("/um/training/v1/models/{MODEL}/versions/x/weights"),
        None,
        400,
    );
    chain.fails(
        "GET",
        "/um/training/v1/models/nope/versions/0/weights",
        None,
        404,
    );
}

/// Issue 18: a version's weights in parts, over REST (`Range`) and gRPC
/// (`offset`, `length`), put back together byte for byte.
fn weights_in_chunks(chain: &Chain, number: u64, whole: &[u8], sha: &[u8]) {
    let url = format!(
        "{}/um/training/v1/models/{MODEL}/versions/{number}/weights",
        chain.rest
    );
    let ranged = |range: &str| {
        let response = match ureq::get(&url).set("Range", range).call() {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(err) => panic!("{range}: {err}"),
        };
        let status = response.status();
        let content_range = response.header("content-range").unwrap_or("").to_string();
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        (status, content_range, body)
    };
    let total = whole.len();
    let (status, content_range, body) = ranged("bytes=0-99");
    assert_eq!(
        (status, content_range.as_str()),
        (206, format!("bytes 0-99/{total}").as_str())
    );
    assert_eq!(body, &whole[..100]);
    let (status, _, body) = ranged("bytes=-10");
    assert_eq!(status, 206);
    assert_eq!(body, &whole[total - 10..]);
    let (status, content_range, _) = ranged(&format!("bytes={total}-"));
    assert_eq!((status, content_range), (416, format!("bytes */{total}")));
    let (status, _, body) = ranged("bytes=0-1,5-6");
    assert_eq!((status, body.as_slice()), (200, whole));

    let chunk = 16 * 1024;
    let mut joined = Vec::new();
    while joined.len() < total {
        let part: training::QueryWeightsResponse = chain.grpc_ok(
            "/um.training.v1.Query/Weights",
            training::QueryWeightsRequest {
                weights_sha256: sha.to_vec(),
                offset: joined.len() as u64,
                length: chunk,
            },
        );
        assert_eq!(part.total_size, total as u64);
        assert!(!part.weights.is_empty() && part.weights.len() as u64 <= chunk);
        joined.extend_from_slice(&part.weights);
    }
    assert_eq!(joined, whole);
    chain.grpc_fails::<_, training::QueryWeightsResponse>(
        "/um.training.v1.Query/Weights",
        training::QueryWeightsRequest {
            weights_sha256: sha.to_vec(),
            offset: total as u64,
            length: 0,
        },
        tonic::Code::InvalidArgument,
    );
}

fn dataset_routes(chain: &Chain) {
    let all = chain.get("/um/dataset/v1/datasets");
    assert_eq!(all["datasets"][0]["dataset_id"], "mnist");
    let latest = chain.get("/um/dataset/v1/datasets/mnist");
    let version = latest["dataset"]["version"].as_str().unwrap().to_string();
    let v0 = chain.get("/um/dataset/v1/datasets/mnist?version=0");
    assert_eq!(v0["dataset"]["version"], "0");
    let versions = chain.get("/um/dataset/v1/datasets/mnist/versions");
    assert_eq!(versions["versions"][0]["version"], version);
    let records = chain.get(
        "/um/dataset/v1/datasets/mnist/records?split=SPLIT_TRAIN&pagination.limit=5&pagination.count_total=true",
    );
    let page = records["records"].as_array().unwrap();
    assert_eq!(page.len(), 5);
    let total: u64 = records["pagination"]["total"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 5 && total < 2000, "{total} training records");
    let next = records["pagination"]["next_key"].as_str().unwrap();
    let second = chain.get(&format!(
        "/um/dataset/v1/datasets/mnist/records?split=SPLIT_TRAIN&pagination.limit=5&pagination.key={}",
        urlencode(next)
    ));
    assert_ne!(second["records"][0], page[0]);
    let deltas = chain.get("/um/dataset/v1/deltas?dataset_id=mnist");
    assert_eq!(deltas["deltas"], json!([]));

    chain.fails("GET", "/um/dataset/v1/datasets/nope", None, 404);
    chain.fails("GET", "/um/dataset/v1/datasets/mnist?version=99", None, 404);
    chain.fails("GET", "/um/dataset/v1/datasets/mnist?version=v1", None, 400);
    chain.fails("GET", "/um/dataset/v1/datasets/nope/versions", None, 404);
    chain.fails(
        "GET",
        "/um/dataset/v1/datasets/mnist/records?split=BOTH",
        None,
        400,
    );
    chain.fails(
        "GET",
        "/um/dataset/v1/deltas?status=DELTA_STATUS_NOPE",
        None,
        400,
    );
    chain.fails("GET", "/um/dataset/v1/deltas/7", None, 404);
    chain.fails("GET", "/um/dataset/v1/deltas/seven", None, 400);
}

/// Every held-out record of the chain's dataset, in the chain's order.
fn validation_records(chain: &Chain) -> Vec<dataset::Record> {
    let mut records = Vec::new();
    let mut key = Vec::new();
    loop {
        let page: dataset::QueryRecordsResponse = chain.grpc_ok(
            "/um.dataset.v1.Query/Records",
            dataset::QueryRecordsRequest {
                dataset_id: "mnist".into(),
                version: None,
                split: dataset::Split::Validation as i32,
                pagination: Some(PageRequest {
                    key: key.clone(),
                    limit: 1000,
                    ..Default::default()
                }),
            },
        );
        records.extend(page.records);
        key = page.pagination.map(|p| p.next_key).unwrap_or_default();
        if key.is_empty() {
            return records;
        }
    }
}

fn predicted(answer: &Value) -> u64 {
    answer["predicted_class"].as_u64().unwrap_or(0)
}

/// Issue 20: the head answers REST and gRPC predictions (forwarded to the
/// validator's um-trainer serve); over the whole held-out split its
/// accuracy is the one the chain recorded for it; bad input is refused.
fn predictions(chain: &Chain) {
    let head = chain.get(&format!("/um/training/v1/models/{MODEL}/head"));
    let head = &head["version"];
    let recorded = head["validation_accuracy"].as_f64().unwrap();
    let path = format!("/um/training/v1/models/{MODEL}/predict");
    let records = validation_records(chain);
    assert!(records.len() > 50, "{} held-out records", records.len());
    let started = Instant::now();
    let mut correct = 0;
    for (i, record) in records.iter().enumerate() {
        let body = json!({ "image": record.pixels }).to_string();
        let reply = chain.http("POST", &path, Some(&body));
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let answer = reply.json();
        if i == 0 {
            assert_eq!(answer["version"], head["version"], "{answer}");
            assert_eq!(answer["weights_sha256"], head["weights_sha256"], "{answer}");
            assert_eq!(answer["model_id"], MODEL);
            let p: Vec<f64> = answer["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect();
            assert_eq!(p.len(), 10, "{answer}");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{answer}");
            let best = p[predicted(&answer) as usize];
            assert!(p.iter().all(|&x| x <= best), "{answer}");
        }
        correct += usize::from(predicted(&answer) == u64::from(record.label));
    }
    let accuracy = correct as f64 / records.len() as f64;
    eprintln!(
        "REST predictions: {correct} of {} held-out digits right ({accuracy:.4}); the chain recorded {recorded:.4}; {:.1} s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        (accuracy - recorded).abs() <= 0.01,
        "accuracy over REST {accuracy} vs recorded {recorded}"
    );

    // The same digit as a PNG (raw body, or base64 in JSON): the same answer.
    let first = &records[0];
    let by_pixels = chain.http(
        "POST",
        &path,
        Some(&json!({ "image": first.pixels }).to_string()),
    );
    let png = um_formats::image::digit_to_png(&first.pixels).unwrap();
    let raw = ureq::post(&format!("{}{path}", chain.rest))
        .set("Content-Type", "image/png")
        .send_bytes(&png)
        .unwrap();
    let mut raw_body = Vec::new();
    raw.into_reader().read_to_end(&mut raw_body).unwrap();
    let raw: Value = serde_json::from_slice(&raw_body).unwrap();
    assert_eq!(raw["probabilities"], by_pixels.json()["probabilities"]);
    let b64 = chain.http(
        "POST",
        &path,
        Some(&json!({ "png": B64.encode(&png) }).to_string()),
    );
    assert_eq!(b64.json()["probabilities"], raw["probabilities"]);

    // A named version: version 0, the initial weights.
    let v0 = chain.http(
        "POST",
        &format!("{path}?version=0"),
        Some(&json!({ "image": first.pixels }).to_string()),
    );
    assert_eq!(v0.status, 200);
    let v0 = v0.json();
    assert_eq!(v0["version"], "0");
    assert_ne!(v0["probabilities"], raw["probabilities"]);

    // Bad input: clear 4xx, nothing else changes.
    let image = json!({ "image": first.pixels }).to_string();
    chain.fails(
        "POST",
        "/um/training/v1/models/nope/predict",
        Some(&image),
        404,
    );
    chain.fails("POST", &format!("{path}?version=99999"), Some(&image), 404);
    chain.fails("POST", &format!("{path}?version=v1"), Some(&image), 400);
    let error = chain.fails("POST", &path, Some(r#"{"prompt":"ROMEO."}"#), 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("classifies images"),
        "{error}"
    );
    chain.fails("POST", &path, Some(r#"{"image":[1,2,3]}"#), 400);
    chain.fails("POST", &path, Some(r#"{"png":"aGVsbG8="}"#), 400);
    chain.fails("POST", &path, Some("{}"), 400);
    chain.fails("POST", &path, Some("not json"), 400);
    let mut wide = png.clone();
    wide[16..20].copy_from_slice(&29u32.to_be_bytes());
    let error = chain.fails(
        "POST",
        &path,
        Some(&json!({ "png": B64.encode(&wide) }).to_string()),
        400,
    );
    assert!(
        error["message"].as_str().unwrap().contains("png"),
        "{error}"
    );

    // gRPC: um.training.v1.Inference/Predict gives the REST answer.
    let over_grpc: training::PredictResponse = chain.grpc_ok(
        "/um.training.v1.Inference/Predict",
        training::PredictRequest {
            model_id: MODEL.into(),
            input: Some(training::predict_request::Input::Pixels(
                first.pixels.clone(),
            )),
            ..Default::default()
        },
    );
    assert_eq!(u64::from(over_grpc.predicted_class), predicted(&raw));
    assert_eq!(
        over_grpc.version.to_string(),
        head["version"].as_str().unwrap()
    );
    assert_eq!(over_grpc.probabilities.len(), 10);
    use tonic::Code;
    chain.grpc_fails::<_, training::PredictResponse>(
        "/um.training.v1.Inference/Predict",
        training::PredictRequest {
            model_id: MODEL.into(),
            ..Default::default()
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, training::PredictResponse>(
        "/um.training.v1.Inference/Predict",
        training::PredictRequest {
            model_id: "nope".into(),
            input: Some(training::predict_request::Input::Pixels(
                first.pixels.clone(),
            )),
            ..Default::default()
        },
        Code::NotFound,
    );
}

/// Issue 20's version NFTs: each of alice's accepted versions is a cw721
/// token of hers on nrn-versions, minted by the chain with the version's
/// record as metadata, read here with the standard cw721 queries through
/// REST's smart-query route.
fn version_nfts(chain: &Chain) {
    let alice = &chain.alice.address;
    let nfts = chain.suite.versions.clone().unwrap();
    let cw721 = |query: Value| -> Value {
        let encoded = B64.encode(query.to_string());
        chain.get(&format!(
            "/cosmwasm/wasm/v1/contract/{nfts}/smart/{}",
            urlencode(&encoded)
        ))["data"]
            .clone()
    };
    let head: training::QueryHeadResponse = chain.grpc_ok(
        "/um.training.v1.Query/Head",
        training::QueryHeadRequest {
            prove: false,
            model_id: MODEL.into(),
        },
    );
    let head = head.version.unwrap();
    assert_eq!(cw721(json!({"num_tokens": {}}))["count"], head.version);
    for number in [1, head.version] {
        let record: training::QueryVersionResponse = chain.grpc_ok(
            "/um.training.v1.Query/Version",
            training::QueryVersionRequest {
                prove: false,
                model_id: MODEL.into(),
                version: number,
            },
        );
        let record = record.version.unwrap();
        let token_id = format!("{MODEL}.v{number}");
        let nft = cw721(json!({"all_nft_info": {"token_id": token_id}}));
        assert_eq!(nft["access"]["owner"], *alice, "{nft}");
        let traits = nft_traits(&nft["info"]["extension"]);
        let expected = [
            ("model_id", MODEL.to_string()),
            ("version", number.to_string()),
            ("weights_sha256", hex::encode(&record.weights_sha256)),
            ("validation_loss", record.validation_loss.to_string()),
            (
                "validation_accuracy",
                record.validation_accuracy.to_string(),
            ),
            ("height", record.height.to_string()),
            ("dataset_version", record.dataset_version.to_string()),
        ];
        for (name, value) in expected {
            assert_eq!(traits[name], value, "{token_id}: {name}");
        }
    }
    let owned = cw721(json!({"tokens": {"owner": alice, "limit": 100}}));
    assert_eq!(
        owned["tokens"].as_array().unwrap().len() as u64,
        head.version.min(100)
    );
    // Nobody but the chain mints: alice's own mint is refused.
    let mint = json!({"mint": {"token_id": "mine", "owner": alice, "extension": null}});
    let refused = chain.node.submit(
        &chain.alice,
        vec![execute_msg(alice, &nfts, mint)],
        1_000_000,
    );
    chain.node.note_fee(alice, &refused);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(refused.log.contains("unknown variant"), "{}", refused.log);
    assert_eq!(cw721(json!({"num_tokens": {}}))["count"], head.version);
}

/// Issue 20's karma: alice, whose 100 updates became versions, leads the
/// leaderboard with exactly those credited; REST and gRPC agree.
fn karma_routes(chain: &Chain) {
    use um_proto::um::karma::v1 as karma;
    let alice = &chain.alice.address;
    let board = chain.get("/um/karma/v1/leaderboard?pagination.limit=10");
    let first = &board["entries"][0];
    assert_eq!(first["address"], *alice, "{board}");
    assert_eq!(
        first["contributions"]["versions"],
        UPDATES.to_string(),
        "{first}"
    );
    assert_eq!(first["contributions"]["slashes"], "0", "{first}");
    let badges = first["badges"].as_array().unwrap();
    for badge in ["first-version", "ten-versions", "hundred-versions"] {
        assert!(badges.contains(&json!(badge)), "{first}");
    }
    let account = chain.get(&format!("/um/karma/v1/accounts/{alice}"));
    assert_eq!(account["rank"], "1");
    assert_eq!(account["karma"], *first);
    let over_grpc: karma::QueryAccountResponse = chain.grpc_ok(
        "/um.karma.v1.Query/Account",
        karma::QueryAccountRequest {
            address: alice.clone(),
        },
    );
    assert_eq!(over_grpc.rank, 1);
    assert_eq!(
        over_grpc.karma.unwrap().score.to_string(),
        first["score"].as_str().unwrap()
    );
    chain.fails("GET", "/um/karma/v1/accounts/um1nobody", None, 404);
    chain.fails(
        "GET",
        "/um/karma/v1/leaderboard?pagination.key=***",
        None,
        400,
    );
}

fn cosmos_routes(chain: &Chain) {
    let alice = &chain.alice.address;
    let account = chain.get(&format!("/cosmos/auth/v1beta1/accounts/{alice}"));
    assert_eq!(account["account"]["address"], *alice);
    let sequence: u64 = account["account"]["sequence"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sequence >= UPDATES, "sequence {sequence}");
    chain.fails("GET", "/cosmos/auth/v1beta1/accounts/not-bech32", None, 400);
    let stranger = chain.node.new_key("stranger");
    chain.fails(
        "GET",
        &format!("/cosmos/auth/v1beta1/accounts/{}", stranger.address),
        None,
        404,
    );

    // cosmwasm: the token's balance of alice, by a base64 JSON query.
    let token = &chain.suite.token;
    let query = json!({"balance": {"address": alice}}).to_string();
    for encoded in [B64.encode(&query), URL_SAFE_NO_PAD.encode(&query)] {
        let answer = chain.get(&format!(
            "/cosmwasm/wasm/v1/contract/{token}/smart/{}",
            urlencode(&encoded)
        ));
        let balance: u128 = answer["data"]["balance"].as_str().unwrap().parse().unwrap();
        assert_eq!(balance, chain.node.cw20_balance(token, alice));
    }
    chain.fails(
        "GET",
        &format!("/cosmwasm/wasm/v1/contract/{token}/smart/%21%21"),
        None,
        400,
    );
    let not_json = B64.encode("not json");
    chain.fails(
        "GET",
        &format!("/cosmwasm/wasm/v1/contract/{token}/smart/{not_json}"),
        None,
        400,
    );
    chain.fails(
        "GET",
        &format!(
            "/cosmwasm/wasm/v1/contract/bogus/smart/{}",
            B64.encode(&query)
        ),
        None,
        400,
    );
    let info = chain.get(&format!("/cosmwasm/wasm/v1/contract/{token}"));
    assert_eq!(info["address"], *token);
    let code_id = info["contract_info"]["code_id"]
        .as_str()
        .unwrap()
        .to_string();
    chain.fails(
        "GET",
        "/cosmwasm/wasm/v1/contract/um1notanaddress",
        None,
        400,
    );
    let raw = chain.get(&format!(
        "/cosmwasm/wasm/v1/contract/{token}/raw/{}",
        B64.encode("token_info")
    ));
    let token_info: Value =
        serde_json::from_slice(&B64.decode(raw["data"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(token_info["symbol"], "NRN");
    chain.fails(
        "GET",
        &format!("/cosmwasm/wasm/v1/contract/{token}/raw/%25"),
        None,
        400,
    );
    let codes = chain.get("/cosmwasm/wasm/v1/code?pagination.limit=100");
    assert!(codes["code_infos"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["code_id"] == code_id));
    let code = chain.get(&format!("/cosmwasm/wasm/v1/code/{code_id}"));
    let wasm = B64.decode(code["data"].as_str().unwrap()).unwrap();
    assert!(wasm.starts_with(b"\0asm"));
    chain.fails("GET", "/cosmwasm/wasm/v1/code/999", None, 404);
    chain.fails("GET", "/cosmwasm/wasm/v1/code/x", None, 400);

    // txs: simulate, broadcast (REST), then find it by hash.
    let transfer = execute_msg(
        alice,
        token,
        json!({"transfer": {"recipient": stranger.address, "amount": "5"}}),
    );
    let tx = chain.node.sign(&chain.alice, vec![transfer], 3_000_000);
    let body = json!({"tx_bytes": B64.encode(&tx)}).to_string();
    let simulated = chain.http("POST", "/cosmos/tx/v1beta1/simulate", Some(&body));
    assert_eq!(
        simulated.status,
        200,
        "{}",
        String::from_utf8_lossy(&simulated.body)
    );
    let gas: u64 = simulated.json()["gas_info"]["gas_used"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(gas > 0);
    let body = json!({"tx_bytes": B64.encode(&tx), "mode": "BROADCAST_MODE_SYNC"}).to_string();
    let broadcast = chain.http("POST", "/cosmos/tx/v1beta1/txs", Some(&body));
    assert_eq!(
        broadcast.status,
        200,
        "{}",
        String::from_utf8_lossy(&broadcast.body)
    );
    let response = broadcast.json();
    assert_eq!(response["tx_response"]["code"], 0, "{response}");
    let hash = response["tx_response"]["txhash"]
        .as_str()
        .unwrap()
        .to_string();
    chain
        .node
        .rpc
        .wait_for_tx(&hash, Duration::from_secs(30))
        .unwrap();
    let found = chain.get(&format!("/cosmos/tx/v1beta1/txs/{hash}"));
    assert_eq!(found["tx_response"]["txhash"], hash);
    assert_eq!(found["tx_response"]["code"], 0);
    assert_eq!(
        found["tx"]["body"]["messages"][0]["@type"],
        "/cosmwasm.wasm.v1.MsgExecuteContract"
    );
    assert_eq!(chain.node.cw20_balance(token, &stranger.address), 5);
    // The same tx again: CheckTx refuses it (sequence used), an answer with
    // a code, not an HTTP error.
    let again = chain.http("POST", "/cosmos/tx/v1beta1/txs", Some(&body));
    assert!(
        again.status == 200 || again.status == 400,
        "{}",
        again.status
    );
    if again.status == 200 {
        assert_ne!(again.json()["tx_response"]["code"], 0);
    }
    chain.fails(
        "GET",
        &format!("/cosmos/tx/v1beta1/txs/{}", "AB".repeat(32)),
        None,
        404,
    );
    chain.fails("GET", "/cosmos/tx/v1beta1/txs/xyz", None, 400);
    chain.fails("POST", "/cosmos/tx/v1beta1/txs", Some("{"), 400);
    chain.fails(
        "POST",
        "/cosmos/tx/v1beta1/txs",
        Some(r#"{"tx_bytes": "***"}"#),
        400,
    );
    chain.fails(
        "POST",
        "/cosmos/tx/v1beta1/txs",
        Some(r#"{"tx_bytes": ""}"#),
        400,
    );
    let garbage = json!({"tx_bytes": B64.encode(&tx), "mode": "BROADCAST_MODE_FAST"}).to_string();
    chain.fails("POST", "/cosmos/tx/v1beta1/txs", Some(&garbage), 400);
    let undecodable = json!({"tx_bytes": B64.encode([0xff, 0x01, 0x02])}).to_string();
    chain.fails(
        "POST",
        "/cosmos/tx/v1beta1/simulate",
        Some(&undecodable),
        400,
    );
    oversized_body_is_refused(chain);
}

/// A body declared larger than the gateway reads gets 413 at once (raw
/// HTTP: a client that insists on sending all 64 MiB first would see the
/// connection closed instead).
fn oversized_body_is_refused(chain: &Chain) {
    use std::io::Write;
    let address = chain.rest.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /cosmos/tx/v1beta1/txs HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        64 << 20
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&[b' '; 4096]).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"codespace\":\"um\""), "{answer}");
}

fn grpc_methods(chain: &Chain) {
    use tonic::Code;
    // Identical answers over ABCI and gRPC, from committed state.
    let request = training::QueryVersionsRequest {
        prove: false,
        model_id: MODEL.into(),
        pagination: Some(PageRequest {
            limit: 7,
            ..Default::default()
        }),
    };
    let over_abci = chain
        .node
        .rpc
        .query_ok("/um.training.v1.Query/Versions", &request.encode_to_vec())
        .unwrap();
    let over_grpc: training::QueryVersionsResponse =
        chain.grpc_ok("/um.training.v1.Query/Versions", request);
    assert_eq!(over_grpc.encode_to_vec(), over_abci);
    assert_eq!(over_grpc.versions.len(), 7);

    let lineages: training::QueryLineagesResponse = chain.grpc_ok(
        "/um.training.v1.Query/Lineages",
        training::QueryLineagesRequest::default(),
    );
    assert_eq!(lineages.lineages[0].model_id, MODEL);
    let lineage: training::QueryLineageResponse = chain.grpc_ok(
        "/um.training.v1.Query/Lineage",
        training::QueryLineageRequest {
            prove: false,
            model_id: MODEL.into(),
        },
    );
    let head_version = lineage.lineage.unwrap().head_version;
    let version: training::QueryVersionResponse = chain.grpc_ok(
        "/um.training.v1.Query/Version",
        training::QueryVersionRequest {
            prove: false,
            model_id: MODEL.into(),
            version: head_version,
        },
    );
    let version = version.version.unwrap();
    let update: training::QueryUpdateResponse = chain.grpc_ok(
        "/um.training.v1.Query/Update",
        training::QueryUpdateRequest {
            prove: false,
            update_id: version.update_ids[0],
        },
    );
    assert_eq!(
        update.update.unwrap().status,
        training::UpdateStatus::Accepted as i32
    );
    assert!(!update.verdicts.is_empty());
    let updates: training::QueryUpdatesResponse = chain.grpc_ok(
        "/um.training.v1.Query/Updates",
        training::QueryUpdatesRequest {
            model_id: MODEL.into(),
            status: training::UpdateStatus::Accepted as i32,
            ..Default::default()
        },
    );
    assert!(updates.updates.len() as u64 >= UPDATES);
    let weights: training::QueryWeightsResponse = chain.grpc_ok(
        "/um.training.v1.Query/Weights",
        training::QueryWeightsRequest {
            length: Default::default(),
            offset: Default::default(),
            weights_sha256: version.weights_sha256.clone(),
        },
    );
    assert_eq!(
        Sha256::digest(&weights.weights)[..],
        version.weights_sha256[..]
    );
    let proven: training::QueryVersionResponse = chain.grpc_ok(
        "/um.training.v1.Query/Version",
        training::QueryVersionRequest {
            prove: true,
            model_id: MODEL.into(),
            version: head_version,
        },
    );
    assert_eq!(proven.version.as_ref(), Some(&version));
    let proof = proven.proof.expect("a proof when asked");
    assert!(proof.height > 0);
    assert!(proof.ops.iter().all(|op| op.r#type == "ics23:jmt"));
    assert!(proof
        .ops
        .iter()
        .any(|op| op.key.starts_with(b"training/version/")));
    let absent = chain
        .grpc::<_, training::QueryVersionResponse>(
            "/um.training.v1.Query/Version",
            training::QueryVersionRequest {
                prove: true,
                model_id: MODEL.into(),
                version: 1 << 40,
            },
        )
        .unwrap_err();
    assert_eq!(absent.code(), tonic::Code::NotFound);
    let proof = absent
        .metadata()
        .get_bin("x-um-proof-bin")
        .expect("the absence proof rides with the NotFound");
    let proof = um_proto::um::common::v1::StateProof::decode(proof.to_bytes().unwrap()).unwrap();
    assert!(!proof.ops.is_empty());
    chain.grpc_fails::<_, training::QueryHeadResponse>(
        "/um.training.v1.Query/Head",
        training::QueryHeadRequest {
            prove: false,
            model_id: "nope".into(),
        },
        Code::NotFound,
    );
    chain.grpc_fails::<_, training::QueryVersionResponse>(
        "/um.training.v1.Query/Version",
        training::QueryVersionRequest {
            prove: false,
            model_id: MODEL.into(),
            version: 1 << 40,
        },
        Code::NotFound,
    );
    chain.grpc_fails::<_, training::QueryVersionsResponse>(
        "/um.training.v1.Query/Versions",
        training::QueryVersionsRequest {
            prove: false,
            model_id: MODEL.into(),
            pagination: Some(PageRequest {
                key: b"not a number".to_vec(),
                ..Default::default()
            }),
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, training::QueryUpdateResponse>(
        "/um.training.v1.Query/Update",
        training::QueryUpdateRequest {
            prove: false,
            update_id: 1 << 40,
        },
        Code::NotFound,
    );
    chain.grpc_fails::<_, training::QueryWeightsResponse>(
        "/um.training.v1.Query/Weights",
        training::QueryWeightsRequest {
            length: Default::default(),
            offset: Default::default(),
            weights_sha256: vec![0; 32],
        },
        Code::NotFound,
    );
    // Undecodable request bytes.
    chain.grpc_fails::<_, training::QueryLineagesResponse>(
        "/um.training.v1.Query/Lineages",
        training::QueryWeightsRequest {
            length: Default::default(),
            offset: Default::default(),
            weights_sha256: vec![0xff; 3],
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, training::QueryLineagesResponse>(
        "/um.training.v1.Query/NoSuchMethod",
        training::QueryLineagesRequest::default(),
        Code::Unimplemented,
    );

    // um.dataset.v1.Query
    let datasets: dataset::QueryDatasetsResponse = chain.grpc_ok(
        "/um.dataset.v1.Query/Datasets",
        dataset::QueryDatasetsRequest::default(),
    );
    assert_eq!(datasets.datasets[0].dataset_id, "mnist");
    let one: dataset::QueryDatasetResponse = chain.grpc_ok(
        "/um.dataset.v1.Query/Dataset",
        dataset::QueryDatasetRequest {
            dataset_id: "mnist".into(),
            version: None,
        },
    );
    assert_eq!(one.dataset.unwrap().dataset_id, "mnist");
    let versions: dataset::QueryDatasetVersionsResponse = chain.grpc_ok(
        "/um.dataset.v1.Query/DatasetVersions",
        dataset::QueryDatasetVersionsRequest {
            dataset_id: "mnist".into(),
            pagination: None,
        },
    );
    assert!(!versions.versions.is_empty());
    let records: dataset::QueryRecordsResponse = chain.grpc_ok(
        "/um.dataset.v1.Query/Records",
        dataset::QueryRecordsRequest {
            dataset_id: "mnist".into(),
            version: None,
            split: dataset::Split::Validation as i32,
            pagination: Some(PageRequest {
                limit: 3,
                ..Default::default()
            }),
        },
    );
    assert_eq!(records.records.len(), 3);
    let deltas: dataset::QueryDeltasResponse = chain.grpc_ok(
        "/um.dataset.v1.Query/Deltas",
        dataset::QueryDeltasRequest::default(),
    );
    assert!(deltas.deltas.is_empty());
    chain.grpc_fails::<_, dataset::QueryDeltaResponse>(
        "/um.dataset.v1.Query/Delta",
        dataset::QueryDeltaRequest { delta_id: 1 },
        Code::NotFound,
    );
    chain.grpc_fails::<_, dataset::QueryDatasetResponse>(
        "/um.dataset.v1.Query/Dataset",
        dataset::QueryDatasetRequest {
            dataset_id: "nope".into(),
            version: None,
        },
        Code::NotFound,
    );

    // cosmos.auth.v1beta1.Query/Account
    let account: QueryAccountResponse = chain.grpc_ok(
        "/cosmos.auth.v1beta1.Query/Account",
        QueryAccountRequest {
            address: chain.alice.address.clone(),
        },
    );
    assert!(account.account.is_some());
    chain.grpc_fails::<_, QueryAccountResponse>(
        "/cosmos.auth.v1beta1.Query/Account",
        QueryAccountRequest {
            address: "bad".into(),
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, QueryAccountResponse>(
        "/cosmos.auth.v1beta1.Query/Accounts",
        QueryAccountRequest::default(),
        Code::Unimplemented,
    );

    // cosmwasm.wasm.v1.Query: smart, raw, contract info, code, codes.
    let token = chain.suite.token.clone();
    let smart: QuerySmartContractStateResponse = chain.grpc_ok(
        "/cosmwasm.wasm.v1.Query/SmartContractState",
        QuerySmartContractStateRequest {
            address: token.clone(),
            query_data: br#"{"token_info":{}}"#.to_vec(),
        },
    );
    let info: Value = serde_json::from_slice(&smart.data).unwrap();
    assert_eq!(info["symbol"], "NRN");
    chain.grpc_fails::<_, QuerySmartContractStateResponse>(
        "/cosmwasm.wasm.v1.Query/SmartContractState",
        QuerySmartContractStateRequest {
            address: token.clone(),
            query_data: b"{\"nope\":{}}".to_vec(),
        },
        Code::InvalidArgument,
    );
    let raw: QueryRawContractStateResponse = chain.grpc_ok(
        "/cosmwasm.wasm.v1.Query/RawContractState",
        QueryRawContractStateRequest {
            address: token.clone(),
            query_data: b"token_info".to_vec(),
        },
    );
    assert!(!raw.data.is_empty());
    let contract: QueryContractInfoResponse = chain.grpc_ok(
        "/cosmwasm.wasm.v1.Query/ContractInfo",
        QueryContractInfoRequest {
            address: token.clone(),
        },
    );
    let code_id = contract.contract_info.unwrap().code_id;
    let code: QueryCodeResponse =
        chain.grpc_ok("/cosmwasm.wasm.v1.Query/Code", QueryCodeRequest { code_id });
    assert!(code.data.starts_with(b"\0asm"));
    chain.grpc_fails::<_, QueryCodeResponse>(
        "/cosmwasm.wasm.v1.Query/Code",
        QueryCodeRequest { code_id: 999 },
        Code::NotFound,
    );
    let codes: QueryCodesResponse = chain.grpc_ok(
        "/cosmwasm.wasm.v1.Query/Codes",
        QueryCodesRequest::default(),
    );
    assert!(codes.code_infos.iter().any(|c| c.code_id == code_id));
    chain.grpc_fails::<_, QueryContractInfoResponse>(
        "/cosmwasm.wasm.v1.Query/ContractInfo",
        QueryContractInfoRequest {
            address: "um1bogus".into(),
        },
        Code::InvalidArgument,
    );

    // cosmos.tx.v1beta1.Service: Simulate, BroadcastTx, GetTx.
    let transfer = execute_msg(
        &chain.alice.address,
        &token,
        json!({"transfer": {"recipient": chain.suite.staking, "amount": "1"}}),
    );
    let tx = chain.node.sign(&chain.alice, vec![transfer], 3_000_000);
    #[allow(deprecated)]
    let simulated: SimulateResponse = chain.grpc_ok(
        "/cosmos.tx.v1beta1.Service/Simulate",
        SimulateRequest {
            tx: None,
            tx_bytes: tx.clone(),
        },
    );
    assert!(simulated.gas_info.unwrap().gas_used > 0);
    let broadcast: BroadcastTxResponse = chain.grpc_ok(
        "/cosmos.tx.v1beta1.Service/BroadcastTx",
        BroadcastTxRequest {
            tx_bytes: tx.clone(),
            mode: BroadcastMode::Sync as i32,
        },
    );
    let response = broadcast.tx_response.unwrap();
    assert_eq!(response.code, 0, "{}", response.raw_log);
    chain
        .node
        .rpc
        .wait_for_tx(&response.txhash, Duration::from_secs(30))
        .unwrap();
    let found: GetTxResponse = chain.grpc_ok(
        "/cosmos.tx.v1beta1.Service/GetTx",
        GetTxRequest {
            hash: response.txhash.to_lowercase(),
        },
    );
    let found_response = found.tx_response.unwrap();
    assert_eq!(found_response.txhash, response.txhash);
    assert!(found_response.height > 0);
    assert_eq!(found.tx.unwrap().signatures.len(), 1);
    // CheckTx refusing undecodable tx bytes is an answer with a code.
    let refused: BroadcastTxResponse = chain.grpc_ok(
        "/cosmos.tx.v1beta1.Service/BroadcastTx",
        BroadcastTxRequest {
            tx_bytes: vec![0xff, 0x00, 0x01],
            mode: BroadcastMode::Sync as i32,
        },
    );
    assert_ne!(refused.tx_response.unwrap().code, 0);
    chain.grpc_fails::<_, BroadcastTxResponse>(
        "/cosmos.tx.v1beta1.Service/BroadcastTx",
        BroadcastTxRequest {
            tx_bytes: Vec::new(),
            mode: BroadcastMode::Sync as i32,
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, BroadcastTxResponse>(
        "/cosmos.tx.v1beta1.Service/BroadcastTx",
        BroadcastTxRequest {
            tx_bytes: tx,
            mode: BroadcastMode::Block as i32,
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, GetTxResponse>(
        "/cosmos.tx.v1beta1.Service/GetTx",
        GetTxRequest {
            hash: "CD".repeat(32),
        },
        Code::NotFound,
    );
    chain.grpc_fails::<_, GetTxResponse>(
        "/cosmos.tx.v1beta1.Service/GetTx",
        GetTxRequest { hash: "zz".into() },
        Code::InvalidArgument,
    );
    #[allow(deprecated)]
    chain.grpc_fails::<_, SimulateResponse>(
        "/cosmos.tx.v1beta1.Service/Simulate",
        SimulateRequest {
            tx: None,
            tx_bytes: vec![0xff],
        },
        Code::InvalidArgument,
    );
    chain.grpc_fails::<_, GetTxResponse>(
        "/cosmos.tx.v1beta1.Service/GetBlockWithTxs",
        GetTxRequest::default(),
        Code::Unimplemented,
    );

    reflection_lists_and_describes_every_service(chain);
}

/// What grpcurl needs for `list` and `describe`: every served service
/// listed, and the file defining a service resolvable with every file it
/// imports, transitively (grpcurl asks for each import by name).
fn reflection_lists_and_describes_every_service(chain: &Chain) {
    use prost_types::FileDescriptorProto;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let ask = |request: MessageRequest| -> MessageResponse {
        chain.runtime.block_on(async {
            let mut client = ServerReflectionClient::new(chain.channel.clone());
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            let mut stream = client
                .server_reflection_info(tokio_stream::iter(vec![request]))
                .await
                .unwrap()
                .into_inner();
            let answer = stream.message().await.unwrap().unwrap();
            answer.message_response.expect("a reflection answer")
        })
    };
    let files = |answer: MessageResponse, what: &str| -> Vec<FileDescriptorProto> {
        match answer {
            MessageResponse::FileDescriptorResponse(files) => files
                .file_descriptor_proto
                .iter()
                .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap())
                .collect(),
            other => panic!("{what}: unexpected reflection answer {other:?}"),
        }
    };

    let names: HashSet<String> = match ask(MessageRequest::ListServices(String::new())) {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    };
    for service in [
        "cosmos.tx.v1beta1.Service",
        "cosmos.auth.v1beta1.Query",
        "cosmwasm.wasm.v1.Query",
        "um.training.v1.Query",
        "um.dataset.v1.Query",
        "um.training.v1.Inference",
        "um.karma.v1.Query",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(names.contains(service), "{service} not listed: {names:?}");
    }

    for (symbol, method) in [
        ("cosmos.tx.v1beta1.Service", "Simulate"),
        ("cosmos.auth.v1beta1.Query", "Account"),
        ("cosmwasm.wasm.v1.Query", "SmartContractState"),
        ("um.training.v1.Query", "Versions"),
    ] {
        let found = files(
            ask(MessageRequest::FileContainingSymbol(symbol.into())),
            symbol,
        );
        let (package, name) = symbol.rsplit_once('.').unwrap();
        let service = found
            .iter()
            .filter(|f| f.package() == package)
            .flat_map(|f| &f.service)
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("{symbol} is not in the file reflection gives"));
        assert!(
            service.method.iter().any(|m| m.name() == method),
            "{symbol}/{method} missing"
        );
        // Every import, transitively, by file name.
        let mut seen: HashSet<String> = found.iter().map(|f| f.name().to_string()).collect();
        let mut wanted: Vec<String> = found.iter().flat_map(|f| f.dependency.clone()).collect();
        while let Some(file) = wanted.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            let got = files(ask(MessageRequest::FileByFilename(file.clone())), &file);
            assert!(got.iter().any(|f| f.name() == file), "{file} not served");
            wanted.extend(got.iter().flat_map(|f| f.dependency.clone()));
        }
        if symbol.starts_with("cosmos.tx") {
            for import in ["gogoproto/gogo.proto", "google/api/annotations.proto"] {
                assert!(seen.contains(import), "{import} not among {seen:?}");
            }
        }
    }
}

fn openapi_matches_the_router(chain: &Chain) {
    let doc = chain.get("/openapi.json");
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let token = chain.suite.token.clone();
    let values = [
        ("address", token.clone()),
        ("hash", "AB".repeat(32)),
        ("query_data", B64.encode("{}")),
        ("code_id", "1".to_string()),
        ("model_id", MODEL.to_string()),
        ("version", "0".to_string()),
        ("number", "1".to_string()),
        ("update_id", "1".to_string()),
        ("dataset_id", "mnist".to_string()),
        ("delta_id", "1".to_string()),
        ("file", "index.html".to_string()),
    ];
    // Every documented operation is served: it never gets the router's
    // "no such route" answer, nor 405.
    for (template, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let path = fill(template, &values);
            let body = (method == "post").then_some(r#"{"tx_bytes": "AAAA"}"#);
            let reply = chain.http(&method.to_uppercase(), &path, body);
            assert!(
                reply.status < 500 || reply.status == 501,
                "{method} {path}: {}",
                reply.status
            );
            assert_ne!(reply.status, 405, "{method} {path}");
            let no_route = reply.status == 404
                && String::from_utf8_lossy(&reply.body).contains("no such route");
            assert!(!no_route, "{method} {path} is documented but not served");
            let documented = &operations[method]["responses"];
            assert!(
                documented.get(reply.status.to_string()).is_some(),
                "{method} {path} answered {} which is not documented",
                reply.status
            );
        }
    }
    // And what is not documented is not served.
    for path in [
        "/um/training/v1",
        "/cosmos/tx/v1beta1/txs/x/y",
        "/openapi.yaml",
    ] {
        let reply = chain.http("GET", path, None);
        assert_eq!(reply.status, 404, "{path}");
        assert!(String::from_utf8_lossy(&reply.body).contains("no such route"));
    }
    let index = chain.http("GET", "/", None);
    assert_eq!(index.status, 200);
    assert!(index.content_type.starts_with("text/html"));
    chain.fails("GET", "/assets/missing.js", None, 404);
}

/// A REST `proof`: a committed height and ICS23 ops, one of them for a key
/// under `prefix`.
fn assert_proof(proof: &Value, prefix: &str) {
    let height: u64 = proof["height"].as_str().unwrap().parse().unwrap();
    assert!(height > 0, "{proof}");
    let ops = proof["ops"].as_array().unwrap();
    assert!(ops.iter().all(|op| op["type"] == "ics23:jmt"), "{proof}");
    assert!(
        ops.iter().any(|op| {
            let key = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                op["key"].as_str().unwrap(),
            )
            .unwrap();
            key.starts_with(prefix.as_bytes())
        }),
        "no key under {prefix}: {proof}"
    );
}
