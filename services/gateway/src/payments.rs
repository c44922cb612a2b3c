//! The payment routes, with the same four steps as [`crate::routes`].
//!
//! | method and path | payment-service RPC |
//! |---|---|
//! | `POST /api/v1/orders/{id}/payments` `{"amount": cents}` | CreatePayment → 201 |
//! | `GET /api/v1/payments/{payment_no}` | QueryPayment |
//! | `POST /api/v1/payments/{payment_no}/mock-callback` `{"success": true, "amount": cents}` | MockCallback (lab only) |
//!
//! The mock-callback route stands in for the payment provider's server calling us. It is
//! routed only when `lab_routes` is on (the lab's supervisor turns it on): in production
//! the provider calls payment-service directly with a signed request, and a public route
//! that lets anyone declare a payment successful would be a way to shop for free.
//!
//! What a client does after `POST …/payments`: it polls `GET /api/v1/payments/{no}` until
//! the status leaves `pending` (the mock gateway answers after `confirm_delay_ms`) and
//! `order_notified` is true — then the order is Paid. ❌ DON'T treat the 201 as "paid": it
//! only says the payment exists; the money moves later, as with any real provider.

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode},
};
use bookstore_proto::payment::{
    self as pb, CreatePaymentRequest, MockCallbackRequest, QueryPaymentRequest,
};
use serde::{Deserialize, Serialize};

use crate::{error::ApiError, upstream::Upstreams};

/// As in [`crate::routes`]: `?` turns any error into the JSON error response.
type ApiResult<T> = Result<T, ApiError>;

/// `POST /api/v1/orders/{id}/payments` body: `{"amount": cents}`.
#[derive(Debug, Deserialize)]
pub struct PayBody {
    /// The order total in cents, as the client saw it; payment-service checks it against
    /// the order, so a wrong amount is a 400, never a discount.
    pub amount: i64,
}

/// The lab's stand-in for a provider's notification: `{"success": bool, "amount": cents}`.
#[derive(Debug, Deserialize)]
pub struct CallbackBody {
    /// `false` declines the payment; a payment already settled stays as it is.
    pub success: bool,
    /// Must equal the payment's amount, as a real provider's signed amount would.
    pub amount: i64,
}

/// A payment as JSON: cents, Unix milliseconds, the status as a word.
#[derive(Debug, Serialize)]
pub struct PaymentJson {
    /// payment-service's row id; the routes take `payment_no`, so this is for logs only.
    pub id: u64,
    /// `PAY` + the day + the id: what a receipt shows and `GET /payments/{no}` takes.
    pub payment_no: String,
    /// The order this pays; the path of the route that created it.
    pub order_id: u64,
    /// Cents; always the order's total (anything else was refused at creation).
    pub amount: i64,
    /// `pending`, `success`, `failed` or `refunded`.
    pub status: &'static str,
    /// Unix milliseconds, like every time in this API.
    pub created_at: i64,
    /// Moves when the payment settles: for a `success`, `updated_at - created_at` is the
    /// provider's delay (with the lab's mock gateway, `confirm_delay_ms` plus one poll).
    pub updated_at: i64,
    /// When the mock gateway will answer a Pending payment; absent (0) once it is settled.
    #[serde(skip_serializing_if = "is_zero")]
    pub due_at: i64,
    /// Why a payment failed or was refunded; absent otherwise.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Whether the outbox row that tells order-service about this payment was delivered.
    /// A `success` with `false` here is normal for a moment: the relay has not run yet.
    pub order_notified: bool,
}

/// `skip_serializing_if` for [`PaymentJson::due_at`].
fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl From<pb::Payment> for PaymentJson {
    /// The status becomes a word (`pending`, `success`, …), as for orders; an unset status
    /// is `unknown` rather than a failed response.
    fn from(p: pb::Payment) -> Self {
        let status = match p.status() {
            pb::PaymentStatus::Pending => "pending",
            pb::PaymentStatus::Success => "success",
            pb::PaymentStatus::Failed => "failed",
            pb::PaymentStatus::Refunded => "refunded",
            pb::PaymentStatus::Unspecified => "unknown",
        };
        Self {
            id: p.id,
            payment_no: p.payment_no,
            order_id: p.order_id,
            amount: p.amount,
            status,
            created_at: p.created_at,
            updated_at: p.updated_at,
            due_at: p.due_at,
            reason: p.reason,
            order_notified: p.order_notified,
        }
    }
}

/// The one response shape of every payment route: `{"payment": …}`.
fn payment_json(p: Option<pb::Payment>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "payment": p.map(PaymentJson::from) }))
}

/// `POST /api/v1/orders/{id}/payments` → 201 `{"payment": …}`; when the order already has
/// a live payment, the same payment comes back: paying twice never charges twice.
///
/// Always 201, also for that repeat: CreatePaymentResponse carries no "replayed" flag (as
/// CreateOrder's does), so the gateway cannot tell the two apart and does not pretend to.
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    body: Result<Json<PayBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    // The order id is in the path (`/orders/{id}/payments`): a payment is a thing an
    // order has, so the URL says whose it is, and the body carries only the amount.
    let Path(order_id) =
        id.map_err(|_| ApiError::bad_request("order id must be a positive integer"))?;
    // Token before body, as everywhere: an anonymous caller learns nothing about shapes.
    crate::routes::bearer(&headers)?;
    let Json(b) = body.map_err(ApiError::from_json)?;
    let req =
        crate::routes::authed(&up, &headers, CreatePaymentRequest { order_id, amount: b.amount })?;
    // payment-service asks order-service for the order with the same token: ownership,
    // total and deadline are checked there, not here.
    let r = up.call("payment-service", up.payments.clone().create_payment(req)).await?;
    Ok((StatusCode::CREATED, payment_json(r.payment)))
}

/// `GET /api/v1/payments/{payment_no}` → 200 `{"payment": …}`; someone else's is 404.
///
/// The route a client polls while a payment is pending: cheap (one indexed read in
/// payment_db, one GetOrder for the owner check), so polling every few hundred
/// milliseconds is fine.
pub async fn get(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(payment_no): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    // By payment number only (`order_id: 0`); payment-service asks order-service whether
    // the payment's order is the caller's, and answers 404 if not.
    let req =
        crate::routes::authed(&up, &headers, QueryPaymentRequest { payment_no, order_id: 0 })?;
    let r = up.call("payment-service", up.payments.clone().query_payment(req)).await?;
    Ok(payment_json(r.payment))
}

/// `POST /api/v1/payments/{payment_no}/mock-callback` (lab only) → 200 `{"payment": …}`.
/// The gateway adds the service credential the callback needs; no user token is involved,
/// as none would be when a real provider calls.
///
/// Safe to repeat, as real providers do (they retry a notification until acknowledged):
/// payment-service settles a payment once, and a later callback returns the payment as it
/// already is, whatever `success` it claims.
pub async fn mock_callback(
    State(up): State<Upstreams>,
    Path(payment_no): Path<String>,
    body: Result<Json<CallbackBody>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    // No Bearer check: this route stands in for a provider, which has no user token. Its
    // protection is that it exists only in the lab (`lab_routes`).
    let Json(b) = body.map_err(ApiError::from_json)?;
    // With the gateway's deadline, like every upstream call.
    let mut req =
        up.request(MockCallbackRequest { payment_no, success: b.success, amount: b.amount });
    // The credential comes from the gateway's settings, never from the request: a caller
    // cannot smuggle an `x-service-token` through, because no header of theirs is forwarded.
    let token = up
        .service_token
        .expose()
        .parse()
        .map_err(|_| ApiError::bad_request("service token is not valid header text"))?;
    req.metadata_mut().insert(bookstore_platform::auth::SERVICE_TOKEN_HEADER, token);
    // A refused callback (wrong amount, unknown payment) comes back as 400 / 404 like any
    // other upstream answer; the lab shows it as the provider would see it.
    let r = up.call("payment-service", up.payments.clone().mock_callback(req)).await?;
    Ok(payment_json(r.payment))
}
