//! The gRPC handlers. Who may do what:
//!
//! | RPC | caller | rule |
//! |---|---|---|
//! | CreatePayment, QueryPayment | the payer (Bearer token) | only for orders order-service says are theirs |
//! | MockCallback | the payment gateway (`x-service-token`) | amounts must match; settled payments stay settled |
//!
//! The amount is checked against order-service's total, never taken on the client's word:
//! a client that could choose the amount could pay 1 cent for any order.

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
pub const LAB_HEADER: &str = "x-lab-payment";

#[derive(Clone)]
pub struct PaymentApi {
    store: Store,
    orders: Orders,
    config: Arc<Config>,
}

/// What the handlers need from the settings.
pub struct Config {
    pub confirm_delay: Duration,
    pub failure_rate: f64,
    pub service_token: Secret,
    pub lab_faults: bool,
}

impl PaymentApi {
    pub fn new(store: Store, orders: Orders, config: Config) -> Self {
        Self { store, orders, config: Arc::new(config) }
    }

    /// The mock gateway's answer for a new payment, decided once, at creation: the lab's
    /// per-payment switch, else the configured failure rate.
    fn will_succeed<T>(&self, request: &Request<T>) -> bool {
        let forced = self.config.lab_faults
            && request.metadata().get(LAB_HEADER).and_then(|v| v.to_str().ok()) == Some("fail");
        !forced && rand::random::<f64>() >= self.config.failure_rate
    }

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
    async fn owned(
        &self,
        token: &str,
        payment: Option<PaymentRow>,
        what: &str,
    ) -> Result<PaymentRow, Error> {
        let not_found = || Error::NotFound(format!("payment {what} not found"));
        let payment = payment.ok_or_else(not_found)?;
        match self.orders.get_for(token, payment.order_id).await {
            Ok(_) => Ok(payment),
            Err(Error::NotFound(_)) => Err(not_found()),
            Err(e) => Err(e),
        }
    }
}

fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    metrics::counter!("payment_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl PaymentService for PaymentApi {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::CreatePaymentResponse>, Status> {
        let token = bearer_token(request.metadata())?;
        let succeed = self.will_succeed(&request);
        let req = request.into_inner();
        let result = async {
            let order_id = domain::parse_id("order_id", req.order_id)?;
            let amount = domain::parse_amount(req.amount)?;
            // The order as order-service has it: owner, total, status, deadline.
            let order = self.orders.get_for(&token, order_id).await?;
            // A retry that arrives after the payment went through (the order is Paid now)
            // answers that payment, like any other retry — not "order not payable".
            if order.status() != OrderStatus::Pending
                && let Some(live) = self.store.find_live(order_id).await?
                && live.amount == amount
            {
                return Ok(pb::CreatePaymentResponse { payment: Some(to_proto(&live)) });
            }
            if order.status() != OrderStatus::Pending {
                return Err(Error::FailedPrecondition(format!(
                    "order {order_id} is {:?}, not payable",
                    order.status()
                )));
            }
            if order.expires_at <= chrono::Utc::now().timestamp_millis() {
                return Err(Error::FailedPrecondition(format!("order {order_id} has expired")));
            }
            if amount != order.total {
                return Err(Error::InvalidArgument(format!(
                    "amount {amount} does not equal the order total {}",
                    order.total
                )));
            }
            let created = self
                .store
                .create(order_id, order.user_id, amount, succeed, self.config.confirm_delay)
                .await?;
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
        let token = bearer_token(request.metadata())?;
        let req = request.into_inner();
        let result = async {
            let payment = if !req.payment_no.is_empty() {
                let found = self.store.by_no(&req.payment_no).await?;
                self.owned(&token, found, &req.payment_no).await?
            } else if req.order_id != 0 {
                // Ownership of the order first: someone else's order id learns nothing.
                self.orders.get_for(&token, req.order_id).await?;
                self.store.latest_for_order(req.order_id).await?.ok_or_else(|| {
                    Error::NotFound(format!("order {} has no payment", req.order_id))
                })?
            } else {
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
        let result = async {
            self.check_service(&request)?;
            let req = request.into_inner();
            let payment =
                self.store.by_no(&req.payment_no).await?.ok_or_else(|| {
                    Error::NotFound(format!("payment {} not found", req.payment_no))
                })?;
            // A callback claiming another amount is not ours to believe: refuse, change nothing.
            if req.amount != payment.amount {
                return Err(Error::InvalidArgument(format!(
                    "callback amount {} does not equal the payment's {}",
                    req.amount, payment.amount
                )));
            }
            let mut tx = self.store.pool().begin().await?;
            let changed = Store::settle_in(
                &mut tx,
                payment.id,
                req.success,
                "declined by the gateway callback",
            )
            .await?;
            tx.commit().await?;
            metrics::counter!("payment_callbacks_total", "changed" => changed.to_string())
                .increment(1);
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

fn millis(t: &chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

pub fn to_proto(p: &PaymentRow) -> pb::Payment {
    pb::Payment {
        id: p.id,
        payment_no: p.payment_no.clone(),
        order_id: p.order_id,
        amount: p.amount,
        status: p.status.to_proto() as i32,
        created_at: millis(&p.created_at),
        updated_at: millis(&p.updated_at),
        due_at: p.due_at.as_ref().map_or(0, millis),
        reason: p.reason.clone(),
        order_notified: p.order_notified,
    }
}
