//! Day 30's race in plain mode: one progress bar per strategy, then a summary line each.

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::experiments::{
    arena::Arena,
    race::{self, RaceEvent, RaceParams},
};

/// Runs the race with one progress bar per strategy.
///
/// indicatif draws on stderr and hides itself when stderr is not a terminal, so in CI
/// the log shows only the one summary line per strategy and the final table - the same
/// numbers the TUI shows, from the same runner.
pub async fn race_with_bars(
    arena: Arc<Arena>,
    params: RaceParams,
) -> anyhow::Result<Vec<race::StrategyResult>> {
    // The runner is spawned and this function is its observer: the same division of labour
    // as the TUI, with progress bars in place of lanes.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = tokio::spawn(race::run(arena, params, tx));
    // `expect` on a constant template is a programming error caught by the first run, not a
    // runtime condition to handle.
    // `{prefix:>11}` matches the `{:>11}` of the summary lines below, so the bar and the
    // line that replaces it start their numbers in the same column.
    let style = ProgressStyle::with_template("{prefix:>11} [{bar:30}] {pos}/{len} {msg}")
        .expect("valid template")
        .progress_chars("=> ");
    // One bar at a time, matching the sequential race: a `MultiProgress` with three bars would
    // suggest the strategies run together, which they deliberately do not.
    let mut bar: Option<ProgressBar> = None;
    while let Some(e) = rx.recv().await {
        match e {
            RaceEvent::Started(s) => {
                // The bar's unit follows the mode: attempts in a one-shot race (the bar ends when every
                // buyer has tried), milliseconds in a timed one (the bar is a clock).
                let len = match params.duration_secs {
                    0 => u64::from(params.buyers),
                    d => u64::from(d) * 1000,
                };
                let b = ProgressBar::new(len).with_style(style.clone());
                b.set_prefix(s.label());
                bar = Some(b);
            }
            RaceEvent::Progress(_, snap) => {
                if let Some(b) = &bar {
                    // The same snapshot the TUI's lane draws (4 Hz), so the bar advances at
                    // the pace the race reports, not at a pace of its own.
                    b.set_position(match params.duration_secs {
                        0 => snap.completed(),
                        _ => snap.elapsed.as_millis() as u64,
                    });
                    // The live oversell uses the same `race::oversell` as the TUI's lanes: one definition of
                    // the number, whatever prints it.
                    b.set_message(format!(
                        "sold {} oversell {} tps {:.0}",
                        snap.successes,
                        race::oversell(snap.successes, params.stock),
                        snap.tps()
                    ));
                }
            }
            // One summary line per strategy, printed even when the bar is hidden, so a CI log keeps
            // the per-strategy numbers and not only the final table.
            RaceEvent::Finished(r) => {
                // Cleared, not finished in place: the summary line below replaces the bar, so a
                // terminal log and a CI log (bar hidden) end up with the same lines.
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                // Two rates, because they answer different questions: sales/s counts only the
                // window while stock lasted (`-` if too short to time), attempts/s is the
                // glossary's TPS over the whole run, refusals included — after a sell-out it
                // says how fast a strategy refuses, not how fast it sells.
                println!(
                    "{:>11}: sold {}/{} oversell {} remaining {} sales/s {} attempts/s {:.0} p99 {}",
                    r.strategy.label(),
                    r.sold(),
                    r.stock,
                    r.oversell(),
                    r.remaining,
                    r.sales_per_sec().map_or("-".to_string(), |s| format!("{s:.0}")),
                    r.attempts_per_sec(),
                    crate::ui::fmt_us(r.summary.p99_us)
                );
            }
            // `Failed` never arrives here: the runner returns its error rather than sending it
            // (the TUI's `start_race` is what turns that error into `Failed`), and
            // `runner.await?` below propagates it to `main`, which prints it and exits
            // non-zero — what a script needs to notice.
            RaceEvent::Done | RaceEvent::Failed(_) => {}
        }
    }
    // The runner's own results are returned (not rebuilt from the events), so the caller
    // prints the table from exactly the numbers the bars showed.
    runner.await?
}
