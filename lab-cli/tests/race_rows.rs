//! The race's bookkeeping against the real MariaDB and Redis: after a whole race, what the
//! learner inspects by hand (`lab_race.inventory`) still shows each strategy's own result.
//!
//! Day 30 tells learners to look at naive's row after the race and find it below zero.
//! That only holds if FOR UPDATE, which runs next, resets a row of its own: with one shared
//! book, its reset put the stock back and its buyers sold it out to exactly 0, so the row
//! the lesson pointed at never showed the oversell. Run alone with
//! `cargo test -p bookstore-lab --test race_rows` after `eval "$(bookstore-lab --dir .lab-test env)"`.

use std::sync::Arc;

use sqlx::Connection;

use bookstore_lab::experiments::{
    arena::Arena,
    race::{self, RaceParams, RaceTarget, Strategy, race_book},
};

// 500 buyers for 50 units at once, as in the tmux test: naive oversells on practically any
// machine (see the race module's "Reading the numbers"). The test insists on it, because
// without an oversell naive's row and FOR UPDATE's would both end at 0 and prove nothing.
/// After the race, naive's row still holds naive's negative stock, FOR UPDATE's its 0.
// Two workers, not the default one-thread test runtime: the buyers must really run in
// parallel for naive's read-then-write window to be hit, as in the TUI's multi-threaded loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_strategy_leaves_its_own_row_after_the_race() {
    let infra = bookstore_stack::testing::infra();
    let db = bookstore_stack::testing::unique_name("t_race_rows");
    // SAFETY: the only test in this binary, and no other thread exists yet that reads the
    // environment; `Arena::connect` reads these two variables (as the lab does).
    unsafe {
        std::env::set_var("BOOKSTORE_LAB_RACE_DB", &db);
        std::env::set_var("BOOKSTORE_LAB_RACE_PREFIX", bookstore_stack::testing::unique_prefix());
    }
    let arena = Arc::new(Arena::connect(&infra).await.expect("arena connects"));
    // The progress events go nowhere (nobody draws them); unbounded, so sending one never
    // waits and the receiver kept alive by `_rx` means no send fails either.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let params = RaceParams { stock: 50, buyers: 500, duration_secs: 0 };
    let results = race::run(arena.clone(), params, tx).await.expect("race runs");

    let naive = results.iter().find(|r| r.strategy == Strategy::Naive).expect("naive ran");
    assert!(naive.remaining < 0, "naive did not oversell this time: {naive:?}");
    // Read back after the *whole* race: each row must still hold what its own strategy left
    // (the runner read `remaining` right after that strategy's run). With the shared row,
    // naive's would read FOR UPDATE's 0 here instead of its own negative stock.
    for r in &results {
        let left = arena.remaining(r.strategy, race_book(r.strategy)).await.unwrap();
        assert_eq!(left, r.remaining, "{:?}'s row changed after its run", r.strategy);
    }
    // The fix itself, stated: one book (one row) per strategy. Without it the loop above
    // could pass by luck only when FOR UPDATE happened to leave naive's figure.
    assert_ne!(race_book(Strategy::Naive), race_book(Strategy::ForUpdate));

    // The arena created the database; dropping it keeps the shared test server from filling
    // with one schema per run (the Redis keys sit under a unique prefix and cost nothing).
    let mut conn = sqlx::MySqlConnection::connect(&infra.mysql_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS `{db}`")).execute(&mut conn).await.unwrap();
}
