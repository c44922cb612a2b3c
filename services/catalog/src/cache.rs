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
//! | `{prefix}catalog:ids:v42:list:price:ASC:k=rust` | total, count, then the ids in that order (big-endian `u64`s) | 300 s ± 10 % |
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

use crate::{
    domain::{BookId, ListQuery, Page, SearchQuery},
    store::{Matches, PageIds},
};

/// Bytes before the first id of a matches value: the total and the stored count.
const HEADER: u64 = 16;

/// The replies of [`Cache::get_with_matches`]'s pipeline: the page (or nil), then the two
/// `GETRANGE`s of the matches value (empty strings when it is missing).
type PageAndMatches = (Option<Vec<u8>>, Vec<u8>, Vec<u8>);

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
/// The version travels with the key because a miss needs it once more: the filter's
/// matches are cached under the same version (see [`Cache::list_matches_key`]).
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

    /// `…catalog:ids:v{version}:list:{sort}:{dir}:k={keyword}` — a ListBooks filter's
    /// matches in one order: their total and ids ([`Matches`]), under the pages' version.
    ///
    /// Why the matches get a key of their own: every page of one filter and sort is a
    /// slice of them, but while each page's miss ran its own statement, every miss scanned
    /// the table for `LIKE '%kw%'` again, and every page also counted the matches again.
    /// With the ids cached, a page's miss is 20 primary-key reads, and a page past the end
    /// needs no statement at all.
    ///
    /// Sort and direction are in the key, the page is not: the pages of one order share
    /// the ids, another order has other ids. The version is, for the reason pages carry
    /// it: a publish changes the matches, and its `INCR` retires the old ones with the old
    /// pages.
    pub fn list_matches_key(&self, version: u64, q: &ListQuery) -> String {
        format!(
            "{}catalog:ids:v{version}:list:{}:{}:k={}",
            self.prefix,
            q.sort.column(),
            q.direction.sql(),
            q.keyword
        )
    }

    /// The matches of a SearchBooks text: its own `search` namespace, because a search also
    /// matches ISBNs and so finds other books than a ListBooks keyword of the same text.
    pub fn search_matches_key(&self, version: u64, q: &SearchQuery) -> String {
        format!("{}catalog:ids:v{version}:search:q={}", self.prefix, q.text)
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

    /// A single-flight leader's second look at its page, together with what the filter's
    /// cached matches say of this page, in one pipelined round trip: `(page bytes, ids)`,
    /// each `None` on a miss or a Redis error (logged; the leader then loads as if both
    /// missed).
    ///
    /// The matches are read with two `GETRANGE`s — the header and the page's slice — not
    /// one `GET`: the value is up to 40 KB, and a page needs 8 bytes per book of it. That is
    /// what the fixed-width layout (see [`Cache::put_matches`]) is for.
    pub async fn get_with_matches(
        &self,
        key: &str,
        matches_key: &str,
        page: Page,
    ) -> (Option<Vec<u8>>, Option<PageIds>) {
        let mut conn = self.conn.clone();
        // Byte range of the page's ids; GETRANGE's end is inclusive. A range beyond the
        // value's end returns what exists (possibly nothing), which `PageIds` reads as
        // "not stored".
        let first = HEADER + page.offset() * 8;
        let last = first + u64::from(page.size) * 8 - 1;
        let (first, last) = (
            isize::try_from(first).unwrap_or(isize::MAX),
            isize::try_from(last).unwrap_or(isize::MAX),
        );
        // Three commands, one round trip, and no script: the two keys are named by the
        // caller, so this stays legal on Redis Cluster even though page and matches keys
        // may hash to different slots (a script touching both would not be).
        let reply: redis::RedisResult<PageAndMatches> = redis::pipe()
            .get(key)
            .getrange(matches_key, 0, HEADER as isize - 1)
            .getrange(matches_key, first, last)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok((cached, header, slice)) => (cached, decode_matches(&header, &slice, page)),
            Err(e) => {
                tracing::warn!(error = %e, key, "redis GET page and matches failed; treating as misses");
                (None, None)
            }
        }
    }

    /// Caches a filter's matches under `matches_key`, with the list TTL: they live exactly
    /// as long as the pages they belong to.
    ///
    /// Layout, all big-endian `u64`: the total, how many ids are stored, then the ids. Fixed
    /// width, so the ids of page *p* sit at a computable offset and one `GETRANGE` fetches
    /// them. ❌ DON'T store them as JSON or a comma list: a reader would have to fetch and
    /// parse all 5,000 to use 20.
    pub async fn put_matches(&self, matches_key: &str, m: &Matches) {
        let mut value = Vec::with_capacity(HEADER as usize + m.ids.len() * 8);
        value.extend_from_slice(&m.total.to_be_bytes());
        value.extend_from_slice(&(m.ids.len() as u64).to_be_bytes());
        for id in &m.ids {
            value.extend_from_slice(&id.to_be_bytes());
        }
        self.put(matches_key, &value, self.ttls.list).await;
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

/// Reads what a matches value says of one page: its `header` and the page's `slice`, as
/// [`Cache::get_with_matches`] fetched them.
///
/// A missing key reads as two empty strings (GETRANGE's answer for no key): `None`, a
/// miss. So does a header of the wrong length — a value this code did not write is not
/// trusted to say where a page's ids are.
fn decode_matches(header: &[u8], slice: &[u8], page: Page) -> Option<PageIds> {
    let word = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("8-byte chunk"));
    if header.len() != HEADER as usize || !slice.len().is_multiple_of(8) {
        return None;
    }
    let (total, stored) = (word(&header[..8]), word(&header[8..]));
    let ids: Vec<u64> = slice.chunks_exact(8).map(word).collect();
    Some(PageIds::new(total, stored, page, &ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// The GETRANGE replies decode to the page's ids; a missing key (two empty strings) or
    /// a value of another layout is a miss, never a page of wrong ids.
    #[test]
    fn a_matches_value_is_read_back_by_range_or_not_at_all() {
        let page = Page { page: 2, size: 2 };
        let got = decode_matches(&words(&[5, 5]), &words(&[30, 40]), page).unwrap();
        assert_eq!((got.total, got.ids), (5, Some(vec![30, 40])));
        assert!(decode_matches(b"", b"", page).is_none(), "a missing key is a miss");
        assert!(decode_matches(b"12", b"", page).is_none(), "decimal text is not the layout");
        assert!(decode_matches(&words(&[5, 5]), b"odd", page).is_none());
    }
}
