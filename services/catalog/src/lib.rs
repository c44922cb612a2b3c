//! # catalog-service — books with a Redis cache
//!
//! **Not built yet** (Day 29, issue #4 has its own issue). The server runs, registers in Consul and
//! answers health checks and reflection, but every RPC answers `UNIMPLEMENTED` (the
//! generated default stubs): no RPC pretends to work. The contracts it will honour are
//! written in `proto/bookstore/catalog/v1/catalog.proto`.
//!
//! - [`Settings`]: the common settings (port 9002, database `catalog_db`).
//! - [`run`]: serve until shutdown.

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, run::Bound};
use bookstore_proto::catalog::catalog_service_server::{CatalogService, CatalogServiceServer};
use serde::{Deserialize, Serialize};

/// This service's settings: only the common ones so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9002, "catalog_db"),
        }
    }
}

/// The gRPC handler. Empty on purpose: every method falls back to the generated stub,
/// which answers `Status::unimplemented`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatalogApi;

impl CatalogService for CatalogApi {}

/// Binds, serves until `shutdown`, and reports the bound addresses through `on_bound`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    let server = GrpcServer::bind(&settings.common.host, settings.common.port)
        .await?
        .add_service(CatalogServiceServer::new(CatalogApi));
    bookstore_platform::run::serve(
        "catalog-service",
        &settings.common,
        server,
        shutdown,
        on_bound,
    )
    .await
}
