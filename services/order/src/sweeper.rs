//! The sweeper: what order-service finishes on its own, from what order_db says, every few
//! seconds. Three jobs, one loop:
//!
//! 1. **stale intents** — a creation that died between LockStock and the commit (kill -9,
//!    a lost reply): [`create::abandon`] releases its lock and deletes the intent;
//! 2. **expired orders** — Pending past `expires_at` become Cancelled ("expired") and owe a
//!    release;
//! 3. **owed stock actions** — a status change whose inventory call failed or never ran
//!    (release, confirm, return) is retried until inventory acknowledges it.
//!
//! ✅ DO drive expiry from the database. ❌ DON'T arm an in-memory timer per order (the Go
//! sample's `time.AfterFunc`/goroutine): a restart forgets every timer, and the orders it
//! held stay Pending with their stock locked forever.
//!
//! Safe with two instances: expiry takes its batch with `FOR UPDATE SKIP LOCKED`, so two
//! sweepers split the rows instead of queueing on each other; everything else is idempotent
//! (inventory's calls per order id, `abandon` under the intent's row lock, `clear_action`
//! conditional), so doing a job twice changes nothing.
//!
//! | job | found by | safe twice because | late by at most |
//! |---|---|---|---|
//! | stale intents | `created_at < NOW(3) − intent_stale` | `abandon` re-checks under the intent's lock | `intent_stale` + one interval |
//! | expiry | `status = Pending AND expires_at < NOW(3)` | SKIP LOCKED + the UPDATE's Pending condition | one interval |
//! | owed actions | `stock_action <> 0` (after a 2 s grace) | keyed inventory calls, conditional clear | one interval + 2 s |
//!
//! Inventory has a backstop of its own (it releases locks older than its own window), which
//! is why order-service's payment window must be the shorter one: order-service decides,
//! inventory's sweeper only catches what order-service could never tell it.

use std::time::Duration;

use bookstore_platform::Shutdown;

use crate::{
    Error, api, create,
    domain::{Status, StockAction},
    peers::Peers,
    store::Store,
};

/// The sweeper's knobs, taken from `Settings` at start (a running sweeper is not retuned).
#[derive(Clone, Copy, Debug)]
pub struct SweepSettings {
    /// How often it wakes up (5 s by default): expiry is late by up to this much, and an
    /// owed stock action waits at most this long (plus the 2 s grace) for its retry.
    pub interval: Duration,
    /// An intent older than this belongs to a dead creation. Must exceed the longest a live
    /// CreateOrder can take (its three peer deadlines plus the commit), or the sweeper would
    /// release the lock of a creation that is merely slow — `Settings::check` enforces it.
    pub intent_stale: Duration,
}

/// Most rows per job per pass: a backlog after an outage is worked off over a few passes,
/// each a short transaction, instead of one transaction holding thousands of row locks.
///
/// At 100 per job every 5 s, one instance clears 20 expiries a second; a shop that creates
/// more unpaid orders than that needs a shorter interval or a second instance (SKIP LOCKED
/// lets the two share the work).
const BATCH: u32 = 100;

/// Sweeps until `shutdown`. Errors are logged and retried next pass: the sweeper must
/// outlive a MySQL or inventory outage, which is exactly when it has work to catch up on.
///
/// A task of the service's own process, not a separate cron job: it starts and stops with
/// the service, runs wherever the service runs, and needs no deployment of its own. With
/// several instances each runs one, and the jobs' locking (see the module docs) splits the
/// work between them.
pub async fn run(store: Store, peers: Peers, settings: SweepSettings, shutdown: Shutdown) {
    // The first tick fires at once: a restarted process sweeps what its predecessor left
    // before it waits a whole interval. `Delay` then keeps a slow pass (a backlog, a slow
    // inventory) from being followed by a burst of catch-up passes.
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sweep_once(&store, &peers, settings).await {
            tracing::warn!(error = %e, "order sweep failed; retrying next pass");
        }
    }
}

/// What one pass did: for the log line, and for any caller that drives a pass itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Dead creations whose lock was released and whose intent was deleted.
    pub abandoned: usize,
    /// Pending orders moved to Cancelled ("expired"), each now owing a release.
    pub expired: usize,
    /// Owed stock actions carried out and cleared (the expiries' releases included).
    pub settled: usize,
}

/// One pass of all three jobs, in this order on purpose: intents first (their locks are
/// the oldest debts), then expiry (which records releases), then the owed actions — so an
/// order that expires is usually released in the same pass, not the next one.
///
/// A failing job ends the pass with its error; the jobs before it keep what they did
/// (each committed on its own), and the next pass starts again from what order_db says.
pub async fn sweep_once(
    store: &Store,
    peers: &Peers,
    settings: SweepSettings,
) -> Result<Swept, Error> {
    // Counts for the log line; every job commits its own work as it goes.
    let mut swept = Swept::default();

    // 1. Stale intents. No SKIP LOCKED needed here: `abandon` re-checks each intent under
    // its own row lock, so a second sweeper (or a commit) racing for one simply finds it gone.
    // "Stale" by MySQL's clock, as `created_at` was written: no instance's clock skew can
    // make a live creation look dead.
    let stale: Vec<u64> = sqlx::query_scalar(
        "SELECT id FROM order_intents WHERE created_at < NOW(3) - INTERVAL ? MICROSECOND ORDER BY id LIMIT ?",
    )
    // In microseconds, the unit `INTERVAL ? MICROSECOND` takes; a `Duration` of any
    // precision converts without rounding to whole seconds.
    .bind(settings.intent_stale.as_micros() as u64)
    .bind(BATCH)
    .fetch_all(store.pool())
    .await?;
    // Oldest first, one `abandon` each: a transaction with the intent's row lock held
    // across one ReleaseStock. `false` means it was gone already (committed, or another
    // sweeper was faster) — not an error, just nothing left to do.
    for id in stale {
        // The reason lands in inventory's ledger: "order creation abandoned" marks a lock
        // freed by the sweeper, not by a shopper's cancel.
        if create::abandon(store, peers, id, "order creation abandoned").await? {
            // One line per dead creation: rare, and each one is worth an operator's look.
            tracing::info!(order_id = id, "released the lock of an abandoned order creation");
            metrics::counter!("order_sweeper_total", "job" => "abandoned").increment(1);
            swept.abandoned += 1;
        }
    }

    // lesson:expiry:start
    // 2. Expired orders, as one short transaction per batch. The transaction only changes
    // rows in order_db and calls nobody: the releases are recorded (`stock_action`) and
    // carried out by step 3, so the row locks are held for milliseconds, not for RPCs.
    let mut tx = store.pool().begin().await?;
    // Oldest deadline first, through `idx_status_expires`; locked rows of another
    // instance's sweeper are skipped, not waited for.
    let expired: Vec<u64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = ? AND expires_at < NOW(3) \
         ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(Status::Pending as i8)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    // One UPDATE for the whole batch. The rows are locked by the SELECT above, so a payment
    // racing for one of them waits for this commit, then fails its own `status = Pending`
    // condition, re-reads Cancelled and is refused — which makes the relay refund it. The
    // `status = Pending` here is the same rule said twice, in case a row changed between
    // a future version's SELECT and UPDATE.
    if !expired.is_empty() {
        // Cancelled with the reason "expired" and a Release owed — the same three columns
        // a shopper's cancel writes, so step 3 and the state machine treat it like any other.
        let mut q = sqlx::QueryBuilder::new("UPDATE orders SET status = ");
        q.push_bind(Status::Cancelled as i8)
            .push(", cancel_reason = 'expired', stock_action = ")
            .push_bind(StockAction::Release as i8)
            .push(", updated_at = NOW(3) WHERE status = ")
            .push_bind(Status::Pending as i8)
            .push(" AND id IN (");
        let mut ids = q.separated(", ");
        for id in &expired {
            ids.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    // lesson:expiry:end
    // (Expired orders are Cancelled like any other: a shopper's list shows them with the
    // reason "expired", and GetOrder answers them as it would a cancel.)
    // Counted after the commit: a batch that rolled back expired nothing.
    metrics::counter!("order_sweeper_total", "job" => "expired").increment(expired.len() as u64);
    swept.expired = expired.len();

    // 3. Owed stock actions — including the releases just recorded by step 2. A grace of
    // 2 s skips changes whose own request is still settling them right now (harmless, but
    // a duplicate call each). Expiries have no request of their own, so they are taken at
    // once (`cancel_reason = 'expired'`).
    // Oldest change first, through `idx_stock_action`: the longest-owed debt is paid first.
    let owed: Vec<u64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE stock_action <> 0 AND (updated_at < NOW(3) - INTERVAL 2 SECOND OR cancel_reason = 'expired') \
         ORDER BY updated_at LIMIT ?",
    )
    .bind(BATCH)
    .fetch_all(store.pool())
    .await?;
    // One order at a time, and the first inventory failure ends the pass: when inventory is
    // down, every further call would fail the same way, so the rest waits for next time.
    // Read again by id (with its lines) rather than trusting the SELECT above: a Return
    // needs the lines, and the action may have been settled by its own request meanwhile
    // (then the fresh read shows no action owed, and `settle` does nothing).
    for id in owed {
        if let Some(order) = store.get(id).await? {
            api::settle(store, peers, &order, order.stock_action).await?;
            swept.settled += 1;
        }
    }
    // Logged only when the pass did something: an idle sweeper every 5 s is not news.
    if swept != Swept::default() {
        tracing::info!(?swept, "order sweep");
    }
    Ok(swept)
}
