//! `bookstore-lab bench catalog` — being built (see the catalog issue).

use bookstore_loadgen::report::Report;

use super::BenchOptions;

/// Runs the catalog bench. Not built yet: it says so instead of printing made-up numbers.
pub async fn run(_opts: &BenchOptions) -> anyhow::Result<Report> {
    anyhow::bail!("bench catalog is not built yet")
}
