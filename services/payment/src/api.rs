//! The gRPC handlers. Who may do what:
//!
//! | RPC | caller | rule |
//! |---|---|---|
//! | CreatePayment, QueryPayment | the payer (Bearer token) | only for orders order-service says are theirs |
//! | MockCallback | the payment gateway (`x-service-token`) | amounts must match; settled payments stay settled |
//!
//! The amount is checked against order-service's total, never taken on the client's word:
//! a client that could choose the amount could pay 1 cent for any order.
//!
//! CreatePayment, step by step, and what each step prevents:
//!
//! ```text
//! token from metadata            no token → UNAUTHENTICATED, before any I/O
//! parse order_id, amount         0 / negative → INVALID_ARGUMENT
//! order-service GetOrder(token)  not the caller's → NOT_FOUND (owner rule lives there)
//! already paid? → the live one   a retry after success answers that payment
//! Pending, not expired, = total  otherwise FAILED_PRECONDITION / INVALID_ARGUMENT
//! Store::create                  one transaction: payment + gateway job; unique live index
//! ```
//!
//! Nothing here calls the payment gateway or order-service's UpdateOrderStatus: those
//! happen later, from rows, in [`crate::workers`], so that a crash between "the customer
//! asked to pay" and "the order is paid" loses no step.

use std::{sync::Arc, time::Duration};

use bookstore_platform::{Secret, auth::bearer_token};
use bookstore_proto::{
    order::OrderStatus,
    payment::{self as pb, payment_service_server::PaymentService},
};
use tonic::{Request, Response, Status};

use crate::{
    Error,
    domain::{self},
    peers::Orders,
    store::{PaymentRow, Store},
};

/// Metadata key of the lab's per-payment switch: `x-lab-payment: fail`.
///
/// Per payment, not only a global rate: an experiment (and a test) can decline exactly
/// the payment it is about, and leave every other payment of the run alone.
pub const LAB_HEADER: &str = "x-lab-payment";

/// The service: its store, the order-service client and the settings the handlers read;
/// cheap to clone (tonic clones it per connection).
#[derive(Clone)]
pub struct PaymentApi {
    store: Store,
    /// Asked for every CreatePayment and QueryPayment: ownership and the order's total are
    /// never cached here, so a cancelled order cannot be paid from a stale copy.
    orders: Orders,
    config: Arc<Config>,
}

/// What the handlers need from the settings.
pub struct Config {
    /// How far in the future a new payment's gateway job is due.
    pub confirm_delay: Duration,
    /// Share of new payments the mock gateway will decline (0.0–1.0).
    pub failure_rate: f64,
    /// What MockCallback's `x-service-token` must equal.
    pub service_token: Secret,
    /// Whether `x-lab-payment: fail` is honoured; off in a real deployment, so no client
    /// header can decide a payment's outcome.
    pub lab_faults: bool,
}

impl PaymentApi {
    /// The handlers over `store` and `orders`; `config` is shared behind an `Arc`, so the
    /// clone tonic makes per connection copies two handles and a pointer.
    pub fn new(store: Store, orders: Orders, config: Config) -> Self {
        Self { store, orders, config: Arc::new(config) }
    }

    /// The mock gateway's answer for a new payment, decided once, at creation: the lab's
    /// per-payment switch, else the configured failure rate.
    ///
    /// Decided at creation and stored in the job (`gateway_jobs.succeed`), not when the job
    /// comes due: a process that restarts in the pending window then gives the answer the
    /// first one would have — a restart must not turn a decline into a success, or back.
    fn will_succeed<T>(&self, request: &Request<T>) -> bool {
        // Ignored unless lab faults are on: in production no header can choose an outcome.
        let forced = self.config.lab_faults
            && request.metadata().get(LAB_HEADER).and_then(|v| v.to_str().ok()) == Some("fail");
        // `>=`: with a rate of 0 every draw in [0, 1) succeeds, with 1 none does.
        !forced && rand::random::<f64>() >= self.config.failure_rate
    }

    /// Whether the request carries the service credential (compared in constant time by
    /// the platform); `PermissionDenied` otherwise. MockCallback's only authentication: a
    /// real provider would sign its notification instead, and we would verify that here.
    fn check_service<T>(&self, request: &Request<T>) -> Result<(), Error> {
        if bookstore_platform::auth::has_service_token(
            request.metadata(),
            &self.config.service_token,
        ) {
            Ok(())
        } else {
            Err(Error::PermissionDenied("MockCallback needs the service credential".into()))
        }
    }

    /// `payment` if its order belongs to the caller (asked of order-service with their token).
    ///
    /// Ownership is order-service's rule, asked each time, not `payment.user_id == caller`:
    /// payment-service cannot read the caller's id from the token without user-service, and
    /// one owner rule in one place cannot drift. Someone else's payment and a missing one
    /// give the very same NOT_FOUND, so payment numbers cannot be probed.
    async fn owned(
        &self,
        token: &str,
        payment: Option<PaymentRow>,
        what: &str,
    ) -> Result<PaymentRow, Error> {
        let not_found = || Error::NotFound(format!("payment {what} not found"));
        // A missing payment is answered without asking order-service: there is no order to
        // check, and the answer is the same NOT_FOUND either way.
        let payment = payment.ok_or_else(not_found)?;
        match self.orders.get_for(token, payment.order_id).await {
            Ok(_) => Ok(payment),
            // "Not your order" becomes "no such payment": the message names the payment the
            // caller asked for, never the order it belongs to.
            Err(Error::NotFound(_)) => Err(not_found()),
            // Unauthenticated or Unavailable pass through: a bad token must say so, and a
            // down order-service must be retryable, not a false "not found".
            Err(e) => Err(e),
        }
    }
}

/// Counts the outcome of one RPC (`payment_operations_total{op, result}`) and turns the
/// result into tonic's: the one place where every handler's answer passes, so no RPC can
/// forget its metric or map an error differently from the others.
fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    // Six result words × three ops: a fixed set of series, however many payments exist.
    metrics::counter!("payment_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

/// The three RPCs. Each reads what it needs from the request's metadata first (token, lab
/// switch), then runs its body inside `async { … }`, so that every outcome of the body —
/// its early refusals included — goes through [`finish`] and is counted. (A missing Bearer
/// token is answered before the body, uncounted; MockCallback checks its credential
/// inside, so refused callbacks are counted.)
#[tonic::async_trait]
impl PaymentService for PaymentApi {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::CreatePaymentResponse>, Status> {
        // Read before `into_inner` consumes the request: the token and the lab switch are in
        // its metadata. A missing token answers at once, uncounted by `finish`.
        let token = bearer_token(request.metadata())?;
        let succeed = self.will_succeed(&request);
        let req = request.into_inner();
        let result = async {
            // Shape first, with no I/O: a zero id or a non-positive amount never costs a call
            // to order-service.
            let order_id = domain::parse_id("order_id", req.order_id)?;
            let amount = domain::parse_amount(req.amount)?;
            // The order as order-service has it: owner, total, status, deadline. Asked every
            // time, never cached: the total was fixed at creation, but the status is not,
            // and a cached "Pending" is how a cancelled order gets paid.
            //
            // ❌ DON'T accept the amount and check it later: a payment for the wrong amount
            // would reach the provider, and a refund is a support ticket; refusing before
            // any row exists costs nothing.
            // (A NOT_FOUND here also covers "someone else's order", by order-service's rule.)
            let order = self.orders.get_for(&token, order_id).await?;
            // A retry that arrives after the payment went through (the order is Paid now)
            // answers that payment, like any other retry — not "order not payable".
            // The amount must match too: a request for another amount is not a retry of
            // this payment, and falls through to the refusals below.
            // Only for an order that is no longer Pending: while it is Pending, the retry
            // path is `Store::create` itself, whose unique index answers the live payment.
            if order.status() != OrderStatus::Pending
                && let Some(live) = self.store.find_live(order_id).await?
                && live.amount == amount
            {
                // The same payment, not a new one, and not an error: the shopper's "pay" after
                // a lost reply should land on "it is paid", whatever the order did since.
                return Ok(pb::CreatePaymentResponse { payment: Some(to_proto(&live)) });
            }
            // Cancelled, expired (already swept) or shipped: there is nothing to pay for.
            if order.status() != OrderStatus::Pending {
                return Err(Error::FailedPrecondition(format!(
                    "order {order_id} is {:?}, not payable",
                    order.status()
                )));
            }
            // Still Pending but past its deadline: order-service's sweeper has not run yet.
            // Refused here so that no new payment starts for an order about to expire; one
            // that starts just before and succeeds just after is refunded by the relay.
            // (This process's clock against order-service's deadline: a second of skew only
            // moves where the refusal happens; order-service's own check in its UPDATE is
            // the one that counts.)
            if order.expires_at <= chrono::Utc::now().timestamp_millis() {
                return Err(Error::FailedPrecondition(format!("order {order_id} has expired")));
            }
            // Exactly the total, in cents: no partial payments, no overpayment "to be safe".
            // The message states both numbers, so a client with a stale total sees why.
            if amount != order.total {
                return Err(Error::InvalidArgument(format!(
                    "amount {amount} does not equal the order total {}",
                    order.total
                )));
            }
            // The order's owner id comes from order-service's answer, never from the request,
            // and is stored with the payment.
            let created = self
                .store
                .create(order_id, order.user_id, amount, succeed, self.config.confirm_delay)
                .await?;
            // Counted only when a payment was really created: a retry that returned the live
            // payment is not a second payment, in the metric as in the money.
            if !created.existing {
                metrics::counter!("payments_created_total").increment(1);
            }
            Ok(pb::CreatePaymentResponse { payment: Some(to_proto(&created.payment)) })
        };
        finish("create", result.await)
    }

    async fn query_payment(
        &self,
        request: Request<pb::QueryPaymentRequest>,
    ) -> Result<Response<pb::QueryPaymentResponse>, Status> {
        // The payer's token: QueryPayment is answered only to the owner of the payment's
        // order, as order-service judges it.
        let token = bearer_token(request.metadata())?;
        let req = request.into_inner();
        let result = async {
            // By number (what the gateway's route sends) or by order (the newest payment of
            // it, any status: after a failed attempt and a successful retry, the success).
            let payment = if !req.payment_no.is_empty() {
                let found = self.store.by_no(&req.payment_no).await?;
                self.owned(&token, found, &req.payment_no).await?
            } else if req.order_id != 0 {
                // Ownership of the order first: someone else's order id learns nothing —
                // not even whether it has a payment, which a lookup first would reveal.
                self.orders.get_for(&token, req.order_id).await?;
                self.store.latest_for_order(req.order_id).await?.ok_or_else(|| {
                    Error::NotFound(format!("order {} has no payment", req.order_id))
                })?
            } else {
                // Both empty: the proto's defaults, i.e. a client that set neither field.
                return Err(Error::InvalidArgument("give payment_no or order_id".into()));
            };
            Ok(pb::QueryPaymentResponse { payment: Some(to_proto(&payment)) })
        };
        finish("query", result.await)
    }

    async fn mock_callback(
        &self,
        request: Request<pb::MockCallbackRequest>,
    ) -> Result<Response<pb::MockCallbackResponse>, Status> {
        // The credential first: without it, nothing is looked up, so a caller cannot even
        // learn which payment numbers exist.
        let result = async {
            self.check_service(&request)?;
            let req = request.into_inner();
            // No owner check: the provider is not a user. The credential above is what
            // authorises it, for every payment.
            let payment =
                self.store.by_no(&req.payment_no).await?.ok_or_else(|| {
                    Error::NotFound(format!("payment {} not found", req.payment_no))
                })?;
            // A callback claiming another amount is not ours to believe: refuse, change nothing.
            // (A real provider's amount comes signed; a mismatch there means tampering or a
            // bug on one side, and either way it needs a person, not an automatic "paid".)
            if req.amount != payment.amount {
                return Err(Error::InvalidArgument(format!(
                    "callback amount {} does not equal the payment's {}",
                    req.amount, payment.amount
                )));
            }
            // The same `settle_in` as the mock gateway's worker, in a transaction of its own:
            // whichever of the two comes first settles the payment, the other changes
            // nothing. 100 concurrent callbacks make one state change (`tests/payments.rs`).
            let mut tx = self.store.pool().begin().await?;
            let changed = Store::settle_in(
                &mut tx,
                payment.id,
                req.success,
                "declined by the gateway callback",
            )
            .await?;
            // The commit is what makes the outcome (and its outbox row) real; until it
            // returns, the relay cannot see the message and a crash loses nothing but this
            // callback, which the provider will send again.
            tx.commit().await?;
            // `changed=false` counts the duplicates: a provider retrying its notification shows
            // up here, as a ratio, without any error in the log.
            metrics::counter!("payment_callbacks_total", "changed" => changed.to_string())
                .increment(1);
            // Read after the commit: the answer is the payment as stored now, which for a
            // duplicate callback is the earlier outcome, not what this callback claimed.
            let now = self
                .store
                .get(payment.id)
                .await?
                .ok_or_else(|| Error::Corrupt("payment vanished".into()))?;
            Ok(pb::MockCallbackResponse { payment: Some(to_proto(&now)) })
        };
        finish("callback", result.await)
    }
}

/// Unix milliseconds of a `DATETIME(3)`, which sqlx's MySQL sessions read as UTC.
fn millis(t: &chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// The wire form of a payment. `user_id` stays behind: the payer knows who they are, and
/// nobody else is shown the payment. A settled payment has no job, so its `due_at` is 0.
pub fn to_proto(p: &PaymentRow) -> pb::Payment {
    pb::Payment {
        id: p.id,
        payment_no: p.payment_no.clone(),
        order_id: p.order_id,
        amount: p.amount,
        status: p.status.to_proto() as i32,
        created_at: millis(&p.created_at),
        updated_at: millis(&p.updated_at),
        // 0 for "no job": proto3 has no null, and 0 is no real due time.
        due_at: p.due_at.as_ref().map_or(0, millis),
        reason: p.reason.clone(),
        // The outbox's state, so a client can tell "paid, order told" from "paid, telling".
        order_notified: p.order_notified,
    }
}
