//! The durable side: MySQL as the ledger, fed from Redis by the syncer.
//!
//! - [`Syncer`]: copies the change stream into `inventory_logs` and `inventory`, exactly once.
//! - [`rebuild_if_empty`]: refills an empty Redis from MySQL at start.
//! - [`reconcile`]: compares Redis with MySQL as of one instant.
//! - [`stock_log`]: pages through a book's audit log.
//!
//! ## Why a stream and a syncer (the course's step 3, made crash-proof)
//!
//! The course's Go sample changes Redis, then writes the log row, then sends an event —
//! three steps, and a crash between any two loses or duplicates something. Here the Lua
//! script that changes a counter also appends the change to a Redis stream, in the same
//! atomic step, so "changed" and "recorded" cannot disagree. The syncer then applies the
//! stream to MySQL in batches; each batch's rows *and* the cursor ("applied up to event
//! X") commit in one transaction. A crash before COMMIT re-reads the batch; a crash after
//! COMMIT skips it. On top of that, `inventory_logs` has a UNIQUE key on the event id, so
//! even a bug that applied a batch twice would fail loudly instead of double-counting.
//!
//! DON'T write MySQL inside the request ("synchronous double write"): every sale would
//! then wait for an InnoDB commit (~1 ms with fsync) and the Redis path would be no faster
//! than the database it was meant to shield. The price of the stream: MySQL lags Redis by
//! the syncer's latency (milliseconds), so the audit log is eventually consistent.
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

use std::{collections::BTreeMap, time::Duration};

use bookstore_platform::Shutdown;
use chrono::NaiveDateTime;
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use sqlx::{MySqlPool, QueryBuilder};

use crate::domain::{BookId, Counters, OrderId, RequestId};
use crate::error::Error;
use crate::store::{StockStore, parse_stream_id};

/// One change as emitted by a script (the entry layout is described in `lua/lock.lua`).
///
/// An entry is one field `e` = `"type book q d_avail d_locked d_sold d_total order"` plus
/// the optional `r` (remark) and `rq` (request id): every sale stores one entry until the
/// syncer trims it, and Redis copies it into the AOF and into the XRANGE reply, so bytes
/// and fields per entry are paid on every sale. The deltas `d` make each entry
/// self-describing — the syncer adds them and never needs to know what a "confirm" means,
/// so a new script type needs no syncer change.
#[derive(Clone, Debug)]
struct Event {
    /// The stream id, `ms-seq`: unique, increasing, and the log row's time.
    ms: u64,
    seq: u64,
    /// The course's type code (1 lock, 2 release, 3 decrement, 4 increment).
    kind: i8,
    book: u64,
    qty: i32,
    /// Deltas of available, locked, sold, total.
    d: [i64; 4],
    order: u64,
    remark: String,
    request_id: String,
}

impl Event {
    fn parse(entry: &redis::streams::StreamId) -> Option<Self> {
        let (ms, seq) = parse_stream_id(&entry.id)?;
        // Missing numeric fields make the whole entry unparseable (`?`), and the caller logs it:
        // an entry we cannot read must be noticed, not applied as zeros.
        let s = |k: &str| entry.get::<String>(k).unwrap_or_default();
        let Some(packed) = entry.get::<String>("e") else {
            return Self::parse_fields(entry, ms, seq);
        };
        // `split(' ')`, not `split_whitespace`: the scripts write exactly one space between
        // values, so an entry shaped otherwise was not written by them and must fail to
        // parse (and be reported) rather than be read leniently into a wrong ledger row.
        // A value that does not parse as an integer fails the same way, through `?`.
        let mut f = packed.split(' ');
        let mut n = || f.next()?.parse::<i64>().ok();
        let (kind, book, qty) = (n()? as i8, n()? as u64, n()? as i32);
        let d = [n()?, n()?, n()?, n()?];
        let order = n()? as u64;
        Some(Self { ms, seq, kind, book, qty, d, order, remark: s("r"), request_id: s("rq") })
    }

    /// The first layout, one stream field per value (`t`, `b`, `q`, `da`, `dl`, `ds`, `dt`,
    /// `o`, `r`, `rq`). Still read, because entries written by an older version may be
    /// waiting in the stream when a new version starts: skipping them would lose sales
    /// from the ledger ("nothing lost" is an invariant, not a best effort).
    fn parse_fields(entry: &redis::streams::StreamId, ms: u64, seq: u64) -> Option<Self> {
        let s = |k: &str| entry.get::<String>(k).unwrap_or_default();
        let n = |k: &str| entry.get::<i64>(k);
        Some(Self {
            ms,
            seq,
            kind: n("t")? as i8,
            book: n("b")? as u64,
            qty: n("q")? as i32,
            d: [n("da")?, n("dl")?, n("ds")?, n("dt")?],
            order: entry.get::<u64>("o").unwrap_or(0),
            remark: s("r"),
            request_id: s("rq"),
        })
    }

    // The change's time is the stream id's millisecond part: Redis's clock at the moment the
    // script ran, so log rows are ordered by when the sale happened, not by when the syncer
    // got to it.
    fn at(&self) -> NaiveDateTime {
        chrono::DateTime::from_timestamp_millis(self.ms as i64).unwrap_or_default().naive_utc()
    }

    /// The state this change gives the order's row in `inventory_reservations`, if any:
    ///
    /// ```text
    /// type 1 lock              → 1 locked
    /// type 2 release           → 2 released
    /// type 3 with d_locked ≠ 0 → 3 confirmed   (a confirm draws on locked stock)
    /// type 3 with d_locked = 0 → no row        (a direct sale: its log row is its record)
    /// type 4 increment         → no row        (restocks are idempotent by request_id)
    /// ```
    fn reservation_state(&self) -> Option<i8> {
        match (self.kind, self.d[1]) {
            (1, _) => Some(1),
            (2, _) => Some(2),
            (3, dl) if dl != 0 => Some(3),
            _ => None,
        }
    }
}

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
                Ok(n) if n >= self.batch => Duration::ZERO,
                // Polling, not `XREAD BLOCK`: a blocking read would stall every other
                // command multiplexed on the shared connection. 10 ms bounds the lag.
                Ok(_) => Duration::from_millis(10),
                Err(e) => {
                    tracing::warn!(error = %e, "ledger sync failed; retrying");
                    Duration::from_millis(500)
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // A graceful stop drains what is already in the stream, so MySQL is up to date when
        // the process exits. Not required for correctness (the next start would apply it),
        // but an operator who stops the service and reads MySQL expects to see everything.
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
        let mut conn = self.store.redis();
        let events_key = self.store.keys().events();
        // `(` makes the start exclusive: everything strictly after the cursor.
        let reply: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&events_key)
            .arg(format!("({}-{}", from.0, from.1))
            .arg("+")
            .arg("COUNT")
            .arg(self.batch)
            .query_async(&mut conn)
            .await?;
        // An entry that does not parse is skipped with an error log rather than blocking the
        // stream forever; the cursor still moves past it, and Reconcile will report the drift.
        let events: Vec<Event> = reply.ids.iter().filter_map(Event::parse).collect();
        // (Never expected: only our scripts write this stream, always with every field.)
        if reply.ids.len() != events.len() {
            tracing::error!("malformed entries in the change stream were skipped");
        }
        // Nothing new in the stream: remember the cursor and report an idle round.
        let Some(last) = events.last().map(|e| (e.ms, e.seq)) else {
            self.cursor = Some(from);
            return Ok(0);
        };
        // If this fails (MySQL down), the cursor does not move and the same range is read again
        // on the next attempt: retrying is safe because `apply` is all-or-nothing.
        let applied = self.apply(&events).await?;
        // Remember where we are, so the next call reads on from here without asking MySQL.
        self.cursor = Some(last);
        // Applied changes are no longer needed in Redis. MINID trims entries *below* the
        // id, so last+1 keeps nothing that was applied and nothing that was not.
        let _: i64 = redis::cmd("XTRIM")
            .arg(&events_key)
            .arg("MINID")
            .arg(format!("{}-{}", last.0, last.1 + 1))
            .query_async(&mut conn)
            .await?;
        // `applied` counts rows written now; entries another syncer had applied are 0 here.
        metrics::counter!("inventory_ledger_events_applied_total").increment(applied as u64);
        Ok(reply.ids.len())
    }

    /// One transaction: the log rows, the counters, the reservations and the cursor.
    ///
    /// Multi-row statements, a few per batch whatever its size: a round trip to MySQL costs
    /// far more than a row, so the syncer's throughput comes from batching. A batch of 1,000
    /// sales is a handful of log INSERTs (see [`fixed_chunks`]), one counter upsert per
    /// book, the reservation upserts and the cursor UPDATE — then one fsync at COMMIT
    /// instead of a thousand.
    async fn apply(&self, events: &[Event]) -> Result<usize, Error> {
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
        // Another syncer may have applied some of these since we read the cursor.
        let fresh: Vec<&Event> = events.iter().filter(|e| (e.ms, e.seq) > (ms, seq)).collect();
        let Some(last) = fresh.last() else {
            tx.rollback().await?;
            return Ok(0);
        };
        // Empty strings from the stream become NULLs: `request_id` is UNIQUE, and MySQL allows
        // many NULLs in a UNIQUE column but only one empty string.
        let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());

        // The log rows: multi-row INSERTs with bind parameters (13 per row; the largest chunk
        // stays far under MySQL's 65,535-placeholder limit). Plain INSERT,
        // not INSERT IGNORE: a duplicate event id here would be a bug in the cursor logic, and it
        // should fail loudly and roll back rather than be skipped in silence.
        for chunk in fixed_chunks(&fresh) {
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

        // One upsert per book per batch, however many sales it holds: at 20k sales/s of a
        // hot book this is the difference between 20k row updates and ~20.
        // A BTreeMap, not a HashMap: rows are upserted in book-id order, so two syncers (or a
        // syncer and the race's SQL) always take InnoDB row locks in the same order. Locking
        // rows in different orders is the classic recipe for deadlocks.
        let mut per_book: BTreeMap<u64, [i64; 4]> = BTreeMap::new();
        for e in &fresh {
            let sum = per_book.entry(e.book).or_default();
            for (s, d) in sum.iter_mut().zip(e.d) {
                *s += d;
            }
        }
        // Upsert: a book seen for the first time gets a row with the deltas as its counters
        // (a new book's first change is always a restock, so they start from zero); a known
        // book gets the deltas added. `VALUES(col)` means "the value this row tried to insert".
        let now = last.at();
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

        // Last, the cursor — inside the same transaction, which is the whole point.
        sqlx::query(
            "UPDATE inventory_sync_cursor SET last_ms = ?, last_seq = ?, updated_at = NOW(3) \
             WHERE id = 1",
        )
        .bind(last.ms)
        .bind(last.seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fresh.len())
    }
}

/// Row counts of the syncer's multi-row statements, largest first (see [`fixed_chunks`]).
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// Cuts `rows` into consecutive chunks whose lengths all come from [`CHUNK_SIZES`]
/// (100 rows → 64 + 16 + 16 + 4), so the syncer only ever sends five statement shapes.
///
/// Why it matters — found with `perf` on MariaDB during `bench inventory`: with one
/// statement per batch, every batch of a new size was a *new* statement text (`VALUES
/// (?, …), (?, …)` repeated n times), so sqlx prepared it afresh, and MariaDB's SQL
/// parser (`MYSQLparse`, plus page faults for the parse tree of thousands of
/// placeholders) was the top entry of its profile. Batch sizes follow the traffic, so
/// almost every batch was new. Five fixed shapes are parsed once per connection, kept in
/// sqlx's statement cache, and from then on only executed.
/// ✅ DO keep the number of distinct statement texts small and bounded (bind values,
/// fixed shapes); ❌ DON'T build SQL whose text varies with the data — each variant is
/// parsed, planned and cached on its own.
/// The price: a few more round trips per batch (10 for 1,000 rows), inside one
/// transaction, each far cheaper than re-parsing.
fn fixed_chunks<T>(rows: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut rest = rows;
    for size in CHUNK_SIZES {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            chunks.push(chunk);
            rest = tail;
        }
    }
    chunks
}

/// The last event id applied to MySQL (`(0, 0)` before the first).
///
/// Stream ids are `<milliseconds>-<sequence>` and grow monotonically, so "after the
/// cursor" is a plain tuple comparison. The two parts are stored as two BIGINT columns,
/// not one string: `"999-0" > "1000-0"` as strings, and the syncer would skip events.
/// Reconcile polls it to know when MySQL has caught up with a snapshot.
pub async fn read_cursor(pool: &MySqlPool) -> Result<(u64, u64), Error> {
    Ok(sqlx::query_as("SELECT last_ms, last_seq FROM inventory_sync_cursor WHERE id = 1")
        .fetch_one(pool)
        .await?)
}

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

/// A book whose Redis and MySQL counters differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
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
pub async fn reconcile(
    store: &StockStore,
    pool: &MySqlPool,
    books: &[u64],
    wait: Duration,
) -> Result<(u64, Vec<Drift>), Error> {
    // Step 1: Redis, atomically.
    let snap = store.snapshot().await?;
    // Bounded wait: an operator tool must answer, even if only "the syncer is behind".
    let deadline = tokio::time::Instant::now() + wait;
    // Step 2: until MySQL has applied at least up to the snapshot's last event.
    while read_cursor(pool).await? < snap.last_event {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::SyncerBehind);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ms, seq) = snap.last_event;
    // Step 3: both reads in one transaction, so both see the same InnoDB read view even if
    // the syncer commits between them. SUM over INT is DECIMAL in MySQL; CAST keeps it an
    // integer for the Rust side.
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
    let wanted = |b: &u64| books.is_empty() || books.contains(b);
    let mut mysql: BTreeMap<u64, Counters> = BTreeMap::new();
    for (b, a, l, s, t) in rows.into_iter().filter(|r| wanted(&r.0)) {
        mysql.insert(b, counters(b, [a, l, s, t]));
    }
    for (b, a, l, s, t) in later.into_iter().filter(|r| wanted(&r.0)) {
        let c = mysql.entry(b).or_insert_with(|| counters(b, [0; 4]));
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
            let r = redis.get(&b).copied().unwrap_or(counters(b, [0; 4]));
            let m = mysql.get(&b).copied().unwrap_or(counters(b, [0; 4]));
            (r != m).then_some(Drift { book_id: b, redis: r, mysql: m })
        })
        .collect();
    Ok((ids.len() as u64, drifts))
}

fn counters(book_id: u64, c: [i64; 4]) -> Counters {
    Counters { book_id, available: c[0], locked: c[1], sold: c[2], total: c[3] }
}

/// One row of `inventory_logs`, as GetStockLog shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogRow {
    pub id: u64,
    pub book_id: u64,
    /// Signed: negative when units leave (lock, sale), positive when they come back.
    pub quantity: i32,
    /// The course's type code (1 lock, 2 release, 3 decrement, 4 increment). `type` is
    /// a Rust keyword, hence the rename.
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
    // COUNT(*) walks the book's index range: cheap for one book's log, which is why the
    // proto promises a total per book and not for the whole table.
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inventory_logs WHERE book_id = ?")
        .bind(book_id)
        .fetch_one(pool)
        .await?;
    Ok((rows, total as u64))
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_SIZES, fixed_chunks};

    /// Every batch size is cut into chunks of the five fixed sizes, in order and without
    /// losing or repeating a row — the syncer's statement shapes stay bounded.
    #[test]
    fn batches_are_cut_into_fixed_statement_shapes() {
        for n in [0usize, 1, 3, 100, 255, 1000, 4000] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks = fixed_chunks(&rows);
            assert!(chunks.iter().all(|c| CHUNK_SIZES.contains(&c.len())), "{n}");
            assert_eq!(chunks.concat(), rows, "{n}");
        }
        let sizes: Vec<usize> = fixed_chunks(&[0u8; 100]).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 16, 16, 4]);
    }
}
