//! The version NFTs (nrn-versions) from a client: tip a lineage, move a
//! token, read tokens, tips and royalties. Everything here is a standard
//! cw721 message or one of the contract's own JSON queries.

use serde_json::{json, Value};
use um_client::rpc::{RpcClient, TxResult};

use crate::chain::{smart_query, Chain, GovError};
use crate::deploy::Deployment;

/// The registered nrn-versions, or a message saying the chain has none.
pub fn contract(suite: &Deployment) -> Result<&str, GovError> {
    suite.versions.as_deref().ok_or_else(|| {
        GovError::Invalid("this chain registered no nrn-versions contract".to_string())
    })
}

/// Pays `amount` micro-NRN to `model_id`'s version holders: a cw20 `send`
/// to nrn-versions whose hook is `{"tip":{"model_id":…}}`.
pub fn tip(
    chain: &Chain<'_>,
    suite: &Deployment,
    model_id: &str,
    amount: u128,
) -> Result<TxResult, GovError> {
    let hook = json!({"tip": {"model_id": model_id}});
    chain.cw20_send(&suite.token, contract(suite)?, amount, &hook)
}

/// cw721 `transfer_nft`.
pub fn transfer(
    chain: &Chain<'_>,
    suite: &Deployment,
    token_id: &str,
    recipient: &str,
) -> Result<TxResult, GovError> {
    chain.execute(
        contract(suite)?,
        &json!({"transfer_nft": {"recipient": recipient, "token_id": token_id}}),
    )
}

/// Runs a JSON query on nrn-versions.
pub fn query(rpc: &RpcClient, suite: &Deployment, query: &Value) -> Result<Value, GovError> {
    smart_query(rpc, contract(suite)?, query)
}
