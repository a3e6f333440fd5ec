//! A light client for one question: is this the header of height `h` on
//! the chain that a header the user trusts belongs to? It fetches headers,
//! commits and validator sets from any CometBFT RPC and checks them with
//! CometBFT's light-client rules (`tendermint-light-client-verifier`): from
//! the trusted header forward by skipping verification (at least 1/3 of the
//! trusted validators' power signed the new header, 2/3 of its own), with
//! bisection when the validator set changed too much; backward by the hash
//! chain of `last_block_id`. The RPC node is not trusted: a forged header,
//! commit or validator set fails these checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tendermint::block::signed_header::SignedHeader;
use tendermint::block::Header;
use tendermint::validator::{Info, Set as ValidatorSet};
use tendermint::{node, Hash, Time};
use tendermint_light_client_verifier::options::Options;
use tendermint_light_client_verifier::types::{LightBlock, TrustThreshold};
use tendermint_light_client_verifier::{ProdVerifier, Verdict, Verifier};

use crate::rpc::RpcClient;
use crate::ClientError;

/// The header the user trusts, by height and hash (from a block explorer,
/// a friend's node, or their own earlier verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustRoot {
    pub height: u64,
    pub hash: Hash,
}

impl TrustRoot {
    /// `hash` in hex, as CometBFT's RPC prints block hashes.
    pub fn new(height: u64, hash: &str) -> Result<Self, LightError> {
        let bytes = hex::decode(hash.trim_start_matches("0x"))
            .map_err(|e| LightError::BadTrustHash(format!("{hash:?} is not hex: {e}")))?;
        let hash = Hash::try_from(bytes)
            .map_err(|e| LightError::BadTrustHash(format!("{hash:?}: {e}")))?;
        if height == 0 {
            return Err(LightError::BadTrustHash("the trusted height is 0".into()));
        }
        Ok(Self { height, hash })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LightError {
    #[error("trusted hash: {0}")]
    BadTrustHash(String),
    #[error(transparent)]
    Rpc(#[from] ClientError),
    #[error("the node's {what} at height {height} is malformed: {message}")]
    Malformed {
        what: &'static str,
        height: u64,
        message: String,
    },
    #[error("the node's header at height {height} has hash {found}, not the trusted {trusted}")]
    NotTrustedHeader {
        height: u64,
        found: Hash,
        trusted: Hash,
    },
    #[error("the node's validator set at height {0} does not match the header's hash of it")]
    ValidatorSetMismatch(u64),
    #[error("header {height} failed light-client verification: {reason}")]
    Invalid { height: u64, reason: String },
    #[error("header {height} does not link to the verified header above it (last_block_id)")]
    BrokenHashChain { height: u64 },
    #[error("the trusted header is older than the trusting period ({0:?}); trust a newer one")]
    Expired(Duration),
}

/// How far and how long a trusted header is trusted.
#[derive(Clone, Copy, Debug)]
pub struct LightOptions {
    /// How long after its time a trusted header may start a verification:
    /// shorter than the unbonding period, so validators who signed it can
    /// still be slashed for signing a fork.
    pub trusting_period: Duration,
    /// How far a header's time may be ahead of this machine's clock.
    pub clock_drift: Duration,
}

impl Default for LightOptions {
    fn default() -> Self {
        Self {
            trusting_period: Duration::from_secs(14 * 24 * 3600),
            clock_drift: Duration::from_secs(10),
        }
    }
}

/// Fetches and checks headers from one CometBFT RPC.
pub struct LightClient<'a> {
    rpc: &'a RpcClient,
    options: Options,
    verifier: ProdVerifier,
}

impl<'a> LightClient<'a> {
    pub fn new(rpc: &'a RpcClient, options: LightOptions) -> Self {
        Self {
            rpc,
            options: Options {
                trust_threshold: TrustThreshold::ONE_THIRD,
                trusting_period: options.trusting_period,
                clock_drift: options.clock_drift,
            },
            verifier: ProdVerifier::default(),
        }
    }

    /// The header of `target`, verified from `root`.
    pub fn verified_header(&self, root: &TrustRoot, target: u64) -> Result<Header, LightError> {
        let trusted = self.light_block(root.height)?;
        let found = trusted.signed_header.header.hash();
        if found != root.hash {
            return Err(LightError::NotTrustedHeader {
                height: root.height,
                found,
                trusted: root.hash,
            });
        }
        if target <= root.height {
            return self.backward(trusted.signed_header.header, target);
        }
        self.forward(trusted, target)
    }

    /// Skipping verification from `trusted` to `target`, bisecting where a
    /// jump is too long for the trust threshold.
    fn forward(&self, mut trusted: LightBlock, target: u64) -> Result<Header, LightError> {
        let now = now()?;
        let mut pending = vec![target];
        while let Some(&height) = pending.last() {
            let untrusted = self.light_block(height)?;
            let verdict = self.verifier.verify_update_header(
                untrusted.as_untrusted_state(),
                trusted.as_trusted_state(),
                &self.options,
                now,
            );
            match verdict {
                Verdict::Success => {
                    trusted = untrusted;
                    pending.pop();
                }
                Verdict::NotEnoughTrust(_) => {
                    let from = trusted.height().value();
                    let middle = from + (height - from) / 2;
                    if middle == from {
                        return Err(LightError::Invalid {
                            height,
                            reason: "not enough of the trusted validators signed it".into(),
                        });
                    }
                    pending.push(middle);
                }
                Verdict::Invalid(detail) => {
                    let reason = detail.to_string();
                    if reason.contains("trusting period") || reason.contains("expired") {
                        return Err(LightError::Expired(self.options.trusting_period));
                    }
                    return Err(LightError::Invalid { height, reason });
                }
            }
        }
        Ok(trusted.signed_header.header)
    }

    /// Down the hash chain from `trusted` to `target`: each header's hash is
    /// what the one above it names as its last block.
    fn backward(&self, mut trusted: Header, target: u64) -> Result<Header, LightError> {
        while trusted.height.value() > target {
            let height = trusted.height.value() - 1;
            let header = self.signed_header(height)?.header;
            let linked = trusted
                .last_block_id
                .map(|id| id.hash == header.hash())
                .unwrap_or(false);
            if !linked {
                return Err(LightError::BrokenHashChain { height });
            }
            trusted = header;
        }
        Ok(trusted)
    }

    fn light_block(&self, height: u64) -> Result<LightBlock, LightError> {
        let signed_header = self.signed_header(height)?;
        let validators = self.validator_set(height)?;
        let next_validators = self.validator_set(height + 1)?;
        if validators.hash() != signed_header.header.validators_hash {
            return Err(LightError::ValidatorSetMismatch(height));
        }
        if next_validators.hash() != signed_header.header.next_validators_hash {
            return Err(LightError::ValidatorSetMismatch(height + 1));
        }
        Ok(LightBlock::new(
            signed_header,
            validators,
            next_validators,
            // Who served the block does not matter to its verification.
            node::Id::new([0; 20]),
        ))
    }

    fn signed_header(&self, height: u64) -> Result<SignedHeader, LightError> {
        let commit = self
            .rpc
            .call("commit", json!({ "height": height.to_string() }))?;
        serde_json::from_value(commit["signed_header"].clone()).map_err(|e| LightError::Malformed {
            what: "signed header",
            height,
            message: e.to_string(),
        })
    }

    fn validator_set(&self, height: u64) -> Result<ValidatorSet, LightError> {
        const PER_PAGE: usize = 100;
        let mut validators: Vec<Info> = Vec::new();
        for page in 1.. {
            let answer = self.rpc.call(
                "validators",
                json!({
                    "height": height.to_string(),
                    "page": page.to_string(),
                    "per_page": PER_PAGE.to_string(),
                }),
            )?;
            let malformed = |message: String| LightError::Malformed {
                what: "validator set",
                height,
                message,
            };
            let list: Vec<Info> = serde_json::from_value(answer["validators"].clone())
                .map_err(|e| malformed(e.to_string()))?;
            let total: usize = match &answer["total"] {
                Value::String(total) => total.parse().map_err(|_| malformed("total".into()))?,
                _ => return Err(malformed("no total".into())),
            };
            let empty = list.is_empty();
            validators.extend(list);
            if validators.len() >= total || empty {
                break;
            }
        }
        Ok(ValidatorSet::without_proposer(validators))
    }
}

fn now() -> Result<Time, LightError> {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Time::from_unix_timestamp(since_epoch.as_secs() as i64, since_epoch.subsec_nanos()).map_err(
        |e| LightError::Invalid {
            height: 0,
            reason: format!("this machine's clock: {e}"),
        },
    )
}
