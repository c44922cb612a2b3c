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
//! Why skew decides the hit rate, what changing the knobs should do, a back-of-envelope
//! estimate and the exercises are in the Day 29 lesson (`lessons/day29/lesson.md`, 实验).
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
    Started { books: u64, hot: u64 },
    /// Once a second: load so far, hit counts of the last second and since the start, and
    /// the hottest book's stock as the cache serves it.
    Progress { load: Snapshot, last_second: HitCounts, total: HitCounts, hot_stock: Option<i32> },
    // Success and failure alike: the learner pressed a key and gets an answer either way.
    /// A learner action finished (publish, stock change), as a line to show.
    Note(String),
    /// The run's duration is over and its last `Progress` (with the final snapshot) was
    /// sent before this: the screen can freeze its figures as the run's result.
    Done,
    /// The run could not start or broke off (catalog unreachable, an empty catalogue):
    /// the message replaces the status line, so a failed run never looks paused.
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
