//! Day 35 in miniature, against the real Consul agent: an instance registers with a gRPC
//! health check, Consul calls that check and lists the instance as passing, and a graceful
//! shutdown removes it at once. This is the contract discovery clients rely on.
//!
//! Each test registers under a unique service name, so tests running in parallel (and
//! instances left by a crashed run) never appear in each other's results.

use std::time::{Duration, Instant};

use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, consul::Consul, run};
use bookstore_proto::payment::payment_service_server::{PaymentService, PaymentServiceServer};
use bookstore_stack::testing;

/// A service with no RPCs of its own beyond the generated UNIMPLEMENTED stubs: enough to
/// have a named gRPC service whose health Consul can check.
struct Probe;
impl PaymentService for Probe {}

/// Polls `cond` until true, failing after 20 s with `what`. Consul's first check comes at
/// some point within the first interval (10 s with the default settings used here), so a
/// fixed sleep would be both slow and flaky; polling waits only as long as needed.
async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Registration, a passing gRPC health check, and deregistration on shutdown — read back
/// through Consul's own HTTP API.
///
/// "Passing" matters more than "registered": it proves Consul could dial the advertised
/// address and that the named-service health check answered SERVING. The last assertion
/// has no wait: graceful shutdown must remove the instance *at once*, not after the check
/// has failed for a minute.
#[tokio::test(flavor = "multi_thread")]
async fn a_serving_instance_is_listed_as_passing_and_removed_on_shutdown() {
    let infra = testing::infra();
    let name = testing::unique_name("probe-service");
    // Port and database are never used: the server is bound below, and nothing here opens
    // MySQL. `run::serve` reads only the host, the metrics port (0: any) and Consul's address.
    let mut settings = CommonSettings::defaults(0, "unused");
    settings.consul_addr = infra.consul_addr.clone();

    let server = GrpcServer::bind("127.0.0.1", 0)
        .await
        .unwrap()
        .add_service(PaymentServiceServer::new(Probe));
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let task = {
        let (settings, shutdown, name) = (settings.clone(), shutdown.clone(), name.clone());
        tokio::spawn(async move { run::serve(&name, &settings, server, shutdown, |_| {}).await })
    };

    let consul = Consul::new(&infra.consul_addr);
    wait_for("instance passing in consul", || async {
        consul
            .healthy_instances(&name)
            .await
            // Matched by address, not by count alone: Consul must list the very port this
            // test bound, which is what a client will dial.
            .map(|v| v.iter().any(|i| i.address == addr.to_string()))
            // An error (the agent busy or restarting) counts as "not yet": the deadline
            // decides, not the first hiccup.
            .unwrap_or(false)
    })
    .await;
    let instances = consul.healthy_instances(&name).await.unwrap();
    assert_eq!(instances.len(), 1);
    assert!(
        instances[0].meta.contains_key("metrics_port"),
        "metrics port published for the dashboard"
    );

    shutdown.cancel();
    // Awaited before the check: `serve` returns only after deregistering and draining, so
    // the assertion below needs no polling — a wait here would hide a lazy deregistration.
    task.await.unwrap().unwrap();
    assert!(
        consul.healthy_instances(&name).await.unwrap().is_empty(),
        "deregistered on graceful shutdown"
    );
}

/// The agent reports the version the course uses (1.16.x), whose API and UI the Day 35
/// lesson describes.
#[tokio::test]
async fn the_consul_agent_is_the_course_version() {
    let infra = testing::infra();
    let v = Consul::new(&infra.consul_addr).version().await.unwrap();
    assert!(v.starts_with("1.16."), "{v}");
}
