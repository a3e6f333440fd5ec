use cosmos_sdk_proto::cosmos::auth::v1beta1::{QueryAccountRequest, QueryAccountResponse};
use prost::Message;

use super::account;
use crate::address;
use crate::codes::{Code, TxError};
use crate::store::StateView;

pub use um_proto::account::ACCOUNT_QUERY_PATH as ACCOUNT_PATH;

/// `Query/Account`. A missing account fails with gRPC's NotFound wording,
/// which CosmJS matches to return "no account" instead of an error.
pub fn account(state: &StateView, request: &[u8]) -> Result<Vec<u8>, TxError> {
    let request = QueryAccountRequest::decode(request)
        .map_err(|e| TxError::new(Code::InvalidRequest, format!("QueryAccountRequest: {e}")))?;
    let bytes = address::decode(&request.address)?;
    match account::load(state, &bytes)? {
        Some(found) => Ok(QueryAccountResponse {
            account: Some(account::to_any(&found)),
        }
        .encode_to_vec()),
        None => Err(TxError::new(
            Code::NotFound,
            format!(
                "rpc error: code = NotFound desc = account {} not found: key not found",
                request.address
            ),
        )),
    }
}
