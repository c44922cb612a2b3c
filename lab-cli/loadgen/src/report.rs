//! Bench reports: named rows, ratios to a baseline measured in the same run, text and JSON.
//!
//! Why ratios: absolute TPS on a shared 2-core machine drifts by tens of percent between
//! runs. "Lua over gRPC reaches 0.8× a no-op gRPC call" survives that drift, because both
//! numbers were measured seconds apart on the same machine under the same noise.

use serde::Serialize;

use crate::Summary;

/// One measured path.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What was measured, e.g. `lua decrement (gRPC)`.
    pub name: String,
    /// Median operations per second over the runs.
    pub tps: f64,
    /// Median latency percentiles over the runs, microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    pub successes: u64,
    pub rejections: u64,
    pub failures: u64,
    /// TPS of every run, for the reader who wants the spread.
    pub runs_tps: Vec<f64>,
    /// `tps / baseline tps`, when the report has a baseline for this row.
    pub ratio: Option<f64>,
    /// Which baseline `ratio` refers to.
    pub baseline: Option<String>,
    /// Extra facts (hit rate, oversells, …) as `key → value`.
    pub extra: Vec<(String, String)>,
}

impl Row {
    /// A row from several runs of the same path: medians of TPS and percentiles, sums of counts.
    pub fn from_runs(name: impl Into<String>, runs: &[Summary]) -> Self {
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

    /// Adds a `key = value` fact shown after the numbers.
    pub fn with(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.extra.push((key.into(), value.to_string()));
        self
    }
}

/// A whole bench report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub bench: String,
    pub concurrency: usize,
    pub duration_secs: f64,
    pub runs: usize,
    pub rows: Vec<Row>,
    /// Plain-language notes (what the ratios mean, caveats of this machine).
    pub notes: Vec<String>,
}

impl Report {
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
    pub fn ratio_to(&mut self, baseline: &str, rows: &[&str]) {
        let Some(base) = self.rows.iter().find(|r| r.name == baseline).map(|r| r.tps) else {
            return;
        };
        for r in self.rows.iter_mut().filter(|r| rows.contains(&r.name.as_str())) {
            if base > 0.0 {
                r.ratio = Some(r.tps / base);
                r.baseline = Some(baseline.to_string());
            }
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// A fixed-width table for terminals and CI logs.
    pub fn to_table(&self) -> String {
        let mut out = format!(
            "{} — {} workers × {:.0}s × {} runs (median)\n",
            self.bench, self.concurrency, self.duration_secs, self.runs
        );
        let width = self.rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(4).max(4);
        out.push_str(&format!(
            "{:<width$}  {:>10}  {:>9}  {:>9}  {:>8}  {:>8}  {:>7}  {}\n",
            "path", "TPS", "p50 µs", "p99 µs", "ok", "rejected", "errors", "ratio / notes"
        ));
        for r in &self.rows {
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
            let pad = width - r.name.chars().count();
            out.push_str(&format!(
                "{}{}  {:>10.0}  {:>9}  {:>9}  {:>8}  {:>8}  {:>7}  {}\n",
                r.name,
                " ".repeat(pad),
                r.tps,
                r.p50_us,
                r.p99_us,
                r.successes,
                r.rejections,
                r.failures,
                tail
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("· {n}\n"));
        }
        out
    }
}

/// Median of floats (the mean of the middle two for an even count; 0 for none).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] }
}

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

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    /// Ratios are computed against the named baseline row only.
    #[test]
    fn ratios_refer_to_the_named_baseline() {
        let mut r = Report::new("x", 1, 1.0, 1);
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
        r.ratio_to("noop", &["real"]);
        assert_eq!(r.rows[1].ratio, Some(0.5));
        assert!(r.to_table().contains("0.50× noop"));
    }
}
