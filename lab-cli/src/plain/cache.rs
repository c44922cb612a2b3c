//! Day 29's cache experiment in plain mode: one line per second of the read load.

use bookstore_loadgen::Snapshot;
use tokio::sync::mpsc;

use crate::experiments::cache::{self, CacheEvent, CacheParams, CacheTargets, HitCounts};

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
    // `-` for a second with no lookups (a missed scrape repeats the previous counts), not
    // 0 %: the TUI leaves such a second off its sparkline for the same reason.
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
                // Overwritten every second, so after the loop it holds the final report —
                // the one sent after the load ended, with the load's final snapshot.
                last = (total, load);
            }
            CacheEvent::Note(n) => println!("{n}"),
            // `Failed` is the TUI's wrapping of the run's error; here the error arrives
            // through `runner.await??` below instead.
            CacheEvent::Done | CacheEvent::Failed(_) => {}
        }
    }
    // Two `?`: the task's join (a panic in the run) and the run's own error (catalog gone).
    runner.await??;
    Ok(cache::figures(&last.0, &last.1))
}
