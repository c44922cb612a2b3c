//! Asking user-service who is calling (for PublishBook), and with which roles.
//!
//! DO: give every upstream call a deadline. A user-service that hangs must turn into a
//! quick UNAVAILABLE here, not into PublishBook calls that pile up holding connections
//! until this service hangs too — that is how one slow service takes down its callers.
//! DO: connect lazily. catalog-service starts (and serves reads) even while user-service
//! is still starting; only the first PublishBook needs it.
//!
//! | user-service answers | PublishBook answers | why |
//! |---|---|---|
//! | OK (user id) | continues | the token is valid |
//! | UNAUTHENTICATED | UNAUTHENTICATED | the token is bad: the caller must log in again |
//! | anything else, or no answer within the timeout | UNAVAILABLE | we could not check: fail *closed*, the caller may retry |
//!
//! Why not verify the JWT here with a copy of the secret: see the user-service crate docs
//! (one holder of the signing key; the extra RPC costs ~1 ms and only writes pay it).

use std::time::Duration;

use bookstore_platform::clients::Balanced;
use bookstore_proto::user::{ValidateTokenRequest, user_service_client::UserServiceClient};
use tonic::Code;

use crate::Error;

// Not cached: each PublishBook asks user-service again. Caching "token → user" for the
// token's remaining lifetime would save an RPC per write, but a write path is rare, and
// a cache would keep honouring a token after a future revocation list said no.

/// Who a valid token belongs to, as user-service's ValidateToken answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Recorded as the book's `published_by`: the audit trail comes from the verified
    /// token, never from a field the client could fill in.
    pub user_id: u64,
    /// The name at login time; PublishBook logs only the id.
    pub username: String,
    /// The signed roles; PublishBook requires `admin` (`platform::auth::require_role`).
    pub roles: Vec<String>,
}

/// A user-service client with a per-call timeout.
#[derive(Clone)]
pub struct UserClient {
    client: UserServiceClient<Balanced>,
    timeout: Duration,
}

impl UserClient {
    /// `addr` like `http://127.0.0.1:9001`. Fails only on a malformed address.
    ///
    /// A tonic `Channel` is a handle to a pooled HTTP/2 connection that reconnects by
    /// itself; cloning the client per call is cheap and is how tonic expects concurrent
    /// use (a client method takes `&mut self`).
    pub fn new(addr: &str, timeout: Duration) -> anyhow::Result<Self> {
        let channel = bookstore_platform::clients::channel("user-service", addr)?;
        Ok(Self { client: UserServiceClient::new(channel), timeout })
    }

    /// Validates `token` with user-service.
    ///
    /// Two timeouts, on purpose: `set_timeout` tells user-service our deadline (the
    /// `grpc-timeout` header, so it can stop early), and `tokio::time::timeout` enforces it
    /// here whatever the other side does — including a connection that never completes.
    pub async fn validate(&self, token: &str) -> Result<Identity, Error> {
        let mut request = tonic::Request::new(ValidateTokenRequest { token: token.to_string() });
        // Sent as the `grpc-timeout` header: user-service then knows how long we will
        // wait and can give up too (deadline propagation).
        request.set_timeout(self.timeout);
        let mut client = self.client.clone();
        let call = tokio::time::timeout(self.timeout, client.validate_token(request));
        match call.await {
            Ok(Ok(resp)) => {
                let r = resp.into_inner();
                Ok(Identity { user_id: r.user_id, username: r.username, roles: r.roles })
            }
            // The only answer that is about the token. Its message ("invalid token:
            // expired") is passed on: it helps the client, and it came from a service that
            // already chose it to be safe to show.
            Ok(Err(status)) if status.code() == Code::Unauthenticated => {
                Err(Error::Unauthenticated(status.message().to_string()))
            }
            // INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, even INVALID_ARGUMENT: none of them
            // says the token is bad, only that we could not find out. Fail closed.
            Ok(Err(status)) => {
                Err(Error::AuthUnavailable(format!("{:?}: {}", status.code(), status.message())))
            }
            Err(_) => Err(Error::AuthUnavailable("timed out".into())),
        }
    }
}
