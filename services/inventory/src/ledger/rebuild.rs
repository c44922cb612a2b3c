//! Rebuild: an empty Redis refilled from the MySQL ledger before the service serves.

use chrono::NaiveDateTime;
use sqlx::MySqlPool;

use super::cursor::read_cursor;
use crate::domain::{Counters, OrderId, RequestId};
use crate::error::Error;
use crate::store::{Restore, RestoredReservation, StockStore};

/// Refills Redis from MySQL if Redis holds nothing of this deployment (first start, or
/// Redis lost its data). Returns whether it rebuilt.
///
/// What comes back: every book's counters; open reservations (and their place in the
/// sweeper's queue, by their original lock time); settled reservations, direct sales and
/// restock request ids as idempotency records, so a retry after the rebuild is still a
/// no-op. What cannot come back: changes Redis made but had not yet streamed to MySQL when
/// it died (milliseconds' worth; enable AOF `appendfsync everysec` to bound it to one
/// second). That is the honest limit of "Redis first, ledger after".
///
/// DO run this before serving (the caller does): a request served from a half-filled
/// Redis would see books as unknown. DON'T run it when Redis still has live data — MySQL
/// lags Redis, so overwriting would undo the newest sales. The `books` set, written last,
/// tells the two cases apart.
///
/// Why MySQL can be the source at all: it holds the counters *and* the records that make
/// retries safe (`inventory_reservations`, the log's order and request ids). A ledger that
/// kept only counters would rebuild the numbers and forget which orders were applied, so
/// the first retried sale after a Redis loss would sell twice.
///
/// The rebuilt stream starts after MySQL's cursor (see `StockStore::restore`), so sales
/// made under a Redis clock that is behind still reach the ledger. One limit, open in
/// issue 12: two instances starting at once on an emptied Redis both rebuild, and the
/// slower one can overwrite counters the faster one already sells from (a lock around
/// the rebuild would close it).
pub async fn rebuild_if_empty(store: &StockStore, pool: &MySqlPool) -> Result<bool, Error> {
    // The marker says "this Redis already holds this deployment's data": the common case
    // on every restart, answered with one EXISTS.
    if store.is_ready().await? {
        return Ok(false);
    }
    if store.has_books().await? {
        tracing::warn!("redis has inventory data but no ready marker; keeping it as is");
        store.mark_ready().await?;
        return Ok(false);
    }

    // Four reads, not in one transaction: the syncer cannot be writing (its stream was lost
    // with the rest of Redis, and it starts after this function returns).
    let books: Vec<(u64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT book_id, stock, locked_stock, sold_stock, total_stock FROM inventory",
    )
    .fetch_all(pool)
    .await?;
    let reservations: Vec<(u64, u64, i32, i8, NaiveDateTime)> = sqlx::query_as(
        "SELECT order_id, book_id, quantity, state, locked_at FROM inventory_reservations",
    )
    .fetch_all(pool)
    .await?;
    // Direct sales are found in the log: a decrement that did not draw on locked stock.
    // (They need no table of their own: the log row is the record, and its order id is
    // all the marker needs.)
    let direct: Vec<u64> = sqlx::query_scalar(
        "SELECT DISTINCT order_id FROM inventory_logs \
         WHERE type = 3 AND d_locked = 0 AND order_id IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let requests: Vec<String> =
        sqlx::query_scalar("SELECT request_id FROM inventory_logs WHERE request_id IS NOT NULL")
            .fetch_all(pool)
            .await?;

    // Rows came from our own tables, so their ids parse; `?` guards a hand-edited row, and
    // refuses it before anything is written to Redis.
    let restore = Restore {
        books: books
            .iter()
            .map(|&(book_id, available, locked, sold, total)| Counters {
                book_id,
                available,
                locked,
                sold,
                total,
            })
            .collect(),
        reservations: reservations
            .iter()
            .map(|&(order, book, qty, state, locked_at)| {
                Ok(RestoredReservation {
                    order: OrderId::parse(order)?,
                    book,
                    qty,
                    state,
                    locked_at_ms: locked_at.and_utc().timestamp_millis(),
                })
            })
            .collect::<Result<_, Error>>()?,
        direct: direct.iter().map(|o| OrderId::parse(*o)).collect::<Result<_, _>>()?,
        requests: requests.iter().map(|r| RequestId::parse(r)).collect::<Result<_, _>>()?,
        cursor: read_cursor(pool).await?,
    };
    // Keys come from `store::Keys`, the one definition of the layout the scripts also read.
    store.restore(&restore).await?;
    tracing::info!(
        books = books.len(),
        reservations = reservations.len(),
        "rebuilt redis stock from the mysql ledger"
    );
    Ok(!books.is_empty())
}
