//! # payment-service — the mock payment gateway
//!
//! **Not built yet** (Day 33–34 has its own issue). The server runs, registers in Consul and
//! answers health checks and reflection, but every RPC answers `UNIMPLEMENTED` (the
//! generated default stubs): no RPC pretends to work. The contracts it will honour are
//! written in `proto/bookstore/payment/v1/payment.proto`.
//!
//! - [`Settings`]: the common settings (port 9005, database `payment_db`).
//! - [`run`]: serve until shutdown.
//!
//! Why ship a skeleton at all: the stack supervisor, the gateway and the dashboard need
//! all six processes from day one, and a stub that answers `UNIMPLEMENTED` is honest —
//! a client learns at once that the RPC does not exist yet. ❌ DON'T fake a stub that
//! returns an empty success: callers would build on an answer that means nothing.
//! It connects to neither MySQL nor Redis yet: a dependency it does not use would only
//! give it a way to fail at start-up.

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, run::Bound};
use bookstore_proto::payment::payment_service_server::{PaymentService, PaymentServiceServer};
use serde::{Deserialize, Serialize};

/// This service's settings: only the common ones so far. `flatten` puts the common fields
/// at the top level, so the env var is `BOOKSTORE_PORT`, not `BOOKSTORE_COMMON__PORT`;
/// the service's own fields will sit next to them when it gets some.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self { common: CommonSettings::defaults(9005, "payment_db") }
    }
}

/// The gRPC handler. Empty on purpose: every method falls back to the generated stub,
/// which answers `Status::unimplemented`. When it is built, this struct will hold the
/// service's dependencies (a MySQL pool, clients of the services it calls), and each
/// method will stay a thin translation between proto messages and the domain.
#[derive(Clone, Copy, Debug, Default)]
pub struct PaymentApi;

impl PaymentService for PaymentApi {}

/// Binds, serves until `shutdown`, and reports the bound addresses through `on_bound`.
/// A library function, not code in `main`, so integration tests can start the real
/// server in-process on port 0 and learn its address from `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    let server = GrpcServer::bind(&settings.common.host, settings.common.port)
        .await?
        .add_service(PaymentServiceServer::new(PaymentApi));
    bookstore_platform::run::serve("payment-service", &settings.common, server, shutdown, on_bound)
        .await
}
