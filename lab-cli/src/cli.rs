//! The command line's shape: every flag, subcommand and default of `bookstore-lab`.
//!
//! Binary-only (declared in `main.rs`, not in the library): clap's derive types, the
//! `--dir` search and the choice between screens and plain output. Nothing here starts or
//! opens anything, so a usage error exits 2 before any file is touched.

use std::{io::IsTerminal, path::PathBuf};

use bookstore_lab::{
    bench::{BenchOptions, BenchTarget},
    experiments::race::RaceParams,
};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bookstore-lab",
    version,
    about = "书店微服务实验室 — Week 6 (Day 29–35) 的终端实验环境"
)]
// `--dir` and `--no-tui` are global so they can be written anywhere:
// `bookstore-lab --no-tui lesson day30` and `bookstore-lab lesson day30 --no-tui` both work.
pub struct Cli {
    /// Stack directory (data, logs, stack.json). Default: the nearest `.lab/` above the
    /// current directory, else the `.lab/` of the checkout this binary was built from, else
    /// `./.lab`.
    #[arg(long, global = true, env = "BOOKSTORE_LAB_HOME")]
    pub dir: Option<PathBuf>,

    /// 不打开终端界面，输出纯文本（stdout 不是终端时自动如此）
    #[arg(long, global = true)]
    pub no_tui: bool,

    // Optional: the bare `bookstore-lab` is the most common invocation of all (the home
    // screen), so no subcommand is a command of its own rather than a usage error.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
// The `///` lines on each variant and field *are* the `--help` text (clap's derive reads
// doc comments), so help and code cannot disagree. They are Chinese because learners read
// them; the identifiers stay English.
pub enum Command {
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
        // A `Vec` from a repeatable flag: `--replicas user=2 --replicas catalog=3`. A name
        // given twice is kept twice, and the first count wins (`replicas_of` takes the
        // first match) — no error, so a script that appends a flag cannot override one.
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
pub enum LessonsAction {
    /// 校验 manifest 和每一处源码引用（文件存在、标记唯一），有问题时以非零状态退出
    Check {
        /// 另起一套私有环境（up --free-ports），运行每一课的每条命令和检查点任务
        #[arg(long)]
        run: bool,
        /// 只运行这一课（配合 --run，例如 --only day31）
        // `requires`: `--only` without `--run` is a usage error (exit 2), because the static
        // check always reads every lesson — an `--only` ignored in silence would let a
        // script believe it had narrowed the check.
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
pub fn default_dir() -> PathBuf {
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
pub fn use_tui(cli: &Cli) -> bool {
    !cli.no_tui && std::io::stdout().is_terminal()
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
