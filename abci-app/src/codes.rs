//! Result codes (the frozen enum lives in `um-proto` with the other wire
//! types, shared with clients) and the error every handler returns.

pub use um_proto::codes::{Code, CODESPACE};

/// A failed tx, query or message: what went wrong and a log for humans.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{log}")]
pub struct TxError {
    pub code: Code,
    pub log: String,
}

impl TxError {
    pub fn new(code: Code, log: impl Into<String>) -> Self {
        Self {
            code,
            log: log.into(),
        }
    }
}

impl From<crate::store::StoreError> for TxError {
    fn from(err: crate::store::StoreError) -> Self {
        TxError::new(Code::Internal, format!("state access failed: {err}"))
    }
}
