//! # bookstore-lab — the lab in your terminal
//!
//! The binary a learner types. This file is the whole command line (clap) and nothing
//! else: each command calls into the library (`bookstore_lab::…`) or the stack supervisor.
//! - `bookstore-lab` — the TUI home (starts the stack first); plain status without a TTY;
//! - `bookstore-lab lesson day30 [--reset] [--no-tui]` — a lesson and its live experiment;
//! - `bookstore-lab lessons [check]` — the list with progress; validate `lessons/`;
//! - `bookstore-lab dashboard` — health, QPS, p99, hit rate, stock of the running stack;
//! - `bookstore-lab bench inventory|catalog|order|discovery` — load runs with baselines;
//! - `bookstore-lab up | down | status | env` — the stack supervisor.
//!
//! Every command works without a terminal (`--no-tui`, or stdout not a TTY): the same
//! runners print progress bars and tables instead of drawing screens.
//!
//! Why a thin `main`: everything here is argument plumbing, which is hard to test; the
//! library behind it is tested directly (tests/). Help texts are Chinese (they are read by
//! learners); errors are English (they are pasted into issues and searched for).
//!
//! ## Command design, and why
//!
//! - ✅ every command is idempotent where it can be: `up` on a running stack starts only
//!   what is missing, `down` on a stopped one does nothing. Learners re-run commands when
//!   unsure; a second `up` must never start a second MariaDB on the same port.
//! - ✅ exit codes carry the verdict (`status` and `lessons check` exit 1 on a problem), so
//!   scripts and CI need no output parsing.
//! - ✅ `--json` where a script may want the data (`status --json`, `bench --json`), with
//!   stable keys; the human table may change its layout, the JSON keys do not.
//! - ✅ one binary, subcommands, no daemon: the stack's processes are recorded in
//!   `stack.json`, so any later invocation can find and stop them.
//!
//! ## Exit codes, as a script sees them
//!
//! - `0`: the command did what it says (`status`: every component healthy; `lessons
//!   check`: every reference resolves; `up`: the whole stack is up).
//! - `1`: a verdict or a failure. `status` with an unhealthy or missing component,
//!   `lessons check` with a problem, an `up` that failed (after stopping what it had
//!   started), and any error returned from `main` — Rust prints it as `Error: …` on stderr
//!   and exits 1. A script cannot tell "unhealthy" from "crashed" by the code alone;
//!   `status --json` says which component is unhealthy.
//! - `130`: `up` interrupted by Ctrl-C, after it stopped what it had started. Inside the TUI
//!   Ctrl-C is a key (raw mode), so quitting the TUI that way still exits 0.
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

use std::{io::IsTerminal, path::PathBuf};

use anyhow::Context;
use bookstore_lab::{
    app::App,
    bench::{BenchOptions, BenchTarget},
    experiments::race::RaceParams,
    lessons::{Library, progress::Progress},
    plain, tui,
};
use bookstore_stack::{Supervisor, UpOptions};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bookstore-lab",
    version,
    about = "书店微服务实验室 — Week 6 (Day 29–35) 的终端实验环境"
)]
// `--dir` and `--no-tui` are global so they can be written anywhere:
// `bookstore-lab --no-tui lesson day30` and `bookstore-lab lesson day30 --no-tui` both work.
struct Cli {
    /// Stack directory (data, logs, stack.json). Default: the nearest `.lab/` above the
    /// current directory, else the `.lab/` of the checkout this binary was built from, else
    /// `./.lab`.
    #[arg(long, global = true, env = "BOOKSTORE_LAB_HOME")]
    dir: Option<PathBuf>,

    /// 不打开终端界面，输出纯文本（stdout 不是终端时自动如此）
    #[arg(long, global = true)]
    no_tui: bool,

    // Optional: the bare `bookstore-lab` is the most common invocation of all (the home
    // screen), so no subcommand is a command of its own rather than a usage error.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
// The `///` lines on each variant and field *are* the `--help` text (clap's derive reads
// doc comments), so help and code cannot disagree. They are Chinese because learners read
// them; the identifiers stay English.
enum Command {
    /// 启动整套环境：MariaDB、Redis、Consul 和六个服务（已在运行的部分不会重复启动）
    Up {
        /// 只启动基础设施（MariaDB、Redis、Consul），测试用
        #[arg(long)]
        infra_only: bool,
        /// 使用已经运行的服务器（BOOKSTORE_MYSQL_URL / BOOKSTORE_REDIS_URL / BOOKSTORE_CONSUL_ADDR）
        #[arg(long)]
        external: bool,
        /// 服务使用随机空闲端口，而不是课程的 9001–9005 / 8080
        #[arg(long)]
        free_ports: bool,
        /// 服务二进制所在目录（默认与 bookstore-lab 同目录）
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// 不导入种子图书目录及其库存（默认每次 up 都幂等地导入）
        #[arg(long)]
        no_seed: bool,
        /// 某个服务启动多个实例，例如 `--replicas user=2`（可重复；额外实例用空闲端口，`status` 会列出）
        #[arg(long, value_name = "服务=数量", value_parser = parse_replicas)]
        replicas: Vec<(String, u32)>,
        /// 服务之间用固定地址互相调用（Day 29–34 的方式），不经 Consul 服务发现
        #[arg(long)]
        static_addrs: bool,
    },
    /// 停止本环境启动的所有进程（数据目录保留）
    Down,
    /// 显示每个组件的真实健康状态
    Status {
        /// 以 JSON 输出
        #[arg(long)]
        json: bool,
    },
    /// 打开一课（例如 day30）；课内按 x 运行它的实验
    Lesson {
        /// 课程 id：day29、day30 …（见 `bookstore-lab lessons`）
        id: String,
        /// 把这一课标记为未完成，然后退出
        #[arg(long)]
        reset: bool,
        // The defaults are read from `RaceParams::default()`, so `--help`, the TUI's knobs and
        // the plain run all start from the same numbers, and changing one changes all three.
        /// Day 30 实验的初始库存
        #[arg(long, default_value_t = RaceParams::default().stock)]
        stock: u32,
        /// Day 30 实验的并发买家数
        #[arg(long, default_value_t = RaceParams::default().buyers)]
        buyers: u32,
        /// Day 30 实验每种策略的秒数（0 = 每个买家只抢一次）
        #[arg(long, default_value_t = RaceParams::default().duration_secs)]
        duration: u32,
    },
    /// 列出所有课程和进度；`lessons check` 校验课程内容与源码引用
    Lessons {
        #[command(subcommand)]
        // An optional nested subcommand: `bookstore-lab lessons` lists, `bookstore-lab lessons
        // check` validates — one noun, two verbs, instead of two unrelated top-level commands.
        action: Option<LessonsAction>,
    },
    /// 仪表盘：每个组件的健康、QPS、p99、缓存命中率与库存合计
    Dashboard,
    /// 打印可 eval 的环境变量，例如 eval "$(bookstore-lab env)"
    Env,
    /// 压测：在同一轮中测量基线（空 gRPC 调用、裸 Lua 脚本、裸 SQL），结果以比值呈现
    Bench {
        /// inventory（库存扣减）、catalog（图书列表与缓存）、order（下单调用链）或 discovery（服务发现的开销）
        target: BenchTarget,
        // `flatten` pulls `BenchOptions`' flags (`--concurrency`, `--duration`, `--runs`, `--json`)
        // into this subcommand, so every bench shares one definition of them.
        #[command(flatten)]
        opts: BenchOptions,
    },
}

#[derive(Subcommand, Debug)]
enum LessonsAction {
    /// 校验 manifest 和每一处源码引用（文件存在、标记唯一），有问题时以非零状态退出
    Check {
        /// 另起一套私有环境（up --free-ports），运行每一课的每条命令和检查点任务
        #[arg(long)]
        run: bool,
        /// 只运行这一课（配合 --run，例如 --only day31）
        #[arg(long, requires = "run")]
        only: Option<String>,
    },
}

// Like git finding `.git`: walk up from the current directory, so `bookstore-lab` run from
// `services/inventory/` still finds the checkout's `.lab/` instead of creating a second,
// empty stack in a subdirectory. Outside any checkout (`make build` linked the binary onto
// the PATH, and the learner types `bookstore-lab lesson day30` in `~` or `/tmp`) it falls
// back to the `.lab/` of the checkout it was built from — the stack `make lab` started.
// ❌ Without that fallback the lesson opened with an empty `./.lab` of its own: no
// progress, and a race that failed with "no stack" while the learner's stack was running.
fn default_dir() -> PathBuf {
    let mut dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    loop {
        if dir.join(".lab").is_dir() {
            return dir.join(".lab");
        }
        if !dir.pop() {
            break;
        }
    }
    match std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.lab").canonicalize() {
        Ok(built_in) if built_in.is_dir() => built_in,
        _ => PathBuf::from(".lab"),
    }
}

// Decided once, first, before anything is printed: every later step (the `up` message in
// `home`, the choice between `tui::run` and `plain::…`) follows from it, so one run never
// mixes a drawn screen with plain lines.
// stdout, not stdin: `bookstore-lab lesson day30 > out.txt` has a keyboard but must not
// paint escape codes into the file.
// The TUI also needs a terminal on stdin to read keys; in practice stdout and stdin are
// redirected together (CI, ssh without -t), and checking stdout is what decides whether
// escape codes would land in a file.
/// Whether to draw screens: a terminal on stdout and no `--no-tui`.
fn use_tui(cli: &Cli) -> bool {
    !cli.no_tui && std::io::stdout().is_terminal()
}

// The default multi-threaded runtime (one worker per core): the TUI loop and the race's
// buyers then run on both cores. With `flavor = "current_thread"` the loop would share one
// thread with 200 buyers, and the screen would stutter exactly when the race is busiest.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Start-up order: parse (a usage error exits 2 from clap before any file is touched),
    // choose the output mode, resolve the directory — and only then, per command, open it.
    let cli = Cli::parse();
    let tui_mode = use_tui(&cli);
    // `--dir`/`BOOKSTORE_LAB_HOME` win over the search, so tests and a second lab on the same
    // machine can point at their own directory without `cd`.
    let dir = cli.dir.clone().unwrap_or_else(default_dir);
    // A closure, not an early call: `Supervisor::open` creates the directory, while
    // `lessons check` never needs it and `lessons` only reads `progress.json` from it if it
    // exists — both must work in a fresh clone without leaving an empty `.lab/` behind.
    // `with_context` makes every error name the directory it was about.
    let open =
        || Supervisor::open(&dir).with_context(|| format!("stack directory {}", dir.display()));
    let Some(command) = cli.command else {
        return home(open()?, tui_mode).await;
    };
    match command {
        Command::Up {
            infra_only,
            external,
            free_ports,
            bin_dir,
            no_seed,
            replicas,
            static_addrs,
        } => {
            let mut sup = open()?;
            // On the `select!` below: if Ctrl-C wins, the `up` future is dropped mid-way and some
            // processes may already run. A fresh supervisor re-reads `stack.json` (written as each
            // component starts) and stops exactly those — ❌ DON'T leave a half-started stack
            // holding ports 3306/6379 that make the next `up` fail.
            let opts = UpOptions {
                infra_only,
                external,
                free_ports,
                bin_dir,
                // Detached: the stack must outlive this command — that is what `up` is for.
                // (Tests start theirs attached, so a killed test run leaks no servers.)
                attached: false,
                no_seed,
                replicas,
                static_addrs,
            };
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
                    let mut sup = Supervisor::open(&dir)?;
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
        }
        // `down` stops only what this lab directory's `stack.json` says it started (by process
        // group), never "every mariadbd on the machine": a learner's own database, or another
        // checkout's lab, is not ours to kill.
        // The data directory stays: progress and the seeded catalogue survive a `down`/`up`
        // cycle, and deleting the directory is the deliberate way to start over.
        Command::Down => {
            let mut sup = open()?;
            sup.down().await?;
            eprintln!("==> stack stopped ({})", sup.dir().display());
        }
        Command::Status { json } => {
            let healthy = print_status(&open()?, json).await;
            // A non-zero exit for "something is unhealthy" makes `status` usable in scripts and CI
            // (`bookstore-lab status || exit 1`), the same contract as `systemctl is-active`.
            if !healthy {
                std::process::exit(1);
            }
        }
        // The bench reuses the lab's MariaDB and Redis but starts its own service instances
        // in-process, so it never measures (or disturbs) the learner's running services.
        // The infrastructure comes from `BOOKSTORE_*` variables if all three are set, else
        // from this directory's `stack.json`; with neither it fails at once with a hint
        // rather than after a warm-up. The report is saved as
        // `<lab dir>/results/bench-<target>.json` because the Week 6 checklist reads the
        // learner's own figures from there.
        Command::Bench { target, mut opts } => {
            let sup = open()?;
            opts.infra = bookstore_stack::testing::try_infra_in(Some(sup.dir()))?;
            let report = bookstore_lab::bench::run(target, &opts).await?;
            bookstore_lab::bench::save(sup.dir(), target, &report)?;
        }
        // Output meant for `eval "$(bookstore-lab env)"`; `CONSUL_HTTP_ADDR` is the variable the
        // `consul` CLI itself reads, so the learner's `consul catalog services` just works.
        Command::Env => {
            // The same pairs the lesson runner exports (`lab_env::vars`), so a command that works
            // in the TUI works in the learner's shell after `eval "$(bookstore-lab env)"`.
            for (k, v) in bookstore_lab::lab_env::vars(open()?.state()) {
                println!("export {k}={v}");
            }
        }
        Command::Lessons { action } => {
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
                    plain::list(&lib, &Progress::load(&dir)?);
                }
            }
        }
        // `--reset` is handled before anything that needs a running stack, so resetting
        // progress works even when nothing is running. The lesson itself does not start the
        // stack either: its experiment fails with `try_infra_in`'s "no running
        // infrastructure" hint when run, while the text stays readable.
        Command::Lesson { id, reset, stock, buyers, duration } => {
            let sup = open()?;
            let lib = Library::discover()?;
            let mut progress = Progress::load(sup.dir())?;
            if reset {
                let was = progress.reset(&id);
                progress.save(sup.dir())?;
                println!("{id}: {}", if was { "进度已重置" } else { "本来就未完成" });
                return Ok(());
            }
            let params =
                // Zero stock or zero buyers would make a race with nothing to measure (and a division by
                // zero in a rate); clamping to 1 keeps every command line valid.
                RaceParams { stock: stock.max(1), buyers: buyers.max(1), duration_secs: duration };
            let ctx = tui::Context { lab_dir: sup.dir().to_path_buf() };
            if tui_mode {
                let mut app = App::new(&lib, progress);
                // Before `tui::run`: an unknown or planned id fails here as a plain error on a
                // normal terminal, instead of inside the alternate screen where it would vanish.
                app.open_lesson(&id)?;
                // The knobs start at the command line's values: `--stock 10` shows as 库存 10 on
                // the race screen, and Enter runs with it until the learner turns a knob.
                app.race.params = params;
                tui::run(app, ctx).await?;
            } else {
                // `cache_targets()` goes in as a `Result`, not through `?`: a stopped
                // catalog-service must not stop Day 30's text or race; only Day 29's experiment,
                // which needs it, reports the error — after the lesson text was printed.
                plain::lesson(&lib, &id, sup.dir(), params, ctx.cache_targets()).await?;
            }
        }
        // In plain mode the dashboard prints once (two polls a second apart) and exits: a
        // script wants a snapshot; the TUI keeps polling while the screen is open. Two polls
        // because QPS is the difference of two counter scrapes over their interval — a
        // single scrape has counts but no rate.
        Command::Dashboard => {
            let sup = open()?;
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
        }
    }
    Ok(())
}

// A failed `up` does not prevent the TUI from opening: the lessons are readable without a
// stack, and the notice tells the learner what to fix. Refusing to start would hide the
// lessons behind an infrastructure problem.
/// `bookstore-lab` alone: in a terminal, make sure the stack runs (idempotent) and open
/// the TUI home; otherwise print the lessons and the stack's status.
async fn home(mut sup: Supervisor, tui_mode: bool) -> anyhow::Result<()> {
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
    // `{:<34}` pads but never truncates: a longer address (a MySQL URL) shifts the rest of
    // its row rather than losing characters someone may copy. The detail column goes last
    // because its length varies most.
    println!("{:<10} {:<8} {:<34} {:<8} 详情", "组件", "状态", "地址", "PID");
    for h in &health {
        let pid = h.pid.map(|p| p.to_string()).unwrap_or_else(|| "外部".into());
        let mark = if h.healthy { "✔ 正常" } else { "✘ 异常" };
        // The metrics address goes into the detail column: Day 29 sends learners here for it.
        let detail = match metrics(sup, &h.name) {
            Some(m) => format!("{} · metrics {m}", h.detail),
            None => h.detail.clone(),
        };
        println!("{:<10} {:<8} {:<34} {:<8} {detail}", h.name, mark, redact(&h.address), pid);
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

/// `user=2` → `("user", 2)`, refusing an unknown service or a count outside 1–8 (each
/// instance is a process with its own pool of database connections).
fn parse_replicas(arg: &str) -> Result<(String, u32), String> {
    let (name, n) = arg.split_once('=').ok_or("expected <service>=<count>, e.g. user=2")?;
    // Checked here, at parse time, so a typo (`--replicas usr=2`) is a clap usage error
    // before anything starts, not a half-started stack. `SERVICES` also lists the HTTP
    // gateway, which is refused by name: replicas are for the gRPC services that callers
    // balance across through Consul.
    let known = bookstore_stack::services::SERVICES.iter().any(|s| s.name == name);
    if !known || name == "gateway" {
        return Err(format!(
            "{name:?} is not a gRPC service (user, catalog, inventory, order, payment)"
        ));
    }
    match n.parse::<u32>() {
        Ok(n @ 1..=8) => Ok((name.to_string(), n)),
        _ => Err(format!("count {n:?} must be 1–8")),
    }
}
