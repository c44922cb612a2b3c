//! The one error type of catalog-service and its one mapping to gRPC codes.
//!
//! Every variant that is the *caller's* fault carries a message safe to show them; the two
//! that are *ours* (`Database`, `Corrupt`) are logged with context and answered with a
//! bare "internal error", so no SQL, table name or driver text ever leaves the service.
//! `AuthUnavailable` and `StockUnavailable` are neither: a dependency is down, and
//! UNAVAILABLE tells a client's retry policy that trying again later is reasonable.
//!
//! PERMISSION_DENIED has no variant: a shopper's token is refused by the platform's
//! `require_role`, which already answers a `Status`, so the rule and its code live in one
//! place for every service that checks a role.

use tonic::Status;

/// Everything that can go wrong in catalog-service, named for what happened; the gRPC
/// code each becomes is decided once, in `From<Error> for Status` below.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // Caller's fault first, then dependency trouble, then our own failures: the same order
    // as the mapping below, so a variant and its code are read side by side.
    /// Malformed input (page too far, empty title, negative stock …); nothing changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// GetBook or UpdateStock of an id no row has (for GetBook possibly answered by a
    /// negative cache entry, without a query).
    #[error("book not found")]
    NotFound,
    /// PublishBook with an ISBN that is already in the catalogue.
    #[error("{0}")]
    AlreadyExists(String),
    /// No, malformed, expired or foreign token (as judged by user-service).
    #[error("{0}")]
    Unauthenticated(String),
    /// user-service could not be asked (down, or slower than the timeout). The caller may
    /// retry; we must not guess the answer.
    #[error("user-service unavailable: {0}")]
    AuthUnavailable(String),
    /// inventory-service could not give a published book its stock; the book was not
    /// published (see `CatalogApi::publish_book`). The caller may retry.
    #[error("inventory-service unavailable: {0}")]
    StockUnavailable(String),
    /// MySQL failed. Logged, never sent.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A cached value that does not decode (written by an incompatible version). Logged.
    #[error("corrupt cache entry: {0}")]
    Corrupt(String),
}

/// The one mapping. `unavailable` and `internal` log before answering, so every failure
/// that is ours leaves a line in the log with its context, exactly once.
impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(msg) => Status::invalid_argument(msg),
            Error::NotFound => Status::not_found(err.to_string()),
            Error::AlreadyExists(msg) => Status::already_exists(msg),
            Error::Unauthenticated(msg) => Status::unauthenticated(msg),
            Error::AuthUnavailable(e) => bookstore_platform::error::unavailable("user-service", e),
            Error::StockUnavailable(e) => {
                bookstore_platform::error::unavailable("inventory-service", e)
            }
            Error::Database(e) => bookstore_platform::error::internal("catalog store", e),
            Error::Corrupt(e) => bookstore_platform::error::internal("catalog cache", e),
        }
    }
}
