//! One scenario from start to report, as the named steps `run` calls in order: the set-up,
//! the order and its payment, the scenario's fault, the watch, the confirms.

use anyhow::Context as _;
use bookstore_proto::{
    order::{CancelOrderRequest, CreateOrderItem, CreateOrderRequest, Order},
    payment::{CreatePaymentRequest, Payment},
};
use tokio::sync::mpsc;

use super::{
    BOOK_STOCK, PaymentTargets, PaymentsEvent, Scenario, Setup, faults,
    report::{CallbackCounts, Report, Restart, Step},
    watch::{self, Clients},
};
use crate::experiments::orders::{self, authed};

/// Unix milliseconds now, on the lab's wall clock: the unit of every `Step::at_ms`.
// The lab's wall clock, in the same unit as the services' timestamps (`due_at`,
// `created_at`): the timeline mixes both, which is only meaningful because the lab and
// the stack share one machine and one clock. Across machines the steps would carry skew.
// Wall clock rather than a monotonic `Instant` for the same reason (`due_at` is wall
// clock); the price is that an NTP step in the middle of a scenario would shift every
// later step by the correction — loadgen, which compares no service timestamps, uses
// `Instant` and has no such exposure.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A scenario's timeline while it is recorded: every step is stamped against `t0`, sent to
/// the screen at once and kept for the report.
pub(super) struct Timeline<'a> {
    /// The run id every `Step` event carries: the screen drops the steps of a scenario it
    /// has already replaced with a newer key press.
    run: u64,
    /// Borrowed from `run`: a timeline lives exactly as long as one scenario, and the
    /// `Finished` event is sent on the same sender after the timeline is consumed.
    events: &'a mpsc::UnboundedSender<PaymentsEvent>,
    /// Unix milliseconds (see `now_ms`) when the timeline started.
    pub(super) t0: i64,
    /// Every step pushed so far, in the order pushed: moved into the report at the end.
    pub(super) steps: Vec<Step>,
}

impl<'a> Timeline<'a> {
    /// Stamps `t0` now: call it right before the first request the timeline is to time,
    /// since every step's `at_ms` counts from this instant.
    fn start(run: u64, events: &'a mpsc::UnboundedSender<PaymentsEvent>) -> Self {
        Self { run, events, t0: now_ms(), steps: Vec::new() }
    }

    // Sends the step to the screen *and* keeps it for the report: the live timeline and
    // the final one are the same values, stamped once.
    pub(super) fn push(&mut self, what: String) {
        let s = Step { at_ms: now_ms() - self.t0, what };
        let _ = self.events.send(PaymentsEvent::Step { run: self.run, step: s.clone() });
        self.steps.push(s);
    }
}

/// Runs one scenario; makes the shopper and the book first when `setup` is `None`.
///
/// Events, all tagged `run`: `Ready` when a set-up was made (or a sold-out book replaced),
/// the `Step`s as they happen, then `Finished` with the report it also returns. An error
/// sends nothing more, and what was placed stays: a Pending order is expired by
/// order-service's sweeper, its unit released like any unpaid order's.
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
        None => first_setup(run, &targets, &events).await?,
    };
    let mut c = Clients::connect(&targets).await?;
    let setup = in_stock(run, &targets, setup, &mut c, &events).await?;
    // t0 is taken before CreateOrder is sent, so every step's time includes the lab's own
    // round trips: "+3.03 s" for the gateway is 3 s of `due_at` plus CreateOrder and
    // CreatePayment — the learner reads the same clock a customer would.
    let mut timeline = Timeline::start(run, &events);
    // Read before the order, after t0: the reference the verdict's deltas are from.
    // Earlier scenarios' units have long settled, since each waited for its own.
    let before = c.stock(setup.book).await?;
    let (order, payment) = place(&mut c, &setup, &mut timeline).await?;
    let (callbacks, restart) =
        inject(scenario, &targets, &mut c, &setup, &order, &payment, &mut timeline).await?;
    // The watch starts only after `inject` returned: for the crash that is after `up` saw
    // the new process healthy, so the first polls meet a serving payment-service instead
    // of spending the restart in connection refusals.
    let (pay, ord, after) = watch::settle(
        &mut c,
        scenario,
        &setup,
        order.id,
        &payment.payment_no,
        before,
        &mut timeline,
    )
    .await?;
    // After the watch, not inside its loop: the confirm reaches the stock log (MySQL) a
    // moment after the Redis counters `settle` ends on, and one wait here costs less than a
    // log query on every 50 ms poll.
    let confirms = watch::wait_for_confirms(&mut c, scenario, setup.book, order.id).await?;
    // The statuses and `after` are the answers of the poll that ended the watch: the
    // report states what the public API said at the moment it was judged settled.
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
        steps: timeline.steps,
    };
    let _ = events.send(PaymentsEvent::Finished { run, report: Box::new(report.clone()) });
    Ok(report)
}

/// The session's shopper and book, made by the first scenario and announced as `Ready`.
async fn first_setup(
    run: u64,
    targets: &PaymentTargets,
    events: &mpsc::UnboundedSender<PaymentsEvent>,
) -> anyhow::Result<Setup> {
    // One shopper, not the orders experiment's four: the scenarios run one at a time,
    // and every order, payment and query belongs to the same owner — the owner-only
    // rules are then exercised on every call instead of needing a token per order.
    let token = orders::shoppers(&targets.user, 1).await?.remove(0);
    let book = orders::fresh_book(&targets.user, &targets.catalog, BOOK_STOCK).await?;
    let s = Setup { book, token };
    let _ = events.send(PaymentsEvent::Ready { run, setup: s.clone() });
    Ok(s)
}

// A learner who presses the keys many times sells the book out (each paid scenario
// takes one of its 20 units); a sold-out book would make CreateOrder fail with
// FAILED_PRECONDITION and the scenario report an error that is not about payments.
// So an empty book is replaced by a fresh one, announced like the first.
/// The set-up with a book that still has a unit to sell.
async fn in_stock(
    run: u64,
    targets: &PaymentTargets,
    setup: Setup,
    c: &mut Clients,
    events: &mpsc::UnboundedSender<PaymentsEvent>,
) -> anyhow::Result<Setup> {
    // One unit is enough: every scenario orders a quantity of 1.
    if c.stock(setup.book).await?.available >= 1 {
        return Ok(setup);
    }
    let book = orders::fresh_book(&targets.user, &targets.catalog, BOOK_STOCK).await?;
    let s = Setup { book, ..setup };
    let _ = events.send(PaymentsEvent::Ready { run, setup: s.clone() });
    Ok(s)
}

/// CreateOrder for one unit, then CreatePayment for its total: the two calls every
/// scenario starts with.
///
/// Either refusal fails the scenario: `in_stock` made sure of the unit, so a "no" here is
/// not a payments fact. A failed CreatePayment leaves the order Pending for the sweeper.
async fn place(
    c: &mut Clients,
    setup: &Setup,
    timeline: &mut Timeline<'_>,
) -> anyhow::Result<(Order, Payment)> {
    // No idempotency key: each scenario is a new purchase, and a key reused across
    // presses would replay the first scenario's order (already paid) instead.
    let order_req = CreateOrderRequest {
        items: vec![CreateOrderItem { book_id: setup.book, quantity: 1 }],
        ..Default::default()
    };
    let order = c.orders.create_order(authed(order_req, &setup.token)?).await?.into_inner();
    let order = order.order.context("CreateOrder returned no order")?;
    timeline.push(format!(
        "CreateOrder → 订单 #{} Pending，总额 {} 分，锁定 1 件",
        order.id, order.total
    ));

    // The amount is the order's total as order-service stated it; payment-service asks
    // order-service again and refuses anything else (Day 33), so the lab cannot cheat here.
    let pay_req = CreatePaymentRequest { order_id: order.id, amount: order.total };
    // CreatePayment answers after its transaction committed the payment and its
    // `gateway_jobs` row: from here on the gateway's answer no longer depends on this
    // process staying alive — which scenario 3 tests.
    let payment = c.payments.create_payment(authed(pay_req, &setup.token)?).await?.into_inner();
    let payment = payment.payment.context("CreatePayment returned no payment")?;
    timeline.push(format!(
        "CreatePayment → {} PENDING，网关 +{:.1}s 回调",
        payment.payment_no,
        // `due_at` is payment-service's own clock (see `now_ms`): the promise, not a
        // measurement of when it will be kept.
        (payment.due_at - timeline.t0) as f64 / 1000.0
    ));
    Ok((order, payment))
}

/// The scenario's fault, right after CreatePayment answered; what it measured on the way.
///
/// Returns the callback counts (duplicates only) and the restart's pids (crash only);
/// the other scenarios return `None` for both, and their verdict judges only the stock
/// deltas, the statuses and the confirms.
async fn inject(
    scenario: Scenario,
    targets: &PaymentTargets,
    c: &mut Clients,
    setup: &Setup,
    order: &Order,
    payment: &Payment,
    timeline: &mut Timeline<'_>,
) -> anyhow::Result<(Option<CallbackCounts>, Option<Restart>)> {
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
            let counts =
                faults::duplicate_callbacks(targets, &payment.payment_no, payment.amount).await?;
            timeline.push(format!(
                "{} 个 MockCallback 同时到达：{} 个 200，{} 个失败",
                counts.sent, counts.ok, counts.failed
            ));
            callbacks = Some(counts);
        }
        // Killed right after CreatePayment answered — CreatePayment answers only after its
        // transaction committed, so the job row exists and only the process is lost. A kill
        // before the answer would test something else: whether the client retries.
        Scenario::Crash => {
            let (killed, new_pid) = faults::kill_and_restart(targets, timeline).await?;
            restart = Some(Restart { killed_pid: killed, new_pid });
            // The old channel pointed at the dead process's connection; tonic reconnects on
            // its own, but a fresh dial makes the first poll not wait for that.
            *c = Clients::connect(targets).await?;
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
            timeline.push(format!(
                "CancelOrder → 订单 #{} Cancelled，锁定的 1 件回到 available",
                order.id
            ));
        }
    }
    Ok((callbacks, restart))
}
