//! Rebuild: an empty Redis refilled from the MySQL ledger before the service serves.

use chrono::NaiveDateTime;
use redis::AsyncCommands;
use sqlx::MySqlPool;

use crate::domain::{BookId, OrderId, RequestId};
use crate::error::Error;
use crate::store::StockStore;

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
pub async fn rebuild_if_empty(store: &StockStore, pool: &MySqlPool) -> Result<bool, Error> {
    let keys = store.keys();
    let mut conn = store.redis();
    // The marker says "this Redis already holds this deployment's data": the common case
    // on every restart, answered with one EXISTS.
    if conn.exists(keys.ready()).await? {
        return Ok(false);
    }
    if conn.exists(keys.books()).await? {
        tracing::warn!("redis has inventory data but no ready marker; keeping it as is");
        let _: () = conn.set(keys.ready(), 1).await?;
        return Ok(false);
    }

    // Three reads, not in one transaction: the syncer cannot be writing (its stream was lost
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

    // Chunks keep each pipeline small; a crash part-way is harmless because every write
    // is an overwrite with the same values, and the `books` set comes last. Keys come
    // from `store::Keys`, the one definition of the layout the scripts also read.
    // (Rows came from our own tables, so their ids parse; `?` guards a hand-edited row.)
    let mut pipe = redis::pipe();
    for (book, a, l, s, t) in &books {
        let fields = [("avail", *a), ("locked", *l), ("sold", *s), ("total", *t)];
        pipe.hset_multiple(keys.stock(BookId::parse(*book)?), &fields).ignore();
    }
    for (i, (order, book, qty, state, locked_at)) in reservations.iter().enumerate() {
        // A reservation needs its record (items, state, lock time) and, if still open, its
        // place in the sweeper's queue — with the original lock time, so a rebuild does not
        // grant anyone a fresh 15 minutes.
        let key = keys.order(OrderId::parse(*order)?);
        let at = locked_at.and_utc().timestamp_millis();
        let state_name = ["locked", "released", "confirmed"][(*state as usize).clamp(1, 3) - 1];
        pipe.hset(&key, format!("b{book}"), *qty).ignore();
        pipe.hset_multiple(&key, &[("state", state_name), ("at", &at.to_string())]).ignore();
        if *state == 1 {
            pipe.zadd(keys.pending(), *order, at).ignore();
        }
        // Flush every 5,000 reservations: one giant pipeline would hold the whole
        // rebuild in memory twice (ours and Redis's input buffer).
        if i % 5_000 == 4_999 {
            let _: () = pipe.query_async(&mut conn).await?;
            pipe = redis::pipe();
        }
    }
    // A direct sale only needs its marker back.
    for order in &direct {
        pipe.set(keys.direct(OrderId::parse(*order)?), 1).ignore();
    }
    for request in &requests {
        pipe.set(keys.incr(&RequestId::parse(request)?), 1).ignore();
    }
    let _: () = pipe.query_async(&mut conn).await?;

    // The final, atomic step: the set of books and the ready marker. Until it runs, a
    // restarted service would see "no books, no marker" and simply rebuild again.
    let mut last = redis::pipe();
    last.atomic();
    for (book, ..) in &books {
        last.sadd(keys.books(), *book).ignore();
    }
    last.set(keys.ready(), 1).ignore();
    let _: () = last.query_async(&mut conn).await?;
    tracing::info!(
        books = books.len(),
        reservations = reservations.len(),
        "rebuilt redis stock from the mysql ledger"
    );
    Ok(!books.is_empty())
}
