//! The race chart's data: answers per second in each sample interval, per strategy.
//!
//! The load engine publishes a cumulative snapshot every 250 ms (`completed()` so far,
//! `elapsed` so far). A rate *per interval* is the difference of two snapshots divided by
//! the time between them; the engine's own `tps()` is the average since the start, which
//! flattens the one thing the chart is for: the moment a strategy changes pace. After a
//! sell-out every answer is a refusal, and refusing costs each strategy something else
//! (Lua: one script, no write; FOR UPDATE: a locked read and a commit) — the curve bends
//! there, and an average over the whole run would only drift.
//!
//! ❌ DON'T plot the engine's `tps_series` for this: it has one entry per *whole* second,
//! so a 3-second run draws three points and a flash sale (everyone buys once, well under a
//! second) draws none.

use bookstore_loadgen::Snapshot;

// Shorter intervals are merged into the next one (`last` stays put, so the next interval
// starts where the last point ended). The final snapshot often lands a few milliseconds
// after the last 250 ms tick, and 3 answers in 4 ms would plot as a spike of 750/s that no
// buyer ever saw; with no snapshot after it, that tail is left off the chart — the lane's
// numbers still count it.
/// The shortest interval that becomes a point, in seconds.
const MIN_INTERVAL: f64 = 0.05;

/// One strategy's answers/s over time: `(seconds since it started, answers/s)` points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TpsSeries {
    points: Vec<(f64, f64)>,
    /// `(elapsed s, completed)` of the snapshot the last point ended at; the start is (0, 0).
    last: (f64, u64),
}

impl TpsSeries {
    // Each point is placed at the *end* of its interval (the snapshot's `elapsed`), and the
    // first interval starts at the run's start — so the first point already says how fast
    // the opening burst was answered, sales and all.
    /// Adds the interval since the previous snapshot (skipped if shorter than 50 ms).
    pub fn push(&mut self, snap: &Snapshot) {
        let at = snap.elapsed.as_secs_f64();
        let (then, done) = self.last;
        let dt = at - then;
        if dt < MIN_INTERVAL {
            return;
        }
        // `saturating_sub`: snapshots are cumulative, so a smaller count can only come from a
        // snapshot of another run delivered late; it counts as no progress, not as a wrap.
        let answers = snap.completed().saturating_sub(done);
        self.points.push((at, answers as f64 / dt));
        self.last = (at, snap.completed());
    }

    // A slice, not the Vec: the chart borrows the points for one frame (`Dataset::data`) and
    // nothing outside this type may push a point that skipped the interval rule.
    /// The points, oldest first.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    // `fold` from 0.0 rather than `max_by`: rates are never negative, and an empty series
    // then needs no `Option` at the call site.
    /// The highest rate seen (0 when empty), for the chart's y bound.
    ///
    /// A single interval sets it, and one just over 50 ms is as noisy as its few answers;
    /// the chart rounds it up (`ui::chart::nice_ceil`) so that point does not touch the top.
    pub fn peak(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// The last point's time (0 when empty), for the chart's x bound.
    pub fn end(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    // Only what the series reads: time and the three outcome counts (failures left at 0,
    // since they add to `completed()` exactly like the other two).
    fn snap(ms: u64, successes: u64, rejections: u64) -> Snapshot {
        Snapshot {
            elapsed: Duration::from_millis(ms),
            successes,
            rejections,
            ..Snapshot::default()
        }
    }

    // Proves the rate is per interval, not cumulative: 100 sales in the first 250 ms (400/s),
    // then 500 refusals in the next 250 ms (2000/s) — the engine's average would say 1200/s
    // for the second point. And the 4 ms tail is folded into nothing rather than a spike.
    /// Each point is the answers of its own interval over that interval's length.
    #[test]
    fn points_are_rates_over_each_interval() {
        let mut s = TpsSeries::default();
        s.push(&snap(250, 100, 0));
        s.push(&snap(500, 100, 500));
        s.push(&snap(504, 100, 503));
        assert_eq!(s.points(), &[(0.25, 400.0), (0.5, 2000.0)]);
        assert_eq!(s.peak(), 2000.0);
        assert_eq!(s.end(), 0.5);
    }
}
