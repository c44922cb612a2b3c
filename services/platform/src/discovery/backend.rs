//! One instance behind a [`Balanced`](super::Balanced): its lazily connected channel, the
//! deadline of its ejection, and the counts of what was sent to it.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use tonic::{
    body::Body,
    transport::{Channel, Endpoint},
};

use super::BoxError;

/// One instance: its channel, whether it is ejected, and what was sent to it.
pub struct Backend {
    /// Consul's registration id, or `name@address` for a fixed instance: what `avoid`
    /// compares, and (with the address) how `publish` recognises a backend it already has.
    pub(super) id: String,
    pub(super) address: String,
    /// Connected lazily by `dial`; kept across list updates, so a re-published instance
    /// keeps its open connection instead of paying a new TCP and HTTP/2 handshake.
    channel: Channel,
    /// Milliseconds since `epoch` until which the instance is skipped; 0 = not ejected.
    ejected_until: AtomicU64,
    /// The zero of `ejected_until`, taken when the backend was made.
    epoch: Instant,
    /// Calls sent and transport failures, for [`Balanced::stats`]; `Relaxed` counters that
    /// order nothing else.
    pub(super) sent: AtomicU64,
    pub(super) failed: AtomicU64,
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
    /// Inside its cool-down at the moment of the snapshot: new calls skip it unless every
    /// instance is ejected. A moment's reading — it ends by itself, with no event.
    pub ejected: bool,
}

impl Backend {
    pub(super) fn new(service: &str, id: String, address: &str) -> anyhow::Result<Self> {
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

    /// The (requests, failures) counter handles, made on first use — see `metrics` for why
    /// not in `new`.
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

    pub(super) fn is_ejected(&self) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > self.now_ms()
    }

    // Last writer wins, and that is fine: two calls failing on the same dead instance at
    // once both push the deadline to about the same moment. `Relaxed` because the deadline
    // guards no other data — a caller that sees it a few nanoseconds late sends one more
    // call that fails and is re-sent, which the design already pays for.
    pub(super) fn eject(&self, cooldown: Duration) {
        let until = self.now_ms() + cooldown.as_millis() as u64;
        self.ejected_until.store(until, Ordering::Relaxed);
    }

    /// Sends one request on this instance's channel.
    pub(super) async fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, BoxError> {
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
