//! The one error type of inventory-service and its one mapping to gRPC codes.
//!
//! Every handler returns `Result<_, Error>` and converts at the boundary with
//! [`From<Error> for Status`](#impl-From<Error>-for-Status). Reading that one `match` tells
//! a learner every answer the service can give — and which of them changed nothing.

use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed (id 0, quantity out of range, duplicate book, …). It was
    /// refused before any store was touched, so nothing changed. The message is built by
    /// the parser that refused it and states the rule ("between 1 and 10000").
    #[error("{0}")]
    InvalidArgument(String),
    /// A book that has no stock record (never restocked through IncrStock).
    #[error("book {0} has no inventory")]
    UnknownBook(u64),
    /// Not enough available stock for one line; the whole request was refused, so no
    /// other line was locked or sold either (all-or-nothing).
    #[error("not enough stock for book {book_id}")]
    OutOfStock { book_id: u64 },
    /// The order's reservation was already settled the other way: a confirm after the
    /// release (say, payment arriving after the window expired), a release after the
    /// confirm, or a LockStock retry for an order that was already released.
    #[error("order {order_id} was already {state}")]
    AlreadySettled { order_id: u64, state: &'static str },
    /// Reconcile waited for the syncer and it did not catch up in time. UNAVAILABLE, not
    /// a drift report: comparing before the syncer caught up would report lag as drift.
    #[error("the ledger syncer is behind; try again")]
    SyncerBehind,
    /// The rebuild lock expired or passed to another instance while this one was still
    /// rebuilding; its remaining writes were refused. Never reaches a caller: the rebuild
    /// starts over and finds the other instance's work (see `store::RebuildLock`).
    #[error("lost the rebuild lock")]
    LostRebuildLock,
    /// Redis failed (down, timeout, script error). Logged with context, never sent.
    /// A script error here means a bug in a script or in its caller's KEYS/ARGV — the
    /// scripts answer every business outcome with a status code, never with an error.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// MySQL failed. Logged with context, never sent.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// Short label for the `result` dimension of `inventory_operations_total`.
    ///
    /// A fixed, small set of values: a label with unbounded values (a book id, an error
    /// message) would create a new Prometheus time series per value and exhaust memory.
    pub fn label(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid",
            Error::UnknownBook(_) => "not_found",
            Error::OutOfStock { .. } => "out_of_stock",
            Error::AlreadySettled { .. } => "settled",
            Error::SyncerBehind => "syncer_behind",
            Error::Redis(_) | Error::Database(_) | Error::LostRebuildLock => "error",
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(msg) => Status::invalid_argument(msg),
            // The messages of these variants are written for callers: they name the book or the
            // order the caller sent, and nothing about our storage.
            Error::UnknownBook(_) => Status::not_found(err.to_string()),
            // DO: FAILED_PRECONDITION for "sold out" — the request is fine, the system is not
            // in a state to honour it. DON'T use RESOURCE_EXHAUSTED (that means "slow down, a
            // quota or rate limit hit", and well-behaved clients would retry a sold-out book
            // in a loop) or INTERNAL (that pages the on-call engineer for a normal business
            // outcome).
            Error::OutOfStock { .. } | Error::AlreadySettled { .. } => {
                Status::failed_precondition(err.to_string())
            }
            // Safe to send: it names no internals, and tells the operator to retry shortly.
            Error::SyncerBehind => Status::unavailable(err.to_string()),
            // A Redis that is down or timing out is worth a retry; anything else is a bug.
            // Marking a timeout retryable is safe only because every writing script is
            // idempotent per order or request id: a timeout cannot say whether the script
            // ran, and the retry then answers `replayed` instead of selling a second time.
            Error::Redis(e) if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => {
                bookstore_platform::error::unavailable("stock store", e)
            }
            Error::Redis(e) => bookstore_platform::error::internal("stock store", e),
            // Reaches a caller only from the two ledger reads (GetStockLog, Reconcile): no
            // sale touches MySQL, so a MySQL outage shows here and never on the hot path.
            Error::Database(e) => bookstore_platform::error::internal("inventory ledger", e),
            // UNAVAILABLE should it ever escape: the rebuild starts over, so a retry succeeds.
            Error::LostRebuildLock => bookstore_platform::error::unavailable("stock store", err),
        }
    }
}
