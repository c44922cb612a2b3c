//! The six checks, each reading one [`Sample`]: what is broken now, what may still be lag.
//!
//! Every check is a pure function of one sample; only [`Board::judge`] remembers across
//! samples, so a check can be tested by building a `Sample` by hand.

use super::{
    Board, Counters, Invariant,
    sample::{PAID_OR_LATER, PAY_SUCCESS, PENDING, Sample},
};

/// What one check found in one sample: (broken now, differences that may still be lag).
type Found = (Vec<String>, Vec<String>);

impl Board {
    /// One check: (broken now, lagging differences, why it cannot be judged).
    ///
    /// The reason is `Some` when a store the check reads did not answer; broken lines may
    /// still come with it (Redis alone proved a counter check red), and `judge` lets them
    /// win. Lagging lines are only candidates: `judge` decides from their age whether
    /// they are still lag.
    pub(super) fn check(
        &self,
        inv: Invariant,
        s: &Sample,
    ) -> (Vec<String>, Vec<String>, Option<String>) {
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
            return (Vec::new(), Vec::new(), mysql_down);
        }
        let (broken, lagging) = match inv {
            Invariant::NoOversell => self.no_oversell(s),
            Invariant::Conservation => self.conservation(s),
            Invariant::PaidSoldOnce => paid_sold_once(s),
            Invariant::NoOrphanLock => no_orphan_lock(s),
            // Compared with Redis as a whole, so nothing to judge while Redis is silent.
            Invariant::LedgerMatches => {
                let Some(r) = s.redis else { return (Vec::new(), Vec::new(), redis_down) };
                ledger_matches(r, s)
            }
            Invariant::PaymentBacked => payment_backed(s),
        };
        // Which store's silence leaves a check unjudged: every check that reads Redis
        // needs it (the first two settle on Redis alone only when it proves them broken);
        // PaymentBacked reads only MariaDB.
        let unknown = match inv {
            Invariant::PaymentBacked => mysql_down,
            _ => redis_down.or(mysql_down),
        };
        (broken, lagging, unknown)
    }

    /// Redis's counters within the stock, and no more units paid for than exist.
    fn no_oversell(&self, s: &Sample) -> Found {
        let mut broken = Vec::new();
        // Judged even while MariaDB is down: `paid_qty` is then 0 (no rows were read),
        // which can never exceed the stock, so that half stays silent rather than wrong.
        let paid_qty = quantity(s, |st| PAID_OR_LATER.contains(&st));
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
        (broken, Vec::new())
    }

    /// The four counters add up to the published stock, in Redis and in MySQL's copy.
    ///
    /// Checked in both stores: Redis because sales happen there, MySQL because a
    /// syncer that applied a change to some columns and not others would leave a row
    /// that no longer adds up — while still matching Redis on the columns it did write.
    fn conservation(&self, s: &Sample) -> Found {
        let mut broken = Vec::new();
        // A store without counters (`None`: Redis silent, or the syncer has not written the
        // row yet) is skipped, not red: a missing copy is LedgerMatches' business.
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
        (broken, Vec::new())
    }
}

/// Units of the sale's book in the orders whose status passes `f`: each order holds one
/// unit in the sale, but the sum is what the counters are compared with.
///
/// Reads order_db's rows only, so it is 0 in a sample where MariaDB did not answer.
fn quantity(s: &Sample, f: impl Fn(i8) -> bool) -> i64 {
    s.orders.values().filter(|o| f(o.status)).map(|o| o.quantity).sum()
}

/// One confirm per paid order, none for an unpaid one, and Redis's `sold` catching up.
///
/// Counted per order from the ledger, not from the counters: `sold` going up by
/// one per paid order would also hold if one order were confirmed twice and
/// another never — the sum hides exactly the double confirm this row is about.
/// A confirm for an order that was *not* paid (cancelled, expired) is a unit
/// handed over for nothing: broken at once, no lag explains it.
fn paid_sold_once(s: &Sample) -> Found {
    let (mut broken, mut lagging) = (Vec::new(), Vec::new());
    for (id, o) in &s.orders {
        let n = s.confirms.get(id).copied().unwrap_or(0);
        let paid = PAID_OR_LATER.contains(&o.status);
        match (paid, n) {
            (_, n) if n > 1 => broken.push(format!("order {id}: 确认出库 {n} 次")),
            // A confirm on a still-Pending order is not flagged here, although no
            // lag explains it (the confirm follows the Paid commit, and the ledger is
            // read before the orders): a gap — it shows only if the order later
            // expires (status 5, caught by this arm).
            (false, 1) if o.status != PENDING => broken.push(format!("order {id}: 未支付却已售出")),
            // Paid in order_db, confirm not yet in the ledger: order-service confirms
            // the unit after it marks the order Paid, and the syncer then writes the
            // ledger — two writes behind, never at the same instant.
            (true, 0) => lagging.push(format!("order {id}: 已支付、待确认出库")),
            _ => {}
        }
    }
    // The counters' view of the same promise. Only reached with MariaDB's part read
    // (`check` returns "unknown" before), so `paid_qty` counts real rows, not an empty sample.
    let paid_qty = quantity(s, |st| PAID_OR_LATER.contains(&st));
    if let Some(c) = s.redis
        && c.sold != paid_qty
    {
        lagging.push(format!("Redis sold {} vs 已支付 {paid_qty} 件", c.sold));
    }
    (broken, lagging)
}

/// No Pending order left past its expiry, no lock held for an order that ended.
///
/// Three stores meet here: order_db's statuses and expiries, inventory_db's reservations
/// still in state 1 (locked), and Redis's `locked` counter.
fn no_orphan_lock(s: &Sample) -> Found {
    let (mut broken, mut lagging) = (Vec::new(), Vec::new());
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
            // A Pending order holding its lock is the design, not an orphan: the unit
            // is what it is waiting to pay for (expiry is checked above).
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
    let pending = quantity(s, |st| st == PENDING);
    if let Some(c) = s.redis
        && c.locked != pending
    {
        lagging.push(format!("Redis locked {} vs 待支付 {pending} 件", c.locked));
    }
    (broken, lagging)
}

/// MySQL's `inventory` row and the replayed log, each against Redis's counters `r`.
///
/// Two copies of the ledger against Redis: the `inventory` row the syncer keeps,
/// and the log replayed (the sum of every row's deltas). Both lag Redis by the
/// syncer's batch; either one still different after the grace is a lost change.
fn ledger_matches(r: Counters, s: &Sample) -> Found {
    let mut lagging = Vec::new();
    // Compared with Redis as a whole (all four counters via `!=`), but only three
    // are printed: `total` never changes during a sale.
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
    (Vec::new(), lagging)
}

/// Each order's successful payments: at most one, of its total, behind a Paid order.
///
/// Money, from payment_db's side: a success must end as a Paid order (the relay
/// delivered) or a refund; the amount must be the order's total, because a
/// payment of anything else is money the shop lost or took. A Paid order with no
/// successful payment is the opposite leak — goods for nothing — and never lag:
/// the relay marks the order Paid only after the payment committed.
fn payment_backed(s: &Sample) -> Found {
    let (mut broken, mut lagging) = (Vec::new(), Vec::new());
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
        // Only the first success's amount is checked: a second success is already red
        // above, whatever its amount.
        match ok.first() {
            Some(p) if p.2 != o.total => {
                broken.push(format!("{}: 金额 {} ≠ 订单总额 {}", p.0, p.2, o.total))
            }
            // A success whose order is not Paid yet: the relay delivers only after the
            // payment committed, so lag until the grace. A refund would have moved the
            // payment to status 4 and out of `ok`, so it never reaches this arm.
            Some(p) if !paid => lagging.push(format!("{}: 成功，订单 {id} 未支付", p.0)),
            None if paid => broken.push(format!("order {id}: 已支付却没有成功的支付")),
            _ => {}
        }
    }
    (broken, lagging)
}
