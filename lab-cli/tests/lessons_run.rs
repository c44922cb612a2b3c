//! `bookstore-lab lessons check --run` through the real binary: every ```` ```bash ````
//! block of every available lesson and every checkpoint task's check, run against a
//! private full stack the command starts itself (its own MariaDB, Redis and Consul,
//! services on free ports) — so a lesson command that rots fails `make test`, with the
//! lesson, the block's line and the tail of its output in the failure message.
//!
//! It skips nothing: the only blocks not run are the ones their author marked
//! `bash norun` with a reason (the report counts them), and `lessons check` insists on
//! the reason. Budget: under 3 minutes including the stack's start; a slow block is a
//! lesson bug, not a reason to raise the timeout.

use std::process::Command;

/// The committed lessons' commands and checks all work against a fresh stack.
#[test]
fn every_lesson_command_and_checkpoint_check_runs_against_a_fresh_stack() {
    let bin = env!("CARGO_BIN_EXE_bookstore-lab");
    // `timeout` outside the binary too: if `up` hangs, the suite must fail, not stall.
    let out = Command::new("timeout")
        .arg("600")
        .arg(bin)
        .args(["lessons", "check", "--run"])
        .env("BOOKSTORE_LESSONS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons"))
        .output()
        .expect("bookstore-lab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The per-block report, printed so it is in the test's captured output: cargo shows it
    // on a failure (or with `--nocapture`), next to the assertion below.
    println!("{stdout}");
    assert!(out.status.success(), "lessons check --run failed:\n{stderr}\n{stdout}");
    // Guards against a vacuous pass: a run that found no blocks or checks checked nothing.
    let summary = stdout.lines().find(|l| l.contains("lessons check --run:")).unwrap_or_default();
    assert!(!summary.contains(" 0 command blocks"), "{summary}");
    assert!(!summary.contains(" 0 checkpoint checks"), "{summary}");
}
