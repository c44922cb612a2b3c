//! Asking components whether they are healthy: the real protocol of each, not "is the
//! port open". A MariaDB answering `SELECT VERSION()`, a Redis answering `INFO`, a Consul
//! with a leader, a service answering `grpc.health.v1.Health/Check` with SERVING.

use std::time::Duration;

use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    infra, process,
    services::{self, Health, ServiceSpec},
    state::{Component, StackState},
};

/// One line of `bookstore-lab status`.
#[derive(Clone, Debug)]
pub struct ComponentHealth {
    pub name: String,
    pub address: String,
    pub pid: Option<u32>,
    pub healthy: bool,
    /// A version on success, the error otherwise.
    pub detail: String,
}

/// gRPC health of one named service at `address` (`host:port`).
pub async fn grpc_health(address: &str, service: &str) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await?;
    let resp = HealthClient::new(channel)
        .check(HealthCheckRequest { service: service.into() })
        .await?
        .into_inner();
    anyhow::ensure!(resp.status() == ServingStatus::Serving, "status {:?}", resp.status());
    Ok(())
}

/// The health check a spec names.
pub async fn service_health(spec: &ServiceSpec, address: &str) -> anyhow::Result<()> {
    match spec.health {
        Health::Grpc(name) => grpc_health(address, name).await,
        Health::Http(path) => {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
            http.get(format!("http://{address}{path}")).send().await?.error_for_status()?;
            Ok(())
        }
    }
}

async fn check(c: &Component) -> ComponentHealth {
    let result = match c.name.as_str() {
        "mysql" => infra::mysql_version(&c.address).await,
        "redis" => infra::redis_version(&c.address).await,
        "consul" => infra::consul_version(&c.address).await,
        name => match services::spec(name) {
            Some(spec) => service_health(spec, &c.address).await.map(|()| "SERVING".to_string()),
            None => Err(anyhow::anyhow!("unknown component")),
        },
    };
    let (healthy, detail) = match result {
        Ok(v) => (true, v),
        Err(e) => (false, e.to_string()),
    };
    ComponentHealth {
        name: c.name.clone(),
        address: c.address.clone(),
        pid: c.pid,
        healthy,
        detail,
    }
}

/// Health of every recorded component, checked concurrently.
pub async fn check_all(state: &StackState) -> Vec<ComponentHealth> {
    futures::future::join_all(state.all().map(check)).await
}

/// Are all recorded child processes still running? (External ones are not checked.)
pub fn all_alive(state: &StackState) -> bool {
    state.all().all(|c| c.pid.is_none_or(|pid| process::is_ours(pid, &c.program)))
}
