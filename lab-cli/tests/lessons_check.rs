//! `lessons check` on the real `lessons/` directory: a broken manifest or a source
//! reference whose file or marker is gone fails `cargo test` (and so `make test` and CI).
//!
//! This is the drift alarm for lessons: the moment someone renames
//! `services/inventory/src/race.rs` or deletes a `lesson:…` marker, this test fails with
//! the lesson file and line, in the same CI run as the change that broke it. The unit tests
//! in `lessons::check` prove the rules on small fixtures; these two prove them on the real
//! content and through the real command line.
//!
//! Run only this file with `cargo test -p bookstore-lab --test lessons_check`; no database
//! or stack is needed, so it is the quickest check after editing a lesson or moving code
//! that a lesson quotes.

use std::process::Command;

// The second assertion guards against a vacuous pass: a lesson set that quotes nothing
// would pass every reference check trivially.
/// The committed lessons pass the check: manifest valid, every reference resolves.
#[test]
fn the_real_lessons_pass_lessons_check() {
    // The committed `lessons/`, found relative to this crate at compile time, so the test
    // checks the same files whatever directory cargo runs it from.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons");
    // The library function, called directly: a failure shows every problem in the assertion
    // message, which is faster to read than a subprocess's stderr.
    let report = bookstore_lab::lessons::check::run(std::path::Path::new(dir));
    assert!(report.is_ok(), "lessons check failed:\n{}", report.problems.join("\n"));
    assert!(report.references > 0, "the lessons quote no source at all");
}

// Exit status is the contract scripts and CI rely on; the message must name the broken
// reference so a teacher can fix it without reading code.
/// The binary's `lessons check` exits 0 on the real lessons and non-zero on a broken one.
#[test]
fn the_lessons_check_command_exits_non_zero_on_a_broken_reference() {
    // Cargo builds the binary before integration tests and names its path here, so the
    // test runs the binary a learner runs — no `cargo run` (and no second build) inside it.
    let bin = env!("CARGO_BIN_EXE_bookstore-lab");
    // `BOOKSTORE_LESSONS_DIR` pins the lessons the binary checks, independent of the test's
    // working directory (cargo runs integration tests from the package directory).
    let ok = Command::new(bin)
        .args(["lessons", "check"])
        .env("BOOKSTORE_LESSONS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons"))
        .output()
        .unwrap();
    // The passing case first: a binary that failed on every input (say, one that could not
    // find `lessons/` at all) would pass the broken-reference half below on its own.
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    // A broken lesson set in a temporary directory: one lesson whose reference points at a
    // file that does not exist — the most common drift (a renamed file).
    let root = tempfile::tempdir().unwrap();
    let lessons = root.path().join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    // The smallest valid manifest: one available lesson. Everything about it is right
    // except the one reference, so the only possible failure is the one under test.
    std::fs::write(
        lessons.join("manifest.toml"),
        "format_version = 1\n[[lesson]]\nid = \"x\"\nday = 30\ntitle = \"t\"\nstatus = \"available\"\nfile = \"x.md\"\n",
    )
    .unwrap();
    // All five required sections, so the section check passes and the reference is the
    // only problem reported.
    std::fs::write(
        lessons.join("x.md"),
        "## 核心概念\n## DO / DON'T\n{{source: missing.rs#gone}}\n## 实验\n## 常见陷阱\n## 自己动手验证\n",
    )
    .unwrap();
    let bad = Command::new(bin)
        .args(["lessons", "check"])
        .env("BOOKSTORE_LESSONS_DIR", &lessons)
        .output()
        .unwrap();
    // Both the exit status and the message: a non-zero exit without the reference in the
    // message would leave a teacher guessing which of many references broke.
    assert!(!bad.status.success());
    // On stderr, where `plain::check` prints problems: stdout stays free for the one-line
    // success summary, so `lessons check > /dev/null` still shows what broke.
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.rs#gone"));
}
