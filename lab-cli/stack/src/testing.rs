//! What integration tests use: the running infrastructure, plus isolation per test.
//!
//! `make test` (`scripts/test.sh`) starts MariaDB, Redis and Consul once in a stack
//! directory of its own, `.lab-test` (`bookstore-lab --dir .lab-test up --infra-only`),
//! exports their addresses with `bookstore-lab env`, and runs `cargo test`; every test then
//! finds them here, through the first rule below. Isolation is per test, never by
//! running tests one at a time:
//! - a fresh MySQL database with a random name ([`Infra::fresh_database`]);
//! - a random Redis key prefix ([`unique_prefix`]);
//! - servers on port 0.
//!
//! Where the infrastructure comes from, first match wins:
//! 1. `BOOKSTORE_MYSQL_URL`, `BOOKSTORE_REDIS_URL`, `BOOKSTORE_CONSUL_ADDR` (e.g. compose.yaml);
//! 2. the `stack.json` of the nearest `.lab/` directory above the current directory.
//!
//! Why real servers and not mocks or an in-memory SQLite: the lessons are *about* MariaDB's
//! row locks, Redis's single-threaded Lua and Consul's health checks. A mock of a database
//! passes a test of `SELECT … FOR UPDATE` whether or not the lock works; SQLite has no
//! `FOR UPDATE` at all. ✅ DO test storage code against the engine it runs on;
//! ❌ DON'T let a fake decide whether a concurrency bug exists.
//!
//! Why isolation by name and not by running tests serially (`--test-threads=1`): cargo
//! runs tests in parallel on 2 cores, and serial runs would make the suite several times
//! slower. Random names give every test its own world on the shared servers, and they
//! also make tests independent of leftovers from an earlier, crashed run.
//!
//! What it is NOT: a cleanup service. Test databases and keys are left behind (cheap,
//! and handy for looking at what a failed test stored). They outlive the run, too:
//! `make test` stops its servers with `down`, which keeps the data directories, so the
//! next run starts fresh processes on the same data; `make clean-lab` deletes
//! `.lab-test` and everything in it.

use std::path::PathBuf;

use rand::Rng;
use sqlx::{Connection, mysql::MySqlConnection};

use crate::state::StackState;

/// Addresses of the running infrastructure — only addresses: each test opens its own
/// connections, so one test's broken connection cannot poison another's.
#[derive(Clone, Debug, Default)]
pub struct Infra {
    /// MySQL server URL without a database.
    pub mysql_url: String,
    /// `redis://host:port`; tests isolate themselves by key prefix, not by DB number
    /// (Redis Cluster has only DB 0, and the services' keys are written cluster-safe).
    pub redis_url: String,
    /// Consul HTTP address, `127.0.0.1:8500`.
    pub consul_addr: String,
}

/// The nearest `.lab` directory at or above the current directory (with a `stack.json`).
/// Walking up is needed because cargo runs each test binary with the *crate's* directory
/// as the working directory (`services/inventory/`), while `.lab/` is at the workspace root.
pub fn find_lab_dir() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let candidate = dir.join(".lab");
        if candidate.join("stack.json").is_file() {
            return Some(candidate);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The running infrastructure, or a panic that says how to start it (for tests).
/// A panic, not a skipped test: a suite that silently skips its database tests when the
/// database is missing reports green while testing nothing.
/// Called at the top of every integration test; cheap (env vars or one small file read).
pub fn infra() -> Infra {
    try_infra().unwrap_or_else(|e| panic!("{e}"))
}

/// The running infrastructure: from the environment, else from `lab_dir` (or the nearest
/// `.lab/` above the current directory when `None`).
/// A `Result` for callers that can do without (the TUI shows a hint instead); tests use
/// [`infra`]. It reads addresses only and does not probe them: a dead server shows up
/// as the first test's connection error, which names the address.
pub fn try_infra_in(lab_dir: Option<&std::path::Path>) -> anyhow::Result<Infra> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // All three or none: mixing an env-var MySQL with a `stack.json` Redis from a
    // different stack would be a configuration nobody meant.
    if let (Some(m), Some(r), Some(c)) =
        (var("BOOKSTORE_MYSQL_URL"), var("BOOKSTORE_REDIS_URL"), var("BOOKSTORE_CONSUL_ADDR"))
    {
        return Ok(Infra { mysql_url: m, redis_url: r, consul_addr: c });
    }
    // A `stack.json` without all three infra entries (a half-finished `up`) is treated
    // as no stack: better "run `make test`" now than a connection error in every test.
    let dir = lab_dir.map(std::path::Path::to_path_buf).or_else(find_lab_dir);
    let state = dir
        .and_then(|d| StackState::load(&d).ok().flatten())
        .filter(|s| s.mysql.is_some() && s.redis.is_some() && s.consul.is_some());
    let Some(state) = state else {
        anyhow::bail!(
            "no running infrastructure: run the suite with `make test`, or start it with \
             `bookstore-lab up` (or set BOOKSTORE_MYSQL_URL, BOOKSTORE_REDIS_URL and \
             BOOKSTORE_CONSUL_ADDR)"
        )
    };
    Ok(Infra {
        mysql_url: state.mysql_url()?.to_string(),
        redis_url: state.redis_url()?.to_string(),
        consul_addr: state.consul_addr()?.to_string(),
    })
}

/// [`try_infra_in`] with the default lookup.
pub fn try_infra() -> anyhow::Result<Infra> {
    try_infra_in(None)
}

/// `label` + 10 random lowercase letters/digits: a database name or key prefix no other
/// test (or earlier run) uses.
///
/// 36^10 ≈ 3.6·10^15 names: collisions are not a practical concern. Lowercase only,
/// because MariaDB database names map to directory names and are case-sensitive on Linux
/// but not on macOS — a lowercase name behaves the same everywhere. Keep `label` short:
/// database names are limited to 64 characters.
pub fn unique_name(label: &str) -> String {
    // Hand-rolled instead of a UUID: 10 lowercase characters keep names short enough to
    // read in `SHOW DATABASES` and to type into `USE …` when inspecting a failed test,
    // and `rand` is already a dependency. (`rng()` is a thread-local generator seeded
    // from the OS, so parallel test threads do not share or repeat a sequence.)
    let mut rng = rand::rng();
    let suffix: String = (0..10)
        .map(|_| {
            let n = rng.random_range(0..36u8);
            (if n < 10 { b'0' + n } else { b'a' + n - 10 }) as char
        })
        .collect();
    format!("{label}_{suffix}")
}

/// A Redis key prefix unique to one test, e.g. `t_ab12cd34ef:`. Services take the prefix
/// from their settings and put it before every key, so a test's keys never meet another
/// test's — the Redis equivalent of [`Infra::fresh_database`].
pub fn unique_prefix() -> String {
    format!("{}:", unique_name("t"))
}

impl Infra {
    /// Creates an empty database named `t_<label>_<random>` and returns its name.
    ///
    /// Empty on purpose: the service under test runs its own migrations on connect, so
    /// every test also checks that the migrations apply to a blank database — the state a
    /// new learner's machine is in. The name is spliced into SQL with `format!` because an
    /// identifier cannot be a bind parameter; it is safe since we generated it ourselves.
    /// `expect` instead of `Result`: this is test set-up, and a panic with a message is
    /// the most useful failure a test can have here.
    pub async fn fresh_database(&self, label: &str) -> String {
        let name = unique_name(&format!("t_{label}"));
        let mut conn = MySqlConnection::connect(&self.mysql_url)
            .await
            .expect("connect to the test MySQL server");
        // No `IF NOT EXISTS`: a name that exists already (a collision, or a broken
        // `unique_name`) must fail here, loudly, rather than let two tests share a database.
        sqlx::query(&format!("CREATE DATABASE `{name}`"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        name
    }

    /// `mysql_url` with a database selected: the URL a service under test is given.
    /// (`trim_end_matches('/')`: the server URL may or may not end in a slash, and a
    /// doubled slash would garble the database part of the URL.)
    pub fn database_url(&self, database: &str) -> String {
        format!("{}/{database}", self.mysql_url.trim_end_matches('/'))
    }
}
