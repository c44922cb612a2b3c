//! The live tests' stack: the six service binaries started by the lab's own supervisor
//! (`bookstore-lab up`) in a temporary directory, stopped by `bookstore-lab down` when the
//! guard is dropped — the way a learner starts and stops the lab.

// Each test binary compiles this module on its own and uses only part of it (the payments
// test never asks for private servers), which rustc would report as dead code.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use bookstore_stack::{services, testing};

/// The binary next to the test executable, the same one the experiments run for their
/// restarts.
///
/// `cargo test` builds this package's own binary, but not the six services `up` starts
/// from the same directory: run `cargo build --workspace --bins` first, or `up` fails —
/// or starts whatever older builds are lying there.
pub fn lab() -> PathBuf {
    services::default_bin_dir().unwrap().join("bookstore-lab")
}

/// Where the stack's MariaDB, Redis and Consul come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Infra {
    /// The suite's shared servers (`--external`): cheap, for tests that only use them.
    Shared,
    /// Servers of the stack's own: for a test that stops or freezes them, which would
    /// break every other test running beside it on the shared ones.
    Private,
}

// A guard, not a last line of the test: when an assertion fails half-way, the services
// (and any the experiment restarted, detached like every `up`'s children) must still be
// stopped, or they hold ports and CPU — and a frozen MariaDB — for the rest of the suite.
/// Runs `bookstore-lab down` for its directory when dropped, panic or not.
pub struct Stack {
    dir: tempfile::TempDir,
}

impl Stack {
    /// `up --free-ports --no-seed` (never the course's ports, which the learner's lab may
    /// hold; the experiments publish their own books) on the chosen servers.
    pub fn up(infra: Infra) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // 300 s under coreutils' `timeout`, more than the supervisor tests' 180: a private
        // stack first initialises its own MariaDB data directory. A hung `up` then fails
        // this test instead of holding the whole suite.
        let mut cmd = Command::new("timeout");
        cmd.arg("300").arg(lab()).arg("--dir").arg(dir.path()).arg("up");
        match infra {
            // Passed explicitly, as in the supervisor tests: the developer's shell may export
            // other servers, and `--external` must adopt exactly the suite's.
            Infra::Shared => {
                let shared = testing::infra();
                cmd.arg("--external")
                    .env("BOOKSTORE_MYSQL_URL", &shared.mysql_url)
                    .env("BOOKSTORE_REDIS_URL", &shared.redis_url)
                    .env("BOOKSTORE_CONSUL_ADDR", &shared.consul_addr);
            }
            // Without the suite's variables the supervisor starts servers of its own.
            Infra::Private => {
                cmd.env_remove("BOOKSTORE_MYSQL_URL")
                    .env_remove("BOOKSTORE_REDIS_URL")
                    .env_remove("BOOKSTORE_CONSUL_ADDR");
            }
        }
        let out = cmd
            .args(["--free-ports", "--no-seed"])
            .output()
            .expect("bookstore-lab runs (built by `cargo build --workspace --bins`)");
        // Both streams in the message: the supervisor reports its steps on stderr (`==>`
        // lines), so the step that failed is named there, not on stdout.
        assert!(
            out.status.success(),
            "up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    /// The stack directory: its `stack.json` is where the experiments find every address,
    /// exactly as they do in a learner's `.lab`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Errors ignored, and no assertion: `drop` also runs while a failed test unwinds,
        // and a second panic there would abort the binary and lose the first message.
        // Bounded like `up` (coreutils' `timeout`): 60 s, then SIGTERM and 5 s later
        // SIGKILL, so a hung `down` costs this test a minute instead of hanging the suite.
        let mut down = Command::new("timeout");
        down.args(["--kill-after=5", "60"]).arg(lab()).arg("--dir").arg(self.dir.path());
        // Discarded, as before, but not piped: a pipe kept open by a process `down` left
        // behind would make the wait for its EOF unbounded again.
        let down = down.arg("down").stdout(Stdio::null()).stderr(Stdio::null()).status();
        // 124: timed out and ended by the TERM; 137 (128 + 9): it needed the KILL too.
        // An `Err` (no `timeout` on the PATH) is ignored like any other failed `down`.
        if let Ok(status) = down
            && matches!(status.code(), Some(124 | 137))
        {
            eprintln!(
                "bookstore-lab down in {} did not finish within 60 s and was killed; \
                 its services may still be running",
                self.dir.path().display()
            );
        }
    }
}
