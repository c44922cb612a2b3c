//! # bookstore-lab — the lab in your terminal
//!
//! The binary a learner types. Today it drives the stack supervisor:
//! - `bookstore-lab up [--infra-only] [--external] [--free-ports]` — start MariaDB, Redis,
//!   Consul and the six services (idempotent);
//! - `bookstore-lab status` — every component's real health;
//! - `bookstore-lab env` — shell exports for the running stack (`eval "$(bookstore-lab env)"`);
//! - `bookstore-lab down` — stop everything, leaving no process behind.
//!
//! The supervisor itself is the `bookstore-stack` library (`lab-cli/stack`), shared with
//! the test suite; this file only parses arguments and prints.

use std::path::PathBuf;

use anyhow::Context;
use bookstore_lab::bench::{BenchOptions, BenchTarget};
use bookstore_stack::{Supervisor, UpOptions};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "bookstore-lab",
    version,
    about = "书店微服务实验室 — Week 6 (Day 29–35) 的终端实验环境"
)]
struct Cli {
    /// Stack directory (data, logs, stack.json). Default: the nearest `.lab/` above the
    /// current directory, else `./.lab`.
    #[arg(long, global = true, env = "BOOKSTORE_LAB_HOME")]
    dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
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
    },
    /// 停止本环境启动的所有进程（数据目录保留）
    Down,
    /// 显示每个组件的真实健康状态
    Status {
        /// 以 JSON 输出
        #[arg(long)]
        json: bool,
    },
    /// 打印可 eval 的环境变量，例如 eval "$(bookstore-lab env)"
    Env,
    /// 压测：在同一轮中测量基线（空 gRPC 调用、裸 Lua 脚本、裸 SQL），结果以比值呈现
    Bench {
        /// inventory（库存扣减）或 catalog（图书列表与缓存）
        target: BenchTarget,
        #[command(flatten)]
        opts: BenchOptions,
    },
}

fn default_dir() -> PathBuf {
    let mut dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    loop {
        if dir.join(".lab").is_dir() {
            return dir.join(".lab");
        }
        if !dir.pop() {
            return PathBuf::from(".lab");
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let dir = cli.dir.clone().unwrap_or_else(default_dir);
    let mut sup =
        Supervisor::open(&dir).with_context(|| format!("stack directory {}", dir.display()))?;
    match cli.command {
        Command::Up {
            infra_only,
            external,
            free_ports,
            bin_dir,
        } => {
            let opts = UpOptions {
                infra_only,
                external,
                free_ports,
                bin_dir,
                attached: false,
            };
            // Ctrl-C while starting: stop what was already started, leave nothing behind.
            tokio::select! {
                r = sup.up(&opts) => {
                    if let Err(e) = r {
                        eprintln!("error: {e:#}");
                        eprintln!("==> stopping what was started");
                        sup.down().await?;
                        std::process::exit(1);
                    }
                }
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("\ninterrupted; stopping what was started");
                    let mut sup = Supervisor::open(&dir)?;
                    sup.down().await?;
                    std::process::exit(130);
                }
            }
            print_status(&sup, false).await;
        }
        Command::Down => {
            sup.down().await?;
            eprintln!("==> stack stopped ({})", sup.dir().display());
        }
        Command::Status { json } => {
            let healthy = print_status(&sup, json).await;
            if !healthy {
                std::process::exit(1);
            }
        }
        Command::Bench { target, mut opts } => {
            opts.infra = bookstore_stack::testing::try_infra_in(Some(sup.dir()))?;
            bookstore_lab::bench::run(target, &opts).await?;
        }
        Command::Env => {
            let s = sup.state();
            if let Ok(u) = s.mysql_url() {
                println!("export BOOKSTORE_MYSQL_URL={u}");
            }
            if let Ok(u) = s.redis_url() {
                println!("export BOOKSTORE_REDIS_URL={u}");
            }
            if let Ok(a) = s.consul_addr() {
                println!("export BOOKSTORE_CONSUL_ADDR={a}");
                println!("export CONSUL_HTTP_ADDR={a}");
            }
        }
    }
    Ok(())
}

/// Prints one line per component; returns whether all are healthy.
async fn print_status(sup: &Supervisor, json: bool) -> bool {
    let health = sup.status().await;
    let all_ok = !health.is_empty() && health.iter().all(|h| h.healthy);
    if json {
        let rows: Vec<_> = health
            .iter()
            .map(|h| serde_json::json!({"name": h.name, "address": h.address, "pid": h.pid, "healthy": h.healthy, "detail": h.detail}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"dir": sup.dir(), "components": rows, "healthy": all_ok})
        );
        return all_ok;
    }
    if health.is_empty() {
        println!(
            "没有正在运行的环境（{}）。运行 `bookstore-lab up` 启动。",
            sup.dir().display()
        );
        return false;
    }
    println!(
        "{:<10} {:<8} {:<34} {:<8} 详情",
        "组件", "状态", "地址", "PID"
    );
    for h in &health {
        let pid = h
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "外部".into());
        let mark = if h.healthy {
            "✔ 正常"
        } else {
            "✘ 异常"
        };
        println!(
            "{:<10} {:<8} {:<34} {:<8} {}",
            h.name,
            mark,
            redact(&h.address),
            pid,
            h.detail
        );
    }
    all_ok
}

/// Hides a password in a URL (`mysql://root:secret@…` → `mysql://root:***@…`).
fn redact(address: &str) -> String {
    match (address.find("://"), address.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &address[scheme + 3..at];
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
