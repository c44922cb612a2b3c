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

type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Deserialize)]
pub struct PayBody {
    /// The order total in cents, as the client saw it; payment-service checks it against
    /// the order, so a wrong amount is a 400, never a discount.
    pub amount: i64,
}

#[derive(Debug, Deserialize)]
pub struct CallbackBody {
    pub success: bool,
    pub amount: i64,
}

/// A payment as JSON: cents, Unix milliseconds, the status as a word.
#[derive(Debug, Serialize)]
pub struct PaymentJson {
    pub id: u64,
    pub payment_no: String,
    pub order_id: u64,
    pub amount: i64,
    pub status: &'static str,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub due_at: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub order_notified: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl From<pb::Payment> for PaymentJson {
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

fn payment_json(p: Option<pb::Payment>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "payment": p.map(PaymentJson::from) }))
}

/// `POST /api/v1/orders/{id}/payments` → 201 `{"payment": …}` (200 with the same payment
/// when the order already has a live one: paying twice never charges twice).
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    id: Result<Path<u64>, axum::extract::rejection::PathRejection>,
    body: Result<Json<PayBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Path(order_id) =
        id.map_err(|_| ApiError::bad_request("order id must be a positive integer"))?;
    crate::routes::bearer(&headers)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req =
        crate::orders::authed(&up, &headers, CreatePaymentRequest { order_id, amount: b.amount })?;
    let r = up.call("payment-service", up.payments.clone().create_payment(req)).await?;
    Ok((StatusCode::CREATED, payment_json(r.payment)))
}

/// `GET /api/v1/payments/{payment_no}` → 200 `{"payment": …}`; someone else's is 404.
pub async fn get(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(payment_no): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let req =
        crate::orders::authed(&up, &headers, QueryPaymentRequest { payment_no, order_id: 0 })?;
    let r = up.call("payment-service", up.payments.clone().query_payment(req)).await?;
    Ok(payment_json(r.payment))
}

/// `POST /api/v1/payments/{payment_no}/mock-callback` (lab only) → 200 `{"payment": …}`.
/// The gateway adds the service credential the callback needs; no user token is involved,
/// as none would be when a real provider calls.
pub async fn mock_callback(
    State(up): State<Upstreams>,
    Path(payment_no): Path<String>,
    body: Result<Json<CallbackBody>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut req =
        up.request(MockCallbackRequest { payment_no, success: b.success, amount: b.amount });
    let token = up
        .service_token
        .expose()
        .parse()
        .map_err(|_| ApiError::bad_request("service token is not valid header text"))?;
    req.metadata_mut().insert(bookstore_platform::auth::SERVICE_TOKEN_HEADER, token);
    let r = up.call("payment-service", up.payments.clone().mock_callback(req)).await?;
    Ok(payment_json(r.payment))
}
