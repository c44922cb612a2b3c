//! The dashboard's poller: every component's health, QPS, p99, hit rate and stock totals.
//!
//! It reads the supervisor's record (`stack.json`) on every poll, so services started or
//! stopped by another `bookstore-lab up/down` appear and disappear without a restart.
//! Service instances come from Consul first and the record second (last section below).
//!
//! Every figure is measured, never assumed:
//! - health: the component's own protocol (`grpc.health.v1` per named service,
//!   `SELECT VERSION()`, `INFO`, Consul's leader) through `bookstore_stack::probe`;
//! - QPS and p99: differences between two scrapes of the service's `/metrics`
//!   (see [`crate::metrics`] for why a lifetime p99 would lie);
//! - the last minute's QPS and p99 lines and the error rate: a ring buffer of one point per
//!   refresh and service ([`History`]), differences of its points again;
//! - cache hit rate: catalog's `cache_requests_total` over the last interval;
//! - stock totals: the inventory ledger in MySQL (`inventory_db.inventory`), which the
//!   service's syncer keeps up to date from Redis.
//!
//! Why the TUI polls only while the dashboard is visible (`tui::spawn_dashboard`): a poll
//! is a dozen network round trips and SQL; during a race on 2 cores it would compete with
//! the buyers and lower the very TPS the learner is comparing. The first poll after the
//! dashboard opens has no previous scrape, so rates show `-` for one second — honest,
//! since a rate needs two points.
//!
//! Stock totals come from MySQL, not Redis: Redis holds the live counters, but the ledger
//! is what the business trusts; if the two disagree for more than a moment, the syncer is
//! behind — a thing worth noticing on a dashboard.
//!
//! ## Two shortcuts, admitted
//!
//! - **The lab reads `inventory_db` directly.** In the course's architecture each service
//!   owns its database, and nobody else may query it (database-per-service): the schema is
//!   the service's private detail, and a second reader makes it impossible to change.
//!   A read-only, aggregate monitoring query from the lab tool is the exception we allow
//!   ourselves, because a learner must be able to check conservation against the ledger
//!   itself. ❌ DON'T let another *service* do this: order-service asks inventory over gRPC.
//! - **Scrapes run one after another.** The health probes run concurrently
//!   (`join_all` over `probe::check` in [`Poller::poll`]), but the `/metrics` scrapes below are awaited in turn:
//!   with a 2 s timeout, a few wedged services can stretch one poll to several seconds
//!   (the 1 s tick then fires late, which is harmless). Joining the scrapes too would fix
//!   it; for a handful of services the sequential loop is simpler to read.
//!
//! Try it: open the dashboard in one terminal and run the cache experiment in another
//! (`bookstore-lab lesson day29 --no-tui`). The catalog row's QPS should match the
//! experiment's TPS within a few percent; its hit rate should match the experiment's
//! per-second rate. Two observers, one set of counters.
//!
//! ## Where the list of instances comes from: Consul, with the record as a fallback
//!
//! Service rows come from Consul's `/v1/health/service/<name>` — every *registered*
//! instance with its check status, not only the passing ones — so an instance killed with
//! `kill -9` is seen going `critical` (its gRPC health ✘ at once, Consul's verdict a check
//! interval later) and then disappearing when Consul reaps it. Instances the supervisor
//! recorded but Consul does not know (never registered, or already reaped) are added from
//! `stack.json`, so nothing the lab started can hide. The gateway is an HTTP server that
//! does not register, and MariaDB/Redis/Consul are infrastructure: those rows always come
//! from the record. If Consul itself does not answer, every row comes from the record and
//! the title says so — the same fallback a discovery client makes.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use bookstore_platform::consul::Consul;
use bookstore_stack::{Component, StackState, probe, services};

use crate::metrics::{self, Scrape};

mod history;
pub use history::{History, Point, WINDOW_SECS};

// `Option` for every rate: "not measurable" (first poll, no metrics endpoint, no
// traffic in the interval) must render as `-`, never as 0 — a QPS of 0 claims the
// service is idle, which may be false.
/// One row of the dashboard.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceRow {
    /// The component's name in `stack.json` (`mysql`, `catalog`, …), also the key of the
    /// previous scrape.
    pub name: String,
    pub address: String,
    /// From the component's own health protocol, not from "the port accepts connections".
    pub healthy: bool,
    /// `SERVING`, a version, or the error.
    pub detail: String,
    /// Consul's verdict on this instance (`passing`, `critical`, …); `None` for a row Consul
    /// does not list (infrastructure, the gateway, an instance it never knew or reaped).
    pub consul: Option<String>,
    /// Requests per second over the last interval (services only).
    pub qps: Option<f64>,
    /// p99 latency over the last interval, milliseconds.
    pub p99_ms: Option<f64>,
    /// Cache hit rate over the last interval (catalog only).
    pub hit_rate: Option<f64>,
    /// Errors over requests in the last minute (see [`History::error_rate`]).
    pub error_rate: Option<f64>,
    /// The last minute's QPS, `(seconds before now, qps)`, one point per refresh.
    pub qps_line: Vec<(f64, f64)>,
    /// The last minute's p99, `(seconds before now, ms)`, for intervals with requests.
    pub p99_line: Vec<(f64, f64)>,
}

// The invariant a learner can check by eye: `available + locked + sold = total` for
// every book, hence for the sums (DESIGN.md §4's conservation rule).
/// Sum of every book's counters in the inventory ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StockTotals {
    /// Rows in the ledger, i.e. books that have stock at all.
    pub books: i64,
    /// Units that can be sold right now (the `stock` column).
    pub available: i64,
    /// Units reserved by orders that are placed but not yet paid (LockStock); they go back to
    /// `available` if the order is cancelled or times out, on to `sold` when it is paid.
    pub locked: i64,
    /// Units whose orders were paid (the lock confirmed, or a direct DecrStock).
    pub sold: i64,
    /// Units ever put on the shelf; `available + locked + sold` must equal it for every book.
    pub total: i64,
}

/// One refresh of the dashboard.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DashboardSnapshot {
    /// In `stack.json` order: infrastructure first, then services, as `up` started them.
    pub rows: Vec<ServiceRow>,
    /// `None` when the ledger cannot be read (no MariaDB, or inventory never started).
    pub stock: Option<StockTotals>,
    /// Where the list of components came from.
    // Shown so a learner with several lab directories can tell which stack is on screen.
    pub source: String,
}

/// One row to probe: the label shown, what to probe (a spec name the probe knows, the
/// address, the metrics endpoint) and Consul's verdict if it lists the instance.
struct Target {
    label: String,
    component: Component,
    consul: Option<String>,
}

// Stateful on purpose: a rate needs the previous scrape, so the poller keeps one per
// service. It is owned by one task (no lock), like `App` is owned by the loop.
/// Polls the stack recorded in a lab directory.
pub struct Poller {
    dir: PathBuf,
    http: reqwest::Client,
    /// The previous scrape of each service, to turn counters into rates.
    prev: HashMap<String, (Instant, Scrape)>,
    /// The last minute of each service, by row label, for the charts and the error rate.
    history: HashMap<String, History>,
    /// The origin of the history's clock (only differences of it are ever used).
    started: Instant,
    // Connected lazily on the first poll and kept: MariaDB may not be up yet when the
    // dashboard opens, and reconnecting every second would cost a TCP + auth handshake.
    pool: Option<sqlx::MySqlPool>,
}

impl Poller {
    // The HTTP client's 2 s timeout bounds a scrape of a wedged service; without it one
    // stuck `/metrics` would stall the whole poll, and with it every other row.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap_or_default(),
            prev: HashMap::new(),
            history: HashMap::new(),
            started: Instant::now(),
            pool: None,
        }
    }

    // Never fails: every failure becomes part of the snapshot (an unhealthy row, a missing
    // rate, no stock box), because a dashboard that errors out shows nothing at all.
    /// One full refresh.
    pub async fn poll(&mut self) -> DashboardSnapshot {
        // Errors become an empty state: a dashboard that can read nothing shows nothing
        // running, which is exactly what the learner needs to see.
        let state = StackState::load(&self.dir).ok().flatten().unwrap_or_default();
        let (targets, source) = self.targets(&state).await;
        // The same probe as `bookstore-lab status`, so the dashboard and the status command
        // can never disagree about what is healthy; all at once, so one wedged instance
        // costs its 2 s timeout once, not once per row after it.
        let health =
            futures::future::join_all(targets.iter().map(|t| probe::check(&t.component))).await;
        let mut rows = Vec::with_capacity(targets.len());
        for (t, h) in targets.into_iter().zip(health) {
            let mut row = ServiceRow {
                name: t.label.clone(),
                address: h.address.clone(),
                healthy: h.healthy,
                detail: h.detail.clone(),
                consul: t.consul,
                ..ServiceRow::default()
            };
            // Infrastructure rows (MariaDB, Redis, Consul) have no metrics address and skip the
            // scrape; their rates stay `None`.
            if let Some(m) = &t.component.metrics
                && let Ok(scrape) = metrics::scrape(&self.http, m).await
            {
                // The timestamp is taken *after* the scrape returned, for both scrapes, so the interval
                // is measured between two comparable moments. A scrape that took 300 ms does not
                // inflate or deflate the QPS.
                let now = Instant::now();
                if let Some((then, before)) = self.prev.get(&t.label) {
                    let rates = rates(before, &scrape, now.duration_since(*then));
                    row.qps = rates.qps;
                    row.p99_ms = rates.p99_ms;
                    row.hit_rate = rates.hit_rate;
                }
                // One point per refresh into the service's minute; a component without a
                // request counter gets no history (and its lines stay empty).
                let at = now.duration_since(self.started).as_secs_f64();
                if let Some(point) = Point::from_scrape(at, &scrape) {
                    let h = self.history.entry(t.label.clone()).or_default();
                    h.push(point);
                    row.qps_line = h.qps();
                    row.p99_line = h.p99_ms();
                    row.error_rate = h.error_rate();
                }
                // Keyed by row label, so a restarted instance (counters back at 0) is still
                // compared with its old scrape once: `rates` clamps that negative QPS to 0.
                self.prev.insert(t.label, (now, scrape));
            }
            rows.push(row);
        }
        // Stock totals are optional: no MariaDB in the record (a partial `up`) means no box,
        // not an error that hides the health rows above.
        let stock = match state.mysql_url() {
            Ok(url) => self.stock(url).await.ok(),
            Err(_) => None,
        };
        DashboardSnapshot { rows, stock, source }
    }

    /// What to show, in order: infrastructure, then each gRPC service's instances as Consul
    /// lists them (plus recorded ones it does not), then the gateway — and where that came from.
    async fn targets(&self, state: &StackState) -> (Vec<Target>, String) {
        // A row from the record alone carries no Consul verdict: `None` renders as `-`, which
        // says "Consul was not asked about this one", not "Consul thinks it is fine".
        let record =
            |c: &Component| Target { label: c.name.clone(), component: c.clone(), consul: None };
        let infra = [&state.mysql, &state.redis, &state.consul].into_iter().flatten().map(record);
        let mut out: Vec<Target> = infra.collect();
        let file = format!("{}/stack.json", self.dir.display());
        // No Consul in the record (a partial `up`, or a stack from before Day 35): the record
        // is the whole truth, and the source line names only the file.
        let consul = match state.consul_addr() {
            Ok(addr) => Consul::new(addr),
            Err(_) => return (state.all().map(record).collect(), file),
        };
        // Only the services that register (gRPC health); the gateway never appears in
        // Consul, so asking for it would return an empty list every second.
        let grpc =
            services::SERVICES.iter().filter(|s| matches!(s.health, services::Health::Grpc(_)));
        // `consul_name`: the name this stack's services registered under (binary + the
        // stack's suffix) — the same function the services use, so the two cannot drift.
        let names: Vec<String> = grpc.clone().map(|s| state.consul_name(s.binary)).collect();
        // `all_instances`, not the passing-only list a client dials from: the dashboard must
        // show the critical instance too, since seeing it turn critical is the Day 35 lesson.
        let lists = futures::future::join_all(names.iter().map(|n| consul.all_instances(n))).await;
        // All or nothing: if one list failed, mixing Consul rows for some services with
        // record rows for others would make the Consul column mean two things on one
        // screen. The title's `（Consul 无应答）` says why every verdict is `-`.
        if lists.iter().any(Result::is_err) {
            out.extend(state.services.iter().map(record));
            return (out, format!("{file}（Consul 无应答）"));
        }
        for (spec, list) in grpc.zip(lists) {
            let mut rows: Vec<Target> = Vec::new();
            for (instance, status) in list.unwrap_or_default() {
                // Matched by address, the one thing Consul and the record both know: Consul's
                // instance id is not in `stack.json`, and the name is the same for every
                // instance of a service.
                let recorded = state.services.iter().find(|c| c.address == instance.address);
                // The metrics endpoint is on the same host as the gRPC port, at the port the
                // service put in its registration's meta; without that meta the row still shows
                // health but no rates (`metrics: None` skips the scrape).
                let host = instance.address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
                let metrics = instance.meta.get("metrics_port").map(|p| format!("{host}:{p}"));
                let (label, pid, program) = match recorded {
                    // The supervisor's name (`user-2`): it is also the key of the previous
                    // scrape and of the history, so the row keeps its rates and its line colour.
                    Some(c) => (c.name.clone(), c.pid, c.program.clone()),
                    // Started by hand, outside the supervisor: labelled by port.
                    None => (
                        format!(
                            "{}@{}",
                            spec.name,
                            instance.address.rsplit(':').next().unwrap_or("?")
                        ),
                        None,
                        String::new(),
                    ),
                };
                let component = Component {
                    name: spec.name.into(),
                    pid,
                    program,
                    address: instance.address.clone(),
                    metrics,
                    log: None,
                };
                rows.push(Target { label, component, consul: Some(status) });
            }
            // Recorded but not (or no longer) in Consul: never registered, or already reaped
            // after a crash. Shown anyway with no verdict, so nothing the lab started can hide
            // from the learner behind Consul's view.
            for c in &state.services {
                let same = services::spec(&c.name).is_some_and(|s| s.name == spec.name);
                if same && !rows.iter().any(|r| r.component.address == c.address) {
                    let component = Component { name: spec.name.into(), ..c.clone() };
                    rows.push(Target { label: c.name.clone(), component, consul: None });
                }
            }
            // `all_instances` returns them by Consul id, and the record's extras come last;
            // sorting by instance number puts `user` before `user-2` and a recorded extra in
            // its place, so rows (and the colour each line gets by position) stay put.
            rows.sort_by_key(|r| services::instance_number(&r.label));
            out.extend(rows);
        }
        out.extend(state.services.iter().filter(|c| c.name == "gateway").map(record));
        (out, format!("Consul + {file}"))
    }

    // `max_connections(1)`: the dashboard runs one query a second; a pool of 10 would hold
    // ten idle connections on a database the learner is load-testing.
    async fn stock(&mut self, mysql_url: &str) -> anyhow::Result<StockTotals> {
        if self.pool.is_none() {
            let url = format!("{}/inventory_db", mysql_url.trim_end_matches('/'));
            self.pool = Some(
                sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(2))
                    .connect(&url)
                    .await?,
            );
        }
        let pool = self.pool.as_ref().expect("set above");
        // SUM over BIGINT is DECIMAL in MySQL; cast back to a plain integer.
        // One aggregate query instead of fetching every row: the dashboard needs five numbers,
        // and the table may hold thousands of books after a bench.
        let row: (i64, i64, i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(stock),0) AS SIGNED), \
             CAST(COALESCE(SUM(locked_stock),0) AS SIGNED), \
             CAST(COALESCE(SUM(sold_stock),0) AS SIGNED), \
             CAST(COALESCE(SUM(total_stock),0) AS SIGNED) FROM inventory",
        )
        .fetch_one(pool)
        .await?;
        Ok(StockTotals { books: row.0, available: row.1, locked: row.2, sold: row.3, total: row.4 })
    }
}

// All three rates are interval rates (see [`crate::metrics`]): the dashboard shows
// the last second, not the average since the service started.
/// What two scrapes of one service say about the interval between them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub qps: Option<f64>,
    pub p99_ms: Option<f64>,
    pub hit_rate: Option<f64>,
}

// A pure function of two scrapes and a duration, so the arithmetic is unit-tested with
// literal `/metrics` text (below) instead of a running service and a sleep.
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
    pub count: &'static str,
    pub histogram: &'static str,
    /// The label on `count` that carries the outcome (`code` or `status`).
    pub error_label: &'static str,
    // A plain `fn` pointer: two non-capturing closures of different types cannot share a
    // field type, and a pointer needs no box.
    pub is_error: fn(&str) -> bool,
}

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

// The address is shown for everyone and the failure detail only for unhealthy rows:
// the line a learner must act on is the one that explains itself.
// What it prints (illustrative):
// ```text
// 组件       健康           QPS       p99   错误率   命中率  地址 / 详情
// mysql      ✔            -         -        -        -  127.0.0.1:3306
// catalog    ✔        812.5     3.2ms     0.4%    91.0%  127.0.0.1:9002
// inventory  ✘            -         -        -        -  127.0.0.1:9003 connection refused
// 库存合计：200 本书，可用 9000，锁定 12，已售 988，总量 10000
// ```
// Note the last line's arithmetic: 9000 + 12 + 988 = 10000 — the conservation rule,
// checkable by eye.
/// The dashboard as plain text (for `--no-tui` and scripts).
pub fn table(s: &DashboardSnapshot) -> String {
    let mut out = format!(
        "{:<10} {:<6} {:<9} {:>9} {:>9} {:>8} {:>8}  {}\n",
        "组件", "健康", "Consul", "QPS", "p99", "错误率", "命中率", "地址 / 详情"
    );
    for r in &s.rows {
        out.push_str(&format!(
            "{:<10} {:<6} {:<9} {:>9} {:>9} {:>8} {:>8}  {} {}\n",
            r.name,
            if r.healthy { "✔" } else { "✘" },
            r.consul.as_deref().unwrap_or("-"),
            r.qps.map_or("-".into(), |q| format!("{q:.1}")),
            r.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms")),
            r.error_rate.map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            r.hit_rate.map_or("-".into(), |h| format!("{:.1}%", h * 100.0)),
            r.address,
            if r.healthy { "" } else { r.detail.as_str() }
        ));
    }
    if let Some(t) = s.stock {
        out.push_str(&format!(
            "库存合计：{} 本书，可用 {}，锁定 {}，已售 {}，总量 {}\n",
            t.books, t.available, t.locked, t.sold, t.total
        ));
    }
    out
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
