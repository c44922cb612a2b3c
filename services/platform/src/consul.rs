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
//! What it is NOT: a full Consul client (no KV, no ACL tokens, no sessions). The HTTP API
//! needs four endpoints here, and plain `reqwest` + `serde` shows exactly what goes over
//! the wire — which is the lesson. (The `consulrs`/`rs-consul` crates wrap the same calls
//! but hide the `X-Consul-Index` handshake that Day 35 is about.) A production service
//! would also pass an ACL token (`X-Consul-Token`).

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
    /// Always with a scheme and without a trailing slash (see `new`), so every path is
    /// appended as `{base}/v1/…`.
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
    /// How often Consul checks. The course uses 10 s; the lab uses 1 s so a killed
    /// instance visibly drops out within seconds.
    pub check_interval: Duration,
    /// How long one check may take before it counts as failed (the course: 3 s). Keep it
    /// below the interval, so a slow check cannot overlap the next one.
    pub check_timeout: Duration,
    /// How long an instance may stay critical before Consul removes its registration — the
    /// clean-up for an instance that died without deregistering. Consul's reaper runs about
    /// every 30 s and treats anything under a minute as one minute.
    pub deregister_after: Duration,
}

/// Check timings, from [`crate::CommonSettings`]: what a learner turns to see how fast a
/// dead instance leaves the passing list (Day 35).
impl Registration {
    /// The worst case before Consul stops listing a killed instance: one full interval
    /// until the next check starts, plus that check's timeout (a refused connection fails
    /// at once, so usually it is just the interval).
    pub fn worst_detection(&self) -> Duration {
        self.check_interval + self.check_timeout
    }
}

/// A passing instance, as Consul's health endpoint lists it. Clients pick one per call
/// (round-robin or random); caching the list for a few seconds is fine, caching it forever
/// defeats the point of discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The registration id (`name-host-port-pid`, see `run::serve`): unique per process,
    /// and the sort key that gives callers a stable order.
    pub id: String,
    /// `host:port`, ready to dial.
    pub address: String,
    /// The registration's metadata; the dashboard reads `metrics_port` from it. A BTreeMap
    /// so two answers with the same metadata compare equal (`Instance: Eq`).
    pub meta: std::collections::BTreeMap<String, String>,
}

// The wire types below mirror Consul's JSON (PascalCase, `ID`, `GRPC`): private, so the
// rest of the code deals in our types and only this file knows Consul's spelling.
/// The body of `PUT /v1/agent/service/register`.
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
    /// This and the two below are Go duration strings (`1000ms`, `60s`), the format
    /// Consul's API documents for them.
    interval: String,
    timeout: String,
    deregister_critical_service_after: String,
}

/// One element of `GET /v1/health/service/{name}`: the node, the service, its checks.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthEntry {
    node: HealthNode,
    service: HealthService,
    /// No checks decode as none, which `all_instances` reports as passing.
    #[serde(default)]
    checks: Vec<HealthCheck>,
}

/// An entry of the agent's own `/v1/agent/services` map.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AgentService {
    service: String,
    address: String,
    port: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthCheck {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthNode {
    /// Used when the service registered no address of its own (see `From<HealthEntry>`).
    address: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HealthService {
    #[serde(rename = "ID")]
    id: String,
    address: String,
    port: u16,
    /// `Option`: Consul is written in Go, where a map never set is sent as `null`, which
    /// would not decode into a plain map; null and absent both mean no metadata.
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
        // An answer without the field gives `""`, which the version test reports with the
        // value it got, rather than a decoding error that hides what the agent said.
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
            // lesson:register-check:start
            check: AgentCheck {
                // `host:port/service`: Consul's syntax for "call grpc.health.v1.Health/Check
                // with this service name". Without `/service` it checks the server-wide
                // `""` status instead, which says nothing about our API.
                grpc: format!("{}:{}/{}", reg.host, reg.port, reg.grpc_service),
                interval: format!("{}ms", reg.check_interval.as_millis()),
                timeout: format!("{}ms", reg.check_timeout.as_millis()),
                deregister_critical_service_after: format!("{}s", reg.deregister_after.as_secs()),
            },
            // lesson:register-check:end
        };
        self.http
            .put(format!("{}/v1/agent/service/register", self.base))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Removes the registrations of `reg.name` at `reg.host:reg.port` other than `reg.id`:
    /// predecessors on this address that died without deregistering (kill -9, a crash).
    ///
    /// Why it matters with per-process ids: Consul's health check of the dead predecessor
    /// dials the same `host:port` — and reaches *us*. Its entry turns passing again, Consul
    /// lists this address twice, and every client sends this instance a double share (and,
    /// when it dies, tries the same dead address twice). We hold the port, so any other
    /// entry for it is certainly stale. Returns how many were removed.
    pub async fn deregister_predecessors(&self, reg: &Registration) -> anyhow::Result<usize> {
        let services: std::collections::BTreeMap<String, AgentService> = self
            .http
            .get(format!("{}/v1/agent/services", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut removed = 0;
        for (id, s) in services {
            if s.service == reg.name && s.address == reg.host && s.port == reg.port && id != reg.id
            {
                // `?` stops at the first refusal: the remaining stale entries are left to
                // Consul's reaper, and the caller logs the error.
                self.deregister(&id).await?;
                removed += 1;
            }
        }
        Ok(removed)
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

    /// Instances of `name` whose every check passes (one plain read, no waiting).
    ///
    /// `?passing=true` filters on the server side: critical *and* warning instances are
    /// left out. ✅ DO ask for passing instances only; ❌ DON'T list all registrations and
    /// dial them — a crashed instance stays registered for up to a minute.
    pub async fn healthy_instances(&self, name: &str) -> anyhow::Result<Vec<Instance>> {
        Ok(self.watch_passing(name, 0, Duration::ZERO).await?.instances)
    }

    /// A *blocking query* for the passing instances of `name`: Consul holds the request
    /// until the list changes past `index` or `wait` runs out, then answers the list and
    /// its new index (the `X-Consul-Index` header).
    ///
    /// Why block instead of polling every second: a poll costs a request per client per
    /// second even when nothing changes, and still learns of a change up to a second late;
    /// a blocking query costs one request per change (or per `wait`) and returns the moment
    /// the change is committed. `index = 0` asks for the current list at once.
    /// The caller must sanity-check the returned index (see [`crate::discovery`]): Consul
    /// documents that it can go backwards (a server restarted, a snapshot restored).
    pub async fn watch_passing(
        &self,
        name: &str,
        index: u64,
        wait: Duration,
    ) -> anyhow::Result<Watched> {
        let mut req = self.http.get(format!("{}/v1/health/service/{name}", self.base));
        req = req.query(&[("passing", "true")]);
        if index > 0 {
            // Consul adds up to wait/16 of jitter, so the client timeout must exceed the
            // wait with room to spare, or every quiet period would end in a timeout error.
            req = req
                .query(&[("index", index.to_string()), ("wait", format!("{}ms", wait.as_millis()))])
                .timeout(wait + wait / 8 + Duration::from_secs(5));
        }
        // Without an index the request does not block, so the client's 10 s timeout from
        // `new` is the only bound, far above an agent's usual few-millisecond answer.
        let resp = req.send().await?.error_for_status()?;
        let index = resp
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let entries: Vec<HealthEntry> = resp.json().await?;
        let mut instances: Vec<Instance> = entries.into_iter().map(Instance::from).collect();
        // Sorted, so callers and tests see a stable order (Consul's is unspecified);
        // load spreading is the caller's job.
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Watched { instances, index })
    }

    /// Every registered instance of `name` with its aggregated check status — passing,
    /// warning *and* critical: what the dashboard shows, so a killed instance is seen going
    /// critical before Consul reaps it. (Clients must never dial from this list.)
    pub async fn all_instances(&self, name: &str) -> anyhow::Result<Vec<(Instance, String)>> {
        let entries: Vec<HealthEntry> = self
            .http
            .get(format!("{}/v1/health/service/{name}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let mut out: Vec<(Instance, String)> = entries
            .into_iter()
            .map(|e| {
                // The worst check wins, as Consul itself aggregates: one critical check
                // (ours, or the node's serfHealth) makes the instance critical.
                let status = ["critical", "warning", "passing"]
                    .into_iter()
                    .find(|s| e.checks.iter().any(|c| c.status == *s))
                    .unwrap_or("passing")
                    .to_string();
                (Instance::from(e), status)
            })
            .collect();
        out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        Ok(out)
    }
}

/// One answer of [`Consul::watch_passing`].
#[derive(Clone, Debug)]
pub struct Watched {
    pub instances: Vec<Instance>,
    /// Consul's `X-Consul-Index` for this answer: pass it to the next call to wait for a change.
    pub index: u64,
}

impl From<HealthEntry> for Instance {
    fn from(e: HealthEntry) -> Self {
        // An empty service address means "same as the node" in Consul's model.
        let host = if e.service.address.is_empty() { e.node.address } else { e.service.address };
        Instance {
            id: e.service.id,
            address: format!("{host}:{}", e.service.port),
            meta: e.service.meta.unwrap_or_default(),
        }
    }
}
