//! The key layout of one deployment: every key under one hash tag.
//!
//! ## Keys, and the one trade-off to understand
//!
//! Every key of a deployment shares one hash tag, `{<prefix>inv}`: Redis Cluster hashes
//! only the part between braces, so all inventory keys land in one slot. Redis Cluster
//! refuses a script whose keys hash to different slots (`CROSSSLOT`), so the tag is what
//! keeps a multi-book LockStock one atomic script and the change stream one ordered log.
//!
//! The price: the slot lives on one node, so in a cluster all inventory traffic goes to
//! that node and inventory can never use more than one node's CPU. A single Redis runs on
//! the order of 100k short script calls per second (the bench's `raw Lua` row measures
//! this machine), far above this shop. ✅ DO start with one slot and move only when a
//! measurement says that node is the bottleneck. ❌ DON'T give each book its own tag
//! (`{inv:42}`) "for scale" up front: a two-book order then cannot be one script and
//! becomes a saga — lock book A, lock book B, release A if B fails. Between the steps
//! another buyer sees A locked for an order that will fail; a crash between them leaves a
//! half-locked order that a recovery job must find; and the stream becomes one per slot,
//! so the syncer reads many streams and loses the global order of changes.
//!
//! ## The idempotency records, and what they are keyed by
//!
//! Retries are not an edge case: a deadline fires while the reply is in flight, a client
//! library retries UNAVAILABLE, a queue delivers twice, a user double-clicks. Without a
//! record, each is a double lock, a double release (stock minted from nothing) or a
//! double restock. Three records, each named after the *intent*: the order's reservation
//! (`order:`), the direct sale of an order (`direct:`), the caller's restock request id
//! (`incr:`). ❌ DON'T key them by a hash of the request body: two customers buying one
//! copy of the same book send the same body, and the second would be "deduplicated" into
//! a sale nobody made. Each record is checked and written *inside* the script that makes
//! the change; checking it from Rust first (`EXISTS`, then the script) reopens the
//! GET-then-DECRBY race for two concurrent retries of one order.
//!
//! The per-order records expire [`REPLAY_RETENTION`] after they were settled (a
//! reservation) or written (a direct-sale marker); an open reservation never expires, the
//! sweeper still needs it. Without a retention every order ever placed stays in Redis
//! (`MEMORY USAGE`: 120 bytes for a one-book reservation, 72 for a marker — about 1.2 GB
//! per ten million orders); the long memory is MySQL's (`inventory_reservations`, the log),
//! and a rebuild restores only the records still inside the retention.
//!
//! The restock markers (`incr:`) do not expire, on purpose: `inventory_logs.request_id` is
//! UNIQUE, so a restock retried after its marker expired would be applied in Redis and then
//! refused by MySQL — and the syncer would stop on that batch for good. Restocks are rare
//! (an admin, a publish), so keeping their markers costs little.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{P inv}:stock:<book>` | hash | `avail`, `locked`, `sold`, `total` |
//! | `{P inv}:order:<order>` | hash | a LockStock reservation: `state`, `at`, `b<book>` = qty |
//! | `{P inv}:direct:<order>` | string | a direct DecrStock was applied for this order |
//! | `{P inv}:incr:<request>` | string | an IncrStock was applied for this request id |
//! | `{P inv}:pending` | zset | open reservations by lock time (the sweeper's queue) |
//! | `{P inv}:events` | stream | every change, for the MySQL syncer |
//! | `{P inv}:books` | set | every book id with stock (for reconcile and rebuild) |
//! | `{P inv}:ready` | string | Redis holds this deployment's data (set after rebuild) |
//! | `{P inv}:rebuild` | string | the rebuild lock: a random token, with an expiry |

use std::time::Duration;

use crate::domain::{BookId, OrderId, RequestId};

/// How long a settled reservation and a direct-sale marker keep answering retries as
/// replays: 24 hours.
///
/// Against order-service, the only caller that retries per order: its LockStock retries
/// happen inside one CreateOrder (its peer deadline, seconds) or in its sweeper's
/// `abandon` of a stale intent (`intent_stale` plus one 5 s pass); a confirm or release is
/// retried every pass until inventory acknowledges it, and a payment can confirm until
/// the order's 15-minute window ends. So a retry comes within minutes — or, while inventory
/// itself is down, as long as the outage lasts. A day covers the payment window ~100 times
/// over and any outage short of an incident someone is already handling. What a retry
/// after the retention does: a late confirm or release finds no record and is a no-op
/// (safe); a late LockStock locks again (the sweeper releases it after the payment
/// window); a late direct DecrStock sells again — the case the figure must rule out.
pub const REPLAY_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Key names of one deployment (one `redis_prefix`).
#[derive(Clone, Debug)]
pub struct Keys {
    /// `{<prefix>inv}`: the hash tag every key starts with.
    base: String,
}

impl Keys {
    /// `prefix` is `settings.common.redis_prefix` (empty in production, random in tests).
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        // A brace inside the prefix would end the hash tag early and scatter the keys
        // over several slots: refuse it at start-up rather than fail in a cluster later.
        anyhow::ensure!(!prefix.contains(['{', '}']), "redis_prefix must not contain braces");
        // `t_1:` gives `{t_1:inv}`: the prefix goes inside the tag, so each test's keys
        // share one slot just as production's do, and a cluster test is a faithful one.
        Ok(Self { base: format!("{{{prefix}inv}}") })
    }
    /// A book's counters. Written only by scripts (and by the rebuild).
    pub fn stock(&self, book: BookId) -> String {
        format!("{}:stock:{}", self.base, book.get())
    }
    /// A LockStock reservation: written by lock.lua, settled by settle.lua.
    pub fn order(&self, order: OrderId) -> String {
        format!("{}:order:{}", self.base, order.get())
    }
    /// The marker that a direct DecrStock for this order id was applied (decr.lua).
    pub fn direct(&self, order: OrderId) -> String {
        format!("{}:direct:{}", self.base, order.get())
    }
    /// The marker that an IncrStock with this request id was applied (incr.lua).
    pub fn incr(&self, request: &RequestId) -> String {
        format!("{}:incr:{}", self.base, request.as_str())
    }
    /// Open reservations by lock time: lock.lua adds, settle.lua removes, the sweeper reads.
    pub fn pending(&self) -> String {
        format!("{}:pending", self.base)
    }
    /// The change stream: every script appends, only the syncer reads and trims.
    pub fn events(&self) -> String {
        format!("{}:events", self.base)
    }
    /// Every book with stock: incr.lua adds; reconcile, the gauges and the rebuild read it.
    pub fn books(&self) -> String {
        format!("{}:books", self.base)
    }
    /// Set once Redis holds this deployment's data; its absence triggers the rebuild.
    pub fn ready(&self) -> String {
        format!("{}:ready", self.base)
    }
    /// The rebuild lock: held by the one instance refilling an emptied Redis.
    pub fn rebuild_lock(&self) -> String {
        format!("{}:rebuild", self.base)
    }
    /// A `SCAN MATCH` pattern for every key of this deployment. The backslashes escape the
    /// braces: Redis's glob gives them no meaning today, and escaping keeps the pattern
    /// literal whatever the glob learns. (`*`, `?` and `[` in a prefix would still be
    /// wildcards: prefixes are ours — `t_<random>:` in tests, empty in production.)
    pub fn all_pattern(&self) -> String {
        format!("{}:*", self.base.replace('{', "\\{").replace('}', "\\}"))
    }
}
