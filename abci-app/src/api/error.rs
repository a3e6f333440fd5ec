//! The one error type of the gRPC services and the REST gateway, and how it
//! maps to a gRPC status and to an HTTP status with a JSON body.
//!
//! An ABCI query failure keeps the chain's own code and codespace, so a
//! client sees the same `code` over ABCI, gRPC and REST. Errors of the
//! gateway itself (a malformed path parameter, an unknown route) use the
//! same codes (`InvalidRequest`, `NotFound`, ...) in codespace `um`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use prost::Message;
use um_proto::um::common::v1::StateProof;

use crate::codes::{Code, TxError, CODESPACE};

/// Why a request failed; `Display` is the message clients see.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u32,
    pub codespace: String,
    pub message: String,
    pub kind: Kind,
    /// The proof of a proven query's failure: a NotFound proven by the
    /// absence of what it looked for.
    pub proof: Option<StateProof>,
}

/// The class of failure, which decides the gRPC and HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The request is malformed or refers to something invalid: gRPC
    /// InvalidArgument, HTTP 400.
    Invalid,
    /// Well-formed, but the thing asked for does not exist: NotFound, 404.
    NotFound,
    /// The body is larger than the gateway accepts: InvalidArgument, 413.
    TooLarge,
    /// A method of a known service that umd does not serve:
    /// Unimplemented, 501 (only reachable over gRPC and unknown paths).
    Unimplemented,
    /// CometBFT (for broadcasts and tx lookups) cannot be reached:
    /// Unavailable, 503.
    Unavailable,
    /// The node is answering as many queries as it will at once, with as
    /// many waiting: ResourceExhausted, 429 (ask again later).
    Busy,
    /// The node failed on its own state: Internal, 500.
    Internal,
}

impl ApiError {
    pub fn new(kind: Kind, code: Code, message: impl Into<String>) -> Self {
        Self {
            code: code.value(),
            codespace: CODESPACE.to_string(),
            message: message.into(),
            kind,
            proof: None,
        }
    }

    pub fn with_proof(mut self, proof: StateProof) -> Self {
        self.proof = Some(proof);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, Code::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, Code::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, Code::Internal, message)
    }

    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(Kind::Busy, Code::Internal, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, Code::Internal, message)
    }

    /// An ABCI query's failure (`code`, `codespace`, `log`), classified by
    /// its code.
    pub fn from_abci(code: u32, codespace: &str, log: &str) -> Self {
        let kind = if code == Code::NotFound.value()
            || code == Code::RecordNotFound.value()
            || code == Code::UnknownAccount.value()
        {
            Kind::NotFound
        } else if code == Code::UnknownMessage.value() {
            Kind::Unimplemented
        } else if code == Code::Internal.value() {
            Kind::Internal
        } else {
            Kind::Invalid
        };
        Self {
            code,
            codespace: codespace.to_string(),
            message: log.to_string(),
            kind,
            proof: None,
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self.kind {
            Kind::Invalid => StatusCode::BAD_REQUEST,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Busy => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(&self) -> tonic::Code {
        match self.kind {
            Kind::Invalid | Kind::TooLarge => tonic::Code::InvalidArgument,
            Kind::NotFound => tonic::Code::NotFound,
            Kind::Unimplemented => tonic::Code::Unimplemented,
            Kind::Unavailable => tonic::Code::Unavailable,
            Kind::Busy => tonic::Code::ResourceExhausted,
            Kind::Internal => tonic::Code::Internal,
        }
    }

    /// The JSON body of a REST error.
    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "code": self.code,
            "codespace": self.codespace,
            "message": self.message,
        });
        if let Some(proof) = &self.proof {
            body["proof"] = super::json::state_proof_json(proof);
        }
        body
    }
}

/// The gRPC metadata that carries the encoded `um.common.v1.StateProof` of
/// a proven query's failure (a successful answer carries it in `proof`).
pub const PROOF_METADATA: &str = "x-um-proof-bin";

impl From<TxError> for ApiError {
    fn from(err: TxError) -> Self {
        Self::from_abci(err.code.value(), CODESPACE, &err.log)
    }
}

impl From<ApiError> for tonic::Status {
    fn from(err: ApiError) -> Self {
        // The chain's code travels in metadata so gRPC clients can match on
        // it as ABCI clients do.
        let mut status = tonic::Status::new(err.grpc_code(), err.message.clone());
        if let Ok(value) = err.code.to_string().parse() {
            status.metadata_mut().insert("x-um-code", value);
        }
        if let Ok(value) = err.codespace.parse() {
            status.metadata_mut().insert("x-um-codespace", value);
        }
        if let Some(proof) = &err.proof {
            let value = tonic::metadata::MetadataValue::from_bytes(&proof.encode_to_vec());
            status.metadata_mut().insert_bin(PROOF_METADATA, value);
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.http_status(), &self.body())
    }
}

/// `value` as an `application/json` response.
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_codes_map_to_client_errors() {
        let missing = ApiError::from_abci(22, "um", "gone");
        assert_eq!(missing.http_status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.grpc_code(), tonic::Code::NotFound);
        let bad = ApiError::from_abci(15, "um", "bad bech32");
        assert_eq!(bad.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.grpc_code(), tonic::Code::InvalidArgument);
        let contract = ApiError::from_abci(21, "um", "contract says no");
        assert!(contract.http_status().is_client_error());
        assert_eq!(ApiError::from_abci(99, "um", "disk").kind, Kind::Internal);
        let status = tonic::Status::from(bad);
        assert_eq!(status.metadata().get("x-um-code").unwrap(), "15");
    }
}
