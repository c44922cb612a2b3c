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

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bookstore_platform::consul::Consul;
use bookstore_stack::{StackState, Supervisor, UpOptions, services};
use tokio::sync::mpsc;

use crate::metrics::{self, Scrape};

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
    /// Resolution is the sample: the first 100 ms tick at which the gateway's counter for
    /// the dead address stopped growing. Usually within the first tick (passive ejection);
    /// later if the ejection's cooldown ran out before Consul dropped the instance.
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
    /// Requests per second over the last second, and the run's totals.
    pub rps: f64,
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
    Ready {
        workers: usize,
    },
    Tick(Tick),
    /// The answer to an action.
    Note(String),
    Failed(String),
}

/// The load generator: `workers` loops of `GET /api/v1/users/me` until `stop`.
///
/// Closed-loop: each worker sends its next request only when the last one answered, so
/// `workers` is the concurrency and the rate is whatever the system sustains. A slow
/// instance therefore lowers the rate instead of piling up requests — enough for this
/// lesson, which is about where calls go, not about the system's capacity.
struct Load {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Latencies (µs) since the last tick, for its p99.
    latencies: Mutex<Vec<u32>>,
    stop: AtomicBool,
}

impl Load {
    fn start(gateway: &str, token: &str, workers: usize) -> Arc<Self> {
        let load = Arc::new(Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latencies: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        // 5 s, above the gateway's 3 s upstream deadline: a stuck upstream shows as
        // the gateway's own 504, which names what happened, not as a client timeout.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a client with a timeout builds");
        let url = format!("http://{gateway}/api/v1/users/me");
        for _ in 0..workers {
            let (load, http, url, auth) =
                (load.clone(), http.clone(), url.clone(), format!("Bearer {token}"));
            tokio::spawn(async move {
                while !load.stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let answer = http.get(&url).header("authorization", &auth).send().await;
                    // The body is not read: the status alone answers "did the call work",
                    // and the latency is to the answer's head, the part every caller waits for.
                    let ok = answer.is_ok_and(|r| r.status().is_success());
                    let counter = if ok { &load.ok } else { &load.failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    load.latencies.lock().expect("not poisoned").push(us);
                }
            });
        }
        load
    }

    /// The p99 of the answers since the last call, which takes them (one tick's worth).
    fn p99_ms(&self) -> Option<f64> {
        let mut v = std::mem::take(&mut *self.latencies.lock().expect("not poisoned"));
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        Some(v[(v.len() * 99 / 100).min(v.len() - 1)] as f64 / 1000.0)
    }
}

/// A kill being timed.
struct KillMark {
    /// When the kill was recorded: just after the SIGKILL and one scrape of the gateway
    /// (a few ms on loopback), so every time in the report is that much early.
    at: Instant,
    /// The instance was restarted: a new process on the same address would look like the
    /// dead one still getting calls, so the timing stops here.
    done: bool,
    /// The load's failures, the gateway's failure total and its calls to the dead address
    /// at `at`: the report shows the differences since then, so a failure that happened
    /// before the kill is never charged to it.
    failed_before: u64,
    resent_before: f64,
    last_sent: f64,
    report: KillReport,
}

/// Counters of one sample, per instance address.
///
/// Kept from one second to the next: the rates in [`InstanceView`] are this sample's
/// counts minus the previous one's, over the time between them.
#[derive(Default)]
struct Counters {
    at: Option<Instant>,
    served: HashMap<String, f64>,
    sent: HashMap<String, f64>,
}

/// Registers and logs in a lab user through the gateway (a new one per run, so the
/// experiment never depends on what an earlier run left).
///
/// No retry: this runs before the load, and a gateway that cannot register a user is
/// a stack that is not up — the error says so.
async fn login(http: &reqwest::Client, gateway: &str) -> anyhow::Result<String> {
    // A random name per run: registering an existing name is a 409, and the
    // experiment must not depend on what an earlier run left in user_db.
    let name = format!("disc{}", rand::random::<u32>());
    let body = serde_json::json!({"username": name, "password": "discovery-35", "email": format!("{name}@lab.example")});
    http.post(format!("http://{gateway}/api/v1/users/register"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    let login = serde_json::json!({"username": name, "password": "discovery-35"});
    let answer: serde_json::Value = http
        .post(format!("http://{gateway}/api/v1/users/login"))
        .json(&login)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("login answered no token"))
}

/// Runs the experiment until `actions` is closed: load from `workers` callers, a `Tick`
/// every second, actions applied as they arrive. Returns the last tick.
pub async fn run(
    targets: DiscoveryTargets,
    workers: usize,
    mut actions: mpsc::UnboundedReceiver<Action>,
    events: mpsc::UnboundedSender<DiscoveryEvent>,
) -> anyhow::Result<Tick> {
    // The sampler's client (scrapes, login): 2 s, because a scrape that takes
    // longer has missed its 100 ms slot many times over and is better skipped.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    // One user and one token for all workers: the token is validated on every call
    // (user-service's ValidateToken), so it costs the same as sixteen users would.
    let token = login(&http, &targets.gateway).await?;
    let load = Load::start(&targets.gateway, &token, workers);
    let _ = events.send(DiscoveryEvent::Ready { workers });
    let consul = Consul::new(&targets.consul);
    let started = Instant::now();
    // The per-second counters of the previous full sample; empty at first, so the
    // first tick shows no rates rather than a rate computed from zero.
    let mut second = Counters::default();
    let mut ok_before = 0;
    let mut kill: Option<KillMark> = None;
    let mut last = Tick::default();
    // The default `MissedTickBehavior::Burst`: a sample that took 300 ms is followed
    // by quick catch-up ticks, so ten ticks still span about a second and the
    // once-a-second figures stay on the clock.
    let mut interval = tokio::time::interval(SAMPLE);
    let mut samples = 0u64;
    let result = loop {
        tokio::select! {
            // `select!` polls its ready branches in random order, so a stream of actions
            // cannot starve the sampler, nor the sampler the actions.
            action = actions.recv() => match action {
                None => break Ok(last),
                // A kill is done here, inline, because its instant and the counters at that
                // instant start the timing; starting an instance waits for Consul's first
                // passing check (a second or two), so it runs beside the sampler.
                Some(Action::Kill(label)) => {
                    // Only the signal is sent (no restart), so `act` returns within a few
                    // milliseconds and the timestamps below are about the kill.
                    let note = act(&targets, &Action::Kill(label.clone())).await;
                    if note.is_ok() {
                        let (sent, resent) = gateway_counts(&http, &targets).await;
                        // The victim's address from the supervisor's record: the key that ties
                        // the gateway's per-instance counter and Consul's entry to this kill.
                        let address = StackState::load(&targets.lab_dir)?
                            .unwrap_or_default()
                            .service(&label)
                            .map(|c| c.address.clone())
                            .unwrap_or_default();
                        kill = Some(KillMark {
                            at: Instant::now(),
                            done: false,
                            failed_before: load.failed.load(Ordering::Relaxed),
                            resent_before: resent,
                            // The gateway's count of calls to the victim at the kill: any
                            // growth after this is a call sent to a dead process.
                            last_sent: sent.get(&address).copied().unwrap_or(0.0),
                            report: KillReport { label, address, ..KillReport::default() },
                        });
                    }
                    let text = note.unwrap_or_else(|e| format!("失败：{e:#}"));
                    let _ = events.send(DiscoveryEvent::Note(text));
                }
                Some(other) => {
                    if let (Action::Restart(label), Some(k)) = (&other, kill.as_mut())
                        && *label == k.report.label
                    {
                        // Marked before the restart has even begun: once it is requested, any
                        // call to that address may be the new process's, not a late one to the
                        // dead process.
                        k.done = true;
                    }
                    // Its own task: a restart or an added instance waits for health and
                    // Consul (seconds), and the sampler must keep its 100 ms pace meanwhile.
                    let (targets, events) = (targets.clone(), events.clone());
                    tokio::spawn(async move {
                        let text = act(&targets, &other).await.unwrap_or_else(|e| format!("失败：{e:#}"));
                        let _ = events.send(DiscoveryEvent::Note(text));
                    });
                }
            },
            _ = interval.tick() => {
                samples += 1;
                // 90 s: Consul's one-minute deregistration floor, with room for its own
                // check and reap timing. After that the last figure (deregistered) is
                // either in or will not come, and sampling drops back to once a second.
                let timing = kill.as_ref().is_some_and(|k| !k.done && k.at.elapsed() < Duration::from_secs(90));
                // Every 100 ms while a kill is being timed, else every second.
                if !timing && !samples.is_multiple_of(10) {
                    continue;
                }
                // Caveat: a failed Consul query becomes an empty list here, and `time_kill`
                // then reads the dead instance as deregistered at that sample. With Consul
                // on loopback this has not been seen, but it is a measurement that can lie.
                let listed = consul.all_instances(&targets.service).await.unwrap_or_default();
                let (sent, resent) = gateway_counts(&http, &targets).await;
                if let Some(k) = kill.as_mut().filter(|k| !k.done) {
                    time_kill(k, &listed, &sent, resent, load.failed.load(Ordering::Relaxed));
                }
                if !samples.is_multiple_of(10) {
                    continue;
                }
                let now = Instant::now();
                // Server side only once a second: it scrapes every instance, and the per-
                // instance rates are per-second figures anyway.
                let served = served_counts(&http, &listed).await;
                let state = StackState::load(&targets.lab_dir).ok().flatten().unwrap_or_default();
                let instances = views(&state, &listed, &second, &served, &sent, now);
                second = Counters { at: Some(now), served, sent };
                let ok = load.ok.load(Ordering::Relaxed);
                last = Tick {
                    elapsed_s: started.elapsed().as_secs_f64(),
                    // Successes since the previous full sample, taken as one second (ten
                    // ticks); a burst of delayed ticks makes one value a little high.
                    rps: (ok - ok_before) as f64,
                    ok,
                    failed: load.failed.load(Ordering::Relaxed),
                    p99_ms: load.p99_ms(),
                    instances,
                    kill: kill.as_ref().map(|k| k.report.clone()),
                };
                ok_before = ok;
                // Nobody listens any more (the screen closed): stop the load.
                if events.send(DiscoveryEvent::Tick(last.clone())).is_err() {
                    break Ok(last);
                }
            }
        }
    };
    // The workers stop after their current request; they hold only `Arc`s, so
    // nothing else has to be joined.
    load.stop.store(true, Ordering::Relaxed);
    result
}

/// Carries out one action through the supervisor; the answer is a line for the screen.
async fn act(targets: &DiscoveryTargets, action: &Action) -> anyhow::Result<String> {
    let mut sup = Supervisor::open(&targets.lab_dir)?;
    // Not attached: an instance started from the TUI belongs to the stack, like the ones
    // `up` started, and outlives the TUI.
    let opts = UpOptions::default();
    Ok(match action {
        Action::Kill(label) => {
            // Only the signal: no deregistration, no drain. Compare `-` (Stop) on another
            // instance: SIGTERM deregisters first and drains, so callers move away while
            // it still serves, and nothing should need a re-send.
            let pid = sup.kill_instance(label)?;
            format!("kill -9 {label}（pid {pid}）：不注销、不排空，像崩溃一样")
        }
        Action::Restart(label) => {
            // Back on the dead instance's recorded port: the callers learn nothing
            // new, Consul's passing check is what lets traffic return.
            let c = sup.restart_instance(label, &opts).await?;
            format!("{label} 已重新启动于 {}，Consul 检查通过后开始接收流量", c.address)
        }
        Action::Add => {
            // A free port nobody was told about: it gets traffic only because it
            // registers in Consul and the gateway's watcher sees it.
            let c = sup.add_instance("user", &opts).await?;
            format!("新实例 {} 启动于 {}（没有任何调用方被告知这个地址）", c.name, c.address)
        }
        Action::Stop(label) => {
            sup.stop_instance(label).await?;
            format!("{label} 已优雅停止（SIGTERM：先从 Consul 注销，再排空）")
        }
    })
}

/// The gateway's discovery counters for user-service: calls sent per instance address, and
/// the total of failed (re-sent) calls.
///
/// Both empty or zero when the gateway has no metrics port or its scrape failed: the
/// report then shows 0 re-sends, which in that case means "not measured", not "none".
async fn gateway_counts(
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
async fn served_counts(
    http: &reqwest::Client,
    listed: &[(bookstore_platform::consul::Instance, String)],
) -> HashMap<String, f64> {
    let scrapes = futures::future::join_all(listed.iter().map(|(i, _)| async move {
        // The metrics port is in the registration's meta, and the host is the
        // instance's own: scraping the address Consul gives is what a Prometheus
        // with Consul service discovery would do.
        let host = i.address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        let port = i.meta.get("metrics_port")?;
        let s = metrics::scrape(http, &format!("{host}:{port}")).await.ok()?;
        // Every method summed: the question is "did this process serve calls", and
        // `/users/me` alone is two methods.
        Some((i.address.clone(), s.sum("grpc_requests_total", &[])))
    }))
    .await;
    scrapes.into_iter().flatten().collect()
}

/// Advances a kill's report with one sample.
///
/// Called on every 100 ms sample until the kill is restarted. Each moment is recorded
/// once, at the first sample that shows it, so its resolution is one sample.
fn time_kill(
    k: &mut KillMark,
    listed: &[(bookstore_platform::consul::Instance, String)],
    sent: &HashMap<String, f64>,
    resent: f64,
    failed: u64,
) {
    let ms = k.at.elapsed().as_millis() as u64;
    let r = &mut k.report;
    // Both cumulative since the kill, recomputed on every sample: the report
    // shows the running total, not the last sample's share.
    r.failed = failed - k.failed_before;
    r.resent = (resent - k.resent_before).max(0.0) as u64;
    // An address missing from this scrape (a failed scrape) means no new call
    // seen, not a counter back at zero: keep the last value.
    let now_sent = sent.get(&r.address).copied().unwrap_or(k.last_sent);
    if now_sent > k.last_sent {
        k.last_sent = now_sent;
        r.last_call_ms = Some(ms);
    }
    let status = listed.iter().find(|(i, _)| i.address == r.address).map(|(_, s)| s.as_str());
    // Not listed at all counts too: a deregistration is also "not passing".
    if r.not_passing_ms.is_none() && status != Some("passing") {
        r.not_passing_ms = Some(ms);
    }
    if r.deregistered_ms.is_none() && status.is_none() {
        r.deregistered_ms = Some(ms);
    }
}

/// The rows of a tick: every instance Consul lists, plus recorded ones it does not.
///
/// Recorded instances that Consul does not list are rows too: a dead instance that has
/// been deregistered must stay visible as "-", or the screen would suggest it never
/// existed.
fn views(
    state: &StackState,
    listed: &[(bookstore_platform::consul::Instance, String)],
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

/// The scripted run of `bookstore-lab lesson day35 --no-tui` (and of the test): make sure
/// there are two instances, load for 3 s, `kill -9` the last one, watch 4 s, restart it,
/// watch 4 s. Prints a line per second and fails if any request of the load failed.
pub async fn script(
    targets: DiscoveryTargets,
    mut print: impl FnMut(String),
) -> anyhow::Result<Tick> {
    let state = StackState::load(&targets.lab_dir)?.unwrap_or_default();
    // The user-service instances the stack recorded before the run: with one, the
    // script adds a second, since killing the only instance is an outage, not a
    // lesson in discovery.
    let users: Vec<String> = state
        .services
        .iter()
        .filter(|c| services::spec(&c.name).is_some_and(|s| s.binary == SERVICE))
        .map(|c| c.name.clone())
        .collect();
    let (atx, arx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    // 16 callers: enough concurrency that both instances have calls in flight at
    // the kill (so there is something to re-send), not so many that the
    // 2-core lab machine measures its own saturation.
    let runner = tokio::spawn(run(targets, 16, arx, etx));
    if users.len() < 2 {
        // Sent before the first tick; the new instance usually passes its first
        // Consul check within a second or two, before the kill at 3 s.
        atx.send(Action::Add)?;
    }
    // The highest-numbered instance: the one added for the lesson, never the
    // only one the rest of the stack was started with.
    let victim = |ticks: &Tick| ticks.instances.last().map(|i| i.label.clone());
    // 3 s of steady load before the kill, 4 s to watch ejection and the health
    // check, 4 s after the restart to see traffic return to the new process.
    let mut plan = vec![(3.0, "kill"), (7.0, "restart"), (11.0, "end")].into_iter().peekable();
    let mut victim_label = None;
    while let Some(e) = erx.recv().await {
        match e {
            DiscoveryEvent::Ready { workers } => {
                print(format!("==> 负载：{workers} 个并发调用方，GET /api/v1/users/me 经网关"))
            }
            DiscoveryEvent::Note(t) => print(t),
            DiscoveryEvent::Failed(m) => anyhow::bail!(m),
            DiscoveryEvent::Tick(t) => {
                print(tick_line(&t));
                if let Some((at, step)) = plan.peek().copied()
                    && t.elapsed_s >= at
                {
                    plan.next();
                    match step {
                        "kill" => {
                            victim_label = victim(&t);
                            if let Some(v) = &victim_label {
                                atx.send(Action::Kill(v.clone()))?;
                            }
                        }
                        "restart" => {
                            if let Some(v) = &victim_label {
                                atx.send(Action::Restart(v.clone()))?;
                            }
                        }
                        // "end": stop reading; `drop(atx)` below closes the actions channel,
                        // which ends `run` and its load.
                        _ => break,
                    }
                }
            }
        }
    }
    drop(atx);
    let last = runner.await??;
    if let Some(k) = &last.kill {
        print(kill_line(k));
    }
    // Zero, not "few": every call of this load is a read that discovery may
    // re-send, so any failure is a bug in the client side, not bad luck.
    anyhow::ensure!(last.failed == 0, "{} requests failed while an instance died", last.failed);
    Ok(last)
}

/// `t=5s 1234 req/s 失败 0 p99 3.1ms | user passing 610/s | user-2 critical -`
///
/// The instance columns are the *served* rates: the instances' own count is the
/// evidence that traffic moved, not the gateway's claim about where it sent it.
pub fn tick_line(t: &Tick) -> String {
    let mut line = format!(
        "t={:>4.1}s {:>6.0} 请求/秒 · 失败 {} · p99 {}",
        t.elapsed_s,
        t.rps,
        t.failed,
        t.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms"))
    );
    for i in &t.instances {
        // `-` for an instance that could not be scraped: dead, or not yet up.
        line.push_str(&format!(
            " | {} {} {}",
            i.label,
            i.consul,
            i.served_qps.map_or("-".into(), |q| format!("{q:.0}/s"))
        ));
    }
    line
}

/// The kill's figures as one line.
///
/// The three moments in the order they happen — last call, not passing, deregistered —
/// so the line itself reads as the lesson's timeline; `尚未` for one not reached yet.
pub fn kill_line(k: &KillReport) -> String {
    let ms = |v: Option<u64>| v.map_or("尚未".into(), |v| format!("+{v}ms"));
    format!(
        "kill -9 {}：负载失败 {} 次 · 网关重发 {} 次 · 网关最后一次发给它 {} · Consul 判定非 passing {} · 注销 {}",
        k.label,
        k.failed,
        k.resent,
        ms(k.last_call_ms),
        ms(k.not_passing_ms),
        ms(k.deregistered_ms)
    )
}

/// The `{{measured:KEY}}` keys a discovery run fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 8] = [
    "rps",
    "ok",
    "failed",
    "p99_ms",
    "instances",
    "kill_failed",
    "kill_not_passing_ms",
    "kill_deregistered_ms",
];

// From the run's last tick: the totals are the run's, and the kill figures describe the
// last `kill -9` (the one the lesson asks about); `-` before any kill.
/// The discovery run's figures.
pub fn figures(tick: &Tick) -> Vec<(&'static str, String)> {
    let dash = || "-".to_string();
    let kill = tick.kill.as_ref();
    let ms = |v: Option<u64>| v.map_or_else(dash, |v| v.to_string());
    let values = [
        format!("{:.0}", tick.rps),
        tick.ok.to_string(),
        tick.failed.to_string(),
        tick.p99_ms.map_or_else(dash, |p| format!("{p:.1}")),
        tick.instances.len().to_string(),
        // The lesson's claim is that this is 0: retries on another instance hide the crash.
        kill.map_or_else(dash, |k| k.failed.to_string()),
        ms(kill.and_then(|k| k.not_passing_ms)),
        ms(kill.and_then(|k| k.deregistered_ms)),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
