//! The one error type of user-service and its one mapping to gRPC codes.
//!
//! Every handler returns `Result<_, Error>`; the `?` at the boundary converts with
//! [`From<Error> for Status`](#impl-From<Error>-for-Status). Reading that one `match` tells
//! a learner every answer the service can give.
//!
//! | variant | gRPC code | who caused it |
//! |---|---|---|
//! | `InvalidArgument` | INVALID_ARGUMENT | the caller: fix the request, do not retry as is |
//! | `UsernameTaken` | ALREADY_EXISTS | the caller: choose another name |
//! | `BadCredentials`, `InvalidToken` | UNAUTHENTICATED | the caller: log in (again) |
//! | `NotFound` | NOT_FOUND | the caller asked for an id that does not exist |
//! | `Database`, `Crypto` | INTERNAL ("internal error") | us: logged with context, never sent |
//!
//! The split matters to clients: a retry policy retries UNAVAILABLE, never
//! INVALID_ARGUMENT; a gateway turns UNAUTHENTICATED into HTTP 401 and a login screen.

use tonic::Status;

/// Everything that can go wrong in user-service, one variant per answer a caller can get;
/// the `#[error]` texts are what the caller reads for the caller-caused variants.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed (bad username, short password, …); nothing was changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// Register with a username that exists (case-insensitively).
    #[error("username is already taken")]
    UsernameTaken,
    /// Login failed. Deliberately one variant for "no such user" and "wrong password".
    #[error("invalid username or password")]
    BadCredentials,
    // `&'static str` rather than `String`: the reasons are a closed set chosen in
    // token.rs, never text copied from a library error (which could say too much).
    /// A token that is expired, malformed or signed with another key. The reason is kept
    /// short and generic: it helps a developer, and tells an attacker nothing new.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// GetUser for an id that no row has. Only GetUser answers it: Login never does, so
    /// that it cannot be used to probe which accounts exist.
    #[error("user not found")]
    NotFound,
    // The two "our fault" variants keep their source error for the log line; `From` below
    // turns them into a bare INTERNAL, so the text never reaches the caller.
    /// MySQL failed. Logged with context, never sent.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// argon2 or JWT signing failed, or the hashing task panicked. Logged, never sent.
    #[error("crypto error: {0}")]
    Crypto(String),
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(msg) => Status::invalid_argument(msg),
            Error::UsernameTaken => Status::already_exists(err.to_string()),
            // DO: one message for both failures. DON'T answer NOT_FOUND for an unknown user
            // and UNAUTHENTICATED for a wrong password — the difference lets anyone list
            // which usernames exist, then aim password guessing at real accounts.
            Error::BadCredentials => Status::unauthenticated(err.to_string()),
            Error::InvalidToken(_) => Status::unauthenticated(err.to_string()),
            Error::NotFound => Status::not_found(err.to_string()),
            // A shortcut, admitted: every sqlx error is INTERNAL, a MySQL outage included. A
            // pool timeout would deserve UNAVAILABLE (retry later) rather than "our bug";
            // the client sees "internal error" and the log line has the cause.
            Error::Database(e) => bookstore_platform::error::internal("user store", e),
            Error::Crypto(e) => bookstore_platform::error::internal("user crypto", e),
        }
    }
}
