//! The gRPC clients behind the gateway, each call bounded by a timeout.
//!
//! DO: a deadline on *every* upstream call. Without one, a hung catalog-service holds each
//! HTTP request (and its socket, and its memory) open indefinitely; under load the gateway
//! runs out of them and every route fails — including ones that never touch the catalog.
//! The deadline is also sent upstream (`grpc-timeout`), so the service can stop working on
//! an answer nobody will read.
//! DO: connect lazily, so the gateway starts (and `/health` answers) while services are
//! still starting; a call to a service that is down becomes a quick 503.

//!
//! ## Why no retries here
//!
//! A retry at the gateway looks free and is not. Register and PublishBook are not
//! idempotent: if the first attempt succeeded but its reply was lost, a retry creates a
//! second book (or answers ALREADY_EXISTS for a registration that worked). Reads could be
//! retried safely, but a retry multiplies load exactly when a service is struggling
//! (the retry storm). The gateway therefore fails fast with a clear status, and leaves
//! retrying to the client, which knows whether its request is safe to repeat.
//!
//! ## Deadlines, in numbers
//!
//! Loopback gRPC calls take ~0.2–2 ms; a cache miss in catalog-service adds a few ms of
//! SQL. The default 3 s is three orders of magnitude above normal, so it only fires when
//! something is really wrong — and then it bounds how many requests can pile up: at 1,000
//! requests/s, at most ~3,000 in flight, instead of growing without limit.
//!
use std::{future::Future, time::Duration};

use bookstore_platform::clients::Balanced;
use bookstore_platform::clients::channel;
use bookstore_proto::{
    catalog::catalog_service_client::CatalogServiceClient,
    order::order_service_client::OrderServiceClient,
    payment::payment_service_client::PaymentServiceClient,
    user::user_service_client::UserServiceClient,
};

use crate::error::ApiError;

/// Clients of every upstream service (cheap to clone: a channel is a handle).
#[derive(Clone)]
///
/// Why one channel per service and not a pool: a tonic channel is one HTTP/2 connection
/// that multiplexes many concurrent requests as separate streams, so one is enough for
/// thousands of in-flight calls on loopback. (Across a real network, a few channels with
/// a load balancer spread the work over several server instances — Day 35.)
pub struct Upstreams {
    /// Register, Login, ValidateToken, GetUser.
    pub users: UserServiceClient<Balanced>,
    /// ListBooks, SearchBooks, GetBook, PublishBook — never UpdateStock.
    pub catalog: CatalogServiceClient<Balanced>,
    /// CreateOrder, GetOrder, ListOrders, CancelOrder — never UpdateOrderStatus.
    pub orders: OrderServiceClient<Balanced>,
    /// CreatePayment, QueryPayment, and MockCallback on the lab's mock-callback route.
    pub payments: PaymentServiceClient<Balanced>,
    /// The service credential the lab's mock-callback route adds (see `payments`).
    pub service_token: bookstore_platform::Secret,
    /// The per-call budget, from `upstream_timeout_ms`.
    pub timeout: Duration,
}

impl Upstreams {
    /// Builds every client. Nothing is dialled yet (see the module docs for why).
    /// (A malformed address, e.g. a missing `http://`, fails here — at start-up.)
    pub fn new(settings: &crate::Settings) -> anyhow::Result<Self> {
        let s = settings;
        Ok(Self {
            // No channel-level timeouts: the whole call — connect, handshake, request,
            // response — is bounded by `Upstreams::call`, one clock for everything, so a
            // slow upstream is always our 504 (a second, equal `connect_timeout` would race
            // with it and sometimes surface as an opaque transport error instead).
            users: UserServiceClient::new(channel("user-service", &s.user_addr)?),
            catalog: CatalogServiceClient::new(channel("catalog-service", &s.catalog_addr)?),
            orders: OrderServiceClient::new(channel("order-service", &s.order_addr)?),
            payments: PaymentServiceClient::new(channel("payment-service", &s.payment_addr)?),
            service_token: s.service_token.clone(),
            timeout: Duration::from_millis(s.upstream_timeout_ms),
        })
    }

    /// A request carrying the gateway's deadline.
    ///
    /// `set_timeout` becomes the `grpc-timeout: 3000m` header. The upstream server sees the
    /// deadline and can cancel work whose answer would arrive too late to matter; tonic's
    /// server also enforces it, answering DEADLINE_EXCEEDED on its side.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Awaits an upstream call for at most the timeout; maps gRPC errors to HTTP ones.
    ///
    /// Three outcomes, three answers: the upstream's reply (its gRPC error mapped to an
    /// HTTP status by [`ApiError::from`]), or our own 504 when the clock ran out first —
    /// which covers a hung connection, a stuck handshake and a slow query alike.
    pub async fn call<T>(
        &self,
        upstream: &str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            // tonic enforces the request's own deadline (`set_timeout`) on the client side
            // too, and reports it as CANCELLED with a `TimeoutExpired` source. Both clocks
            // are ours and equal, so whichever fires first, the answer is the same 504.
            Ok(Err(status)) if is_deadline(&status) => Err(ApiError::timeout(upstream)),
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(ApiError::timeout(upstream)),
        }
    }
}

// Matching by type, not by the message "Timeout expired": the type is tonic's API, the
// message is prose that may change in any release.

/// Whether `status` is tonic's client-side deadline expiry (a `TimeoutExpired` anywhere in
/// its source chain) — matched by type, never by message text.
fn is_deadline(status: &tonic::Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        if err.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = err.source();
    }
    false
}
