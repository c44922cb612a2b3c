//! The lifecycle every service's `main.rs` shares, in one place:
//! metrics endpoint → serve gRPC → register in Consul → wait for shutdown → deregister.
//!
//! Keeping it here means a learner reads the order of these steps once, and a fix to it
//! (say, deregistering *before* draining) lands in all services at once.
//!
//! Why this order:
//! 1. metrics first — so the very first RPCs are already counted;
//! 2. serve before registering — Consul's first health check must find a server that
//!    answers, or the instance starts its life as "critical";
//! 3. on shutdown, deregister from Consul, *then* start draining — discovery clients stop
//!    picking this instance, while RPCs already in flight are allowed to finish.
//!
//! Shortcut, honestly: draining starts as soon as the deregistration call returns, so a
//! client whose cached instance list (see `discovery`) still names us may dial a server
//! that has just stopped accepting. Production services deregister, then wait a few
//! seconds for caches and load balancers to notice, and only then stop accepting.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{
    config::CommonSettings,
    consul::{Consul, Registration},
    server::GrpcServer,
    shutdown::Shutdown,
};

/// Where a running service can be reached; returned to tests and logged at start.
/// Real addresses, never the configured ones: with port 0 only these are dialable.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// The gRPC address: what clients dial and Consul's health check calls.
    pub grpc: SocketAddr,
    /// The `/metrics` address, published to Consul as `metrics_port` for the dashboard.
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

    // Consul checks one name per registration: the first service added is the service's
    // main API (the others, if any, share its process and so its fate).
    // A server with no service of its own (`unwrap_or_default`) gets the server-wide `""`
    // health checked instead, which every platform server reports.
    let grpc_service = server.service_names().first().copied().unwrap_or_default().to_string();
    // Spawned so this function can go on to register; its `JoinHandle` is awaited at the
    // end, so a server error still reaches `main` (and its exit code).
    // The server drains on its own token, fired only after Consul has been told: the
    // order is "stop being discoverable → stop accepting → finish in-flight RPCs".
    // ❌ DON'T hand the server the signal token directly — it would close its listener at
    // the same instant we deregister, and clients that just looked us up would be refused.
    let drain = Shutdown::new();
    let serving = tokio::spawn(server.serve(drain.clone()));

    let registration = if settings.consul_addr.is_empty() {
        None
    } else {
        let host = settings.advertised_host().to_string();
        let name =
            if settings.consul_name.is_empty() { consul_name } else { &settings.consul_name };
        let reg = Registration {
            name: name.to_string(),
            // Unique per *process*: host and port tell instances apart, the pid tells a
            // restarted instance from the one killed on the same port. The killed one's
            // entry then goes critical and is reaped on its own, visibly (the dashboard
            // shows it), instead of being silently overwritten by its successor.
            id: format!("{name}-{host}-{}-{}", grpc.port(), std::process::id()),
            host,
            port: grpc.port(),
            grpc_service,
            meta: vec![("metrics_port".into(), metrics.port().to_string())],
            check_interval: Duration::from_millis(settings.consul_check_interval_ms),
            check_timeout: Duration::from_millis(settings.consul_check_timeout_ms),
            deregister_after: Duration::from_secs(settings.consul_deregister_after_secs),
        };
        let consul = Consul::new(&settings.consul_addr);
        // A Consul that is briefly down must not keep the service from starting: it can
        // serve static-address clients meanwhile. Registration is retried in the
        // background until it succeeds.
        let (c, r) = (consul.clone(), reg.clone());
        let retry_shutdown = shutdown.clone();
        let registering = tokio::spawn(async move {
            // Exponential backoff, capped at 10 s: quick to succeed when Consul is merely
            // starting, gentle on an agent that is down for longer.
            // ❌ DON'T retry in a tight loop — a thousand instances hammering a recovering
            // Consul every millisecond keep it from recovering. (Production adds random
            // jitter too, so restarted fleets do not retry in lock-step.)
            let mut delay = Duration::from_millis(200);
            loop {
                match c.register(&r).await {
                    Ok(()) => {
                        tracing::info!(id = %r.id, "registered in consul");
                        match c.deregister_predecessors(&r).await {
                            Ok(0) => {}
                            Ok(n) => {
                                tracing::info!(n, "removed stale registrations of this address")
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "could not clean stale registrations")
                            }
                        }
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
        Some((consul, reg, registering))
    };

    shutdown.cancelled().await;
    if let Some((consul, reg, registering)) = registration {
        // Wait for an in-flight registration to finish (the loop stops retrying on
        // shutdown), so it cannot land *after* the deregistration and leave a stale entry.
        // A `JoinError` (the task panicked) is ignored: shutdown must go on either way.
        let _ = registering.await;
        // Deregister first: clients stop picking this instance while it still drains.
        // A failure is only logged: shutdown must go on, and `DeregisterCriticalServiceAfter`
        // removes the entry anyway once its health check has failed for a minute.
        if let Err(e) = consul.deregister(&reg.id).await {
            tracing::warn!(error = %e, "consul deregistration failed");
        }
    }
    drain.cancel();
    // Two `?`: the outer for a panicked server task (JoinError), the inner for its error.
    serving.await??;
    tracing::info!(service = consul_name, "stopped");
    Ok(())
}

/// A service started on a task of the current runtime with [`spawn_in_process`]: where it
/// listens, and a way to stop it the way SIGTERM would.
pub struct Spawned {
    pub bound: Bound,
    shutdown: Shutdown,
    /// Awaited by `stop`, so a drain error or a panic in the service reaches the caller.
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    /// Stops the service gracefully and waits until it has drained.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.handle.await?
    }

    /// The service's shutdown token, for callers that tie it to a wider lifetime.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }
}

/// Runs a service's `run` (given its shutdown token and bound-address callback) on a task
/// and returns once the service listens — the in-process start that tests and benches use
/// instead of a child process: the same code as `main`, but the caller learns the port it
/// got for port 0 and can stop the service deterministically. A start-up failure (bad
/// settings, MySQL down) is returned as the error, not as an address that never comes.
pub async fn spawn_in_process<Fut>(
    name: &str,
    run: impl FnOnce(Shutdown, Box<dyn FnOnce(Bound) + Send>) -> Fut,
) -> anyhow::Result<Spawned>
where
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let shutdown = Shutdown::new();
    // A oneshot: `on_bound` runs at most once, and a sender dropped unused is itself the
    // signal that `run` failed before binding (see the `Err` arm below).
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(run(
        shutdown.clone(),
        Box::new(move |b| {
            let _ = tx.send(b);
        }),
    ));
    match rx.await {
        Ok(bound) => Ok(Spawned { bound, shutdown, handle }),
        // The sender was dropped unused: `run` failed before binding.
        // `run` returning Ok without ever binding is not something a service does; if one
        // did, the error still names it.
        Err(_) => Err(handle.await?.err().unwrap_or_else(|| anyhow::anyhow!("{name} stopped"))),
    }
}
