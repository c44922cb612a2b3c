//! kill -9 of a real order-service process between LockStock and the commit.
//!
//! The claim (DESIGN.md §4, the issue): whatever instant order-service dies at, the stock
//! ends up either held by a Pending order or released with no order — never locked for an
//! order that does not exist. Here the process is the real `order-service` binary, started as
//! a child with `x-lab-fault: pause-after-lock` so the kill lands exactly in the window that
//! matters, and killed with SIGKILL: no destructor, no shutdown hook, no final log line.
//! A second process on the same database must then find the dead creation's intent and
//! release its lock; a kill after the commit must leave a Pending order that keeps its lock.
//!
//! The other kill points need no test of their own, because MySQL settles them: a kill
//! *during* the commit's transaction rolls it back (the same state as a kill before it,
//! which step 1 covers), and a kill during `abandon` rolls back its transaction too, so the
//! intent stays and the next sweep releases again — ReleaseStock being idempotent.

mod common;

use std::{process::Command, time::Duration};

use bookstore_order::graph::Reaper;
use bookstore_proto::order::{
    ListOrdersRequest, OrderStatus, order_service_client::OrderServiceClient,
};
// The shared graph and helpers: the processes below use its user, catalog and inventory.
use common::{TestStack, authed, eventually, spawn};
use tonic::transport::Channel;

/// A real order-service process on `port`, against the test stack's peers and order_db.
/// Short timings, so the test waits seconds rather than the production minute: peer
/// deadlines of 1 s allow an intent to count as dead after 5 s.
/// The child inherits the test's environment (`bookstore-lab env` exports the infra's
/// URLs); every setting the test relies on is set explicitly below, so whatever else is
/// inherited cannot change the timings or the database under test.
fn start_process(s: &TestStack, port: u16) -> Reaper {
    Reaper::spawn(
        Command::new(env!("CARGO_BIN_EXE_order-service"))
            .env("BOOKSTORE_PORT", port.to_string())
            // Metrics on a port of the OS's choosing: three processes run in this test.
            .env("BOOKSTORE_METRICS_PORT", "0")
            // The graph's MariaDB and the in-process order-service's own database: every
            // process of the test shares one order_db, as instances of a deployment do.
            .env("BOOKSTORE_MYSQL_URL", &s.infra.mysql_url)
            .env("BOOKSTORE_DATABASE", &s.order_settings.common.database)
            // No Consul: a test process must not register in the lab's shared agent.
            .env("BOOKSTORE_CONSUL_ADDR", "")
            // Development, so the published service token is accepted at start.
            .env("BOOKSTORE_ENVIRONMENT", "development")
            .env("BOOKSTORE_USER_ADDR", &s.user_addr)
            .env("BOOKSTORE_CATALOG_ADDR", &s.catalog_addr)
            .env("BOOKSTORE_INVENTORY_ADDR", &s.inventory_addr)
            // The pause fault below is honoured only with lab faults on.
            .env("BOOKSTORE_LAB_FAULTS", "true")
            // 1 s peer deadlines: the shortest that is still generous on loopback, and what
            // lets the stale bound below be 5 s instead of a minute.
            .env("BOOKSTORE_UPSTREAM_TIMEOUT_MS", "1000")
            // 5 s > 3 × 1 s + 1 s, the bound `Settings::check` demands: the sweeper may call
            // an intent dead only once no live creation could still be running it.
            .env("BOOKSTORE_INTENT_STALE_SECS", "5")
            // Sweep every second, so the release comes soon after the intent turns stale.
            .env("BOOKSTORE_SWEEP_INTERVAL_SECS", "1"),
    )
    .expect("order-service binary starts")
}

/// A client of the process on `port`, once it answers (ListOrders with a valid token).
///
/// A real call, not only a TCP connect: the process binds its port only after MySQL and
/// the migrations, but ListOrders also proves that its user-service client works — what
/// the steps below need.
async fn ready_client(port: u16, token: &str) -> OrderServiceClient<Channel> {
    let url = format!("http://127.0.0.1:{port}");
    // Up to 15 s (150 × 100 ms) for a process to start: migrations on an existing database
    // are a no-op, but a loaded machine can be slow to schedule a fresh binary.
    for _ in 0..150 {
        if let Ok(mut c) = OrderServiceClient::connect(url.clone()).await {
            let req = authed(token, ListOrdersRequest { page: 1, page_size: 1, status: 0 });
            if c.list_orders(req).await.is_ok() {
                return c;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order-service on port {port} did not become ready")
}

/// Three processes on one order_db: the first is killed holding a lock with no order, the
/// second's sweeper releases that lock (and only that one), the third, started after a
/// kill *after* a commit, leaves the committed order's lock alone.
#[tokio::test]
async fn a_kill_between_lock_and_commit_leaves_no_orphan_lock_after_the_sweep() {
    let mut s = spawn().await;
    // Only the child processes may touch this order_db: the in-process instance stops. Its
    // sweeper would otherwise release the dead creation's lock and the test would prove
    // nothing about the *restarted* process.
    s.stop_orders().await;
    // Ten units; the creation below locks three of them.
    s.restock(20, 10).await;
    let token = s.shopper().await;

    // 1. The creation reaches LockStock, then sleeps (the lab fault) — and is killed there.
    // A free port chosen by the OS, then handed to the child: the child cannot bind port 0
    // and report back to the test as an in-process server would.
    let port = bookstore_stack::ports::any_free().unwrap();
    let mut first = start_process(&s, port);
    let client = ready_client(port, &token).await;
    let mut req = authed(
        &token,
        bookstore_proto::order::CreateOrderRequest {
            items: vec![bookstore_proto::order::CreateOrderItem { book_id: 20, quantity: 3 }],
            idempotency_key: "crash-key".into(),
        },
    );
    // 30 s of pause after LockStock: far longer than the test needs to kill the process, so
    // the kill lands in the window with certainty, not by timing luck.
    req.metadata_mut().insert("x-lab-fault", "pause-after-lock=30000".parse().unwrap());
    let mut c = client.clone();
    // On its own task: the call will never answer normally, and the test must go on.
    let call = tokio::spawn(async move { c.create_order(req).await });
    // Inventory is the witness: once it reports the lock, the creation is inside the
    // window (LockStock done, commit not yet), sleeping in the lab fault.
    assert!(
        eventually(Duration::from_secs(10), || async { s.stock(20).await.locked == 3 }).await,
        "the lock was taken"
    );
    // SIGKILL: no destructor, no shutdown, no compensation — only what order_db holds.
    first.kill_9();
    // The client sees a broken connection: an unknown outcome, as after any crash.
    // (`unwrap` on the join: the spawned task itself must not have panicked.)
    assert!(call.await.unwrap().is_err(), "the caller saw the creation fail");

    // The state the crash left: a lock, an intent, no order. Without the intent (written
    // before LockStock) nothing would name this lock, and it would stay until inventory's
    // own 15-minute backstop — the course sample's leak.
    assert_eq!(s.stock(20).await.locked, 3);
    assert_eq!(s.intents().await, 1);

    // 2. A new process on the same database: its sweeper finds the dead intent (older than
    // 5 s) and releases its lock. No order ever existed.
    // Any free port will do: the test talks to each process through a client of its own.
    let port = bookstore_stack::ports::any_free().unwrap();
    let mut second = start_process(&s, port);
    // Ready means its sweeper runs too: it was spawned before the port was bound.
    let mut client = ready_client(port, &token).await;
    // Within 20 s: the intent turns stale 5 s after it was written, and the sweeper looks
    // every second; the rest is margin for a busy machine.
    let released =
        eventually(Duration::from_secs(20), || async { s.stock(20).await.locked == 0 }).await;
    assert!(released, "the orphan lock was released by the sweeper: {:?}", s.stock(20).await);
    // Every unit back and the intent deleted with the release, in one transaction.
    assert_eq!(s.stock(20).await.available, 10);
    assert_eq!(s.intents().await, 0);
    // Released *and* no order: the two halves of the claim, checked on both services.
    let listed = client
        .list_orders(authed(&token, ListOrdersRequest { page: 1, page_size: 10, status: 0 }))
        .await
        .unwrap();
    assert_eq!(
        listed.into_inner().total,
        0,
        "no order without its lock, no lock without its order"
    );

    // The same key can now be used again and works normally: the intent that claimed it
    // was deleted with the release, and no order ever held it.
    let retry = s_create(&mut client, &token, "crash-key").await;
    assert_eq!(retry.status(), OrderStatus::Pending);
    // Three locked again, by the new order: the first creation's lock is gone for good.
    assert_eq!(s.stock(20).await.locked, 3);

    // 3. Killed *after* the commit: the Pending order keeps its lock (it will expire or be
    // paid); the restarted sweeper must not release it. The commit deleted the intent in
    // the same transaction that inserted the order, so there is nothing stale to find.
    second.kill_9();
    let port = bookstore_stack::ports::any_free().unwrap();
    let mut third = start_process(&s, port);
    // Wait until it serves, so the fixed wait below measures a running sweeper.
    let _client = ready_client(port, &token).await;
    // A fixed wait here, unlike the `eventually`s above: the claim is that something does
    // *not* happen, and only waiting past the point where it would have can show that.
    tokio::time::sleep(Duration::from_secs(7)).await; // longer than the stale threshold + a sweep
    // Still three: the committed order owns its lock, and only its own expiry or payment
    // will change that.
    assert_eq!(s.stock(20).await.locked, 3, "a committed order's lock is never swept");
    third.kill_9();
}

/// CreateOrder of 3 units of book 20 under `key`, on the given process's client.
async fn s_create(
    client: &mut OrderServiceClient<Channel>,
    token: &str,
    key: &str,
) -> bookstore_proto::order::Order {
    let req = authed(
        token,
        bookstore_proto::order::CreateOrderRequest {
            items: vec![bookstore_proto::order::CreateOrderItem { book_id: 20, quantity: 3 }],
            idempotency_key: key.into(),
        },
    );
    client.create_order(req).await.expect("order created").into_inner().order.unwrap()
}
