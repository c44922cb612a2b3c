//! payment-service's one error enum and its one mapping to `tonic::Status`.
//!
//! The split that matters most here is UNAVAILABLE versus the refusals. A client (the
//! gateway, a shop's frontend) may retry UNAVAILABLE: order-service was down or slow and
//! nothing was decided. It must not retry INVALID_ARGUMENT or FAILED_PRECONDITION as is:
//! the amount is wrong or the order is not payable, and asking again changes nothing.
//! Retrying CreatePayment is always safe anyway, because an order has at most one live
//! payment (see [`crate::store::Store::create`]); the code only tells the client whether
//! a retry can help.

use tonic::Status;

/// Everything that can go wrong in payment-service, named for what happened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad id, a non-positive amount, an amount that is not the order's total, or a
    /// callback whose amount is not the payment's. Nothing was changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such payment — or one whose order is not the caller's: both answer NOT_FOUND, so
    /// a payment number reveals nothing to someone who does not own it.
    #[error("{0}")]
    NotFound(String),
    /// The order is not payable (not Pending, or past its expiry).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No token, or one order-service (through user-service) refused.
    #[error("{0}")]
    Unauthenticated(String),
    /// MockCallback without the service credential: the caller is known to be *not* the
    /// payment gateway, so logging in would not help (403, not 401).
    #[error("{0}")]
    PermissionDenied(String),
    /// order-service is down or slow: the caller may retry. Also used for the one internal
    /// race a retry resolves (a live payment that failed between two statements).
    #[error("{peer} unavailable: {detail}")]
    Unavailable { peer: &'static str, detail: String },
    /// MySQL failed. Logged with context, answered as a bare INTERNAL.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row or a peer's answer that breaks an invariant (an unknown status number, a
    /// payment that vanished after its insert). Logged, answered as INTERNAL.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl Error {
    /// A short label for the `payment_operations_total{result=…}` metric.
    ///
    /// A closed set of six words, whatever the message: a label per message would create a
    /// new time series for every order id that ever appeared in an error.
    pub fn label(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid",
            Error::NotFound(_) => "not_found",
            Error::FailedPrecondition(_) => "refused",
            // One word for both: the dashboard asks "how many were turned away", and the
            // 401/403 split is visible in the gateway's own status metrics.
            Error::Unauthenticated(_) | Error::PermissionDenied(_) => "denied",
            Error::Unavailable { .. } => "unavailable",
            // Our own failures: the ones that should page someone when their rate rises.
            Error::Database(_) | Error::Corrupt(_) => "error",
        }
    }
}

/// The one mapping. Caller-caused variants keep their message (written here, safe to show);
/// `Database` and `Corrupt` are logged with context and answered as a bare INTERNAL.
impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(m) => Status::invalid_argument(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Unauthenticated(m) => Status::unauthenticated(m),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            // The caller reads "<peer> unavailable"; the detail (the peer's own message) goes
            // to our log only, since it may name tables or hosts of another service.
            Error::Unavailable { peer, detail } => {
                bookstore_platform::error::unavailable(peer, detail)
            }
            Error::Database(e) => bookstore_platform::error::internal("payment store", e),
            Error::Corrupt(e) => bookstore_platform::error::internal("payment store", e),
        }
    }
}
