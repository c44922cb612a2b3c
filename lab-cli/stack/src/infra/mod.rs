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
//!
//! | module | its one job |
//! |---|---|
//! | `mysql` | MariaDB: initialise the data directory, start, `SELECT VERSION()`, create the databases |
//! | `redis` | Redis with an append-only file: start, ready once `loading:0` |
//! | `cluster` | a throw-away 3-node Redis Cluster for tests (never part of `up`) |
//! | `consul` | a dev-mode Consul agent: find the binary, start, ready once it has a leader |
//! | `launch` | what the three share: finding a program, spawning it with a log, waiting until ready |
//! | [`External`] (here) | servers given from outside through the environment |

mod cluster;
mod consul;
mod launch;
mod mysql;
mod redis;

use anyhow::bail;

pub use self::cluster::{RedisCluster, start_redis_cluster};
pub use self::consul::{consul_program, consul_version, start_consul, tools_dir};
pub use self::launch::find_program;
pub(crate) use self::launch::wait_ready;
pub use self::mysql::{DATABASES, create_databases, mysql_version, start_mysql};
pub use self::redis::{redis_version, start_redis};

/// Servers given from outside through the environment.
///
/// Any subset may be given without `--external`: a learner with a system Redis already on
/// 6379 can point the lab at it and let the supervisor start only MariaDB and Consul.
#[derive(Clone, Debug, Default)]
pub struct External {
    /// A server URL without a database (`mysql://root:bookstore@127.0.0.1:3306`).
    pub mysql: Option<String>,
    /// `redis://host:port`.
    pub redis: Option<String>,
    /// The agent's HTTP address, with or without `http://`.
    pub consul: Option<String>,
}

impl External {
    /// Reads `BOOKSTORE_MYSQL_URL`, `BOOKSTORE_REDIS_URL`, `BOOKSTORE_CONSUL_ADDR`.
    /// With `required` (`--external`) all three must be set.
    pub fn from_env(required: bool) -> anyhow::Result<Self> {
        // An empty value counts as unset: `BOOKSTORE_REDIS_URL= bookstore-lab up` is how a
        // shell unsets a variable for one command, and an empty URL would only fail later
        // with a less helpful parse error.
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
