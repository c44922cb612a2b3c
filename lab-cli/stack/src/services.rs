//! The six service binaries: how each is started and how we know it is up.
//!
//! Start order follows the call graph — user first (everyone validates tokens), gateway
//! last (it fronts all the others) — so no service starts while one it calls is down.
//! Every address a service needs is passed in its environment (`BOOKSTORE_*_ADDR`), and
//! each instance also registers in Consul, so Day 35's discovery has something to find.
//!
//! How services find each other: by default every `BOOKSTORE_*_ADDR` is a Consul URL
//! (`consul://127.0.0.1:8500/user-service`), so a client balances over every passing
//! instance and a second user-service started with `up --replicas user=2` (or from the
//! TUI) gets traffic without anyone being told. `up --static-addrs` hands out the fixed
//! `http://127.0.0.1:9001` addresses instead — the Days 29–34 way, one instance each — so
//! the learner can compare the two on the same stack.
//!
//! What it is NOT: a deployment tool. No rolling restarts, no autoscaling; instances are
//! added and removed by hand (`--replicas`, the TUI's Day 35 experiment).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{
    UpOptions, infra, ports,
    process::{self, Spawn},
    state::{Component, StackState},
};

/// How we ask a service whether it is ready — always over the protocol its clients use.
#[derive(Clone, Copy, Debug)]
pub enum Health {
    /// `grpc.health.v1.Health/Check` for this fully-qualified service name (the proto
    /// package + service, exactly as in the `.proto`; a typo answers NOT_FOUND forever).
    Grpc(&'static str),
    /// HTTP GET of this path must answer 2xx (the gateway speaks HTTP/JSON to browsers
    /// and curl, so it gets the health check HTTP load balancers use).
    Http(&'static str),
}

/// One service of the stack.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    /// Short name: `inventory` (the key in `stack.json`, the log file name, the
    /// `BOOKSTORE_INVENTORY_ADDR` variable).
    pub name: &'static str,
    /// Binary in the bin dir: `inventory-service` (the `[[bin]]` name in its Cargo.toml,
    /// and, for the five gRPC services, the name it registers under in Consul).
    pub binary: &'static str,
    /// The course's port (DESIGN.md §2), used unless `--free-ports`.
    pub port: u16,
    /// The readiness question; see [`crate::probe::service_health`].
    pub health: Health,
    /// Settings the lab gives this service beyond the common ones (as `BOOKSTORE_*` env).
    pub lab_env: &'static [(&'static str, &'static str)],
}

/// Every service, in start order.
///
/// Note that order (port 9003) starts after inventory (9004): order calls inventory to
/// reserve stock, so start order follows the call graph, not the port numbers. A data table like this,
/// instead of six copies of start-up code, is what keeps the six consistent.
///
/// Three of the six run on their own defaults (`lab_env: &[]`; every service still gets
/// the lab's faster Consul check timings, `CHECK_ENV`); the other three get lab-only switches — a shorter payment window, fault injection, the mock payment
/// route — each explained next to its entry. A switch only the lab sets is one a
/// production deployment cannot turn on by accident.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "user",
        binary: "user-service",
        port: 9001,
        health: Health::Grpc("bookstore.user.v1.UserService"),
        lab_env: &[],
    },
    ServiceSpec {
        name: "catalog",
        binary: "catalog-service",
        port: 9002,
        health: Health::Grpc("bookstore.catalog.v1.CatalogService"),
        lab_env: &[],
    },
    ServiceSpec {
        name: "inventory",
        binary: "inventory-service",
        port: 9004,
        health: Health::Grpc("bookstore.inventory.v1.InventoryService"),
        lab_env: &[],
    },
    ServiceSpec {
        name: "order",
        binary: "order-service",
        port: 9003,
        health: Health::Grpc("bookstore.order.v1.OrderService"),
        // The lab's orders expire after 2 minutes instead of 15, so the Day 32 experiment
        // can show expiry while the learner watches; faults can be injected per request
        // (`x-lab-fault`), which only the lab enables. Inventory keeps its 15-minute
        // backstop window: longer than order's, as it must be.
        lab_env: &[
            ("BOOKSTORE_PAYMENT_WINDOW_SECS", "120"),
            ("BOOKSTORE_SWEEP_INTERVAL_SECS", "2"),
            ("BOOKSTORE_LAB_FAULTS", "true"),
        ],
    },
    ServiceSpec {
        name: "payment",
        binary: "payment-service",
        port: 9005,
        health: Health::Grpc("bookstore.payment.v1.PaymentService"),
        // The lab can make one payment fail on purpose (`x-lab-payment: fail`), so the
        // Day 33 experiment can show the failure path; the mock gateway still answers
        // after the course's 3 s.
        lab_env: &[("BOOKSTORE_LAB_FAULTS", "true")],
    },
    ServiceSpec {
        name: "gateway",
        binary: "gateway",
        port: 8080,
        health: Health::Http("/health"),
        // The lab stands in for the payment provider: the gateway routes its mock callback.
        lab_env: &[("BOOKSTORE_LAB_ROUTES", "true")],
    },
];

/// Looks a spec up by instance name as recorded in `stack.json` (`user`, or `user-2` for
/// a second instance). `None` means the record names a service this build does not know —
/// e.g. written by a newer checkout.
pub fn spec(name: &str) -> Option<&'static ServiceSpec> {
    // Only a numeric suffix of 2 or more is an instance number: the first instance is
    // written bare (`user`, never `user-1`), so `user-1` stays an unknown name instead of
    // quietly aliasing the first instance's record.
    let base = match name.rsplit_once('-') {
        Some((base, n)) if n.parse::<u32>().is_ok_and(|n| n >= 2) => base,
        _ => name,
    };
    SERVICES.iter().find(|s| s.name == base)
}

/// The name of the `k`-th instance of a service (1-based): `user`, `user-2`, `user-3`.
/// The first keeps the bare name, so a one-instance stack reads exactly as before.
pub fn instance_name(spec: &ServiceSpec, k: u32) -> String {
    if k <= 1 { spec.name.to_string() } else { format!("{}-{k}", spec.name) }
}

/// The instance number of a recorded name (`user-2` → 2, `user` → 1).
/// Used to sort instances, so `up` starts `user` before `user-2` and a listing reads in
/// instance order rather than string order (`user-10` before `user-2`).
pub fn instance_number(name: &str) -> u32 {
    name.rsplit_once('-').and_then(|(_, n)| n.parse().ok()).unwrap_or(1)
}

/// The lab's Consul check timings: a check every second with a 500 ms deadline, so a
/// killed instance leaves the passing list within about a second (the course's 10 s would
/// make the Day 35 experiment a long wait). Deregistration of a crashed instance's entry
/// stays at Consul's 1-minute floor.
const CHECK_ENV: &[(&str, &str)] =
    &[("BOOKSTORE_CONSUL_CHECK_INTERVAL_MS", "1000"), ("BOOKSTORE_CONSUL_CHECK_TIMEOUT_MS", "500")];

/// The directory of the running executable (`target/debug` for both `bookstore-lab` and
/// test binaries, which live one level down in `deps/`).
/// Next to ourselves, not PATH: a stale `inventory-service` installed with `cargo install`
/// weeks ago must not be started in place of the one just built from this checkout.
pub fn default_bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable has no directory")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

/// The port a service gets: the course's, or a free one with `free_ports`.
///
/// A taken course port is an error, not a silent fallback as for the databases: the
/// lessons, README and grpcurl examples all say `localhost:9004`, and an inventory
/// quietly moved to 41873 would make every one of them fail in a confusing way.
/// Second and later instances always get a free port: the course's ports are one per
/// service (its plan puts a second user-service on 9002, which is catalog's).
fn port_for(
    spec: &ServiceSpec,
    instance: &str,
    state: &StackState,
    opts: &UpOptions,
) -> anyhow::Result<u16> {
    // Already recorded (a restart within the same stack): keep its port, so addresses
    // already handed to other services stay true.
    // An unparsable recorded address is an error, not a fresh port: it means a
    // `stack.json` edited by hand or by another build, and guessing would hand the
    // service a port nobody else was told.
    if let Some(c) = state.service(instance) {
        return Ok(c.address.rsplit(':').next().unwrap_or_default().parse()?);
    }
    if opts.free_ports || instance != spec.name {
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

/// Address environment for every service: `BOOKSTORE_<NAME>_ADDR=consul://<agent>/<name>-service`,
/// or with `--static-addrs` `http://127.0.0.1:<port>` of each service's first instance
/// (ports of services not started yet are decided now, so the whole graph is consistent).
///
/// Why decide early: user-service starts first, but gateway (started last) is told where
/// user-service is — and, with fixed ports, order-service is told inventory's port
/// before inventory exists. Clients connect lazily (tonic channels reconnect), so an
/// address that answers only a few seconds later is fine.
fn address_env(
    state: &StackState,
    opts: &UpOptions,
    own: &ServiceSpec,
    own_port: u16,
) -> anyhow::Result<Vec<(String, String)>> {
    // The variable names the platform's settings read (`BOOKSTORE_INVENTORY_ADDR` →
    // `inventory_addr`); a service ignores the ones for peers it does not call.
    let var = |s: &ServiceSpec| format!("BOOKSTORE_{}_ADDR", s.name.to_uppercase());
    // lesson:consul-addrs:start
    if !state.static_addrs {
        // The service names are the binaries' names (what each registers under), and the
        // agent is the lab's: one URL per peer, valid however many instances come and go.
        let consul = state.consul_addr()?;
        return Ok(SERVICES
            .iter()
            .filter(|s| matches!(s.health, Health::Grpc(_)))
            .map(|s| (var(s), format!("consul://{consul}/{}", state.consul_name(s.binary))))
            .collect());
    }
    // lesson:consul-addrs:end
    // Static addresses: only each service's *first* instance is named — a fixed URL has
    // room for one — which is exactly the limitation Day 35's discovery removes.
    let mut env = Vec::new();
    for s in SERVICES {
        let port = if s.name == own.name {
            own_port
        } else if let Some(c) = state.service(s.name) {
            c.address.rsplit(':').next().unwrap_or_default().parse()?
        } else if opts.free_ports {
            // Not started yet with free ports: it will get its own port later; callers
            // also find it through Consul. (Consequence: with `--free-ports`, a service
            // started earlier never learns the static address of one started later —
            // discovery is its only way there, which is what Day 35 is about.)
            continue;
        } else {
            s.port
        };
        // `http://` because tonic endpoints are URIs: a bare `host:port` fails to parse
        // as one. `http` means h2c (HTTP/2 without TLS), fine on loopback only.
        env.push((var(s), format!("http://127.0.0.1:{port}")));
    }
    Ok(env)
}

/// Starts one service and waits until its health check passes.
///
/// Waiting on health before starting the next service is what makes start order mean
/// something: order-service is started only once inventory answers SERVING.
///
/// Fails (and leaves nothing running) if the binary is missing, the port is taken, the
/// process dies during start-up, or it is not healthy within 60 s; the caller has saved
/// everything started before, so `down` can clean up after any of these.
pub async fn start(
    dir: &Path,
    bin_dir: &Path,
    spec: &ServiceSpec,
    instance: &str,
    state: &StackState,
    opts: &UpOptions,
) -> anyhow::Result<Component> {
    // Check before spawning: `Command::spawn` on a missing file fails with a bare ENOENT,
    // while this says which binary and how to build it.
    let program = bin_dir.join(spec.binary);
    if !program.is_file() {
        bail!(
            "{} not found in {} — build first (`cargo build --workspace`)",
            spec.binary,
            bin_dir.display()
        );
    }
    let program = program.display().to_string();
    let port = port_for(spec, instance, state, opts)?;
    // Always a free port for metrics: nothing in the course types these by hand; the TUI
    // and `status` read them from `stack.json`.
    let metrics_port = ports::any_free()?;
    // Configuration by environment variables only (no config file written per service):
    // the same binary runs here, in compose.yaml and in tests, and `cat /proc/<pid>/environ`
    // shows exactly what it was given. The names follow platform::config's `BOOKSTORE_`
    // prefix, so the service's figment layering picks them up with no code here.
    let mut env = vec![
        ("BOOKSTORE_PORT".to_string(), port.to_string()),
        ("BOOKSTORE_METRICS_PORT".into(), metrics_port.to_string()),
        ("BOOKSTORE_MYSQL_URL".into(), state.mysql_url()?.to_string()),
        ("BOOKSTORE_REDIS_URL".into(), state.redis_url()?.to_string()),
        ("BOOKSTORE_CONSUL_ADDR".into(), state.consul_addr()?.to_string()),
        // Chosen here, explicitly: a service's own default is `production`, which refuses
        // the built-in JWT secret the lab runs with (see platform's `CommonSettings`).
        ("BOOKSTORE_ENVIRONMENT".into(), "development".into()),
        // A service that fails to start ends with anyhow's error chain, and the supervisor
        // shows the last lines of its log. With an inherited RUST_BACKTRACE=1 those lines
        // would be 30 frames of std internals and the actual error would scroll away.
        ("RUST_LIB_BACKTRACE".into(), "0".into()),
    ];
    // The Consul name with this stack's suffix (see `StackState::consul_suffix`): the
    // name the service registers under must be the one its callers' URLs ask for.
    env.push(("BOOKSTORE_CONSUL_NAME".into(), state.consul_name(spec.binary)));
    env.extend(address_env(state, opts, spec, port)?);
    // Last, so the lab's per-service settings win over anything set above (a later
    // entry of the same name replaces an earlier one in `Command::envs`).
    env.extend(spec.lab_env.iter().chain(CHECK_ENV).map(|(k, v)| (k.to_string(), v.to_string())));
    // Children inherit our whole environment (`Command::envs` adds to it, it does not
    // replace it), so `RUST_LOG=debug bookstore-lab up` gives verbose service logs with no
    // code here. The flip side: any `BOOKSTORE_*` variable in the learner's shell reaches
    // every service too unless overridden here. (With `--free-ports`, an address that
    // `address_env` skips would come from the learner's shell if it is set there.)
    // One log per instance, truncated by `spawn` on every start: after a crash, read
    // `logs/<instance>.log` *before* the next `up`, which restarts the service and
    // overwrites the very lines that say why it died.
    let log = dir.join(format!("logs/{instance}.log"));
    eprintln!("==> starting {}-service ({instance}) on 127.0.0.1:{port}", spec.name);
    let pid = process::spawn(Spawn {
        name: instance,
        program: &program,
        args: vec![],
        env,
        log: &log,
        attached: opts.attached,
        lab_dir: dir,
    })?;
    // Recorded as plain `host:port` (what grpcurl and `status` want); the `http://` form
    // exists only in the environment handed to tonic clients.
    let address = format!("127.0.0.1:{port}");
    // The same wait as for the databases: a real health check, fail fast with the log
    // tail if the process died (a migration error, a bad config), stop it on timeout.
    // 60 s covers a first start that creates its database and runs migrations.
    let name = format!("{}-service", spec.name);
    infra::wait_ready(&name, pid, &log, Duration::from_secs(60), || {
        crate::probe::service_health(spec, &address)
    })
    .await?;
    // With discovery, "ready" also means "findable": the callers started next resolve
    // this service through Consul, and an instance whose first check has not passed yet
    // is invisible to them (their first calls would fail UNAVAILABLE).
    if !state.static_addrs && matches!(spec.health, Health::Grpc(_)) {
        wait_passing(state.consul_addr()?, &state.consul_name(spec.binary), &address, pid, &log)
            .await?;
    }
    // The record is made only now, after both waits: the caller saves it at once, and a
    // failure above has already stopped the process (see `wait_ready`), so no record
    // ever names a service that never became healthy.
    let metrics = Some(format!("127.0.0.1:{metrics_port}"));
    Ok(Component { metrics, ..Component::child(instance, pid, program, address, &log) })
}

/// Waits until Consul lists the instance at `address` as passing (its first health check
/// ran), for at most 20 s — many check intervals.
///
/// Matched by address, not by "any passing entry": when a second `user-service` starts,
/// the first is passing already, and a name-only query would call the new one findable
/// before Consul has checked it once.
async fn wait_passing(
    consul: &str,
    service: &str,
    address: &str,
    pid: u32,
    log: &Path,
) -> anyhow::Result<()> {
    // A 2 s bound per query: a wedged agent fails one attempt, and `wait_ready` retries
    // until its own deadline instead of hanging on one request.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let url = format!("http://{consul}/v1/health/service/{service}?passing=true");
    let name = format!("{service} in consul");
    infra::wait_ready(&name, pid, log, Duration::from_secs(20), || async {
        let entries: Vec<serde_json::Value> =
            http.get(&url).send().await?.error_for_status()?.json().await?;
        // `Service.Address:Service.Port` is what the instance registered itself as; in
        // the lab that is its loopback listener, the same text as the record's address.
        let listed = entries.iter().any(|e| {
            let s = &e["Service"];
            format!("{}:{}", s["Address"].as_str().unwrap_or_default(), s["Port"]) == address
        });
        anyhow::ensure!(listed, "not passing in consul yet");
        Ok(())
    })
    .await
}
