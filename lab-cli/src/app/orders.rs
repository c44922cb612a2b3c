//! The Day 31–32 orders screen's state, keys and events (the `App` hooks them in).
//!
//! Kept in its own module so the orders experiment adds one screen's worth of logic
//! without growing `app.rs`'s shared match arms: `App` calls [`OrdersState::key`] and
//! [`OrdersState::on_event`], and everything they decide is in this file, testable with
//! no terminal and no stack.
//!
//! Runs are numbered. Enter starts run n+1 while run n's watcher may still be sampling
//! its (now irrelevant) orders for a few seconds; every event carries its run id and an
//! event of another run is dropped — ✅ DO tag asynchronous results with the request that
//! caused them; ❌ DON'T let a late answer of an old request overwrite the new screen.

use bookstore_loadgen::Snapshot;
use ratatui::crossterm::event::KeyCode;

use super::{Command, step};
use crate::experiments::orders::{ChainStep, OrderParams, OrdersEvent, PendingOrder, StockView};

/// Steps for the book's stock and the burst's size: small stock is the point (every
/// refusal is visible), and attempts from "fewer than the stock" to "ten times it".
const STOCK_STEPS: &[u32] = &[1, 2, 3, 5, 10, 20, 50];
const ATTEMPT_STEPS: &[u32] = &[2, 5, 10, 20, 50, 100, 200];

// Plain data only, like every state struct in `app`: tokens are strings, orders are
// copied rows, the clock is a number from the last sample. A test builds any situation —
// five Pending orders, one about to expire — by sending events, and the renderer draws it
// without a network or a clock. The tokens live here (rather than in the runner) because
// the keys need them: `c` must cancel as the order's owner, and the command carries the
// token so the spawned task needs nothing else.
/// The orders screen.
#[derive(Clone, Debug, Default)]
pub struct OrdersState {
    /// Stock and burst size for the *next* run; `s`/`S`/`b`/`B` change it at any time,
    /// a running burst keeps the values it started with.
    pub params: OrderParams,
    /// The run on screen (0: none yet).
    pub run: u64,
    /// Setup, burst or watch of the run on screen still going.
    pub running: bool,
    /// The fresh book of the run, once stocked.
    pub book: Option<u64>,
    /// The run's shoppers' tokens (index = `PendingOrder::shopper`).
    pub tokens: Vec<String>,
    /// The first CreateOrder's steps, run alone before the burst (see `ui::orders`).
    pub chain: Vec<ChainStep>,
    /// The load engine's live counts of the burst; the final snapshot once `burst_done`.
    pub burst: Snapshot,
    /// The burst is over: from here the run only watches, and Enter may start the next.
    pub burst_done: bool,
    /// The latest sample (`None` before the first).
    pub stock: Option<StockView>,
    /// The run's Pending orders, oldest first.
    pub pending: Vec<PendingOrder>,
    /// This run's orders listed as Cancelled in the last sample (by `c` or the sweeper).
    pub cancelled: u64,
    /// The latest sample's clock (unix ms): countdowns are computed from it.
    pub now: i64,
    /// The order `e` is waiting for. `e` sends nothing: expiry is order-service's
    /// sweeper's job, and the lab's part is to watch it happen (the note comes from
    /// `on_event` when the order leaves the Pending list).
    pub awaiting: Option<u64>,
    /// Answers to the learner's actions, newest last.
    pub notes: Vec<String>,
    /// Why the run stopped (a service missing, set-up refused); the status line shows it.
    pub error: Option<String>,
}

// Rounded up so the screen says "1 秒" until the deadline has really passed, and 0 only
// after it — at 0 the learner should expect the sweeper's cancel within one sweep
// interval, not before. Shared by the TUI and the plain output.
/// Whole seconds from `now_ms` to `expires_ms`, rounded up, never negative.
pub fn countdown_secs(expires_ms: i64, now_ms: i64) -> i64 {
    ((expires_ms - now_ms).max(0) + 999) / 1000
}

impl OrdersState {
    /// Seconds until the oldest Pending order expires (never negative: at 0 the sweeper
    /// is due, and the next sample shows it cancelled).
    pub fn countdown(&self) -> Option<i64> {
        self.pending.first().map(|p| countdown_secs(p.expires_at, self.now))
    }

    // The notice is returned rather than written into `App`: this module owns the orders
    // state only, and `App::orders_key` decides where a notice goes (the footer). The same
    // split keeps these functions testable on an `OrdersState` alone.
    /// A key on the orders screen: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        let p = &mut self.params;
        match code {
            KeyCode::Char('s') => p.stock = step(STOCK_STEPS, p.stock, false),
            KeyCode::Char('S') => p.stock = step(STOCK_STEPS, p.stock, true),
            KeyCode::Char('b') => p.attempts = step(ATTEMPT_STEPS, p.attempts, false),
            KeyCode::Char('B') => p.attempts = step(ATTEMPT_STEPS, p.attempts, true),
            // Enter is refused only until the burst is over: after that the old run is just a
            // watcher, and a new run (a new book, new shoppers) cannot disturb it.
            KeyCode::Enter | KeyCode::Char('r') if !self.running || self.burst_done => {
                // A whole new state but the knobs and the run number: the old run's tokens,
                // orders and notes must not leak into the new run's screen, and the run id
                // is what lets `on_event` drop the old watcher's late samples.
                let params = self.params;
                let run = self.run + 1;
                *self = OrdersState { params, run, running: true, ..OrdersState::default() };
                return (vec![Command::StartOrders { run, params }], None);
            }
            KeyCode::Enter | KeyCode::Char('r') => {
                return (Vec::new(), Some("正在下单，请等这一轮抢完".into()));
            }
            // On this run's book, as its first shopper: the lock and its compensating release
            // then show on the same conservation line the learner is watching, and the note
            // quotes both entries of inventory's stock log.
            KeyCode::Char('f') => {
                return match (self.book, self.tokens.first()) {
                    (Some(book), Some(token)) => (
                        vec![Command::OrderFault { run: self.run, token: token.clone(), book }],
                        Some("下一单带 x-lab-fault: fail-commit…".into()),
                    ),
                    _ => (Vec::new(), Some("先按 Enter 开始实验".into())),
                };
            }
            // The newest order, so `e`'s countdown (on the oldest) keeps running.
            KeyCode::Char('c') => {
                let Some(o) = self.pending.last() else {
                    return (Vec::new(), Some("没有待支付的订单可取消".into()));
                };
                // The owner's token: CancelOrder checks that the caller owns the order, and
                // `shopper` indexes the tokens of this same run (the watcher listed the orders
                // with them), so the index is always in range.
                let cmd = Command::CancelOrder {
                    run: self.run,
                    token: self.tokens[o.shopper].clone(),
                    order_id: o.id,
                };
                if self.awaiting == Some(o.id) {
                    self.awaiting = None;
                }
                return (vec![cmd], Some(format!("正在取消订单 #{}…", o.id)));
            }
            KeyCode::Char('e') => {
                let notice = match (self.pending.first(), self.countdown()) {
                    (Some(o), Some(secs)) => {
                        self.awaiting = Some(o.id);
                        format!("不付款：订单 #{} 还有 {secs} 秒过期，之后由 sweeper 取消", o.id)
                    }
                    _ => "没有待支付的订单".into(),
                };
                return (Vec::new(), Some(notice));
            }
            _ => {}
        }
        (Vec::new(), None)
    }

    // Events only record what happened; none of them returns a command. The expiry note is
    // derived here — "the awaited order is no longer Pending" — rather than sent by the
    // runner, because only the screen knows which order the learner chose to wait for.
    /// Folds an event of the experiment into the screen; returns a notice when the
    /// learner should look (an action's answer, the awaited order expiring).
    pub fn on_event(&mut self, e: OrdersEvent) -> Option<String> {
        // Every variant named, no `_` arm: an event added later without a run id does not
        // compile, instead of slipping past the filter below.
        let run = match &e {
            OrdersEvent::Ready { run, .. }
            | OrdersEvent::Chain { run, .. }
            | OrdersEvent::Burst { run, .. }
            | OrdersEvent::BurstDone { run, .. }
            | OrdersEvent::Watch { run, .. }
            | OrdersEvent::Note { run, .. }
            | OrdersEvent::Done { run }
            | OrdersEvent::Failed { run, .. } => *run,
        };
        if run != self.run {
            return None;
        }
        match e {
            OrdersEvent::Ready { book, tokens, .. } => {
                self.book = Some(book);
                self.tokens = tokens;
            }
            OrdersEvent::Chain { steps, .. } => self.chain = steps,
            // Overwritten, not added up: the load engine's snapshot is cumulative, so the
            // latest one is the whole burst so far.
            OrdersEvent::Burst { load, .. } => self.burst = load,
            OrdersEvent::BurstDone { load, .. } => {
                self.burst = load;
                self.burst_done = true;
            }
            OrdersEvent::Watch { stock, pending, cancelled, now, .. } => {
                self.stock = Some(stock);
                self.cancelled = cancelled;
                self.now = now;
                // Gone from the Pending list means expired: nothing in this experiment pays, and
                // `c` on the awaited order already cleared `awaiting` before its cancel landed.
                let gone = self.awaiting.filter(|id| !pending.iter().any(|p| p.id == *id));
                self.pending = pending;
                if let Some(id) = gone {
                    self.awaiting = None;
                    let n =
                        format!("订单 #{id} 已过期，被 sweeper 取消；它锁定的库存回到了 available");
                    self.notes.push(n.clone());
                    return Some(n);
                }
            }
            OrdersEvent::Note { text, .. } => {
                self.notes.push(text.clone());
                return Some(text);
            }
            // The watcher ends once no order of the run is Pending any more (expired or
            // cancelled: nothing here pays), or at its ten-minute bound; the last sample
            // stays on screen.
            OrdersEvent::Done { .. } => self.running = false,
            OrdersEvent::Failed { message, .. } => {
                self.running = false;
                self.error = Some(message);
            }
        }
        None
    }
}
