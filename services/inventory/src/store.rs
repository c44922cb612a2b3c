//! The hot path: stock in Redis, changed only by the Lua scripts in `lua/`.
//!
//! Every method here is one script call (one round trip). The scripts are compiled into
//! the binary with `include_str!` and sent with `EVALSHA`: Redis caches a script by its
//! SHA-1, so each call ships 40 bytes instead of the script's text. After a Redis restart
//! (or `SCRIPT FLUSH`) the cache is empty and EVALSHA answers `NOSCRIPT`; the `redis`
//! crate's [`redis::Script`] then loads the text and retries once, which is the reload
//! rule every production client needs.
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

//!
//! ## What a script may and may not do
//!
//! Redis runs one command at a time, and a script is one command: that is the whole reason
//! it is atomic, and the whole cost of it. While a script runs, every other client waits.
//! So every script here is O(items of one request): no loops over all books, no KEYS, no
//! SCAN. (`snapshot.lua` is the one exception, O(books), and only operators call it.)
//!
//! ## One sale, command by command
//!
//! What Redis executes for `DecrStock{order 9, [book 7 × 1]}` inside decr.lua:
//!
//! ```text
//! EXISTS  {inv}:direct:9                       -- already applied?      no
//! HGET    {inv}:stock:7 avail                  -- enough?               yes
//! HINCRBY {inv}:stock:7 avail -1               -- the sale
//! HINCRBY {inv}:stock:7 sold 1
//! XADD    {inv}:events * t 3 b 7 q -1 …        -- the ledger entry
//! SET     {inv}:direct:9 1                     -- the idempotency record
//! HMGET   {inv}:stock:7 avail locked sold total  -- the reply's counters
//! ```
//!
//! Seven commands of about a microsecond each, plus the script call itself and the
//! network read and write: roughly 10–20 µs of Redis's one thread per sale. That is the
//! ceiling the bench's `raw Lua` row measures, and why Redis shows up at about a third
//! of a core when the service sells 20,000 books per second.
//!
//! ## How replies are shaped
//!
//! Lua tables come back as arrays of integers. Each script answers `{code, …}`: `1` done
//! now, `2` replayed (nothing changed), `0` not enough stock / nothing held, `-1` unknown
//! book, `3` settled the other way. A status code instead of `redis.error_reply`, because
//! "out of stock" is a normal answer, not an error, and the caller needs to know *which*
//! line was short to say so.

use std::sync::LazyLock;

use redis::{Script, aio::ConnectionManager};

use crate::domain::{BookId, Counters, Lines, OrderId, Quantity, RequestId};
use crate::error::Error;

/// The scripts, hashed once per process.
///
/// `include_str!` puts each script's text in the binary at compile time, so the scripts a
/// binary runs are exactly the ones it was tested with. DON'T `SCRIPT LOAD` by hand at
/// deploy time and hard-code the SHA: the next edit of the script silently runs the old one
/// until someone remembers to reload.
struct Scripts {
    lock: Script,
    settle: Script,
    decr: Script,
    incr: Script,
    snapshot: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    lock: Script::new(include_str!("../../../lua/lock.lua")),
    settle: Script::new(include_str!("../../../lua/settle.lua")),
    decr: Script::new(include_str!("../../../lua/decr.lua")),
    incr: Script::new(include_str!("../../../lua/incr.lua")),
    snapshot: Script::new(include_str!("../../../lua/snapshot.lua")),
});

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

/// How an order's reservation ends (see `lua/settle.lua`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// locked → available (cancelled, or the payment window expired).
    Release,
    /// locked → sold (paid).
    Confirm,
}

impl Settle {
    fn arg(self) -> &'static str {
        match self {
            Settle::Release => "release",
            Settle::Confirm => "confirm",
        }
    }
    fn other_state(self) -> &'static str {
        match self {
            Settle::Release => "confirmed",
            Settle::Confirm => "released",
        }
    }
}

/// What a settle did: the lines it moved, and whether it was a replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// `(book, quantity)` moved now; empty on a replay or when nothing was locked.
    pub lines: Vec<(u64, i32)>,
    /// True when the order had already been settled this way: a retry, nothing moved.
    pub replayed: bool,
}

/// A consistent picture of Redis (see `lua/snapshot.lua`).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The last change emitted to the stream, `(ms, seq)`; `(0, 0)` if none yet.
    pub last_event: (u64, u64),
    /// Every book's counters at that same instant.
    pub books: Vec<Counters>,
}

/// The Redis side of the service: a cheap clone over one multiplexed connection.
///
/// One connection for all requests is not a bottleneck but the fast choice: the
/// `ConnectionManager` pipelines every concurrent command onto the socket, and Redis
/// answers in order. Thousands of in-flight sales share a handful of TCP packets.
/// It also reconnects by itself after Redis restarts; a call during the outage fails with
/// an I/O error, which [`Error`] turns into UNAVAILABLE so callers retry.
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

    /// This deployment's key names (the ledger's rebuild writes the same keys).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A handle on the shared connection, for the few plain commands outside scripts
    /// (the syncer's XRANGE/XTRIM, the sweeper's ZRANGEBYSCORE, the rebuild's pipeline).
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// The counters of one book, or `UnknownBook`. A plain HMGET, no script: a read of one
    /// hash is already atomic, so the four values always belong to the same instant.
    pub async fn get(&self, book: BookId) -> Result<Counters, Error> {
        let mut conn = self.redis.clone();
        let raw: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(self.keys.stock(book))
            .arg(&["avail", "locked", "sold", "total"])
            .query_async(&mut conn)
            .await?;
        match raw.as_slice() {
            // `avail` is the field every script requires; its absence is what "unknown book"
            // means (a book gets all four fields at its first restock).
            [Some(a), l, s, t] => Ok(Counters {
                book_id: book.get(),
                available: *a,
                locked: l.unwrap_or(0),
                sold: s.unwrap_or(0),
                total: t.unwrap_or(0),
            }),
            _ => Err(Error::UnknownBook(book.get())),
        }
    }

    /// LockStock: available → locked for every line, or nothing. Returns the counters
    /// after the lock and whether this was a replay of an earlier call.
    ///
    /// Every key the script touches is passed in KEYS (the cluster rule: Redis Cluster
    /// routes a script by its declared keys). Lines go in ARGV as all book ids, then all
    /// quantities, so the script finds line i at `ARGV[2+i]` and `ARGV[2+n+i]`.
    pub async fn lock(
        &self,
        order: OrderId,
        lines: &Lines,
    ) -> Result<(Vec<Counters>, bool), Error> {
        // KEYS: the order record, the pending set, the stream, then one stock hash per line
        // — in the order lock.lua reads them (KEYS[1..3], then KEYS[3+i]).
        let mut inv = SCRIPTS.lock.prepare_invoke();
        inv.key(self.keys.order(order)).key(self.keys.pending()).key(self.keys.events());
        for line in lines.iter() {
            inv.key(self.keys.stock(line.book));
        }
        add_line_args(&mut inv, order, lines);
        // `invoke_async` sends EVALSHA; on NOSCRIPT (a restarted or flushed Redis) it sends
        // SCRIPT LOAD and retries — the reload rule, handled by the crate.
        let reply: Vec<i64> = inv.invoke_async(&mut self.redis.clone()).await?;
        // `3`: the order was released before. Answering "replayed" would tell order-service
        // its order holds stock when it does not; refusing makes the caller create a new order.
        if reply.first() == Some(&3) {
            return Err(Error::AlreadySettled { order_id: order.get(), state: "released" });
        }
        decode_lines_reply(&reply, lines)
    }

    /// DecrStock with items: available → sold for every line, or nothing; idempotent per
    /// order id. The race's Lua strategy and the bench call this very method, so the
    /// numbers the lab shows are the numbers of the code that serves requests.
    pub async fn decr(
        &self,
        order: OrderId,
        lines: &Lines,
    ) -> Result<(Vec<Counters>, bool), Error> {
        // KEYS: the direct-sale marker, the stream, then one stock hash per line.
        let mut inv = SCRIPTS.decr.prepare_invoke();
        inv.key(self.keys.direct(order)).key(self.keys.events());
        for line in lines.iter() {
            inv.key(self.keys.stock(line.book));
        }
        add_line_args(&mut inv, order, lines);
        // One round trip; the reply says sold, replayed, short (which line) or unknown book.
        let reply: Vec<i64> = inv.invoke_async(&mut self.redis.clone()).await?;
        decode_lines_reply(&reply, lines)
    }

    /// ReleaseStock (`Settle::Release`) or DecrStock-confirm (`Settle::Confirm`).
    ///
    /// Only the order id goes in: what to move comes from the record the lock wrote. The
    /// remark ends up in `inventory_logs` ("cancelled", "paid", "payment window expired"),
    /// so an auditor can tell a customer's cancellation from an expiry.
    pub async fn settle(
        &self,
        order: OrderId,
        how: Settle,
        remark: &str,
    ) -> Result<Settled, Error> {
        // The settle script builds the stock keys itself (see its cluster note): here only
        // the order record, the pending set and the stream are declared.
        let reply: Vec<i64> = SCRIPTS
            .settle
            .key(self.keys.order(order))
            .key(self.keys.pending())
            .key(self.keys.events())
            .arg(self.keys.stock_prefix())
            .arg(order.get())
            .arg(how.arg())
            .arg(remark)
            .invoke_async(&mut self.redis.clone())
            .await?;
        match reply.first() {
            // `1`: settled now; the rest of the reply is (book, quantity) pairs.
            Some(1) => Ok(Settled {
                lines: reply[1..].chunks_exact(2).map(|p| (p[0] as u64, p[1] as i32)).collect(),
                replayed: false,
            }),
            Some(2) => Ok(Settled { lines: Vec::new(), replayed: true }),
            // Nothing was ever locked for this order: a no-op, by contract.
            Some(0) => Ok(Settled::default()),
            Some(3) => {
                Err(Error::AlreadySettled { order_id: order.get(), state: how.other_state() })
            }
            _ => Err(unexpected(&reply)),
        }
    }

    /// IncrStock: adds `qty` to available and total, creating the book if needed.
    ///
    /// Adds, never sets: a restock that says "+50" composes with sales made meanwhile, a
    /// "set to 50" would erase them.
    pub async fn incr(
        &self,
        book: BookId,
        qty: Quantity,
        request: &RequestId,
        remark: &str,
    ) -> Result<(Counters, bool), Error> {
        // The restock marker is keyed by the caller's request id; the books set makes the
        // book visible to reconcile and rebuild.
        let reply: Vec<i64> = SCRIPTS
            .incr
            .key(self.keys.incr(request))
            .key(self.keys.events())
            .key(self.keys.stock(book))
            .key(self.keys.books())
            .arg(book.get())
            .arg(qty.get())
            .arg(request.as_str())
            .arg(remark)
            .invoke_async(&mut self.redis.clone())
            .await?;
        match reply.as_slice() {
            // incr.lua always answers five numbers: the code and the book's four counters.
            [code @ (1 | 2), a, l, s, t] => Ok((
                Counters { book_id: book.get(), available: *a, locked: *l, sold: *s, total: *t },
                *code == 2,
            )),
            _ => Err(unexpected(&reply)),
        }
    }

    /// Every book's counters and the last emitted change, read atomically. The event id is
    /// what lets [`crate::ledger::reconcile`] ask MySQL for the same instant.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        let reply: Vec<redis::Value> = SCRIPTS
            .snapshot
            .key(self.keys.books())
            .key(self.keys.events())
            .arg(self.keys.stock_prefix())
            .invoke_async(&mut self.redis.clone())
            .await?;
        // Mixed reply: the first element is the stream id (a string), the rest are numbers in
        // groups of five. `Value` + `from_redis_value` decodes each element with its own type.
        let mut it = reply.into_iter();
        let last: String = redis::from_redis_value(&it.next().unwrap_or(redis::Value::Nil))?;
        let last_event = parse_stream_id(&last).ok_or_else(|| unexpected_text(&last))?;
        let nums: Vec<i64> =
            it.map(|v| redis::from_redis_value::<i64>(&v)).collect::<Result<_, _>>()?;
        // `chunks_exact(5)`: book id + four counters per book, in SMEMBERS order.
        let books = nums
            .chunks_exact(5)
            .map(|c| Counters {
                book_id: c[0] as u64,
                available: c[1],
                locked: c[2],
                sold: c[3],
                total: c[4],
            })
            .collect();
        Ok(Snapshot { last_event, books })
    }
}

/// ARGV layout shared by lock.lua and decr.lua: order, n, books…, quantities….
///
/// Numbers travel as decimal strings (the Redis protocol has no integer arguments). The
/// scripts use ids as strings (in key names and stream fields), and `tonumber` only on
/// quantities: Lua 5.1 numbers are doubles, exact only up to 2^53, so an id run through
/// `tonumber` could come back as a different id. (settle.lua and snapshot.lua do return
/// book ids as numbers; ids here stay far below 2^53.)
fn add_line_args(inv: &mut redis::ScriptInvocation<'_>, order: OrderId, lines: &Lines) {
    inv.arg(order.get()).arg(lines.len());
    for line in lines.iter() {
        inv.arg(line.book.get());
    }
    for line in lines.iter() {
        inv.arg(line.qty.get());
    }
}

/// Decodes `{code, counters…}` / `{0|-1, item index}` from lock.lua and decr.lua.
///
/// A reply of any other shape means the script and this decoder disagree — a bug, so it
/// becomes an internal error, never a guess.
fn decode_lines_reply(reply: &[i64], lines: &Lines) -> Result<(Vec<Counters>, bool), Error> {
    // Lua arrays start at 1; the script reports the failing line by its Lua index.
    let item = |i: i64| lines.book_at((i.max(1) - 1) as usize).get();
    match reply {
        [0, i] => Err(Error::OutOfStock { book_id: item(*i) }),
        [-1, i] => Err(Error::UnknownBook(item(*i))),
        [code @ (1 | 2), rest @ ..] if rest.len() == 4 * lines.len() => {
            let counters = rest
                .chunks_exact(4)
                .zip(lines.iter())
                .map(|(c, line)| Counters {
                    book_id: line.book.get(),
                    available: c[0],
                    locked: c[1],
                    sold: c[2],
                    total: c[3],
                })
                .collect();
            Ok((counters, *code == 2))
        }
        _ => Err(unexpected(reply)),
    }
}

// Stream ids are exposed as strings by Redis; the ledger stores and compares them as
// two integers (see `ledger::read_cursor` for why strings would compare wrongly).
/// `"1700000000000-3"` → `(1700000000000, 3)`.
pub fn parse_stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
/// A reply shape this code does not know: reported as a Redis type error, which
/// `Error` maps to INTERNAL and logs with the reply for whoever debugs it.
fn unexpected(reply: &[i64]) -> Error {
    unexpected_text(&format!("{reply:?}"))
}

/// The same, for a reply already rendered as text (the snapshot's stream id).
fn unexpected_text(reply: &str) -> Error {
    Error::Redis(redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected script reply",
        reply.to_string(),
    )))
}
