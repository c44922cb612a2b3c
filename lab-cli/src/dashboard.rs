//! The dashboard's poller: every component's health, QPS, p99, hit rate and stock totals.
//!
//! It reads the supervisor's record (`stack.json`) on every poll, so services started or
//! stopped by another `bookstore-lab up/down` appear and disappear without a restart.
//! Service instances come from Consul first and the record second (see `targets`).
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
//! The poller is split by question: `targets` decides which rows exist (Consul and the
//! record), `rates` turns two scrapes into the interval's QPS, p99 and hit rate, `history`
//! keeps the minute behind the charts, and `table` prints a snapshot for `--no-tui`.
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

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use bookstore_stack::{StackState, probe};

use crate::metrics::{self, Scrape};

mod history;
mod rates;
mod table;
mod targets;

pub use history::{History, Point, WINDOW_SECS};
pub use rates::{Rates, rates};
pub(crate) use rates::{RequestMetrics, request_metrics};
pub use table::table;

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
    // (`unwrap_or_default` covers a builder that cannot start its TLS backend: the default
    // client it falls back to has no timeout, so that machine loses the bound, not the
    // dashboard.)
    /// A poller of the stack recorded in `dir`; nothing is contacted before the first poll.
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
        let (targets, source) = targets::targets(&self.dir, &state).await;
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

    // `max_connections(1)`: the dashboard runs one query a second; a pool of 10 would hold
    // ten idle connections on a database the learner is load-testing.
    // A failed connect leaves `pool` at `None`, so the next poll tries again: the box comes
    // back by itself once MariaDB is up. Once made, the pool is kept for the poller's life;
    // sqlx tests and replaces a dead connection on acquire, so a restarted MariaDB needs no
    // new pool: at worst one refresh loses its box (bounded by the 2 s acquire timeout).
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
