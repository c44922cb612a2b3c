//! Reading a service's `/metrics` (Prometheus text format) and turning counters into rates.
//!
//! Prometheus counters only ever grow, so a number on the dashboard is always a
//! *difference* of two scrapes divided by the time between them — QPS from
//! `grpc_requests_total`, p99 from the buckets of `grpc_request_duration_seconds` that
//! filled up in between. DON'T show a p99 computed over the whole life of the process:
//! after an hour, a burst of slow requests would barely move it, and the dashboard would
//! say "fine" while users wait.
//!
//! ## QPS from counter deltas
//!
//! `grpc_requests_total` is a counter: the number of requests since the process started.
//! QPS over the last interval is `(c₂ − c₁) / (t₂ − t₁)`, summed over every label set
//! (method, code). The `t` is the *poller's* clock at each scrape, so a slow scrape
//! stretches the interval and the QPS stays correct.
//!
//! ## p99 from histogram bucket deltas
//!
//! A Prometheus histogram is a set of cumulative counters, one per upper bound `le`:
//! `…_bucket{le="0.005"} 812` means "812 requests so far took ≤ 5 ms". Subtracting two
//! scrapes bucket by bucket gives a histogram of *only the requests in between*. The
//! p99 is then found like `histogram_quantile()`: rank = 0.99 × count, find the first
//! bucket whose cumulative count reaches the rank, and interpolate linearly inside it.
//!
//! The error of that interpolation, honestly: the histogram only knows "between 5 ms and
//! 10 ms", not where inside. Linear interpolation assumes the requests are spread evenly
//! across the bucket, so the reported p99 can be off by up to the bucket's width — with
//! buckets 5 ms / 10 ms / 25 ms, a true p99 of 11 ms may be shown anywhere between 10 and
//! 25 ms. ✅ DO choose buckets dense around the latencies you care about (the platform's
//! are); ❌ DON'T read a histogram p99 to more precision than its bucket edges, and don't
//! compare p99s from services with different buckets. The load engine's own p99 (from
//! every sample, in an HDR histogram) has no bucket edges to guess between; this one is
//! what an operator sees.
//!
//! Parsing is hand-written (~50 lines) rather than a crate: we need name, labels, value —
//! no types, no exemplars, no OpenMetrics — and the parser is a good read for a learner
//! who has never looked at `/metrics`.
//!
//! A worked example of the interpolation, with its error bound, and an exercise that does
//! it by hand on a live scrape are in the Day 29 lesson (`lessons/day29/lesson.md`,
//! 延伸阅读：从 `/metrics` 算出 p99).
//!
//! ## The text format, as much as we parse
//!
//! ```text
//! # HELP grpc_requests_total Requests by method and status.     ← skipped
//! # TYPE grpc_requests_total counter                             ← skipped
//! grpc_requests_total{method="GetBook",code="OK"} 1027            ← name, labels, value
//! process_start_time_seconds 1.7e9                                ← no labels
//! up 1 1700000000000                                              ← optional timestamp, ignored
//! ```
//!
//! Label values are arbitrary strings, and real ones contain the characters a lazy parser
//! splits on: the gateway labels each request with its route *template*,
//! `route="/api/v1/books/{id}"`, so a `}` inside the value is ordinary. The parser
//! therefore reads the label block with the same quote-aware scan as the values, and only
//! a `}` outside quotes closes it.
//!
//! ## How this compares with PromQL's `rate()`
//!
//! Prometheus' `rate(x[1m])` does more than our two-point difference: it uses every sample
//! in the window, detects counter resets (a value lower than the previous one means the
//! process restarted, and it adds the old value back), and extrapolates to the window's
//! edges. Our dashboard takes two scrapes a second apart and clamps resets to zero — good
//! enough for a live view of one lab, and the same idea at its core. In production, let
//! Prometheus scrape and use `rate()`/`histogram_quantile()`; ❌ DON'T hand-roll a
//! monitoring system out of a dashboard's poller.

use std::collections::BTreeMap;

// Labels in a `BTreeMap` so two samples with the same labels in a different order
// compare equal, and debug output is stable for snapshot-like assertions.
/// One sample line: `name{k="v",…} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// A float even for counters: the text format writes every value as one (`1.7e9`,
    /// `+Inf`, `NaN` are all legal), and integers above 2^53 do not occur in practice.
    pub value: f64,
}

// A scrape is never updated in place: every rate compares two of them, taken at two
// measured instants.
/// All samples of one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

// Skipping instead of failing: `/metrics` also carries `# HELP` / `# TYPE` lines and
// possibly series we do not understand; one odd line must not blank the whole dashboard.
/// Parses the text format; comment lines and lines that do not parse are skipped.
pub fn parse(text: &str) -> Scrape {
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_line)
        .collect();
    Scrape { samples }
}

// The label block is read by the same quote-aware scan that reads the values, and the
// sample value is whatever follows the `}` that *closes* it. ❌ DON'T split at the first
// `}` (or the last space): label values may contain both — the gateway labels requests
// with their route template, `route="/api/v1/books/{id}"`, and a `find('}')` then cut the
// line inside the value, read `"} 3` as the value and dropped every gateway sample.
fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(block) => parse_labels(block)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    // A trailing timestamp may follow the value.
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample { name: name.to_string(), labels, value })
}

// A small state machine over `key="value",` pairs up to the closing `}`. Values are escaped
// (`\"`, `\\`, `\n`), so a naive `split(',')` breaks on a value containing a comma or a
// quote; here each value is read char by char until the first unescaped quote, and only a
// `}` *between* pairs ends the block. (`\n` is kept as `n` — a simplification; no label we
// filter on contains a newline.) Returns the labels and the text after the `}`; `None`
// for a block that never closes (a truncated line is skipped, not half-read).
fn parse_labels(s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    loop {
        let trimmed = rest.trim_start_matches([',', ' ']);
        if let Some(after) = trimmed.strip_prefix('}') {
            return Some((out, after));
        }
        let (key, after) = trimmed.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                }
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(key.trim().to_string(), value);
        rest = &after[end?..];
    }
}

impl Scrape {
    // "Include", not "equal": `sum("cache_requests_total", [("result","hit")])` adds up the
    // list and detail series. Summing across label sets is how you get a service-wide
    // figure from per-method counters — it is PromQL's `sum(...)` without `by`.
    /// Sum of every sample named `name` whose labels include all of `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                filter.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    /// The distinct values of label `label` among samples named `name` (the instances a
    /// client's `upstream_requests_total` has seen, say), sorted.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let values: std::collections::BTreeSet<&String> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.labels.get(label))
            .collect();
        values.into_iter().cloned().collect()
    }

    // Presence is a different question from value: `has` tells "this service exports no such
    // counter" (show `-`) apart from "the counter is 0" (show 0).
    pub fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|s| s.name == name)
    }

    // Summing buckets of different methods is valid because buckets are counts with the
    // same bounds: the result is the histogram of all methods together. (Summing p99s of
    // methods would *not* be valid — quantiles do not add.) Keyed by the float's bits so
    // `0.005` from two series lands in one entry.
    /// Cumulative bucket counts of histogram `name` summed over all other labels, by
    /// upper bound (`le`), sorted.
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.name == bucket) {
            // Rust's float parser already accepts Prometheus' `+Inf` (and `NaN`), so one
            // `parse` covers every bound; a bucket without a parsable `le` is skipped.
            let Some(le) = s.labels.get("le").and_then(|le| le.parse::<f64>().ok()) else {
                continue;
            };
            by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += s.value;
        }
        let mut v: Vec<(f64, f64)> = by_le.into_values().collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }
}

// The `+Inf` bucket's cumulative count is the total number of observations, which is why
// `delta.last()` is the total. A missing bucket in `before` (a series that appeared
// meanwhile) counts as 0; `max(0.0)` absorbs a counter reset after a restart.
/// The `q` quantile (0.99 → p99) of the observations that arrived between two scrapes of a
/// histogram, interpolated inside the bucket like Prometheus' `histogram_quantile`.
/// `None` when nothing was observed in between.
pub fn quantile_between(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| {
            let old =
                before.iter().find(|(l, _)| l.to_bits() == le.to_bits()).map_or(0.0, |(_, n)| *n);
            (*le, (n - old).max(0.0))
        })
        .collect();
    let total = delta.last()?.1;
    if total <= 0.0 {
        return None;
    }
    // The loop walks the cumulative buckets upwards, remembering the previous bound and count
    // as `lower`, and stops at the first bucket that contains the rank-th observation.
    let rank = q * total;
    // The first bucket's lower edge is assumed to be 0 s, as in Prometheus.
    let mut lower = (0.0, 0.0);
    for (le, cum) in &delta {
        if *cum >= rank {
            if le.is_infinite() {
                // Beyond the last finite bucket: the best honest answer is its bound.
                return Some(lower.0);
            }
            // `in_bucket` is never 0 here: a bucket that adds nothing cannot be the first to
            // reach the rank (the previous one would have). The guard only makes a division
            // by zero impossible, answering the bucket's upper bound if it ever triggered.
            let in_bucket = cum - lower.1;
            let frac = if in_bucket > 0.0 { (rank - lower.1) / in_bucket } else { 1.0 };
            return Some(lower.0 + (le - lower.0) * frac);
        }
        lower = (*le, *cum);
    }
    None
}

// `error_for_status` so a 404 (wrong port, metrics disabled) is an error, not an
// empty scrape that would silently show "no traffic".
/// Fetches and parses `http://<address>/metrics`.
pub async fn scrape(http: &reqwest::Client, address: &str) -> anyhow::Result<Scrape> {
    let text = http
        .get(format!("http://{address}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A fixture in the real exposition format — a `# TYPE` line the parser must skip, label
    // sets with two labels, and a histogram with a `+Inf` bucket — so the tests exercise the
    // same parsing path a live scrape does.
    const TEXT: &str = r#"# TYPE grpc_requests_total counter
grpc_requests_total{method="GetBook",code="OK"} 10
grpc_requests_total{method="ListBooks",code="OK"} 5
cache_requests_total{cache="detail",result="hit"} 8
cache_requests_total{cache="detail",result="miss"} 2
grpc_request_duration_seconds_bucket{method="GetBook",le="0.001"} 5
grpc_request_duration_seconds_bucket{method="GetBook",le="0.01"} 9
grpc_request_duration_seconds_bucket{method="GetBook",le="+Inf"} 10
"#;

    // Proves `sum` with no filter adds all label sets (10 + 5), and a filter keeps only
    // matching series — the basis of every figure on the dashboard.
    /// Labels are matched exactly and sums cover every series of a name.
    #[test]
    fn sums_filter_by_labels() {
        let s = parse(TEXT);
        assert_eq!(s.sum("grpc_requests_total", &[]), 15.0);
        assert_eq!(s.sum("cache_requests_total", &[("result", "hit")]), 8.0);
    }

    // Proves the regression: the gateway's route label holds a `}` (and a space and a comma
    // for good measure); before the fix the line was cut at that `}` and the sample lost, so
    // the gateway's QPS read 0 on the dashboard.
    /// A label value containing `}` (the gateway's route template) keeps the sample whole.
    #[test]
    fn a_brace_inside_a_label_value_does_not_split_the_line() {
        let text = concat!(
            r#"http_requests_total{method="GET",route="/api/v1/books/{id}",code="200"} 3"#,
            "\n",
            r#"http_requests_total{route="/x/{a}, {b} c",code="500"} 2 1700000000000"#,
            "\n",
            r#"broken{route="/api/v1/books/{id}" 1"#,
            "\n",
        );
        let s = parse(text);
        assert_eq!(s.samples.len(), 2, "{:?}", s.samples);
        assert_eq!(s.samples[0].labels["route"], "/api/v1/books/{id}");
        assert_eq!(s.samples[0].labels["code"], "200");
        assert_eq!(s.samples[1].labels["route"], "/x/{a}, {b} c");
        assert_eq!(s.sum("http_requests_total", &[]), 5.0);
        assert_eq!(s.sum("http_requests_total", &[("route", "/api/v1/books/{id}")]), 3.0);
    }

    // Proves the delta principle: before, 1 of 10 lifetime requests was slow; then 100 fast
    // ones arrive. A lifetime p99 would land in the slow bucket; the interval p99 is ≤ 1 ms.
    // And no new observations gives `None`, not a stale number.
    /// p99 comes from the observations between two scrapes, not the process lifetime.
    #[test]
    fn quantiles_use_only_the_observations_between_scrapes() {
        let before = parse(TEXT).buckets("grpc_request_duration_seconds");
        let later = TEXT
            .replace("le=\"0.001\"} 5", "le=\"0.001\"} 105")
            .replace("le=\"0.01\"} 9", "le=\"0.01\"} 109")
            .replace("le=\"+Inf\"} 10", "le=\"+Inf\"} 110");
        let after = parse(&later).buckets("grpc_request_duration_seconds");
        // 100 new observations, all in the first bucket.
        let p99 = quantile_between(&before, &after, 0.99).unwrap();
        assert!(p99 <= 0.001, "{p99}");
        assert_eq!(quantile_between(&after, &after, 0.99), None);
    }
}
