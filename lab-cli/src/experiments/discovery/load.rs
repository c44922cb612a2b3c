//! The load generator of the experiment and the lab user it calls as.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// The load generator: `workers` loops of `GET /api/v1/users/me` until `stop`.
///
/// Closed-loop: each worker sends its next request only when the last one answered, so
/// `workers` is the concurrency and the rate is whatever the system sustains. A slow
/// instance therefore lowers the rate instead of piling up requests — enough for this
/// lesson, which is about where calls go, not about the system's capacity.
pub(super) struct Load {
    /// Answers with a 2xx, counted as they arrive: the run's total of served requests.
    pub(super) ok: AtomicU64,
    /// Everything else — a 5xx, a 4xx or no answer within the 5 s timeout: each one a
    /// failure the learner's customer would have seen, i.e. one discovery did not hide.
    pub(super) failed: AtomicU64,
    /// Latencies (µs) since the last tick, for its p99: failures included, unlike the
    /// flash sale's p99 of successes, because here a failure is the customer's wait too.
    latencies: Mutex<Vec<u32>>,
    /// Set once, when `run` ends; a worker checks it before each request, so the load
    /// stops within one request (at most the 5 s timeout).
    pub(super) stop: AtomicBool,
}

impl Load {
    /// Spawns `workers` detached workers that call the gateway as `token` until `stop` is
    /// set, and returns at once, before any request has answered.
    pub(super) fn start(gateway: &str, token: &str, workers: usize) -> Arc<Self> {
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
        // One token for every worker (see `run`), its header built once per worker outside
        // the loop: what a worker times should be the call, nothing of the lab's own.
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
                    // A transport error (refused, reset, timed out) counts as failed too: for
                    // the customer there is no difference between a 503 and no answer.
                    let counter = if ok { &load.ok } else { &load.failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                    // Failures' latencies too: a failure that waited the 5 s timeout belongs
                    // in the tail. µs in a `u32` caps at ~71 minutes, far past the timeout.
                    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    load.latencies.lock().expect("not poisoned").push(us);
                }
            });
        }
        load
    }

    /// The p99 of the answers since the last call, which takes them (one tick's worth).
    ///
    /// Called once per full sample by the sampler alone: a second caller would take some
    /// of the answers, and each p99 would then describe only part of the second.
    pub(super) fn p99_ms(&self) -> Option<f64> {
        let mut v = std::mem::take(&mut *self.latencies.lock().expect("not poisoned"));
        if v.is_empty() {
            return None;
        }
        // Nearest rank over one second of answers: at ~1000 answers a second this is the
        // tenth-slowest; with fewer than 100 it is the slowest, the honest reading.
        v.sort_unstable();
        Some(v[(v.len() * 99 / 100).min(v.len() - 1)] as f64 / 1000.0)
    }
}

/// Registers and logs in a lab user through the gateway (a new one per run, so the
/// experiment never depends on what an earlier run left).
///
/// No retry: this runs before the load, and a gateway that cannot register a user is
/// a stack that is not up — the error says so.
pub(super) async fn login(http: &reqwest::Client, gateway: &str) -> anyhow::Result<String> {
    // A random name per run: registering an existing name is a 409, and the
    // experiment must not depend on what an earlier run left in user_db.
    let name = format!("disc{}", rand::random::<u32>());
    let body = serde_json::json!({"username": name, "password": "discovery-35", "email": format!("{name}@lab.example")});
    http.post(format!("http://{gateway}/api/v1/users/register"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    // Login right after registering, over the same gateway: the token is a real JWT from
    // user-service, so every load request pays for a real ValidateToken.
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
