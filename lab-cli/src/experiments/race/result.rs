//! One strategy's final numbers, and the oversell every screen computes the same way.

use std::time::Duration;

use bookstore_loadgen::Snapshot;

use super::Strategy;

// `stock` is kept in the result (not only in the params) so a result is
// self-describing: the oversell can be computed from the result alone, in the TUI,
// in plain mode and in a test, with one function.
/// The final numbers of one strategy.
#[derive(Clone, Debug)]
pub struct StrategyResult {
    /// The strategy this lane raced with.
    pub strategy: Strategy,
    /// The starting stock, the same for every lane of a run.
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
    /// Sales the buyers were told about (the load engine's successes): the buyers' side of
    /// the cross-check against the store's `remaining`.
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

// The reveal keys of Day 30 (lessons/README.md lists them for lesson authors). A fixed-size
// array zipped with the values: adding a key without a value (or the reverse) is a compile
// error, so the list `lessons check` validates against cannot drift from what is filled.
/// The `{{measured:KEY}}` keys a race run fills.
pub const FIGURE_KEYS: [&str; 12] = [
    "stock",
    "naive_sold",
    "naive_oversold",
    "naive_remaining",
    "forupdate_sold",
    "forupdate_oversold",
    "lua_sold",
    "lua_oversold",
    "forupdate_sales_per_s",
    "lua_sales_per_s",
    "lua_vs_forupdate",
    "lua_attempts_per_s",
];

// Like for like, as the lesson's DO/DON'T says: the ratio divides sales per second *while
// stock lasted*, not attempts, so refusals (cheap for Lua, a locked row for FOR UPDATE) do
// not inflate it. `-` stands for "this run has no such figure" (a strategy that did not
// finish, or a sale window under a millisecond).
/// The race's figures from the finished lanes of one run.
pub fn figures(results: &[StrategyResult]) -> Vec<(&'static str, String)> {
    let of = |s: Strategy| results.iter().find(|r| r.strategy == s);
    let count =
        |s: Strategy, f: fn(&StrategyResult) -> i64| of(s).map_or("-".into(), |r| f(r).to_string());
    let rate = |s: Strategy| of(s).and_then(StrategyResult::sales_per_sec);
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let ratio = match (rate(Strategy::Lua), rate(Strategy::ForUpdate)) {
        (Some(l), Some(f)) if f > 0.0 => format!("{:.1}×", l / f),
        _ => "-".into(),
    };
    let values = [
        results.first().map_or("-".into(), |r| r.stock.to_string()),
        count(Strategy::Naive, |r| r.sold() as i64),
        count(Strategy::Naive, |r| r.oversell() as i64),
        // Negative when naive oversold: the store's own count, so the reveal can show the
        // learner the same number `SELECT stock` shows them afterwards.
        count(Strategy::Naive, |r| r.remaining),
        count(Strategy::ForUpdate, |r| r.sold() as i64),
        count(Strategy::ForUpdate, |r| r.oversell() as i64),
        count(Strategy::Lua, |r| r.sold() as i64),
        count(Strategy::Lua, |r| r.oversell() as i64),
        fmt(rate(Strategy::ForUpdate)),
        fmt(rate(Strategy::Lua)),
        ratio,
        // Attempts, refusals included: offered beside the sales rate so a lesson can show why
        // the two differ after a sell-out (the issue #14 TPS mix-up, in numbers).
        fmt(of(Strategy::Lua).map(StrategyResult::attempts_per_sec)),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the definition the screen relies on: selling *exactly* the stock is not an
    // oversell (the off-by-one a `>=` would introduce), and under-selling is zero, not negative.
    /// Oversell counts only sales beyond the starting stock.
    #[test]
    fn oversell_is_sales_beyond_the_stock() {
        assert_eq!(oversell(40, 50), 0);
        assert_eq!(oversell(50, 50), 0);
        assert_eq!(oversell(57, 50), 7);
    }
}
