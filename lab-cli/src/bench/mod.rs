//! `bookstore-lab bench …`: repeatable load runs whose numbers read as ratios.
//!
//! Each bench measures, in the same run, the baselines that bound it — a no-op gRPC call
//! on the same server, the raw Redis script without gRPC, the raw SQL statement — so a
//! result reads "0.8× a no-op call" rather than an absolute TPS that drifts with whatever
//! else the machine is doing. Every path runs `--runs` times; the report shows medians.
//!
//! - [`inventory`]: LockStock/DecrStock over gRPC, the raw Lua script, naive and FOR UPDATE SQL.
//! - [`catalog`]: ListBooks over gRPC and the gateway under a Zipf mix, cold and warm.

pub mod catalog;
pub mod inventory;

use bookstore_stack::testing::Infra;

/// Options shared by every bench (the `bookstore-lab bench` flags).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BenchOptions {
    /// 并发 worker 数（每个 worker 串行地发请求、等响应）
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// 每条路径每轮的持续时间（秒）
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    /// 每条路径运行的轮数（报告取中位数）
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// 以 JSON 输出（供脚本使用）
    #[arg(long)]
    pub json: bool,
    /// The running infrastructure (resolved by the CLI, not a flag).
    #[arg(skip)]
    pub infra: Infra,
}

impl BenchOptions {
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.duration.max(1))
    }
}

/// Which bench to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchTarget {
    Inventory,
    Catalog,
}

/// Runs a bench and prints its report (table, or JSON with `--json`).
pub async fn run(target: BenchTarget, opts: &BenchOptions) -> anyhow::Result<()> {
    let report = match target {
        BenchTarget::Inventory => inventory::run(opts).await?,
        BenchTarget::Catalog => catalog::run(opts).await?,
    };
    if opts.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}
