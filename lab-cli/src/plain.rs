//! The same commands without a TUI: for scripts, CI and a terminal that is not one.
//!
//! When stdout is not a terminal (or with `--no-tui`) a lesson prints its text, then its
//! experiment shows indicatif progress bars on stderr and finishes with a table on
//! stdout — so `bookstore-lab lesson day30 --no-tui | tee out.txt` keeps only the
//! results. The runners are the very ones the TUI observes; only the observer differs.
//!
//! ## Why plain mode exists
//!
//! - **CI**: a CI runner has no TTY. `bookstore-lab lesson day30 --no-tui` there runs the
//!   real race and prints the DO/DON'T table to the log, so a job can check that naive still
//!   oversells on a clean machine, with the same code learners run (not wired into
//!   `.ci/` yet — the lessons check is).
//! - **scripts**: `… --no-tui | grep "DON'T"` or `tee` into a report; escape codes for a
//!   screen would be garbage in a file.
//! - **no TTY at all**: over `ssh host cmd`, inside `docker exec` without `-t`, or under
//!   an editor's task runner, raw mode fails. Detecting `stdout().is_terminal()` and
//!   falling back is kinder than an error "not a terminal".
//!
//! ✅ DO keep plain mode a second *observer* of the same runner. ❌ DON'T write a second
//! implementation of the experiment for scripts — the two would drift, and CI would test
//! the one learners never see.
//!
//! Progress goes to stderr, results to stdout: the Unix convention that makes
//! `2>/dev/null` leave exactly the data.
//!
//! Example session, so the two streams are clear:
//!
//! ```text
//! $ bookstore-lab lesson day30 --no-tui --stock 50 --buyers 500 --duration 0 2>/dev/null
//! …the lesson text…
//! ==> 实验：库存 50 · 买家 500 · 每人抢一次
//!       naive: sold 180/50 oversell 130 remaining -130 sales/s 450 attempts/s 1250 p99 12.4ms
//!  for-update: sold 50/50 oversell 0 remaining 0 sales/s 62 attempts/s 625 p99 40.1ms
//!         lua: sold 50/50 oversell 0 remaining 0 sales/s 200 attempts/s 2000 p99 3.0ms
//!
//!         strategy          TPS  ×for-update   sold oversell   left errors  why
//! DON'T   naive            1250        2.00×    180      130   -130      0  先查后改…
//! …
//! ```
//!
//! (Illustrative numbers: the ratios are what to compare, and they come from one run.)

mod cache;
pub mod columns;
mod lesson;
mod orders;
mod payments;
mod race;

use std::{path::Path, time::Duration};

use crate::{
    dashboard::{self, Poller},
    lessons::{Library, check, progress::Progress},
};
pub use cache::cache_with_lines;
pub use lesson::lesson;
pub use orders::orders_with_lines;
pub use payments::payments_with_lines;
pub use race::race_with_bars;

// Same three states as the TUI's home list, same words, so a screenshot in the course
// notes matches either mode.
/// `bookstore-lab lessons`: the list with progress.
pub fn list(lib: &Library, progress: &Progress) {
    // Padded by display width (`columns`): every mark is six columns wide, but 未开放 is
    // three chars and ✔ 完成 four, so `{:<8}` (chars) started a done lesson's title early.
    let cols = [-6, -7, -6];
    for l in &lib.manifest.lessons {
        let mark = if !l.is_available() {
            "未开放"
        } else if progress.is_done(&l.id) {
            "✔ 完成"
        } else {
            "可学习"
        };
        // The title goes last, unpadded: it is the one cell whose length is free.
        println!("{} {}", columns::row(&cols, &[&l.id, &format!("Day {}", l.day), mark]), l.title);
    }
}

// Every problem is printed, not only the first: a lesson author who renamed a file sees
// all broken references at once instead of fixing them one CI run at a time.
/// `bookstore-lab lessons check`: prints every problem; false if there was one.
pub fn check(dir: &Path) -> bool {
    // Static only: files, anchors and source references are read, nothing is run, so this
    // is the check CI can afford on every push (`--run` needs a whole private stack).
    let report = check::run(dir);
    for p in &report.problems {
        eprintln!("✘ {p}");
    }
    if report.is_ok() {
        println!(
            "✔ lessons check: {} lessons, {} source references, all resolve ({})",
            report.lessons,
            report.references,
            dir.display()
        );
    } else {
        eprintln!("lessons check: {} problem(s)", report.problems.len());
    }
    report.is_ok()
}

// Progress goes to stdout line by line (a CI log shows where it is), failures to stderr
// at the end, all together, each with its output's tail — the part a reader needs first.
/// `lessons check --run`: a private stack, every command and check; false on a failure.
pub async fn check_run(dir: &Path, only: Option<&str>) -> anyhow::Result<bool> {
    let lib = Library::load(dir)?;
    println!("==> 启动一套私有环境（up --free-ports，自带 MariaDB / Redis / Consul）…");
    let started = std::time::Instant::now();
    // Private (its own lab directory and free ports), so a learner's running stack is
    // neither used nor disturbed: the commands start from the state a fresh learner has.
    let stack = crate::lessons::live::PrivateStack::up()?;
    println!("==> 环境就绪（{:.0} s），开始运行课程命令", started.elapsed().as_secs_f64());
    let report =
        crate::lessons::live::run(&lib, stack.dir(), only, |line| println!("{line}")).await;
    // Dropped before the report is printed: the stack's teardown kills its processes, and
    // a learner reading failures should not have a dozen services still holding ports.
    drop(stack);
    for f in &report.failures {
        eprintln!("✘ {f}");
    }
    let summary = format!(
        "{} command blocks, {} checkpoint checks, {} norun, {:.0} s",
        report.blocks,
        report.checks,
        report.norun,
        started.elapsed().as_secs_f64()
    );
    if report.failures.is_empty() {
        println!("✔ lessons check --run: {summary}");
    } else {
        eprintln!("lessons check --run: {} failure(s) · {summary}", report.failures.len());
    }
    Ok(report.failures.is_empty())
}

// The first poll's result is thrown away on purpose: it only establishes the baseline
// scrape. Printing it would show `-` for every rate and look broken.
// A script can run this every minute (cron, a CI job after `up`) and get the same
// numbers the TUI would show, without keeping a terminal open.
/// `bookstore-lab dashboard --no-tui`: two polls a second apart (rates need two
/// scrapes), then the table.
pub async fn dashboard(lab_dir: &Path) {
    let mut poller = Poller::new(lab_dir);
    poller.poll().await;
    // One second, the TUI's refresh, so this table and the screen's "最近 1 秒" describe
    // the same window. The rates divide by the interval measured between the two scrapes
    // (each timestamped after it returned), so a slow poll does not inflate them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    print!("{}", dashboard::table(&poller.poll().await));
}
