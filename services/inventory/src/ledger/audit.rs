//! The audit log: a book's `inventory_logs` rows, newest first (GetStockLog).

use chrono::NaiveDateTime;
use sqlx::MySqlPool;

use crate::error::Error;

/// One row of `inventory_logs`, as GetStockLog shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogRow {
    pub id: u64,
    pub book_id: u64,
    /// Signed: negative when units leave (lock, sale), positive when they come back.
    pub quantity: i32,
    /// The course's type code (1 lock, 2 release, 3 decrement, 4 increment). The column is
    /// named `type` as in the course's schema; `kind` here only because `type` is reserved.
    #[sqlx(rename = "type")]
    pub kind: i8,
    /// NULL for restocks, which belong to no order.
    pub order_id: Option<u64>,
    pub remark: Option<String>,
    /// When the script ran (Redis's clock), not when the syncer wrote the row.
    pub created_at: NaiveDateTime,
}

/// A page of a book's log, newest first, and the total number of rows.
///
/// The log is append-only: the syncer inserts, nothing updates or deletes. That is what
/// makes it an audit trail — every unit that moved has a row saying when, which order and
/// why (the remark) — and what lets Reconcile rewind MySQL's counters by summing deltas.
///
/// The log is written by the syncer, so a change made a few milliseconds ago may not be
/// on the first page yet: the audit trail is eventually consistent, the stock is not.
pub async fn stock_log(
    pool: &MySqlPool,
    book_id: u64,
    page: u32,
    size: u32,
) -> Result<(Vec<LogRow>, u64), Error> {
    // Page 1 is the first page (the proto's convention); the caller already capped `size`.
    // `ORDER BY id DESC` uses the (book_id, id) index: the newest rows of one book without a
    // sort. The syncer inserts in stream order, so id order is change order.
    // In u64: `page` is any u32 the caller sends, and page × size overflows a u32 from page
    // 43 million on (at size 100); the far page simply comes back empty.
    let offset = u64::from(page.saturating_sub(1)) * u64::from(size);
    let rows = sqlx::query_as::<_, LogRow>(
        "SELECT id, book_id, quantity, type, order_id, remark, created_at FROM inventory_logs \
         WHERE book_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
    )
    .bind(book_id)
    .bind(size)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    // Two reads on the pool, not one transaction: a batch the syncer commits between them
    // can make `total` count a row the page does not show — harmless for a screen that pages
    // on, and the next read shows it.
    // COUNT(*) walks the book's index range: cheap for one book's log, which is why the
    // proto promises a total per book and not for the whole table.
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inventory_logs WHERE book_id = ?")
        .bind(book_id)
        .fetch_one(pool)
        .await?;
    Ok((rows, total as u64))
}
