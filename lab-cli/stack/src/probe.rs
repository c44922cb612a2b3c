//! Asking components whether they are healthy: the real protocol of each, not "is the
//! port open". A MariaDB answering `SELECT VERSION()`, a Redis answering `INFO`, a Consul
//! with a leader, a service answering `grpc.health.v1.Health/Check` with SERVING.
//!
//! Why not "is the port open": an open port says a process called `listen(2)`, nothing
//! more. MariaDB listens while InnoDB is still recovering; a service keeps listening
//! while it drains on shutdown (health then says NOT_SERVING). ✅ DO ask the question the client will ask; ❌ DON'T treat a TCP
//! connect as health — the dashboard would be green while every request fails.
//!
//! What it is NOT: monitoring. It answers "right now?" once, with short timeouts; it does
//! not keep history or alert. Trends live in the services' Prometheus metrics.

use std::time::Duration;

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    infra, process,
    services::{self, Health, ServiceSpec},
    state::{Component, StackState},
};

/// One line of `bookstore-lab status`.
#[derive(Clone, Debug)]
pub struct ComponentHealth {
    /// As recorded in `stack.json` (`mysql`, `inventory`, …).
    pub name: String,
    /// The address that was asked: the one clients are given, so a green line means
    /// "reachable where the services look", not merely "running somewhere".
    pub address: String,
    /// `None` for an external server (the lab did not start it and will not stop it).
    pub pid: Option<u32>,
    /// Answered its own protocol within the timeout. One bit on purpose: "degraded" states
    /// belong in the detail text, and a dashboard needs a clear red or green.
    pub healthy: bool,
    /// A version on success, the error otherwise.
    pub detail: String,
}

/// gRPC health of one named service at `address` (`host:port`).
///
/// Named, not the empty "" (whole server) check: a server process can host several gRPC
/// services and mark them individually — and Consul's gRPC check and load balancers ask
/// for a specific name too. Asking for the name we route to is asking the right question.
/// The 2 s timeouts keep `status` snappy when a process is wedged rather than dead.
pub async fn grpc_health(address: &str, service: &str) -> anyhow::Result<()> {
    // A fresh channel per check: `status` is a one-off, and a cached channel would hide a
    // server that restarted (it reconnects transparently) — here we want to know.
    // `connect_timeout` bounds the TCP/HTTP2 handshake, `timeout` the RPC itself; without
    // them a wedged server (accepting but never answering) would hang `status` forever.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await?;
    let resp = HealthClient::new(channel)
        .check(HealthCheckRequest { service: service.into() })
        .await?
        .into_inner();
    // NOT_SERVING is an answer, not an error at the transport level — so check it: a
    // draining server answers health promptly while refusing to be routed to.
    anyhow::ensure!(resp.status() == ServingStatus::Serving, "status {:?}", resp.status());
    Ok(())
}

/// The health check a spec names: gRPC for the five services, HTTP for the gateway
/// (which is an HTTP server; speaking gRPC to it would fail even when it is healthy).
pub async fn service_health(spec: &ServiceSpec, address: &str) -> anyhow::Result<()> {
    match spec.health {
        Health::Grpc(name) => grpc_health(address, name).await,
        // `error_for_status`: a 503 from a gateway whose upstreams are down is a failed
        // check, even though HTTP itself worked.
        Health::Http(path) => {
            // A client per check, like the gRPC channel above: no connection reuse to
            // hide a restart, and the overall 2 s timeout covers connect and body.
            let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
            http.get(format!("http://{address}{path}")).send().await?.error_for_status()?;
            Ok(())
        }
    }
}

/// One component's health. Errors become a red line with the message, never a failure of
/// the whole `status`: one dead server must not hide the state of the others.
pub async fn check(c: &Component) -> ComponentHealth {
    let result = match c.name.as_str() {
        // The same functions `up` used for readiness: one definition of "healthy" for
        // start-up and for `status`, so the two can never disagree.
        "mysql" => infra::mysql_version(&c.address).await,
        "redis" => infra::redis_version(&c.address).await,
        "consul" => infra::consul_version(&c.address).await,
        // Anything else is a service; a name this build does not know (a `stack.json`
        // from a newer checkout) shows as unhealthy rather than being skipped silently.
        name => match services::spec(name) {
            Some(spec) => service_health(spec, &c.address).await.map(|()| "SERVING".to_string()),
            None => Err(anyhow::anyhow!("unknown component")),
        },
    };
    // `to_string` keeps only the outermost message, one line for a dashboard row; for a
    // transport error that line can be as vague as "error sending request", and the
    // cause (`{e:#}` would show it) is then in the component's log, not here.
    let (healthy, detail) = match result {
        Ok(v) => (true, v),
        Err(e) => (false, e.to_string()),
    };
    ComponentHealth {
        name: c.name.clone(),
        address: c.address.clone(),
        pid: c.pid,
        healthy,
        detail,
    }
}

/// Health of every recorded component, checked concurrently: nine sequential checks, each
/// allowed a few seconds, could make a broken stack take half a minute to report;
/// concurrently it takes as long as the slowest one.
///
/// The result keeps the record's order (infrastructure, then services in start order),
/// whatever order the answers arrived in: `join_all` returns in input order.
pub async fn check_all(state: &StackState) -> Vec<ComponentHealth> {
    futures::future::join_all(state.all().map(check)).await
}

/// Is this recorded component's process still running? (An external one is assumed so:
/// the lab neither starts nor stops it.) Cheap (only `/proc`), so `up` can decide what to
/// restart before any network round-trip; the real health questions are left to `status`.
///
/// Why `up` must not use the full health check here: a service that is alive but not yet
/// SERVING (still starting, or draining) would be
/// declared dead and started a second time on a port it still holds.
pub fn running(c: &Component) -> bool {
    c.pid.is_none_or(|pid| process::is_ours(pid, &c.program))
}
