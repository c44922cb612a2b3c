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

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::OnceCell;

/// One load's shared outcome: empty while the leader runs, then its result for everyone.
type Flight<V, E> = Arc<OnceCell<Result<V, E>>>;

/// In-flight loads, keyed by cache key. `V` and `E` are cloned to every waiter.
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

impl<V: Clone, E: Clone> SingleFlight<V, E> {
    /// Runs `load` for `key` unless a load for `key` is already running, in which case
    /// it waits for that one and returns a clone of its result.
    pub async fn run<F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_string()).or_insert_with(|| Arc::new(OnceCell::new())).clone()
        };
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
    pub fn forget(&self, key: &str) {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

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
