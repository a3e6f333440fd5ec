//! A fake chain for tests: CometBFT's JSON-RPC (`status`, `abci_query`,
//! `broadcast_tx_sync`, `tx`) on 127.0.0.1 with a training and a dataset
//! module in memory. It decides updates itself (accepts, or rejects the ids
//! it is told to) after a few polls, and moves the head like umd does. In
//! round mode ([`FakeChain::open_rounds`]) it takes one contribution per
//! free shard and closes a round a few `Query/Round` polls after it is full
//! or past its closing height, merging it into a version (or not, as told).
//! Checkpoints a trainer serves (`checkpoint_source`) it fetches when it
//! closes their round, the last moment a validator may need them, and
//! rejects (without slashing) a contribution with one it cannot get.
//! It takes `MsgClaimShard` by umd's rules (`abci-app/src/training/round`):
//! one claim or contribution per trainer and round, on a shard neither
//! claimed nor contributed, from a bonded trainer; a claimed shard takes
//! only its claimant's contribution.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use cosmos_sdk_proto::cosmos::base::abci::v1beta1::TxMsgData;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{AuthInfo, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use serde_json::{json, Value};
use um_client::checkpoints::{check_source, Fetcher};
use um_client::codes::Code;
use um_proto::prost::Message;
use um_proto::um::common::v1::PageResponse;
use um_proto::um::dataset::v1 as ds;
use um_proto::um::training::v1 as tr;

use crate::dataset::Dataset;

/// How the fake pages records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `next_key` = hash of the last record, like umd.
    Cursor,
    /// No cursor, only `total` on the first page and offsets.
    OffsetOnly,
}

#[derive(Default)]
pub struct State {
    pub height: u64,
    pub lineage: tr::ModelLineage,
    pub versions: Vec<tr::ModelVersion>,
    pub blobs: HashMap<Vec<u8>, Vec<u8>>,
    pub dataset: ds::Dataset,
    /// Ascending hash order.
    pub records: Vec<ds::Record>,
    /// Largest page the fake returns, whatever the client asks.
    pub page_cap: usize,
    pub paging: Option<Paging>,
    pub updates: Vec<tr::Update>,
    /// Update ids to reject.
    pub reject: BTreeSet<u64>,
    /// Polls of a pending update before it is decided.
    pub polls_before_decision: u32,
    pub polls: HashMap<u64, u32>,
    pub submitted: Vec<tr::MsgSubmitUpdate>,
    /// The gas limit of every `MsgSubmitUpdate` tx, in order.
    pub gas_limits: Vec<u64>,
    /// Every `MsgClaimShard` sent, taken or refused, with its tx's gas limit.
    pub claims_sent: Vec<(tr::MsgClaimShard, u64)>,
    /// Every tx's message in order of arrival: (type URL, round, shard, code).
    pub delivered: Vec<(String, u64, u32, u32)>,
    /// Trainers that are not bonded: their claims are refused.
    pub unbonded: BTreeSet<String>,
    /// A chain from before shard claims: `MsgClaimShard` is an unknown
    /// message to it.
    pub claims_unknown: bool,
    /// Before the next claim is delivered, another trainer claims its shard.
    pub steal_next_claim: bool,
    /// Delivered tx results by upper-case hex hash.
    pub txs: HashMap<String, Value>,
    /// ABCI query paths in the order asked.
    pub queries: Vec<String>,
    /// Serve weights that do not hash to their address.
    pub corrupt_weights: bool,
    /// Rounds, number `i + 1` at index `i`; the last is the current one.
    pub rounds: Vec<tr::Round>,
    /// `Query/Round` polls of a round that is ready to close.
    pub round_polls: HashMap<u64, u32>,
    /// Outcome of a round by number; "MERGED" when not told.
    pub round_outcome: HashMap<u64, String>,
    /// Before the next contribution is delivered, another trainer takes
    /// its shard (the race a trainer loses now and then), unless the shard
    /// is claimed: umd would refuse that trainer.
    pub steal_next_shard: bool,
    /// Every served checkpoint fetched when its round closed, in order:
    /// (update id, hash, the bytes or why not).
    pub checkpoint_fetches: Vec<CheckpointFetch>,
}

/// A served checkpoint the fake fetched: (update id, hash, bytes or error).
pub type CheckpointFetch = (u64, Vec<u8>, Result<Vec<u8>, String>);

/// A running fake chain.
pub struct FakeChain {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeChain {
    /// A chain with `model_id` at version 0 (`base` weights) training on
    /// `dataset` (version 2 of "mnist").
    pub fn start(
        model_id: &str,
        spec_json: &str,
        hyper: tr::Hyperparams,
        base: Vec<u8>,
        dataset: &Dataset,
    ) -> Self {
        let sha = crate::sha256(&base).to_vec();
        let as_proto = |split: ds::Split| {
            move |r: &crate::dataset::Record| ds::Record {
                hash: r.hash().to_vec(),
                label: u32::from(r.label),
                pixels: r.pixels.to_vec(),
                split: split as i32,
            }
        };
        let mut records: Vec<ds::Record> = dataset
            .train()
            .iter()
            .map(as_proto(ds::Split::Train))
            .chain(
                dataset
                    .validation()
                    .iter()
                    .map(as_proto(ds::Split::Validation)),
            )
            .collect();
        records.sort_by(|a, b| a.hash.cmp(&b.hash));
        let state = State {
            height: 10,
            lineage: tr::ModelLineage {
                model_id: model_id.into(),
                spec_json: spec_json.into(),
                hyperparams: Some(hyper),
                dataset_id: "mnist".into(),
                ..Default::default()
            },
            versions: vec![tr::ModelVersion {
                model_id: model_id.into(),
                weights_sha256: sha.clone(),
                weights_size: base.len() as u64,
                ..Default::default()
            }],
            blobs: HashMap::from([(sha, base)]),
            dataset: ds::Dataset {
                dataset_id: "mnist".into(),
                version: 2,
                record_count: records.len() as u64,
                train_count: dataset.train().len() as u64,
                validation_count: dataset.validation().len() as u64,
                root: dataset.root().to_vec(),
                ..Default::default()
            },
            records,
            page_cap: 300,
            paging: Some(Paging::Cursor),
            polls_before_decision: 2,
            ..Default::default()
        };
        let state = Arc::new(Mutex::new(state));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve_one(stream, &served);
            }
        });
        FakeChain { url, state }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// How many times `path` was queried.
    pub fn count(&self, path: &str) -> usize {
        self.state().queries.iter().filter(|p| *p == path).count()
    }

    /// Puts the lineage in round mode and opens round 1 from the head.
    pub fn open_rounds(&self, max_contributions: u32, round_blocks: u64) {
        self.open_rounds_with_checkpoints(max_contributions, round_blocks, 0);
    }

    /// [`FakeChain::open_rounds`] with contributions that commit to a
    /// checkpoint every `checkpoint_interval` steps.
    pub fn open_rounds_with_checkpoints(
        &self,
        max_contributions: u32,
        round_blocks: u64,
        checkpoint_interval: u32,
    ) {
        self.open_rounds_as(max_contributions, round_blocks, checkpoint_interval, "");
    }

    /// [`FakeChain::open_rounds`] whose contributions travel compressed
    /// (`RoundParams.compression`); a merge decodes the last one.
    pub fn open_compressed_rounds(&self, max_contributions: u32, round_blocks: u64, scheme: &str) {
        self.open_rounds_as(max_contributions, round_blocks, 0, scheme);
    }

    fn open_rounds_as(
        &self,
        max_contributions: u32,
        round_blocks: u64,
        checkpoint_interval: u32,
        compression: &str,
    ) {
        let mut state = self.state();
        state.lineage.rounds = Some(tr::RoundParams {
            max_contributions,
            round_blocks,
            outer_learning_rate: "1".into(),
            eval_samples: 0,
            checkpoint_interval,
            segments_per_validator: 0,
            compression: compression.into(),
        });
        state.open_round();
    }
}

/// `Round.seed` as the chain derives it:
/// `sha256("um/round" ‖ base_weights_sha256 ‖ model_id ‖ number_be_u64)`.
pub fn round_seed(base_sha256: &[u8], model_id: &str, number: u64) -> Vec<u8> {
    crate::sha256(
        &[
            b"um/round".as_slice(),
            base_sha256,
            model_id.as_bytes(),
            &number.to_be_bytes(),
        ]
        .concat(),
    )
    .to_vec()
}

impl State {
    /// Opens the next round from the head.
    pub fn open_round(&mut self) {
        let head = self.versions.last().cloned().unwrap_or_default();
        let number = self.rounds.len() as u64 + 1;
        let params = self.lineage.rounds.clone().unwrap_or_default();
        self.rounds.push(tr::Round {
            model_id: self.lineage.model_id.clone(),
            number,
            base_version: head.version,
            base_weights_sha256: head.weights_sha256.clone(),
            opened_height: self.height,
            // As umd: the deadline starts with the first contribution.
            closes_height: 0,
            status: tr::RoundStatus::Open as i32,
            seed: round_seed(&head.weights_sha256, &self.lineage.model_id, number),
            params: Some(params),
            ..Default::default()
        });
    }

    /// Another trainer's verified contribution on `shard` of the current
    /// round (a copy of the head's weights).
    pub fn take_shard(&mut self, shard: u32, trainer: &str) -> u64 {
        let head = self.versions.last().cloned().unwrap_or_default();
        let id = self.updates.len() as u64 + 1;
        let round = self.rounds.last_mut().expect("rounds are open");
        self.updates.push(tr::Update {
            id,
            model_id: head.model_id.clone(),
            base_version: head.version,
            trainer: trainer.into(),
            weights_sha256: head.weights_sha256.clone(),
            status: tr::UpdateStatus::Verified as i32,
            kind: tr::UpdateKind::Contribution as i32,
            round: round.number,
            shard,
            ..Default::default()
        });
        start_deadline(round, self.height);
        round.contributions.push(id);
        round.shards.push(shard);
        id
    }

    /// Another trainer's claim on `shard` of the current round, as umd
    /// records it (the first claim starts the deadline).
    pub fn claim_for(&mut self, shard: u32, trainer: &str) {
        let height = self.height;
        let round = self.rounds.last_mut().expect("rounds are open");
        start_deadline(round, height);
        round.claims.push(tr::ShardClaim {
            shard,
            trainer: trainer.into(),
            height,
        });
    }

    /// Closes the current round when it is full (or past its closing
    /// height with a contribution) and has been polled often enough so.
    fn advance_round(&mut self) {
        let height = self.height;
        let Some(round) = self.rounds.last() else {
            return;
        };
        let shards = round.params.as_ref().map_or(0, |p| p.max_contributions);
        let ready = round.status == tr::RoundStatus::Open as i32
            && (round.shards.len() >= shards as usize
                || (round.closes_height != 0 && height > round.closes_height));
        if !ready {
            return;
        }
        let number = round.number;
        let polls = self.round_polls.entry(number).or_default();
        *polls += 1;
        if *polls <= self.polls_before_decision {
            return;
        }
        self.close_round();
    }

    /// Fetches every checkpoint update `id` serves (none for checkpoints in
    /// the tx) into `checkpoint_fetches`; whether all came. Rejects the
    /// update when one did not.
    fn fetch_served_checkpoints(&mut self, id: u64) -> bool {
        let Some(update) = self.updates.get(id as usize - 1) else {
            return true;
        };
        if update.checkpoint_source.is_empty() {
            return true;
        }
        let fetcher = Fetcher::new(Duration::from_secs(5), 64 << 20);
        let mut missing = None;
        for sha in update.checkpoint_hashes.clone() {
            let fetched = fetcher
                .fetch(&update.checkpoint_source, &sha)
                .map_err(|e| e.to_string());
            if let Err(why) = &fetched {
                missing.get_or_insert_with(|| why.clone());
            }
            self.checkpoint_fetches.push((id, sha, fetched));
        }
        let Some(why) = missing else {
            return true;
        };
        let update = &mut self.updates[id as usize - 1];
        update.status = tr::UpdateStatus::Rejected as i32;
        update.reason = format!("VERDICT_REASON_CHECKPOINT_UNAVAILABLE: {why}");
        false
    }

    /// Decides the current round as `round_outcome` says and opens the next.
    /// The weights a compressed contribution stands for (base + its
    /// decoded pseudo-gradient); `None` in an `f32` round.
    fn decoded(&self, scheme: &str, base_sha: &[u8], payload_sha: &[u8]) -> Option<Vec<u8>> {
        use um_formats::compress::{self, Compression};
        let scheme = Compression::parse(scheme)
            .ok()
            .filter(|s| *s != Compression::F32)?;
        let spec = crate::spec::ModelSpec::parse(&self.lineage.spec_json).ok()?;
        let base = crate::weights::Weights::decode(&spec, self.blobs.get(base_sha)?).ok()?;
        let delta = compress::decode(&spec, scheme, self.blobs.get(payload_sha)?).ok()?;
        Some(compress::apply(&base, &delta).ok()?.encode())
    }

    fn close_round(&mut self) {
        let Some(mut round) = self.rounds.pop() else {
            return;
        };
        let outcome = self
            .round_outcome
            .get(&round.number)
            .cloned()
            .unwrap_or_else(|| "MERGED".into());
        // As umd: a contribution whose served checkpoint cannot be had is
        // rejected, not slashed, and left out of the merge.
        let ids: Vec<u64> = round
            .contributions
            .iter()
            .copied()
            .filter(|id| self.fetch_served_checkpoints(*id))
            .collect();
        let outcome = if ids.is_empty() && outcome == "MERGED" {
            "NO_CONTRIBUTIONS".to_string()
        } else {
            outcome
        };
        if outcome == "MERGED" && !ids.is_empty() {
            // The merge as a copy of the last contribution: the fake checks
            // the trainer's side, not the arithmetic.
            let mut last = self.updates[ids[ids.len() - 1] as usize - 1].clone();
            let scheme = round.params.as_ref().map_or("", |p| p.compression.as_str());
            if let Some(weights) =
                self.decoded(scheme, &round.base_weights_sha256, &last.weights_sha256)
            {
                let sha = crate::sha256(&weights).to_vec();
                self.blobs.insert(sha.clone(), weights);
                last.weights_sha256 = sha;
            }
            let version = self.versions.len() as u64;
            let candidate = self.updates.len() as u64 + 1;
            self.updates.push(tr::Update {
                id: candidate,
                model_id: round.model_id.clone(),
                base_version: round.base_version,
                weights_sha256: last.weights_sha256.clone(),
                status: tr::UpdateStatus::Accepted as i32,
                version,
                kind: tr::UpdateKind::Merge as i32,
                round: round.number,
                contributions: ids.clone(),
                ..Default::default()
            });
            for id in &ids {
                let update = &mut self.updates[*id as usize - 1];
                update.status = tr::UpdateStatus::Accepted as i32;
                update.version = version;
            }
            self.versions.push(tr::ModelVersion {
                model_id: round.model_id.clone(),
                version,
                parent_version: round.base_version,
                weights_sha256: last.weights_sha256,
                validation_loss: 0.25,
                validation_accuracy: 0.75,
                height: self.height,
                update_ids: ids.clone(),
                ..Default::default()
            });
            round.candidate_update_id = candidate;
            round.version = version;
        } else {
            for id in &ids {
                let update = &mut self.updates[*id as usize - 1];
                update.status = tr::UpdateStatus::Rejected as i32;
                update.reason = "NOT_MERGED".into();
            }
        }
        round.status = tr::RoundStatus::Closed as i32;
        round.outcome = outcome;
        round.closed_height = self.height;
        self.rounds.push(round);
        self.open_round();
    }
}

fn serve_one(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let result = {
        let mut state = state.lock().unwrap();
        dispatch(&mut state, &request)
    };
    let answer =
        json!({"jsonrpc": "2.0", "id": request["id"].clone(), "result": result}).to_string();
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn dispatch(state: &mut State, request: &Value) -> Value {
    let params = &request["params"];
    match request["method"].as_str().unwrap_or_default() {
        "status" => {
            // Every status call is a new block, so waiting for heights is quick.
            state.height += 1;
            json!({"node_info": {"network": "fake-chain"},
                   "sync_info": {"latest_block_height": state.height.to_string(), "latest_app_hash": ""}})
        }
        "abci_query" => {
            let path = params["path"].as_str().unwrap_or_default().to_string();
            let data = hex::decode(params["data"].as_str().unwrap_or_default()).unwrap_or_default();
            state.queries.push(path.clone());
            let (code, log, value) = match query(state, &path, &data) {
                Ok(value) => (0, String::new(), value),
                Err((code, log)) => (code, log, Vec::new()),
            };
            json!({"response": {"code": code, "log": log, "value": B64.encode(value),
                                "height": state.height.to_string()}})
        }
        "broadcast_tx_sync" => {
            let tx = B64
                .decode(params["tx"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let hash = um_client::rpc::tx_hash(&tx);
            let delivered = deliver(state, &tx);
            state.txs.insert(hash.clone(), delivered);
            json!({"code": 0, "data": "", "log": "", "hash": hash})
        }
        "tx" => {
            let hash = B64
                .decode(params["hash"].as_str().unwrap_or_default())
                .unwrap_or_default();
            state.txs[&hex::encode_upper(hash)].clone()
        }
        other => panic!("the fake chain has no method {other}"),
    }
}

type QueryResult = Result<Vec<u8>, (u32, String)>;

fn not_found(what: &str) -> (u32, String) {
    (22, format!("{what} not found"))
}

fn query(state: &mut State, path: &str, data: &[u8]) -> QueryResult {
    let model = state.lineage.model_id.clone();
    let head = state.versions.last().cloned().unwrap_or_default();
    match path {
        "/cosmos.auth.v1beta1.Query/Account" => Err(not_found("account")),
        "/um.training.v1.Query/Lineage" => {
            let req = tr::QueryLineageRequest::decode(data).unwrap();
            if req.model_id != model {
                return Err(not_found(&format!("model lineage {:?}", req.model_id)));
            }
            let mut lineage = state.lineage.clone();
            lineage.head_version = head.version;
            Ok(tr::QueryLineageResponse {
                proof: None,
                lineage: Some(lineage),
            }
            .encode_to_vec())
        }
        "/um.training.v1.Query/Head" => Ok(tr::QueryHeadResponse {
            proof: None,
            version: Some(head),
        }
        .encode_to_vec()),
        "/um.training.v1.Query/Version" => {
            let req = tr::QueryVersionRequest::decode(data).unwrap();
            let v = state
                .versions
                .get(req.version as usize)
                .cloned()
                .ok_or_else(|| not_found("version"))?;
            Ok(tr::QueryVersionResponse {
                proof: None,
                version: Some(v),
            }
            .encode_to_vec())
        }
        "/um.training.v1.Query/Weights" => {
            let req = tr::QueryWeightsRequest::decode(data).unwrap();
            let mut weights = state
                .blobs
                .get(&req.weights_sha256)
                .cloned()
                .ok_or_else(|| not_found("weights"))?;
            if state.corrupt_weights {
                weights.push(0);
            }
            Ok(tr::QueryWeightsResponse {
                total_size: Default::default(),
                weights,
            }
            .encode_to_vec())
        }
        "/um.training.v1.Query/Update" => {
            let req = tr::QueryUpdateRequest::decode(data).unwrap();
            let update = decide(state, req.update_id).ok_or_else(|| not_found("update"))?;
            Ok(tr::QueryUpdateResponse {
                proof: None,
                update: Some(update),
                verdicts: Vec::new(),
            }
            .encode_to_vec())
        }
        "/um.training.v1.Query/Round" => {
            let req = tr::QueryRoundRequest::decode(data).unwrap();
            if req.model_id != model || state.rounds.is_empty() {
                return Err(not_found("round"));
            }
            state.advance_round();
            let round = match req.number {
                0 => state.rounds.last().cloned(),
                n => state.rounds.get(n as usize - 1).cloned(),
            }
            .ok_or_else(|| not_found("round"))?;
            Ok(tr::QueryRoundResponse {
                proof: None,
                round: Some(round),
            }
            .encode_to_vec())
        }
        "/um.dataset.v1.Query/Dataset" => {
            let req = ds::QueryDatasetRequest::decode(data).unwrap();
            if req.dataset_id != state.dataset.dataset_id
                || req.version.is_some_and(|v| v != state.dataset.version)
            {
                return Err(not_found("dataset"));
            }
            Ok(ds::QueryDatasetResponse {
                dataset: Some(state.dataset.clone()),
            }
            .encode_to_vec())
        }
        "/um.dataset.v1.Query/Records" => records(state, data),
        other => Err((1, format!("unknown query path {other}"))),
    }
}

fn records(state: &State, data: &[u8]) -> QueryResult {
    let req = ds::QueryRecordsRequest::decode(data).unwrap();
    if req.dataset_id != state.dataset.dataset_id || req.version != Some(state.dataset.version) {
        return Err(not_found("dataset version"));
    }
    assert_eq!(
        req.split,
        ds::Split::Unspecified as i32,
        "the trainer asks for both splits"
    );
    let page = req.pagination.unwrap_or_default();
    let limit = (page.limit as usize).min(state.page_cap);
    let start = if page.key.is_empty() {
        page.offset as usize
    } else {
        state
            .records
            .iter()
            .position(|r| r.hash == page.key)
            .map_or(state.records.len(), |i| i + 1)
    };
    let chunk: Vec<ds::Record> = state
        .records
        .iter()
        .skip(start)
        .take(limit)
        .cloned()
        .collect();
    let more = start + chunk.len() < state.records.len();
    let next_key = match (state.paging, chunk.last()) {
        (Some(Paging::Cursor), Some(last)) if more => last.hash.clone(),
        _ => Vec::new(),
    };
    let total = if page.count_total && page.key.is_empty() {
        state.records.len() as u64
    } else {
        0
    };
    Ok(ds::QueryRecordsResponse {
        records: chunk,
        pagination: Some(PageResponse { next_key, total }),
    }
    .encode_to_vec())
}

/// As umd: the first claim or contribution starts a round's deadline.
fn start_deadline(round: &mut tr::Round, height: u64) {
    if round.closes_height == 0 {
        let blocks = round.params.as_ref().map_or(0, |p| p.round_blocks);
        round.closes_height = height + blocks;
    }
}

/// Delivers a tx of one `MsgSubmitUpdate` or `MsgClaimShard`, recording
/// its message, round, shard and result code in `delivered`.
fn deliver(state: &mut State, tx: &[u8]) -> Value {
    let raw = TxRaw::decode(tx).unwrap();
    let body = TxBody::decode(raw.body_bytes.as_slice()).unwrap();
    assert_eq!(body.messages.len(), 1);
    let message = &body.messages[0];
    let auth = AuthInfo::decode(raw.auth_info_bytes.as_slice()).unwrap();
    let gas_limit = auth.fee.map_or(0, |fee| fee.gas_limit);
    let (result, round, shard) = match message.type_url.as_str() {
        "/um.training.v1.MsgSubmitUpdate" => {
            let msg = tr::MsgSubmitUpdate::decode(message.value.as_slice()).unwrap();
            state.gas_limits.push(gas_limit);
            let (round, shard) = (msg.round, msg.shard);
            (deliver_update(state, msg), round, shard)
        }
        "/um.training.v1.MsgClaimShard" => {
            let msg = tr::MsgClaimShard::decode(message.value.as_slice()).unwrap();
            state.claims_sent.push((msg.clone(), gas_limit));
            let (round, shard) = (msg.round, msg.shard);
            (deliver_claim(state, msg), round, shard)
        }
        other => panic!("the fake chain delivers no {other}"),
    };
    let code = result["tx_result"]["code"].as_u64().unwrap_or(0) as u32;
    state
        .delivered
        .push((message.type_url.clone(), round, shard, code));
    result
}

/// A refused tx at the current height, with umd's code and log.
fn refused(height: u64, code: Code, log: String) -> Value {
    json!({"height": height.to_string(),
           "tx_result": {"code": code.value(), "codespace": "um", "log": log, "data": ""}})
}

/// Records a `MsgClaimShard` in the current round, or refuses it with
/// umd's code and log (`training::claim`, `round::check_claim`).
fn deliver_claim(state: &mut State, msg: tr::MsgClaimShard) -> Value {
    let height = state.height;
    if state.claims_unknown {
        return refused(
            height,
            Code::UnknownMessage,
            "unknown message type \"/um.training.v1.MsgClaimShard\"".into(),
        );
    }
    let invalid = |log: String| refused(height, Code::InvalidRequest, log);
    if msg.model_id != state.lineage.model_id {
        return refused(
            height,
            Code::NotFound,
            format!("model lineage {:?} not found", msg.model_id),
        );
    }
    if state.lineage.rounds.is_none() || state.rounds.is_empty() {
        return invalid(format!(
            "{} does not train in rounds: nothing to claim",
            msg.model_id
        ));
    }
    if state.steal_next_claim {
        state.steal_next_claim = false;
        state.claim_for(msg.shard, "um1thief");
    }
    let Some(round) = state.rounds.last() else {
        return invalid("no round".into());
    };
    let (number, model) = (round.number, round.model_id.clone());
    let max = round.params.as_ref().map_or(0, |p| p.max_contributions);
    if msg.round != number {
        return invalid(format!(
            "claim on round {}, but {model} is in round {number}",
            msg.round
        ));
    }
    let past = round.closes_height != 0 && height > round.closes_height;
    if round.status != tr::RoundStatus::Open as i32 || past {
        return invalid(format!(
            "round {number} of {model} takes no more claims; the next round opens from its result"
        ));
    }
    let shard = msg.shard;
    if shard >= max {
        return invalid(format!(
            "shard {shard} of a round of {max} shards (0 to {})",
            max.saturating_sub(1)
        ));
    }
    if round.shards.contains(&shard) || round.claims.iter().any(|c| c.shard == shard) {
        return invalid(format!(
            "shard {shard} of round {number} is taken; pick a free one"
        ));
    }
    let trainer = msg.trainer.as_str();
    if let Some(claim) = round.claims.iter().find(|c| c.trainer == trainer) {
        return invalid(format!(
            "{trainer} already claimed shard {} of round {number}",
            claim.shard
        ));
    }
    if round.contributions.iter().any(|id| {
        state
            .updates
            .get(*id as usize - 1)
            .is_some_and(|u| u.trainer == trainer)
    }) {
        return invalid(format!("{trainer} already contributed to round {number}"));
    }
    if state.unbonded.contains(trainer) {
        return refused(
            height,
            Code::ContractError,
            format!("{trainer} is not bonded as a trainer in nrn-staking"),
        );
    }
    state.claim_for(shard, trainer);
    let data = TxMsgData {
        #[allow(deprecated)]
        data: Vec::new(),
        msg_responses: vec![Any {
            type_url: "/um.training.v1.MsgClaimShardResponse".into(),
            value: tr::MsgClaimShardResponse {}.encode_to_vec(),
        }],
    };
    json!({"height": height.to_string(),
           "tx_result": {"code": 0, "log": "", "data": B64.encode(data.encode_to_vec()),
                         "gas_wanted": "1", "gas_used": "1", "events": []}})
}

/// Records a `MsgSubmitUpdate` as a pending update, as umd's delivery does.
fn deliver_update(state: &mut State, msg: tr::MsgSubmitUpdate) -> Value {
    let head = state.versions.last().map_or(0, |v| v.version);
    let height = state.height;
    state.submitted.push(msg.clone());
    let refuse = |log: String| json!({"height": height.to_string(), "tx_result": {"code": 18, "log": log, "data": ""}});
    if msg.base_version != head {
        return json!({"height": height.to_string(), "tx_result": {"code": 14, "log": "stale base", "data": ""}});
    }
    let in_rounds = state.lineage.rounds.is_some();
    let claimed = state
        .rounds
        .last()
        .is_some_and(|r| r.claims.iter().any(|c| c.shard == msg.shard));
    if in_rounds && state.steal_next_shard && !claimed {
        state.steal_next_shard = false;
        state.take_shard(msg.shard, "um1thief");
    }
    let id = state.updates.len() as u64 + 1;
    let served = !msg.checkpoint_hashes.is_empty() || !msg.checkpoint_source.is_empty();
    if in_rounds {
        let Some(round) = state.rounds.last() else {
            return refuse("no round".into());
        };
        let shards = round.params.as_ref().map_or(0, |p| p.max_contributions);
        if msg.nonce != 0 {
            return refuse("nonce must be 0 in round mode".into());
        }
        if msg.round != round.number || round.status != tr::RoundStatus::Open as i32 {
            return refuse(format!("round {} is not open", msg.round));
        }
        if msg.shard >= shards || round.shards.contains(&msg.shard) {
            return refuse(format!("shard {} is taken", msg.shard));
        }
        // As umd: a claimed shard takes only its claimant's contribution,
        // and a claimant contributes only on its claimed shard.
        for claim in &round.claims {
            if claim.shard == msg.shard && claim.trainer != msg.trainer {
                return refuse(format!(
                    "shard {} of round {} is claimed by {}; pick a free one",
                    msg.shard, round.number, claim.trainer
                ));
            }
            if claim.trainer == msg.trainer && claim.shard != msg.shard {
                return refuse(format!(
                    "{} claimed shard {} of round {}, not shard {}",
                    msg.trainer, claim.shard, round.number, msg.shard
                ));
            }
        }
        // As umd: exactly N − 1 checkpoints, N = ⌈S / c⌉ when c < S, else 1
        // (written out here rather than taken from the trainer's code), in
        // the tx or served (their hashes and a source), never both.
        let interval = round.params.as_ref().map_or(0, |p| p.checkpoint_interval);
        let steps = state
            .lineage
            .hyperparams
            .as_ref()
            .map_or(0, |h| h.local_steps);
        let expected = um_formats::segments::count(steps, interval) - 1;
        let committed = if served {
            if !msg.checkpoints.is_empty() {
                return refuse(
                    "checkpoints come either in the tx or as checkpoint_hashes with a checkpoint_source, not both"
                        .into(),
                );
            }
            if let Err(e) = check_source(&msg.checkpoint_source) {
                return refuse(e.to_string());
            }
            if let Some(bad) = msg.checkpoint_hashes.iter().find(|h| h.len() != 32) {
                return refuse(format!("a checkpoint hash has {} bytes, not 32", bad.len()));
            }
            msg.checkpoint_hashes.len()
        } else {
            msg.checkpoints.len()
        };
        if committed != expected as usize {
            return refuse(format!(
                "round {} takes {expected} checkpoints, not {committed}",
                round.number,
            ));
        }
        let mine = |u: &tr::Update| u.trainer == msg.trainer;
        if round
            .contributions
            .iter()
            .any(|id| state.updates.get(*id as usize - 1).is_some_and(mine))
        {
            return refuse("already contributed".into());
        }
        let round = state.rounds.last_mut().expect("checked above");
        start_deadline(round, height);
        round.contributions.push(id);
        round.shards.push(msg.shard);
    } else if msg.round != 0 || msg.shard != 0 || !msg.checkpoints.is_empty() || served {
        return refuse("the lineage has no rounds".into());
    }
    let sha = crate::sha256(&msg.weights).to_vec();
    state.blobs.insert(sha.clone(), msg.weights.clone());
    let checkpoint_hashes: Vec<Vec<u8>> = if served {
        msg.checkpoint_hashes.clone()
    } else {
        msg.checkpoints
            .iter()
            .map(|c| crate::sha256(c).to_vec())
            .collect()
    };
    for (sha, bytes) in checkpoint_hashes.iter().zip(&msg.checkpoints) {
        state.blobs.insert(sha.clone(), bytes.clone());
    }
    state.updates.push(tr::Update {
        id,
        model_id: msg.model_id,
        base_version: msg.base_version,
        dataset_version: msg.dataset_version,
        nonce: msg.nonce,
        trainer: msg.trainer,
        weights_sha256: sha,
        claimed_train_loss: msg.claimed_train_loss,
        claimed_validation_loss: msg.claimed_validation_loss,
        submitted_height: height,
        status: tr::UpdateStatus::Pending as i32,
        kind: if in_rounds {
            tr::UpdateKind::Contribution as i32
        } else {
            tr::UpdateKind::Single as i32
        },
        round: msg.round,
        shard: msg.shard,
        checkpoint_hashes,
        checkpoint_source: msg.checkpoint_source,
        ..Default::default()
    });
    let data = TxMsgData {
        #[allow(deprecated)]
        data: Vec::new(),
        msg_responses: vec![Any {
            type_url: "/um.training.v1.MsgSubmitUpdateResponse".into(),
            value: tr::MsgSubmitUpdateResponse { update_id: id }.encode_to_vec(),
        }],
    };
    json!({"height": height.to_string(),
           "tx_result": {"code": 0, "log": "", "data": B64.encode(data.encode_to_vec()),
                         "gas_wanted": "1", "gas_used": "1", "events": []}})
}

/// The update, decided once it has been polled often enough.
fn decide(state: &mut State, id: u64) -> Option<tr::Update> {
    let index = usize::try_from(id).ok()?.checked_sub(1)?;
    let mut update = state.updates.get(index)?.clone();
    let polls = state.polls.entry(id).or_default();
    *polls += 1;
    // Round contributions and merges are decided with their round.
    let single = update.kind == tr::UpdateKind::Single as i32;
    if single
        && update.status == tr::UpdateStatus::Pending as i32
        && *polls > state.polls_before_decision
    {
        update.decided_height = state.height;
        if state.reject.contains(&id) {
            update.status = tr::UpdateStatus::Rejected as i32;
            update.reason = "VERDICT_REASON_WEIGHTS_MISMATCH: fake".into();
        } else {
            let version = state.versions.len() as u64;
            update.status = tr::UpdateStatus::Accepted as i32;
            update.version = version;
            state.versions.push(tr::ModelVersion {
                model_id: update.model_id.clone(),
                version,
                parent_version: update.base_version,
                weights_sha256: update.weights_sha256.clone(),
                trainer: update.trainer.clone(),
                train_loss: update.claimed_train_loss,
                validation_loss: update.claimed_validation_loss,
                validation_accuracy: 0.5,
                height: state.height,
                update_ids: vec![id],
                ..Default::default()
            });
        }
        state.updates[index] = update.clone();
    }
    Some(update)
}
