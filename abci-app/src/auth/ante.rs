//! Checks every tx passes before its messages run: decoding, limits,
//! chain id, signature, sequence. Shared by CheckTx, FinalizeBlock and
//! Simulate so the three can never disagree.

use cosmos_sdk_proto::cosmos::crypto::secp256k1::PubKey;
use cosmos_sdk_proto::cosmos::tx::signing::v1beta1::SignMode;
use cosmos_sdk_proto::cosmos::tx::v1beta1::{mode_info, AuthInfo, SignDoc, TxBody, TxRaw};
use cosmos_sdk_proto::Any;
use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, VerifyingKey};
use prost::Message;

use super::account::{self, SECP256K1_PUBKEY_TYPE_URL};
use super::params::AuthParams;
use super::state_key;
use crate::address;
use crate::codes::{Code, TxError};
use crate::context::GasMeter;
use crate::store::StateView;

pub use um_client::tx_builder::{ChainIdHint, CHAIN_ID_HINT_TYPE_URL};

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
    VerifyingKey::from_sec1_bytes(&key).map_err(|_| {
        TxError::new(
            Code::InvalidSignature,
            "public key is not a secp256k1 point",
        )
    })?;
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

fn verify_signature(pubkey: &[u8], sign_bytes: &[u8], signature: &[u8]) -> Result<(), String> {
    let key = VerifyingKey::from_sec1_bytes(pubkey).map_err(|_| "bad public key".to_string())?;
    let signature = Signature::from_slice(signature).map_err(|_| {
        format!(
            "signature must be 64 bytes (r ‖ s), got {}",
            signature.len()
        )
    })?;
    // Cosmos accepts only low-S signatures, so a signature has one encoding.
    if signature.normalize_s().is_some() {
        return Err("signature is not in low-S form".into());
    }
    key.verify(sign_bytes, &signature)
        .map_err(|_| "signature does not match".to_string())
}

/// The chain id recorded at genesis.
pub fn chain_id(state: &StateView) -> Result<String, TxError> {
    Ok(state
        .get(state_key::CHAIN_ID)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}
