//! # bookstore-lab (library half) — what the `bookstore-lab` binary is made of
//!
//! The binary (`main.rs`) only parses arguments; everything it runs lives here so tests can
//! call it directly.
//!
//! - [`bench`]: `bookstore-lab bench inventory|catalog` — load runs with baselines, built
//!   on the `bookstore-loadgen` engine, printed as a table or JSON.

pub mod bench;
