//! Week 6's capstone — a flash sale through the whole system while the learner breaks it,
//! and a board of invariants that must stay green.
//!
//! ```text
//!  shoppers ×N   register → login → POST /orders (Idempotency-Key) → POST …/payments → poll
//!                └─ over the gateway, arriving over a ramp, retrying as a real client must
//!  faults        kill -9 a service · stop Redis · SIGSTOP MariaDB · kill the outbox relay
//!  board (1 s)   six invariants read from Redis and the three MariaDB databases
//!  end           shoppers done → catch-up (every store agrees) → summary and verdict
//! ```
//!
//! Module map: [`shopper`] (one client's visit and its retry policy), [`faults`] (the real
//! actions on real processes), [`board`] (the invariants and how lag differs from loss),
//! [`checklist`] (the course's completion criteria against the stack and the benches);
//! this file runs them together and measures each fault's recovery.
//!
//! ## What a fault's numbers mean
//!
//! - **restored**: the lab's action was over (the process back up, MariaDB thawed).
//! - **recovered**: the first *answer* (a success, or a correct "sold out") of the route the fault hits (CreateOrder for most,
//!   CreatePayment for payment-service, "order turned Paid" for the relay) among requests
//!   sent after the fault began. It includes the retries' backoff: a client that waits
//!   1.6 s between tries sees the service back up to 1.6 s late — the price of not
//!   hammering a recovering service.
//! - **failed answers**: requests on that route that came back as errors meanwhile. They
//!   are not lost orders: each was retried with its key, and the board says whether any
//!   promise broke. A fault that shows failed answers and a green board is the point of
//!   the week: failures are normal, broken invariants are not.
//!
//! The summary's verdict needs two things: no check was ever red during the run, and after
//! catch-up every check holds — "eventually" has to arrive.

pub mod board;
pub mod checklist;
pub mod faults;
pub mod shopper;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use bookstore_stack::{StackState, services};
use tokio::sync::mpsc;

use self::{
    board::{Board, Row, Verdict},
    faults::Fault,
    shopper::{Outcome, Route, Shopper, Tally},
};

/// The knobs of one sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashParams {
    /// Simulated shoppers, each its own registered user.
    /// Each registers its own user, as real shoppers are: order-service scopes idempotency
    /// keys per user (`UNIQUE (user_id, idempotency_key)`), and each order has its own owner.
    pub shoppers: u32,
    /// Units of the sale's book: far fewer than shoppers.
    /// The gap between the two is the lesson: with three shoppers per unit, most checkouts
    /// end in a 409 "sold out", and the board must show that every refusal left the
    /// counters whole — a sale where everyone gets a unit never tests the no-oversell check.
    pub stock: u32,
    /// Shoppers arrive spread over this many seconds.
    /// A ramp, not a burst: faults injected a few seconds in still meet shoppers
    /// mid-checkout, and the first seconds are not all argon2 hashing at the user service.
    pub ramp_secs: u32,
    /// One shopper in this many leaves its order unpaid (0: nobody).
    /// Abandoned orders keep their unit locked: they are what the "no orphan lock" row and
    /// Redis's `locked` counter are checked against. The lab's payment window is 120 s
    /// (`BOOKSTORE_PAYMENT_WINDOW_SECS`), longer than a default sale, so they are usually
    /// still Pending at the end, and `locked` must equal their quantity.
    pub abandon_one_in: u32,
}

// 60 shoppers for 20 units, over 20 s: the sale sells out while faults can still meet
// checkouts in flight, and registering 60 users (two argon2 hashes each) takes seconds,
// not minutes, on 2 cores.
impl Default for FlashParams {
    fn default() -> Self {
        Self { shoppers: 60, stock: 20, ramp_secs: 20, abandon_one_in: 8 }
    }
}

impl FlashParams {
    /// `顾客 60 · 库存 20 · 20 秒内到达`, heading the screen and the plain output.
    pub fn describe(&self) -> String {
        format!("顾客 {} · 库存 {} · {} 秒内陆续到达", self.shoppers, self.stock, self.ramp_secs)
    }
}

/// Where the sale finds the stack (from `stack.json`).
#[derive(Clone, Debug)]
pub struct FlashTargets {
    /// The lab directory: the faults read `stack.json` here for pids, and restart what they
    /// killed with `bookstore-lab --dir <lab_dir> up`.
    pub lab_dir: PathBuf,
    /// `host:port` of the HTTP gateway.
    /// Every shopper request goes here and only here: a restarted instance comes back on
    /// its recorded port, so this address stays valid across every fault.
    pub gateway: String,
    /// gRPC addresses for the set-up (the admin's login, publishing the book).
    pub user: String,
    /// Set-up only, like `user`: publishing the sale's book is not part of what is measured.
    pub catalog: String,
    /// The MariaDB server (no database) and Redis, read by the board.
    /// No database in the URL: the board's queries name `inventory_db.`, `order_db.` and
    /// `payment_db.` tables on one connection instead of opening three pools.
    pub mysql_url: String,
    pub redis_url: String,
    /// Instances the learner can kill (supervisor names, in stack order).
    pub instances: Vec<String>,
}

impl FlashTargets {
    /// Everything from the supervisor's record; the gateway and the three set-up services
    /// must be running.
    pub fn from_lab(lab_dir: &std::path::Path) -> anyhow::Result<Self> {
        let state = StackState::load(lab_dir)?.unwrap_or_default();
        // Read once, at the start: a fault's restart gives a killed service back its
        // recorded port, so these addresses stay right for the whole sale.
        let addr = |name: &str| {
            state.service(name).map(|c| c.address.clone()).with_context(|| {
                format!("{name} is not running (start the stack with `bookstore-lab up`)")
            })
        };
        Ok(Self {
            lab_dir: lab_dir.to_path_buf(),
            gateway: addr("gateway")?,
            user: addr("user")?,
            catalog: addr("catalog")?,
            mysql_url: state.mysql_url()?.to_string(),
            redis_url: state.redis_url()?.to_string(),
            // Every recorded service instance, gateway included; `killable` orders them.
            instances: state.services.iter().map(|c| c.name.clone()).collect(),
        })
    }
}

/// One injected fault and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRecord {
    /// [`Fault::label`], for the screen and the summary.
    pub label: String,
    /// Seconds into the sale.
    /// Measured from the sale's `started` (after the book was published), like
    /// [`Tick::elapsed_s`], so a fault's row lines up with the ticks around it.
    pub at_s: f64,
    /// The step the recovery is timed on ([`Fault::route`]).
    pub route: Route,
    /// The action's own report, or its error.
    pub note: Option<String>,
    /// From the moment the loop received the fault to the end of the lab's action (see the
    /// module docs); `None` while it runs, and for an action that failed.
    pub restored_ms: Option<u64>,
    /// From the same start to the *answer* of the first non-error request on `route` that
    /// was sent after the fault began. `None` until one arrives; it stays `None` when no
    /// request on that route was sent afterwards (the sale ended first), shown as "-".
    pub recovered_ms: Option<u64>,
    /// Answers on `route` that were errors between the fault and the recovery.
    pub failed_answers: u64,
}

/// The shoppers' counts at one moment.
///
/// Every field is a count of shoppers or of requests, read from [`Tally`]'s atomics one
/// by one: a tick may see one counter a request ahead of another. That is fine for a
/// display; the one decision taken from these numbers (all shoppers `finished`) reads a
/// single counter, the last one each shopper bumps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub shoppers: u64,
    /// Shoppers past register and login (their set-up steps).
    pub logged_in: u64,
    /// Shoppers who got an order (one each, whatever retries it took).
    pub placed: u64,
    /// Shoppers who never got an order because the sale stayed sold out until it ended.
    pub refused: u64,
    /// Shoppers who got an order and left it unpaid on purpose.
    pub abandoned: u64,
    /// Shoppers who *saw* their order turn Paid. order_db's count (in [`Summary::orders`])
    /// may be higher: a shopper who gave up polling may still have paid.
    pub paid: u64,
    /// Requests re-sent, over all shoppers and steps: the cost of the faults in traffic.
    pub retries: u64,
    /// Retries the gateway answered from its idempotency record: each is a duplicate order
    /// that the key prevented.
    pub replayed: u64,
    /// Shoppers who stopped on a final error or a step's deadline.
    pub gave_up: u64,
    /// Shoppers done for any reason (including a stop); catch-up waits for all of them.
    pub finished: u64,
    /// The last give-up's reason: one line is enough to tell a fault that outlasted the
    /// retries from a request the lab built wrong.
    pub last_error: Option<String>,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Shoppers still arriving or checking out; faults can be injected.
    Selling,
    /// Shoppers done; waiting for every store to agree.
    CatchingUp,
    /// Every check held after catch-up, or `CATCH_UP` ran out; the summary follows.
    Done,
}

/// One second of the sale.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Seconds since the sale started (set-up excluded).
    pub elapsed_s: f64,
    pub phase: Phase,
    pub counts: Counts,
    /// Successful requests per second over the last second, and their p99.
    ///
    /// "Per second" holds only while ticks are a second apart: a tick delayed by a blocked
    /// sample (a paused MariaDB) counts every success since the previous tick. Successes
    /// include every route — register, login, orders, payments and the poll that saw Paid —
    /// so it answers "is the system serving at all", not "how many orders per second".
    pub rps: f64,
    /// The latencies behind it include registration and login, whose argon2 hashing
    /// dominates the first seconds of the ramp; `None` in a second with no success.
    pub p99_ms: Option<f64>,
    /// The six checks as judged from this tick's sample.
    pub board: Vec<Row>,
    /// Every fault so far, in the order they were injected, with its timing filled in as
    /// far as it is known.
    pub faults: Vec<FaultRecord>,
    /// Inventory's counters for the book as Redis has them (available, locked, sold).
    /// `None` while Redis does not answer; the screen then shows "?" rather than the last
    /// known numbers, which would look like a frozen but healthy sale.
    pub stock: Option<(i64, i64, i64)>,
}

/// The end of a sale.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The sale's fresh book id: every order of the run is about it and nothing else.
    pub book: u64,
    pub params: FlashParams,
    /// The final tick: its board is the post-catch-up verdict, with `ever_broken` for what
    /// was red on the way.
    pub last: Tick,
    /// Orders of the book in order_db: pending, paid, cancelled (incl. expired).
    /// Read from the final sample, so they are the store's truth, not the shoppers' view;
    /// all zero if MariaDB did not answer that last sample.
    pub orders: (usize, usize, usize),
    /// Every check held after catch-up and none was ever red.
    pub held: bool,
}

/// Events of a run, each tagged with the run (a sale) that sent it — as the orders and
/// payments experiments do: a sale the learner left with Esc goes on to its catch-up in
/// the background, and its late events must not land on the next sale's screen.
#[derive(Clone, Debug, PartialEq)]
pub enum FlashEvent {
    /// The book is on sale; `instances` are what the learner can kill (see [`killable`]).
    Ready {
        run: u64,
        book: u64,
        params: FlashParams,
        instances: Vec<String>,
    },
    /// One sample of the sale, once a second. Boxed, like `Finished`: the board's rows make
    /// it far larger than the other variants, and an enum is as large as its largest.
    Tick {
        run: u64,
        tick: Box<Tick>,
    },
    /// A fault's action finished (or failed): a line for the footer.
    Note {
        run: u64,
        text: String,
    },
    Finished {
        run: u64,
        summary: Box<Summary>,
    },
    /// The run could not start (sent by the task that runs it).
    Failed {
        run: u64,
        message: String,
    },
    /// The completion checklist's answer, or why it could not be made (key `v`). No run:
    /// it reads the stack and the saved benches, not a sale, and comes at any time.
    Checklist(Result<Vec<checklist::Item>, String>),
}

/// A fault being timed.
/// `began` is a monotonic `Instant`, not `at_s`: recovery is compared with the `sent`
/// instants of [`shopper::Attempt`], on the same clock.
struct Timed {
    record: FaultRecord,
    began: Instant,
}

/// The catch-up's limit: longer than the board's grace, so a difference that never
/// resolves turns red before the run gives up on it.
const CATCH_UP: Duration = Duration::from_secs(45);

/// Runs sale `run` until every shopper is done (or `faults` is closed: the learner left),
/// then waits for catch-up. Faults arrive on `faults` while it runs.
pub async fn run(
    run: u64,
    targets: FlashTargets,
    params: FlashParams,
    mut faults: mpsc::UnboundedReceiver<Fault>,
    events: mpsc::UnboundedSender<FlashEvent>,
) -> anyhow::Result<Summary> {
    // The book is published (with its stock in inventory) over gRPC by the lab's admin:
    // set-up, not the sale.
    // A fresh book per sale scopes every invariant: only this run's orders touch it, so
    // "sold = the paid orders' quantities" is exact, whatever else the stack is doing.
    let book = super::orders::fresh_book(&targets.user, &targets.catalog, params.stock).await?;
    // Sent before the board and the shoppers exist: the screen can show the book
    // and the kill menu while the first shoppers are still in their arrival delay.
    let _ = events.send(FlashEvent::Ready { run, book, params, instances: killable(&targets) });
    // Before any shopper starts, so the first tick can already judge; the pool connects
    // lazily, so a stack with a slow MariaDB does not delay the sale's start.
    let mut board = Board::new(&targets.mysql_url, &targets.redis_url, book, params.stock)?;

    // Shared with every shopper: the shoppers write, this loop reads once a second. `stop`
    // is the only thing this loop tells them, and they check it between steps, never in
    // the middle of a request (a request cut off half-way would be an unknown outcome the
    // lab itself created).
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
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
        // Detached: the run ends when `finished` reaches `shoppers`, not by joining
        // the tasks, so a shopper stuck in a request cannot hold the board's ticks.
        tokio::spawn(s.visit(tally.clone(), stop.clone()));
    }

    // Each fault runs on a task of its own and reports back here: a MariaDB pause lasts
    // seconds and a restart waits for `up`, and the board must keep ticking through both —
    // the seconds a fault lasts are exactly the ones the learner wants to watch.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, anyhow::Result<faults::Done>)>();
    let mut timed: Vec<Timed> = Vec::new();
    // Faults still acting; catch-up may not begin while one is.
    let mut running_faults = 0usize;
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    // A sample blocked by a paused MariaDB (up to its 4 s deadline) must not be followed
    // by a burst of catch-up ticks: each tick is "one second of the sale", or nothing.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut phase = Phase::Selling;
    let mut catch_up_began = None;
    let mut faults_open = true;
    // Successes counted at the previous tick: the difference is this tick's rps.
    let mut ok_before = 0usize;
    loop {
        tokio::select! {
            // `if faults_open`: once the channel is closed, `recv` would return `None`
            // at once on every loop turn; disabling the arm keeps the loop waiting on
            // the ticks instead of spinning.
            f = faults.recv(), if faults_open => match f {
                Some(fault) => {
                    let record = FaultRecord {
                        label: fault.label(),
                        at_s: started.elapsed().as_secs_f64(),
                        route: fault.route(),
                        note: None,
                        restored_ms: None,
                        recovered_ms: None,
                        failed_answers: 0,
                    };
                    // The clock starts when the lab receives the fault, before the action
                    // is spawned: a SIGKILL takes effect at once, so every request from
                    // here on may meet it.
                    timed.push(Timed { record, began: Instant::now() });
                    running_faults += 1;
                    // The index into `timed` travels with the task and comes back with its
                    // result: faults may finish out of order (a kill outlasts a pause).
                    let (idx, tx, dir, mysql) =
                        (timed.len() - 1, done_tx.clone(), targets.lab_dir.clone(), targets.mysql_url.clone());
                    tokio::spawn(async move {
                        let _ = tx.send((idx, faults::inject(&dir, &mysql, &fault).await));
                    });
                }
                // The learner left (or the script ended): the shoppers stop between steps.
                None => {
                    faults_open = false;
                    stop.store(true, Ordering::Relaxed);
                }
            },
            Some((idx, result)) = done_rx.recv() => {
                // `done_tx` is held by this function, so the channel never closes and
                // the pattern always matches: a `None` never silently disables this arm.
                running_faults -= 1;
                let t = &mut timed[idx];
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
                let _ = events.send(FlashEvent::Note { run, text: note });
            }
            // Once a second: read the stores, judge, time the faults, report. The sample is
            // taken here, in the loop, not on a task of its own, so a tick's board and its
            // counts describe the same moment.
            _ = interval.tick() => {
                let ids = order_ids(&tally);
                // While the sample waits on a paused MariaDB (up to 2 s for Redis plus
                // 4 s for MariaDB), fault arrivals and fault reports simply queue.
                let sample = board.sample(&ids).await;
                // Judged at once: a difference's age comes from `Instant::now()` inside
                // `judge`, so the grace is wall-clock time, not a count of ticks.
                let rows = board.judge(&sample);
                let (ok_now, p99_ms) = progress(&tally);
                let rps = (ok_now - ok_before) as f64;
                ok_before = ok_now;
                // After the sample, so a recovery seen in the log is on the same tick as
                // the board that shows whether it broke anything.
                time_faults(&tally, &mut timed);
                let counts = counts(&tally, params.shoppers);
                // Catch-up starts when no shopper and no fault is still at work: a fault
                // in progress (MariaDB frozen) would make "every store agrees" premature.
                if phase == Phase::Selling && counts.finished >= counts.shoppers && running_faults == 0 {
                    phase = Phase::CatchingUp;
                    catch_up_began = Some(Instant::now());
                }
                // Catch-up ends when every check holds — the moment "eventually consistent"
                // has arrived — or after CATCH_UP, when a difference that never resolved has
                // long turned red. Ending at the last shopper instead would report the
                // confirms and syncer writes still in flight as failures.
                // Holds on every row: an Unknown row (a store not answering) is not
                // settled, so catch-up waits for the stores to answer again.
                let settled = rows.iter().all(|r| r.verdict == Verdict::Holds);
                if phase == Phase::CatchingUp
                    && (settled || catch_up_began.is_some_and(|t| t.elapsed() > CATCH_UP))
                {
                    phase = Phase::Done;
                }
                let tick = Tick {
                    elapsed_s: started.elapsed().as_secs_f64(),
                    phase,
                    counts,
                    rps,
                    p99_ms,
                    board: rows,
                    faults: timed.iter().map(|t| t.record.clone()).collect(),
                    // Redis's figures (the system of record), the ones the screen shows
                    // beside the board.
                    stock: sample.redis.map(|c| (c.avail, c.locked, c.sold)),
                };
                let _ = events.send(FlashEvent::Tick { run, tick: Box::new(tick.clone()) });
                if phase == Phase::Done {
                    // `ever_broken` too: a red that turned green is still a broken
                    // promise, and the verdict must not pass a sale that only healed.
                    let held = tick.board.iter().all(|r| r.verdict == Verdict::Holds && r.ever_broken.is_none());
                    // The order counts come from this last sample, after catch-up (or its
                    // limit): order_db's statuses once the relay and the sweeper caught up.
                    let summary = Summary { book, params, orders: sample.order_counts(), last: tick, held };
                    let _ = events.send(FlashEvent::Finished { run, summary: Box::new(summary.clone()) });
                    return Ok(summary);
                }
            }
        }
        // A closed event channel means nobody watches any more: stop the shoppers; the run
        // still ends through catch-up, so no fault is left half-done (MariaDB frozen).
        // Checked after every event of the loop (a tick, a fault, a report), so the
        // shoppers learn within a second that the screen is gone.
        if events.is_closed() {
            stop.store(true, Ordering::Relaxed);
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
        last_error: tally.last_error.lock().expect("not poisoned").clone(),
    }
}

/// The faults of the scripted sale unless told otherwise: every type once, the relay
/// second, while payments are still in flight (a relay killed after the last payment has
/// nothing to lose).
pub const DEFAULT_FAULTS: &str = "kill,relay,redis,mysql";

/// The scripted sale of `bookstore-lab lesson week6 --no-tui` and of the test: the faults
/// named in `faults` (comma-separated, e.g. [`DEFAULT_FAULTS`]), four seconds apart, while
/// the shoppers arrive. Prints a line per second and fails unless every invariant held.
///
/// The plan is an argument, not read from `BOOKSTORE_FLASH_FAULTS` here: the lesson's
/// variable is the plain mode's to read, and a test passes the plan it asserts on — a
/// variable left in the developer's shell then cannot change what the test runs.
pub async fn script(
    targets: FlashTargets,
    params: FlashParams,
    faults: &str,
    mut print: impl FnMut(String),
) -> anyhow::Result<Summary> {
    // The first killable service that every checkout passes through.
    // payment is not in the list: killing it is the relay fault's job, and the script
    // runs that one separately, timed on the Paid route.
    let victim = ["order", "inventory", "catalog", "user"]
        .into_iter()
        .find(|n| targets.instances.iter().any(|i| i == n))
        .context("no order/inventory/catalog/user instance to kill")?
        .to_string();
    let mut plan = Vec::new();
    for (n, name) in faults.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let fault = match name {
            "kill" => Fault::Kill(victim.clone()),
            "redis" => Fault::RestartRedis,
            // 3 s, the gateway's upstream deadline: long enough to turn CreateOrders into
            // 504s of unknown outcome, short enough for four faults in one ramp.
            "mysql" => Fault::PauseMysql(3),
            "relay" => Fault::KillRelay,
            other => anyhow::bail!(
                "unknown fault `{other}` in `{faults}` (known: kill, redis, mysql, relay)"
            ),
        };
        // The first fault at 3 s, when shoppers are already mid-checkout; 4 s apart,
        // about one fault's length, so most recoveries are timed alone. Two faults on
        // the same route can still overlap on a slow machine, and then the later one's
        // recovery includes the earlier one's tail.
        plan.push((3.0 + 4.0 * n as f64, fault));
    }
    // The sale ends when its last shopper does; a fault planned after that would never be
    // sent and the run would look like it survived a fault it never met.
    let last_at = plan.last().map_or(0.0, |(at, _)| *at);
    anyhow::ensure!(
        f64::from(params.ramp_secs) + 2.0 > last_at,
        "a {} s sale ends before the fault planned at {last_at} s: use ramp_secs ≥ {}",
        params.ramp_secs,
        last_at.ceil() as u32
    );
    let (ftx, frx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    // The runner owns the sale; this loop only reads its events and sends faults
    // when a tick's clock passes their planned time, so a fault is sent at tick
    // granularity (within a second of its plan). Run 1: the script's events go to no
    // screen, so there is no earlier run to tell apart.
    let runner = tokio::spawn(run(1, targets, params, frx, etx));
    let mut plan = plan.into_iter().peekable();
    let mut ftx = Some(ftx);
    while let Some(e) = erx.recv().await {
        match e {
            FlashEvent::Ready { book, params, .. } => {
                print(format!("==> 秒杀开始：图书 #{book}，{}", params.describe()))
            }
            FlashEvent::Note { text, .. } => print(format!("    {text}")),
            // `run` itself returns its errors rather than sending this; the arm is here
            // so the script stops if a future sender does use it.
            FlashEvent::Failed { message, .. } => anyhow::bail!(message),
            // The summary comes back from `runner` itself below; the event's copy is for
            // the TUI.
            FlashEvent::Finished { .. } => break,
            FlashEvent::Checklist(_) => {}
            FlashEvent::Tick { tick: t, .. } => {
                print(tick_line(&t));
                while let Some((at, _)) = plan.peek()
                    && t.elapsed_s >= *at
                {
                    let (_, fault) = plan.next().expect("peeked");
                    print(format!("==> 注入故障：{}", fault.label()));
                    if let Some(tx) = &ftx {
                        tx.send(fault)?;
                    }
                }
                // All faults sent: close the channel once the shoppers are done, so the
                // runner moves on to catch-up as soon as it can.
                if plan.peek().is_none() && t.counts.finished >= t.counts.shoppers {
                    ftx = None;
                }
            }
        }
    }
    // The loop also ends when the runner drops its sender (it failed): the fault
    // channel is closed either way, and the runner's own error comes out below.
    drop(ftx);
    // Two layers: the task panicked (a `JoinError`) or the run returned an error.
    let summary = runner.await??;
    for line in summary_lines(&summary) {
        print(line);
    }
    anyhow::ensure!(summary.held, "an invariant broke during the flash sale (see the board above)");
    Ok(summary)
}

/// `t= 12s 卖出中 成功 84/s p99 41ms | 下单 18 售罄 9 已付 12 重试 23 | 库存 2/4/14 | 看板 ✔✔✔✔✔✔`
///
/// Left to right it answers the lesson's questions in order: is the system serving
/// (successes per second, p99), how far the sale is (orders placed, sold-out refusals,
/// paid, abandoned), what the faults cost in traffic (retries, and the replays that
/// prevented duplicate orders), Redis's available/locked/sold, and the six checks.
pub fn tick_line(t: &Tick) -> String {
    let c = &t.counts;
    let phase = match t.phase {
        Phase::Selling => "卖出中",
        Phase::CatchingUp => "追赶中",
        Phase::Done => "结束",
    };
    let marks: String = t.board.iter().map(|r| mark(&r.verdict)).collect();
    format!(
        "t={:>3.0}s {phase} 成功 {:.0}/s p99 {} | 下单 {} 售罄 {} 已付 {} 放弃 {} 重试 {} 重放 {} | 库存 {} | 看板 {marks}",
        t.elapsed_s,
        t.rps,
        t.p99_ms.map_or("-".into(), |p| format!("{p:.0}ms")),
        c.placed,
        c.refused,
        c.paid,
        c.abandoned,
        c.retries,
        c.replayed,
        t.stock.map_or("?".into(), |(a, l, s)| format!("{a}/{l}/{s}")),
    )
}

/// ✔ holds, … lagging, ✘ broken, ? unknown.
///
/// Lagging has its own mark because it is not a failure: the point of the board is that
/// "…" is normal under eventual consistency and only "✘" is a bug.
pub fn mark(v: &Verdict) -> char {
    match v {
        Verdict::Holds => '✔',
        Verdict::Lagging { .. } => '…',
        Verdict::Broken(_) => '✘',
        Verdict::Unknown(_) => '?',
    }
}

/// The end-of-run report: counts, each fault's cost, each invariant's verdict.
///
/// The shoppers' counts and order_db's counts are printed side by side on purpose: the
/// client's view ("I saw Paid") and the store's truth ("status = 2") may differ after a
/// fault, and the difference is the thing to explain, not to hide.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let c = &s.last.counts;
    let (pending, paid, cancelled) = s.orders;
    let mut out = vec![
        format!("==> 秒杀结束：图书 #{}，{}", s.book, s.params.describe()),
        format!(
            "    顾客 {} · 登录 {} · 下单成功 {} · 售罄被拒 {} · 放弃支付 {} · 已支付 {} · 放弃重试 {}",
            c.shoppers, c.logged_in, c.placed, c.refused, c.abandoned, c.paid, c.gave_up
        ),
        format!(
            "    order_db：待支付 {pending} · 已支付 {paid} · 已取消/过期 {cancelled}；重试 {} 次，其中幂等重放 {} 次",
            c.retries, c.replayed
        ),
    ];
    if let Some(e) = &c.last_error {
        out.push(format!("    最后一个放弃的原因：{e}"));
    }
    // Both durations per fault: "restored" is when the lab's action ended, "recovered"
    // when a client got an answer again; the gap between them is the retries' backoff
    // plus whatever the service needed after it was back (reconnecting, a rebuild).
    for f in &s.last.faults {
        // Tenths of a second: the recovery includes backoff steps of up to 1.6 s,
        // so milliseconds would claim a precision the measurement does not have.
        let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.1}s", v as f64 / 1000.0));
        out.push(format!(
            "    故障 t={:.0}s {}：动作结束 {} · 恢复 {}（首个成功的 {:?}）· 期间错误应答 {}",
            f.at_s,
            f.label,
            ms(f.restored_ms),
            ms(f.recovered_ms),
            f.route,
            f.failed_answers
        ));
    }
    for r in &s.last.board {
        let now = match &r.verdict {
            Verdict::Holds => "成立".to_string(),
            Verdict::Lagging { items, .. } => format!("仍在追赶：{}", items.join("；")),
            Verdict::Broken(items) => format!("被破坏：{}", items.join("；")),
            Verdict::Unknown(why) => format!("无法判断：{why}"),
        };
        // A check that is green now but was red on the way says so on the same line:
        // otherwise a healed failure would read like a pass.
        let ever = r
            .ever_broken
            .as_ref()
            .map_or(String::new(), |e| format!("（运行中曾被破坏：{}）", e.join("；")));
        out.push(format!("    {} {} — {now}{ever}", mark(&r.verdict), r.invariant.label()));
    }
    out.push(if s.held {
        "==> 全部不变量成立：故障造成了错误应答和重试，但没有超卖、没有丢单、没有错账".into()
    } else {
        "==> 有不变量被破坏：见上面的看板".into()
    });
    out
}

/// The instances a learner can kill, in the screen's order: the services every checkout
/// writes through first (order, inventory, payment), then the readers, the gateway last
/// (killing the only entrance ends every checkout at once — allowed, but not the default).
pub fn killable(targets: &FlashTargets) -> Vec<String> {
    const ORDER: [&str; 6] = ["order", "inventory", "payment", "catalog", "user", "gateway"];
    // Unknown names sort last; instances of one service sort by their number, so
    // `user` comes before `user-2`.
    let rank = |n: &String| {
        let base = services::spec(n).map_or("", |s| s.name);
        (ORDER.iter().position(|o| *o == base).unwrap_or(ORDER.len()), services::instance_number(n))
    };
    let mut v = targets.instances.clone();
    v.sort_by_key(rank);
    v
}

/// The `{{measured:KEY}}` keys a flash sale fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 10] = [
    "stock",
    "shoppers",
    "placed",
    "paid",
    "abandoned",
    "refused",
    "retries",
    "gave_up",
    "faults",
    "held",
];

/// The sale's figures from its summary (after catch-up, so they are final).
pub fn figures(s: &Summary) -> Vec<(&'static str, String)> {
    let c = &s.last.counts;
    let values = [
        s.params.stock.to_string(),
        s.params.shoppers.to_string(),
        c.placed.to_string(),
        c.paid.to_string(),
        c.abandoned.to_string(),
        c.refused.to_string(),
        c.retries.to_string(),
        c.gave_up.to_string(),
        s.last.faults.len().to_string(),
        // Words, not `true`: the reveal is a sentence ("不变量：全部守住").
        if s.held { "全部守住".into() } else { "有不变量被打破".into() },
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
