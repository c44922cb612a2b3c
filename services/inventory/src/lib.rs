//! # inventory-service — stock with Redis + Lua and a MySQL ledger
//!
//! The course's Day 30: sell the last copy of a book exactly once under a thousand
//! concurrent buyers, and never lose track of a unit. Redis answers every request through
//! one Lua script per operation (`lua/*.lua`); each script also appends its change to a
//! Redis stream, which a background syncer applies to MySQL (`inventory`,
//! `inventory_logs`) exactly once. MySQL is the durable ledger an empty Redis is rebuilt
//! from. The contracts are the comments in `proto/bookstore/inventory/v1/inventory.proto`.
//!
//! What it is not: a catalogue (prices and titles live in catalog-service) or an order
//! system (order-service decides *when* to lock, release and confirm; this service makes
//! each of those steps atomic and idempotent).
//!
//! - [`domain`]: validated ids, quantities and item lists; the four counters.
//! - [`error`]: the one error enum and its mapping to gRPC codes.
//! - [`store`]: every Redis command of the service — the key layout, the script calls
//!   (the hot path), and the few plain commands the syncer, sweeper and rebuild need.
//! - [`ledger`]: MySQL's side, one module each: the syncer (stream → MySQL), rebuild,
//!   reconcile, the audit log.
//! - [`sweeper`]: releases reservations whose payment window has passed.
//! - [`api`]: the gRPC handlers.
//! - [`race`]: the course's three strategies (naive, FOR UPDATE, Lua) behind one interface,
//!   for the lab's race and the bench.
//! - [`Settings`], [`run`], [`spawn_in_process`]: configuration and the service's lifecycle.
//!
//! Where to start reading, for Day 30: `lua/decr.lua` (the whole idea in 40 lines), then
//! [`store::StockStore::decr`] (how Rust calls it), [`api`]'s `decr_stock` (the RPC around
//! it), [`race`] (the two SQL strategies it replaces), `tests/race.rs` (the proof), and
//! last [`ledger`] (how the sale reaches MySQL without slowing the sale down).
//!
//! ## The life of one sale
//!
//! Follow `LockStock{order 42, [book 7 × 2]}` through the code:
//!
//! 1. [`api`] parses the request into [`domain::OrderId`] and [`domain::Lines`]. A zero
//!    quantity or a duplicated book stops here, before any store is touched.
//! 2. [`store::StockStore::lock`] sends one `EVALSHA` of `lua/lock.lua` with the keys of
//!    the order record, the pending set, the change stream and book 7's stock hash.
//! 3. Inside Redis, the script checks that the order is new and that book 7 has 2
//!    available, then moves 2 from `avail` to `locked`, writes the order record, queues the
//!    order for the sweeper and appends `{type 1, book 7, -2}` to the stream — one atomic
//!    step: no other client can observe a state in between.
//! 4. The reply goes back to order-service. Total time: one Redis round trip plus gRPC;
//!    MySQL was not on the path.
//! 5. Milliseconds later, [`ledger::Syncer`] reads the stream entry and, in one MySQL
//!    transaction, inserts the `inventory_logs` row, adds the deltas to the `inventory` row,
//!    records the reservation and moves its cursor past the entry. Then it trims the entry.
//! 6. When payment succeeds, `DecrStock{order 42}` runs `lua/settle.lua`: 2 move from
//!    `locked` to `sold`. If nobody pays within the window, [`sweeper`] runs the same script
//!    the other way and the 2 return to `avail`.
//!
//! ## The course's DO / DON'T, and where each lives
//!
//! | DON'T | what goes wrong | DO (here) |
//! |---|---|---|
//! | `GET` stock, compare in the app, `DECRBY` | two buyers read the same "1 left": oversell | check and change in one Lua script (`lua/decr.lua`) |
//! | SELECT, then UPDATE, no lock | the same oversell, in SQL | `SELECT … FOR UPDATE` in a transaction ([`race`]), or Redis |
//! | sell at order creation | unpaid orders hold stock forever | lock, then confirm or release ([`store::Settle`]) |
//! | trust that a request arrives once | a retried lock locks twice | a record per order id, checked inside the script |
//! | write MySQL after the script returns | a crash in between loses the change | emit to a stream inside the script; [`ledger::Syncer`] applies it once |
//! | let the caller say what to give back | a bogus release mints stock | the order record decides what is released |
//! | keys spread over slots | scripts fail on Redis Cluster (CROSSSLOT) | one hash tag, `{<prefix>inv}`, for all keys ([`store`]) |
//! | build key names inside a script | the cluster routes and checks only declared keys | every key in KEYS; the caller reads first, the script re-checks (`tests/cluster.rs`) |
//! | rebuild an empty Redis from every instance at once | a late rebuild overwrites sales made meanwhile | one rebuild under a fenced lock ([`store::RebuildLock`]) |
//!
//! ## Invariants, and what enforces each
//!
//! - **No oversell**: every script checks `avail >= q` for every line before changing any
//!   line, and Redis runs the script alone. Tested with 1,000 concurrent buyers.
//! - **Conservation** (`avail + locked + sold == total`): every script moves units between
//!   fields of one hash, or adds to `avail` and `total` together; no script writes a
//!   field without its counterpart. Tested under a random concurrent workload.
//! - **Idempotence**: the order record / direct-sale marker / restock marker is checked and
//!   written in the same script as the change; per-order records answer retries for
//!   [`store::REPLAY_RETENTION`] (24 h) after they were settled, then expire.
//! - **Nothing lost, nothing doubled**: the stream entry is written with the change; the
//!   syncer's cursor commits with the rows it covers; `inventory_logs` has a UNIQUE event id.
//! - **Rebuildable**: [`ledger::rebuild_if_empty`] runs before the server accepts requests.
//!
//! ## When something dies
//!
//! - *Redis down*: requests fail with UNAVAILABLE (nothing is sold without Redis — the
//!   honest failure; serving from MySQL meanwhile would need a second, slower protocol).
//! - *Redis loses its data*: restart the service; it rebuilds from MySQL, losing at most
//!   the changes not yet synced (see [`ledger::rebuild_if_empty`]). Several instances
//!   restarting together take turns: one rebuilds under the rebuild lock, the others wait
//!   for its ready marker and serve from what it wrote.
//! - *SIGTERM*: the server stops accepting and finishes its in-flight RPCs, then the syncer
//!   drains the stream to its end, so a clean stop leaves MySQL equal to Redis.
//! - *MySQL down*: sales go on; the stream grows in Redis memory until MySQL returns and
//!   the syncer catches up. GetStockLog and Reconcile fail meanwhile.
//! - *The service dies mid-request*: the script either ran entirely or not at all; the
//!   caller's retry (same order id) is answered as a replay or applied once.
//!
//! ## What to watch (the metrics it exports)
//!
//! | metric | what it tells |
//! |---|---|
//! | `inventory_operations_total{op, result}` | per RPC (and the sweeper's `expire`), how each ended: `ok`, `out_of_stock`, `invalid`, `not_found`, `settled`, `syncer_behind`, `error` |
//! | `inventory_stock_units{state}` | units `available`, `locked`, `sold` over all books, refreshed every sweep |
//! | `inventory_ledger_events_applied_total` | changes the syncer wrote to MySQL |
//! | `inventory_ledger_events_malformed_total` | stream entries skipped as unreadable; above zero is a bug to chase |
//!
//! `result="out_of_stock"` climbing in a flash sale is the system working;
//! `result="error"` above zero is an incident. The syncer keeps up while the rate of
//! `…events_applied_total` matches the rate of changing operations; a lasting gap means
//! the stream is growing in Redis memory. `locked` units climbing while confirms stay flat
//! means unpaid orders are holding stock — look at the payment window.
//!
//! ## Try it (with the lab's stack running: `bookstore-lab up`)
//!
//! ```text
//! grpcurl -plaintext -d '{"book_id":7,"quantity":10,"request_id":"r1"}' \
//!   127.0.0.1:9004 bookstore.inventory.v1.InventoryService/IncrStock
//! grpcurl -plaintext -d '{"order_id":42,"items":[{"book_id":7,"quantity":2}]}' \
//!   127.0.0.1:9004 bookstore.inventory.v1.InventoryService/LockStock
//! redis-cli HGETALL '{inv}:stock:7'          # avail 8, locked 2, sold 0, total 10
//! redis-cli HGETALL '{inv}:order:42'         # state locked, at …, b7 2
//! redis-cli XLEN '{inv}:events'              # 0 again once the syncer has caught up
//! mariadb -uroot inventory_db -e 'SELECT * FROM inventory_logs'
//! ```
//!
//! Run the LockStock call twice: the second answer says `"replayed": true` and the hash
//! does not move. Then `redis-cli CLUSTER KEYSLOT '{inv}:stock:7'` and
//! `… '{inv}:order:42'` print the same slot — the hash tag at work.

pub mod api;
pub mod domain;
pub mod error;
pub mod ledger;
pub mod race;
pub mod store;
pub mod sweeper;

use std::time::Duration;

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, run::Bound};
use bookstore_proto::inventory::inventory_service_server::InventoryServiceServer;
use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;

/// The schema of `inventory_db` (compiled in, applied at start). Public so that tests and
/// the race arena migrate their own databases with exactly the service's schema.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/inventory");

/// This service's settings. Env vars: `BOOKSTORE_PAYMENT_WINDOW_SECS=60`, etc.
///
/// Every field has a production-sensible default, so a bare `inventory-service` runs the
/// course's behaviour; the lab shortens the payment window to watch expiry happen live.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// How long an order may hold locked stock before the sweeper releases it. Longer is
    /// kinder to slow payers and harsher on other buyers, who see the book sold out while
    /// it sits in unpaid baskets; order-service uses the same window for its own expiry.
    pub payment_window_secs: u64,
    /// How often the sweeper looks for expired reservations. Expiry is therefore late by
    /// up to this much — fine for a 15-minute window, and cheap (one ZRANGEBYSCORE).
    pub sweep_interval_secs: u64,
    /// Run the ledger syncer in this process. Tests turn it off to drive a syncer of their
    /// own (and kill it part-way); in production every instance runs one.
    pub run_syncer: bool,
    /// Most changes the syncer applies per MySQL transaction. Larger batches mean fewer
    /// commits (each one an fsync), at the cost of a longer transaction per batch.
    pub sync_batch: usize,
    /// MySQL connections (ledger reads and the syncer; the hot path does not use MySQL,
    /// so a small pool is enough — a big one would only hold idle connections open).
    pub mysql_pool_size: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9004, "inventory_db"),
            // The course's 15 minutes to pay.
            payment_window_secs: 900,
            // Expiry at most 5 s late; each sweep is one ZRANGEBYSCORE plus the gauges' snapshot.
            sweep_interval_secs: 5,
            run_syncer: true,
            // ~1 ms of MySQL work per batch; at 20k sales/s that is 20 commits per second.
            sync_batch: 1000,
            mysql_pool_size: 8,
        }
    }
}

impl Settings {
    /// Settings for an in-process instance against the given infrastructure: port 0 (any
    /// free port), no Consul, a database and key prefix of the caller's choosing. Tests and
    /// the bench use it so that nothing they run can touch the lab's own deployment.
    pub fn in_process(mysql_url: &str, redis_url: &str, database: &str, prefix: &str) -> Self {
        let mut s = Settings::default();
        s.common.port = 0;
        // Metrics on port 0 too: tests run in parallel, and each needs its own exporter
        // rather than a fight over the service's fixed port.
        s.common.metrics_port = 0;
        s.common.mysql_url = bookstore_platform::Secret::new(mysql_url);
        s.common.redis_url = bookstore_platform::Secret::new(redis_url);
        s.common.database = database.to_string();
        s.common.redis_prefix = prefix.to_string();
        // Never registered: a test instance in Consul would be handed the lab's real traffic.
        s.common.consul_addr = String::new();
        s
    }

    /// Refuses settings that would start a broken service: a zero window would release
    /// every reservation on the next sweep, a zero interval would spin the sweeper.
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.payment_window_secs > 0, "payment_window_secs must be positive");
        anyhow::ensure!(self.sweep_interval_secs > 0, "sweep_interval_secs must be positive");
        // `Syncer::new` would clamp 0 to 1, but a setting that silently means something else
        // hides the typo; refusing it at start-up names it.
        anyhow::ensure!(self.sync_batch > 0, "sync_batch must be positive");
        Ok(())
    }
}

// The platform's handle, re-exported (as order and payment do): a caller reads
// `bound.grpc` and stops the service without depending on the platform crate itself.
pub use bookstore_platform::run::Spawned;

/// The one in-process start of inventory-service, used by its tests, the catalog's, the
/// gateway's and order's tests and `bench inventory`: [`run`] on a task of the current
/// runtime, returning once it listens. Same code as `main`, but the caller learns the port
/// it got for port 0 and stops the service with the real drain (syncer flush included); a
/// start that fails (MySQL down, a refused setting) is the error, not a hang.
pub async fn spawn_in_process(settings: Settings) -> anyhow::Result<Spawned> {
    bookstore_platform::run::spawn_in_process("inventory-service", |shutdown, on_bound| {
        run(settings, shutdown, on_bound)
    })
    .await
}

/// Connects MySQL (creating and migrating `inventory_db`) and Redis, rebuilds an empty
/// Redis from MySQL, starts the syncer and the sweeper, then serves until `shutdown` and
/// reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    // Order matters here, and each step says why in its own module:
    // 1. MySQL first: the migrations create the ledger tables everything else relies on.
    settings.check()?;
    let common = &settings.common;
    let pool = bookstore_platform::db::connect(
        common.mysql_url.expose(),
        &common.database,
        // At least 2: the syncer holds one connection for a whole batch's transaction, so
        // with a pool of 1 every GetStockLog and Reconcile would queue behind each batch.
        settings.mysql_pool_size.max(2),
        &MIGRATOR,
    )
    .await?;
    // 2. Redis, and the key layout of this deployment (its prefix).
    let redis = bookstore_platform::cache::connect(common.redis_url.expose()).await?;
    let store = store::StockStore::new(redis, store::Keys::new(&common.redis_prefix)?);

    // Before serving: a request answered from a half-filled Redis would call real books
    // unknown (see `ledger::rebuild_if_empty`).
    // DO fail fast: if the rebuild fails, `?` stops the start-up. A service that served
    // with an empty Redis would answer "unknown book" for the whole catalogue.
    ledger::rebuild_if_empty(&store, &pool).await?;

    // 3. The background tasks. The sweeper stops on the shutdown signal; the syncer on a
    // token of its own, fired only once nothing can add to the stream any more (below).
    let sync_stop = Shutdown::new();
    let syncer = settings.run_syncer.then(|| {
        let syncer = ledger::Syncer::new(store.clone(), pool.clone(), settings.sync_batch);
        tokio::spawn(syncer.run(sync_stop.clone()))
    });
    let sweeper = tokio::spawn(sweeper::run(
        store.clone(),
        Duration::from_secs(settings.payment_window_secs),
        Duration::from_secs(settings.sweep_interval_secs),
        shutdown.clone(),
    ));

    // 4. Only now the server: health turns SERVING once every dependency above answered.
    let server = GrpcServer::bind(&common.host, common.port)
        .await?
        .add_service(InventoryServiceServer::new(api::InventoryApi::new(store, pool)));
    let served =
        bookstore_platform::run::serve("inventory-service", common, server, shutdown, on_bound)
            .await;
    // 5. The stop, in the order that loses nothing: `serve` returned, so the listener is
    // closed and every in-flight RPC has finished; then the sweeper, the other writer of
    // the stream, is waited for; only then is the syncer told to stop, and it drains the
    // stream to its end before it returns (see `Syncer::run`). A clean stop thus leaves
    // MySQL equal to Redis. ❌ DON'T stop the syncer on the signal itself: it would drain
    // while RPCs still sell, and their acknowledged changes would wait in Redis for the
    // next start (or be lost with Redis).
    let _ = sweeper.await;
    sync_stop.cancel();
    if let Some(syncer) = syncer {
        let _ = syncer.await;
    }
    served
}
