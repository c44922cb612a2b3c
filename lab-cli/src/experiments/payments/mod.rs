//! Day 33–34's experiment: one payment's life against the real payment-service, and the
//! three ways the course's sample would lose money — a duplicate callback, a restart in
//! the 3-second window, a payment that lands after the order is gone.
//!
//! Every call goes to the running stack: shoppers, books and orders through the services'
//! gRPC APIs (as in the orders experiment), the gateway's callbacks through its HTTP route
//! `POST /api/v1/payments/{no}/mock-callback` — the lab's stand-in for the payment
//! provider, which adds the service credential itself, so the lab never holds it. The kill
//! is a real `SIGKILL` of the pid in `stack.json`, and the restart is `bookstore-lab up`.
//!
//! ## The four scenarios (one key each on the screen)
//!
//! ```text
//!  1 timeline    CreateOrder ─► CreatePayment (job due +3 s) ─► mock gateway ─► SUCCESS
//!                ─► outbox relay ─► UpdateOrderStatus(Paid) ─► inventory confirm (sold +1)
//!  2 duplicates  CreatePayment, then 100 MockCallbacks at once ─► one SUCCESS, one confirm
//!  3 crash       CreatePayment, kill -9 payment-service, `bookstore-lab up` ─► still Paid
//!  4 refund      CreatePayment, CancelOrder, the gateway's success ─► REFUNDED, stock unsold
//! ```
//!
//! Every scenario orders one unit of the run's own fresh book, so "sold went up by exactly
//! one" is a statement about this payment and nobody else's — the same reason the orders
//! experiment publishes a book per run.
//!
//! ## What to expect, and what would be a bug
//!
//! - timeline: the gateway answers 3.0–3.2 s after CreatePayment (its worker polls every
//!   200 ms); order Paid and sold +1 follow within a few hundred ms (the relay's poll).
//! - duplicates: all 100 callbacks answer 200 with status `success`; payment-service's own
//!   counter shows exactly 1 callback that changed something and 99 that did not, and the
//!   stock log holds exactly one confirm (DECR) for the order. Two confirms would be a unit
//!   sold twice.
//! - crash: the process is gone (its pid no longer in `/proc`), the supervisor starts a new
//!   one on the same port, and the payment still completes — the `gateway_jobs` row waited
//!   in MariaDB. With the course's `go func(){ sleep(3s) }()` the callback would be lost
//!   and the order would expire unpaid after the customer paid.
//! - refund: the order is Cancelled before the gateway's success arrives; order-service
//!   refuses Paid (FAILED_PRECONDITION), the relay turns that into REFUNDED, sold stays
//!   put and the unit is back in `available`.
//!
//! ## Reading the numbers (what changes them)
//!
//! - **the 3 s is a promise, the rest is queueing.** `due_at` is written by
//!   payment-service at creation (`NOW(3) + 3 s`), so "+3.0 s" on the timeline is exact;
//!   the answer lands up to one gateway poll (200 ms) later, and Paid up to one relay poll
//!   after that. On the shared 2-core machine a busy MariaDB adds tens of milliseconds to
//!   each step — read the gaps as "about", the order of the steps as "must".
//! - **exactly-once is a count, not a timing.** "1 effective / 99 no-ops" and "one DECR"
//!   hold on any machine under any load; if they ever read 2, the bug is in the code (a
//!   settle without the row lock, a confirm not keyed by the order), never in the machine.
//! - **the restart time is the binary's start-up.** `bookstore-lab up` for one service is a
//!   fork/exec, a pool connect (the migrations are already applied) and one health check:
//!   ~0.1–0.2 s with the lab's optimised dev profile, seconds for a cold unoptimised build.
//!   Either way the job is answered — before its due time, the new process waits for it;
//!   after, the first gateway pass picks the overdue row at once.
//! - **the refund's delay is the relay's.** Cancel is instant; the refund waits for the
//!   gateway's 3 s and then one relay pass: REFUNDED is the relay's reading of order-service's
//!   FAILED_PRECONDITION, so it can never come before the success it refunds.
//!
//! ## Why these mechanisms
//!
//! - ✅ DO watch through the public RPCs (QueryPayment, GetOrder, GetStock, GetStockLog), as
//!   a client must; ❌ DON'T read payment_db in the experiment — the screen would then prove
//!   what the tables say, not what the API promises, and break on the next migration.
//! - ✅ DO count the effect where it lands (inventory's stock log, payment-service's own
//!   counter); ❌ DON'T infer it from the 100 responses: by contract a duplicate answers
//!   exactly like the original, so the responses cannot tell one sale from two.
//! - ✅ DO kill with SIGKILL and restart with the supervisor the learner uses; ❌ DON'T
//!   simulate the crash inside the service (an "exit now" flag runs the process's own exit
//!   path and proves only that the flag works).
//!
//! ## Why cancel, not wait for the expiry, in scenario 4
//!
//! The lab's payment window is 120 s (`lab_env` in the stack's services.rs) and
//! order-service has no per-order window. A cancelled order and an expired one are the
//! same state to payment-service (Cancelled; only `cancel_reason` differs), and the relay
//! meets the same refusal — so the lab cancels and the lesson shows the expiry race with
//! `mysql`. ❌ DON'T add a "short window" knob to a service just for a demo: it becomes a
//! production setting someone turns on.
//!
//! ## Modules, in the order a scenario runs through them
//!
//! - `run`: [`run`] as named steps, and the `Timeline` that stamps and sends each step.
//! - `faults`: scenario 2's burst of callbacks and scenario 3's kill -9 and restart.
//! - `watch`: the clients, the 50 ms poll until the payment settled, the stock-log wait.
//! - `report`: [`Report`] and its `verdict`, the one judgement the screen, the plain
//!   output and the tests share.

use std::path::PathBuf;

mod faults;
mod report;
mod run;
mod watch;

pub use report::{CallbackCounts, Report, Restart, Step};
pub use run::run;

/// The stack's addresses the experiment needs (re-read from `stack.json` per command: a
/// restarted payment-service gets a new metrics port).
#[derive(Clone, Debug)]
pub struct PaymentTargets {
    /// order-service (gRPC): CreateOrder, CancelOrder and the GetOrder polls.
    pub order: String,
    /// inventory-service (gRPC): GetStock before and after, GetStockLog for the confirms.
    pub inventory: String,
    /// catalog-service (gRPC), with `user`: set-up only (the shopper, the fresh book).
    pub catalog: String,
    pub user: String,
    /// payment-service (gRPC): CreatePayment and the QueryPayment polls.
    pub payment: String,
    /// The HTTP gateway (`host:port`): the mock-callback route.
    pub gateway: String,
    /// payment-service's Prometheus endpoint, if recorded: the callback counters.
    ///
    /// The first instance's only: with `--replicas payment=2` the gateway spreads the 100
    /// callbacks over both, this counter sees one share, and `changed` can read 0 for a
    /// payment the other instance settled — run scenario 2 against a single instance.
    pub payment_metrics: Option<String>,
    /// The stack directory: the pid to kill and the supervisor that restarts it.
    pub lab_dir: PathBuf,
}

/// The four scenarios, in the lesson's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Nothing injected: the reference timeline every other scenario is read against.
    Timeline,
    /// Catches a settle without its row lock: two concurrent callbacks would both see
    /// Pending and both try to settle it — caught as `changed = 2`, or as a callback that
    /// failed on the outbox's unique key.
    Duplicates,
    /// Catches a gateway answer kept only in memory: it would die with the process, and
    /// the order would stay Pending although the customer paid.
    Crash,
    /// Catches a relay that treats "order no longer payable" as a retryable error (it would
    /// retry forever) or as success (the money kept for goods never shipped).
    Refund,
}

impl Scenario {
    pub const ALL: [Scenario; 4] =
        [Scenario::Timeline, Scenario::Duplicates, Scenario::Crash, Scenario::Refund];

    /// The verdict table's short name.
    pub fn short(self) -> &'static str {
        match self {
            // Each padded to 8 display columns (a CJK character is two), so the verdict
            // table's columns line up in a terminal.
            Scenario::Timeline => "时间线  ",
            Scenario::Duplicates => "重复回调",
            Scenario::Crash => "kill -9 ",
            Scenario::Refund => "先取消后",
        }
    }

    /// The screen's label for the scenario (its key is its position + 1).
    pub fn label(self) -> &'static str {
        match self {
            Scenario::Timeline => "一次支付的时间线",
            Scenario::Duplicates => "重复回调 ×100",
            Scenario::Crash => "3 秒窗口内 kill -9 payment-service",
            Scenario::Refund => "先取消订单、后支付成功 → 退款",
        }
    }
}

/// How many duplicate callbacks scenario 2 fires at once: the course's "a gateway retries
/// its callback" turned up until a missing lock or a non-conditional update would show.
///
/// 100, not 2: two requests rarely overlap inside the few milliseconds of one
/// transaction, so a missing lock would pass most runs; a hundred at once make the
/// overlap near certain, and the count stays small for a loopback HTTP pool.
pub const DUPLICATES: usize = 100;

// One shopper and one book, made once and reused by every scenario of a screen session:
// registering costs an argon2 hash, publishing a catalog write. The stock (20) covers many
// presses of the four keys; each scenario takes one unit, the refund gives it back.
/// The shopper's token and the run's book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The book every scenario orders from (replaced by a fresh one once it sells out).
    pub book: u64,
    /// The shopper's bearer token: every order, payment and query belongs to this user.
    pub token: String,
}

/// Units the experiment's book starts with.
///
/// A paid scenario takes one unit and a refund gives its unit back, so twenty covers a
/// session of key presses; `run` publishes a new book when it runs out.
pub const BOOK_STOCK: u32 = 20;

// Steps are sent as they happen (the timeline grows while the learner watches the 3 s
// pass) and repeated in the final report: a screen that joined late or dropped an event
// still ends with the complete list.
/// What the runner reports; every event carries the run id (see `app::payments`).
#[derive(Clone, Debug)]
pub enum PaymentsEvent {
    /// The shopper and the book exist (sent once, then reused by later scenarios).
    Ready { run: u64, setup: Setup },
    /// A step of the scenario happened (the timeline grows live).
    Step { run: u64, step: Step },
    /// The scenario settled: the numbers and the verdict.
    // Boxed: a report is ~300 bytes and every `Step` event would otherwise be as large.
    Finished { run: u64, report: Box<Report> },
    /// The run stopped on an error; the screen shows it in place of the status line and
    /// keeps what earlier events had filled in.
    Failed { run: u64, message: String },
}

/// The `{{measured:KEY}}` keys the payments scenarios fill (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 8] = [
    "amount",
    "duplicates_sent",
    "duplicates_ok",
    "duplicates_changed",
    "confirms",
    "crash_killed_pid",
    "crash_new_pid",
    "refund_reason",
];

// Scenarios run one at a time and each fills its own keys; a key of a scenario that has
// not run in this session reads `-`, so a reveal quoting scenario 2 says so honestly.
/// The payments figures from the reports of the scenarios run so far (index = scenario).
pub fn figures(reports: &[Option<Report>]) -> Vec<(&'static str, String)> {
    let of = |s: Scenario| reports.iter().flatten().find(|r| r.scenario == s);
    let dash = || "-".to_string();
    let cb = of(Scenario::Duplicates).and_then(|r| r.callbacks.as_ref());
    let restart = of(Scenario::Crash).and_then(|r| r.restart.as_ref());
    let values = [
        // Any scenario's amount is the session's: every one orders one unit of a book
        // published at the same price, so the first report that exists will do.
        reports.iter().flatten().next().map_or_else(dash, |r| r.amount.to_string()),
        cb.map_or_else(dash, |c| c.sent.to_string()),
        cb.map_or_else(dash, |c| c.ok.to_string()),
        // From payment-service's own `changed="true"` counter: 1 however many were sent is
        // the idempotence the lesson is about, measured by the server, not by us.
        cb.and_then(|c| c.changed).map_or_else(dash, |n| n.to_string()),
        of(Scenario::Duplicates)
            .or(of(Scenario::Timeline))
            .map_or_else(dash, |r| r.confirms.to_string()),
        restart.map_or_else(dash, |r| r.killed_pid.to_string()),
        restart.map_or_else(dash, |r| r.new_pid.to_string()),
        of(Scenario::Refund).map_or_else(dash, |r| r.reason.clone()),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
