//! Single-flight: when many requests miss the same cache key at once, only one of them
//! loads from the database; the others wait for its answer.
//!
//! This is the defence against **cache breakdown / stampede (缓存击穿)**: a hot key
//! expires (or the cache is cold after a deploy), and in the next millisecond 500
//! requests all miss and all run the same query. The database, sized for the 5 % of
//! traffic that misses, suddenly gets 100 % of it for one key — and slows down for every
//! other query too.
//!
//! ```text
//! DON'T (plain cache-aside)          DO (single-flight)
//! 500 misses → 500 SELECTs           500 misses → 1 SELECT, 499 wait ~1 ms for it
//! ```
//!
//! How: a map from key to a shared [`tokio::sync::OnceCell`]. The first caller creates
//! the cell and runs the load inside `get_or_init`; later callers find the same cell and
//! await it. When the load finishes the entry is removed, so the *next* miss (after the
//! TTL) loads afresh. `OnceCell` also handles the awkward case: if the leader's request is
//! cancelled mid-load (its client hung up), the next waiter runs the load instead of
//! everyone waiting forever.
//!
//! Scope, honestly: this coalesces loads within one process. With N instances a cold key
//! costs at most N queries, which is fine for N = 3; a fleet of hundreds would add a short
//! Redis lock (`SET key:lock NX PX 3000`) around the load.
//! ## A timeline of 500 requests for one cold key
//!
//! ```text
//! t=0.0 ms   r1 GET → miss ── run("k") → creates cell, becomes leader → GET (miss) → SELECT …
//! t=0.1 ms   r2…r300 GET → miss ── run("k") → same cell → await
//! t=2.0 ms   leader: SET k … EX 300 → cell filled → r1…r300 all return the same page
//! t=2.0 ms   entry "k" removed from the map
//! t=2.1 ms   r301…r500 GET → hit (the SET above), never reach single-flight
//! t=2.1 ms   (a straggler that missed at 1.9 ms and arrives now: run("k") → new cell →
//!            leader → GET → hit → returns without a query: the double-check in the loader)
//! ```
//!
//! ## The alternatives, and why not them here
//!
//! - **A Redis lock** (`SET k:lock 1 NX PX 3000`, losers poll the key): coalesces across
//!   instances, at the price of polling latency and a lock that can expire mid-load.
//!   Worth it with many instances; with a handful, in-process coalescing is enough.
//! - **Never expire hot keys, refresh them in the background**: no miss at all for the
//!   keys you know are hot, but you must know them, and a refresher is one more moving
//!   part that can silently stop.
//! - **Probabilistic early refresh** ("XFetch"): each hit near expiry refreshes with a
//!   small probability, so one request refreshes before the key expires. Elegant; it
//!   smooths expiry but does not help a cold start, which single-flight does.
//!
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::OnceCell;

/// One load's shared outcome: empty while the leader runs, then its result for everyone.
type Flight<V, E> = Arc<OnceCell<Result<V, E>>>;

/// In-flight loads, keyed by cache key. `V` and `E` are cloned to every waiter.
///
/// Generic over the value and the error so one implementation serves lists, searches and
/// details; `Clone` on both is the price of handing one result to many waiters.
pub struct SingleFlight<V, E> {
    // A std Mutex, not a tokio one: it is held only to look up or insert a map entry,
    // never across an `.await`, and std's is faster for such short critical sections.
    inflight: Mutex<HashMap<String, Flight<V, E>>>,
}

impl<V, E> Default for SingleFlight<V, E> {
    fn default() -> Self {
        Self { inflight: Mutex::new(HashMap::new()) }
    }
}

// Memory: the map holds only *in-flight* keys, removed when their load ends, so its size
// is bounded by the number of concurrent distinct misses — a handful, not the keyspace.

impl<V: Clone, E: Clone> SingleFlight<V, E> {
    /// Runs `load` for `key` unless a load for `key` is already running, in which case
    /// it waits for that one and returns a clone of its result.
    ///
    /// `load` is only called by the leader; followers drop theirs unused. So a load must
    /// not have side effects the caller relies on beyond producing the value (ours fill
    /// the cache, which is exactly the side effect everyone wants done once).
    pub async fn run<F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            // A poisoned lock only means another thread panicked while holding it; the map
            // itself is still consistent (each operation is a single insert or remove), so
            // we keep going instead of turning one panic into a dead service.
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_string()).or_insert_with(|| Arc::new(OnceCell::new())).clone()
        };
        // Leader or follower, everyone awaits the cell: the first to get here runs `load`,
        // the rest sleep until it is filled. The result is cloned per waiter (a page is a
        // few KB; 500 clones are cheaper than one extra SQL query).
        let result = cell.get_or_init(load).await.clone();
        // Remove the entry, but only if it is still *our* cell: a `forget` and a new load
        // may have replaced it meanwhile.
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            map.remove(key);
        }
        result
    }

    /// Detaches a running load from `key`: requests arriving from now on start a new
    /// load. Writers call it so that nobody who asks *after* a write is handed the answer
    /// of a load that began *before* it.
    ///
    /// The detached load still finishes and still writes the cache — with data read
    /// *before* the write. That is the race the delayed second delete in
    /// `CatalogApi::invalidate_book` exists for.
    pub fn forget(&self, key: &str) {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// Fifty callers, one slow load (50 ms, long enough that all fifty arrive while it
    /// runs): the load runs once and all fifty get its value. The integration tests prove
    /// the same against MySQL; this one proves the mechanism alone.
    #[tokio::test]
    async fn concurrent_callers_share_one_load() {
        let flights = Arc::new(SingleFlight::<u32, ()>::default());
        let loads = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (flights, loads) = (flights.clone(), loads.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            Ok(7)
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
