//! # bookstore-loadgen — the one load engine
//!
//! Every experiment in the TUI and every `bookstore-lab bench …` drives load through this
//! crate, so a number on the screen and a number in a bench report mean the same thing.
//! It knows nothing about books or gRPC: a run is "call this async operation from N
//! workers until a deadline or an operation budget", and each call reports an [`Outcome`].
//!
//! - [`run`]: start the workers, publish a live [`Snapshot`] every 250 ms, return a [`Summary`].
//! - [`Snapshot`] / [`Summary`]: counts, TPS (overall and per second), latency percentiles.
//! - [`report`]: a table of named rows with ratios to a baseline, rendered as text or JSON,
//!   and [`report::median`] for the "median of several runs" rule.
//!
//! What it is not: a UI. The TUI *observes* snapshots through a `watch` channel; it never
//! runs the load loop itself (no god loop mixing load, layout and input — STYLE.md).
//!
//! Measuring honestly, the rules this engine follows:
//! - latency is measured around the operation only, in microseconds, with an HDR
//!   histogram (exact percentiles, not averages — an average hides the slow tail that
//!   users feel);
//! - each worker records into its own histogram, merged when a snapshot is taken, so the
//!   measuring does not become the bottleneck (a single shared lock would serialise the
//!   workers and cap the TPS we claim to measure);
//! - closed-loop load: each worker waits for its answer before sending the next request, so
//!   TPS is what the system sustains at that concurrency, not what we pushed at it.

pub mod report;

use std::{
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

/// What one operation achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked (a sale, a page served).
    Success,
    /// A correct refusal: out of stock, not found. Counted apart from failures, because
    /// "sold out" is the *right* answer once stock is gone.
    Rejected,
    /// An error: timeout, transport failure, internal error.
    Failed,
}

/// How much load to generate.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent workers (each a closed loop: send, wait, send again).
    pub concurrency: usize,
    /// Stop after this long (`None`: only the operation budget limits the run).
    pub duration: Option<Duration>,
    /// Stop after this many operations in total (`None`: only the duration limits it).
    pub max_ops: Option<u64>,
}

impl LoadConfig {
    /// `concurrency` workers for `duration`.
    pub fn timed(concurrency: usize, duration: Duration) -> Self {
        Self { concurrency, duration: Some(duration), max_ops: None }
    }

    /// `concurrency` workers until `ops` operations have been started.
    pub fn counted(concurrency: usize, ops: u64) -> Self {
        Self { concurrency, duration: None, max_ops: Some(ops) }
    }
}

/// The state of a run at one instant.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub successes: u64,
    pub rejections: u64,
    pub failures: u64,
    /// Completed operations per second, one entry per whole second so far (for sparklines).
    pub tps_series: Vec<u64>,
    /// Latency percentiles so far, microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// True in the last snapshot of a run.
    pub done: bool,
}

impl Snapshot {
    pub fn completed(&self) -> u64 {
        self.successes + self.rejections + self.failures
    }

    /// Completed operations per second over the whole run so far.
    pub fn tps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.completed() as f64 / secs } else { 0.0 }
    }
}

/// The final numbers of a run.
pub type Summary = Snapshot;

struct Shared {
    started: Instant,
    next_op: AtomicU64,
    successes: AtomicU64,
    rejections: AtomicU64,
    failures: AtomicU64,
    /// Completions per elapsed second (lock-free: one atomic slot per second).
    per_second: Vec<AtomicU64>,
    histograms: Vec<Mutex<Histogram<u64>>>,
    stop: AtomicBool,
}

impl Shared {
    fn snapshot(&self, done: bool) -> Snapshot {
        let mut merged = Histogram::<u64>::new(3).expect("3 significant figures is valid");
        for h in &self.histograms {
            let h = h.lock().expect("histogram lock poisoned");
            merged.add(&*h).expect("histograms share bounds");
        }
        let elapsed = self.started.elapsed();
        // The current, unfinished second would read low; show whole seconds only, except
        // in the final snapshot, which shows the last partial second too.
        let seconds = elapsed.as_secs() as usize + usize::from(done && elapsed.subsec_nanos() > 0);
        let series = self.per_second[..seconds.min(self.per_second.len())]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Snapshot {
            elapsed,
            successes: self.successes.load(Ordering::Relaxed),
            rejections: self.rejections.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            tps_series: series,
            p50_us: merged.value_at_quantile(0.50),
            p99_us: merged.value_at_quantile(0.99),
            max_us: merged.max(),
            done,
        }
    }

    fn record(&self, worker: usize, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Success => &self.successes,
            Outcome::Rejected => &self.rejections,
            Outcome::Failed => &self.failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let us = latency.as_micros().min(u64::MAX as u128) as u64;
        let _ = self.histograms[worker].lock().expect("histogram lock poisoned").record(us.max(1));
        let second = self.started.elapsed().as_secs() as usize;
        if let Some(slot) = self.per_second.get(second) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `op` from `cfg.concurrency` workers. `op` receives a unique, increasing operation
/// index (use it for distinct order ids or to pick a key). Live snapshots go to `progress`
/// every 250 ms if given; the final [`Summary`] is returned (and sent, with `done`).
pub async fn run<F, Fut>(
    cfg: LoadConfig,
    op: F,
    progress: Option<watch::Sender<Snapshot>>,
) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let workers = cfg.concurrency.max(1);
    let shared = Arc::new(Shared {
        started: Instant::now(),
        next_op: AtomicU64::new(0),
        successes: AtomicU64::new(0),
        rejections: AtomicU64::new(0),
        failures: AtomicU64::new(0),
        // One slot per second of the run (an hour when only an operation budget is set).
        per_second: (0..cfg.duration.map_or(3600, |d| d.as_secs() as usize + 2))
            .map(|_| AtomicU64::new(0))
            .collect(),
        histograms: (0..workers)
            .map(|_| Mutex::new(Histogram::new(3).expect("valid sigfig")))
            .collect(),
        stop: AtomicBool::new(false),
    });
    let op = Arc::new(op);
    let deadline = cfg.duration.map(|d| shared.started + d);

    let mut handles = Vec::with_capacity(workers);
    for worker in 0..workers {
        let shared = shared.clone();
        let op = op.clone();
        let max_ops = cfg.max_ops;
        handles.push(tokio::spawn(async move {
            loop {
                if shared.stop.load(Ordering::Relaxed)
                    || deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                let index = shared.next_op.fetch_add(1, Ordering::Relaxed);
                if max_ops.is_some_and(|m| index >= m) {
                    break;
                }
                let t0 = Instant::now();
                let outcome = op(index).await;
                shared.record(worker, outcome, t0.elapsed());
            }
        }));
    }

    let reporter = progress.clone().map(|tx| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = tx.send(shared.snapshot(false));
            }
        })
    });

    for h in handles {
        let _ = h.await;
    }
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        let _ = r.await;
    }
    let summary = shared.snapshot(true);
    if let Some(tx) = progress {
        let _ = tx.send(summary.clone());
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation budget is exact: N operations are run, no more, no fewer, and each
    /// outcome lands in its own counter.
    #[tokio::test]
    async fn counted_runs_execute_exactly_the_budget() {
        let s = run(
            LoadConfig::counted(8, 1000),
            |i| async move {
                match i % 10 {
                    0 => Outcome::Failed,
                    1 | 2 => Outcome::Rejected,
                    _ => Outcome::Success,
                }
            },
            None,
        )
        .await;
        assert_eq!(s.completed(), 1000);
        assert_eq!(s.failures, 100);
        assert_eq!(s.rejections, 200);
        assert_eq!(s.successes, 700);
        assert!(s.done);
    }

    /// Latency percentiles come from what the operation really took.
    #[tokio::test]
    async fn percentiles_reflect_operation_latency() {
        let s = run(
            LoadConfig::counted(4, 40),
            |_| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Outcome::Success
            },
            None,
        )
        .await;
        assert!(s.p50_us >= 5_000, "p50 {} µs", s.p50_us);
        assert!(s.p99_us >= s.p50_us);
    }

    /// Progress subscribers receive the final snapshot, marked done.
    #[tokio::test]
    async fn progress_ends_with_a_done_snapshot() {
        let (tx, rx) = watch::channel(Snapshot::default());
        let s = run(LoadConfig::counted(2, 10), |_| async { Outcome::Success }, Some(tx)).await;
        let last = rx.borrow().clone();
        assert!(last.done);
        assert_eq!(last.completed(), s.completed());
    }
}
