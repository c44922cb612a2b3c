//! The whole call graph order-service needs, in-process against the real MariaDB and Redis
//! (`bookstore_order::graph`): user, catalog (seeded), inventory and order, each on port 0
//! with its own fresh database and key prefix — so tests run in parallel.
//! Everything a test does goes through the real gRPC APIs, as a client would.
//!
//! Two deliberate exceptions, both reads: [`TestStack::order_db`] / [`TestStack::intents`]
//! look at order_db directly (an intent has no RPC, and its absence is the crash-safety
//! claim), and `catalog_db` is written once to change a price, as an operator would —
//! the catalogue has no price-changing RPC.
//!
//! The helpers answer in the proto types and return a `Status` where a test asserts
//! refusals, so each assertion reads as the client-visible behaviour it checks.
#![allow(dead_code)] // each test file uses a different part of this module

use std::time::Duration;

use bookstore_order::{
    Settings,
    graph::{Graph, lazy_channel, url},
};
use bookstore_proto::{
    catalog::{GetBookRequest, catalog_service_client::CatalogServiceClient},
    inventory::{self as inv, inventory_service_client::InventoryServiceClient},
    order::{self as pb, order_service_client::OrderServiceClient},
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use bookstore_stack::testing::{self, Infra};
use tonic::{Request, Status, transport::Channel};

/// The graph's user-service secret; `tests/orders.rs` also signs an expired token with it.
pub const JWT_SECRET: &str = "order-test-secret-at-least-32-bytes-long!";
/// Books loaded into the test catalogue (ids 1..=BOOKS): enough for every test's own
/// books (the highest used is 20, by the crash test), few enough to seed in moments.
pub const BOOKS: usize = 30;

/// A running graph and a client of each of its services, plus what a test needs to start
/// order-service again (as a process in `tests/crash.rs`) on the same database and peers.
pub struct TestStack {
    /// The shared MariaDB and Redis, for direct looks at a database.
    pub infra: Infra,
    /// order-service's settings: its database name, for `order_db` and for the processes.
    pub order_settings: Settings,
    /// The service under test.
    pub orders: OrderServiceClient<Channel>,
    /// For registering shoppers and logging them in: real tokens, never hand-made ones
    /// (except the forged and expired ones `tests/orders.rs` makes on purpose).
    pub users: UserServiceClient<Channel>,
    /// For prices, and for the UpdateStock that invalidates a changed price's cache entry.
    pub catalog: CatalogServiceClient<Channel>,
    /// For stocking books and reading the counters and the ledger, as an operator would.
    pub inventory: InventoryServiceClient<Channel>,
    /// catalog-service's database (tests change a price there, as an operator would — the
    /// catalogue has no RPC that changes a price).
    pub catalog_db: String,
    /// Addresses of the peers, to start a second (or restarted) order-service against.
    pub user_addr: String,
    pub catalog_addr: String,
    pub inventory_addr: String,
    /// Held so the services live as long as the stack; dropping it stops them.
    graph: Graph,
}

/// Starts the four services; `tune` adjusts order-service's settings (a short payment
/// window for the expiry tests, for example).
pub async fn spawn_with(tune: impl FnOnce(&mut Settings)) -> TestStack {
    // The infrastructure `make test` started (MariaDB, Redis), shared by every test; the
    // graph gives this test its own databases and key prefixes on it.
    let infra = testing::infra();
    let graph =
        Graph::spawn(&infra, BOOKS, JWT_SECRET, tune).await.expect("the order graph starts");
    // Lazy clients: building them never fails, and a client of order-service keeps working
    // after `stop_orders` and a restart on the same address (it reconnects on its next call).
    TestStack {
        orders: OrderServiceClient::new(lazy_channel(graph.order)),
        users: UserServiceClient::new(lazy_channel(graph.user)),
        catalog: CatalogServiceClient::new(lazy_channel(graph.catalog)),
        inventory: InventoryServiceClient::new(lazy_channel(graph.inventory)),
        order_settings: graph.order_settings.clone(),
        catalog_db: graph.catalog_db.clone(),
        // As URLs, the form `BOOKSTORE_*_ADDR` takes: what `tests/crash.rs` passes to the
        // order-service processes it starts.
        user_addr: url(graph.user),
        catalog_addr: url(graph.catalog),
        inventory_addr: url(graph.inventory),
        infra,
        graph,
    }
}

/// The graph with order-service's default settings (a 15-minute payment window): for
/// every test whose claim does not depend on a timing.
pub async fn spawn() -> TestStack {
    spawn_with(|_| {}).await
}

impl TestStack {
    /// Registers a fresh user and logs in: their Bearer token, valid for user-service's 2 h
    /// token lifetime, far beyond any test.
    pub async fn shopper(&self) -> String {
        // A unique name per call: a test registers several shoppers in its one user
        // database, and usernames are unique there.
        let username = testing::unique_name("buyer");
        let mut users = self.users.clone();
        // One password for every shopper: each test logs them in once, right here, and the
        // password itself is user-service's concern, tested there.
        users
            .register(RegisterRequest {
                username: username.clone(),
                password: "buyer-password-1".into(),
                email: String::new(),
            })
            .await
            .expect("register");
        users
            .login(LoginRequest { username, password: "buyer-password-1".into() })
            .await
            .expect("login")
            .into_inner()
            .token
    }

    /// Gives `book` `qty` more units in inventory (a fresh request id each call: IncrStock is
    /// idempotent per request id, so reusing one would restock once however often called).
    pub async fn restock(&self, book: u64, qty: i32) {
        // IncrStock both creates a book's stock row (its first restock) and adds to it.
        self.inventory
            .clone()
            .incr_stock(inv::IncrStockRequest {
                book_id: book,
                quantity: qty,
                request_id: format!("restock-{book}-{}", rand::random::<u64>()),
                remark: "test restock".into(),
            })
            .await
            .expect("restock");
    }

    /// The book's counters in inventory, checking conservation on every read: `available +
    /// locked + sold == total` must hold after any order operation, or a unit was created
    /// or lost somewhere between the two services.
    pub async fn stock(&self, book: u64) -> inv::Stock {
        let s = self
            .inventory
            .clone()
            .get_stock(inv::GetStockRequest { book_id: book })
            .await
            .expect("get stock")
            .into_inner()
            .stock
            .unwrap();
        assert_eq!(s.available + s.locked + s.sold, s.total, "conservation broken: {s:?}");
        s
    }

    /// The catalogue's current price of `book`, as GetBook (and so CreateOrder) sees it.
    pub async fn price(&self, book: u64) -> i64 {
        // Through catalog's cache, exactly the read CreateOrder makes: a test that compares
        // an order's price with this one compares like with like.
        self.catalog
            .clone()
            .get_book(GetBookRequest { id: book })
            .await
            .unwrap()
            .into_inner()
            .book
            .unwrap()
            .price
    }

    /// CreateOrder with `token`, the given lines and idempotency key (`""` for none).
    pub async fn create(
        &self,
        token: &str,
        items: &[(u64, i32)],
        key: &str,
    ) -> Result<pb::CreateOrderResponse, Status> {
        self.create_with(token, items, key, None).await
    }

    /// CreateOrder with a lab fault (`x-lab-fault`) as well; the graph's order-service runs
    /// with lab faults on (`Settings::in_process`), so the header is honoured.
    pub async fn create_with(
        &self,
        token: &str,
        items: &[(u64, i32)],
        key: &str,
        fault: Option<&str>,
    ) -> Result<pb::CreateOrderResponse, Status> {
        // The lines exactly as given — duplicates and zeros included — so tests can send the
        // bad baskets the service must refuse.
        let mut req = authed(
            token,
            pb::CreateOrderRequest {
                items: items
                    .iter()
                    .map(|&(book_id, quantity)| pb::CreateOrderItem { book_id, quantity })
                    .collect(),
                idempotency_key: key.to_string(),
            },
        );
        // The header only: whether it is honoured is the service's setting, not the test's.
        if let Some(f) = fault {
            req.metadata_mut().insert("x-lab-fault", f.parse().unwrap());
        }
        self.orders.clone().create_order(req).await.map(|r| r.into_inner())
    }

    /// GetOrder as `token`'s owner.
    pub async fn get(&self, token: &str, id: u64) -> Result<pb::Order, Status> {
        let r = self
            .orders
            .clone()
            .get_order(authed(token, pb::GetOrderRequest { order_id: id }))
            .await?;
        Ok(r.into_inner().order.unwrap())
    }

    /// The first 100 of `token`'s orders, of one status (`Unspecified`: every status).
    pub async fn list(&self, token: &str, status: pb::OrderStatus) -> pb::ListOrdersResponse {
        // 100, the service's cap: enough for every test's orders on one page.
        let req = pb::ListOrdersRequest { page: 1, page_size: 100, status: status as i32 };
        self.orders.clone().list_orders(authed(token, req)).await.expect("list").into_inner()
    }

    /// CancelOrder as `token`'s owner, with the default reason.
    pub async fn cancel(&self, token: &str, id: u64) -> Result<pb::Order, Status> {
        // An empty reason: order-service substitutes "cancelled by user".
        let req = pb::CancelOrderRequest { order_id: id, reason: String::new() };
        Ok(self.orders.clone().cancel_order(authed(token, req)).await?.into_inner().order.unwrap())
    }

    /// UpdateOrderStatus with the service credential (what payment-service sends).
    pub async fn set_status(&self, id: u64, status: pb::OrderStatus) -> Result<pb::Order, Status> {
        let mut req = Request::new(pb::UpdateOrderStatusRequest {
            order_id: id,
            status: status as i32,
            reason: String::new(),
        });
        // The published development token, accepted because the graph runs in development.
        req.metadata_mut()
            .insert("x-service-token", bookstore_order::DEV_SERVICE_TOKEN.parse().unwrap());
        Ok(self.orders.clone().update_order_status(req).await?.into_inner().order.unwrap())
    }

    /// order_db, to look at intents and rows directly: a pool of its own, so the test never
    /// takes a connection from the service under test.
    pub async fn order_db(&self) -> sqlx::MySqlPool {
        sqlx::MySqlPool::connect(&self.infra.database_url(&self.order_settings.common.database))
            .await
            .unwrap()
    }

    /// Rows left in `order_intents` (creations not finished and not yet abandoned). After
    /// any request has answered, this must be 0 unless a crash is being simulated: a
    /// leftover intent means a creation that neither committed nor cleaned up after itself.
    pub async fn intents(&self) -> i64 {
        // A pool per call, closed at once: tests call this a handful of times, and a pool
        // left open would hold connections until the test binary exits.
        let db = self.order_db().await;
        let n =
            sqlx::query_scalar("SELECT COUNT(*) FROM order_intents").fetch_one(&db).await.unwrap();
        db.close().await;
        n
    }

    /// Stops the in-process order-service (gracefully), so that only processes a test starts
    /// work on this order_db — its sweeper included. The rest of the graph keeps running:
    /// the processes need user, catalog and inventory as much as the in-process one did.
    pub async fn stop_orders(&mut self) {
        self.graph.stop_order_service().await.expect("order-service stops cleanly");
    }
}

/// A request with `authorization: Bearer <token>`, as the gateway sends it: the one header
/// every order RPC reads its caller from.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// Polls `check` every 100 ms until it returns true or `within` elapses; then one last
/// check, so a condition that became true at the deadline still counts. For what happens
/// in the background (the sweeper, the ledger's syncer), where a fixed sleep would be
/// either flaky or slow.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check().await
}
