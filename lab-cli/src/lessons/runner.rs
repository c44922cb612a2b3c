//! Running a lesson's command the way the lesson format promises (lessons/README.md §1):
//! one `bash -euo pipefail` script, cwd = the repository root, the lab's environment
//! exported, stdin closed, a 60 s timeout, stdout and stderr in one stream (one pipe).
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
//! - ✅ its own process group, killed as a group (timeout, Esc, end of script, the TUI
//!   quitting mid-run): `curl` or `grpcurl` started by the script die with it. ❌ DON'T
//!   kill only the bash pid — its children keep the output pipe open, and the reader
//!   waits for them forever.
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

use tokio::{io::AsyncReadExt, net::unix::pipe, sync::oneshot};

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

// One reading for both callers: the TUI passes an item on `Done` only, `lessons check
// --run` accepts `Done` and `NotYet` (a fresh stack has most tasks undone) and fails a
// lesson on `Broken`. Two readings would let a check pass CI and break on the learner.
/// What a checkpoint task's check answered (lessons/README.md: 0 done, 1 not yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0: the task is done.
    Done,
    /// Exit 1 from the check itself: not yet (its last line says what it saw).
    NotYet,
    /// The check could not give an answer; the text names why (bash's or the tool's
    /// own last line, or the status line when it printed nothing).
    Broken(String),
}

impl Outcome {
    // Exit 1 is ambiguous: it is the format's "not yet", and also what `bash -u` exits
    // with on an unset variable. The tell is bash's own last words: `-u` stops the script
    // at once, so its complaint is the last line and the check never printed a verdict.
    // ❌ Reading exit 1 alone showed a check that names a variable the stack lacks as
    // "not yet" forever: the learner retried a task that no work could pass.
    /// Reads this run as a task check's answer.
    pub fn verdict(&self) -> Verdict {
        let last = self.lines.iter().rev().find(|l| !l.trim().is_empty());
        match (&self.exit, last) {
            (Exit::Code(0), _) => Verdict::Done,
            (Exit::Code(1), Some(l)) if l.ends_with(": unbound variable") => {
                Verdict::Broken(l.clone())
            }
            // Exit 1 with no line, or with the check's own line: the format's "not yet"
            // (a check that says nothing is a lesson bug `lessons check` cannot see).
            (Exit::Code(1), _) => Verdict::NotYet,
            // Timeouts and stops print no line of their own: the status line says which.
            (Exit::Code(_), Some(l)) => Verdict::Broken(l.clone()),
            _ => Verdict::Broken(self.status_line()),
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
    // A pipe that cannot be made (out of descriptors) is reported like a bash that cannot
    // start: either way no script ran, and the status line names the OS error.
    let spawned = output_pipe().and_then(|(output, writer)| {
        let mut cmd = command(script, ctx, writer)?;
        // Spawned, then dropped: the command keeps our copies of the pipe's write end, and
        // the reader would wait for an end of output that never comes while they exist.
        Ok((cmd.spawn()?, output))
    });
    let (mut child, output) = match spawned {
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
    // Armed before the first `.await`: from here on, however this future ends — the TUI
    // quit (`q`) and the runtime dropped it mid-run — the whole group is killed.
    let mut group = GroupKill(child.id());
    // The reader runs beside the wait: a script that prints more than the pipe holds (64 KiB)
    // blocks until someone reads, so reading only after `wait` would deadlock a chatty block.
    let reader = read_tail(output);
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
    group.kill();
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

/// The `bash -euo pipefail` command for `script`, set up as the lesson format says;
/// `output` (the write end of [`output_pipe`]) becomes both its stdout and its stderr.
fn command(
    script: &str,
    ctx: &Context,
    output: std::io::PipeWriter,
) -> std::io::Result<tokio::process::Command> {
    // `bash` from the PATH, not `/bin/bash`: macOS ships bash 3.2 there, and a learner with a
    // Homebrew bash on the PATH should get the same shell in the TUI as in their terminal.
    let mut cmd = tokio::process::Command::new("bash");
    // The block as written, nothing prepended: bash's error line numbers are the block's own.
    cmd.arg("-euo").arg("pipefail").arg("-c").arg(script);
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
        // One pipe behind both descriptors, so stdout and stderr interleave in the order
        // bash writes them. ❌ The old `exec 2>&1;` prefix with stderr nulled lost bash's
        // own message for a syntax error on the first line (bash parses a whole line
        // before running any of it, the `exec` included): the run showed only `退出码 2`.
        .stdout(output.try_clone()?)
        .stderr(output)
        // `process_group(0)`: the child leads a new group whose id is its pid, the handle
        // `GroupKill` needs. `kill_on_drop`: a TUI that quits mid-run takes bash with it.
        .process_group(0)
        .kill_on_drop(true);
    Ok(cmd)
}

// A pipe of our own rather than `Stdio::piped()`: tokio's pipe is created at spawn, one
// per descriptor, and two pipes read separately would lose the order of the lines.
// The read end goes to tokio (`from_owned_fd` makes it non-blocking and registers it):
// ❌ DON'T read a std pipe on `spawn_blocking` instead — a read stuck on a pipe that a
// stray process still holds would keep a blocking thread, and the runtime's shutdown at
// quit waits for blocking threads, so the lab would hang on `q`.
/// The script's one output pipe: the async read end for us, the write end for the child.
fn output_pipe() -> std::io::Result<(pipe::Receiver, std::io::PipeWriter)> {
    // std's pipe is close-on-exec, so the child inherits only the dup'ed write end.
    let (read, write) = std::io::pipe()?;
    Ok((pipe::Receiver::from_owned_fd(read.into())?, write))
}

/// Reads the script's output to its end on a task of its own; the task yields the tail.
fn read_tail(mut stdout: pipe::Receiver) -> tokio::task::JoinHandle<Vec<u8>> {
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
// left in the background (`cmd &`), which would otherwise hold the pipe open. A guard
// and not a call at the end of `run`: when the TUI quits mid-run, the runtime drops the
// run's future at its `.await` and no line after it executes — `kill_on_drop` then took
// bash alone, and a `sleep` or `ghz` it started ran on after the lab had quit.
/// Sends SIGKILL to the script's whole process group (the leader's pid) once: on `kill`
/// or, if the run never got that far, on drop.
struct GroupKill(Option<u32>);

impl GroupKill {
    // `take`: once killed, never again — after the reap the pid may be reused, and a second
    // kill could hit an unrelated group that got the same id.
    fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals the process group `command` created
            // (`process_group(0)` made the child its leader); it touches no memory of ours.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

// `kill_on_drop` stays on the command beside this guard: the guard kills the group but
// cannot reap, and tokio's `Child` drop hands the dead bash to its orphan reaper, so a
// quit mid-run leaves no zombie behind while the lab is still running.
impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
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

    // Proves the one-pipe output: bash parses a whole line before running it, so with the
    // old `exec 2>&1;` prefix a syntax error on line 1 was reported on a nulled stderr
    // and the run showed no line at all, only exit 2.
    /// A syntax error on a block's first line shows bash's own message.
    #[tokio::test]
    async fn a_syntax_error_on_the_first_line_is_shown() {
        let o = run("if then echo hi; fi", &ctx(TIMEOUT), None).await;
        assert_eq!(o.exit, Exit::Code(2), "{o:?}");
        assert!(o.lines.iter().any(|l| l.contains("syntax error")), "{o:?}");
    }

    // What `q` does to a running block, reproduced: the runtime is dropped with the run
    // mid-way. Catches the guard missing — `kill_on_drop` alone took bash and left both
    // `sleep`s running, in a group that outlived the lab.
    /// A run dropped mid-way (the TUI quitting) kills its whole process group.
    #[test]
    fn a_run_dropped_by_quitting_kills_its_whole_group() {
        // A plain `#[test]` with a runtime of its own, not `#[tokio::test]`: the point is to
        // drop the runtime under a running block, and a test cannot drop the runtime that
        // is running it. Nothing is aborted by hand, so no shortcut stands in for the quit.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgid");
        // `$$` is bash's pid, the group's id (`process_group(0)`); one sleep in the
        // background and one in the foreground, so bash has children to leave behind.
        let script = format!("echo $$ > '{}'; sleep 30 & sleep 30", file.display());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.spawn(async move { run(&script, &ctx(TIMEOUT), None).await });
        let pgid = wait_for(|| std::fs::read_to_string(&file).ok()?.trim().parse().ok())
            .expect("the script wrote its group id");
        assert!(wait_for(|| (group_members(pgid) >= 2).then_some(())).is_some(), "no sleeps");
        // What `main` returning after `q` does: every task's future is dropped mid-`.await`.
        drop(rt);
        let gone = wait_for(|| (group_members(pgid) == 0).then_some(()));
        assert!(gone.is_some(), "group {pgid} outlived the run: {} left", group_members(pgid));
    }

    /// Polls `f` every 20 ms for up to 5 s; `None` if it never answered.
    fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Some(v) = f() {
                return Some(v);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    // A zombie is dead (only its exit status is left for a parent to reap), so it does
    // not count: the killed sleeps are reparented and may wait a while to be reaped.
    /// Live processes (not zombies) whose process group is `pgid`, from `/proc`.
    fn group_members(pgid: i32) -> usize {
        let stats = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok());
        // `/proc/<pid>/stat` is `pid (comm) state ppid pgrp …`; `comm` may hold spaces,
        // so the fields are read after its closing parenthesis.
        stats
            .filter(|st| {
                let mut f = st.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace();
                let state = f.next();
                let pgrp = f.nth(1).and_then(|p| p.parse::<i32>().ok());
                pgrp == Some(pgid) && state != Some("Z")
            })
            .count()
    }

    // Proves the three readings of a check on real bash runs, the unset variable above
    // all: it exits 1 like "not yet", and only bash's last line tells the two apart.
    /// A check's exit 0 is done, 1 not yet, an unset variable or a missing tool broken.
    #[tokio::test]
    async fn a_check_that_hits_an_unset_variable_is_broken_not_unfinished() {
        let c = ctx(TIMEOUT);
        let unset = run("test -n \"$NOT_SET_ANYWHERE\"; echo 已完成", &c, None).await;
        let Verdict::Broken(why) = unset.verdict() else { panic!("{unset:?}") };
        assert!(why.ends_with("NOT_SET_ANYWHERE: unbound variable"), "{why}");
        assert_eq!(run("echo 还没有; exit 1", &c, None).await.verdict(), Verdict::NotYet);
        assert_eq!(run("echo 已完成", &c, None).await.verdict(), Verdict::Done);
        let missing = run("no-such-tool-here", &c, None).await.verdict();
        assert!(matches!(&missing, Verdict::Broken(w) if w.contains("not found")), "{missing:?}");
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
