//! Internal failures → `Status::internal`, with the detail logged and never sent.
//!
//! Each service has its own error enum (thiserror) with an explicit `From<…> for Status`.
//! Its `Internal`-ish variants all go through [`internal`], so the rule is in one place:
//!
//! DO: log the driver's message with context, answer the caller "internal error".
//! DON'T: `Status::internal(e.to_string())` — a MySQL error text tells an attacker your
//! table names, SQL and versions, and tells a legitimate caller nothing useful.
//!
//! What it is NOT: the mapping of *expected* failures. "Out of stock" or "no such book" are
//! answers, not errors of the system: they get their own codes (`FailedPrecondition`,
//! `NotFound`) in each service's `From<Error> for Status`, and are not logged as errors.

use std::fmt::Display;

use tonic::Status;

/// Logs `err` under `context` and returns an opaque `Internal` status.
/// `context` is what the operator needs to find the failure (`"reserve stock"`); the log
/// line is where the detail goes, the caller gets only the code.
pub fn internal(context: &str, err: impl Display) -> Status {
    tracing::error!(context, error = %err, "internal error");
    Status::internal("internal error")
}

/// Like [`internal`] but for a dependency that is down (Redis, MySQL, another service):
/// `Unavailable` tells well-behaved clients that a retry later may succeed.
/// The context (never the driver's text) is sent: "redis unavailable" helps a caller and
/// reveals nothing. Retrying is safe only for idempotent RPCs — which is why inventory's
/// stock RPCs and payment's callback are idempotent per order (see their protos).
pub fn unavailable(context: &str, err: impl Display) -> Status {
    // `warn!` here, `error!` in `internal`: an alert on error lines then means a bug in this
    // service, not a restart of something it depends on.
    tracing::warn!(context, error = %err, "dependency unavailable");
    Status::unavailable(format!("{context} unavailable"))
}
