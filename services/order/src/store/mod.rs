//! order_db: SQL only, no rules (the rules are in `domain`, the orchestration in `create`).
//!
//! Timestamps are `DATETIME(3)` (milliseconds) and the database's `NOW(3)`, never this
//! process's clock: with two order-service instances (or one whose clock jumps), "is this
//! order expired?" must have one answer, and the sweeper's `expires_at < NOW(3)` and the
//! insert's `NOW(3) + INTERVAL` read one clock.
//!
//! Three tables (`migrations/order`):
//!
//! | table | a row is | lives from … to … |
//! |---|---|---|
//! | `order_intents` | a creation in progress: the reserved order id, the claimed key | the claim → the commit, or its abandonment |
//! | `orders` | an order: status, total, expiry, the stock action it still owes | for good |
//! | `order_items` | one line: book, quantity, the title and price snapshotted | with its order |
//!
//! Which index answers which question (every query here is one of these, none scans):
//!
//! | question | index |
//! |---|---|
//! | has this user's key produced an order? | `uk_order_user_key (user_id, idempotency_key)` |
//! | is this user's key being used right now? | `uk_intent_user_key (user_id, idempotency_key)` |
//! | which creations are stale? (sweeper) | `idx_intent_created (created_at)` |
//! | which Pending orders expired? (sweeper) | `idx_status_expires (status, expires_at)` |
//! | which orders owe inventory? (sweeper) | `idx_stock_action (stock_action)` |
//! | this user's orders, newest first | `idx_user_created (user_id, created_at, id)` |
//! | an order's lines | `order_items.idx_order_id` |
//!
//! The two unique keys `(user_id, idempotency_key)` — one on intents, one on orders — are
//! what make "one key, one order" true under any concurrency; every rule about keys in
//! this module is a consequence of them, not a replacement.
//!
//! Why creations in progress are a table of their own (`order_intents`) and not an order
//! with a "Creating" status: every query about orders — lists, expiry, owed actions — would
//! have to exclude that status, and one that forgot would show a shopper an order that may
//! never exist, or expire one that was never placed. With the intent apart, a row in
//! `orders` is always a committed fact, and the sweeper's "dead creation" query reads a
//! small table of its own.
//!
//! Lock order, for the statements that take row locks: an intent (`abandon`, and
//! `commit_order`'s DELETE) is always locked before anything else of its order; the
//! sweeper's expiry locks only `orders` rows. No statement locks an order and then an
//! intent, so no two of them can wait on each other in a cycle.
//!
//! | module | its one job |
//! |---|---|
//! | [`rows`] | the row shapes ([`OrderRow`], [`ItemRow`], [`NewOrder`]) and their mapping from MySQL rows |
//! | [`claim`] | creating an order: claim the key ([`Store::claim`]), then commit the intent as the order ([`Store::commit_order`]) |
//! | [`read`] | reading orders back: one by id, a user's page, their lines |
//! | [`transition`] | the state machine as a conditional UPDATE ([`Store::transition`]) and clearing a settled stock debt |

mod claim;
mod read;
mod rows;
mod transition;

use sqlx::MySqlPool;

pub use claim::Claim;
pub use rows::{ItemRow, NewOrder, OrderRow};
pub use transition::Transition;

/// order_db: a pool handle, cheap to clone into the handlers and the sweeper.
#[derive(Clone)]
pub struct Store {
    /// Private: SQL on order_db goes through this module's methods (and the two transactions
    /// named at [`Store::pool`]), so each statement's guard is written in one place.
    pool: MySqlPool,
}

impl Store {
    /// A store over a migrated `order_db` pool.
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// The pool, for the sweeper's transactions (they need `FOR UPDATE SKIP LOCKED`) and
    /// for `create::abandon`, whose transaction spans a ReleaseStock call: the two places
    /// where a transaction's shape is the point, and so is written out where it is used.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}
