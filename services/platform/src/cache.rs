//! Redis: one multiplexed, auto-reconnecting connection per service instance.
//!
//! DO: share one `ConnectionManager` (it is a cheap clone over one TCP connection that
//! pipelines commands). Redis is single-threaded; a pool of 100 connections does not make
//! it faster, it only adds context switches.
//! DON'T: open a connection per request — connect cost dwarfs the command at 10k TPS.
//!
//! Why multiplexing is safe: Redis answers commands on one connection strictly in order, so
//! the client can pipeline many tasks' commands on one socket and match replies by
//! position. The exception is anything that holds the connection's *state* — `MULTI`/`EXEC`
//! across awaits, blocking pops, `SUBSCRIBE` — which needs a dedicated connection. The
//! course's atomicity comes from Lua scripts (one command), so one shared connection fits.
//!
//! What it is NOT: key naming. Prefixes (`CommonSettings::redis_prefix`) and Redis
//! Cluster hash tags are applied by each service where it builds its keys.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Connects and verifies with a PING; reconnects transparently later.
///
/// The PING makes a wrong URL fail at start-up (fail fast), not on the first request.
/// "Transparently" has a limit worth knowing: a command in flight when the connection
/// drops fails with an I/O error — the manager reconnects for the *next* command — so
/// handlers must map Redis errors to `Unavailable`, not assume they never happen.
///
/// A Redis that is still starting is waited for (see [`crate::retry`]): refused or dropped
/// connections, timeouts and `-LOADING` (replaying its AOF — seconds for a large one) are
/// retried for up to [`crate::retry::START_BUDGET`]; a bad URL or a refused AUTH is not.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    // `open` only parses the URL and connects nothing, so a malformed URL fails here, at
    // once and outside the retry, as the configuration error it is.
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        // Timeouts on connect and on each response: without them, a Redis that accepts
        // TCP but never answers (paused, swapping) would hang every request forever.
        // Five seconds each: four orders of magnitude above a loopback round trip (~0.1 ms),
        // so they fire only on a Redis that is really stuck.
        .set_connection_timeout(std::time::Duration::from_secs(5))
        .set_response_timeout(std::time::Duration::from_secs(5))
        // lesson:redis-reconnect:start
        // Reconnect attempts at most 0.5 s apart, three per round. Every command waits for
        // the reconnect in progress, so its backoff *is* the outage a caller sees. The
        // defaults are a trap: redis 0.32 hands `factor` (100) to its backoff crate as the
        // *multiplier* on a 1 s first delay, so after one failed attempt the next came 60 s
        // later — the capstone's 2-second Redis restart stopped every sale for a minute.
        // After a failed round the next command starts a new one, so giving up early costs
        // nothing: it only makes that command fail fast (UNAVAILABLE, retried by the caller)
        // instead of hanging on a reconnect that may take a minute.
        .set_factor(2)
        .set_max_delay(500)
        .set_number_of_retries(3);
    // lesson:redis-reconnect:end
    let conn = crate::retry::at_start(
        "Redis",
        // A fresh manager per attempt: one whose first PING failed would go on working,
        // but building it again keeps "the attempt" one self-contained step, and costs
        // nothing next to the backoff between attempts.
        || async {
            let mut conn =
                ConnectionManager::new_with_config(client.clone(), config.clone()).await?;
            // PING, like every data command, gets `-LOADING` until the replay is done (only
            // a few commands such as INFO are answered meanwhile), so it is the right test.
            let _: String = redis::cmd("PING").query_async(&mut conn).await?;
            Ok(conn)
        },
        is_transient,
    )
    .await?;
    Ok(conn)
}

/// Can this error heal by itself while Redis starts up? `BusyLoadingError` is the
/// `-LOADING` reply; `TryAgain` is Redis Cluster's "slot migrating, ask again".
pub fn is_transient(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(e.kind(), redis::ErrorKind::BusyLoadingError | redis::ErrorKind::TryAgain)
}
