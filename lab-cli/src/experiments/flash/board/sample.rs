//! One sample of the stores the board audits: Redis's counters for the book, then
//! MariaDB's copy, ledger, reservations, orders and payments, all or nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use redis::AsyncCommands as _;

use super::{Board, QUERY_DEADLINE};

/// Inventory's four counters for the book.
///
/// As inventory's Lua scripts keep them: `avail + locked + sold = total` after every
/// script, because each script changes them in one atomic step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Units a new order can still lock (`stock` in MySQL's copy).
    pub avail: i64,
    /// Units held for Pending orders: back to `avail` when an order is cancelled or
    /// expires, on to `sold` when it is paid.
    pub locked: i64,
    /// Units confirmed for paid orders.
    pub sold: i64,
    /// The units the book was published with; a sale moves units between the other three
    /// and never changes this one.
    pub total: i64,
}

/// One order of the book, as order_db has it.
#[derive(Clone, Debug)]
pub(super) struct OrderRow {
    /// order_db's status (1 pending … 5 cancelled).
    pub(super) status: i8,
    /// The order's total in cents (all its items; the sale orders one book per order).
    pub(super) total: i64,
    /// Copies of the sale's book in this order (its `order_items` row).
    pub(super) quantity: i64,
    /// Unix ms.
    /// End of the payment window: a Pending order past it should have been cancelled.
    pub(super) expires_at: i64,
}

// order_db's and payment_db's status numbers (migrations/order, migrations/payment).
// Shipped and completed count as paid: both come after Paid, so the unit was sold.
// 5 is cancelled (which includes expired), 3 in payment_db is failed, 4 refunded.
pub(super) const PENDING: i8 = 1;
pub(super) const PAID_OR_LATER: [i8; 3] = [2, 3, 4];
pub(super) const PAY_SUCCESS: i8 = 2;

/// What one sample read from the stores.
#[derive(Debug, Default)]
pub struct Sample {
    /// `None` when Redis did not answer this sample.
    pub redis: Option<Counters>,
    /// MySQL's copy (`inventory_db.inventory`), written by inventory's syncer; `None` when
    /// MariaDB failed or the syncer has not created the row yet.
    pub mysql: Option<Counters>,
    /// The sum of every change in `inventory_logs` for the book: the log replayed.
    pub(super) logged: Option<Counters>,
    /// Every order of the book found in the ledger or given to a shopper, by id. A
    /// `BTreeMap` so the board lists differences in id order, the same every second.
    pub(super) orders: BTreeMap<u64, OrderRow>,
    /// Confirms (inventory_logs type 3) per order.
    pub(super) confirms: HashMap<u64, i64>,
    /// Reservations still locked (inventory_reservations state 1): order → quantity.
    pub(super) locked: BTreeMap<u64, i64>,
    /// Payments per order: (payment_no, status, amount).
    pub(super) payments: BTreeMap<u64, Vec<(String, i8, i64)>>,
    /// Why a store did not answer (one line per store), shown as the unknown reason.
    /// Each line starts with its store (`Redis: …`, `MariaDB: …`): `check` picks a row's
    /// reason by that prefix, so a new message must keep it.
    pub errors: Vec<String>,
    /// Every MariaDB query of the sample answered. `false` also in a `Sample::default()`,
    /// so a sample nobody filled reads as "MariaDB unknown", never as "no orders".
    pub mysql_ok: bool,
    /// Unix ms of the sample (order expiry is compared with it).
    pub(super) now_ms: i64,
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

impl Board {
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
        // In this order: the counters, then the ledger (which finds the orders), then the
        // orders' own rows, which need the ids the ledger found.
        self.read_copies(s).await?;
        let ids = self.read_ledger_orders(s, extra_orders).await?;
        // No order yet (the first seconds of the ramp): nothing to join against.
        if ids.is_empty() {
            return Ok(());
        }
        self.read_orders(s, &ids).await
    }

    /// MySQL's two copies of the counters: the `inventory` row and the log's sums.
    async fn read_copies(&self, s: &mut Sample) -> anyhow::Result<()> {
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
        Ok(())
    }

    /// The ids of every order in the book's ledger plus `extra_orders`; fills the confirms.
    async fn read_ledger_orders(
        &self,
        s: &mut Sample,
        extra_orders: &[u64],
    ) -> anyhow::Result<HashSet<u64>> {
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
        Ok(ids)
    }

    /// The reservations still locked, the orders and the payments of the orders `ids`.
    async fn read_orders(&self, s: &mut Sample, ids: &HashSet<u64>) -> anyhow::Result<()> {
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
}
