//! payment_db's SQL. Every state change of a payment happens in [`Store::settle_in`], inside
//! a transaction that locks the payment's gateway job and then the payment, always in that
//! order — the mock gateway's worker and a MockCallback racing for one payment then queue
//! instead of deadlocking.
//!
//! Why the order matters: with two rows and two transactions, A locking the job then the
//! payment while B locks the payment then the job lets each hold what the other waits
//! for. InnoDB detects the cycle and rolls one back with a deadlock error; the victim's
//! work is lost, and a MockCallback would answer the caller with an INTERNAL error. ✅ DO take row locks in
//! one fixed order everywhere; ❌ DON'T let each code path lock "what it needs first".
//!
//! | table | one row per | written by | read by |
//! |---|---|---|---|
//! | `payments` | payment attempt | CreatePayment, `settle_in`, the relay (refund) | every RPC |
//! | `gateway_jobs` | Pending payment | CreatePayment; deleted by `settle_in` | the mock gateway worker |
//! | `outbox` | successful payment | `settle_in`; marked delivered by the relay | the relay |
//!
//! Statuses are written as their numbers (`SET status = 2`), the same numbers as
//! [`Status`]'s discriminants: the SQL stays readable next to the column's comment, and
//! [`Status::from_db`] refuses any number it does not know.

use std::time::Duration;

use chrono::NaiveDateTime;
use sqlx::{MySql, MySqlPool, Row, Transaction, mysql::MySqlRow};

use crate::{Error, domain::Status};

/// One payment, as stored.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub id: u64,
    /// `PAY` + the day + the zero-padded id: what a receipt shows and QueryPayment takes.
    pub payment_no: String,
    pub order_id: u64,
    /// The order's owner when the payment was created (from order-service's answer).
    pub user_id: u64,
    /// Cents; equal to the order's total when the payment was created.
    pub amount: i64,
    pub status: Status,
    /// Why it failed or was refunded; empty otherwise.
    pub reason: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the mock gateway answers, while a job is pending.
    pub due_at: Option<NaiveDateTime>,
    /// Whether the outbox row was delivered: order-service accepted the Paid message, or
    /// refused it and the payment was refunded. Always false for a failed payment, which
    /// has nothing to tell.
    pub order_notified: bool,
}

/// The payment a creation returned: new, or the order's live one (a retry).
pub struct Created {
    pub payment: PaymentRow,
    /// True when the unique live index refused the insert and the order's live payment
    /// was returned instead: no new row, no new job, nothing charged.
    pub existing: bool,
}

/// A due outbox row: tell order-service that `order_id` is paid by `payment_id`.
pub struct OutboxRow {
    pub id: u64,
    pub payment_id: u64,
    /// Copied from the payment when the row was written, so the relay needs no join.
    pub order_id: u64,
    /// Deliveries tried so far: the exponent of the relay's backoff.
    pub attempts: u32,
}

/// How a payment is looked up (see [`Store::find`]). Each key is served by an index:
/// the primary key, `uk_payment_no`, `idx_order_id` and `uk_live_order`.
#[derive(Clone, Copy)]
enum Key<'a> {
    Id(u64),
    No(&'a str),
    NewestOfOrder(u64),
    LiveOfOrder(u64),
}

/// A payment with its job's due time and its outbox state. Both joins are LEFT JOINs on a
/// unique key (`gateway_jobs` and `outbox` have at most one row per payment), so the
/// statement returns one row per payment, and a settled payment simply has no `due_at`.
// `CAST(… AS SIGNED)`: a BIGINT for certain, so `from_row` can read it as `i64` and compare
// with 1 — sqlx checks column types, and the bare expression's type is the server's choice.
const SELECT: &str = "SELECT p.id, p.payment_no, p.order_id, p.user_id, p.amount, p.status, p.reason, \
     p.created_at, p.updated_at, j.due_at, CAST(o.delivered_at IS NOT NULL AS SIGNED) AS notified \
     FROM payments p LEFT JOIN gateway_jobs j ON j.payment_id = p.id \
     LEFT JOIN outbox o ON o.payment_id = p.id";

/// payment_db: a pool handle, cheap to clone into the API and both workers.
#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    /// A store over a migrated `payment_db` pool.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// The pool, for the callers that run their own transaction around
    /// [`Store::settle_in`] (MockCallback, the mock gateway worker, the relay): the
    /// transaction is theirs, because what else must commit with the settlement differs.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates a Pending payment for `order_id` and its gateway job (due in `due_in`, with
    /// the answer `succeed` decided now), in one transaction — or returns the order's live
    /// payment if it has one.
    ///
    /// Three statements in one transaction — INSERT the payment (claiming the order), UPDATE
    /// its number, INSERT the job — then a read after the commit. Until the commit nobody
    /// sees the payment, so no callback or worker can find a payment without its job.
    ///
    /// ✅ DO let the unique index on `live_order_id` decide "one live payment per order".
    /// ❌ DON'T `SELECT … WHERE order_id = ? AND status IN (pending, success)` and insert if
    /// none: a double click sends two requests that both find none, and the buyer is
    /// charged twice for one order.
    ///
    /// ```text
    /// click 1: INSERT (live_order_id = 7) → ok ─ job ─ commit         → 201, payment A
    /// click 2: INSERT (live_order_id = 7) → waits on click 1's row lock … duplicate key
    ///          rollback → find_live(7) → payment A                  → the same payment A
    /// ```
    pub async fn create(
        &self,
        order_id: u64,
        user_id: u64,
        amount: i64,
        succeed: bool,
        due_in: Duration,
    ) -> Result<Created, Error> {
        let mut tx = self.pool.begin().await?;
        // `live_order_id = order_id` claims the order: the unique index admits one row per
        // order with a non-NULL value, so a second live payment fails *here*, at the
        // database, however many requests race. The placeholder `payment_no` is a UUID
        // only because the column is unique and the real number needs the id.
        let inserted = sqlx::query(
            "INSERT INTO payments (payment_no, order_id, user_id, amount, status, live_order_id, created_at, updated_at) \
             VALUES (REPLACE(UUID(), '-', ''), ?, ?, ?, 1, ?, NOW(3), NOW(3))",
        )
        // `order_id` twice: once as the order the payment belongs to (kept for good), once
        // as `live_order_id` (cleared when the payment fails or is refunded).
        .bind(order_id)
        .bind(user_id)
        .bind(amount)
        .bind(order_id)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_id(),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                // The loser of a double click: roll back (nothing was written) and answer
                // the winner's payment, read outside the transaction, after its commit.
                tx.rollback().await?;
                let live = self.find_live(order_id).await?;
                return match live {
                    Some(payment) => Ok(Created { payment, existing: true }),
                    // The live payment failed between our INSERT and this read: try again.
                    // Rare (a decline landing in that millisecond) and harmless: the retry's
                    // INSERT finds the order free and creates the new attempt.
                    None => Err(Error::Unavailable {
                        peer: "payment_db",
                        detail: "payment state changed; retry".into(),
                    }),
                };
            }
            Err(e) => return Err(e.into()),
        };
        // The number a receipt shows, derived from the id (unique already) and the day;
        // the dash-less UUID() above (32 characters, the column's width) only held the
        // unique column until the id was known.
        //
        // Why not generate the number in Rust (a random string, a timestamp): a random one
        // needs a retry loop for the day it collides, and a timestamp collides at the first
        // two payments in one millisecond. The id is unique by construction, and the same
        // transaction makes the placeholder invisible to every other connection.
        // `LPAD(id, 10, '0')`: ten digits, so numbers sort as text in id order. A limit to
        // know: MySQL's LPAD *cuts* a longer string, so payment 10,000,000,000 would get a
        // truncated, colliding number (the unique key would refuse it) — far beyond a lab.
        sqlx::query("UPDATE payments SET payment_no = CONCAT('PAY', DATE_FORMAT(NOW(3), '%Y%m%d'), LPAD(id, 10, '0')) WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // The job in the same transaction as the payment: a Pending payment without a job
        // would never be answered, a job without its payment would answer nothing. Its due
        // time is MySQL's clock, like `NOW(3)` in the gateway worker's query, so the two
        // compare times from one clock even when several instances run.
        sqlx::query("INSERT INTO gateway_jobs (payment_id, due_at, succeed) VALUES (?, NOW(3) + INTERVAL ? MICROSECOND, ?)")
            .bind(id)
            .bind(due_in.as_micros() as u64)
            .bind(succeed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Read back for the answer: the number, the timestamps and the due time are MySQL's,
        // and the caller shows them to the shopper.
        let payment =
            self.get(id).await?.ok_or_else(|| Error::Corrupt(format!("payment {id} vanished")))?;
        Ok(Created { payment, existing: false })
    }

    /// The payment with this id, if any (the read-backs after a write).
    pub async fn get(&self, id: u64) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::Id(id)).await
    }

    /// The payment with this number, if any (QueryPayment, MockCallback): the number is
    /// what leaves the system (receipts, the provider's callback), so it is what callers
    /// look a payment up by.
    pub async fn by_no(&self, payment_no: &str) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::No(payment_no)).await
    }

    /// The newest payment of `order_id` (any status): after a declined attempt and a
    /// successful retry, the success — what QueryPayment by order should show.
    pub async fn latest_for_order(&self, order_id: u64) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::NewestOfOrder(order_id)).await
    }

    /// The order's live payment (Pending or Success), if any: the one `uk_live_order` allows,
    /// found through that same index.
    pub async fn find_live(&self, order_id: u64) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::LiveOfOrder(order_id)).await
    }

    /// One query shape (the payment with its job and outbox state) for every way a
    /// payment is looked up.
    async fn find(&self, key: Key<'_>) -> Result<Option<PaymentRow>, Error> {
        let clause = match key {
            Key::Id(_) => "p.id = ?",
            Key::No(_) => "p.payment_no = ?",
            Key::NewestOfOrder(_) => "p.order_id = ? ORDER BY p.id DESC LIMIT 1",
            Key::LiveOfOrder(_) => "p.live_order_id = ?",
        };
        // The clause is one of four literals chosen by the key, never text from a request;
        // the value is always a bind parameter.
        let sql = format!("{SELECT} WHERE {clause}");
        // The bind matches the clause: a string for a number, an integer for the rest.
        let query = match key {
            Key::No(no) => sqlx::query(&sql).bind(no),
            Key::Id(v) | Key::NewestOfOrder(v) | Key::LiveOfOrder(v) => sqlx::query(&sql).bind(v),
        };
        // At most one row for every key: the first three are unique, and NewestOfOrder
        // has `LIMIT 1`.
        query.fetch_optional(&self.pool).await?.as_ref().map(from_row).transpose()
    }

    /// Settles payment `id` as the gateway answered (`success`), inside `tx`: the one
    /// place a payment leaves Pending. Returns whether it changed anything. `reason` is the
    /// text a declined payment keeps ("declined by the mock gateway", "… by the gateway
    /// callback"), so the shopper and support can tell which answer it was.
    ///
    /// An associated function taking the caller's transaction, not a method with its own:
    /// the mock gateway settles a whole batch in one transaction, MockCallback one payment
    /// in one, and both must hold the same locks in the same order.
    ///
    /// - not Pending any more → nothing (a duplicate callback, or the worker after a
    ///   MockCallback): idempotent by the payment's own state, under its row lock;
    /// - success → Success *and* an outbox row, in the same transaction: the payment can
    ///   never be "paid" without order-service being told eventually;
    /// - failure → Failed, and the order is free for a new attempt (`live_order_id` NULL).
    ///
    /// ❌ DON'T mark the payment paid and then call order-service directly, hoping both
    /// work: a crash (or a down order-service) between the two leaves money taken and an
    /// order that expires unpaid — the customer is charged and gets nothing.
    ///
    /// ```text
    /// worker:   lock job 9 ─ lock payment 9 (Pending) ─ Success + outbox ─ commit
    /// callback:   lock job 9 … waits ………………………………………………………… ─ job gone ─ lock payment 9
    ///             (Success) → changes nothing, answers the payment as it is
    /// ```
    pub async fn settle_in(
        tx: &mut Transaction<'_, MySql>,
        id: u64,
        success: bool,
        reason: &str,
    ) -> Result<bool, Error> {
        // Lock order: the job first, then the payment (see the module docs). The job may be
        // gone already (settled earlier): locking nothing is fine, the payment's lock below
        // is what serialises the settlements.
        sqlx::query("SELECT payment_id FROM gateway_jobs WHERE payment_id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        let status: Option<i8> =
            sqlx::query_scalar("SELECT status FROM payments WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        // A job for a payment that does not exist cannot happen (one transaction writes
        // both); a callback for one can, and is NOT_FOUND.
        let Some(status) = status else {
            return Err(Error::NotFound(format!("payment {id} not found")));
        };
        // The job goes whatever happens next: a payment that is settled (now, or earlier
        // by a callback) must not be answered again by the worker.
        sqlx::query("DELETE FROM gateway_jobs WHERE payment_id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        // The idempotence check, made under the row lock: a second settler waited for the
        // first one's commit above, and now reads Success or Failed, not Pending.
        if Status::from_db(status)? != Status::Pending {
            return Ok(false);
        }
        // Success keeps `live_order_id`: the order stays claimed, so no second payment can
        // start for it — the double-charge guard outlives the pending window.
        if success {
            sqlx::query("UPDATE payments SET status = 2, updated_at = NOW(3) WHERE id = ?")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            // Due at once (`next_attempt_at = NOW(3)`): the relay's next pass delivers it.
            // The unique `payment_id` makes a second outbox row for one payment impossible.
            sqlx::query(
                "INSERT INTO outbox (payment_id, order_id, next_attempt_at, created_at) \
                 SELECT id, order_id, NOW(3), NOW(3) FROM payments WHERE id = ?",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
        } else {
            // Failed, and `live_order_id` released: the shopper may try again, and the new
            // attempt passes the unique index.
            sqlx::query("UPDATE payments SET status = 3, live_order_id = NULL, reason = ?, updated_at = NOW(3) WHERE id = ?")
                .bind(reason)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }

    /// Due outbox rows, locked for this relay (`SKIP LOCKED`: a second relay takes others).
    ///
    /// Oldest first (`ORDER BY id`), at most `limit`, found through `idx_outbox_due`. Without
    /// `SKIP LOCKED` a second instance's relay would wait on the first one's rows for the
    /// whole pass (order-service calls included) and then find them delivered.
    ///
    /// Runs inside the relay's transaction, which stays open across the order-service
    /// calls for these rows: the locks are what keep a second relay from delivering the
    /// same row at the same moment. The cost is one connection held per pass (~50 ms),
    /// which the pool size allows for.
    pub async fn due_outbox(
        tx: &mut Transaction<'_, MySql>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, Error> {
        let rows = sqlx::query(
            "SELECT id, payment_id, order_id, attempts FROM outbox \
             WHERE delivered_at IS NULL AND next_attempt_at <= NOW(3) ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
        // `attempts` is an `INT` column; it only ever counts up from 0, so the cast to u32
        // cannot wrap in practice.
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    payment_id: r.try_get("payment_id")?,
                    order_id: r.try_get("order_id")?,
                    attempts: r.try_get::<i32, _>("attempts")? as u32,
                })
            })
            .collect()
    }
}

/// A row of [`SELECT`] as a [`PaymentRow`]; a status number outside 1–4 is `Corrupt`.
fn from_row(r: &MySqlRow) -> Result<PaymentRow, Error> {
    Ok(PaymentRow {
        id: r.try_get("id")?,
        payment_no: r.try_get("payment_no")?,
        order_id: r.try_get("order_id")?,
        user_id: r.try_get("user_id")?,
        amount: r.try_get("amount")?,
        status: Status::from_db(r.try_get("status")?)?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        due_at: r.try_get("due_at")?,
        order_notified: r.try_get::<i64, _>("notified")? == 1,
    })
}
