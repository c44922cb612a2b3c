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

use std::time::Duration;

use anyhow::Context as _;
use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use bookstore_proto::{
    catalog::{PublishBookRequest, catalog_service_client::CatalogServiceClient},
    inventory::{
        GetStockLogRequest, GetStockRequest, StockLogType,
        inventory_service_client::InventoryServiceClient,
    },
    order::{
        CancelOrderRequest, CreateOrderItem, CreateOrderRequest, ListOrdersRequest, OrderStatus,
        order_service_client::OrderServiceClient,
    },
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tonic::{Code, transport::Channel};

// The cache experiment's channel (2 s connect, 5 s per request): one definition of how the
// lab dials a service, so a stopped service fails the same way in every experiment.
use super::cache::channel;

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

// Mirrors `bookstore.inventory.v1.Stock` without the book id, so the app's state does not
// depend on the generated proto type (whose fields are prost's and whose `Default` is the
// wire's, not ours).
/// inventory's four counters for one book, as GetStock reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StockView {
    /// Units a new order can lock now.
    pub available: i64,
    /// Units held by orders that are not paid yet (LockStock without its confirm or release).
    pub locked: i64,
    /// Units confirmed by a payment: they never come back to `available`.
    pub sold: i64,
    /// `available + locked + sold` when inventory is right: the one number no order moves.
    pub total: i64,
}

// Only what the screen and the keys need: the id to cancel, the owner's index (a cancel
// must carry the owner's token — anyone else's gets NOT_FOUND, the service's owner-only
// rule), the units it holds of *this* book (for the conservation check) and its deadline.
// The title, price and order number stay in order_db; the screen does not show them.
/// One of this run's Pending orders (what `c` cancels and `e` waits for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingOrder {
    pub id: u64,
    /// Index into the run's tokens: only the owner may cancel it.
    pub shopper: usize,
    /// Units of the run's book in this order.
    pub quantity: i64,
    /// Unix milliseconds, as the proto's `expires_at`.
    pub expires_at: i64,
}

// Milliseconds as `f64` because that is what the header carries (`dur=0.81`): a step of
// 80 µs is real (a cached GetBook), and rounding it to whole milliseconds would draw the
// token check and the lookups as zero-length bars.
/// One step of a CreateOrder's call chain, placed on a time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainStep {
    /// The step's name in the header (`ValidateToken`, `GetBook-<id>`, `claim`, …).
    pub name: String,
    /// Milliseconds after the request started (parallel steps share a start).
    pub start_ms: f64,
    /// The step's own duration, as the service measured it (the header's `dur`).
    pub dur_ms: f64,
}

impl ChainStep {
    /// ValidateToken and the GetBooks: the steps create.rs runs side by side.
    ///
    /// By name, because the header carries no start times (see [`parse_chain`]); a new
    /// parallel step in create.rs needs its name added here.
    pub fn parallel(&self) -> bool {
        self.name == "ValidateToken" || self.name.starts_with("GetBook")
    }

    // Relative on purpose: absolute milliseconds move with the machine's load, the *shape*
    // (which steps overlap, which one dominates) is what the lesson is about. At least one
    // column, so a 0.05 ms step still shows.
    /// The bar's first column and width on an axis `axis` columns wide spanning `total` ms.
    pub fn bar(&self, total: f64, axis: usize) -> (usize, usize) {
        let col = |ms: f64| ((ms / total.max(1e-6)) * axis as f64).round() as usize;
        let start = col(self.start_ms).min(axis.saturating_sub(1));
        (start, col(self.dur_ms).clamp(1, axis - start))
    }
}

// Why the start times can be reconstructed from durations alone: create.rs runs the token
// check and every GetBook together (`tokio::join!`), and everything after them strictly in
// sequence. So the lookups all start at 0, `claim` starts when the slowest lookup ended,
// and each later step starts where the previous one ended. If the service ever changed
// that shape, this function (not the header) would be what lies — the unit test below
// pins the shape next to the header format it reads.
/// Parses a `server-timing` value (`ValidateToken;dur=0.81, GetBook-7;dur=1.10, …`) into
/// steps on a time axis: ValidateToken and the GetBooks side by side, the rest in a row.
pub fn parse_chain(header: &str) -> Vec<ChainStep> {
    let mut steps = Vec::new();
    let mut lookups_end: f64 = 0.0;
    let mut cursor: Option<f64> = None;
    for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, dur) = match part.split_once(";dur=") {
            Some((n, d)) => (n.trim(), d.trim().parse::<f64>().unwrap_or(0.0)),
            None => (part, 0.0),
        };
        // A part without `;dur=` keeps its place with zero length: the chain's order is
        // the service's, and a malformed entry must not shift the later steps.
        let parallel = ChainStep { name: name.to_string(), start_ms: 0.0, dur_ms: dur }.parallel();
        let start = if parallel {
            // The lookups overlap, so the chain moves on when the slowest one ends.
            lookups_end = lookups_end.max(dur);
            0.0
        } else {
            let s = cursor.unwrap_or(lookups_end);
            cursor = Some(s + dur);
            s
        };
        steps.push(ChainStep { name: name.to_string(), start_ms: start, dur_ms: dur });
    }
    steps
}

/// The end of the chain (ms): what the request cost the service, end to end.
///
/// The handler's steps only, as the service timed them: the network and the client's
/// own overhead are not in it.
pub fn chain_total(steps: &[ChainStep]) -> f64 {
    steps.iter().map(|s| s.start_ms + s.dur_ms).fold(0.0, f64::max)
}

// Two separate facts, judged separately, because they fail for different bugs: the first
// breaks when inventory's counters drift (a Lua script that moves units wrong), the second
// when order-service and inventory disagree (a lock nobody owns — the leak Day 32 is about,
// or an order whose lock was released).
/// The conservation check on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conservation {
    /// `available + locked + sold == total`.
    pub counters_add_up: bool,
    /// `locked ==` the units held by this run's Pending orders.
    pub locks_owned: bool,
    /// The units held by Pending orders (shown next to `locked`).
    pub pending_units: i64,
}

impl Conservation {
    /// The line is green only when both halves hold (the screen shows which one broke).
    pub fn holds(&self) -> bool {
        self.counters_add_up && self.locks_owned
    }
}

/// Judges one sample.
///
/// Exact only because the book is the run's own: every lock on it belongs to an order
/// this run placed, so "locked = pending units" cannot be thrown off by anyone else.
pub fn conservation(stock: &StockView, pending: &[PendingOrder]) -> Conservation {
    // The units the run's Pending orders hold: what inventory's `locked` must be,
    // since no other order ever touches the run's book.
    let pending_units = pending.iter().map(|p| p.quantity).sum();
    Conservation {
        counters_add_up: stock.available + stock.locked + stock.sold == stock.total,
        locks_owned: stock.locked == pending_units,
        pending_units,
    }
}

/// What the runner reports. Every event carries the run id, so the screen can ignore a
/// previous run's watcher that is still winding down.
#[derive(Clone, Debug)]
pub enum OrdersEvent {
    /// Shoppers registered, the fresh book stocked.
    /// The tokens and the book go to the screen so its keys (`f`, `c`) can act
    /// without asking the runner: see the module docs on stateless commands.
    Ready {
        run: u64,
        book: u64,
        tokens: Vec<String>,
    },
    /// The call chain of the first CreateOrder, run alone (an unloaded picture).
    Chain {
        run: u64,
        steps: Vec<ChainStep>,
    },
    /// The burst's live counts: successes = created, rejections = FAILED_PRECONDITION.
    Burst {
        run: u64,
        /// The load engine's running counts, latency histogram included.
        load: Snapshot,
    },
    /// The burst is over (its final snapshot).
    BurstDone {
        run: u64,
        load: Snapshot,
    },
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
    Note {
        run: u64,
        text: String,
    },
    /// Nothing is Pending any more: the watcher stopped.
    Done {
        run: u64,
    },
    Failed {
        run: u64,
        message: String,
    },
}

/// A request with `authorization: Bearer <token>`, as the gateway forwards it. The payments
/// experiment uses it too: CreatePayment and QueryPayment are owner-only (payment-service
/// asks order-service with *this* token), so calling them with a service credential would
/// skip the rule Day 33 teaches.
pub(crate) fn authed<T>(body: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut req = tonic::Request::new(body);
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

/// Wall-clock ms, the unit of the orders' `expires_at` (order_db's clock, same machine).
fn unix_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs setup, the chain, the burst, then watches until no order of the run is Pending
/// (the sweeper expired or the learner cancelled them all), at most ten minutes.
pub async fn run(
    run: u64,
    targets: OrderTargets,
    params: OrderParams,
    events: mpsc::UnboundedSender<OrdersEvent>,
) -> anyhow::Result<()> {
    // Dialled once for the whole run, burst and watch: the watch lasts up to ten
    // minutes, and a tonic channel reconnects on its own if order-service restarts.
    let order_ch = channel(&targets.order).await?;
    let inv_ch = channel(&targets.inventory).await?;
    // At least one shopper and one unit: zero of either would make the run's
    // division of attempts and its conservation check meaningless.
    let tokens = shoppers(&targets.user, params.shoppers.max(1) as usize).await?;
    let book = fresh_book(&targets.user, &targets.catalog, params.stock.max(1)).await?;
    let _ = events.send(OrdersEvent::Ready { run, book, tokens: tokens.clone() });

    // One order alone first: under the burst every step would include queueing behind the
    // other 19, and the chain would show contention instead of the shape of the call.
    let mut orders = OrderServiceClient::new(order_ch.clone());
    // It takes one unit too: the burst then meets `stock − 1`, and its `created` is
    // one less than the stock — the first order is counted in the watch's Pending.
    let first = orders.create_order(authed(one_unit(book), &tokens[0])?).await?;
    let header = first
        .metadata()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        // No header (a service without the timing layer): an empty chain, not a
        // failed run.
        .unwrap_or_default()
        .to_string();
    let _ = events.send(OrdersEvent::Chain { run, steps: parse_chain(&header) });

    // The burst: `attempts` workers, one CreateOrder each, through the one load engine.
    // FAILED_PRECONDITION is inventory's correct "not enough stock" → Rejected, not Failed.
    // A watch channel, not a queue: the forwarder below sends the latest counts each
    // time it wakes, and skips snapshots it was too slow to see instead of falling
    // behind.
    let (tx, mut rx) = watch::channel(Snapshot::default());
    let forward = {
        let events = events.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let load = rx.borrow_and_update().clone();
                let _ = events.send(OrdersEvent::Burst { run, load });
            }
        })
    };
    let n = params.attempts.max(1) as usize;
    // Shared by `Arc`: the closure runs once per request and only reads the list.
    let tokens_for_load = std::sync::Arc::new(tokens.clone());
    let client = orders.clone();
    let load = bookstore_loadgen::run(
        // `n` workers and `n` requests: every request starts at once, one per
        // worker — a burst, not a rate.
        LoadConfig::counted(n, n as u64),
        move |i| {
            let mut client = client.clone();
            // Round robin over the shoppers: several orders per owner, so the
            // watch's per-owner ListOrders sees them all.
            let token = tokens_for_load[i as usize % tokens_for_load.len()].clone();
            async move {
                let Ok(req) = authed(one_unit(book), &token) else { return Outcome::Failed };
                match client.create_order(req).await {
                    Ok(_) => Outcome::Success,
                    Err(s) if s.code() == Code::FailedPrecondition => Outcome::Rejected,
                    // Anything else — UNAVAILABLE, a timeout — is a real error: the
                    // "errors 0" of the module docs.
                    Err(_) => Outcome::Failed,
                }
            }
        },
        Some(tx),
    )
    .await;
    // The forwarder ends when `tx` is dropped with the load engine, so every
    // Burst event is sent before BurstDone.
    let _ = forward.await;
    let _ = events.send(OrdersEvent::BurstDone { run, load });

    // The watch: until nothing is Pending, or ten minutes (far beyond the lab's 2-minute
    // window plus the 2-second sweep, so only a stuck sweeper reaches the cap), or the
    // screen is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while tokio::time::Instant::now() < deadline && !events.is_closed() {
        // The first tick fires at once: the first sample is taken right after the
        // burst, so the screen shows the sold-out stock without waiting a second.
        tick.tick().await;
        // A failed sample ends the run (`?`): the watch has no fault to ride out,
        // and a stack that stops answering is the news.
        let (stock, pending, cancelled) = sample(&order_ch, &inv_ch, &tokens, book).await?;
        // Decided before sending: the last Watch, with nothing Pending and the stock
        // all back, is still shown before the run ends.
        let done = pending.is_empty();
        let _ =
            events.send(OrdersEvent::Watch { run, stock, pending, cancelled, now: unix_now_ms() });
        if done {
            break;
        }
    }
    let _ = events.send(OrdersEvent::Done { run });
    Ok(())
}

// Fresh users per run, not one shared lab account: each run's ListOrders then returns
// exactly that run's orders, so no filtering by time is needed, and a learner's own curl
// orders (as `day31-alice`) never mix into the conservation check.
/// `n` fresh users, registered and logged in at once (each register is an argon2 hash on
/// user-service, so doing them together halves the setup on two cores).
pub(crate) async fn shoppers(user: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let ch = channel(user).await?;
    // Concurrent, over one channel: user-service runs the argon2 hashes in parallel
    // on its blocking pool, up to its own bound on hashes at once.
    let logins = (0..n).map(|_| {
        let mut users = UserServiceClient::new(ch.clone());
        async move {
            let username = bookstore_stack::testing::unique_name("shopper");
            let password = format!("{username}-pw-1234");
            users
                .register(RegisterRequest {
                    username: username.clone(),
                    password: password.clone(),
                    email: format!("{username}@lab.local"),
                })
                .await?;
            let r = users.login(LoginRequest { username, password }).await?;
            anyhow::Ok(r.into_inner().token)
        }
    });
    // All or nothing: the burst deals its orders over every token, and a missing
    // shopper would shift which orders belong to whom.
    futures::future::try_join_all(logins).await.context("register the experiment's shoppers")
}

/// Logs in as the lab's admin account (`admin`, made by every `bookstore-lab up`; see
/// `bookstore_stack::seed::ensure_admin`): publishing needs the admin role, which no
/// shopper's token carries.
pub(crate) async fn admin_token(user: &str) -> anyhow::Result<String> {
    use bookstore_stack::seed::{ADMIN_PASSWORD, ADMIN_USERNAME};
    let mut users = UserServiceClient::new(channel(user).await?);
    let login = LoginRequest { username: ADMIN_USERNAME.into(), password: ADMIN_PASSWORD.into() };
    let r = users.login(login).await.context("log in as the lab's admin (made by `up`)")?;
    Ok(r.into_inner().token)
}

// Published as the lab's admin with its opening stock: PublishBook gives the book its
// units in inventory itself (IncrStock `publish:<id>`), so there is no restock step here.
/// Publishes a new book with `stock` units (in inventory, through the publish); returns its id.
pub(crate) async fn fresh_book(user: &str, catalog: &str, stock: u32) -> anyhow::Result<u64> {
    let token = admin_token(user).await?;
    // A random valid ISBN-13 (978 prefix, computed check digit): catalog
    // rejects malformed ones, and a fixed ISBN would collide with the previous run's.
    let first12: Vec<u8> =
        [9u8, 7, 8].into_iter().chain((0..9).map(|_| rand::rng().random_range(0..10u8))).collect();
    let check = bookstore_catalog::domain::isbn13_check_digit(&first12);
    let isbn: String = first12.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
    let mut cat = CatalogServiceClient::new(channel(catalog).await?);
    let req = PublishBookRequest {
        title: "限量版：订单实验".into(),
        author: "bookstore-lab".into(),
        isbn,
        publisher: "实验室出版社".into(),
        // 59.00 in cents: the payments experiment's amount checks read this total.
        price: 5900,
        // The proto's opening stock is an `i32`; the lab's knobs stay far below it.
        stock: i32::try_from(stock).unwrap_or(i32::MAX),
        description: "Day 31–32 订单实验用书，库存很少".into(),
    };
    let book = cat
        .publish_book(authed(req, &token)?)
        .await
        .context("publish the experiment's book")?
        .into_inner()
        .book
        .ok_or_else(|| anyhow::anyhow!("PublishBook returned no book"))?;
    Ok(book.id)
}

// Orders are read through ListOrders as each owner — the public API — rather than from
// order_db: the experiment must not depend on the service's tables, and reading as the
// owner also exercises the owner-only rule. The cost is one call per shopper and status
// per second (8 with the defaults), negligible next to the burst. GetStock is read
// first: a cancel or an expiry landing between the two reads shows as a momentary
// "locked > pending" (the lock counted, its order already gone from the Pending list)
// for one sample at most, never as a lasting red line.
/// One sample: GetStock, and every shopper's Pending and Cancelled orders of the book.
async fn sample(
    order: &Channel,
    inv: &Channel,
    tokens: &[String],
    book: u64,
) -> anyhow::Result<(StockView, Vec<PendingOrder>, u64)> {
    let s = InventoryServiceClient::new(inv.clone())
        .get_stock(GetStockRequest { book_id: book })
        .await?
        .into_inner()
        .stock
        .unwrap_or_default();
    let stock =
        StockView { available: s.available, locked: s.locked, sold: s.sold, total: s.total };
    let mut pending = Vec::new();
    let mut cancelled = 0;
    let mut client = OrderServiceClient::new(order.clone());
    for (shopper, token) in tokens.iter().enumerate() {
        for status in [OrderStatus::Pending, OrderStatus::Cancelled] {
            // One page of 50: a run makes `attempts + 1` CreateOrders over the shoppers
            // (five or six each with the defaults), and only `stock` become orders.
            let req = ListOrdersRequest { page: 1, page_size: 50, status: status as i32 };
            let list = client.list_orders(authed(req, token)?).await?.into_inner();
            for o in list.orders {
                let quantity: i64 = o
                    .items
                    .iter()
                    .filter(|i| i.book_id == book)
                    .map(|i| i64::from(i.quantity))
                    .sum();
                // Not this run's book (a shopper's order is always of it; the check is for
                // orders placed by hand with the same token).
                if quantity == 0 {
                    continue;
                }
                if status == OrderStatus::Pending {
                    pending.push(PendingOrder {
                        id: o.id,
                        shopper,
                        quantity,
                        expires_at: o.expires_at,
                    });
                } else {
                    cancelled += 1;
                }
            }
        }
    }
    // Oldest first: the head of the list is the next to expire (what `e` counts down to).
    pending.sort_by_key(|p| (p.expires_at, p.id));
    Ok((stock, pending, cancelled))
}

// The proof is read from inventory's own stock log rather than inferred from the counters:
// the lock lasts a few milliseconds, far too short for a 1 Hz sample to catch, but the log
// keeps both movements with the order id that owned them. The log is written to MySQL
// from inventory's event stream, a moment after the Redis change, hence the short poll;
// and only entries newer than the newest one before the request count — an earlier
// cancel also left a LOCK/RELEASE pair, which must not be mistaken for this one.
/// `f`: one CreateOrder with `x-lab-fault: fail-commit`. The lock is taken, the commit
/// fails, the compensation releases it; the note shows both log entries.
pub async fn fail_commit(targets: &OrderTargets, token: &str, book: u64) -> anyhow::Result<String> {
    let mut inv = InventoryServiceClient::new(channel(&targets.inventory).await?);
    let log = async |inv: &mut InventoryServiceClient<Channel>| {
        let r = inv.get_stock_log(GetStockLogRequest { book_id: book, page: 1, page_size: 50 });
        anyhow::Ok(r.await?.into_inner().logs)
    };
    // The log's newest id before the request: the high-water mark the pair must be
    // above (see the comment on this function).
    let before = log(&mut inv).await?.iter().map(|l| l.id).max().unwrap_or(0);
    let mut req = authed(one_unit(book), token)?;
    // Honoured only when order-service runs with `BOOKSTORE_LAB_FAULTS=true`,
    // which the lab's stack sets; a production build ignores the header.
    req.metadata_mut().insert("x-lab-fault", "fail-commit".parse()?);
    let answer = OrderServiceClient::new(channel(&targets.order).await?).create_order(req).await;
    let err = match answer {
        // No fault without the lab's switch: the order is real, holds a unit, and
        // the watch will count it as Pending like any other.
        Ok(_) => anyhow::bail!(
            "the order committed: is order-service running with BOOKSTORE_LAB_FAULTS=true?"
        ),
        Err(s) => s,
    };
    let (lock, release) = (StockLogType::Lock as i32, StockLogType::Release as i32);
    let mut pair = None;
    // Up to 20 × 150 ms = 3 s for both entries to reach MySQL through the syncer.
    for _ in 0..20 {
        let logs: Vec<_> = log(&mut inv).await?.into_iter().filter(|l| l.id > before).collect();
        // The first LOCK and the first RELEASE above the mark, not matched by order
        // id: on the run's own quiet book they are this request's, but an expiry of
        // another order inside the same 3 s would pair with this lock.
        let find = |t: i32| logs.iter().find(|l| l.r#type == t).map(|l| (l.order_id, l.quantity));
        if let (Some(l), Some(r)) = (find(lock), find(release)) {
            pair = Some((l, r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let stock = inv.get_stock(GetStockRequest { book_id: book }).await?.into_inner().stock;
    let available = stock.map_or(0, |s| s.available);
    Ok(match pair {
        Some(((order, locked), (_, released))) => format!(
            "提交失败（{:?}）：#{order} 锁定 {} 件 → 补偿释放 {} 件，available 仍为 {available}",
            err.code(),
            locked.abs(),
            released.abs()
        ),
        // No lock at all: the stock was already gone, LockStock refused before any commit.
        None => format!(
            "下单失败（{:?}）：{}；没有锁定任何库存（先按 c 取消一单腾出库存，再按 f）",
            err.code(),
            err.message()
        ),
    })
}

// The answer is shown as the service returned it: the status comes from the response,
// so a cancel that silently did nothing (an order that had meanwhile expired is already
// Cancelled — cancelling twice is a no-op by contract) still reads "Cancelled", and the
// next sample's counters tell whether the units moved.
/// `c`: cancels one Pending order as its owner; the stock returns at once.
pub async fn cancel(targets: &OrderTargets, token: &str, order_id: u64) -> anyhow::Result<String> {
    let req = CancelOrderRequest { order_id, reason: "cancelled in the lab".into() };
    let order = OrderServiceClient::new(channel(&targets.order).await?)
        .cancel_order(authed(req, token)?)
        .await?
        .into_inner()
        .order
        .ok_or_else(|| anyhow::anyhow!("CancelOrder returned no order"))?;
    Ok(format!("订单 #{} 已取消（{:?}），锁定的库存回到 available", order.id, order.status()))
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

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the shape the call-chain view draws: the token check and the book lookups
    // share the start (they run side by side), claim starts when the *slowest* lookup
    // ended, and the rest follow one another.
    /// Parallel lookups start at 0; the later steps are laid end to end.
    ///
    /// It fails if `claim` starts at the first lookup's end instead of the slowest's
    /// (ValidateToken 0.81 < GetBook 1.10), or if a sequential step is drawn from 0.
    #[test]
    fn chain_puts_lookups_side_by_side_and_the_rest_in_a_row() {
        let s = parse_chain(
            "ValidateToken;dur=0.81, GetBook-7;dur=1.10, claim;dur=0.50, LockStock;dur=0.40, commit;dur=2.00",
        );
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ValidateToken", "GetBook-7", "claim", "LockStock", "commit"]);
        assert_eq!((s[0].start_ms, s[1].start_ms), (0.0, 0.0));
        assert_eq!(s[2].start_ms, 1.10);
        assert!((s[4].start_ms - 2.0).abs() < 1e-9);
        assert!((chain_total(&s) - 4.0).abs() < 1e-9);
        assert!(parse_chain("").is_empty());
    }

    // Proves both halves of the check can fail independently: a lock without an order (the
    // leak) keeps the counters adding up but breaks ownership.
    /// Conservation needs both the counters to add up and every lock to have a Pending order.
    ///
    /// `drift` is the other failure: the counters themselves no longer add up, whatever
    /// the orders say.
    #[test]
    fn conservation_catches_an_orphan_lock() {
        let p = |q| PendingOrder { id: 1, shopper: 0, quantity: q, expires_at: 0 };
        let s = StockView { available: 2, locked: 3, sold: 0, total: 5 };
        assert!(conservation(&s, &[p(1), p(2)]).holds());
        let orphan = conservation(&s, &[p(2)]);
        assert!(orphan.counters_add_up && !orphan.locks_owned && !orphan.holds());
        let drift = StockView { available: 3, ..s };
        assert!(!conservation(&drift, &[p(3)]).counters_add_up);
    }
}
