//! # inventory-service — stock with Redis + Lua and a MySQL ledger
//!
//! **Not built yet** (Day 29–30, issue #3 has its own issue). The server runs, registers in Consul and
//! answers health checks and reflection, but every RPC answers `UNIMPLEMENTED` (the
//! generated default stubs): no RPC pretends to work. The contracts it will honour are
//! written in `proto/bookstore/inventory/v1/inventory.proto`.
//!
//! - [`Settings`]: the common settings (port 9004, database `inventory_db`).
//! - [`run`]: serve until shutdown.

pub mod domain;
pub mod error;
pub mod race;
pub mod store;

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, run::Bound};
use bookstore_proto::inventory::inventory_service_server::{
    InventoryService, InventoryServiceServer,
};
use serde::{Deserialize, Serialize};

/// This service's settings: only the common ones so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self { common: CommonSettings::defaults(9004, "inventory_db") }
    }
}

/// The gRPC handler. Empty on purpose: every method falls back to the generated stub,
/// which answers `Status::unimplemented`.
#[derive(Clone, Copy, Debug, Default)]
pub struct InventoryApi;

impl InventoryService for InventoryApi {}

/// Binds, serves until `shutdown`, and reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    let server = GrpcServer::bind(&settings.common.host, settings.common.port)
        .await?
        .add_service(InventoryServiceServer::new(InventoryApi));
    bookstore_platform::run::serve(
        "inventory-service",
        &settings.common,
        server,
        shutdown,
        on_bound,
    )
    .await
}
