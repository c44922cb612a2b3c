//! The knobs of a race, and the load shape each choice means.

use std::time::Duration;

use bookstore_loadgen::LoadConfig;

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

#[cfg(test)]
mod tests {
    use super::*;

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
