//! The ABCI 2.0 application: one file per method, all sharing [`Node`].

mod ante;
pub mod byzantine;
mod check_tx;
mod commit;
mod extend_vote;
mod finalize_block;
mod info;
mod init_chain;
pub mod mempool;
pub mod modules;
mod prepare_proposal;
mod process_proposal;
mod query;
pub mod query_proof;
pub mod snapshots;
pub mod tx;
mod verify_vote_extension;

#[cfg(test)]
mod fee_tests;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use tendermint_abci::Application;
use tendermint_proto::v0_38::abci as pb;

use self::modules::Modules;
use crate::context::BlockInfo;
use crate::store::{CommitInfo, StateView, Store, StoreError, TreeUpdate};
use crate::telemetry::{self as metrics, AbciMethod};
use crate::training::verify_request::Verification;
use crate::wasm::WasmVm;

/// The block executed by FinalizeBlock and not yet committed.
struct PendingBlock {
    view: StateView,
    /// The tree versions this block commits: its own, after the genesis
    /// state's for the first block.
    trees: Vec<TreeUpdate>,
    info: CommitInfo,
}

/// Everything the node keeps between ABCI calls.
pub struct Node {
    store: Store,
    modules: Arc<Modules>,
    last_commit: CommitInfo,
    /// Genesis state between InitChain and the first block, which commits it.
    genesis: Option<PendingBlock>,
    pending: Option<PendingBlock>,
    /// Mempool view: committed state plus the effects of txs CheckTx let in.
    check_state: StateView,
    /// The txs CheckTx let in that no block has taken yet.
    mempool: mempool::Pending,
    /// Block info that queries and CheckTx run against.
    last_block: BlockInfo,
    /// This validator's own `um-trainer`; `None` makes it abstain from
    /// every verdict (a full node, or an operator without a verifier).
    verifier: Option<Arc<dyn Verification>>,
    /// Test hook of the reliability scenarios; all off in a real node.
    byzantine: byzantine::Byzantine,
    /// This node's own floor on gas prices in CheckTx (`umd start
    /// --minimum-gas-prices`, like `minimum-gas-prices` in the SDK's
    /// app.toml), above the chain's `min_gas_price`; consensus never reads it.
    min_gas_price: Option<cosmwasm_std::Decimal>,
    /// Tree versions kept (`umd start --pruning-keep-recent`): after each
    /// commit the versions older than the last this many are pruned; 0
    /// keeps them all (an archive node). The state itself is never pruned.
    pruning_keep_recent: u64,
}

/// The Cosmos SDK's default `pruning-keep-recent`.
pub const DEFAULT_PRUNING_KEEP_RECENT: u64 = 362_880;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("wasm: {0}")]
    Wasm(String),
}

impl Node {
    pub fn open(home: &Path) -> Result<Self, AppError> {
        let store = Store::open(&home.join("umd.db"))?;
        let wasm = WasmVm::new(&home.join("wasm-cache"))
            .map_err(|e| AppError::Wasm(e.to_string()))?
            .with_bindings(Arc::new(crate::contract_requests::ContractRequests));
        Self::with_parts(store, wasm)
    }

    pub fn with_parts(store: Store, wasm: WasmVm) -> Result<Self, AppError> {
        Self::with_modules(store, Modules::standard(wasm))
    }

    /// A node of `modules` (the standard list, or it plus test modules).
    pub fn with_modules(store: Store, modules: Modules) -> Result<Self, AppError> {
        let last_commit = store.last_commit()?;
        let check_state = store.view();
        let last_block = query::load_last_block(&check_state).unwrap_or_default();
        Ok(Self {
            store,
            modules: Arc::new(modules),
            last_commit,
            genesis: None,
            pending: None,
            check_state,
            mempool: mempool::Pending::default(),
            last_block,
            verifier: None,
            byzantine: byzantine::Byzantine::default(),
            min_gas_price: None,
            pruning_keep_recent: DEFAULT_PRUNING_KEEP_RECENT,
        })
    }

    /// Takes up what the store holds now (after a snapshot was restored
    /// under this node): the last commit, the mempool's view and block.
    fn reload(&mut self) {
        self.last_commit = self.store.last_commit().unwrap_or_default();
        self.check_state = self.store.view();
        self.last_block = query::load_last_block(&self.check_state).unwrap_or_default();
        self.mempool = mempool::Pending::default();
    }

    /// Verifies submitted updates with `verifier` (the node process's
    /// worker, `crate::node::verifier::Verifier`, in umd).
    pub fn with_verifier(mut self, verifier: Arc<dyn Verification>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The state the next block starts from: committed state, or the
    /// genesis state that the first block commits with it.
    fn next_block_base(&self) -> StateView {
        match &self.genesis {
            Some(genesis) => self.store.view_with(&genesis.view.pending_changes()),
            None => self.store.view(),
        }
    }

    /// Admits to the mempool only txs paying at least `price` unrn per gas
    /// (and the chain's minimum).
    pub fn with_min_gas_price(mut self, price: cosmwasm_std::Decimal) -> Self {
        self.min_gas_price = Some(price);
        self
    }

    /// Keeps the last `keep_recent` tree versions (0: all of them).
    pub fn with_pruning(mut self, keep_recent: u64) -> Self {
        self.pruning_keep_recent = keep_recent;
        self
    }

    /// Makes this validator misbehave as `modes` say (a test hook).
    pub fn with_byzantine(mut self, modes: byzantine::Byzantine) -> Self {
        self.byzantine = modes;
        self
    }
}

/// The ABCI application handed to the server; clones share one [`Node`].
/// Queries go to the [`query::Reader`], which needs no lock.
#[derive(Clone)]
pub struct App {
    node: Arc<Mutex<Node>>,
    reader: query::Reader,
    /// State sync; list and load never take the node's lock.
    snapshots: Arc<snapshots::Snapshots>,
}

impl App {
    pub fn new(node: Node) -> Self {
        let reader = query::Reader::new(node.store.clone(), node.modules.clone());
        Self {
            node: Arc::new(Mutex::new(node)),
            reader,
            snapshots: Arc::new(snapshots::Snapshots::new(None, Default::default())),
        }
    }

    /// Takes, serves and restores snapshots as `snapshots` says.
    pub fn with_snapshots(mut self, snapshots: snapshots::Snapshots) -> Self {
        self.snapshots = Arc::new(snapshots);
        self
    }

    fn node(&self) -> MutexGuard<'_, Node> {
        // A panic while holding the lock leaves the node as it was before the
        // call (state changes are buffered), so its data stays usable.
        self.node
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// ABCI Query of `path` against the last committed state, for umd's own
    /// gRPC and REST servers (not timed as an ABCI call in the metrics).
    pub fn query_committed(&self, path: &str, data: Vec<u8>) -> pb::ResponseQuery {
        let request = pb::RequestQuery {
            data: data.into(),
            path: path.to_string(),
            height: 0,
            prove: false,
        };
        self.reader.query(request)
    }

    /// An ABCI query as CometBFT would send it (`prove`, `height`), from
    /// umd's own gRPC and REST servers.
    pub fn query_request(&self, request: pb::RequestQuery) -> pb::ResponseQuery {
        self.reader.query(request)
    }
}

impl Application for App {
    fn info(&self, request: pb::RequestInfo) -> pb::ResponseInfo {
        let _timer = metrics::AbciTimer::start(AbciMethod::Info);
        let response = info::info(&self.node(), request);
        metrics::set_height(u64::try_from(response.last_block_height).unwrap_or(0));
        response
    }

    fn init_chain(&self, request: pb::RequestInitChain) -> pb::ResponseInitChain {
        let _timer = metrics::AbciTimer::start(AbciMethod::InitChain);
        init_chain::init_chain(&mut self.node(), request)
    }

    fn query(&self, request: pb::RequestQuery) -> pb::ResponseQuery {
        let _timer = metrics::AbciTimer::start(AbciMethod::Query);
        self.reader.query(request)
    }

    fn check_tx(&self, request: pb::RequestCheckTx) -> pb::ResponseCheckTx {
        let _timer = metrics::AbciTimer::start(AbciMethod::CheckTx);
        check_tx::check_tx(&mut self.node(), request)
    }

    fn commit(&self) -> pb::ResponseCommit {
        let _timer = metrics::AbciTimer::start(AbciMethod::Commit);
        let mut node = self.node();
        let before = node.last_commit.height;
        let response = commit::commit(&mut node);
        metrics::set_height(node.last_commit.height);
        if node.last_commit.height != before {
            self.snapshots
                .after_commit(&node.store, node.last_commit.height);
        }
        response
    }

    fn list_snapshots(&self) -> pb::ResponseListSnapshots {
        self.snapshots.list()
    }

    fn load_snapshot_chunk(
        &self,
        request: pb::RequestLoadSnapshotChunk,
    ) -> pb::ResponseLoadSnapshotChunk {
        self.snapshots.load_chunk(request)
    }

    fn offer_snapshot(&self, request: pb::RequestOfferSnapshot) -> pb::ResponseOfferSnapshot {
        self.snapshots.offer(&self.node().store, request)
    }

    fn apply_snapshot_chunk(
        &self,
        request: pb::RequestApplySnapshotChunk,
    ) -> pb::ResponseApplySnapshotChunk {
        let mut node = self.node();
        let (response, restored) = self.snapshots.apply_chunk(&node.store, request);
        if restored.is_some() {
            node.reload();
            metrics::set_height(node.last_commit.height);
        }
        response
    }

    fn prepare_proposal(&self, request: pb::RequestPrepareProposal) -> pb::ResponsePrepareProposal {
        let _timer = metrics::AbciTimer::start(AbciMethod::PrepareProposal);
        prepare_proposal::prepare_proposal(&self.node(), request)
    }

    fn process_proposal(&self, request: pb::RequestProcessProposal) -> pb::ResponseProcessProposal {
        let _timer = metrics::AbciTimer::start(AbciMethod::ProcessProposal);
        process_proposal::process_proposal(&self.node(), request)
    }

    fn extend_vote(&self, request: pb::RequestExtendVote) -> pb::ResponseExtendVote {
        let _timer = metrics::AbciTimer::start(AbciMethod::ExtendVote);
        extend_vote::extend_vote(&self.node(), request)
    }

    fn verify_vote_extension(
        &self,
        request: pb::RequestVerifyVoteExtension,
    ) -> pb::ResponseVerifyVoteExtension {
        let _timer = metrics::AbciTimer::start(AbciMethod::VerifyVoteExtension);
        verify_vote_extension::verify_vote_extension(&self.node(), request)
    }

    fn finalize_block(&self, request: pb::RequestFinalizeBlock) -> pb::ResponseFinalizeBlock {
        let _timer = metrics::AbciTimer::start(AbciMethod::FinalizeBlock);
        // The injected verdict tx is the chain's own, not a user's tx.
        let user_txs = request
            .txs
            .iter()
            .filter(|tx| !um_proto::um::abci::v1::InjectedVerdicts::has_prefix(tx))
            .count();
        let response = finalize_block::finalize_block(&mut self.node(), request);
        metrics::add_txs(user_txs as u64);
        response
    }
}

/// The block a proposal would make at `height`, as far as the ante step
/// needs it (its hash is not known yet).
fn proposed_block(
    base: &StateView,
    height: u64,
    time: Option<&tendermint_proto::google::protobuf::Timestamp>,
) -> BlockInfo {
    BlockInfo {
        chain_id: crate::auth::ante::chain_id(base).unwrap_or_default(),
        height,
        time_nanos: time.map(finalize_block::timestamp_nanos).unwrap_or(0),
        hash: Vec::new(),
    }
}

fn to_abci_events(events: Vec<crate::context::Event>) -> Vec<pb::Event> {
    events
        .into_iter()
        .map(|event| pb::Event {
            r#type: event.kind,
            attributes: event
                .attributes
                .into_iter()
                .map(|(key, value)| pb::EventAttribute {
                    key,
                    value,
                    index: true,
                })
                .collect(),
        })
        .collect()
}
