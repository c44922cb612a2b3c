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

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use bookstore_proto::{
    inventory::{
        GetStockLogRequest, GetStockRequest, StockLogType,
        inventory_service_client::InventoryServiceClient,
    },
    order::{
        CancelOrderRequest, CreateOrderItem, CreateOrderRequest, GetOrderRequest, OrderStatus,
        order_service_client::OrderServiceClient,
    },
    payment::{
        CreatePaymentRequest, PaymentStatus, QueryPaymentRequest,
        payment_service_client::PaymentServiceClient,
    },
};
use tokio::sync::mpsc;
use tonic::transport::Channel;

use super::{
    cache::channel,
    orders::{self, StockView, authed},
};

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

/// One line of a scenario's timeline: milliseconds after CreateOrder was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Milliseconds since `t0`, which is taken just before CreateOrder is sent.
    pub at_ms: i64,
    /// The line for the screen, in the learner's language.
    pub what: String,
}

// `changed` / `unchanged` come from payment-service's own counter
// `payment_callbacks_total{changed=…}`, scraped before and after — the service's word on
// how many callbacks did something, not the lab's inference from the responses (which all
// look alike: every duplicate answers the payment as it is, by contract).
/// Scenario 2's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    /// Always [`DUPLICATES`]: what the other counts are read against.
    pub sent: usize,
    /// HTTP 200 with `"status":"success"` in the body.
    pub ok: usize,
    /// No answer, a non-2xx status, or a body whose payment was not `success`: a provider
    /// would retry each of these, so one is already a failure of the contract.
    pub failed: usize,
    /// Callbacks that settled the payment (must be 1), if the metrics could be read.
    pub changed: Option<u64>,
    /// Callbacks that found it settled already (must be `sent − 1`).
    pub unchanged: Option<u64>,
}

/// Scenario 3's kill and restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    /// The pid that got SIGKILL, and the pid `up` recorded for the new process: two
    /// different numbers are the proof that a process really died.
    pub killed_pid: u32,
    pub new_pid: u32,
}

// A plain record with no handles, cloned into the event for the screen and returned to
// the caller: the TUI, the plain output and the live test judge the same struct with the
// same `verdict`, so the three can never disagree about what a run showed.
/// What one scenario measured, for the screen, the plain output and the tests.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub scenario: Scenario,
    /// The scenario's own order (a new one per scenario, no idempotency key).
    pub order_id: u64,
    pub payment_no: String,
    /// In cents, equal to the order's total (payment-service refuses anything else).
    pub amount: i64,
    /// The book's stock before CreateOrder and once the payment settled (read by GetStock
    /// from inventory's Redis counters — the figures shoppers are served from).
    pub before: StockView,
    pub after: StockView,
    /// From the last QueryPayment and GetOrder polls: the public API's answer, not a table.
    pub payment_status: PaymentStatus,
    pub order_status: OrderStatus,
    /// The payment's `reason` (why it was refunded), empty otherwise.
    pub reason: String,
    /// DECR (confirm) entries in the stock log for this order: 1 if paid, 0 if refunded.
    pub confirms: usize,
    /// Scenario 2 only.
    pub callbacks: Option<CallbackCounts>,
    /// Scenario 3 only.
    pub restart: Option<Restart>,
    /// Every step, in the order they were first seen (the same values the live events had).
    pub steps: Vec<Step>,
}

impl Report {
    // The invariants, as the lesson states them: a paid order sold exactly its unit once
    // (sold +1, one confirm) and the unit left `available` exactly once; a refunded payment
    // left the order Cancelled and the unit for sale (sold +0, available as before).
    // `locked` must be back where it started either way — a unit left locked is the leak
    // Day 32 is about. Checked against the book's counters *and* the stock log, because a
    // double confirm that inventory's idempotence absorbed would pass the first and fail
    // only the second.
    /// Whether the scenario ended as it must, and a one-line explanation.
    pub fn verdict(&self) -> (bool, String) {
        let sold = self.after.sold - self.before.sold;
        let avail = self.after.available - self.before.available;
        let locked = self.after.locked - self.before.locked;
        // Checked for every scenario: a paid order's lock became the sale, a refunded
        // one's lock went back to `available` at the cancel. Either way, a non-zero
        // `locked` delta is a unit nobody can buy any more.
        let mut ok = locked == 0;
        // The three deltas lead the explanation whether the verdict passes or not: they
        // are the numbers a learner checks against the lesson's expectation.
        let mut why = format!("sold {sold:+} · available {avail:+} · locked {locked:+}");
        match self.scenario {
            Scenario::Refund => {
                ok &= self.payment_status == PaymentStatus::Refunded
                    && self.order_status == OrderStatus::Cancelled
                    && sold == 0
                    // 0, not +1: the unit was locked by CreateOrder and returned by the cancel,
                    // so `available` is back where it started and nothing was sold.
                    && avail == 0
                    && self.confirms == 0;
                why.push_str(&format!(" · 确认出库 {} 次（应为 0）", self.confirms));
            }
            _ => {
                ok &= self.payment_status == PaymentStatus::Success
                    && self.order_status == OrderStatus::Paid
                    && sold == 1
                    // The unit moved available → locked → sold: one fewer for sale, one more
                    // sold, and the total unchanged.
                    && avail == -1
                    && self.confirms == 1;
                why.push_str(&format!(" · 确认出库 {} 次（应为 1）", self.confirms));
            }
        }
        if let Some(c) = &self.callbacks {
            // A missing metric does not fail the verdict: the confirms above already
            // prove the sale happened once, and the counter is the service's extra
            // testimony. `unchanged` is shown, not checked: `sent − 1` follows from
            // `ok == sent` and `changed == 1`.
            ok &= c.ok == c.sent && c.changed.is_none_or(|n| n == 1);
            why.push_str(&format!(" · 回调 {}/{} 成功", c.ok, c.sent));
            if let (Some(n), Some(m)) = (c.changed, c.unchanged) {
                why.push_str(&format!("，生效 {n} 次、空操作 {m} 次"));
            }
        }
        (ok, why)
    }
}

// Steps are sent as they happen (the timeline grows while the learner watches the 3 s
// pass) and repeated in the final report: a screen that joined late or dropped an event
// still ends with the complete list.
/// What the runner reports; every event carries the run id (see `app::payments`).
#[derive(Clone, Debug)]
pub enum PaymentsEvent {
    /// The shopper and the book exist (sent once, then reused by later scenarios).
    Ready {
        run: u64,
        setup: Setup,
    },
    /// A step of the scenario happened (the timeline grows live).
    Step {
        run: u64,
        step: Step,
    },
    /// The scenario settled: the numbers and the verdict.
    // Boxed: a report is ~300 bytes and every `Step` event would otherwise be as large.
    Finished {
        run: u64,
        report: Box<Report>,
    },
    Failed {
        run: u64,
        message: String,
    },
}

// The lab's wall clock, in the same unit as the services' timestamps (`due_at`,
// `created_at`): the timeline mixes both, which is only meaningful because the lab and
// the stack share one machine and one clock. Across machines the steps would carry skew.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

// Dialled once per scenario rather than once per screen: scenario 3 replaces the
// payment-service process, and a channel kept from before the kill would spend its first
// calls discovering that its connection is dead. Dialling costs a TCP handshake on
// loopback (well under a millisecond) — cheap next to the 3 s every scenario waits.
/// Clients of one scenario, dialled once.
struct Clients {
    /// CreateOrder, CancelOrder, GetOrder as the shopper.
    orders: OrderServiceClient<Channel>,
    /// CreatePayment and QueryPayment as the shopper; re-dialled after the kill.
    payments: PaymentServiceClient<Channel>,
    /// GetStock and GetStockLog: the two witnesses of what was sold.
    inventory: InventoryServiceClient<Channel>,
}

impl Clients {
    async fn connect(t: &PaymentTargets) -> anyhow::Result<Self> {
        Ok(Self {
            orders: OrderServiceClient::new(channel(&t.order).await?),
            payments: PaymentServiceClient::new(channel(&t.payment).await?),
            inventory: InventoryServiceClient::new(channel(&t.inventory).await?),
        })
    }

    async fn stock(&mut self, book: u64) -> anyhow::Result<StockView> {
        let s = self.inventory.get_stock(GetStockRequest { book_id: book }).await?;
        let s = s.into_inner().stock.unwrap_or_default();
        Ok(StockView { available: s.available, locked: s.locked, sold: s.sold, total: s.total })
    }

    // Counted from inventory's own log, by order id: the book is this run's, but earlier
    // scenarios sold units of it too, and only this order's confirms say "sold once".
    async fn confirms(&mut self, book: u64, order_id: u64) -> anyhow::Result<usize> {
        // Page 1 is the newest rows (the log is read `ORDER BY id DESC`) and 100 is the
        // service's cap: this scenario's entries are among the newest, however long the
        // book's history grew over a session.
        let req = GetStockLogRequest { book_id: book, page: 1, page_size: 100 };
        let logs = self.inventory.get_stock_log(req).await?.into_inner().logs;
        let decr = StockLogType::Decr as i32;
        Ok(logs.iter().filter(|l| l.order_id == order_id && l.r#type == decr).count())
    }
}

/// Runs one scenario; makes the shopper and the book first when `setup` is `None`.
pub async fn run(
    run: u64,
    targets: PaymentTargets,
    scenario: Scenario,
    setup: Option<Setup>,
    events: mpsc::UnboundedSender<PaymentsEvent>,
) -> anyhow::Result<Report> {
    // Reused across scenarios of one screen session: the caller passes the Setup from
    // the first run's Ready event back in.
    let setup = match setup {
        Some(s) => s,
        None => {
            // One shopper, not the orders experiment's four: the scenarios run one at a time,
            // and every order, payment and query belongs to the same owner — the owner-only
            // rules are then exercised on every call instead of needing a token per order.
            let token = orders::shoppers(&targets.user, 1).await?.remove(0);
            let book = orders::fresh_book(&targets.user, &targets.catalog, BOOK_STOCK).await?;
            let s = Setup { book, token };
            let _ = events.send(PaymentsEvent::Ready { run, setup: s.clone() });
            s
        }
    };
    let mut c = Clients::connect(&targets).await?;
    // A learner who presses the keys many times sells the book out (each paid scenario
    // takes one of its 20 units); a sold-out book would make CreateOrder fail with
    // FAILED_PRECONDITION and the scenario report an error that is not about payments.
    // So an empty book is replaced by a fresh one, announced like the first.
    let setup = if c.stock(setup.book).await?.available < 1 {
        let book = orders::fresh_book(&targets.user, &targets.catalog, BOOK_STOCK).await?;
        let s = Setup { book, ..setup };
        let _ = events.send(PaymentsEvent::Ready { run, setup: s.clone() });
        s
    } else {
        setup
    };
    // t0 is taken before CreateOrder is sent, so every step's time includes the lab's own
    // round trips: "+3.03 s" for the gateway is 3 s of `due_at` plus CreateOrder and
    // CreatePayment — the learner reads the same clock a customer would.
    let t0 = now_ms();
    // Sends the step to the screen *and* returns it for the report: the live timeline and
    // the final one are the same values, stamped once.
    let step = |what: String| {
        let s = Step { at_ms: now_ms() - t0, what };
        let _ = events.send(PaymentsEvent::Step { run, step: s.clone() });
        s
    };
    let mut steps = Vec::new();
    // Read before the order, after t0: the reference the verdict's deltas are from.
    // Earlier scenarios' units have long settled, since each waited for its own.
    let before = c.stock(setup.book).await?;

    // No idempotency key: each scenario is a new purchase, and a key reused across
    // presses would replay the first scenario's order (already paid) instead.
    let order_req = CreateOrderRequest {
        items: vec![CreateOrderItem { book_id: setup.book, quantity: 1 }],
        ..Default::default()
    };
    let order = c.orders.create_order(authed(order_req, &setup.token)?).await?.into_inner();
    let order = order.order.context("CreateOrder returned no order")?;
    steps.push(step(format!(
        "CreateOrder → 订单 #{} Pending，总额 {} 分，锁定 1 件",
        order.id, order.total
    )));

    // The amount is the order's total as order-service stated it; payment-service asks
    // order-service again and refuses anything else (Day 33), so the lab cannot cheat here.
    let pay_req = CreatePaymentRequest { order_id: order.id, amount: order.total };
    // CreatePayment answers after its transaction committed the payment and its
    // `gateway_jobs` row: from here on the gateway's answer no longer depends on this
    // process staying alive — which scenario 3 tests.
    let payment = c.payments.create_payment(authed(pay_req, &setup.token)?).await?.into_inner();
    let payment = payment.payment.context("CreatePayment returned no payment")?;
    steps.push(step(format!(
        "CreatePayment → {} PENDING，网关 +{:.1}s 回调",
        payment.payment_no,
        // `due_at` is payment-service's own clock (see `now_ms`): the promise, not a
        // measurement of when it will be kept.
        (payment.due_at - t0) as f64 / 1000.0
    )));

    let mut callbacks = None;
    let mut restart = None;
    match scenario {
        Scenario::Timeline => {}
        // Fired at once after CreatePayment, while the payment is still Pending: all 100 then
        // compete for the one Pending → Success transition. Fired after the gateway's 3 s,
        // they would meet a settled payment and prove only that a no-op is a no-op.
        Scenario::Duplicates => {
            // The mock gateway's own job fires at +3 s as well: by then one callback has
            // settled the payment, so the job is deleted without changing anything (and is
            // not counted on `payment_callbacks_total`, which only MockCallbacks feed).
            let counts = duplicate_callbacks(&targets, &payment.payment_no, payment.amount).await?;
            steps.push(step(format!(
                "{} 个 MockCallback 同时到达：{} 个 200，{} 个失败",
                counts.sent, counts.ok, counts.failed
            )));
            callbacks = Some(counts);
        }
        // Killed right after CreatePayment answered — CreatePayment answers only after its
        // transaction committed, so the job row exists and only the process is lost. A kill
        // before the answer would test something else: whether the client retries.
        Scenario::Crash => {
            let (killed, new_pid) = kill_and_restart(&targets, &mut steps, &step).await?;
            restart = Some(Restart { killed_pid: killed, new_pid });
            // The old channel pointed at the dead process's connection; tonic reconnects on
            // its own, but a fresh dial makes the first poll not wait for that.
            c = Clients::connect(&targets).await?;
        }
        // Cancelled at once, well inside the 3 s: the gateway's success is then certain to
        // arrive after the cancel — the "pay after expiry" order of events, on demand.
        Scenario::Refund => {
            let req =
                CancelOrderRequest { order_id: order.id, reason: "cancelled in the lab".into() };
            // The payment itself is untouched: at +3 s the gateway still reports success,
            // the watch below sees SUCCESS and then REFUNDED once the relay's UpdateOrderStatus
            // is refused — the two steps the timeline must show, in that order.
            c.orders.cancel_order(authed(req, &setup.token)?).await?;
            steps.push(step(format!(
                "CancelOrder → 订单 #{} Cancelled，锁定的 1 件回到 available",
                order.id
            )));
        }
    }

    // Watch until the payment has settled for good: notified (Paid and confirmed) or
    // refunded. 60 s is far beyond the 3 s gateway plus the relay's backoff (capped at
    // 10 s); only a stuck worker reaches it, and the scenario then fails loudly.
    //
    // Polled every 50 ms over the public RPCs rather than read from payment_db: the lab
    // sees what a client sees (QueryPayment, GetOrder, GetStock), and a step appears at
    // most one poll after it happened. Each change is recorded once, at its first sight,
    // so a status that flickers cannot add two lines.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (mut seen_pay, mut seen_order, mut seen_sold, mut seen_notified) =
        (PaymentStatus::Pending, OrderStatus::Pending, before.sold, false);
    // The refund scenario cancelled the order itself and said so; starting from Cancelled
    // keeps the watch from announcing that cancel a second time.
    if scenario == Scenario::Refund {
        seen_order = OrderStatus::Cancelled;
    }
    let (pay, ord, after) = loop {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "payment {} did not settle within 60 s (status {seen_pay:?}, order {seen_order:?})",
            payment.payment_no
        );
        // Errors while payment-service restarts are expected in scenario 3: keep polling.
        // Order-service and inventory are never killed here, so their errors (`?` below)
        // end the scenario: they are real failures, not the experiment's doing.
        let q = QueryPaymentRequest { payment_no: payment.payment_no.clone(), order_id: 0 };
        // 100 ms after a failure instead of 50: a restarting service refuses
        // connections, and a tighter loop would only add noise to its start.
        let Ok(p) = c.payments.query_payment(authed(q, &setup.token)?).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let p = p.into_inner().payment.context("QueryPayment returned no payment")?;
        // Three reads per poll, one after the other: a step can appear one poll late
        // relative to another store's, which is why the timeline's gaps read as "about"
        // and only the order of the steps as "must".
        let o = c.orders.get_order(authed(GetOrderRequest { order_id: order.id }, &setup.token)?);
        let o = o.await?.into_inner().order.context("GetOrder returned no order")?;
        let s = c.stock(setup.book).await?;
        if p.status() != seen_pay {
            seen_pay = p.status();
            let what = match seen_pay {
                PaymentStatus::Success => {
                    "支付 SUCCESS：网关回调生效，同一事务写入 outbox 一行".into()
                }
                PaymentStatus::Refunded => {
                    format!("支付 REFUNDED：{}", p.reason.trim_start_matches("refunded: "))
                }
                other => format!("支付 {other:?}"),
            };
            steps.push(step(what));
        }
        if o.status() != seen_order {
            seen_order = o.status();
            steps.push(step(format!(
                "订单 #{} {:?}（relay 带服务凭证调 UpdateOrderStatus）",
                o.id, seen_order
            )));
        }
        // `sold` moving in GetStock is inventory's Redis applying the confirm: the
        // unit the order locked is now sold, one step after the order turned Paid.
        if s.sold != seen_sold {
            steps.push(step(format!("库存 sold {} → {}（locked 确认为已售）", seen_sold, s.sold)));
            seen_sold = s.sold;
        }
        // Set by the relay once order-service accepted the message: the outbox row is
        // delivered and will not be sent again.
        if p.order_notified && !seen_notified {
            seen_notified = true;
            steps.push(step("order_notified = true：outbox 行已投递".into()));
        }
        // "Settled" for a paid scenario needs three facts, not the first one: the payment's
        // outbox row delivered, the order Paid, and the lock gone from inventory — the
        // confirm runs after the Paid commit (or in order-service's sweeper if inventory was
        // slow), so stopping at `Paid` could read `locked + 1` and report a leak that is
        // only a few milliseconds of lag.
        // For the refund, REFUNDED is the last step: the relay writes it only after
        // order-service refused Paid, and the cancel already returned the unit.
        let settled = match scenario {
            Scenario::Refund => seen_pay == PaymentStatus::Refunded,
            _ => p.order_notified && seen_order == OrderStatus::Paid && s.locked == before.locked,
        };
        if settled {
            break (p, o, s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The stock log is written to MySQL from inventory's event stream a moment after the
    // Redis change; give it a second before counting a missing confirm as missing.
    // Up to ten waits of 150 ms (1.5 s in all) for the confirm to reach the log;
    // for the refund (want 0) the first read ends the loop: order-service never asks
    // to confirm a cancelled order, so there is no confirm to wait for.
    let mut confirms = c.confirms(setup.book, order.id).await?;
    let want = usize::from(scenario != Scenario::Refund);
    for _ in 0..10 {
        if confirms >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        confirms = c.confirms(setup.book, order.id).await?;
    }
    let report = Report {
        scenario,
        order_id: order.id,
        payment_no: payment.payment_no,
        amount: payment.amount,
        before,
        after,
        payment_status: pay.status(),
        order_status: ord.status(),
        reason: pay.reason,
        confirms,
        callbacks,
        restart,
        steps,
    };
    let _ = events.send(PaymentsEvent::Finished { run, report: Box::new(report.clone()) });
    Ok(report)
}

// Through the gateway's lab route, not payment-service's gRPC: the route is how a provider
// reaches us in the lab, and it adds the service credential — the lab does not need it.
// All 100 are in flight together (one reqwest client, its pool opens as many connections
// as needed), so they meet inside payment-service at the same moment: the payment's row
// lock in `settle_in` is what makes 99 of them wait and then find "not Pending any more".
// ❌ DON'T fire them one after another to "test idempotence": sequential duplicates pass
// even a check-then-update without a lock; only concurrent ones catch it.
/// Scenario 2: `DUPLICATES` concurrent successful callbacks for one payment, with
/// payment-service's counters read around them.
async fn duplicate_callbacks(
    targets: &PaymentTargets,
    payment_no: &str,
    amount: i64,
) -> anyhow::Result<CallbackCounts> {
    // 15 s per callback: the 99 losers wait on the winner's row lock in turn, and
    // a loaded MariaDB can stretch that queue; a timeout would count as a failed
    // callback and blame the service for the lab's impatience.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    // `None` when the metrics address is unknown or the scrape fails: the counts are then
    // shown as missing rather than as 0, which would read as "no callback took effect".
    // A counter that does not exist yet (a freshly restarted service that has seen no
    // callback) sums to 0, which is the truth.
    let counter = async |changed: &str| -> Option<u64> {
        let m = targets.payment_metrics.as_deref()?;
        let scrape = crate::metrics::scrape(&http, m).await.ok()?;
        Some(scrape.sum("payment_callbacks_total", &[("changed", changed)]) as u64)
    };
    // Read just before the burst and just after: the difference is this scenario's
    // share of a counter that lives as long as the process.
    let (yes0, no0) = (counter("true").await, counter("false").await);
    let url = format!("http://{}/api/v1/payments/{payment_no}/mock-callback", targets.gateway);
    let body = serde_json::json!({ "success": true, "amount": amount });
    // The requests are built first and awaited together by `join_all` below:
    // nothing is sent until then, so none gets a head start.
    let calls = (0..DUPLICATES).map(|_| {
        let req = http.post(&url).json(&body).send();
        async move {
            let r = req.await.ok()?;
            let ok = r.status().is_success();
            let v: serde_json::Value = r.json().await.ok()?;
            (ok && v["payment"]["status"] == "success").then_some(())
        }
    });
    // An answer counts as ok only with HTTP 200 *and* the payment reported as `success`:
    // a duplicate must answer the payment as it is, not an error a retrying provider
    // would read as "try again" (and retry forever).
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| a.is_some()).count();
    let (yes1, no1) = (counter("true").await, counter("false").await);
    // A missing "before" (no callback ever yet) counts as 0; a missing "after" means
    // the scrape failed and the figure is unknown, not zero.
    let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a.unwrap_or(0)));
    Ok(CallbackCounts {
        sent: DUPLICATES,
        ok,
        failed: DUPLICATES - ok,
        changed: delta(yes0, yes1),
        unchanged: delta(no0, no1),
    })
}

// The kill is SIGKILL, the `-9` of the lesson: no shutdown hook runs, no in-flight
// transaction commits, exactly what a power cut or the OOM killer does — a SIGTERM would
// let the service drain and prove less. The pid comes from `stack.json` and is checked
// against `/proc/<pid>/cmdline` first (`is_ours`): a stale record must never kill an
// unrelated process. The restart is `bookstore-lab up` as a child process, the command
// the learner would type: it sees payment-service dead, restarts only it, on its recorded
// port, and waits for its health check. A child process rather than `Supervisor::up` in
// this process because `up` reports progress on stderr, which would scribble over the
// TUI's screen; its output is kept and shown only if it fails.
/// Scenario 3: kill -9 payment-service, wait until it is gone, restart it.
async fn kill_and_restart(
    targets: &PaymentTargets,
    steps: &mut Vec<Step>,
    step: &impl Fn(String) -> Step,
) -> anyhow::Result<(u32, u32)> {
    // Re-read from `stack.json` each time: the second call must see the pid that
    // `up` wrote for the new process.
    let pid_of = || -> anyhow::Result<u32> {
        let state = bookstore_stack::StackState::load(&targets.lab_dir)?.unwrap_or_default();
        let c = state.service("payment").context("payment-service is not in stack.json")?;
        c.pid.context("payment-service is external (no pid): the lab cannot kill it")
    };
    // The supervisor's kill (the `is_ours` check above happens inside), shared with the
    // flash sale's faults and the discovery experiment.
    let pid = bookstore_stack::Supervisor::open(&targets.lab_dir)?.kill_instance("payment")?;
    steps.push(step(format!("kill -9 {pid}（payment-service，网关任务尚未到期）")));
    // Gone first, then `up`: started while the old process still held its port, the new
    // one would fail to bind. A process stuck past the 5 s cap is left to `up`, which
    // refuses to start a second one on the same port and says so.
    super::flash::faults::wait_gone(pid).await;
    steps.push(step(format!("进程 {pid} 已消失：内存里的一切（若有定时器）都随它而去")));
    // `--no-seed` matters here: the seed re-checks thousands of books, seconds that would
    // push the restart past the 3 s window and change what the timeline shows.
    super::flash::faults::up_again(&targets.lab_dir).await?;
    // The new pid from the supervisor's own record, re-read after `up` wrote it: the report
    // then names the process the supervisor will stop at `down`.
    let new_pid = pid_of()?;
    steps.push(step(format!("bookstore-lab up：payment-service 重启（pid {new_pid}，同一端口）")));
    Ok((pid, new_pid))
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

#[cfg(test)]
mod tests {
    use super::*;

    // A report with round numbers (10 available, 5 sold, 15 total) and only the deltas as
    // parameters, so each assertion below reads as the one fact it changes.
    fn report(scenario: Scenario, sold: i64, avail: i64, confirms: usize) -> Report {
        let before = StockView { available: 10, locked: 0, sold: 5, total: 15 };
        let after = StockView { available: 10 + avail, locked: 0, sold: 5 + sold, total: 15 };
        let (payment_status, order_status) = match scenario {
            Scenario::Refund => (PaymentStatus::Refunded, OrderStatus::Cancelled),
            _ => (PaymentStatus::Success, OrderStatus::Paid),
        };
        Report {
            scenario,
            order_id: 1,
            payment_no: "PAY1".into(),
            amount: 5900,
            before,
            after,
            payment_status,
            order_status,
            reason: String::new(),
            confirms,
            callbacks: None,
            restart: None,
            steps: Vec::new(),
        }
    }

    // Proves the verdict fails for each way a payment can go wrong while the statuses look
    // right: a unit sold twice (two confirms), a refund that still sold, a lost lock.
    /// Paid means sold +1 with one confirm; refunded means nothing sold.
    ///
    /// The regressions it catches: a verdict that looked only at the statuses (every case
    /// here has the "right" statuses), one that trusted the counters over the stock log,
    /// and one that forgot the `locked` delta.
    #[test]
    fn verdict_catches_a_double_sale_and_a_refund_that_sold() {
        assert!(report(Scenario::Timeline, 1, -1, 1).verdict().0);
        assert!(!report(Scenario::Duplicates, 2, -2, 2).verdict().0, "sold twice");
        assert!(!report(Scenario::Timeline, 1, -1, 2).verdict().0, "two confirms");
        assert!(report(Scenario::Refund, 0, 0, 0).verdict().0);
        assert!(!report(Scenario::Refund, 1, -1, 1).verdict().0, "refunded but sold");
        let mut leaked = report(Scenario::Crash, 1, -1, 1);
        leaked.after.locked = 1;
        assert!(!leaked.verdict().0, "a unit left locked");
        let mut dup = report(Scenario::Duplicates, 1, -1, 1);
        dup.callbacks = Some(CallbackCounts {
            sent: 100,
            ok: 100,
            failed: 0,
            changed: Some(2),
            unchanged: Some(98),
        });
        assert!(!dup.verdict().0, "two callbacks took effect");
    }
}
