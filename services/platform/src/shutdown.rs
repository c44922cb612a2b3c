//! Graceful shutdown: one token, cancelled by Ctrl-C or SIGTERM (what `kill`, systemd and
//! Docker send). Every long-running task selects on it and finishes its current unit of
//! work — an in-flight RPC, a batch of ledger rows — before returning.
//!
//! DON'T let SIGTERM kill the process mid-write: the supervisor, Docker and Kubernetes all
//! send it first and wait, precisely so that services can deregister and drain.

pub use tokio_util::sync::CancellationToken as Shutdown;

/// A token that fires on the first SIGINT or SIGTERM.
pub fn on_signal() -> Shutdown {
    let token = Shutdown::new();
    let fire = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        fire.cancel();
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
