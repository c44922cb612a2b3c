//! Consul: service registration with a gRPC health check, and healthy-instance lookup.
//!
//! Day 35 of the course. Each instance registers itself when it starts serving and
//! deregisters when it stops; Consul calls the instance's `grpc.health.v1` every few
//! seconds and stops listing it once the check fails. Clients then ask Consul for
//! *passing* instances instead of dialling a hard-coded `localhost:9001`.
//!
//! DO: deregister on graceful shutdown (instant removal) *and* set
//! `DeregisterCriticalServiceAfter` (removal after a crash, when no goodbye comes).
//! DON'T: register before the server is ready to answer — the first health checks fail and
//! some dashboards page someone for a service that was merely starting.
//!
//! Why Consul checks *us* (an active gRPC health check) rather than us sending heartbeats
//! (a TTL check): a heartbeat proves the process runs, a real check proves it answers on
//! the address clients will dial — through the same network path. A service wedged in a
//! deadlock keeps its heartbeat thread alive; it fails a gRPC health check.
//!
//! What it is NOT: a full Consul client (no KV, no ACL tokens, no blocking queries). The
//! HTTP API needs three endpoints here, and plain `reqwest` + `serde` shows exactly what
//! goes over the wire — which is the lesson. A production service would pass an ACL token
//! (`X-Consul-Token`) and use blocking queries to watch for changes instead of polling.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A client of the local Consul agent's HTTP API. Cheap to clone (reqwest's client is an
/// `Arc` around one connection pool), so clone it rather than building new ones.
///
/// "Local agent": in Consul's model every machine runs an agent and services talk only to
/// it; the agent forwards to the servers. Registrations belong to that agent, which is why
/// deregistration must go to the same agent that registered.
#[derive(Clone, Debug)]
pub struct Consul {
    base: String,
    http: reqwest::Client,
}

/// What an instance tells Consul about itself.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Logical name, e.g. `inventory-service` (what clients look up).
    pub name: String,
    /// Unique per instance, e.g. `inventory-service-127.0.0.1:9004`.
    pub id: String,
    /// Host other processes (and Consul's health checker) dial: an IP or a DNS name such
    /// as `inventory` inside docker compose.
    pub host: String,
    /// The gRPC port (the real one, never 0).
    pub port: u16,
    /// Fully-qualified gRPC service name whose health Consul checks.
    pub grpc_service: String,
    /// Extra facts (the metrics port), read by the dashboard.
    pub meta: Vec<(String, String)>,
    /// How often Consul checks. The course uses 10 s; the lab uses 2 s so a killed
    /// instance visibly drops out within seconds.
    pub check_interval: Duration,
}

/// A passing instance, as Consul's health endpoint lists it. Clients pick one per call
/// (round-robin or random); caching the list for a few seconds is fine, caching it forever
/// defeats the point of discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub id: String,
    /// `host:port`, ready to dial.
    pub address: String,
    pub meta: std::collections::BTreeMap<String, String>,
}

// The wire types below mirror Consul's JSON (PascalCase, `ID`, `GRPC`): private, so the
// rest of the code deals in our types and only this file knows Consul's spelling.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentServiceRegistration<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    address: String,
    port: u16,
    meta: std::collections::BTreeMap<&'a str, &'a str>,
    check: AgentCheck,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentCheck {
    #[serde(rename = "GRPC")]
    grpc: String,
    interval: String,
    timeout: String,
    deregister_critical_service_after: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthEntry {
    node: HealthNode,
    service: HealthService,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthNode {
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthService {
    #[serde(rename = "ID")]
    id: String,
    address: String,
    port: u16,
    #[serde(default)]
    meta: Option<std::collections::BTreeMap<String, String>>,
}

impl Consul {
    /// `addr` is the agent's HTTP address, `127.0.0.1:8500` or `http://127.0.0.1:8500`.
    pub fn new(addr: &str) -> Self {
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", addr.trim_end_matches('/'))
        };
        // A timeout on every call: reqwest has none by default, and a hung agent must not
        // hang a service's shutdown (which awaits `deregister`).
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a client with a timeout always builds");
        Self { base, http }
    }

    /// The agent's version string (`1.16.6`), from `/v1/agent/self`.
    pub async fn version(&self) -> anyhow::Result<String> {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/v1/agent/self", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(v["Config"]["Version"].as_str().unwrap_or_default().to_string())
    }

    /// Registers (or re-registers: the call is idempotent per id) an instance.
    pub async fn register(&self, reg: &Registration) -> anyhow::Result<()> {
        let meta = reg.meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = AgentServiceRegistration {
            id: &reg.id,
            name: &reg.name,
            address: reg.host.clone(),
            port: reg.port,
            meta,
            check: AgentCheck {
                // `host:port/service`: Consul's syntax for "call grpc.health.v1.Health/Check
                // with this service name". Without `/service` it checks the server-wide
                // `""` status instead, which says nothing about our API.
                grpc: format!("{}:{}/{}", reg.host, reg.port, reg.grpc_service),
                interval: format!("{}ms", reg.check_interval.as_millis()),
                // Shorter than the interval, so one slow check cannot overlap the next.
                timeout: "2s".into(),
                // Consul's reaper runs about once a minute; shorter values act as 1m.
                deregister_critical_service_after: "1m".into(),
            },
        };
        self.http
            .put(format!("{}/v1/agent/service/register", self.base))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Removes an instance. An unknown id (404: Consul already reaped it) is not an
    /// error; any other refusal — a 403 once ACLs are on — is, so it reaches the log.
    pub async fn deregister(&self, id: &str) -> anyhow::Result<()> {
        let resp =
            self.http.put(format!("{}/v1/agent/service/deregister/{id}", self.base)).send().await?;
        if resp.status() != reqwest::StatusCode::NOT_FOUND {
            resp.error_for_status()?;
        }
        Ok(())
    }

    /// Instances of `name` whose every check passes.
    ///
    /// `?passing=true` filters on the server side: critical *and* warning instances are
    /// left out. ✅ DO ask for passing instances only; ❌ DON'T list all registrations and
    /// dial them — a crashed instance stays registered for up to a minute.
    pub async fn healthy_instances(&self, name: &str) -> anyhow::Result<Vec<Instance>> {
        let entries: Vec<HealthEntry> = self
            .http
            .get(format!("{}/v1/health/service/{name}?passing=true", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            // An empty service address means "same as the node" in Consul's model.
            let host =
                if e.service.address.is_empty() { e.node.address } else { e.service.address };
            out.push(Instance {
                id: e.service.id,
                address: format!("{host}:{}", e.service.port),
                meta: e.service.meta.unwrap_or_default(),
            });
        }
        // Sorted, so callers and tests see a stable order (Consul's is unspecified);
        // load spreading is the caller's job.
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}
