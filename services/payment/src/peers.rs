//! payment-service's one peer: order-service, through the platform's one channel function.
//!
//! Two questions, asked two ways:
//! - "is this order yours, what does it cost, may it be paid?" — GetOrder with the *payer's*
//!   token, so order-service applies its owner rule (someone else's order is NOT_FOUND) and
//!   payment-service never holds a copy of that rule;
//! - "this order is paid" — UpdateOrderStatus(Paid) with the *service* credential, because
//!   only payment-service may say it.
//!
//! Each answer is translated into what it means *for a payment*: for GetOrder, NOT_FOUND
//! and UNAUTHENTICATED are the caller's answers and everything else is UNAVAILABLE; for
//! UpdateOrderStatus, FAILED_PRECONDITION and NOT_FOUND are final refusals (refund) and
//! everything else is "try again later". Which codes count as final is the most
//! consequential decision in this file: it is the line between a refund and a retry.

use std::time::Duration;

use bookstore_platform::Secret;
use bookstore_platform::clients::Balanced;
use bookstore_proto::order::{
    GetOrderRequest, Order, OrderStatus, UpdateOrderStatusRequest,
    order_service_client::OrderServiceClient,
};
use tonic::Code;

use crate::Error;

/// What order-service said to "this order is paid".
#[derive(Debug, PartialEq, Eq)]
pub enum MarkPaid {
    /// The order is Paid now (or already was): the stock is confirmed as sold.
    Accepted,
    /// The order cannot be paid any more (cancelled, expired): the money must go back.
    Refused(String),
}

/// The order-service client: a lazily connected channel, the service credential for
/// UpdateOrderStatus, and the deadline for every call.
#[derive(Clone)]
pub struct Orders {
    client: OrderServiceClient<Balanced>,
    service_token: Secret,
    timeout: Duration,
}

impl Orders {
    /// A client of order-service at `addr`; fails only on a malformed address.
    pub fn new(addr: &str, service_token: Secret, timeout: Duration) -> anyhow::Result<Self> {
        let channel = bookstore_platform::clients::channel("order-service", addr)?;
        Ok(Self { client: OrderServiceClient::new(channel), service_token, timeout })
    }

    /// The caller's order `order_id`, asked with the caller's own token: its owner, total,
    /// status and deadline, everything CreatePayment decides on — read fresh every time.
    pub async fn get_for(&self, token: &str, order_id: u64) -> Result<Order, Error> {
        // Two clocks, as in every client here: `set_timeout` tells order-service our
        // deadline (`grpc-timeout`), `tokio::time::timeout` enforces it on our side even
        // if the connection itself never completes.
        let mut req = tonic::Request::new(GetOrderRequest { order_id });
        req.set_timeout(self.timeout);
        // The payer's own token, forwarded: order-service validates it with user-service and
        // applies its owner rule. payment-service never decides who owns an order.
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Error::Unauthenticated("token is not valid header text".into()))?;
        req.metadata_mut().insert("authorization", value);
        // A clone per call: tonic's client methods take `&mut self`, and the clone is a handle
        // on the one shared channel, not a new connection.
        let mut c = self.client.clone();
        match tokio::time::timeout(self.timeout, c.get_order(req)).await {
            // An OK without an order breaks order-service's contract: a bug to log, not an
            // answer to pass on.
            Ok(Ok(r)) => r
                .into_inner()
                .order
                .ok_or_else(|| Error::Corrupt("GetOrder answered no order".into())),
            // The token was refused: the payer must log in again, not retry.
            Ok(Err(s)) if s.code() == Code::Unauthenticated => {
                Err(Error::Unauthenticated(s.message().into()))
            }
            // NOT_FOUND also covers "someone else's order": order-service does not say which,
            // and neither do we.
            Ok(Err(s)) if s.code() == Code::NotFound => {
                Err(Error::NotFound(format!("order {order_id} not found")))
            }
            // Everything else means "could not find out": UNAVAILABLE, retryable. Passing
            // an INTERNAL through as INTERNAL would make our caller believe *we* broke.
            Ok(Err(s)) => Err(unavailable(&s)),
            // Our own clock ran out first: the same UNAVAILABLE as a refusal to connect, since
            // in both cases nothing was decided and a retry may succeed.
            Err(_) => Err(Error::Unavailable { peer: "order-service", detail: "timed out".into() }),
        }
    }

    /// UpdateOrderStatus(Paid): order-service moves Pending → Paid (refused once the order
    /// expired or was cancelled) and confirms the locked stock. Idempotent on its side, so
    /// the relay may deliver the same message any number of times.
    ///
    /// The three answers map to the relay's three actions: `Accepted` → mark delivered,
    /// `Refused` → refund and mark delivered, `Err` → reschedule with backoff.
    pub async fn mark_paid(&self, order_id: u64) -> Result<MarkPaid, Error> {
        let mut req = tonic::Request::new(UpdateOrderStatusRequest {
            order_id,
            status: OrderStatus::Paid as i32,
            reason: String::new(),
        });
        req.set_timeout(self.timeout);
        // A credential that is not valid header text is a configuration error: `Corrupt`,
        // logged loudly. The relay still treats it as "not delivered", so the messages wait
        // in the outbox until an operator fixes the setting — none is lost or refunded.
        let token = self
            .service_token
            .expose()
            .parse()
            .map_err(|_| Error::Corrupt("service token is not valid header text".into()))?;
        // The service credential, not a user's token: the relay acts for nobody in
        // particular, and only this credential may move an order to Paid.
        req.metadata_mut().insert("x-service-token", token);
        let mut c = self.client.clone();
        match tokio::time::timeout(self.timeout, c.update_order_status(req)).await {
            // OK covers "already Paid" (and "already shipped") too: order-service answers a
            // repeated Paid as done, which is what lets the relay deliver at least once.
            Ok(Ok(_)) => Ok(MarkPaid::Accepted),
            // A definite "no": the order is in a state that can never become Paid again.
            // Only these two codes are final. Treating UNAVAILABLE as a refusal would refund
            // a customer whose order was merely slow to answer; treating FAILED_PRECONDITION
            // as retryable would retry a cancelled order forever and never refund.
            Ok(Err(s)) if matches!(s.code(), Code::FailedPrecondition | Code::NotFound) => {
                Ok(MarkPaid::Refused(s.message().to_string()))
            }
            // Anything else (down, slow, a wrong credential) is retried: the outbox keeps it.
            Ok(Err(s)) => Err(unavailable(&s)),
            Err(_) => Err(Error::Unavailable { peer: "order-service", detail: "timed out".into() }),
        }
    }
}

/// order-service's failure as our UNAVAILABLE, with its code and message kept for the log
/// line (`platform::error::unavailable` logs the detail; the caller sees only the peer).
fn unavailable(s: &tonic::Status) -> Error {
    Error::Unavailable { peer: "order-service", detail: format!("{:?}: {}", s.code(), s.message()) }
}
