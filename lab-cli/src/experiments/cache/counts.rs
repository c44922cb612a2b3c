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
    pub list_misses: f64,
    /// `cache="detail"`: GetBook, one key per book id.
    pub detail_hits: f64,
    pub detail_misses: f64,
}

impl HitCounts {
    // One scrape, four filtered sums. Reading all four from the *same* scrape matters: from
    // two scrapes, hits and misses would cover slightly different intervals, and the rate
    // could even exceed 100 % for a second.
    pub(super) fn read(s: &metrics::Scrape) -> Self {
        let c =
            |cache, result| s.sum("cache_requests_total", &[("cache", cache), ("result", result)]);
        Self {
            list_hits: c("list", "hit"),
            list_misses: c("list", "miss"),
            detail_hits: c("detail", "hit"),
            detail_misses: c("detail", "miss"),
        }
    }

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
