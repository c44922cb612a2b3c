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
//!
//! ## The `Idempotency-Key` contract, as a client sees it
//!
//! | the client sends | the gateway answers |
//! |---|---|
//! | a new key | 201, the new order |
//! | the same key and basket again (a retry after a timeout, a double click) | 200, the same order, `Idempotent-Replayed: true` |
//! | the same key with another basket | 400 INVALID_ARGUMENT: a key names one request |
//! | the same key while the first request is still running | the same order (both requests answer it, whichever committed), or 409 ABORTED: retry |
//! | no key | 201, a new order every time |
//!
//! ✅ DO generate one key per checkout attempt (a UUID) and send it with every retry of
//! that attempt. ❌ DON'T derive it from the basket ("3 of book 7"): a shopper who buys the
//! same thing twice on purpose would get the first order back instead of a second one.

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

/// As in [`crate::routes`]: `?` turns any error into the JSON error response.
type ApiResult<T> = Result<T, ApiError>;

/// `POST /api/v1/orders` body: `{"items": [{"book_id": 1, "quantity": 2}]}`. No price field:
/// a price sent by the client would be ignored at best and trusted at worst.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    /// Required: a body without `items` is a 400 from the JSON extractor; an empty list
    /// reaches order-service and is refused there ("an order needs at least one item").
    pub items: Vec<ItemBody>,
}

/// One line of a new order. `quantity` is `i32` like the proto field: `-3` reaches
/// order-service, whose 400 ("quantity of book 7 must be 1..=…") says more than serde's
/// "expected u32" would — and the rule stays in the one place that enforces it.
#[derive(Debug, Deserialize)]
pub struct ItemBody {
    pub book_id: u64,
    pub quantity: i32,
}

/// `POST /api/v1/orders/{id}/cancel` body, optional: `{"reason": "…"}`.
#[derive(Debug, Default, Deserialize)]
pub struct CancelBody {
    /// Up to 200 characters (order-service refuses longer); empty means its default.
    #[serde(default)]
    pub reason: String,
}

/// `GET /api/v1/orders` query: `page`, `page_size`, `status` (`pending`, `paid`, …).
///
/// Each field defaults when absent, so `GET /api/v1/orders` alone is the first page of
/// every status; a value of the wrong type (`page=two`) is a 400 from the extractor.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// 1-based; 0 or absent means 1.
    #[serde(default)]
    pub page: u32,
    /// 0 or absent means 20; more than 100 is capped at 100.
    #[serde(default)]
    pub page_size: u32,
    /// One of the words in `STATUS_WORDS`; absent or empty means every status.
    #[serde(default)]
    pub status: Option<String>,
}

/// An order as JSON: money in cents, times in Unix milliseconds, the status as a word.
#[derive(Debug, Serialize)]
pub struct OrderJson {
    /// The id for the routes (`/api/v1/orders/{id}`).
    pub id: u64,
    /// The human-facing number for receipts and support calls; never used to look up.
    pub order_no: String,
    /// The owner, taken from the token at creation; on these routes always the caller's own
    /// id, since another shopper's order answers 404.
    pub user_id: u64,
    /// Sum of the lines at the prices snapshotted when the order was created, in cents:
    /// the amount a payment must equal, whatever the catalogue says today.
    pub total: i64,
    /// A word from `STATUS_WORDS`, or `unknown` from an order-service newer than this gateway.
    pub status: &'static str,
    pub items: Vec<OrderItemJson>,
    /// Unix milliseconds, as the proto carries them: the client formats them in its own
    /// time zone, so the API never has to guess one.
    pub created_at: i64,
    /// Moves on every status change (paid, cancelled, …): when the order last changed.
    pub updated_at: i64,
    /// When a Pending order stops being payable and its stock is released, so a client
    /// can show a countdown instead of discovering the expiry at payment.
    pub expires_at: i64,
    /// Left out of the JSON when empty: only cancelled orders carry a reason.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cancel_reason: String,
}

/// One line of an order. `title` and `price` are the snapshot taken at creation: a book
/// renamed or repriced later does not change an order already placed.
#[derive(Debug, Serialize)]
pub struct OrderItemJson {
    pub book_id: u64,
    pub title: String,
    pub quantity: i32,
    /// Unit price in cents, as snapshotted.
    pub price: i64,
}

/// The word for each status, and back: the JSON speaks words, the proto numbers.
///
/// One table serves both directions (answers and the `status=` filter), so a status
/// cannot be added to one direction and forgotten in the other. `Unspecified` is not in
/// it: no order has that status, and as a filter it is spelt "no `status` at all".
const STATUS_WORDS: [(pb::OrderStatus, &str); 5] = [
    (pb::OrderStatus::Pending, "pending"),
    (pb::OrderStatus::Paid, "paid"),
    (pb::OrderStatus::Shipped, "shipped"),
    (pb::OrderStatus::Completed, "completed"),
    (pb::OrderStatus::Cancelled, "cancelled"),
];

/// `"unknown"` for a status this gateway does not know — an order-service newer than the
/// gateway — rather than failing the whole response over one field.
fn status_word(s: pb::OrderStatus) -> &'static str {
    STATUS_WORDS.iter().find(|(v, _)| *v == s).map_or("unknown", |(_, w)| w)
}

impl From<pb::Order> for OrderJson {
    /// Field for field, with the status as a word; a field added to the proto stays out
    /// of the JSON until someone decides to expose it.
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

/// The `{id}` path segment as a number. Only the *shape* is checked here (`abc`, `-1` and
/// `1.5` are 400): `0` passes, and order-service answers it 404 like any id the caller does
/// not own — the gateway keeps no rule about which ids exist.
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
    // No header means no key: order-service then creates a new order on every POST, which
    // is the caller's choice. A client that retries on timeouts must send one, or a lost
    // reply turns into a second order (and a second lock on the stock).
    let key = match headers.get("idempotency-key") {
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))?
            .to_string(),
        None => String::new(),
    };
    // Keys are scoped per shopper by order-service (`UNIQUE (user_id, idempotency_key)`):
    // two shoppers who both send `cart-1` never collide, so a client may use simple keys.
    // Token before body, as for publishing: an anonymous caller learns nothing about shapes.
    // (Parsed only; `authed` below parses it again for the request — a few microseconds
    // for keeping the order of checks visible here.)
    crate::routes::bearer(&headers)?;
    let Json(b) = body.map_err(ApiError::from_json)?;
    // Passed through as the client sent them — duplicates, zeros and all: order-service's
    // `Lines::parse` is the one place that decides what a valid basket is.
    let items = b
        .items
        .into_iter()
        .map(|i| CreateOrderItem { book_id: i.book_id, quantity: i.quantity })
        .collect();
    let req =
        crate::routes::authed(&up, &headers, CreateOrderRequest { items, idempotency_key: key })?;
    // One call; order-service does the rest (token, prices, stock lock, commit). The
    // gateway's 3 s travel with it as `grpc-timeout`, and CreateOrder makes up to three
    // peer calls of its own, so a slow peer can outlast it: the client gets 504 while
    // tonic drops the handler mid-way, perhaps after LockStock. That is one of the windows
    // order-service's intent row and sweeper exist for (the lock is released or the order
    // committed, never half of it). A 504 therefore means "outcome unknown", and the retry
    // with the same `Idempotency-Key` is what resolves it: it answers the committed order,
    // or creates it now.
    let r = up.call("order-service", up.orders.clone().create_order(req)).await?;
    // Said twice on purpose: the header for proxies, SDKs and logs that never parse bodies,
    // the `replayed` field for clients that only read JSON. Both come from order-service's
    // own flag; the gateway does not guess from timing or from the order's age.
    let status = if r.replayed { StatusCode::OK } else { StatusCode::CREATED };
    let mut response = (
        status,
        Json(serde_json::json!({ "order": r.order.map(OrderJson::from), "replayed": r.replayed })),
    )
        .into_response();
    // Only on a replay: the header's absence means "created now", so a client needs no
    // second spelling for false.
    if r.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `GET /api/v1/orders` → 200 `{"orders": […], "total": n, "page": p, "page_size": s}`.
/// An unknown `status` word is a 400 here, rather than being sent on as "every status".
///
/// Only the caller's orders: the token decides whose, there is no `user_id` parameter to
/// forge. Newest first, as order-service sorts them.
pub async fn list(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    // A malformed query string (`page=two`) is a 400 here, before the token is even read.
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    // The word → enum direction of `STATUS_WORDS`; empty counts as absent, so a form that
    // submits `status=` with nothing selected lists every status.
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
    // The same default and cap order-service applies, computed here too because the JSON
    // echoes `page` and `page_size` and ListOrders' reply does not carry them back.
    let (page, page_size) =
        (p.page.max(1), if p.page_size == 0 { 20 } else { p.page_size.min(100) });
    let req = crate::routes::authed(
        &up,
        &headers,
        ListOrdersRequest { page, page_size, status: status as i32 },
    )?;
    // `total` is the caller's orders of that status, for page numbers; `orders` one page.
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
    // 404 rather than 403 for another shopper's order is order-service's decision: a 403
    // would confirm that the id exists, and order ids are sequential.
    let req = crate::routes::authed(&up, &headers, GetOrderRequest { order_id })?;
    // The order as stored, with the price snapshot and the expiry: the gateway adds nothing.
    let r = up.call("order-service", up.orders.clone().get_order(req)).await?;
    Ok(Json(serde_json::json!({ "order": r.order.map(OrderJson::from) })))
}

/// `POST /api/v1/orders/{id}/cancel` → 200 `{"order": …}`; a shipped order is 409.
/// The body is optional: an empty POST cancels with the default reason.
///
/// POST, not DELETE: the order is not removed, it moves to Cancelled and stays readable
/// (with its reason) — a state transition, which order-service makes conditionally, so a
/// cancel racing a payment cannot both win.
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    body: Option<Json<CancelBody>>,
) -> ApiResult<Json<serde_json::Value>> {
    let order_id = order_id(id)?;
    // `Option<Json<…>>`: an absent or unreadable body is simply "no reason"; a cancel must
    // not fail over the one field that does not matter.
    let reason = body.map(|Json(b)| b.reason).unwrap_or_default();
    let req = crate::routes::authed(&up, &headers, CancelOrderRequest { order_id, reason })?;
    // The answer is the order after the move: Cancelled, with the reason, its stock already
    // released or returned (or owed and settled by the sweeper if inventory was down).
    let r = up.call("order-service", up.orders.clone().cancel_order(req)).await?;
    Ok(Json(serde_json::json!({ "order": r.order.map(OrderJson::from) })))
}
