//! Internal failures → `Status::internal`, with the detail logged and never sent.
//!
//! Each service has its own error enum (thiserror) with an explicit `From<…> for Status`.
//! Its `Internal`-ish variants all go through [`internal`], so the rule is in one place:
//!
//! DO: log the driver's message with context, answer the caller "internal error".
//! DON'T: `Status::internal(e.to_string())` — a MySQL error text tells an attacker your
//! table names, SQL and versions, and tells a legitimate caller nothing useful.

use std::fmt::Display;

use tonic::Status;

/// Logs `err` under `context` and returns an opaque `Internal` status.
pub fn internal(context: &str, err: impl Display) -> Status {
    tracing::error!(context, error = %err, "internal error");
    Status::internal("internal error")
}

/// Like [`internal`] but for a dependency that is down (Redis, MySQL, another service):
/// `Unavailable` tells well-behaved clients that a retry later may succeed.
pub fn unavailable(context: &str, err: impl Display) -> Status {
    tracing::warn!(context, error = %err, "dependency unavailable");
    Status::unavailable(format!("{context} unavailable"))
}
