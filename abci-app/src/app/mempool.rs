//! What this node's mempool may hold: at most [`PENDING_BLOCKS`] blocks'
//! worth of gas and of contract gas (gas limits, as blocks count them).
//! Without a bound, txs past the chain's capacity queue for tens of
//! seconds and a sender only learns of it by timing out; with it, CheckTx
//! refuses them at once with `MempoolFull`, and what is admitted is in a
//! block within a few intervals.
//!
//! One sender may hold at most its share of that (a block takes at most
//! 1/`MAX_SENDER_SHARE_DENOMINATOR` of its gas from one sender): beyond it
//! its txs would wait more blocks than the bound says, whatever others do.
//!
//! A full mempool still admits a tx that offers a higher gas price than the
//! cheapest one waiting, and after the next block the cheapest ones beyond
//! the bound are evicted at their recheck: filling the mempool with cheap
//! txs declaring much gas does not shut out anyone who pays more (blocks
//! take the highest price first, `prepare_proposal`).
//!
//! Node-local, like `--minimum-gas-prices`: consensus never reads it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use cosmwasm_std::Uint256;
use sha2::{Digest, Sha256};

use crate::auth::{AuthParams, DecodedTx};
use crate::codes::{Code, TxError};

/// Blocks' worth of gas (and of contract gas) the mempool admits.
pub const PENDING_BLOCKS: u64 = 2;

type TxHash = [u8; 32];

/// The mempool key of a tx (CometBFT's: sha256 of its bytes).
pub fn tx_hash(tx: &[u8]) -> TxHash {
    Sha256::digest(tx).into()
}

/// A fee over a gas limit, compared exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasPrice {
    pub fee: u128,
    pub gas_limit: u64,
}

impl Ord for GasPrice {
    fn cmp(&self, other: &Self) -> Ordering {
        let ours = Uint256::from(self.fee) * Uint256::from(other.gas_limit.max(1));
        let theirs = Uint256::from(other.fee) * Uint256::from(self.gas_limit.max(1));
        ours.cmp(&theirs)
    }
}

impl PartialOrd for GasPrice {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug)]
struct Waiting {
    sender: String,
    price: GasPrice,
    gas: u64,
    contract_gas: u64,
    /// The commit generation in which CheckTx last saw it.
    seen: u64,
}

/// The txs CheckTx admitted that no block has taken yet.
#[derive(Debug, Default)]
pub struct Pending {
    waiting: BTreeMap<TxHash, Waiting>,
    gas: u64,
    contract_gas: u64,
    /// Per sender: (gas, contract gas) waiting.
    by_sender: BTreeMap<String, (u64, u64)>,
    /// Commits so far; rechecks after a commit belong to it.
    generation: u64,
    /// To be refused at their recheck: the cheapest beyond the bound.
    evict: BTreeSet<TxHash>,
}

/// One tx as the mempool weighs it.
pub struct Candidate {
    hash: TxHash,
    entry: Waiting,
}

impl Candidate {
    pub fn new(bytes: &[u8], tx: &DecodedTx, params: &AuthParams) -> Self {
        let fee = crate::fee::deduct::offered_fee(tx).unwrap_or(0);
        Self {
            hash: tx_hash(bytes),
            entry: Waiting {
                sender: tx.signer_address().unwrap_or_default(),
                price: GasPrice {
                    fee,
                    gas_limit: tx.gas_limit,
                },
                gas: tx.gas_limit,
                contract_gas: tx.contract_gas(params),
                seen: 0,
            },
        }
    }
}

impl Pending {
    /// Whether a new tx may enter: while there is room, or when it pays
    /// more per gas than the cheapest waiting tx.
    pub fn admits(&self, candidate: &Candidate, params: &AuthParams) -> Result<(), TxError> {
        if self.waiting.contains_key(&candidate.hash) {
            return Ok(());
        }
        self.sender_has_room_for(candidate, params)?;
        if self.has_room_for(candidate, params) {
            return Ok(());
        }
        let Some(cheapest) = self.waiting.values().map(|w| w.price).min() else {
            return Ok(());
        };
        if candidate.entry.price > cheapest {
            return Ok(());
        }
        Err(TxError::new(
            Code::MempoolFull,
            format!(
                "mempool full: {} txs with {} gas ({} in contracts) are waiting, {PENDING_BLOCKS} \
                 blocks' worth, and none pays less per gas than this one; retry after the next \
                 block or offer a higher gas price",
                self.waiting.len(),
                self.gas,
                self.contract_gas
            ),
        ))
    }

    /// A sender's first waiting tx always has room, as in a block.
    fn sender_has_room_for(
        &self,
        candidate: &Candidate,
        params: &AuthParams,
    ) -> Result<(), TxError> {
        let Some((gas, contract_gas)) = self.by_sender.get(&candidate.entry.sender) else {
            return Ok(());
        };
        let (gas_cap, contract_cap) = caps(params);
        let share = super::prepare_proposal::MAX_SENDER_SHARE_DENOMINATOR;
        if gas.saturating_add(candidate.entry.gas) <= gas_cap / share
            && contract_gas.saturating_add(candidate.entry.contract_gas) <= contract_cap / share
        {
            return Ok(());
        }
        Err(TxError::new(
            Code::MempoolFull,
            format!(
                "mempool full for {}: its waiting txs take {gas} gas ({contract_gas} in \
                 contracts), {PENDING_BLOCKS} blocks of the 1/{share} share one sender may have \
                 in a block; retry after the next block",
                candidate.entry.sender
            ),
        ))
    }

    fn has_room_for(&self, candidate: &Candidate, params: &AuthParams) -> bool {
        let (gas_cap, contract_cap) = caps(params);
        self.gas.saturating_add(candidate.entry.gas) <= gas_cap
            && self
                .contract_gas
                .saturating_add(candidate.entry.contract_gas)
                <= contract_cap
    }

    /// Whether a recheck should drop the tx to bring the mempool back
    /// within its bound.
    pub fn evicts(&self, candidate: &Candidate) -> bool {
        self.evict.contains(&candidate.hash)
    }

    /// Counts a tx CheckTx admitted (or kept at a recheck).
    pub fn admit(&mut self, candidate: &Candidate) {
        let entry = Waiting {
            seen: self.generation,
            ..candidate.entry.clone()
        };
        let (gas, contract_gas) = (entry.gas, entry.contract_gas);
        let sender = entry.sender.clone();
        if self.waiting.insert(candidate.hash, entry).is_none() {
            self.gas = self.gas.saturating_add(gas);
            self.contract_gas = self.contract_gas.saturating_add(contract_gas);
            let own = self.by_sender.entry(sender).or_default();
            own.0 = own.0.saturating_add(gas);
            own.1 = own.1.saturating_add(contract_gas);
        }
    }

    /// Forgets a tx: a block took it, or its recheck failed.
    pub fn remove(&mut self, bytes: &[u8]) {
        self.remove_hash(&tx_hash(bytes));
    }

    fn remove_hash(&mut self, hash: &TxHash) {
        if let Some(entry) = self.waiting.remove(hash) {
            self.gas = self.gas.saturating_sub(entry.gas);
            self.contract_gas = self.contract_gas.saturating_sub(entry.contract_gas);
            if let Some(own) = self.by_sender.get_mut(&entry.sender) {
                own.0 = own.0.saturating_sub(entry.gas);
                own.1 = own.1.saturating_sub(entry.contract_gas);
                if own.0 == 0 && own.1 == 0 {
                    self.by_sender.remove(&entry.sender);
                }
            }
        }
    }

    /// After a commit: forgets txs CheckTx did not see since the previous
    /// one (CometBFT dropped them without telling), and picks the cheapest
    /// beyond the bound for eviction at their recheck.
    pub fn on_commit(&mut self, params: &AuthParams) {
        let stale: Vec<TxHash> = self
            .waiting
            .iter()
            .filter(|(_, entry)| entry.seen < self.generation)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in &stale {
            self.remove_hash(hash);
        }
        self.generation += 1;
        self.evict.clear();
        let (gas_cap, contract_cap) = caps(params);
        let mut by_price: Vec<(&TxHash, &Waiting)> = self.waiting.iter().collect();
        // Cheapest first; among equals, the hash order keeps it node-stable.
        by_price.sort_by(|a, b| a.1.price.cmp(&b.1.price).then(a.0.cmp(b.0)));
        let (mut gas, mut contract_gas) = (self.gas, self.contract_gas);
        for (hash, entry) in by_price {
            if gas <= gas_cap && contract_gas <= contract_cap {
                break;
            }
            gas = gas.saturating_sub(entry.gas);
            contract_gas = contract_gas.saturating_sub(entry.contract_gas);
            self.evict.insert(*hash);
        }
    }
}

fn caps(params: &AuthParams) -> (u64, u64) {
    (
        params.max_block_gas.saturating_mul(PENDING_BLOCKS),
        params.max_block_contract_gas.saturating_mul(PENDING_BLOCKS),
    )
}
