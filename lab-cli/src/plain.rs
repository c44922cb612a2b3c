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
//!       naive: sold 180/50 oversell 130 remaining -130 tps 1250 p99 12.4ms
//!  for-update: sold 50/50 oversell 0 remaining 0 tps 625 p99 40.1ms
//!         lua: sold 50/50 oversell 0 remaining 0 tps 2000 p99 3.0ms
//!
//!         strategy          TPS  ×for-update   sold oversell   left errors  why
//! DON'T   naive            1250        2.00×    180      130   -130      0  先查后改…
//! …
//! ```
//!
//! (Illustrative numbers: the ratios are what to compare, and they come from one run.)

use std::{path::Path, sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::{
    dashboard::{self, Poller},
    experiments::{
        arena::Arena,
        cache::{self, CacheEvent, CacheParams, CacheTargets},
        race::{self, RaceEvent, RaceParams},
    },
    lessons::{ExperimentKind, Library, check, progress::Progress},
};

// Same three states as the TUI's home list, same words, so a screenshot in the course
// notes matches either mode.
/// `bookstore-lab lessons`: the list with progress.
pub fn list(lib: &Library, progress: &Progress) {
    // Fixed-width columns via `{:<8}` work for the ASCII id, but Chinese marks are two columns
    // wide per character, so the title column may not line up perfectly — acceptable for a
    // list of seven; the TUI home screen is the polished view.
    for l in &lib.manifest.lessons {
        let mark = if !l.is_available() {
            "未开放"
        } else if progress.is_done(&l.id) {
            "✔ 完成"
        } else {
            "可学习"
        };
        println!("{:<6} Day {}  {:<8} {}", l.id, l.day, mark, l.title);
    }
}

// Every problem is printed, not only the first: a lesson author who renamed a file sees
// all broken references at once instead of fixing them one CI run at a time.
/// `bookstore-lab lessons check`: prints every problem; false if there was one.
pub fn check(dir: &Path) -> bool {
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

// The lesson text is printed first so a log reads like the lesson: the explanation, then
// the evidence. The cache experiment runs 10 s here instead of 30 s: nobody presses `p`
// or `u` in a script, so the extra 20 s would only repeat the same numbers.
/// `bookstore-lab lesson <id> --no-tui`: the text, then the experiment.
pub async fn lesson(
    lib: &Library,
    id: &str,
    lab_dir: &Path,
    race_params: RaceParams,
    targets: anyhow::Result<CacheTargets>,
) -> anyhow::Result<()> {
    // Errors here are English (they go to stderr and into issue reports); the lesson text and
    // the tables are Chinese (they are for the learner).
    let entry = lib.get(id).ok_or_else(|| anyhow::anyhow!("no lesson `{id}`"))?;
    anyhow::ensure!(entry.is_available(), "lesson `{id}` is not available yet");
    println!("{}", lib.text(entry)?);
    match entry.experiment {
        Some(ExperimentKind::Race) => {
            // The race needs only MariaDB and Redis; `try_infra_in` reads them from the lab
            // directory's `stack.json` or the `BOOKSTORE_*` variables, so it works with `up
            // --infra-only` and in CI where the services are not running.
            let infra = bookstore_stack::testing::try_infra_in(Some(lab_dir))?;
            println!("==> 实验：{}", race_params.describe());
            let results =
                race_with_bars(Arc::new(Arena::connect(&infra).await?), race_params).await?;
            println!("\n{}", race::verdict_table(&results));
        }
        // The cache targets were resolved by `main` and arrive as a `Result`: if the catalog is
        // not running, the error surfaces here — after the lesson text was printed, so the
        // learner still gets the lesson and then a clear reason why the experiment did not run.
        Some(ExperimentKind::Cache) => {
            cache_with_lines(targets?, CacheParams { duration_secs: 10, ..CacheParams::default() })
                .await?
        }
        None => {}
    }
    Ok(())
}

/// Runs the race with one progress bar per strategy.
///
/// indicatif draws on stderr and hides itself when stderr is not a terminal, so in CI
/// the log shows only the one summary line per strategy and the final table - the same
/// numbers the TUI shows, from the same runner.
pub async fn race_with_bars(
    arena: Arc<Arena>,
    params: RaceParams,
) -> anyhow::Result<Vec<race::StrategyResult>> {
    // The runner is spawned and this function is its observer: the same division of labour
    // as the TUI, with progress bars in place of lanes.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(race::run(arena, params, tx));
    // `expect` on a constant template is a programming error caught by the first run, not a
    // runtime condition to handle.
    let style = ProgressStyle::with_template("{prefix:>11} [{bar:30}] {pos}/{len} {msg}")
        .expect("valid template")
        .progress_chars("=> ");
    // One bar at a time, matching the sequential race: a `MultiProgress` with three bars would
    // suggest the strategies run together, which they deliberately do not.
    let mut bar: Option<ProgressBar> = None;
    while let Some(e) = rx.recv().await {
        match e {
            RaceEvent::Started(s) => {
                // The bar's unit follows the mode: attempts in a one-shot race (the bar ends when every
                // buyer has tried), milliseconds in a timed one (the bar is a clock).
                let len = match params.duration_secs {
                    0 => u64::from(params.buyers),
                    d => u64::from(d) * 1000,
                };
                let b = ProgressBar::new(len).with_style(style.clone());
                b.set_prefix(s.label());
                bar = Some(b);
            }
            RaceEvent::Progress(_, snap) => {
                if let Some(b) = &bar {
                    b.set_position(match params.duration_secs {
                        0 => snap.completed(),
                        _ => snap.elapsed.as_millis() as u64,
                    });
                    // The live oversell uses the same `race::oversell` as the TUI's lanes: one definition of
                    // the number, whatever prints it.
                    b.set_message(format!(
                        "sold {} oversell {} tps {:.0}",
                        snap.successes,
                        race::oversell(snap.successes, params.stock),
                        snap.tps()
                    ));
                }
            }
            // One summary line per strategy, printed even when the bar is hidden, so a CI log keeps
            // the per-strategy numbers and not only the final table.
            RaceEvent::Finished(r) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                println!(
                    "{:>11}: sold {}/{} oversell {} remaining {} sales/s {} attempts/s {:.0} p99 {}",
                    r.strategy.label(),
                    r.sold(),
                    r.stock,
                    r.oversell(),
                    r.remaining,
                    r.sales_per_sec().map_or("-".to_string(), |s| format!("{s:.0}")),
                    r.attempts_per_sec(),
                    crate::ui::fmt_us(r.summary.p99_us)
                );
            }
            // `Failed` needs no print here: the runner also returns the error, and `runner.await?`
            // below propagates it to `main`, which prints it and exits non-zero — what a script
            // needs to notice.
            RaceEvent::Done | RaceEvent::Failed(_) => {}
        }
    }
    // The runner's own results are returned (not rebuilt from the events), so the caller
    // prints the table from exactly the numbers the bars showed.
    runner.await?
}

// One line per second instead of a bar: the interesting output is the time series
// (hit rate settling, then dipping at a write), and a bar would overwrite it.
// What it looks like (illustrative):
// ```text
// ==> 实验：200 本书，Zipf s=1.1，最热 #200
//    1s  tps    2950  hit  41.3% (total  41.3%)  hot stock 10
//    2s  tps    3410  hit  88.9% (total  65.2%)  hot stock 10
//    3s  tps    3390  hit  95.7% (total  75.4%)  hot stock 10
// ```
// The per-second rate rising while the total lags behind is the cold start; the gap
// between them is why the TUI plots the per-second one.
/// Runs the cache experiment, printing one line per second.
pub async fn cache_with_lines(targets: CacheTargets, params: CacheParams) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(cache::run(targets, params, tx));
    let pct = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
    while let Some(e) = rx.recv().await {
        match e {
            CacheEvent::Started { books, hot } => {
                println!("==> 实验：{books} 本书，Zipf s={}，最热 #{hot}", params.skew)
            }
            CacheEvent::Progress { load, last_second, total, hot_stock } => println!(
                "{:>4.0}s  tps {:>7.0}  hit {:>6} (total {:>6})  hot stock {}",
                load.elapsed.as_secs_f64(),
                load.tps(),
                pct(last_second.rate()),
                pct(total.rate()),
                hot_stock.map_or("-".into(), |s| s.to_string())
            ),
            CacheEvent::Note(n) => println!("{n}"),
            CacheEvent::Done | CacheEvent::Failed(_) => {}
        }
    }
    runner.await?
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
    tokio::time::sleep(Duration::from_secs(1)).await;
    print!("{}", dashboard::table(&poller.poll().await));
}
