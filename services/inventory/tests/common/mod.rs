//! Shared test set-up: an inventory-service in-process on port 0, against the real MariaDB
//! and Redis, with a fresh database and a unique key prefix per test.
//!
//! Real servers, because every invariant of this service is about what MariaDB and Redis
//! do under concurrency (a script's atomicity, a row lock, a transaction's rollback): a
//! mock would only test our idea of them. Isolation comes from the fresh names, never from
//! running tests one at a time, so the suite stays parallel and a test that leaks into
//! another's keys fails instead of passing by luck.
//!
//! | invariant | where it is provoked |
//! |---|---|
//! | no oversell | `race.rs`: 1,000 tasks buy one of 100 copies at once, per strategy |
//! | conservation | `flows.rs`: 32 random clients mix every operation while GetStock is sampled |
//! | idempotence | `flows.rs`: every operation sent twice; settles of orders that never locked |
//! | nothing lost or doubled | `durability.rs`: the syncer aborted at random instants mid-burst |
//! | rebuildable | `durability.rs`: every key of the deployment deleted, the service restarted |
//! | bad input changes nothing | `flows.rs`: a table of malformed requests, then the ledger checked |
#![allow(dead_code)] // each test file uses a different part of this module

use bookstore_inventory::{
    Settings, Spawned,
    race::RaceArena,
    store::{Keys, StockStore},
};
use bookstore_proto::inventory::{self as pb, inventory_service_client::InventoryServiceClient};
use bookstore_stack::testing::{self, Infra};
use sqlx::MySqlPool;
use tonic::transport::Channel;

/// The generated gRPC client: cheap to clone (clones share one HTTP/2 connection).
pub type Client = InventoryServiceClient<Channel>;

/// A running service and what a test needs to poke at it.
pub struct TestApp {
    /// What the service was started with: `stop` hands them back, so a restart runs on
    /// the same database and key prefix (the durability tests' "same deployment").
    pub settings: Settings,
    pub infra: Infra,
    pub client: Client,
    /// Private: a test ends the service through [`TestApp::stop`], which waits for the
    /// drain, rather than dropping a handle and racing the next start.
    service: Spawned,
}

/// Settings for a fresh deployment: a new database (`t_inv_<random>`) and a new key
/// prefix, so tests running in parallel never see each other's books or orders.
pub async fn fresh_settings() -> (Settings, Infra) {
    let infra = testing::infra();
    // An empty database: the service's own start-up creates its tables (migrations).
    let db = infra.fresh_database("inv").await;
    let s =
        Settings::in_process(&infra.mysql_url, &infra.redis_url, &db, &testing::unique_prefix());
    (s, infra)
}

/// Starts a service with `settings` (port 0) and connects a client to it.
pub async fn start(settings: Settings, infra: Infra) -> TestApp {
    // `spawn_in_process` runs the real start-up, rebuild-if-empty included: a test that
    // restarts a service on an emptied Redis exercises the same path as a production restart.
    let service =
        bookstore_inventory::spawn_in_process(settings.clone()).await.expect("service starts");
    let url = format!("http://{}", service.bound.grpc);
    // The start returned after the port was bound, so the connect cannot race the bind.
    let client = InventoryServiceClient::connect(url).await.expect("connect");
    TestApp { settings, infra, client, service }
}

/// A fresh service with the default settings.
pub async fn spawn_app() -> TestApp {
    let (s, infra) = fresh_settings().await;
    start(s, infra).await
}

impl TestApp {
    /// Stops the service gracefully (the way SIGTERM would) and waits until it stopped;
    /// returns its settings so the test can start it again on the same data.
    pub async fn stop(self) -> (Settings, Infra) {
        self.service.stop().await.expect("service ran and stopped cleanly");
        (self.settings, self.infra)
    }

    /// The service's gRPC address as `host:port` (for a client written by hand).
    pub fn client_addr(&self) -> String {
        self.service.bound.grpc.to_string()
    }

    /// A MySQL pool on this service's database, for asserting on the ledger directly.
    ///
    /// A new pool on every call, not the service's: a test that aborts tasks using it
    /// (durability.rs) gives each simulated process connections of its own.
    pub async fn pool(&self) -> MySqlPool {
        MySqlPool::connect(&self.infra.database_url(&self.settings.common.database))
            .await
            .expect("pool")
    }

    /// A store on this service's Redis keys (to drive a syncer or sweeper directly).
    pub async fn store(&self) -> StockStore {
        let redis = bookstore_platform::cache::connect(&self.infra.redis_url).await.expect("redis");
        StockStore::new(redis, Keys::new(&self.settings.common.redis_prefix).unwrap())
    }

    /// Restocks `book` with `qty` units through the real RPC, with a fresh request id
    /// each call (so two restocks in one test are two restocks, not a replay).
    pub async fn restock(&self, book: u64, qty: i32) -> pb::Stock {
        self.client
            .clone()
            .incr_stock(pb::IncrStockRequest {
                book_id: book,
                quantity: qty,
                request_id: format!("restock-{book}-{}", rand_suffix()),
                remark: "test restock".into(),
            })
            .await
            .expect("incr")
            .into_inner()
            .stock
            .unwrap()
    }

    /// The book's counters through GetStock (Redis), as any caller would see them.
    ///
    /// Redis's story only; whether MySQL tells the same one is
    /// [`TestApp::assert_ledger_matches`]'s question, so a test can check each on its own.
    pub async fn stock(&self, book: u64) -> pb::Stock {
        self.client
            .clone()
            .get_stock(pb::GetStockRequest { book_id: book })
            .await
            .expect("get")
            .into_inner()
            .stock
            .unwrap()
    }

    /// Reconcile through the RPC: it waits for the syncer (up to 5 s) and compares Redis
    /// with MySQL as of one instant; any drift fails the test with both sides printed.
    /// Returns how many books were compared, so a test can check it was not vacuous.
    pub async fn assert_ledger_matches(&self) -> u64 {
        let r = self
            .client
            .clone()
            // No filter: every book, so a drift in one the test did not think of still fails.
            .reconcile(pb::ReconcileRequest { book_ids: vec![] })
            .await
            .expect("reconcile")
            .into_inner();
        assert!(r.drifts.is_empty(), "drifts: {:?}", r.drifts);
        r.checked
    }
}

/// Deletes every Redis key of this deployment: FLUSHALL, scoped to this test (a real
/// FLUSHALL would wipe the other tests' and engineers' keys on the shared Redis). Uses the
/// race arena's purge (SCAN + UNLINK over the prefix); the arena's connect only re-runs
/// the already-applied migrations on the same database.
pub async fn flush_redis(settings: &Settings, infra: &Infra) {
    let c = &settings.common;
    let arena =
        RaceArena::connect(&infra.mysql_url, &c.database, &infra.redis_url, &c.redis_prefix);
    let removed = arena.await.expect("arena").purge().await.expect("purge");
    // Nothing removed means a wrong prefix, and the "rebuild" that follows would run on an
    // untouched Redis and prove nothing.
    assert!(removed > 0, "nothing to flush");
}

/// A store on the keys of `settings`' deployment over a connection of its own — what a
/// second instance of the service would hold.
pub async fn store_on(settings: &Settings, infra: &Infra) -> StockStore {
    let redis = bookstore_platform::cache::connect(&infra.redis_url).await.expect("redis");
    StockStore::new(redis, Keys::new(&settings.common.redis_prefix).unwrap())
}

/// A request line: `quantity` copies of `book_id`.
pub fn item(book_id: u64, quantity: i32) -> pb::StockItem {
    pb::StockItem { book_id, quantity }
}

/// Random enough to keep request ids unique across a test's restocks.
pub fn rand_suffix() -> u64 {
    rand::random::<u64>()
}
