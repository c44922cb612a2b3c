//! kill -9 of a real payment-service process inside the mock gateway's pending window.
//!
//! The course's sample keeps the pending confirmation in a sleeping goroutine: a restart in
//! those seconds loses it, and the order is never paid. Here the confirmation is a row with
//! a due time, so a new process must pick it up: the payment succeeds, the order is Paid,
//! the stock sold — exactly once.
//!
//! Not killed here: a relay in the middle of its order-service call. That window is
//! covered by idempotence rather than by a test of timing — the row is delivered again,
//! and order-service answers a second Paid as done (see `workers::relay_pass`).

mod common;

use std::{process::Command, time::Duration};

use bookstore_order::graph::{Reaper, url};
use bookstore_proto::{
    order::OrderStatus,
    payment::{CreatePaymentRequest, PaymentStatus, payment_service_client::PaymentServiceClient},
};
use common::{Shop, authed, open};

/// A real payment-service process on `port`, on the shop's payment_db and order-service,
/// with a 2 s mock gateway: long enough for the kill below to land inside the window.
///
/// A process and not a task: a killed task would leave its runtime, its pool and its
/// in-memory state behind in the test process, so "the restart lost nothing" would prove
/// little. SIGKILL of a process leaves exactly what a crash leaves — the database.
fn start_process(s: &Shop, port: u16) -> Reaper {
    Reaper::spawn(
        Command::new(env!("CARGO_BIN_EXE_payment-service"))
            .env("BOOKSTORE_PORT", port.to_string())
            // Port 0 for metrics too: two processes of this test, and other suites, run at
            // once, and a fixed metrics port would collide.
            .env("BOOKSTORE_METRICS_PORT", "0")
            .env("BOOKSTORE_MYSQL_URL", &s.infra.mysql_url)
            .env("BOOKSTORE_DATABASE", &s.payment_settings.common.database)
            // No Consul registration: a test process must not appear in the lab's dashboard.
            .env("BOOKSTORE_CONSUL_ADDR", "")
            // Development, as the lab runs it: the dev service token is accepted.
            .env("BOOKSTORE_ENVIRONMENT", "development")
            // The shop's in-process order-service: the processes share its graph.
            .env("BOOKSTORE_ORDER_ADDR", url(s.graph.order))
            // 2 s: long enough that the kill surely lands before the answer, short enough
            // that the second process finds the job already due.
            .env("BOOKSTORE_CONFIRM_DELAY_MS", "2000"),
    )
    .expect("payment-service binary starts")
}

/// A client of the process on `port`, once it accepts connections (up to 15 s: a fresh
/// binary migrates nothing here, but it may queue behind other suites for the CPU).
async fn client(port: u16) -> PaymentServiceClient<tonic::transport::Channel> {
    // A successful connect is enough here: the process binds only after its database is
    // ready, and the test's first call is authenticated by order-service, which is up.
    for _ in 0..150 {
        if let Ok(c) = PaymentServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("payment-service on {port} never answered")
}

/// Created in one process, killed with SIGKILL before the mock gateway's 2 s are up, and
/// finished by a second process: the payment succeeds, the order is Paid, the two units
/// are sold exactly once.
#[tokio::test]
async fn a_payment_survives_a_kill_in_the_pending_window() {
    // The in-process payment-service of the test shop is stopped: only the processes below
    // run workers on this payment_db.
    // The shop's own payment-service gives way: two instances' workers would both be able
    // to finish the job (SKIP LOCKED makes that safe), and the test would not show that the
    // *new* process did it.
    let mut s = open(|_| {}, |_| {}).await;
    s.stop_payment().await;
    s.restock(7, 3).await;
    let token = s.shopper().await;
    // The order comes from the shop's in-process graph; only payment-service is a process.
    let order = s.order(&token, 7, 2).await;

    let port = bookstore_stack::ports::any_free().unwrap();
    let mut first = start_process(&s, port);
    let mut c = client(port).await;
    // Through the process's own port: the payment and its job are written by the first
    // process, the one about to die.
    let p = c
        .create_payment(authed(
            &token,
            CreatePaymentRequest { order_id: order.id, amount: order.total },
        ))
        .await
        .expect("payment created")
        .into_inner()
        .payment
        .unwrap();
    // Pending, with its job 2 s out: the promise that must survive the kill.
    assert_eq!(p.status(), PaymentStatus::Pending);
    // SIGKILL at once — 2 s before the gateway would answer.
    first.kill_9();
    // Read from payment_db itself: no payment-service runs now to ask. Status 1 (Pending)
    // and its job row are all the dead process left — with a goroutine-style timer, the
    // promise would have died with the process.
    let db = s.payment_db().await;
    let status: i8 =
        sqlx::query_scalar("SELECT status FROM payments").fetch_one(&db).await.unwrap();
    assert_eq!(status, 1, "the kill landed inside the pending window");
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Pending);

    // A new process finds the due job and finishes what the dead one promised.
    // By the time it is up, the job's due time has passed: its gateway worker answers it at
    // the first poll, and its relay tells order-service.
    let port = bookstore_stack::ports::any_free().unwrap();
    let _second = start_process(&s, port);
    let mut c = client(port).await;
    // Polled on the second process (the shop's helper talks to the stopped instance):
    // until the payment is Success *and* the outbox row delivered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let req = authed(
            &token,
            bookstore_proto::payment::QueryPaymentRequest {
                payment_no: p.payment_no.clone(),
                order_id: 0,
            },
        );
        // An error is tolerated here (the process may still be warming up its order-service
        // client); only the deadline below fails the test.
        if let Ok(r) = c.query_payment(req).await {
            let now = r.into_inner().payment.unwrap();
            if now.status() == PaymentStatus::Success && now.order_notified {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment never completed after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Confirmed once, whatever the first process had managed before the kill.
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Paid);
    let st = s.stock(7).await;
    assert_eq!((st.locked, st.sold), (0, 2), "sold exactly once");
}
