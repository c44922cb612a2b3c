//! `stack.json`: what runs where. Written after every step of `up`, so even a run killed
//! half-way leaves an accurate record for the next `up`/`down` to clean up.

use std::path::Path;

use serde::{Deserialize, Serialize};

const FILE: &str = "stack.json";

/// One running (or external) component.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    /// `mysql`, `redis`, `consul`, or a service name such as `inventory`.
    pub name: String,
    /// Our child's pid; `None` for an external server we did not start.
    pub pid: Option<u32>,
    /// The executable we started, used to make sure a recorded pid is still ours.
    pub program: String,
    /// How clients reach it: a URL (`mysql://…`, `redis://…`), `host:port`.
    pub address: String,
    /// For services: the Prometheus metrics address.
    #[serde(default)]
    pub metrics: Option<String>,
    /// The log file of a child we started.
    #[serde(default)]
    pub log: Option<String>,
}

/// The whole stack as recorded.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StackState {
    #[serde(default)]
    pub lab_dir: String,
    pub mysql: Option<Component>,
    pub redis: Option<Component>,
    pub consul: Option<Component>,
    #[serde(default)]
    pub services: Vec<Component>,
}

impl StackState {
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(text) => Ok(Some(serde_json::from_str(&text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Atomic save: write a temp file, then rename, so a reader never sees half a file.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(tmp, dir.join(FILE))?;
        Ok(())
    }

    pub fn remove(dir: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(dir.join(FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.mysql.is_none()
            && self.redis.is_none()
            && self.consul.is_none()
            && self.services.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = &Component> {
        [&self.mysql, &self.redis, &self.consul].into_iter().flatten().chain(self.services.iter())
    }

    pub fn service(&self, name: &str) -> Option<&Component> {
        self.services.iter().find(|c| c.name == name)
    }

    pub fn mysql_url(&self) -> anyhow::Result<&str> {
        self.mysql
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("MariaDB is not running (try `bookstore-lab up`)"))
    }

    pub fn redis_url(&self) -> anyhow::Result<&str> {
        self.redis
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("Redis is not running (try `bookstore-lab up`)"))
    }

    pub fn consul_addr(&self) -> anyhow::Result<&str> {
        self.consul
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("Consul is not running (try `bookstore-lab up`)"))
    }
}
