//! The Consul watcher behind [`Balanced::consul`](super::Balanced::consul): one blocking
//! query after another, each changed answer published as a new [`Snapshot`].

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use super::{Snapshot, Tuning, backend::Backend};
use crate::consul::{Consul, Instance};

/// The watcher: one blocking query after another, publishing each changed list.
///
/// The three rules Consul's documentation sets for blocking queries, each of which a naive
/// loop breaks:
/// - the index can go *backwards* (a Consul server restarted, a snapshot restored): then
///   start over from 0, or the client waits for an index that will not come for hours;
/// - an index of 0 must never be sent back as a wait index (it returns at once, so the loop
///   would spin at full speed): treat it as 1;
/// - on an error, back off (here 100 ms doubling to 5 s) instead of retrying at once — a
///   thousand clients hammering an agent that is restarting keep it from coming back.
///
/// While Consul is unreachable the last list stays in use: ✅ DO keep serving from the
/// last known instances — they were healthy a moment ago and probably still are; ❌ DON'T
/// empty the list on a registry error, which turns a Consul outage into an outage of every
/// service that uses it.
pub(super) async fn watch_consul(
    consul: Consul,
    service: String,
    tx: watch::Sender<Snapshot>,
    tuning: Tuning,
) {
    let mut index = 0u64;
    let mut backoff = Duration::from_millis(100);
    loop {
        let answer = tokio::select! {
            a = consul.watch_passing(&service, index, tuning.wait) => a,
            // Every client handle was dropped: nobody needs this list any more.
            _ = tx.closed() => return,
        };
        // lesson:blocking-query:start
        match answer {
            Ok(watched) => {
                backoff = Duration::from_millis(100);
                index = if watched.index < index { 0 } else { watched.index.max(1) };
                publish(&tx, &service, &watched.instances);
            }
            Err(error) => {
                tracing::warn!(%service, %error, "consul watch failed; keeping the last list");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = tx.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                // The next query asks for the current list at once: the index we had may
                // be meaningless to an agent that restarted meanwhile.
                index = 0;
            }
        }
        // lesson:blocking-query:end
    }
}

/// Replaces the published list, keeping the `Backend` (and so the open connection, the
/// counters and an ejection) of every instance that is still listed.
fn publish(tx: &watch::Sender<Snapshot>, service: &str, instances: &[Instance]) {
    // A clone of the `Arc`ed list, so the borrow (a read lock) ends before any `Backend::new`.
    let old = tx.borrow().backends.clone();
    let mut backends = Vec::with_capacity(instances.len());
    for i in instances {
        // One backend per address, even if Consul lists an address twice (a stale
        // registration whose health check reaches the new process on the same port): two
        // backends for one process would double its share and its cost when it dies.
        if backends.iter().any(|b: &Arc<Backend>| b.address == i.address) {
            continue;
        }
        if let Some(b) = old.iter().find(|b| b.id == i.id && b.address == i.address) {
            backends.push(b.clone());
            continue;
        }
        match Backend::new(service, i.id.clone(), &i.address) {
            Ok(b) => backends.push(Arc::new(b)),
            // Skipped, not fatal: one registration with a broken address (say, registered
            // by hand) must not hide the good instances listed next to it.
            Err(error) => tracing::warn!(%service, %error, "unusable address in consul"),
        }
    }
    // Publish only real changes: every published list is a new `Arc` that in-flight calls
    // keep alive, and a blocking query that times out (no change for `wait`) answers the
    // same list again — replacing it each time would churn for nothing and log noise.
    let changed = !tx.borrow().loaded
        || backends.len() != old.len()
        // Pointer equality: a kept backend is the very same `Arc`, a new one never is.
        || backends.iter().zip(old.iter()).any(|(a, b)| !Arc::ptr_eq(a, b));
    if changed {
        let ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();
        tracing::info!(%service, instances = ?ids, "instances changed");
        tx.send_replace(Snapshot { backends: Arc::from(backends), loaded: true });
    }
}
