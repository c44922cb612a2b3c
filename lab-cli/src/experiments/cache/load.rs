//! The run: skewed readers against catalog-service, and a report once a second of the
//! load and of the hit rate the service observed.

use std::{sync::Arc, time::Duration};

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use bookstore_proto::catalog::{
    GetBookRequest, ListBooksRequest, catalog_service_client::CatalogServiceClient,
};
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use super::{CacheEvent, CacheParams, CacheTargets, HitCounts, PAGE_SIZE, Zipf, channel};
use crate::metrics;

// The hottest book is the *newest* one (`ids[0]`, rank 0 of the Zipf): like a shop's new
// releases, and it makes "publish a book" interesting — the new book becomes rank 0 only
// in the next run, since the ids are read once at start.
/// Every book id in the catalogue, in list order (newest first), read through ListBooks
/// rather than SQL: the experiment sees the catalogue the way a client does, and does not
/// depend on the service's table layout. Capped at 50 pages of 100 (plenty for a skew).
async fn book_ids(client: &mut CatalogServiceClient<Channel>) -> anyhow::Result<Vec<u64>> {
    let mut ids = Vec::new();
    // Pages of 100 because that is the service's cap (`MAX_PAGE_SIZE` in the catalog's
    // domain): a list RPC that accepted `page_size = 100000` would let one request make the
    // service read and serialise the whole table. The loop ends on the first short page.
    for page in 1..=50 {
        let resp = client
            .list_books(ListBooksRequest { page, page_size: 100, ..Default::default() })
            .await?
            .into_inner();
        let n = resp.books.len();
        ids.extend(resp.books.into_iter().map(|b| b.id));
        // A full page may still be the last one: the next request then returns an
        // empty page and ends the loop, one RPC later.
        if n < 100 {
            break;
        }
    }
    Ok(ids)
}

/// Runs the skewed read load for `params.duration_secs`, reporting once a second.
pub async fn run(
    targets: CacheTargets,
    params: CacheParams,
    events: mpsc::UnboundedSender<CacheEvent>,
) -> anyhow::Result<()> {
    // One channel, cloned into every reader: a tonic `Channel` is a handle to one HTTP/2
    // connection, and clones multiplex their calls over it as separate streams. ✅ DO share
    // a channel; ❌ DON'T connect per request — the TCP and HTTP/2 handshakes would then be
    // most of what the experiment measures, and the service would spend its CPU accepting
    // connections instead of serving books.
    let channel = channel(&targets.catalog).await?;
    let mut client = CatalogServiceClient::new(channel.clone());
    let ids = book_ids(&mut client).await?;
    // An empty catalogue is the one failure a learner can fix in seconds, so the message
    // says where the fix is (the lesson's 自己动手验证 section seeds it) instead of failing
    // later with a division by zero.
    anyhow::ensure!(
        !ids.is_empty(),
        "the catalogue is empty: seed it first (see the lesson's 自己动手验证)"
    );
    // Shared by `Arc` with every load closure: the id list is read-only during the run, so
    // one copy serves all readers without a lock.
    let ids = Arc::new(ids);
    // Fixed for the run: the sampler reads this id's stock every second, and a
    // `p` press publishes a newer book without making it "hot" (see above).
    let hot = ids[0];
    let _ = events.send(CacheEvent::Started { books: ids.len() as u64, hot });

    // A separate HTTP client for `/metrics` (Prometheus exposition is plain HTTP, not gRPC).
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let metrics_addr = targets.catalog_metrics.as_deref();
    // The baseline scrape, taken before the load starts: totals are "since this run began",
    // not since the service started, so earlier runs do not inflate this run's hit rate.
    // Caveat: if this first scrape fails, the baseline is zero and the run's totals
    // include every lookup since the service started; the per-second figures are
    // unaffected (each is a difference of two later scrapes).
    let start = scrape(&http, metrics_addr).await.unwrap_or_default();

    // A `watch` channel, not an mpsc: the sampler below only needs the *latest* load
    // snapshot once a second, and a watch keeps exactly one value — the engine can publish
    // as often as it likes without filling a queue.
    let (tx, rx) = watch::channel(Snapshot::default());
    // The sampler's own client clone goes to `report_every_second`: its one GetBook
    // per second is a cache lookup too, but one in thousands, below the rate's
    // rounding.
    let load = spawn_readers(&client, ids, params, tx);
    report_every_second(&mut client, hot, (&http, metrics_addr), start, rx, &load, &events).await;
    // The engine's summary is not needed: the last Progress event already carried
    // its final snapshot.
    let _ = load.await;
    let _ = events.send(CacheEvent::Done);
    Ok(())
}

/// One scrape of the service's cache counters. "No metrics address" (a service started
/// without one) is a `None` instead of an error that would abort the experiment.
///
/// A failed scrape is a `None` too: callers decide whether that means "zero" (the
/// baseline) or "repeat the last value" (the per-second sampler).
async fn scrape(http: &reqwest::Client, addr: Option<&str>) -> Option<HitCounts> {
    let addr = addr?;
    metrics::scrape(http, addr).await.map(|s| HitCounts::read(&s)).ok()
}

/// Starts the readers on their own task and returns it: four reads in five are book
/// details, one is a list page — a shop's browse pattern.
fn spawn_readers(
    client: &CatalogServiceClient<Channel>,
    ids: Arc<Vec<u64>>,
    params: CacheParams,
    tx: watch::Sender<Snapshot>,
) -> tokio::task::JoinHandle<bookstore_loadgen::Summary> {
    // Two independent Zipfs: one over books (for GetBook), one over list pages (for
    // ListBooks). Page 1 is by far the most read, like a real shop's front page.
    // Pages of `PAGE_SIZE` (20), not the 100 `book_ids` read with: these are the
    // pages a shopper browses, and their keys are what the list cache holds.
    let pages = ids.len().div_ceil(PAGE_SIZE as usize);
    // Rank 0 is `ids[0]`, the newest book; the same skew for both, so one knob
    // changes how concentrated the whole load is.
    let by_id = Arc::new(Zipf::new(ids.len(), params.skew));
    let by_page = Arc::new(Zipf::new(pages, params.skew));
    let client = client.clone();
    // Closed loop, `readers` at a time, for the run's duration: each reader sends
    // its next call when the last one answered, so the rate is what the service
    // sustains and a slow second shows as fewer calls, not as a queue.
    let cfg = LoadConfig::timed(
        params.readers as usize,
        Duration::from_secs(u64::from(params.duration_secs.max(1))),
    );
    // The load runs in its own task so `run` can sample the counters once a second
    // while it runs; the engine also publishes its own snapshots on the `watch` channel.
    tokio::spawn(bookstore_loadgen::run(
        cfg,
        move |i| {
            let mut client = client.clone();
            // The rng is created and dropped before the `async move`: `rand::rng()` is thread-local
            // and not `Send`, so holding it across an `.await` would make the future non-`Send` and
            // the load engine (which spawns onto Tokio's worker threads) would not accept it.
            let (id, page) = {
                let mut rng = rand::rng();
                // Both drawn for every call, one of them unused: simpler than two
                // branches, and a sample is one binary search over the CDF.
                (ids[by_id.sample(&mut rng)], by_page.sample(&mut rng) as u32 + 1)
            };
            async move {
                // `i` is the engine's global operation index, not a reader's: exactly one
                // call in five is a list page whatever the number of readers, and the
                // two kinds stay interleaved in time.
                let r = if i % 5 == 4 {
                    client
                        .list_books(ListBooksRequest {
                            page,
                            page_size: PAGE_SIZE,
                            ..Default::default()
                        })
                        .await
                        .map(drop)
                } else {
                    client.get_book(GetBookRequest { id }).await.map(drop)
                };
                match r {
                    Ok(()) => Outcome::Success,
                    // NotFound is a correct answer (a deleted book), not a failure of the service; counting
                    // it as Failed would make the error column light up for a healthy catalog.
                    Err(s) if s.code() == tonic::Code::NotFound => Outcome::Rejected,
                    // Anything else (UNAVAILABLE, a timeout) is the service failing: the
                    // error column the learner watches when Redis or MariaDB is stopped.
                    Err(_) => Outcome::Failed,
                }
            }
        },
        Some(tx),
    ))
}

/// Sends a `Progress` event once a second until the load is done, the last one after it
/// ended (so it includes the final snapshot).
///
/// One sample per second holds three readings taken within milliseconds of each other:
/// the service's counters, the hot book's stock through GetBook, and the load engine's
/// latest snapshot — so a second's hit rate and its latency describe the same second.
async fn report_every_second(
    client: &mut CatalogServiceClient<Channel>,
    hot: u64,
    (http, metrics_addr): (&reqwest::Client, Option<&str>),
    start: HitCounts,
    rx: watch::Receiver<Snapshot>,
    load: &tokio::task::JoinHandle<bookstore_loadgen::Summary>,
    events: &mpsc::UnboundedSender<CacheEvent>,
) {
    // `interval` fires at once on the first tick; that tick is consumed before the loop so
    // the first report covers a full second of load, not zero milliseconds of it.
    let mut prev = start;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        // A failed scrape repeats the previous counts: that second shows no lookups,
        // and the next good scrape's difference covers both seconds. A dip to zero
        // is thus a missed scrape, never a fake drop in the hit rate.
        let now = scrape(http, metrics_addr).await.unwrap_or(prev);
        // The hot book's stock is read *through the service* (GetBook, i.e. through the cache),
        // on purpose: `u` sells a copy in inventory and evicts nothing, yet this number changes
        // within a second (catalog's `live_stock` lays inventory's figure over the cached book,
        // remembered 500 ms) — the visible proof that the cached detail holds no stock. If it
        // stayed stale for the detail's TTL, the stock would be cached with the book, and a sale
        // could only show by evicting it: the write-per-sale avalanche Day 29 warns about.
        let hot_stock = client
            .get_book(GetBookRequest { id: hot })
            .await
            .ok()
            .and_then(|r| r.into_inner().book)
            .map(|b| b.stock);
        // The engine's latest published snapshot (it publishes on its own cadence):
        // cumulative counts and latencies since the load began.
        let snapshot = rx.borrow().clone();
        // Checked before sending, so the last report (which includes the final snapshot)
        // is sent once more after the load ended, and then the loop stops.
        let done = load.is_finished();
        // A closed screen does not stop the run: the load is bounded by its duration,
        // and it ends on its own within `duration_secs`.
        let _ = events.send(CacheEvent::Progress {
            load: snapshot,
            // The difference of two scrapes about a second apart: "this second's"
            // hit rate, the number the sparkline plots.
            last_second: now.minus(&prev),
            // Since this run's baseline: the screen's run totals (rate, hits, lookups).
            total: now.minus(&start),
            hot_stock,
        });
        prev = now;
        if done {
            break;
        }
    }
}
