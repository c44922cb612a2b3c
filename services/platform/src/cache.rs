//! Redis: one multiplexed, auto-reconnecting connection per service instance.
//!
//! DO: share one `ConnectionManager` (it is a cheap clone over one TCP connection that
//! pipelines commands). Redis is single-threaded; a pool of 100 connections does not make
//! it faster, it only adds context switches.
//! DON'T: open a connection per request — connect cost dwarfs the command at 10k TPS.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Connects and verifies with a PING; reconnects transparently later.
pub async fn connect(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(std::time::Duration::from_secs(5))
        .set_response_timeout(std::time::Duration::from_secs(5));
    let mut conn = ConnectionManager::new_with_config(client, config).await?;
    let _: String = redis::cmd("PING").query_async(&mut conn).await?;
    Ok(conn)
}
