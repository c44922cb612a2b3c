//! The in-process catalog-service and gateway one bench run measures, and the
//! inventory-service behind catalog's live-stock read.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use bookstore_catalog::{Settings, Stats};
use bookstore_platform::{Secret, Shutdown};

use super::BOOKS;
use crate::bench::BenchOptions;

/// The in-process services of one bench run.
///
/// `cache` is a second `Cache` handle on the service's key prefix. It bumps the list
/// version before a cold round — the same command a write sends, so "cold" reproduces
/// exactly what happens to a live service after a publish — and it is the raw-cache row's
/// reader, so that row times the service's very read path.
pub(super) struct Services {
    /// catalog-service's gRPC address (port 0 → whatever the OS gave).
    pub(super) grpc: SocketAddr,
    /// The gateway's HTTP address.
    pub(super) http: SocketAddr,
    /// The catalog instance's own counters: hits, misses, SQL statements.
    pub(super) stats: Arc<Stats>,
    /// The service's cache, from outside: invalidation and the raw read (see above).
    pub(super) cache: bookstore_catalog::cache::Cache,
    /// One token stops all three servers (inventory, catalog, gateway).
    pub(super) shutdown: Shutdown,
    /// The server tasks, awaited on the way out so nothing outlives the bench.
    pub(super) tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// The database of the bench's inventory-service, named after the catalogue's.
///
/// Derived, not random: `run` drops both by name at the end, and a second random name
/// would have to be carried out of `start` just for the clean-up.
pub(super) fn inventory_db(database: &str) -> String {
    format!("{database}_inv")
}

/// Seeds a fresh database and starts inventory-service, catalog-service and the gateway
/// on port 0.
///
/// inventory-service because every read now lays its live stock over the page (one
/// GetStocks per page per 500 ms, see catalog's `live_stock`): a bench without it would
/// measure failed connects instead of the real read path. It holds no stock, so every
/// book shows 0 — the figure is not what the bench measures, the read's cost is.
/// No user-service: ListBooks needs no authentication, and catalog-service's client for
/// it connects lazily, so it is never dialled. The gateway is given catalog's real
/// address; its user-service address stays the default and is never used by the
/// list route.
pub(super) async fn start(
    opts: &BenchOptions,
    database: &str,
    prefix: &str,
) -> anyhow::Result<Services> {
    let infra = &opts.infra;
    // A pool of 2 for the seeding only, closed right after: the service opens its own
    // pool, and an idle seed pool left open would hold connections through the bench.
    // The same two steps a learner runs by hand (`catalog-service seed`): migrate, then
    // load the deterministic catalogue. Every bench run sees the same 5,000 books.
    let pool = bookstore_platform::db::connect(
        &infra.mysql_url,
        database,
        2,
        &bookstore_catalog::migrator(),
    )
    .await
    .context("create the bench database")?;
    bookstore_catalog::seed_catalog(&pool, BOOKS).await.context("seed the catalogue")?;
    pool.close().await;

    // One shutdown token for all three servers: `run` cancels it once and awaits the
    // tasks, whichever of them is still running.
    let shutdown = Shutdown::new();
    let mut tasks = Vec::new();
    let started = start_servers(opts, database, prefix, &shutdown, &mut tasks).await;
    if started.is_err() {
        // The caller only stops what it is handed, and an error hands it nothing: the
        // servers already running would outlive the bench, holding their ports, pools and
        // the database the caller is about to drop. ❌ DON'T `?` past a started server.
        shutdown.cancel();
        for t in tasks {
            let _ = t.await;
        }
    }
    started
}

/// The body of [`start`]: each server's task goes into `tasks` the moment it is spawned,
/// so [`start`] can stop the ones already running if a later step fails.
async fn start_servers(
    opts: &BenchOptions,
    database: &str,
    prefix: &str,
    shutdown: &Shutdown,
    tasks: &mut Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
) -> anyhow::Result<Services> {
    let infra = &opts.infra;
    // The catalog's Redis prefix for inventory too: inventory's keys sit under its own
    // `{<prefix>inv}` tag, apart from the catalog's, and all of the run's keys start with
    // one recognisable prefix in `redis-cli`.
    let inv = bookstore_inventory::Settings::in_process(
        &infra.mysql_url,
        &infra.redis_url,
        &inventory_db(database),
        prefix,
    );
    // The bound address comes back through a oneshot once the server listens on its
    // port-0 socket: waiting for it is waiting for "ready", and a server that fails
    // before binding drops the sender, which turns into the error below.
    let (tx, rx) = tokio::sync::oneshot::channel();
    tasks.push(tokio::spawn(bookstore_inventory::run(inv, shutdown.clone(), move |b| {
        let _ = tx.send(b.grpc);
    })));
    let inventory_addr = rx.await.context("inventory-service did not start")?;

    // The service's defaults otherwise (TTLs included), so the bench measures the
    // configuration the lab runs, not one tuned for the bench.
    let mut settings =
        Settings { inventory_addr: format!("http://{inventory_addr}"), ..Default::default() };
    settings.common.port = 0;
    settings.common.mysql_url = Secret::new(infra.mysql_url.clone());
    settings.common.redis_url = Secret::new(infra.redis_url.clone());
    settings.common.redis_prefix = prefix.to_string();
    settings.common.database = database.to_string();
    let ttls = bookstore_catalog::cache::Ttls {
        list: std::time::Duration::from_secs(settings.list_ttl_secs),
        detail: std::time::Duration::from_secs(settings.detail_ttl_secs),
        negative: std::time::Duration::from_secs(settings.negative_ttl_secs),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    tasks.push(tokio::spawn(bookstore_catalog::run_observed(
        settings,
        shutdown.clone(),
        move |b, stats| {
            let _ = tx.send((b, stats));
        },
    )));
    // `run_observed` hands out the instance's Stats: the hit rates in the report are read
    // from the same counters the service exports on /metrics, without scraping text.
    // If this (or the gateway below) fails to start, the `?` returns before `Services`
    // exists; the servers already started are in `tasks` by then, and [`start`] cancels
    // `shutdown` and awaits them before it hands the error on.
    let (bound, stats) = rx.await.context("catalog-service did not start")?;

    // The gateway in front of the same catalog instance, so the HTTP rows hit the same
    // cache and their hit rates come from the same counters.
    // Not registered anywhere and left on its default upstreams otherwise: only the list
    // route and `/health` are called, and neither touches user-service.
    let mut gw = bookstore_gateway::Settings::default();
    gw.common.port = 0;
    gw.catalog_addr = format!("http://{}", bound.grpc);
    let (tx, rx) = tokio::sync::oneshot::channel();
    tasks.push(tokio::spawn(bookstore_gateway::run(gw, shutdown.clone(), move |a| {
        let _ = tx.send(a);
    })));
    let http = rx.await.context("gateway did not start")?;

    // A second handle on the same keys: it invalidates before a cold round and reads for
    // the raw-cache row. Its own connection, not the service's: the raw row must not
    // queue behind the service's traffic, nor the service behind it.
    // (Its TTLs are never used: it only ever sends `INCR` and reads.)
    let redis = bookstore_platform::cache::connect(&infra.redis_url).await?;
    let cache = bookstore_catalog::cache::Cache::new(redis, prefix, ttls);
    Ok(Services {
        grpc: bound.grpc,
        http,
        stats,
        cache,
        shutdown: shutdown.clone(),
        // Awaited in this order on the way out; all three got the one cancel already, so
        // the order only decides which join waits first, not who stops first.
        tasks: std::mem::take(tasks),
    })
}
