//! Day 35 — discovery under fire: steady load through the gateway onto several
//! user-service instances, and a `kill -9` of one of them while the learner watches.
//!
//! Every figure is read from a real process, none is computed from assumptions:
//! - requests ok/failed and p99: the load generator's own HTTP answers (`GET
//!   /api/v1/users/me`, which costs the gateway a ValidateToken and a GetUser — both reads,
//!   so discovery may re-send them);
//! - per-instance QPS, server side: each instance's `grpc_requests_total` from its own
//!   `/metrics` (its address and metrics port come from Consul);
//! - per-instance QPS, client side, and re-sends: the gateway's `upstream_requests_total`
//!   and `upstream_failures_total` (written by `platform::discovery` per instance);
//! - Consul's verdict: `/v1/health/service/user-service`, all instances with their status.
//!
//! After a kill the sampler runs every 100 ms and notes three moments relative to the
//! kill: the gateway's last call to the dead instance (passive ejection), Consul's first
//! non-passing verdict (the health check), and — about a minute later — the registration
//! disappearing (`DeregisterCriticalServiceAfter`).
//!
//! The runner owns the actions (kill, restart, add, stop) so that the kill's timestamp and
//! the counters' values at that instant are taken in the same place that measures after it.
//!
//! Files: `load` is the load generator and its lab user, `runner` the loop that samples
//! and carries out the learner's actions (and times a kill), `instances` the per-instance
//! counters read from the gateway, the instances and Consul, `script` the plain mode's
//! scripted kill, and `report` the lines and figures. This file holds the shapes.

mod instances;
mod load;
mod report;
mod runner;
mod script;

use std::{path::PathBuf, time::Duration};

use bookstore_stack::StackState;

pub use self::{
    report::{FIGURE_KEYS, figures, kill_line, tick_line},
    runner::run,
    script::script,
};

/// The binary whose instances the experiment balances over and kills.
///
/// user-service because `/users/me` needs it twice per request (ValidateToken, GetUser),
/// both reads the gateway's discovery may re-send to another instance, and because
/// `up --replicas user=2` is the course's way to have more than one.
const SERVICE: &str = "user-service";
/// Sampling period: fine enough to time an ejection to ~100 ms.
///
/// Only while a kill is timed: otherwise every tenth tick does the work, one per second.
/// A scrape of the gateway and a Consul query per 100 ms is light on loopback, and
/// coarser sampling would round passive ejection (milliseconds) up to a full second.
const SAMPLE: Duration = Duration::from_millis(100);

/// Where the experiment finds the stack (re-read from `stack.json` when it starts).
#[derive(Clone, Debug)]
pub struct DiscoveryTargets {
    pub lab_dir: PathBuf,
    /// `host:port` of the gateway's HTTP API: the load's only entrance, as a browser's.
    pub gateway: String,
    /// The gateway's `/metrics` (`host:port`): where its per-instance call counters are.
    /// `None` leaves the client-side column at `-` and the re-send count at 0.
    pub gateway_metrics: Option<String>,
    /// Consul's HTTP API (`host:port`), asked for every instance and its health.
    pub consul: String,
    /// user-service's name in this stack's Consul (see `StackState::consul_name`).
    pub service: String,
}

impl DiscoveryTargets {
    /// The gateway and Consul as recorded by the supervisor; both must be running.
    pub fn from_lab(lab_dir: &std::path::Path) -> anyhow::Result<Self> {
        let state = StackState::load(lab_dir)?.unwrap_or_default();
        let gateway = state.service("gateway").ok_or_else(|| {
            anyhow::anyhow!("the gateway is not running (start the stack with `bookstore-lab up`)")
        })?;
        anyhow::ensure!(
            // With static addresses the gateway dials one fixed instance: killing it is a
            // plain outage, and the lesson's point (calls move elsewhere) cannot be shown.
            !state.static_addrs,
            "this stack was started with --static-addrs: the gateway does not use Consul \
             (run `bookstore-lab down` and `bookstore-lab up --replicas user=2`)"
        );
        Ok(Self {
            lab_dir: lab_dir.to_path_buf(),
            gateway: gateway.address.clone(),
            gateway_metrics: gateway.metrics.clone(),
            consul: state.consul_addr()?.to_string(),
            service: state.consul_name(SERVICE),
        })
    }
}

/// What the learner can do while the load runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `kill -9` the instance with this supervisor name (`user-2`).
    Kill(String),
    /// Start a killed instance again on its port.
    /// Through the supervisor, which gives a dead instance back its recorded port; the
    /// new process registers with Consul again under a new id.
    Restart(String),
    /// Start one more instance on a free port.
    /// The lesson's counterpart to the kill: no caller is told the address, yet calls
    /// reach it once Consul passes its check — discovery, not configuration.
    Add,
    /// Stop an instance gracefully (SIGTERM: it deregisters first).
    Stop(String),
}

/// One instance as the last sample saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceView {
    /// The supervisor's name (`user`, `user-2`), or `user@<port>` for one started by hand.
    pub label: String,
    /// The instance's gRPC `host:port`: the key every count is matched by, because Consul
    /// ids change on a restart and supervisor names do not exist for hand-started ones.
    pub address: String,
    /// Consul's verdict (`passing`, `critical`), or `-` when Consul no longer lists it.
    pub consul: String,
    /// Calls per second the instance *served* (its own `/metrics`); `None` when it could not
    /// be scraped (dead).
    /// Both rates are differences of counters over the real time between two samples, not
    /// an assumed second, so a slow scrape does not inflate them.
    pub served_qps: Option<f64>,
    /// Calls per second the gateway *sent* it (the gateway's `/metrics`).
    /// Compared with `served_qps`, it shows who decides where calls go: the gateway stops
    /// sending to a dead instance before Consul says anything.
    pub sent_qps: Option<f64>,
}

/// What happened after the last kill, in milliseconds after it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KillReport {
    /// The killed instance's supervisor name.
    pub label: String,
    pub address: String,
    /// Requests of the load that failed since the kill (the goal: 0).
    /// Each one is a request the gateway's discovery did not save by a re-send: the
    /// lesson's one number that must stay at zero.
    pub failed: u64,
    /// Calls the gateway's discovery saw fail on the dead instance and re-sent elsewhere.
    /// Counted from the gateway's `upstream_failures_total` (all user-service instances):
    /// for these reads each failure is followed by one re-send on another instance.
    pub resent: u64,
    /// The gateway's last call to the dead instance.
    ///
    /// Resolution is the sample: the last 100 ms sample at which the gateway's counter for
    /// the dead address had grown since the one before, so the call went out up to one
    /// sample earlier. `None` when no sample after the kill saw it grow (the gateway sent
    /// it nothing more). Usually the first sample (passive ejection); later if the
    /// ejection's cooldown ran out before Consul dropped the instance.
    pub last_call_ms: Option<u64>,
    /// Consul's first verdict other than `passing`.
    /// The health check's view: one check interval (1 s in the lab) after the kill, at
    /// most. Compare with `last_call_ms` to see the client act before the registry.
    pub not_passing_ms: Option<u64>,
    /// Consul forgot the registration entirely.
    /// Consul's `DeregisterCriticalServiceAfter`, whose floor is one minute: this is the
    /// number that shows why nobody should wait for the registry to notice a crash.
    pub deregistered_ms: Option<u64>,
}

/// One second of the experiment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tick {
    /// Seconds since the load started.
    pub elapsed_s: f64,
    /// *Successful* requests in the last second (ten samples taken as one second): a
    /// failure lowers it instead of counting in it.
    pub rps: f64,
    /// The run's totals of answered and failed requests; they only grow, so a failure
    /// stays on screen for the rest of the run.
    pub ok: u64,
    pub failed: u64,
    /// Over every answer of the last second, failures included: a failure that took the
    /// client's 5 s timeout must show in the tail, not be filtered out of it.
    pub p99_ms: Option<f64>,
    /// Every instance Consul lists plus every recorded one it does not (see `views`).
    pub instances: Vec<InstanceView>,
    /// The last kill's figures, frozen when it is restarted.
    pub kill: Option<KillReport>,
}

/// Events of one run, in the usual experiment shape.
#[derive(Clone, Debug, PartialEq)]
pub enum DiscoveryEvent {
    /// The load runs (the lab user is logged in); `workers` concurrent callers.
    Ready { workers: usize },
    /// Once a second (every tenth sample), also while a kill is timed every 100 ms: the
    /// screen redraws at the rate a person reads, the kill box carries the fine timings.
    Tick(Tick),
    /// The answer to an action.
    Note(String),
    /// The run failed (no gateway, login refused, an unreadable stack record at a kill);
    /// sent by the TUI's task from `run`'s error, after the last tick.
    Failed(String),
}
