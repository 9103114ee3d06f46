//! Error codes carried in error replies.

use serde::{Deserialize, Serialize};

/// Machine-readable error code of an error reply (`{"error":{"code":…,"message":…}}`).
///
/// Clients must treat a code they do not know as [`ErrorCode::Unknown`] (new codes may be
/// added without a protocol version bump).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, not an object, lacks `id`/`method`, or is not UTF-8.
    BadRequest,
    /// The `method` is not one this daemon knows.
    UnknownMethod,
    /// The `params` do not match what the method expects.
    InvalidParams,
    /// `setting.*`: the key does not exist.
    UnknownKey,
    /// `setting.set`: the value has the wrong type or is out of range.
    InvalidValue,
    /// A named thing (profile, route rule, …) does not exist.
    NotFound,
    /// The daemon cannot serve the request right now (too many clients, operation running).
    Busy,
    /// The daemon depends on something that is down (e.g. PipeWire is disconnected).
    Unavailable,
    /// An unexpected internal failure; the daemon keeps running.
    Internal,
    /// The frame exceeded [`crate::MAX_FRAME_BYTES`]; the connection is closed after this.
    FrameTooLarge,
    /// The client speaks an incompatible protocol version; the connection is closed.
    VersionMismatch,
    /// The peer runs as another user; the connection is closed.
    PermissionDenied,
    /// The connection missed one of the server's deadlines (no first frame in time, a
    /// started frame not completed in time, or idle too long without a subscription); the
    /// connection is closed and nothing more it sent is read.
    Timeout,
    /// A code this version of the library does not know (forward compatibility).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling of the code, e.g. `"unknown_key"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownMethod => "unknown_method",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Busy => "busy",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as carried on the wire: a code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct IpcError {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation, suitable for printing to a user.
    pub message: String,
}

impl IpcError {
    /// Creates an error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `bad_request` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `invalid_params` error.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }

    /// `unknown_key` error for setting `key`.
    pub fn unknown_key(key: &str) -> Self {
        Self::new(
            ErrorCode::UnknownKey,
            format!("unknown setting key `{key}`"),
        )
    }

    /// `invalid_value` error.
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidValue, message)
    }

    /// `not_found` error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// `internal` error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}
