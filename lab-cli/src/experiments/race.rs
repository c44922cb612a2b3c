//! Day 30's experiment: N buyers race for the same stock, once per strategy.
//!
//! The three strategies are inventory-service's real code (`bookstore_inventory::race`),
//! run against the stack's real MariaDB and Redis — the lab does not simulate a race, it
//! causes one. Each strategy starts from the same stock, so the numbers compare like
//! with like:
//! - **naive** (`SELECT stock`, check in Rust, `UPDATE stock = stock - 1`): the check and
//!   the write are two statements; between them other buyers read the same "1 left".
//!   Expect oversells > 0 and a stock below zero. DON'T.
//! - **FOR UPDATE**: the row is locked from read to write, buyers queue on it. Correct,
//!   but every sale waits for the one before it. DO, when MySQL is the only store.
//! - **Lua**: check and decrement in one Redis script, which runs atomically. Correct and
//!   fast. DO (the course's recommendation for hot stock).
//!
//! How the numbers are defined, so the screen, the plain output and the test agree:
//! sold = sales the strategy confirmed; oversell = sold − starting stock when positive
//! (equivalently, how far the remaining stock went below zero).
//!
//! ## Why one strategy after another, on the same stock
//!
//! The runner resets the book to the same stock, runs strategy 1 to the end, resets,
//! runs strategy 2, and so on. It could run all three at once — it must not:
//! - **fair comparison**: every strategy gets the same starting stock, the same number of
//!   buyers and the whole machine. The course machine has 2 cores; three races at once would
//!   each get about a third of them, and the ratio "Lua is N× FOR UPDATE" would measure the
//!   scheduler, not the strategies.
//! - **no cross-talk**: naive and FOR UPDATE share one MariaDB. FOR UPDATE's row locks and
//!   naive's extra round trips would slow each other (lock waits, buffer pool, fsyncs), so
//!   the naive lane's oversell count would depend on what the FOR UPDATE lane was doing.
//! - **the story**: the screen fills top to bottom in the lesson's order — wrong, correct but
//!   slow, correct and fast — so the learner reads each result before the next begins.
//!
//! The cost is wall time (3 × duration) — a good trade for numbers that mean something.
//!
//! Each strategy races on a book of its own ([`race_book`]): naive on book 1 and FOR UPDATE
//! on book 2 of the arena's `inventory` table (both SQL strategies use that one table, so
//! on one book they would share one row), Lua on book 1's hash in Redis. So FOR UPDATE's
//! reset never overwrites naive's result: after a race, `lab_race.inventory` still shows
//! naive's row below zero next to FOR UPDATE's exact 0 — the lesson's "look at the row
//! yourself". ❌ With one shared `RACE_BOOK` (as before) the row the learner inspected had
//! already been reset and sold out by FOR UPDATE, and never showed the oversell.
//!
//! ## Why `remaining < 0` and `sold > stock` agree
//!
//! Conservation: every confirmed sale took exactly one unit off the store, so
//! `remaining = stock − sold` as long as nothing else writes the row. Then
//! `sold > stock ⇔ stock − sold < 0 ⇔ remaining < 0`, and `oversell = sold − stock = −remaining`.
//! The two are computed from different places — `sold` from what the buyers were *told*
//! (the load engine's success count), `remaining` from what the *store* holds afterwards —
//! so checking both is a cross-check, not a duplicate: if they ever disagree, a sale was
//! confirmed without being written (or written without being confirmed), which is a
//! second bug, and [`verdicts`] says DON'T on either signal.
//!
//! Naive can go below zero because its `UPDATE stock = stock - 1` has no `WHERE stock >= 1`:
//! that is the lesson's point (check in Rust, write in SQL, nothing ties them together).
//! With a guarded `UPDATE … WHERE stock >= 1` the row would stop at 0 but buyers could
//! still be *told* they succeeded if the code ignores `rows_affected` — `sold` catches that.
//!
//! The interleavings themselves (who reads what, when) are drawn as timelines in
//! `bookstore_inventory::race`'s docs, next to the code; this module is about *measuring*
//! them.
//!
//! ## Reading the numbers (what changes them, so a surprise teaches instead of confuses)
//!
//! - **buyers ≤ stock → naive gets DO.** Each buyer buys one unit, so it can sell at most
//!   `buyers` units; an oversell needs more buyers than units *and* concurrency at the
//!   moment the stock runs out. The bug is real but conditional — exactly why it survives
//!   testing with three users and breaks on sale day. Try `b` down to 10 with stock 100.
//! - **naive's oversell varies run to run.** It counts how many buyers were between their
//!   SELECT and their UPDATE when the last unit went; that depends on scheduling, the
//!   connection pool (the arena uses 64 connections so MySQL, not the pool, is where buyers
//!   meet) and the machine's load. Read it as "> 0 or not", not as a constant.
//! - **timed runs keep going after sell-out.** With stock 100 and 200 buyers the stock is
//!   gone within milliseconds, and the rest of each run is refusals — which cost Lua far
//!   less than FOR UPDATE (no write, no stream entry, no commit). So the screen keeps two
//!   rates apart: **成交/秒** = sales ÷ the time until the last sale ([`StrategyResult::selling`]),
//!   the speed of selling *while stock lasts*, and **尝试/秒** = every answer (sale or "no")
//!   ÷ the whole run, the speed of saying anything. The DO/DON'T ratio is computed on
//!   成交/秒 only: like for like. ❌ The old single "TPS" mixed both, and "Lua 12× FOR
//!   UPDATE" was mostly a ratio of refusals. How fast a strategy says no still matters in
//!   a flash sale (almost everyone is refused) — that is what 尝试/秒 shows.
//! - **TPS is closed-loop** (see `bookstore_loadgen`): N buyers, each waiting for its answer
//!   before trying again, so TPS is what the store sustains at N concurrent buyers — not
//!   what it would do under an open stream of arrivals.
//!
//! ## Adding a strategy (the conditional UPDATE, say)
//!
//! The service's race docs describe a fourth, pure-SQL answer (`UPDATE … WHERE stock >= ?`
//! and check `rows_affected`). Racing it would take: a variant in the service's
//! `race::Strategy` with its buy function, a variant here (mirrored, in story order), a
//! mapping line in `experiments::arena`, a fourth lane in `app::RaceState` and `ui::race`
//! (the 80×24 layout would need its lanes to shrink to 3 rows), and a snapshot update.
//! The verdict logic needs nothing: it already judges by measured oversell.
//!
//! ## Predict before you measure
//!
//! Both correct strategies *serialise* the sales of one book — correctness requires it:
//! someone must be first to take the last unit. What differs is how long each sale holds
//! the critical section, and that alone predicts the ratio the table will show.
//!
//! - **FOR UPDATE** holds the row lock from `SELECT … FOR UPDATE` to `COMMIT`: three round
//!   trips to MariaDB plus the commit's redo-log flush. At, say, 0.1 ms per loopback
//!   round trip and 0.5–2 ms per flush, one sale holds the lock for roughly 1–2 ms, so the
//!   book sells at most ~500–1000 times per second — no matter how many buyers queue.
//! - **Lua** holds Redis (single-threaded: one script at a time, for *all* keys) only while
//!   the script runs in memory: tens of microseconds. The ceiling is tens of thousands per
//!   second; on a 2-core laptop the client's round trips and the load generator's own
//!   CPU run out first.
//!
//! The two rates on screen test this prediction from two sides. 成交/秒 is the ceiling
//! itself: while stock lasts, every attempt that gets through the critical section is a
//! sale. 尝试/秒 after a sell-out measures the *refusal* path, which for Lua skips the
//! write and the stream entry and for FOR UPDATE still takes the row lock: on the course
//! machine (stock 100, 200 buyers, 3 s) Lua sold 5× faster than FOR UPDATE but answered
//! 17× faster. The first number is the lesson's DO/DON'T; the second is why a flash sale,
//! where almost everyone is refused, punishes the row lock even more.
//!
//! Adding buyers does not raise either ceiling; it lengthens the queue. Little's law says
//! how much: in a closed loop, latency ≈ buyers ÷ TPS. With 200 buyers at 600 TPS, each
//! attempt waits ≈ 330 ms — check it against the FOR UPDATE lane's p50. When the
//! measurement disagrees with the prediction, one of the assumptions (round trip, flush,
//! CPU) is wrong, and finding which one is the lesson.
//!
//! ## Exercises
//!
//! 1. Find the boundary: stock 100, duration 0, and raise buyers from 50 step by step.
//!    At which point does naive first oversell on your machine? Why never below 100?
//! 2. Run the same race three times. Which numbers are stable (FOR UPDATE and Lua: sold =
//!    stock, remaining = 0, always) and which vary (naive's oversell, every TPS)?
//!    That split is the difference between a correctness property and a measurement.
//! 3. Change `run` to start all three strategies at once (`join_all`) and compare the
//!    ratios with the sequential run. Then revert it — and explain to a colleague why.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use tokio::sync::{mpsc, watch};

// Re-exported, not mirrored: the lab races exactly the strategies the service has, with
// the service's own labels ("naive", "for-update", "lua"), so a new variant there shows up
// here as a compile error in every `match`, never as a silently missing lane.
pub use bookstore_inventory::race::Strategy;

/// What the lab adds to the service's [`Strategy`]: the lesson line and the lane index.
pub trait StrategyExt: Copy {
    /// What the learner should remember about it (shown in the DO/DON'T table).
    fn lesson(self) -> &'static str;
    /// The lane index on screen (0, 1, 2: the order of [`Strategy::ALL`]).
    fn index(self) -> usize;
}

impl StrategyExt for Strategy {
    // Learner-facing, so Chinese; one short line each because the plain table prints it at
    // the end of an 80-column row.
    fn lesson(self) -> &'static str {
        match self {
            Strategy::Naive => "先查后改，两条语句之间会被插队",
            Strategy::ForUpdate => "行锁排队，正确但串行",
            Strategy::Lua => "检查+扣减在一个原子脚本里",
        }
    }

    fn index(self) -> usize {
        // Looked up rather than `self as usize`: the lane order is the lab's `ALL` order,
        // whatever order the service happens to declare its variants in.
        Strategy::ALL.iter().position(|s| *s == self).expect("ALL lists every strategy")
    }
}

// The trait is the seam where a test could plug an in-memory store with a deliberately
// racy `buy` and check the runner's bookkeeping without MariaDB. Honest gap: no such test
// exists yet — the runner is exercised end to end against the real arena (tmux_day30.rs). The methods return `impl Future + Send` (return-position impl
// trait in traits, stable since Rust 1.75) instead of using `#[async_trait]`: no boxing
// per call, and the `Send` bound is spelled out because the load engine moves each buy
// future onto Tokio's worker threads.
/// What one buyer's attempt can do to the stock; implemented by the real arena
/// ([`super::arena`]). A trait so the runner does not care which store sits behind it.
pub trait RaceTarget: Send + Sync + 'static {
    /// Puts `stock` units of `book` back on the shelf for `strategy`, nothing sold.
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
    fn remaining(
        &self,
        strategy: Strategy,
        book: u64,
    ) -> impl Future<Output = anyhow::Result<i64>> + Send;
}

/// The knobs of a race (adjustable with keys in the TUI, flags in plain mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaceParams {
    /// Starting stock, the same for every strategy.
    pub stock: u32,
    /// Concurrent buyers.
    pub buyers: u32,
    /// 0: every buyer tries exactly once (a flash sale: all arrive at once). Otherwise
    /// buyers keep trying for this many seconds per strategy, which draws the TPS curve
    /// (after the stock is gone, the refusals are what gets measured).
    // Why two modes: with 0 the question is "does it oversell?" (200 buyers, 100 units, all
    // at once — the flash sale). With a duration the question becomes "how fast is it?",
    // and after the stock is gone most attempts are refusals: that is realistic — a sold-out
    // flash sale is mostly people being told "no", and how fast you say no matters too.
    pub duration_secs: u32,
}

// Twice as many buyers as units, so naive oversells on almost any machine; 3 s per
// strategy keeps a whole race under ten seconds, short enough to run again and again.
impl Default for RaceParams {
    fn default() -> Self {
        Self { stock: 100, buyers: 200, duration_secs: 3 }
    }
}

impl RaceParams {
    // `counted(concurrency, ops)`: `buyers` workers, one attempt each in total.
    // `timed(concurrency, d)`: `buyers` workers looping until `d` elapses.
    // Honest detail of `counted`: the engine hands out exactly `buyers` attempt tickets to
    // `buyers` workers. Usually that is one each, but a worker that finishes early may take a
    // second ticket before a slow one has started. The *total* — what the oversell depends on
    // — is exact; "one per buyer" is the picture, not a guarantee.
    pub fn load(&self) -> LoadConfig {
        match self.duration_secs {
            0 => LoadConfig::counted(self.buyers as usize, u64::from(self.buyers)),
            s => LoadConfig::timed(self.buyers as usize, Duration::from_secs(u64::from(s))),
        }
    }

    /// A short human description, e.g. `库存 100 · 买家 200 · 每种 3 秒`.
    // Learner-facing, so Chinese; it heads the race screen and the plain output, so the
    // numbers are always shown with the conditions that produced them.
    pub fn describe(&self) -> String {
        let mode = match self.duration_secs {
            0 => "每人抢一次".to_string(),
            s => format!("每种 {s} 秒"),
        };
        format!("库存 {} · 买家 {} · {mode}", self.stock, self.buyers)
    }
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

// `stock` is kept in the result (not only in the params) so a result is
// self-describing: the oversell can be computed from the result alone, in the TUI,
// in plain mode and in a test, with one function.
/// The final numbers of one strategy.
#[derive(Clone, Debug)]
pub struct StrategyResult {
    pub strategy: Strategy,
    pub stock: u32,
    // Measured by the runner (the load engine counts outcomes, not when they happened): the
    // moment of the *last* confirmed sale. With stock to spare it is about the whole run;
    // after a sell-out it is when the stock ran out, however long the run went on refusing.
    /// From the start to the last confirmed sale; `None` when nothing was sold.
    pub selling: Option<Duration>,
    /// The load engine's final snapshot: `successes` are sales confirmed to buyers,
    /// `rejections` correct "sold out" answers, `failures` errors (timeouts, deadlocks).
    pub summary: Snapshot,
    /// Stock left in the store after the run (negative = oversold).
    pub remaining: i64,
}

impl StrategyResult {
    pub fn sold(&self) -> u64 {
        self.summary.successes
    }

    /// Units sold that did not exist.
    pub fn oversell(&self) -> u64 {
        oversell(self.summary.successes, self.stock)
    }

    // A sale window under a millisecond (a handful of units, all gone in the first burst)
    // would divide by almost nothing and print a meaningless million: below 1 ms there is
    // no rate to report.
    /// Sales per second while stock lasted (成交/秒).
    pub fn sales_per_sec(&self) -> Option<f64> {
        let secs = self.selling?.as_secs_f64();
        (secs >= 0.001).then(|| self.sold() as f64 / secs)
    }

    // The load engine's own rate, unchanged: over the whole run, so after a sell-out it is
    // dominated by how fast the strategy refuses — useful, but not comparable across
    // strategies as a selling speed.
    /// Every answer (sale, refusal or error) per second over the whole run (尝试/秒).
    pub fn attempts_per_sec(&self) -> f64 {
        self.summary.tps()
    }
}

// Saturating: fewer sales than stock is "no oversell", not a negative number — unsold
// stock is a different (and harmless) outcome, e.g. when buyers < stock.
/// Sales beyond the starting stock (0 when none).
pub fn oversell(sold: u64, stock: u32) -> u64 {
    sold.saturating_sub(u64::from(stock))
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
        // Microseconds since the start of the last sale seen by any buyer: `fetch_max` makes the
        // order in which buyers finish irrelevant, and a relaxed atomic is enough because it is
        // read only after every buyer is done (the load engine's `run` has returned).
        let started = Instant::now();
        let last_sale = Arc::new(AtomicU64::new(0));
        let last = last_sale.clone();
        let summary = bookstore_loadgen::run(
            params.load(),
            move |_| {
                let t = buyer.clone();
                let last = last.clone();
                async move {
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

// Display-ready numbers, computed once here so the TUI table and the plain table can
// never disagree about a verdict.
/// One row of the closing DO/DON'T table.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub strategy: Strategy,
    // A string rather than a bool because both tables print it as-is.
    /// `DON'T` when it oversold, else `DO`.
    pub verdict: &'static str,
    /// 成交/秒 while stock lasted (see the module docs); `None` when too little was sold.
    pub sales_per_sec: Option<f64>,
    /// 尝试/秒 over the whole run, refusals included.
    pub attempts_per_sec: f64,
    // A ratio to a baseline of the *same run* is the only figure worth printing (house
    // rule): absolute TPS on a shared 2-core laptop moves ±30 % with whatever else runs,
    // while "Lua ≈ N× FOR UPDATE" stays stable, because both suffered the same noise.
    /// 成交/秒 relative to FOR UPDATE's (the correct database baseline measured in this run):
    /// sales against sales, never refusals against sales.
    pub ratio: Option<f64>,
    pub sold: u64,
    pub oversell: u64,
    pub remaining: i64,
    /// Shown, not judged: errors are not oversells, but a strategy that errors under load
    /// is telling you something too (FOR UPDATE lock waits can time out).
    pub failures: u64,
}

// The baseline is `None` when FOR UPDATE is missing or measured 0 TPS (a failed run):
// no ratio is better than a division by zero shown as `inf×`.
/// The DO/DON'T table from measured results: the verdict comes from the oversell
/// counter, not from what the lesson expects — if naive happened not to oversell on this
/// run, the table says so honestly.
pub fn verdicts(results: &[StrategyResult]) -> Vec<Verdict> {
    let base = results
        .iter()
        .find(|r| r.strategy == Strategy::ForUpdate)
        .and_then(StrategyResult::sales_per_sec)
        .filter(|t| *t > 0.0);
    results
        .iter()
        .map(|r| Verdict {
            strategy: r.strategy,
            // Either signal suffices (see the module docs): they agree when the store is consistent,
            // and if they ever disagree something is wrong anyway.
            verdict: if r.oversell() > 0 || r.remaining < 0 { "DON'T" } else { "DO" },
            sales_per_sec: r.sales_per_sec(),
            attempts_per_sec: r.attempts_per_sec(),
            ratio: base.zip(r.sales_per_sec()).map(|(b, s)| s / b),
            sold: r.sold(),
            oversell: r.oversell(),
            remaining: r.remaining,
            failures: r.summary.failures,
        })
        .collect()
}

// Fixed-width columns with explicit widths rather than a table crate: one table, and the
// widths are part of what the tmux end-to-end test and learners' scripts read.
/// The DO/DON'T table as plain text (for `--no-tui` and the end of a plain run).
pub fn verdict_table(results: &[StrategyResult]) -> String {
    // `×for-update` in the header names the baseline of every ratio in the column.
    let mut out = format!(
        "{:<7} {:<11} {:>9} {:>12} {:>10} {:>6} {:>8} {:>6} {:>6}  {}\n",
        "",
        "strategy",
        "sales/s",
        "×for-update",
        "attempts/s",
        "sold",
        "oversell",
        "left",
        "errors",
        "why"
    );
    for v in verdicts(results) {
        let ratio = v.ratio.map_or("-".to_string(), |r| format!("{r:.2}×"));
        let sales = v.sales_per_sec.map_or("-".to_string(), |s| format!("{s:.0}"));
        out.push_str(&format!(
            "{:<7} {:<11} {:>9} {:>12} {:>10.0} {:>6} {:>8} {:>6} {:>6}  {}\n",
            v.verdict,
            v.strategy.label(),
            sales,
            ratio,
            v.attempts_per_sec,
            v.sold,
            v.oversell,
            v.remaining,
            v.failures,
            v.strategy.lesson()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `remaining` is derived by conservation (stock − sold), i.e. a consistent store: the
    // tests below are about the verdict arithmetic, not about a store that lost writes.
    fn result(strategy: Strategy, stock: u32, sold: u64, secs: u64) -> StrategyResult {
        StrategyResult {
            strategy,
            stock,
            selling: Some(Duration::from_secs(secs)),
            summary: Snapshot {
                elapsed: Duration::from_secs(secs),
                successes: sold,
                done: true,
                ..Default::default()
            },
            remaining: i64::from(stock) - sold as i64,
        }
    }

    // Proves the definition the screen relies on: selling *exactly* the stock is not an
    // oversell (the off-by-one a `>=` would introduce), and under-selling is zero, not negative.
    /// Oversell counts only sales beyond the starting stock.
    #[test]
    fn oversell_is_sales_beyond_the_stock() {
        assert_eq!(oversell(40, 50), 0);
        assert_eq!(oversell(50, 50), 0);
        assert_eq!(oversell(57, 50), 7);
    }

    // Proves the table is driven by numbers, not by which strategy it is: here naive oversold,
    // so it gets DON'T; a run where it did not would get DO. And the ratio's baseline is
    // FOR UPDATE (ratio 1.0), so "Lua 2×" means "twice the correct database path".
    /// The verdict follows the measured oversell, and ratios are to FOR UPDATE.
    #[test]
    fn verdicts_follow_measured_oversell_and_ratio_to_for_update() {
        let v = verdicts(&[
            result(Strategy::Naive, 50, 60, 1),
            result(Strategy::ForUpdate, 50, 50, 2),
            result(Strategy::Lua, 50, 50, 1),
        ]);
        assert_eq!(v[0].verdict, "DON'T");
        assert_eq!(v[0].oversell, 10);
        assert_eq!(v[1].verdict, "DO");
        assert_eq!(v[1].ratio, Some(1.0));
        assert_eq!(v[2].ratio, Some(2.0));
    }

    // Proves the like-for-like rule: Lua refused 10 000 times in a second after selling its
    // 50 units in 10 ms, FOR UPDATE refused 500 times after selling in 100 ms. Attempts/s
    // would say Lua is 10 000 / 550 ≈ 18×; sales while stock lasted say 10× — the ratio the
    // table must show. And a sale window under a millisecond yields no rate at all.
    /// The DO/DON'T ratio compares sales per second while stock lasted, not attempts.
    #[test]
    fn the_ratio_compares_sales_while_stock_lasts_not_refusals() {
        let mut fu = result(Strategy::ForUpdate, 50, 50, 1);
        fu.selling = Some(Duration::from_millis(100));
        fu.summary.rejections = 500;
        let mut lua = result(Strategy::Lua, 50, 50, 1);
        lua.selling = Some(Duration::from_millis(10));
        lua.summary.rejections = 10_000;
        let v = verdicts(&[fu, lua.clone()]);
        assert_eq!(v[1].ratio.map(|r| r.round()), Some(10.0));
        assert!(v[1].attempts_per_sec > 10.0 * v[0].attempts_per_sec);
        lua.selling = Some(Duration::from_micros(500));
        assert_eq!(lua.sales_per_sec(), None);
    }

    // Proves the two modes map to the two load shapes (flash sale vs. sustained), so the
    // `--duration 0` the lesson tells learners to try really means "everyone once".
    /// Duration 0 means one attempt per buyer; otherwise a timed run.
    #[test]
    fn params_choose_counted_or_timed_load() {
        let once = RaceParams { stock: 5, buyers: 30, duration_secs: 0 }.load();
        assert_eq!(once.max_ops, Some(30));
        assert_eq!(once.duration, None);
        let timed = RaceParams::default().load();
        assert_eq!(timed.duration, Some(Duration::from_secs(3)));
    }
}
