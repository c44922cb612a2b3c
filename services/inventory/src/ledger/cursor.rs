//! The syncer's cursor: the last stream entry MySQL has applied.

use sqlx::MySqlPool;

use crate::error::Error;

/// The last event id applied to MySQL (`(0, 0)` before the first).
///
/// Stream ids are `<milliseconds>-<sequence>` and grow monotonically, so "after the
/// cursor" is a plain tuple comparison. The two parts are stored as two BIGINT columns,
/// not one string: `"999-0" > "1000-0"` as strings, and the syncer would skip events.
/// Reconcile polls it to know when MySQL has caught up with a snapshot.
///
/// One row (`id = 1`), not `MAX(ev_ms, ev_seq)` over the log: the row is also the lock
/// that serialises syncers (`SELECT … FOR UPDATE` in every batch), and it still says how
/// far the stream was applied when a batch held no log rows at all.
pub async fn read_cursor(pool: &MySqlPool) -> Result<(u64, u64), Error> {
    Ok(sqlx::query_as("SELECT last_ms, last_seq FROM inventory_sync_cursor WHERE id = 1")
        .fetch_one(pool)
        .await?)
}
