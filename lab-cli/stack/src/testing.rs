//! What integration tests use: the running infrastructure, plus isolation per test.
//!
//! `make test` starts MariaDB, Redis and Consul once (`bookstore-lab up --infra-only`) and
//! runs `cargo test`; every test then finds them here. Isolation is per test, never by
//! running tests one at a time:
//! - a fresh MySQL database with a random name ([`Infra::fresh_database`]);
//! - a random Redis key prefix ([`unique_prefix`]);
//! - servers on port 0.
//!
//! Where the infrastructure comes from, first match wins:
//! 1. `BOOKSTORE_MYSQL_URL`, `BOOKSTORE_REDIS_URL`, `BOOKSTORE_CONSUL_ADDR` (e.g. compose.yaml);
//! 2. the `stack.json` of the nearest `.lab/` directory above the current directory.

use std::path::PathBuf;

use rand::Rng;
use sqlx::{Connection, mysql::MySqlConnection};

use crate::state::StackState;

/// Addresses of the running infrastructure.
#[derive(Clone, Debug, Default)]
pub struct Infra {
    /// MySQL server URL without a database.
    pub mysql_url: String,
    pub redis_url: String,
    /// Consul HTTP address, `127.0.0.1:8500`.
    pub consul_addr: String,
}

/// The nearest `.lab` directory at or above the current directory.
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
pub fn infra() -> Infra {
    try_infra().unwrap_or_else(|e| panic!("{e}"))
}

/// The running infrastructure: from the environment, else from `lab_dir` (or the nearest
/// `.lab/` above the current directory when `None`).
pub fn try_infra_in(lab_dir: Option<&std::path::Path>) -> anyhow::Result<Infra> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(m), Some(r), Some(c)) =
        (var("BOOKSTORE_MYSQL_URL"), var("BOOKSTORE_REDIS_URL"), var("BOOKSTORE_CONSUL_ADDR"))
    {
        return Ok(Infra { mysql_url: m, redis_url: r, consul_addr: c });
    }
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
pub fn unique_name(label: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..10)
        .map(|_| {
            let n = rng.random_range(0..36u8);
            (if n < 10 { b'0' + n } else { b'a' + n - 10 }) as char
        })
        .collect();
    format!("{label}_{suffix}")
}

/// A Redis key prefix unique to one test, e.g. `t_ab12cd34ef:`.
pub fn unique_prefix() -> String {
    format!("{}:", unique_name("t"))
}

impl Infra {
    /// Creates an empty database named `t_<label>_<random>` and returns its name.
    pub async fn fresh_database(&self, label: &str) -> String {
        let name = unique_name(&format!("t_{label}"));
        let mut conn = MySqlConnection::connect(&self.mysql_url)
            .await
            .expect("connect to the test MySQL server");
        sqlx::query(&format!("CREATE DATABASE `{name}`"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        name
    }

    /// `mysql_url` with a database selected.
    pub fn database_url(&self, database: &str) -> String {
        format!("{}/{database}", self.mysql_url.trim_end_matches('/'))
    }
}
