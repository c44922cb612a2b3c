//! The order routes: the same four steps as [`crate::routes`] (extract, translate, call,
//! answer), plus the one header that orders need — `Idempotency-Key`.
//!
//! | method and path | order-service RPC |
//! |---|---|
//! | `POST /api/v1/orders` (+ `Idempotency-Key`) | CreateOrder → 201, or 200 on a replay |
//! | `GET /api/v1/orders?page=&page_size=&status=` | ListOrders |
//! | `GET /api/v1/orders/{id}` | GetOrder |
//! | `POST /api/v1/orders/{id}/cancel` | CancelOrder |
//!
//! UpdateOrderStatus is not routed: it is payment-service's (and operators') internal call,
//! authorised by a service credential the gateway does not hold and must never forward.
//!
//! The token is forwarded, not checked here: order-service validates it itself (it must,
//! since it cannot know every caller came through the gateway), and a check here too would
//! cost every order one more round trip to user-service for nothing.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bookstore_proto::order::{
    self as pb, CancelOrderRequest, CreateOrderItem, CreateOrderRequest, GetOrderRequest,
    ListOrdersRequest,
};
use serde::{Deserialize, Serialize};

use crate::{error::ApiError, upstream::Upstreams};

type ApiResult<T> = Result<T, ApiError>;

/// `POST /api/v1/orders` body: `{"items": [{"book_id": 1, "quantity": 2}]}`. No price field:
/// a price sent by the client would be ignored at best and trusted at worst.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub items: Vec<ItemBody>,
}

#[derive(Debug, Deserialize)]
pub struct ItemBody {
    pub book_id: u64,
    pub quantity: i32,
}

/// `POST /api/v1/orders/{id}/cancel` body, optional: `{"reason": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub struct CancelBody {
    #[serde(default)]
    pub reason: String,
}

/// `GET /api/v1/orders` query: `page`, `page_size`, `status` (`pending`, `paid`, …).
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    pub page: u32,
    #[serde(default)]
    pub page_size: u32,
    #[serde(default)]
    pub status: Option<String>,
}

/// An order as JSON: money in cents, times in Unix milliseconds, the status as a word.
#[derive(Debug, Serialize)]
pub struct OrderJson {
    pub id: u64,
    pub order_no: String,
    pub user_id: u64,
    pub total: i64,
    pub status: &'static str,
    pub items: Vec<OrderItemJson>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cancel_reason: String,
}

#[derive(Debug, Serialize)]
pub struct OrderItemJson {
    pub book_id: u64,
    pub title: String,
    pub quantity: i32,
    pub price: i64,
}

/// The word for each status, and back: the JSON speaks words, the proto numbers.
const STATUS_WORDS: [(pb::OrderStatus, &str); 5] = [
    (pb::OrderStatus::Pending, "pending"),
    (pb::OrderStatus::Paid, "paid"),
    (pb::OrderStatus::Shipped, "shipped"),
    (pb::OrderStatus::Completed, "completed"),
    (pb::OrderStatus::Cancelled, "cancelled"),
];

fn status_word(s: pb::OrderStatus) -> &'static str {
    STATUS_WORDS.iter().find(|(v, _)| *v == s).map_or("unknown", |(_, w)| w)
}

impl From<pb::Order> for OrderJson {
    fn from(o: pb::Order) -> Self {
        Self {
            status: status_word(o.status()),
            id: o.id,
            order_no: o.order_no,
            user_id: o.user_id,
            total: o.total,
            items: o
                .items
                .into_iter()
                .map(|i| OrderItemJson {
                    book_id: i.book_id,
                    title: i.title,
                    quantity: i.quantity,
                    price: i.price,
                })
                .collect(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            expires_at: o.expires_at,
            cancel_reason: o.cancel_reason,
        }
    }
}

/// A gRPC request to order-service carrying the deadline and the caller's own token.
pub(crate) fn authed<T>(
    up: &Upstreams,
    headers: &HeaderMap,
    message: T,
) -> ApiResult<tonic::Request<T>> {
    let token = crate::routes::bearer(headers)?;
    let mut req = up.request(message);
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ApiError::unauthenticated("token is not valid header text"))?;
    req.metadata_mut().insert("authorization", value);
    Ok(req)
}

fn order_id(id: Result<Path<u64>, PathRejection>) -> ApiResult<u64> {
    id.map(|Path(id)| id).map_err(|_| ApiError::bad_request("order id must be a positive integer"))
}

/// `POST /api/v1/orders` → 201 `{"order": …}`; a replay of an `Idempotency-Key` → 200 with
/// the same order and `Idempotent-Replayed: true` (the convention Stripe's API made common),
/// so a client can tell "created now" from "you asked before".
///
/// The key travels in a header, not in the body: it is about the request, not the order,
/// and a client library can add it to any POST without knowing the body's shape.
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> ApiResult<Response> {
    let key = match headers.get("idempotency-key") {
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))?
            .to_string(),
        None => String::new(),
    };
    // Token before body, as for publishing: an anonymous caller learns nothing about shapes.
    crate::routes::bearer(&headers)?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let items = b
        .items
        .into_iter()
        .map(|i| CreateOrderItem { book_id: i.book_id, quantity: i.quantity })
        .collect();
    let req = authed(&up, &headers, CreateOrderRequest { items, idempotency_key: key })?;
    let r = up.call("order-service", up.orders.clone().create_order(req)).await?;
    let status = if r.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let mut response = (
        status,
        Json(serde_json::json!({ "order": r.order.map(OrderJson::from), "replayed": r.replayed })),
    )
        .into_response();
    if r.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `GET /api/v1/orders` → 200 `{"orders": […], "total": n, "page": p, "page_size": s}`.
/// An unknown `status` word is a 400 here, rather than being sent on as "every status".
pub async fn list(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let status = match p.status.as_deref() {
        None | Some("") => pb::OrderStatus::Unspecified,
        Some(w) => {
            STATUS_WORDS.iter().find(|(_, word)| *word == w).map(|(s, _)| *s).ok_or_else(|| {
                ApiError::bad_request(
                    "status must be one of pending, paid, shipped, completed, cancelled",
                )
            })?
        }
    };
    let (page, page_size) =
        (p.page.max(1), if p.page_size == 0 { 20 } else { p.page_size.min(100) });
    let req = authed(&up, &headers, ListOrdersRequest { page, page_size, status: status as i32 })?;
    let r = up.call("order-service", up.orders.clone().list_orders(req)).await?;
    let orders: Vec<OrderJson> = r.orders.into_iter().map(OrderJson::from).collect();
    Ok(Json(
        serde_json::json!({ "orders": orders, "total": r.total, "page": page, "page_size": page_size }),
    ))
}

/// `GET /api/v1/orders/{id}` → 200 `{"order": …}`; someone else's order is 404, like a missing one.
pub async fn get(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let order_id = order_id(id)?;
    let req = authed(&up, &headers, GetOrderRequest { order_id })?;
    let r = up.call("order-service", up.orders.clone().get_order(req)).await?;
    Ok(Json(serde_json::json!({ "order": r.order.map(OrderJson::from) })))
}

/// `POST /api/v1/orders/{id}/cancel` → 200 `{"order": …}`; a shipped order is 409.
/// The body is optional: an empty POST cancels with the default reason.
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    body: Option<Json<CancelBody>>,
) -> ApiResult<Json<serde_json::Value>> {
    let order_id = order_id(id)?;
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    let req = authed(&up, &headers, CancelOrderRequest { order_id, reason })?;
    let r = up.call("order-service", up.orders.clone().cancel_order(req)).await?;
    Ok(Json(serde_json::json!({ "order": r.order.map(OrderJson::from) })))
}
