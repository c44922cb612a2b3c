//! What one `up` is asked to do: which components, on which ports, wired how.

use std::path::PathBuf;

/// Options for [`Supervisor::up`].
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Start only MariaDB, Redis and Consul (what the test suite needs: each test starts
    /// the service it tests in-process on port 0, so service binaries would only be
    /// in the way).
    pub infra_only: bool,
    /// Use servers that already run instead of starting them (all three must be given
    /// through the environment variables of [`infra::External`]).
    pub external: bool,
    /// Put services on free ports instead of the course's 9001-9005/8080 (tests, or a
    /// second lab next to a running one). Clients then find each other through Consul.
    pub free_ports: bool,
    /// Where the service binaries are; default: next to the running executable.
    pub bin_dir: Option<PathBuf>,
    /// Children die with the calling process (PR_SET_PDEATHSIG) instead of outliving it.
    /// `bookstore-lab up` leaves this off so the stack keeps running after the command.
    /// Tests and the TUI turn it on: when they end — normally, by panic or by SIGKILL —
    /// the kernel takes the children down with them, so no run leaks servers.
    /// ✅ DO tie a child's life to its owner's when the owner is the only one who knows
    /// about it; ❌ DON'T rely on `Drop` for that: `Drop` never runs on SIGKILL or abort.
    pub attached: bool,
    /// Skip loading the seed catalogue and its stock (tests that want empty services).
    pub no_seed: bool,
    /// Instances wanted per service (`user` → 2); one for any service not named. A later
    /// `up` without it keeps the instances already recorded (it never stops any).
    pub replicas: Vec<(String, u32)>,
    /// Hand services fixed `http://` addresses of their peers instead of Consul URLs (the
    /// Days 29–34 wiring: no discovery, so only each service's first instance is used).
    pub static_addrs: bool,
}

impl UpOptions {
    /// Instances asked for `service` (at least one).
    pub(crate) fn replicas_of(&self, service: &str) -> u32 {
        self.replicas.iter().find(|(s, _)| s == service).map_or(1, |(_, n)| (*n).max(1))
    }
}
