//! order-service's one error enum and its one mapping to `tonic::Status`.
//!
//! A peer's answer is translated, never forwarded as is: catalog's NOT_FOUND for a book is
//! our NOT_FOUND "book 7 not found" (the caller named that book), but inventory's INTERNAL
//! or a timeout is our UNAVAILABLE — the caller can retry, and must not see another
//! service's internals. Driver errors are logged and answered as a bare INTERNAL.
//!
//! | variant | code | the client should |
//! |---|---|---|
//! | `InvalidArgument` | INVALID_ARGUMENT | fix the request (a reused key included) |
//! | `NotFound` | NOT_FOUND | stop: no such order for them, or no such book |
//! | `FailedPrecondition` | FAILED_PRECONDITION | stop: no stock, an illegal move, an expired order |
//! | `Unauthenticated` / `PermissionDenied` | UNAUTHENTICATED / PERMISSION_DENIED | log in / give up |
//! | `Aborted`, `KeyTaken` | ABORTED | retry the same request (same key) at once |
//! | `Unavailable` | UNAVAILABLE | retry later, with the same key |
//! | `Database`, `Corrupt` | INTERNAL | report it; our log has the cause |

use tonic::Status;

/// Everything that can go wrong in order-service, named for what happened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed basket, key, status or reason; a reused idempotency key with another
    /// basket. Nothing was changed, no peer was called (or only the read-only lookups).
    #[error("{0}")]
    InvalidArgument(String),
    /// No such order, or someone else's (the same answer, on purpose); a book the
    /// catalogue does not have.
    #[error("{0}")]
    NotFound(String),
    /// Not enough stock, an illegal transition, paying an expired order: the world's state
    /// forbids it, and the same request will keep failing until that state changes.
    #[error("{0}")]
    FailedPrecondition(String),
    /// No token, or one user-service refused.
    #[error("{0}")]
    Unauthenticated(String),
    /// UpdateOrderStatus without the service credential.
    #[error("{0}")]
    PermissionDenied(String),
    /// The same idempotency key is being processed by another request right now, or an
    /// order changed too often under one request. Retrying the same request is safe and is
    /// what the client should do.
    #[error("{0}")]
    Aborted(String),
    /// A peer is down, slow or failed in a way the caller may retry. The outcome of the
    /// call may be unknown (a timeout after LockStock): the compensation path handles that,
    /// so a retry with the same idempotency key is always safe.
    #[error("{peer} unavailable: {detail}")]
    Unavailable { peer: &'static str, detail: String },
    /// Internal to CreateOrder: the idempotency key's order committed under another id
    /// while this request was creating one. The request then answers with that order.
    #[error("idempotency key already has an order")]
    KeyTaken,
    /// MySQL failed. Logged with context, answered as a bare INTERNAL.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row or an answer that breaks an invariant (an unknown status number, an order that
    /// vanished under us). Logged, answered as INTERNAL.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl Error {
    /// A short label for the `order_operations_total{result=…}` metric: a closed set of
    /// words, never the message, so the metric has a fixed number of series.
    pub fn label(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid",
            Error::NotFound(_) => "not_found",
            // The business refusals (no stock, illegal move, expired) in one word: their rate
            // is demand and behaviour, not a fault to page anyone about.
            Error::FailedPrecondition(_) => "refused",
            Error::Unauthenticated(_) | Error::PermissionDenied(_) => "denied",
            Error::Aborted(_) => "aborted",
            Error::Unavailable { .. } => "unavailable",
            // Ours: the word whose rate should alert someone.
            Error::KeyTaken | Error::Database(_) | Error::Corrupt(_) => "error",
        }
    }
}

/// The one mapping to gRPC codes; the table a client reads to know what to retry:
/// UNAVAILABLE and ABORTED (retry, the same key is safe), everything else (do not, as is).
impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(m) => Status::invalid_argument(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Unauthenticated(m) => Status::unauthenticated(m),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::Aborted(m) => Status::aborted(m),
            Error::Unavailable { peer, detail } => {
                bookstore_platform::error::unavailable(peer, detail)
            }
            // Internal to CreateOrder, which normally answers with the other order instead;
            // if it ever escapes, "retry" is the truthful answer — the retry finds that order.
            Error::KeyTaken => Status::aborted("idempotency key is changing state; retry"),
            // InnoDB picked this transaction as a deadlock victim (seen when concurrent
            // retries of one idempotency key commit at once: each holds the shared lock a
            // duplicate-key check takes and wants the other's exclusive one). It rolled the
            // whole transaction back, so nothing changed and the same request may be sent
            // again — ABORTED says exactly that. ❌ DON'T answer INTERNAL: the client would
            // treat a routine, retryable collision as a bug on our side and give up.
            Error::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("40001") => {
                Status::aborted("a concurrent request on the same order won; retry")
            }
            // Both logged with the driver's text, both answered "internal error": a client
            // cannot act on a SQL message, and must not learn our table names from one.
            Error::Database(e) => bookstore_platform::error::internal("order store", e),
            Error::Corrupt(e) => bookstore_platform::error::internal("order store", e),
        }
    }
}
