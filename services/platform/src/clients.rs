//! The one way a service gets a channel to another service.
//!
//! Every service-to-service client (order → user/catalog/inventory, catalog → user, the
//! gateway → everyone) is built on [`channel`]. Today it dials the static address from the
//! caller's settings (`BOOKSTORE_<NAME>_ADDR`); Day 35 swaps its inside for Consul discovery
//! with round-robin over healthy instances, and no caller has to change.
//! ❌ DON'T let each service call `Endpoint::from_shared` itself: six copies of the dialling
//! code means six places to add discovery, keep-alives or TCP_NODELAY, and one of them
//! always gets forgotten.
//!
//! What it is not for: deadlines and retries. Those depend on the call (is it idempotent?
//! how long may it take?), so they stay with the caller — see `gateway::upstream` and
//! `order::peers`.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// A lazily connected channel to the service `name`, reachable at `addr`
/// (`http://127.0.0.1:9004`).
///
/// Lazy, so a service starts (and answers health checks) while its peers are still
/// starting: the first call dials, and a peer that is down fails that call at once with
/// UNAVAILABLE instead of failing our start-up. tonic reconnects on its own after a peer
/// restarts. `name` is the logical service name (`inventory-service`) that discovery will
/// resolve; today it only labels errors.
///
/// Settings chosen here, once, for every client:
/// - TCP_NODELAY: without it, Nagle's algorithm holds a small gRPC frame back until the
///   previous one is acknowledged, and with delayed ACKs that costs up to ~40 ms per call
///   (the same finding as `server.rs`, on the client side of the socket);
/// - HTTP/2 keep-alive pings every 20 s, so a connection to a peer that vanished without a
///   FIN (a killed VM, a dropped NAT entry) is noticed within seconds rather than at the
///   next request's deadline.
///
/// Fails only on a malformed address (a missing `http://`) — a configuration error,
/// reported at start-up, never at the first request.
pub fn channel(name: &str, addr: &str) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(addr.to_string())
        .map_err(|e| anyhow::anyhow!("address of {name} ({addr:?}) is not a URI: {e}"))?
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(5));
    Ok(endpoint.connect_lazy())
}

#[cfg(test)]
mod tests {
    /// A bare `host:port` is the typical typo in `BOOKSTORE_*_ADDR`; it must fail at start
    /// with the service named, not as an opaque transport error on the first call.
    #[tokio::test]
    async fn a_malformed_address_fails_at_once_naming_the_service() {
        let err = super::channel("inventory-service", "not a uri").unwrap_err();
        assert!(err.to_string().contains("inventory-service"), "{err}");
        assert!(super::channel("inventory-service", "http://127.0.0.1:9004").is_ok());
    }
}
