//! # bookstore-platform — the plumbing every service shares, and nothing else
//!
//! A service crate should read like its domain: handlers, scripts, SQL. Everything that
//! is the same in all five services lives here, written once, so a learner reads it once.
//! What this crate is *not* for: business rules. If a function mentions books, orders or
//! stock, it belongs in a service crate.
//!
//! | module | its one job |
//! |---|---|
//! | [`config`] | layered typed settings: defaults → optional TOML file → `BOOKSTORE_*` env vars; secrets redacted |
//! | [`telemetry`] | `tracing` setup, once per process |
//! | [`shutdown`] | one cancellation token fired by SIGINT/SIGTERM |
//! | [`server`] | the gRPC server: bind (port 0 allowed), health per named service, reflection, request metrics |
//! | [`db`] | MySQL: create the service's database if missing, connect a pool, run migrations |
//! | [`cache`] | Redis: one reconnecting connection, waited for at start (key naming stays with each service) |
//! | [`clients`] | the one function that builds a channel to another service |
//! | [`discovery`] | where a call goes: static or Consul-listed instances, round-robin, passive ejection |
//! | [`consul`] | register/deregister with the local Consul agent; list healthy instances |
//! | [`metrics`] | the Prometheus `/metrics` endpoint |
//! | [`retry`] | waiting for MySQL/Redis at start: transient errors retried for a bounded time |
//! | [`auth`] | reading the `authorization: Bearer …` metadata, the role check, the internal service credential |
//! | [`error`] | turning internal failures into `Status::internal` without leaking them |
//! | [`run`] | the lifecycle every `main.rs` shares: metrics, serve, register, shut down |
//!
//! How a service uses it, in order (see any `services/<svc>/src/lib.rs`):
//! `config::load` → `telemetry::init` → `db::connect` / `cache::connect` →
//! `GrpcServer::bind` + `add_service` → `run::serve`. Dependencies are connected *before*
//! the server is built, so a service that cannot reach its database refuses to start
//! instead of answering SERVING and then failing every request.
//!
//! Why a shared crate and not copy-paste: five services with five slightly different
//! shutdown sequences is five places for the same bug. The cost is coupling — a change
//! here rebuilds and affects every service — which is why this crate stays small and
//! boring, and why nothing domain-specific may enter it.

// The allocator, chosen here once for every service binary and the lab (which runs the
// benches' services in-process), so "the numbers the lab shows" are the services' numbers.
// Why not glibc's malloc: in `bench catalog`'s warm ListBooks path (decode a cached page
// of ~100 strings, re-encode it, and the load generator decodes it again) `perf` put
// glibc's `_int_malloc`/`_int_free`/`malloc_consolidate`/`unlink_chunk` at ~14 % of all
// samples — its per-thread arenas consolidate and lock on exactly this pattern of many
// small blocks freed by another tokio worker than the one that allocated them. mimalloc
// frees into the owning thread's page without a global lock. The before/after figures are
// in the closing note of issue #11 (`bookstore-lab bench inventory|catalog`).
// DON'T pick an allocator by reputation: profile first; for a CLI that mostly sleeps the
// system allocator is fine, and a second `#[global_allocator]` anywhere in a binary's
// crates is a link error.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod auth;
pub mod cache;
pub mod cli;
pub mod clients;
pub mod config;
pub mod consul;
pub mod db;
pub mod discovery;
pub mod error;
pub mod metrics;
pub mod retry;
pub mod run;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use config::{CommonSettings, Secret};
pub use server::GrpcServer;
pub use shutdown::Shutdown;
