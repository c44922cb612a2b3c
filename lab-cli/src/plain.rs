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

use std::{path::Path, sync::Arc, time::Duration};

use bookstore_loadgen::Snapshot;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::{
    dashboard::{self, Poller},
    experiments::{
        arena::Arena,
        cache::{self, CacheEvent, CacheParams, CacheTargets, HitCounts},
        orders::{self, OrderParams, OrderTargets, OrdersEvent},
        payments::{self, PaymentTargets, Scenario},
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
    let text = lib.text(entry)?;
    println!("{text}");
    match entry.experiment {
        Some(ExperimentKind::Race) => {
            // The race needs only MariaDB and Redis; `try_infra_in` reads them from the lab
            // directory's `stack.json` or the `BOOKSTORE_*` variables, so it works with `up
            // --infra-only` and in CI where the services are not running.
            let infra = bookstore_stack::testing::try_infra_in(Some(lab_dir))?;
            println!("==> 实验：{}", race_params.describe());
            let results =
                race_with_bars(Arc::new(Arena::connect(&infra).await?), race_params).await?;
            // Table, then reveals: the reveal text quotes this run's figures (`race::figures`),
            // so it must come after the numbers it explains, as in the TUI.
            println!("\n{}", race::verdict_table(&results));
            print_reveals(&text, &race::figures(&results));
        }
        // The cache targets were resolved by `main` and arrive as a `Result`: if the catalog is
        // not running, the error surfaces here — after the lesson text was printed, so the
        // learner still gets the lesson and then a clear reason why the experiment did not run.
        Some(ExperimentKind::Cache) => {
            let params = CacheParams { duration_secs: 10, ..CacheParams::default() };
            let figures = cache_with_lines(targets?, params).await?;
            print_reveals(&text, &figures);
        }
        // The four service addresses are read here rather than by `main`: only this lesson
        // needs them, and a missing service fails after the text, like the cache.
        Some(ExperimentKind::Orders) => {
            let ctx = crate::tui::Context { lab_dir: lab_dir.to_path_buf() };
            orders_with_lines(ctx.order_targets()?, OrderParams::default()).await?
        }
        // Scripted: two instances, kill -9 one under load, restart it; fails (non-zero exit)
        // if a single request of the load failed — the lesson's claim, checked.
        Some(ExperimentKind::Discovery) => {
            let targets = crate::experiments::discovery::DiscoveryTargets::from_lab(lab_dir)?;
            crate::experiments::discovery::script(targets, |line| println!("{line}")).await?;
        }
        Some(ExperimentKind::Payments) => {
            let ctx = crate::tui::Context { lab_dir: lab_dir.to_path_buf() };
            payments_with_lines(&ctx).await?
        }
        // Scripted: every fault type once while the sale runs; exits non-zero if any
        // invariant broke, so `make test` (and a learner's CI) can hold the system to it.
        Some(ExperimentKind::Flash) => {
            use crate::experiments::flash;
            let targets = flash::FlashTargets::from_lab(lab_dir)?;
            // `BOOKSTORE_FLASH_FAULTS=redis,mysql` runs only those (in that order, 4 s apart):
            // one fault at a time is how you find which one a symptom belongs to.
            let faults = std::env::var("BOOKSTORE_FLASH_FAULTS")
                .unwrap_or_else(|_| flash::DEFAULT_FAULTS.into());
            let params = flash::FlashParams::default();
            // The sale's error is kept, not returned yet: the checklist below still runs, and
            // `sale?` after it makes the exit code say the sale broke.
            let sale = flash::script(targets, params, &faults, |line| println!("{line}")).await;
            if let Ok(summary) = &sale {
                print_reveals(&text, &flash::figures(summary));
            }
            // The checklist runs even after a broken sale: it says what else is wrong. Its
            // functional lines (every RPC answers, Consul passing) fail the run; the
            // performance targets do not — they depend on the machine, not on the code.
            println!("==> Week 6 完成标准（对照正在运行的环境与你保存的 bench 结果）");
            let items = flash::checklist::run(lab_dir).await?;
            for line in flash::checklist::lines(&items) {
                println!("{line}");
            }
            sale?;
            // The first two items are the functional ones (every RPC answers, Consul passing:
            // `checklist::run` lists them first); a new item inserted before them would make
            // this slice judge a performance target instead.
            let functional = &items[..items.len().min(2)];
            let broken: Vec<&str> = functional
                .iter()
                .filter(|i| i.ok == Some(false))
                .map(|i| i.label.as_str())
                .collect();
            anyhow::ensure!(
                broken.is_empty(),
                "completion criteria not met: {}",
                broken.join("; ")
            );
        }
        None => {}
    }
    Ok(())
}

// The same run as the TUI, with the keys pressed by the script in the lesson's order: the
// burst, `c`, `f` (that order, see the `0 =>` stage below), then the expiry countdown. It does not wait the lab's 2 minutes for the
// expiry — a script would sit idle for them; the line says when it will happen and the TUI
// (or `mysql`, see the lesson) shows it. What it looks like (illustrative numbers):
// ```text
// ==> 实验：库存 5 · 顾客 4 · 并发下单 20 · 图书 #212
// 调用链：∥ValidateToken  0.00+0.81ms  ∥GetBook-212  0.00+1.10ms  claim 1.10+0.52ms …
// 下单：已创建 5 · 被拒绝 16 · 错误 0 (含第一笔单独下的)
// 库存：available 0 · locked 5 · sold 0 · total 5 · 守恒 ✔
// f: 提交失败（Unavailable）：订单 #… 先锁定 1 件 → 补偿释放 1 件 …
// ```
// Why the script presses the keys itself instead of only printing the burst: the Day 32
// claims are about what happens *after* the burst — a failed commit gives its lock back,
// a cancel returns units at once — and a CI log that only showed "5 created, 16 refused"
// would test Day 31 and leave Day 32's compensation unchecked. Every line printed is read
// from the services (stock from GetStock, the lock/release pair from the stock log), so a
// regression in the compensation shows up as a ✘ or a "没有锁定任何库存" line in the log.
// The runner's watcher is aborted at the end, which is safe: it only reads, and the orders
// it leaves Pending expire on their own through the sweeper within the lab's window.
/// Runs the orders experiment and prints each stage as a line.
pub async fn orders_with_lines(targets: OrderTargets, params: OrderParams) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Run 1: plain mode runs one experiment per process, so the run tag the TUI uses to
    // drop a previous run's late events has nothing to tell apart here.
    let runner = tokio::spawn(orders::run(1, targets.clone(), params, tx));
    let (mut book, mut tokens) = (0, Vec::new());
    // The script's position: after the burst, the first sample prints the stock, then `f`
    // and `c` run, and the sample after the cancel prints the stock again.
    let (mut stage, mut cancelled_before) = (0, 0);
    while let Some(e) = rx.recv().await {
        match e {
            OrdersEvent::Ready { book: b, tokens: t, .. } => {
                (book, tokens) = (b, t);
                println!("==> 实验：{} · 图书 #{book}", params.describe());
            }
            OrdersEvent::Chain { steps, .. } => {
                println!("调用链（一次 CreateOrder，合计 {:.2}ms）：", orders::chain_total(&steps));
                let total = orders::chain_total(&steps);
                for s in &steps {
                    let (start, len) = s.bar(total, 40);
                    println!(
                        "  {}{:<13} {}{}{} {:>7.2}ms",
                        if s.parallel() { "∥" } else { " " },
                        s.name,
                        " ".repeat(start),
                        "#".repeat(len),
                        " ".repeat(40 - start - len),
                        s.dur_ms
                    );
                }
            }
            // Burst progress is the TUI's animation; a log wants the burst's final counts only.
            OrdersEvent::Burst { .. } | OrdersEvent::Done { .. } => {}
            OrdersEvent::BurstDone { load, .. } => println!(
                "并发下单：已创建 {} · 被拒绝 {}（FAILED_PRECONDITION）· 错误 {} · p50 {} · p99 {}（另有第一笔单独下的 1 单）",
                load.successes,
                load.rejections,
                load.failures,
                crate::ui::fmt_us(load.p50_us),
                crate::ui::fmt_us(load.p99_us)
            ),
            OrdersEvent::Watch { stock, pending, cancelled, now, .. } => {
                // Samples taken before the cancel landed are skipped: the line after `c` must
                // show the stock that came back, not a sample from a second earlier.
                if stage == 1 && cancelled <= cancelled_before {
                    continue;
                }
                let c = orders::conservation(&stock, &pending);
                println!(
                    "库存：available {} · locked {} · sold {} · total {} · 待支付 {} 笔（{} 件）· 已取消 {} · 守恒 {}",
                    stock.available,
                    stock.locked,
                    stock.sold,
                    stock.total,
                    pending.len(),
                    c.pending_units,
                    cancelled,
                    if c.holds() { "✔" } else { "✘" }
                );
                match stage {
                    // `c` first: after the burst every unit is locked, so a failing order would be
                    // refused before it locked anything; the cancel frees one unit for `f` to lock.
                    0 => {
                        cancelled_before = cancelled;
                        if let Some(p) = pending.last() {
                            let done = orders::cancel(&targets, &tokens[p.shopper], p.id).await;
                            println!("c: {}", note(done));
                        }
                        println!(
                            "f: {}",
                            note(orders::fail_commit(&targets, &tokens[0], book).await)
                        );
                    }
                    _ => {
                        if let Some(p) = pending.first() {
                            println!(
                                "e: 最早的订单 #{} 将在 {} 秒后过期，由 sweeper 取消并释放库存（TUI 中按 e 观察）",
                                p.id,
                                crate::app::orders::countdown_secs(p.expires_at, now)
                            );
                        }
                        break;
                    }
                }
                stage += 1;
            }
            OrdersEvent::Note { text, .. } => println!("{text}"),
            OrdersEvent::Failed { message, .. } => anyhow::bail!(message),
        }
    }
    // The watcher would go on sampling until the orders expire; the script has what it came for.
    runner.abort();
    Ok(())
}

// All four scenarios in the lesson's order, each a line per step as it happens and a
// verdict line, then a non-zero exit if any verdict is ✘ — so a CI job running
// `bookstore-lab lesson day34 --no-tui` fails when a duplicate callback sells twice or a
// late payment is not refunded. The targets are re-read before every scenario because
// scenario 3 restarts payment-service (a new pid and metrics port). About 20 s in all.
/// Runs the four payment scenarios and prints each step and verdict.
pub async fn payments_with_lines(ctx: &crate::tui::Context) -> anyhow::Result<()> {
    // `setup` (the shopper and book of scenario 1) is threaded through: the later scenarios
    // reuse it like the TUI does, so four scenarios cost one registration, not four.
    // `failed` counts verdicts rather than stopping at the first ✘: a CI log should show
    // every broken invariant of the run at once.
    let mut setup = None;
    let mut failed = 0;
    for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
        let targets: PaymentTargets = ctx.payment_targets()?;
        println!("==> 场景 {}：{}", i + 1, scenario.label());
        let (tx, mut rx) = mpsc::unbounded_channel();
        // The printer also keeps the first scenario's shopper and book (its `Ready`), so the
        // next three reuse them as the TUI does.
        let printer = tokio::spawn(async move {
            let mut ready = None;
            while let Some(e) = rx.recv().await {
                match e {
                    payments::PaymentsEvent::Step { step, .. } => {
                        println!("  {:>+8.3}s  {}", step.at_ms as f64 / 1000.0, step.what)
                    }
                    payments::PaymentsEvent::Ready { setup, .. } => ready = Some(setup),
                    _ => {}
                }
            }
            ready
        });
        let report = payments::run(i as u64 + 1, targets, scenario, setup.clone(), tx).await;
        // The printer is awaited before the verdict line: `run` returned, so its sender is
        // dropped and every step line is already out — the verdict is always the last line.
        if let Ok(Some(made)) = printer.await {
            setup = Some(made);
        }
        let report = report?;
        let (ok, why) = report.verdict();
        failed += usize::from(!ok);
        println!(
            "  {} 支付 {:?} · 订单 {:?} · {why}",
            crate::app::payments::mark(ok),
            report.payment_status,
            report.order_status
        );
    }
    anyhow::ensure!(failed == 0, "{failed} payment scenario(s) broke an invariant");
    Ok(())
}

/// An action's answer or its failure, as one line.
fn note(r: anyhow::Result<String>) -> String {
    r.unwrap_or_else(|e| format!("失败：{e:#}"))
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
                // Cleared, not finished in place: the summary line below replaces the bar, so a
                // terminal log and a CI log (bar hidden) end up with the same lines.
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
pub async fn cache_with_lines(
    targets: CacheTargets,
    params: CacheParams,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    // The run's last totals and load snapshot, for the reveal keys (`cache::figures`).
    let mut last = (HitCounts::default(), Snapshot::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(cache::run(targets, params, tx));
    let pct = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
    while let Some(e) = rx.recv().await {
        match e {
            CacheEvent::Started { books, hot } => {
                println!("==> 实验：{books} 本书，Zipf s={}，最热 #{hot}", params.skew)
            }
            CacheEvent::Progress { load, last_second, total, hot_stock } => {
                // Mind the windows: `tps` is the engine's average since the start (`tps()`),
                // while the first hit rate is the last second's — a cold start shows in the
                // hit column at once and in the tps column only slowly.
                println!(
                    "{:>4.0}s  tps {:>7.0}  hit {:>6} (total {:>6})  hot stock {}",
                    load.elapsed.as_secs_f64(),
                    load.tps(),
                    pct(last_second.rate()),
                    pct(total.rate()),
                    hot_stock.map_or("-".into(), |s| s.to_string())
                );
                last = (total, load);
            }
            CacheEvent::Note(n) => println!("{n}"),
            CacheEvent::Done | CacheEvent::Failed(_) => {}
        }
    }
    // Two `?`: the task's join (a panic in the run) and the run's own error (catalog gone).
    runner.await??;
    Ok(cache::figures(&last.0, &last.1))
}

// Plain mode has no "session": the experiment just ran, so its reveals are due now, after
// the report they explain (lesson format §3). The body is printed as Markdown, like the
// lesson text above it.
/// Prints every `reveal` block of `text` with its placeholders filled from `figures`.
fn print_reveals(text: &str, figures: &[(&'static str, String)]) {
    use crate::lessons::blocks::{self, BlockKind};
    for b in blocks::blocks(text).into_iter().filter(|b| b.kind == BlockKind::Reveal) {
        let body = blocks::fill(&b.body, |k| {
            figures.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        });
        println!("\n==> 先猜再看 · 答案（本次实测）\n{}", body.trim_end());
    }
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
