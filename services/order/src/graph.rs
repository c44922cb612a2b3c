//! order-service with everything it calls, in one process: user-, catalog- (seeded),
//! inventory- and order-service, each through its own one in-process start, on port 0,
//! against the running MariaDB and Redis with fresh databases and key prefixes.
//!
//! Behind the `graph` feature, for the callers that need the whole call graph without the
//! supervisor: order's own tests, the gateway's order tests and `bookstore-lab bench order`.
//! The order-service binary is built without it, so it does not carry three other services.
//!
//! It also holds the two helpers order's and payment's crash tests share — [`Reaper`] for a
//! killed child process and [`lazy_channel`] for clients — so both suites kill and connect
//! the same way; payment's tests already depend on this feature for the graph itself.
//!
//! Why in-process and not the supervisor's processes: a test needs fresh databases and key
//! prefixes and ports chosen by the OS; in-process services give all three, report their
//! bound addresses directly, and stop with the test when an assertion fails. The crash
//! tests are the exception, on purpose: only a process can be killed with -9.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

use bookstore_platform::Shutdown;
use bookstore_stack::testing::{Infra, unique_prefix};
use tonic::transport::{Channel, Endpoint};

use crate::{Settings, Spawned, peers::PeerAddrs};

/// The running graph: every service's gRPC address, and what a caller may need to poke at.
pub struct Graph {
    /// user-service: tokens for the shoppers a test registers.
    pub user: SocketAddr,
    /// catalog-service, seeded with the requested number of books (prices for orders).
    pub catalog: SocketAddr,
    /// inventory-service, empty: a book is orderable once a test has stocked it.
    pub inventory: SocketAddr,
    /// order-service, wired to the three above.
    pub order: SocketAddr,
    /// The settings order-service runs with (its database, for direct looks at order_db, and
    /// the base for a restarted instance in payment's relay test).
    pub order_settings: Settings,
    /// catalog-service's database (a test changes a price there, as an operator would).
    pub catalog_db: String,
    /// Every database the graph created, for callers that clean up (the bench). Tests leave
    /// theirs: `make test` starts from fresh infrastructure anyway, and a failed test's rows
    /// are worth looking at.
    pub databases: Vec<String>,
    /// `Option`s, so each can be stopped alone and `Drop` knows what is still running.
    order_service: Option<Spawned>,
    inventory_service: Option<bookstore_inventory::Spawned>,
    catalog_service: Option<bookstore_catalog::Spawned>,
    /// user-service's shutdown token (its in-process start returns only the addresses).
    users: Shutdown,
}

/// `http://<addr>`, the form every settings field and tonic endpoint takes (plain HTTP/2,
/// as everything on the lab's loopback; TLS would be the deployment's business).
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A channel to `addr` that connects on its first call, so building a test's clients never
/// fails or waits; a server that is not up yet shows as that call's `Unavailable`.
pub fn lazy_channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(url(addr)).expect("an http:// URL of a socket address").connect_lazy()
}

/// A service binary started as a child process by a crash test (order's `tests/crash.rs`,
/// payment's `tests/restart.rs`), killed when the guard drops, so a failed assertion that
/// unwinds past it leaves no stray process holding a port and a database.
pub struct Reaper(Child);

impl Reaper {
    /// Starts `command` (stdout and stderr discarded) under the guard. Discarded, because a
    /// child's log lines would interleave with the test harness's output; when a crash test
    /// fails, rerun the binary by hand with the same variables to see its log.
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map(Self)
    }

    /// kill -9 and reap: the process gets no chance to run shutdown hooks or compensation of
    /// its own, which is what the crash tests need. `Child::kill` is SIGKILL on Unix; there
    /// is no graceful variant hiding behind it.
    pub fn kill_9(&mut self) {
        self.0.kill().expect("kill -9 failed");
        self.0.wait().expect("reaped");
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Every service here is the real one, started the way its own tests start it; nothing in
// the graph is a stub, so a test through it exercises the production code paths.
impl Graph {
    /// Starts the graph with `books` seed books in the catalogue and the user JWT secret
    /// `jwt_secret`; `tune` adjusts order-service's settings before it starts (a short
    /// payment window for an expiry test, for example).
    ///
    /// Any service failing to start fails the whole graph with its error (a bad secret,
    /// MySQL down), instead of leaving the caller to time out waiting for an address.
    pub async fn spawn(
        infra: &Infra,
        books: usize,
        jwt_secret: &str,
        tune: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        // Started in call order, each with the previous one's real address: user first
        // (catalog validates tokens there), inventory before catalog (catalog reads its
        // live stock), order last (it needs all three). Every service
        // gets a fresh database and a fresh Redis prefix, so graphs run side by side.
        let users = Shutdown::new();
        // A database name of its own per service and per graph (`fresh_database` adds a
        // random suffix): graphs of parallel tests never see each other's rows.
        let user_db = infra.fresh_database("g_user").await;
        let user = bookstore_user::spawn_in_process(
            &infra.mysql_url,
            user_db.clone(),
            jwt_secret,
            users.clone(),
        )
        .await?;
        // inventory empty: tests stock what they order, so every count they assert is theirs.
        let inventory_db = infra.fresh_database("g_inv").await;
        // Its own key prefix too: inventory's Lua scripts and stream live in Redis, shared
        // by every graph of the test run.
        let inventory =
            bookstore_inventory::spawn_in_process(bookstore_inventory::Settings::in_process(
                &infra.mysql_url,
                &infra.redis_url,
                &inventory_db,
                &unique_prefix(),
            ))
            .await?;
        // catalog seeded with `books` books, so every id 1..=books has a price and a title;
        // its user-service address is only used by PublishBook; inventory (started first
        // for this) gives every answer its live stock.
        let catalog_db = infra.fresh_database("g_cat").await;
        let catalog = bookstore_catalog::spawn_in_process(
            bookstore_catalog::Settings::in_process(
                &infra.mysql_url,
                &infra.redis_url,
                &catalog_db,
                &unique_prefix(),
                &url(user.grpc),
                &url(inventory.bound.grpc),
            ),
            books,
        )
        .await?;
        // order last, with the three real addresses, as the supervisor wires processes.
        let order_db = infra.fresh_database("g_ord").await;
        let (u, c, i) =
            (url(user.grpc), url(catalog.service.bound.grpc), url(inventory.bound.grpc));
        let mut settings = Settings::in_process(
            &infra.mysql_url,
            &order_db,
            PeerAddrs { user: &u, catalog: &c, inventory: &i },
        );
        // `tune` runs last, on the final settings, so a test's change wins over every default.
        tune(&mut settings);
        // The same in-process start the gateway's tests and the bench use, so "order-service
        // in a test" is one code path everywhere.
        let order = crate::spawn_in_process(settings.clone()).await?;
        // Every database is listed so the bench can drop them afterwards; tests leave them
        // (cheap, and handy for looking at what a failed test stored).
        Ok(Self {
            user: user.grpc,
            catalog: catalog.service.bound.grpc,
            inventory: inventory.bound.grpc,
            order: order.bound.grpc,
            order_settings: settings,
            databases: vec![user_db, catalog_db.clone(), inventory_db, order_db],
            catalog_db,
            order_service: Some(order),
            inventory_service: Some(inventory),
            catalog_service: Some(catalog),
            users,
        })
    }

    /// Stops the in-process order-service alone (a test then runs its own instances, or
    /// restarts one on the same port, as payment's relay test does). Stopping twice is fine.
    pub async fn stop_order_service(&mut self) -> anyhow::Result<()> {
        match self.order_service.take() {
            Some(o) => o.stop().await,
            None => Ok(()),
        }
    }

    /// Stops everything gracefully, callers first: order, inventory (its syncer drains),
    /// catalog, user. Callers first, so no service is left calling a peer that is gone —
    /// which would only fill the log with UNAVAILABLE warnings during the shutdown.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        // Each stop waits for that service to drain (its `Spawned::stop` joins the task),
        // so the next one stops only after its callers have; user-service's token is only
        // cancelled, since nothing calls it any more by then.
        self.stop_order_service().await?;
        if let Some(i) = self.inventory_service.take() {
            i.stop().await?;
        }
        if let Some(c) = self.catalog_service.take() {
            c.stop().await?;
        }
        self.users.cancel();
        Ok(())
    }
}

impl Drop for Graph {
    /// A graph dropped without [`Graph::stop`] (a failed assertion) still stops its servers:
    /// the tokens are cancelled and the tasks end with the test's runtime.
    ///
    /// Only user's and catalog's tokens are reachable here; order's and inventory's tasks,
    /// like every task a `#[tokio::test]` spawned, end when the test's runtime shuts down.
    fn drop(&mut self) {
        self.users.cancel();
        if let Some(c) = &self.catalog_service {
            c.shutdown().cancel();
        }
    }
}
