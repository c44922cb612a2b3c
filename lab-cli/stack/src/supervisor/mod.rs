//! [`Supervisor`]: the one owner of a stack directory and of the processes it records.
//!
//! | file | its one job |
//! |---|---|
//! | `mod.rs` | opening the directory, `down`, `status` |
//! | `up.rs` | `up` in its steps: leftovers, infrastructure, services, seed |
//! | `instances.rs` | one instance at a time: add, restart, `kill -9`, stop |
//! | `lock.rs` | the directory's `flock`, so two commands take turns |

mod instances;
mod lock;
mod up;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{StackState, probe, process};
use lock::DirLock;

/// Owns a stack directory and the processes recorded in it.
///
/// Every command that changes the stack (`up`, `down`, adding, restarting or stopping an
/// instance) holds the directory's `flock` for its whole run (`Supervisor::lock`), so
/// two commands on one directory take turns instead of both acting on the same stale
/// record. Reading (`status`, `state`) takes no lock: it only looks.
pub struct Supervisor {
    /// Absolute (see [`Supervisor::open`]): its text is the orphan marker.
    dir: PathBuf,
    /// The last `stack.json` read or written; re-read under the lock before any change.
    state: StackState,
}

impl Supervisor {
    /// Opens (creating if needed) the stack directory. The directory is made absolute,
    /// because its path is how we recognise our own processes later: `.lab` opened from
    /// two different working directories must produce the same `BOOKSTORE_LAB_DIR`, or the
    /// orphan sweep of one would miss the children of the other.
    pub fn open(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())
            .with_context(|| format!("cannot create {}", dir.as_ref().display()))?;
        let dir = std::fs::canonicalize(dir.as_ref())?;
        let state = StackState::load(&dir)?.unwrap_or_default();
        Ok(Self { dir, state })
    }

    /// Takes the directory's lock for one `up` or `down`, waiting for another holder, and
    /// re-reads `stack.json` (the other process may have changed it meanwhile).
    ///
    /// ❌ Without it, two `up`s at once on one directory would both see "nothing running"
    /// and both start a MariaDB on the same data directory — which corrupts it.
    fn lock(&mut self) -> anyhow::Result<DirLock> {
        let lock = DirLock::acquire(&self.dir)?;
        self.state = StackState::load(&self.dir)?.unwrap_or_default();
        Ok(lock)
    }

    /// The absolute stack directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `stack.json` recorded (a claim to verify; see [`state`]).
    pub fn state(&self) -> &StackState {
        &self.state
    }

    /// Stops every process of this stack (services first, then infra), then sweeps for
    /// orphans. Data directories are kept, so the next `up` is fast and keeps the data.
    ///
    /// Order matters: a service stopped after its database would spend its shutdown
    /// logging connection errors, and one stopped after Consul could not deregister.
    /// Reverse start order is the general rule for dependency graphs.
    pub async fn down(&mut self) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        self.stop_all().await
    }

    /// The body of [`down`](Self::down), apart from the lock, so that code which already
    /// holds it can stop the stack too. flock(2) locks belong to an open file, so taking
    /// the lock a second time from the same process would wait for ourselves forever.
    async fn stop_all(&mut self) -> anyhow::Result<()> {
        self.stop_services().await?;
        // Consul, Redis, MariaDB: the reverse of their start order, though none of the
        // three depends on another — the services that did are already gone.
        for c in [&self.state.consul, &self.state.redis, &self.state.mysql].into_iter().flatten() {
            process::stop(c).await;
        }
        // The sweep catches what the record missed (a child spawned just before a killed
        // `up` could save it); then forget the stack, in memory and on disk.
        process::kill_orphans(&self.dir, &[]).await;
        self.state = StackState::default();
        StackState::remove(&self.dir)?;
        Ok(())
    }

    /// Stops the recorded services (callers before callees) and forgets them, keeping the
    /// infrastructure: `up` then starts them again with fresh addresses.
    async fn stop_services(&mut self) -> anyhow::Result<()> {
        for c in self.state.services.iter().rev() {
            process::stop(c).await;
        }
        self.state.services.clear();
        self.state.save(&self.dir)
    }

    /// Health of every recorded component, each asked over its own protocol (see [`probe`]).
    /// Read-only: `status` never starts or stops anything, so it is safe to run in a loop
    /// (the TUI's dashboard does) or while another command works on the stack.
    pub async fn status(&self) -> Vec<probe::ComponentHealth> {
        probe::check_all(&self.state).await
    }
}
