//! The sale's loop: the shoppers, the faults and the board together, once a second.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::{
    Counts, FaultRecord, FlashEvent, FlashParams, FlashTargets, Phase, Summary, Tick,
    board::{Board, Row, Verdict},
    faults::{self, Fault},
    killable,
    shopper::{Outcome, Shopper, Tally},
};

/// A fault being timed.
/// `began` is a monotonic `Instant`, not `at_s`: recovery is compared with the `sent`
/// instants of [`super::shopper::Attempt`], on the same clock.
struct Timed {
    /// What every tick and the summary show of the fault: `note` and `restored_ms` are
    /// filled by `fault_done`, `recovered_ms` and `failed_answers` by `time_faults`.
    record: FaultRecord,
    began: Instant,
}

/// The catch-up's limit: longer than the board's grace, so a difference that never
/// resolves turns red before the run gives up on it.
const CATCH_UP: Duration = Duration::from_secs(45);

/// Runs sale `run` until every shopper is done (or `faults` is closed: the learner left),
/// then waits for catch-up. Faults arrive on `faults` while it runs.
///
/// Fails only in set-up (publishing the book, building the board or the HTTP client).
/// Once the doors are open, a store that stops answering (on the board) or a fault whose
/// action fails (in the notes) is shown, never returned as an error: the sale runs to
/// its summary, because the seconds after a failure are what the learner came to see.
pub async fn run(
    run: u64,
    targets: FlashTargets,
    params: FlashParams,
    mut faults: mpsc::UnboundedReceiver<Fault>,
    events: mpsc::UnboundedSender<FlashEvent>,
) -> anyhow::Result<Summary> {
    let (mut sale, mut done_rx) = Sale::open(run, targets, params, events).await?;
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    // A sample blocked by a paused MariaDB (up to its 4 s deadline) must not be followed
    // by a burst of catch-up ticks: each tick is "one second of the sale", or nothing.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut faults_open = true;
    loop {
        tokio::select! {
            // `if faults_open`: once the channel is closed, `recv` would return `None`
            // at once on every loop turn; disabling the arm keeps the loop waiting on
            // the ticks instead of spinning.
            f = faults.recv(), if faults_open => match f {
                Some(fault) => sale.inject(fault),
                // The learner left (or the script ended): the shoppers stop between steps.
                None => {
                    faults_open = false;
                    sale.stop.store(true, Ordering::Relaxed);
                }
            },
            // `done_tx` is held by `sale`, so the channel never closes and the pattern
            // always matches: a `None` never silently disables this arm.
            Some((idx, result)) = done_rx.recv() => sale.fault_done(idx, result),
            // Once a second: read the stores, judge, time the faults, report. The sample is
            // taken here, in the loop, not on a task of its own, so a tick's board and its
            // counts describe the same moment.
            _ = interval.tick() => {
                if let Some(summary) = sale.tick().await {
                    return Ok(summary);
                }
            }
        }
        // A closed event channel means nobody watches any more: stop the shoppers; the run
        // still ends through catch-up, so no fault is left half-done (MariaDB frozen).
        // Checked after every event of the loop (a tick, a fault, a report), so the
        // shoppers learn within a second that the screen is gone.
        if sale.events.is_closed() {
            sale.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Spawns the sale's shoppers over the ramp and returns the instant the doors opened.
///
/// Needs the book published and the board built: the first shopper may send its first
/// request within half a second of the returned instant. Returns without waiting for any
/// of them; each shopper sleeps its `arrives_after` first, and all of them watch `stop`.
fn open_doors(
    targets: &FlashTargets,
    params: FlashParams,
    book: u64,
    tally: &Arc<Tally>,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Instant> {
    // One HTTP client for all shoppers (its pool keeps a connection per concurrent
    // request); 5 s per request, above the gateway's own 3 s upstream deadline, so the
    // gateway's 504 arrives before our timeout and says what happened.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    // The sale's clock starts here, after set-up: "t=3 s" means three seconds after the
    // doors opened, whatever the book's publishing cost.
    let started = Instant::now();
    // At least 1 s: with a 0 s ramp every shopper would start at t = 0, the burst
    // the ramp exists to avoid.
    let ramp = f64::from(params.ramp_secs.max(1));
    for n in 0..params.shoppers {
        let s = Shopper {
            http: http.clone(),
            base: format!("http://{}", targets.gateway),
            book,
            // Every k-th shopper (k-1, 2k-1, …), not a random one: each run has the same
            // share of abandoners, spread evenly over the ramp.
            abandons: params.abandon_one_in > 0
                && n % params.abandon_one_in == params.abandon_one_in - 1,
            // Evenly spread arrivals with a little jitter: a steady stream, not 60 at t=0.
            arrives_after: Duration::from_secs_f64(
                (f64::from(n) * ramp / f64::from(params.shoppers) + rand::random_range(0.0..0.5))
                    .min(ramp),
            ),
            // Two seconds past the last arrival: the last shopper still gets a retry
            // round if its first try was refused.
            sale_ends: started + Duration::from_secs_f64(ramp + 2.0),
        };
        // Not joined by the loop: the run ends when `finished` reaches `shoppers`, so a
        // shopper stuck in a request cannot hold the board's ticks. Watched instead, so a
        // panic still counts as finished and the sale can end.
        let visit = tokio::spawn(s.visit(tally.clone(), stop.clone()));
        tokio::spawn(watch_shopper(visit, tally.clone()));
    }
    Ok(started)
}

/// Waits for one shopper's task and, if it panicked or was aborted, counts it with
/// [`Tally::crash`]. ❌ DON'T detach a task whose completion a count waits for: its panic
/// would leave `finished` one short and the sale "selling" for good.
///
/// A watcher task per shopper, not a `JoinSet` in `Sale`: dropping a set aborts its tasks,
/// so a run that ended would cut shoppers off mid-request, the unknown outcome `stop`
/// exists to avoid. The watcher costs one small task and holds nothing but the handle.
async fn watch_shopper(visit: tokio::task::JoinHandle<()>, tally: Arc<Tally>) {
    // `Err` is a panic or an abort; `Ok` means `visit` returned and counted itself.
    if let Err(e) = visit.await {
        tally.crash(&e);
    }
}

/// Each fault's index into `Sale::timed` and its action's result, back from its task.
type FaultResults = mpsc::UnboundedReceiver<(usize, anyhow::Result<faults::Done>)>;

/// The loop's state between events: what the sale is, and what it has measured so far.
struct Sale {
    /// Tags every event, so a screen can drop the late events of a sale it already left.
    run: u64,
    /// Where the stack is: the gateway for the shoppers, the stores' URLs for the board,
    /// the lab directory and MariaDB's URL for the faults' actions.
    targets: FlashTargets,
    /// The sale as asked for (stock, shoppers, ramp, abandon rate): copied into the
    /// summary unchanged, so a report always says which sale it describes.
    params: FlashParams,
    /// The fresh book every order of this sale is about (see `open`).
    book: u64,
    /// The auditor: owned by the loop alone, because its memory of first sightings is
    /// what ages a difference (see `board::judge`).
    board: Board,
    /// What the shoppers count, read here once a tick.
    tally: Arc<Tally>,
    /// The loop's one signal to the shoppers (see `open`).
    stop: Arc<AtomicBool>,
    /// When the doors opened: the zero of every `t=` the learner reads.
    started: Instant,
    /// Sends never fail the sale: a screen that went away only means nobody watches, and
    /// the loop notices it through `is_closed`.
    events: mpsc::UnboundedSender<FlashEvent>,
    /// Cloned into each fault's task, which sends its result back on it.
    done_tx: mpsc::UnboundedSender<(usize, anyhow::Result<faults::Done>)>,
    /// Every fault of the sale in arrival order; a fault's index here is its identity, so
    /// entries are only ever pushed, never removed or reordered.
    timed: Vec<Timed>,
    /// Faults still acting; catch-up may not begin while one is.
    running_faults: usize,
    /// Only ever moves forward, Selling → CatchingUp → Done (see `advance_phase`); every
    /// tick carries it, so the screen knows when the shoppers' figures stop changing.
    phase: Phase,
    /// When catch-up began: [`CATCH_UP`] is counted from here, not from the sale's start,
    /// so a long sale does not eat into the time the stores get to agree.
    catch_up_began: Option<Instant>,
    /// Successes counted at the previous tick: the difference is this tick's rps.
    ok_before: usize,
}

impl Sale {
    /// Publishes the sale's book, sets up the board and opens the doors; the receiver
    /// brings back each fault's result.
    async fn open(
        run: u64,
        targets: FlashTargets,
        params: FlashParams,
        events: mpsc::UnboundedSender<FlashEvent>,
    ) -> anyhow::Result<(Self, FaultResults)> {
        // The book is published (with its stock in inventory) over gRPC by the lab's admin:
        // set-up, not the sale.
        // A fresh book per sale scopes every invariant: only this run's orders touch it, so
        // "sold = the paid orders' quantities" is exact, whatever else the stack is doing.
        let book =
            crate::experiments::orders::fresh_book(&targets.user, &targets.catalog, params.stock)
                .await?;
        // Sent before the board and the shoppers exist: the screen can show the book
        // and the kill menu while the first shoppers are still in their arrival delay.
        let _ = events.send(FlashEvent::Ready { run, book, params, instances: killable(&targets) });
        // Before any shopper starts, so the first tick can already judge; the pool connects
        // lazily, so a stack with a slow MariaDB does not delay the sale's start.
        let board = Board::new(&targets.mysql_url, &targets.redis_url, book, params.stock)?;

        // Shared with every shopper: the shoppers write, this loop reads once a second. `stop`
        // is the only thing this loop tells them, and they check it between steps, never in
        // the middle of a request (a request cut off half-way would be an unknown outcome the
        // lab itself created).
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let started = open_doors(&targets, params, book, &tally, &stop)?;

        // Each fault runs on a task of its own and reports back here: a MariaDB pause lasts
        // seconds and a restart waits for `up`, and the board must keep ticking through both —
        // the seconds a fault lasts are exactly the ones the learner wants to watch.
        let (done_tx, done_rx) = mpsc::unbounded_channel::<(usize, anyhow::Result<faults::Done>)>();
        let sale = Sale {
            run,
            targets,
            params,
            book,
            board,
            tally,
            stop,
            started,
            events,
            done_tx,
            timed: Vec::new(),
            running_faults: 0,
            phase: Phase::Selling,
            catch_up_began: None,
            ok_before: 0,
        };
        Ok((sale, done_rx))
    }

    /// Starts timing `fault` and spawns its action.
    ///
    /// Returns at once, so the loop keeps ticking while the action runs; the action's
    /// result comes back through `done_tx` and ends in `fault_done` with the same index.
    fn inject(&mut self, fault: Fault) {
        let record = FaultRecord {
            label: fault.label(),
            at_s: self.started.elapsed().as_secs_f64(),
            route: fault.route(),
            note: None,
            restored_ms: None,
            recovered_ms: None,
            failed_answers: 0,
        };
        // The clock starts when the lab receives the fault, before the action
        // is spawned: a SIGKILL takes effect at once, so every request from
        // here on may meet it.
        self.timed.push(Timed { record, began: Instant::now() });
        self.running_faults += 1;
        // The index into `timed` travels with the task and comes back with its
        // result: faults may finish out of order (a kill outlasts a pause).
        let (idx, tx, dir, mysql) = (
            self.timed.len() - 1,
            self.done_tx.clone(),
            self.targets.lab_dir.clone(),
            self.targets.mysql_url.clone(),
        );
        tokio::spawn(async move {
            // The action on a task of its own, joined here: a panic in it comes back as a
            // failed action, so `running_faults` still returns to 0 and the sale can end.
            let action = tokio::spawn(async move { faults::inject(&dir, &mysql, &fault).await });
            // The join error's text carries the panic's message: the note then names it.
            let result = action.await.unwrap_or_else(|e| Err(anyhow::anyhow!("task crashed: {e}")));
            let _ = tx.send((idx, result));
        });
    }

    /// Records the end of fault `idx`'s action and tells the screen.
    ///
    /// Each spawned action reports exactly once, a panicked one as an error (see
    /// `inject`), so `running_faults` is back at 0 only when every action has ended.
    fn fault_done(&mut self, idx: usize, result: anyhow::Result<faults::Done>) {
        self.running_faults -= 1;
        let t = &mut self.timed[idx];
        let note = match result {
            Ok(d) => {
                t.record.restored_ms = Some((d.restored - t.began).as_millis() as u64);
                d.note
            }
            // A failed action keeps `restored_ms` at `None`: the summary shows "-",
            // never a time for an action that did not happen.
            Err(e) => format!("{}：失败：{e:#}", t.record.label),
        };
        t.record.note = Some(note.clone());
        let _ = self.events.send(FlashEvent::Note { run: self.run, text: note });
    }

    /// One second of the sale: sample, judge, time the faults, report; the summary once
    /// catch-up is over.
    ///
    /// Sends one `Tick` event per call, and `Finished` after the last. A call lasts as
    /// long as its sample: well under a second with healthy stores, seconds while one is
    /// paused (the interval then skips the ticks it missed).
    async fn tick(&mut self) -> Option<Summary> {
        let ids = order_ids(&self.tally);
        // While the sample waits on a paused MariaDB (up to 2 s for Redis plus
        // 4 s for MariaDB), fault arrivals and fault reports simply queue.
        let sample = self.board.sample(&ids).await;
        // Judged at once: a difference's age comes from `Instant::now()` inside
        // `judge`, so the grace is wall-clock time, not a count of ticks.
        let rows = self.board.judge(&sample);
        let (ok_now, p99_ms) = progress(&self.tally);
        let rps = (ok_now - self.ok_before) as f64;
        self.ok_before = ok_now;
        // After the sample, so a recovery seen in the log is on the same tick as
        // the board that shows whether it broke anything.
        time_faults(&self.tally, &mut self.timed);
        let counts = counts(&self.tally, self.params.shoppers);
        self.advance_phase(&counts, &rows);
        let tick = Tick {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            phase: self.phase,
            counts,
            rps,
            p99_ms,
            board: rows,
            faults: self.timed.iter().map(|t| t.record.clone()).collect(),
            // Redis's figures (the system of record), the ones the screen shows
            // beside the board.
            stock: sample.redis.map(|c| (c.avail, c.locked, c.sold)),
        };
        let _ = self.events.send(FlashEvent::Tick { run: self.run, tick: Box::new(tick.clone()) });
        if self.phase != Phase::Done {
            return None;
        }
        // `ever_broken` too: a red that turned green is still a broken
        // promise, and the verdict must not pass a sale that only healed.
        let held =
            tick.board.iter().all(|r| r.verdict == Verdict::Holds && r.ever_broken.is_none());
        // The order counts come from this last sample, after catch-up (or its
        // limit): order_db's statuses once the relay and the sweeper caught up.
        let summary = Summary {
            book: self.book,
            params: self.params,
            orders: sample.order_counts(),
            last: tick,
            held,
        };
        let _ = self
            .events
            .send(FlashEvent::Finished { run: self.run, summary: Box::new(summary.clone()) });
        Some(summary)
    }

    /// Selling → catching up → done, judged from this tick's counts and board.
    fn advance_phase(&mut self, counts: &Counts, rows: &[Row]) {
        // Catch-up starts when no shopper and no fault is still at work: a fault
        // in progress (MariaDB frozen) would make "every store agrees" premature.
        if self.phase == Phase::Selling
            && counts.finished >= counts.shoppers
            && self.running_faults == 0
        {
            self.phase = Phase::CatchingUp;
            self.catch_up_began = Some(Instant::now());
        }
        // Catch-up ends when every check holds — the moment "eventually consistent"
        // has arrived — or after CATCH_UP, when a difference that never resolved has
        // long turned red. Ending at the last shopper instead would report the
        // confirms and syncer writes still in flight as failures.
        // Holds on every row: an Unknown row (a store not answering) is not
        // settled, so catch-up waits for the stores to answer again.
        // Only the step into catch-up looks at `running_faults`: a fault injected during
        // catch-up (from the TUI) does not move the phase back, and catch-up may end while
        // it still acts, if every row happens to hold.
        let settled = rows.iter().all(|r| r.verdict == Verdict::Holds);
        if self.phase == Phase::CatchingUp
            && (settled || self.catch_up_began.is_some_and(|t| t.elapsed() > CATCH_UP))
        {
            self.phase = Phase::Done;
        }
    }
}

/// Order ids the shoppers were given: added to the board's query, so an order that never
/// reached inventory is still checked against its payments.
///
/// Without them, an order whose LockStock never committed would be missing from every
/// inventory table — and so from the board — exactly when a fault made it interesting.
fn order_ids(tally: &Tally) -> Vec<u64> {
    tally.orders.lock().expect("not poisoned").clone()
}

/// Successful answers so far, and the p99 of the last second's successes.
///
/// The count re-reads the whole log (a few thousand entries per run; cheap once a
/// second). The latencies are *taken*, so each p99 covers one tick's successes only:
/// a slow second during a fault is not averaged away by the calm seconds before it.
fn progress(tally: &Tally) -> (usize, Option<f64>) {
    // Counted from the log, not from a counter of its own: the log is what the fault
    // timing reads too, so rps and recoveries can never disagree about what succeeded.
    let ok =
        tally.log.lock().expect("not poisoned").iter().filter(|a| a.outcome == Outcome::Ok).count();
    let mut v = std::mem::take(&mut *tally.latencies.lock().expect("not poisoned"));
    if v.is_empty() {
        return (ok, None);
    }
    // Nearest rank: with fewer than 100 successes in a second this is the slowest one,
    // which is the honest reading of "p99" for so few samples.
    v.sort_unstable();
    (ok, Some(f64::from(v[(v.len() * 99 / 100).min(v.len() - 1)]) / 1000.0))
}

/// Fills in each fault's recovery: the first answer on its route (a success, or a correct
/// "sold out") among requests sent after it began, and the errors on that route until then.
///
/// Only requests *sent* after the fault count: a request already in flight that
/// succeeded just after the SIGKILL would report a recovery before the fault had
/// touched anything. The answer's own time is used, not its send time, because the
/// shopper learns of the recovery only when the answer arrives. A "sold out" counts as
/// recovered: the service is up and deciding. Once a recovery is found it is frozen;
/// until then the failed count is recomputed from the log on every tick.
fn time_faults(tally: &Tally, timed: &mut [Timed]) {
    // Held for the whole pass: the shoppers' `record` waits on it for these few thousand
    // comparisons, a microsecond-scale pause once a second.
    let log = tally.log.lock().expect("not poisoned");
    for t in timed.iter_mut().filter(|t| t.record.recovered_ms.is_none()) {
        let mut failed = 0;
        // Caveat for the relay fault: `began` is when the lab received the fault,
        // and the kill waits (up to 10 s) for an undelivered outbox row; a poll
        // that finds an order Paid — possibly delivered before the kill — can then
        // end its timing early. Read its recovery as "Paid seen again", not as "the
        // new process delivered".
        for a in log.iter().filter(|a| a.route == t.record.route && a.sent >= t.began) {
            if a.outcome != Outcome::Error {
                t.record.recovered_ms = Some((a.done - t.began).as_millis() as u64);
                break;
            }
            failed += 1;
        }
        t.record.failed_answers = failed;
    }
}

/// A snapshot of the shared counters for one tick (see [`Counts`] on consistency).
fn counts(tally: &Tally, shoppers: u32) -> Counts {
    // Relaxed loads, like the shoppers' adds: no count is used to decide what another
    // one means, so no ordering between them is needed (see `Tally`).
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    Counts {
        shoppers: u64::from(shoppers),
        logged_in: n(&tally.logged_in),
        placed: n(&tally.placed),
        refused: n(&tally.refused),
        abandoned: n(&tally.abandoned),
        paid: n(&tally.paid),
        retries: n(&tally.retries),
        replayed: n(&tally.replayed),
        gave_up: n(&tally.gave_up),
        finished: n(&tally.finished),
        crashed: n(&tally.crashed),
        last_error: tally.last_error.lock().expect("not poisoned").clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shopper task that panics is counted as finished and as crashed, with the panic's
    /// message: without that, catch-up (which waits for `finished == shoppers`) never
    /// begins and the sale stays "selling" until the learner leaves.
    #[tokio::test]
    async fn a_panicked_shopper_is_finished_and_reported() {
        let tally = Arc::new(Tally::default());
        // A real task panicking on the runtime, as a bug in a checkout step would.
        // The default panic hook prints this panic to the test's stderr: expected output.
        let visit = tokio::spawn(async { panic!("step exploded") });
        // Awaited here, not spawned: the watcher itself is the code under test.
        watch_shopper(visit, tally.clone()).await;
        // One shopper in the sale: `finished == shoppers` is what lets catch-up begin.
        let c = counts(&tally, 1);
        assert_eq!((c.finished, c.crashed), (1, 1));
        let why = c.last_error.clone().unwrap_or_default();
        assert!(why.contains("crashed") && why.contains("step exploded"), "{why}");
        // And the end-of-run report names it, so the summary is not read as a clean run.
        // A final tick with no board and no faults: only the counts matter to this line,
        // and `held: true` shows the crash is reported even on a sale that held.
        let last = Tick {
            elapsed_s: 1.0,
            phase: Phase::Done,
            counts: c,
            rps: 0.0,
            p99_ms: None,
            board: Vec::new(),
            faults: Vec::new(),
            stock: None,
        };
        let params = FlashParams::default();
        let summary = Summary { book: 1, params, last, orders: (0, 0, 0), held: true };
        let lines = super::super::summary_lines(&summary);
        assert!(lines.iter().any(|l| l.contains("1 个顾客任务崩溃")), "{lines:#?}");
    }
}
