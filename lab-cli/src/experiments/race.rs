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

use std::{sync::Arc, time::Duration};

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use tokio::sync::{mpsc, watch};

/// One way to decrement stock (mirrors `bookstore_inventory::race::Strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    Naive,
    ForUpdate,
    Lua,
}

impl Strategy {
    /// In the order the lesson tells the story: wrong, correct but slow, correct and fast.
    pub const ALL: [Strategy; 3] = [Strategy::Naive, Strategy::ForUpdate, Strategy::Lua];

    pub fn label(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::ForUpdate => "for-update",
            Strategy::Lua => "lua",
        }
    }

    /// What the learner should remember about it (shown in the DO/DON'T table).
    pub fn lesson(self) -> &'static str {
        match self {
            Strategy::Naive => "先查后改，两条语句之间会被插队",
            Strategy::ForUpdate => "行锁排队，正确但串行",
            Strategy::Lua => "检查+扣减在一个原子脚本里",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

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
    pub duration_secs: u32,
}

impl Default for RaceParams {
    fn default() -> Self {
        Self { stock: 100, buyers: 200, duration_secs: 3 }
    }
}

impl RaceParams {
    pub fn load(&self) -> LoadConfig {
        match self.duration_secs {
            0 => LoadConfig::counted(self.buyers as usize, u64::from(self.buyers)),
            s => LoadConfig::timed(self.buyers as usize, Duration::from_secs(u64::from(s))),
        }
    }

    /// A short human description, e.g. `库存 100 · 买家 200 · 每种 3 秒`.
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
    /// A live snapshot (every 250 ms) of the strategy that is running.
    Progress(Strategy, Snapshot),
    /// A strategy finished; its final numbers.
    Finished(StrategyResult),
    /// All strategies finished.
    Done,
    /// The race could not run (no database, …).
    Failed(String),
}

/// The final numbers of one strategy.
#[derive(Clone, Debug)]
pub struct StrategyResult {
    pub strategy: Strategy,
    pub stock: u32,
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
}

/// Sales beyond the starting stock (0 when none).
pub fn oversell(sold: u64, stock: u32) -> u64 {
    sold.saturating_sub(u64::from(stock))
}

/// The book every race uses; the arena keeps it in its own database and key prefix.
pub const RACE_BOOK: u64 = 1;

/// Runs every strategy in turn on the same starting stock, reporting over `events`.
/// Returns the results (also sent as [`RaceEvent::Finished`]).
pub async fn run<T: RaceTarget>(
    target: Arc<T>,
    params: RaceParams,
    events: mpsc::UnboundedSender<RaceEvent>,
) -> anyhow::Result<Vec<StrategyResult>> {
    let mut results = Vec::new();
    for strategy in Strategy::ALL {
        target.reset(strategy, RACE_BOOK, i64::from(params.stock)).await?;
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
        let buyer = target.clone();
        let summary = bookstore_loadgen::run(
            params.load(),
            move |_| {
                let t = buyer.clone();
                async move {
                    match t.buy(strategy, RACE_BOOK, 1).await {
                        Ok(true) => Outcome::Success,
                        Ok(false) => Outcome::Rejected,
                        Err(_) => Outcome::Failed,
                    }
                }
            },
            Some(tx),
        )
        .await;
        let _ = forward.await;
        let remaining = target.remaining(strategy, RACE_BOOK).await?;
        let result = StrategyResult { strategy, stock: params.stock, summary, remaining };
        let _ = events.send(RaceEvent::Finished(result.clone()));
        results.push(result);
    }
    let _ = events.send(RaceEvent::Done);
    Ok(results)
}

/// One row of the closing DO/DON'T table.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub strategy: Strategy,
    /// `DON'T` when it oversold, else `DO`.
    pub verdict: &'static str,
    pub tps: f64,
    /// TPS relative to FOR UPDATE (the correct database baseline measured in this run).
    pub ratio: Option<f64>,
    pub sold: u64,
    pub oversell: u64,
    pub remaining: i64,
    pub failures: u64,
}

/// The DO/DON'T table from measured results: the verdict comes from the oversell
/// counter, not from what the lesson expects — if naive happened not to oversell on this
/// run, the table says so honestly.
pub fn verdicts(results: &[StrategyResult]) -> Vec<Verdict> {
    let base = results
        .iter()
        .find(|r| r.strategy == Strategy::ForUpdate)
        .map(|r| r.summary.tps())
        .filter(|t| *t > 0.0);
    results
        .iter()
        .map(|r| Verdict {
            strategy: r.strategy,
            verdict: if r.oversell() > 0 || r.remaining < 0 { "DON'T" } else { "DO" },
            tps: r.summary.tps(),
            ratio: base.map(|b| r.summary.tps() / b),
            sold: r.sold(),
            oversell: r.oversell(),
            remaining: r.remaining,
            failures: r.summary.failures,
        })
        .collect()
}

/// The DO/DON'T table as plain text (for `--no-tui` and the end of a plain run).
pub fn verdict_table(results: &[StrategyResult]) -> String {
    let mut out = format!(
        "{:<7} {:<11} {:>9} {:>12} {:>6} {:>8} {:>6} {:>6}  {}\n",
        "", "strategy", "TPS", "×for-update", "sold", "oversell", "left", "errors", "why"
    );
    for v in verdicts(results) {
        let ratio = v.ratio.map_or("-".to_string(), |r| format!("{r:.2}×"));
        out.push_str(&format!(
            "{:<7} {:<11} {:>9.0} {:>12} {:>6} {:>8} {:>6} {:>6}  {}\n",
            v.verdict,
            v.strategy.label(),
            v.tps,
            ratio,
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

    fn result(strategy: Strategy, stock: u32, sold: u64, secs: u64) -> StrategyResult {
        StrategyResult {
            strategy,
            stock,
            summary: Snapshot {
                elapsed: Duration::from_secs(secs),
                successes: sold,
                done: true,
                ..Default::default()
            },
            remaining: i64::from(stock) - sold as i64,
        }
    }

    /// Oversell counts only sales beyond the starting stock.
    #[test]
    fn oversell_is_sales_beyond_the_stock() {
        assert_eq!(oversell(40, 50), 0);
        assert_eq!(oversell(50, 50), 0);
        assert_eq!(oversell(57, 50), 7);
    }

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
