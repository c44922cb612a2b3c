//! The invariant board: the six promises of DESIGN.md §4, checked once a second from the
//! stores themselves — inventory's Redis counters, and inventory_db, order_db and
//! payment_db in MariaDB — for the sale's book and every order that touched it.
//!
//! Why the stores and not the APIs (the other experiments watch through the public RPCs):
//! the board is the auditor, and an auditor that asks the service "did you oversell?"
//! gets the service's opinion. Reading the rows each service wrote makes a bug in a
//! service's own bookkeeping visible instead of repeated. One query per database, joined
//! here in Rust rather than across databases in SQL: each service owns its database, and
//! in production they need not even share a server.
//!
//! ## Broken, lagging, fine
//!
//! Some promises hold at every instant, because one atomic step keeps them (a Lua script
//! changes all four counters at once): `available + locked + sold = total`, `sold ≤ stock`,
//! two confirms for one order. A single sample that breaks one is a bug: red at once.
//! Others hold only *after catch-up*, because two stores are written one after the other:
//! an order is Paid in order_db a moment before inventory confirms its unit; Redis changes
//! a moment before the syncer writes MySQL's copy. Those are "追赶中" (lagging) with their
//! age, and red only when the same difference has outlived [`GRACE`] — the line between
//! "eventually consistent" and "lost". Each difference is tracked by what it *is* (which
//! order, which values): under load the set changes every second, and only a difference
//! that stays the same for the whole grace period is a failure.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};

use bookstore_inventory::{domain::BookId, store::Keys};
use redis::AsyncCommands as _;

/// How long a cross-store difference may last before it counts as broken: the relay's
/// backoff caps at 10 s, order-service's sweeper retries a pending stock action every 2 s,
/// and a fault (a MariaDB pause, a restart) adds its own seconds on top.
pub const GRACE: Duration = Duration::from_secs(20);

/// Every query's deadline: a paused MariaDB makes the board say "unknown", not hang.
///
/// MariaDB's part gets twice this in total (six queries in a row); both together stay
/// under the tick's second only when the stores are healthy, which is when it matters.
const QUERY_DEADLINE: Duration = Duration::from_secs(2);

/// The six checks, in the board's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// Redis's `sold ≤ stock`, `avail ≥ 0`, `locked ≥ 0`, and the paid quantity ≤ stock.
    NoOversell,
    /// `avail + locked + sold = total = stock`, in Redis and in MySQL's copy.
    Conservation,
    /// One confirm per paid order in the ledger, none for an unpaid one; Redis's `sold`
    /// catches up with the paid quantity.
    PaidSoldOnce,
    /// No Pending order past its expiry, no lock held for a finished order, and Redis's
    /// `locked` catches up with the pending quantity.
    NoOrphanLock,
    /// MySQL's `inventory` row and the replayed `inventory_logs` both catch up with Redis.
    LedgerMatches,
    /// At most one successful payment per order, of its exact total, and only for an order
    /// that is (or becomes) Paid.
    PaymentBacked,
}

impl Invariant {
    /// The board's row order: the two checks one Redis read can settle first, then the
    /// cross-store ones in the order a checkout writes them (sale, lock, ledger), money last.
    pub const ALL: [Invariant; 6] = [
        Invariant::NoOversell,
        Invariant::Conservation,
        Invariant::PaidSoldOnce,
        Invariant::NoOrphanLock,
        Invariant::LedgerMatches,
        Invariant::PaymentBacked,
    ];

    /// The board's label.
    ///
    /// Each label is the promise in the lesson's own words, so the learner can match a
    /// red row to the sentence of the course it breaks.
    pub fn label(self) -> &'static str {
        match self {
            Invariant::NoOversell => "不超卖：已售 ≤ 库存，可用 ≥ 0",
            Invariant::Conservation => "守恒：可用 + 锁定 + 已售 = 总量",
            Invariant::PaidSoldOnce => "每个已支付订单恰好售出一次",
            Invariant::NoOrphanLock => "没有无主的锁（过期后锁必须释放）",
            Invariant::LedgerMatches => "账本（表、流水之和）追上 Redis",
            Invariant::PaymentBacked => "成功的支付都有已支付订单或退款",
        }
    }
}

/// One check's verdict in one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Holds,
    /// Differences that may still resolve, with the age of the oldest.
    Lagging {
        oldest: Duration,
        items: Vec<String>,
    },
    /// A difference that can never be lag, or lag that outlived [`GRACE`]; one line each.
    Broken(Vec<String>),
    /// A store did not answer (Redis stopped, MariaDB paused): no verdict this second.
    Unknown(String),
}

impl Verdict {
    /// Red (lag and unknown are not failures).
    pub fn is_broken(&self) -> bool {
        matches!(self, Verdict::Broken(_))
    }
}

/// One row of the board.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Which check this row is.
    pub invariant: Invariant,
    /// This sample's verdict.
    pub verdict: Verdict,
    /// The check was ever broken during the run (a red that turned green again is still
    /// a broken promise; the summary reports it).
    pub ever_broken: Option<Vec<String>>,
}

/// Inventory's four counters for the book.
///
/// As inventory's Lua scripts keep them: `avail + locked + sold = total` after every
/// script, because each script changes them in one atomic step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub avail: i64,
    pub locked: i64,
    pub sold: i64,
    pub total: i64,
}

/// One order of the book, as order_db has it.
#[derive(Clone, Debug)]
struct OrderRow {
    /// order_db's status (1 pending … 5 cancelled).
    status: i8,
    /// The order's total in cents (all its items; the sale orders one book per order).
    total: i64,
    /// Copies of the sale's book in this order (its `order_items` row).
    quantity: i64,
    /// Unix ms.
    /// End of the payment window: a Pending order past it should have been cancelled.
    expires_at: i64,
}

// order_db's and payment_db's status numbers (migrations/order, migrations/payment).
// Shipped and completed count as paid: both come after Paid, so the unit was sold.
// 5 is cancelled (which includes expired), 3 in payment_db is failed, 4 refunded.
const PENDING: i8 = 1;
const PAID_OR_LATER: [i8; 3] = [2, 3, 4];
const PAY_SUCCESS: i8 = 2;

/// What one sample read from the stores.
#[derive(Debug, Default)]
pub struct Sample {
    /// `None` when Redis did not answer this sample.
    pub redis: Option<Counters>,
    /// MySQL's copy (`inventory_db.inventory`), written by inventory's syncer; `None` when
    /// MariaDB failed or the syncer has not created the row yet.
    pub mysql: Option<Counters>,
    /// The sum of every change in `inventory_logs` for the book: the log replayed.
    logged: Option<Counters>,
    /// Every order of the book found in the ledger or given to a shopper, by id. A
    /// `BTreeMap` so the board lists differences in id order, the same every second.
    orders: BTreeMap<u64, OrderRow>,
    /// Confirms (inventory_logs type 3) per order.
    confirms: HashMap<u64, i64>,
    /// Reservations still locked (inventory_reservations state 1): order → quantity.
    locked: BTreeMap<u64, i64>,
    /// Payments per order: (payment_no, status, amount).
    payments: BTreeMap<u64, Vec<(String, i8, i64)>>,
    /// Why a store did not answer (one line per store), shown as the unknown reason.
    pub errors: Vec<String>,
    /// Every MariaDB query of the sample answered.
    pub mysql_ok: bool,
    /// Unix ms of the sample (order expiry is compared with it).
    now_ms: i64,
}

impl Sample {
    /// Orders by status, for the summary: (pending, paid, cancelled).
    pub fn order_counts(&self) -> (usize, usize, usize) {
        let count = |f: &dyn Fn(i8) -> bool| self.orders.values().filter(|o| f(o.status)).count();
        // Status 5 is cancelled, which order_db also uses for expired orders (the reason
        // column tells them apart, not needed here).
        (count(&|s| s == PENDING), count(&|s| PAID_OR_LATER.contains(&s)), count(&|s| s == 5))
    }
}

/// Reads the stores and keeps each difference's first sighting across samples.
///
/// Not `Clone` and owned by the run's loop: the first-sighting map is the board's memory,
/// and two boards would disagree about how old a difference is.
pub struct Board {
    book: u64,
    /// The stock the book was published with: what `total` must equal in every store.
    stock: i64,
    /// One pool for the three databases: the queries name their tables with the database
    /// (`order_db.orders`), which one MariaDB user with read rights on all three can run.
    pool: sqlx::MySqlPool,
    /// Kept to reconnect: the board opens its own connection after each failure.
    redis_url: String,
    /// Dropped after any failure and reopened at the next sample (see `read_redis`).
    redis: Option<redis::aio::MultiplexedConnection>,
    /// inventory's hash for the book, built by inventory's own `Keys`, so a change to the
    /// key layout cannot leave the board reading an empty key (and seeing zeros).
    stock_key: String,
    /// (check, difference) → when it was first seen.
    ///
    /// A monotonic `Instant`, so a wall-clock jump (NTP) cannot age a difference past the
    /// grace in one step or make it young again.
    seen: HashMap<(Invariant, String), Instant>,
    /// Differences that were ever red, per check (the first 20 of each).
    ever: BTreeMap<Invariant, Vec<String>>,
}

impl Board {
    /// `mysql_url` is the server (no database): the board reads three databases.
    pub fn new(mysql_url: &str, redis_url: &str, book: u64, stock: u32) -> anyhow::Result<Self> {
        // Two connections, opened lazily: the board's queries run one after another, and a
        // paused MariaDB must not make the lab wait at start-up.
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            // A frozen MariaDB accepts the TCP connection and then says nothing: without
            // this bound, opening a connection would wait for the pause to end.
            .acquire_timeout(QUERY_DEADLINE)
            .connect_lazy(mysql_url.trim_end_matches('/'))?;
        // The lab's stack runs inventory without a key prefix (only tests add one).
        // `BookId::parse` refuses 0, as inventory itself does: a board for a book
        // inventory would never accept fails at construction.
        let stock_key = Keys::new("")?.stock(BookId::parse(book)?);
        Ok(Self {
            book,
            stock: i64::from(stock),
            pool,
            redis_url: redis_url.to_string(),
            redis: None,
            stock_key,
            seen: HashMap::new(),
            ever: BTreeMap::new(),
        })
    }

    /// One sample of every store; `extra_orders` are ids the shoppers were given (an order
    /// that never locked stock is in no inventory table, but order_db still has it).
    pub async fn sample(&mut self, extra_orders: &[u64]) -> Sample {
        // Wall-clock ms, not an Instant: it is compared with `expires_at`, which MariaDB
        // stores as a wall-clock time.
        let mut s = Sample { now_ms: chrono::Utc::now().timestamp_millis(), ..Sample::default() };
        // Redis first: it is the system of record for stock, and its few microseconds
        // make the counters and the MySQL rows read right after it as close in time as two
        // stores can be. Still not one snapshot: a sale between the two reads shows as lag
        // for one second, which is why no cross-store difference is red at once.
        match tokio::time::timeout(QUERY_DEADLINE, self.read_redis()).await {
            Ok(Ok(c)) => s.redis = Some(c),
            // Dropped after an error: a connection that failed mid-command may deliver
            // a late reply, and the next sample must not read it as its own.
            Ok(Err(e)) => {
                self.redis = None;
                s.errors.push(format!("Redis: {e}"));
            }
            Err(_) => {
                self.redis = None;
                s.errors.push("Redis: no answer in 2 s".into());
            }
        }
        // One deadline around all six queries, not one each: the sample's cost is
        // bounded at 4 s whichever query the pause catches.
        let read = tokio::time::timeout(QUERY_DEADLINE * 2, self.read_mysql(&mut s, extra_orders));
        let failed = match read.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("MariaDB: {e}")),
            Err(_) => Some("MariaDB: no answer in 4 s (paused?)".into()),
        };
        // All of MariaDB's part or none of it: judging payments against half-read orders
        // would report "paid without a payment" for rows that were simply not read yet.
        if let Some(e) = failed {
            s.errors.push(e);
            // Everything MariaDB's part may have filled before the failure is dropped,
            // field by field, including what the earlier of the six queries did read.
            s.mysql_ok = false;
            s.mysql = None;
            s.logged = None;
            s.orders.clear();
            s.confirms.clear();
            s.locked.clear();
            s.payments.clear();
        } else {
            s.mysql_ok = true;
        }
        s
    }

    // Its own plain connection, not the services' reconnecting manager: the board must
    // report "Redis is not answering" at once while Redis is down, and a fresh connect per
    // sample after a failure is one loopback handshake.
    async fn read_redis(&mut self) -> anyhow::Result<Counters> {
        if self.redis.is_none() {
            let client = redis::Client::open(self.redis_url.as_str())?;
            self.redis = Some(client.get_multiplexed_async_connection().await?);
        }
        // One HGET of four fields (HMGET), so the four counters come from one instant
        // of Redis: four separate reads could straddle a script and not add up.
        let conn = self.redis.as_mut().expect("set above");
        let v: Vec<Option<i64>> =
            conn.hget(&self.stock_key, &["avail", "locked", "sold", "total"]).await?;
        // A missing field reads 0: before inventory has seen the book the hash is
        // absent, and the conservation check then reports `0 ≠ total`, which is true.
        let f = |i: usize| v.get(i).copied().flatten().unwrap_or(0);
        Ok(Counters { avail: f(0), locked: f(1), sold: f(2), total: f(3) })
    }

    // Six small queries, each served by an index: the book's row (primary key), its
    // ledger twice — the deltas' sums and the orders that touched it (`idx_book_id`) —,
    // reservations and orders by id (primary keys), payments by order (`idx_order_id`).
    // Once a second on a 2-core machine under load, a scan of
    // `order_items` (no book index; benches leave tens of thousands of rows) would be
    // the board's own load showing up in the sale's latency.
    async fn read_mysql(&self, s: &mut Sample, extra_orders: &[u64]) -> anyhow::Result<()> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            // MySQL's names for Redis's four fields: `stock` is `avail`. `fetch_optional`:
            // the row appears only after the syncer's first write for the book.
            "SELECT stock, locked_stock, sold_stock, total_stock FROM inventory_db.inventory \
             WHERE book_id = ?",
        )
        .bind(self.book)
        .fetch_optional(&self.pool)
        .await?;
        s.mysql = row.map(|(avail, locked, sold, total)| Counters { avail, locked, sold, total });
        // The log replayed by SQL: each row carries its four deltas, so their sums must be
        // the counters — a row the syncer applied to `inventory` but lost from the log (or
        // the reverse) shows here, where comparing the table with Redis would not.
        let sums: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(d_avail), 0) AS SIGNED), \
             CAST(COALESCE(SUM(d_locked), 0) AS SIGNED), \
             CAST(COALESCE(SUM(d_sold), 0) AS SIGNED), CAST(COALESCE(SUM(d_total), 0) AS SIGNED) \
             FROM inventory_db.inventory_logs WHERE book_id = ?",
        )
        .bind(self.book)
        .fetch_one(&self.pool)
        .await?;
        s.logged = Some(Counters { avail: sums.0, locked: sums.1, sold: sums.2, total: sums.3 });
        // Every order that ever locked the book, by the ledger's book index: the set of
        // orders the stock invariants are about, found without trusting the lab's own list.
        // CAST … AS SIGNED on computed columns: sqlx decodes by the exact column type, and
        // COALESCE of an unsigned column with a literal is not BIGINT UNSIGNED any more.
        let logs: Vec<(i64, i8, i64)> = sqlx::query_as(
            // One row per (order, ledger type) with its count: the confirms per order in
            // one query, without fetching every ledger row of a busy book.
            "SELECT CAST(COALESCE(order_id, 0) AS SIGNED), type, COUNT(*) \
             FROM inventory_db.inventory_logs WHERE book_id = ? GROUP BY order_id, type",
        )
        .bind(self.book)
        .fetch_all(&self.pool)
        .await?;
        let mut ids: HashSet<u64> = extra_orders.iter().copied().collect();
        for (order, kind, n) in logs {
            let order = order as u64;
            // `order_id` 0 marks a ledger row that belongs to no order (a restock, the
            // book's creation).
            if order != 0 {
                ids.insert(order);
                if kind == 3 {
                    s.confirms.insert(order, n);
                }
            }
        }
        // No order yet (the first seconds of the ramp): nothing to join against.
        if ids.is_empty() {
            return Ok(());
        }
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        // `list` is made of integers we formatted ourselves: safe to splice (an IN list of
        // unknown length cannot be one bind parameter).
        let locked: Vec<(u64, i64)> = sqlx::query_as(&format!(
            // State 1 is still locked; released (2) and confirmed (3) reservations are
            // settled and owe nothing.
            "SELECT order_id, CAST(quantity AS SIGNED) FROM inventory_db.inventory_reservations \
             WHERE book_id = {} AND state = 1 AND order_id IN ({list})",
            self.book
        ))
        .fetch_all(&self.pool)
        .await?;
        s.locked = locked.into_iter().collect();
        // The orders with their quantity of this book: the join picks the book's
        // item, and `o.id IN (…)` keeps it to the primary key.
        let orders: Vec<(u64, i8, i64, i64, i64)> = sqlx::query_as(&format!(
            // `UNIX_TIMESTAMP` of a DATETIME(3) is a decimal with a fraction: ×1000 and
            // CAST give whole ms, the unit `now_ms` is in.
            "SELECT o.id, o.status, o.total, CAST(i.quantity AS SIGNED), \
             CAST(UNIX_TIMESTAMP(o.expires_at) * 1000 AS SIGNED) \
             FROM order_db.orders o JOIN order_db.order_items i ON i.order_id = o.id \
             WHERE o.id IN ({list}) AND i.book_id = {}",
            self.book
        ))
        .fetch_all(&self.pool)
        .await?;
        s.orders = orders
            .into_iter()
            .map(|(id, status, total, quantity, expires_at)| {
                (id, OrderRow { status, total, quantity, expires_at })
            })
            .collect();
        // Every payment of those orders, any status: a second success or a wrong
        // amount is the thing to find, so the query must not filter by status.
        let payments: Vec<(String, u64, i8, i64)> = sqlx::query_as(&format!(
            "SELECT payment_no, order_id, status, amount FROM payment_db.payments \
             WHERE order_id IN ({list})"
        ))
        .fetch_all(&self.pool)
        .await?;
        for (no, order, status, amount) in payments {
            s.payments.entry(order).or_default().push((no, status, amount));
        }
        Ok(())
    }

    /// The board for one sample: each check's verdict, with lagging differences aged by
    /// their first sighting (see the module docs).
    pub fn judge(&mut self, s: &Sample) -> Vec<Row> {
        let now = Instant::now();
        // The (check, difference) pairs seen in this sample: whatever is not in it is
        // forgotten at the end, so a resolved difference cannot keep its old age.
        let mut live = HashSet::new();
        let mut rows = Vec::new();
        // Every check, every sample, in the board's order: a row that is skipped
        // when its store is down would make the board jump.
        for inv in Invariant::ALL {
            let (broken, lagging, unknown) = self.check(inv, s);
            let mut old = Vec::new();
            let mut young = Vec::new();
            let mut oldest = Duration::ZERO;
            // lesson:lag-or-loss:start
            // A difference is identified by its text, which names the order and the
            // values: the same text seen again is the same difference, aging;
            // a changed value is a new one, whose clock starts again.
            for item in lagging {
                let first = *self.seen.entry((inv, item.clone())).or_insert(now);
                live.insert((inv, item.clone()));
                let age = now - first;
                if age > GRACE {
                    old.push(format!("{item}（{} 秒未追上）", age.as_secs()));
                } else {
                    // Only the still-young differences set the row's age: the old ones are
                    // already reported as broken, with their own age in the text.
                    oldest = oldest.max(age);
                    young.push(item);
                }
            }
            let broken: Vec<String> = broken.into_iter().chain(old).collect();
            // lesson:lag-or-loss:end
            let verdict = if !broken.is_empty() {
                let ever = self.ever.entry(inv).or_default();
                for b in &broken {
                    // Capped at 20 per check: a systematic bug would otherwise
                    // grow the list by a line per order per second.
                    if !ever.contains(b) && ever.len() < 20 {
                        ever.push(b.clone());
                    }
                }
                Verdict::Broken(broken)
            // Broken wins over unknown: a difference Redis alone proves is red even
            // while MariaDB is down. Unknown wins over lagging: a lag judged from a
            // half-dead sample is a guess.
            } else if let Some(why) = unknown {
                Verdict::Unknown(why)
            } else if !young.is_empty() {
                Verdict::Lagging { oldest, items: young }
            } else {
                Verdict::Holds
            };
            // `ever` already includes this sample's reds (added above), so a row
            // that is red now always carries them in `ever_broken` too.
            rows.push(Row { invariant: inv, verdict, ever_broken: self.ever.get(&inv).cloned() });
        }
        // A difference that disappeared is forgotten: if it comes back, it is a new one.
        self.seen.retain(|k, _| live.contains(k));
        rows
    }

    /// One check: (broken now, lagging differences, why it cannot be judged).
    fn check(&self, inv: Invariant, s: &Sample) -> (Vec<String>, Vec<String>, Option<String>) {
        let mut broken = Vec::new();
        let mut lagging = Vec::new();
        // The first error line of each store, as the reason an "unknown" shows.
        let redis_down = s
            .redis
            .is_none()
            .then(|| s.errors.iter().find(|e| e.starts_with("Redis")).cloned().unwrap_or_default());
        let mysql_down = (!s.mysql_ok).then(|| {
            s.errors.iter().find(|e| e.starts_with("MariaDB")).cloned().unwrap_or_default()
        });
        // Only the Redis halves of the first two checks can be judged without MariaDB.
        // For those two, MariaDB being down still reaches the verdict as "unknown"
        // through the return value below, unless Redis already proved them broken.
        let needs_mysql = !matches!(inv, Invariant::NoOversell | Invariant::Conservation);
        if needs_mysql && mysql_down.is_some() {
            return (broken, lagging, mysql_down);
        }
        // Units of the sale's book in the orders whose status passes `f`: each order
        // holds one unit in the sale, but the sum is what the counters are compared with.
        let qty = |f: &dyn Fn(i8) -> bool| -> i64 {
            s.orders.values().filter(|o| f(o.status)).map(|o| o.quantity).sum()
        };
        // Units the shop owes: the paid (or later) orders' quantity of this book.
        let paid_qty = qty(&|st| PAID_OR_LATER.contains(&st));
        match inv {
            Invariant::NoOversell => {
                if let Some(c) = s.redis
                    // Negative `avail` or `locked` is the other face of an oversell: a script
                    // that moved units it did not have.
                    && (c.sold > self.stock || c.avail < 0 || c.locked < 0)
                {
                    broken.push(format!(
                        "book {}: sold {} avail {} locked {} (库存 {})",
                        self.book, c.sold, c.avail, c.locked, self.stock
                    ));
                }
                // Oversold in order_db's terms: more units paid for than exist, whatever
                // Redis says — the failure a shopper would see as "paid, never shipped".
                if paid_qty > self.stock {
                    broken.push(format!("已支付 {paid_qty} 件 > 库存 {}", self.stock));
                }
                return (broken, lagging, redis_down.or(mysql_down));
            }
            // Checked in both stores: Redis because sales happen there, MySQL because a
            // syncer that applied a change to some columns and not others would leave a row
            // that no longer adds up — while still matching Redis on the columns it did write.
            Invariant::Conservation => {
                for (store, c) in [("Redis", s.redis), ("MySQL", s.mysql)] {
                    if let Some(c) = c
                        // `total = stock` too: a restock nobody made, or a unit lost from all three
                        // counters, keeps the sum consistent with itself but not with the sale.
                        && (c.avail + c.locked + c.sold != c.total || c.total != self.stock)
                    {
                        broken.push(format!(
                            "{store}: {}+{}+{} = {} ≠ total {} / 库存 {}",
                            c.avail,
                            c.locked,
                            c.sold,
                            c.avail + c.locked + c.sold,
                            c.total,
                            self.stock
                        ));
                    }
                }
                return (broken, lagging, redis_down.or(mysql_down));
            }
            // Counted per order from the ledger, not from the counters: `sold` going up by
            // one per paid order would also hold if one order were confirmed twice and
            // another never — the sum hides exactly the double confirm this row is about.
            // A confirm for an order that was *not* paid (cancelled, expired) is a unit
            // handed over for nothing: broken at once, no lag explains it.
            Invariant::PaidSoldOnce => {
                for (id, o) in &s.orders {
                    let n = s.confirms.get(id).copied().unwrap_or(0);
                    let paid = PAID_OR_LATER.contains(&o.status);
                    match (paid, n) {
                        (_, n) if n > 1 => broken.push(format!("order {id}: 确认出库 {n} 次")),
                        // A confirm on a still-Pending order is not flagged here, although no
                        // lag explains it (the confirm follows the Paid commit, and the ledger is
                        // read before the orders): a gap — it shows only if the order later
                        // expires (status 5, caught by this arm).
                        (false, 1) if o.status != PENDING => {
                            broken.push(format!("order {id}: 未支付却已售出"))
                        }
                        // Paid in order_db, confirm not yet in the ledger: order-service confirms
                        // the unit after it marks the order Paid, and the syncer then writes the
                        // ledger — two writes behind, never at the same instant.
                        (true, 0) => lagging.push(format!("order {id}: 已支付、待确认出库")),
                        _ => {}
                    }
                }
                // The counters' view of the same promise. Skipped while MariaDB is down, when
                // `paid_qty` is computed from no rows at all.
                if let Some(c) = s.redis
                    && c.sold != paid_qty
                    && mysql_down.is_none()
                {
                    lagging.push(format!("Redis sold {} vs 已支付 {paid_qty} 件", c.sold));
                }
            }
            Invariant::NoOrphanLock => {
                // An order past its expiry plus two sweeps (the lab sweeps every 2 s) that is
                // still Pending means the sweeper is not doing its job.
                for (id, o) in &s.orders {
                    // 5 s past the deadline: two 2 s sweeps and a second of sampling. Red at once
                    // from there — the sweeper, not lag, is what ends a Pending order.
                    if o.status == PENDING && s.now_ms > o.expires_at + 5_000 {
                        broken.push(format!(
                            "order {id}: 已过期 {} 秒仍待支付",
                            (s.now_ms - o.expires_at) / 1000
                        ));
                    }
                }
                // A reservation still locked for an order that is no longer Pending: the
                // release or confirm has yet to reach inventory (order-service retries it
                // every sweep), so lag — unless it outlives the grace.
                for (id, q) in &s.locked {
                    match s.orders.get(id) {
                        Some(o) if o.status == PENDING => {}
                        // Paid but not confirmed, or cancelled but not released: order-service's
                        // stock action is still on its way (it retries every sweep).
                        Some(_) => lagging.push(format!("order {id}: 订单已结束，锁 {q} 件未释放")),
                        // LockStock committed in inventory but no order row exists in
                        // order_db (a kill between the two): lag while the release is on
                        // its way, red if it outlives the grace.
                        None => lagging.push(format!("order {id}: 订单不存在，锁 {q} 件")),
                    }
                }
                let pending = qty(&|st| st == PENDING);
                if let Some(c) = s.redis
                    && c.locked != pending
                    && mysql_down.is_none()
                {
                    lagging.push(format!("Redis locked {} vs 待支付 {pending} 件", c.locked));
                }
            }
            // Two copies of the ledger against Redis: the `inventory` row the syncer keeps,
            // and the log replayed (the sum of every row's deltas). Both lag Redis by the
            // syncer's batch; either one still different after the grace is a lost change.
            Invariant::LedgerMatches => {
                // Compared with Redis as a whole (all four counters via `!=`), but only three
                // are printed: `total` never changes during a sale.
                let Some(r) = s.redis else { return (broken, lagging, redis_down) };
                for (what, m) in [("inventory 表", s.mysql), ("inventory_logs 之和", s.logged)] {
                    match m {
                        Some(m) if m != r => lagging.push(format!(
                            "Redis {}/{}/{} vs {what} {}/{}/{}",
                            r.avail, r.locked, r.sold, m.avail, m.locked, m.sold
                        )),
                        Some(_) => {}
                        None => lagging.push(format!("{what}：还没有这本书")),
                    }
                }
            }
            // Money, from payment_db's side: a success must end as a Paid order (the relay
            // delivered) or a refund; the amount must be the order's total, because a
            // payment of anything else is money the shop lost or took. A Paid order with no
            // successful payment is the opposite leak — goods for nothing — and never lag:
            // the relay marks the order Paid only after the payment committed.
            Invariant::PaymentBacked => {
                for (id, o) in &s.orders {
                    // Every payment of the order, whatever its status: failed and refunded ones
                    // are history, only successes are money that must be accounted for.
                    let pays = s.payments.get(id).map(Vec::as_slice).unwrap_or_default();
                    let ok: Vec<_> = pays.iter().filter(|p| p.1 == PAY_SUCCESS).collect();
                    // Two successes for one order: the customer was charged twice. Never lag —
                    // payment-service keeps one live payment per order.
                    if ok.len() > 1 {
                        broken.push(format!("order {id}: {} 笔成功支付", ok.len()));
                    }
                    let paid = PAID_OR_LATER.contains(&o.status);
                    match ok.first() {
                        Some(p) if p.2 != o.total => {
                            broken.push(format!("{}: 金额 {} ≠ 订单总额 {}", p.0, p.2, o.total))
                        }
                        Some(p) if !paid => {
                            lagging.push(format!("{}: 成功，订单 {id} 未支付", p.0))
                        }
                        None if paid => broken.push(format!("order {id}: 已支付却没有成功的支付")),
                        _ => {}
                    }
                }
            }
        }
        // Which store's silence leaves a check unjudged: the three that compare
        // Redis with MySQL need both; PaymentBacked reads only MariaDB.
        let unknown = match inv {
            Invariant::LedgerMatches | Invariant::PaidSoldOnce | Invariant::NoOrphanLock => {
                redis_down.or(mysql_down)
            }
            _ => mysql_down,
        };
        (broken, lagging, unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A board over nothing: `judge` needs no connection, only the book and its stock.
    // Port 1 is never listened on: a test that accidentally sampled would fail loudly
    // instead of reading a real stack.
    fn board() -> Board {
        Board::new("mysql://root@127.0.0.1:1", "redis://127.0.0.1:1", 7, 10).unwrap()
    }

    // Ten units: two paid (one order each), one pending, seven for sale — consistent in
    // every store, so each test below breaks exactly one thing.
    fn sample() -> Sample {
        let c = Counters { avail: 7, locked: 1, sold: 2, total: 10 };
        let order =
            |status| OrderRow { status, total: 5900, quantity: 1, expires_at: i64::MAX / 2 };
        let mut s = Sample {
            redis: Some(c),
            mysql: Some(c),
            logged: Some(c),
            mysql_ok: true,
            now_ms: 1_000,
            ..Sample::default()
        };
        s.orders = BTreeMap::from([(1, order(2)), (2, order(2)), (3, order(PENDING))]);
        s.confirms = HashMap::from([(1, 1), (2, 1)]);
        s.locked = BTreeMap::from([(3, 1)]);
        s.payments = BTreeMap::from([
            (1, vec![("PAY1".into(), PAY_SUCCESS, 5900)]),
            (2, vec![("PAY2".into(), PAY_SUCCESS, 5900)]),
        ]);
        s
    }

    fn verdict(rows: &[Row], inv: Invariant) -> &Verdict {
        &rows.iter().find(|r| r.invariant == inv).unwrap().verdict
    }

    /// The consistent sample holds everywhere; a double confirm or an oversold counter is
    /// red at once — those can never be lag.
    #[tokio::test]
    async fn atomic_promises_break_at_once() {
        // The order matters: the first assertion proves the baseline sample is green, so
        // each red below is caused by the one field that test changed.
        let mut b = board();
        assert!(b.judge(&sample()).iter().all(|r| r.verdict == Verdict::Holds));
        let mut s = sample();
        // A double confirm: one order, two units handed over. The sum `sold` would hide
        // it if another order had none, which is why the row counts per order.
        s.confirms.insert(1, 2);
        assert!(verdict(&b.judge(&s), Invariant::PaidSoldOnce).is_broken());
        let mut s = sample();
        // One unit sold twice: sold 11 of 10, and the four counters no longer add up.
        s.redis = Some(Counters { avail: -1, locked: 1, sold: 11, total: 10 });
        let rows = b.judge(&s);
        assert!(verdict(&rows, Invariant::NoOversell).is_broken());
        assert!(verdict(&rows, Invariant::Conservation).is_broken());
    }

    /// A confirm on its way is lagging, not broken, and a broken promise stays on the
    /// board (`ever_broken`) after it turned green again.
    #[tokio::test]
    async fn a_difference_is_lag_until_it_outlives_the_grace() {
        let mut b = board();
        let mut s = sample();
        // Order 2 is Paid but its confirm has not arrived; the counters say so too
        // (two units locked and one sold, not one and two), the same in every store.
        s.confirms.remove(&2);
        s.redis = Some(Counters { avail: 7, locked: 2, sold: 1, total: 10 });
        s.mysql = s.redis;
        s.logged = s.redis;
        let rows = b.judge(&s);
        assert!(matches!(verdict(&rows, Invariant::PaidSoldOnce), Verdict::Lagging { .. }));
        // Pretend it was first seen longer ago than the grace allows.
        for seen in b.seen.values_mut() {
            *seen -= GRACE + Duration::from_secs(1);
        }
        let rows = b.judge(&s);
        assert!(verdict(&rows, Invariant::PaidSoldOnce).is_broken());
        // The confirm arrives: green now, but `ever_broken` must remember the red — the
        // regression it catches is a board that forgets and passes a healed sale.
        let rows = b.judge(&sample());
        let row = rows.iter().find(|r| r.invariant == Invariant::PaidSoldOnce).unwrap();
        assert_eq!(row.verdict, Verdict::Holds);
        assert!(row.ever_broken.is_some(), "the broken promise is remembered");
    }

    /// Without MariaDB nothing is called broken from half-read rows — every check is
    /// "unknown" — except what Redis alone proves broken.
    #[tokio::test]
    async fn a_paused_mariadb_is_unknown_not_broken() {
        let mut b = board();
        // What `sample` leaves after a MariaDB timeout: no rows, `mysql_ok` false,
        // an error line. With no orders read, a naive check would call every paid
        // order's payment missing.
        let paused = |redis| Sample {
            redis: Some(redis),
            errors: vec!["MariaDB: no answer in 4 s (paused?)".into()],
            ..Sample::default()
        };
        let rows = b.judge(&paused(Counters { avail: 7, locked: 1, sold: 2, total: 10 }));
        for inv in Invariant::ALL {
            assert!(matches!(verdict(&rows, inv), Verdict::Unknown(_)), "{inv:?}");
        }
        // 7+1+3 = 11 ≠ 10: Redis alone proves it, so it is red with MariaDB down.
        let rows = b.judge(&paused(Counters { avail: 7, locked: 1, sold: 3, total: 10 }));
        assert!(verdict(&rows, Invariant::Conservation).is_broken());
    }

    /// A paid order needs its successful payment, of its exact total.
    #[tokio::test]
    async fn a_paid_order_without_its_payment_is_broken() {
        let mut b = board();
        let mut s = sample();
        s.payments.remove(&2);
        assert!(verdict(&b.judge(&s), Invariant::PaymentBacked).is_broken());
        let mut s = sample();
        // A success of 1 cent for a 59.00 order: the amount check, separately from the
        // "has a payment" check above.
        s.payments.insert(2, vec![("PAY2".into(), PAY_SUCCESS, 1)]);
        assert!(verdict(&b.judge(&s), Invariant::PaymentBacked).is_broken());
    }
}
