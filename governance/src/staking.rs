//! `umd tx staking bond|unbond|claim`.

use base64::Engine;
use serde_json::json;
use um_client::rpc::TxResult;

use crate::chain::{Chain, GovError};
use crate::deploy::Deployment;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BondRole {
    Trainer,
    /// The 32-byte ed25519 consensus key of the validator's CometBFT node,
    /// and the key's 64-byte signature over
    /// `um_bindings::staking::validator_bond_message` for the chain and
    /// the operator (empty to add stake to the key the operator holds).
    Validator {
        consensus_pubkey: Vec<u8>,
        consensus_signature: Vec<u8>,
    },
}

pub fn role_json(role: &BondRole) -> serde_json::Value {
    match role {
        BondRole::Trainer => json!("trainer"),
        BondRole::Validator {
            consensus_pubkey, ..
        } => json!({"validator": {
            "consensus_pubkey": base64::engine::general_purpose::STANDARD.encode(consensus_pubkey)
        }}),
    }
}

/// The `msg` of the cw20 `Send` that bonds for `role`.
pub fn bond_hook(role: &BondRole) -> serde_json::Value {
    match role {
        BondRole::Validator {
            consensus_signature,
            ..
        } if !consensus_signature.is_empty() => json!({"bond": {
            "role": role_json(role),
            "consensus_signature":
                base64::engine::general_purpose::STANDARD.encode(consensus_signature),
        }}),
        _ => json!({"bond": {"role": role_json(role)}}),
    }
}

pub fn bond(
    chain: &Chain<'_>,
    suite: &Deployment,
    amount: u128,
    role: &BondRole,
) -> Result<TxResult, GovError> {
    if let BondRole::Validator {
        consensus_pubkey, ..
    } = role
    {
        if consensus_pubkey.len() != 32 {
            return Err(GovError::Invalid(format!(
                "a validator consensus key is 32 bytes of ed25519, got {}",
                consensus_pubkey.len()
            )));
        }
    }
    chain.cw20_send(&suite.token, &suite.staking, amount, &bond_hook(role))
}

pub fn unbond(chain: &Chain<'_>, suite: &Deployment, amount: u128) -> Result<TxResult, GovError> {
    chain.execute(
        &suite.staking,
        &json!({"unbond": {"amount": amount.to_string()}}),
    )
}

pub fn claim(chain: &Chain<'_>, suite: &Deployment) -> Result<TxResult, GovError> {
    chain.execute(&suite.staking, &json!({"claim": {}}))
}
