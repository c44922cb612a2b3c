//! # gateway — the HTTP/JSON front door (port 8080)
//!
//! axum in front of the gRPC services: browsers, `curl` and mobile apps speak HTTP/JSON;
//! the services speak gRPC to each other. The gateway translates — routes, JSON shapes,
//! Bearer tokens, gRPC codes → HTTP statuses, timeouts — and holds no business rules and
//! no data of its own. What it is not for: validation (the services validate, because they
//! must not trust any caller), caching (catalog-service caches), or internal RPCs
//! (UpdateStock is deliberately not routed: it is an internal write).
//!
//! | module | its one job |
//! |---|---|
//! | [`routes`] | the handlers: HTTP in, gRPC call, JSON out |
//! | [`orders`] | the order handlers and their JSON shapes (`Idempotency-Key`) |
//! | [`payments`] | the payment handlers (and the lab's mock-callback route) |
//! | [`upstream`] | lazily connected gRPC clients with a timeout on every call |
//! | [`json`] | the JSON request and response shapes (money in cents) |
//! | [`error`] | [`error::ApiError`] and the gRPC → HTTP status table |
//!
//! Routes:
//!
//! | method and path | upstream | auth |
//! |---|---|---|
//! | `GET /health` | — | — |
//! | `POST /api/v1/users/register` | user Register | — |
//! | `POST /api/v1/users/login` | user Login | — |
//! | `GET /api/v1/users/me` | user ValidateToken + GetUser | Bearer |
//! | `GET /api/v1/books` | catalog ListBooks (stock: inventory's live figure, composed by catalog) | — |
//! | `GET /api/v1/books/search` | catalog SearchBooks | — |
//! | `GET /api/v1/books/{id}` | catalog GetBook | — |
//! | `POST /api/v1/books` | user ValidateToken + catalog PublishBook (which opens the stock in inventory) | Bearer, `admin` role |
//! | `POST /api/v1/orders` | order CreateOrder (`Idempotency-Key` header) | Bearer |
//! | `GET /api/v1/orders` | order ListOrders | Bearer |
//! | `GET /api/v1/orders/{id}` | order GetOrder | Bearer |
//! | `POST /api/v1/orders/{id}/cancel` | order CancelOrder | Bearer |
//! | `POST /api/v1/orders/{id}/payments` | payment CreatePayment | Bearer |
//! | `GET /api/v1/payments/{payment_no}` | payment QueryPayment | Bearer |
//! | `POST /api/v1/payments/{payment_no}/mock-callback` | payment MockCallback (lab only) | — |
//!
//! ## One request through the gateway
//!
//! ```text
//! curl -H 'authorization: Bearer eyJ…' -d '{"title":…}' POST /api/v1/books
//!   │ axum routes by method + path          → routes::publish_book
//!   │ read the Bearer header                  missing/malformed → 401 {"error":…}
//!   │ user-service ValidateToken (≤ 3 s)      refused → 401; down → 503; slow → 504
//!   │ the token's roles                        no `admin` → 403
//!   │ parse the JSON body                     malformed → 400
//!   │ catalog-service PublishBook (≤ 3 s)     with the token in gRPC metadata
//!   │   └ catalog validates the fields        INVALID_ARGUMENT → 400
//!   └ 201 {"book": {… "price": 5990 …}}       money in cents, times in unix ms
//! ```
//!
//! ## DO / DON'T for a gateway
//!
//! - DO keep it thin: translate, authenticate, time out. DON'T re-implement validation
//!   here "to save a round trip" — the services must validate anyway (they are reachable
//!   over gRPC directly), and two copies of a rule drift apart.
//! - DO map errors by *code*, in one table ([`error::http_status`]). DON'T parse upstream
//!   error messages to decide a status: messages are for humans and change freely.
//! - DO bound every upstream call ([`upstream::Upstreams::call`]). DON'T let the HTTP
//!   server's own (absent) timeout be the only limit.
//! - DON'T expose internal RPCs: a route is a public contract, and UpdateStock would let
//!   any client set any book's stock.
//!
//! ## Deadlines, in numbers
//!
//! Every upstream call gets `upstream_timeout_ms` (3 s), sent along as `grpc-timeout` and
//! enforced here too. Most routes make one call, so a client waits at most ~3 s; `/users/me`
//! and `POST /books` make two in sequence (ValidateToken, then the real call) and can take
//! twice that. Behind the gateway each service bounds its own peer calls by 3 s as well, so
//! a slow CreateOrder (up to two peer deadlines in sequence) can outlast the gateway's
//! budget: the client sees 504 while order-service finishes or compensates on its own.
//! A production gateway would pass each service the *remaining* budget instead; with
//! loopback calls of ~1 ms we keep one number and say so.
//!
pub mod error;
pub mod json;
pub mod orders;
pub mod payments;
pub mod routes;
pub mod upstream;

use std::{net::SocketAddr, time::Instant};

use axum::{
    Json, Router,
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
    routing::{get, post},
    serve::ListenerExt,
};
use bookstore_platform::{CommonSettings, Shutdown};
use serde::{Deserialize, Serialize};

use crate::upstream::Upstreams;

// Settings, the router, `run` and `spawn_in_process` are what `main.rs`, the tests and the
// catalog bench use; the modules are public for their documentation and JSON types.

/// Gateway settings. Environment: `BOOKSTORE_USER_ADDR`, `BOOKSTORE_CATALOG_ADDR`,
/// `BOOKSTORE_ORDER_ADDR`, `BOOKSTORE_PAYMENT_ADDR`, `BOOKSTORE_LAB_ROUTES`,
/// `BOOKSTORE_UPSTREAM_TIMEOUT_MS`.
///
/// The address fields are full URLs (`http://127.0.0.1:9002`) because that is what the
/// supervisor passes (`BOOKSTORE_CATALOG_ADDR`) and what tonic's `Endpoint` parses. With
/// Consul (Day 35) these become service names resolved at run time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub common: CommonSettings,
    /// user-service: Register, Login, and ValidateToken for `/users/me` and publishing (the
    /// order and payment routes leave the token check to their own services).
    pub user_addr: String,
    /// catalog-service: every `/api/v1/books` route (reads unauthenticated, publishing with
    /// the caller's token).
    pub catalog_addr: String,
    /// order-service: every `/api/v1/orders` route. Unused by the book routes, so a gateway
    /// without order-service still serves the catalogue (each route fails on its own).
    pub order_addr: String,
    /// payment-service: `/api/v1/orders/{id}/payments` and `/api/v1/payments/…`.
    pub payment_addr: String,
    /// Route `POST /api/v1/payments/{no}/mock-callback` (the lab stands in for the payment
    /// provider). Off by default: see `payments` for why it must not be public.
    pub lab_routes: bool,
    /// The service credential that route adds for MockCallback.
    ///
    /// Unlike order- and payment-service, the gateway does not refuse the development
    /// token outside development: it sends it only on the lab-only route, which a
    /// production deployment leaves off — and payment-service, which does check, would
    /// refuse to start with it anyway.
    pub service_token: bookstore_platform::Secret,
    /// Deadline for each upstream call: 3 s. Generous for loopback (calls take ~1 ms);
    /// short enough that a hung service shows as a 504 before a user gives up.
    pub upstream_timeout_ms: u64,
}

/// The course's addresses (user 9001, catalog 9002, order 9003, payment 9005, gateway
/// 8080) as defaults, so `gateway` started by hand next to hand-started services needs no
/// configuration. The database is `""`: the gateway has none, and connects to none.
impl Default for Settings {
    fn default() -> Self {
        Self {
            // No database: the gateway keeps no state of its own.
            common: CommonSettings::defaults(8080, ""),
            user_addr: "http://127.0.0.1:9001".into(),
            catalog_addr: "http://127.0.0.1:9002".into(),
            order_addr: "http://127.0.0.1:9003".into(),
            payment_addr: "http://127.0.0.1:9005".into(),
            // Off unless asked for: a gateway started by hand, or in production, has no
            // mock-callback route at all.
            lab_routes: false,
            service_token: bookstore_platform::Secret::new(
                bookstore_platform::auth::DEV_SERVICE_TOKEN,
            ),
            // The same 3 s as every service's own peer deadline.
            upstream_timeout_ms: 3000,
        }
    }
}

// Route syntax: axum 0.8 writes path parameters as `{id}` (0.7 used `:id`). A literal
// segment (`/api/v1/books/search`) is matched before the parameter route, so "search" is
// never parsed as a book id.

/// The HTTP routes over `upstreams`, each with the request-metrics middleware.
///
/// Every route is listed here, in one place, so the public HTTP contract can be read (and
/// reviewed) at a glance: a route that is not in this function does not exist.
///
/// Public so tests (and, later, the lab) can mount it on their own listener. The state is
/// [`Upstreams`]: cheap clones of lazily connected channels, shared by every handler.
/// `/health` answers without touching any upstream: it says "the gateway process is up",
/// which is what the supervisor's probe needs; upstream health is each service's own
/// `grpc.health.v1` (and the dashboard's business).
pub fn router(upstreams: Upstreams, lab_routes: bool) -> Router {
    let mut router = Router::new();
    // Absent rather than refused: without `lab_routes` the path is an ordinary 404, so a
    // scan of a production gateway cannot even learn that a mock route exists.
    if lab_routes {
        router = router.route("/api/v1/payments/{no}/mock-callback", post(payments::mock_callback));
    }
    router
        // lesson:http-routes:start
        .route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .route("/api/v1/users/register", post(routes::register))
        .route("/api/v1/users/login", post(routes::login))
        .route("/api/v1/users/me", get(routes::me))
        .route("/api/v1/books", get(routes::list_books).post(routes::publish_book))
        .route("/api/v1/books/search", get(routes::search_books))
        .route("/api/v1/books/{id}", get(routes::get_book))
        // lesson:http-routes:end
        .route("/api/v1/orders", get(orders::list).post(orders::create))
        .route("/api/v1/orders/{id}", get(orders::get))
        .route("/api/v1/orders/{id}/cancel", post(orders::cancel))
        .route("/api/v1/orders/{id}/payments", post(payments::create))
        .route("/api/v1/payments/{no}", get(payments::get))
        .layer(axum::middleware::from_fn(record_http))
        .with_state(upstreams)
}

/// Middleware: `http_requests_total{route,status}` and `http_request_duration_seconds`
/// (a histogram, so the dashboard can show p99, not only an average),
/// labelled by the route *pattern* (`/api/v1/books/{id}`), never the raw path — one label
/// value per book id would grow Prometheus' memory without bound.
///
/// `/health` is excluded: the supervisor probes it every few seconds, and those probes
/// would dominate a quiet lab's request graph.
async fn record_http(request: Request, next: Next) -> Response {
    // MatchedPath is set by the router before middleware added with `Router::layer` runs;
    // a request that matched no route has none and is counted as "unmatched".
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // The whole request, upstream calls included: what the client waited, which is the
    // figure a latency target is about.
    let started = Instant::now();
    let response = next.run(request).await;
    if route != "/health" {
        // The status as a label: error rates per route come from this one counter
        // (`status=~"5.."`), with no separate error metric to keep in step.
        let status = response.status().as_u16().to_string();
        metrics::counter!("http_requests_total", "route" => route.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("http_request_duration_seconds", "route" => route)
            .record(started.elapsed().as_secs_f64());
    }
    response
}

/// Binds `host:port` (0 = any), serves `/metrics` on `metrics_port`, reports the HTTP
/// address, and serves until `shutdown`.
///
/// Metrics on a port of their own, not a `/metrics` route here: the public listener then
/// exposes only the API, and a firewall can keep the metrics port internal.
///
/// Nothing is connected at start: the upstream channels connect on first use. So the
/// gateway starts in milliseconds even if every service is still starting, and each
/// route fails on its own (503) while its service is down, instead of the whole gateway
/// refusing to start.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    // Order of start-up: clients (no I/O), HTTP listener, metrics listener, then report
    // the bound address. Both listeners exist before `on_bound` fires, so a test that
    // receives the address can send its first request at once.
    // Fails only on a malformed address; nothing is dialled here.
    let upstreams = Upstreams::new(&settings)?;
    // 127.0.0.1 by default (`CommonSettings`): the lab's gateway is not reachable from the
    // network unless an operator sets `BOOKSTORE_HOST=0.0.0.0` on purpose.
    let listener =
        tokio::net::TcpListener::bind((settings.common.host.as_str(), settings.common.port))
            .await?;
    // The port actually bound: with port 0 (tests) only the OS knows it.
    let addr = listener.local_addr()?;
    let metrics = bookstore_platform::metrics::serve(
        &settings.common.host,
        settings.common.metrics_port,
        shutdown.clone(),
    )
    .await?;
    tracing::info!(%addr, %metrics, "gateway listening");
    on_bound(addr);
    // TCP_NODELAY on every accepted connection: without it, Nagle's algorithm can hold a
    // response's last segment back until the client's (delayed, up to 40 ms) ACK arrives.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Graceful shutdown: on the token, axum stops accepting and lets in-flight requests
    // finish (each bounded by the upstream timeout, twice for `/users/me`), then `run`
    // returns.
    axum::serve(listener, router(upstreams, settings.lab_routes))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// The one in-process start of the gateway (its own tests): [`run`] on a task, on port 0,
/// returning the bound address once it listens — or the start-up error, instead of a
/// test that waits for an address that never comes.
pub async fn spawn_in_process(
    mut settings: Settings,
    shutdown: Shutdown,
) -> anyhow::Result<SocketAddr> {
    settings.common.port = 0;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(run(settings, shutdown, move |a| {
        let _ = tx.send(a);
    }));
    match rx.await {
        Ok(addr) => Ok(addr),
        // The sender was dropped unused: `run` failed before binding.
        Err(_) => Err(handle.await?.err().unwrap_or_else(|| anyhow::anyhow!("gateway stopped"))),
    }
}
