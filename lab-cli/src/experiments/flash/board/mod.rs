//! The invariant board: the six promises of DESIGN.md §4, checked once a second from the
//! stores themselves — inventory's Redis counters, and inventory_db, order_db and
//! payment_db in MariaDB — for the sale's book and every order that touched it.
//!
//! Why the stores and not the APIs (the other experiments watch through the public RPCs):
//! the board is the auditor, and an auditor that asks the service "did you oversell?"
//! gets the service's opinion. Reading the rows each service wrote makes a bug in a
//! service's own bookkeeping visible instead of repeated. One query per database, joined
//! here in Rust rather than across databases in SQL: each service owns its database, and
//! in production they need not even share a server.
//!
//! ## Broken, lagging, fine
//!
//! Some promises hold at every instant, because one atomic step keeps them (a Lua script
//! changes all four counters at once): `available + locked + sold = total`, `sold ≤ stock`,
//! two confirms for one order. A single sample that breaks one is a bug: red at once.
//! Others hold only *after catch-up*, because two stores are written one after the other:
//! an order is Paid in order_db a moment before inventory confirms its unit; Redis changes
//! a moment before the syncer writes MySQL's copy. Those are "追赶中" (lagging) with their
//! age, and red only when the same difference has outlived [`GRACE`] — the line between
//! "eventually consistent" and "lost". Each difference is tracked by what it *is* (which
//! order, which values): under load the set changes every second, and only a difference
//! that stays the same for the whole grace period is a failure.
//!
//! Files: `sample` reads the stores (one Redis read, six MariaDB queries) into a
//! [`Sample`]; `checks` holds the six checks, each a pure function of one sample;
//! `judge` ages the lagging differences across samples and turns them into verdicts.

mod checks;
mod judge;
mod sample;

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use bookstore_inventory::{domain::BookId, store::Keys};

pub use self::sample::{Counters, Sample};

/// How long a cross-store difference may last before it counts as broken: the relay's
/// backoff caps at 10 s, order-service's sweeper retries a pending stock action every 2 s,
/// and a fault (a MariaDB pause, a restart) adds its own seconds on top.
pub const GRACE: Duration = Duration::from_secs(20);

/// Every query's deadline: a paused MariaDB makes the board say "unknown", not hang.
///
/// MariaDB's part gets twice this in total (six queries in a row); both together stay
/// under the tick's second only when the stores are healthy, which is when it matters.
const QUERY_DEADLINE: Duration = Duration::from_secs(2);

/// The six checks, in the board's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// Redis's `sold ≤ stock`, `avail ≥ 0`, `locked ≥ 0`, and the paid quantity ≤ stock.
    NoOversell,
    /// `avail + locked + sold = total = stock`, in Redis and in MySQL's copy.
    Conservation,
    /// One confirm per paid order in the ledger, none for an unpaid one; Redis's `sold`
    /// catches up with the paid quantity.
    PaidSoldOnce,
    /// No Pending order past its expiry, no lock held for a finished order, and Redis's
    /// `locked` catches up with the pending quantity.
    NoOrphanLock,
    /// MySQL's `inventory` row and the replayed `inventory_logs` both catch up with Redis.
    LedgerMatches,
    /// At most one successful payment per order, of its exact total, and only for an order
    /// that is (or becomes) Paid.
    PaymentBacked,
}

impl Invariant {
    /// The board's row order: the two checks one Redis read can settle first, then the
    /// cross-store ones in the order a checkout writes them (sale, lock, ledger), money last.
    pub const ALL: [Invariant; 6] = [
        Invariant::NoOversell,
        Invariant::Conservation,
        Invariant::PaidSoldOnce,
        Invariant::NoOrphanLock,
        Invariant::LedgerMatches,
        Invariant::PaymentBacked,
    ];

    /// The board's label.
    ///
    /// Each label is the promise in the lesson's own words, so the learner can match a
    /// red row to the sentence of the course it breaks.
    pub fn label(self) -> &'static str {
        match self {
            Invariant::NoOversell => "不超卖：已售 ≤ 库存，可用 ≥ 0",
            Invariant::Conservation => "守恒：可用 + 锁定 + 已售 = 总量",
            Invariant::PaidSoldOnce => "每个已支付订单恰好售出一次",
            Invariant::NoOrphanLock => "没有无主的锁（过期后锁必须释放）",
            Invariant::LedgerMatches => "账本（表、流水之和）追上 Redis",
            Invariant::PaymentBacked => "成功的支付都有已支付订单或退款",
        }
    }
}

/// One check's verdict in one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Holds,
    /// Differences that may still resolve, with the age of the oldest.
    Lagging {
        oldest: Duration,
        items: Vec<String>,
    },
    /// A difference that can never be lag, or lag that outlived [`GRACE`]; one line each.
    Broken(Vec<String>),
    /// A store did not answer (Redis stopped, MariaDB paused): no verdict this second.
    Unknown(String),
}

impl Verdict {
    /// Red (lag and unknown are not failures).
    pub fn is_broken(&self) -> bool {
        matches!(self, Verdict::Broken(_))
    }
}

/// One row of the board.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Which check this row is.
    pub invariant: Invariant,
    /// This sample's verdict.
    pub verdict: Verdict,
    /// The check was ever broken during the run (a red that turned green again is still
    /// a broken promise; the summary reports it).
    pub ever_broken: Option<Vec<String>>,
}

/// Reads the stores and keeps each difference's first sighting across samples.
///
/// Not `Clone` and owned by the run's loop: the first-sighting map is the board's memory,
/// and two boards would disagree about how old a difference is.
pub struct Board {
    /// The sale's fresh book: every query filters on it, so the rest of the stack's
    /// traffic (another learner's curl, a bench) cannot reach the verdicts.
    book: u64,
    /// The stock the book was published with: what `total` must equal in every store.
    stock: i64,
    /// One pool for the three databases: the queries name their tables with the database
    /// (`order_db.orders`), which one MariaDB user with read rights on all three can run.
    pool: sqlx::MySqlPool,
    /// Kept to reconnect: the board opens its own connection after each failure.
    redis_url: String,
    /// Dropped after any failure and reopened at the next sample (see `read_redis`).
    redis: Option<redis::aio::MultiplexedConnection>,
    /// inventory's hash for the book, built by inventory's own `Keys`, so a change to the
    /// key layout cannot leave the board reading an empty key (and seeing zeros).
    stock_key: String,
    /// (check, difference) → when it was first seen.
    ///
    /// A monotonic `Instant`, so a wall-clock jump (NTP) cannot age a difference past the
    /// grace in one step or make it young again.
    seen: HashMap<(Invariant, String), Instant>,
    /// Differences that were ever red, per check (the first 20 of each). Never cleared
    /// during a run: the summary's verdict reads it, and a red that healed still counts.
    ever: BTreeMap<Invariant, Vec<String>>,
}

impl Board {
    /// `mysql_url` is the server (no database): the board reads three databases.
    pub fn new(mysql_url: &str, redis_url: &str, book: u64, stock: u32) -> anyhow::Result<Self> {
        // Two connections, opened lazily: the board's queries run one after another, and a
        // paused MariaDB must not make the lab wait at start-up.
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            // A frozen MariaDB accepts the TCP connection and then says nothing: without
            // this bound, opening a connection would wait for the pause to end.
            .acquire_timeout(QUERY_DEADLINE)
            .connect_lazy(mysql_url.trim_end_matches('/'))?;
        // The lab's stack runs inventory without a key prefix (only tests add one).
        // `BookId::parse` refuses 0, as inventory itself does: a board for a book
        // inventory would never accept fails at construction.
        let stock_key = Keys::new("")?.stock(BookId::parse(book)?);
        Ok(Self {
            book,
            stock: i64::from(stock),
            pool,
            redis_url: redis_url.to_string(),
            redis: None,
            stock_key,
            seen: HashMap::new(),
            ever: BTreeMap::new(),
        })
    }
}
