//! One call through a [`Balanced`](super::Balanced): pick an instance round-robin, send,
//! and on a transport failure eject it and perhaps re-send once to another.

use std::sync::{Arc, atomic::Ordering};

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::body::Body;

use super::{BoxError, Shared, Snapshot, backend::Backend, unavailable};

impl Shared {
    /// The current list; right after start-up, waits (bounded) for the watcher's first one.
    async fn snapshot(&self) -> Result<Snapshot, BoxError> {
        // A clone of the `Arc`ed list, not a borrow held across the call: a `watch` borrow
        // is a read lock, and holding it for a whole RPC would block the watcher's next
        // update until every in-flight call had finished.
        let current = self.list.borrow().clone();
        if current.loaded {
            return Ok(current);
        }
        // `wait_for` looks at the current value first, so a first answer that arrived between
        // the check above and here is not missed.
        let mut rx = self.list.clone();
        match tokio::time::timeout(self.tuning.first_list, rx.wait_for(|s| s.loaded)).await {
            Ok(Ok(s)) => Ok(s.clone()),
            _ => Err(unavailable(format!("{}: consul has not answered yet", self.name))),
        }
    }

    /// The next instance round-robin, skipping ejected ones and `avoid` (the one that
    /// just failed). If every instance is ejected, the plain next one: trying an instance
    /// that may have come back beats failing without trying.
    // lesson:round-robin:start
    fn pick(&self, backends: &[Arc<Backend>], avoid: Option<&str>) -> Option<Arc<Backend>> {
        let n = backends.len();
        // One shared counter: with N instances, call k goes to k mod N. A caller that always
        // makes two calls per request (ValidateToken, then GetUser) with two instances
        // therefore sends every ValidateToken to one and every GetUser to the other — even
        // in total, uneven per method (the Day 35 lesson measures it). Random choice would
        // avoid the aliasing at the price of a less even spread over short windows.
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let ring = || (0..n).map(|i| &backends[(start + i) % n]).filter(|b| avoid != Some(&b.id));
        ring().find(|b| !b.is_ejected()).or_else(|| ring().next()).cloned()
    }
    // lesson:round-robin:end

    /// One call: pick, send, and on a transport failure eject and perhaps re-send once to
    /// another instance (which calls may be re-sent: see the module docs).
    pub(super) async fn dispatch(
        self: Arc<Self>,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, BoxError> {
        let snapshot = self.snapshot().await?;
        let Some(first) = self.pick(&snapshot.backends, None) else {
            return Err(unavailable(format!("{}: no healthy instance", self.name)));
        };
        // Keep a copy of the body so the request can be sent a second time. It is one
        // small, already encoded protobuf message: every bookstore RPC is unary (a
        // streaming request could not be buffered like this, and would not be retried).
        let (parts, body) = request.into_parts();
        let bytes = body.collect().await?.to_bytes();
        // lesson:passive-ejection:start
        let error = match first.send(copy_request(&parts, bytes.clone())).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        first.eject(self.tuning.cooldown);
        // A refused connection means the request never left this process, so even a write
        // may be sent elsewhere; after a reset we cannot know whether it was executed.
        if !(is_idempotent(parts.uri.path()) || never_sent(&*error)) {
            return Err(error);
        }
        // `None` when the failed instance was the only one: nothing else to try, so the
        // caller gets the first error as it was.
        let Some(second) = self.pick(&snapshot.backends, Some(&first.id)) else {
            return Err(error);
        };
        tracing::debug!(service = %self.name, from = %first.id, to = %second.id, "re-sending to another instance");
        let result = second.send(copy_request(&parts, bytes)).await;
        // No third try: one call costs at most two attempts, so a fleet-wide outage does
        // not multiply every client's traffic while it lasts.
        if result.is_err() {
            second.eject(self.tuning.cooldown);
        }
        result
        // lesson:passive-ejection:end
    }
}

/// Whether a transport error happened before the request was written: the connection was
/// refused (nobody listens on the port any more — the usual sight after `kill -9`).
fn never_sent(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// Whether a gRPC method (`/bookstore.user.v1.UserService/ValidateToken`) only reads, so
/// sending it twice is harmless. By name, because our protos follow the convention; a
/// method that breaks it (a `GetAndIncrement`) would have to be listed here as an exception.
fn is_idempotent(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    ["Get", "List", "Search", "Query", "Validate", "Check", "Watch"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
}

/// A body that yields `bytes` once. `Bytes` clones share one buffer, so the retry's copy
/// costs a reference count, not a second copy of the message.
fn full(bytes: Bytes) -> http_body_util::Full<Bytes> {
    http_body_util::Full::new(bytes)
}

/// A second copy of a request, for the retry: method, URI, version and headers (the
/// `grpc-timeout` deadline and the `authorization` token travel in headers).
fn copy_request(parts: &http::request::Parts, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new(full(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request
}

#[cfg(test)]
mod tests {
    use super::is_idempotent;

    /// Only reads are re-sent: a retried `CreateOrder` or `LockStock` could act twice if
    /// the first attempt reached the instance before it died.
    #[test]
    fn only_reads_are_retried() {
        assert!(is_idempotent("/bookstore.user.v1.UserService/ValidateToken"));
        assert!(is_idempotent("/bookstore.catalog.v1.CatalogService/GetBook"));
        assert!(is_idempotent("/grpc.health.v1.Health/Check"));
        assert!(!is_idempotent("/bookstore.order.v1.OrderService/CreateOrder"));
        assert!(!is_idempotent("/bookstore.inventory.v1.InventoryService/LockStock"));
        // A write whose name starts with none of the prefixes: re-sent, it could answer
        // ALREADY_EXISTS for the very account its first attempt created.
        assert!(!is_idempotent("/bookstore.user.v1.UserService/Register"));
    }
}
