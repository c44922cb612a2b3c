//! Hit and miss counts of the catalogue's two caches, as the service itself counted them.

use crate::metrics;

// `f64` because Prometheus exposes every sample as a float, counters included; keeping
// the type avoids a lossy round trip and lets deltas be computed without casts.
/// Hit/miss counts of both caches (differences of two scrapes).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HitCounts {
    /// `cache="list"`: ListBooks pages, keyed by every query parameter. (SearchBooks has
    /// its own `cache="search"` series; this load does not search.)
    pub list_hits: f64,
    /// Each miss is one page read from catalog_db and written back to Redis: the misses,
    /// not the hits, are the load the cache exists to take off MariaDB.
    pub list_misses: f64,
    /// `cache="detail"`: GetBook, one key per book id.
    pub detail_hits: f64,
    /// A miss per book id at its first read (cold), then again only after a write
    /// evicted it or its TTL ran out — a sale in inventory evicts nothing.
    pub detail_misses: f64,
}

impl HitCounts {
    /// The four cumulative counts in one scrape of catalog-service's `/metrics`.
    // One scrape, four filtered sums. Reading all four from the *same* scrape matters: from
    // two scrapes, hits and misses would cover slightly different intervals, and the rate
    // could even exceed 100 % for a second.
    pub(super) fn read(s: &metrics::Scrape) -> Self {
        // `sum` over whatever other labels a series carries: a label the service adds
        // later must not split the figure. A series not written yet (no miss so far)
        // reads 0, so a fresh service starts at 0/0 rather than failing the scrape.
        let c =
            |cache, result| s.sum("cache_requests_total", &[("cache", cache), ("result", result)]);
        Self {
            list_hits: c("list", "hit"),
            list_misses: c("list", "miss"),
            detail_hits: c("detail", "hit"),
            detail_misses: c("detail", "miss"),
        }
    }

    /// What happened between the scrape `o` was read from and this one, field by field.
    // Counter arithmetic: counters only grow, so `now − before` is what happened in between.
    // If the service restarted, the counters restart at 0 and this goes negative for one
    // second; the rate then shows nonsense for one tick rather than hiding the restart.
    pub(super) fn minus(&self, o: &Self) -> Self {
        Self {
            list_hits: self.list_hits - o.list_hits,
            list_misses: self.list_misses - o.list_misses,
            detail_hits: self.detail_hits - o.detail_hits,
            detail_misses: self.detail_misses - o.detail_misses,
        }
    }

    // Combined over list and detail caches, weighted by lookups — not the average of the
    // two rates. With four detail reads per list read, averaging would give the (fewer)
    // list lookups four times their real weight.
    /// Hit rate over both caches, `None` when nothing was looked up.
    pub fn rate(&self) -> Option<f64> {
        let hits = self.list_hits + self.detail_hits;
        let total = hits + self.list_misses + self.detail_misses;
        (total > 0.0).then(|| hits / total)
    }
}

/// The `{{measured:KEY}}` keys a Day 29 cache run fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 7] = [
    "hit_rate",
    "list_hit_rate",
    "detail_hit_rate",
    "lookups",
    "db_queries",
    "reads_per_s",
    "p99_ms",
];

// `db_queries` is the misses: in cache-aside every miss is one load from catalog_db (a
// detail's primary-key read; a list page's rows by id, plus its filter's ids the first
// time that order is asked) and every hit is none — the number the lesson wants to fall.
/// The cache run's figures: its totals over the whole run and the load's last snapshot.
///
/// Two witnesses, on purpose: the hit rates and `db_queries` are the service's counters
/// (server side), `reads_per_s` and `p99_ms` the load engine's (client side). Callers ask
/// only once the run has ended (the TUI checks `done`): mid-run totals are still growing.
pub fn figures(
    total: &HitCounts,
    load: &bookstore_loadgen::Snapshot,
) -> Vec<(&'static str, String)> {
    // The same one-decimal percentage as the screen, so the lesson's revealed figure and
    // the number the learner watched are the same text.
    let pct = |h: f64, m: f64| {
        if h + m > 0.0 { format!("{:.1}%", 100.0 * h / (h + m)) } else { "-".into() }
    };
    let misses = total.list_misses + total.detail_misses;
    let lookups = misses + total.list_hits + total.detail_hits;
    let values = [
        total.rate().map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
        pct(total.list_hits, total.list_misses),
        pct(total.detail_hits, total.detail_misses),
        format!("{lookups:.0}"),
        format!("{misses:.0}"),
        // Client-side figures from the load engine: every call the readers made, cache
        // hits and misses alike, so the p99 is the cost of the misses in the tail.
        format!("{:.0}", load.tps()),
        format!("{:.1}", load.p99_us as f64 / 1000.0),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the rate is weighted by lookups (8 hits of 10 = 0.8, not the mean of 0.5 and
    // 0.875) and that "no lookups" is `None`, which the sparkline relies on to skip a second.
    /// The hit rate covers both caches and is undefined with no lookups.
    #[test]
    fn hit_rate_combines_both_caches() {
        let h =
            HitCounts { list_hits: 1.0, list_misses: 1.0, detail_hits: 7.0, detail_misses: 1.0 };
        assert_eq!(h.rate(), Some(0.8));
        assert_eq!(HitCounts::default().rate(), None);
    }
}
