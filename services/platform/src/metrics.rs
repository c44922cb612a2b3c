//! The Prometheus `/metrics` endpoint.
//!
//! Handlers record with the `metrics` facade (`metrics::counter!(…)`); this module installs
//! the Prometheus recorder once per process and serves its text on its own port.
//!
//! DO: measure what you claim. "Hit rate > 80 %" is a number on this endpoint
//! (`cache_requests_total{result="hit"}`), not a feeling.
//!
//! Why a separate port and not a route on the gRPC server: Prometheus scrapes plain HTTP
//! GET, the gRPC port speaks HTTP/2 with gRPC framing, and keeping operations traffic
//! apart means a scrape can never queue behind business RPCs (nor be exposed where they are).
//!
//! Why histograms and not averages: an average of 1 ms hides the 1 % of requests that
//! take 200 ms, and those are the ones users notice. Prometheus computes p50/p99 from
//! bucket counts (`histogram_quantile`) — with the caveat that a percentile is only as
//! precise as the buckets around it.

use std::{net::SocketAddr, sync::OnceLock};

use axum::{Router, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::shutdown::Shutdown;

// One recorder per process: the `metrics` facade has a single global sink, like `log`.
// `OnceLock` makes the first caller install it and every later caller (another server
// in the same test binary) get the same handle.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Latency buckets (seconds) chosen for loopback RPCs: 50 µs … 5 s. Sixteen bounds:
        // with `+Inf`, `_sum` and `_count` that is 19 series per label value, which is why
        // the labels of every histogram here stay a small closed set.
        let buckets = [
            0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1.0, 2.5, 5.0,
        ];
        let builder = PrometheusBuilder::new()
            // By suffix: every latency named in seconds (the Prometheus convention) gets these
            // buckets unlisted; a histogram without buckets renders as a summary instead.
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .expect("static bucket list is not empty");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is already installed in this process (only in unusual test
            // set-ups): keep a private one so rendering still works.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Serves `GET /metrics` on `host:port` (0 = any port) until `shutdown`; returns the address.
/// Bound before returning (so the caller can publish the real port), served in the
/// background; a failure after start is dropped — metrics must never take the service down.
pub async fn serve(host: &str, port: u16, shutdown: Shutdown) -> anyhow::Result<SocketAddr> {
    let handle = handle();
    let listener = TcpListener::bind((host, port)).await?;
    let addr = listener.local_addr()?;
    // Rendered at each scrape from the recorder's current state: the endpoint keeps no
    // copy of its own, so there is nothing here to go stale between scrapes.
    let app = Router::new().route("/metrics", get(move || async move { handle.render() }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(addr)
}
