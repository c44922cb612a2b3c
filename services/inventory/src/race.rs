//! The race: the course's three ways to sell the last units, as real code paths behind one
//! small interface, so the lab's TUI and the bench can run them side by side and *count*
//! the oversells instead of asserting them.
//!
//! | strategy | how a purchase runs | what it costs |
//! |---|---|---|
//! | [`Strategy::Naive`] | `SELECT stock`, check in Rust, `UPDATE stock = stock - q` | oversells under concurrency |
//! | [`Strategy::ForUpdate`] | the same inside a transaction, the read `FOR UPDATE` | correct; every buyer of a book queues on one row lock |
//! | [`Strategy::Lua`] | the service's own `lua/decr.lua` in Redis | correct; one round trip, no lock held across the network |
//!
//! The SQL strategies use the service's real `inventory` table (its `stock` column);
//! the Lua strategy uses the service's real stock hash and script ([`StockStore::decr`]).
//! An arena is its own deployment: give it a database and key prefix of its own, because
//! `reset` writes counters directly, bypassing the ledger a running service keeps.
//!
//! ## How the lab uses it
//!
//! The Day 30 experiment resets one book per strategy to 100 copies, starts 1,000 buyers
//! per strategy through the load engine, and shows live: sales, refusals, and the stock
//! left. What a learner should see: naive ends with more sales than copies and a negative
//! stock; FOR UPDATE ends exact but takes visibly longer; Lua ends exact and first.
//!
//! ## The three timelines (stock = 1, buyers A and B)
//!
//! Naive — both reads happen before either write:
//!
//! ```text
//! A: SELECT stock → 1        B: SELECT stock → 1
//! A: 1 >= 1, sell            B: 1 >= 1, sell
//! A: UPDATE stock = stock-1  B: UPDATE stock = stock-1      → stock = -1, two sales
//! ```
//!
//! FOR UPDATE — B's read waits for A's COMMIT:
//!
//! ```text
//! A: BEGIN; SELECT … FOR UPDATE → 1   B: BEGIN; SELECT … FOR UPDATE … (blocked)
//! A: UPDATE; COMMIT                   B: … → 0; "sold out"; ROLLBACK  → one sale
//! ```
//!
//! Lua — Redis runs one script at a time, so there is nothing to interleave:
//!
//! ```text
//! A: EVALSHA decr → avail 1 >= 1, HINCRBY -1 → sold   B: EVALSHA decr → avail 0 < 1 → refused
//! ```
//!
//! ## Why REPEATABLE READ does not save the naive path
//!
//! InnoDB's default isolation gives each transaction a consistent snapshot for plain
//! SELECTs, which sounds protective. It is not: a plain SELECT never locks, so two
//! snapshots may both say "1 left", and `UPDATE … SET stock = stock - 1` works on the
//! *current* row (a "locking read"), not the snapshot — both decrements land. Isolation
//! levels protect reads from other writers; they do not turn "read, decide, write" into one
//! step. Only a lock (FOR UPDATE), a condition checked by the write itself, or a single
//! atomic step (Lua) does.
//!
//! ## The fourth option the course leaves out
//!
//! `UPDATE inventory SET stock = stock - ? WHERE book_id = ? AND stock >= ?`, then check
//! that one row was affected. The check and the write are one statement, so it cannot
//! oversell, and it holds the row lock only for the statement, not for a transaction's
//! three round trips. It is the best pure-SQL answer — but every buyer still funnels
//! through one InnoDB row lock and a redo-log write, which is why hot-sale systems still
//! put the counter in Redis. (Not raced here, to keep the lab to the course's three.)

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sqlx::MySqlPool;

use crate::domain::{BookId, Lines, OrderId, Quantity};
use crate::error::Error;
use crate::store::{Keys, StockStore};

/// One of the three strategies the course compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// ❌ SELECT, decide in Rust, UPDATE: oversells under concurrency.
    Naive,
    /// ✅ (slow) SELECT … FOR UPDATE in a transaction: one buyer per book at a time.
    ForUpdate,
    /// ✅ (fast) the service's decrement script: check and change in one Redis step.
    Lua,
}

impl Strategy {
    /// Every strategy, in the order the lab shows them (wrong → slow → right).
    pub const ALL: [Strategy; 3] = [Strategy::Naive, Strategy::ForUpdate, Strategy::Lua];

    /// A stable short name for tables, JSON and CLI flags.
    pub fn label(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::ForUpdate => "for-update",
            Strategy::Lua => "lua",
        }
    }
}

/// Where races run: a MySQL pool, a Redis connection and a key prefix. Cheap to clone.
#[derive(Clone)]
pub struct RaceArena {
    /// The arena's own database, where the two SQL strategies keep their row.
    pool: MySqlPool,
    /// The Lua strategy's store, under the arena's key prefix.
    store: StockStore,
    /// Each Lua purchase is a direct sale with its own order id (the script is idempotent
    /// per order id, so two buyers must never share one). Seeded randomly so that arenas
    /// sharing a prefix across runs do not replay each other's purchases.
    next_order: Arc<AtomicU64>,
}

/// MySQL connections of an arena. Deliberately large: the pool bounds how many statements
/// run at once, so with a handful of connections fewer reads interleave with writes (the
/// naive oversell shrinks) and FOR UPDATE's queue forms in the pool rather than on the
/// InnoDB row lock. 64 lets MySQL itself see the contention the course describes.
const POOL_SIZE: u32 = 64;

impl RaceArena {
    /// mysql_url is a server URL; `database` is created+migrated if missing.
    pub async fn connect(
        mysql_url: &str,
        database: &str,
        redis_url: &str,
        key_prefix: &str,
    ) -> anyhow::Result<Self> {
        let pool =
            bookstore_platform::db::connect(mysql_url, database, POOL_SIZE, &crate::MIGRATOR)
                .await?;
        let redis = bookstore_platform::cache::connect(redis_url).await?;
        let store = StockStore::new(redis, Keys::new(key_prefix)?);
        // 21 random bits above 32 counter bits: unique enough across arenas, and below
        // 2^53 so the id survives any trip through a Lua number.
        let seed = u64::from(rand::random::<u32>() & 0x1F_FFFF);
        // The counter starts at 1, never 0 (which `OrderId` refuses), and has 2^32 purchases
        // before it would reach the next seed's range.
        Ok(Self { pool, store, next_order: Arc::new(AtomicU64::new(seed << 32 | 1)) })
    }

    /// Sets the book's stock to `stock` for that strategy (fresh row/key; nothing sold).
    ///
    /// Each strategy keeps its own copy of the book (a MySQL row for the SQL ones, a Redis
    /// hash for Lua), so the lab can run all three at once without them sharing stock.
    pub async fn reset(&self, strategy: Strategy, book_id: u64, stock: i64) -> anyhow::Result<()> {
        let book = BookId::parse(book_id)?;
        // A negative start would make the naive row "oversold" before any buyer ran, and
        // the lab's `remaining < 0` would show a race that never happened.
        anyhow::ensure!(stock >= 0, "stock must not be negative");
        match strategy {
            // Both SQL strategies share one row: they differ in how they read it, not in what
            // they store. An upsert, so a reset works on a fresh database and on a used one.
            Strategy::Naive | Strategy::ForUpdate => {
                sqlx::query(
                    "INSERT INTO inventory
                       (book_id, stock, locked_stock, sold_stock, total_stock, created_at, updated_at)
                     VALUES (?, ?, 0, 0, ?, NOW(3), NOW(3))
                     ON DUPLICATE KEY UPDATE stock = VALUES(stock), locked_stock = 0,
                       sold_stock = 0, total_stock = VALUES(total_stock), updated_at = NOW(3)",
                )
                .bind(book.get())
                .bind(stock)
                .bind(stock)
                .execute(&self.pool)
                .await?;
            }
            // The store writes the scratch hash; see `StockStore::reset_scratch_book`.
            Strategy::Lua => self.store.reset_scratch_book(book, stock).await?,
        }
        Ok(())
    }

    /// One purchase attempt of `qty`: Ok(true) sold, Ok(false) refused as out of stock.
    ///
    /// `Err` means the attempt itself failed (a database error, a lost connection) —
    /// neither a sale nor a refusal; a runner counts it apart, as loadgen's `Failed`.
    pub async fn buy(&self, strategy: Strategy, book_id: u64, qty: i64) -> anyhow::Result<bool> {
        // The same validation as the service's: the race cannot buy 0 or -1 copies either,
        // so every strategy is compared on the same, valid requests.
        let book = BookId::parse(book_id)?;
        let qty = Quantity::parse(qty)?;
        match strategy {
            // Each strategy is a plain async fn below, readable on its own, side by side.
            Strategy::Naive => naive_buy(&self.pool, book, qty).await,
            Strategy::ForUpdate => for_update_buy(&self.pool, book, qty).await,
            Strategy::Lua => {
                // A fresh order id per attempt: each purchase is a distinct sale, never a replay.
                // Relaxed ordering is enough — only uniqueness matters, not order between threads.
                let order = OrderId::parse(self.next_order.fetch_add(1, Ordering::Relaxed))?;
                match self.store.decr(order, &Lines::one(book, qty)).await {
                    Ok(_) => Ok(true),
                    // Sold out is an answer, not a failure: the race counts it as "refused".
                    Err(Error::OutOfStock { .. }) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Deletes every Redis key under this arena's prefix (the MySQL database is the
    /// caller's to drop). Returns how many keys were removed.
    pub async fn purge(&self) -> anyhow::Result<u64> {
        Ok(self.store.purge().await?)
    }

    /// Stock left (may be negative after the naive path oversold).
    ///
    /// Sold = initial stock − remaining, for every strategy; oversold = sold − initial
    /// stock when that is positive. A negative `remaining` is the oversell made visible.
    pub async fn remaining(&self, strategy: Strategy, book_id: u64) -> anyhow::Result<i64> {
        let book = BookId::parse(book_id)?;
        match strategy {
            // Read the row's current value: for naive this is where the negative number shows.
            Strategy::Naive | Strategy::ForUpdate => {
                let stock: Option<i64> =
                    sqlx::query_scalar("SELECT stock FROM inventory WHERE book_id = ?")
                        .bind(book.get())
                        .fetch_optional(&self.pool)
                        .await?;
                stock.ok_or_else(|| anyhow::anyhow!("book {book_id} was never reset"))
            }
            Strategy::Lua => {
                // Only `avail` matters for the race; decr.lua keeps the other counters conserved.
                let avail = self.store.available(book).await?;
                avail.ok_or_else(|| anyhow::anyhow!("book {book_id} was never reset"))
            }
        }
    }
}

/// ❌ The course's `DecrStockWrong`: read, decide in the application, write.
///
/// Two buyers both read `stock = 1`, both decide "enough", both run the UPDATE: two sales
/// of one book, and stock ends at -1. Autocommit makes each statement atomic on its own;
/// nothing makes the *pair* atomic. (`stock = stock - ?` at least does not lose updates —
/// the classic `SET stock = <value read>` would also undercount sales.)
///
/// DON'T "fix" this with `WHERE stock >= ?` and then ignore the affected-row count — that
/// is a correct conditional UPDATE only if you check it was 1, at which point the SELECT is
/// pointless. It is shown wrong on purpose; the lab counts how wrong.
// lesson:naive:start
async fn naive_buy(pool: &MySqlPool, book: BookId, qty: Quantity) -> anyhow::Result<bool> {
    // A plain SELECT under InnoDB takes no lock at all: any number of buyers read the
    // same value at the same time. Each runs on whichever pooled connection is free.
    let stock: Option<i64> = sqlx::query_scalar("SELECT stock FROM inventory WHERE book_id = ?")
        .bind(book.get())
        .fetch_optional(pool)
        .await?;
    let stock = stock.ok_or_else(|| anyhow::anyhow!("book {} has no inventory row", book.get()))?;
    // The decision is made in Rust on a value that may already be stale.
    if stock < i64::from(qty.get()) {
        return Ok(false);
    }
    // The window between the check above and the write below is where the oversell lives:
    // every buyer that read before the first UPDATE landed believes the stock is there.
    sqlx::query(
        "UPDATE inventory SET stock = stock - ?, sold_stock = sold_stock + ?, updated_at = NOW(3)
         WHERE book_id = ?",
    )
    .bind(qty.get())
    .bind(qty.get())
    .bind(book.get())
    .execute(pool)
    .await?;
    Ok(true)
}
// lesson:naive:end

/// ✅ (slow) The course's `DecrStockWithDBLock`: pessimistic locking in MySQL.
///
/// `SELECT … FOR UPDATE` takes an exclusive lock on the row until COMMIT, so the read,
/// the check and the write happen while no one else can read-for-update the same row:
/// correct, at the price that every buyer of a book waits in one queue, *and* each holds
/// the lock across three network round trips (select, update, commit). The course quotes
/// ~500 TPS for this; the bench measures it on this machine.
///
/// DON'T forget the transaction: `FOR UPDATE` under autocommit releases the lock as soon
/// as the SELECT returns, which is the naive strategy with extra steps.
// lesson:for-update:start
async fn for_update_buy(pool: &MySqlPool, book: BookId, qty: Quantity) -> anyhow::Result<bool> {
    // BEGIN: everything up to COMMIT runs on one connection, holding its locks.
    let mut tx = pool.begin().await?;
    // FOR UPDATE: wait for (then take) the row's exclusive lock. The 999 other buyers
    // of this book queue here, each on its own pooled connection — so the pool size is
    // also the queue length MySQL sees, and a small pool queues the rest in the app.
    let stock: Option<i64> =
        sqlx::query_scalar("SELECT stock FROM inventory WHERE book_id = ? FOR UPDATE")
            .bind(book.get())
            .fetch_optional(&mut *tx)
            .await?;
    let stock = stock.ok_or_else(|| anyhow::anyhow!("book {} has no inventory row", book.get()))?;
    if stock < i64::from(qty.get()) {
        // Dropping `tx` would roll back too; saying it releases the lock now, explicitly.
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query(
        "UPDATE inventory SET stock = stock - ?, sold_stock = sold_stock + ?, updated_at = NOW(3)
         WHERE book_id = ?",
    )
    .bind(qty.get())
    .bind(qty.get())
    .bind(book.get())
    .execute(&mut *tx)
    .await?;
    // COMMIT releases the lock; the next buyer in the queue reads the new stock.
    tx.commit().await?;
    Ok(true)
}
// lesson:for-update:end
