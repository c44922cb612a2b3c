//! The runner: every strategy in turn on the same starting stock, one load run each.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bookstore_loadgen::{Outcome, Snapshot};
use tokio::sync::{mpsc, watch};

use super::{RaceParams, Strategy, StrategyResult};

// The trait is the seam where a test could plug an in-memory store with a deliberately
// racy `buy` and check the runner's bookkeeping without MariaDB. Honest gap: no such test
// exists yet — the runner is exercised end to end against the real arena (tmux_day30.rs).
// The `Send` bound on every returned future is required, not decoration: the load engine
// spawns each buy onto Tokio's worker threads, which the generic runner can only do if the
// trait promises `Send`. A store whose future holds a non-`Send` guard across an `.await`
// is then refused at its own `impl`, where the mistake is.
/// What one buyer's attempt can do to the stock; implemented by the real arena
/// ([`crate::experiments::arena`]). A trait so the runner does not care which store sits behind it.
pub trait RaceTarget: Send + Sync + 'static {
    /// Puts `stock` units of `book` back on the shelf for `strategy`, nothing sold.
    ///
    /// Must zero the sold and locked counters as well as set `stock`: a lane that started
    /// from the previous race's leftovers would report the sum of two races.
    fn reset(
        &self,
        strategy: Strategy,
        book: u64,
        stock: i64,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    // Three outcomes, not two: `Ok(false)` is a correct refusal and counts as "rejected",
    // `Err` (lost connection, deadlock) counts as a failure. Mixing them would make a
    // strategy that errors under load look like one that correctly sells out.
    /// One buyer tries to buy `qty`; true = sold, false = (correctly) out of stock.
    fn buy(
        &self,
        strategy: Strategy,
        book: u64,
        qty: i64,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;
    /// Stock left; negative after an oversell.
    ///
    /// Read from the store itself, not derived from the buyers' answers: it is the second,
    /// independent witness the verdict cross-checks `sold` against (see the module docs).
    fn remaining(
        &self,
        strategy: Strategy,
        book: u64,
    ) -> impl Future<Output = anyhow::Result<i64>> + Send;
}

/// What the runner reports while it runs.
#[derive(Clone, Debug)]
pub enum RaceEvent {
    /// A strategy's stock was reset and its buyers are starting.
    Started(Strategy),
    // The snapshot is the load engine's cumulative view (successes, failures, latency
    // percentiles so far), so a dropped one loses nothing: the next is complete.
    /// A live snapshot (every 250 ms) of the strategy that is running.
    Progress(Strategy, Snapshot),
    /// A strategy finished; its final numbers.
    Finished(StrategyResult),
    /// All strategies finished.
    Done,
    // Sent instead of `Done`; nothing follows it.
    /// The race could not run (no database, …).
    Failed(String),
}

// Books in the arena's own database (`lab_race`) and key prefix, never the service's: the
// race resets their stock, which must not touch a real ledger. Lua keeps book 1: its hash
// lives in Redis, apart from both rows, and `{lab:race:inv}:stock:1` is what the lesson
// tells learners to inspect.
/// The book a strategy races on: one row (or hash) per strategy, see the module docs.
pub fn race_book(strategy: Strategy) -> u64 {
    match strategy {
        Strategy::Naive | Strategy::Lua => 1,
        Strategy::ForUpdate => 2,
    }
}

// Sends are `let _ =`: if the receiver is gone (the learner quit), the race still finishes
// its current strategy cleanly instead of erroring half-way, and nothing waits for a screen
// that is no longer there.
/// Runs every strategy in turn on the same starting stock, reporting over `events`.
/// Returns the results (also sent as [`RaceEvent::Finished`]).
pub async fn run<T: RaceTarget>(
    target: Arc<T>,
    params: RaceParams,
    events: mpsc::UnboundedSender<RaceEvent>,
) -> anyhow::Result<Vec<StrategyResult>> {
    let mut results = Vec::new();
    for strategy in Strategy::ALL {
        let book = race_book(strategy);
        // Reset before `Started`, so when the lane lights up the stock really is full.
        target.reset(strategy, book, i64::from(params.stock)).await?;
        let _ = events.send(RaceEvent::Started(strategy));

        // The load engine publishes snapshots on a watch channel; forward each one as
        // an event. The forwarder ends when the engine drops the sender.
        let (tx, mut rx) = watch::channel(Snapshot::default());
        let forward = {
            let events = events.clone();
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let s = rx.borrow_and_update().clone();
                    let _ = events.send(RaceEvent::Progress(strategy, s));
                }
            })
        };
        // Each buyer attempt is a fresh future that owns an `Arc` clone of the target: the
        // load engine runs many of them concurrently and none may borrow from this stack frame.
        // Every buyer buys exactly 1 unit, so `sold` counts units as well as buyers.
        let buyer = target.clone();
        // Microseconds from `started` to the moment the last sale was *acknowledged* (the
        // stamp is taken after `buy` returned `Ok(true)`): `fetch_max` makes the order in
        // which buyers finish irrelevant, and a relaxed atomic is enough because it is read
        // only after every buyer is done (the load engine's `run` has returned).
        // `started` is taken just before the engine starts its own clock, so the sale window
        // and the engine's `elapsed` share an origin to within the time it takes to spawn the
        // workers; a window measured from the first sale instead would leave out the queue
        // the first buyers waited in, and flatter the slow strategy most.
        let started = Instant::now();
        let last_sale = Arc::new(AtomicU64::new(0));
        let last = last_sale.clone();
        let summary = bookstore_loadgen::run(
            // The same load shape for every lane (`RaceParams::load`: buyers as workers, a
            // counted or a timed run): the one condition that makes the lanes comparable.
            params.load(),
            move |_| {
                let t = buyer.clone();
                let last = last.clone();
                async move {
                    // The whole attempt, store round trips included, is inside the engine's
                    // timer: a FOR UPDATE buyer's wait for the row lock is part of its latency,
                    // which is exactly the queueing the lesson wants the p99 to show.
                    match t.buy(strategy, book, 1).await {
                        Ok(true) => {
                            let at = started.elapsed().as_micros() as u64;
                            last.fetch_max(at, Ordering::Relaxed);
                            Outcome::Success
                        }
                        Ok(false) => Outcome::Rejected,
                        Err(_) => Outcome::Failed,
                    }
                }
            },
            Some(tx),
        )
        .await;
        // Wait for the forwarder before `Finished`: otherwise a late `Progress` of this strategy
        // could arrive after its `Finished` and replace the final numbers with older ones.
        let _ = forward.await;
        // Read after every buyer is done — the load engine's `run` returns only when all
        // in-flight attempts finished — so no sale can land after this read.
        let remaining = target.remaining(strategy, book).await?;
        // No sale, no window: a strategy that sold nothing (every attempt failed, say) has no
        // selling speed, which the table shows as `-` rather than as 0 sales per second.
        let selling = (summary.successes > 0)
            .then(|| Duration::from_micros(last_sale.load(Ordering::Relaxed)));
        let result = StrategyResult { strategy, stock: params.stock, summary, remaining, selling };
        let _ = events.send(RaceEvent::Finished(result.clone()));
        results.push(result);
    }
    let _ = events.send(RaceEvent::Done);
    Ok(results)
}
