//! Reconcile: Redis and MySQL compared as of one instant, even under traffic.

use std::{collections::BTreeMap, time::Duration};

use sqlx::MySqlPool;

use super::cursor::read_cursor;
use crate::domain::Counters;
use crate::error::Error;
use crate::store::StockStore;

/// A book whose Redis and MySQL counters differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// The book both sides are keyed by; a book missing on one side shows zeros there.
    pub book_id: u64,
    /// The counters in Redis at the snapshot (what the service is selling from).
    pub redis: Counters,
    /// MySQL's counters as of the same event (what the ledger says they should be).
    pub mysql: Counters,
}

/// Compares Redis with MySQL as of one instant, even under traffic.
///
/// An example: the snapshot says book 7 has `avail 90` at event `E`. By the time MySQL is
/// read, the syncer has also applied a later sale (`-1`) and MySQL says `avail 89`. A naive
/// comparison reports a drift of 1 that is only lag. Subtracting the deltas logged after
/// `E` gives MySQL's `avail` at `E`: 89 − (−1) = 90, and the two agree. Only a real
/// discrepancy — a change applied twice, or lost — survives this subtraction.
///
/// 1. `snapshot.lua` reads every counter and the last emitted event id atomically.
/// 2. Wait (up to `wait`) until the syncer has applied that event.
/// 3. In one MySQL transaction (one consistent read view), read the counters and subtract
///    the deltas of every log row *after* that event — MySQL "as of" the snapshot.
///
/// `books` empty = every book. Returns how many books were compared and the drifts.
///
/// Reading a drift: Redis ahead of MySQL (more `sold` in Redis) means a change that never
/// reached the ledger — a stream entry lost with Redis data, or skipped as malformed;
/// MySQL ahead of Redis means Redis lost changes the ledger kept (a Redis restored from an
/// old AOF) or the ledger applied something twice. It reports and never repairs: which
/// side is right depends on the cause, and a repair that "fixed" the numbers would erase
/// the evidence of the bug. ❌ DON'T schedule "copy Redis into MySQL" as a cure for drift.
pub async fn reconcile(
    store: &StockStore,
    pool: &MySqlPool,
    books: &[u64],
    wait: Duration,
) -> Result<(u64, Vec<Drift>), Error> {
    // Step 1: Redis, atomically.
    let snap = store.snapshot().await?;
    // Bounded wait: an operator tool must answer, even if only "the syncer is behind".
    // Comparing anyway after the deadline would report the syncer's lag as drift, the one
    // false alarm this function exists to avoid.
    let deadline = tokio::time::Instant::now() + wait;
    // Step 2: until MySQL has applied at least up to the snapshot's last event.
    while read_cursor(pool).await? < snap.last_event {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::SyncerBehind);
        }
        // 20 ms between cursor reads: a caught-up syncer is noticed at most 20 ms late, and
        // the wait costs MySQL at most 50 cursor reads a second.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ms, seq) = snap.last_event;
    // Step 3: both reads in one transaction, so both see the same InnoDB read view even if
    // the syncer commits between them. SUM over INT is DECIMAL in MySQL; CAST keeps it an
    // integer for the Rust side.
    // This leans on InnoDB's default REPEATABLE READ, where the first SELECT fixes the view
    // for the whole transaction; under READ COMMITTED each SELECT would take a fresh view,
    // and a batch committed between the two would be counted in one and not the other.
    let mut tx = pool.begin().await?;
    let rows: Vec<(u64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT book_id, stock, locked_stock, sold_stock, total_stock FROM inventory",
    )
    .fetch_all(&mut *tx)
    .await?;
    let later: Vec<(u64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT book_id, CAST(SUM(d_avail) AS SIGNED), CAST(SUM(d_locked) AS SIGNED), \
         CAST(SUM(d_sold) AS SIGNED), CAST(SUM(d_total) AS SIGNED) FROM inventory_logs \
         WHERE ev_ms > ? OR (ev_ms = ? AND ev_seq > ?) GROUP BY book_id",
    )
    .bind(ms)
    .bind(ms)
    .bind(seq)
    .fetch_all(&mut *tx)
    .await?;
    // A read-only transaction: nothing to commit; ending it releases the read view.
    tx.rollback().await?;

    // MySQL as of the snapshot = current counters minus everything logged after it.
    // Filtered here, not with an `IN (…)` in SQL: an operator's filter is a few ids, and
    // fixed query texts stay in sqlx's statement cache (`chunks` says what varying ones cost).
    let wanted = |b: &u64| books.is_empty() || books.contains(b);
    let mut mysql: BTreeMap<u64, Counters> = BTreeMap::new();
    for (b, a, l, s, t) in rows.into_iter().filter(|r| wanted(&r.0)) {
        mysql.insert(b, counters(b, [a, l, s, t]));
    }
    for (b, a, l, s, t) in later.into_iter().filter(|r| wanted(&r.0)) {
        let c = mysql.entry(b).or_insert_with(|| counters(b, [0; 4]));
        // Subtracting the later deltas undoes them: the log rows are signed (+10 restock, -1
        // sale), so current − Σ(later) is the value just before the first of them.
        c.available -= a;
        c.locked -= l;
        c.sold -= s;
        c.total -= t;
    }
    let redis: BTreeMap<u64, Counters> =
        snap.books.into_iter().filter(|c| wanted(&c.book_id)).map(|c| (c.book_id, c)).collect();
    // Compare the union of books: a book missing on one side is a drift against zeros.
    let mut ids: Vec<u64> = mysql.keys().chain(redis.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let drifts = ids
        .iter()
        .filter_map(|&b| {
            // `Counters` compares book id and all four fields, so one unit moved between `locked`
            // and `sold` on one side only is a drift even though `total` agrees.
            let r = redis.get(&b).copied().unwrap_or(counters(b, [0; 4]));
            let m = mysql.get(&b).copied().unwrap_or(counters(b, [0; 4]));
            (r != m).then_some(Drift { book_id: b, redis: r, mysql: m })
        })
        .collect();
    Ok((ids.len() as u64, drifts))
}

/// Counters from `[available, locked, sold, total]`, the column order of both queries.
fn counters(book_id: u64, c: [i64; 4]) -> Counters {
    Counters { book_id, available: c[0], locked: c[1], sold: c[2], total: c[3] }
}
