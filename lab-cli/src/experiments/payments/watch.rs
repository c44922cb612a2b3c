//! How a scenario is watched: the clients it polls through, the poll until the payment
//! has settled for good, and the count of confirms in inventory's stock log.

use std::time::Duration;

use anyhow::Context as _;
use bookstore_proto::{
    inventory::{
        GetStockLogRequest, GetStockRequest, StockLogType,
        inventory_service_client::InventoryServiceClient,
    },
    order::{GetOrderRequest, Order, OrderStatus, order_service_client::OrderServiceClient},
    payment::{
        Payment, PaymentStatus, QueryPaymentRequest, payment_service_client::PaymentServiceClient,
    },
};
use tonic::transport::Channel;

use super::{PaymentTargets, Scenario, Setup, run::Timeline};
use crate::experiments::{
    cache::channel,
    orders::{StockView, authed},
};

// Dialled once per scenario rather than once per screen: scenario 3 replaces the
// payment-service process, and a channel kept from before the kill would spend its first
// calls discovering that its connection is dead. Dialling costs a TCP handshake on
// loopback (well under a millisecond) — cheap next to the 3 s every scenario waits.
/// Clients of one scenario, dialled once.
pub(super) struct Clients {
    /// CreateOrder, CancelOrder, GetOrder as the shopper.
    pub(super) orders: OrderServiceClient<Channel>,
    /// CreatePayment and QueryPayment as the shopper; re-dialled after the kill.
    pub(super) payments: PaymentServiceClient<Channel>,
    /// GetStock and GetStockLog: the two witnesses of what was sold.
    pub(super) inventory: InventoryServiceClient<Channel>,
}

impl Clients {
    /// Dials order-, payment- and inventory-service, in that order; the first that does
    /// not answer fails the call.
    // Eager dials (`cache::channel` connects before it returns, 2 s at most each): a stopped
    // service fails the scenario here, before an order is placed, instead of leaving a
    // Pending order and a locked unit behind a failed CreatePayment.
    pub(super) async fn connect(t: &PaymentTargets) -> anyhow::Result<Self> {
        Ok(Self {
            orders: OrderServiceClient::new(channel(&t.order).await?),
            payments: PaymentServiceClient::new(channel(&t.payment).await?),
            inventory: InventoryServiceClient::new(channel(&t.inventory).await?),
        })
    }

    // inventory's Redis counters as GetStock serves them: the same figures a shopper is
    // sold from, so the verdict's deltas are about what customers see, not the ledger.
    pub(super) async fn stock(&mut self, book: u64) -> anyhow::Result<StockView> {
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
        // A confirm is logged as type DECR (one that draws on `locked`), so this order's
        // DECR rows are its confirms; a direct DecrStock under the same order id would
        // count too, but the lab never makes one.
        let decr = StockLogType::Decr as i32;
        Ok(logs.iter().filter(|l| l.order_id == order_id && l.r#type == decr).count())
    }
}

/// Polls until the payment has settled for good (paid, notified and confirmed, or refunded)
/// and returns the last answers of QueryPayment, GetOrder and GetStock.
///
/// `before` must be read before the order was placed: `sold` is announced and `locked` is
/// judged against it. Fails after 60 s, or at the first error of order-service or
/// inventory; payment-service's errors are ridden out, since scenario 3 kills it.
pub(super) async fn settle(
    c: &mut Clients,
    scenario: Scenario,
    setup: &Setup,
    order_id: u64,
    payment_no: &str,
    before: StockView,
    timeline: &mut Timeline<'_>,
) -> anyhow::Result<(Payment, Order, StockView)> {
    // Watch until the payment has settled for good: notified (Paid and confirmed) or
    // refunded. 60 s is far beyond the 3 s gateway plus the relay's backoff (capped at
    // 10 s); only a stuck worker reaches it, and the scenario then fails loudly.
    // Polled every 50 ms over the public RPCs rather than read from payment_db: the lab
    // sees what a client sees (QueryPayment, GetOrder, GetStock), and a step appears at
    // most one poll after it happened. Each change is recorded once, at its first sight,
    // so a status that flickers cannot add two lines.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Seen {
        pay: PaymentStatus::Pending,
        order: OrderStatus::Pending,
        sold: before.sold,
        notified: false,
    };
    // The refund scenario cancelled the order itself and said so; starting from Cancelled
    // keeps the watch from announcing that cancel a second time.
    if scenario == Scenario::Refund {
        seen.order = OrderStatus::Cancelled;
    }
    loop {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "payment {} did not settle within 60 s (status {:?}, order {:?})",
            payment_no,
            seen.pay,
            seen.order
        );
        // Errors while payment-service restarts are expected in scenario 3: keep polling.
        // Order-service and inventory are never killed here, so their errors (`?` below)
        // end the scenario: they are real failures, not the experiment's doing.
        let q = QueryPaymentRequest { payment_no: payment_no.to_string(), order_id: 0 };
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
        let o = c.orders.get_order(authed(GetOrderRequest { order_id }, &setup.token)?);
        let o = o.await?.into_inner().order.context("GetOrder returned no order")?;
        let s = c.stock(setup.book).await?;
        // Recorded before the end test: the poll that settles the payment also puts its
        // last change (Paid, sold +1, notified) on the timeline.
        seen.record(&p, &o, &s, timeline);
        if seen.settled(scenario, &p, &s, &before) {
            return Ok((p, o, s));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the watch has put on the timeline so far: each change is recorded once, at its
/// first sight, and compared against on every later poll.
struct Seen {
    /// From QueryPayment: Pending until the gateway's answer lands.
    pay: PaymentStatus,
    /// From GetOrder: Pending until the relay's UpdateOrderStatus (or Cancelled by scenario 4).
    order: OrderStatus,
    /// From GetStock, starting at `before.sold`, so only this scenario's sale is announced.
    sold: i64,
    /// The payment's `order_notified`: the outbox row delivered.
    notified: bool,
}

impl Seen {
    /// Adds a step for every change this poll shows against the last one recorded.
    fn record(&mut self, p: &Payment, o: &Order, s: &StockView, timeline: &mut Timeline<'_>) {
        if p.status() != self.pay {
            self.pay = p.status();
            let what = match self.pay {
                PaymentStatus::Success => {
                    "支付 SUCCESS：网关回调生效，同一事务写入 outbox 一行".into()
                }
                // The service's reason reads `refunded: <why>`; the step already says
                // REFUNDED, so only the why is kept.
                PaymentStatus::Refunded => {
                    format!("支付 REFUNDED：{}", p.reason.trim_start_matches("refunded: "))
                }
                other => format!("支付 {other:?}"),
            };
            timeline.push(what);
        }
        if o.status() != self.order {
            self.order = o.status();
            timeline.push(format!(
                "订单 #{} {:?}（relay 带服务凭证调 UpdateOrderStatus）",
                o.id, self.order
            ));
        }
        // `sold` moving in GetStock is inventory's Redis applying the confirm: the
        // unit the order locked is now sold, one step after the order turned Paid.
        if s.sold != self.sold {
            timeline.push(format!("库存 sold {} → {}（locked 确认为已售）", self.sold, s.sold));
            self.sold = s.sold;
        }
        // Set by the relay once order-service accepted the message: the outbox row is
        // delivered and will not be sent again.
        if p.order_notified && !self.notified {
            self.notified = true;
            timeline.push("order_notified = true：outbox 行已投递".into());
        }
    }

    /// Whether the payment has settled for good, by the scenario's own end condition.
    fn settled(&self, scenario: Scenario, p: &Payment, s: &StockView, before: &StockView) -> bool {
        // "Settled" for a paid scenario needs three facts, not the first one: the payment's
        // outbox row delivered, the order Paid, and the lock gone from inventory — the
        // confirm runs after the Paid commit (or in order-service's sweeper if inventory was
        // slow), so stopping at `Paid` could read `locked + 1` and report a leak that is
        // only a few milliseconds of lag.
        // For the refund, REFUNDED is the last step: the relay writes it only after
        // order-service refused Paid, and the cancel already returned the unit.
        match scenario {
            Scenario::Refund => self.pay == PaymentStatus::Refunded,
            _ => p.order_notified && self.order == OrderStatus::Paid && s.locked == before.locked,
        }
    }
}

/// This order's confirms in the stock log, waited for until the log has caught up.
pub(super) async fn wait_for_confirms(
    c: &mut Clients,
    scenario: Scenario,
    book: u64,
    order_id: u64,
) -> anyhow::Result<usize> {
    // The stock log is written to MySQL from inventory's event stream a moment after the
    // Redis change, so a missing confirm is counted as missing only after up to ten
    // waits of 150 ms (1.5 s in all);
    // for the refund (want 0) the first read ends the loop: order-service never asks
    // to confirm a cancelled order, so there is no confirm to wait for.
    let mut confirms = c.confirms(book, order_id).await?;
    let want = usize::from(scenario != Scenario::Refund);
    for _ in 0..10 {
        if confirms >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        confirms = c.confirms(book, order_id).await?;
    }
    Ok(confirms)
}
