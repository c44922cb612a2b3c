//! payment-service end to end: the real order graph behind it, real MariaDB and Redis.
//!
//! | claim | test |
//! |---|---|
//! | create → mock gateway → Success → order Paid → stock sold | [`a_payment_completes_and_the_order_is_paid_and_its_stock_sold`] |
//! | amount checked against the order; bad input; someone else's order | [`wrong_amounts_bad_input_and_other_peoples_orders_are_refused`] |
//! | one live payment per order; a failed one frees the order | [`a_retry_returns_the_live_payment_and_a_failure_frees_the_order`] |
//! | 100 concurrent callbacks: one state change, one stock confirm | [`a_hundred_concurrent_callbacks_change_the_payment_once`] |
//! | the relay retries while order-service is down | [`the_relay_retries_until_order_service_is_back`] |
//! | paid after expiry → refunded, the order stays cancelled; paid first → stays paid | [`a_payment_after_expiry_is_refunded_and_one_before_is_kept`] |
//!
//! The restart of payment-service in the pending window is in `tests/restart.rs`.
//!
//! How to read them: every test waits through the API (`wait_payment`, with `done` =
//! settled *and* delivered), never with a fixed sleep, except where the claim is that
//! something does *not* happen; every timing a test depends on (the gateway's delay, the
//! payment window) is set in that test's `open(…)`, so the race it sets up is visible
//! where it is asserted; and every stock read checks conservation on the way.

mod common;

use std::time::Duration;

use bookstore_proto::{order::OrderStatus, payment::PaymentStatus};
use common::open;
use tonic::Code;

/// A payment at rest: settled by the gateway *and* its outcome delivered to order-service.
/// Waiting for `Success` alone would race the relay, and the test would then read an order
/// that is not Paid yet.
fn done(p: &bookstore_proto::payment::Payment) -> bool {
    p.status() != PaymentStatus::Pending && p.order_notified
}

/// The happy path, watched step by step: Pending with a due time, then Success with the
/// order notified; the order Paid; its two locked units now sold.
#[tokio::test]
async fn a_payment_completes_and_the_order_is_paid_and_its_stock_sold() {
    let s = open(|_| {}, |_| {}).await;
    // Five units, an order of two (locked), and a payment of exactly its total.
    s.restock(1, 5).await;
    let token = s.shopper().await;
    let order = s.order(&token, 1, 2).await;
    let p = s.pay(&token, order.id, order.total).await.unwrap();
    // Right after CreatePayment: Pending, a receipt number, a due time in the future (the
    // mock gateway's 300 ms), and the stock still only *locked* by the order — creating a
    // payment moves no stock, only its success does.
    assert_eq!(p.status(), PaymentStatus::Pending);
    assert!(p.payment_no.starts_with("PAY"), "{p:?}");
    assert!(p.due_at > p.created_at);
    assert_eq!(s.stock(1).await.locked, 2);

    // Nobody calls anything now: the mock gateway's worker settles the payment when its
    // job is due, and the relay delivers "paid" to order-service.
    let p = s.wait_payment(&token, &p.payment_no, Duration::from_secs(10), done).await;
    assert_eq!(p.status(), PaymentStatus::Success);
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Paid);
    // The relay's UpdateOrderStatus(Paid) made order-service confirm the lock: the two
    // units moved from locked to sold, and `stock` checked conservation on the way.
    let st = s.stock(1).await;
    assert_eq!((st.available, st.locked, st.sold), (3, 0, 2));
}

/// Every way CreatePayment can be asked wrongly is refused and creates nothing: an amount
/// one cent off either way, zero, negative, order id 0 (INVALID_ARGUMENT); someone else's
/// order and an order that does not exist (both NOT_FOUND, indistinguishable); a bad token
/// (UNAUTHENTICATED). QueryPayment then finds no payment for the order, and a real payment
/// is readable by its payer only.
#[tokio::test]
async fn wrong_amounts_bad_input_and_other_peoples_orders_are_refused() {
    let s = open(|_| {}, |_| {}).await;
    s.restock(2, 5).await;
    let (alice, mallory) = (s.shopper().await, s.shopper().await);
    let order = s.order(&alice, 2, 1).await;
    // Each wrong shape is INVALID_ARGUMENT. The first two are the interesting ones: the
    // amount is plausible, and only the comparison with order-service's total catches it.
    for (what, order_id, amount) in [
        ("one cent less", order.id, order.total - 1),
        ("one cent more", order.id, order.total + 1),
        ("zero", order.id, 0),
        ("negative", order.id, -order.total),
        ("order id 0", 0, order.total),
    ] {
        let err = s.pay(&alice, order_id, amount).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
    }
    // Mallory pays alice's order with the right amount: NOT_FOUND, the same answer as for
    // an id that does not exist, so she cannot even learn that the order is real.
    let err = s.pay(&mallory, order.id, order.total).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "someone else's order: {err:?}");
    // An order id nobody has: NOT_FOUND too, from the same GetOrder.
    assert_eq!(s.pay(&alice, 987_654, 100).await.unwrap_err().code(), Code::NotFound);
    // A token that is no token: refused by user-service through order-service's GetOrder.
    assert_eq!(
        s.pay("garbage", order.id, order.total).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Nothing was created by any of them: the order has no payment.
    // By order id this time, the other way to ask: the same owner check, the same answer.
    let mut q = s.payments.clone();
    let req = common::authed(
        &alice,
        bookstore_proto::payment::QueryPaymentRequest {
            payment_no: String::new(),
            order_id: order.id,
        },
    );
    assert_eq!(q.query_payment(req).await.unwrap_err().code(), Code::NotFound);
    // Neither a number nor an order id: a malformed query, not an empty answer.
    let req = common::authed(&alice, bookstore_proto::payment::QueryPaymentRequest::default());
    assert_eq!(q.query_payment(req).await.unwrap_err().code(), Code::InvalidArgument);

    // The real one works, and only its payer can read it.
    // Mallory knows the number (it is on a receipt alice showed her), and still gets 404:
    // the number is an identifier, not a credential.
    let p = s.pay(&alice, order.id, order.total).await.unwrap();
    assert_eq!(s.query(&mallory, &p.payment_no).await.unwrap_err().code(), Code::NotFound);
    // And a number that was never issued is the same NOT_FOUND mallory got above.
    assert_eq!(s.query(&alice, "PAY-unknown").await.unwrap_err().code(), Code::NotFound);
}

/// Two CreatePayments for one order answer the same payment; a payment the gateway declines
/// (the lab's `x-lab-payment: fail`) ends Failed, the order stays Pending with its lock, and
/// a new attempt gets a new payment that succeeds.
#[tokio::test]
async fn a_retry_returns_the_live_payment_and_a_failure_frees_the_order() {
    let s = open(|_| {}, |_| {}).await;
    s.restock(3, 5).await;
    // One unit of book 3, ordered once: every attempt below pays this one order.
    let token = s.shopper().await;
    let order = s.order(&token, 3, 1).await;
    // The first attempt is set to be declined (decided now, carried out in 300 ms); the
    // retry while it is Pending must not open a second payment beside it.
    let first = s.pay_with(&token, order.id, order.total, Some("fail")).await.unwrap();
    let again = s.pay(&token, order.id, order.total).await.unwrap();
    // The retry did not carry the lab switch, and still got the declining payment: the
    // outcome belongs to the payment, decided once, not to whichever request asks.
    assert_eq!(first.id, again.id, "one live payment per order");

    let failed = s
        .wait_payment(&token, &first.payment_no, Duration::from_secs(10), |p| {
            p.status() != PaymentStatus::Pending
        })
        .await;
    // Failed, with the reason the shopper is shown; nothing was sold, nothing was told to
    // order-service (a failure writes no outbox row).
    assert_eq!(failed.status(), PaymentStatus::Failed);
    assert!(failed.reason.contains("declined"), "{failed:?}");
    // A declined card does not cancel the order: it stays Pending with its unit locked,
    // so the shopper can try another card before the window ends.
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Pending);
    assert_eq!(s.stock(3).await.locked, 1, "a failed payment keeps the order's lock");

    // The failure released `live_order_id`, so a new attempt is a new payment, and the
    // unique index lets it in.
    let second = s.pay(&token, order.id, order.total).await.unwrap();
    assert_ne!(second.id, first.id);
    let ok = s.wait_payment(&token, &second.payment_no, Duration::from_secs(10), done).await;
    assert_eq!(ok.status(), PaymentStatus::Success);
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Paid);
}

/// The gateway calls back 100 times at once (retries of a real gateway): exactly one
/// changes the payment, one outbox message is written, and the stock is confirmed once.
/// A late "failure" callback changes nothing; wrong amount, no credential, unknown payment
/// are refused.
#[tokio::test]
async fn a_hundred_concurrent_callbacks_change_the_payment_once() {
    // A mock gateway that would answer in ten minutes: the callbacks below are the only
    // thing that can settle the payment during the test.
    let s = open(|_| {}, |p| p.confirm_delay_ms = 600_000).await;
    s.restock(4, 5).await;
    let token = s.shopper().await;
    let order = s.order(&token, 4, 2).await;
    let p = s.pay(&token, order.id, order.total).await.unwrap();

    // 100 callbacks in flight at once, each in its own transaction: all of them queue on
    // the payment's row lock, one settles it, 99 find it settled. Every caller is answered
    // with the payment as it now is — a provider's retries get a success, not an error.
    let calls = (0..100).map(|_| s.callback(&p.payment_no, true, p.amount));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.expect("every callback answers").status(), PaymentStatus::Success);
    }
    // Settled by the callbacks, delivered by the relay: the order is told once.
    let settled = s.wait_payment(&token, &p.payment_no, Duration::from_secs(10), done).await;
    assert_eq!(settled.status(), PaymentStatus::Success);
    let db = s.payment_db().await;
    // One outbox row: the unique `payment_id` would refuse a second, and `settle_in` never
    // tries, because only the first settler saw Pending.
    let outbox: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&db).await.unwrap();
    assert_eq!(outbox, 1, "one message for order-service, however many callbacks");
    // One outbox row → one delivery → one confirm in inventory: the two units sold once,
    // not 200 units "sold" by 100 callbacks.
    let st = s.stock(4).await;
    assert_eq!((st.locked, st.sold), (0, 2), "confirmed once");

    // A late "declined" for a payment that succeeded: answered, ignored.
    assert_eq!(
        s.callback(&p.payment_no, false, p.amount).await.unwrap().status(),
        PaymentStatus::Success
    );
    // A callback for one cent more than the payment: refused before any lock is taken.
    assert_eq!(
        s.callback(&p.payment_no, true, p.amount + 1).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    // A number that was never issued.
    assert_eq!(s.callback("PAY-none", true, 1).await.unwrap_err().code(), Code::NotFound);
    // Without `x-service-token`: PERMISSION_DENIED — a shopper must not be able to declare
    // their own payment successful (or anyone else's failed).
    let mut anon = s.payments.clone();
    let req = bookstore_proto::payment::MockCallbackRequest {
        payment_no: p.payment_no.clone(),
        success: false,
        amount: p.amount,
    };
    assert_eq!(anon.mock_callback(req).await.unwrap_err().code(), Code::PermissionDenied);
    // None of the refused callbacks moved stock.
    assert_eq!(s.stock(4).await.sold, 2);
}

/// order-service is stopped right after the payment is created: the gateway's success is
/// recorded, the relay keeps retrying (attempts grow), and once an order-service is back on
/// the same address the order becomes Paid and the stock sold — nothing lost.
#[tokio::test]
async fn the_relay_retries_until_order_service_is_back() {
    let mut s = open(|_| {}, |_| {}).await;
    s.restock(5, 5).await;
    // One order, paid at once; what is under test starts after the payment exists.
    let token = s.shopper().await;
    let order = s.order(&token, 5, 1).await;
    let p = s.pay(&token, order.id, order.total).await.unwrap();
    // Remembered before the stop: the replacement must come back on the same address and
    // database, as a restarted process would.
    let addr = s.graph.order;
    let order_settings = s.graph.order_settings.clone();
    // Stopped right after creation, inside the 300 ms before the gateway answers: the
    // success that follows has nobody to be delivered to.
    s.graph.stop_order_service().await.unwrap();

    // The outbox row's `attempts` is the relay's own record of trying: three failed
    // deliveries (0.2 s, 0.4 s, 0.8 s of backoff) within the ten-second watch.
    let db = s.payment_db().await;
    // Read straight from the outbox: `attempts` is relay bookkeeping no RPC exposes.
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = sqlx::query_scalar::<_, i32>("SELECT attempts FROM outbox")
            .fetch_optional(&db)
            .await
            .unwrap()
            .unwrap_or(0);
        if attempts >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Three failed attempts prove the retry loop and its bookkeeping; the message is still
    // undelivered, waiting, not dropped after a failure.
    assert!(attempts >= 3, "the relay retried while order-service was down ({attempts})");
    // The payment's own state does not wait for order-service: the gateway's answer was
    // recorded (Success) while the notification is still pending in the outbox.
    let status: i8 =
        sqlx::query_scalar("SELECT status FROM payments").fetch_one(&db).await.unwrap();
    assert_eq!(status, 2, "the payment itself succeeded meanwhile");

    // Back on the same port with the same order_db: to the relay, order-service was down
    // and has recovered; it needs no new address and loses no message.
    let mut back = order_settings;
    back.common.port = addr.port();
    // Bound to `_order`, not `_`: `let _ = …` would drop the handle at once, and with it
    // the means to stop this service gracefully.
    let _order =
        bookstore_order::spawn_in_process(back).await.expect("order-service back on its port");
    // 20 s: the backoff may have grown to a few seconds by now, and the next attempt comes
    // when it is due, not the moment order-service is back.
    let p = s.wait_payment(&token, &p.payment_no, Duration::from_secs(20), done).await;
    assert_eq!(p.status(), PaymentStatus::Success);
    assert_eq!(s.order_status(&token, order.id).await, OrderStatus::Paid);
    assert_eq!(s.stock(5).await.sold, 1);
}

/// Both orders of events, with a 2 s payment window:
/// - the gateway answers after 4 s: the order expired first (stock released), so the
///   payment is refunded and the order stays Cancelled — nothing sold;
/// - the gateway answers after 0.3 s: the order is Paid before its deadline and stays Paid
///   after it.
#[tokio::test]
async fn a_payment_after_expiry_is_refunded_and_one_before_is_kept() {
    // A 2 s window swept every second, and a gateway that answers after 4 s: the order is
    // sure to expire first, so the race this test is about happens every time.
    let s = open(
        |o| {
            o.payment_window_secs = 2;
            o.sweep_interval_secs = 1;
        },
        |p| p.confirm_delay_ms = 4_000,
    )
    .await;
    s.restock(6, 4).await;
    let token = s.shopper().await;
    // Late: the order's 2 s window ends (and the 1 s sweeper cancels it, releasing its
    // unit) before the 4 s gateway answers success.
    let late = s.order(&token, 6, 1).await;
    // Paid in time to *start*: CreatePayment checks the deadline, and it has not passed.
    let p = s.pay(&token, late.id, late.total).await.unwrap();
    let p = s.wait_payment(&token, &p.payment_no, Duration::from_secs(15), done).await;
    // order-service refused Paid for a Cancelled order (FAILED_PRECONDITION), the relay
    // took that as final and refunded: the customer's money goes back, and the order is
    // not resurrected, because its unit may already be someone else's.
    assert_eq!(p.status(), PaymentStatus::Refunded, "{p:?}");
    // The reason says what happened, for the shopper and for support.
    assert!(p.reason.starts_with("refunded"), "{p:?}");
    assert_eq!(s.order_status(&token, late.id).await, OrderStatus::Cancelled);
    // The expiry released the lock; the refused Paid never confirmed it: the unit is
    // available again, and the money went back instead.
    let st = s.stock(6).await;
    assert_eq!((st.available, st.locked, st.sold), (4, 0, 0), "nothing sold for the late payment");

    // A second payment-service with a quick gateway, on the same payment_db and order graph.
    // Two instances on one database is a supported shape (both workers use SKIP LOCKED),
    // and it lets this test change the gateway's timing without a new graph.
    // The first instance keeps its 4 s gateway: the early payment must be created through
    // the quick one for its job to be due in 0.3 s.
    let mut quick = s.payment_settings.clone();
    quick.confirm_delay_ms = 300;
    let quick = bookstore_payment::spawn_in_process(quick).await.unwrap();
    let mut fast = bookstore_proto::payment::payment_service_client::PaymentServiceClient::connect(
        format!("http://{}", quick.bound.grpc),
    )
    .await
    .unwrap();
    // Early: paid within 0.3 s, well inside the 2 s window.
    // (All four units are available again after the late order's release.)
    let early = s.order(&token, 6, 1).await;
    let req = common::authed(
        &token,
        bookstore_proto::payment::CreatePaymentRequest { order_id: early.id, amount: early.total },
    );
    // Created through the quick instance, read through the shop's client — the *other*
    // instance: both answer from one payment_db.
    let p = fast.create_payment(req).await.unwrap().into_inner().payment.unwrap();
    let p = s.wait_payment(&token, &p.payment_no, Duration::from_secs(10), done).await;
    assert_eq!(p.status(), PaymentStatus::Success);
    tokio::time::sleep(Duration::from_secs(3)).await; // past the order's deadline and a sweep
    assert_eq!(
        s.order_status(&token, early.id).await,
        OrderStatus::Paid,
        "a paid order never expires"
    );
    // The expiry sweep saw a Paid order and left it alone: its unit stays sold.
    assert_eq!(s.stock(6).await.sold, 1);
}
