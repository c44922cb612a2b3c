//! Day 29's experiment: a skewed read load on catalog-service, and the cache's hit rate.
//!
//! Real shops are skewed: a few books get most of the views. The load picks book ids and
//! list pages with a Zipf distribution (rank k is chosen ∝ 1/k^s), through the running
//! catalog-service's gRPC API, so the cache-aside code under test is the service's own.
//! The hit rate is read from the service's `/metrics` (`cache_requests_total`), never
//! computed by the lab from its own guesses — the number is what the service observed.
//!
//! Invalidation, made visible: the learner publishes a book (`p`, a catalogue write that
//! must evict the list pages) or changes the hottest book's stock in inventory (`u`, which
//! must evict *nothing*). The screen shows the hottest book's stock as catalog-service
//! answers it: inventory's live figure, laid over the cached book at answer time (see
//! catalog's `live_stock`), so it follows a sale within about a second while the cached
//! entries stay — no dip in the hit rate after `u`, a dip after `p`.
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
//! - `u` is a sale (or a restock) in inventory-service: catalog caches no stock, so the
//!   sale evicts no key at all — the hit rate does not move, and the shown stock catches up
//!   within the 500 ms the catalog remembers a figure. ❌ DON'T push every sale into the
//!   catalogue as a write: at thousands of sales per second, every list page would be
//!   evicted thousands of times a second.
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
//! | `u` during the run | the hot stock changes within a second; no dip | the stock is read live from inventory, nothing cached is evicted |
//!
//! If the hot stock does *not* change after `u`, stop and read catalog's `live_stock`;
//! if the hit rate dips after `u`, a sale has become a catalogue write — the avalanche
//! Day 29 warns about.
//!
//! ## Exercises
//!
//! 1. In another terminal run `redis-cli MONITOR | grep -c GET` for ten seconds during a
//!    run, then the same for `SET`. Does GET/(GET+SET) roughly match the hit rate on screen?
//!    (It will not be exact: every list hit sends two GETs — the version and the guessed
//!    key, pipelined — see the catalog's cache module.)
//! 2. Comment out the `DEL` of the detail key in the service (locally!), restart it, press
//!    `p` and read the new book by id. Which TTL decides when it appears? Then start
//!    catalog-service with `BOOKSTORE_STOCK_TTL_MS=5000` and press `u`: how long until the
//!    stock on screen changes now?
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
//!
//! ## Modules
//!
//! - `load`: the run itself — the skewed readers, and the once-a-second report.
//! - `counts`: [`HitCounts`], the hit/miss counters read from one `/metrics` scrape.
//! - `zipf`: [`Zipf`], the rank sampler behind the skew.
//! - `writes`: the learner's two writes, [`publish_book`] and [`change_stock`].

mod counts;
mod load;
mod writes;
mod zipf;

use std::time::Duration;

use bookstore_loadgen::Snapshot;
use tonic::transport::Channel;

pub use counts::{FIGURE_KEYS, HitCounts, figures};
pub use load::run;
pub use writes::{change_stock, publish_book};
pub use zipf::Zipf;

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
    /// inventory-service gRPC `host:port`: where `u` sells or restocks the hot book.
    pub inventory: Option<String>,
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
