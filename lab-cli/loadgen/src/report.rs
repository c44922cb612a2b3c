//! Bench reports: named rows, ratios to a baseline measured in the same run, text and JSON.
//!
//! Why ratios: absolute TPS on a shared 2-core machine drifts by tens of percent between
//! runs. "Lua over gRPC reaches 0.8× a no-op gRPC call" survives that drift, because both
//! numbers were measured seconds apart on the same machine under the same noise.
//!
//! Why medians of several runs, not the mean or the best: one run disturbed by a neighbour's
//! `cargo build` drags a mean far off, while the median of 3–5 runs ignores it. The best run
//! flatters (it is the run where the noise happened to be absent). The spread of the runs
//! is kept in the report (`runs_tps`), so a reader can see how noisy the machine was.
//!
//! ✅ DO: "Lua 0.82× no-op (median of 5, same run)". ❌ DON'T: "Lua does 12 000 TPS" —
//! that figure is true for one machine, one minute, one load on the neighbours' cores.
//!
//! What it is NOT: a statistics package. No confidence intervals or significance tests; a
//! ratio that changes by less than the runs' spread should be read as "no difference".

use serde::Serialize;

use crate::Summary;

/// One measured path (one strategy, one RPC, one cache setting), aggregated over runs.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What was measured, e.g. `lua decrement (gRPC)`.
    pub name: String,
    /// Median operations per second over the runs (each run's TPS is completed ÷ elapsed,
    /// so rejections count as throughput: refusing a sold-out buyer is work too).
    pub tps: f64,
    /// Median latency percentiles over the runs, microseconds. Note what this is: the median
    /// of each run's p99, not the p99 of all runs' samples pooled — a robust "typical run"
    /// figure, not a percentile of the union (which would need the histograms kept).
    pub p50_us: u64,
    pub p99_us: u64,
    /// Totals over all runs (sums, not medians: every attempt happened and counts —
    /// one failure in any run is a failure to report).
    pub successes: u64,
    pub rejections: u64,
    pub failures: u64,
    /// TPS of every run, for the reader who wants the spread: a median of 1000 from runs
    /// 990/1000/1010 is a solid figure, from 400/1000/1600 it is a warning about the machine.
    pub runs_tps: Vec<f64>,
    /// `tps / baseline tps`, when the report has a baseline for this row. Below 1.0 means
    /// "costs more than the baseline"; the baseline is usually the cheapest possible call
    /// through the same stack (a no-op RPC), so the ratio isolates what the path adds.
    pub ratio: Option<f64>,
    /// Which baseline `ratio` refers to.
    pub baseline: Option<String>,
    /// Extra facts (hit rate, oversells, …) as `key → value`. Strings, so each bench
    /// formats its own facts; an ordered `Vec`, so they print in the order they were added.
    pub extra: Vec<(String, String)>,
}

impl Row {
    /// A row from several runs of the same path: medians of TPS and percentiles, sums of counts.
    /// Runs of different paths should be interleaved by the caller (A, B, A, B, …) rather
    /// than batched (A, A, B, B): slow drift in machine load then hits both paths alike.
    pub fn from_runs(name: impl Into<String>, runs: &[Summary]) -> Self {
        // Each run's TPS is computed by that run over its own elapsed time, then the
        // median is taken: pooling counts and durations first would let one long, slow
        // run (a stalled tail) weigh more than the others.
        // Kept per run (not only the median) so the report can show the spread.
        let tps: Vec<f64> = runs.iter().map(|s| s.tps()).collect();
        Self {
            name: name.into(),
            tps: median(&tps),
            p50_us: median_u64(runs.iter().map(|s| s.p50_us).collect()),
            p99_us: median_u64(runs.iter().map(|s| s.p99_us).collect()),
            successes: runs.iter().map(|s| s.successes).sum(),
            rejections: runs.iter().map(|s| s.rejections).sum(),
            failures: runs.iter().map(|s| s.failures).sum(),
            runs_tps: tps,
            ratio: None,
            baseline: None,
            extra: Vec::new(),
        }
    }

    /// Adds a `key = value` fact shown after the numbers (e.g. `oversold=0`). Builder style,
    /// so a bench can write `Row::from_runs(…).with("hit_rate", "93 %")`.
    pub fn with(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.extra.push((key.into(), value.to_string()));
        self
    }
}

/// A whole bench report: the conditions (workers, duration, runs) travel with the numbers,
/// because a TPS figure without its concurrency means nothing in a closed-loop test.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Which bench (`inventory`, `catalog`, `order`, `discovery`), as typed after
    /// `bookstore-lab bench`.
    pub bench: String,
    /// Workers per run (closed loop: the load knob).
    pub concurrency: usize,
    /// Length of each run; short runs are noisier, long ones cost CI time.
    pub duration_secs: f64,
    /// How many runs each median is taken over (3–5 is the usual compromise).
    pub runs: usize,
    /// In measuring order, which is also the order the table prints: benches put the
    /// baselines first, so a reader meets the ceiling before the rows divided by it.
    pub rows: Vec<Row>,
    /// Plain-language notes (what the ratios mean, caveats of this machine).
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report for `bench`; rows are pushed as paths are measured, then
    /// [`Report::ratio_to`] is called once all rows (including the baseline) exist.
    pub fn new(
        bench: impl Into<String>,
        concurrency: usize,
        duration_secs: f64,
        runs: usize,
    ) -> Self {
        Self {
            bench: bench.into(),
            concurrency,
            duration_secs,
            runs,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Sets `row.ratio = row.tps / tps of the row named baseline` for the rows named in `rows`.
    ///
    /// The baseline is a row of the *same* report, measured in the same process minutes
    /// apart — never a number from an earlier day or another machine. A missing baseline,
    /// or one at 0 TPS, leaves the ratios unset rather than printing inf or NaN.
    pub fn ratio_to(&mut self, baseline: &str, rows: &[&str]) {
        // By name, so a typo in a bench's row constant silently gives no ratios; the
        // benches spell every name once, as a constant, for that reason.
        let Some(base) = self.tps(baseline) else { return };
        // A later call overwrites an earlier one's ratio on the same row: one row, one
        // baseline (the inventory bench adds a second comparison as an extra fact).
        // Only the listed rows: a report can hold several comparisons (Lua vs no-op gRPC,
        // `FOR UPDATE` vs no-op SQL), each against its own, like-for-like baseline.
        for r in self.rows.iter_mut().filter(|r| rows.contains(&r.name.as_str())) {
            if base > 0.0 {
                r.ratio = Some(r.tps / base);
                r.baseline = Some(baseline.to_string());
            }
        }
    }

    /// The TPS of the row named `name`, `None` if there is no such row (`--only` left it
    /// out): the one lookup every comparison of rows goes through.
    ///
    /// The first row of that name: names are unique within a report, because each bench
    /// spells every row name once, as a constant, and pushes each row once.
    pub fn tps(&self, name: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.name == name).map(|r| r.tps)
    }

    /// Marks `rows` with `vs_ceiling`: their TPS against the shared-CPU ceiling of `parts`,
    /// two measured rows whose work every call of `rows` does one of each. Returns the
    /// ceiling, `None` when either part is missing or completed nothing.
    ///
    /// Why the costs add: on the lab machine the load generator, the service and Redis draw
    /// on the same two cores, so a call that is "one no-op gRPC call plus one script call"
    /// costs the CPU of both, and 1/ceiling = 1/TPS(a) + 1/TPS(b) even if the service's own
    /// code cost nothing. A row near 1.0× of it is as fast as the machine allows; its
    /// `× no-op` ratio cannot exceed ceiling ÷ no-op, however good the handler.
    pub fn ceiling_to(&mut self, parts: [&str; 2], rows: &[&str]) -> Option<f64> {
        let (a, b) = (self.tps(parts[0])?, self.tps(parts[1])?);
        let ceiling = (a > 0.0 && b > 0.0).then(|| 1.0 / (1.0 / a + 1.0 / b))?;
        for row in self.rows.iter_mut().filter(|r| rows.contains(&r.name.as_str())) {
            row.extra.push(("vs_ceiling".into(), format!("{:.2}×", row.tps / ceiling)));
        }
        Some(ceiling)
    }

    /// The machine-readable form (CI keeps it as an artifact; the TUI can load it).
    pub fn to_json(&self) -> String {
        // `expect`, not `?`: plain structs of numbers and strings always serialize; a
        // failure here would be a programming error (say, a map with non-string keys).
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// A fixed-width table for terminals and CI logs, shaped like this:
    ///
    /// ```text
    /// inventory — 64 workers × 5s × 5 runs (median)
    /// path              TPS     p50 µs     p99 µs        ok  rejected   errors  ratio / notes
    /// noop grpc      <tps a>    <p50>      <p99>       <n>       <n>      <n>
    /// lua            <tps b>    <p50>      <p99>       <n>       <n>      <n>  <b/a>× noop grpc  oversold=0
    /// · <one note per line>
    /// ```
    /// (Placeholders, deliberately: figures come from running the bench, never from docs.)
    pub fn to_table(&self) -> String {
        // The title repeats the conditions, so a table pasted into an issue still says how
        // it was measured.
        let mut out = format!(
            "{} — {} workers × {:.0}s × {} runs (median)\n",
            self.bench, self.concurrency, self.duration_secs, self.runs
        );
        // Width in characters, not bytes: row names may contain `µ` or `×`, which are
        // two bytes in UTF-8 and would misalign a `{:<width$}` computed from `len()`.
        let width = self.rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(4).max(4);
        out.push_str(&format!(
            "{:<width$}  {:>10}  {:>9}  {:>9}  {:>8}  {:>8}  {:>7}  {}\n",
            "path", "TPS", "p50 µs", "p99 µs", "ok", "rejected", "errors", "ratio / notes"
        ));
        for r in &self.rows {
            // The ratio first, then the extra facts in the order the bench added them:
            // the ratio is the figure the course reads, the facts qualify it.
            let mut tail = r
                .ratio
                .map(|x| format!("{x:.2}× {}", r.baseline.as_deref().unwrap_or("")))
                .unwrap_or_default();
            for (k, v) in &r.extra {
                if !tail.is_empty() {
                    tail.push_str("  ");
                }
                tail.push_str(&format!("{k}={v}"));
            }
            // (Rust's `{:<width$}` pads by chars too, so the name column lines up even
            // with non-ASCII names.) TPS is printed to the unit and latencies in whole µs:
            // decimals would claim a precision the spread of the runs does not have.
            out.push_str(&format!(
                "{:<width$}  {:>10.0}  {:>9}  {:>9}  {:>8}  {:>8}  {:>7}  {}\n",
                r.name, r.tps, r.p50_us, r.p99_us, r.successes, r.rejections, r.failures, tail
            ));
        }
        // Notes last, one per line: the caveats belong next to the numbers they qualify,
        // not in a README nobody opens while reading a CI log.
        for n in &self.notes {
            out.push_str(&format!("· {n}\n"));
        }
        out
    }
}

/// Median of floats (the mean of the middle two for an even count; 0 for none).
/// `total_cmp` gives floats a total order (NaN included), so sorting cannot panic the
/// way `partial_cmp(..).unwrap()` would on a NaN TPS from a zero-length run.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] }
}

/// Median of integers, used for latencies. For an even count it takes the upper of the
/// two middle values (no averaging: a latency is a measured value, and the mean of two
/// measurements is one nobody measured). Note this differs from [`median`] on even counts.
fn median_u64(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median picks the middle of unsorted input, averages the middle pair for an even
    /// count, and is 0 (not a panic) for no runs — the cases a bench with 1, 2 or 5 runs
    /// hits.
    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // A bench aborted before its first run still renders a report instead of panicking.
        assert_eq!(median(&[]), 0.0);
    }

    /// Ratios are computed against the named baseline row only, and the table prints them
    /// the way the course reads them (`0.50× noop`): half the baseline's throughput.
    #[test]
    fn ratios_refer_to_the_named_baseline() {
        let mut r = Report::new("x", 1, 1.0, 1);
        // Two synthetic one-second runs: 1000 and 500 completions, so the ratio is exactly
        // 0.5 and the test does not depend on timing.
        let base = Summary {
            elapsed: std::time::Duration::from_secs(1),
            successes: 1000,
            ..Default::default()
        };
        let half = Summary {
            elapsed: std::time::Duration::from_secs(1),
            successes: 500,
            ..Default::default()
        };
        r.rows.push(Row::from_runs("noop", &[base]));
        r.rows.push(Row::from_runs("real", &[half]));
        // "noop" itself is not listed, so it keeps `ratio: None` (a baseline of 1.00× is noise).
        r.ratio_to("noop", &["real"]);
        assert_eq!(r.rows[1].ratio, Some(0.5));
        assert!(r.to_table().contains("0.50× noop"));
    }

    /// The ceiling of two parts is their costs added: 1/(1/1000 + 1/1000) = 500 TPS, so a
    /// 400 TPS row is 0.80× of it. A missing part gives no ceiling and marks nothing.
    #[test]
    fn a_ceiling_adds_the_costs_of_its_two_parts() {
        let run = |successes| Summary {
            elapsed: std::time::Duration::from_secs(1),
            successes,
            ..Default::default()
        };
        let mut r = Report::new("x", 1, 1.0, 1);
        // Equal parts on purpose: the ceiling is then exactly half of either, the case the
        // lab meets (raw Lua and no-op gRPC run at about the same rate on its two cores).
        for (name, n) in [("a", 1000), ("b", 1000), ("both", 400)] {
            r.rows.push(Row::from_runs(name, &[run(n)]));
        }
        assert_eq!(r.ceiling_to(["a", "missing"], &["both"]), None);
        assert!(r.rows[2].extra.is_empty(), "no ceiling, no mark");
        assert_eq!(r.ceiling_to(["a", "b"], &["both"]), Some(500.0));
        assert_eq!(r.rows[2].extra, vec![("vs_ceiling".to_string(), "0.80×".to_string())]);
    }
}
