//! The durable side: MySQL as the ledger, fed from Redis by the syncer.
//!
//! | module | its one job |
//! |---|---|
//! | [`syncer`] | [`Syncer`]: copies the change stream into `inventory_logs` and `inventory`, exactly once |
//! | `event` | one stream entry, parsed (both layouts the scripts have written) |
//! | `chunks` | cuts a batch into five fixed statement shapes |
//! | `cursor` | [`read_cursor`]: how far MySQL has applied the stream |
//! | [`rebuild`] | [`rebuild_if_empty`]: refills an empty Redis from MySQL at start |
//! | [`reconcile`] | [`reconcile`](reconcile()): compares Redis with MySQL as of one instant |
//! | [`audit`] | [`stock_log`]: pages through a book's audit log |
//!
//! ## Why a stream and a syncer (the course's step 3, made crash-proof)
//!
//! The course's Go sample changes Redis, then writes the log row, then sends an event —
//! three steps, and a crash between any two loses or duplicates something. Here the Lua
//! script that changes a counter also appends the change to a Redis stream, in the same
//! atomic step, so "changed" and "recorded" cannot disagree. The syncer then applies the
//! stream to MySQL in batches; each batch's rows *and* the cursor ("applied up to event
//! X") commit in one transaction. A crash before COMMIT re-reads the batch; a crash after
//! COMMIT skips it. On top of that, `inventory_logs` has a UNIQUE key on the event id, so
//! even a bug that applied a batch twice would fail loudly instead of double-counting.
//!
//! DON'T write MySQL inside the request ("synchronous double write"): every sale would
//! then wait for an InnoDB commit (~1 ms with fsync) and the Redis path would be no faster
//! than the database it was meant to shield. The price of the stream: MySQL lags Redis by
//! the syncer's latency (milliseconds), so the audit log is eventually consistent.
//!
//! ## Redis first, with the outbox in Redis — against the usual cures
//!
//! "Change Redis, then write MySQL" is the dual-write problem: two systems, no shared
//! transaction. The textbook cures both put MySQL first:
//!
//! - a transactional outbox (the change and an outbox row in one MySQL transaction, then a
//!   relay to Redis) — right when MySQL decides, but every sale would wait for an InnoDB
//!   commit, the bottleneck this service exists to avoid;
//! - change data capture (tail MySQL's binlog, Debezium-style) — the same trade-off.
//!
//! Here Redis decides, so the outbox lives in Redis: the stream *is* the outbox, written
//! in the same atomic step as the change, and the syncer is its relay. What that costs:
//! for the last few milliseconds of sales Redis is the only record. Redis losing its data
//! loses the entries not yet relayed — bounded to about a second by AOF with
//! `appendfsync everysec` (the lab's setting); `always` closes the gap at a large cost per
//! write; with a replica, `WAIT 1 0` after each script would make a sale wait for
//! replication instead — the same dial, turned per request.

pub mod audit;
mod chunks;
mod cursor;
mod event;
pub mod rebuild;
pub mod reconcile;
pub mod syncer;

pub use audit::{LogRow, stock_log};
pub use cursor::read_cursor;
pub use rebuild::rebuild_if_empty;
pub use reconcile::{Drift, reconcile};
pub use syncer::Syncer;
