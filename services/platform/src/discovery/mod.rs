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
//! module — not inferred from a dependency's internals.
//!
//! Which calls are re-sent to another instance: reads (`Get…`, `List…`, `Search…`,
//! `Query…`, `Validate…`, `Check`, `Watch`) after any transport failure — repeating them
//! cannot change anything — and every call whose connection was *refused*, since it never
//! left this process. A write that failed after it was sent (connection reset mid-call) is
//! not: if a `CreateOrder` reached a dying instance, only the caller, who holds the
//! idempotency key, may decide to send it again.
//!
//! | module | its one job |
//! |---|---|
//! | [`backend`] | one instance: its lazy channel, its ejection deadline, its counters |
//! | [`dispatch`] | one call: pick round-robin, send, eject on a transport failure, maybe re-send once |
//! | [`watcher`] | the Consul watcher: blocking queries in, a new instance list out |

mod backend;
mod dispatch;
mod watcher;

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::watch;
use tonic::body::Body;

pub use backend::{Backend, BackendStats};

use crate::consul::Consul;

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
    /// Fixed at construction; the watcher task holds its own copy of the same value.
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
        tokio::spawn(watcher::watch_consul(Consul::new(agent), service.to_string(), tx, tuning));
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

/// tonic turns an error of ours into a `Status` by looking for one in it.
fn unavailable(message: String) -> BoxError {
    Box::new(tonic::Status::unavailable(message))
}
