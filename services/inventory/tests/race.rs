//! The course's headline experiment: 1,000 buyers, 100 copies. Lua and FOR UPDATE sell
//! exactly 100; the naive read-check-write sells more than it has.
//!
//! The buyers are 1,000 tokio tasks started at once against a pool of 64 MySQL
//! connections (or one multiplexed Redis connection): enough real concurrency for reads
//! to interleave with writes, which is all the naive path needs to go wrong.
//!
//! The naive test *requires* an oversell. That is a test of the lab, not of a bug: if a
//! change (a smaller pool, a serialising proxy, awaiting each buyer before spawning the
//! next) ever hid the race, the lesson built on it would silently stop teaching. It is
//! also why naive code "works" on a developer's laptop with one user clicking, and
//! oversells on the first sale day: without concurrency there is no race to lose.

mod common;

use bookstore_inventory::race::{RaceArena, Strategy};
use bookstore_stack::testing;

// The course's numbers: 1,000 concurrent buyers for 100 copies.
const BUYERS: usize = 1_000;
const STOCK: i64 = 100;

/// Runs BUYERS concurrent purchases of one unit; returns (sold, remaining).
async fn race(arena: &RaceArena, strategy: Strategy, book: u64) -> (i64, i64) {
    arena.reset(strategy, book, STOCK).await.unwrap();
    // All buyers are spawned before any finishes, so they really compete.
    let attempts = (0..BUYERS).map(|_| {
        let arena = arena.clone();
        // `unwrap`: an attempt that failed (neither sale nor refusal) would skew both counts,
        // so it fails the test rather than being counted as either.
        tokio::spawn(async move { arena.buy(strategy, book, 1).await.unwrap() })
    });
    let results = futures::future::join_all(attempts).await;
    // `Ok(true)` is a sale; a failed task (panic) would fail the test right here.
    let sold = results.into_iter().filter(|r| *r.as_ref().unwrap()).count() as i64;
    // Two independent witnesses: `sold` is counted from the buyers' answers, `remaining`
    // read from where the strategy keeps its stock (a MySQL row or the Redis hash). A
    // strategy that acknowledged sales it did not record would make them disagree.
    (sold, arena.remaining(strategy, book).await.unwrap())
}

async fn arena() -> RaceArena {
    let infra = testing::infra();
    let db = infra.fresh_database("race").await;
    // The arena's own database and prefix: the race never touches a service's data.
    RaceArena::connect(&infra.mysql_url, &db, &infra.redis_url, &testing::unique_prefix())
        .await
        .unwrap()
}

/// Lua: exactly 100 of 1,000 concurrent buyers succeed and the stock ends at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lua_sells_exactly_the_stock_to_a_thousand_concurrent_buyers() {
    let arena = arena().await;
    // Both numbers, because each catches a different bug: a check written `>` for `>=`
    // sells 99 and leaves 1; a check-then-write split sells 101 and leaves −1.
    assert_eq!(race(&arena, Strategy::Lua, 1).await, (STOCK, 0));
}

/// FOR UPDATE: exactly 100 of 1,000 concurrent buyers succeed and the stock ends at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn for_update_sells_exactly_the_stock_to_a_thousand_concurrent_buyers() {
    let arena = arena().await;
    // A FOR UPDATE outside a transaction (autocommit releases the lock as the SELECT
    // returns) fails here with the naive test's numbers.
    assert_eq!(race(&arena, Strategy::ForUpdate, 2).await, (STOCK, 0));
}

/// Naive read-check-write oversells under the same race: more than 100 sales and a
/// negative stock. The lab depends on this being visible, so the test insists on it.
///
/// `remaining == STOCK - sold` also shows the oversell is not lost updates: every sale's
/// UPDATE landed; the damage is entirely in deciding to sell on a stale read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn naive_read_then_update_oversells_under_the_same_race() {
    let arena = arena().await;
    let (sold, remaining) = race(&arena, Strategy::Naive, 3).await;
    assert!(sold > STOCK, "naive sold only {sold}");
    assert_eq!(remaining, STOCK - sold, "every sale decremented");
    assert!(remaining < 0);
}

/// The labels are the stable names the lab and the bench print.
///
/// They end up in reports, saved bench JSON and the lab's screens, where scripts and
/// learners' notes refer to them: renaming one is a breaking change, so it has to be a
/// deliberate edit of this test too, never a side effect of renaming a variant.
#[test]
fn strategies_have_stable_labels() {
    let labels: Vec<_> = Strategy::ALL.iter().map(|s| s.label()).collect();
    assert_eq!(labels, ["naive", "for-update", "lua"]);
}
