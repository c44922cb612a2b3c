//! Child processes: start with a log file, stop gently then firmly, and find orphans.
//!
//! Three ways a run can end, and how each leaves no process behind:
//! - `bookstore-lab down`: every recorded pid gets SIGTERM, then SIGKILL after a grace period;
//! - an attached run (tests, the TUI) that dies, even by SIGKILL: children were started
//!   with `PR_SET_PDEATHSIG`, so the kernel sends them SIGTERM when their parent dies;
//! - a detached run killed half-way: the next `up`/`down` scans `/proc` for any process whose
//!   command line or environment mentions our stack directory, and stops it.

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
    pub name: &'a str,
    pub program: &'a str,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: &'a Path,
    pub attached: bool,
    /// Stack directory; put into the child's environment so orphans can be recognised.
    pub lab_dir: &'a Path,
}

/// Starts the child and returns its pid. Its stdout and stderr go to `log`.
pub fn spawn(s: Spawn<'_>) -> anyhow::Result<u32> {
    if let Some(parent) = s.log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let log = File::create(s.log).with_context(|| format!("cannot create {}", s.log.display()))?;
    let mut cmd = Command::new(s.program);
    cmd.args(&s.args)
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .env("BOOKSTORE_LAB_DIR", s.lab_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Own process group: a Ctrl-C typed at the terminal reaches only the supervisor,
        // which then stops children in the right order (services before databases).
        .process_group(0);
    if s.attached {
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child =
        cmd.spawn().with_context(|| format!("cannot start {} ({})", s.name, s.program))?;
    let pid = child.id();
    // Reap the child when it exits, so no zombie lingers while we keep running.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// Is `pid` alive and still running `program`? (Pids are reused; a stale record must
/// never make us signal some unrelated process.)
pub fn is_ours(pid: u32, program: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // A zombie (state Z) has exited already.
    if stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) {
        return false;
    }
    let exe = Path::new(program)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(argv0).contains(&exe)
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a concrete pid has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Is `pid` running (not exited, not a zombie)? For a child we just spawned, prefer this
/// to [`is_ours`]: between fork and exec its command line is still ours.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
pub async fn terminate(pid: u32, grace: Duration) {
    signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive(pid) {
        signal(pid, libc::SIGKILL);
        while alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Stops a recorded component if it is still our process. External ones are left alone.
pub async fn stop(c: &Component) {
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
pub fn orphans(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned().into_bytes();
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        // Only processes we started carry BOOKSTORE_LAB_DIR=<this dir>.
        if has_lab_env(pid, &needle) {
            found.push(pid);
        }
    }
    found
}

fn has_lab_env(pid: u32, dir: &[u8]) -> bool {
    let mut want = b"BOOKSTORE_LAB_DIR=".to_vec();
    want.extend_from_slice(dir);
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_slice()))
        .unwrap_or(false)
}

/// Stops every orphan of `dir` (see [`orphans`]).
pub async fn kill_orphans(dir: &Path) {
    for pid in orphans(dir) {
        eprintln!("    stopping leftover process {pid} of an earlier run");
        terminate(pid, Duration::from_secs(30)).await;
    }
}
