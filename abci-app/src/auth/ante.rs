//! Checks every tx passes before its messages run: decoding, limits,
//! chain id, signature, sequence. Shared by CheckTx, FinalizeBlock and
//! Simulate so the three can never disagree.

use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{mode_info, AuthInfo, SignDoc, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use k256::ecdsa::Signature;
use prost::Message;
use sha2::{Digest, Sha256};

use super::account::{self, SECP256K1_PUBKEY_TYPE_URL};
use super::params::AuthParams;
use super::state_key;
use crate::address;
use crate::codes::{Code, TxError};
use crate::context::GasMeter;
use crate::store::StateView;

pub use um_proto::type_urls::CHAIN_ID_HINT as CHAIN_ID_HINT_TYPE_URL;
pub use um_proto::um::auth::v1::ChainIdHint;

/// A decoded tx whose structure and limits have been checked.
#[derive(Clone, Debug)]
pub struct DecodedTx {
    pub raw: TxRaw,
    pub body: TxBody,
    pub auth_info: AuthInfo,
    pub gas_limit: u64,
}

impl DecodedTx {
    pub fn messages(&self) -> &[Any] {
        &self.body.messages
    }

    /// The address of the tx's one signer, as the ante checks derive it;
    /// `None` for a public key they would refuse.
    pub fn signer_address(&self) -> Option<String> {
        let info = self.auth_info.signer_infos.first()?;
        let pubkey = signer_pubkey(info.public_key.as_ref()).ok()?;
        Some(address::encode(&address::account_bytes_of_pubkey(&pubkey)))
    }

    /// Whether a message of this tx runs contract code, so that its gas
    /// counts against the contract limits of `AuthParams`.
    pub fn runs_contracts(&self) -> bool {
        runs_contracts(&self.body.messages)
    }

    /// The most gas this tx can spend in contract code, which counts
    /// against a block's `max_block_contract_gas`: its gas limit less what
    /// the ante step takes first from every tx (its size and its signature),
    /// up to `max_tx_contract_gas`.
    pub fn contract_gas(&self, params: &AuthParams) -> u64 {
        if !self.runs_contracts() {
            return 0;
        }
        let ante = params
            .tx_size_cost_per_byte
            .saturating_mul(self.raw.encoded_len() as u64)
            .saturating_add(params.sig_verify_cost);
        self.gas_limit
            .saturating_sub(ante)
            .min(params.max_tx_contract_gas)
    }
}

/// Messages whose handling runs a contract entry point (storing code or
/// changing an admin runs none).
const CONTRACT_RUNNING_TYPE_URLS: [&str; 4] = [
    "/cosmwasm.wasm.v1.MsgInstantiateContract",
    "/cosmwasm.wasm.v1.MsgInstantiateContract2",
    "/cosmwasm.wasm.v1.MsgExecuteContract",
    "/cosmwasm.wasm.v1.MsgMigrateContract",
];

fn runs_contracts(messages: &[Any]) -> bool {
    messages
        .iter()
        .any(|msg| CONTRACT_RUNNING_TYPE_URLS.contains(&msg.type_url.as_str()))
}

/// The account that signed a tx that passed the ante checks.
#[derive(Clone, Debug)]
pub struct Signer {
    pub address: String,
    pub address_bytes: Vec<u8>,
    /// The sequence this tx used (the account's is now one higher).
    pub sequence: u64,
}

/// Whether a tx is about to run for real or only to estimate its gas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Deliver,
    /// Clients simulate before they sign and before they know the gas, so the
    /// gas limit is the chain's maximum and the signature is not checked.
    Simulate,
}

/// Decodes and checks the shape of a tx without touching state.
pub fn decode(tx_bytes: &[u8], params: &AuthParams, mode: Mode) -> Result<DecodedTx, TxError> {
    if tx_bytes.len() as u64 > params.max_tx_bytes {
        return Err(TxError::new(
            Code::TxTooLarge,
            format!(
                "tx is {} bytes, the limit is {}",
                tx_bytes.len(),
                params.max_tx_bytes
            ),
        ));
    }
    let raw = TxRaw::decode(tx_bytes).map_err(|e| {
        TxError::new(
            Code::TxDecode,
            format!("tx is not a cosmos.tx.v1beta1.TxRaw: {e}"),
        )
    })?;
    let body = TxBody::decode(raw.body_bytes.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("tx body: {e}")))?;
    let auth_info = AuthInfo::decode(raw.auth_info_bytes.as_slice())
        .map_err(|e| TxError::new(Code::TxDecode, format!("tx auth info: {e}")))?;
    if body.messages.is_empty() {
        return Err(TxError::new(Code::InvalidRequest, "tx has no messages"));
    }
    if body.memo.chars().count() as u64 > params.max_memo_chars {
        return Err(TxError::new(
            Code::InvalidRequest,
            format!("memo is longer than {} characters", params.max_memo_chars),
        ));
    }
    if !body.extension_options.is_empty() {
        return Err(TxError::new(
            Code::UnknownMessage,
            "critical extension options are not supported",
        ));
    }
    if auth_info.signer_infos.len() != 1 || raw.signatures.len() != 1 {
        return Err(TxError::new(
            Code::InvalidSignature,
            format!(
                "a tx needs exactly one signer and one signature, got {} and {}",
                auth_info.signer_infos.len(),
                raw.signatures.len()
            ),
        ));
    }
    let mut gas_limit = auth_info.fee.as_ref().map(|fee| fee.gas_limit).unwrap_or(0);
    if mode == Mode::Simulate {
        gas_limit = params.max_tx_gas;
    }
    if gas_limit == 0 || gas_limit > params.max_tx_gas {
        return Err(TxError::new(
            Code::InvalidGasLimit,
            format!(
                "gas limit {gas_limit} must be between 1 and {}",
                params.max_tx_gas
            ),
        ));
    }
    Ok(DecodedTx {
        raw,
        body,
        auth_info,
        gas_limit,
    })
}

/// Refuses a tx whose `timeout_height` has passed: it may not be included
/// in a block above that height (0: no timeout), as in the Cosmos SDK.
pub fn check_timeout(tx: &DecodedTx, height: u64) -> Result<(), TxError> {
    let timeout = tx.body.timeout_height;
    if timeout != 0 && height > timeout {
        return Err(TxError::new(
            Code::TxTimeout,
            format!("tx timed out: its timeout height is {timeout}, the block is {height}"),
        ));
    }
    Ok(())
}

/// Checks the chain id, signature and sequence against `state`, then bumps
/// the signer's sequence there and charges the ante gas.
pub fn authenticate(
    state: &mut StateView,
    tx: &DecodedTx,
    chain_id: &str,
    params: &AuthParams,
    gas: &mut GasMeter,
    mode: Mode,
) -> Result<Signer, TxError> {
    gas.consume(
        params
            .tx_size_cost_per_byte
            .saturating_mul(tx.raw.encoded_len() as u64),
        "tx size",
    )?;
    for option in &tx.body.non_critical_extension_options {
        if option.type_url == CHAIN_ID_HINT_TYPE_URL {
            let hint = ChainIdHint::decode(option.value.as_slice())
                .map_err(|e| TxError::new(Code::TxDecode, format!("chain id hint: {e}")))?;
            if hint.chain_id != chain_id {
                return Err(TxError::new(
                    Code::WrongChainId,
                    format!(
                        "tx was signed for chain {:?}, this is {chain_id:?}",
                        hint.chain_id
                    ),
                ));
            }
        }
    }
    let signer_info = &tx.auth_info.signer_infos[0];
    let pubkey = signer_pubkey(signer_info.public_key.as_ref())?;
    let address_bytes = address::account_bytes_of_pubkey(&pubkey);
    let address = address::encode(&address_bytes);

    let existing = account::load(state, &address_bytes)?;
    // A new account signs with account number 0 (as genesis transactions
    // do); its real number is assigned when this tx creates it. Replays are
    // still impossible: the sequence moves to 1.
    let (mut account, sign_account_number) = match existing {
        Some(account) => {
            if let Some(stored) = &account.pub_key {
                let stored = PubKey::decode(stored.value.as_slice())
                    .map_err(|e| TxError::new(Code::Internal, format!("stored public key: {e}")))?;
                if stored.key != pubkey {
                    return Err(TxError::new(
                        Code::Unauthorized,
                        format!("public key does not match the one registered for {address}"),
                    ));
                }
            }
            let number = account.account_number;
            (account, number)
        }
        None => (account::create(state, &address_bytes)?, 0),
    };
    if signer_info.sequence != account.sequence {
        return Err(TxError::new(
            Code::WrongSequence,
            format!(
                "account sequence mismatch, expected {}, got {}: incorrect account sequence",
                account.sequence, signer_info.sequence
            ),
        ));
    }
    if mode == Mode::Deliver {
        check_sign_mode(signer_info)?;
        gas.consume(params.sig_verify_cost, "signature verification")?;
        let sign_doc = SignDoc {
            body_bytes: tx.raw.body_bytes.clone(),
            auth_info_bytes: tx.raw.auth_info_bytes.clone(),
            chain_id: chain_id.to_string(),
            account_number: sign_account_number,
        };
        verify_signature(&pubkey, &sign_doc.encode_to_vec(), &tx.raw.signatures[0]).map_err(
            |why| {
                TxError::new(
                    Code::Unauthorized,
                    format!(
                        "signature verification failed ({why}); the signature must cover chain id {chain_id:?}, account number {sign_account_number} and sequence {}",
                        account.sequence
                    ),
                )
            },
        )?;
    }
    if account.pub_key.is_none() {
        account.pub_key = Some(account::pubkey_any(&pubkey));
    }
    let sequence = account.sequence;
    account.sequence += 1;
    account::save(state, &address_bytes, &account);
    Ok(Signer {
        address,
        address_bytes,
        sequence,
    })
}

fn signer_pubkey(any: Option<&Any>) -> Result<Vec<u8>, TxError> {
    let any = any
        .ok_or_else(|| TxError::new(Code::InvalidSignature, "signer info carries no public key"))?;
    if any.type_url != SECP256K1_PUBKEY_TYPE_URL {
        return Err(TxError::new(
            Code::InvalidSignature,
            format!("unsupported public key type {:?}", any.type_url),
        ));
    }
    let key = PubKey::decode(any.value.as_slice())
        .map_err(|e| TxError::new(Code::InvalidSignature, format!("public key: {e}")))?
        .key;
    // Decompressing the point is a square root, ~5 % of umd's CPU under
    // load when every phase of every tx did it: remembered like signatures.
    let point = verified_cache::point_key(&key);
    if !verified_cache::contains(&point) {
        secp256k1::PublicKey::from_slice(&key).map_err(|_| {
            TxError::new(
                Code::InvalidSignature,
                "public key is not a secp256k1 point",
            )
        })?;
        verified_cache::insert(point);
    }
    if key.len() != 33 {
        return Err(TxError::new(
            Code::InvalidSignature,
            "public key must be compressed (33 bytes)",
        ));
    }
    Ok(key)
}

fn check_sign_mode(
    signer_info: &cosmos_sdk_proto::cosmos::tx::v1beta1::SignerInfo,
) -> Result<(), TxError> {
    let mode = signer_info.mode_info.as_ref().and_then(|m| m.sum.as_ref());
    match mode {
        Some(mode_info::Sum::Single(single)) if single.mode == SignMode::Direct as i32 => Ok(()),
        _ => Err(TxError::new(
            Code::InvalidSignature,
            "only SIGN_MODE_DIRECT single signatures are supported",
        )),
    }
}

/// Signatures this process has verified, so FinalizeBlock does not verify
/// again what CheckTx verified when the tx entered the mempool (the
/// secp256k1 check was about half of a cw20 transfer's FinalizeBlock time,
/// see BENCHMARKS.md). Verification is a pure function of (key, message,
/// signature), so remembering a success changes no outcome, gas or state:
/// only how long a node takes. Only successes are kept, keyed by the
/// SHA-256 of all three inputs; a bounded FIFO (a few MB at most). Public
/// keys that parsed as points are kept the same way.
mod verified_cache {
    use std::collections::{BTreeSet, VecDeque};
    use std::sync::Mutex;

    use sha2::{Digest, Sha256};

    /// About two full mempools' worth of txs (CometBFT's default size is 5,000).
    const CAPACITY: usize = 10_000;

    #[derive(Default)]
    struct Cache {
        set: BTreeSet<[u8; 32]>,
        order: VecDeque<[u8; 32]>,
    }

    static CACHE: Mutex<Cache> = Mutex::new(Cache {
        set: BTreeSet::new(),
        order: VecDeque::new(),
    });

    pub fn key(pubkey: &[u8], sign_bytes: &[u8], signature: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        // Length-prefixed, so no two different triples hash the same input.
        for part in [pubkey, sign_bytes, signature] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.finalize().into()
    }

    /// A public key that parsed as a curve point (domain-separated from
    /// [`key`], whose input starts with a length).
    pub fn point_key(pubkey: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"secp256k1 point");
        hasher.update(pubkey);
        hasher.finalize().into()
    }

    fn cache() -> std::sync::MutexGuard<'static, Cache> {
        // The cache holds no invariant a panic could break halfway.
        CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn clear() {
        let mut cache = cache();
        cache.set.clear();
        cache.order.clear();
    }

    pub fn contains(key: &[u8; 32]) -> bool {
        cache().set.contains(key)
    }

    pub fn insert(key: [u8; 32]) {
        let mut cache = cache();
        if cache.set.insert(key) {
            cache.order.push_back(key);
            while cache.order.len() > CAPACITY {
                if let Some(old) = cache.order.pop_front() {
                    cache.set.remove(&old);
                }
            }
        }
    }
}

/// Forgets every remembered signature: the next check of each verifies in
/// full, as on a node that never saw the tx (benchmarks measure both).
pub fn forget_verified_signatures() {
    verified_cache::clear();
}

fn verify_signature(pubkey: &[u8], sign_bytes: &[u8], signature: &[u8]) -> Result<(), String> {
    let cache_key = verified_cache::key(pubkey, sign_bytes, signature);
    if verified_cache::contains(&cache_key) {
        return Ok(());
    }
    verify_signature_uncached(pubkey, sign_bytes, signature)?;
    verified_cache::insert(cache_key);
    Ok(())
}

fn verify_signature_uncached(
    pubkey: &[u8],
    sign_bytes: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let key = secp256k1::PublicKey::from_slice(pubkey).map_err(|_| "bad public key".to_string())?;
    // k256's parse refuses r or s of zero or not below the group order.
    let parsed = Signature::from_slice(signature).map_err(|_| {
        format!(
            "signature must be 64 bytes (r ‖ s), got {}",
            signature.len()
        )
    })?;
    // Cosmos accepts only low-S signatures, so a signature has one encoding.
    if parsed.normalize_s().is_some() {
        return Err("signature is not in low-S form".into());
    }
    // libsecp256k1 does the curve arithmetic, in about a third of k256's
    // time, with the same verdict (`k256_and_libsecp256k1_agree`).
    let signature = secp256k1::ecdsa::Signature::from_compact(signature)
        .map_err(|_| "signature does not match".to_string())?;
    let digest = secp256k1::Message::from_slice(&Sha256::digest(sign_bytes))
        .map_err(|_| "signature does not match".to_string())?;
    SECP256K1
        .verify_ecdsa(&digest, &signature, &key)
        .map_err(|_| "signature does not match".to_string())
}

/// Verification needs no secret randomisation, so one context serves all.
static SECP256K1: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> =
    std::sync::LazyLock::new(secp256k1::Secp256k1::verification_only);

/// The chain id recorded at genesis.
pub fn chain_id(state: &StateView) -> Result<String, TxError> {
    Ok(state
        .get(state_key::CHAIN_ID)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use k256::ecdsa::signature::{Signer, Verifier};
    use k256::ecdsa::SigningKey;

    use super::*;

    fn signed(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let signature: Signature = key.sign(message);
        let signature = signature.normalize_s().unwrap_or(signature);
        (
            key.verifying_key().to_sec1_bytes().to_vec(),
            signature.to_bytes().to_vec(),
        )
    }

    #[test]
    fn a_remembered_signature_verifies_only_its_own_message_and_key() {
        let (pubkey, signature) = signed(b"sign doc");
        verify_signature(&pubkey, b"sign doc", &signature).unwrap();
        // Again, from the cache.
        verify_signature(&pubkey, b"sign doc", &signature).unwrap();
        // The cache never vouches for another message, key or signature.
        let err = verify_signature(&pubkey, b"other doc", &signature).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let (other_key, other_signature) = {
            let key = SigningKey::from_slice(&[8u8; 32]).unwrap();
            let sig: Signature = key.sign(b"sign doc");
            (key.verifying_key().to_sec1_bytes().to_vec(), sig)
        };
        assert!(verify_signature(&other_key, b"sign doc", &signature).is_err());
        let mut tampered = signature.clone();
        tampered[10] ^= 1;
        assert!(verify_signature(&pubkey, b"sign doc", &tampered).is_err());
        let other = other_signature.normalize_s().unwrap_or(other_signature);
        assert!(verify_signature(&pubkey, b"sign doc", &other.to_bytes()).is_err());
    }

    /// The chain's verdict (libsecp256k1) is k256's for genuine, tampered,
    /// foreign and malformed signatures: swapping the library changed no
    /// tx's outcome.
    #[test]
    fn k256_and_libsecp256k1_agree() {
        let mut checked = 0;
        for seed in 1u8..=12 {
            let key = SigningKey::from_slice(&[seed; 32]).unwrap();
            let pubkey = key.verifying_key().to_sec1_bytes().to_vec();
            let message = vec![seed; usize::from(seed) * 7];
            let signature: Signature = key.sign(&message);
            let signature = signature
                .normalize_s()
                .unwrap_or(signature)
                .to_bytes()
                .to_vec();
            let mut candidates = vec![(message.clone(), signature.clone())];
            for position in [0, 17, 31, 32, 50, 63] {
                let mut tampered = signature.clone();
                tampered[position] ^= 0x40;
                candidates.push((message.clone(), tampered));
            }
            let mut other = message.clone();
            other.push(0);
            candidates.push((other, signature.clone()));
            candidates.push((message.clone(), vec![0xff; 64]));
            candidates.push((message.clone(), vec![0; 64]));
            for (message, signature) in candidates {
                let ours = verify_signature_uncached(&pubkey, &message, &signature).is_ok();
                let k256 = Signature::from_slice(&signature)
                    .ok()
                    .filter(|s| s.normalize_s().is_none())
                    .is_some_and(|s| key.verifying_key().verify(&message, &s).is_ok());
                assert_eq!(
                    ours,
                    k256,
                    "seed {seed}, signature {}",
                    hex::encode(&signature)
                );
                checked += usize::from(ours);
            }
        }
        assert_eq!(checked, 12, "every genuine signature verifies");
    }
}
