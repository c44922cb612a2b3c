//! Counters: the Prometheus metrics the dashboard reads, and a per-instance copy that
//! tests and the bench read directly.
//!
//! Why two copies: the Prometheus recorder is one per *process*, and the tests of one file
//! run in one process, in parallel, each with its own catalog instance. A test asserting
//! "500 reads caused 1 query" must count only its own instance's queries — hence
//! [`Stats`], an `Arc` of atomics owned by one instance.
//!
//! Metric names (stable; the lab dashboard reads them):
//! - `cache_requests_total{cache="list"|"search"|"detail", result="hit"|"miss"}`
//! - `catalog_db_queries_total{query="list"|"search"|"get"|"insert"|"update_stock"}`
//!
//! Reading the hit rate from Prometheus (what the dashboard does):
//!
//! ```text
//! sum(rate(cache_requests_total{result="hit"}[1m]))
//!   / sum(rate(cache_requests_total[1m]))
//! ```
//!
//! DO: compute the rate from the two counters. DON'T export a "hit rate" gauge computed in
//! the service: averages of averages across instances are wrong, while counters add up.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Which cache a lookup went to.
///
/// `#[repr]`-free `as usize` indexing into the counter arrays: the three variants are
/// 0, 1, 2 in declaration order, and the arrays have exactly three slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheKind {
    List,
    Search,
    Detail,
}

impl CacheKind {
    /// The `cache` label value; a closed set, so the metric has a fixed number of series.
    fn label(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Search => "search",
            Self::Detail => "detail",
        }
    }
}

/// One instance's counters. `Relaxed` ordering is enough: each counter is independent and
/// only ever summed, never used to order other memory operations.
#[derive(Debug, Default)]
pub struct Stats {
    /// Every SQL statement sent, of any kind: what "500 reads → 1 query" is counted in.
    db_queries: AtomicU64,
    /// Lookups answered from Redis, indexed by [`CacheKind`] (`as usize`). 3 is the number
    /// of kinds: a fourth kind added without widening this panics at the index, in the
    /// first test that records it, rather than counting into a neighbour's slot.
    hits: [AtomicU64; 3],
    /// Lookups whose first GET found nothing, indexed the same way; a miss that single-
    /// flight then answered without a query still counts here (see `CatalogApi::list_books`).
    misses: [AtomicU64; 3],
    /// GetStocks calls to inventory-service (see `live_stock`): what showing live stock
    /// costs inventory, and what the refresh claim keeps at one per stale page.
    stock_reads: AtomicU64,
}

/// A copy of the counters at one moment.
///
/// Tests and the bench take one before and one after an action and subtract
/// ([`StatsSnapshot::since`]): that isolates the effect of the action from everything the
/// instance did before it, without resetting shared counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Statements sent to MySQL; the figure the stampede and penetration tests assert on.
    pub db_queries: u64,
    /// Per cache kind, as [`Stats::cache`] recorded them; a negative entry is a detail hit.
    pub list_hits: u64,
    pub list_misses: u64,
    pub search_hits: u64,
    pub search_misses: u64,
    pub detail_hits: u64,
    pub detail_misses: u64,
    /// GetStocks calls sent to inventory, answered or not.
    pub stock_reads: u64,
}

impl StatsSnapshot {
    /// Hits / lookups over every cache, 0.0 when there were none.
    ///
    /// Negative entries count as hits (they answered without MySQL). So do search pages.
    /// This is the figure the course's "命中率 > 80 %" means: of all lookups, how many
    /// the cache answered.
    /// `bookstore-lab bench catalog` prints it for every row: a warm row should read 100 %
    /// (the mix was filled just before), a cold row shows what the Zipf mix alone achieves.
    pub fn hit_rate(&self) -> f64 {
        let hits = self.list_hits + self.search_hits + self.detail_hits;
        let all = hits + self.list_misses + self.search_misses + self.detail_misses;
        if all == 0 { 0.0 } else { hits as f64 / all as f64 }
    }

    /// The difference `self - earlier` (what happened between two snapshots).
    ///
    /// Counters only grow, so every difference is non-negative; `earlier` must really be
    /// earlier (taken from the same instance), which is how the tests and the bench use it.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        // Plain `-`: a reversed pair underflows, which panics in the debug build the tests
        // use, where a saturating 0 would pass and hide the mistake.
        StatsSnapshot {
            db_queries: self.db_queries - earlier.db_queries,
            list_hits: self.list_hits - earlier.list_hits,
            list_misses: self.list_misses - earlier.list_misses,
            search_hits: self.search_hits - earlier.search_hits,
            search_misses: self.search_misses - earlier.search_misses,
            detail_hits: self.detail_hits - earlier.detail_hits,
            detail_misses: self.detail_misses - earlier.detail_misses,
            stock_reads: self.stock_reads - earlier.stock_reads,
        }
    }
}

// Each method updates both views in the same call, so the two can never disagree about
// what happened — only about when they are read.
impl Stats {
    /// Records one cache lookup, in both the instance counters and Prometheus.
    ///
    /// Labels are a closed set (`list|search|detail` × `hit|miss`): six time series in
    /// total. DON'T label by key or keyword — every distinct value is a new series, and
    /// Prometheus' memory grows with every new search a user types.
    pub fn cache(&self, kind: CacheKind, hit: bool) {
        let i = kind as usize;
        let (counter, result) =
            if hit { (&self.hits[i], "hit") } else { (&self.misses[i], "miss") };
        counter.fetch_add(1, Relaxed);
        metrics::counter!("cache_requests_total", "cache" => kind.label(), "result" => result)
            .increment(1);
    }

    /// Records one GetStocks sent to inventory-service; the Prometheus side is
    /// `catalog_live_stock_reads_total{result}`, counted by `live_stock` with its outcome.
    pub fn stock_read(&self) {
        self.stock_reads.fetch_add(1, Relaxed);
    }

    /// Records one SQL statement sent to MySQL.
    ///
    /// The `query` label (`list`, `get`, …) lets the dashboard show *which* reads reach
    /// MySQL; a rising `get` with a flat `list` points at detail misses, for example a
    /// scraper walking ids (penetration) — visible before it hurts.
    pub fn db_query(&self, query: &'static str) {
        self.db_queries.fetch_add(1, Relaxed);
        metrics::counter!("catalog_db_queries_total", "query" => query).increment(1);
    }

    /// Reads each counter once. The fields are read one after another, not atomically as
    /// a set, so a snapshot taken under load may be off by the few requests in flight —
    /// fine for rates and for the tests, which snapshot when their traffic has finished.
    pub fn snapshot(&self) -> StatsSnapshot {
        let h = |k: CacheKind| self.hits[k as usize].load(Relaxed);
        let m = |k: CacheKind| self.misses[k as usize].load(Relaxed);
        StatsSnapshot {
            db_queries: self.db_queries.load(Relaxed),
            list_hits: h(CacheKind::List),
            list_misses: m(CacheKind::List),
            search_hits: h(CacheKind::Search),
            search_misses: m(CacheKind::Search),
            detail_hits: h(CacheKind::Detail),
            detail_misses: m(CacheKind::Detail),
            stock_reads: self.stock_reads.load(Relaxed),
        }
    }
}
