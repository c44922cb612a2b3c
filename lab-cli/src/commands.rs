//! The body of each `bookstore-lab` command, one function per subcommand.
//!
//! Binary-only (declared in `main.rs`): `main` parses and dispatches, these functions do
//! the work by calling the library (`bookstore_lab::…`) or the stack supervisor. Each one
//! decides its own exit code, as the module doc of `main.rs` lists them.
//!
//! ## How each command opens the stack
//!
//! Every command but `lessons` opens the lab directory, and none starts the stack as a
//! side effect except `up` and the bare `bookstore-lab` in a terminal. `Supervisor::open`
//! creates the directory and reads `stack.json`; it starts nothing and probes nothing.
//! What happens next differs: `up`/`down` take the directory lock and change processes;
//! `status` probes each recorded component (the record is a claim, the probe is the
//! answer); `bench` reads only the infrastructure addresses and starts its own services;
//! `lesson` and `dashboard` read the directory (progress, addresses) and open on a stopped
//! stack without starting it (an experiment's own kill-and-restart steps aside) — a screen
//! that starts MariaDB because someone wanted to read Day 30 would surprise the learner
//! and hide that their stack was down.

use std::path::Path;

use anyhow::Context;
use bookstore_lab::{
    app::App,
    bench::{BenchOptions, BenchTarget},
    experiments::race::RaceParams,
    lessons::{Library, progress::Progress},
    plain,
    plain::columns,
    tui,
};
use bookstore_stack::{Supervisor, UpOptions};

use crate::cli::LessonsAction;

// A function, not an early call in `main`: `Supervisor::open` creates the directory, while
// `lessons check` never needs it and `lessons` only reads `progress.json` from it if it
// exists — both must work in a fresh clone without leaving an empty `.lab/` behind.
// `with_context` makes every error name the directory it was about.
/// Opens (and creates if needed) the lab directory; starts nothing.
pub fn open(dir: &Path) -> anyhow::Result<Supervisor> {
    Supervisor::open(dir).with_context(|| format!("stack directory {}", dir.display()))
}

/// `bookstore-lab up`: start what is missing, then print the live status table.
pub async fn up(dir: &Path, opts: UpOptions) -> anyhow::Result<()> {
    let mut sup = open(dir)?;
    // On the `select!` below: if Ctrl-C wins, the `up` future is dropped mid-way and some
    // processes may already run. A fresh supervisor re-reads `stack.json` (written as each
    // component starts) and stops exactly those — ❌ DON'T leave a half-started stack
    // holding ports 3306/6379 that make the next `up` fail.
    // Ctrl-C while starting: stop what was already started, leave nothing behind.
    // Dropping the `up` future also drops its directory lock (an `flock` on a file
    // it owns), so the `down` in the Ctrl-C arm does not wait behind itself.
    tokio::select! {
        r = sup.up(&opts) => {
            // A failed `up` is rolled back as a whole, not left half-up: a half-started
            // stack holds its ports and passes part of `status`, which reads like a running
            // lab with one broken service instead of the failed start it is.
            if let Err(e) = r {
                eprintln!("error: {e:#}");
                eprintln!("==> stopping what was started");
                // If the rollback fails too, `?` exits 1 with that error; the `up` error
                // is already on stderr above it, so neither is lost.
                sup.down().await?;
                std::process::exit(1);
            }
        }
        _ = tokio::signal::ctrl_c() => {
            // The leading newline: the terminal echoed `^C` mid-line, and the message
            // should start on a line of its own.
            eprintln!("\ninterrupted; stopping what was started");
            let mut sup = Supervisor::open(dir)?;
            sup.down().await?;
            // 130 = 128 + SIGINT (2), the shell's convention for "ended by Ctrl-C"; scripts can tell
            // an interrupted `up` from a failed one (exit 1). `exit` skips destructors, which is fine
            // here: the stack was already stopped above, and no terminal guard exists in this mode.
            std::process::exit(130);
        }
    }
    // The table after `up` is the proof that it worked: each row is a live probe, not
    // the record `up` just wrote. Its health does not change the exit code — `up`
    // already succeeded; use `status` for a verdict.
    print_status(&sup, false).await;
    Ok(())
}

// `down` stops only what this lab directory's `stack.json` says it started (by process
// group), never "every mariadbd on the machine": a learner's own database, or another
// checkout's lab, is not ours to kill.
// The data directory stays: progress and the seeded catalogue survive a `down`/`up`
// cycle, and deleting the directory is the deliberate way to start over.
/// `bookstore-lab down`: stop every process this lab directory recorded.
pub async fn down(dir: &Path) -> anyhow::Result<()> {
    let mut sup = open(dir)?;
    sup.down().await?;
    eprintln!("==> stack stopped ({})", sup.dir().display());
    Ok(())
}

/// `bookstore-lab status [--json]`: probe every component; exit 1 unless all are healthy.
pub async fn status(dir: &Path, json: bool) -> anyhow::Result<()> {
    let healthy = print_status(&open(dir)?, json).await;
    // A non-zero exit for "something is unhealthy" makes `status` usable in scripts and CI
    // (`bookstore-lab status || exit 1`), the same contract as `systemctl is-active`.
    if !healthy {
        std::process::exit(1);
    }
    Ok(())
}

// The bench reuses the lab's MariaDB and Redis but starts its own service instances
// in-process, so it never measures (or disturbs) the learner's running services.
// The infrastructure comes from `BOOKSTORE_*` variables if all three are set, else
// from this directory's `stack.json`; with neither it fails at once with a hint
// rather than after a warm-up. The report is saved as
// `<lab dir>/results/bench-<target>.json` because the Week 6 checklist reads the
// learner's own figures from there.
/// `bookstore-lab bench <target>`: run it and save the report in the lab directory.
pub async fn bench(dir: &Path, target: BenchTarget, mut opts: BenchOptions) -> anyhow::Result<()> {
    let sup = open(dir)?;
    opts.infra = bookstore_stack::testing::try_infra_in(Some(sup.dir()))?;
    let report = bookstore_lab::bench::run(target, &opts).await?;
    bookstore_lab::bench::save(sup.dir(), target, &report)?;
    Ok(())
}

// Output meant for `eval "$(bookstore-lab env)"`; `CONSUL_HTTP_ADDR` is the variable the
// `consul` CLI itself reads, so the learner's `consul catalog services` just works.
/// `bookstore-lab env`: the stack's addresses as `export` lines.
pub fn env(dir: &Path) -> anyhow::Result<()> {
    // The same pairs the lesson runner exports (`lab_env::vars`), so a command that works
    // in the TUI works in the learner's shell after `eval "$(bookstore-lab env)"`.
    for (k, v) in bookstore_lab::lab_env::vars(open(dir)?.state()) {
        println!("export {k}={v}");
    }
    Ok(())
}

/// `bookstore-lab lessons [check [--run]]`: list with progress, or validate `lessons/`.
pub async fn lessons(dir: &Path, action: Option<LessonsAction>) -> anyhow::Result<()> {
    // `find_dir`: `BOOKSTORE_LESSONS_DIR`, else the nearest `lessons/manifest.toml`
    // above the current directory, else the checkout the binary was built from — the
    // same rule as `default_dir`, so `lessons` and `lesson` read the same course.
    let lessons_dir = bookstore_lab::lessons::find_dir()?;
    match action {
        Some(LessonsAction::Check { run, only }) => {
            // Problems go to stderr and the verdict to the exit code, so CI fails the
            // build on a broken reference without parsing the output. The text check
            // first: a lesson that does not parse is not worth a stack start.
            if !plain::check(&lessons_dir) {
                std::process::exit(1);
            }
            if run && !plain::check_run(&lessons_dir, only.as_deref()).await? {
                std::process::exit(1);
            }
        }
        None => {
            let lib = Library::load(&lessons_dir)?;
            plain::list(&lib, &Progress::load(dir)?);
        }
    }
    Ok(())
}

// `--reset` is handled before anything that needs a running stack, so resetting
// progress works even when nothing is running. The lesson itself does not start the
// stack either: its experiment fails with `try_infra_in`'s "no running
// infrastructure" hint when run, while the text stays readable.
/// `bookstore-lab lesson <id>`: the lesson screen (or its plain text and experiment).
pub async fn lesson(
    dir: &Path,
    tui_mode: bool,
    id: &str,
    reset: bool,
    params: RaceParams,
) -> anyhow::Result<()> {
    let sup = open(dir)?;
    let lib = Library::discover()?;
    let mut progress = Progress::load(sup.dir())?;
    if reset {
        let was = progress.reset(id);
        progress.save(sup.dir())?;
        println!("{id}: {}", if was { "进度已重置" } else { "本来就未完成" });
        return Ok(());
    }
    let ctx = tui::Context { lab_dir: sup.dir().to_path_buf() };
    if tui_mode {
        let mut app = App::new(&lib, progress);
        // Before `tui::run`: an unknown or planned id fails here as a plain error on a
        // normal terminal, instead of inside the alternate screen where it would vanish.
        app.open_lesson(id)?;
        // The knobs start at the command line's values: `--stock 10` shows as 库存 10 on
        // the race screen, and Enter runs with it until the learner turns a knob.
        app.race.params = params;
        tui::run(app, ctx).await?;
    } else {
        // `cache_targets()` goes in as a `Result`, not through `?`: a stopped
        // catalog-service must not stop Day 30's text or race; only Day 29's experiment,
        // which needs it, reports the error — after the lesson text was printed.
        plain::lesson(&lib, id, sup.dir(), params, ctx.cache_targets()).await?;
    }
    Ok(())
}

// In plain mode the dashboard prints once (two polls a second apart) and exits: a
// script wants a snapshot; the TUI keeps polling while the screen is open. Two polls
// because QPS is the difference of two counter scrapes over their interval — a
// single scrape has counts but no rate.
/// `bookstore-lab dashboard`: the live dashboard screen, or one table in plain mode.
pub async fn dashboard(dir: &Path, tui_mode: bool) -> anyhow::Result<()> {
    let sup = open(dir)?;
    if tui_mode {
        // The library even here: Esc from the dashboard leads to the home list, which
        // is built from it.
        let lib = Library::discover()?;
        let mut app = App::new(&lib, Progress::load(sup.dir())?);
        app.screen = bookstore_lab::app::Screen::Dashboard;
        tui::run(app, tui::Context { lab_dir: sup.dir().to_path_buf() }).await?;
    } else {
        plain::dashboard(sup.dir()).await;
    }
    Ok(())
}

// A failed `up` does not prevent the TUI from opening: the lessons are readable without a
// stack, and the notice tells the learner what to fix. Refusing to start would hide the
// lessons behind an infrastructure problem.
/// `bookstore-lab` alone: in a terminal, make sure the stack runs (idempotent) and open
/// the TUI home; otherwise print the lessons and the stack's status.
pub async fn home(mut sup: Supervisor, tui_mode: bool) -> anyhow::Result<()> {
    // Lessons and progress first: a missing `lessons/` or a corrupt `progress.json` fails in
    // a moment, before `up` spends many seconds starting MariaDB for a TUI that cannot open.
    let lib = Library::discover()?;
    let progress = Progress::load(sup.dir())?;
    // Without a terminal nothing is started: a script or CI job that runs the bare command
    // gets a report of what is there, not processes it did not ask for.
    if !tui_mode {
        println!("书店微服务实验室 — 课程（bookstore-lab --help 查看全部命令）：");
        plain::list(&lib, &progress);
        println!();
        print_status(&sup, false).await;
        return Ok(());
    }
    eprintln!("==> 正在确认环境已启动（bookstore-lab up）…");
    // The message goes to stderr *before* the alternate screen is entered, so it stays in the
    // scrollback after the TUI exits — together with whatever `up` printed along the way.
    // `up` runs to completion before `tui::run` takes the screen: its progress lines go to
    // stderr, and printed into the alternate screen they would tear the first frame.
    // `UpOptions::default()` is detached as well: the stack the home screen started keeps
    // running after the TUI quits, so `bookstore-lab lesson day30` in a second terminal, or
    // the next `bookstore-lab`, finds it instead of waiting for another start.
    let started = sup.up(&UpOptions::default()).await;
    let mut app = App::new(&lib, progress);
    if let Err(e) = started {
        app.notice = Some(format!("环境未能启动：{e:#}"));
    }
    tui::run(app, tui::Context { lab_dir: sup.dir().to_path_buf() }).await
}

/// Prints one line per component; returns whether all are healthy.
async fn print_status(sup: &Supervisor, json: bool) -> bool {
    // One live probe per component recorded in `stack.json`, in its own protocol (gRPC
    // health, `SELECT VERSION()`, `INFO`, a Consul leader), never the record alone: a
    // service that died since `up` shows as unhealthy here, not as its old pid.
    let health = sup.status().await;
    // An empty list is not "all healthy": with nothing running, `status` must fail, or
    // `bookstore-lab status && run-tests` would run the tests against no stack at all.
    let all_ok = !health.is_empty() && health.iter().all(|h| h.healthy);
    if json {
        // The JSON shape is a contract for scripts: `{dir, healthy, components: [{name, address,
        // pid, healthy, detail, metrics}]}`. `pid` is null for external components (not
        // started by us), `metrics` null for infrastructure. Unlike the table, `address` is
        // not redacted here: a script may need the full URL to connect, so this output is
        // for pipes, not for pasting.
        let rows: Vec<_> = health
            .iter()
            .map(|h| serde_json::json!({"name": h.name, "address": h.address, "pid": h.pid, "healthy": h.healthy, "detail": h.detail, "metrics": metrics(sup, &h.name)}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"dir": sup.dir(), "components": rows, "healthy": all_ok})
        );
        return all_ok;
    }
    if health.is_empty() {
        println!("没有正在运行的环境（{}）。运行 `bookstore-lab up` 启动。", sup.dir().display());
        return false;
    }
    // The address column (34) pads but never truncates: a longer address (a MySQL URL)
    // shifts the rest of its row rather than losing characters someone may copy. The
    // detail column goes last because its length varies most. Padded by display width
    // (`columns`), so 组件/状态 and the ✔ 正常 marks line up with the ASCII rows.
    const COLS: [isize; 4] = [-10, -8, -34, -8];
    println!("{} 详情", columns::row(&COLS, &["组件", "状态", "地址", "PID"]));
    for h in &health {
        let pid = h.pid.map(|p| p.to_string()).unwrap_or_else(|| "外部".into());
        let mark = if h.healthy { "✔ 正常" } else { "✘ 异常" };
        // The metrics address goes into the detail column: Day 29 sends learners here for it.
        let detail = match metrics(sup, &h.name) {
            Some(m) => format!("{} · metrics {m}", h.detail),
            None => h.detail.clone(),
        };
        // The address redacted as before (a MySQL URL's password never reaches the screen);
        // `--json` above is the place for the full URL.
        let cells = [h.name.as_str(), mark, &redact(&h.address), &pid];
        println!("{} {detail}", columns::row(&COLS, &cells));
    }
    all_ok
}

// From `stack.json`, not from the health probe: the probe asks the gRPC port, while the
// metrics listener is a second port the supervisor chose and recorded at start.
/// A service's Prometheus address as `up` recorded it (random port), if it has one.
fn metrics(sup: &Supervisor, name: &str) -> Option<String> {
    sup.state().service(name).and_then(|c| c.metrics.clone())
}

// Status output ends up in screenshots and issue reports; ✅ DO redact credentials in
// anything a human may paste. `rfind('@')` because a password may itself contain `@`.
/// Hides a password in a URL (`mysql://root:secret@…` → `mysql://root:***@…`).
fn redact(address: &str) -> String {
    match (address.find("://"), address.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &address[scheme + 3..at];
            // Split at the first `:`: a user name cannot contain one in a URL, a password can.
            // No `:` means a user without a password, and there is nothing to hide.
            match creds.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:***{}", &address[..scheme + 3], &address[at..])
                }
                None => address.to_string(),
            }
        }
        _ => address.to_string(),
    }
}
