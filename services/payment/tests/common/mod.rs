//! payment-service with the whole order graph behind it (user, catalog, inventory, order —
//! `bookstore_order::graph`), in-process against the real MariaDB and Redis.
//!
//! Every test gets its own graph and its own payment_db (fresh names), so the tests run in
//! parallel. Everything goes through the services' real gRPC APIs, as the gateway would,
//! except two deliberate looks behind the curtain: [`Shop::payment_db`], to count outbox
//! rows and read a status while no service runs, and the stock counters in inventory.
#![allow(dead_code)] // each test file uses a different part of this module

use std::time::Duration;

use bookstore_order::graph::{Graph, lazy_channel, url};
use bookstore_payment::Settings;
use bookstore_proto::{
    inventory::{self as inv, inventory_service_client::InventoryServiceClient},
    order::{self as ord, order_service_client::OrderServiceClient},
    payment::{self as pb, payment_service_client::PaymentServiceClient},
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use bookstore_stack::testing::{self, Infra};
use tonic::{Request, Status, transport::Channel};

/// The graph's user-service secret: tokens are minted by real logins, never by the tests.
pub const JWT_SECRET: &str = "payment-test-secret-at-least-32-bytes!!";

/// A running shop: the whole order graph, payment-service in front of it, and a client
/// of each service a test talks to directly.
pub struct Shop {
    pub infra: Infra,
    /// The order graph; tests stop and restart its order-service (`tests/payments.rs`).
    pub graph: Graph,
    /// What payment-service runs with: its database, for a second instance or a process.
    pub payment_settings: Settings,
    /// The service under test.
    pub payments: PaymentServiceClient<Channel>,
    /// For creating orders and reading their status: the other side of every payment.
    pub orders: OrderServiceClient<Channel>,
    /// For registering and logging in shoppers.
    pub users: UserServiceClient<Channel>,
    /// For stocking books and reading what payments did to them.
    pub inventory: InventoryServiceClient<Channel>,
    /// The in-process payment-service; `None` once [`Shop::stop_payment`] took it. Private:
    /// tests stop it through that method, which stops it gracefully and only once.
    payment: Option<bookstore_payment::Spawned>,
}

/// The graph, with `order_tune` applied to order-service, and payment-service with
/// `payment_tune` applied (a 300 ms mock gateway unless a test says otherwise).
///
/// Two hooks rather than one settings struct: each test changes the one or two numbers its
/// race depends on (a 2 s payment window, a 10-minute gateway), and says so where it
/// calls `open`, so the timing a test relies on is visible in the test.
pub async fn open(
    order_tune: impl FnOnce(&mut bookstore_order::Settings),
    payment_tune: impl FnOnce(&mut Settings),
) -> Shop {
    // The running MariaDB and Redis (`make test` starts them); everything below gets its
    // own fresh database or key prefix on them.
    let infra = testing::infra();
    let graph = Graph::spawn(&infra, 10, JWT_SECRET, order_tune).await.expect("order graph starts");
    let mut settings = Settings::in_process(
        &infra.mysql_url,
        &infra.fresh_database("pay").await,
        &url(graph.order),
    );
    // Development and lab faults come with `in_process`: the dev service token is accepted
    // and `x-lab-payment: fail` is honoured, which two tests rely on.
    // 300 ms instead of 3 s: the pending window stays observable, the tests stay fast.
    settings.confirm_delay_ms = 300;
    payment_tune(&mut settings);
    let payment = bookstore_payment::spawn_in_process(settings.clone())
        .await
        .expect("payment-service starts");
    // Lazy channels: a client of an order-service a test stops and restarts reconnects on
    // its next call, without the test building a new one.
    Shop {
        payments: PaymentServiceClient::new(lazy_channel(payment.bound.grpc)),
        orders: OrderServiceClient::new(lazy_channel(graph.order)),
        users: UserServiceClient::new(lazy_channel(graph.user)),
        inventory: InventoryServiceClient::new(lazy_channel(graph.inventory)),
        payment_settings: settings,
        payment: Some(payment),
        infra,
        graph,
    }
}

/// A request with `authorization: Bearer <token>`, as the gateway sends it.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

impl Shop {
    /// Registers a fresh shopper (a unique name, so tests never share accounts) and logs
    /// in: their Bearer token.
    pub async fn shopper(&self) -> String {
        // A real register and login: the token then goes through ValidateToken in
        // order-service, the path production takes.
        let username = testing::unique_name("payer");
        let mut u = self.users.clone();
        let password = "payer-password-1".to_string();
        u.register(RegisterRequest {
            username: username.clone(),
            password: password.clone(),
            email: String::new(),
        })
        .await
        .unwrap();
        u.login(LoginRequest { username, password }).await.unwrap().into_inner().token
    }

    /// Gives `book` `qty` more units in inventory; a fresh request id each time, so two
    /// restocks are two increments, not one replayed.
    pub async fn restock(&self, book: u64, qty: i32) {
        // Straight to inventory over gRPC, as an operator would: restocking is no route of
        // the shop's, and no test here is about it.
        let req = inv::IncrStockRequest {
            book_id: book,
            quantity: qty,
            request_id: testing::unique_name("rs"),
            remark: String::new(),
        };
        self.inventory.clone().incr_stock(req).await.unwrap();
    }

    /// The book's counters in inventory, checking conservation (`available + locked +
    /// sold == total`) on every read: a payment path that sold without confirming, or
    /// confirmed twice, fails here whatever the test was about.
    pub async fn stock(&self, book: u64) -> inv::Stock {
        let s = self
            .inventory
            .clone()
            .get_stock(inv::GetStockRequest { book_id: book })
            .await
            .unwrap()
            .into_inner()
            .stock
            .unwrap();
        // Payment moves stock only through order-service's confirm (locked → sold) and, for
        // refunds, not at all: any other change would break this sum.
        assert_eq!(s.available + s.locked + s.sold, s.total, "conservation: {s:?}");
        s
    }

    /// A Pending order of `qty` units of `book` for `token`: its units locked in inventory,
    /// its total priced by the catalogue — the amount a correct payment must equal.
    pub async fn order(&self, token: &str, book: u64, qty: i32) -> ord::Order {
        // No idempotency key: every call is meant to be a new order.
        let req = ord::CreateOrderRequest {
            items: vec![ord::CreateOrderItem { book_id: book, quantity: qty }],
            idempotency_key: String::new(),
        };
        // Through order-service's real CreateOrder: the order's total is the catalogue's
        // price, snapshotted, which is what every payment test pays against.
        self.orders
            .clone()
            .create_order(authed(token, req))
            .await
            .expect("order")
            .into_inner()
            .order
            .unwrap()
    }

    /// The order's status as its owner reads it (GetOrder with their token).
    pub async fn order_status(&self, token: &str, id: u64) -> ord::OrderStatus {
        // Read from order-service, not payment_db: "the order is Paid" is order-service's
        // fact, and the whole point of the relay is that it ends up there.
        let r = self
            .orders
            .clone()
            .get_order(authed(token, ord::GetOrderRequest { order_id: id }))
            .await
            .unwrap();
        r.into_inner().order.unwrap().status()
    }

    /// CreatePayment for `order_id` with `amount` cents, as the payer; the error is returned,
    /// not unwrapped, because half the tests are about refusals.
    pub async fn pay(
        &self,
        token: &str,
        order_id: u64,
        amount: i64,
    ) -> Result<pb::Payment, Status> {
        self.pay_with(token, order_id, amount, None).await
    }

    /// CreatePayment with the lab's switch: `Some("fail")` makes the mock gateway decline
    /// this payment (payment-service honours it because `in_process` turns lab faults on).
    pub async fn pay_with(
        &self,
        token: &str,
        order_id: u64,
        amount: i64,
        lab: Option<&str>,
    ) -> Result<pb::Payment, Status> {
        // The switch travels as metadata, like every lab fault: it is about this request, not
        // part of the payment's data.
        let mut req = authed(token, pb::CreatePaymentRequest { order_id, amount });
        if let Some(v) = lab {
            req.metadata_mut().insert("x-lab-payment", v.parse().unwrap());
        }
        Ok(self.payments.clone().create_payment(req).await?.into_inner().payment.unwrap())
    }

    /// QueryPayment by number, as `token`'s owner; a refusal comes back as the `Status`, so
    /// tests can assert its code.
    pub async fn query(&self, token: &str, payment_no: &str) -> Result<pb::Payment, Status> {
        // By number only; `order_id: 0` means "not by order".
        let req =
            authed(token, pb::QueryPaymentRequest { payment_no: payment_no.into(), order_id: 0 });
        Ok(self.payments.clone().query_payment(req).await?.into_inner().payment.unwrap())
    }

    /// MockCallback with the service credential: what the payment provider would send.
    pub async fn callback(
        &self,
        payment_no: &str,
        success: bool,
        amount: i64,
    ) -> Result<pb::Payment, Status> {
        let mut req = Request::new(pb::MockCallbackRequest {
            payment_no: payment_no.into(),
            success,
            amount,
        });
        // The published development token: `in_process` runs in development, where it is
        // accepted; a production instance would have refused to start with it.
        req.metadata_mut().insert(
            "x-service-token",
            bookstore_platform::auth::DEV_SERVICE_TOKEN.parse().unwrap(),
        );
        // The answer is the payment as stored after the callback, which for a duplicate is
        // the first outcome, whatever `success` this call claimed.
        Ok(self.payments.clone().mock_callback(req).await?.into_inner().payment.unwrap())
    }

    /// Waits until the payment `no` satisfies `done` (polling QueryPayment every 100 ms),
    /// failing with the last state seen once `within` is over. Polling through the API,
    /// not payment_db, so what is waited for is what a client would see.
    pub async fn wait_payment(
        &self,
        token: &str,
        no: &str,
        within: Duration,
        done: impl Fn(&pb::Payment) -> bool,
    ) -> pb::Payment {
        // An error from QueryPayment fails the test at once: during these waits the service
        // must stay answerable, whatever its workers are doing.
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let p = self.query(token, no).await.expect("query");
            if done(&p) {
                return p;
            }
            assert!(tokio::time::Instant::now() < deadline, "payment never got there: {p:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// payment_db, for direct looks at the outbox. A pool of its own, so a test's queries
    /// never take a connection from the service under test.
    pub async fn payment_db(&self) -> sqlx::MySqlPool {
        sqlx::MySqlPool::connect(&self.infra.database_url(&self.payment_settings.common.database))
            .await
            .unwrap()
    }

    /// Stops the in-process payment-service gracefully, so that only the processes a test
    /// starts run workers on this payment_db (`tests/restart.rs`).
    pub async fn stop_payment(&mut self) {
        // `take`: a second call is a no-op, and Drop has nothing left to stop.
        if let Some(p) = self.payment.take() {
            p.stop().await.unwrap();
        }
    }
}
