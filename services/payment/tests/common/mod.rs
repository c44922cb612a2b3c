//! payment-service with the whole order graph behind it (user, catalog, inventory, order —
//! `bookstore_order::graph`), in-process against the real MariaDB and Redis.
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

pub const JWT_SECRET: &str = "payment-test-secret-at-least-32-bytes!!";

pub struct Shop {
    pub infra: Infra,
    pub graph: Graph,
    pub payment_settings: Settings,
    pub payments: PaymentServiceClient<Channel>,
    pub orders: OrderServiceClient<Channel>,
    pub users: UserServiceClient<Channel>,
    pub inventory: InventoryServiceClient<Channel>,
    payment: Option<bookstore_payment::Spawned>,
}

/// The graph, with `order_tune` applied to order-service, and payment-service with
/// `payment_tune` applied (a 300 ms mock gateway unless a test says otherwise).
pub async fn open(
    order_tune: impl FnOnce(&mut bookstore_order::Settings),
    payment_tune: impl FnOnce(&mut Settings),
) -> Shop {
    let infra = testing::infra();
    let graph = Graph::spawn(&infra, 10, JWT_SECRET, order_tune).await.expect("order graph starts");
    let mut settings = Settings::in_process(
        &infra.mysql_url,
        &infra.fresh_database("pay").await,
        &url(graph.order),
    );
    settings.confirm_delay_ms = 300;
    payment_tune(&mut settings);
    let payment = bookstore_payment::spawn_in_process(settings.clone())
        .await
        .expect("payment-service starts");
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

pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut r = Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

impl Shop {
    pub async fn shopper(&self) -> String {
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

    pub async fn restock(&self, book: u64, qty: i32) {
        let req = inv::IncrStockRequest {
            book_id: book,
            quantity: qty,
            request_id: testing::unique_name("rs"),
            remark: String::new(),
        };
        self.inventory.clone().incr_stock(req).await.unwrap();
    }

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
        assert_eq!(s.available + s.locked + s.sold, s.total, "conservation: {s:?}");
        s
    }

    /// A Pending order of `qty` units of `book` for `token`.
    pub async fn order(&self, token: &str, book: u64, qty: i32) -> ord::Order {
        let req = ord::CreateOrderRequest {
            items: vec![ord::CreateOrderItem { book_id: book, quantity: qty }],
            idempotency_key: String::new(),
        };
        self.orders
            .clone()
            .create_order(authed(token, req))
            .await
            .expect("order")
            .into_inner()
            .order
            .unwrap()
    }

    pub async fn order_status(&self, token: &str, id: u64) -> ord::OrderStatus {
        let r = self
            .orders
            .clone()
            .get_order(authed(token, ord::GetOrderRequest { order_id: id }))
            .await
            .unwrap();
        r.into_inner().order.unwrap().status()
    }

    pub async fn pay(
        &self,
        token: &str,
        order_id: u64,
        amount: i64,
    ) -> Result<pb::Payment, Status> {
        self.pay_with(token, order_id, amount, None).await
    }

    pub async fn pay_with(
        &self,
        token: &str,
        order_id: u64,
        amount: i64,
        lab: Option<&str>,
    ) -> Result<pb::Payment, Status> {
        let mut req = authed(token, pb::CreatePaymentRequest { order_id, amount });
        if let Some(v) = lab {
            req.metadata_mut().insert("x-lab-payment", v.parse().unwrap());
        }
        Ok(self.payments.clone().create_payment(req).await?.into_inner().payment.unwrap())
    }

    pub async fn query(&self, token: &str, payment_no: &str) -> Result<pb::Payment, Status> {
        let req =
            authed(token, pb::QueryPaymentRequest { payment_no: payment_no.into(), order_id: 0 });
        Ok(self.payments.clone().query_payment(req).await?.into_inner().payment.unwrap())
    }

    /// MockCallback with the service credential.
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
        req.metadata_mut().insert(
            "x-service-token",
            bookstore_platform::auth::DEV_SERVICE_TOKEN.parse().unwrap(),
        );
        Ok(self.payments.clone().mock_callback(req).await?.into_inner().payment.unwrap())
    }

    /// Waits until the payment `no` satisfies `done` (polling QueryPayment).
    pub async fn wait_payment(
        &self,
        token: &str,
        no: &str,
        within: Duration,
        done: impl Fn(&pb::Payment) -> bool,
    ) -> pb::Payment {
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

    /// payment_db, for direct looks at the outbox.
    pub async fn payment_db(&self) -> sqlx::MySqlPool {
        sqlx::MySqlPool::connect(&self.infra.database_url(&self.payment_settings.common.database))
            .await
            .unwrap()
    }

    pub async fn stop_payment(&mut self) {
        if let Some(p) = self.payment.take() {
            p.stop().await.unwrap();
        }
    }
}
