//! Ids that name things in state keys and events (model lineages, datasets).

use crate::codes::{Code, TxError};

/// 1-64 characters of `[a-z0-9_-]`; `kind` names the id in the error.
pub fn validate(kind: &str, id: &str) -> Result<(), TxError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(TxError::new(
            Code::InvalidRequest,
            format!("{kind} {id:?} must be 1-64 of [a-z0-9_-]"),
        ))
    }
}
