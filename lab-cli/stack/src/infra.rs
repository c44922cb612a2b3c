//! MariaDB, Redis and Consul as child processes (or external servers).
//!
//! Each `start_*` either adopts an external server (after checking that it answers) or
//! initialises a private data directory under the stack directory, starts the server on
//! a loopback port and waits until it answers a real query — not merely until the port
//! opens: MariaDB opens its port before InnoDB recovery finishes.
//!
//! The servers are configured for a learner's laptop: loopback only, no passwords, small
//! memory, relaxed durability where the lesson does not depend on it. Every such choice is
//! commented where it is made, with what production would do instead — a learner who
//! copies these flags to a server should find out from the comment, not from an incident.
//!
//! What it is NOT: a way to run these servers in production, or to manage their versions.
//! It starts whatever `mariadbd`, `redis-server` and `consul` the machine has (the
//! `infra.rs` tests check the versions the course needs).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use sqlx::{Connection, mysql::MySqlConnection};

use crate::{
    ports,
    process::{self, Spawn},
    state::Component,
};

/// The five service databases (DESIGN.md §2). Services also create their own if missing;
/// creating them here lets a learner `USE order_db` before order-service first starts.
/// One database per service, on one server: the lab's compromise. The boundary that
/// matters — no service reads another's tables — is kept; production would usually also
/// give each service its own server (or at least its own user with grants on one db).
pub const DATABASES: [&str; 5] =
    ["user_db", "catalog_db", "inventory_db", "order_db", "payment_db"];

/// Servers given from outside through the environment.
///
/// Any subset may be given without `--external`: a learner with a system Redis already on
/// 6379 can point the lab at it and let the supervisor start only MariaDB and Consul.
#[derive(Clone, Debug, Default)]
pub struct External {
    pub mysql: Option<String>,
    pub redis: Option<String>,
    pub consul: Option<String>,
}

impl External {
    /// Reads `BOOKSTORE_MYSQL_URL`, `BOOKSTORE_REDIS_URL`, `BOOKSTORE_CONSUL_ADDR`.
    /// With `required` (`--external`) all three must be set.
    pub fn from_env(required: bool) -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let e = Self {
            mysql: var("BOOKSTORE_MYSQL_URL"),
            redis: var("BOOKSTORE_REDIS_URL"),
            consul: var("BOOKSTORE_CONSUL_ADDR"),
        };
        // The error spells out the compose.yaml values: the learner who typed
        // `--external` is one copy-paste away from a working command.
        if required && (e.mysql.is_none() || e.redis.is_none() || e.consul.is_none()) {
            bail!(
                "--external needs BOOKSTORE_MYSQL_URL, BOOKSTORE_REDIS_URL and BOOKSTORE_CONSUL_ADDR \
                 (for compose.yaml: mysql://root:bookstore@127.0.0.1:3306, redis://127.0.0.1:6379, 127.0.0.1:8500)"
            );
        }
        Ok(e)
    }
}

/// Finds a program on PATH or in the usual sbin directories (mariadbd lives in /usr/sbin,
/// which is not on a normal user's PATH). PATH first, so a learner's own build (or a
/// Homebrew install) wins over the distribution's.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The first of `names` that exists, or an error that says how to install it — the
/// learner's first contact with the lab should end in a command to run, not a bare
/// "No such file or directory (os error 2)".
/// (Several names because distributions differ: MariaDB 10.5+ ships `mariadbd`, older
/// ones and MySQL only `mysqld`.)
fn require_program(names: &[&str], hint: &str) -> anyhow::Result<PathBuf> {
    names
        .iter()
        .find_map(|n| find_program(n))
        .ok_or_else(|| anyhow::anyhow!("{} not found: {hint}", names.join(" / ")))
}

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

/// mariadbd refuses to run as root unless told `--user=root` (a guard against a server
/// owning root's files by accident). CI containers run as root; a laptop usually does not.
fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// The last 15 lines of a child's log: when a server fails to start, the reason is almost
/// always in its last lines (a port in use, a bad flag, a data directory it cannot read),
/// so we print them with our error rather than asking the learner to go and look.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Spawns one of the three servers: no extra environment (they take everything as flags,
/// which shows up in `ps` for the learner to read), log under `logs/`.
fn spawn_server(
    dir: &Path,
    name: &str,
    program: &str,
    args: Vec<String>,
    log: &Path,
    attached: bool,
) -> anyhow::Result<u32> {
    process::spawn(Spawn { name, program, args, env: vec![], log, attached, lab_dir: dir })
}

/// Polls `ready` until it succeeds, the child dies, or `timeout` passes.
///
/// Three outcomes, three different messages — the distinction is what lets a learner fix it:
/// - ready: the server answered a real query (the `ready` closure), not just a TCP connect;
/// - the child died: it will never become ready, so fail *now* with its log tail instead of
///   waiting out the timeout;
/// - timeout: it runs but does not answer — stop it (so no half-started server is left
///   holding the port) and fail with the last error seen.
///
/// A fixed 100 ms poll is fine for a start-up that takes 0.2–10 s. Backoff (growing
/// delays) pays off when many clients poll one server; here there is one poller.
pub(crate) async fn wait_ready<F, Fut>(
    name: &str,
    pid: u32,
    log: &Path,
    timeout: Duration,
    mut ready: F,
) -> anyhow::Result<()>
// Why `ready` is a closure returning a future, not a future: a Rust future runs once to
// completion and cannot be polled again after it finished, while every attempt needs a
// fresh query (a fresh connection, too). `FnMut() -> Fut` is "a recipe for an attempt".
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match ready().await {
            Ok(()) => return Ok(()),
            Err(e) => {
                // `alive`, not `is_ours`: right after spawn the pid is certainly ours, and
                // during exec its command line is briefly still the supervisor's.
                if !process::alive(pid) {
                    bail!(
                        "{name} exited during start-up; its log ({}):\n{}",
                        log.display(),
                        log_tail(log)
                    );
                }
                if Instant::now() > deadline {
                    process::terminate(pid, Duration::from_secs(5)).await;
                    bail!(
                        "{name} did not become ready in {timeout:?}: {e}\nlog ({}):\n{}",
                        log.display(),
                        log_tail(log)
                    );
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `SELECT VERSION()` on a MySQL server URL.
///
/// One plain connection, not a pool: this is a one-off question (readiness, `status`), and
/// a pool would keep idle connections open against a server we may be about to stop.
/// The explicit `close` sends COM_QUIT, so the server does not log an aborted connection.
pub async fn mysql_version(url: &str) -> anyhow::Result<String> {
    let mut conn = MySqlConnection::connect(url).await?;
    let (v,): (String,) = sqlx::query_as("SELECT VERSION()").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(v)
}

/// `redis_version` from `INFO server`, once Redis has finished loading its data set.
///
/// Why `loading:0` and not merely "answers": Redis answers `INFO` while it is still
/// replaying its append-only file, but PING and every command on data get `-LOADING
/// Redis is loading the dataset in memory` until the replay ends. A lab-sized AOF replays
/// in milliseconds; after a few benches it held 41 MB and took seconds — long enough for
/// the supervisor to call Redis ready, start catalog-service, and watch it exit on
/// `BusyLoadingError`. ✅ DO ask the question a client's first real command asks;
/// ❌ DON'T treat "the server answers" as "the server serves".
pub async fn redis_version(url: &str) -> anyhow::Result<String> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // Two sections, two round trips: `INFO server persistence` in one call needs Redis 7,
    // and `compose.yaml` users may point the lab at a Redis 6.
    let persistence: String = redis::cmd("INFO").arg("persistence").query_async(&mut conn).await?;
    anyhow::ensure!(
        !persistence.lines().any(|l| l.trim() == "loading:1"),
        "Redis is still loading its data set into memory (INFO persistence: loading:1)"
    );
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| anyhow::anyhow!("INFO server has no redis_version"))
}

/// The agent's version from `/v1/agent/self`, once it has a leader.
///
/// Why wait for a leader: a Consul agent answers HTTP before its Raft cluster (here, one
/// node) has elected a leader, and until then every catalog write — a service registering
/// itself — fails with "No cluster leader". Starting services against a leaderless Consul
/// makes their first registration fail at random.
pub async fn consul_version(addr: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
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

/// MariaDB (or MySQL) in `dir/mysql`, initialised on first use.
///
/// The data directory survives `down`: the second `up` skips initialisation and starts in
/// a second or two, and the learner's experiments (orders, stock) are still there.
///
/// `port`: the port to prefer — the one a previous run recorded when `up` restarts a
/// MariaDB that died, so services still running keep a valid `BOOKSTORE_MYSQL_URL`;
/// `None` for the course's 3306. (The same parameter on Redis and Consul below.)
pub async fn start_mysql(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
    port: Option<u16>,
) -> anyhow::Result<Component> {
    if let Some(url) = external_url {
        // Adopting an external server still checks it answers: failing here, with the
        // URL's server named, beats six services failing later with pool timeouts.
        let v = mysql_version(url).await.with_context(|| "external MySQL does not answer")?;
        eprintln!("==> using external MySQL {v}");
        return Ok(Component::external("mysql", url));
    }
    let hint =
        "install mariadb-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let mysqld = require_program(&["mariadbd", "mysqld"], hint)?;
    let data = dir.join("mysql/data");
    let log = dir.join("logs/mysql.log");
    std::fs::create_dir_all(dir.join("logs"))?;
    // Both install-db and mariadbd need the flag when run as root (see `is_root`).
    let user_args: Vec<String> = if is_root() { vec!["--user=root".into()] } else { vec![] };

    // `data/mysql` (the system schema) exists only after a successful initialisation. If a
    // previous one failed we removed the half-made directory below, so this test is safe.
    if !data.join("mysql").is_dir() {
        eprintln!("==> initialising MariaDB data directory {}", data.display());
        std::fs::create_dir_all(&data)?;
        let install = require_program(&["mariadb-install-db", "mysql_install_db"], hint)?;
        let out = Command::new(&install)
            // `--no-defaults`: ignore /etc/mysql/my.cnf. A system config written for the
            // distribution's own server (its socket, its datadir, its user) would otherwise
            // leak into our private instance. Same flag on `mariadbd` below.
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            // root with an empty password over TCP from loopback: a lab, not production.
            // (The default, `socket`, lets root in only as the OS user root over the Unix
            // socket — our services connect over TCP, as they would to a remote server.)
            // ❌ DON'T do this on a server reachable from anywhere but loopback.
            .arg("--auth-root-authentication-method=normal")
            // No `test` database open to every user: nothing in the course uses it.
            .arg("--skip-test-db")
            .args(&user_args)
            .output()
            .with_context(|| format!("cannot run {}", install.display()))?;
        if !out.status.success() {
            // Remove the half-initialised directory, so the next `up` tries again from
            // scratch instead of starting mariadbd on a broken system schema.
            let _ = std::fs::remove_dir_all(&data);
            bail!(
                "mariadb-install-db failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // 3306 if free, so `mariadb -h127.0.0.1 -uroot` works with no `-P`; any port if a
    // system MariaDB already has it (the chosen URL is in `bookstore-lab env`).
    let port = ports::pick(port.unwrap_or(3306))?;
    let tmp = dir.join("mysql/tmp");
    std::fs::create_dir_all(&tmp)?;
    let program = mysqld.display().to_string();
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", data.display()),
        format!("--port={port}"),
        // Loopback only: root has no password (see install above). See `ports` for why.
        "--bind-address=127.0.0.1".into(),
        // Socket and pid file inside our directory: the defaults (/run/mysqld/…) belong to
        // the system server, may be unwritable, and two labs would fight over them.
        format!("--socket={}", dir.join("mysql/mysqld.sock").display()),
        format!("--pid-file={}", dir.join("mysql/mysqld.pid").display()),
        // Temporary tables (a large ORDER BY, a COUNT over a join) spill into tmpdir, /tmp by
        // default. On a shared machine /tmp is cleaned by other tools while the server runs,
        // and a temp file deleted under it fails the query ("Error on delete of
        // '/tmp/#sql-temptable-…'", seen in this lab): keep it private, like the socket.
        format!("--tmpdir={}", tmp.display()),
        // Day 30's race experiments run hundreds of concurrent transactions, and every
        // service holds its own pool; the default (151) would turn the lesson on row locks
        // into a lesson on "Too many connections". Each connection costs memory, so
        // production sizes this from pools × instances, not "as high as possible".
        "--max-connections=1000".into(),
        // The default 128M is fine; 256M keeps the whole lab's data in memory, so
        // latencies measure locking, not disk reads. Production: ~70 % of a dedicated host.
        "--innodb-buffer-pool-size=256M".into(),
        // The lab trades a second of durability on an OS crash for throughput: a learner's
        // laptop, not a bank. Production keeps the default (1 = flush at every commit).
        // With 2 the redo log is written to the OS at each commit but fsynced once a
        // second: a crash of mariadbd alone loses nothing, a power cut loses up to ~1 s.
        // ⚠ This changes absolute TPS figures (commits no longer wait for the disk) but not
        // the lesson: naive vs `FOR UPDATE` vs Lua are compared on the same server, and
        // the oversell counts come from locking, which this flag does not touch.
        "--innodb-flush-log-at-trx-commit=2".into(),
        // utf8mb4, not MySQL's legacy `utf8` (= utf8mb3, at most 3 bytes per character):
        // book titles and user names with emoji or rare CJK characters need 4 bytes, and
        // utf8mb3 rejects or mangles them. `_unicode_ci` compares case-insensitively.
        // ✅ DO set it on the server *and* on each database; ❌ DON'T rely on the
        // distribution's default, which differs between MariaDB and MySQL versions.
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_unicode_ci".into(),
    ];
    args.extend(user_args);
    eprintln!("==> starting MariaDB on 127.0.0.1:{port}");
    let pid = spawn_server(dir, "mysql", &program, args, &log, attached)?;
    // 90 s: the first start after an unclean stop runs InnoDB crash recovery, which on a
    // slow laptop disk can take far longer than a clean start's second or two.
    let url = format!("mysql://root@127.0.0.1:{port}");
    wait_ready("MariaDB", pid, &log, Duration::from_secs(90), || async {
        mysql_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component::child("mysql", pid, program, url, &log))
}

/// Redis in `dir/redis`, with an append-only file so a restart keeps the stock counters.
///
/// Why persistence matters for this course: the Day 30 Lua path keeps the *authoritative*
/// stock counter in Redis (`DECRBY` only if enough is left). If Redis restarted empty,
/// the counter would be gone while MySQL's orders remain — and the invariant "sold +
/// left = initial stock" that the lab checks would break for reasons that have nothing to
/// do with the race being taught.
pub async fn start_redis(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
    port: Option<u16>,
) -> anyhow::Result<Component> {
    if let Some(url) = external_url {
        let v = redis_version(url).await.with_context(|| "external Redis does not answer")?;
        eprintln!("==> using external Redis {v}");
        return Ok(Component::external("redis", url));
    }
    let hint =
        "install redis-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let program = require_program(&["redis-server"], hint)?.display().to_string();
    // The AOF lives here (Redis writes into `--dir`), so it survives `down` like MariaDB's
    // data directory: stock counters are still there after the next `up`.
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let log = dir.join("logs/redis.log");
    let port = ports::pick(port.unwrap_or(6379))?;
    eprintln!("==> starting Redis on 127.0.0.1:{port}");
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        &data.display().to_string(),
        // AOF: every write command is appended to a log that is replayed on start.
        "--appendonly",
        "yes",
        // fsync once a second: at most ~1 s of writes lost on a power cut, with almost no
        // cost per command. `always` fsyncs each write (safest, slowest — it would
        // dominate the latency the lab measures); `no` leaves it to the OS (~30 s).
        // Same trade-off as MariaDB's flush-log-at-trx-commit=2 above, deliberately.
        "--appendfsync",
        "everysec",
        // No RDB snapshots on top: the AOF already persists everything, and a fork for a
        // snapshot in the middle of a load test would show up as a latency spike.
        "--save",
        "",
        // Keep the AOF bounded: rewrite it (in a forked child, in the background) once it
        // has doubled since the last rewrite *and* is over 16 MB. The AOF logs every write,
        // so benches that overwrite the same stock counters a million times grow it
        // without bound while the data stays small; a rewrite replaces the log with one
        // snapshot of the data. Redis's default floor is 64 MB — after a few benches the
        // lab's AOF sat at 41 MB of commands, replayed one by one on every start.
        "--auto-aof-rewrite-percentage",
        "100",
        "--auto-aof-rewrite-min-size",
        "16mb",
        // The rewritten base is an RDB snapshot (the Redis 7 default, spelled out): it
        // loads several times faster than replaying the same data as commands.
        "--aof-use-rdb-preamble",
        "yes",
        // Protected mode refuses non-loopback clients when no password is set. With
        // `--bind 127.0.0.1` only local clients can connect anyway, so it adds nothing
        // here; it is spelled out so the choice is visible.
        // ❌ DON'T copy this to a server with a public interface and no `requirepass`.
        "--protected-mode",
        "no",
        // Stay in the foreground: the pid we spawned must be the server's pid, or
        // `stop` would signal a parent that already exited while the daemon runs on.
        "--daemonize",
        "no",
    ]
    .map(String::from)
    .to_vec();
    let pid = spawn_server(dir, "redis", &program, args, &log, attached)?;
    // 120 s: Redis starts in milliseconds; only replaying a large AOF takes longer — about
    // a second per few hundred MB from an RDB preamble, far longer from plain commands.
    // Timing out here would stop a Redis that is merely busy and leave the lab unusable.
    let url = format!("redis://127.0.0.1:{port}");
    wait_ready("Redis", pid, &log, Duration::from_secs(120), || async {
        redis_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component::child("redis", pid, program, url, &log))
}

/// A single-node Consul agent in dev mode (in-memory, its own server and leader).
///
/// Why `-dev`: it is a server and a client in one process, elects itself leader in about a
/// second, and keeps the catalog in memory. For a lab that is exactly right — nothing to
/// bootstrap, and every `up` starts with a clean registry (no stale instances from
/// yesterday). Production runs 3 or 5 servers for a Raft quorum, with ACLs and TLS; a
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
        let v = consul_version(addr).await.with_context(|| "external Consul does not answer")?;
        eprintln!("==> using external Consul {v}");
        return Ok(Component::external("consul", addr));
    }
    let program = consul_program()?.display().to_string();
    let log = dir.join("logs/consul.log");
    // 8500 if free, so the Consul UI is at the address the Day 35 lesson gives
    // (http://127.0.0.1:8500/ui) and the `consul` CLI works without CONSUL_HTTP_ADDR.
    let http = ports::pick(port.unwrap_or(8500))?;
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

/// Creates the five service databases if missing.
///
/// Why `format!` and not a bind parameter (`?`): placeholders bind *values* in a prepared
/// statement; identifiers (database, table, column names) are part of the statement's
/// structure and cannot be parameters — `CREATE DATABASE ?` is a syntax error. Splicing a
/// name into SQL is safe only because these names are our own constants. ✅ DO keep
/// identifiers in a fixed allow-list (here [`DATABASES`]) and backtick-quote them;
/// ❌ DON'T splice anything a user typed into SQL text.
pub async fn create_databases(mysql_url: &str) -> anyhow::Result<()> {
    // Database-level charset too: tables inherit it, so a migration that forgets
    // `CHARSET=utf8mb4` still gets it (and an external MySQL's own default cannot leak in).
    let mut conn = MySqlConnection::connect(mysql_url).await?;
    for db in DATABASES {
        sqlx::query(&format!(
            "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .execute(&mut conn)
        .await?;
    }
    conn.close().await?;
    Ok(())
}
