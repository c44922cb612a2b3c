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
//! | [`cache`] | Redis: a reconnecting connection and key namespacing |
//! | [`consul`] | register/deregister with the local Consul agent; list healthy instances |
//! | [`metrics`] | the Prometheus `/metrics` endpoint |
//! | [`auth`] | reading the `authorization: Bearer …` metadata |
//! | [`error`] | turning internal failures into `Status::internal` without leaking them |
//! | [`run`] | the lifecycle every `main.rs` shares: metrics, serve, register, shut down |

pub mod auth;
pub mod cache;
pub mod config;
pub mod consul;
pub mod db;
pub mod error;
pub mod metrics;
pub mod run;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use config::{CommonSettings, Secret};
pub use server::GrpcServer;
pub use shutdown::Shutdown;
