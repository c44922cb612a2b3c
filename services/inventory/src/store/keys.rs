//! The key layout of one deployment: every key under one hash tag.
//!
//! ## Keys, and the one trade-off to understand
//!
//! Every key of a deployment shares one hash tag, `{<prefix>inv}`: Redis Cluster hashes
//! only the part between braces, so all inventory keys land in one slot. That keeps a
//! multi-book LockStock one atomic script and the change stream one ordered stream.
//! The price: in a cluster, all inventory traffic goes to the one node owning that slot.
//! A single Redis does ~100k script calls per second, far above this shop; the day it is
//! not, the alternative is a tag per book (`{inv:42}`) and a saga across the items (lock
//! book by book, release the ones already locked if a later one fails) — more scripts,
//! more states, and a stream per slot.
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

use crate::domain::{BookId, OrderId, RequestId};

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
        // `{{` and `}}` are format!'s escapes for literal braces: `t_1:` gives `{t_1:inv}`.
        Ok(Self { base: format!("{{{prefix}inv}}") })
    }
    /// The prefix of every stock hash; settle.lua and snapshot.lua append a book id to it.
    pub fn stock_prefix(&self) -> String {
        format!("{}:stock:", self.base)
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
    /// A `SCAN MATCH` pattern for every key of this deployment (the brackets escape the
    /// braces, which are not glob characters but are kept literal for clarity).
    pub fn all_pattern(&self) -> String {
        format!("{}:*", self.base.replace('{', "\\{").replace('}', "\\}"))
    }
}
