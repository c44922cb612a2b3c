//! The gRPC server every service runs.
//!
//! [`GrpcServer::bind`] binds first and serves later, so the caller learns the real port
//! before traffic starts — that is how tests run a server on port 0 and then dial it.
//! Every server also answers:
//! - `grpc.health.v1.Health` for `""` *and* for each named service
//!   (`bookstore.inventory.v1.InventoryService`), which Consul's gRPC check calls;
//! - `grpc.reflection.v1.ServerReflection`, so `grpcurl -plaintext host:port list` works
//!   without proto files.
//!
//! DO: mark a service SERVING only after its dependencies are connected (the caller adds
//! services after connecting MySQL/Redis), and NOT_SERVING as soon as shutdown begins, so
//! load balancers drain it before it stops.

use std::{convert::Infallible, net::SocketAddr, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{
    body::Body,
    server::NamedService,
    service::{Routes, RoutesBuilder},
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::shutdown::Shutdown;

/// A bound, not yet serving, gRPC server.
pub struct GrpcServer {
    listener: TcpListener,
    addr: SocketAddr,
    routes: RoutesBuilder,
    names: Vec<&'static str>,
}

impl GrpcServer {
    /// Binds `host:port` (port 0 = any free port).
    pub async fn bind(host: &str, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind {host}:{port}: {e}"))?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr, routes: RoutesBuilder::default(), names: Vec::new() })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a generated service; its name becomes a health-checkable service.
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
    pub async fn serve(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        set_all(&reporter, &self.names, ServingStatus::Serving).await;

        // The descriptor set holds every bookstore service; list only the ones this server
        // really serves, or `grpcurl list` on the inventory port would offer CatalogService.
        let mut reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(bookstore_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection");
        for name in &self.names {
            reflection = reflection.with_service_name(*name);
        }
        let reflection = reflection.build_v1()?;

        let mut routes = self.routes;
        routes.add_service(health_service).add_service(reflection);
        // Request count and latency for every RPC, as Prometheus metrics: what the lab's
        // dashboard turns into QPS and p99.
        let router =
            routes.routes().into_axum_router().layer(axum::middleware::from_fn(record_rpc));

        let names = self.names.clone();
        let drain = async move {
            shutdown.cancelled().await;
            set_all(&reporter, &names, ServingStatus::NotServing).await;
        };
        tonic::transport::Server::builder()
            .add_routes(Routes::from(router))
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), drain)
            .await?;
        Ok(())
    }
}

async fn set_all(reporter: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in names {
        reporter.set_service_status(*name, status).await;
    }
}

/// Middleware: counts each RPC and records its latency, labelled by method path.
async fn record_rpc(request: Request, next: Next) -> Response {
    let method = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    // Health checks and reflection are not traffic a learner wants to see in QPS.
    if !method.starts_with("/grpc.") {
        metrics::counter!("grpc_requests_total", "method" => method.clone()).increment(1);
        metrics::histogram!("grpc_request_duration_seconds", "method" => method)
            .record(started.elapsed().as_secs_f64());
    }
    response
}
