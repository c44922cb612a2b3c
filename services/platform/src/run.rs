//! The lifecycle every service's `main.rs` shares, in one place:
//! metrics endpoint → serve gRPC → register in Consul → wait for shutdown → deregister.
//!
//! Keeping it here means a learner reads the order of these steps once, and a fix to it
//! (say, deregistering *before* draining) lands in all services at once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{
    config::CommonSettings,
    consul::{Consul, Registration},
    server::GrpcServer,
    shutdown::Shutdown,
};

/// Where a running service can be reached; returned to tests and logged at start.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub metrics: SocketAddr,
}

/// Serves `server` until `shutdown`, with metrics and (if `consul_addr` is set) Consul
/// registration. `consul_name` is the logical name, e.g. `inventory-service`.
///
/// Returns once the server has drained. `on_bound` is called with the real addresses
/// before serving starts (tests use it to learn the ports).
pub async fn serve(
    consul_name: &str,
    settings: &CommonSettings,
    server: GrpcServer,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    let grpc = server.local_addr();
    let metrics =
        crate::metrics::serve(&settings.host, settings.metrics_port, shutdown.clone()).await?;
    let bound = Bound { grpc, metrics };
    tracing::info!(service = consul_name, %grpc, %metrics, "listening");
    on_bound(bound);

    let grpc_service = server.service_names().first().copied().unwrap_or_default().to_string();
    let serving = tokio::spawn(server.serve(shutdown.clone()));

    let registration = if settings.consul_addr.is_empty() {
        None
    } else {
        let host = settings.advertised_host().to_string();
        let reg = Registration {
            name: consul_name.to_string(),
            id: format!("{consul_name}-{host}:{}", grpc.port()),
            host,
            port: grpc.port(),
            grpc_service,
            meta: vec![("metrics_port".into(), metrics.port().to_string())],
            check_interval: Duration::from_secs(2),
        };
        let consul = Consul::new(&settings.consul_addr);
        // A Consul that is briefly down must not keep the service from starting: it can
        // serve static-address clients meanwhile. Registration is retried in the
        // background until it succeeds.
        let (c, r) = (consul.clone(), reg.clone());
        let retry_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match c.register(&r).await {
                    Ok(()) => {
                        tracing::info!(id = %r.id, "registered in consul");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "consul registration failed; retrying"),
                }
                tokio::select! {
                    _ = retry_shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        });
        Some((consul, reg))
    };

    shutdown.cancelled().await;
    if let Some((consul, reg)) = registration {
        // Deregister first: clients stop picking this instance while it still drains.
        if let Err(e) = consul.deregister(&reg.id).await {
            tracing::warn!(error = %e, "consul deregistration failed");
        }
    }
    serving.await??;
    tracing::info!(service = consul_name, "stopped");
    Ok(())
}
