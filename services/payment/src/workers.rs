//! The two loops that finish a payment without anyone waiting on it, both driven by rows in
//! payment_db and both safe with two instances (`FOR UPDATE SKIP LOCKED`):
//!
//! - [`gateway`]: the mock payment gateway. A due `gateway_jobs` row becomes the gateway's
//!   answer (success or failure), applied exactly like a MockCallback.
//! - [`relay`]: the outbox relay. A due `outbox` row becomes UpdateOrderStatus(Paid); it is
//!   retried with backoff until order-service answers, and a definite refusal (the order was
//!   cancelled or expired first) becomes a refund.
//!
//! The course's sample does the first with `go func() { time.Sleep(3s); callback() }()`:
//! a restart inside those 3 seconds loses the callback, and the order stays unpaid while the
//! customer's money is gone. ✅ DO persist "what must happen, and when"; a worker that
//! survives restarts executes it. ❌ DON'T keep a promise to the customer only in memory.

use std::time::Duration;

use bookstore_platform::Shutdown;

use crate::{
    peers::{MarkPaid, Orders},
    store::Store,
};

/// Rows per pass: a backlog after an outage drains in short transactions.
const BATCH: u32 = 50;

/// How often both loops look for due rows: the mock's 3 s becomes 3.0–3.2 s.
const POLL: Duration = Duration::from_millis(200);

/// Runs `pass` every [`POLL`] until `shutdown`; errors are logged and retried next pass.
async fn every_poll<F, Fut>(name: &'static str, shutdown: Shutdown, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, crate::Error>>,
{
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match pass().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(worker = name, n, "pass"),
            Err(e) => tracing::warn!(worker = name, error = %e, "pass failed; retrying"),
        }
    }
}

/// The mock gateway: answers every payment whose job is due.
pub async fn gateway(store: Store, shutdown: Shutdown) {
    every_poll("gateway", shutdown, || gateway_pass(&store)).await
}

/// One pass of the mock gateway; returns how many payments it answered.
pub async fn gateway_pass(store: &Store) -> Result<usize, crate::Error> {
    let mut tx = store.pool().begin().await?;
    let due: Vec<(u64, bool)> = sqlx::query_as(
        "SELECT payment_id, succeed FROM gateway_jobs WHERE due_at <= NOW(3) \
         ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut answered = 0;
    for (payment_id, succeed) in &due {
        if Store::settle_in(&mut tx, *payment_id, *succeed, "declined by the mock gateway").await? {
            answered += 1;
            metrics::counter!("payment_gateway_answers_total", "success" => succeed.to_string())
                .increment(1);
        }
    }
    tx.commit().await?;
    Ok(answered)
}

/// The outbox relay: delivers every due "order paid" message.
pub async fn relay(store: Store, orders: Orders, shutdown: Shutdown) {
    every_poll("relay", shutdown, || relay_pass(&store, &orders)).await
}

/// One pass of the relay; returns how many messages were settled (delivered or refunded).
///
/// The outbox row stays locked while order-service is called: a second relay skips it
/// instead of delivering it twice at once. (Twice in a row is still possible — the call
/// succeeds and this process dies before the commit — which is why the receiving side is
/// idempotent: at-least-once delivery, exactly-once effect.)
pub async fn relay_pass(store: &Store, orders: &Orders) -> Result<usize, crate::Error> {
    let mut tx = store.pool().begin().await?;
    let due = Store::due_outbox(&mut tx, BATCH).await?;
    let mut settled = 0;
    for row in &due {
        match orders.mark_paid(row.order_id).await {
            Ok(MarkPaid::Accepted) => {
                sqlx::query(
                    "UPDATE outbox SET delivered_at = NOW(3), attempts = attempts + 1 WHERE id = ?",
                )
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                metrics::counter!("payment_relay_total", "result" => "delivered").increment(1);
                settled += 1;
            }
            Ok(MarkPaid::Refused(why)) => {
                // Paid after the order was cancelled or expired: the order keeps its state
                // (its stock is already back on sale), and the money goes back.
                // ❌ DON'T "fix" the order back to Paid: its stock may already be sold to
                // someone else — resurrecting it would sell the same units twice.
                let reason = format!("refunded: {}", truncate(&why, 180));
                sqlx::query(
                    "UPDATE payments SET status = 4, live_order_id = NULL, reason = ?, updated_at = NOW(3) \
                     WHERE id = ? AND status = 2",
                )
                .bind(&reason)
                .bind(row.payment_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE outbox SET delivered_at = NOW(3), attempts = attempts + 1, last_error = ? WHERE id = ?")
                    .bind(truncate(&reason, 250))
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(payment_id = row.payment_id, order_id = row.order_id, %why, "payment refunded");
                metrics::counter!("payment_relay_total", "result" => "refunded").increment(1);
                settled += 1;
            }
            Err(e) => {
                // Exponential backoff, 0.2 s doubling to a 10 s cap: a down order-service is
                // asked again soon, but not hammered while it recovers.
                let delay_ms = (200u64 << row.attempts.min(6)).min(10_000);
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, \
                     next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND WHERE id = ?",
                )
                .bind(truncate(&e.to_string(), 250))
                .bind(delay_ms * 1000)
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                metrics::counter!("payment_relay_total", "result" => "retry").increment(1);
            }
        }
    }
    tx.commit().await?;
    Ok(settled)
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
