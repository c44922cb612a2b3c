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
