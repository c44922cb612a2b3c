//! payment-service's one error enum and its one mapping to `tonic::Status`.

use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The order is not payable (not Pending, or past its expiry).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// order-service is down or slow: the caller may retry.
    #[error("{peer} unavailable: {detail}")]
    Unavailable { peer: &'static str, detail: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

impl Error {
    /// A short label for the `payment_operations_total{result=…}` metric.
    pub fn label(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid",
            Error::NotFound(_) => "not_found",
            Error::FailedPrecondition(_) => "refused",
            Error::Unauthenticated(_) | Error::PermissionDenied(_) => "denied",
            Error::Unavailable { .. } => "unavailable",
            Error::Database(_) | Error::Corrupt(_) => "error",
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(m) => Status::invalid_argument(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Unauthenticated(m) => Status::unauthenticated(m),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::Unavailable { peer, detail } => {
                bookstore_platform::error::unavailable(peer, detail)
            }
            Error::Database(e) => bookstore_platform::error::internal("payment store", e),
            Error::Corrupt(e) => bookstore_platform::error::internal("payment store", e),
        }
    }
}
