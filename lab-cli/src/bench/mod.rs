//! `bookstore-lab bench …`: repeatable load runs whose numbers read as ratios.
//!
//! Each bench measures, in the same run, the baselines that bound it — a no-op gRPC call
//! on the same server, the raw Redis script without gRPC, the raw SQL statement — so a
//! result reads "0.8× a no-op call" rather than an absolute TPS that drifts with whatever
//! else the machine is doing. Every path runs `--runs` times; the report shows medians.
//!
//! - [`inventory`]: LockStock/DecrStock over gRPC, the raw Lua script, naive and FOR UPDATE SQL.
//! - [`catalog`]: ListBooks over gRPC and the gateway under a Zipf mix, cold and warm.
//! - [`order`]: CreateOrder end to end against each of its steps alone.
//!
//! ## Why ratios to same-run baselines, and medians
//!
//! On the course machine (2 cores shared by the services, MariaDB, Redis and the load
//! generator itself) an absolute TPS moves by tens of percent between two identical runs:
//! a compile in another terminal, CPU frequency scaling, a page-cache flush. A baseline
//! measured *in the same run* suffers the same noise, so the ratio cancels most of it:
//! "DecrStock over gRPC = 0.8× a no-op gRPC call" says how much the business logic costs
//! on top of the transport, and stays put when the machine is busy.
//!
//! The median of `--runs` rather than the mean: one run disturbed by a background job
//! drags a mean far off, while a median of three ignores one outlier. (Three runs is the
//! minimum for a median to mean anything; use 5 for numbers you will publish.)
//!
//! ✅ DO report "X is N× baseline B (median of R runs, C workers, D s each)".
//! ❌ DON'T publish a TPS from a timed test, or compare numbers from different machines
//!    or different days without re-measuring the baseline.
//!
//! How this differs from the TUI's experiments: the experiments *show* a behaviour
//! (oversell, a hit-rate dip) live, once; the benches *measure* costs repeatedly and
//! print a report. Both drive load through the same `bookstore-loadgen`.
//!
//! ## Where the load shape comes from
//!
//! The three numbers of every title line are the flags of [`BenchOptions`], with
//! defaults chosen for the course machine: 64 closed-loop workers (see the field's
//! comment), 5 s per path and round (long enough that the first few hundred
//! milliseconds of a round weigh little, short enough that seven paths × three rounds
//! finish in about two minutes), 3 rounds (the smallest count a median means anything
//! for). There is no separate warm-up round: connections are opened before the clock
//! starts ([`connect_channels`]), and whatever else is lazy — a Lua script's first
//! `EVALSHA` answering `NOSCRIPT` and being loaded, pools growing to size, the page
//! cache — lands in round one, which the median of three then outvotes. With `--runs 1`
//! nothing outvotes it: read a one-round report's first rows as pessimistic.
//!
//! ## What would make a figure lie, and what each bench does about it
//!
//! - Coordinated omission: the load is a closed loop, so a stall hides the requests
//!   that would have queued behind it and p99 reads too good. The reports' p99 is
//!   service time at N concurrent callers, never a user-facing latency at an arrival
//!   rate (loadgen's crate docs explain the mechanism).
//! - A cache or a counter left in a friendly state: the catalog bench invalidates every
//!   list key before a cold round and fills the whole mix before a warm one, rather than
//!   inheriting whatever the previous row left; the inventory and order benches stock far
//!   more than a round can sell, because a sold-out refusal is much cheaper than a sale and
//!   would inflate the TPS of every row after it.
//! - A replay measured as a sale: every sale carries an order id never used before
//!   (disjoint ranges per path and round), because the stock scripts answer a repeated id
//!   from their idempotency marker without selling anything.
//! - The load generator on the same 2 cores: every worker's encoding, decoding and
//!   bookkeeping is CPU taken from the server it measures, and more of it on the HTTP
//!   rows (reqwest, JSON) than on gRPC. Both sides of a ratio pay it alike; an absolute
//!   number does not say how much of it was the client.
//! - One runtime for both sides: `main`'s `#[tokio::main]` runs the in-process servers
//!   and the load workers on the same worker threads (one per core), so they share the
//!   scheduler as well as the CPU. A blocking call on either side stalls both, and the
//!   stall is then measured as the server's latency.
//! - A dev build: see [`build_warning`].

pub mod catalog;
pub mod discovery;
pub mod inventory;
pub mod order;

use bookstore_loadgen::report::Report;
use bookstore_stack::testing::Infra;

/// Options shared by every bench (the `bookstore-lab bench` flags).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BenchOptions {
    // 64 by default: enough concurrent callers to keep a 2-core server busy (each call spends
    // most of its time waiting on the network or a database), few enough that the load
    // generator's own CPU stays a minority of the machine. It is also the N of every
    // closed-loop figure: TPS and p99 are "at 64 callers", and a report compared with
    // another at a different N compares two different questions.
    /// 并发 worker 数（每个 worker 串行地发请求、等响应）
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    // Seconds, whole: a sub-second round would be dominated by its first and last
    // milliseconds (workers starting, the in-flight tail after the deadline).
    /// 每条路径每轮的持续时间（秒）
    #[arg(long, default_value_t = 5)]
    pub duration: u64,
    // Rounds of *every* path: the paths are interleaved within a round, so `--runs 5`
    // means five samples of each row taken a whole round apart, not five back to back.
    /// 每条路径运行的轮数（报告取中位数）
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// 以 JSON 输出（供脚本使用）
    #[arg(long)]
    pub json: bool,
    // For profiling one path: `perf record` over a whole bench mixes every path's stacks.
    // A filtered report has no ratio where its baseline was filtered out — ask for the
    // baseline too (`--only decr,no-op`) when the ratio matters.
    /// 只跑名字里含这些词的路径（逗号分隔，不区分大小写），例如 `--only decr,no-op`
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    // Resolved by `main` from the lab directory so every bench talks to the same MariaDB and
    // Redis as the learner's stack; `#[arg(skip)]` keeps it out of `--help`.
    /// The running infrastructure (resolved by the CLI, not a flag).
    #[arg(skip)]
    pub infra: Infra,
}

impl BenchOptions {
    /// Whether `--only` (empty = everything) selects the path named `path`.
    pub fn wants(&self, path: &str) -> bool {
        let path = path.to_lowercase();
        self.only.is_empty() || self.only.iter().any(|w| path.contains(&w.to_lowercase()))
    }

    /// The length of one path's round, at least one second.
    ///
    /// `--duration 0` would stop every worker before its first call: every row at 0 TPS,
    /// and no ratio at all (a baseline at 0 leaves them unset), which reads like a broken
    /// server rather than a typo.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.duration.max(1))
    }
}

/// Which bench to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchTarget {
    /// How fast a sale is over gRPC, against the raw script and the two SQL strategies.
    Inventory,
    /// What a catalogue page costs cold and warm, over gRPC and through the gateway.
    Catalog,
    /// What one CreateOrder costs, against each of its steps alone.
    Order,
    /// Day 35: the no-op call through a static address vs Consul discovery.
    Discovery,
}

impl BenchTarget {
    /// The name typed after `bookstore-lab bench`.
    pub fn name(self) -> &'static str {
        match self {
            BenchTarget::Inventory => "inventory",
            BenchTarget::Catalog => "catalog",
            BenchTarget::Order => "order",
            BenchTarget::Discovery => "discovery",
        }
    }
}

/// The profile and opt-level this binary was compiled with, as `build.rs` recorded them.
///
/// `env!` is read at compile time, so the answer describes this very binary — not what
/// the workspace's Cargo.toml says today, which may have changed since it was built.
pub fn build_profile() -> (&'static str, &'static str) {
    (env!("BOOKSTORE_BUILD_PROFILE"), env!("BOOKSTORE_BUILD_OPT_LEVEL"))
}

/// A warning line when this binary is not a fully optimised build, `None` for `--release`.
///
/// Every bench runs its services inside this process, so the numbers are this binary's
/// numbers: a dev build (`make lab`, `cargo build`; our crates at opt-level 1, dependencies
/// at 3 — see the workspace Cargo.toml) measures the code *and* the compiler settings.
/// ✅ DO compare rows of one report (both sides were built alike); ❌ DON'T put a dev-build
/// figure next to a `--release` one, or next to the course's targets, without saying so.
pub fn build_warning() -> Option<String> {
    let (profile, opt_level) = build_profile();
    (profile != "release" || opt_level != "3").then(|| {
        format!(
            "构建：{profile} profile，本仓库 crate opt-level={opt_level}（第三方依赖的优化级别见工作区 Cargo.toml）——不是 --release；要与课程目标比较，请用 `cargo run --release -p bookstore-lab -- bench …`"
        )
    })
}

/// The same fact in a few columns, for the TUI header: `dev 构建 · opt-level 1`.
pub fn build_label() -> Option<String> {
    let (profile, opt_level) = build_profile();
    build_warning().map(|_| format!("{profile} 构建 · opt-level {opt_level} · 非 --release"))
}

/// Runs a bench, prints its report (table, or JSON with `--json`) and returns it.
pub async fn run(target: BenchTarget, opts: &BenchOptions) -> anyhow::Result<Report> {
    // Said before the first round (a bench takes a minute or more) and again in the
    // report, where a pasted table keeps it. stderr, so `--json` output stays pure JSON.
    let warning = build_warning();
    if let Some(w) = &warning {
        eprintln!("==> {w}");
    }
    let mut report = match target {
        BenchTarget::Inventory => inventory::run(opts).await?,
        BenchTarget::Catalog => catalog::run(opts).await?,
        BenchTarget::Order => order::run(opts).await?,
        BenchTarget::Discovery => discovery::run(opts).await?,
    };
    if let Some(w) = warning {
        report.notes.insert(0, w);
    }
    // JSON for scripts that track numbers over time (one object per row, ratios included);
    // the table for humans. Both come from the same report, so they cannot disagree.
    if opts.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(report)
}

/// Keeps a bench's report in `<lab dir>/results/bench-<target>.json`, with the build it
/// measured: the Week 6 checklist reads the learner's own figures from there.
///
/// One file per target, overwritten by the next run: the checklist wants the learner's
/// latest figures, and `saved_at` plus `build` say which run and which binary they are
/// from, so a dev-build figure saved last week cannot pass for a `--release` one.
pub fn save(lab_dir: &std::path::Path, target: BenchTarget, report: &Report) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(report)?;
    let (profile, opt_level) = build_profile();
    value["build"] = format!("{profile} 构建 · opt-level {opt_level}").into();
    value["saved_at"] = chrono::Utc::now().to_rfc3339().into();
    let dir = lab_dir.join("results");
    std::fs::create_dir_all(&dir)?;
    let name = format!("bench-{}.json", target.name());
    std::fs::write(dir.join(name), serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

/// Workers per HTTP/2 connection on the client side: one connection serialises its frames
/// on one task and would cap the gRPC paths below what the server can do.
///
/// Between the two extremes on purpose: one connection for all 64 workers measures that
/// connection's task, one per worker measures 64 sockets a service-to-service pool would
/// not open. The discovery bench writes the same 8 as `div_ceil(8)`; change both together,
/// or its rows stop comparing with the no-op row built here.
const WORKERS_PER_CHANNEL: usize = 8;

/// One channel (one HTTP/2 connection) per [`WORKERS_PER_CHANNEL`] workers, connected
/// eagerly so the first requests of the first round do not pay for TCP and HTTP/2
/// handshakes inside the measurement. Both benches use it, so their no-op rows compare.
pub(crate) async fn connect_channels(
    addr: std::net::SocketAddr,
    concurrency: usize,
) -> anyhow::Result<std::sync::Arc<Vec<tonic::transport::Channel>>> {
    let n = concurrency.div_ceil(WORKERS_PER_CHANNEL).max(1);
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        // `connect().await`, not `connect_lazy()`: a lazy channel dials on its first
        // request, inside the first round's clock, and a refused address would surface as
        // a row of failures instead of this function's error.
        channels.push(
            tonic::transport::Channel::from_shared(format!("http://{addr}"))?.connect().await?,
        );
    }
    Ok(std::sync::Arc::new(channels))
}

/// Round-robin over the connections by operation index.
///
/// By index, not by worker: loadgen hands out indexes in start order, so consecutive
/// operations land on different connections and every connection carries about the same
/// share of streams, whichever workers happen to be fast. The clone is a cheap handle on
/// the same connection, not a new one.
pub(crate) fn pick(channels: &[tonic::transport::Channel], op: u64) -> tonic::transport::Channel {
    channels[op as usize % channels.len()].clone()
}

/// Drops a bench's databases; a failure only leaves a stray database, so it is logged,
/// never fatal (the report is already printed by then).
pub(crate) async fn drop_databases(mysql_url: &str, names: &[&str]) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::MySqlConnection::connect(mysql_url).await else {
        tracing::warn!("could not connect to drop the bench databases");
        return;
    };
    for name in names {
        // The names come from unique_name(): [a-z0-9_] only, safe to interpolate.
        if let Err(e) =
            sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`")).execute(&mut conn).await
        {
            tracing::warn!(database = name, error = %e, "could not drop a bench database");
        }
    }
}

/// The no-op gRPC baseline both benches divide by: `grpc.health.v1.Health/Check` — the
/// cheapest RPC every server has (no I/O behind it) — over the same connections the
/// measured rows use, so the ratio isolates what the real RPC adds on top of gRPC itself.
pub(crate) async fn noop_grpc(
    cfg: bookstore_loadgen::LoadConfig,
    channels: std::sync::Arc<Vec<tonic::transport::Channel>>,
) -> bookstore_loadgen::Summary {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut health = HealthClient::new(pick(&channels, op));
            async move {
                // `service: ""` asks about the server as a whole: an in-memory map lookup
                // in tonic-health, so what is timed is framing, HTTP/2 and protobuf only.
                match health.check(HealthCheckRequest { service: String::new() }).await {
                    Ok(_) => bookstore_loadgen::Outcome::Success,
                    Err(_) => bookstore_loadgen::Outcome::Failed,
                }
            }
        },
        None,
    )
    .await
}
