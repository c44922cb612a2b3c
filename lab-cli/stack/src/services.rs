//! The six service binaries: how each is started and how we know it is up.
//!
//! Start order follows the call graph — user first (everyone validates tokens), gateway
//! last (it fronts all the others) — so no service starts while one it calls is down.
//! Every address a service needs is passed in its environment (`BOOKSTORE_*_ADDR`), and
//! each instance also registers in Consul, so Day 35's discovery has something to find.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use crate::{
    UpOptions, ports,
    process::{self, Spawn},
    state::{Component, StackState},
};

/// How we ask a service whether it is ready.
#[derive(Clone, Copy, Debug)]
pub enum Health {
    /// `grpc.health.v1.Health/Check` for this fully-qualified service name.
    Grpc(&'static str),
    /// HTTP GET of this path must answer 200.
    Http(&'static str),
}

/// One service of the stack.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    /// Short name: `inventory`.
    pub name: &'static str,
    /// Binary in the bin dir: `inventory-service`.
    pub binary: &'static str,
    /// The course's port.
    pub port: u16,
    pub health: Health,
}

/// Every service, in start order.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "user",
        binary: "user-service",
        port: 9001,
        health: Health::Grpc("bookstore.user.v1.UserService"),
    },
    ServiceSpec {
        name: "catalog",
        binary: "catalog-service",
        port: 9002,
        health: Health::Grpc("bookstore.catalog.v1.CatalogService"),
    },
    ServiceSpec {
        name: "inventory",
        binary: "inventory-service",
        port: 9004,
        health: Health::Grpc("bookstore.inventory.v1.InventoryService"),
    },
    ServiceSpec {
        name: "order",
        binary: "order-service",
        port: 9003,
        health: Health::Grpc("bookstore.order.v1.OrderService"),
    },
    ServiceSpec {
        name: "payment",
        binary: "payment-service",
        port: 9005,
        health: Health::Grpc("bookstore.payment.v1.PaymentService"),
    },
    ServiceSpec { name: "gateway", binary: "gateway", port: 8080, health: Health::Http("/health") },
];

/// Looks a spec up by short name.
pub fn spec(name: &str) -> Option<&'static ServiceSpec> {
    SERVICES.iter().find(|s| s.name == name)
}

/// The directory of the running executable (`target/debug` for both `bookstore-lab` and
/// test binaries, which live one level down in `deps/`).
pub fn default_bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable has no directory")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

/// The port a service gets: the course's, or a free one with `free_ports`.
fn port_for(spec: &ServiceSpec, state: &StackState, opts: &UpOptions) -> anyhow::Result<u16> {
    if let Some(c) = state.service(spec.name) {
        return Ok(c.address.rsplit(':').next().unwrap_or_default().parse()?);
    }
    if opts.free_ports {
        return ports::any_free();
    }
    if !ports::is_free(spec.port) {
        bail!(
            "port {} for {}-service is taken (another `bookstore-lab up` in a different folder?). \
             Stop that, or use `bookstore-lab up --free-ports`",
            spec.port,
            spec.name
        );
    }
    Ok(spec.port)
}

/// Address environment for every service: `BOOKSTORE_<NAME>_ADDR=http://127.0.0.1:<port>`.
/// Ports of services not started yet are decided now, so the whole graph is consistent.
fn address_env(
    state: &StackState,
    opts: &UpOptions,
    own: &ServiceSpec,
    own_port: u16,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for s in SERVICES {
        let port = if s.name == own.name {
            own_port
        } else if let Some(c) = state.service(s.name) {
            c.address.rsplit(':').next().unwrap_or_default().parse()?
        } else if opts.free_ports {
            // Not started yet with free ports: it will get its own port later; callers
            // also find it through Consul.
            continue;
        } else {
            s.port
        };
        env.push((
            format!("BOOKSTORE_{}_ADDR", s.name.to_uppercase()),
            format!("http://127.0.0.1:{port}"),
        ));
    }
    Ok(env)
}

/// Starts one service and waits until its health check passes.
pub async fn start(
    dir: &Path,
    bin_dir: &Path,
    spec: &ServiceSpec,
    state: &StackState,
    opts: &UpOptions,
) -> anyhow::Result<Component> {
    let program = bin_dir.join(spec.binary);
    if !program.is_file() {
        bail!(
            "{} not found in {} — build first (`cargo build --workspace`)",
            spec.binary,
            bin_dir.display()
        );
    }
    let program = program.display().to_string();
    let port = port_for(spec, state, opts)?;
    let metrics_port = ports::any_free()?;
    let mut env = vec![
        ("BOOKSTORE_PORT".to_string(), port.to_string()),
        ("BOOKSTORE_METRICS_PORT".into(), metrics_port.to_string()),
        ("BOOKSTORE_MYSQL_URL".into(), state.mysql_url()?.to_string()),
        ("BOOKSTORE_REDIS_URL".into(), state.redis_url()?.to_string()),
        ("BOOKSTORE_CONSUL_ADDR".into(), state.consul_addr()?.to_string()),
    ];
    env.extend(address_env(state, opts, spec, port)?);
    if let Ok(filter) = std::env::var("RUST_LOG") {
        env.push(("RUST_LOG".into(), filter));
    }
    let log = dir.join(format!("logs/{}.log", spec.name));
    eprintln!("==> starting {}-service on 127.0.0.1:{port}", spec.name);
    let pid = process::spawn(Spawn {
        name: spec.name,
        program: &program,
        args: vec![],
        env,
        log: &log,
        attached: opts.attached,
        lab_dir: dir,
    })?;
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match crate::probe::service_health(spec, &address).await {
            Ok(()) => break,
            Err(e) => {
                if !process::alive(pid) {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    bail!(
                        "{}-service exited during start-up; {}:\n{}",
                        spec.name,
                        log.display(),
                        tail.join("\n")
                    );
                }
                if Instant::now() > deadline {
                    process::terminate(pid, Duration::from_secs(5)).await;
                    bail!(
                        "{}-service not healthy after 60 s: {e} (log: {})",
                        spec.name,
                        log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(Component {
        name: spec.name.into(),
        pid: Some(pid),
        program,
        address,
        metrics: Some(format!("127.0.0.1:{metrics_port}")),
        log: Some(log.display().to_string()),
    })
}
