//! Client-side discovery and load balancing: where a call to `user-service` actually goes.
//!
//! [`Balanced`] is what every service-to-service client is built on (through
//! [`crate::clients::channel`]). It holds one lazily connected channel per instance and, per
//! call, picks the next healthy one round-robin. The list of instances comes from either
//! - a static address (`http://127.0.0.1:9001`): one instance, no Consul — Days 29–34; or
//! - Consul (`consul://127.0.0.1:8500/user-service`): a background watcher keeps the
//!   passing instances up to date with blocking queries — Day 35.
//!
//! What happens in the seconds after an instance is killed, in order:
//! 1. calls in flight on its connection fail; idempotent ones are re-sent once to another
//!    instance (the caller never sees it), the others fail UNAVAILABLE;
//! 2. the first failure *ejects* the instance for [`Tuning::cooldown`] (passive ejection):
//!    new calls skip it at once, long before Consul knows anything;
//! 3. Consul's next health check fails (within one check interval), the instance leaves the
//!    `?passing` list, and the watcher's blocking query returns the shorter list;
//! 4. after `DeregisterCriticalServiceAfter` Consul forgets the registration.
//!
//! ✅ DO eject on the client's own evidence: steps 1–2 take milliseconds, step 3 takes up to
//! a check interval (10 s with the course's settings) during which Consul still lists the
//! dead instance as passing. ❌ DON'T trust the registry alone — every client would keep
//! sending a share of its traffic into a closed port until Consul catches up.
//!
//! Why not tonic's own `Channel::balance_channel`: it picks between two random endpoints
//! (power of two choices) rather than round-robin, it has no retry on another instance, and
//! how quickly it stops routing to an endpoint whose connection broke has changed between
//! releases. The behaviour the lesson measures should be in code a learner can read — this
//! file — not inferred from a dependency's internals.
//!
//! Which calls are re-sent to another instance: reads (`Get…`, `List…`, `Search…`,
//! `Query…`, `Validate…`, `Check`, `Watch`) after any transport failure — repeating them
//! cannot change anything — and every call whose connection was *refused*, since it never
//! left this process. A write that failed after it was sent (connection reset mid-call) is
//! not: if a `CreateOrder` reached a dying instance, only the caller, who holds the
//! idempotency key, may decide to send it again.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::watch;
use tonic::{
    body::Body,
    transport::{Channel, Endpoint},
};

use crate::consul::{Consul, Instance};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// How discovery behaves; the defaults are what the lab and the services use.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// How long an instance that failed a call is skipped. Long enough that a dead instance
    /// costs at most one failed (and retried) call per cool-down per client; short enough
    /// that a restarted one is used again within seconds even if Consul is slow to list it.
    pub cooldown: Duration,
    /// How long a blocking query may wait for a change before Consul answers anyway.
    pub wait: Duration,
    /// How long a call waits for the watcher's *first* answer before failing UNAVAILABLE
    /// (only right after start-up; later calls use the last known list at once).
    pub first_list: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(3),
            // Far under Consul's 10-minute maximum: a quiet watch still hears from the
            // agent twice a minute, so a silently dead agent is noticed by the error path.
            wait: Duration::from_secs(30),
            // A first, non-blocking read takes milliseconds; 5 s covers an agent that is
            // itself starting, without holding a caller for a whole blocking `wait`.
            first_list: Duration::from_secs(5),
        }
    }
}

/// A load-balanced client transport: a tower `Service` that tonic's generated clients
/// accept in place of a `Channel` (`UserServiceClient<Balanced>`). Cheap to clone; every
/// clone shares the instance list and the round-robin position.
#[derive(Clone)]
pub struct Balanced {
    shared: Arc<Shared>,
}

struct Shared {
    /// The logical name (`user-service`), for errors and logs.
    name: String,
    /// The watcher's latest [`Snapshot`]; calls clone the `Arc`ed list out of it.
    list: watch::Receiver<Snapshot>,
    /// The round-robin position, shared by all clones (one counter per client, not per
    /// clone, or every clone would start at instance 0 and they would move in lock-step).
    next: AtomicUsize,
    tuning: Tuning,
}

/// The instances known at one moment. Replaced as a whole by the watcher, so a call sees
/// either the old list or the new one, never a mix.
#[derive(Clone, Default)]
struct Snapshot {
    backends: Arc<[Arc<Backend>]>,
    /// The watcher has had at least one answer (an empty list then really means "none").
    loaded: bool,
}

/// One instance: its channel, whether it is ejected, and what was sent to it.
pub struct Backend {
    /// Consul's registration id, or `name@address` for a fixed instance: what `avoid`
    /// compares, and (with the address) how `publish` recognises a backend it already has.
    id: String,
    address: String,
    /// Connected lazily by `dial`; kept across list updates, so a re-published instance
    /// keeps its open connection instead of paying a new TCP and HTTP/2 handshake.
    channel: Channel,
    /// Milliseconds since `epoch` until which the instance is skipped; 0 = not ejected.
    ejected_until: AtomicU64,
    /// The zero of `ejected_until`, taken when the backend was made.
    epoch: Instant,
    /// Calls sent and transport failures, for [`Balanced::stats`]; `Relaxed` counters that
    /// order nothing else.
    sent: AtomicU64,
    failed: AtomicU64,
    /// The same two counts as Prometheus counters (`upstream_requests_total` and
    /// `upstream_failures_total`, labelled by service and instance address), so the lab can
    /// read from a client's `/metrics` where its calls went — the per-upstream-host figures
    /// a proxy such as Envoy exports. Handles made at the first call, not in `new`: a
    /// handle binds to the recorder installed *when it is made*, and the first instance list
    /// can arrive before the service has installed its Prometheus recorder — those counters
    /// would silently count into nothing. After that, an increment is one atomic add.
    metrics: std::sync::OnceLock<(metrics::Counter, metrics::Counter)>,
    /// `service` and `instance`, kept for the counters made lazily in `counters`.
    labels: [(&'static str, String); 2],
}

/// What a client has sent to one instance, for the lab's screens and the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendStats {
    pub id: String,
    pub address: String,
    /// Calls sent (including ones that failed).
    pub sent: u64,
    /// Calls that failed at the transport (refused, reset): the instance was unreachable.
    pub failed: u64,
    pub ejected: bool,
}

impl Backend {
    fn new(service: &str, id: String, address: &str) -> anyhow::Result<Self> {
        let labels = [("service", service.to_string()), ("instance", address.to_string())];
        Ok(Self {
            id,
            address: address.to_string(),
            channel: dial(address)?,
            ejected_until: AtomicU64::new(0),
            epoch: Instant::now(),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            metrics: std::sync::OnceLock::new(),
            labels,
        })
    }

    fn counters(&self) -> &(metrics::Counter, metrics::Counter) {
        self.metrics.get_or_init(|| {
            (
                metrics::counter!("upstream_requests_total", &self.labels),
                metrics::counter!("upstream_failures_total", &self.labels),
            )
        })
    }

    // Time as milliseconds since the backend was made, so the ejection deadline fits one
    // `AtomicU64`: every call reads it, and a `Mutex<Instant>` would make all callers of a
    // hot client take turns on one lock just to learn that nobody is ejected.
    fn now_ms(&self) -> u64 {
        // `u128` to `u64` cannot truncate in practice: 2⁶⁴ ms is 584 million years.
        self.epoch.elapsed().as_millis() as u64
    }

    fn is_ejected(&self) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > self.now_ms()
    }

    // Last writer wins, and that is fine: two calls failing on the same dead instance at
    // once both push the deadline to about the same moment. `Relaxed` because the deadline
    // guards no other data — a caller that sees it a few nanoseconds late sends one more
    // call that fails and is re-sent, which the design already pays for.
    fn eject(&self, cooldown: Duration) {
        let until = self.now_ms() + cooldown.as_millis() as u64;
        self.ejected_until.store(until, Ordering::Relaxed);
    }

    /// Sends one request on this instance's channel.
    async fn send(&self, request: http::Request<Body>) -> Result<http::Response<Body>, BoxError> {
        use tower::{Service, ServiceExt};
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.counters().0.increment(1);
        // A clone per call: a tonic `Channel` is a handle onto a shared connection, and
        // `ready` reserves a slot in its request buffer for this clone only.
        let result = self.channel.clone().ready().await?.call(request).await;
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.counters().1.increment(1);
        }
        result.map_err(Into::into)
    }
}

/// A lazily connected channel to `host:port` or `http://host:port`: lazy, so a client is
/// built before its peers run; TCP_NODELAY, so a small gRPC frame is not held back by
/// Nagle's algorithm (up to ~40 ms with delayed ACKs); HTTP/2 keep-alive pings, so a peer
/// that vanished without a FIN is noticed within seconds.
fn dial(address: &str) -> anyhow::Result<Channel> {
    let uri =
        if address.contains("://") { address.to_string() } else { format!("http://{address}") };
    let endpoint = Endpoint::from_shared(uri)
        .map_err(|e| anyhow::anyhow!("{address:?} is not a URI: {e}"))?
        .tcp_nodelay(true)
        // A peer gone without a FIN is noticed within interval + timeout, at most 25 s,
        // while calls are open; tonic pings no idle connection (`keep_alive_while_idle`).
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(5));
    Ok(endpoint.connect_lazy())
}

impl Balanced {
    /// One fixed instance at `address` (`http://127.0.0.1:9001`): no Consul involved.
    pub fn fixed(name: &str, address: &str) -> anyhow::Result<Self> {
        let backend = Backend::new(name, format!("{name}@{address}"), address)
            .map_err(|e| anyhow::anyhow!("address of {name}: {e}"))?;
        let snapshot = Snapshot { backends: Arc::from(vec![Arc::new(backend)]), loaded: true };
        // The sender is dropped at once: a fixed list never changes, and `borrow` keeps
        // answering the last value after the sender is gone.
        let (_, list) = watch::channel(snapshot);
        // Default tuning: with no watcher only `cooldown` matters, and a lone ejected instance
        // is still tried (see `pick`), so a restarted peer is used again at once.
        Ok(Self::from_list(name, list, Tuning::default()))
    }

    /// The passing instances of `service` as Consul's agent at `agent` lists them, kept up
    /// to date by a watcher task (which ends when the last clone is dropped). Must be called
    /// inside a tokio runtime.
    pub fn consul(name: &str, agent: &str, service: &str, tuning: Tuning) -> Self {
        let (tx, list) = watch::channel(Snapshot::default());
        tokio::spawn(watch_consul(Consul::new(agent), service.to_string(), tx, tuning));
        Self::from_list(name, list, tuning)
    }

    fn from_list(name: &str, list: watch::Receiver<Snapshot>, tuning: Tuning) -> Self {
        let shared = Shared { name: name.to_string(), list, next: AtomicUsize::new(0), tuning };
        Self { shared: Arc::new(shared) }
    }

    /// Per-instance counts of what this client sent, in the current list's order.
    pub fn stats(&self) -> Vec<BackendStats> {
        let snapshot = self.shared.list.borrow().clone();
        snapshot
            .backends
            .iter()
            .map(|b| BackendStats {
                id: b.id.clone(),
                address: b.address.clone(),
                sent: b.sent.load(Ordering::Relaxed),
                failed: b.failed.load(Ordering::Relaxed),
                ejected: b.is_ejected(),
            })
            .collect()
    }
}

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
    async fn dispatch(
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

impl tower::Service<http::Request<Body>> for Balanced {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<http::Response<Body>, BoxError>>;

    /// Always ready: readiness is asked of the chosen instance's channel inside `call`,
    /// because which instance that is is only known per request.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(self.shared.clone().dispatch(request))
    }
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

/// tonic turns an error of ours into a `Status` by looking for one in it.
fn unavailable(message: String) -> BoxError {
    Box::new(tonic::Status::unavailable(message))
}

/// The watcher: one blocking query after another, publishing each changed list.
///
/// The three rules Consul's documentation sets for blocking queries, each of which a naive
/// loop breaks:
/// - the index can go *backwards* (a Consul server restarted, a snapshot restored): then
///   start over from 0, or the client waits for an index that will not come for hours;
/// - an index of 0 must never be sent back as a wait index (it returns at once, so the loop
///   would spin at full speed): treat it as 1;
/// - on an error, back off (here 100 ms doubling to 5 s) instead of retrying at once — a
///   thousand clients hammering an agent that is restarting keep it from coming back.
///
/// While Consul is unreachable the last list stays in use: ✅ DO keep serving from the
/// last known instances — they were healthy a moment ago and probably still are; ❌ DON'T
/// empty the list on a registry error, which turns a Consul outage into an outage of every
/// service that uses it.
async fn watch_consul(
    consul: Consul,
    service: String,
    tx: watch::Sender<Snapshot>,
    tuning: Tuning,
) {
    let mut index = 0u64;
    let mut backoff = Duration::from_millis(100);
    loop {
        let answer = tokio::select! {
            a = consul.watch_passing(&service, index, tuning.wait) => a,
            // Every client handle was dropped: nobody needs this list any more.
            _ = tx.closed() => return,
        };
        // lesson:blocking-query:start
        match answer {
            Ok(watched) => {
                backoff = Duration::from_millis(100);
                index = if watched.index < index { 0 } else { watched.index.max(1) };
                publish(&tx, &service, &watched.instances);
            }
            Err(error) => {
                tracing::warn!(%service, %error, "consul watch failed; keeping the last list");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = tx.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                // The next query asks for the current list at once: the index we had may
                // be meaningless to an agent that restarted meanwhile.
                index = 0;
            }
        }
        // lesson:blocking-query:end
    }
}

/// Replaces the published list, keeping the `Backend` (and so the open connection, the
/// counters and an ejection) of every instance that is still listed.
fn publish(tx: &watch::Sender<Snapshot>, service: &str, instances: &[Instance]) {
    // A clone of the `Arc`ed list, so the borrow (a read lock) ends before any `Backend::new`.
    let old = tx.borrow().backends.clone();
    let mut backends = Vec::with_capacity(instances.len());
    for i in instances {
        // One backend per address, even if Consul lists an address twice (a stale
        // registration whose health check reaches the new process on the same port): two
        // backends for one process would double its share and its cost when it dies.
        if backends.iter().any(|b: &Arc<Backend>| b.address == i.address) {
            continue;
        }
        if let Some(b) = old.iter().find(|b| b.id == i.id && b.address == i.address) {
            backends.push(b.clone());
            continue;
        }
        match Backend::new(service, i.id.clone(), &i.address) {
            Ok(b) => backends.push(Arc::new(b)),
            // Skipped, not fatal: one registration with a broken address (say, registered
            // by hand) must not hide the good instances listed next to it.
            Err(error) => tracing::warn!(%service, %error, "unusable address in consul"),
        }
    }
    // Publish only real changes: every published list is a new `Arc` that in-flight calls
    // keep alive, and a blocking query that times out (no change for `wait`) answers the
    // same list again — replacing it each time would churn for nothing and log noise.
    let changed = !tx.borrow().loaded
        || backends.len() != old.len()
        // Pointer equality: a kept backend is the very same `Arc`, a new one never is.
        || backends.iter().zip(old.iter()).any(|(a, b)| !Arc::ptr_eq(a, b));
    if changed {
        let ids: Vec<&str> = backends.iter().map(|b| b.id.as_str()).collect();
        tracing::info!(%service, instances = ?ids, "instances changed");
        tx.send_replace(Snapshot { backends: Arc::from(backends), loaded: true });
    }
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
