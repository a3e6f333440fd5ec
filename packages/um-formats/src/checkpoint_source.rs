//! A round's checkpoint source (`MsgSubmitUpdate.checkpoint_source`): the
//! one place that says what a source may be and which URL names a
//! checkpoint under it. The chain checks sources with it at delivery; the
//! trainer's server and the validators' fetcher (`um_client::checkpoints`)
//! build their URLs with it.
//!
//! The source is chosen by a trainer and fetched by every validator, so it
//! is kept to `http://host:port`: the fetcher appends the fixed route and
//! follows no redirect, and a source can therefore only ever name that
//! route on some host, never another path of a service beside the
//! validator (CometBFT's RPC answers GETs with side effects).

/// The route's prefix; the hex SHA-256 follows.
pub const ROUTE: &str = "/um/checkpoints/v1/";
/// Longest `checkpoint_source` the chain stores.
pub const MAX_SOURCE_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("checkpoint source is empty")]
    Empty,
    #[error("checkpoint source has {0} bytes, more than {MAX_SOURCE_LEN}")]
    TooLong(usize),
    #[error("checkpoint source {0:?} must start with http://")]
    Scheme(String),
    #[error(
        "checkpoint source {0:?} must be http://host:port only \
         (letters, digits, '.', '-', ':', '[', ']'; no path, query or user)"
    )]
    NotHostPort(String),
}

/// Checks that `source` is `http://host[:port]` and nothing more.
pub fn check_source(source: &str) -> Result<(), SourceError> {
    if source.is_empty() {
        return Err(SourceError::Empty);
    }
    if source.len() > MAX_SOURCE_LEN {
        return Err(SourceError::TooLong(source.len()));
    }
    let Some(authority) = source.strip_prefix("http://") else {
        return Err(SourceError::Scheme(source.to_string()));
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if authority.is_empty() || !authority.chars().all(allowed) {
        return Err(SourceError::NotHostPort(source.to_string()));
    }
    Ok(())
}

/// Where the checkpoint with SHA-256 `sha256` is served under `source`.
pub fn url(source: &str, sha256: &[u8]) -> String {
    format!("{source}{ROUTE}{}", hex::encode(sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_host_and_port_only() {
        for ok in [
            "http://127.0.0.1:9300",
            "http://trainer.example:80",
            "http://[::1]:9",
        ] {
            assert_eq!(check_source(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_source(""), Err(SourceError::Empty));
        assert!(matches!(
            check_source("https://a:1"),
            Err(SourceError::Scheme(_))
        ));
        for bad in [
            "http://",
            "http://a:1/",
            "http://127.0.0.1:26657/unsafe_flush_mempool?",
            "http://user@host:1",
            "http://a:1#x",
            "http://a b",
        ] {
            assert!(
                matches!(check_source(bad), Err(SourceError::NotHostPort(_))),
                "{bad}"
            );
        }
        let long = format!("http://{}", "a".repeat(MAX_SOURCE_LEN));
        assert!(matches!(check_source(&long), Err(SourceError::TooLong(_))));
    }
}
