//! payment_db's SQL. Every state change of a payment happens in [`Store::settle_in`], inside
//! a transaction that locks the payment's gateway job and then the payment, always in that
//! order — the mock gateway's worker and a MockCallback racing for one payment then queue
//! instead of deadlocking.

use std::time::Duration;

use chrono::NaiveDateTime;
use sqlx::{MySql, MySqlPool, Row, Transaction, mysql::MySqlRow};

use crate::{Error, domain::Status};

/// One payment, as stored.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub id: u64,
    pub payment_no: String,
    pub order_id: u64,
    pub user_id: u64,
    pub amount: i64,
    pub status: Status,
    pub reason: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the mock gateway answers, while a job is pending.
    pub due_at: Option<NaiveDateTime>,
    /// Whether order-service has accepted the outcome (the outbox row was delivered).
    pub order_notified: bool,
}

/// The payment a creation returned: new, or the order's live one (a retry).
pub struct Created {
    pub payment: PaymentRow,
    pub existing: bool,
}

/// A due outbox row: tell order-service that `order_id` is paid by `payment_id`.
pub struct OutboxRow {
    pub id: u64,
    pub payment_id: u64,
    pub order_id: u64,
    pub attempts: u32,
}

/// How a payment is looked up (see [`Store::find`]).
#[derive(Clone, Copy)]
enum Key<'a> {
    Id(u64),
    No(&'a str),
    NewestOfOrder(u64),
    LiveOfOrder(u64),
}

const SELECT: &str = "SELECT p.id, p.payment_no, p.order_id, p.user_id, p.amount, p.status, p.reason, \
     p.created_at, p.updated_at, j.due_at, CAST(o.delivered_at IS NOT NULL AS SIGNED) AS notified \
     FROM payments p LEFT JOIN gateway_jobs j ON j.payment_id = p.id \
     LEFT JOIN outbox o ON o.payment_id = p.id";

#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
}

impl Store {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Creates a Pending payment for `order_id` and its gateway job (due in `due_in`, with
    /// the answer `succeed` decided now), in one transaction — or returns the order's live
    /// payment if it has one.
    ///
    /// ✅ DO let the unique index on `live_order_id` decide "one live payment per order".
    /// ❌ DON'T `SELECT … WHERE order_id = ? AND status IN (pending, success)` and insert if
    /// none: a double click sends two requests that both find none, and the buyer is
    /// charged twice for one order.
    pub async fn create(
        &self,
        order_id: u64,
        user_id: u64,
        amount: i64,
        succeed: bool,
        due_in: Duration,
    ) -> Result<Created, Error> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO payments (payment_no, order_id, user_id, amount, status, live_order_id, created_at, updated_at) \
             VALUES (REPLACE(UUID(), '-', ''), ?, ?, ?, 1, ?, NOW(3), NOW(3))",
        )
        .bind(order_id)
        .bind(user_id)
        .bind(amount)
        .bind(order_id)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_id(),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                tx.rollback().await?;
                let live = self.find_live(order_id).await?;
                return match live {
                    Some(payment) => Ok(Created { payment, existing: true }),
                    // The live payment failed between our INSERT and this read: try again.
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
        sqlx::query("UPDATE payments SET payment_no = CONCAT('PAY', DATE_FORMAT(NOW(3), '%Y%m%d'), LPAD(id, 10, '0')) WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO gateway_jobs (payment_id, due_at, succeed) VALUES (?, NOW(3) + INTERVAL ? MICROSECOND, ?)")
            .bind(id)
            .bind(due_in.as_micros() as u64)
            .bind(succeed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let payment =
            self.get(id).await?.ok_or_else(|| Error::Corrupt(format!("payment {id} vanished")))?;
        Ok(Created { payment, existing: false })
    }

    pub async fn get(&self, id: u64) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::Id(id)).await
    }

    pub async fn by_no(&self, payment_no: &str) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::No(payment_no)).await
    }

    /// The newest payment of `order_id` (any status).
    pub async fn latest_for_order(&self, order_id: u64) -> Result<Option<PaymentRow>, Error> {
        self.find(Key::NewestOfOrder(order_id)).await
    }

    /// The order's live payment (Pending or Success), if any.
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
        let sql = format!("{SELECT} WHERE {clause}");
        let query = match key {
            Key::No(no) => sqlx::query(&sql).bind(no),
            Key::Id(v) | Key::NewestOfOrder(v) | Key::LiveOfOrder(v) => sqlx::query(&sql).bind(v),
        };
        query.fetch_optional(&self.pool).await?.as_ref().map(from_row).transpose()
    }

    /// Settles payment `id` as the gateway answered (`success`), inside `tx`: the one
    /// place a payment leaves Pending. Returns whether it changed anything.
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
    pub async fn settle_in(
        tx: &mut Transaction<'_, MySql>,
        id: u64,
        success: bool,
        reason: &str,
    ) -> Result<bool, Error> {
        // Lock order: the job first, then the payment (see the module docs).
        sqlx::query("SELECT payment_id FROM gateway_jobs WHERE payment_id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        let status: Option<i8> =
            sqlx::query_scalar("SELECT status FROM payments WHERE id = ? FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some(status) = status else {
            return Err(Error::NotFound(format!("payment {id} not found")));
        };
        sqlx::query("DELETE FROM gateway_jobs WHERE payment_id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if Status::from_db(status)? != Status::Pending {
            return Ok(false);
        }
        if success {
            sqlx::query("UPDATE payments SET status = 2, updated_at = NOW(3) WHERE id = ?")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO outbox (payment_id, order_id, next_attempt_at, created_at) \
                 SELECT id, order_id, NOW(3), NOW(3) FROM payments WHERE id = ?",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
        } else {
            sqlx::query("UPDATE payments SET status = 3, live_order_id = NULL, reason = ?, updated_at = NOW(3) WHERE id = ?")
                .bind(reason)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }

    /// Due outbox rows, locked for this relay (`SKIP LOCKED`: a second relay takes others).
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
