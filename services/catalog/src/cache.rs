//! Cache-aside in Redis: key design, TTLs with jitter, negative entries and invalidation.
//!
//! ## Cache-aside, the course's pattern
//!
//! ```text
//! read:  GET key ── hit ──▶ answer
//!          └─ miss ─▶ SELECT … ─▶ SET key value EX ttl ─▶ answer
//! write: UPDATE … ─▶ invalidate (DEL detail key, INCR list version)
//! ```
//!
//! The course's DO/DON'T, and where this module answers each:
//!
//! | DON'T | what goes wrong | DO (here) |
//! |---|---|---|
//! | TTL too long (a day) | edits stay invisible for a day whenever an invalidation is lost | lists 5 min, details 1 h: a lost invalidation heals itself soon |
//! | no TTL at all | memory grows until Redis evicts at random, or OOMs | every `SET` has `EX` ([`Cache::put`] cannot be called without one) |
//! | key without all parameters (`catalog:list:{page}`) | page 2 sorted by price is served to someone who asked for page 2 by title | [`Cache::list_key`] contains page, size, sort, direction, keyword and the list version |
//!
//! ## The three classic failures
//!
//! - **Penetration (穿透)** — requests for ids that do not exist always miss, so each one
//!   reaches MySQL; a script looping over random ids becomes a database load test.
//!   DO: cache the *absence* too, briefly ([`NEGATIVE`] entries, 60 s).
//! - **Breakdown / stampede (击穿)** — a hot key expires and hundreds of concurrent misses
//!   all query MySQL for it. DO: single-flight (see [`crate::singleflight`]).
//! - **Avalanche (雪崩)** — many keys written at the same moment (a warm-up, a deploy)
//!   with the same TTL all expire in the same second, and MySQL gets all of them at once.
//!   DO: jitter every TTL by ±10 % ([`jittered`]), so expiries spread out.
//!
//! ## Invalidation without KEYS or SCAN
//!
//! A new book can appear on *any* list page, under any sort and keyword, so a write would
//! have to delete every list key. DON'T `KEYS catalog:list:*`: it walks the whole keyspace
//! while Redis, single-threaded, answers nobody else (seconds on a big instance). `SCAN` is
//! gentler but still O(keyspace) per write.
//! DO: stamp a **version number** into every list key (`…:list:v42:…`). A write runs
//! `INCR …:list:version`; readers then build `…:list:v43:…` keys, which miss and reload.
//! The old `v42` keys are never read again and expire on their own TTL. One O(1) command
//! invalidates every list, and it stays correct with many service instances.
//!
//! ## When Redis is down
//!
//! The cache is an optimisation, not the source of truth: a failed `GET` is treated as a
//! miss and logged, so the service keeps answering from MySQL (single-flight still
//! protects MySQL from the extra load). A failed invalidation is logged; the TTL bounds
//! how long the stale entry can live — one more reason every entry has one.
//!
//! ## Key anatomy
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `{prefix}catalog:list:version` | an integer, `INCR`ed by every write | none: it must outlive every key stamped with it |
//! | `{prefix}catalog:list:v42:p2:n20:price:ASC:k=rust` | protobuf `ListBooksResponse` | 300 s ± 10 % |
//! | `{prefix}catalog:search:v42:p1:n20:q=100%` | protobuf `SearchBooksResponse` | 300 s ± 10 % |
//! | `{prefix}catalog:count:v42:list:k=rust` | decimal text: how many books match | 300 s ± 10 % |
//! | `{prefix}catalog:book:7` | protobuf `Book` | 3600 s ± 10 % |
//! | `{prefix}catalog:book:999999` | empty string = "no such book" | 60 s ± 10 % |
//!
//! The version key is the one key without a TTL, and that is safe: it is a single small
//! integer, not a growing set. If it were lost (a Redis restart without persistence), it
//! restarts from 0 and readers would build keys that old entries may still occupy — at
//! worst 5 minutes of stale lists, once. (A stricter design would seed the version from
//! the clock; we keep the simple one and say so.)
//!
//! ## Why these TTLs
//!
//! The TTL is the upper bound on staleness *when invalidation fails*, and the lower bound
//! on how often MySQL sees each key. Lists: 5 minutes — a learner publishing a book sees
//! it at once through invalidation; if Redis missed that `INCR`, it appears within 5 min.
//! Details: 1 hour — a book's fields rarely change and are deleted precisely by id on
//! every write. With 5,000 books fully cached, the detail keys cost ~5,000 × 0.6 KB ≈ 3 MB;
//! list keys are bounded by the traffic's distinct queries within 5 minutes.
//!
//! ## One round trip per hit
//!
//! A versioned key needs the version before the key can be named: naively `GET version`,
//! then `GET key` — two round trips per hit. A Lua script could do both at once, but it
//! would touch a key it did not declare (the versioned key is computed inside the
//! script), which Redis Cluster forbids. Instead [`Cache::versioned_get`] *pipelines*
//! `GET version` with `GET key(last version seen)`, and uses the second reply only if the
//! first confirms the guess. Versions change only on writes, so almost every hit is one
//! round trip, and correctness never depends on the guess.
//! DON'T simply cache the version inside the process to save the GET: another instance's
//! write would then stay invisible here until that local copy expired.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rand::Rng;
use redis::{AsyncCommands, aio::ConnectionManager};

use crate::domain::{BookId, ListQuery, SearchQuery};

// A limit of this design, said plainly: a *single* very hot key (page 1, newest first)
// lives on one Redis node. At tens of thousands of requests per second on one key, the
// usual next step is a tiny in-process cache (an L1 of a few hundred entries for a
// second or two) in front of Redis — trading a second of staleness for no network hop.
// At the lab's scale one Redis answers far more than the service can ask.

/// The value stored for "this id does not exist": an empty string. A real book always
/// encodes to at least a few bytes (its id is non-zero), so the two cannot be confused.
pub const NEGATIVE: &[u8] = b"";

/// The TTLs, from settings.
///
/// Durations rather than seconds so the rest of the code cannot mix up units; `put`
/// converts to whole seconds for `EX` at the last moment.
#[derive(Clone, Copy, Debug)]
pub struct Ttls {
    /// List and search pages (`list_ttl_secs`, 5 min by default).
    pub list: Duration,
    /// One book's entry (`detail_ttl_secs`, 1 h).
    pub detail: Duration,
    /// A [`NEGATIVE`] entry (`negative_ttl_secs`, 60 s).
    pub negative: Duration,
}

// lesson:jitter:start
/// `base` ± 10 %, uniformly: the avalanche defence.
///
/// Why ±10 %: 1,000 keys written in the same second with exactly 300 s all expire in the
/// same second 5 minutes later — a synchronized miss storm. Spread uniformly over
/// 270–330 s, the same keys expire at ~17 per second. Wider jitter spreads more but makes
/// the "5 minutes" promise vaguer; 10 % is the usual compromise. The floor of 1 s keeps a
/// tiny configured TTL from rounding down to `EX 0`, which Redis refuses as an error.
pub fn jittered(base: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..=1.1);
    base.mul_f64(factor).max(Duration::from_secs(1))
}
// lesson:jitter:end

/// What [`Cache::versioned_get`] found: the list version it read, the key that version
/// names, and the entry under that key (`None` on a miss).
///
/// The version travels with the key because a miss needs it once more: the page's total
/// is cached under the same version (see [`Cache::list_count_key`]).
pub struct Lookup {
    pub version: u64,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// The catalog's view of Redis: keys, TTLs, and the few commands it needs.
#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
    prefix: String,
    pub ttls: Ttls,
    /// The list version this process saw last: a guess for [`Cache::versioned_get`].
    version_hint: Arc<AtomicU64>,
}

impl Cache {
    /// A cache over `conn` whose every key starts with `prefix` (empty in production; a
    /// random one per test, so parallel tests share one Redis without sharing keys).
    ///
    /// `ConnectionManager` is one multiplexed connection that reconnects by itself; the
    /// `conn.clone()` in every method below is a cheap handle to it, not a new socket.
    /// The version hint starts at 0, the version of a Redis that has never seen a write.
    pub fn new(conn: ConnectionManager, prefix: &str, ttls: Ttls) -> Self {
        Self { conn, prefix: prefix.to_string(), ttls, version_hint: Arc::new(AtomicU64::new(0)) }
    }

    /// The one key without a TTL (see the key anatomy above).
    fn version_key(&self) -> String {
        format!("{}catalog:list:version", self.prefix)
    }

    /// Looks up a versioned key in **one** round trip: `GET version` and `GET key(hint)`
    /// are pipelined, where `hint` is the version this process saw last. If the version
    /// read back equals the hint — the normal case, versions change only on writes — the
    /// second reply *is* the entry for the current version. Otherwise the hint is updated
    /// and the right key is fetched (a second round trip, once per write per process).
    ///
    /// The hint is only ever a guess that the same round trip verifies, so this is not the
    /// DON'T above (trusting a process-local version): a write by another instance is seen
    /// on the very next request, exactly as with two sequential GETs.
    ///
    /// Returns the [`Lookup`], or `None` if Redis failed (the caller then bypasses the
    /// cache for this request).
    pub async fn versioned_get(&self, key_for: impl Fn(u64) -> String) -> Option<Lookup> {
        let hint = self.version_hint.load(Ordering::Relaxed);
        let guessed = key_for(hint);
        let mut conn = self.conn.clone();
        // A pipeline, not MULTI: the two GETs are not atomic. A write landing between them
        // makes this the page as it was just before that write (what a request a moment
        // earlier got), never a mix of two versions.
        let reply: redis::RedisResult<(Option<u64>, Option<Vec<u8>>)> =
            redis::pipe().get(self.version_key()).get(&guessed).query_async(&mut conn).await;
        match reply {
            Ok((version, value)) => {
                // No version key yet means version 0: the first `INCR` creates it as 1.
                let version = version.unwrap_or(0);
                if version == hint {
                    return Some(Lookup { version, key: guessed, value });
                }
                // `Relaxed` is enough: the hint is a guess that the next pipeline verifies,
                // so a stale read of it costs at most one extra round trip, never a wrong page.
                self.version_hint.store(version, Ordering::Relaxed);
                let key = key_for(version);
                let value = self.get(&key).await;
                Some(Lookup { version, key, value })
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis GET list version failed; bypassing cache");
                None
            }
        }
    }

    // lesson:cache-keys:start
    /// `…catalog:list:v{version}:p{page}:n{size}:{sort}:{dir}:k={keyword}` — every input
    /// that changes the answer is in the key. The keyword goes last, so even a keyword
    /// containing `:` cannot make two different queries produce the same key.
    ///
    /// Example: `catalog:list:v3:p1:n20:created_at:DESC:k=` (no keyword) or
    /// `catalog:list:v3:p2:n20:title:ASC:k=分布式系统`. Keys are binary-safe in Redis, so a
    /// Chinese keyword is stored as its UTF-8 bytes; `redis-cli --scan` shows it escaped.
    /// The longest possible key is ~400 bytes (a 100-character keyword): fine for Redis,
    /// whose keys may be up to 512 MB, and small next to the values they name.
    pub fn list_key(&self, version: u64, q: &ListQuery) -> String {
        format!(
            "{}catalog:list:v{version}:p{}:n{}:{}:{}:k={}",
            self.prefix,
            q.page.page,
            q.page.size,
            q.sort.column(),
            q.direction.sql(),
            q.keyword
        )
    }

    /// Search results share the list version: a write can change any of them too.
    ///
    /// A different namespace (`catalog:search:`) from lists: the same text as a ListBooks
    /// keyword and as a SearchBooks query matches different columns, so the two answers
    /// differ and must never share a key.
    pub fn search_key(&self, version: u64, q: &SearchQuery) -> String {
        format!(
            "{}catalog:search:v{version}:p{}:n{}:q={}",
            self.prefix, q.page.page, q.page.size, q.text
        )
    }

    /// `…catalog:count:v{version}:list:k={keyword}` — how many books a ListBooks keyword
    /// matches (`k=` for the unfiltered list), under the same version as the pages.
    ///
    /// Why the total gets a key of its own: every page and sort of one filter shares it,
    /// but while it lived only inside each page's value, every page's miss counted the
    /// matches again. Counting is what makes a miss expensive: with a keyword,
    /// `COUNT(*) OVER ()` makes the statement read *every* match before `LIMIT` may stop
    /// (page 1 of a keyword needs only its first 20); unfiltered, a `COUNT(*)` over the
    /// whole table rides along with every page. With the total known, a page is a bare
    /// `LIMIT` that stops at its last row, and a page past the end needs no statement.
    ///
    /// Sort and page are not in the key: they reorder the matches, they do not change how
    /// many there are. The version is, for the reason pages carry it: a publish changes
    /// the count, and its `INCR` must retire the old one with the old pages.
    pub fn list_count_key(&self, version: u64, q: &ListQuery) -> String {
        format!("{}catalog:count:v{version}:list:k={}", self.prefix, q.keyword)
    }

    /// The count of a SearchBooks text: its own `search` namespace, because a search also
    /// matches ISBNs and so counts differently from a ListBooks keyword of the same text.
    pub fn search_count_key(&self, version: u64, q: &SearchQuery) -> String {
        format!("{}catalog:count:v{version}:search:q={}", self.prefix, q.text)
    }

    /// `…catalog:book:{id}`: one key per book, deleted by every write to that book.
    ///
    /// No version in detail keys: versions invalidate *everything* at once, which is right
    /// for lists (one write can move any page) and wasteful for details (one write changes
    /// one book).
    pub fn detail_key(&self, id: BookId) -> String {
        format!("{}catalog:book:{}", self.prefix, id.get())
    }
    // lesson:cache-keys:end

    /// The cached bytes, or `None` on a miss *or* a Redis error (logged).
    ///
    /// `warn!`, not `error!`: a failed GET costs one query and heals itself; an outage
    /// shows as a burst of these lines next to a rising `catalog_db_queries_total`.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.conn.clone();
        match conn.get::<_, Option<Vec<u8>>>(key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, key, "redis GET failed; treating as a miss");
                None
            }
        }
    }

    /// A single-flight leader's second look at its page, together with the filter's
    /// cached total, in one pipelined round trip: `(page bytes, total)`, each `None` on a
    /// miss or a Redis error (logged; the leader then loads as if both missed).
    ///
    /// The total is stored as decimal text, so `redis-cli GET` shows it as it is; a value
    /// that does not parse counts as missing, never as 0 — a wrong 0 would make every
    /// page of the filter look past the end.
    pub async fn get_with_count(
        &self,
        key: &str,
        count_key: &str,
    ) -> (Option<Vec<u8>>, Option<u64>) {
        let mut conn = self.conn.clone();
        let reply: redis::RedisResult<(Option<Vec<u8>>, Option<String>)> =
            redis::pipe().get(key).get(count_key).query_async(&mut conn).await;
        match reply {
            Ok((page, total)) => (page, total.and_then(|t| t.parse().ok())),
            Err(e) => {
                tracing::warn!(error = %e, key, "redis GET page and count failed; treating as misses");
                (None, None)
            }
        }
    }

    /// Caches a filter's total under `count_key`, with the list TTL: a count lives exactly
    /// as long as the pages it belongs to.
    pub async fn put_count(&self, count_key: &str, total: u64) {
        self.put(count_key, total.to_string().as_bytes(), self.ttls.list).await;
    }

    /// `SET key value EX ttl±10%`. A failure is logged and ignored: the answer was
    /// already computed, the next request will simply miss again.
    ///
    /// DO: `SET … EX` in one command. DON'T `SET` then `EXPIRE`: if the process dies
    /// between the two, the key lives forever — the "no TTL" failure, by accident.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        let mut conn = self.conn.clone();
        let secs = jittered(ttl).as_secs();
        if let Err(e) = conn.set_ex::<_, _, ()>(key, value, secs).await {
            tracing::warn!(error = %e, key, "redis SET failed");
        }
    }

    /// Invalidates every cached list and search page at once (`INCR` the version).
    ///
    /// `INCR` is atomic in Redis: two writers bumping at once get 43 and 44, never both 43,
    /// so no write's invalidation can be lost to another's.
    pub async fn bump_list_version(&self) {
        let mut conn = self.conn.clone();
        // `error!`, where a failed GET or SET is only `warn!`: those cost one extra query,
        // this one leaves every list stale for up to a TTL, which an operator should see.
        if let Err(e) = conn.incr::<_, _, u64>(self.version_key(), 1).await {
            tracing::error!(error = %e, "redis INCR list version failed; lists stay stale until TTL");
        }
    }

    /// Deletes one key (a book's detail entry, positive or negative).
    ///
    /// DEL, not "SET the new value": see `CatalogApi::invalidate_book` for the race that
    /// updating the cache from a writer creates.
    pub async fn delete(&self, key: &str) {
        let mut conn = self.conn.clone();
        if let Err(e) = conn.del::<_, ()>(key).await {
            tracing::error!(error = %e, key, "redis DEL failed; entry stays stale until TTL");
        }
    }
}
