//! The syncer: copies the change stream into MySQL, exactly once, with its cursor in the
//! same transaction as the rows.
//!
//! ## Where the syncer can die, and why each is safe
//!
//! | dies… | Redis | MySQL | on restart |
//! |---|---|---|---|
//! | before reading | entries waiting | untouched | reads them from the cursor |
//! | mid-transaction | entries waiting | rolled back by InnoDB | reads them again, applies once |
//! | after COMMIT, before XTRIM | entries still there | rows + cursor committed | skips them (`> cursor`), then trims |
//! | after XTRIM | gone | applied | nothing to do |
//!
//! The test `a_syncer_killed_mid_burst_loses_and_duplicates_nothing` aborts the syncer at
//! random instants during a burst and checks the table above holds.
//!
//! ## Why not a consumer group (XREADGROUP/XACK)?
//!
//! A consumer group remembers progress in Redis, and the ack is a second write after the
//! MySQL commit — the very two-step gap the stream was meant to close (commit, crash
//! before XACK: the entries are delivered again; now only the UNIQUE key stops a double
//! count). Keeping the cursor *in MySQL, in the same transaction* makes "applied" and
//! "remembered as applied" one fact. Consumer groups earn their keep when several
//! consumers share the work; one syncer per deployment does not need them.
//!
//! ## What it does not scale to, said plainly
//!
//! Every instance runs a syncer that polls every 10 ms; with many instances they take
//! turns on the cursor row and all but one find nothing new — harmless, but wasted
//! queries. A dedicated relay process (one per deployment, with a standby) would scale
//! better. And while MySQL is down the stream grows in Redis memory without bound (51
//! bytes per entry by `MEMORY USAGE` over 10,000 sales, so an hour at 1,000 sales/s is
//! ~180 MB): production alerts on `XLEN` and decides in advance between refusing sales
//! and dropping ledger entries.

use std::{collections::BTreeMap, time::Duration};

use bookstore_platform::Shutdown;
use chrono::NaiveDateTime;
use redis::streams::StreamRangeReply;
use sqlx::{MySqlConnection, MySqlPool, QueryBuilder};

use super::chunks::fixed_chunks;
use super::cursor::read_cursor;
use super::event::{Event, at_ms};
use crate::error::Error;
use crate::store::{StockStore, parse_stream_id};

/// Copies the change stream into MySQL. Run one per service instance; two at once are
/// safe (the cursor row is locked `FOR UPDATE`, so they take turns), just pointless.
pub struct Syncer {
    /// Where the stream lives (read with XRANGE, trimmed with XTRIM).
    store: StockStore,
    /// Where the ledger lives (one transaction per batch).
    pool: MySqlPool,
    /// Most entries per batch.
    batch: usize,
    /// Last event applied, as far as this syncer knows. Only a hint for where to read:
    /// the truth is the cursor row, re-read under lock in every batch.
    cursor: Option<(u64, u64)>,
}

impl Syncer {
    /// `batch`: most events per MySQL transaction (bigger = fewer commits, longer locks).
    /// Clamped to 4,000 so one transaction (and the row locks it holds) stays short.
    pub fn new(store: StockStore, pool: MySqlPool, batch: usize) -> Self {
        Self { store, pool, batch: batch.clamp(1, 4000), cursor: None }
    }

    /// Applies batches until `stop` fires. Stops *between* batches, so a graceful stop
    /// never leaves a transaction open; an abrupt stop (abort, kill -9) is covered by the
    /// transaction and the cursor instead.
    pub async fn run(mut self, stop: Shutdown) {
        loop {
            let pause = match self.sync_once().await {
                // A full batch means a backlog (after an outage, or a burst): read on at once,
                // so catching up costs one round trip per batch, not one 10 ms sleep each.
                Ok(n) if n >= self.batch => Duration::ZERO,
                // Polling, not `XREAD BLOCK`: a blocking read would stall every other
                // command multiplexed on the shared connection. 10 ms bounds the lag.
                Ok(_) => Duration::from_millis(10),
                // MySQL (or Redis) is failing: retry, never give up — the entries wait in
                // the stream — but at 2 per second, so an outage does not log 100 lines a
                // second or hammer a database that is trying to recover.
                Err(e) => {
                    tracing::warn!(error = %e, "ledger sync failed; retrying");
                    Duration::from_millis(500)
                }
            };
            // A stop during the pause is seen at once; one during a batch waits for the batch,
            // since the select only starts after `sync_once` returned.
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // A graceful stop drains what is already in the stream, so MySQL is up to date when
        // the process exits. Not required for correctness (the next start would apply it),
        // but an operator who stops the service and reads MySQL expects to see everything.
        // An error ends the drain instead of retrying: a stop must finish, and what is left
        // waits in the stream for the next start, which resumes from MySQL's cursor.
        while let Ok(n) = self.sync_once().await {
            if n == 0 {
                break;
            }
        }
    }

    /// Applies at most one batch; returns how many events it read from the stream.
    ///
    /// Public so that tests (and an operator's "sync now") can drive the syncer step by
    /// step; `run` is just this in a loop.
    pub async fn sync_once(&mut self) -> Result<usize, Error> {
        // Read where we left off; only the first call after start asks MySQL.
        let from = match self.cursor {
            Some(c) => c,
            None => read_cursor(&self.pool).await?,
        };
        let reply: StreamRangeReply = self.store.events_after(from, self.batch).await?;
        // Nothing new in the stream: remember the cursor and report an idle round.
        // `through` is the last entry *read*, parsed or not: the cursor moves to it.
        let Some(through) = reply.ids.last().and_then(|e| parse_stream_id(&e.id)) else {
            self.cursor = Some(from);
            return Ok(0);
        };
        let events = parse_batch(&reply);
        // If this fails (MySQL down), the cursor does not move and the same range is read again
        // on the next attempt: retrying is safe because `apply` is all-or-nothing.
        let applied = self.apply(&events, through).await?;
        // Remember where we are, so the next call reads on from here without asking MySQL.
        self.cursor = Some(through);
        // Applied changes are no longer needed in Redis.
        self.store.trim_events_through(through).await?;
        // `applied` counts rows written now; entries another syncer had applied are 0 here.
        metrics::counter!("inventory_ledger_events_applied_total").increment(applied as u64);
        // Entries read, not rows written: `run` compares this with the batch size to spot a
        // backlog, and a full batch of entries another syncer had applied is still one.
        Ok(reply.ids.len())
    }

    /// One transaction: the log rows, the counters, the reservations and the cursor.
    ///
    /// Multi-row statements, a few per batch whatever its size: a round trip to MySQL costs
    /// far more than a row, so the syncer's throughput comes from batching. A batch of 1,000
    /// sales is a handful of log INSERTs (see [`fixed_chunks`]), one counter upsert per
    /// book, the reservation upserts and the cursor UPDATE — then one fsync at COMMIT
    /// instead of a thousand.
    ///
    /// `through` is the id of the last entry read, where the cursor moves: past `events`
    /// and past any malformed entry that `parse_batch` skipped after them.
    async fn apply(&self, events: &[Event], through: (u64, u64)) -> Result<usize, Error> {
        // One transaction for the whole batch. InnoDB makes it atomic: after a crash at any
        // point, either every row of the batch and the new cursor are there, or none are.
        // FOR UPDATE on the cursor row serialises syncers: a second instance's batch waits here
        // until ours commits, then sees our cursor and filters out what we applied.
        let mut tx = self.pool.begin().await?;
        let (ms, seq): (u64, u64) = sqlx::query_as(
            "SELECT last_ms, last_seq FROM inventory_sync_cursor WHERE id = 1 FOR UPDATE",
        )
        .fetch_one(&mut *tx)
        .await?;
        // Another syncer may have applied this whole range since we read the cursor, or
        // some of it: only what is after the locked cursor is applied here.
        if through <= (ms, seq) {
            // Nothing to write: roll back now, freeing the cursor row's lock for other syncers at
            // once rather than at the dropped transaction's deferred rollback.
            tx.rollback().await?;
            return Ok(0);
        }
        let fresh: Vec<&Event> = events.iter().filter(|e| (e.ms, e.seq) > (ms, seq)).collect();
        insert_logs(&mut tx, &fresh).await?;
        // `updated_at` is the batch's last change by Redis's clock, not MySQL's NOW(): a backlog
        // drained after an outage records when stock changed, not when it was copied.
        upsert_counters(&mut tx, &fresh, at_ms(through.0)).await?;
        upsert_reservations(&mut tx, &fresh).await?;
        advance_cursor(&mut tx, through).await?;
        tx.commit().await?;
        Ok(fresh.len())
    }
}

/// The entries of one XRANGE reply that parse, in stream order. An entry that does not is
/// skipped — once: the cursor moves past it with the batch — and recorded in the error
/// log with its id and fields and in `inventory_ledger_events_malformed_total`.
///
/// Never expected: only our scripts write this stream, always with every field. ❌ DON'T
/// stop at such an entry (the syncer would re-read it every 10 ms and the ledger would
/// stall behind it for good); ❌ DON'T apply it as zeros either. If it was a real change
/// that got mangled, the counters it moved are in Redis and not in MySQL, and Reconcile
/// reports exactly that book as drift.
fn parse_batch(reply: &StreamRangeReply) -> Vec<Event> {
    let mut events = Vec::with_capacity(reply.ids.len());
    for entry in &reply.ids {
        match Event::parse(entry) {
            Some(e) => events.push(e),
            None => {
                tracing::error!(id = %entry.id, fields = ?entry.map, "skipped a malformed change-stream entry");
                metrics::counter!("inventory_ledger_events_malformed_total").increment(1);
            }
        }
    }
    events
}

/// The batch's `inventory_logs` rows, one multi-row INSERT per chunk.
async fn insert_logs(tx: &mut MySqlConnection, fresh: &[&Event]) -> Result<(), Error> {
    // Empty strings from the stream become NULLs: `request_id` is UNIQUE, and MySQL allows
    // many NULLs in a UNIQUE column but only one empty string.
    let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    // The log rows: multi-row INSERTs with bind parameters (13 per row; the largest chunk
    // stays far under MySQL's 65,535-placeholder limit). Plain INSERT,
    // not INSERT IGNORE: a duplicate event id here would be a bug in the cursor logic, and it
    // should fail loudly and roll back rather than be skipped in silence.
    for chunk in fixed_chunks(fresh) {
        let mut logs = QueryBuilder::new(
            "INSERT INTO inventory_logs (ev_ms, ev_seq, book_id, quantity, type, order_id, \
             request_id, remark, d_avail, d_locked, d_sold, d_total, created_at) ",
        );
        logs.push_values(chunk, |mut row, e| {
            row.push_bind(e.ms)
                .push_bind(e.seq)
                .push_bind(e.book)
                .push_bind(e.qty)
                .push_bind(e.kind)
                // Restocks carry order 0 in the stream; the column says NULL ("no order").
                .push_bind((e.order != 0).then_some(e.order))
                .push_bind(none_if_empty(&e.request_id))
                .push_bind(none_if_empty(&e.remark))
                .push_bind(e.d[0])
                .push_bind(e.d[1])
                .push_bind(e.d[2])
                .push_bind(e.d[3])
                .push_bind(e.at());
        });
        logs.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// The `inventory` counters: the batch's deltas summed per book, one upsert row per book.
async fn upsert_counters(
    tx: &mut MySqlConnection,
    fresh: &[&Event],
    now: NaiveDateTime,
) -> Result<(), Error> {
    // One upsert per book per batch, however many sales it holds: at 20k sales/s of a
    // hot book this is the difference between 20k row updates and ~20.
    // A BTreeMap, not a HashMap: rows are upserted in book-id order, so two syncers (or a
    // syncer and the race's SQL) always take InnoDB row locks in the same order. Locking
    // rows in different orders is the classic recipe for deadlocks.
    let mut per_book: BTreeMap<u64, [i64; 4]> = BTreeMap::new();
    for e in fresh {
        let sum = per_book.entry(e.book).or_default();
        for (s, d) in sum.iter_mut().zip(e.d) {
            *s += d;
        }
    }
    // Upsert: a book seen for the first time gets a row with the deltas as its counters
    // (a new book's first change is always a restock, so they start from zero); a known
    // book gets the deltas added. `VALUES(col)` means "the value this row tried to insert".
    // Chunks are consecutive runs of the sorted list, so the lock order still holds.
    let per_book: Vec<(u64, [i64; 4])> = per_book.into_iter().collect();
    for chunk in fixed_chunks(&per_book) {
        let mut counters = QueryBuilder::new(
            "INSERT INTO inventory (book_id, stock, locked_stock, sold_stock, total_stock, \
             created_at, updated_at) ",
        );
        counters.push_values(chunk, |mut row, (book, d)| {
            row.push_bind(*book)
                .push_bind(d[0])
                .push_bind(d[1])
                .push_bind(d[2])
                .push_bind(d[3])
                // `created_at` and `updated_at`: a new row gets the batch's time for both; on
                // a known row the UPDATE below leaves `created_at` alone, so it keeps the
                // time of the book's first change.
                .push_bind(now)
                .push_bind(now);
        });
        counters.push(
            " ON DUPLICATE KEY UPDATE stock = stock + VALUES(stock), \
             locked_stock = locked_stock + VALUES(locked_stock), \
             sold_stock = sold_stock + VALUES(sold_stock), \
             total_stock = total_stock + VALUES(total_stock), updated_at = VALUES(updated_at)",
        );
        counters.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// The `inventory_reservations` rows: the state each lock, release or confirm leaves.
///
/// One row per (order, book), upserted to its latest state. This table, not the log, is
/// what lets a rebuilt Redis answer a retried LockStock as a replay and still release an
/// open reservation: scanning the log for an order's last state would read the whole log.
async fn upsert_reservations(tx: &mut MySqlConnection, fresh: &[&Event]) -> Result<(), Error> {
    // Rows are applied in stream order, so a lock then a release of the same order in
    // one batch ends as "released", as it did in Redis.
    // The reservation table is what a rebuild needs for idempotence (see the migrations).
    let reservations: Vec<(&Event, i8)> =
        fresh.iter().filter_map(|e| e.reservation_state().map(|r| (*e, r))).collect();
    // (Chunks run in stream order too, so the later state still wins.)
    for chunk in fixed_chunks(&reservations) {
        let mut rows = QueryBuilder::new(
            "INSERT INTO inventory_reservations (order_id, book_id, quantity, state, \
             locked_at, updated_at) ",
        );
        rows.push_values(chunk, |mut row, (e, state)| {
            row.push_bind(e.order)
                .push_bind(e.book)
                // The event's quantity is signed (a lock is -q, units leaving `avail`); a
                // reservation row stores how many units it holds, which is never negative.
                .push_bind(e.qty.abs())
                .push_bind(*state)
                .push_bind(e.at())
                .push_bind(e.at());
        });
        rows.push(
            " ON DUPLICATE KEY UPDATE state = VALUES(state), updated_at = VALUES(updated_at)",
        );
        rows.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Last, the cursor — inside the same transaction, which is the whole point.
///
/// ❌ The tempting split — commit the rows, then move the cursor in a second transaction —
/// reopens the dual-write gap inside one database: a crash between the two commits leaves
/// rows applied under an old cursor, the next syncer reads the batch again, and its log
/// INSERT hits the UNIQUE event id. The syncer then fails that batch forever (and without
/// the UNIQUE key it would add every counter delta twice). The killed-syncer test in
/// `tests/durability.rs` finds exactly this when the two are separated.
async fn advance_cursor(tx: &mut MySqlConnection, (ms, seq): (u64, u64)) -> Result<(), Error> {
    sqlx::query(
        "UPDATE inventory_sync_cursor SET last_ms = ?, last_seq = ?, updated_at = NOW(3) \
         WHERE id = 1",
    )
    .bind(ms)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
