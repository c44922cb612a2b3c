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
//! ## For the learner
//!
//! What the numbers should be before you measure them (the critical section of each
//! strategy, Little's law), how to read a surprising run, and the exercises live in the
//! Day 30 lesson (`lessons/day30/lesson.md`, 实验), next to the race they are about.
//!
//! ## Modules
//!
//! - `params`: [`RaceParams`], the knobs, and the load shape they choose.
//! - `runner`: [`RaceTarget`] (what a buyer can do to a store), [`RaceEvent`] and [`run`].
//! - `result`: [`StrategyResult`], one strategy's final numbers, and [`oversell`].
//! - `verdict`: the closing DO/DON'T table, [`verdicts`] and [`verdict_table`].

mod params;
mod result;
mod runner;
mod series;
mod verdict;

pub use params::RaceParams;
pub use result::{FIGURE_KEYS, StrategyResult, figures, oversell};
pub use runner::{RaceEvent, RaceTarget, race_book, run};
pub use series::TpsSeries;
pub use verdict::{Verdict, verdict_table, verdicts};

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
