//! # order-service — orders: the orchestrator of user, catalog and inventory (Day 31–32)
//!
//! It owns `order_db` and calls three services: user (who is this?), catalog (what does
//! the book cost now?), inventory (hold the units while the buyer pays). The contract is
//! `proto/bookstore/order/v1/order.proto`; the lessons are `lessons/day31` and `lessons/day32`.
//!
//! | module | its one job |
//! |---|---|
//! | [`domain`] | request parsing, the state machine, stock actions owed, totals — no I/O |
//! | [`create`] | CreateOrder's call chain, its compensation ([`create::abandon`]) and lab faults |
//! | [`sweeper`] | what order_db says is left to do: dead creations, expiry, owed stock actions |
//! | [`store`] | order_db's SQL: intents, orders, conditional transitions |
//! | [`peers`] | the clients of user, catalog and inventory, with deadlines and error meaning |
//! | [`api`] | the gRPC handlers and who may call what |
//! | [`error`] | the one error enum and its one mapping to `tonic::Status` |
//! | `graph` | (feature `graph`) this service and its three peers in one process, for tests and benches |
//!
//! The invariants this service keeps (tests in `tests/` attack each):
//! - a lock in inventory belongs to exactly one committed order, or is released — even if
//!   this process is killed between LockStock and the commit (`tests/crash.rs`);
//! - one idempotency key, one order: retries return it, another body is refused;
//! - status changes follow the state machine and cannot both win a race;
//! - every status change's stock work (release, confirm, return) happens exactly once in
//!   effect, however often it is retried.
//!
//! What it is not for: stock accounting (inventory owns available/locked/sold and the
//! no-oversell rule; order-service only asks it to lock, release, confirm and return, by
//! order id), prices (catalog's, copied once per order) and identities (user-service's).
//! order_db holds what only order-service knows: which orders exist, whose they are, what
//! state they are in, and what each still owes inventory.
//!
//! Where to start reading: [`create`] for the call chain and its failure table, then
//! [`store::Store::transition`] for the state machine as a conditional UPDATE, then
//! [`sweeper`] for what finishes on its own. `tests/crash.rs` is the proof that the
//! first two survive a `kill -9`.
//!
//! What it exports on its metrics port (the dashboard and `bench order` read them):
//!
//! | metric | labels | answers |
//! |---|---|---|
//! | `order_operations_total` | `op`, `result` | how many RPCs of each kind, and how they ended |
//! | `orders_created_total` | — | orders actually committed (replays not counted) |
//! | `order_create_step_seconds` | `step` | where a CreateOrder spends its time |
//! | `order_sweeper_total` | `job` | dead creations abandoned, orders expired |
//!
//! Labels are closed sets (ops, result words, step names, job names): no order id, user
//! id or book id ever becomes a label, so the number of series stays fixed.
//!
//! Two instances on one order_db are safe: keys are claimed by unique indexes, status
//! changes are conditional UPDATEs, `abandon` holds the intent's row lock, expiry takes its
//! rows with SKIP LOCKED, and every inventory call is keyed by the order. No step assumes
//! it is the only process — which is also what makes a restart safe.
//!
//! A CreateOrder is: ValidateToken ∥ GetBook×N (one round trip of wall time), the claim
//! (one INSERT), LockStock (one Lua script), the commit (one transaction). What that costs
//! is `bookstore-lab bench order`'s to measure, not this comment's to claim; the
//! `server-timing` metadata of every answer shows the split for that one call.

pub mod api;
pub mod create;
pub mod domain;
pub mod error;
#[cfg(feature = "graph")]
pub mod graph;
pub mod peers;
pub mod store;
pub mod sweeper;

use std::time::Duration;

use bookstore_platform::{CommonSettings, GrpcServer, Secret, Shutdown, run::Bound};
use bookstore_proto::order::order_service_server::OrderServiceServer;
use serde::{Deserialize, Serialize};

pub use error::Error;

// Re-exported so callers of order-service (its tests, the lab) name the development
// credential through this crate, the one whose UpdateOrderStatus accepts it.
pub use bookstore_platform::auth::DEV_SERVICE_TOKEN;

/// order-service settings. Environment: `BOOKSTORE_INVENTORY_ADDR`, `BOOKSTORE_PAYMENT_WINDOW_SECS`, …
///
/// The ones a learner turns in the lab: `payment_window_secs` (to watch an order expire in
/// seconds instead of 15 minutes), `sweep_interval_secs` (how soon the sweeper notices),
/// and `lab_faults` (to make a creation fail or stall on purpose). The rest are for
/// operators, and `Settings::check` refuses the combinations that would be unsafe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// user-service, for ValidateToken on every RPC (the supervisor passes all three peers).
    pub user_addr: String,
    /// catalog-service, for the price and title snapshot of each line.
    pub catalog_addr: String,
    /// inventory-service: LockStock, ReleaseStock, the confirm and IncrStock.
    pub inventory_addr: String,
    /// Deadline of each peer call: ~1 ms on loopback normally, so 3 s fires only when a peer
    /// is in real trouble, and then the order fails fast with UNAVAILABLE. Raising it makes
    /// slow peers look healthy longer and forces `intent_stale_secs` up with it (see
    /// [`Settings::check`]); lowering it below a peer's real p99 turns its slow moments
    /// into failed orders.
    pub upstream_timeout_ms: u64,
    /// How long a Pending order waits for payment: the course's 15 minutes. The lab shortens
    /// it to watch expiry happen. Inventory's own window (its backstop sweeper) must be
    /// longer, or inventory could release a lock that a still-payable order relies on.
    pub payment_window_secs: u64,
    /// How often the sweeper runs (5 s): the bound on how late an expiry or a retried stock
    /// action can be. Shorter costs three small queries per pass; the lab sets 1 s.
    pub sweep_interval_secs: u64,
    /// When an unfinished creation counts as dead (see `sweeper::SweepSettings`): 60 s by
    /// default. The cost of a longer bound is how long a crashed creation's stock stays
    /// locked before the sweeper gives it back; a shorter one risks releasing a live one.
    pub intent_stale_secs: u64,
    /// `x-service-token` that UpdateOrderStatus requires (payment-service has the same).
    /// Refused at start outside development while it is the published default.
    pub service_token: Secret,
    /// Honour `x-lab-fault` metadata (the lab's failure experiments, the crash test). Off by
    /// default: a production endpoint must not let callers choose to fail.
    pub lab_faults: bool,
    /// MySQL connections: each CreateOrder holds one for the claim and one for the commit;
    /// the abandon path holds one across a ReleaseStock call. 20, twice payment's 10: every
    /// order RPC reads or writes order_db, and CreateOrder makes several statements.
    pub db_max_connections: u32,
}

/// The course's port (9003) and database (`order_db`), its peers on 9001/9002/9004, a
/// 15-minute payment window, and production: the development token is refused until an
/// environment is chosen, and lab faults are off.
impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9003, "order_db"),
            user_addr: "http://127.0.0.1:9001".into(),
            catalog_addr: "http://127.0.0.1:9002".into(),
            inventory_addr: "http://127.0.0.1:9004".into(),
            upstream_timeout_ms: 3000,
            payment_window_secs: 900,
            sweep_interval_secs: 5,
            intent_stale_secs: 60,
            service_token: Secret::new(DEV_SERVICE_TOKEN),
            lab_faults: false,
            db_max_connections: 20,
        }
    }
}

impl Settings {
    /// Fails fast on settings that would make the service unsafe.
    ///
    /// The stale-intent bound is the one a learner would not guess: if it were shorter
    /// than a slow-but-alive CreateOrder (three peer deadlines, then the commit), the
    /// sweeper would release the stock of an order that is about to commit — an order
    /// without its lock, which someone else can then buy. ❌ DON'T tune it below that.
    pub fn check(&self) -> anyhow::Result<()> {
        bookstore_platform::auth::refuse_dev_service_token(&self.common, &self.service_token)?;
        // A window of 0 would create orders that are expired on arrival: every payment
        // refused, every order cancelled by the next sweep.
        anyhow::ensure!(self.payment_window_secs > 0, "payment_window_secs must be positive");
        // An interval of 0 would make the sweeper's `interval` panic, and a sweeper that
        // never runs is a crash-safety promise nobody keeps.
        anyhow::ensure!(self.sweep_interval_secs > 0, "sweep_interval_secs must be positive");
        // With the defaults: 60 s against 3 × 3 s + 1 s = 10 s — a wide margin on purpose, so
        // a slow machine's slow commit is never mistaken for a dead process.
        anyhow::ensure!(
            self.intent_stale_secs * 1000 > 3 * self.upstream_timeout_ms + 1000,
            "intent_stale_secs must exceed three upstream deadlines plus a second"
        );
        Ok(())
    }

    /// Settings for an in-process instance (tests, bench): port 0, no Consul, the given
    /// infrastructure, database and peers, lab faults on.
    ///
    /// The timings stay the production ones (15-minute window, 5 s sweeps, 60 s stale
    /// intents); a test that depends on a timing sets it through `Graph::spawn`'s `tune`,
    /// so the test states the number it relies on.
    pub fn in_process(mysql_url: &str, database: &str, peers: peers::PeerAddrs<'_>) -> Self {
        let mut s = Settings::default();
        s.common.port = 0;
        s.common.mysql_url = Secret::new(mysql_url);
        s.common.database = database.to_string();
        s.common.consul_addr = String::new();
        s.user_addr = peers.user.to_string();
        s.catalog_addr = peers.catalog.to_string();
        s.inventory_addr = peers.inventory.to_string();
        // Lab faults on: the lab's failure experiments and the tests send `x-lab-fault`.
        s.lab_faults = true;
        // Tests and benches run with the built-in development credentials, chosen explicitly:
        // the default environment is production, which refuses them.
        s.common.environment = "development".into();
        s
    }
}

/// The schema of `order_db`, compiled into the binary: `order_intents`, `orders` and
/// `order_items` (`migrations/order`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

/// The pool order-service runs on: `order_db` created and migrated, `db_max_connections`
/// wide. Also the order bench's pool, so its insert row queues for a connection exactly
/// as the service's inserts do (a pool sized anywhere else would measure another bound).
pub async fn connect_db(settings: &Settings) -> anyhow::Result<sqlx::MySqlPool> {
    let (common, size) = (&settings.common, settings.db_max_connections);
    bookstore_platform::db::connect(common.mysql_url.expose(), &common.database, size, &MIGRATOR)
        .await
}

/// Connects MySQL (creating and migrating `order_db`), starts the sweeper, serves until
/// `shutdown`, and reports the bound addresses through `on_bound`.
///
/// No Redis: order-service caches nothing. Orders are read by their owner a few times,
/// right after they change — the worst case for a cache (low hit rate, fresh data needed).
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    // Settings first: an unsafe stale-intent bound or the published credential outside
    // development fails in milliseconds, before MySQL is touched.
    settings.check()?;
    let common = &settings.common;
    // One pool for the handlers and the sweeper (`db_max_connections`, 20): an abandon
    // holds one across a ReleaseStock call, so the pool must outnumber those by a margin.
    let store = store::Store::new(connect_db(&settings).await?);
    // One deadline for every peer call, request path and sweeper alike.
    let timeout = Duration::from_millis(settings.upstream_timeout_ms);
    // Lazily connected: order-service starts while its peers are still starting; only
    // requests (and the sweeper's stock calls) need them, and both retry.
    let peers = peers::Peers::new(
        peers::PeerAddrs {
            user: &settings.user_addr,
            catalog: &settings.catalog_addr,
            inventory: &settings.inventory_addr,
        },
        timeout,
    )?;
    // The sweeper starts before the port is bound, so what a previous process left behind
    // (stale intents, expired orders, owed stock actions) is worked off at once on restart.
    tokio::spawn(sweeper::run(
        store.clone(),
        peers.clone(),
        sweeper::SweepSettings {
            interval: Duration::from_secs(settings.sweep_interval_secs),
            intent_stale: Duration::from_secs(settings.intent_stale_secs),
        },
        shutdown.clone(),
    ));
    // The handlers share the sweeper's store and peers: one pool, one set of channels.
    let api = api::OrderApi::new(
        store,
        peers,
        api::Config {
            payment_window_secs: settings.payment_window_secs,
            service_token: settings.service_token.clone(),
            lab_faults: settings.lab_faults,
        },
    );
    // Bound last: health turns SERVING only once MySQL is migrated and the sweeper runs.
    let server = GrpcServer::bind(&common.host, common.port)
        .await?
        .add_service(OrderServiceServer::new(api));
    bookstore_platform::run::serve("order-service", common, server, shutdown, on_bound).await
}

// The platform's handle, re-exported: callers stop order-service without depending on
// the platform crate themselves.
pub use bookstore_platform::run::Spawned;

/// The one in-process start of order-service (tests, the gateway's tests, benches): `run`
/// on a task, returning once it listens, with a handle that stops it gracefully. A start
/// that fails (a refused setting, MySQL down) is returned as the error, not as a hang.
pub async fn spawn_in_process(settings: Settings) -> anyhow::Result<Spawned> {
    bookstore_platform::run::spawn_in_process("order-service", |shutdown, on_bound| {
        run(settings, shutdown, on_bound)
    })
    .await
}
