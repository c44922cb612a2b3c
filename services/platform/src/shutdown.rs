//! Graceful shutdown: one token, cancelled by Ctrl-C or SIGTERM (what `kill`, systemd and
//! Docker send). Every long-running task selects on it and finishes its current unit of
//! work — an in-flight RPC, a batch of ledger rows — before returning.
//!
//! DON'T let SIGTERM kill the process mid-write: the supervisor, Docker and Kubernetes all
//! send it first and wait, precisely so that services can deregister and drain.
//!
//! Why a `CancellationToken` and not a channel or a global flag: it is cheap to clone into
//! every task, `cancelled().await` fits in a `tokio::select!`, cancelling twice is harmless,
//! and a child token could scope a shutdown to one subsystem. A global `AtomicBool` would
//! have to be polled; a broadcast channel would need a receiver per task.
//!
//! What it is NOT: a deadline. After the token fires, tasks finish what they are doing;
//! something outside must still enforce a limit (the stack supervisor SIGKILLs after
//! 30 s, Kubernetes after `terminationGracePeriodSeconds`).

pub use tokio_util::sync::CancellationToken as Shutdown;

/// A token that fires on the first SIGINT or SIGTERM.
///
/// Only the first: tokio's handlers stay installed, so a second Ctrl-C does *not* kill the
/// process at once — it is ignored while the drain runs. (Many servers exit hard on the
/// second Ctrl-C; here the supervisor's SIGKILL is the hard stop.)
pub fn on_signal() -> Shutdown {
    let token = Shutdown::new();
    let fire = token.clone();
    // Spawned, so the caller gets the token at once while the wait runs beside the service;
    // hence `on_signal` must be called inside the runtime (as `#[tokio::main]` code is).
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
        // SIGTERM is what `kill`, `docker stop` and our supervisor send; SIGINT is Ctrl-C
        // in a terminal. A service that handled only Ctrl-C would be killed hard by
        // every deployment tool after its grace period.
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            // Installing a handler can fail only in odd sandboxes; fall back to Ctrl-C
            // rather than refusing to start.
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
