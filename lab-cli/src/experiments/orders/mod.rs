//! Day 31–32's experiment: concurrent orders on a book with little stock, against the
//! real order-service, and the failure cases that must give the stock back.
//!
//! Everything goes through the running stack's public RPCs — the lab registers shoppers
//! with user-service, publishes a fresh book with catalog-service (whose PublishBook gives
//! it its few units through inventory's `IncrStock`), and then calls order-service's
//! `CreateOrder` exactly as the gateway would. Nothing is simulated: the refusals are
//! inventory's Lua script saying no, the call chain is the service's own `server-timing`
//! metadata.
//!
//! ## The run, step by step (what the screen fills in, top to bottom)
//!
//! ```text
//!  setup    Register+Login × shoppers ─► PublishBook (fresh book; catalog IncrStocks it)
//!  chain    one CreateOrder alone, its `server-timing` parsed into bars
//!  burst    `attempts` CreateOrders at once (bookstore-loadgen), 1 unit each
//!  watch    once a second: GetStock(book) + ListOrders(Pending/Cancelled) per shopper
//! ```
//!
//! A fresh book per run is what makes the conservation check exact: nobody but this run
//! touches it, so `locked` must equal the quantities of *this run's* Pending orders, and
//! `available + locked + sold = total` must hold at every sample. A shared seeded book
//! would mix in the learner's curl orders and the check would flap for no reason.
//!
//! ## Why the actions are stateless commands
//!
//! `f` (a failing commit), `c` (cancel one order) and the expiry watch need the run's book
//! and tokens. The runner sends them to the screen once ([`OrdersEvent::Ready`]) and each
//! key becomes a one-shot task ([`fail_commit`], [`cancel`]) given exactly what it needs —
//! the state stays plain data in `App`, and the watch loop notices every effect on its
//! next sample, whoever caused it (the lab, the sweeper, a curl in another terminal).
//!
//! ## What to expect
//!
//! - burst: `created = stock − 1` (one unit each; the chain's lone first order took one),
//!   `refused = attempts − created`, errors 0. More created than that would be an
//!   oversell — the conservation line turns red.
//! - `f`: CreateOrder fails (UNAVAILABLE, "lab fault: commit failed"); the stock log shows
//!   a LOCK and a RELEASE for the same order id; available is unchanged.
//! - `c`: Pending → Cancelled, locked −1, available +1 at once.
//! - expiry: the lab's window is 120 s; when the countdown hits 0 the sweeper (every 2 s)
//!   cancels the order and the stock returns — driven from order_db, not a timer.
//!
//! ## Reading the numbers (what changes them)
//!
//! - **created is exact, latency is not.** `created = stock` is a correctness property of
//!   inventory's Lua script (check and lock in one atomic step): it holds on any machine,
//!   under any load, every run. The burst's p50/p99 are measurements: on the shared 2-core
//!   machine they move by ±50 % with whatever else runs. Read the first as "must", the
//!   second as "about".
//! - **refusals are cheap but not free.** A refused CreateOrder still pays ValidateToken,
//!   GetBook and the claim (the intent row is written before LockStock, then abandoned):
//!   three round trips and a MySQL write to say "no". That is the price of keying the
//!   lock by a durable order id; a design that locked first and wrote the intent after
//!   would refuse faster — and leak a lock on every crash between the two.
//! - **the burst's latency is queueing.** 20 CreateOrders arrive together and share two
//!   cores with three services and MariaDB, so each one waits for the others; the lone
//!   first order (the call chain) shows what one order costs when nobody is in its way.
//!   Little's law again: latency ≈ concurrent requests ÷ throughput.
//! - **the conservation line samples once a second.** A violation lasting less than a
//!   second (the lock of a failing commit) is invisible to it — which is why `f` proves the
//!   lock and its release from inventory's stock log, not from the counters.
//!
//! The estimate of the lone order's chain and the exercises on this experiment are in
//! `lessons/day32/lesson.md` ("延伸练习"), where the learner reads them.
//!
//! ## Modules
//!
//! - `setup`: fresh shoppers, the admin's token and the run's book (the payments, flash-sale
//!   and cache experiments reuse them).
//! - `run`: [`run`] as named steps — the lone order, the burst, the 1 Hz watch.
//! - `chain`: [`parse_chain`], the `server-timing` header laid out on a time axis.
//! - `conservation`: [`StockView`], [`PendingOrder`] and the check each sample is judged by.
//! - `actions`: the `f` and `c` keys, [`fail_commit`] and [`cancel`].

use bookstore_loadgen::Snapshot;
use bookstore_proto::order::{CreateOrderItem, CreateOrderRequest};

mod actions;
mod chain;
mod conservation;
mod run;
mod setup;

pub use actions::{cancel, fail_commit};
pub use chain::{ChainStep, chain_total, parse_chain};
pub use conservation::{Conservation, PendingOrder, StockView, conservation};
pub use run::run;
pub(crate) use setup::{admin_token, fresh_book, shoppers};

/// The knobs (keys in the TUI, `--stock` / `--buyers` in plain mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderParams {
    /// Units the fresh book gets.
    pub stock: u32,
    /// Registered shoppers; the attempts are dealt to them round robin.
    pub shoppers: u32,
    /// CreateOrders fired at once, one unit each.
    pub attempts: u32,
}

// 5 units against 20 attempts: most are refused, so the refusal path is as visible as
// the success path; 4 shoppers because registering costs an argon2 hash each (~50 ms).
impl Default for OrderParams {
    fn default() -> Self {
        Self { stock: 5, shoppers: 4, attempts: 20 }
    }
}

impl OrderParams {
    /// `库存 5 · 顾客 4 · 并发下单 20`, heading the screen and the plain output.
    pub fn describe(&self) -> String {
        format!("库存 {} · 顾客 {} · 并发下单 {}", self.stock, self.shoppers, self.attempts)
    }
}

// All four are required, unlike the cache experiment's optional user-service: an order
// cannot be placed without a token (user), a price (catalog) or stock (inventory), so a
// missing one is reported before the run starts instead of as 20 failed orders.
/// The stack's addresses the experiment needs (from `stack.json`, see `tui::Context`).
#[derive(Clone, Debug)]
pub struct OrderTargets {
    /// order-service: the burst, the watch's ListOrders, `f` and `c`.
    pub order: String,
    /// inventory-service: GetStock for the counters, GetStockLog for `f`'s proof.
    pub inventory: String,
    /// catalog-service: PublishBook of the run's fresh book (as the lab's admin).
    pub catalog: String,
    /// user-service: the shoppers' registrations and logins, and the admin's login.
    pub user: String,
}

/// What the runner reports. Every event carries the run id, so the screen can ignore a
/// previous run's watcher that is still winding down.
#[derive(Clone, Debug)]
pub enum OrdersEvent {
    /// Shoppers registered, the fresh book stocked.
    /// The tokens and the book go to the screen so its keys (`f`, `c`) can act
    /// without asking the runner: see the module docs on stateless commands.
    Ready { run: u64, book: u64, tokens: Vec<String> },
    /// The call chain of the first CreateOrder, run alone (an unloaded picture).
    Chain { run: u64, steps: Vec<ChainStep> },
    /// The burst's live counts: successes = created, rejections = FAILED_PRECONDITION.
    Burst {
        run: u64,
        /// The load engine's running counts, latency histogram included.
        load: Snapshot,
    },
    /// The burst is over (its final snapshot).
    BurstDone { run: u64, load: Snapshot },
    /// Once a second: the stock, this run's Pending orders, how many were cancelled, and
    /// the sample's clock (unix milliseconds) — the countdown is computed from it, so the
    /// renderer never reads the clock.
    Watch {
        run: u64,
        stock: StockView,
        pending: Vec<PendingOrder>,
        /// This run's Cancelled orders (by the lab, the sweeper, or anyone else).
        cancelled: u64,
        now: i64,
    },
    /// An action's answer (`f`, `c`), as a line for the screen.
    Note { run: u64, text: String },
    /// Nothing is Pending any more: the watcher stopped.
    Done { run: u64 },
    /// The run stopped on an error; the screen shows it in place of the status line and
    /// keeps what earlier events had filled in.
    Failed { run: u64, message: String },
}

/// A request with `authorization: Bearer <token>`, as the gateway forwards it. The payments
/// experiment uses it too: CreatePayment and QueryPayment are owner-only (payment-service
/// asks order-service with *this* token), so calling them with a service credential would
/// skip the rule Day 33 teaches.
pub(crate) fn authed<T>(body: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(body);
    // `?`, not `expect`: a token with a byte that is not visible ASCII cannot be a header
    // value, and the run should report that rather than panic its task.
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(req)
}

/// A CreateOrder for one unit of `book`: one unit per order, so `created` can be
/// compared with the stock one to one.
fn one_unit(book: u64) -> CreateOrderRequest {
    // No idempotency key: every call is a new order (the proto's contract), which is what
    // a burst of distinct shoppers is.
    CreateOrderRequest {
        items: vec![CreateOrderItem { book_id: book, quantity: 1 }],
        ..Default::default()
    }
}

/// The `{{measured:KEY}}` keys an orders run fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 9] = [
    "stock",
    "attempts",
    "created",
    "refused",
    "errors",
    "chain_ms",
    "available",
    "locked",
    "sold",
];

// `chain_ms` is where the single order's last step ended: the wall time of one CreateOrder
// as its `server-timing` tells it, parallel steps counted once (that is the saving Day 31
// measures). The stock figures are the last `GetStock` read, so they include expiries.
/// The orders run's figures: its knobs, the burst's outcome, the chain, the last stock read.
pub fn figures(
    params: &OrderParams,
    burst: &Snapshot,
    chain: &[ChainStep],
    stock: Option<&StockView>,
) -> Vec<(&'static str, String)> {
    // Not `chain_total`, which reads 0.0 for an empty chain: a reveal must say `-` when the
    // lone order never answered, not claim it cost nothing.
    let end = chain
        .iter()
        .map(|s| s.start_ms + s.dur_ms)
        .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
    let st = |f: fn(&StockView) -> i64| stock.map_or("-".into(), |s| f(s).to_string());
    let values = [
        params.stock.to_string(),
        params.attempts.to_string(),
        burst.successes.to_string(),
        burst.rejections.to_string(),
        burst.failures.to_string(),
        end.map_or("-".into(), |e| format!("{e:.1}")),
        st(|s| s.available),
        st(|s| s.locked),
        st(|s| s.sold),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
