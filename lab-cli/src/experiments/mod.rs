//! The live experiments: library code that drives load and reports what it sees.
//!
//! An experiment never draws anything and never reads a key. It runs the load through the
//! one load engine (`bookstore-loadgen`) and sends what it observes as events over a
//! channel; the TUI renders those events and the plain mode prints them. That split is
//! the lesson of oha's 370-line loop mixing load, layout and input (STYLE.md): here the
//! load cannot stutter because a frame is slow to draw, and the same runner feeds the
//! TUI, the plain-text output and the tests.
//!
//! - [`race`]: Day 30 — naive vs `SELECT … FOR UPDATE` vs Lua on the same stock.
//! - [`cache`]: Day 29 — a skewed read load on catalog-service, hit rate and invalidation.
//! - [`orders`]: Day 31–32 — concurrent orders on little stock, compensation and expiry.
//! - [`discovery`]: Day 35 — load over several user-service instances, `kill -9` one.
//! - [`flash`]: Week 6 capstone — a flash sale through the gateway with faults and an invariant board.
//! - [`payments`]: Day 33–34 — one payment's timeline, duplicate callbacks, a kill -9 in the
//!   3-second window, and the refund of a payment that lands after its order was cancelled.
//! - [`arena`]: connects the race to inventory-service's real code paths.
//!
//! The common shape of an experiment, so a new one (Day 31's orders, say) fits in:
//! `Params` (the knobs, `Copy`, with a `Default` the lesson describes), an `Event` enum
//! (`Started` / `Progress` / … / `Done` / `Failed`), and `async fn run(target, params,
//! events) -> Result<..>`. `run` sends, never awaits a reader, and returns the final
//! numbers too, so a test can ignore the channel and assert on the result.

pub mod arena;
pub mod cache;
pub mod discovery;
pub mod flash;
pub mod orders;
pub mod payments;
pub mod race;
