//! # Lesson notes still in source — to move to `lessons/day30/`
//!
//! The design decisions that were here now sit next to the code they explain (`store`,
//! `store::keys`, `ledger`, `ledger::syncer`, `domain::Counters`, `sweeper`, the tests'
//! `common` module). What remains is lesson material: how to read the bench, and exercises.
//!
//! ## 8. Reading the bench (`bookstore-lab bench inventory`)
//!
//! The bench reports each path as a ratio to a baseline measured in the same run, because
//! on a shared 2-core machine absolute numbers drift from run to run.
//!
//! - `no-op gRPC` is the ceiling for any RPC on this machine: HTTP/2 framing, protobuf,
//!   tokio scheduling, and nothing else. DecrStock at 0.7× of it means the service's own
//!   work (validation, one Redis round trip, the reply) costs about as much again as a
//!   third of bare gRPC.
//! - `raw Lua` is the ceiling for the script: Redis alone, no gRPC. It is far above the
//!   gRPC paths, which says the bottleneck is not Redis — it is the CPU the gRPC stack
//!   needs on both ends, here sharing two cores with the load generator.
//! - The SQL rows show why the course moves the counter to Redis: FOR UPDATE serialises
//!   every buyer of the book on one row lock held across three round trips.
//!
//! Little's law ties the columns together: with a closed loop of `N` workers, each waiting
//! for its answer, `TPS ≈ N / latency`. 64 workers at a 3 ms median make about 21,000
//! TPS. So raising concurrency raises TPS only until latency starts rising with it — the
//! point where some resource (a CPU, a row lock, Redis's one thread) is saturated. The
//! p99 column shows that resource's queue: a p99 many times the p50 means requests wait
//! behind others, not that the work itself got slower.
//!
//! ## 10. Break it yourself (exercises)
//!
//! Each change below removes one defence; the named test then fails and shows what the
//! defence was for. Run `cargo test -p bookstore-inventory --test <file>` after each, and
//! `git checkout` the file to restore it.
//!
//! 1. **Check while applying.** In `lua/decr.lua`, delete the first `for` loop (the check)
//!    and test `avail` inside the second one, returning `{0, i}` when short. Run
//!    `flows` → `direct_decrement_is_all_or_nothing_and_idempotent` sees book 1 sold
//!    although the order was refused.
//! 2. **Forget the order record.** In `lua/lock.lua`, delete the `if state then … end`
//!    line. `lock_then_release_returns_the_units_and_retries_are_no_ops` sees the retry
//!    lock a second time.
//! 3. **Ignore the state.** In `lua/settle.lua`, delete the line
//!    `if state ~= 'locked' then return {3} end`. In
//!    `lock_then_confirm_sells_the_locked_units_exactly_once`, the release after the
//!    confirm now succeeds: the sold units go back to `avail` and `locked` turns negative.
//! 4. **Two transactions.** In `ledger::Syncer::apply`, commit after the counter upsert and
//!    update the cursor in a second transaction. `durability` → the killed-syncer test
//!    finds more log rows than changes (or a duplicate-key error), depending on where the
//!    abort lands: exactly the dual-write gap, reproduced inside one database.
//! 5. **One buyer at a time.** In `tests/race.rs`, await each purchase before starting
//!    the next instead of spawning all 1,000. The naive test fails: with no concurrency
//!    there is no race. This is why naive code "works" on a developer's laptop, with one
//!    user clicking, and oversells on the first sale day.
//! 6. **No FOR UPDATE.** Remove ` FOR UPDATE` from `for_update_buy`. The FOR UPDATE race
//!    test now oversells — the transaction alone protects nothing.
//! 7. **Compare naively.** In `ledger::reconcile`, skip the "subtract later deltas" step and
//!    run the conservation test: drifts appear under load that are only syncer lag.
