//! What one payments scenario measured and the verdict on it: the record the screen, the
//! plain output and the live test all judge the same way.

use bookstore_proto::{order::OrderStatus, payment::PaymentStatus};

use super::Scenario;
use crate::experiments::orders::StockView;

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
    /// Always [`DUPLICATES`](super::DUPLICATES): what the other counts are read against.
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
    /// Which scenario ran: it decides the end state `verdict` demands (paid or refunded).
    pub scenario: Scenario,
    /// The scenario's own order (a new one per scenario, no idempotency key).
    pub order_id: u64,
    /// payment-service's public id of the payment: what QueryPayment and the gateway's
    /// mock-callback URL take, and what a learner pastes into grpcurl to follow it.
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
