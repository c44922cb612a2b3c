//! Day 29's experiment: a skewed read load on catalog-service, and the cache's hit rate.
//!
//! Real shops are skewed: a few books get most of the views. The load picks book ids and
//! list pages with a Zipf distribution (rank k is chosen ∝ 1/k^s), through the running
//! catalog-service's gRPC API, so the cache-aside code under test is the service's own.
//! The hit rate is read from the service's `/metrics` (`cache_requests_total`), never
//! computed by the lab from its own guesses — the number is what the service observed.
//!
//! Invalidation, made visible: the learner publishes a book or changes the hottest book's
//! stock. Both are writes that must evict cached entries (DESIGN.md §4). The screen shows
//! the hottest book's stock as read through the cache: it changes at once (DO: evict on
//! write), and the hit rate dips while the evicted keys refill.
//!
//! ## Why skew matters for the hit rate
//!
//! A cache holds what was read recently (until its TTL). Under a *uniform* load over N books,
//! every book is equally likely, so the hit rate is roughly "the share of the catalogue
//! that is cached right now" — with a few hundred books and a 5-minute TTL it climbs slowly
//! and any eviction hurts it evenly. Under a *Zipf* load with s ≈ 1, the top 1 % of books
//! take a large share of all reads (with 1000 books and s = 1.1, rank 1 alone gets ~18 %
//! and the top 10 almost half),
//! so a handful of cached entries answer most requests and the hit rate reaches 90 %+
//! within seconds. Two consequences the learner should take away:
//! - ✅ caching pays off *because* traffic is skewed; measure with skewed load, or your
//!   benchmark underestimates the cache (uniform load is the worst case, not the typical one);
//! - ❌ the same skew makes the hottest key a single point of pain: when it is evicted,
//!   every reader misses at once (a stampede) — which is why the service has single-flight
//!   loading and TTL jitter, and why the experiment lets you evict *the hottest* book.
//!
//! ## Why the hit rate comes from the service's counters
//!
//! The lab cannot see inside the cache; it could only guess a hit from latency (fast =
//! hit), which is wrong under load. Instead it scrapes `cache_requests_total{cache, result}`
//! once a second and reports the *difference* to the previous scrape (see [`crate::metrics`]).
//!
//! Shortcuts, honestly: the load runs on the same 2 cores as the service, so absolute TPS
//! here is not a benchmark (use `bookstore-lab bench catalog` for that); and a failed scrape
//! repeats the previous counts, which shows as "no lookups that second", not as a dip.
//!
//! ## What the service does on each read (so the numbers can be interpreted)
//!
//! catalog-service uses cache-aside, the course's Day 29 pattern:
//!
//! ```text
//! GetBook(id):   GET detail:{id} ── hit ──► return
//!                     └─ miss ─► SELECT … (single-flight: one loader per key) ─► SET with TTL+jitter ─► return
//! ListBooks(p):  GET list:v{version}:{page}:{size} … same shape
//! write:         UPDATE in MySQL, then DEL detail:{id} and INCR the list version
//! ```
//!
//! - A *detail* miss after `u` is one key: one load, then hits again. The dip is short.
//! - A *list* miss after `p` is every page at once: bumping the version makes every old
//!   list key unreachable (they expire on their own), so each page misses once. That is the
//!   dip the sparkline shows, and the reason the service versions list keys instead of
//!   deleting them one by one (it cannot know which pages a new book shifts).
//! - ✅ DO delete (or version away) on write; ❌ DON'T update the cached value in place
//!   on write — two concurrent writers can leave the older value cached, and the cache
//!   then disagrees with MySQL until the TTL expires.
//!
//! The exact code is quoted in the Day 29 lesson through source markers in
//! `services/catalog/src/cache.rs` and the service's API, so lesson and service agree.
//!
//! ## Things to try, and what should happen
//!
//! | change | expect | why |
//! |---|---|---|
//! | skew 1.1 → 0 (uniform) | hit rate climbs slowly, settles lower | every book is equally likely; the cache must hold most of the catalogue |
//! | skew 1.1 → 2 | ≈ 99 % within seconds | a handful of books take nearly every read |
//! | readers 16 → 64 | TPS up until the 2 cores saturate; hit rate unchanged | the hit rate depends on *which* keys are read, not how many readers read them |
//! | `p` during the run | a dip for a second or two | the list version moves: every list page misses once |
//! | `u` during the run | the hot stock changes on the next sample; a tiny dip | one detail key is evicted and reloaded once |
//!
//! If the hot stock does *not* change after `u`, stop and read the service's
//! `invalidate_book`: that is the bug Day 29 is about.
//!
//! ## Exercises
//!
//! 1. In another terminal run `redis-cli MONITOR | grep -c GET` for ten seconds during a
//!    run, then the same for `SET`. Does GET/(GET+SET) roughly match the hit rate on screen?
//!    (It will not be exact: every list hit sends two GETs — the version and the guessed
//!    key, pipelined — see the catalog's cache module.)
//! 2. Comment out the `DEL` of the detail key in the service (locally!), restart it, press
//!    `u`. How long until the stock on screen changes? Which TTL did you just measure?
//! 3. Set skew to 0 in `CacheParams::default` and compare the hit rate after 30 s with 1.1.
//!
//! ## Predict before you measure
//!
//! A hit costs one Redis round trip inside the service; a miss adds a MariaDB query and a
//! SET. If a hit takes ~0.3 ms end to end and a miss ~2 ms, then at 90 % hits the average
//! read costs 0.9 × 0.3 + 0.1 × 2 ≈ 0.47 ms, and at 50 % about 1.15 ms — the hit rate, not
//! the speed of Redis, decides the service's throughput. With 16 readers in a closed loop,
//! Little's law gives TPS ≈ readers ÷ latency: 16 ÷ 0.47 ms ≈ 34 000/s as an upper bound
//! the 2 cores will not reach; the gap between that bound and the measured TPS is CPU
//! (serialisation, gRPC, the load generator itself).

use std::{sync::Arc, time::Duration};

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use bookstore_proto::{
    catalog::{
        GetBookRequest, ListBooksRequest, PublishBookRequest, UpdateStockRequest,
        catalog_service_client::CatalogServiceClient,
    },
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use crate::metrics;

// 20 mirrors the page size a shop front end would use; list keys are cached per page,
// so the page size decides how many list keys exist (N / 20), and with them how many
// list entries one publish has to invalidate.
/// Books per list page in the read load.
const PAGE_SIZE: u32 = 20;

/// The knobs of the read load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheParams {
    /// Concurrent readers.
    pub readers: u32,
    /// Seconds of load.
    pub duration_secs: u32,
    // Try 0 in the lesson: the hit rate falls and refills much more slowly — the most
    // direct way to *see* that skew, not the cache, makes 90 % possible.
    /// Zipf exponent: 0 = uniform, 1 = classic web skew, higher = a few books get it all.
    pub skew: f64,
}

// 16 readers keep both cores busy; 30 s leaves time to press `p` and `u` and watch the hit
// rate recover; s = 1.1 is a typical web skew.
impl Default for CacheParams {
    fn default() -> Self {
        Self { readers: 16, duration_secs: 30, skew: 1.1 }
    }
}

// `f64` because Prometheus exposes every sample as a float, counters included; keeping
// the type avoids a lossy round trip and lets deltas be computed without casts.
/// Hit/miss counts of both caches (differences of two scrapes).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HitCounts {
    /// `cache="list"`: ListBooks pages, keyed by every query parameter. (SearchBooks has
    /// its own `cache="search"` series; this load does not search.)
    pub list_hits: f64,
    pub list_misses: f64,
    /// `cache="detail"`: GetBook, one key per book id.
    pub detail_hits: f64,
    pub detail_misses: f64,
}

impl HitCounts {
    // One scrape, four filtered sums. Reading all four from the *same* scrape matters: from
    // two scrapes, hits and misses would cover slightly different intervals, and the rate
    // could even exceed 100 % for a second.
    fn read(s: &metrics::Scrape) -> Self {
        let c =
            |cache, result| s.sum("cache_requests_total", &[("cache", cache), ("result", result)]);
        Self {
            list_hits: c("list", "hit"),
            list_misses: c("list", "miss"),
            detail_hits: c("detail", "hit"),
            detail_misses: c("detail", "miss"),
        }
    }

    // Counter arithmetic: counters only grow, so `now − before` is what happened in between.
    // If the service restarted, the counters restart at 0 and this goes negative for one
    // second; the rate then shows nonsense for one tick rather than hiding the restart.
    fn minus(&self, o: &Self) -> Self {
        Self {
            list_hits: self.list_hits - o.list_hits,
            list_misses: self.list_misses - o.list_misses,
            detail_hits: self.detail_hits - o.detail_hits,
            detail_misses: self.detail_misses - o.detail_misses,
        }
    }

    // Combined over list and detail caches, weighted by lookups — not the average of the
    // two rates. With four detail reads per list read, averaging would give the (fewer)
    // list lookups four times their real weight.
    /// Hit rate over both caches, `None` when nothing was looked up.
    pub fn rate(&self) -> Option<f64> {
        let hits = self.list_hits + self.detail_hits;
        let total = hits + self.list_misses + self.detail_misses;
        (total > 0.0).then(|| hits / total)
    }
}

/// What the runner reports.
#[derive(Clone, Debug)]
pub enum CacheEvent {
    /// Load started over `books` books; `hot` is the most-read one.
    Started {
        books: u64,
        hot: u64,
    },
    /// Once a second: load so far, hit counts of the last second and since the start, and
    /// the hottest book's stock as the cache serves it.
    Progress {
        load: Snapshot,
        last_second: HitCounts,
        total: HitCounts,
        hot_stock: Option<i32>,
    },
    // Success and failure alike: the learner pressed a key and gets an answer either way.
    /// A learner action finished (publish, stock change), as a line to show.
    Note(String),
    Done,
    Failed(String),
}

// Resolved from `stack.json` each time a command runs (see `tui::Context`), never cached
// across commands.
/// Addresses of the services the experiment talks to.
#[derive(Clone, Debug)]
pub struct CacheTargets {
    /// catalog-service gRPC `host:port`.
    pub catalog: String,
    /// catalog-service metrics `host:port`.
    pub catalog_metrics: Option<String>,
    /// user-service gRPC `host:port` (for the token PublishBook needs).
    pub user: Option<String>,
}

// How it works: precompute the running sum of weights 1/1^s, 1/2^s, … 1/n^s (the CDF, not
// normalised). To sample, draw x uniform in [0, total) and find the first rank whose
// cumulative weight reaches x — `partition_point` is a binary search, so O(log n) per
// sample after O(n) setup. Rank k is chosen with probability (1/k^s) / total, exactly.
// Why not the `rand_distr::Zipf` crate: it is a fine choice; this is twelve lines the
// lesson can show, with no extra dependency, and the test below checks its shape.
// Where misses come from, which is what skew really changes. Every key's first read is a
// miss (a *cold* miss); after that it hits until it is evicted (a write) or expires (TTL).
// In this experiment Redis has room for everything, so over a long run *both* uniform and
// skewed loads approach 100 % — the difference is how fast. A uniform load over 200 books
// reads all 200 within the first second or two and pays its 200 cold misses up front; a
// Zipf load reads the head at once and the tail only occasionally, so its cold misses
// trickle in for the whole run while the head already hits. The screens show the
// consequence: with skew the hit rate is high *early*, and a single invalidation costs a
// dip only as big as that key's share of the traffic. In production, where the cache is
// smaller than the catalogue, skew decides the steady state too: the head fits, the tail
// keeps missing.
/// Ranks 1..=n chosen ∝ 1/k^s, sampled by binary search in the cumulative weights.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    // `n.max(1)` so an empty catalogue still yields a valid (one-rank) distribution; the
    // caller refuses an empty catalogue earlier anyway.
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (1..=n.max(1))
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        Self { cdf }
    }

    // `.min(len - 1)` guards the floating-point edge where x rounds to the total itself.
    /// A 0-based rank: 0 is the most popular.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cdf.last().unwrap_or(&1.0);
        let x = rng.random::<f64>() * total;
        self.cdf.partition_point(|c| *c < x).min(self.cdf.len() - 1)
    }
}

// `connect_timeout` bounds the TCP connect, `timeout` bounds every request on the
// channel. Without the second, a service stuck in a slow query would keep a reader
// waiting forever, and the load engine would report fewer, not slower, requests.
/// A gRPC channel with short timeouts: a lab talking to a stopped service should say so
/// in two seconds, not hang the screen for the OS's TCP timeout.
// `http://`: plaintext HTTP/2 on loopback, like every hop inside the lab. Between
// machines the same calls would run over TLS (`https://` plus a `ClientTlsConfig`);
// nothing else in this code would change.
pub(crate) async fn channel(address: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?)
}

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
    // Two independent Zipfs: one over books (for GetBook), one over list pages (for
    // ListBooks). Page 1 is by far the most read, like a real shop's front page.
    let hot = ids[0];
    let pages = ids.len().div_ceil(PAGE_SIZE as usize);
    let by_id = Arc::new(Zipf::new(ids.len(), params.skew));
    let by_page = Arc::new(Zipf::new(pages, params.skew));
    let _ = events.send(CacheEvent::Started { books: ids.len() as u64, hot });

    // A separate HTTP client for `/metrics` (Prometheus exposition is plain HTTP, not gRPC);
    // the closure below makes "no metrics address" (a service started without one) a `None`
    // instead of an error that would abort the experiment.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let scrape = |http: reqwest::Client| {
        let addr = targets.catalog_metrics.clone();
        async move {
            match addr {
                Some(a) => metrics::scrape(&http, &a).await.map(|s| HitCounts::read(&s)).ok(),
                None => None,
            }
        }
    };
    // The baseline scrape, taken before the load starts: totals are "since this run began",
    // not since the service started, so earlier runs do not inflate this run's hit rate.
    let start = scrape(http.clone()).await.unwrap_or_default();

    // Four reads in five are book details, one is a list page: a shop's browse pattern.
    // A `watch` channel, not an mpsc: the sampler below only needs the *latest* load
    // snapshot once a second, and a watch keeps exactly one value — the engine can publish
    // as often as it likes without filling a queue.
    let (tx, rx) = watch::channel(Snapshot::default());
    let load = {
        let (ids, by_id, by_page) = (ids.clone(), by_id.clone(), by_page.clone());
        let client = client.clone();
        let cfg = LoadConfig::timed(
            params.readers as usize,
            Duration::from_secs(u64::from(params.duration_secs.max(1))),
        );
        // The load runs in its own task so this function can sample the counters once a second
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
                    (ids[by_id.sample(&mut rng)], by_page.sample(&mut rng) as u32 + 1)
                };
                async move {
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
                        Err(_) => Outcome::Failed,
                    }
                }
            },
            Some(tx),
        ))
    };

    // Sample once a second until the load is done.
    // `interval` fires at once on the first tick; that tick is consumed before the loop so
    // the first report covers a full second of load, not zero milliseconds of it.
    let mut prev = start;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = scrape(http.clone()).await.unwrap_or(prev);
        // The hot book's stock is read *through the service* (GetBook, i.e. through the cache),
        // on purpose: after `u` changes the stock, this number changing within a second is the
        // visible proof that the write evicted the cached detail. If it stayed stale for minutes,
        // the service would be caching without invalidating — the bug Day 29 warns about.
        let hot_stock = client
            .get_book(GetBookRequest { id: hot })
            .await
            .ok()
            .and_then(|r| r.into_inner().book)
            .map(|b| b.stock);
        let snapshot = rx.borrow().clone();
        // Checked before sending, so the last report (which includes the final snapshot)
        // is sent once more after the load ended, and then the loop stops.
        let done = load.is_finished();
        let _ = events.send(CacheEvent::Progress {
            load: snapshot,
            last_second: now.minus(&prev),
            total: now.minus(&start),
            hot_stock,
        });
        prev = now;
        if done {
            break;
        }
    }
    let _ = load.await;
    let _ = events.send(CacheEvent::Done);
    Ok(())
}

// Registering a fresh user each time is a shortcut: it needs no credentials from the
// learner and no seeded admin, at the price of one throwaway user per press. A real
// admin tool would log in once and keep the token.
// The call chain this press sets off is the course's Week 6 architecture in miniature:
// lab → user-service Register/Login (a JWT) → catalog-service PublishBook with
// `authorization: Bearer …` → catalog asks user-service `ValidateToken` (one holder of the
// signing key) → INSERT in `catalog_db` → `INCR` the list version. Reads need no token; only
// writes pay for the extra RPC. If user-service is down, PublishBook fails *closed*
// (UNAVAILABLE) and the note says so — the right behaviour for an auth check.
/// A learner's write: publish a new book (as a lab user registered on the fly). The
/// catalog must evict its list pages, or the new book stays invisible for 5 minutes.
pub async fn publish_book(targets: &CacheTargets) -> anyhow::Result<String> {
    let user_addr =
        targets.user.as_deref().ok_or_else(|| anyhow::anyhow!("user-service is not running"))?;
    let mut users = UserServiceClient::new(channel(user_addr).await?);
    let name = bookstore_stack::testing::unique_name("lab");
    let password = format!("{name}-pw-1234");
    users
        .register(RegisterRequest {
            username: name.clone(),
            password: password.clone(),
            email: format!("{name}@lab.local"),
        })
        .await?;
    let token =
        users.login(LoginRequest { username: name.clone(), password }).await?.into_inner().token;
    // A random ISBN so repeated presses never hit the catalog's unique-ISBN check
    // (AlreadyExists), which would teach nothing about caching. It must still be a *valid*
    // ISBN-13 — the catalog checks the check digit — so the 13th digit comes from the
    // catalog's own function rather than a second copy of the rule here.
    let first12: Vec<u8> = std::iter::once([9u8, 7, 8])
        .flatten()
        .chain((0..9).map(|_| rand::rng().random_range(0..10u8)))
        .collect();
    let check = bookstore_catalog::domain::isbn13_check_digit(&first12);
    let isbn: String = first12.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
    let mut req = tonic::Request::new(PublishBookRequest {
        title: format!("实验室新书 {name}"),
        author: "bookstore-lab".into(),
        isbn,
        publisher: "实验室出版社".into(),
        // Money in integer cents (¥42.00), as the proto defines it: ❌ DON'T carry prices in
        // floats — 0.1 + 0.2 ≠ 0.3, and an order total that is off by a cent fails the payment
        // reconciliation on Day 34.
        price: 4200,
        stock: 10,
        description: "Day 29 缓存失效实验中发布".into(),
    });
    // gRPC metadata is the HTTP/2 header block; the catalog reads the token with
    // `bookstore_platform::auth::bearer_token`, the same way the gateway forwards it.
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    let book = catalog
        .publish_book(req)
        .await?
        .into_inner()
        .book
        .ok_or_else(|| anyhow::anyhow!("PublishBook returned no book"))?;
    Ok(format!("已发布《{}》(id {})", book.title, book.id))
}

// Down by one while there is stock, back up by ten near zero: pressing `u` repeatedly
// keeps changing the number (each press must be a visible change) without ever
// reaching an invalid negative stock, which the service would refuse.
// UpdateStock is an *internal* RPC (the proto says inventory-service calls it to keep the
// catalogue's displayed stock in step; the gateway never exposes it). The lab calls it
// directly to trigger a catalogue write on demand — a lab privilege, like reading the
// ledger. The value is absolute, not a delta, so a retried call cannot apply twice.
/// A learner's write: set the hottest book's stock to a new value through UpdateStock.
pub async fn change_stock(targets: &CacheTargets, book: u64) -> anyhow::Result<String> {
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    let current = catalog
        .get_book(GetBookRequest { id: book })
        .await?
        .into_inner()
        .book
        .map_or(0, |b| b.stock);
    // Read-modify-write from the client is racy in general (two learners pressing `u` at once
    // could both write 41); it is fine here because the lab is the only writer and the point
    // is the visible change, not the arithmetic. The inventory lessons are where concurrent
    // writes are done properly.
    let next = if current > 5 { current - 1 } else { current + 10 };
    catalog.update_stock(UpdateStockRequest { book_id: book, stock: next }).await?;
    Ok(format!("图书 {book} 库存 {current} → {next}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the sampler is skewed the right way round (rank 0 most popular) and strongly:
    // with s = 1.1 the true ratio of rank 1 to rank 100 is 100^1.1 ≈ 158, so a threshold of
    // 10× over 20,000 draws cannot fail by chance, yet would fail for a uniform or reversed
    // sampler.
    /// With s > 0 the first rank is drawn far more often than the last.
    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(100, 1.1);
        let mut rng = rand::rng();
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > 10 * counts[99].max(1), "{counts:?}");
    }

    // Proves the rate is weighted by lookups (8 hits of 10 = 0.8, not the mean of 0.5 and
    // 0.875) and that "no lookups" is `None`, which the sparkline relies on to skip a second.
    /// The hit rate covers both caches and is undefined with no lookups.
    #[test]
    fn hit_rate_combines_both_caches() {
        let h =
            HitCounts { list_hits: 1.0, list_misses: 1.0, detail_hits: 7.0, detail_misses: 1.0 };
        assert_eq!(h.rate(), Some(0.8));
        assert_eq!(HitCounts::default().rate(), None);
    }
}
