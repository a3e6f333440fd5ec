//! `umd tx staking bond|unbond|claim`.

use base64::Engine;
use serde_json::json;
use um_client::rpc::TxResult;

use crate::chain::{Chain, GovError};
use crate::deploy::Deployment;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BondRole {
    Trainer,
    /// The 32-byte ed25519 consensus key of the validator's CometBFT node.
    Validator {
        consensus_pubkey: Vec<u8>,
    },
}

pub fn role_json(role: &BondRole) -> serde_json::Value {
    match role {
        BondRole::Trainer => json!("trainer"),
        BondRole::Validator { consensus_pubkey } => json!({"validator": {
            "consensus_pubkey": base64::engine::general_purpose::STANDARD.encode(consensus_pubkey)
        }}),
    }
}

pub fn bond(
    chain: &Chain<'_>,
    suite: &Deployment,
    amount: u128,
    role: &BondRole,
) -> Result<TxResult, GovError> {
    if let BondRole::Validator { consensus_pubkey } = role {
        if consensus_pubkey.len() != 32 {
            return Err(GovError::Invalid(format!(
                "a validator consensus key is 32 bytes of ed25519, got {}",
                consensus_pubkey.len()
            )));
        }
    }
    chain.cw20_send(
        &suite.token,
        &suite.staking,
        amount,
        &json!({"bond": {"role": role_json(role)}}),
    )
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
