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
//!
//! The invariants this service keeps (the tests in `tests/` attack each):
//! - one live payment per order: a double click, a retry or 100 concurrent requests never
//!   charge twice (a unique index, not a check in code);
//! - one outcome per payment: however many callbacks arrive, and in whatever order with
//!   the mock gateway's own answer, the first settles it and the rest change nothing;
//! - "paid" and "order-service will hear about it" commit together (the outbox), and the
//!   message is retried until order-service answers, across restarts of either side;
//! - a payment that succeeds for an order that can no longer be paid is refunded; the
//!   order is never moved back from Cancelled to Paid.
//!
//! What it is not for: deciding whether an order may be paid or who owns it (order-service
//! answers both, with the payer's token), and talking to a real payment provider — the
//! mock gateway in [`workers`] stands in for one, with the same asynchronous shape: an
//! answer that arrives seconds later, possibly more than once.
//!
//! Where to start reading: [`api`] for CreatePayment's checks, then
//! [`store::Store::settle_in`] for the one state change, then [`workers`] for what happens
//! while nobody waits.
//!
//! ## The numbers, in one place
//!
//! | what | value | where it is decided |
//! |---|---|---|
//! | the mock gateway's answer | 3 s after creation (+ up to one 200 ms poll) | `confirm_delay_ms`, `workers::POLL` |
//! | relay retries | 0.2 s, doubling, capped at 10 s | `workers::relay_pass` |
//! | rows per worker pass | 50 | `workers::BATCH` |
//! | each call to order-service | 3 s deadline | `upstream_timeout_ms` |
//! | MySQL connections | 10 | `db_max_connections` |
//!
//! ## Two instances on one payment_db
//!
//! Safe by construction, and tested (`tests/payments.rs` runs a second instance): both
//! workers take rows with `FOR UPDATE SKIP LOCKED`, one live payment per order is a unique
//! index, settlement is idempotent under the payment's row lock, and order-service's Paid
//! is idempotent too. Nothing here assumes it is the only process.

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
///
/// The common part (port, database, environment, Consul) is flattened in, so the same
/// `BOOKSTORE_PORT`, `BOOKSTORE_DATABASE` work here as in every service; the fields below
/// are payment-service's own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// order-service, e.g. `http://127.0.0.1:9003`.
    pub order_addr: String,
    /// Deadline of each call to order-service (3 s): CreatePayment's GetOrder and the
    /// relay's UpdateOrderStatus. A relay call that times out is simply retried later,
    /// because the outbox row stays undelivered.
    pub upstream_timeout_ms: u64,
    /// How long the mock gateway takes to answer: the course's 3 s. It becomes the job's
    /// `due_at`, a time in payment_db, so a restart does not reset or lose it.
    pub confirm_delay_ms: u64,
    /// Share of payments the mock gateway declines (0.0–1.0): the lab turns it up to show
    /// the failure path; 0 by default, so nothing fails unless asked to. Drawn once per
    /// payment at creation and stored with its job, so a restart cannot change an answer.
    pub mock_failure_rate: f64,
    /// The credential for UpdateOrderStatus and MockCallback (order-service has the same).
    /// A `Secret`, so `Debug` of the settings prints `***`; refused at start outside
    /// development while it is still the published default.
    pub service_token: Secret,
    /// Honour `x-lab-payment: fail` (the lab's experiments and the tests).
    pub lab_faults: bool,
    /// MySQL connections (10). The relay holds one across each order-service call (its
    /// outbox rows stay locked meanwhile), and the gateway worker one per pass; the rest
    /// serve requests, each of which holds one only for its own statements.
    pub db_max_connections: u32,
}

/// The course's port (9005) and database (`payment_db`), order-service on 9003, and the
/// mock gateway's 3 s; production by default, so the development token is refused until
/// an environment is chosen.
impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9005, "payment_db"),
            order_addr: "http://127.0.0.1:9003".into(),
            upstream_timeout_ms: 3000,
            // The course's 3 s: long enough to watch a payment sit in Pending in the lab,
            // short enough that a learner is not left waiting.
            confirm_delay_ms: 3000,
            mock_failure_rate: 0.0,
            // The published token: fine for the lab, refused by `check` in production.
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
        // Outside 0–1 the rate is meaningless (1.5 would decline everything and hide the
        // typo); NaN fails the range check too.
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.mock_failure_rate),
            "mock_failure_rate must be between 0 and 1"
        );
        Ok(())
    }

    /// Settings for an in-process instance (tests, bench): port 0, no Consul, lab faults on.
    ///
    /// The mock gateway keeps the course's 3 s here; tests that want a shorter window set
    /// `confirm_delay_ms` on the result, so each test states the timing it relies on.
    pub fn in_process(mysql_url: &str, database: &str, order_addr: &str) -> Self {
        let mut s = Settings::default();
        s.common.port = 0;
        s.common.mysql_url = Secret::new(mysql_url);
        s.common.database = database.to_string();
        s.common.consul_addr = String::new();
        s.order_addr = order_addr.to_string();
        // Lab faults on: the tests decline chosen payments with `x-lab-payment: fail`.
        s.lab_faults = true;
        // Tests and benches run with the built-in development credentials, chosen explicitly:
        // the default environment is production, which refuses them.
        s.common.environment = "development".into();
        s
    }
}

/// The schema of `payment_db`, compiled into the binary: `payments`, `gateway_jobs` and
/// `outbox` (`migrations/payment`), one table per thing that must survive a restart.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payment");

/// Connects MySQL (creating and migrating `payment_db`), starts the mock gateway and the
/// relay, serves until `shutdown`, and reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    // Settings first: a refused credential fails in milliseconds, before MySQL is touched.
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
    // The client connects lazily: payment-service starts (and its workers drain the mock
    // gateway's due jobs) while order-service is still starting; only CreatePayment and
    // the relay need it, and the relay retries.
    let orders = peers::Orders::new(
        &settings.order_addr,
        settings.service_token.clone(),
        Duration::from_millis(settings.upstream_timeout_ms),
    )?;
    // The two workers start before the port is bound, so jobs that came due while the
    // service was down are answered at once: that is the restart guarantee `tests/restart.rs`
    // checks. Both stop on the same shutdown token as the server, between passes; a pass
    // cut short by the process exiting only rolls back its transaction, and its rows are
    // due again for the next process.
    tokio::spawn(workers::gateway(store.clone(), shutdown.clone()));
    tokio::spawn(workers::relay(store.clone(), orders.clone(), shutdown.clone()));
    // The handlers get the same store and client as the workers: one pool, one channel,
    // so a request and a worker pass compete for the same 10 connections, by design.
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
    // Bound last, after MySQL and the workers: health turns SERVING only once the service
    // can really take payments.
    let server = GrpcServer::bind(&common.host, common.port)
        .await?
        .add_service(PaymentServiceServer::new(api));
    bookstore_platform::run::serve("payment-service", common, server, shutdown, on_bound).await
}

pub use bookstore_platform::run::Spawned;

/// The one in-process start of payment-service (tests, the gateway's tests, benches): `run`
/// on a task, returning once it listens, with a handle that stops it gracefully — its
/// workers included, since they share the shutdown token.
pub async fn spawn_in_process(settings: Settings) -> anyhow::Result<Spawned> {
    bookstore_platform::run::spawn_in_process("payment-service", |shutdown, on_bound| {
        run(settings, shutdown, on_bound)
    })
    .await
}
