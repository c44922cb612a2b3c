//! # Design notes — the alternatives we did not take, and why
//!
//! A documentation-only module (like `clap::_tutorial`): no code, read it on docs.rs or
//! here. The scripts in `lua/` say *what* each step does; these notes weigh each design
//! choice against the alternatives a learner will meet in blog posts and interviews.
//!
//! ## 1. Why a script, not GET-then-DECRBY
//!
//! The course's first Redis version is two commands from the application:
//!
//! ```text
//! stock = GET stock:7            -- 1
//! if stock >= q: DECRBY stock:7 q
//! ```
//!
//! Between the GET and the DECRBY, Redis serves other clients. With one copy left and two
//! buyers, both GETs can run before either DECRBY: both see 1, both decrement, stock -1.
//! Redis being single-threaded does not help — each *command* is atomic, the *pair* is not.
//!
//! The alternatives, and their costs:
//!
//! - **MULTI/WATCH** (optimistic locking): WATCH the key, GET, MULTI, DECRBY, EXEC; EXEC
//!   fails if anyone touched the key meanwhile, and the client retries. Correct, but under
//!   a flash sale almost every EXEC fails (1,000 buyers, one key), and every retry is
//!   three more round trips: throughput collapses exactly when it matters.
//! - **DECRBY first, compensate if negative**: one round trip in the common case, but
//!   between the DECRBY and the compensating INCRBY other buyers see a negative stock and
//!   are refused although units were there, and a crash between the two loses the units
//!   (stock stays low forever).
//! - **A distributed lock (SET NX + expiry) around GET/DECRBY**: four round trips instead
//!   of one, a lock that can expire while its holder is paused (GC, swap) so two holders
//!   coexist, and every buyer of a book queued behind it. This is FOR UPDATE rebuilt on
//!   worse foundations.
//! - **A Lua script** (ours): one round trip, the check and the change in one atomic step,
//!   no retries, no lock to expire. The price: the script blocks Redis while it runs, so
//!   scripts must stay short — O(items of one request) — and never call out.
//!
//! Redis 7 also offers *Functions* (`FUNCTION LOAD`, `FCALL`): scripts stored server-side
//! under a name, persisted and replicated. They remove the NOSCRIPT dance but add a deploy
//! step (loading the library). EVALSHA with the script text in the binary keeps "the code
//! that runs is the code that was tested" with no deploy step, which suits a teaching repo.
//!
//! ## 2. Why locked stock
//!
//! The course's checkout has a gap of up to 15 minutes between "order created" and "paid".
//! Three ways to treat the units in that gap:
//!
//! - **Sell at order creation**: unpaid orders hold real stock; abandoned baskets empty the
//!   shelf, and un-selling needs a "return" that is indistinguishable from a real return.
//! - **Sell at payment only**: nothing is held, so two buyers can both create orders for
//!   the last copy and both pay — one of them gets a refund and an apology email.
//! - **Lock at creation, confirm at payment, release at cancel/expiry** (ours): the unit
//!   leaves `avail` at once, so nobody else can take it, but it is not `sold` until paid.
//!
//! We keep four counters, not the course's three: `avail + locked + sold == total`. The
//! course's `total = stock + locked` has no place for sold units, so "total" silently
//! shrinks with every sale and cannot be checked against anything. With `sold`, every
//! operation is a move between fields (or an addition to `avail` and `total` together),
//! and conservation is an invariant a test can assert at any instant.
//!
//! An order's life, as the counters of book 7 see it (10 in stock):
//!
//! ```text
//!                         avail  locked  sold  total
//! IncrStock +10              10       0     0     10
//! LockStock order 42, 2       8       2     0     10
//! DecrStock order 42 (paid)   8       0     2     10
//!   or ReleaseStock 42       10       0     0     10
//!   or the sweeper, 15 min   10       0     0     10
//! ```
//!
//! ## 3. Why idempotence, and keyed by what
//!
//! Retries are not an edge case; every layer adds them. A gRPC deadline fires while the
//! reply is in flight; a client library retries UNAVAILABLE; a message queue delivers at
//! least once; a user double-clicks. Without idempotence, each of these is a double lock,
//! a double release (stock minted from nothing) or a double restock.
//!
//! The key must name the *intent*, not the payload: the order id for lock/release/confirm,
//! the order id for a direct sale, a caller-chosen request id for restocks. DON'T hash the
//! request body — two different customers buying one copy of the same book send the same
//! body, and the second would be "deduplicated" into a free book for nobody.
//!
//! The record is checked and written *inside* the script that makes the change. Checking
//! it in the application first (`EXISTS`, then the script) reopens the race of section 1
//! for two concurrent retries of the same order.
//!
//! How long to keep the records is a real trade-off. Forever (ours) is exact but grows
//! with every order; a production system would expire a settled record after the longest
//! retry horizon of its callers (minutes to days) and keep the long memory in MySQL
//! (`inventory_reservations`, which a rebuild reloads).
//!
//! ## 4. Why emit inside the script
//!
//! "Change Redis, then write MySQL" is the *dual-write* problem: two systems, no shared
//! transaction, so a crash between the writes leaves them disagreeing forever, and a retry
//! of the MySQL write after a timeout may apply it twice. The usual cures:
//!
//! - **Transactional outbox** (MySQL first): write the change and an "outbox" row in one
//!   MySQL transaction, then relay the outbox to Redis. Right when MySQL is the system of
//!   record — but then every sale waits for an InnoDB commit, which is the bottleneck this
//!   service exists to avoid.
//! - **Change data capture** (Debezium and the like): tail MySQL's binlog. Same trade-off:
//!   MySQL first.
//! - **Redis first, with the outbox in Redis** (ours): the script appends the change to a
//!   stream in the same atomic step; the stream *is* the outbox. The syncer relays it to
//!   MySQL with the cursor in the same MySQL transaction as the rows (see `ledger`).
//!
//! What Redis-first costs: Redis becomes the system of record for the last few
//! milliseconds of sales. If Redis loses data (a crash without persistence), the changes
//! not yet relayed are lost with it. Run Redis with AOF (`appendonly yes`,
//! `appendfsync everysec`) to bound the loss to about one second; `appendfsync always`
//! closes it at a large throughput cost. With a replica, `WAIT 1 0` after the script would
//! make a sale wait for replication — the same dial, turned per request.
//!
//! ## 5. One hash slot, or one per book
//!
//! Redis Cluster refuses a script whose keys hash to different slots (CROSSSLOT). With a
//! tag per book, a two-book order cannot be one script. The options:
//!
//! - **One tag for the deployment** (ours): all inventory keys in one slot, so every script
//!   is atomic across books and the change stream is one ordered log. The slot lives on one
//!   node, so inventory cannot use more than one node's CPU (~100k script calls/s).
//! - **A tag per book**: books spread over nodes, and a multi-book order becomes a *saga*
//!   — lock book A, lock book B, and if B fails, release A. Between the steps another
//!   buyer can see A locked for an order that will fail; a crash between the steps needs
//!   a recovery process to find half-locked orders; and the change stream must be one per
//!   slot, so the syncer reads many streams and loses the global order.
//!
//! Start with one slot; move to per-book tags only when measurements say one node is the
//! bottleneck. Most shops never get there.
//!
//! ## 6. Honest shortcuts in this code
//!
//! What a production service would do differently, so nobody copies these by accident:
//!
//! - Idempotency records are never expired (section 3).
//! - A release for an order that never locked is a no-op and leaves no trace, so a
//!   LockStock that arrives *after* its order's cancellation (reordered network messages)
//!   would still lock; the sweeper then releases it after the payment window.
//!   A tombstone record would close that gap at the cost of one more state.
//! - One syncer per instance polls the stream every 10 ms; with many instances they take
//!   turns on the cursor row. A dedicated relay process would scale better.
//! - If MySQL is down for long, the stream grows in Redis memory without bound; production
//!   would alert on `XLEN` and cap it, choosing explicitly between refusing sales and
//!   losing ledger entries.
//! - `snapshot.lua` reads every book in one script: fine for a catalogue of thousands,
//!   wrong for millions (it would block Redis for the whole read).
//! - Ids are assumed below 2^53 wherever a script turns them into Lua numbers.
//! - The direct-decrement form of DecrStock (the course's) skips the reservation step
//!   entirely; real checkouts should lock first and confirm on payment.
//!
//! ## 7. What to watch (the metrics this service exports)
//!
//! | metric | what it tells you |
//! |---|---|
//! | `inventory_operations_total{op, result}` | per RPC (`lock`, `release`, `confirm`, `decr`, `incr`, `get`, `log`, `reconcile`, and the sweeper's `expire`), how each ended: `ok`, `out_of_stock`, `invalid`, `not_found`, `settled`, `error` |
//! | `inventory_stock_units{state}` | units `available`, `locked` and `sold` across all books, refreshed every sweep |
//! | `inventory_ledger_events_applied_total` | changes the syncer has written to MySQL |
//! | `grpc_requests_total`, `grpc_request_duration_seconds` | every RPC's rate and latency (from the shared server) |
//!
//! Questions they answer, in PromQL:
//!
//! - Sales per second: `rate(inventory_operations_total{op="decr",result="ok"}[1m])`
//!   plus the same for `op="confirm"`.
//! - Is the syncer keeping up? Compare `rate(inventory_ledger_events_applied_total[1m])`
//!   with the rate of successful changing operations; a persistent gap means the stream is
//!   growing in Redis memory.
//! - Are unpaid orders hoarding stock? `inventory_stock_units{state="locked"}` climbing
//!   while `rate(…{op="confirm"})` stays flat.
//! - Is something broken, or just sold out? `result="error"` should be zero;
//!   `result="out_of_stock"` during a flash sale is the system working.
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
//! ## 9. How the tests prove the invariants
//!
//! Every test runs against the real MariaDB and Redis, because every invariant here is
//! about what those systems do under concurrency — a mock would only test our idea of
//! them. Isolation comes from a fresh database and key prefix per test, never from running
//! tests one at a time, so the suite stays fast and parallel.
//!
//! | invariant | test file | how it is provoked |
//! |---|---|---|
//! | no oversell | `tests/race.rs` | 1,000 tasks buying one of 100 copies at once, per strategy |
//! | conservation | `tests/flows.rs` | 32 random clients mixing every operation, sampled while running |
//! | idempotence | `tests/flows.rs` | every operation sent twice; settles of unknown orders |
//! | nothing lost or doubled | `tests/durability.rs` | the syncer aborted at random instants mid-burst |
//! | rebuildable | `tests/durability.rs` | every key of the deployment deleted, service restarted |
//! | bad input changes nothing | `tests/flows.rs` | a table of malformed requests, then the ledger is checked |
//!
//! The naive strategy has a test too — one that *requires* it to oversell. That is not a
//! test of a bug but of the lab: if a change (a smaller pool, a serialising proxy) ever
//! hid the race, the lesson built on it would silently stop teaching anything.
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
