//! A single-node Consul agent in dev mode: where its binary comes from, how it starts,
//! and when it is ready (a leader elected).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;

use super::launch::{find_program, spawn_server, wait_ready};
use crate::{ports, state::Component};

/// Where `make` puts Consul: `$BOOKSTORE_TOOLS_DIR`, else `~/.cache/bookstore-lab/tools`.
/// A cache directory, not the repository: Consul is a ~150 MB build shared by every
/// checkout, and a `git clean` of the repo should not cost a ten-minute rebuild.
pub fn tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BOOKSTORE_TOOLS_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/bookstore-lab/tools")
}

/// The Consul binary: `$BOOKSTORE_CONSUL_BIN`, the tools folder, or PATH.
/// The tools folder comes before PATH because it holds the course's pinned 1.16; a
/// system `consul` of another major version may differ in flags and API.
pub fn consul_program() -> anyhow::Result<PathBuf> {
    // Taken as given, not checked: an explicit override that points nowhere should fail
    // at spawn with that path in the error, not fall back silently to another Consul.
    if let Some(p) = std::env::var_os("BOOKSTORE_CONSUL_BIN") {
        return Ok(PathBuf::from(p));
    }
    let built = tools_dir().join("consul");
    if built.is_file() {
        return Ok(built);
    }
    find_program("consul").ok_or_else(|| {
        anyhow::anyhow!(
            "consul not found: run `make setup` (builds Consul 1.16 from its Go module)"
        )
    })
}

/// The agent's version from `/v1/agent/self`, once it has a leader.
///
/// Why wait for a leader: a Consul agent answers HTTP before its Raft cluster (here, one
/// node) has elected a leader, and until then every catalog write — a service registering
/// itself — fails with "No cluster leader". Starting services against a leaderless Consul
/// makes their first registration fail at random.
pub async fn consul_version(addr: &str) -> anyhow::Result<String> {
    // 3 s per request: `status` and `wait_ready` call this in a loop, and a wedged agent
    // must fail one attempt rather than hang the loop.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
    // `/v1/status/leader` answers `"127.0.0.1:<server port>"` once elected and `""`
    // before: the one question that says whether registrations will succeed.
    // `error_for_status` before decoding: a 500 from an agent still starting would
    // otherwise surface as a JSON error that names no HTTP status.
    let leader: String = http
        .get(format!("http://{addr}/v1/status/leader"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(!leader.is_empty(), "consul has no leader yet");
    // The version is informational (`status` shows it), so a missing field reads as ""
    // instead of failing a health check that the leader query already passed.
    let me: serde_json::Value =
        http.get(format!("http://{addr}/v1/agent/self")).send().await?.json().await?;
    Ok(me["Config"]["Version"].as_str().unwrap_or_default().to_string())
}

/// A single-node Consul agent in dev mode (in-memory, its own server and leader).
///
/// Why `-dev`: it is a server and a client in one process, elects itself leader in about a
/// second, and keeps the catalog in memory. For a lab that is exactly right — nothing to
/// bootstrap, and every start of the agent begins with a clean registry (no stale
/// instances from yesterday; an `up` that finds the agent running keeps it and its
/// registrations). Production runs 3 or 5 servers for a Raft quorum, with ACLs and TLS; a
/// single dev agent has neither and loses everything on restart.
/// Services re-register on their own start, so losing the catalog with Consul is harmless.
pub async fn start_consul(
    dir: &Path,
    external_addr: Option<&str>,
    attached: bool,
    port: Option<u16>,
) -> anyhow::Result<Component> {
    if let Some(addr) = external_addr {
        // Accept `http://host:8500/` as well as `host:8500`: the Consul CLI's own
        // CONSUL_HTTP_ADDR convention allows both, and learners copy it from there.
        let addr = addr.trim_start_matches("http://").trim_end_matches('/');
        // Checked once, here, with the same leader query as our own agent's start: an
        // adopted Consul without a leader would fail every service's registration later.
        let v = consul_version(addr).await.with_context(|| "external Consul does not answer")?;
        eprintln!("==> using external Consul {v}");
        return Ok(Component::external("consul", addr));
    }
    let program = consul_program()?.display().to_string();
    let log = dir.join("logs/consul.log");
    // 8500 if free, so the Consul UI is at the address the Day 35 lesson gives
    // (http://127.0.0.1:8500/ui) and the `consul` CLI works without CONSUL_HTTP_ADDR.
    let http = ports::pick(port.unwrap_or(8500))?;
    // Picked anew on every start, never recorded: nothing outside the agent connects to
    // these ports, so a restart may move them freely.
    let (lan, wan, server) = (ports::any_free()?, ports::any_free()?, ports::any_free()?);
    eprintln!("==> starting Consul on 127.0.0.1:{http}");
    let args = vec![
        "agent".to_string(),
        "-dev".into(),
        // A fixed node name instead of the host name: the Consul UI and the lessons'
        // screenshots then show the same `bookstore-lab` node on every machine.
        "-node=bookstore-lab".into(),
        // Cluster traffic (`-bind`) and client APIs (`-client`) on loopback only: the dev
        // agent has no ACLs, so anyone who can reach it can register or delete services.
        "-bind=127.0.0.1".into(),
        "-client=127.0.0.1".into(),
        format!("-http-port={http}"),
        // Disabled: DNS (8600), the gRPC API (8502) and gRPC-TLS (8503) are for Consul
        // Connect / Envoy and DNS-based discovery, which the course does not use; the
        // services use the HTTP API. Each disabled listener is one port less to collide
        // with another lab or a system Consul, and one thing less to explain.
        // (This is Consul's *own* gRPC API; the health checks it runs against our
        // services are outgoing and need no port here.)
        "-dns-port=-1".into(),
        "-grpc-port=-1".into(),
        "-grpc-tls-port=-1".into(),
        // ❌ DON'T copy `-dev` to a shared environment: no persistence, no ACLs, one node.
        // ✅ DO copy the idea: disable every listener you do not use.
        // The gossip (Serf LAN/WAN) and RPC ports cannot be turned off, so they get free
        // ports: the defaults 8301/8302/8300 would clash with a second lab on the machine.
        format!("-serf-lan-port={lan}"),
        format!("-serf-wan-port={wan}"),
        format!("-server-port={server}"),
        // Dev mode logs every catalog change at info; warn keeps `.lab/logs/consul.log`
        // short enough that a real problem stands out.
        "-log-level=warn".into(),
    ];
    let pid = spawn_server(dir, "consul", &program, args, &log, attached)?;
    // 60 s: a dev agent is usually leader within seconds, but on a loaded 2-core CI
    // machine the Raft election timers can fire late.
    let addr = format!("127.0.0.1:{http}");
    wait_ready("Consul", pid, &log, Duration::from_secs(60), || async {
        consul_version(&addr).await.map(drop)
    })
    .await?;
    Ok(Component::child("consul", pid, program, addr, &log))
}
