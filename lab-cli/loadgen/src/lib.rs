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
//!
//! - no warm-up phase is discarded: the first second includes connecting, pool filling
//!   and cold caches, and `tps_series` shows it. A bench that cares runs an unmeasured
//!   pass first and throws its summary away — the catalog bench's fill before a warm row
//!   — or relies on the median over rounds (a production load tool would have a flag).
//!
//! ## Closed loop and coordinated omission
//!
//! There are two ways to generate load. *Open loop*: requests arrive on a schedule (say
//! 1000/s) whether or not earlier ones have finished — like real users, who do not wait for
//! each other. *Closed loop*: N workers, each sending its next request only after the
//! previous answer — like a connection pool, or our race experiments' "N buyers".
//!
//! A closed loop has a blind spot known as **coordinated omission** (Gil Tene's term):
//! when the server stalls for 1 s, each worker is stuck in one slow request and simply
//! does not send the requests it "would have" sent during that second. The histogram
//! gets N slow samples instead of the ~1000 that real users would have suffered, so p99
//! looks far better than what an open-loop arrival rate would experience.
//!
//! We choose closed loop anyway, on purpose: the course's questions are "how many sales
//! per second does each strategy sustain at N concurrent buyers?" and "does it oversell?"
//! — both closed-loop questions — and a closed loop can never overload the 2-core lab
//! machine into measuring its own queueing. So read our p99 as *service time under N
//! concurrent callers*, not as the latency users would see at a given arrival rate.
//! ✅ DO say which of the two a latency figure is; ❌ DON'T compare a closed-loop p99
//! with an open-loop SLO. (An open-loop mode would measure latency from each request's
//! *scheduled* start time — wrk2's approach — and is a possible extension.)

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

/// What one operation achieved. Three outcomes, not a `bool`: the race experiments must
/// tell "correctly sold out" from "broke", or a strategy that fails every request under
/// contention would look as good as one that sells exactly the stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked (a sale, a page served).
    Success,
    /// A correct refusal: out of stock, not found. Counted apart from failures, because
    /// "sold out" is the *right* answer once stock is gone.
    Rejected,
    /// An error: timeout, transport failure, internal error. Counted, never retried here:
    /// a retry inside the load loop would hide the failure rate and add load nobody
    /// asked for. Whether to retry is a question for the operation (the client code).
    Failed,
}

/// How much load to generate.
///
/// Two stopping rules because the experiments ask two kinds of question: "how fast?" is a
/// timed run (TPS over a fixed window), "does 500 buyers for 100 books oversell?" is a
/// counted run (an exact number of attempts, so the stock arithmetic can be checked).
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent workers (each a closed loop: send, wait, send again). This, not a request
    /// rate, is the load knob — see the crate docs on closed loops. 0 is treated as 1.
    pub concurrency: usize,
    /// Stop after this long (`None`: only the operation budget limits the run).
    pub duration: Option<Duration>,
    /// Stop after this many operations in total (`None`: only the duration limits it).
    /// Counted as operations *started*: with both limits set, whichever comes first ends
    /// the run, and every started operation is finished and counted.
    pub max_ops: Option<u64>,
}

impl LoadConfig {
    /// `concurrency` workers for `duration`: the shape of a throughput bench.
    pub fn timed(concurrency: usize, duration: Duration) -> Self {
        Self { concurrency, duration: Some(duration), max_ops: None }
    }

    /// `concurrency` workers until `ops` operations have been started: the shape of a
    /// correctness experiment (exactly `ops` buy attempts).
    pub fn counted(concurrency: usize, ops: u64) -> Self {
        Self { concurrency, duration: None, max_ops: Some(ops) }
    }
}

/// The state of a run at one instant. `Serialize` so the same struct feeds the TUI, the
/// JSON bench reports and tests — one definition of each number.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Time since the run started (monotonic clock).
    pub elapsed: Duration,
    /// Outcome counts so far; see [`Outcome`] for why there are three.
    pub successes: u64,
    pub rejections: u64,
    pub failures: u64,
    /// Completed operations per second, one entry per whole second so far (for sparklines).
    pub tps_series: Vec<u64>,
    /// Latency percentiles so far, microseconds. p50 is the typical call, p99 the slow
    /// tail (1 call in 100), max the single worst — often one outlier (a GC pause, a
    /// scheduler hiccup on the shared machine), so never judge a run by max alone.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// True in the last snapshot of a run. Consumers must wait for it before treating
    /// numbers as final: earlier snapshots leave out the last, unfinished second.
    pub done: bool,
}

impl Snapshot {
    /// Every finished operation, whatever its outcome (rejections are real work too).
    pub fn completed(&self) -> u64 {
        self.successes + self.rejections + self.failures
    }

    /// Completed operations per second over the whole run so far. `elapsed` includes the
    /// tail after a deadline while in-flight operations finish, so numerator and
    /// denominator cover the same window.
    pub fn tps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.completed() as f64 / secs } else { 0.0 }
    }
}

/// The final numbers of a run: the last snapshot, with `done` set.
pub type Summary = Snapshot;

/// What the workers, the reporter and `run` share. Counters are atomics with `Relaxed`
/// ordering: each is an independent tally, nothing else is published through them, so
/// no stronger ordering is needed — and a snapshot that is a few operations behind is
/// fine for a live display (the final snapshot is taken after every worker has joined,
/// and joining a task makes all of its writes visible).
struct Shared {
    /// `Instant`, the monotonic clock: wall-clock time (`SystemTime`) can jump when NTP
    /// corrects it, and a latency or TPS computed across a jump would be nonsense.
    started: Instant,
    /// The next operation index; `fetch_add` hands each index to exactly one worker, which
    /// is what makes a counted run exact and gives operations unique ids.
    next_op: AtomicU64,
    successes: AtomicU64,
    rejections: AtomicU64,
    failures: AtomicU64,
    /// Completions per elapsed second (lock-free: one atomic slot per second).
    per_second: Vec<AtomicU64>,
    /// One histogram per worker. Each lock is taken by its own worker on every record and
    /// by the reporter four times a second, so it is practically never contended — unlike
    /// one shared histogram, whose lock every worker would queue on.
    /// ✅ DO keep per-thread (per-worker) state and merge on read;
    /// ❌ DON'T share a hot lock between load workers: the measurement becomes the
    /// bottleneck, and the TPS you report is your lock's, not the server's.
    /// (A std `Mutex`, not tokio's: it is never held across an `.await`.)
    histograms: Vec<Mutex<Histogram<u64>>>,
    /// Set once all workers have finished; tells the reporter to stop.
    stop: AtomicBool,
}

impl Shared {
    /// A fresh run's state: zero counts, one histogram per worker, the clock started now.
    fn new(cfg: &LoadConfig, workers: usize) -> Self {
        Self {
            started: Instant::now(),
            next_op: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            // One slot per second of the run (an hour when only an operation budget is set).
            // Preallocated so `record` never resizes a shared vector (which would need a lock);
            // a counted run longer than an hour keeps its totals but stops growing the series.
            // `+ 2` for a timed run: one slot for the second the deadline falls in, one for
            // the operations in flight at the deadline that finish in the next; a completion
            // later still keeps its counts and latency but is left out of the series.
            per_second: (0..cfg.duration.map_or(3600, |d| d.as_secs() as usize + 2))
                .map(|_| AtomicU64::new(0))
                .collect(),
            histograms: (0..workers)
                .map(|_| Mutex::new(Histogram::new(3).expect("valid sigfig")))
                .collect(),
            stop: AtomicBool::new(false),
        }
    }

    /// Merges the workers' histograms into a fresh one and reads the counters. HDR
    /// histograms merge exactly (bucket counts add up), so merged percentiles are the
    /// same as if one histogram had recorded everything — averaging per-worker p99s would
    /// not be (percentiles do not average).
    fn snapshot(&self, done: bool) -> Snapshot {
        // Each worker's lock is held only for its own `add`, one after the other: a
        // snapshot never stops all workers at once, so taking it does not dent the TPS.
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

    /// Records one finished operation: its outcome counter, its latency in the worker's
    /// own histogram, and one completion in the current second's slot.
    fn record(&self, worker: usize, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Success => &self.successes,
            Outcome::Rejected => &self.rejections,
            Outcome::Failed => &self.failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // Microseconds: loopback RPCs take 100 µs – 10 ms, so milliseconds would round
        // most of them to 0 or 1. HDR with 3 significant figures keeps every value
        // within 0.1 %, in under ~100 KB per histogram for this range. A sub-microsecond
        // operation (a no-op baseline) is recorded as 1 µs, the resolution we measure at,
        // so a p50 never reads 0 — which would look like a broken timer.
        // (`as_micros` is u128; clamp before the cast so an absurd value saturates instead
        // of wrapping around to a tiny latency.)
        let us = latency.as_micros().min(u64::MAX as u128) as u64;
        let _ = self.histograms[worker].lock().expect("histogram lock poisoned").record(us.max(1));
        // Bucketed by completion time: the series shows when work *finished*, which is
        // what a throughput graph means.
        let second = self.started.elapsed().as_secs() as usize;
        if let Some(slot) = self.per_second.get(second) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `op` from `cfg.concurrency` workers. `op` receives a unique, increasing operation
/// index (use it for distinct order ids or to pick a key). Live snapshots go to `progress`
/// every 250 ms if given; the final [`Summary`] is returned (and sent, with `done`).
///
/// `op` is `Fn`, not `FnMut`: all workers call the same closure concurrently, so any
/// state it needs must be shared explicitly (an `Arc`'d client, an atomic). A gRPC client
/// clone per call is the usual pattern — tonic clients are cheap handles over one channel.
///
/// `op` must never block its thread: the workers are tasks on the caller's runtime, and in
/// the lab that runtime also runs the in-process services being measured, so a blocking
/// `op` would slow the very server whose latency it reports.
///
/// A `watch` channel for progress because the TUI only ever wants the *latest* snapshot:
/// a slow reader skips stale ones instead of building a queue, and a sender never blocks
/// the load loop (unlike a bounded `mpsc`, which would let a slow screen slow the run).
///
/// # Example
///
/// A counted run of 100 operations from 4 workers, the shape of every race experiment
/// (a real `op` would call inventory-service and map its answer to an [`Outcome`]):
///
/// ```
/// use bookstore_loadgen::{LoadConfig, Outcome, run};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let summary = run(LoadConfig::counted(4, 100), |_index| async { Outcome::Success }, None).await;
/// assert_eq!(summary.completed(), 100);
/// assert!(summary.done);
/// # }
/// ```
pub async fn run<F, Fut>(
    cfg: LoadConfig,
    op: F,
    progress: Option<watch::Sender<Snapshot>>,
) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    // At least one worker: a run with 0 workers would "finish" at once with 0 TPS and look
    // like a broken server rather than a typo in a flag.
    let workers = cfg.concurrency.max(1);
    let shared = Arc::new(Shared::new(&cfg, workers));
    // One `Arc` around the closure, cloned into each worker task (tasks must be 'static).
    let op = Arc::new(op);
    let deadline = cfg.duration.map(|d| shared.started + d);

    let handles: Vec<_> = (0..workers)
        .map(|worker| spawn_worker(worker, shared.clone(), op.clone(), deadline, cfg.max_ops))
        .collect();
    let reporter = progress.clone().map(|tx| spawn_reporter(shared.clone(), tx));

    // A worker that panicked ends its loop early; its join error is dropped here, so the
    // run completes with fewer workers (the shortfall shows in a counted run's total).
    for h in handles {
        let _ = h.await;
    }
    // Stop the reporter and wait for it, so no stale "not done" snapshot can arrive after
    // the final one below (a `watch` keeps only the last value — it must be the summary).
    shared.stop.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        let _ = r.await;
    }
    // Caveat: `snapshot` reads the clock now, so with a reporter the final `elapsed`
    // also holds the wait for its next tick (up to 250 ms) and the TPS reads slightly
    // low — up to 5 % on a 5 s run. The benches pass no reporter and are unaffected;
    // the TUI's live runs are, in their TPS only (counts and percentiles are exact).
    let summary = shared.snapshot(true);
    if let Some(tx) = progress {
        let _ = tx.send(summary.clone());
    }
    summary
}

/// One worker: a closed loop of `op` until the deadline, the operation budget or `stop`.
///
/// `deadline` is computed once by [`run`] from the shared start, so every worker stops
/// starting operations at the same instant; `max_ops` is compared with the index the worker
/// drew, not with completions, which is what makes a counted run start exactly that many.
///
/// One tokio task per worker, not one OS thread: thousands of workers cost a few KB each,
/// and they spend their time awaiting I/O anyway.
fn spawn_worker<F, Fut>(
    worker: usize,
    shared: Arc<Shared>,
    op: Arc<F>,
    deadline: Option<Instant>,
    max_ops: Option<u64>,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            // The deadline is checked before *starting* an operation; one in flight at
            // the deadline is allowed to finish and is counted (cutting it off would
            // bias the sample towards fast operations).
            if shared.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            let index = shared.next_op.fetch_add(1, Ordering::Relaxed);
            if max_ops.is_some_and(|m| index >= m) {
                break;
            }
            // The timer brackets exactly the operation: the bookkeeping before and after
            // is not part of the latency we report.
            let t0 = Instant::now();
            let outcome = op(index).await;
            shared.record(worker, outcome, t0.elapsed());
        }
    })
}

/// The progress reporter: a live snapshot into `tx` every 250 ms until the run stops.
fn spawn_reporter(shared: Arc<Shared>, tx: watch::Sender<Snapshot>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // 4 updates a second: smooth enough for a live sparkline, rare enough that
        // merging the histograms costs nothing measurable. (The first tick fires at
        // once, so the screen shows a zero snapshot as soon as the run starts.)
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            // `send` fails only when every receiver is gone (the screen was closed);
            // the run goes on regardless — the caller still gets its summary.
            let _ = tx.send(shared.snapshot(false));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation budget is exact: N operations are run, no more, no fewer, and each
    /// outcome lands in its own counter. The race experiments depend on this: "500
    /// attempts for 100 books" must be 500 attempts, or the oversell arithmetic is off.
    /// Eight workers racing on `next_op` make an off-by-one at the budget edge visible.
    #[tokio::test]
    async fn counted_runs_execute_exactly_the_budget() {
        let s = run(
            LoadConfig::counted(8, 1000),
            // Outcomes derived from the index, so the expected counts are known exactly.
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

    /// Latency percentiles come from what the operation really took: a 5 ms sleep can never
    /// be reported faster than 5 ms (catching a unit mix-up, ms vs µs, or a timer that
    /// stops before the `.await`). Only lower bounds are asserted — timed tests on a
    /// shared machine must not assert upper bounds, which would flake under load.
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
        // 5 ms = 5 000 µs: the unit the snapshot promises.
        assert!(s.p50_us >= 5_000, "p50 {} µs", s.p50_us);
        assert!(s.p99_us >= s.p50_us);
    }

    /// Progress subscribers receive the final snapshot, marked done, with the same counts as
    /// the returned summary: the TUI's last frame and the report must agree.
    #[tokio::test]
    async fn progress_ends_with_a_done_snapshot() {
        let (tx, rx) = watch::channel(Snapshot::default());
        let s = run(LoadConfig::counted(2, 10), |_| async { Outcome::Success }, Some(tx)).await;
        // `borrow` reads the latest value only — which is the point of `watch`: whatever
        // the subscriber missed in between, the last thing it sees is the final summary.
        let last = rx.borrow().clone();
        assert!(last.done);
        assert_eq!(last.completed(), s.completed());
    }
}
