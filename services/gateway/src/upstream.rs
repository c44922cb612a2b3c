//! The gRPC clients behind the gateway, each call bounded by a timeout.
//!
//! DO: a deadline on *every* upstream call. Without one, a hung catalog-service holds each
//! HTTP request (and its socket, and its memory) open indefinitely; under load the gateway
//! runs out of them and every route fails — including ones that never touch the catalog.
//! The deadline is also sent upstream (`grpc-timeout`), so the service can stop working on
//! an answer nobody will read.
//! DO: connect lazily, so the gateway starts (and `/health` answers) while services are
//! still starting; a call to a service that is down becomes a quick 503.

use std::{future::Future, time::Duration};

use bookstore_proto::{
    catalog::catalog_service_client::CatalogServiceClient,
    user::user_service_client::UserServiceClient,
};
use tonic::transport::{Channel, Endpoint};

use crate::error::ApiError;

/// Clients of every upstream service (cheap to clone: a channel is a handle).
#[derive(Clone)]
pub struct Upstreams {
    pub users: UserServiceClient<Channel>,
    pub catalog: CatalogServiceClient<Channel>,
    pub timeout: Duration,
}

fn channel(addr: &str, timeout: Duration) -> anyhow::Result<Channel> {
    // Only the TCP connect gets a channel-level timeout; the whole call is bounded by
    // `Upstreams::call`, one clock for everything, so a slow call is always our 504.
    Ok(Endpoint::from_shared(addr.to_string())?.connect_timeout(timeout).connect_lazy())
}

impl Upstreams {
    pub fn new(user_addr: &str, catalog_addr: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            users: UserServiceClient::new(channel(user_addr, timeout)?),
            catalog: CatalogServiceClient::new(channel(catalog_addr, timeout)?),
            timeout,
        })
    }

    /// A request carrying the gateway's deadline.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Awaits an upstream call for at most the timeout; maps gRPC errors to HTTP ones.
    pub async fn call<T>(
        &self,
        upstream: &str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(ApiError::timeout(upstream)),
        }
    }
}
