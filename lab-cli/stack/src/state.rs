//! `stack.json`: what runs where. Written after every step of `up`, so even a run killed
//! half-way leaves an accurate record for the next `up`/`down` to clean up.
//!
//! What this module is NOT: a lock or a liveness oracle. The file says what we *started*;
//! whether it still runs is asked of the kernel ([`crate::process::is_ours`]) and whether
//! it is healthy is asked of the server itself ([`crate::probe`]). A record can be stale —
//! the machine rebooted, someone ran `kill -9` — and every reader must treat it as a claim
//! to verify, never as the truth.
//!
//! Why a plain JSON file and not, say, SQLite: a learner can `cat .lab/stack.json` and see
//! pids, ports and log paths, and other tools (`bookstore-lab env`, the TUI, the tests)
//! read it without a schema migration story.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Inside the stack directory; `.lab/` is git-ignored, so pids and ports never get committed.
const FILE: &str = "stack.json";

/// One running (or external) component.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    /// `mysql`, `redis`, `consul`, or a service name such as `inventory`.
    pub name: String,
    /// Our child's pid; `None` for an external server we did not start (and so must never
    /// stop: `down` on a compose-based lab must not kill the learner's Docker MySQL).
    pub pid: Option<u32>,
    /// The executable we started, used to make sure a recorded pid is still ours.
    pub program: String,
    /// How clients reach it: a URL (`mysql://…`, `redis://…`), `host:port`.
    pub address: String,
    // `#[serde(default)]` on the later-added fields: a `stack.json` written by an older
    // build still loads. ✅ DO keep persisted formats readable by the next version;
    // ❌ DON'T make a new field mandatory and strand every learner's running stack.
    /// For services: the Prometheus metrics address.
    #[serde(default)]
    pub metrics: Option<String>,
    /// The log file of a child we started.
    #[serde(default)]
    pub log: Option<String>,
}

impl Component {
    /// A child process we started: it has a pid to stop and a log to read.
    pub fn child(name: &str, pid: u32, program: String, address: String, log: &Path) -> Self {
        let log = Some(log.display().to_string());
        Self { name: name.into(), pid: Some(pid), program, address, metrics: None, log }
    }

    /// A server someone else runs (compose.yaml, a shared cluster): no pid, so `down`
    /// leaves it alone.
    pub fn external(name: &str, address: &str) -> Self {
        let (name, address) = (name.into(), address.into());
        Self { name, pid: None, program: String::new(), address, metrics: None, log: None }
    }
}

/// The whole stack as recorded.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StackState {
    /// The absolute stack directory; children carry it in `BOOKSTORE_LAB_DIR`, which is how
    /// orphans of this stack (and only this stack) are recognised.
    #[serde(default)]
    pub lab_dir: String,
    /// `None` until `up` has started or adopted it; saved the moment it is ready, before
    /// the next component is started.
    pub mysql: Option<Component>,
    pub redis: Option<Component>,
    pub consul: Option<Component>,
    /// In start order; `down` walks it backwards so callers stop before their callees.
    #[serde(default)]
    pub services: Vec<Component>,
    /// The services were given fixed peer addresses (`up --static-addrs`) instead of
    /// Consul URLs.
    #[serde(default)]
    pub static_addrs: bool,
    /// Appended to every Consul service name this stack registers (`user-service-1a2b3c4d`)
    /// when Consul is shared with other stacks (`--external`: the test suite, a team's
    /// agent); empty with the lab's own Consul. Without it, the gateway of one stack would
    /// balance over another stack's user-service — whose database has other users.
    #[serde(default)]
    pub consul_suffix: String,
}

impl StackState {
    /// The recorded state, `None` if there is no `stack.json` (nothing was started here).
    /// A file that exists but does not parse is an error, not "empty": silently treating
    /// it as empty would make `up` start a second stack next to the first.
    pub fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        // A stray `stack.json.tmp` from a save killed mid-write is never read: only the
        // renamed file counts, and the next save overwrites the temp file.
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(text) => Ok(Some(serde_json::from_str(&text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Atomic save: write a temp file, then rename, so a reader never sees half a file.
    ///
    /// Why it matters here: `bookstore-lab status` or the TUI may read `stack.json` while
    /// `up` is writing it, and `up` itself may be killed mid-write (Ctrl-C during a slow
    /// MariaDB start). `rename(2)` within one directory replaces the name in one step: a
    /// reader sees the old file or the new one, never a truncated mix.
    /// ❌ DON'T `std::fs::write` the real file in place: it truncates first, and a crash in
    /// between leaves an empty or half JSON file that the next `load` rejects — losing the
    /// only record of which pids to stop.
    /// (We skip the `fsync` a database would add before the rename: after an OS crash the
    /// children are gone anyway, and the orphan sweep covers what the file misses.)
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(tmp, dir.join(FILE))?;
        Ok(())
    }

    /// Forgets the stack (after `down`). A missing file is fine: `down` is idempotent.
    pub fn remove(dir: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(dir.join(FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The name a service binary (`user-service`) registers under in this stack's Consul.
    ///
    /// Both sides use this one function — the service's `BOOKSTORE_CONSUL_NAME` and every
    /// caller's `consul://…/<name>` URL — so the two cannot drift apart.
    pub fn consul_name(&self, binary: &str) -> String {
        format!("{binary}{}", self.consul_suffix)
    }

    /// Every component, infrastructure first, then services in start order. An iterator,
    /// not a new `Vec`: callers (status, up, tests) only walk it once.
    pub fn all(&self) -> impl Iterator<Item = &Component> {
        [&self.mysql, &self.redis, &self.consul].into_iter().flatten().chain(self.services.iter())
    }

    /// The recorded service named `inventory`, …; a linear scan is right for six entries.
    pub fn service(&self, name: &str) -> Option<&Component> {
        self.services.iter().find(|c| c.name == name)
    }

    /// Records `c`, replacing a record of the same name in place (a restarted service
    /// keeps its position in start order, which `down` walks backwards) or appending it.
    pub fn put_service(&mut self, c: Component) {
        match self.services.iter_mut().find(|s| s.name == c.name) {
            Some(slot) => *slot = c,
            None => self.services.push(c),
        }
    }

    // The three accessors below turn "not recorded" into an error that tells the learner
    // what to run, instead of an `unwrap` panic deep inside a lesson.

    /// The server URL without a database (`mysql://root@127.0.0.1:3306`); services append
    /// their own database.
    pub fn mysql_url(&self) -> anyhow::Result<&str> {
        self.mysql
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("MariaDB is not running (try `bookstore-lab up`)"))
    }

    /// `redis://host:port`; every service puts its own key prefix on top.
    pub fn redis_url(&self) -> anyhow::Result<&str> {
        self.redis
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("Redis is not running (try `bookstore-lab up`)"))
    }

    /// The agent's HTTP `host:port`, without a scheme (what `consul://` URLs embed).
    pub fn consul_addr(&self) -> anyhow::Result<&str> {
        self.consul
            .as_ref()
            .map(|c| c.address.as_str())
            .ok_or_else(|| anyhow::anyhow!("Consul is not running (try `bookstore-lab up`)"))
    }
}
