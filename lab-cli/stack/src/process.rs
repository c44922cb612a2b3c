//! Child processes: start with a log file, stop gently then firmly, and find orphans.
//!
//! Three ways a run can end, and how each leaves no process behind:
//! - `bookstore-lab down`: every recorded pid gets SIGTERM, then SIGKILL after a grace period;
//! - an attached run (tests, the TUI) that dies, even by SIGKILL: children were started
//!   with `PR_SET_PDEATHSIG`, so the kernel sends them SIGTERM when their parent dies;
//! - a detached run killed half-way: the next `down` or `up` scans `/proc` for any process
//!   whose environment carries our stack directory (`BOOKSTORE_LAB_DIR`), and stops it
//!   (`up` spares the recorded ones and their descendants, see [`kill_orphans`]).
//!
//! What this module is NOT: a general process supervisor. It does not restart crashed
//! children, rotate logs or limit resources; a production supervisor (systemd, Kubernetes)
//! would do all three. Here a crash is a lesson: the learner sees it in `status` and in
//! `.lab/logs/`, and the next `up` repairs the stack.
//!
//! Linux only: it reads `/proc` and uses `prctl(2)`. That is the course's platform; on
//! macOS the lab runs with `--external` against compose.yaml instead.

use std::{
    fs::File,
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;

use crate::state::Component;

/// How to start one child.
pub struct Spawn<'a> {
    /// For messages only (`cannot start redis (…)`).
    pub name: &'a str,
    /// Full path of the executable; recorded, and checked by [`is_ours`] later.
    pub program: &'a str,
    /// Arguments, one element each (no shell: nothing is split or expanded, so a stack
    /// directory with spaces in its path cannot turn into two arguments).
    pub args: Vec<String>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go (created or truncated).
    pub log: &'a Path,
    /// Die with the parent (`PR_SET_PDEATHSIG`); see [`crate::UpOptions::attached`].
    pub attached: bool,
    /// Stack directory; put into the child's environment so orphans can be recognised.
    pub lab_dir: &'a Path,
}

/// Starts the child and returns its pid. Its stdout and stderr go to `log`.
///
/// Returns as soon as the process exists, not when it is ready: readiness is a protocol
/// question the caller answers (see `infra::wait_ready`).
pub fn spawn(s: Spawn<'_>) -> anyhow::Result<u32> {
    if let Some(parent) = s.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // `create` truncates: each start gets a fresh log, so "the last 15 lines" shown on a
    // failed start are about *this* start. The price is that the previous run's log is
    // gone; a production supervisor would rotate (mysql.log.1, …) instead.
    let log = File::create(s.log).with_context(|| format!("cannot create {}", s.log.display()))?;
    let mut cmd = Command::new(s.program);
    cmd.args(&s.args)
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        // The marker the orphan sweep looks for (see [`orphans`]). Inherited by anything
        // the child starts in turn, so grandchildren are found too.
        .env("BOOKSTORE_LAB_DIR", s.lab_dir)
        // ✅ DO give a background child a null stdin: if it inherited the terminal it could
        // read the learner's keystrokes (or stop with SIGTTIN), and the TUI would lose keys.
        .stdin(Stdio::null())
        // One file for both streams (two handles to one open file description, so one
        // shared offset): lines appear in the order they were written, as in a terminal.
        .stdout(log.try_clone()?)
        .stderr(log)
        // Own process group: a Ctrl-C typed at the terminal reaches only the supervisor,
        // which then stops children in the right order (services before databases).
        // ❌ DON'T leave children in the terminal's foreground group: the terminal sends
        // SIGINT to the whole group at once, so MariaDB, Redis and every service would
        // die in the same instant — services logging connection errors on the way down,
        // and the supervisor losing the chance to stop them in order.
        .process_group(0);
    if s.attached {
        // Why PDEATHSIG: an attached run (a test binary, the TUI) can itself be killed with
        // SIGKILL — a cargo test timeout, a closed terminal, the OOM killer. No Rust code
        // runs then, no `Drop`, no cleanup. Without this flag the children are re-parented
        // to init and keep holding ports and CPU until someone finds them; with it, the
        // kernel itself sends each child SIGTERM the moment its parent dies.
        // Caveat worth knowing: "parent" means the *thread* that forked. We spawn from a
        // long-lived runtime, which is why the flag is only used for attached runs whose
        // lifetime is that of the process anyway.
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            // `pre_exec` runs in the forked child before `exec`: the only place where a
            // setting can be made that applies to the child alone. Code there must be
            // async-signal-safe (no allocation, no locks): the parent's other threads were
            // not copied by `fork`, and a lock one of them held stays locked forever.
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // The common failure here is ENOENT or EACCES for the program; the context names
    // both the component and the path, which the bare OS error does not.
    let mut child =
        cmd.spawn().with_context(|| format!("cannot start {} ({})", s.name, s.program))?;
    let pid = child.id();
    // Reap the child when it exits, so no zombie lingers while we keep running.
    // (A blocking `wait` on a plain thread is the simplest correct reaper; the thread is
    // cheap and there are at most nine children. We drop the `Child`'s handle otherwise
    // and never read its status — the log file says why a child died.)
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// Is `pid` alive and still running `program`? (Pids are reused; a stale record must
/// never make us signal some unrelated process.)
///
/// The failure this prevents: the lab ran yesterday with Redis as pid 4242; the machine
/// rebooted without `down`, and today pid 4242 is the learner's editor. A supervisor that
/// trusts `stack.json` blindly would send it SIGTERM, then SIGKILL after 30 s — and lose
/// unsaved work. So before signalling we check that the live process's argv[0] still names
/// the program we started.
/// ✅ DO verify a recorded pid against something only our process has.
/// ❌ DON'T `kill(pid)` straight from a file — a pid is a reusable number, not an identity.
/// (It is still a heuristic: a second unrelated `redis-server` that got the same pid would
/// pass. Linux's pidfds close that gap entirely, at the price of holding an fd per child.)
pub fn is_ours(pid: u32, program: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // A zombie (state Z) has exited already. The state letter follows the `(comm)` field,
    // and `comm` may itself contain spaces or ')', hence the split at the *last* ')'.
    if stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) {
        return false;
    }
    let exe = Path::new(program)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    // `cmdline` is NUL-separated argv. We compare argv[0] with the file name by
    // `contains`, not equality: argv[0] is the full path we passed, and some servers
    // rewrite theirs (Redis shows `redis-server 127.0.0.1:6379` in `ps`).
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(argv0).contains(&exe)
}

/// Sends `sig`, ignoring "no such process": the child may have exited on its own between
/// our check and the signal, which is exactly the outcome we wanted.
fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a concrete pid has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Is `pid` running (not exited, not a zombie)? For a child we just spawned, prefer this
/// to [`is_ours`]: between fork and exec its command line is still ours.
/// Why zombies count as dead: an exited child stays in `/proc` until its parent reaps it.
/// Our reaper thread does that within microseconds, but an orphan's new parent (init, or
/// a container's pid 1 that does not reap) may take longer or never — and waiting for a
/// zombie to "exit" would hang `down` forever.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// Is `pid` stopped by a signal (state `T`: SIGSTOP, or a debugger)? A stopped server
/// keeps its port open and accepts connections into the kernel's backlog, but answers
/// nothing — to a client it looks like the slowest server in the world, not a dead one.
pub fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('T')))
}

/// SIGSTOP: freezes `pid` where it stands (the lab's "pause MariaDB" fault). Undone only
/// by [`thaw`] — which is why `up` thaws any stopped component it finds.
pub fn freeze(pid: u32) {
    signal(pid, libc::SIGSTOP);
}

/// SIGCONT: lets a frozen `pid` run on; it never noticed the pause except in its clocks.
pub fn thaw(pid: u32) {
    signal(pid, libc::SIGCONT);
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
///
/// SIGTERM asks: servers catch it and shut down properly — MariaDB flushes InnoDB, Redis
/// fsyncs its append-only file, our services deregister from Consul and drain requests.
/// SIGKILL cannot be caught, so it is the last resort for a child that hangs.
/// ❌ DON'T SIGKILL first "to be quick": the next start of MariaDB then runs crash recovery,
/// and a service's Consul entry lingers until its health check fails.
/// Polling `/proc` every 50 ms is crude next to `pidfd` + poll, but simple to read and
/// fine for a handful of children.
pub async fn terminate(pid: u32, grace: Duration) {
    signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive(pid) {
        signal(pid, libc::SIGKILL);
        // SIGKILL cannot be ignored, so this normally ends within milliseconds. The
        // deadline is for a process stuck in uninterruptible sleep (state D — a dead NFS
        // mount, say): `down` reports it instead of hanging forever.
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if alive(pid) {
            eprintln!("    warning: pid {pid} survived SIGKILL for 10 s (uninterruptible sleep?)");
        }
    }
}

/// Stops a recorded component if it is still our process. External ones are left alone:
/// `pid: None` means "someone else's server" (compose, a shared cluster), and stopping
/// it would take down what other people — or the learner's other projects — rely on.
pub async fn stop(c: &Component) {
    // `is_ours`, not `alive`: this pid comes from a file and may be hours old.
    if let Some(pid) = c.pid
        && is_ours(pid, &c.program)
    {
        eprintln!("    stopping {} (pid {pid})", c.name);
        // MariaDB flushes InnoDB on SIGTERM; give it time rather than corrupting the
        // learner's data directory with an early SIGKILL.
        terminate(pid, Duration::from_secs(30)).await;
    }
}

/// Pids (other than ours) started by a supervisor of `dir` (they carry `BOOKSTORE_LAB_DIR`).
///
/// Why the environment and not the command line: the environment is inherited and set by
/// us alone, while a command line is whatever the program chose (and Consul, for one,
/// does not mention our directory in it). Matching the full `KEY=value` entry means a stack
/// in `/tmp/a` never mistakes a child of `/tmp/a-2` for its own.
/// Reading another user's `/proc/<pid>/environ` is not permitted, so this only ever finds
/// our own user's processes — which is also the only set we may signal.
pub fn orphans(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned().into_bytes();
    let me = std::process::id();
    let mut found = Vec::new();
    // Every numeric entry of /proc is a process. The scan is O(processes on the
    // machine) — a few hundred reads, a few milliseconds — and runs only on `up`/`down`.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // Not ourselves: if our own environment carries the marker (a shell started from
        // inside the lab, a test that exported it), the sweep would find the supervisor
        // itself and kill it mid-sweep.
        if pid == me || !alive(pid) {
            continue;
        }
        // Only processes we started carry BOOKSTORE_LAB_DIR=<this dir>.
        if has_lab_env(pid, &needle) || is_lab_redis(pid, dir) {
            found.push(pid);
        }
    }
    found
}

/// Does `pid`'s environment contain exactly `BOOKSTORE_LAB_DIR=<dir>`? `/proc/<pid>/environ`
/// is the environment the process *started* with (NUL-separated); later `setenv` calls
/// inside the process do not show, which is fine: the marker is set before exec.
fn has_lab_env(pid: u32, dir: &[u8]) -> bool {
    let mut want = b"BOOKSTORE_LAB_DIR=".to_vec();
    want.extend_from_slice(dir);
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_slice()))
        .unwrap_or(false)
}

/// Is `pid` a Redis working in `<dir>/redis`, the stack's Redis data directory?
///
/// Why the marker is not enough: Redis writes its process title (`redis-server
/// 127.0.0.1:6379`) over the memory that held its argv *and environment*, so once it is
/// up `/proc/<pid>/environ` no longer shows `BOOKSTORE_LAB_DIR`. But `--dir` makes it
/// chdir into its data directory, and `/proc/<pid>/cwd` keeps saying so. (Found by a
/// test: an `up` killed while its Redis started left one the sweep could not see.)
fn is_lab_redis(pid: u32, dir: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == dir.join("redis"))
        && is_ours(pid, "redis-server")
}

/// Stops every orphan of `dir` (see [`orphans`]) except the processes in `keep` (the
/// recorded, running children) and their descendants — Redis forks its AOF rewrite, and
/// that child carries the marker too. Sequential on purpose: orphans are rare (only after
/// a killed run), and one at a time keeps the log readable.
pub async fn kill_orphans(dir: &Path, keep: &[u32]) {
    for pid in orphans(dir).into_iter().filter(|pid| !descends_from(*pid, keep)) {
        eprintln!("    stopping leftover process {pid} of an earlier run");
        terminate(pid, Duration::from_secs(30)).await;
    }
}

/// Is `pid`, or one of its ancestors, in `keep`? Walks the parent pids (field 4 of
/// `/proc/<pid>/stat`, after the `(comm)` that may hold spaces) up to init.
fn descends_from(mut pid: u32, keep: &[u32]) -> bool {
    while pid > 1 {
        if keep.contains(&pid) {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(ppid) = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)) else {
            return false;
        };
        pid = ppid.parse().unwrap_or(0);
    }
    false
}
