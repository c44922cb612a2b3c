//! Rebuild: an empty Redis refilled from the MySQL ledger before the service serves.

use std::time::Duration;

use chrono::NaiveDateTime;
use sqlx::MySqlPool;

use super::cursor::read_cursor;
use crate::domain::{Counters, OrderId, RequestId};
use crate::error::Error;
use crate::store::{REPLAY_RETENTION, RebuildLock, Restore, RestoredReservation, StockStore};

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
/// made under a Redis clock that is behind still reach the ledger.
///
/// Several instances may start at once on an emptied Redis: one takes the rebuild lock
/// (see [`crate::store::RebuildLock`]) and rebuilds; the others poll until it is done and
/// then find the ready marker. A holder that dies leaves the lock to expire after
/// [`LOCK_TTL`], and the next waiter rebuilds from scratch.
pub async fn rebuild_if_empty(store: &StockStore, pool: &MySqlPool) -> Result<bool, Error> {
    loop {
        // The marker says "this Redis already holds this deployment's data": the common case
        // on every restart, answered with one EXISTS.
        if store.is_ready().await? {
            return Ok(false);
        }
        if store.has_books().await? {
            // Data without the marker: a Redis filled before the marker existed. Its counters are
            // newer than MySQL's (the ledger trails by the sync lag), so rebuilding over them would
            // undo sales; trusting them and setting the marker loses nothing.
            tracing::warn!("redis has inventory data but no ready marker; keeping it as is");
            store.mark_ready().await?;
            return Ok(false);
        }
        // Polling, not a notification: the wait happens once per Redis loss, a 50 ms poll
        // costs nothing then, and it also notices a holder that died (its lock expires).
        let Some(lock) = store.try_rebuild_lock(LOCK_TTL).await? else {
            // Another instance is rebuilding: wait for its ready marker (or its lock's expiry).
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Checked again under the lock: the previous holder may have finished between our
        // EXISTS and our SET NX. ❌ DON'T skip this: it is the whole bug the lock closes.
        let result = match store.is_ready().await {
            Ok(false) => rebuild(store, pool, &lock).await,
            Ok(true) => Ok(false),
            Err(e) => Err(e),
        };
        // Released whatever happened, so a waiter need not sit out the expiry after a failed
        // attempt. A failed release only means the lock lives until it expires.
        if let Err(e) = store.release_rebuild_lock(&lock).await {
            tracing::warn!(error = %e, "could not release the rebuild lock; it will expire");
        }
        match result {
            // Our lock expired mid-rebuild and a successor took over: start over, and most
            // likely find its ready marker.
            Err(Error::LostRebuildLock) => {
                tracing::warn!("rebuild lock lost part-way; starting over");
            }
            other => return other,
        }
    }
}

/// How long the rebuild lock lives. Far above a rebuild's duration (well under a second
/// for the lab's data, a few seconds per million reservations), because a holder whose lock
/// expires must start over; short enough that a killed holder delays the others' start by
/// a minute at most.
pub const LOCK_TTL: Duration = Duration::from_secs(60);

/// The rebuild itself, under `lock`: read the ledger, write it into Redis.
async fn rebuild(store: &StockStore, pool: &MySqlPool, lock: &RebuildLock) -> Result<bool, Error> {
    // Four reads, not in one transaction: no syncer can be writing (its stream was lost
    // with the rest of Redis, and syncers start only after the ready marker is set).
    let books: Vec<(u64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT book_id, stock, locked_stock, sold_stock, total_stock FROM inventory",
    )
    .fetch_all(pool)
    .await?;
    // Settled reservations only inside the replay retention: older ones could answer no
    // retry that matters, and would only fill Redis again.
    let reservations: Vec<(u64, u64, i32, i8, NaiveDateTime, NaiveDateTime)> = sqlx::query_as(
        "SELECT order_id, book_id, quantity, state, locked_at, updated_at \
         FROM inventory_reservations WHERE state = 1 OR updated_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND",
    )
    .bind(REPLAY_RETENTION.as_secs())
    .fetch_all(pool)
    .await?;
    // Direct sales are found in the log: a decrement that did not draw on locked stock.
    // (They need no table of their own: the log row is the record, and its order id is
    // all the marker needs.)
    let direct: Vec<(u64, NaiveDateTime)> = sqlx::query_as(
        // One log row per line of a sale, all stamped by the same script call: MAX picks one
        // time per order, and the marker needs no more than that.
        "SELECT order_id, MAX(created_at) FROM inventory_logs \
         WHERE type = 3 AND d_locked = 0 AND order_id IS NOT NULL \
         AND created_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND GROUP BY order_id",
    )
    .bind(REPLAY_RETENTION.as_secs())
    .fetch_all(pool)
    .await?;
    // No retention filter here: restock markers never expire (see `restore`), so every one
    // comes back — the one read of the rebuild that grows with the ledger's whole history.
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
            .map(|&(order, book, qty, state, locked_at, updated_at)| {
                Ok(RestoredReservation {
                    order: OrderId::parse(order)?,
                    book,
                    qty,
                    state,
                    locked_at_ms: locked_at.and_utc().timestamp_millis(),
                    // `updated_at` is the row's last state change, i.e. its settle; on an
                    // open row it equals `locked_at`, and `restore` does not use it.
                    settled_at_ms: updated_at.and_utc().timestamp_millis(),
                })
            })
            .collect::<Result<_, Error>>()?,
        direct: direct
            .iter()
            .map(|(o, at)| Ok((OrderId::parse(*o)?, at.and_utc().timestamp_millis())))
            .collect::<Result<_, Error>>()?,
        requests: requests.iter().map(|r| RequestId::parse(r)).collect::<Result<_, _>>()?,
        cursor: read_cursor(pool).await?,
    };
    // Keys come from `store::Keys`, the one definition of the layout the scripts also read.
    store.restore(&restore, lock).await?;
    tracing::info!(
        books = books.len(),
        reservations = reservations.len(),
        "rebuilt redis stock from the mysql ledger"
    );
    // `false` on a first start over an empty ledger: nothing was restored, but the ready
    // marker is set all the same, so the next start does not try again.
    Ok(!books.is_empty())
}
