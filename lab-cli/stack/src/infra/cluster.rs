//! A throw-away Redis Cluster of three masters on loopback, for tests that must see what a
//! real cluster refuses (`MOVED`, `CROSSSLOT`) rather than trust a comment that says
//! "cluster-safe".
//!
//! Not part of `up`: the lab's stack runs one Redis, because the course's single `{inv}`
//! hash tag puts all inventory on one shard anyway (Day 30's lesson says what a per-book
//! layout would trade). No persistence and no replicas: the cluster lives for one test
//! and its directory is deleted with it.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use super::launch::require_program;

/// Three running cluster nodes; dropping it kills them and removes their directory.
pub struct RedisCluster {
    /// The nodes' client ports (each also listens on port + 10000, the cluster bus).
    pub ports: Vec<u16>,
    /// Plain `std` children, not [`crate::process::spawn`]: nothing records them in
    /// `stack.json`, and this value is their only owner. The price: without
    /// `PR_SET_PDEATHSIG`, a test binary killed by SIGKILL (a CI timeout) runs no `Drop`
    /// and leaves the three nodes running until someone kills them.
    children: Vec<Child>,
    /// A random directory per cluster: node configs, logs and nothing else.
    dir: PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // Killed, not shut down: nothing in a test cluster is worth saving, and a node
        // must never outlive the test that started it (it would hold its two ports).
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A client port whose bus port (port + 10000) is free too. The kernel picks the first
/// (port 0), so parallel tests do not collide; a cluster node cannot use port 0 itself,
/// because every node must announce a fixed bus port to the others.
fn free_node_port() -> anyhow::Result<u16> {
    // 100 tries: a pair fails only when port + 10000 is taken, which on a quiet machine
    // is rare; a hundred misses in a row mean the machine is out of ports, not unlucky.
    for _ in 0..100 {
        let probe = TcpListener::bind("127.0.0.1:0")?;
        let port = probe.local_addr()?.port();
        // Below 55,000 so that port + 10000 is still a port (≤ 65,535). Both listeners
        // are released on return, so the same check-then-use race as in `ports` applies:
        // a node that loses it fails to start, and the first `poll` below says so.
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port pair (p, p + 10000) on 127.0.0.1")
}

/// Polls `check` every 50 ms for up to 10 s; `what` names the wait in the error.
async fn poll<F: std::future::Future<Output = bool>>(
    what: &str,
    check: impl Fn() -> F,
) -> anyhow::Result<()> {
    // 10 s: three nodes start in milliseconds and agree in about a second of gossip; a
    // wait longer than that means a node died (its log is in the cluster directory).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        if Instant::now() > deadline {
            bail!("redis cluster: timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// `CLUSTER INFO` of the node on `port`, or `None` while it does not answer.
///
/// A fresh plain connection per call, not a cluster client: the question is about this
/// one node, and a cluster client would follow redirects to another.
async fn cluster_info(port: u16) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("CLUSTER").arg("INFO").query_async(&mut conn).await.ok()
}

/// Starts three `redis-server --cluster-enabled yes` nodes in a new directory under `parent`,
/// joins them with `redis-cli --cluster create` (the 16,384 slots split in three), and
/// returns once every node reports `cluster_state:ok`.
pub async fn start_redis_cluster(parent: &Path) -> anyhow::Result<RedisCluster> {
    let hint = "install redis-server and redis-cli (Debian/Ubuntu: `make setup`)";
    let server = require_program(&["redis-server"], hint)?;
    let cli = require_program(&["redis-cli"], hint)?;
    // A random name under the caller's directory: two tests that each start a cluster in
    // one parallel run get separate node configs, and `Drop` removes only its own.
    let dir = parent.join(format!("redis-cluster-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let mut cluster = RedisCluster { ports: vec![], children: vec![], dir: dir.clone() };
    // Three masters: the fewest `redis-cli --cluster create` accepts, since a cluster needs a
    // majority of masters to agree that one has failed. No replicas: failover is not what
    // these tests are about, and each replica would be one more process on a 2-core box.
    for _ in 0..3 {
        let port = free_node_port()?;
        let log = std::fs::File::create(dir.join(format!("{port}.log")))?;
        let child = Command::new(&server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            // Each node writes its view of the cluster here; one file per node, or they
            // would overwrite each other's.
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
            // No RDB, no AOF: the data dies with the test, and a snapshot's fork would only
            // add latency to a test that measures nothing but correctness.
            .args(["--dir", &dir.display().to_string(), "--save", "", "--appendonly", "no"])
            // With no `logfile` set, Redis logs to stdout, kept per node in the cluster
            // directory; stderr is dropped.
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        // Pushed at once: if a later node fails to start, `?` drops `cluster`, and its
        // `Drop` kills the nodes already running instead of leaking them.
        cluster.children.push(child);
        cluster.ports.push(port);
    }
    for &port in &cluster.ports {
        poll("a node answers", || async move { cluster_info(port).await.is_some() }).await?;
    }
    // A node started with --cluster-enabled owns no slots and refuses every key
    // (CLUSTERDOWN) until `create` assigns them: 16,384 slots, about 5,461 per node.
    let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    // `--cluster-yes` accepts the proposed slot layout without the interactive prompt.
    let out = Command::new(&cli)
        .args(["--cluster", "create"])
        .args(&nodes)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .context("running redis-cli --cluster create")?;
    if !out.status.success() {
        bail!("redis-cli --cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
    }
    // `create` returns once the slots are assigned; the nodes still gossip until each
    // knows the others. A command sent before that can get CLUSTERDOWN.
    for &port in &cluster.ports {
        poll("cluster_state:ok", || async move {
            cluster_info(port).await.is_some_and(|i| i.contains("cluster_state:ok"))
        })
        .await?;
    }
    Ok(cluster)
}

impl RedisCluster {
    /// The port of the master that owns `key`'s slot — what a cluster client computes
    /// before every command (`CLUSTER KEYSLOT`, then the owner from `CLUSTER SLOTS`).
    pub async fn owner_of(&self, key: &str) -> anyhow::Result<u16> {
        // Any node answers KEYSLOT (a pure CRC16 of the key or its `{hash tag}`) and
        // SLOTS (every node knows the whole map), so the first one is asked.
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.ports[0]))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let slot: i64 =
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async(&mut conn).await?;
        // One entry per range: [start, end, [ip, port, id, metadata], replicas…].
        // Decoded as exactly three fields per range, which holds because the nodes have no
        // replicas; a replica would add a fourth element and fail the decode loudly.
        let ranges: Vec<(i64, i64, Vec<redis::Value>)> =
            redis::cmd("CLUSTER").arg("SLOTS").query_async(&mut conn).await?;
        let (_, _, master) = ranges
            .into_iter()
            .find(|(start, end, _)| (*start..=*end).contains(&slot))
            .with_context(|| format!("no node owns slot {slot}"))?;
        // Element 1 of `[ip, port, id, …]`: the IP is always 127.0.0.1 here, so the port
        // alone names the node, as `ports` does.
        Ok(redis::from_redis_value(master.get(1).context("CLUSTER SLOTS entry without a port")?)?)
    }
}
