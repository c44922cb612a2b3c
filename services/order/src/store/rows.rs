//! The shapes of order_db's rows and the one place that maps a MySQL row onto them.

use chrono::NaiveDateTime;
use sqlx::{Row, mysql::MySqlRow};

use crate::{
    Error,
    domain::{Status, StockAction},
};

/// One order with its lines, as stored.
#[derive(Clone, Debug)]
pub struct OrderRow {
    /// The intent's id, kept: the order id is reserved before LockStock, so inventory's
    /// lock and the order carry the same key from the start.
    pub id: u64,
    /// `BK` + day + id, for receipts (see [`crate::domain::order_no`]).
    pub order_no: String,
    /// The owner: every shopper-facing read is filtered by it (`api::owned`), so an order id
    /// guessed from a receipt shows nobody else's order.
    pub user_id: u64,
    /// Cents: the lines' snapshotted prices × quantities, fixed at creation.
    pub total: i64,
    /// Changed only by conditional UPDATEs — [`Store::transition`](super::Store::transition)
    /// and the sweeper's expiry — each guarded by the status it read.
    pub status: Status,
    /// The canonical basket (`"7x2,42x1"`) the idempotency key is bound to. Kept on the
    /// order, not only on the intent: the intent is gone once the order commits, and a
    /// replay days later must still be compared with what the key first asked for.
    pub request_body: String,
    /// Why it was cancelled (`expired`, the shopper's text); empty otherwise.
    pub cancel_reason: String,
    /// Stock work inventory still owes an acknowledgement for (see [`StockAction`]).
    pub stock_action: StockAction,
    pub created_at: NaiveDateTime,
    /// Changed by every transition; the sweeper's grace period reads it.
    pub updated_at: NaiveDateTime,
    /// The end of the payment window; meaningful while Pending.
    pub expires_at: NaiveDateTime,
    /// Filled by a second query (`with_items` / `attach_items`), empty straight from a row.
    pub items: Vec<ItemRow>,
}

/// One line: the snapshot of title and unit price taken at creation.
#[derive(Clone, Debug)]
pub struct ItemRow {
    pub book_id: u64,
    /// The catalogue's title when the order was created: receipts and order history read
    /// right even after the book is renamed or withdrawn.
    pub title: String,
    /// 1 ..= `domain::MAX_QUANTITY`, checked by `Lines` before anything is written;
    /// signed because the column is a MySQL `INT`, and a negative one never gets this far.
    pub quantity: i32,
    /// Unit price in cents at creation: what the customer agreed to pay.
    pub price: i64,
}

/// The new order's fields, for [`Store::commit_order`](super::Store::commit_order): everything decided before the
/// commit, so the transaction itself makes no decision and calls nobody.
pub struct NewOrder<'a> {
    /// The intent's id from [`Store::claim`](super::Store::claim): inventory's lock already
    /// carries it, so the order must be inserted under exactly this id.
    pub id: u64,
    pub order_no: &'a str,
    pub user_id: u64,
    /// Computed by `domain::order_total` from the snapshotted prices, never taken from the
    /// client: a request cannot name its own price.
    pub total: i64,
    /// The idempotency key, or `None` (stored as NULL: the unique index ignores NULLs, so
    /// any number of key-less orders coexist).
    pub key: Option<&'a str>,
    pub request_body: &'a str,
    /// Seconds from the commit (MySQL's clock) to `expires_at`.
    pub expires_in_secs: u64,
    pub items: &'a [ItemRow],
}

/// The columns [`order_from_row`] reads, named once for every `SELECT` of an order.
pub(super) const COLS: &str = "id, order_no, user_id, total, status, request_body, cancel_reason, \
                    stock_action, created_at, updated_at, expires_at";

/// A row of [`COLS`] as an [`OrderRow`] without lines; unknown status or action numbers
/// are `Corrupt`, never a guess.
pub(super) fn order_from_row(r: &MySqlRow) -> Result<OrderRow, Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        order_no: r.try_get("order_no")?,
        user_id: r.try_get("user_id")?,
        total: r.try_get("total")?,
        status: Status::from_db(r.try_get("status")?)?,
        request_body: r.try_get("request_body")?,
        cancel_reason: r.try_get("cancel_reason")?,
        stock_action: StockAction::from_db(r.try_get("stock_action")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        expires_at: r.try_get("expires_at")?,
        items: Vec::new(),
    })
}

/// One `order_items` row; the same columns for `with_items` and `attach_items`.
pub(super) fn item_from_row(r: &MySqlRow) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        book_id: r.try_get("book_id")?,
        title: r.try_get("title")?,
        quantity: r.try_get("quantity")?,
        price: r.try_get("price")?,
    })
}
