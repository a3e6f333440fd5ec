//! PrepareProposal: what the proposer puts into a block.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use cosmwasm_std::Uint256;
use tendermint_proto::v0_38::abci as pb;
use um_proto::um::abci::v1::InjectedVerdicts;

use super::Node;
use crate::auth::{self, AuthParams, DecodedTx, Mode};
use crate::fee;
use crate::training::{self, extension};

/// One sender's txs may take at most this fraction (1/N) of a block's gas
/// and of its contract gas, beyond their first tx: the highest bidder
/// cannot take the whole block.
pub const MAX_SENDER_SHARE_DENOMINATOR: u64 = 4;

/// Puts the verdict tx first when the previous height's extensions carry
/// verdicts (the chain's own work, free and first), then mempool txs by gas
/// price, highest first, each sender's in its own order (sequences), while
/// they fit the byte and gas limits (all txs', contract-running txs', and
/// each sender's share), dropping txs that fail the ante checks against the
/// state they will meet (ProcessProposal refuses a block with one). The
/// price is the fee over the declared gas limit, which is what a tx takes
/// from the block.
pub fn prepare_proposal(
    node: &Node,
    request: pb::RequestPrepareProposal,
) -> pb::ResponsePrepareProposal {
    let state = node.store.view();
    let params = AuthParams::load(&state).unwrap_or_default();
    let height = u64::try_from(request.height).unwrap_or(0);
    // Sequences and balances move here as the block's txs would move them.
    let mut ante_state = node.next_block_base();
    let block = super::proposed_block(&ante_state, height, request.time.as_ref());
    let mut room = Room {
        max_bytes: u64::try_from(request.max_tx_bytes).unwrap_or(0),
        ..Room::default()
    };
    let mut txs = Vec::new();
    if let Some(verdicts) = verdict_tx(node, &request) {
        if (verdicts.len() as u64) <= room.max_bytes {
            room.bytes = verdicts.len() as u64;
            txs.push(verdicts.into());
        }
    }
    let mut queue = BidQueue::new(&request.txs, &params);
    while let Some(candidate) = queue.pop() {
        let sender_used = room.used_by(&candidate.sender);
        let fits = room.fits(&candidate, &params, sender_used);
        let passes = fits
            && super::ante::check(&mut ante_state, &block, &candidate.decoded, &params, None)
                .is_ok();
        if !passes {
            // The sender's next tx competes in its place (it may be a
            // replacement with the same sequence, or smaller).
            continue;
        }
        room.take(&candidate, &params);
        txs.push(candidate.bytes);
    }
    pb::ResponsePrepareProposal { txs }
}

/// What the block has used so far.
#[derive(Default)]
struct Room {
    max_bytes: u64,
    bytes: u64,
    gas: u64,
    contract_gas: u64,
    /// Per sender: (gas, contract gas, txs) included.
    senders: BTreeMap<String, (u64, u64, usize)>,
}

impl Room {
    fn used_by(&self, sender: &str) -> (u64, u64, usize) {
        self.senders.get(sender).copied().unwrap_or_default()
    }

    fn fits(&self, candidate: &Bid, params: &AuthParams, sender: (u64, u64, usize)) -> bool {
        let tx = &candidate.decoded;
        let contract_gas = tx.contract_gas(params);
        let within_block = self.bytes.saturating_add(candidate.bytes.len() as u64)
            <= self.max_bytes
            && self.gas.saturating_add(tx.gas_limit) <= params.max_block_gas
            && self.contract_gas.saturating_add(contract_gas) <= params.max_block_contract_gas;
        let (sender_gas, sender_contract_gas, sender_txs) = sender;
        // A sender's first tx is judged by the block's limits alone, so a
        // tx as large as `max_tx_gas` can always be included.
        let within_share = sender_txs == 0
            || (sender_gas.saturating_add(tx.gas_limit)
                <= params.max_block_gas / MAX_SENDER_SHARE_DENOMINATOR
                && sender_contract_gas.saturating_add(contract_gas)
                    <= params.max_block_contract_gas / MAX_SENDER_SHARE_DENOMINATOR);
        within_block && within_share
    }

    fn take(&mut self, candidate: &Bid, params: &AuthParams) {
        let tx = &candidate.decoded;
        let contract_gas = tx.contract_gas(params);
        self.bytes = self.bytes.saturating_add(candidate.bytes.len() as u64);
        self.gas = self.gas.saturating_add(tx.gas_limit);
        self.contract_gas = self.contract_gas.saturating_add(contract_gas);
        let entry = self.senders.entry(candidate.sender.clone()).or_default();
        entry.0 = entry.0.saturating_add(tx.gas_limit);
        entry.1 = entry.1.saturating_add(contract_gas);
        entry.2 += 1;
    }
}

/// A mempool tx with what ordering needs.
struct Bid {
    bytes: prost::bytes::Bytes,
    decoded: DecodedTx,
    sender: String,
    fee: u128,
    /// Its place in the mempool's order: among equal prices, first come
    /// first served.
    arrival: usize,
}

impl Bid {
    /// Compares fee/gas_limit exactly, by cross-multiplying in 256 bits.
    fn price_cmp(&self, other: &Bid) -> Ordering {
        let ours = Uint256::from(self.fee) * Uint256::from(other.decoded.gas_limit);
        let theirs = Uint256::from(other.fee) * Uint256::from(self.decoded.gas_limit);
        ours.cmp(&theirs)
    }
}

/// The head of one sender's queue, ordered for a max-heap: higher price
/// first, then earlier arrival.
struct Head(Bid);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .price_cmp(&other.0)
            .then_with(|| other.0.arrival.cmp(&self.0.arrival))
    }
}

/// Mempool txs by price, each sender's in mempool order: only a sender's
/// next tx competes, so its sequences stay in order.
struct BidQueue {
    heads: BinaryHeap<Head>,
    waiting: BTreeMap<String, VecDeque<Bid>>,
}

impl BidQueue {
    fn new(txs: &[prost::bytes::Bytes], params: &AuthParams) -> Self {
        let mut waiting: BTreeMap<String, VecDeque<Bid>> = BTreeMap::new();
        for (arrival, tx) in txs.iter().enumerate() {
            if InjectedVerdicts::has_prefix(tx) {
                continue;
            }
            let Ok(decoded) = auth::decode(tx, params, Mode::Deliver) else {
                continue;
            };
            let Some(sender) = decoded.signer_address() else {
                continue;
            };
            let Ok(fee) = fee::deduct::offered_fee(&decoded) else {
                continue;
            };
            waiting.entry(sender.clone()).or_default().push_back(Bid {
                bytes: tx.clone(),
                decoded,
                sender,
                fee,
                arrival,
            });
        }
        let mut queue = Self {
            heads: BinaryHeap::new(),
            waiting,
        };
        let senders: Vec<String> = queue.waiting.keys().cloned().collect();
        for sender in senders {
            queue.advance(&sender);
        }
        queue
    }

    /// Moves `sender`'s next tx, if any, into the running.
    fn advance(&mut self, sender: &str) {
        if let Some(next) = self.waiting.get_mut(sender).and_then(VecDeque::pop_front) {
            self.heads.push(Head(next));
        }
    }

    fn pop(&mut self) -> Option<Bid> {
        let Head(bid) = self.heads.pop()?;
        self.advance(&bid.sender);
        Some(bid)
    }
}

/// The extended commit of the previous height as a verdict tx, when any
/// extension says something and the tx passes the check every validator
/// will run on it.
fn verdict_tx(node: &Node, request: &pb::RequestPrepareProposal) -> Option<Vec<u8>> {
    let commit = request.local_last_commit.as_ref()?;
    let previous = request.height.checked_sub(1)?;
    if node.byzantine.forge_verdicts {
        let pending = crate::training::records::pending_updates(&node.store.view());
        let injected = extension::build_injected(previous, commit);
        return Some(
            node.byzantine
                .forged_verdict_tx(injected, &pending.unwrap_or_default()),
        );
    }
    if node.byzantine.omit_verdicts {
        return None;
    }
    let state = node.store.view();
    match training::abci::verdict_tx(&state, &node.last_block.chain_id, request.height, commit) {
        Ok(tx) => tx,
        Err(reason) => {
            tracing::warn!(height = request.height, "not injecting verdicts: {reason}");
            None
        }
    }
}
