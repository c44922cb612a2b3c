//! The sweeper: releases reservations whose payment window has passed.
//!
//! LockStock records each open reservation in a sorted set scored by its lock time (read
//! from Redis's own clock inside the script). Every `interval`, the sweeper asks Redis for
//! the members older than `now - window` and releases each through the same settle script
//! ReleaseStock uses — so a sweep racing a payment is safe: whichever settles first wins,
//! and the other gets "already settled" instead of moving the units twice.
//!
//! DO: let unpaid orders expire. DON'T: rely on order-service alone to release — if it is
//! down when the window ends, the units stay locked forever and the book looks sold out
//! while nobody bought it. The inventory owns its reservations, so it owns their expiry.
//! (order-service still cancels its own orders; the two meet in settle.lua's idempotence.)
//!
//! ❌ DON'T let Redis key expiry do it (`EXPIRE` on the order record): an expired key just
//! vanishes — no script runs, so its units stay in `locked` forever — and the keyspace
//! notification that could trigger a release is fire-and-forget, lost whenever no
//! subscriber happens to be connected. ✅ A sorted set scored by lock time plus a sweeper
//! that runs the ordinary settle script: a missed tick only delays the release, and a
//! sweep racing a payment is decided by the script's state check, like any two callers.
//!
//! The same tick refreshes the `inventory_stock_units{state}` gauges from one snapshot.

use std::time::Duration;

use bookstore_platform::Shutdown;

use crate::domain::OrderId;
use crate::error::Error;
use crate::store::{Settle, StockStore};

/// Most reservations released per tick (bounds one tick's work; the rest wait a tick).
/// After an outage of the sweeper, a backlog drains at 500 per tick instead of one burst
/// of thousands of scripts that would delay every sale queued behind them in Redis.
const MAX_PER_TICK: usize = 500;

/// Sweeps every `interval` until `stop`.
pub async fn run(store: StockStore, window: Duration, interval: Duration, stop: Shutdown) {
    // A 50 ms floor for callers that pass a `Duration` directly (the settings already refuse
    // 0 s): `interval` panics on zero, and 1 ms would run the O(books) snapshot below a
    // thousand times a second.
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(50)));
    // If a sweep runs long (a big backlog), the next one waits a full interval instead of
    // firing immediately to "catch up" — sweeps never pile onto Redis back to back.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once, so a restarted service releases what expired while
    // it was down without waiting a whole interval first.
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        // Errors are logged and the next tick tries again: a Redis blip must not kill the
        // sweeper for the rest of the process's life. (A sweeper that died silently is the
        // worst failure here: nothing breaks at once, the shelf just empties over a day.)
        match sweep_once(&store, window).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "released expired reservations"),
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        // The gauges: units available / locked / sold across all books, for the dashboard.
        // Best effort — a failed snapshot skips one update rather than stopping the sweeper.
        // Not free: snapshot.lua is O(books) and blocks Redis while it runs (40–140 ms for
        // 5,000 books on the lab machine, see `StockStore::snapshot`), once per tick. A far
        // larger catalogue would keep the three sums as counters updated by the scripts.
        if let Ok(snap) = store.snapshot().await {
            let mut sums = [0i64; 3];
            for c in &snap.books {
                sums[0] += c.available;
                sums[1] += c.locked;
                sums[2] += c.sold;
            }
            for (state, v) in ["available", "locked", "sold"].into_iter().zip(sums) {
                metrics::gauge!("inventory_stock_units", "state" => state).set(v as f64);
            }
        }
    }
}

// lesson:sweep:start
/// Releases every reservation older than `window`; returns how many it released.
pub async fn sweep_once(store: &StockStore, window: Duration) -> Result<usize, Error> {
    let due = store.due_reservations(window, MAX_PER_TICK).await?;
    // One settle script per order: a reservation may span several books, and each order
    // must be released atomically on its own — a bulk script over 500 orders would block
    // Redis for all of them at once.
    let mut released = 0;
    for raw in due {
        // A member that is not a valid order id cannot come from lock.lua; skip it. Only a
        // `0` gets here (a non-numeric member fails the reply's decoding, and the sweep with
        // it); nothing removes it, so it is skipped again on every tick.
        let Ok(order) = OrderId::parse(raw) else {
            continue;
        };
        match store.settle(order, Settle::Release, "payment window expired").await {
            Ok(s) if !s.lines.is_empty() => {
                released += 1;
                metrics::counter!("inventory_operations_total", "op" => "expire", "result" => "ok")
                    .increment(1);
            }
            // Already settled between the ZRANGEBYSCORE and now (cancelled or paid): nothing
            // to do, and settle.lua removed it from the queue.
            Ok(_) => {}
            // Paid at the last moment: the confirm won, which is the right outcome.
            Err(Error::AlreadySettled { .. }) => {}
            // A Redis error ends this tick early; the orders not yet released are still in
            // the pending set, so the next tick picks them up again.
            Err(e) => return Err(e),
        }
    }
    Ok(released)
}
// lesson:sweep:end
