//! Shared test set-up: an inventory-service in-process on port 0, against the real MariaDB
//! and Redis, with a fresh database and a unique key prefix per test.
#![allow(dead_code)] // each test file uses a different part of this module

use bookstore_inventory::{
    Settings, Spawned,
    store::{Keys, StockStore},
};
use bookstore_proto::inventory::{self as pb, inventory_service_client::InventoryServiceClient};
use bookstore_stack::testing::{self, Infra};
use sqlx::MySqlPool;
use tonic::transport::Channel;

pub type Client = InventoryServiceClient<Channel>;

/// A running service and what a test needs to poke at it.
pub struct TestApp {
    pub settings: Settings,
    pub infra: Infra,
    pub client: Client,
    service: Spawned,
}

/// Settings for a fresh deployment: a new database (`t_inv_<random>`) and a new key
/// prefix, so tests running in parallel never see each other's books or orders.
pub async fn fresh_settings() -> (Settings, Infra) {
    let infra = testing::infra();
    let db = infra.fresh_database("inv").await;
    let s =
        Settings::in_process(&infra.mysql_url, &infra.redis_url, &db, &testing::unique_prefix());
    (s, infra)
}

/// Starts a service with `settings` (port 0) and connects a client to it.
pub async fn start(settings: Settings, infra: Infra) -> TestApp {
    let service = bookstore_inventory::spawn(settings.clone()).await.expect("service starts");
    let url = format!("http://{}", service.grpc);
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

    /// A MySQL pool on this service's database.
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

    /// Restocks `book` with `qty` units.
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

    /// Reconcile through the RPC; panics on drift (it waits for the syncer itself).
    pub async fn assert_ledger_matches(&self) -> u64 {
        let r = self
            .client
            .clone()
            .reconcile(pb::ReconcileRequest { book_ids: vec![] })
            .await
            .expect("reconcile")
            .into_inner();
        assert!(r.drifts.is_empty(), "drifts: {:?}", r.drifts);
        r.checked
    }
}

/// Deletes every Redis key of this deployment: FLUSHALL, scoped to this test (a real
/// FLUSHALL would wipe the other tests' and engineers' keys on the shared Redis).
pub async fn flush_redis(settings: &Settings, infra: &Infra) {
    let keys = Keys::new(&settings.common.redis_prefix).unwrap();
    let mut conn = bookstore_platform::cache::connect(&infra.redis_url).await.unwrap();
    // SCAN, not KEYS: KEYS blocks the shared Redis while it walks every key.
    let mut found: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(keys.all_pattern())
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        found.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(!found.is_empty(), "nothing to flush");
    let _: () = redis::cmd("DEL").arg(&found).query_async(&mut conn).await.unwrap();
}

pub fn item(book_id: u64, quantity: i32) -> pb::StockItem {
    pb::StockItem { book_id, quantity }
}

pub fn rand_suffix() -> u64 {
    rand::random::<u64>()
}
