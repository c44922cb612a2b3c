//! # gateway — the HTTP/JSON front door (port 8080)
//!
//! axum in front of the gRPC services. So far it serves only `GET /health`; the book and
//! user routes arrive with issue #4, the order and payment routes with their services.
//!
//! - [`Settings`]: the common settings (port 8080).
//! - [`router`]: the axum routes.
//! - [`run`]: bind and serve until shutdown.

use std::net::SocketAddr;

use axum::{Json, Router, routing::get};
use bookstore_platform::{CommonSettings, Shutdown};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(8080, ""),
        }
    }
}

/// The HTTP routes.
pub fn router() -> Router {
    Router::new().route(
        "/health",
        get(|| async { Json(serde_json::json!({"status": "ok"})) }),
    )
}

/// Binds `host:port` (0 = any), reports the address, serves until `shutdown`.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind((settings.common.host.as_str(), settings.common.port))
            .await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "gateway listening");
    on_bound(addr);
    axum::serve(listener, router())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
