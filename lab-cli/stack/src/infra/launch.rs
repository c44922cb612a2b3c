//! What the three servers share: finding a program, spawning it with a log, and waiting
//! until it answers.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::bail;

use crate::process::{self, Spawn};

/// Finds a program on PATH or in the usual sbin directories (mariadbd lives in /usr/sbin,
/// which is not on a normal user's PATH). PATH first, so a learner's own build (or a
/// Homebrew install) wins over the distribution's.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        // `is_file`, not merely "exists": a directory named `consul` on PATH (a checkout,
        // say) must not be taken for the program. Execute permission is left to spawn,
        // whose EACCES names the path.
        .find(|p| p.is_file())
}

/// The first of `names` that exists, or an error that says how to install it — the
/// learner's first contact with the lab should end in a command to run, not a bare
/// "No such file or directory (os error 2)".
/// (Several names because distributions differ: MariaDB 10.5+ ships `mariadbd`, older
/// ones and MySQL only `mysqld`.)
pub(super) fn require_program(names: &[&str], hint: &str) -> anyhow::Result<PathBuf> {
    names
        .iter()
        .find_map(|n| find_program(n))
        .ok_or_else(|| anyhow::anyhow!("{} not found: {hint}", names.join(" / ")))
}

/// The last 15 lines of a child's log: when a server fails to start, the reason is almost
/// always in its last lines (a port in use, a bad flag, a data directory it cannot read),
/// so we print them with our error rather than asking the learner to go and look.
fn log_tail(log: &Path) -> String {
    // Read whole: start-up logs are small, and a missing or unreadable log gives an
    // empty tail rather than hiding the start error it was meant to explain.
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Spawns one of the three servers: no extra environment (they take everything as flags,
/// which shows up in `ps` for the learner to read), log under `logs/`.
pub(super) fn spawn_server(
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
    // The deadline is checked only after a failed attempt, so a slow first answer that
    // arrives past it still counts as ready: the timeout bounds waiting, not the server.
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
                // The error text of the *last* attempt goes into the message: it is the
                // one that says how far start-up got ("no leader yet", "loading:1").
                if Instant::now() > deadline {
                    // 5 s grace, not `stop`'s 30: a server that never became ready has
                    // taken no writes from the lab (InnoDB killed mid-recovery recovers
                    // again next time), and the learner is waiting for the error.
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
