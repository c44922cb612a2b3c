//! MariaDB, Redis and Consul as child processes (or external servers).
//!
//! Each `start_*` either adopts an external server (after checking that it answers) or
//! initialises a private data directory under the stack directory, starts the server on
//! a loopback port and waits until it answers a real query — not merely until the port
//! opens: MariaDB opens its port before InnoDB recovery finishes.

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
pub const DATABASES: [&str; 5] =
    ["user_db", "catalog_db", "inventory_db", "order_db", "payment_db"];

/// Servers given from outside through the environment.
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
        if required && (e.mysql.is_none() || e.redis.is_none() || e.consul.is_none()) {
            bail!(
                "--external needs BOOKSTORE_MYSQL_URL, BOOKSTORE_REDIS_URL and BOOKSTORE_CONSUL_ADDR \
                 (for compose.yaml: mysql://root:bookstore@127.0.0.1:3306, redis://127.0.0.1:6379, 127.0.0.1:8500)"
            );
        }
        Ok(e)
    }
}

fn external(name: &str, address: &str) -> Component {
    Component {
        name: name.into(),
        pid: None,
        program: String::new(),
        address: address.into(),
        metrics: None,
        log: None,
    }
}

/// Finds a program on PATH or in the usual sbin directories (mariadbd lives in /usr/sbin,
/// which is not on a normal user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn require_program(names: &[&str], hint: &str) -> anyhow::Result<PathBuf> {
    names
        .iter()
        .find_map(|n| find_program(n))
        .ok_or_else(|| anyhow::anyhow!("{} not found: {hint}", names.join(" / ")))
}

/// Where `make` puts Consul: `$BOOKSTORE_TOOLS_DIR`, else `~/.cache/bookstore-lab/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BOOKSTORE_TOOLS_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache/bookstore-lab/tools")
}

/// The Consul binary: `$BOOKSTORE_CONSUL_BIN`, the tools folder, or PATH.
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

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Polls `ready` until it succeeds, the child dies, or `timeout` passes.
async fn wait_ready<F, Fut>(
    name: &str,
    pid: u32,
    log: &Path,
    timeout: Duration,
    mut ready: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match ready().await {
            Ok(()) => return Ok(()),
            Err(e) => {
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
pub async fn mysql_version(url: &str) -> anyhow::Result<String> {
    let mut conn = MySqlConnection::connect(url).await?;
    let (v,): (String,) = sqlx::query_as("SELECT VERSION()").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(v)
}

/// `redis_version` from `INFO server`.
pub async fn redis_version(url: &str) -> anyhow::Result<String> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| anyhow::anyhow!("INFO server has no redis_version"))
}

/// The agent's version from `/v1/agent/self`, once it has a leader.
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
    let me: serde_json::Value =
        http.get(format!("http://{addr}/v1/agent/self")).send().await?.json().await?;
    Ok(me["Config"]["Version"].as_str().unwrap_or_default().to_string())
}

/// MariaDB (or MySQL) in `dir/mysql`, initialised on first use.
pub async fn start_mysql(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
) -> anyhow::Result<Component> {
    if let Some(url) = external_url {
        let v = mysql_version(url).await.with_context(|| "external MySQL does not answer")?;
        eprintln!("==> using external MySQL {v}");
        return Ok(external("mysql", url));
    }
    let hint =
        "install mariadb-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let mysqld = require_program(&["mariadbd", "mysqld"], hint)?;
    let data = dir.join("mysql/data");
    let log = dir.join("logs/mysql.log");
    std::fs::create_dir_all(dir.join("logs"))?;
    let user_args: Vec<String> = if is_root() { vec!["--user=root".into()] } else { vec![] };

    if !data.join("mysql").is_dir() {
        eprintln!("==> initialising MariaDB data directory {}", data.display());
        std::fs::create_dir_all(&data)?;
        let install = require_program(&["mariadb-install-db", "mysql_install_db"], hint)?;
        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            // root with an empty password over TCP from loopback: a lab, not production.
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .args(&user_args)
            .output()
            .with_context(|| format!("cannot run {}", install.display()))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&data);
            bail!(
                "mariadb-install-db failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let port = ports::pick(3306)?;
    let program = mysqld.display().to_string();
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", data.display()),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--socket={}", dir.join("mysql/mysqld.sock").display()),
        format!("--pid-file={}", dir.join("mysql/mysqld.pid").display()),
        "--max-connections=1000".into(),
        "--innodb-buffer-pool-size=256M".into(),
        // The lab trades a second of durability on an OS crash for throughput: a learner's
        // laptop, not a bank. Production keeps the default (1 = flush at every commit).
        "--innodb-flush-log-at-trx-commit=2".into(),
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_unicode_ci".into(),
    ];
    args.extend(user_args);
    eprintln!("==> starting MariaDB on 127.0.0.1:{port}");
    let pid = process::spawn(Spawn {
        name: "mysql",
        program: &program,
        args,
        env: vec![],
        log: &log,
        attached,
        lab_dir: dir,
    })?;
    let url = format!("mysql://root@127.0.0.1:{port}");
    wait_ready("MariaDB", pid, &log, Duration::from_secs(90), || async {
        mysql_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component {
        name: "mysql".into(),
        pid: Some(pid),
        program,
        address: url,
        metrics: None,
        log: Some(log.display().to_string()),
    })
}

/// Redis in `dir/redis`, with an append-only file so a restart keeps the stock counters.
pub async fn start_redis(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
) -> anyhow::Result<Component> {
    if let Some(url) = external_url {
        let v = redis_version(url).await.with_context(|| "external Redis does not answer")?;
        eprintln!("==> using external Redis {v}");
        return Ok(external("redis", url));
    }
    let hint =
        "install redis-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let program = require_program(&["redis-server"], hint)?.display().to_string();
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let log = dir.join("logs/redis.log");
    let port = ports::pick(6379)?;
    eprintln!("==> starting Redis on 127.0.0.1:{port}");
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        &data.display().to_string(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
    ]
    .map(String::from)
    .to_vec();
    let pid = process::spawn(Spawn {
        name: "redis",
        program: &program,
        args,
        env: vec![],
        log: &log,
        attached,
        lab_dir: dir,
    })?;
    let url = format!("redis://127.0.0.1:{port}");
    wait_ready("Redis", pid, &log, Duration::from_secs(30), || async {
        redis_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component {
        name: "redis".into(),
        pid: Some(pid),
        program,
        address: url,
        metrics: None,
        log: Some(log.display().to_string()),
    })
}

/// A single-node Consul agent in dev mode (in-memory, its own server and leader).
pub async fn start_consul(
    dir: &Path,
    external_addr: Option<&str>,
    attached: bool,
) -> anyhow::Result<Component> {
    if let Some(addr) = external_addr {
        let addr = addr.trim_start_matches("http://").trim_end_matches('/');
        let v = consul_version(addr).await.with_context(|| "external Consul does not answer")?;
        eprintln!("==> using external Consul {v}");
        return Ok(external("consul", addr));
    }
    let program = consul_program()?.display().to_string();
    let log = dir.join("logs/consul.log");
    let http = ports::pick(8500)?;
    let (lan, wan, server) = (ports::any_free()?, ports::any_free()?, ports::any_free()?);
    eprintln!("==> starting Consul on 127.0.0.1:{http}");
    let args = vec![
        "agent".to_string(),
        "-dev".into(),
        "-node=bookstore-lab".into(),
        "-bind=127.0.0.1".into(),
        "-client=127.0.0.1".into(),
        format!("-http-port={http}"),
        "-dns-port=-1".into(),
        "-grpc-port=-1".into(),
        "-grpc-tls-port=-1".into(),
        format!("-serf-lan-port={lan}"),
        format!("-serf-wan-port={wan}"),
        format!("-server-port={server}"),
        "-log-level=warn".into(),
    ];
    let pid = process::spawn(Spawn {
        name: "consul",
        program: &program,
        args,
        env: vec![],
        log: &log,
        attached,
        lab_dir: dir,
    })?;
    let addr = format!("127.0.0.1:{http}");
    wait_ready("Consul", pid, &log, Duration::from_secs(60), || async {
        consul_version(&addr).await.map(drop)
    })
    .await?;
    Ok(Component {
        name: "consul".into(),
        pid: Some(pid),
        program,
        address: addr,
        metrics: None,
        log: Some(log.display().to_string()),
    })
}

/// Creates the five service databases if missing.
pub async fn create_databases(mysql_url: &str) -> anyhow::Result<()> {
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
