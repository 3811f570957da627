//! The storage error every back-end answers with; the HTTP layer maps it to a status.

use frontdesk_domain::patient::FieldError;
use frontdesk_protocol::online::OnlineRefusal;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing named does not exist (or not in the caller's site).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not touch this (another site's data, a revoked device, a used code).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The credentials are missing, unknown or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The request is invalid in itself.
    #[error("invalid request: {message}")]
    Invalid {
        /// Stable code.
        code: String,
        /// In words.
        message: String,
        /// Field problems.
        fields: Vec<FieldError>,
    },
    /// A booking rule refused (online path).
    #[error("refused: {}", .0.reason)]
    Refused(OnlineRefusal),
    /// The writer's queue is full: shed load rather than collapse.
    #[error("overloaded")]
    Overloaded,
    /// The store is shutting down or its writer has stopped.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a database error). Logged; never shown to clients verbatim.
    #[error("internal: {0}")]
    Internal(String),
}

impl StoreError {
    /// An invalid-request error without field details.
    pub fn invalid(code: &str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid { code: code.into(), message: message.into(), fields: Vec::new() }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Internal(format!("sqlite: {e}"))
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Internal(format!("stored json: {e}"))
    }
}

/// Result alias of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;
