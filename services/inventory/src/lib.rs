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
//! - [`store`]: the Redis keys and the script calls (the hot path).
//! - [`ledger`]: the syncer (stream → MySQL), rebuild, reconcile, the audit log.
//! - [`sweeper`]: releases reservations whose payment window has passed.
//! - [`api`]: the gRPC handlers.
//! - [`race`]: the course's three strategies (naive, FOR UPDATE, Lua) behind one interface,
//!   for the lab's race and the bench.
//! - [`Settings`], [`run`]: configuration and the service's lifecycle.

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

/// The schema of `inventory_db` (compiled in, applied at start).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/inventory");

/// This service's settings. Env vars: `BOOKSTORE_PAYMENT_WINDOW_SECS=60`, etc.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// How long an order may hold locked stock before the sweeper releases it.
    pub payment_window_secs: u64,
    /// How often the sweeper looks for expired reservations.
    pub sweep_interval_secs: u64,
    /// Run the ledger syncer in this process. Tests turn it off to drive a syncer of their
    /// own (and kill it part-way); in production every instance runs one.
    pub run_syncer: bool,
    /// Most changes the syncer applies per MySQL transaction.
    pub sync_batch: usize,
    /// MySQL connections (ledger reads and the syncer; the hot path does not use MySQL).
    pub mysql_pool_size: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9004, "inventory_db"),
            // The course's 15 minutes to pay.
            payment_window_secs: 900,
            sweep_interval_secs: 5,
            run_syncer: true,
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
        s.common.metrics_port = 0;
        s.common.mysql_url = bookstore_platform::Secret::new(mysql_url);
        s.common.redis_url = bookstore_platform::Secret::new(redis_url);
        s.common.database = database.to_string();
        s.common.redis_prefix = prefix.to_string();
        s.common.consul_addr = String::new();
        s
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.payment_window_secs > 0, "payment_window_secs must be positive");
        anyhow::ensure!(self.sweep_interval_secs > 0, "sweep_interval_secs must be positive");
        anyhow::ensure!(self.sync_batch > 0, "sync_batch must be positive");
        Ok(())
    }
}

/// A service started with [`spawn`]: its gRPC address and a way to stop it.
pub struct Spawned {
    pub grpc: std::net::SocketAddr,
    shutdown: Shutdown,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    /// Stops the service gracefully and waits until it has drained.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.handle.await?
    }
}

/// Runs the service on a task of the current runtime and returns once it listens.
pub async fn spawn(settings: Settings) -> anyhow::Result<Spawned> {
    let shutdown = Shutdown::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(run(settings, shutdown.clone(), move |bound| {
        let _ = tx.send(bound.grpc);
    }));
    match rx.await {
        Ok(grpc) => Ok(Spawned { grpc, shutdown, handle }),
        // The sender was dropped without a call: `run` failed before binding.
        Err(_) => Err(handle.await?.err().unwrap_or_else(|| anyhow::anyhow!("service stopped"))),
    }
}

/// Connects MySQL (creating and migrating `inventory_db`) and Redis, rebuilds an empty
/// Redis from MySQL, starts the syncer and the sweeper, then serves until `shutdown` and
/// reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    settings.check()?;
    let common = &settings.common;
    let pool = bookstore_platform::db::connect(
        common.mysql_url.expose(),
        &common.database,
        settings.mysql_pool_size.max(2),
        &MIGRATOR,
    )
    .await?;
    let redis = bookstore_platform::cache::connect(common.redis_url.expose()).await?;
    let store = store::StockStore::new(redis, store::Keys::new(&common.redis_prefix)?);

    // Before serving: a request answered from a half-filled Redis would call real books
    // unknown (see `ledger::rebuild_if_empty`).
    ledger::rebuild_if_empty(&store, &pool).await?;

    let syncer = settings.run_syncer.then(|| {
        let syncer = ledger::Syncer::new(store.clone(), pool.clone(), settings.sync_batch);
        tokio::spawn(syncer.run(shutdown.clone()))
    });
    tokio::spawn(sweeper::run(
        store.clone(),
        Duration::from_secs(settings.payment_window_secs),
        Duration::from_secs(settings.sweep_interval_secs),
        shutdown.clone(),
    ));

    let server = GrpcServer::bind(&common.host, common.port)
        .await?
        .add_service(InventoryServiceServer::new(api::InventoryApi::new(store, pool)));
    bookstore_platform::run::serve("inventory-service", common, server, shutdown, on_bound).await?;
    // Let the syncer finish the batch it is applying, so a clean stop leaves MySQL
    // caught up to the moment the last request was answered.
    if let Some(syncer) = syncer {
        let _ = syncer.await;
    }
    Ok(())
}
