//! The race arena: Day 30's strategies exactly as inventory-service implements them.
//!
//! The lab does not re-implement naive / FOR UPDATE / Lua: it calls
//! `bookstore_inventory::race::RaceArena`, the service's own code paths (its `inventory`
//! table, its `lua/decr.lua`), so what the learner watches oversell is the code the
//! lesson quotes. The arena lives in its own database and Redis key prefix (default
//! `lab_race` and `lab:race:`), because resetting stock for an experiment must never touch
//! the ledger of the running inventory-service. Tests and parallel labs choose their own
//! with `BOOKSTORE_LAB_RACE_DB` / `BOOKSTORE_LAB_RACE_PREFIX`.
//!
//! ✅ DO run experiments against the production code path in an isolated namespace.
//! ❌ DON'T copy the strategies into the lab "for clarity": the copy would drift from the
//! service the moment someone fixes a bug there, and the lab would keep demonstrating a
//! bug the course already fixed (the same argument as lessons' source markers).

use bookstore_inventory::race::RaceArena;
use bookstore_stack::testing::Infra;

use super::race::{RaceTarget, Strategy};

// A newtype around the service's arena, so the lab's public API names its own `Arena`
// and the inventory crate stays an implementation detail behind the `RaceTarget` seam.
/// The arena the race runs in.
pub struct Arena {
    inner: RaceArena,
}

impl Arena {
    /// Connects to the running MariaDB and Redis (creating and migrating the arena's
    /// database on first use).
    // An empty variable counts as unset: `BOOKSTORE_LAB_RACE_DB= cargo test` (a common way
    // to "unset" in a CI matrix) must not try to create a database with an empty name.
    pub async fn connect(infra: &Infra) -> anyhow::Result<Self> {
        let var = |k: &str, default: &str| {
            std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.into())
        };
        let inner = RaceArena::connect(
            &infra.mysql_url,
            &var("BOOKSTORE_LAB_RACE_DB", "lab_race"),
            &infra.redis_url,
            &var("BOOKSTORE_LAB_RACE_PREFIX", "lab:race:"),
        )
        .await?;
        Ok(Self { inner })
    }
}

// Each method is a one-line delegation: the arena does the work, so a reader can check
// at a glance that the lab adds no logic of its own between the learner and the code
// being taught.
impl RaceTarget for Arena {
    async fn reset(&self, s: Strategy, book: u64, stock: i64) -> anyhow::Result<()> {
        self.inner.reset(s, book, stock).await
    }
    async fn buy(&self, s: Strategy, book: u64, qty: i64) -> anyhow::Result<bool> {
        self.inner.buy(s, book, qty).await
    }
    async fn remaining(&self, s: Strategy, book: u64) -> anyhow::Result<i64> {
        self.inner.remaining(s, book).await
    }
}
