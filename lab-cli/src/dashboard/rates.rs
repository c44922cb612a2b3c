//! What two scrapes of one service say about the second between them: QPS, p99 and the
//! cache hit rate, and which of the two metric families (gRPC or HTTP) a service exports.

use std::time::Duration;

use crate::metrics::{self, Scrape};

// All three rates are interval rates (see [`crate::metrics`]): the dashboard shows
// the last second, not the average since the service started.
/// What two scrapes of one service say about the interval between them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Requests per second between the scrapes, every method and outcome counted; `None`
    /// for a component without a request counter.
    pub qps: Option<f64>,
    /// The interval's p99 in milliseconds, interpolated inside a histogram bucket; `None`
    /// without a histogram, or when no request finished in the interval (a p99 of nothing
    /// is not 0 ms).
    pub p99_ms: Option<f64>,
    /// Cache hits over lookups in the interval; `None` without a cache or without lookups.
    pub hit_rate: Option<f64>,
}

/// The request counter and latency histogram a service exports, and how an error shows in
/// the counter's labels; `None` for a component with neither (MariaDB, Redis, Consul).
///
/// One choice for the table's rates and the minute's history, so the two cannot read
/// different families. The gRPC services count `grpc_requests_total{method, code}` (the
/// platform's layer, `code` = the gRPC code's name), the gateway, an HTTP server,
/// `http_requests_total{route, status}` with the same histogram shape. An error is a non-OK
/// gRPC code — the answer the caller gets as a failure, NotFound and FailedPrecondition
/// included — and for the gateway a 5xx, the convention its own middleware documents
/// (`status=~"5.."`): a 404 for an unknown book is the gateway working, a 502 is it failing.
pub(crate) fn request_metrics(s: &Scrape) -> Option<RequestMetrics> {
    // gRPC first: a process exporting both families (none does today) would be counted by
    // its gRPC layer, the one every service-to-service call passes through.
    if s.has("grpc_requests_total") {
        Some(RequestMetrics {
            count: "grpc_requests_total",
            histogram: "grpc_request_duration_seconds",
            error_label: "code",
            is_error: |c| c != "OK",
        })
    } else if s.has("http_requests_total") {
        Some(RequestMetrics {
            count: "http_requests_total",
            histogram: "http_request_duration_seconds",
            error_label: "status",
            is_error: |c| c.starts_with('5'),
        })
    } else {
        None
    }
}

/// The metric names and error rule [`request_metrics`] chose for one service.
pub(crate) struct RequestMetrics {
    /// The request counter, summed over all its label sets for QPS.
    pub count: &'static str,
    /// The latency histogram (seconds) the p99 is interpolated from.
    pub histogram: &'static str,
    /// The label on `count` that carries the outcome (`code` or `status`).
    pub error_label: &'static str,
    // A plain `fn` pointer: two non-capturing closures of different types cannot share a
    // field type, and a pointer needs no box.
    pub is_error: fn(&str) -> bool,
}

// A pure function of two scrapes and a duration, so the arithmetic is unit-tested with
// literal `/metrics` text (below) instead of a running service and a sleep.
// Worked example: scrape A at t = 10.0 s says `grpc_requests_total` = 5000 (summed over
// methods and codes); scrape B at t = 11.2 s says 6200. QPS = (6200 − 5000) / 1.2 s = 1000.
// Dividing by the nominal 1 s tick instead would report 1200 — a 20 % error from a
// slow scrape, which is why the interval is measured, not assumed.
/// QPS, p99 and hit rate between two scrapes `dt` apart.
pub fn rates(before: &Scrape, after: &Scrape, dt: Duration) -> Rates {
    let secs = dt.as_secs_f64();
    // ❌ Reading only the gRPC names left the gateway's row at `-` even under load (its
    // samples were also lost to the `}` in `route="…/{id}"`): [`request_metrics`] picks
    // whichever of the two families the service exports, as the history does.
    // `None` (not 0) for a component without either counter (MariaDB, Redis, Consul): they
    // serve no requests we count, and the table should say "-" for them.
    // `.max(0.0)`: across a restart the counter falls and the difference is negative; the
    // table shows 0.0 for that one interval (the charts restart instead, see `History::push`).
    let m = request_metrics(after);
    let qps = m
        .as_ref()
        .filter(|_| secs > 0.0)
        .map(|m| ((after.sum(m.count, &[]) - before.sum(m.count, &[])) / secs).max(0.0));
    let p99_ms = m
        .and_then(|m| {
            metrics::quantile_between(
                &before.buckets(m.histogram),
                &after.buckets(m.histogram),
                0.99,
            )
        })
        .map(|s| s * 1000.0);
    // Outer `None`: this service has no cache (not the catalog). Inner `None`: it has one,
    // but nothing was looked up in the interval. Both render as `-`.
    let hit_rate = after.has("cache_requests_total").then(|| {
        let d = |r| {
            after.sum("cache_requests_total", &[("result", r)])
                - before.sum("cache_requests_total", &[("result", r)])
        };
        let (h, m) = (d("hit"), d("miss"));
        if h + m > 0.0 { Some(h / (h + m)) } else { None }
    });
    Rates { qps, p99_ms, hit_rate: hit_rate.flatten() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::parse;

    // Proves both delta rules with numbers chosen to expose a lifetime computation: over the
    // process lifetime the hit rate would be 140/200 = 70 %, over the interval it is
    // 50/100 = 50 %; QPS is (300 − 100) / 2 s = 100. No histogram → p99 is `None`, not 0.
    /// QPS is the counter's growth per second and the hit rate covers only the interval.
    #[test]
    fn rates_come_from_counter_deltas() {
        let a = parse(
            "grpc_requests_total{method=\"A\"} 100\ncache_requests_total{result=\"hit\"} 90\ncache_requests_total{result=\"miss\"} 10\n",
        );
        let b = parse(
            "grpc_requests_total{method=\"A\"} 300\ncache_requests_total{result=\"hit\"} 140\ncache_requests_total{result=\"miss\"} 60\n",
        );
        let r = rates(&a, &b, Duration::from_secs(2));
        assert_eq!(r.qps, Some(100.0));
        assert_eq!(r.hit_rate, Some(0.5));
        assert_eq!(r.p99_ms, None);
    }

    // Proves the gateway row: its HTTP counters (with the `{id}` route template that used to
    // break parsing) give a QPS and a p99, like the gRPC services' counters do.
    /// The gateway's `http_requests_total` and duration histogram give its QPS and p99.
    #[test]
    fn the_gateway_rates_come_from_its_http_metrics() {
        let text = |n: u64| {
            format!(
                "http_requests_total{{route=\"/api/v1/books/{{id}}\",status=\"200\"}} {n}\n\
                 http_request_duration_seconds_bucket{{route=\"/api/v1/books/{{id}}\",le=\"0.005\"}} {n}\n\
                 http_request_duration_seconds_bucket{{route=\"/api/v1/books/{{id}}\",le=\"+Inf\"}} {n}\n"
            )
        };
        let r = rates(&parse(&text(100)), &parse(&text(300)), Duration::from_secs(2));
        assert_eq!(r.qps, Some(100.0));
        assert!(r.p99_ms.is_some_and(|p| p > 0.0 && p <= 5.0), "{r:?}");
    }
}
