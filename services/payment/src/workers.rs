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
///
/// 50 rows × one order-service call each (~1 ms on loopback) keeps a relay pass around
/// 50 ms; a pass over 5,000 rows would hold 5,000 row locks and one connection for
/// seconds, and a single failure late in it would roll back all the work before.
const BATCH: u32 = 50;

/// How often both loops look for due rows: the mock's 3 s becomes 3.0–3.2 s.
///
/// Polling costs one indexed `SELECT` per loop every 200 ms when idle (10 per second per
/// instance), which MariaDB does not notice. The alternative, waking the worker from
/// CreatePayment, would still need the poll for jobs left by a dead process, so the poll
/// alone is the simpler design with the same guarantee. (MySQL has no push notification
/// like PostgreSQL's LISTEN/NOTIFY; a poll on an indexed due time is the usual substitute,
/// and `idx_gateway_due` / `idx_outbox_due` make each poll an index range read.)
const POLL: Duration = Duration::from_millis(200);

/// Runs `pass` every [`POLL`] until `shutdown`; errors are logged and retried next pass.
///
/// One loop shape for both workers, so their shutdown, pacing and error handling cannot
/// drift apart; `name` labels their log lines.
async fn every_poll<F, Fut>(name: &'static str, shutdown: Shutdown, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, crate::Error>>,
{
    // `Delay`: a pass slower than POLL (a backlog, a slow order-service) is followed by a
    // full pause, not by a burst of catch-up passes that would hammer the database.
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // An error ends this pass only: its transaction rolls back, the rows stay due, and
        // the next tick tries again. A worker that exited on the first MySQL hiccup would
        // leave payments Pending until someone restarted the service.
        match pass().await {
            // An idle pass is silent: ten a second per instance would drown the log.
            Ok(0) => {}
            // `debug`, not `info`: a busy lab settles several payments a second, and the
            // metrics already count them.
            Ok(n) => tracing::debug!(worker = name, n, "pass"),
            Err(e) => tracing::warn!(worker = name, error = %e, "pass failed; retrying"),
        }
    }
}

/// The mock gateway: answers every payment whose job is due.
///
/// In production this loop would not exist: the provider calls back (MockCallback's real
/// twin), and a reconciliation job asks the provider about payments left Pending too long.
/// The mock keeps the shape that matters — an answer that comes later, from outside the
/// request that created the payment.
pub async fn gateway(store: Store, shutdown: Shutdown) {
    every_poll("gateway", shutdown, || gateway_pass(&store)).await
}

/// One pass of the mock gateway; returns how many payments it answered (0 when another
/// instance's worker held every due job, or a callback had settled them first).
pub async fn gateway_pass(store: &Store) -> Result<usize, crate::Error> {
    // One transaction for the pass: the due jobs stay locked until every one of them is
    // settled and committed, so a second instance's worker (SKIP LOCKED) takes others.
    let mut tx = store.pool().begin().await?;
    let due: Vec<(u64, bool)> = sqlx::query_as(
        "SELECT payment_id, succeed FROM gateway_jobs WHERE due_at <= NOW(3) \
         ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    // Settled one by one inside the pass's transaction: one MySQL round trip per job plus
    // a handful of statements, all committed together below.
    let mut answered = 0;
    for (payment_id, succeed) in &due {
        // `false` from `settle_in`: a MockCallback settled this payment first. Its job is
        // deleted anyway, and the callback's answer stands.
        if Store::settle_in(&mut tx, *payment_id, *succeed, "declined by the mock gateway").await? {
            answered += 1;
            metrics::counter!("payment_gateway_answers_total", "success" => succeed.to_string())
                .increment(1);
        }
    }
    // A failed commit rolls every settlement of the pass back: the jobs are still there
    // and due, and the next pass tries them again. Nothing half-settled is visible.
    tx.commit().await?;
    Ok(answered)
}

/// The outbox relay: delivers every due "order paid" message.
///
/// Why a relay and not a call from `settle_in`: the settlement is a MySQL transaction, the
/// notification an RPC to another service, and the two cannot commit together. Writing the
/// intent (the outbox row) in the transaction and delivering it afterwards, as often as it
/// takes, is the one order of the two steps in which neither can be lost.
pub async fn relay(store: Store, orders: Orders, shutdown: Shutdown) {
    every_poll("relay", shutdown, || relay_pass(&store, &orders)).await
}

/// One pass of the relay; returns how many messages were settled (delivered or refunded);
/// a rescheduled row does not count, it is still owed.
///
/// The outbox row stays locked while order-service is called: a second relay skips it
/// instead of delivering it twice at once. (Twice in a row is still possible — the call
/// succeeds and this process dies before the commit — which is why the receiving side is
/// idempotent: at-least-once delivery, exactly-once effect.)
///
/// | the process dies … | order-service | the outbox row | what happens next |
/// |---|---|---|---|
/// | before the call | not told | due | the next relay delivers it |
/// | after the call, before the commit | Paid | due (the update rolled back) | delivered again; Paid → Paid is OK |
/// | after the commit | Paid | delivered | nothing: done |
pub async fn relay_pass(store: &Store, orders: &Orders) -> Result<usize, crate::Error> {
    // One transaction for the pass, holding the due rows' locks across the calls (see
    // `Store::due_outbox`): the deliveries and their bookkeeping commit together.
    let mut tx = store.pool().begin().await?;
    let due = Store::due_outbox(&mut tx, BATCH).await?;
    let mut settled = 0;
    // One order-service call per row, in order. A row whose call fails is rescheduled and
    // the pass goes on: one stuck order does not hold back the others' notifications.
    for row in &due {
        match orders.mark_paid(row.order_id).await {
            Ok(MarkPaid::Accepted) => {
                // Delivered: order-service has marked the order Paid and confirmed its stock.
                // If this commit is lost, the row is delivered again and order-service's
                // Paid → Paid answers OK without doing anything twice.
                sqlx::query(
                    "UPDATE outbox SET delivered_at = NOW(3), attempts = attempts + 1 WHERE id = ?",
                )
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
                metrics::counter!("payment_relay_total", "result" => "delivered").increment(1);
                settled += 1;
            }
            // A definite refusal is settled in the same transaction as the delivery mark:
            // a payment is never left refunded with its message still "due", or the reverse.
            Ok(MarkPaid::Refused(why)) => {
                // Paid after the order was cancelled or expired: the order keeps its state
                // (its stock is already back on sale), and the money goes back.
                // ❌ DON'T "fix" the order back to Paid: its stock may already be sold to
                // someone else — resurrecting it would sell the same units twice.
                let reason = format!("refunded: {}", truncate(&why, 180));
                // `AND status = 2`: only a Success becomes Refunded, never a payment some
                // other path already changed. A real provider's refund API would be called
                // from here (and itself be retried), the mock just records it.
                sqlx::query(
                    "UPDATE payments SET status = 4, live_order_id = NULL, reason = ?, updated_at = NOW(3) \
                     WHERE id = ? AND status = 2",
                )
                .bind(&reason)
                .bind(row.payment_id)
                .execute(&mut *tx)
                .await?;
                // Marked delivered, with the refusal kept in `last_error`: the row's story stays
                // readable in payment_db for whoever investigates the refund.
                sqlx::query("UPDATE outbox SET delivered_at = NOW(3), attempts = attempts + 1, last_error = ? WHERE id = ?")
                    .bind(truncate(&reason, 250))
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
                // `info`, not `warn`: a refund is a normal business outcome here (paid too
                // late), worth a line in the log, not an alert.
                tracing::info!(payment_id = row.payment_id, order_id = row.order_id, %why, "payment refunded");
                metrics::counter!("payment_relay_total", "result" => "refunded").increment(1);
                settled += 1;
            }
            Err(e) => {
                // Not delivered, and not refused: order-service is down, slow, or answered
                // something we cannot act on. The row stays undelivered, due again later.
                // Exponential backoff, 0.2 s doubling to a 10 s cap: a down order-service is
                // asked again soon, but not hammered while it recovers.
                // The caps matter: without them the 20th attempt would wait 2¹⁹ × 0.2 s (about
                // a day), and a message would effectively be abandoned after a long outage.
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
                // A rising `retry` rate with flat `delivered` is the dashboard's sign that
                // order-service is down while payments keep succeeding.
                metrics::counter!("payment_relay_total", "result" => "retry").increment(1);
            }
        }
    }
    tx.commit().await?;
    Ok(settled)
}

/// The first `max_chars` characters of `s` — characters, not bytes, so a Chinese reason is
/// never cut inside a UTF-8 sequence. Keeps `reason` (200) and `last_error` (255) within
/// their columns, where an over-long value would fail the whole UPDATE in strict mode.
fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
