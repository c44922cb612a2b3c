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

use crate::lessons::ExperimentKind;

// One table from the manifest's `experiment = "…"` to that experiment's keys: `lessons
// check` rejects a `{{measured:KEY}}` that is not in it, and lessons/README.md lists the
// same keys for authors (a test compares the two).
/// The reveal keys the experiment of `kind` fills after a finished run.
pub fn figure_keys(kind: ExperimentKind) -> &'static [&'static str] {
    match kind {
        ExperimentKind::Race => &race::FIGURE_KEYS,
        ExperimentKind::Cache => &cache::FIGURE_KEYS,
        ExperimentKind::Orders => &orders::FIGURE_KEYS,
        ExperimentKind::Payments => &payments::FIGURE_KEYS,
        ExperimentKind::Discovery => &discovery::FIGURE_KEYS,
        ExperimentKind::Flash => &flash::FIGURE_KEYS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the promise of lessons/README.md's key table: every key an experiment fills is
    // listed on that experiment's row, and the row lists nothing the code does not fill — the
    // table is what the content authors write placeholders from.
    /// The README's reveal key table matches `FIGURE_KEYS` of every experiment.
    #[test]
    fn the_readme_lists_exactly_the_keys_each_experiment_fills() {
        let readme = include_str!("../../../lessons/README.md");
        let kinds = [
            ("race", ExperimentKind::Race),
            ("cache", ExperimentKind::Cache),
            ("orders", ExperimentKind::Orders),
            ("payments", ExperimentKind::Payments),
            ("discovery", ExperimentKind::Discovery),
            ("flash", ExperimentKind::Flash),
        ];
        for (name, kind) in kinds {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("no README row for {name}"));
            let cell = row.split('|').nth(2).unwrap_or_default();
            // The keys are the backticked words of the row's second cell, in order.
            let listed: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
            assert_eq!(listed, figure_keys(kind), "README row of {name}");
        }
    }
}
