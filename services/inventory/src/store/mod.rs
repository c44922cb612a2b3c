//! The Redis side of the service: every Redis command inventory-service sends is in this
//! module, so the key layout, the scripts and the commands around them have one owner.
//!
//! Stock changes only through the Lua scripts in `lua/`, one script call (one round trip)
//! per operation. The scripts are compiled into the binary with `include_str!` and sent
//! with `EVALSHA`: Redis caches a script by its SHA-1, so each call ships 40 bytes instead
//! of the script's text. After a Redis restart (or `SCRIPT FLUSH`) the cache is empty and
//! EVALSHA answers `NOSCRIPT`; the `redis` crate's [`redis::Script`] then loads the text
//! and retries once, which is the reload rule every production client needs.
//!
//! | module | its one job |
//! |---|---|
//! | `keys` | [`Keys`]: every key name of a deployment, all under one hash tag |
//! | `scripts` | the script calls: lock, decr, settle and incr that change stock, the snapshot, and the rebuild lock's release |
//! | `commands` | the plain commands: GetStock's read, the syncer's stream, the sweeper's queue, the rebuild's restore, the race arena's scratch book |
//! | `reply` | decoding the scripts' replies, refusing any shape they do not send |
//!
//! ## One sale, command by command
//!
//! What Redis executes for `DecrStock{order 9, [book 7 × 1]}` inside decr.lua:
//!
//! ```text
//! EXISTS  {inv}:direct:9                           -- already applied?   no
//! HMGET   {inv}:stock:7 avail locked sold total    -- enough?            yes (kept for the reply)
//! HINCRBY {inv}:stock:7 avail -1                   -- the sale
//! HINCRBY {inv}:stock:7 sold 1
//! XADD    {inv}:events * e "3 7 -1 -1 0 1 0 9" r direct   -- the ledger entry
//! SET     {inv}:direct:9 1 PX 86400000             -- the idempotency record, for a day
//! ```
//!
//! Six commands of about a microsecond each, plus the script call itself and the network
//! read and write: roughly 10–20 µs of Redis's one thread per sale. That is the ceiling
//! the bench's `raw Lua` row measures, and why Redis shows up at about a third of a core
//! when the service sells 20,000 books per second. The reply's counters come from the
//! HMGET the check already made, not from a second read: one command fewer per line.

mod commands;
mod keys;
mod reply;
mod scripts;

use redis::aio::ConnectionManager;

pub use commands::{RebuildLock, Restore, RestoredReservation};
pub use keys::{Keys, REPLAY_RETENTION};
pub use reply::parse_stream_id;
pub use scripts::{Settle, Settled, Snapshot};

/// The Redis side of the service: a cheap clone over one multiplexed connection.
///
/// One connection for all requests is not a bottleneck but the fast choice: the
/// `ConnectionManager` pipelines every concurrent command onto the socket, and Redis
/// answers in order. Thousands of in-flight sales share a handful of TCP packets.
/// It also reconnects by itself after Redis restarts; a call during the outage fails with
/// an I/O error, which [`crate::error::Error`] turns into UNAVAILABLE so callers retry.
#[derive(Clone)]
pub struct StockStore {
    /// The shared, reconnecting, multiplexed connection.
    redis: ConnectionManager,
    /// This deployment's key names (its prefix inside the hash tag).
    keys: Keys,
}

impl StockStore {
    /// A store over `redis` for the deployment whose keys are `keys`.
    pub fn new(redis: ConnectionManager, keys: Keys) -> Self {
        Self { redis, keys }
    }

    /// This deployment's key names (tests and tools build the same keys the scripts use).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A handle on the shared connection. The service itself sends every command through
    /// the methods of this module; the handle is for tests that must write what no current
    /// script writes (an entry in an old stream layout, a malformed entry).
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }
}
