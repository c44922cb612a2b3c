//! order_db: SQL only, no rules (the rules are in `domain`, the orchestration in `create`).
//!
//! Timestamps are `DATETIME(3)` (milliseconds) and the database's `NOW(3)`, never this
//! process's clock: with two order-service instances (or one whose clock jumps), "is this
//! order expired?" must have one answer, and the sweeper's `expires_at < NOW(3)` and the
//! insert's `NOW(3) + INTERVAL` read one clock.
//!
//! Three tables (`migrations/order`):
//!
//! | table | a row is | lives from … to … |
//! |---|---|---|
//! | `order_intents` | a creation in progress: the reserved order id, the claimed key | the claim → the commit, or its abandonment |
//! | `orders` | an order: status, total, expiry, the stock action it still owes | for good |
//! | `order_items` | one line: book, quantity, the title and price snapshotted | with its order |
//!
//! Which index answers which question (every query here is one of these, none scans):
//!
//! | question | index |
//! |---|---|
//! | has this user's key produced an order? | `uk_order_user_key (user_id, idempotency_key)` |
//! | is this user's key being used right now? | `uk_intent_user_key (user_id, idempotency_key)` |
//! | which creations are stale? (sweeper) | `idx_intent_created (created_at)` |
//! | which Pending orders expired? (sweeper) | `idx_status_expires (status, expires_at)` |
//! | which orders owe inventory? (sweeper) | `idx_stock_action (stock_action)` |
//! | this user's orders, newest first | `idx_user_created (user_id, created_at, id)` |
//! | an order's lines | `order_items.idx_order_id` |
//!
//! The two unique keys `(user_id, idempotency_key)` — one on intents, one on orders — are
//! what make "one key, one order" true under any concurrency; every rule about keys in
//! this module is a consequence of them, not a replacement.
//!
//! Why creations in progress are a table of their own (`order_intents`) and not an order
//! with a "Creating" status: every query about orders — lists, expiry, owed actions — would
//! have to exclude that status, and one that forgot would show a shopper an order that may
//! never exist, or expire one that was never placed. With the intent apart, a row in
//! `orders` is always a committed fact, and the sweeper's "dead creation" query reads a
//! small table of its own.
//!
//! Lock order, for the statements that take row locks: an intent (`abandon`, and
//! `commit_order`'s DELETE) is always locked before anything else of its order; the
//! sweeper's expiry locks only `orders` rows. No statement locks an order and then an
//! intent, so no two of them can wait on each other in a cycle.

use chrono::NaiveDateTime;
use sqlx::{MySqlPool, Row, mysql::MySqlRow};

use crate::{
    Error,
    domain::{Status, StockAction},
};

/// One order with its lines, as stored.
#[derive(Clone, Debug)]
pub struct OrderRow {
    /// The intent's id, kept: the order id is reserved before LockStock, so inventory's
    /// lock and the order carry the same key from the start.
    pub id: u64,
    /// `BK` + day + id, for receipts (see [`crate::domain::order_no`]).
    pub order_no: String,
    pub user_id: u64,
    /// Cents: the lines' snapshotted prices × quantities, fixed at creation.
    pub total: i64,
    pub status: Status,
    /// The canonical basket (`"7x2,42x1"`) the idempotency key is bound to. Kept on the
    /// order, not only on the intent: the intent is gone once the order commits, and a
    /// replay days later must still be compared with what the key first asked for.
    pub request_body: String,
    /// Why it was cancelled (`expired`, the shopper's text); empty otherwise.
    pub cancel_reason: String,
    /// Stock work inventory still owes an acknowledgement for (see [`StockAction`]).
    pub stock_action: StockAction,
    pub created_at: NaiveDateTime,
    /// Changed by every transition; the sweeper's grace period reads it.
    pub updated_at: NaiveDateTime,
    /// The end of the payment window; meaningful while Pending.
    pub expires_at: NaiveDateTime,
    /// Filled by a second query (`with_items` / `attach_items`), empty straight from a row.
    pub items: Vec<ItemRow>,
}

/// One line: the snapshot of title and unit price taken at creation.
#[derive(Clone, Debug)]
pub struct ItemRow {
    pub book_id: u64,
    /// The catalogue's title when the order was created: receipts and order history read
    /// right even after the book is renamed or withdrawn.
    pub title: String,
    pub quantity: i32,
    /// Unit price in cents at creation: what the customer agreed to pay.
    pub price: i64,
}

/// The new order's fields, for [`Store::commit_order`]: everything decided before the
/// commit, so the transaction itself makes no decision and calls nobody.
pub struct NewOrder<'a> {
    pub id: u64,
    pub order_no: &'a str,
    pub user_id: u64,
    pub total: i64,
    /// The idempotency key, or `None` (stored as NULL: the unique index ignores NULLs, so
    /// any number of key-less orders coexist).
    pub key: Option<&'a str>,
    pub request_body: &'a str,
    /// Seconds from the commit (MySQL's clock) to `expires_at`.
    pub expires_in_secs: u64,
    pub items: &'a [ItemRow],
}

/// What claiming an idempotency key found.
///
/// Three outcomes and not two, because a key has three states: free, being used right now
/// (an intent), used (an order). A design with only "free / used" has to pick a wrong
/// answer for a retry that arrives while the first attempt is still running: a second
/// order, or an error for a request that is about to succeed.
pub enum Claim {
    /// The key (or no key) is ours: a fresh intent with this id, which becomes the order id.
    New(u64),
    /// An intent with this key exists: another request is creating it, or one crashed.
    /// The caller may resume under `id` if `request_body` matches its own basket.
    InFlight { id: u64, request_body: String },
    /// The key already produced an order: a replay, answered with it (if the basket
    /// matches) without touching inventory.
    Done(OrderRow),
}

/// What a conditional status change did.
///
/// A value, not an error, for each outcome: the caller (`api::move_to`) decides what each
/// means for *its* caller — `Already` is success for a retry, `Owes` is "settle and try
/// again", `Illegal` and `Expired` are refusals with different messages.
pub enum Transition {
    /// It happened: the order as it is now, and the stock action *this* change owes
    /// (settle that one — the row may already show a later change's).
    Changed(OrderRow, StockAction),
    /// The order still owes inventory the stock work of its previous change: settle that
    /// first, then try again (see [`Store::transition`]).
    Owes(OrderRow),
    /// The order already had the target status: nothing to do (a retry).
    Already(OrderRow),
    /// The state machine forbids it from the order's current status.
    Illegal(OrderRow),
    /// A Pending order past its expiry cannot be paid (the sweeper is about to cancel it).
    /// A state of its own so the caller's message can say "expired", the one refusal a
    /// shopper (and payment-service's refund) needs explained.
    Expired(OrderRow),
}

/// The columns [`order_from_row`] reads, named once for every `SELECT` of an order.
const COLS: &str = "id, order_no, user_id, total, status, request_body, cancel_reason, \
                    stock_action, created_at, updated_at, expires_at";

/// order_db: a pool handle, cheap to clone into the handlers and the sweeper.
#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    /// A store over a migrated `order_db` pool.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Writes the intent that reserves an order id — and, with a key, claims the key.
    ///
    /// ✅ DO claim with the unique index: the INSERT either wins or fails with a duplicate,
    /// atomically, however many retries arrive at once. ❌ DON'T `SELECT … WHERE key = ?`
    /// and insert when nothing is found: two concurrent retries both find nothing, both
    /// insert, and the buyer gets two orders and two locks for one click.
    // lesson:claim:start
    ///
    /// ```text
    /// retry A: INSERT intent(key) → ok, id 42          retry B: INSERT intent(key) → duplicate
    ///          … LockStock(42) …                                find_by_key → none yet
    ///                                                           SELECT intent → 42: InFlight
    ///          commit: DELETE intent 42 → 1 row                 resumes as 42: LockStock(42)
    ///                                                           (idempotent), commit: 0 rows
    ///                                                           → answers order 42, replayed
    /// ```
    pub async fn claim(&self, user_id: u64, key: Option<&str>, body: &str) -> Result<Claim, Error> {
        // A committed order holds its key in `orders` (its intent is gone): look there
        // first. This read is only the fast path for retries; the guarantee is still the
        // unique index — an order committed between this read and our commit makes the
        // commit fail on `uk_order_user_key`, and `commit_order` reports it as `KeyTaken`.
        if let Some(key) = key
            && let Some(order) = self.find_by_key(user_id, key).await?
        {
            return Ok(Claim::Done(order));
        }
        // Two rounds at most: the first INSERT loses to an intent that then turns into an
        // order (or is swept) before our SELECT runs; the second sees the settled state.
        // Autocommit INSERTs, not a transaction: the unique index answers at once, and no
        // lock is held while the request goes on to call inventory.
        for _ in 0..2 {
            // The intent's AUTO_INCREMENT id becomes the order id: unique before anything
            // else happens, so it can name inventory's lock from the very first call.
            let inserted = sqlx::query(
                "INSERT INTO order_intents (user_id, idempotency_key, request_body, created_at) \
                 VALUES (?, ?, ?, NOW(3))",
            )
            .bind(user_id)
            .bind(key)
            .bind(body)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(r) => return Ok(Claim::New(r.last_insert_id())),
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
                Err(e) => return Err(e.into()),
            }
            // A NULL key never collides (NULLs are distinct in a unique index), so a
            // duplicate here always has a key; a key-less claim returned `New` above.
            let key = key.expect("only keyed intents can collide");
            // Lost the INSERT: the key is taken by an order (done) or an intent (in flight).
            // Orders first, because an intent turns into an order, never the other way.
            if let Some(order) = self.find_by_key(user_id, key).await? {
                return Ok(Claim::Done(order));
            }
            // The intent's basket comes back too: the caller may only resume a creation
            // of the same basket.
            let intent = sqlx::query(
                "SELECT id, request_body FROM order_intents WHERE user_id = ? AND idempotency_key = ?",
            )
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = intent {
                return Ok(Claim::InFlight {
                    id: row.try_get("id")?,
                    request_body: row.try_get("request_body")?,
                });
            }
        }
        // Both rounds found the key taken and then gone again: it is changing faster than we
        // can read it. ABORTED tells the client that the same request, retried, is safe.
        Err(Error::Aborted("idempotency key is changing state; retry".into()))
    }
    // lesson:claim:end

    /// The order `user_id` created with `key`, if any: one lookup on `uk_order_user_key`.
    pub async fn find_by_key(&self, user_id: u64, key: &str) -> Result<Option<OrderRow>, Error> {
        // The user is part of the lookup: a key is only ever someone's key.
        let sql = format!("SELECT {COLS} FROM orders WHERE user_id = ? AND idempotency_key = ?");
        let row = sqlx::query(&sql).bind(user_id).bind(key).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some(self.with_items(order_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// Turns intent `id` into the order, in one transaction: delete the intent, insert the
    /// order and its lines. Returns `None` when the intent was gone — another request with
    /// the same key committed first, or the sweeper released it — and then nothing is written.
    ///
    /// Fails with [`Error::KeyTaken`] when another order committed with the same key in the
    /// meantime (the unique index on `orders` caught it; nothing was written).
    ///
    /// The DELETE comes first on purpose: it takes the intent's row lock, so this commit and
    /// the sweeper (which holds that lock while it releases the stock) are serialised — one of
    /// them wins, the other sees 0 rows. That is the whole crash-safety argument in one
    /// statement: a lock is either owned by a committed order or released by the sweeper.
    pub async fn commit_order(&self, o: &NewOrder<'_>) -> Result<Option<OrderRow>, Error> {
        // Everything in one transaction: the intent disappears exactly when the order
        // appears, so at no instant can the sweeper see neither (and release a lock that an
        // order owns) or both (and count a creation twice).
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM order_intents WHERE id = ?")
            .bind(o.id)
            .execute(&mut *tx)
            .await?;
        // 0 rows: the intent is gone, so this creation no longer owns its lock (another
        // request committed under it, or the sweeper released it). Writing the order now
        // would create an order whose stock may already be someone else's.
        if gone.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        // The intent's id becomes the order's id (explicit, not AUTO_INCREMENT): the id
        // inventory's lock is keyed by must be the id of the order that owns it. Status 1 is
        // Pending; the expiry is computed by MySQL, from the same clock the sweeper reads.
        sqlx::query(
            "INSERT INTO orders (id, order_no, user_id, total, status, idempotency_key, request_body, \
             created_at, updated_at, expires_at) \
             VALUES (?, ?, ?, ?, 1, ?, ?, NOW(3), NOW(3), NOW(3) + INTERVAL ? SECOND)",
        )
        .bind(o.id)
        .bind(o.order_no)
        .bind(o.user_id)
        .bind(o.total)
        .bind(o.key)
        .bind(o.request_body)
        .bind(o.expires_in_secs)
        .execute(&mut *tx)
        .await
        // `uk_order_user_key`: another request's order took our key between our claim and
        // now. Nothing is written (the `?` drops the transaction, which rolls it back).
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::KeyTaken,
            e => e.into(),
        })?;
        // One multi-row INSERT for all lines: one round trip instead of up to 50. `Lines`
        // refused an empty basket, so `push_values` always has at least one row.
        let mut items = sqlx::QueryBuilder::new(
            "INSERT INTO order_items (order_id, book_id, title, quantity, price) ",
        );
        // Title and price are the snapshot, written once with the order and never updated:
        // the line says what was sold at what price, whatever the catalogue says later.
        items.push_values(o.items, |mut b, i| {
            b.push_bind(o.id)
                .push_bind(i.book_id)
                .push_bind(&i.title)
                .push_bind(i.quantity)
                .push_bind(i.price);
        });
        items.build().execute(&mut *tx).await?;
        // Read back inside the transaction: the timestamps are MySQL's `NOW(3)`, which this
        // process does not know until it asks.
        let sql = format!("SELECT {COLS} FROM orders WHERE id = ?");
        let row = sqlx::query(&sql).bind(o.id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        // The lines are the ones just inserted; no need to read them back.
        let mut order = order_from_row(&row)?;
        order.items = o.items.to_vec();
        Ok(Some(order))
    }

    /// Order `id` with its lines, whoever owns it (internal callers and the sweeper). The
    /// owner check is the caller's (`api::owned`): the store answers facts, not permissions.
    ///
    /// Two statements (the order, then its lines), not one JOIN: a JOIN would repeat the
    /// order's columns on every line, and the order without lines would need an outer join.
    pub async fn get(&self, id: u64) -> Result<Option<OrderRow>, Error> {
        // The primary key: one B-tree descent, whatever the table's size.
        let sql = format!("SELECT {COLS} FROM orders WHERE id = ?");
        match sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(self.with_items(order_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// One page of `user_id`'s orders, newest first, optionally of one status, and the count.
    /// `id` breaks ties between orders of the same millisecond, so a page boundary never
    /// shows one order twice or skips one.
    /// Served by `idx_user_created` (user_id, created_at, id): an index range read backwards,
    /// no filesort. The lines of the whole page come in one `IN (…)` query, not one per order.
    ///
    /// `page` and `size` arrive already bounded by `domain::page` (1-based, ≤ 100).
    pub async fn list(
        &self,
        user_id: u64,
        status: Option<Status>,
        page: u32,
        size: u32,
    ) -> Result<(Vec<OrderRow>, u64), Error> {
        // The filter is a fixed literal or nothing; the status itself is a bind parameter.
        let filter = if status.is_some() { " AND status = ?" } else { "" };
        let sql = format!(
            "SELECT {COLS} FROM orders WHERE user_id = ?{filter} \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        // Binds in the order of the `?`s: user, then the optional status, then paging.
        let mut q = sqlx::query(&sql).bind(user_id);
        if let Some(s) = status {
            q = q.bind(s as i8);
        }
        // `page` is ≥ 1 (domain::page), so `page - 1` cannot underflow; u64 so a huge page
        // number cannot overflow the product.
        let offset = u64::from(page - 1) * u64::from(size);
        let rows = q.bind(size).bind(offset).fetch_all(&self.pool).await?;
        // One corrupt row fails the whole page (`collect` into a `Result`): a list that
        // silently skipped an order would tell its owner the order does not exist.
        let mut orders = rows.iter().map(order_from_row).collect::<Result<Vec<_>, _>>()?;
        // A second statement for the total, on the same index: cheap per user (a shopper has
        // tens of orders, not millions), and simpler than a window function.
        let count_sql = format!("SELECT COUNT(*) FROM orders WHERE user_id = ?{filter}");
        let mut c = sqlx::query_scalar::<_, i64>(&count_sql).bind(user_id);
        if let Some(s) = status {
            c = c.bind(s as i8);
        }
        let total = c.fetch_one(&self.pool).await?;
        // Lines last, for the page only: `total` may be in the thousands, the page is ≤ 100.
        self.attach_items(&mut orders).await?;
        Ok((orders, total as u64))
    }

    /// Moves order `id` to `to` if the state machine allows it from the status it has *now*,
    /// recording the stock work the move owes inventory in the same UPDATE.
    ///
    /// ✅ DO make the change conditional: `… WHERE id = ? AND status = <what we read>`. If two
    /// requests race (a cancel and a payment), both read Pending, both decide "legal", but
    /// only the first UPDATE matches a row; the second changes 0 rows and re-reads.
    /// ❌ DON'T read, check, then `UPDATE … WHERE id = ?`: both writes land, the last one wins,
    /// and an order ends up Cancelled *and* paid, its stock both released and sold.
    ///
    /// ```text
    /// t0  cancel reads Pending                    pay reads Pending
    /// t1  cancel: UPDATE … AND status = 1 → 1 row (Cancelled, owes Release)
    /// t2                                          pay: UPDATE … AND status = 1 → 0 rows
    /// t3                                          pay re-reads Cancelled → Illegal → refused
    /// ```
    ///
    /// The guard also carries `stock_action = 0` (no debt outstanding) and, for Paid,
    /// `expires_at > NOW(3)`: every condition the decision was made on is re-checked by the
    /// statement that acts on it, atomically, under InnoDB's row lock.
    pub async fn transition(
        &self,
        id: u64,
        to: Status,
        reason: &str,
    ) -> Result<Option<Transition>, Error> {
        // A few rounds: each lost race means the status changed under us, and the next read
        // decides again from the new status (usually "already there" or "illegal").
        for _ in 0..3 {
            // A plain read, no lock: the decision below is re-checked by the UPDATE's own
            // WHERE, so holding a row lock across it would only make racers queue.
            let Some(order) = self.get(id).await? else { return Ok(None) };
            let from = order.status;
            // "Paid" asked of an order that has moved past Paid is satisfied, not illegal:
            // the payment relay delivers at least once, and a retry arriving after the
            // order shipped must not be answered "illegal" — the relay would refund a
            // payment that did pay for this order.
            // (Cancelled is not "past Paid": a Paid for a Cancelled order is a refusal, and
            // the refusal is what makes payment-service refund.)
            let past_paid =
                to == Status::Paid && matches!(from, Status::Shipped | Status::Completed);
            if from == to || past_paid {
                return Ok(Some(Transition::Already(order)));
            }
            if !from.can_become(to) {
                return Ok(Some(Transition::Illegal(order)));
            }
            // One debt at a time: a paid order whose confirm has not reached inventory yet
            // must not be overwritten by the cancel's "return" — the confirm would be lost,
            // the lock released later by inventory's backstop, and the return would add a
            // unit that was never sold.
            if order.stock_action != StockAction::None {
                return Ok(Some(Transition::Owes(order)));
            }
            // The debt this move creates, written by the same UPDATE as the status: there is
            // no instant at which the order is Cancelled but owes nothing it should.
            let action = StockAction::for_transition(from, to);
            // Paying is allowed only before the deadline, checked by the same clock the
            // sweeper uses, in the same statement: there is no instant at which both the
            // payment and the expiry can win.
            let unexpired = if to == Status::Paid { " AND expires_at > NOW(3)" } else { "" };
            // A reason belongs to a cancellation only; any other move clears nothing and sets
            // no text a shopper would read as "why was my order cancelled".
            let reason = if to == Status::Cancelled { reason } else { "" };
            let sql = format!(
                "UPDATE orders SET status = ?, stock_action = ?, cancel_reason = ?, updated_at = NOW(3) \
                 WHERE id = ? AND status = ? AND stock_action = 0{unexpired}"
            );
            // lesson:conditional-update:start
            let done = sqlx::query(&sql)
                .bind(to as i8)
                .bind(action as i8)
                .bind(reason)
                .bind(id)
                .bind(from as i8)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() == 1 {
                // lesson:conditional-update:end
                // Re-read for the answer: `updated_at` is MySQL's, and the caller returns
                // the order as stored, not as this function imagines it.
                let now = self
                    .get(id)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("order {id} vanished")))?;
                return Ok(Some(Transition::Changed(now, action)));
            }
            // 0 rows: either another change won (the next round re-reads and decides again),
            // or — for a payment — the row is still Pending but past `expires_at`, which no
            // number of rounds will fix. Tell the two apart now, not after three rounds.
            if to == Status::Paid && from == Status::Pending {
                let again = self
                    .get(id)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("order {id} vanished")))?;
                if again.status == Status::Pending {
                    return Ok(Some(Transition::Expired(again)));
                }
            }
        }
        Err(Error::Aborted(format!("order {id} is changing too fast; retry")))
    }

    /// Clears `action` once inventory has acknowledged it, so the sweeper stops retrying it. Conditional on the action, so a
    /// later transition's newer debt is never wiped by an older acknowledgement.
    ///
    /// It does not touch `updated_at`: that column says when the *status* changed, which is
    /// what the sweeper's grace period and a shopper's order history mean by it.
    pub async fn clear_action(&self, id: u64, action: StockAction) -> Result<(), Error> {
        // `AND stock_action = ?`: clears only the action that was carried out; 0 rows means
        // it was cleared already (by the request or the sweeper), which is fine.
        sqlx::query("UPDATE orders SET stock_action = 0 WHERE id = ? AND stock_action = ?")
            .bind(id)
            .bind(action as i8)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The pool, for the sweeper's transactions (they need `FOR UPDATE SKIP LOCKED`) and
    /// for `create::abandon`, whose transaction spans a ReleaseStock call: the two places
    /// where a transaction's shape is the point, and so is written out where it is used.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// `order` with its lines, in book-id order (the order `Lines` created them in), so a
    /// replay and the first answer list the lines identically.
    async fn with_items(&self, mut order: OrderRow) -> Result<OrderRow, Error> {
        let rows = sqlx::query("SELECT order_id, book_id, title, quantity, price FROM order_items WHERE order_id = ? ORDER BY book_id")
            .bind(order.id)
            .fetch_all(&self.pool)
            .await?;
        order.items = rows.iter().map(item_from_row).collect::<Result<_, _>>()?;
        Ok(order)
    }

    /// The lines of a whole page in one `IN (…)` query instead of one per order: 100
    /// orders cost two statements, not 101 (the "N+1 queries" a list endpoint falls into).
    async fn attach_items(&self, orders: &mut [OrderRow]) -> Result<(), Error> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT order_id, book_id, title, quantity, price FROM order_items WHERE order_id IN (",
        );
        let mut ids = q.separated(", ");
        for o in orders.iter() {
            ids.push_bind(o.id);
        }
        q.push(") ORDER BY order_id, book_id");
        let rows = q.build().fetch_all(&self.pool).await?;
        // A linear search per line: a page is at most 100 orders, so a map would cost more
        // to build than it saves.
        for r in &rows {
            let order_id: u64 = r.try_get("order_id")?;
            if let Some(o) = orders.iter_mut().find(|o| o.id == order_id) {
                o.items.push(item_from_row(r)?);
            }
        }
        Ok(())
    }
}

/// A row of [`COLS`] as an [`OrderRow`] without lines; unknown status or action numbers
/// are `Corrupt`, never a guess.
fn order_from_row(r: &MySqlRow) -> Result<OrderRow, Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        order_no: r.try_get("order_no")?,
        user_id: r.try_get("user_id")?,
        total: r.try_get("total")?,
        status: Status::from_db(r.try_get("status")?)?,
        request_body: r.try_get("request_body")?,
        cancel_reason: r.try_get("cancel_reason")?,
        stock_action: StockAction::from_db(r.try_get("stock_action")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        expires_at: r.try_get("expires_at")?,
        items: Vec::new(),
    })
}

/// One `order_items` row; the same columns for `with_items` and `attach_items`.
fn item_from_row(r: &MySqlRow) -> Result<ItemRow, Error> {
    Ok(ItemRow {
        book_id: r.try_get("book_id")?,
        title: r.try_get("title")?,
        quantity: r.try_get("quantity")?,
        price: r.try_get("price")?,
    })
}
