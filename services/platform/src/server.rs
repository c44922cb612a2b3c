//! The gRPC server every service runs.
//!
//! [`GrpcServer::bind`] binds first and serves later, so the caller learns the real port
//! before traffic starts — that is how tests run a server on port 0 and then dial it.
//! Every server also answers:
//! - `grpc.health.v1.Health` for `""` *and* for each named service
//!   (`bookstore.inventory.v1.InventoryService`), which Consul's gRPC check calls;
//! - `grpc.reflection.v1.ServerReflection` and its older twin `v1alpha`, so
//!   `grpcurl -plaintext host:port list` and `ghz` work without proto files.
//!
//! DO: mark a service SERVING only after its dependencies are connected (the caller adds
//! services after connecting MySQL/Redis), and NOT_SERVING as soon as shutdown begins, so
//! load balancers drain it before it stops.
//!
//! Why health *per named service*: one process may serve several gRPC services, and
//! whoever routes traffic asks about the one it routes to — Consul's gRPC check names
//! `bookstore.inventory.v1.InventoryService`, a Kubernetes probe or Envoy can do the same.
//! Serving only the empty name `""` would answer those checks NOT_FOUND, and Consul would
//! mark a healthy instance critical. We set both, so a generic prober works too.
//!
//! What it is NOT: a place for auth, rate limits or timeouts per RPC. Those are domain
//! decisions and live in the services (or, for rate limits, in the gateway).

use std::{convert::Infallible, net::SocketAddr, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::{
    body::Body,
    server::NamedService,
    service::{Routes, RoutesBuilder},
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::shutdown::Shutdown;

/// A bound, not yet serving, gRPC server.
///
/// Bind and serve are two steps on purpose (the zero-to-production shape): with port 0
/// the OS picks the port during `bind`, and the caller needs it *before* `serve` blocks —
/// to register in Consul, to tell a test where to dial. A single `serve(host, port)`
/// could never report the port it got.
pub struct GrpcServer {
    listener: TcpListener,
    addr: SocketAddr,
    routes: RoutesBuilder,
    /// `S::NAME` of each added service, in the order added: health reports each of them,
    /// and `run::serve` registers the first one's health with Consul.
    names: Vec<&'static str>,
}

impl GrpcServer {
    /// Binds `host:port` (port 0 = any free port).
    pub async fn bind(host: &str, port: u16) -> anyhow::Result<Self> {
        // The address in the error: "Address already in use" alone does not say which of
        // the service's two ports (gRPC, metrics) or which host was the problem.
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind {host}:{port}: {e}"))?;
        // Read back from the socket: with port 0, this is the only place the real port exists.
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr, routes: RoutesBuilder::default(), names: Vec::new() })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a generated service; its name becomes a health-checkable service.
    ///
    /// The long `where` clause is simply what tonic requires of a generated server
    /// (`InventoryServiceServer<T>` satisfies it); `NamedService` is the part we use: it
    /// gives the fully-qualified proto name at compile time, so health and reflection
    /// names can never drift from the proto.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// The fully-qualified names of the services added so far.
    pub fn service_names(&self) -> &[&'static str] {
        &self.names
    }

    /// Serves until `shutdown` fires, then reports NOT_SERVING and drains in-flight RPCs.
    ///
    /// The health reporter is created here, at serve time, and set SERVING at once: by the
    /// time `serve` is called the caller has connected its dependencies (see the crate
    /// map), so there is no moment where a half-ready server says SERVING.
    pub async fn serve(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        set_all(&reporter, &self.names, ServingStatus::Serving).await;

        // The descriptor set holds every bookstore service; list only the ones this server
        // really serves, or `grpcurl list` on the inventory port would offer CatalogService.
        // ❌ DON'T advertise what you do not serve: a client (or a learner with grpcurl)
        // would build a call from the advertised schema and get UNIMPLEMENTED back.
        // The message *types* of all protos stay resolvable — registering the whole set
        // is how cross-package imports (shared messages) are found.
        //
        // Both reflection versions, from one list: v1 is the standard, but many clients
        // still ask only v1alpha (ghz, older grpcurl, several IDE plugins) and report "server
        // does not support the reflection API" otherwise. The two protocols are identical
        // apart from the package name; serving both costs one more route.
        // (The builder is consumed by `build_*`, hence a closure that makes one per version;
        // each version also carries the other's descriptors, so `grpcurl describe` of either
        // reflection service works through either.)
        let names = &self.names;
        let reflection = || {
            let mut b = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(bookstore_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name("grpc.health.v1.Health")
                .with_service_name("grpc.reflection.v1.ServerReflection")
                .with_service_name("grpc.reflection.v1alpha.ServerReflection");
            for name in names {
                b = b.with_service_name(*name);
            }
            b
        };
        let v1 = reflection()
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .build_v1()?;
        let v1alpha = reflection()
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;

        let mut routes = self.routes;
        routes.add_service(health_service).add_service(v1).add_service(v1alpha);
        // Request count and latency for every RPC, as Prometheus metrics: what the lab's
        // dashboard turns into QPS and p99.
        let router =
            routes.routes().into_axum_router().layer(axum::middleware::from_fn(record_rpc));

        // `serve_with_incoming_shutdown` stops accepting connections once `drain`
        // completes, then waits for in-flight RPCs to finish (graceful drain). Setting
        // NOT_SERVING first tells health-checking peers on existing connections to move away.
        let names = self.names.clone();
        let drain = async move {
            shutdown.cancelled().await;
            set_all(&reporter, &names, ServingStatus::NotServing).await;
        };
        // TCP_NODELAY on every accepted connection. tonic sets it only on listeners it
        // binds itself, not on an incoming stream we hand it. Without it, Nagle's
        // algorithm holds back the last small segment of a multi-segment response until
        // the peer ACKs the previous one — and the peer delays that ACK by up to 40 ms.
        // Measured with `bookstore-lab bench catalog`: ListBooks p99 ~50 ms without it.
        let incoming = TcpListenerStream::new(self.listener).map(|conn| {
            if let Ok(stream) = &conn {
                // Ignored on failure: a socket that refuses the option still works, only
                // slower, which is no reason to drop a client's connection.
                let _ = stream.set_nodelay(true);
            }
            conn
        });
        tonic::transport::Server::builder()
            .add_routes(Routes::from(router))
            .serve_with_incoming_shutdown(incoming, drain)
            .await?;
        Ok(())
    }
}

/// Sets the overall (`""`) status and every named service's to `status`. All together:
/// this platform has no partial readiness (e.g. "catalog reads OK, writes down"); a service
/// that needed it would set individual names itself.
async fn set_all(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

/// Middleware: counts each RPC and records its latency, labelled by method path.
///
/// Labelled by method (`/bookstore.inventory.v1.InventoryService/LockStock`), never by user
/// or book id: every distinct label value is a new time series in Prometheus, and an id
/// label would grow without bound ("cardinality explosion").
/// The counter also carries the answer's gRPC `code` (`OK`, `NotFound`, …; see
/// [`grpc_code`]), so the dashboard's error rate is non-OK over all from this one counter.
/// The histogram stays labelled by method alone: a code label there would multiply its 19
/// series per method by every code seen, for a latency split nobody graphs.
async fn record_rpc(request: Request, next: Next) -> Response {
    let method = request.uri().path().to_owned();
    // `Instant`, not `SystemTime`: a monotonic clock cannot jump backwards when NTP
    // adjusts the wall clock, so a latency can never come out negative.
    // Note that this times until the response *headers*; for a streaming RPC the body
    // continues afterwards. All bookstore RPCs are unary, so headers ≈ completion.
    let started = Instant::now();
    let response = next.run(request).await;
    // Health checks and reflection are not traffic a learner wants to see in QPS.
    if !method.starts_with("/grpc.") {
        let code = grpc_code(response.headers());
        metrics::counter!("grpc_requests_total", "method" => method.clone(), "code" => code)
            .increment(1);
        metrics::histogram!("grpc_request_duration_seconds", "method" => method)
            .record(started.elapsed().as_secs_f64());
    }
    response
}

/// The gRPC code of a unary answer as its name (`OK`, `NotFound`, `Unavailable`, …), read
/// from the response *headers*.
///
/// Why the headers are enough: a failed unary call is sent "trailers-only" — tonic puts
/// `grpc-status` in the HTTP headers, with no body — while a successful one sends its
/// `grpc-status: 0` in the trailers after the message. So a status in the headers is the
/// error, and none means OK, without buffering the body to wait for trailers. ❌ DON'T read
/// the HTTP status for this: gRPC answers 200 for every code. The one answer this misreads is
/// a handler that fails *after* starting its response body, which a unary RPC cannot do.
// `Debug` of `tonic::Code` is the variant name, which is the code's name in the gRPC spec
// (`NotFound`, the spelling grpcurl and ghz print) for every code but one: the spec says
// `OK`, the enum `Ok`.
fn grpc_code(headers: &http::HeaderMap) -> String {
    match headers.get("grpc-status").map(|v| tonic::Code::from_bytes(v.as_bytes())) {
        None | Some(tonic::Code::Ok) => "OK".into(),
        Some(code) => format!("{code:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the two shapes the layer sees: a success (no `grpc-status` header, the status
    // follows in trailers) and a trailers-only error, as tonic sends it for `Err(Status)`.
    /// No status header reads as OK; an error's header reads as its code's name.
    #[test]
    fn the_code_label_comes_from_a_trailers_only_answer() {
        assert_eq!(grpc_code(&http::HeaderMap::new()), "OK");
        let failed = tonic::Status::not_found("book 9").into_http::<Body>();
        assert_eq!(grpc_code(failed.headers()), "NotFound");
    }
}
