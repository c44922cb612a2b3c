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

use std::time::Duration;

use rand::Rng;
use redis::{AsyncCommands, aio::ConnectionManager};

use crate::domain::{BookId, ListQuery, SearchQuery};

/// The value stored for "this id does not exist": an empty string. A real book always
/// encodes to at least a few bytes (its id is non-zero), so the two cannot be confused.
pub const NEGATIVE: &[u8] = b"";

/// The TTLs, from settings.
#[derive(Clone, Copy, Debug)]
pub struct Ttls {
    pub list: Duration,
    pub detail: Duration,
    pub negative: Duration,
}

/// `base` ± 10 %, uniformly: the avalanche defence.
pub fn jittered(base: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..=1.1);
    base.mul_f64(factor).max(Duration::from_secs(1))
}

/// The catalog's view of Redis: keys, TTLs, and the few commands it needs.
#[derive(Clone)]
pub struct Cache {
    conn: ConnectionManager,
    prefix: String,
    pub ttls: Ttls,
}

impl Cache {
    pub fn new(conn: ConnectionManager, prefix: &str, ttls: Ttls) -> Self {
        Self { conn, prefix: prefix.to_string(), ttls }
    }

    fn version_key(&self) -> String {
        format!("{}catalog:list:version", self.prefix)
    }

    /// The current list version (0 before the first write). `None` if Redis failed; the
    /// caller then skips the cache for this request.
    pub async fn list_version(&self) -> Option<u64> {
        let mut conn = self.conn.clone();
        match conn.get::<_, Option<u64>>(self.version_key()).await {
            Ok(v) => Some(v.unwrap_or(0)),
            Err(e) => {
                tracing::warn!(error = %e, "redis GET list version failed; bypassing cache");
                None
            }
        }
    }

    /// `…catalog:list:v{version}:p{page}:n{size}:{sort}:{dir}:k={keyword}` — every input
    /// that changes the answer is in the key. The keyword goes last, so even a keyword
    /// containing `:` cannot make two different queries produce the same key.
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
    pub fn search_key(&self, version: u64, q: &SearchQuery) -> String {
        format!(
            "{}catalog:search:v{version}:p{}:n{}:q={}",
            self.prefix, q.page.page, q.page.size, q.text
        )
    }

    /// `…catalog:book:{id}`: one key per book, deleted by every write to that book.
    pub fn detail_key(&self, id: BookId) -> String {
        format!("{}catalog:book:{}", self.prefix, id.get())
    }

    /// The cached bytes, or `None` on a miss *or* a Redis error (logged).
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

    /// `SET key value EX ttl±10%`. A failure is logged and ignored: the answer was
    /// already computed, the next request will simply miss again.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        let mut conn = self.conn.clone();
        let secs = jittered(ttl).as_secs();
        if let Err(e) = conn.set_ex::<_, _, ()>(key, value, secs).await {
            tracing::warn!(error = %e, key, "redis SET failed");
        }
    }

    /// Invalidates every cached list and search page at once (`INCR` the version).
    pub async fn bump_list_version(&self) {
        let mut conn = self.conn.clone();
        if let Err(e) = conn.incr::<_, _, u64>(self.version_key(), 1).await {
            tracing::error!(error = %e, "redis INCR list version failed; lists stay stale until TTL");
        }
    }

    /// Deletes one key (a book's detail entry, positive or negative).
    pub async fn delete(&self, key: &str) {
        let mut conn = self.conn.clone();
        if let Err(e) = conn.del::<_, ()>(key).await {
            tracing::error!(error = %e, key, "redis DEL failed; entry stays stale until TTL");
        }
    }
}
