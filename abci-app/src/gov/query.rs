//! ABCI queries of the gov module (JSON under `custom/gov/…`).

use crate::codes::{Code, TxError};
use crate::store::StateView;

pub const REGISTRY_PATH: &str = "custom/gov/registry";
pub const PARAMS_PATH: &str = "custom/gov/params";
pub const VALIDATORS_PATH: &str = "custom/gov/validators";

pub fn handle(state: &StateView, path: &str) -> Option<Result<Vec<u8>, TxError>> {
    let result = match path {
        REGISTRY_PATH => super::registry(state).and_then(|registry| match registry {
            Some(registry) => to_json(&registry),
            None => Err(TxError::new(Code::NotFound, "no governance contracts are registered")),
        }),
        PARAMS_PATH => super::params(state).and_then(|params| to_json(&params)),
        VALIDATORS_PATH => super::validators::current(state).and_then(|set| {
            let list: Vec<_> = set
                .into_iter()
                .map(|(pubkey, power)| serde_json::json!({"pubkey_hex": hex::encode(pubkey), "power": power}))
                .collect();
            to_json(&list)
        }),
        _ => return None,
    };
    Some(result)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, TxError> {
    serde_json::to_vec(value).map_err(|e| TxError::new(Code::Internal, e.to_string()))
}
