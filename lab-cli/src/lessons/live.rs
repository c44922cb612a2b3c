//! `bookstore-lab lessons check --run`: every command of every lesson, run for real.
//!
//! The text check (`check.rs`) proves a lesson *displays*; this proves its commands
//! *work*: a private full stack (its own MariaDB, Redis and Consul, services on free
//! ports — the `up --free-ports` a learner could type) is started in a temporary
//! directory, and each available lesson's ```` ```bash ```` blocks and checkpoint tasks'
//! `check`s run against it in document order (each once), through the same runner the TUI
//! uses.
//! A renamed RPC, a changed JSON field or a port that moved fails `make test` with the
//! lesson, the block's line and the last lines of its output.
//!
//! Why a private stack and not the suite's shared servers: lessons use the standard
//! database names (`inventory_db`, …), and they write (register users, order, sell out
//! books). On the shared servers those names belong to whoever ran `up` there.
//! `--free-ports` for the same reason one level up: a learner's own stack on the default
//! ports keeps running while `make test` checks the lessons beside it.
//!
//! Checks pass on exit 0 (done) *and* 1 (not yet): on a fresh stack most tasks are not
//! done, and that is fine. Any other exit — 127 command not found, 2 a usage error, a
//! timeout — means the check itself rotted, and a learner could never pass it.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::{
    Library,
    blocks::{self, BlockKind, Checkpoint},
    runner::{self, Outcome, Verdict},
};

// Fewer than the runner keeps (`runner::MAX_LINES`): this goes into a CI log, where three
// failing lessons of 200 lines each would bury the lines that name the failure.
/// Lines of output quoted under a failure: enough for curl's error and the command's echo.
const TAIL: usize = 12;

// A guard, like the test suite's: whatever happens (a panic in a report, Ctrl-C reaching
// the process), the stack's MariaDB and services must not be left running in `/tmp`.
/// A full stack of its own in a temporary directory, stopped (and deleted) on drop.
pub struct PrivateStack {
    dir: PathBuf,
    bin: PathBuf,
}

impl PrivateStack {
    // The binary itself runs `up` (not an in-process `Supervisor`): the three server
    // variables must be *absent* for the supervisor to start servers of its own, and
    // removing them from a child's environment is safe where changing our own is not.
    /// `bookstore-lab --dir <tmp> up --free-ports`, with the suite's server variables removed.
    pub fn up() -> anyhow::Result<Self> {
        // `current_exe`: the stack is started by the binary running the check, with the
        // service binaries next to it — the build under test, not an older one on the PATH.
        let bin = std::env::current_exe()?;
        // Pid and a random suffix: two `make test` runs on one machine (two checkouts, two
        // engineers) must not share a MariaDB data directory.
        let unique =
            format!("bookstore-lessons-run-{}-{}", std::process::id(), rand::random::<u32>());
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir)?;
        let stack = Self { dir, bin };
        let out = Command::new(&stack.bin)
            .arg("--dir")
            .arg(&stack.dir)
            .args(["up", "--free-ports"])
            .env_remove("BOOKSTORE_MYSQL_URL")
            .env_remove("BOOKSTORE_REDIS_URL")
            .env_remove("BOOKSTORE_CONSUL_ADDR")
            // `BOOKSTORE_LAB_HOME` is the env form of `--dir` and is set inside every lesson
            // block: removed, so the private directory is the only one this `up` and the
            // processes it starts can be told about.
            .env_remove("BOOKSTORE_LAB_HOME")
            .stdin(std::process::Stdio::null())
            // `output()` waits for `up` to return and collects its log, printed whole only
            // when it failed: a stack that did not come up is the one failure to explain first.
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "up failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stack)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

// Errors are ignored on purpose: `drop` cannot report them, and a failed `down` leaves at
// worst processes the supervisor's orphan sweep recognises by their `BOOKSTORE_LAB_DIR`.
impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = Command::new(&self.bin).arg("--dir").arg(&self.dir).arg("down").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What `--run` found: one entry per failure, and what ran.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// `day31: lessons/day31/lesson.md:126: ✘ 退出码 7 · 0.1 s` and the output's tail.
    pub failures: Vec<String>,
    /// `bash` blocks run, each once.
    pub blocks: usize,
    /// Checkpoint tasks' `check` scripts run (they pass on exit 0 or 1).
    pub checks: usize,
    /// `bash norun` blocks not run (counted, so "skips nothing" can be read off the report).
    pub norun: usize,
}

// Sequential on purpose: blocks of one lesson may build on the same book or table, and
// the lesson format promises each block works alone — run in parallel, a pass could hide
// an ordering assumption, and a failure would be hard to attribute.
/// Runs every command block and checkpoint check of the available lessons (or of `only`)
/// against the stack in `lab_dir`; `say` gets one line per item as it finishes.
pub async fn run(
    lib: &Library,
    lab_dir: &Path,
    only: Option<&str>,
    mut say: impl FnMut(String),
) -> LiveReport {
    let mut report = LiveReport::default();
    // One context for the whole run: the private stack does not move, and reading
    // `stack.json` once keeps every block on exactly the same addresses.
    let ctx = runner::Context::for_lab(&lib.repo_root(), lab_dir);
    // Lessons in manifest order, blocks in document order: the order a learner meets them,
    // so the state a block finds (a user registered, a book sold out) is the state a
    // learner who followed the course would have.
    for entry in lib.manifest.lessons.iter().filter(|l| l.is_available()) {
        if only.is_some_and(|o| o != entry.id) {
            continue;
        }
        // An available lesson without a file is the text check's report, not a run failure.
        let Some(file) = &entry.file else { continue };
        let Ok(text) = std::fs::read_to_string(lib.dir.join(file)) else {
            report.failures.push(format!("{}: lessons/{file}: cannot read", entry.id));
            continue;
        };
        // The raw file, not `Library::text`: source excerpts are code to read, and line numbers
        // must be the author's. (An excerpt is never a `bash` block anyway, see `source.rs`.)
        let at = |line: usize| format!("{}: lessons/{file}:{line}", entry.id);
        for b in blocks::blocks(&text) {
            match b.kind {
                // Counted, never silently dropped: the summary says how many were skipped, so a
                // lesson that quietly turned every block into `norun` shows up in the CI log.
                BlockKind::NoRun => report.norun += 1,
                BlockKind::Run => {
                    report.blocks += 1;
                    // No stop channel: only the runner's 60 s timeout ends a block here, and it
                    // kills the block's whole process group, so a hung block costs a minute of
                    // CI, not the job.
                    let o = runner::run(&b.body, &ctx, None).await;
                    // One line per block as it ends: while a block hangs towards its timeout,
                    // the log's last line names the block before it.
                    say(format!("{} {} {}", mark(o.success()), at(b.line), o.status_line()));
                    if !o.success() {
                        report.failures.push(failure(&at(b.line), &o));
                    }
                }
                BlockKind::Checkpoint => {
                    // A checkpoint that does not parse is the text check's report; here it has
                    // no tasks to run.
                    let Ok(cp) = Checkpoint::parse(&b.body) else { continue };
                    for (i, t) in cp.task.iter().enumerate() {
                        report.checks += 1;
                        // After the lesson's own blocks have run, so a check may well answer 0 (the
                        // blocks did the task): either answer proves the check itself works.
                        let o = runner::run(&t.check, &ctx, None).await;
                        // Done and not yet are the check's two answers; anything else is a bug —
                        // read as the TUI reads it (`Outcome::verdict`), so a check that stops on
                        // an unset variable (bash exits 1 there too) fails here, not on a learner.
                        let ok = !matches!(o.verdict(), Verdict::Broken(_));
                        let what = format!("{} task {}", at(b.line), i + 1);
                        let last = o.lines.last().cloned().unwrap_or_default();
                        say(format!("{} {what} {} {last}", mark(ok), o.status_line()));
                        if !ok {
                            report.failures.push(failure(&what, &o));
                        }
                    }
                }
                BlockKind::Reveal => {}
            }
        }
    }
    report
}

fn mark(ok: bool) -> &'static str {
    if ok { "✔" } else { "✘" }
}

/// A failure as reported: where, how it ended, and the last lines it printed.
// The `│` gutter sets the output apart from the report's own lines in a CI log, where the
// failures of three lessons follow each other with no other structure.
fn failure(at: &str, o: &Outcome) -> String {
    // The tail, like the runner's cap: the error that explains an exit code is printed last.
    let tail = &o.lines[o.lines.len().saturating_sub(TAIL)..];
    let mut s = format!("{at}: {}", o.status_line());
    for l in tail {
        s.push_str("\n    │ ");
        s.push_str(l);
    }
    s
}
