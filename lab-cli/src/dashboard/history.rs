//! The last minute of one service, for the dashboard's charts: a ring buffer of scrapes.
//!
//! Each refresh reduces a service's `/metrics` to a [`Point`] — the request counter, the
//! error counter and the latency histogram's cumulative buckets, as read — and appends it.
//! Every figure is then a *difference* of two points, like [`super::rates`]:
//! - the QPS line: Δrequests / Δt between neighbouring points;
//! - the p99 line: the quantile of the bucket deltas between neighbouring points, i.e. of
//!   the requests *of that second* only;
//! - the error rate: Δerrors / Δrequests between the oldest and the newest point — the whole
//!   window, because errors are rare: a per-second rate flickers between 0 % and 100 % on a
//!   quiet service, while a minute says "3 of 1200 failed".
//!
//! Why bucket deltas and not the histogram as scraped: the scraped buckets count every
//! request since the process started. After an hour at 2 ms, a minute at 300 ms moves a
//! lifetime p99 by almost nothing — the chart would stay flat through the very incident it
//! exists to show. Subtracting the buckets of the previous point leaves the histogram of
//! the interval alone (see [`crate::metrics`] for the interpolation and its error).
//!
//! Why a ring of 61 points: one per refresh (1 s) gives 60 intervals — "the last minute",
//! long enough to see a load run start and stop, short enough that a 36-column chart still
//! gives each second a braille dot of its own. Points older than 60 s are dropped by time as
//! well, so slow refreshes (a wedged service's 2 s timeout) shorten the line rather than
//! stretch "the last minute" into three. The buckets are kept per point (17 floats for the
//! platform's histogram), not the whole scrape: 61 × 9 services of those is a few hundred
//! kilobytes less than keeping every sample line.
//!
//! ✅ DO restart the history when a counter goes *down*: the process restarted and its
//! counters began again at 0; a difference across that would be negative, and clamping it
//! to 0 would draw a second of silence that never happened.

use std::collections::VecDeque;

use super::{RequestMetrics, request_metrics};
use crate::metrics::{self, Scrape};

/// How far back the charts look, seconds.
pub const WINDOW_SECS: f64 = 60.0;
/// The most points kept: one per second of the window, plus its start.
const CAPACITY: usize = 61;

/// What one scrape of one service says, reduced to what the charts need.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Seconds on the poller's clock (any origin; only differences are used).
    pub at: f64,
    /// Requests answered so far (the counter's sum over every label set).
    pub requests: f64,
    /// Of those, answers counted as errors; `None` when the service's counter has no code
    /// label, so no error rate can be known (shown as `-`, never as 0 %).
    pub errors: Option<f64>,
    /// The latency histogram's cumulative buckets, `(le, count)`, summed over methods.
    pub buckets: Vec<(f64, f64)>,
}

impl Point {
    /// The point a scrape makes at time `at`; `None` for a component without a request
    /// counter (MariaDB, Redis, Consul). Which counter, and what counts as an error, is
    /// [`request_metrics`]'s choice, shared with the table's rates.
    pub fn from_scrape(at: f64, s: &Scrape) -> Option<Self> {
        let RequestMetrics { count, histogram, error_label: label, is_error } = request_metrics(s)?;
        let series = s.samples.iter().filter(|x| x.name == count);
        // All series or none: a service built before the `code` label existed exports
        // `grpc_requests_total{method}` only, and counting "errors" among a mix would report
        // the labelled part's failures over everyone's requests — a rate that is too low and
        // looks exact. Unknown is the honest answer.
        let labelled = series.clone().all(|x| x.labels.contains_key(label));
        let errors = labelled.then(|| {
            series
                .filter(|x| x.labels.get(label).is_some_and(|c| is_error(c)))
                .map(|x| x.value)
                .sum()
        });
        // `requests` sums every label set, errors included, so `errors / requests` in
        // `error_rate` is a share of all answers, not errors over successes.
        Some(Self { at, requests: s.sum(count, &[]), errors, buckets: s.buckets(histogram) })
    }
}

/// One service's points over the last minute, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    points: VecDeque<Point>,
}

impl History {
    /// Appends a point, dropping what fell out of the window (or everything, after a restart).
    pub fn push(&mut self, p: Point) {
        // Detected from the request total only. The gap in this: a process that restarts and
        // serves more requests within one refresh than it had before looks like growth, and
        // one interval is wrong — Prometheus' `rate()` has the same blind spot.
        if self.points.back().is_some_and(|last| p.requests < last.requests) {
            self.points.clear();
        }
        self.points.push_back(p);
        // By count *and* by age: the count bounds memory, the age keeps "the last minute"
        // a minute when refreshes arrive late.
        let newest = self.points.back().map_or(0.0, |p| p.at);
        while self.points.len() > CAPACITY
            || self.points.front().is_some_and(|f| newest - f.at > WINDOW_SECS)
        {
            self.points.pop_front();
        }
    }

    // x is "seconds before the newest point" (negative, 0 = now), so every service's line
    // ends at the right edge and the axis reads −60 … 0 whatever the poller's clock says.
    fn per_interval(&self, f: impl Fn(&Point, &Point, f64) -> Option<f64>) -> Vec<(f64, f64)> {
        let Some(now) = self.points.back().map(|p| p.at) else { return Vec::new() };
        self.points
            .iter()
            .zip(self.points.iter().skip(1))
            // Neighbours only: each point of a line is one interval's own figure, so a slow
            // second stands out instead of being averaged into the minute.
            .filter_map(|(a, b)| {
                // `dt > 0` keeps a division by zero (two points at one instant) out of the line.
                let dt = b.at - a.at;
                (dt > 0.0).then(|| f(a, b, dt)).flatten().map(|y| (b.at - now, y))
            })
            .collect()
    }

    /// Requests per second in each interval, `(seconds before now, qps)`.
    pub fn qps(&self) -> Vec<(f64, f64)> {
        // Never negative: a falling counter cleared the history in `push`, so neighbours are
        // always from one process lifetime.
        self.per_interval(|a, b, dt| Some((b.requests - a.requests) / dt))
    }

    // An interval without a request has no p99 and gets no point (the line skips it): a
    // p99 of 0 ms would claim the fastest second of the minute.
    /// p99 latency in each interval with requests, `(seconds before now, milliseconds)`.
    pub fn p99_ms(&self) -> Vec<(f64, f64)> {
        self.per_interval(|a, b, _| {
            metrics::quantile_between(&a.buckets, &b.buckets, 0.99).map(|s| s * 1000.0)
        })
    }

    /// Errors over requests across the whole window; `None` without two points, without a
    /// code label, or without a request in the window.
    pub fn error_rate(&self) -> Option<f64> {
        // Oldest against newest, not the average of the per-second rates: a second with 1
        // request that failed and a second with 1000 that did not are 1 failure in 1001,
        // not 50 %.
        let (first, last) = (self.points.front()?, self.points.back()?);
        let requests = last.requests - first.requests;
        let errors = last.errors? - first.errors?;
        (requests > 0.0).then(|| errors / requests)
    }

    /// Seconds the window covers so far (0 with fewer than two points).
    pub fn span(&self) -> f64 {
        match (self.points.front(), self.points.back()) {
            (Some(a), Some(b)) => b.at - a.at,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse;

    /// A real scrape of catalog-service's `/metrics` (trimmed to one method and the first
    /// buckets), copied from the lab's stack, with `{requests}`, `{errors}` and `{fast}`
    /// (requests ≤ 1 ms) to fill in.
    fn catalog(requests: u64, errors: u64, fast: u64) -> String {
        format!(
            "# TYPE grpc_requests_total counter\n\
             grpc_requests_total{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\",code=\"OK\"}} {ok}\n\
             grpc_requests_total{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\",code=\"NotFound\"}} {errors}\n\
             # TYPE grpc_request_duration_seconds histogram\n\
             grpc_request_duration_seconds_bucket{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\",le=\"0.001\"}} {fast}\n\
             grpc_request_duration_seconds_bucket{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\",le=\"0.1\"}} {requests}\n\
             grpc_request_duration_seconds_bucket{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\",le=\"+Inf\"}} {requests}\n\
             grpc_request_duration_seconds_sum{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\"}} 1.5\n\
             grpc_request_duration_seconds_count{{method=\"/bookstore.catalog.v1.CatalogService/GetBook\"}} {requests}\n",
            ok = requests - errors
        )
    }

    // The parse runs exactly as on a live scrape (`metrics::parse`), so the test covers the
    // text format's quirks too — `# TYPE` lines, `_sum`/`_count` next to the buckets.
    fn point(at: f64, text: &str) -> Point {
        Point::from_scrape(at, &parse(text)).expect("a request counter")
    }

    // Proves the window rule with numbers a lifetime figure gets wrong: 10 000 fast requests
    // before the window, then 100 per second of which 10 take up to 100 ms. The cumulative
    // histogram's p99 would stay ≤ 1 ms; the interval's lands in the slow bucket. QPS is
    // 100 per interval, the error rate over the window 5 / 200.
    /// QPS and p99 come from neighbouring points, the error rate from the whole window.
    #[test]
    fn lines_come_from_deltas_within_the_window() {
        let mut h = History::default();
        h.push(point(10.0, &catalog(10_000, 0, 10_000)));
        h.push(point(11.0, &catalog(10_100, 2, 10_090)));
        h.push(point(12.0, &catalog(10_200, 5, 10_180)));
        assert_eq!(h.qps(), vec![(-1.0, 100.0), (0.0, 100.0)]);
        let p99 = h.p99_ms();
        assert_eq!(p99.len(), 2);
        assert!(p99.iter().all(|(_, ms)| *ms > 1.0 && *ms <= 100.0), "{p99:?}");
        assert_eq!(h.error_rate(), Some(5.0 / 200.0));
        assert_eq!(h.span(), 2.0);
    }

    // Proves both trims: after 70 one-second points only the last 61 (60 s) remain, and a
    // restart (the counter falls from 10 100 to 50) starts the history again instead of
    // drawing a negative or zero QPS across it.
    /// The window keeps 60 s, and a counter reset restarts it.
    #[test]
    fn the_window_drops_old_points_and_restarts_after_a_reset() {
        let mut h = History::default();
        for i in 0..70u64 {
            h.push(point(i as f64, &catalog(1_000 + 10 * i, 0, 1_000 + 10 * i)));
        }
        assert_eq!(h.span(), WINDOW_SECS);
        assert_eq!(h.qps().len(), 60);
        h.push(point(70.0, &catalog(50, 0, 50)));
        assert_eq!(h.span(), 0.0);
        assert!(h.qps().is_empty());
        assert_eq!(h.error_rate(), None);
    }

    // Proves the two counters the error rate reads: the gateway's 5xx (a 404 is not an
    // error), and a gRPC counter without a `code` label (a service built before the label
    // existed) giving `None`, not a confident 0 %.
    /// The gateway's errors are its 5xx; without a code label there is no error rate.
    #[test]
    fn errors_are_non_ok_codes_or_5xx_and_unknown_without_a_label() {
        let gw = |ok: u64, missing: u64, bad: u64| {
            format!(
                "http_requests_total{{route=\"/api/v1/books/{{id}}\",status=\"200\"}} {ok}\n\
                 http_requests_total{{route=\"/api/v1/books/{{id}}\",status=\"404\"}} {missing}\n\
                 http_requests_total{{route=\"/api/v1/orders\",status=\"502\"}} {bad}\n"
            )
        };
        let mut h = History::default();
        h.push(point(0.0, &gw(0, 0, 0)));
        h.push(point(1.0, &gw(90, 8, 2)));
        assert_eq!(h.error_rate(), Some(0.02));
        let old = "grpc_requests_total{method=\"/x.v1.X/Get\"} 5\n";
        assert_eq!(point(0.0, old).errors, None);
    }
}
