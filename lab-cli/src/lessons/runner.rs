//! Running a lesson's command the way the lesson format promises (lessons/README.md §1):
//! one `bash -euo pipefail` script, cwd = the repository root, the lab's environment
//! exported, stdin closed, a 60 s timeout, stdout and stderr in one stream.
//!
//! Two callers, one function: the TUI runs the block the learner pressed Enter on, and
//! `lessons check --run` runs every block and every checkpoint task. If they ran commands
//! differently (a different shell flag, a missing variable), a block could pass the check
//! and fail on the learner's screen — exactly the rot the check exists to catch.
//!
//! Decisions, and what the alternative costs:
//! - ✅ `-euo pipefail`: a failing `curl` in the middle of a block fails the block. Plain
//!   `bash -c` reports only the last command's status, so a block whose first request
//!   got "connection refused" would still "pass" on its final `echo`.
//! - ✅ its own process group, killed as a group (timeout, Esc, end of script): `curl`
//!   or `grpcurl` started by the script die with it. ❌ DON'T kill only the bash pid —
//!   its children keep the output pipe open, and the reader waits for them forever.
//! - ✅ stdin is `/dev/null`: a command that would prompt (`mariadb -p`) fails at once
//!   instead of hanging the TUI, whose keyboard it would otherwise steal.
//! - ✅ the output is capped and ANSI-stripped before it reaches the screen: colour codes
//!   from `grpcurl`/`jq -C` would be drawn as garbage by ratatui, and a runaway loop
//!   must not grow the lab's memory.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use tokio::{io::AsyncReadExt, sync::oneshot};

// A bound the learner can sit through and `lessons check --run` can multiply by the number
// of blocks: a block that waits forever (a `watch`, a blocking read) belongs in `norun`.
/// The lesson format's limit per block; a block that needs longer is a lesson bug.
pub const TIMEOUT: Duration = Duration::from_secs(60);

// Lines, not bytes, because the screen shows lines; the tail is kept because the end of
// the output (the error, the last status) is what explains an exit code.
/// At most this many output lines are kept (the last ones).
pub const MAX_LINES: usize = 200;

/// How one run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The script exited with this status.
    Code(i32),
    /// It ran past [`TIMEOUT`] and was killed.
    TimedOut,
    /// The learner stopped it (Esc / Ctrl-C).
    Killed,
    /// bash could not be started at all.
    ///
    /// Kept apart from [`Exit::Code`] so "no bash on the PATH" is never mistaken for a
    /// script's own failure: the status line names the OS error instead of a code.
    SpawnFailed(String),
}

/// What a run produced: its exit, how long it took, its output (capped, no ANSI codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub exit: Exit,
    /// From just before the spawn to after the output is drained: the learner's wait,
    /// including bash's start-up and the drain, not the script's own running time.
    pub elapsed: Duration,
    /// Lines of stdout+stderr as they interleaved; at most [`MAX_LINES`].
    pub lines: Vec<String>,
    /// Lines dropped from the front to respect the cap.
    ///
    /// Only the line cap is counted: output past the reader's 1 MiB byte cap is dropped
    /// before it is split into lines, so after a runaway block the true number is higher.
    pub dropped: usize,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0)
    }

    /// `✔ 退出码 0 · 0.4 s` — the status line the TUI and the check print.
    pub fn status_line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        match &self.exit {
            Exit::Code(0) => format!("✔ 退出码 0 · {secs:.1} s"),
            Exit::Code(c) => format!("✘ 退出码 {c} · {secs:.1} s"),
            Exit::TimedOut => format!("✘ 超时（{} s）被终止", TIMEOUT.as_secs()),
            Exit::Killed => format!("■ 已停止 · {secs:.1} s"),
            Exit::SpawnFailed(e) => format!("✘ 无法启动 bash：{e}"),
        }
    }
}

/// Where and with what a command runs.
#[derive(Clone, Debug)]
pub struct Context {
    /// The repository root (the parent of `lessons/`).
    pub cwd: PathBuf,
    /// The stack directory: `bookstore-lab env` inside a block must read *this* stack.
    pub lab_dir: PathBuf,
    /// From [`crate::lab_env::vars`] at the time of the run.
    pub vars: Vec<(String, String)>,
    /// [`TIMEOUT`] for every real caller; a field so the tests can prove the group kill
    /// with 300 ms instead of waiting a minute.
    pub timeout: Duration,
}

impl Context {
    // The variables are read from `stack.json` now, not when the TUI started: a stack
    // restarted on new free ports mid-session is the one the next block talks to.
    /// The context for the stack recorded in `lab_dir`, run from `repo_root`.
    pub fn for_lab(repo_root: &Path, lab_dir: &Path) -> Self {
        // No stack (or an unreadable `stack.json`) means no variables rather than an error:
        // the block still runs, and `-u` stops it at the first use of a lab variable
        // with "unbound variable" — a message that points at the missing stack.
        let vars = bookstore_stack::StackState::load(lab_dir)
            .ok()
            .flatten()
            .map(|s| crate::lab_env::vars(&s))
            .unwrap_or_default();
        Self { cwd: repo_root.into(), lab_dir: lab_dir.into(), vars, timeout: TIMEOUT }
    }
}

// The PATH a block sees: this binary's directory first (so `bookstore-lab` in a block is
// the binary running it, with the service binaries beside it — not an older link on the
// PATH), then the lab's tool directory (grpcurl, consul), then the inherited PATH. That
// is what `scripts/link-bin.sh` arranges for a learner's shell, so a block works the
// same in both places.
fn search_path() -> std::ffi::OsString {
    // Built as a list and joined by the OS rules (`join_paths`), so a directory with a space
    // in its name — a learner's home on macOS often has one — stays one entry.
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(d);
    }
    let tools = std::env::var_os("BOOKSTORE_TOOLS_DIR").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/bookstore-lab/tools"))
    });
    dirs.extend(tools);
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Runs `script` as the lesson format says; `stop` (if it fires) kills it.
pub async fn run(script: &str, ctx: &Context, stop: Option<oneshot::Receiver<()>>) -> Outcome {
    let started = Instant::now();
    let mut cmd = command(script, ctx);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                exit: Exit::SpawnFailed(e.to_string()),
                elapsed: started.elapsed(),
                lines: Vec::new(),
                dropped: 0,
            };
        }
    };
    let pgid = child.id();
    // The reader runs beside the wait: a script that prints more than the pipe holds (64 KiB)
    // blocks until someone reads, so reading only after `wait` would deadlock a chatty block.
    let reader = read_tail(child.stdout.take().expect("stdout is piped"));
    let stopped = stop_requested(stop);
    // Three ways to end, whichever comes first; the losers are dropped, which is harmless
    // here: the sleep and the stop receiver own nothing, and the child is killed below.
    let exit = tokio::select! {
        status = child.wait() => match status {
            // No code means a signal ended bash (someone ran `kill -9` on it): reported as 137,
            // a shell's code for SIGKILL (128 + 9), whatever the signal was — the point is that
            // it reads as a failure and not as success, not which signal it was.
            Ok(s) => Exit::Code(s.code().unwrap_or(128 + 9)),
            Err(e) => Exit::SpawnFailed(e.to_string()),
        },
        _ = tokio::time::sleep(ctx.timeout) => Exit::TimedOut,
        _ = stopped => Exit::Killed,
    };
    kill_group(pgid);
    // Reap the child (no zombie), then give the reader a moment to drain what the group wrote
    // before it died; two seconds bounds a reader stuck on a pipe some stray process
    // outside the group still holds.
    let _ = child.wait().await;
    let bytes = tokio::time::timeout(Duration::from_secs(2), reader)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    // Lossy: a command that prints binary (a gzip body, a Redis dump) still shows something,
    // with replacement characters where its bytes are not UTF-8, instead of nothing.
    let (lines, dropped) = clean_lines(&String::from_utf8_lossy(&bytes));
    Outcome { exit, elapsed: started.elapsed(), lines, dropped }
}

/// The `bash -euo pipefail` command for `script`, set up as the lesson format says.
fn command(script: &str, ctx: &Context) -> tokio::process::Command {
    // `bash` from the PATH, not `/bin/bash`: macOS ships bash 3.2 there, and a learner with a
    // Homebrew bash on the PATH should get the same shell in the TUI as in their terminal.
    let mut cmd = tokio::process::Command::new("bash");
    // `exec 2>&1` on the script's first line (not a line of its own) merges stderr into the
    // one pipe in the order bash writes them, and keeps bash's error line numbers equal to
    // the block's own lines.
    cmd.arg("-euo").arg("pipefail").arg("-c").arg(format!("exec 2>&1; {script}"));
    cmd.current_dir(&ctx.cwd)
        .env("PATH", search_path())
        .env("BOOKSTORE_LAB_HOME", &ctx.lab_dir)
        // The suite's and the learner's own server variables must not leak in: the block's
        // values come from this lab, and a stale `BOOKSTORE_MYSQL_URL` of the parent shell
        // would point a block at another server when the stack records none.
        .env_remove("BOOKSTORE_MYSQL_URL")
        .env_remove("BOOKSTORE_REDIS_URL")
        .env_remove("BOOKSTORE_CONSUL_ADDR")
        .envs(ctx.vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Null because `exec 2>&1` sends the script's stderr to stdout. The gap: bash parses
        // a whole line before running it, so a syntax error on the script's first line (an
        // unclosed quote) is reported before the `exec` and lost here — the run shows only
        // `✘ 退出码 2`. `lessons check` runs `bash -n` on every block so lessons do not ship one.
        .stderr(Stdio::null())
        // `process_group(0)`: the child leads a new group whose id is its pid, the handle
        // `kill_group` needs. `kill_on_drop`: a TUI that quits mid-run takes bash with it.
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

/// Reads the script's output to its end on a task of its own; the task yields the tail.
fn read_tail(mut stdout: tokio::process::ChildStdout) -> tokio::task::JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            // Keep the tail only: a runaway `yes` cannot grow the lab's memory past ~1 MiB.
            // Cut to half the cap, not to the cap: the copy then happens once per 512 KiB read
            // instead of on every 8 KiB chunk once the cap is reached.
            if buf.len() > 1 << 20 {
                buf.drain(..buf.len() - (1 << 19));
            }
        }
        buf
    })
}

/// Resolves when the learner asks to stop; never, if there is no way to ask.
async fn stop_requested(stop: Option<oneshot::Receiver<()>>) {
    match stop {
        Some(rx) => {
            // A dropped sender (the TUI moved on) is not a request to stop.
            if rx.await.is_err() {
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending().await,
    }
}

// The whole group, whatever the ending: after a normal exit this reaps what the script
// left in the background (`cmd &`), which would otherwise hold the pipe open.
/// Sends SIGKILL to the script's whole process group (`pgid` is its leader's pid).
fn kill_group(pgid: Option<u32>) {
    if let Some(pid) = pgid {
        // SAFETY: kill(2) with a negative pid signals the process group `command` created
        // (`process_group(0)` made the child its leader); it touches no memory of ours.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

// `console` (already built for indicatif's bars) strips CSI and OSC sequences; a `\r`
// progress bar keeps only what was drawn last, which is what a terminal would show.
/// Output text → display lines: no ANSI codes, `\r` overdraws resolved, tail-capped.
pub fn clean_lines(text: &str) -> (Vec<String>, usize) {
    // Tabs become four spaces below because a tab has no display width for the renderer
    // (it would count 0 columns and misalign the fold), and `find(non-empty)` keeps the text
    // of a line that ends in `\r\n` instead of the empty string after its `\r`.
    let stripped = console::strip_ansi_codes(text);
    let mut lines: Vec<String> = stripped
        .trim_end_matches('\n')
        .split('\n')
        .map(|l| l.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("").replace('\t', "    "))
        .collect();
    // No output is no lines, not one empty line: the lesson then shows the status row
    // alone, instead of a blank row that looks like output that printed nothing visible.
    if lines.len() == 1 && lines[0].is_empty() {
        lines.clear();
    }
    let dropped = lines.len().saturating_sub(MAX_LINES);
    lines.drain(..dropped);
    (lines, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The temp dir as both cwd and lab dir: these tests need bash, not a stack, and
    // `LAB_X` stands in for the lab's variables.
    fn ctx(timeout: Duration) -> Context {
        let dir = std::env::temp_dir();
        Context {
            cwd: dir.clone(),
            lab_dir: dir,
            vars: vec![("LAB_X".into(), "42".into())],
            timeout,
        }
    }

    // Proves the format's shell contract on a real bash: `-u` fails an unset variable,
    // `pipefail` fails a pipeline whose first stage failed, stderr is in the output in
    // order, and the lab's variables are exported.
    /// A block runs under `-euo pipefail` with the lab's variables and merged output.
    #[tokio::test]
    async fn a_block_runs_strictly_with_the_lab_environment() {
        let ok = run("echo \"x=$LAB_X\"; echo warn >&2; echo done", &ctx(TIMEOUT), None).await;
        assert_eq!(ok.exit, Exit::Code(0));
        assert_eq!(ok.lines, ["x=42", "warn", "done"]);
        let unset = run("echo \"$NOT_SET_ANYWHERE\"", &ctx(TIMEOUT), None).await;
        assert_ne!(unset.exit, Exit::Code(0), "{unset:?}");
        let pipe = run("false | cat; echo unreachable", &ctx(TIMEOUT), None).await;
        assert_eq!(pipe.exit, Exit::Code(1));
        assert!(!pipe.lines.iter().any(|l| l == "unreachable"));
    }

    // Proves the group kill: the script's `sleep` child holds the pipe, and still the run
    // ends at the timeout (not after 30 s), and a stop request ends it as `Killed`.
    /// A timeout or a stop kills the whole process group promptly.
    #[tokio::test]
    async fn a_slow_block_is_killed_with_its_children() {
        let t = run("echo start; sleep 30 | cat", &ctx(Duration::from_millis(300)), None).await;
        assert_eq!(t.exit, Exit::TimedOut);
        assert!(t.elapsed < Duration::from_secs(5), "{:?}", t.elapsed);
        assert_eq!(t.lines, ["start"]);
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(async move { run("sleep 30", &ctx(TIMEOUT), Some(rx)).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.send(()).unwrap();
        let k = handle.await.unwrap();
        assert_eq!(k.exit, Exit::Killed);
        assert!(k.elapsed < Duration::from_secs(5));
    }

    // Proves the three cleanings on known input: an SGR colour code leaves no bytes, a
    // progress line keeps only its last redraw (not `10%50%100%`), and the cap keeps the
    // tail — a cap that kept the head would show line 0 and hide the error at the end.
    /// Colour codes and `\r` redraws are removed; only the last lines are kept.
    #[test]
    fn output_is_cleaned_and_capped() {
        let (l, d) = clean_lines("\x1b[1;32mok\x1b[0m\n10%\r50%\r100%\n");
        assert_eq!((l, d), (vec!["ok".to_string(), "100%".to_string()], 0));
        // 250 lines against the cap of 200: the 50 dropped are counted, and the first line
        // kept is `50`, which is what tells a tail from a head.
        let many: String = (0..250).map(|i| format!("{i}\n")).collect();
        let (l, d) = clean_lines(&many);
        assert_eq!((l.len(), d, l[0].as_str()), (MAX_LINES, 50, "50"));
    }
}
