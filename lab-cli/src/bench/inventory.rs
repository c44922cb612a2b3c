//! `bookstore-lab bench inventory` — being built (see the inventory issue).

use bookstore_loadgen::report::Report;

use super::BenchOptions;

/// Runs the inventory bench. Not built yet: it says so instead of printing made-up numbers.
pub async fn run(_opts: &BenchOptions) -> anyhow::Result<Report> {
    anyhow::bail!("bench inventory is not built yet")
}
