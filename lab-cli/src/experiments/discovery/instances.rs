//! Per-instance counts, from both ends of a call: what the gateway sent to each address,
//! what each instance served, and the rows of the screen built from them.

use std::{collections::HashMap, time::Instant};

use bookstore_platform::consul::Instance;
use bookstore_stack::{StackState, services};

use super::{DiscoveryTargets, InstanceView, SERVICE};
use crate::metrics::{self, Scrape};

/// Counters of one sample, per instance address.
///
/// Kept from one second to the next: the rates in [`InstanceView`] are this sample's
/// counts minus the previous one's, over the time between them.
#[derive(Default)]
pub(super) struct Counters {
    /// When the sample was taken: the rates divide by the real time since, not by 1 s.
    pub(super) at: Option<Instant>,
    /// Each instance's own `grpc_requests_total`, by its gRPC address.
    pub(super) served: HashMap<String, f64>,
    /// The gateway's `upstream_requests_total` per address it sent to.
    ///
    /// Keyed like `served`, by `host:port`: `views` joins the two ends of a call, and the
    /// Consul row, on that one string.
    pub(super) sent: HashMap<String, f64>,
}

/// The gateway's discovery counters for user-service: calls sent per instance address, and
/// the total of failed (re-sent) calls.
///
/// Both empty or zero when the gateway has no metrics port or its scrape failed: the
/// report then shows 0 re-sends, which in that case means "not measured", not "none".
/// A single failed scrape after a kill also shows 0 for that one sample: the total is
/// recomputed from the next good scrape, so the figure dips and comes back.
pub(super) async fn gateway_counts(
    http: &reqwest::Client,
    targets: &DiscoveryTargets,
) -> (HashMap<String, f64>, f64) {
    let Some(m) = &targets.gateway_metrics else { return (HashMap::new(), 0.0) };
    let Ok(scrape) = metrics::scrape(http, m).await else { return (HashMap::new(), 0.0) };
    (
        // Labelled with the Consul name the gateway resolved (`service`) and the
        // address it sent to (`instance`), by `platform::discovery`.
        per_instance(&scrape, "upstream_requests_total", &targets.service),
        scrape.sum("upstream_failures_total", &[("service", targets.service.as_str())]),
    )
}

/// `name`'s value per `instance` label, for one `service`: the gateway's calls per
/// instance address.
fn per_instance(scrape: &Scrape, name: &str, service: &str) -> HashMap<String, f64> {
    scrape
        // Every instance address that appears on the metric, whatever its service;
        // the sum below keeps user-service's calls, so other addresses read 0.
        .label_values(name, "instance")
        .into_iter()
        .map(|addr| {
            let v = scrape.sum(name, &[("service", service), ("instance", addr.as_str())]);
            (addr, v)
        })
        .collect()
}

/// Each listed instance's own count of the calls it served.
///
/// Scraped concurrently, so slow instances cost the sample at most the sampler's 2 s
/// timeout once, not once each. An instance without a `metrics_port` in its meta, or whose
/// scrape failed, is missing from the map rather than 0: its row then reads `-`.
pub(super) async fn served_counts(
    http: &reqwest::Client,
    listed: &[(Instance, String)],
) -> HashMap<String, f64> {
    let scrapes = futures::future::join_all(listed.iter().map(|(i, _)| async move {
        // The metrics port is in the registration's meta, and the host is the
        // instance's own: scraping the address Consul gives is what a Prometheus
        // with Consul service discovery would do.
        let host = i.address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        let port = i.meta.get("metrics_port")?;
        let s = metrics::scrape(http, &format!("{host}:{port}")).await.ok()?;
        // Every method summed: the question is "did this process serve calls", and
        // `/users/me` alone is two methods. Consul's gRPC health checks are not in it
        // (the service skips `/grpc.*` when counting), so an idle instance reads 0/s.
        Some((i.address.clone(), s.sum("grpc_requests_total", &[])))
    }))
    .await;
    scrapes.into_iter().flatten().collect()
}

/// The rows of a tick: every instance Consul lists, plus recorded ones it does not.
///
/// Recorded instances that Consul does not list are rows too: a dead instance that has
/// been deregistered must stay visible as "-", or the screen would suggest it never
/// existed.
///
/// Needs `prev`, the counters of the previous full sample, and `served`/`sent` taken at
/// `now`; the rows come sorted by instance number.
pub(super) fn views(
    state: &StackState,
    listed: &[(Instance, String)],
    prev: &Counters,
    served: &HashMap<String, f64>,
    sent: &HashMap<String, f64>,
    now: Instant,
) -> Vec<InstanceView> {
    // No previous sample (the first tick): no rates at all, rather than a
    // count since the process started divided by an invented second.
    let secs = prev.at.map(|t| now.duration_since(t).as_secs_f64()).filter(|s| *s > 0.0);
    // An address new since the previous sample (an added instance) counts from 0,
    // so its first rate includes every call since it started; a restarted process's
    // counter starts again below the old one, and `max(0.0)` shows 0 for that second
    // instead of a negative rate.
    let rate = |before: &HashMap<String, f64>, after: &HashMap<String, f64>, a: &str| {
        Some((after.get(a)? - before.get(a).copied().unwrap_or(0.0)).max(0.0) / secs?)
    };
    // One row per address: a process restarted on the port of a killed one registers under
    // a new id while the old id is still listed as critical — show the live one.
    let mut by_address: Vec<(String, String)> = Vec::new();
    for (i, status) in listed {
        match by_address.iter_mut().find(|(a, _)| *a == i.address) {
            // Two ids on one address: the new process (passing) wins over the old
            // registration (critical) until Consul reaps the old one.
            Some(row) if status == "passing" => row.1 = status.clone(),
            Some(_) => {}
            None => by_address.push((i.address.clone(), status.clone())),
        }
    }
    let mut rows: Vec<InstanceView> = by_address
        .into_iter()
        .chain(
            state
                .services
                .iter()
                .filter(|c| services::spec(&c.name).is_some_and(|s| s.binary == SERVICE))
                // Recorded by the supervisor but not in Consul: a killed instance after its
                // deregistration, or one that never registered (its rows then read "-").
                .filter(|c| !listed.iter().any(|(i, _)| i.address == c.address))
                .map(|c| (c.address.clone(), "-".to_string())),
        )
        .map(|(address, consul)| {
            let label = state.services.iter().find(|c| c.address == address).map_or_else(
                // An address the supervisor did not start (a learner's own
                // `cargo run -p user-service`): named by its port.
                || format!("user@{}", address.rsplit(':').next().unwrap_or("?")),
                |c| c.name.clone(),
            );
            InstanceView {
                label,
                served_qps: rate(&prev.served, served, &address),
                sent_qps: rate(&prev.sent, sent, &address),
                address,
                consul,
            }
        })
        .collect();
    // By instance number, so `user` stays above `user-2` whatever order Consul uses.
    rows.sort_by_key(|r| services::instance_number(&r.label));
    rows
}
