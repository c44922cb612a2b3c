//! The measurement: interleaved rounds of every path, one load run per path and round,
//! then the report with its ratios, hit rates and notes.

use std::sync::Arc;

use bookstore_catalog::{StatsSnapshot, cache::Cache, domain::ListQuery};
use bookstore_loadgen::{
    LoadConfig, Outcome, Summary,
    report::{Report, Row},
};
use bookstore_proto::catalog::{ListBooksResponse, catalog_service_client::CatalogServiceClient};
use prost::Message;
use tonic::transport::Channel;

use super::mix::{KEYWORD_PAGES, Mix, PAGES, ZIPF_S};
use super::services::Services;
use super::{
    BOOKS, GRPC_COLD, GRPC_WARM, HTTP_COLD, HTTP_WARM, NOOP_GRPC, NOOP_HTTP, PATHS, RAW_CACHE,
};
use crate::bench::{BenchOptions, connect_channels, noop_grpc, pick};

/// What every path of one run shares: the clients, the query mix and the load shape.
struct Load {
    /// gRPC connections to catalog-service (one HTTP/2 connection per 8 workers, see
    /// `connect_channels`). The gateway, by contrast, uses one channel to catalog-service:
    /// part of what the HTTP rows measure is how one multiplexed connection copes with 64
    /// concurrent streams.
    channels: Arc<Vec<Channel>>,
    /// One HTTP client for every worker (it pools its own connections; see `connect`).
    http: reqwest::Client,
    /// The 600 queries and their sampler, shared read-only by every worker.
    mix: Arc<Mix>,
    /// The same timed shape for every measured path, so rows compare.
    cfg: LoadConfig,
}

impl Load {
    /// The clients and the mix of one run, made once before any round.
    async fn connect(opts: &BenchOptions, s: &Services) -> anyhow::Result<Self> {
        // Clients are created once, outside the measured loops: a bench that dialled per
        // request would measure connection set-up, not the service.
        let channels = connect_channels(s.grpc, opts.concurrency).await?;
        // One keep-alive connection per worker at most: like 64 browsers, not one browser
        // opening and closing a connection per page (which would measure TCP handshakes).
        let http = reqwest::Client::builder().pool_max_idle_per_host(opts.concurrency).build()?;
        // One mix for the whole run; every path draws from it with its own salt.
        let mix = Arc::new(Mix::new());
        // Every measured path runs for the same wall-clock time with the same workers.
        let cfg = LoadConfig::timed(opts.concurrency, opts.duration());
        Ok(Self { channels, http, mix, cfg })
    }
}

/// Rounds of every path; a row per path with medians, hit rates and query counts.
///
/// Rounds are interleaved — every path once, then every path again — so a burst of
/// background load on the machine slows all paths of a round alike, and the median over
/// rounds discards the unluckiest one.
///
/// Only the connect can fail it: a request that fails inside a round is an error counted in
/// its row, so one bad moment shows in the table instead of discarding every other row.
pub(super) async fn measure(opts: &BenchOptions, s: &Services) -> anyhow::Result<Report> {
    let load = Load::connect(opts, s).await?;
    // Per path: the loadgen summaries of every round (for medians) and the summed cache
    // counters (for hit rates over all rounds).
    let mut runs: Vec<Vec<Summary>> = vec![Vec::new(); PATHS.len()];
    let mut counts: Vec<StatsSnapshot> = vec![StatsSnapshot::default(); PATHS.len()];
    for round in 0..opts.runs.max(1) {
        for (i, path) in PATHS.iter().enumerate().filter(|(_, p)| opts.wants(p)) {
            prepare(path, s, &load, opts.concurrency).await;
            // Counters are read around the loadgen run only, so the fill's misses are not
            // charged to the warm row.
            let before = s.stats.snapshot();
            // A different salt per round and path, so each round draws a fresh sequence from
            // the same distribution (a repeated sequence would favour whatever the previous
            // round cached); derived from the loop indexes only, so two runs of the whole
            // bench still send identical request sequences.
            let salt = (round * PATHS.len() + i) as u64;
            let summary = run_path(path, s, &load, salt).await;
            // The instance's counters, before and after this path only: hits, misses and
            // SQL statements attributable to this row.
            // Read after loadgen has returned, when every operation of the row has
            // finished: none of its hits can spill into the next row's counts. The
            // counters are the instance's, so the HTTP rows (gateway → this catalog) are
            // counted by the very same ones.
            let delta = s.stats.snapshot().since(&before);
            counts[i] = add(&counts[i], &delta);
            runs[i].push(summary);
        }
    }
    Ok(report(opts, load.mix.queries.len(), &runs, &counts))
}

/// Per-path preparation, outside the measured window: invalidate before a cold round,
/// fill before a warm one.
///
/// The no-op paths need neither; every path of a round meets the cache as the previous
/// path left it, which is why cold and warm rows each set their own state first.
async fn prepare(path: &str, s: &Services, load: &Load, concurrency: usize) {
    // One INCR makes every list key of the old version unreachable at once: the keys
    // stay in Redis until their TTL, but no reader computes their names any more. That
    // is what a publish does, so "cold" is the state a write leaves, not an empty Redis.
    if [GRPC_COLD, HTTP_COLD].contains(&path) {
        s.cache.bump_list_version().await;
    }
    if [GRPC_WARM, RAW_CACHE, HTTP_WARM].contains(&path) {
        fill(&load.channels, &load.mix, concurrency).await;
    }
}

/// One measured load run of `path`: the only code between a row's two counter reads.
async fn run_path(path: &str, s: &Services, load: &Load, salt: u64) -> Summary {
    match path {
        // The baseline: the cheapest RPC the server has (health check, no I/O),
        // over the same connections the ListBooks rows use.
        NOOP_GRPC => noop_grpc(load.cfg.clone(), load.channels.clone()).await,
        GRPC_COLD | GRPC_WARM => list_over_grpc(load, salt).await,
        RAW_CACHE => cached_page(load, &s.cache, salt).await,
        NOOP_HTTP | HTTP_COLD | HTTP_WARM => {
            over_http(load, format!("http://{}", s.http), path == NOOP_HTTP, salt).await
        }
        // `PATHS` lists exactly the seven above: a path added there without an arm here
        // panics in the first round, before any row could report a number for it.
        _ => unreachable!("every path is matched above"),
    }
}

/// ListBooks straight to the catalog over gRPC: the service-to-service path, with no
/// gateway in between. Its ratio to the no-op gRPC row is the cost of a page itself.
async fn list_over_grpc(load: &Load, salt: u64) -> Summary {
    let (channels, mix) = (load.channels.clone(), load.mix.clone());
    bookstore_loadgen::run(
        load.cfg.clone(),
        move |op| {
            let mut client = CatalogServiceClient::new(pick(&channels, op));
            // The query is drawn outside the async block so the block owns its request.
            // The draw is still timed: loadgen starts its clock before it calls `op`, so
            // this closure's body is inside every latency sample — a Zipf draw and a small
            // request, negligible next to a loopback round trip of 100 µs or more.
            let req = mix.pick(op, salt).grpc();
            async move { outcome(client.list_books(req).await.is_ok()) }
        },
        None,
    )
    .await
}

/// The warm row's read without gRPC: the service's own [`Cache::versioned_get`] and decode
/// of the same mix, called from this process.
///
/// It is the second part of the warm row's shared-CPU ceiling (see `Report::ceiling_to`): a warm
/// ListBooks is one no-op-sized gRPC call plus this read, and what the warm row spends
/// beyond both is the handler's own share — the stock overlay, the re-encode and the
/// bigger reply's framing.
///
/// [`Cache::versioned_get`]: bookstore_catalog::cache::Cache::versioned_get
async fn cached_page(load: &Load, cache: &Cache, salt: u64) -> Summary {
    let (mix, cache) = (load.mix.clone(), cache.clone());
    bookstore_loadgen::run(
        load.cfg.clone(),
        move |op| {
            // The same Zipf draw as the gRPC rows, built into the same request type: the
            // two rows must read the same keys, or their ratio would compare different
            // pages (a deep page's bytes are no bigger, but its popularity is lower).
            let (req, cache) = (mix.pick(op, salt).grpc(), cache.clone());
            async move {
                // Parsed as the handler parses it, so the key is the one the fill wrote.
                let Ok(q) = ListQuery::parse(&req) else { return Outcome::Failed };
                // The version stamp and the page in one pipelined round trip, exactly as
                // the handler's hit path: what is left out is only gRPC and the overlay.
                let found = cache.versioned_get(|v| cache.list_key(v, &q)).await;
                // Only a hit that decodes counts: a miss here means the fill did not cover
                // the mix, and the row would be timing empty replies.
                match found.and_then(|f| f.value) {
                    Some(bytes) => outcome(ListBooksResponse::decode(&bytes[..]).is_ok()),
                    None => Outcome::Failed,
                }
            }
        },
        None,
    )
    .await
}

/// Through the gateway: HTTP/1.1 + JSON in front, gRPC behind. The no-op (`noop`) is the
/// gateway's `/health`, which answers without an upstream call.
///
/// The gap between the HTTP and gRPC rows of one kind is the gateway's hop: one more
/// loopback round trip (in-process, but over a real socket), JSON encoding, and the one
/// channel the gateway multiplexes every worker's request over.
async fn over_http(load: &Load, base: String, noop: bool, salt: u64) -> Summary {
    let (http, mix) = (load.http.clone(), load.mix.clone());
    bookstore_loadgen::run(
        load.cfg.clone(),
        move |op| {
            let url = if noop {
                format!("{base}/health")
            } else {
                format!("{base}{}", mix.pick(op, salt).http_path())
            };
            // The URL is built before the async block so the block owns
            // everything it needs and the closure stays `Fn`.
            let http = http.clone();
            async move {
                let ok = match http.get(url).send().await {
                    // Only 2xx counts as success; a JSON error body is a failure even
                    // though it parsed. The body is read to the end: a client that stops
                    // at the headers would measure less than a browser waits for (and the
                    // gateway would still be writing when the timer stopped).
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                outcome(ok)
            }
        },
        None,
    )
    .await
}

/// The report: one row per path, the ratios to each protocol's no-op, and the notes.
fn report(
    opts: &BenchOptions,
    queries: usize,
    runs: &[Vec<Summary>],
    counts: &[StatsSnapshot],
) -> Report {
    // One row per path: median QPS and percentiles over the rounds (loadgen's rule), plus
    // the cache facts summed over the rounds, which are counts, not rates.
    let mut report =
        Report::new("catalog", opts.concurrency, opts.duration().as_secs_f64(), opts.runs.max(1));
    // A path left out by `--only` has no summaries and gets no row: its ratio is then
    // absent from the table rather than a zero that reads like a measurement.
    for ((path, summaries), c) in
        PATHS.iter().zip(runs).zip(counts).filter(|((_, s), _)| !s.is_empty())
    {
        let mut row = Row::from_runs(*path, summaries);
        // Cache facts only for ListBooks rows: the no-op paths never touch the cache.
        // `hit_rate` = hits ÷ lookups over all of the row's rounds; `db` = SQL statements
        // in the same windows. A warm row should read 100 % and db=0: anything else means
        // keys expired or were evicted mid-round. On a cold row, db far above the distinct
        // queries asked per round × rounds would mean single-flight let a stampede through.
        if !path.starts_with("no-op") && *path != RAW_CACHE {
            row = row
                .with("hit_rate", format!("{:.1}%", 100.0 * c.hit_rate()))
                .with("db", c.db_queries)
                // GetStocks calls for the live-stock overlay: about one per page whose
                // figures went stale (500 ms), however many requests read it meanwhile.
                .with("stock_rpcs", c.stock_reads);
        }
        report.rows.push(row);
    }
    // Each protocol is read against its own no-op: comparing an HTTP row with the gRPC
    // baseline would mix the cost of the cache with the cost of the extra hop.
    // The raw read's own ratio lands above 1×: a Redis round trip over one multiplexed
    // connection is cheaper than a gRPC call, and the row has no server of its own. Shown
    // anyway, so the reader sees how small the cache's part of a warm read is.
    report.ratio_to(NOOP_GRPC, &[GRPC_COLD, GRPC_WARM, RAW_CACHE]);
    let ceiling = report.ceiling_to([NOOP_GRPC, RAW_CACHE], &[GRPC_WARM]);
    report.ratio_to(NOOP_HTTP, &[HTTP_COLD, HTTP_WARM]);
    // Notes are learner-facing, so they are in Chinese like the rest of the lab's output.
    report.notes.push(format!(
        "查询组合：{} 种不同的 ListBooks 查询（无关键词页 1–{PAGES}，10 个关键词各页 1–{KEYWORD_PAGES}，× 3 种排序），按 Zipf(s = {ZIPF_S}) 抽样；目录 {BOOKS} 本种子图书",
        queries
    ));
    report.notes.push(
        "cold = 本轮开始前把列表版本号 +1（与写操作相同的 O(1) 失效），所有列表 key 重新未命中；warm = 先把组合中每个查询各请求一次（不计入测量）使缓存填满，再测量"
            .into(),
    );
    report.notes.push(
        "课程目标：列表 QPS > 1,000、命中率 > 80 %；本项目目标：gRPC warm ≥ 10,000 QPS、命中率 ≥ 95 %".into(),
    );
    report.notes.push(
        "hit_rate、db 与 stock_rpcs 来自服务实例自己的计数器（即 /metrics 中的 cache_requests_total），db = 该路径期间执行的 SQL 语句数，stock_rpcs = 为叠加实时库存向 inventory 发出的 GetStocks 次数".into(),
    );
    if let Some(c) = ceiling {
        report.notes.push(format!(
            "vs_ceiling = warm 行 ÷ 共享 CPU 上限 {c:.0} QPS（1 ÷ (1/no-op + 1/cached page)：一次 warm 读 = 一次空 gRPC 调用 + 一次 Redis 读与解码，花的是同两个核；超出两者的部分是服务自己的：库存叠加、重新编码、更大的应答帧）"
        ));
    }
    report.notes.push(
        "负载生成器、服务、Redis 与 MariaDB 同在这台机器上：看与 no-op 行的比值，绝对 QPS 随机器而变；bench 的 Redis key 带 TTL，会自行过期".into(),
    );
    report
}

/// Asks every query of the mix once (not measured), so a warm round starts with the whole
/// mix cached: "warm" then means exactly that, not "whatever the cold round happened to
/// touch". Whatever the cold round left out is the tail the cold row's hit rate shows.
///
/// Filled over gRPC even before the HTTP warm round: the cache is shared, and the fill is
/// not measured, so the protocol used to fill it does not matter.
async fn fill(channels: &Arc<Vec<Channel>>, mix: &Arc<Mix>, concurrency: usize) {
    let (channels, mix) = (channels.clone(), mix.clone());
    // Exactly one request per distinct query (`op` is the index), `concurrency` at a time
    // (64 by default): the quickest way to fill the cache, and each is a miss only if
    // the cold round never asked it. Counted, not timed: all 600, however long it takes.
    let total = mix.queries.len() as u64;
    bookstore_loadgen::run(
        LoadConfig::counted(concurrency, total),
        move |op| {
            let mut client = CatalogServiceClient::new(pick(&channels, op));
            let req = mix.queries[op as usize].grpc();
            async move { outcome(client.list_books(req).await.is_ok()) }
        },
        None,
    )
    .await;
}

/// Sums two snapshots (the counts of one path over all its rounds).
///
/// Sums, then one rate at the end: averaging per-round hit rates would weigh a round of
/// 1,000 requests like one of 50,000.
fn add(a: &StatsSnapshot, b: &StatsSnapshot) -> StatsSnapshot {
    StatsSnapshot {
        db_queries: a.db_queries + b.db_queries,
        list_hits: a.list_hits + b.list_hits,
        list_misses: a.list_misses + b.list_misses,
        search_hits: a.search_hits + b.search_hits,
        search_misses: a.search_misses + b.search_misses,
        detail_hits: a.detail_hits + b.detail_hits,
        detail_misses: a.detail_misses + b.detail_misses,
        stock_reads: a.stock_reads + b.stock_reads,
    }
}

/// A page served is a success; any error (there should be none) a failure. ListBooks has
/// no "correct refusal", so `rejected` stays 0 in this bench.
fn outcome(ok: bool) -> Outcome {
    if ok { Outcome::Success } else { Outcome::Failed }
}
