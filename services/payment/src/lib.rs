//! # payment-service — payments with a durable mock gateway (Day 33–34)
//!
//! It owns `payment_db` and calls one service, order-service: to learn what an order costs
//! and whose it is (GetOrder with the payer's token), and to say "this order is paid"
//! (UpdateOrderStatus with the service credential; order-service then confirms the stock).
//! The contract is `proto/bookstore/payment/v1/payment.proto`.
//!
//! | module | its one job |
//! |---|---|
//! | [`domain`] | statuses and input rules (positive cents, ids) |
//! | [`store`] | payment_db: payments, gateway jobs, the outbox; [`store::Store::settle_in`] is the one state change |
//! | [`workers`] | the mock gateway and the outbox relay: what finishes a payment after a restart |
//! | [`peers`] | the order-service client |
//! | [`api`] | the gRPC handlers and who may call what |
//! | [`error`] | the one error enum and its one mapping to `tonic::Status` |
//!
//! A payment's life, and what makes each step survive a crash:
//!
//! ```text
//! CreatePayment ─▶ payments(Pending) + gateway_jobs(due in 3 s)          one transaction
//! mock gateway ──▶ payments(Success) + outbox row                          one transaction
//! relay ─────────▶ order UpdateOrderStatus(Paid) → inventory confirm      retried until accepted
//!                  refused (order expired/cancelled) → payments(Refunded)
//! ```
//!
//! Money is integer cents everywhere: `0.1 + 0.2 != 0.3` in floating point, and a payment
//! system that loses a cent per thousand orders is a payment system with an audit finding.

pub mod api;
pub mod domain;
pub mod error;
pub mod peers;
pub mod store;
pub mod workers;

use std::time::Duration;

use bookstore_platform::{
    CommonSettings, GrpcServer, Secret, Shutdown, auth::DEV_SERVICE_TOKEN, run::Bound,
};
use bookstore_proto::payment::payment_service_server::PaymentServiceServer;
use serde::{Deserialize, Serialize};

pub use error::Error;

/// payment-service settings. Environment: `BOOKSTORE_ORDER_ADDR`, `BOOKSTORE_CONFIRM_DELAY_MS`, …
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// order-service, e.g. `http://127.0.0.1:9003`.
    pub order_addr: String,
    /// Deadline of each call to order-service.
    pub upstream_timeout_ms: u64,
    /// How long the mock gateway takes to answer: the course's 3 s.
    pub confirm_delay_ms: u64,
    /// Share of payments the mock gateway declines (0.0–1.0): the lab turns it up to show
    /// the failure path; 0 by default, so nothing fails unless asked to.
    pub mock_failure_rate: f64,
    /// The credential for UpdateOrderStatus and MockCallback (order-service has the same).
    pub service_token: Secret,
    /// Honour `x-lab-payment: fail` (the lab's experiments and the tests).
    pub lab_faults: bool,
    pub db_max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9005, "payment_db"),
            order_addr: "http://127.0.0.1:9003".into(),
            upstream_timeout_ms: 3000,
            confirm_delay_ms: 3000,
            mock_failure_rate: 0.0,
            service_token: Secret::new(DEV_SERVICE_TOKEN),
            lab_faults: false,
            db_max_connections: 10,
        }
    }
}

impl Settings {
    /// Fails fast on settings that would make the service unsafe or meaningless.
    pub fn check(&self) -> anyhow::Result<()> {
        bookstore_platform::auth::refuse_dev_service_token(&self.common, &self.service_token)?;
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.mock_failure_rate),
            "mock_failure_rate must be between 0 and 1"
        );
        Ok(())
    }

    /// Settings for an in-process instance (tests, bench): port 0, no Consul, lab faults on.
    pub fn in_process(mysql_url: &str, database: &str, order_addr: &str) -> Self {
        let mut s = Settings::default();
        s.common.port = 0;
        s.common.mysql_url = Secret::new(mysql_url);
        s.common.database = database.to_string();
        s.common.consul_addr = String::new();
        s.order_addr = order_addr.to_string();
        s.lab_faults = true;
        // Tests and benches run with the built-in development credentials, chosen explicitly:
        // the default environment is production, which refuses them.
        s.common.environment = "development".into();
        s
    }
}

/// The schema of `payment_db`, compiled into the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payment");

/// Connects MySQL (creating and migrating `payment_db`), starts the mock gateway and the
/// relay, serves until `shutdown`, and reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    settings.check()?;
    let common = &settings.common;
    let pool = bookstore_platform::db::connect(
        common.mysql_url.expose(),
        &common.database,
        settings.db_max_connections,
        &MIGRATOR,
    )
    .await?;
    let store = store::Store::new(pool);
    let orders = peers::Orders::new(
        &settings.order_addr,
        settings.service_token.clone(),
        Duration::from_millis(settings.upstream_timeout_ms),
    )?;
    tokio::spawn(workers::gateway(store.clone(), shutdown.clone()));
    tokio::spawn(workers::relay(store.clone(), orders.clone(), shutdown.clone()));
    let api = api::PaymentApi::new(
        store,
        orders,
        api::Config {
            confirm_delay: Duration::from_millis(settings.confirm_delay_ms),
            failure_rate: settings.mock_failure_rate,
            service_token: settings.service_token.clone(),
            lab_faults: settings.lab_faults,
        },
    );
    let server = GrpcServer::bind(&common.host, common.port)
        .await?
        .add_service(PaymentServiceServer::new(api));
    bookstore_platform::run::serve("payment-service", common, server, shutdown, on_bound).await
}

pub use bookstore_platform::run::Spawned;

/// The one in-process start of payment-service (tests, the gateway's tests, benches).
pub async fn spawn_in_process(settings: Settings) -> anyhow::Result<Spawned> {
    bookstore_platform::run::spawn_in_process("payment-service", |shutdown, on_bound| {
        run(settings, shutdown, on_bound)
    })
    .await
}
