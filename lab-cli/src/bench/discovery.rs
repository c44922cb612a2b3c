//! `bookstore-lab bench discovery`: what client-side discovery costs on the cheapest call.
//!
//! Two in-process gRPC servers (health, reflection and an empty PaymentService) register in
//! the stack's real Consul under a unique name; the same no-op `grpc.health.v1.Health/Check`
//! then runs over
//!
//! | row | transport |
//! |---|---|
//! | `no-op gRPC` | plain tonic channels to instance A (the baseline) |
//! | `static address` | `clients::channel("…", "http://A")`: one fixed instance |
//! | `consul, 2 instances` | `clients::channel("…", "consul://agent/name")`: round-robin over A and B |
//!
//! Each row gets one transport per 8 workers, so all three use the same number of
//! connections per instance and the ratio isolates what [`Balanced`] adds per call: a
//! round-robin pick, one body copy kept for a possible re-send, two atomic counters.
//!
//! Why the cheapest call: discovery's cost is per call (the pick) plus a background
//! refresh of the instance list, both independent of what the RPC does. On a no-op the
//! per-call share is as large as it will ever get; on a real RPC it shrinks into the
//! noise. A ratio near 1.0 here is therefore the strongest claim the row can make.
//!
//! Two instances are not twice the capacity here: both servers run in this process, on the
//! same cores as the load generator, so the consul row cannot win by having more servers —
//! it can only lose to the baseline by what discovery costs. On separate machines the
//! same row would also show the capacity a second instance adds; this bench does not ask.
//!
//! What would make the consul row lie: an instance that had not passed its first check
//! would be missing from the list and every call would go to one server, so [`run`] waits
//! until Consul lists both as passing. The spread note (calls per instance) is the proof
//! the row measured two instances, not one.
//!
//! [`Balanced`]: bookstore_platform::clients::Balanced

use std::{sync::Arc, time::Duration};

use bookstore_loadgen::{
    LoadConfig, Outcome, Summary,
    report::{Report, Row},
};
use bookstore_platform::{CommonSettings, GrpcServer, Shutdown, clients, consul::Consul, run};
use bookstore_proto::payment::payment_service_server::{PaymentService, PaymentServiceServer};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::{BenchOptions, connect_channels, noop_grpc};

// Row names, also the keys `ratio_to` looks the rows up by: spelled once, so a renamed row
// cannot leave its ratio pointing at nothing.
const NOOP: &str = "no-op gRPC";
const STATIC: &str = "static address";
const CONSUL: &str = "consul, 2 instances";

/// A server with a named gRPC service (its RPCs answer UNIMPLEMENTED; only health is
/// called), so Consul has a service health to check.
struct Probe;
impl PaymentService for Probe {}

/// Runs the discovery bench.
///
/// The name is unique per run, so two benches (or a bench next to the test suite) on one
/// Consul never balance over each other's instances.
pub async fn run(opts: &BenchOptions) -> anyhow::Result<Report> {
    let name = bookstore_stack::testing::unique_name("bench-discovery");
    // Only the Consul part of the settings matters: the probe servers have no database,
    // hence the placeholder name, and bind their own port-0 sockets below.
    let mut settings = CommonSettings::defaults(0, "unused");
    settings.consul_addr = opts.infra.consul_addr.clone();
    // Checks every 500 ms, so both instances pass within a second of starting; the
    // check's own traffic is two tiny requests a second, negligible next to the load.
    settings.consul_check_interval_ms = 500;
    let shutdown = Shutdown::new();
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    // Port 0: the OS picks, so the bench never fights the lab's own services for 9005.
    for _ in 0..2 {
        let server =
            GrpcServer::bind("127.0.0.1", 0).await?.add_service(PaymentServiceServer::new(Probe));
        addrs.push(server.local_addr());
        let (settings, shutdown, name) = (settings.clone(), shutdown.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            run::serve(&name, &settings, server, shutdown, |_| {}).await
        }));
    }
    // 20 s: many check intervals, so a timeout means registration failed, not a slow check.
    let consul = Consul::new(&opts.infra.consul_addr);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // `healthy_instances` is the passing-only list a discovery client dials from — the list
    // the consul row will balance over, so waiting on it is waiting on what is measured.
    while consul.healthy_instances(&name).await.map_or(0, |l| l.len()) < 2 {
        anyhow::ensure!(std::time::Instant::now() < deadline, "instances never passed in consul");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = measure(opts, &name, addrs[0]).await;
    // Cancelled even when `measure` failed: `serve` deregisters on the way out, so no
    // entry of this bench is left for the next one's Consul queries to trip over.
    shutdown.cancel();
    // A server task's error wins over `measure`'s result: a server that failed mid-bench
    // left the consul row on one instance, and its figures must not be reported as two.
    // (The price: when both fail, `measure`'s error is the one not shown.)
    for t in tasks {
        t.await??;
    }
    result
}

/// Interleaved rounds of the three rows; the report with ratios and the spread note.
async fn measure(
    opts: &BenchOptions,
    name: &str,
    a: std::net::SocketAddr,
) -> anyhow::Result<Report> {
    // The same 8 workers per transport as `connect_channels` uses for the baseline: with
    // fewer connections the balanced rows would measure HTTP/2 queueing, not discovery.
    let n = opts.concurrency.div_ceil(8).max(1);
    let channels = connect_channels(a, opts.concurrency).await?;
    let fixed: Vec<clients::Balanced> = (0..n)
        .map(|_| clients::channel("bench", &format!("http://{a}")))
        .collect::<anyhow::Result<_>>()?;
    let url = format!("consul://{}/{name}", opts.infra.consul_addr);
    let found: Vec<clients::Balanced> =
        (0..n).map(|_| clients::channel("bench", &url)).collect::<anyhow::Result<_>>()?;
    // Both kinds are lazy, unlike the baseline's eagerly connected channels: a fixed
    // transport dials on its first call, a consul one starts a watcher whose first
    // instance list arrives in the background. Round one of these two rows therefore pays
    // connection set-up (and the first lookup) that the baseline did not; the median of
    // three rounds outvotes it, a `--runs 1` report reads their ratios low.
    let (fixed, found) = (Arc::new(fixed), Arc::new(found));
    let cfg = LoadConfig::timed(opts.concurrency, opts.duration());
    let mut runs: Vec<Vec<Summary>> = vec![Vec::new(); 3];
    // Interleaved: each round runs the three rows back to back, so a noisy neighbour on the
    // shared machine slows a baseline and the rows compared with it alike.
    for _round in 0..opts.runs.max(1) {
        runs[0].push(noop_grpc(cfg.clone(), channels.clone()).await);
        runs[1].push(balanced(cfg.clone(), fixed.clone()).await);
        runs[2].push(balanced(cfg.clone(), found.clone()).await);
    }
    let mut report =
        Report::new("discovery", opts.concurrency, opts.duration().as_secs_f64(), opts.runs.max(1));
    for (row, summaries) in [NOOP, STATIC, CONSUL].iter().zip(&runs) {
        report.rows.push(Row::from_runs(*row, summaries));
    }
    report.ratio_to(NOOP, &[STATIC, CONSUL]);
    // Calls sent per instance, summed over the consul row's transports and rounds: about
    // half each if round-robin saw both instances the whole time. Summed by position in
    // each transport's list, which assumes every list is in the same order — true for
    // lists from the same agent query; `stats` also carries each instance's id, which a
    // stricter sum would key on.
    let spread: Vec<u64> = found.iter().fold(vec![0, 0], |mut acc, b| {
        for (i, s) in b.stats().iter().enumerate().take(2) {
            acc[i] += s.sent;
        }
        acc
    });
    report.notes.push(format!(
        "consul 行的调用在两个实例间的分布：{} / {}（轮询）；比值 = 各行 TPS ÷ no-op gRPC（同一轮测得）",
        spread[0], spread[1]
    ));
    Ok(report)
}

/// The no-op call over [`clients::Balanced`] transports, one per 8 workers.
///
/// Picked by operation index, like [`super::pick`] for plain channels, so each transport
/// carries the same share of calls in both balanced rows.
async fn balanced(cfg: LoadConfig, transports: Arc<Vec<clients::Balanced>>) -> Summary {
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut health = HealthClient::new(transports[op as usize % transports.len()].clone());
            // The empty service name asks for the server's overall status: no lookup of a
            // named service, so the call stays as cheap as the baseline's. Two outcomes only:
            // a health check has no correct refusal, so anything but OK is a failure.
            async move {
                match health.check(HealthCheckRequest { service: String::new() }).await {
                    Ok(_) => Outcome::Success,
                    Err(_) => Outcome::Failed,
                }
            }
        },
        None,
    )
    .await
}
