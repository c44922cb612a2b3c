//! Waiting for a dependency at start-up: retry a *transient* failure for a bounded time,
//! fail at once on anything else.
//!
//! Why a service must wait at all: "MySQL and Redis are up before us" is a wish, not a
//! guarantee. Redis answers commands with `-LOADING` for seconds while it replays a large
//! append-only file; MariaDB refuses connections during crash recovery; in compose or
//! Kubernetes every container starts at once. A service that exits on the first
//! `BusyLoadingError` turns a few seconds of warm-up into a crash loop — and in the lab,
//! into a failed `bookstore-lab up`.
//!
//! Why *bounded*, and why only transient errors: a wrong password or a mistyped database
//! name will never heal, and a service that retries them forever looks "starting" to
//! everyone while it is simply broken. So each caller names the errors that can heal
//! (connection refused, `-LOADING`, too many connections), and gives up after
//! [`START_BUDGET`] of waiting with the last error — the supervisor then shows it.
//!
//! ✅ DO back off exponentially with jitter: ten instances restarting together then do
//! not hammer a recovering server in lockstep. ❌ DON'T retry inside every request
//! handler the same way: at start-up nobody waits on us, in a request a client does, and
//! there the right answer to "Redis is loading" is a fast `Unavailable`.
//!
//! What it is NOT: a general retry layer for RPCs. The backoff itself is `backon`'s; this
//! module only fixes the policy every service uses at start.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// Total time spent *sleeping* between attempts before giving up (each attempt's own
/// connect timeout comes on top). 30 s covers a Redis replaying a few hundred MB of AOF
/// or an InnoDB crash recovery on a laptop, and is short enough that a service pointed at
/// a server that is really gone still fails within a minute, with the reason.
pub const START_BUDGET: Duration = Duration::from_secs(30);

/// Runs `attempt` until it succeeds, fails with an error `transient` rejects, or the
/// [`START_BUDGET`] is spent. `what` names the dependency in the warning logged before
/// each retry (`waiting for Redis: busy loading; retrying in 400ms`).
///
/// Delays grow 100 ms, 200 ms, 400 ms … up to 2 s, with jitter, so a dependency that
/// comes back within a second costs about a second, not a fixed 5 s sleep.
pub async fn at_start<T, E, Fut>(
    what: &str,
    attempt: impl FnMut() -> Fut,
    transient: impl FnMut(&E) -> bool,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        // No attempt limit: time is the one bound, so the policy means the same whether
        // an attempt fails in 1 ms (refused) or takes seconds (a connect timeout).
        .without_max_times()
        .with_total_delay(Some(START_BUDGET));
    attempt
        .retry(policy)
        .sleep(tokio::time::sleep)
        .when(transient)
        .notify(|e: &E, delay: Duration| {
            tracing::warn!(error = %e, ?delay, "waiting for {what}; retrying");
        })
        .await
}
