//! # bookstore-lab (library half) — what the `bookstore-lab` binary is made of
//!
//! The binary (`main.rs`) only parses arguments; everything it runs lives here so tests
//! can call it directly. The TUI follows the ratatui template shape — state, events and
//! rendering apart — and the experiments are library code the TUI only observes.
//!
//! What it is not: a load engine (that is `bookstore-loadgen`) or a process supervisor
//! (`bookstore-stack`); it drives both.
//!
//! - [`app`]: the TUI state and `update(event) -> commands` (no I/O).
//! - [`event`]: the one `Event` enum and the key reader thread.
//! - [`ui`]: rendering, a pure function of the state (snapshot-tested).
//! - [`tui`]: the one loop: draw, receive an event, update, run commands.
//! - [`terminal`]: raw mode in, always out (guard + panic hook).
//! - [`lessons`]: lessons as data — manifest, source references, `lessons check`, progress.
//! - [`experiments`]: Day 30's race and Day 29's cache load, reporting over channels.
//! - [`lab_env`]: the stack's addresses as environment variables (`env`, lesson commands).
//! - [`dashboard`]: the poller behind `bookstore-lab dashboard`.
//! - [`metrics`]: Prometheus text parsing, counter rates and histogram quantiles.
//! - [`plain`]: the same commands without a TUI (progress bars, then tables).
//! - [`bench`]: `bookstore-lab bench inventory|catalog`.
//!
//! Reading order for a learner: `event` → `app` → `tui` → `ui` shows the template shape
//! end to end in about 500 lines; `experiments::race` and `metrics` are the two modules
//! that carry the course's content (oversell and measured rates).
//!
//! ## How the pieces talk
//!
//! ```text
//!                  ┌──────────── bookstore-lab (this crate) ─────────────┐
//!  keyboard ──────►│ event ─► app::update ─► Command ─► tui::execute     │
//!                  │   ▲            │                      │              │
//!                  │   │            ▼                      ▼              │
//!                  │   │        ui::render           experiments::{race, cache}
//!                  │   │                                   │  (bookstore-loadgen)
//!                  │   └──── RaceEvent / CacheEvent ◄──────┘              │
//!                  │   └──── DashboardSnapshot ◄── dashboard::Poller       │
//!                  └──────────────────────────────────────┬───────────────┘
//!                                                         │ gRPC, SQL, Redis, /metrics
//!        MariaDB · Redis · Consul · catalog · inventory · user · … (bookstore-stack)
//! ```
//!
//! Arrows into the loop carry *data* (events); arrows out of it carry *requests* (commands).
//! Nothing in the loop blocks on the right-hand side — the test of the design.
//!
//! ## The words on the screens, defined once
//!
//! - **oversell (超卖)**: units sold beyond the starting stock, `max(0, sold − stock)`;
//!   equals `−remaining` when the store is consistent ([`experiments::race`]).
//! - **TPS**: answered attempts per second, refusals included — how fast a path answers,
//!   not how fast it sells ([`bookstore_loadgen::Snapshot::tps`]).
//! - **QPS**: a service's requests per second, from `/metrics` counter deltas ([`metrics`]).
//! - **p50 / p99**: the latency half / 99 % of calls stay under. Client-side and exact in
//!   the experiments (the load engine), server-side and bucket-precise on the dashboard.
//! - **hit rate (命中率)**: cache hits ÷ lookups over an interval, from the service's own
//!   `cache_requests_total` ([`experiments::cache`]).
//! - **closed loop**: N workers, each waiting for its answer before the next attempt; the
//!   load model of every experiment and bench here.
//! - **ratio (×行锁, ×baseline)**: a figure divided by a baseline measured in the same run —
//!   the only kind of performance number the course prints.

pub mod app;
pub mod bench;
pub mod dashboard;
pub mod event;
pub mod experiments;
pub mod lab_env;
pub mod lessons;
pub mod metrics;
pub mod plain;
pub mod terminal;
pub mod tui;
pub mod ui;
