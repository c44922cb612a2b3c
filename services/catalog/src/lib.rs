//! # catalog-service — the books, served cache-aside from Redis
//!
//! Day 29–30 of the course. Five RPCs (`proto/bookstore/catalog/v1/catalog.proto`):
//! ListBooks, GetBook and SearchBooks are reads, served from Redis when possible;
//! PublishBook (authenticated through user-service) and UpdateStock (internal, for
//! inventory-service) are writes, and each write invalidates exactly what it made stale.
//! The crate also ships the seed catalogue (`catalog-service seed`).
//!
//! What it is not for: stock *accounting*. inventory-service owns the ledger (locks,
//! sales, the no-oversell invariant). The `stock` in every answer is inventory's live
//! figure, read at answer time by [`live_stock`] and never cached with the book — so a
//! sale invalidates nothing here. PublishBook gives a new book its opening stock in
//! inventory (IncrStock, idempotent per book).
//!
//! | module | its one job |
//! |---|---|
//! | [`domain`] | parse and normalise requests (page, sort, keyword, new book, ISBN) |
//! | [`store`] | the `books` table: SQL, LIKE escaping, counted queries |
//! | [`cache`] | Redis cache-aside: keys, TTL + jitter, negative entries, version invalidation |
//! | [`singleflight`] | one database load per key when many requests miss at once |
//! | [`auth`] | ValidateToken calls to user-service, with a timeout |
//! | [`live_stock`] | inventory's live stock over every answer; the opening stock of a publish |
//! | [`stats`] | hit/miss and query counters: Prometheus + per-instance |
//! | [`api`] | the gRPC handlers |
//! | [`seed`] | the deterministic seed catalogue and its idempotent import |
//! | [`error`] | the one error enum and its mapping to `tonic::Status` |
//!
//! ## A read, end to end
//!
//! ```text
//! ListBooks(page 2, price asc, "rust")
//!   │ domain::ListQuery::parse      validate + normalise (size 0→20, cap 100, "  Rust"→"rust")
//!   │ cache: pipeline [GET …:list:version → 42, GET …:list:v42:p2:n20:price:ASC:k=rust]
//!   ├─ hit  → decode protobuf bytes → answer            (one Redis round trip)
//!   └─ miss → singleflight("…v42…p2…")                  (one leader per key)
//!                ├─ GET again (someone may have just filled it)
//!                ├─ store::list → one SELECT … LIMIT 20 OFFSET 20
//!                └─ SET key bytes EX 300±30 → answer; waiters get a copy
//! ```
//!
//! ## A write, end to end
//!
//! ```text
//! UpdateStock(book 7, 42)                           catalog's own record (initial_stock)
//!   │ UPDATE books SET stock = 42 WHERE id = 7      the database first: the source of truth
//!   │ DEL …:book:7                                    the detail entry
//!   │ INCR …:list:version                             every list and search page at once
//!   └ (500 ms later) DEL …:book:7 again               a reader that raced us loses
//! ```
//!
//! ## Where to start reading
//!
//! [`api`] for the flow above, then [`cache`] for the why of every key and TTL, then
//! [`singleflight`]. The tests in `tests/catalog_api.rs` prove each claim against real
//! MariaDB and Redis: they count this instance's SQL statements ([`Stats`]) instead of
//! trusting the design.
//! ## Operating it: what the design assumes about Redis
//!
//! - **Eviction policy.** Every cache entry has a TTL, the list version key has none. Run
//!   Redis with `maxmemory-policy volatile-lru` (or `volatile-ttl`): under memory pressure
//!   it evicts cache entries and never the version key. With `allkeys-lru` the version
//!   could be evicted, restart at 0, and briefly resurrect old list pages.
//! - **Persistence.** Not needed for the cache itself (it refills from MySQL); the only
//!   thing a restart loses that matters is the version number, discussed in [`cache`].
//! - **One Redis, many instances.** Keys carry no instance id, so every catalog instance
//!   shares every entry: one instance's miss fills the cache for all of them.
//!
pub mod api;
pub mod auth;
pub mod cache;
pub mod domain;
pub mod error;
pub mod live_stock;
pub mod seed;
pub mod singleflight;
pub mod stats;
pub mod store;

use std::{sync::Arc, time::Duration};

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, run::Bound};
use bookstore_proto::catalog::catalog_service_server::CatalogServiceServer;
use serde::{Deserialize, Serialize};

pub use error::Error;
pub use seed::seed_catalog;
pub use stats::{Stats, StatsSnapshot};

/// catalog-service settings. Environment: `BOOKSTORE_USER_ADDR`, `BOOKSTORE_INVENTORY_ADDR`, `BOOKSTORE_STOCK_TTL_MS`, `BOOKSTORE_LIST_TTL_SECS`, …
///
/// Examples: `BOOKSTORE_LIST_TTL_SECS=10` makes list expiry visible within a lesson;
/// `BOOKSTORE_NEGATIVE_TTL_SECS=5` shortens the penetration guard for experiments;
/// `BOOKSTORE_REDIS_PREFIX=me:` keeps a second instance's keys apart (tests do this).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// user-service, e.g. `http://127.0.0.1:9001` (the supervisor passes it).
    pub user_addr: String,
    /// Deadline for each call to user-service.
    ///
    /// 3 s by default: a loopback ValidateToken takes ~1 ms, so this only triggers when
    /// user-service is in trouble, and then PublishBook fails with UNAVAILABLE instead of
    /// hanging.
    pub upstream_timeout_ms: u64,
    /// List and search pages: 5 minutes (the course's figure). Lists change whenever any
    /// book is published, so they are the first to go stale if an invalidation is lost.
    pub list_ttl_secs: u64,
    /// One book: 1 hour. Details change rarely and are invalidated precisely by id.
    pub detail_ttl_secs: u64,
    /// "No such id" entries: 1 minute. Long enough to absorb a flood of lookups for
    /// missing ids, short enough that a mistake heals quickly.
    pub negative_ttl_secs: u64,
    /// MySQL pool size. Small on purpose: with the cache in front, MySQL sees only misses.
    ///
    /// Why so few connections: every connection is a thread in MariaDB and memory in both
    /// processes; behind a 95 %+ hit rate and single-flight, the concurrent misses are
    /// few. A pool sized for the *total* request rate would only let a cache outage
    /// hammer MySQL harder.
    pub db_max_connections: u32,
    /// inventory-service, e.g. `http://127.0.0.1:9004`: the live stock of every answer
    /// and the opening stock of a publish (see [`live_stock`]).
    pub inventory_addr: String,
    /// How long a stock figure read from inventory is shown without asking again: 500 ms.
    /// Past it the figure is re-read in the background, past twice it before answering:
    /// the "within about a second" the course promises, at ≤ 2 re-reads per book per
    /// second per instance however hot the page. 0: ask on every read.
    pub stock_ttl_ms: u64,
    /// Deadline of one GetStocks: 300 ms. A page waits at most this long for stock before
    /// it is answered with the last known figures.
    pub stock_timeout_ms: u64,
}

/// The course's port (9002) and database (`catalog_db`), and the course's TTLs.
impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9002, "catalog_db"),
            user_addr: "http://127.0.0.1:9001".into(),
            upstream_timeout_ms: 3000,
            list_ttl_secs: 300,
            detail_ttl_secs: 3600,
            negative_ttl_secs: 60,
            db_max_connections: 10,
            inventory_addr: "http://127.0.0.1:9004".into(),
            stock_ttl_ms: 500,
            stock_timeout_ms: 300,
        }
    }
}

/// Connects MySQL (creating and migrating `catalog_db`) and Redis, then serves until
/// `shutdown`, reporting the bound addresses through `on_bound`.
///
/// The order is deliberate: MySQL and Redis are connected *before* the port is bound, so a
/// service whose dependencies are missing fails at start with a clear error instead of
/// answering its first requests with UNAVAILABLE. user-service, by contrast, is only
/// needed by PublishBook, so its client connects lazily (see [`auth`]).
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    run_observed(settings, shutdown, |bound, _| on_bound(bound)).await
}

/// [`run`], also handing out this instance's [`Stats`] — what the tests and the bench
/// use to count database queries and cache hits of *this* instance.
///
/// "Observed" because the caller gets to observe the instance from the inside: `main.rs`
/// has no use for it, the tests and `bookstore-lab bench catalog` do.
pub async fn run_observed(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound, Arc<Stats>),
) -> anyhow::Result<()> {
    let pool = bookstore_platform::db::connect(
        settings.common.mysql_url.expose(),
        &settings.common.database,
        settings.db_max_connections,
        &migrator(),
    )
    .await?;
    // Redis must answer at start, although a running service survives its loss (reads fall
    // back to MySQL, see `api`): starting blind would hide a wrong URL until the first
    // cache outage, when the symptom is MySQL load instead of an error message.
    let redis = bookstore_platform::cache::connect(settings.common.redis_url.expose()).await?;
    // One `Stats` per instance, shared by the store (query counts) and the handlers
    // (hit/miss counts), and handed out through `on_bound` to whoever observes us.
    let stats = Arc::new(Stats::default());
    let cache = cache::Cache::new(redis, &settings.common.redis_prefix, settings.ttls());
    // Both clients dial lazily: a malformed address fails the start here, but a user- or
    // inventory-service that is still starting does not keep catalog from serving reads.
    let users = auth::UserClient::new(
        &settings.user_addr,
        Duration::from_millis(settings.upstream_timeout_ms),
    )?;
    let stock = live_stock::LiveStock::new(
        &settings.inventory_addr,
        Duration::from_millis(settings.stock_ttl_ms),
        Duration::from_millis(settings.stock_timeout_ms),
        stats.clone(),
    )?;
    let api = api::CatalogApi::new(
        store::Store::new(pool, stats.clone()),
        cache,
        users,
        stock,
        stats.clone(),
    );
    let server = GrpcServer::bind(&settings.common.host, settings.common.port)
        .await?
        .add_service(CatalogServiceServer::new(api));
    bookstore_platform::run::serve(
        "catalog-service",
        &settings.common,
        server,
        shutdown,
        move |bound| on_bound(bound, stats),
    )
    .await
}

/// The catalog's migrations (`migrations/catalog`), for the service and the seed command.
///
/// `sqlx::migrate!` embeds the SQL files into the binary at compile time: the service
/// carries its own schema, and a deployed binary can never run against migrations from a
/// different checkout.
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("../../migrations/catalog")
}

impl Settings {
    /// The three TTLs as durations, for the service and for `catalog-service seed` (which
    /// builds a `Cache` only to bump the list version, under the same prefix).
    pub fn ttls(&self) -> cache::Ttls {
        cache::Ttls {
            list: Duration::from_secs(self.list_ttl_secs),
            detail: Duration::from_secs(self.detail_ttl_secs),
            negative: Duration::from_secs(self.negative_ttl_secs),
        }
    }

    /// Settings for an in-process instance (tests, benches, other services' tests): port 0,
    /// no Consul, the given infrastructure, database, key prefix, user- and inventory-service.
    pub fn in_process(
        mysql_url: &str,
        redis_url: &str,
        database: &str,
        prefix: &str,
        user_addr: &str,
        inventory_addr: &str,
    ) -> Self {
        let mut s = Settings::default();
        // Port 0: the OS picks a free port, so parallel tests never collide; the real one
        // comes back through `on_bound`.
        s.common.port = 0;
        s.common.mysql_url = bookstore_platform::Secret::new(mysql_url);
        s.common.redis_url = bookstore_platform::Secret::new(redis_url);
        s.common.database = database.to_string();
        s.common.redis_prefix = prefix.to_string();
        // No Consul: a test instance must not register in the lab's Consul, where discovery
        // could send a running lab's traffic to a database that a test is about to drop.
        s.common.consul_addr = String::new();
        s.user_addr = user_addr.to_string();
        s.inventory_addr = inventory_addr.to_string();
        s
    }
}

/// A catalog-service started with [`spawn_in_process`]: the platform's handle (addresses,
/// graceful stop) plus this instance's [`Stats`] — the counters the tests and the bench
/// assert on, which the platform's handle knows nothing about.
pub struct Spawned {
    /// Where it listens, and the stop: the same handle every other service returns.
    pub service: bookstore_platform::run::Spawned,
    /// This instance's counters, not the process-wide Prometheus ones.
    pub stats: Arc<Stats>,
}

impl Spawned {
    /// Stops the service gracefully and waits until it has drained.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.service.stop().await
    }

    /// The shutdown token, for callers that tie the service to a wider lifetime.
    pub fn shutdown(&self) -> Shutdown {
        self.service.shutdown()
    }
}

/// The one in-process start of catalog-service: migrates the database, loads the first
/// `seed` books of the seed catalogue (0: none), runs [`run_observed`] on a task and returns
/// once it listens. Used by catalog's tests, the gateway's and order's tests and the bench,
/// so a new required setting is wired once here instead of in each of them.
pub async fn spawn_in_process(settings: Settings, seed: usize) -> anyhow::Result<Spawned> {
    // Seeded through a short-lived pool of its own, before the service starts: nothing can
    // cache a page of a half-loaded table, and the service's pool stays sized for traffic.
    if seed > 0 {
        let pool = bookstore_platform::db::connect(
            settings.common.mysql_url.expose(),
            &settings.common.database,
            2,
            &migrator(),
        )
        .await?;
        seed_catalog(&pool, seed).await?;
        pool.close().await;
    }
    // The platform's start does the oneshot dance once for all services; the stats ride
    // beside it, sent before `on_bound` fires, so they are there when the start returns.
    let (stats_tx, stats_rx) = tokio::sync::oneshot::channel();
    let service =
        bookstore_platform::run::spawn_in_process("catalog-service", |shutdown, on_bound| {
            run_observed(settings, shutdown, move |bound, stats| {
                let _ = stats_tx.send(stats);
                on_bound(bound);
            })
        })
        .await?;
    let stats =
        stats_rx.await.map_err(|_| anyhow::anyhow!("catalog-service bound without its stats"))?;
    Ok(Spawned { service, stats })
}
