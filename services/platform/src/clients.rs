//! The one way a service gets a client transport to another service.
//!
//! Every service-to-service client (order → user/catalog/inventory, catalog → user,
//! payment → order, the gateway → everyone) is built on [`channel`], and the address
//! string alone chooses how peers are found:
//! - `http://127.0.0.1:9001` — a static address: one instance, no registry (Days 29–34);
//! - `consul://127.0.0.1:8500/user-service` — every passing instance Consul lists, watched
//!   and balanced round-robin (Day 35; the same URL form as the course's Go resolver).
//!
//! ❌ DON'T let each service call `Endpoint::from_shared` itself: six copies of the dialling
//! code means six places to add discovery, keep-alives or TCP_NODELAY, and one of them
//! always gets forgotten. Swapping static addresses for Consul was a change to this file
//! and to the lab's environment, not to any service.
//!
//! What it is not for: deadlines and retries of a *call's outcome* (is a timed-out
//! LockStock locked or not?). Those depend on the call, so they stay with the caller — see
//! `gateway::upstream` and `order::peers`. Transport-level re-sends live in [`discovery`].
//!
//! [`discovery`]: crate::discovery

pub use crate::discovery::Balanced;
use crate::discovery::Tuning;

/// A client transport to the service `name` at `addr` (see the module docs for the two
/// forms), for use as `UserServiceClient::new(channel("user-service", addr)?)`.
///
/// Nothing is dialled yet, so a service starts (and answers health checks) while its peers
/// are still starting: the first call dials, and a peer that is down fails that call
/// UNAVAILABLE instead of failing our start-up.
///
/// Fails only on a malformed address (a bare `host:port`, an unknown scheme) — a
/// configuration error, reported at start-up, never at the first request. Must be called
/// inside a tokio runtime (the Consul form starts its watcher task).
pub fn channel(name: &str, addr: &str) -> anyhow::Result<Balanced> {
    if let Some(rest) = addr.strip_prefix("consul://") {
        // At the first `/`: the agent's `host:port` never holds one, so all after it is the
        // service name. Both parts must be non-empty, or the watcher would ask for nothing.
        let (agent, service) = rest.split_once('/').filter(|(a, s)| !a.is_empty() && !s.is_empty()).ok_or_else(|| {
            anyhow::anyhow!("address of {name} ({addr:?}) must look like consul://<agent host:port>/<service>")
        })?;
        return Ok(Balanced::consul(name, agent, service, Tuning::default()));
    }
    anyhow::ensure!(
        addr.starts_with("http://") || addr.starts_with("https://"),
        "address of {name} ({addr:?}) must start with http:// or consul://"
    );
    Balanced::fixed(name, addr)
}

#[cfg(test)]
mod tests {
    /// A bare `host:port` is the typical typo in `BOOKSTORE_*_ADDR`; it must fail at start
    /// with the service named, not as an opaque transport error on the first call.
    #[tokio::test]
    async fn a_malformed_address_fails_at_once_naming_the_service() {
        // Free text, the bare `host:port`, a Consul URL without a service, one without an
        // agent: each is refused before any connection or watcher exists.
        for bad in ["not a uri", "127.0.0.1:9004", "consul://127.0.0.1:8500", "consul:///x"] {
            let err = super::channel("inventory-service", bad).err().expect(bad);
            assert!(err.to_string().contains("inventory-service"), "{err}");
        }
        assert!(super::channel("inventory-service", "http://127.0.0.1:9004").is_ok());
        assert!(super::channel("inventory-service", "consul://127.0.0.1:8500/inv").is_ok());
    }
}
