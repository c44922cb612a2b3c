//! `bookstore-lab lesson <id> --no-tui`: the lesson text, its experiment, its reveals.

use std::path::Path;
use std::sync::Arc;

use super::{cache_with_lines, orders_with_lines, payments_with_lines, race_with_bars};
use crate::{
    experiments::{
        arena::Arena,
        cache::{CacheParams, CacheTargets},
        flash,
        orders::OrderParams,
        race::{self, RaceParams},
    },
    lessons::{ExperimentKind, Library},
};

// The lesson text is printed first so a log reads like the lesson: the explanation, then
// the evidence. The cache experiment runs 10 s here instead of 30 s: nobody presses `p`
// or `u` in a script, so the extra 20 s would only repeat the same numbers.
/// `bookstore-lab lesson <id> --no-tui`: the text, then the experiment.
pub async fn lesson(
    lib: &Library,
    id: &str,
    lab_dir: &Path,
    race_params: RaceParams,
    targets: anyhow::Result<CacheTargets>,
) -> anyhow::Result<()> {
    // Errors here are English (they go to stderr and into issue reports); the lesson text and
    // the tables are Chinese (they are for the learner).
    let entry = lib.get(id).ok_or_else(|| anyhow::anyhow!("no lesson `{id}`"))?;
    anyhow::ensure!(entry.is_available(), "lesson `{id}` is not available yet");
    // Source references expanded now; one broken reference fails the whole command before
    // anything is printed, saying which one — a CI log then names what to fix.
    let text = lib.text(entry)?;
    println!("{text}");
    match entry.experiment {
        Some(ExperimentKind::Race) => {
            // The race needs only MariaDB and Redis; `try_infra_in` reads them from the lab
            // directory's `stack.json` or the `BOOKSTORE_*` variables, so it works with `up
            // --infra-only` and in CI where the services are not running.
            let infra = bookstore_stack::testing::try_infra_in(Some(lab_dir))?;
            println!("==> 实验：{}", race_params.describe());
            let results =
                race_with_bars(Arc::new(Arena::connect(&infra).await?), race_params).await?;
            // Table, then reveals: the reveal text quotes this run's figures (`race::figures`),
            // so it must come after the numbers it explains, as in the TUI.
            println!("\n{}", race::verdict_table(&results));
            print_reveals(&text, &race::figures(&results));
        }
        // The cache targets were resolved by `main` and arrive as a `Result`: if the catalog is
        // not running, the error surfaces here — after the lesson text was printed, so the
        // learner still gets the lesson and then a clear reason why the experiment did not run.
        Some(ExperimentKind::Cache) => {
            let params = CacheParams { duration_secs: 10, ..CacheParams::default() };
            let figures = cache_with_lines(targets?, params).await?;
            print_reveals(&text, &figures);
        }
        // The four service addresses are read here rather than by `main`: only this lesson
        // needs them, and a missing service fails after the text, like the cache.
        Some(ExperimentKind::Orders) => {
            let ctx = crate::tui::Context { lab_dir: lab_dir.to_path_buf() };
            // The lesson's defaults (stock 5, 4 shoppers, 20 orders at once): plain mode has
            // no knobs for this experiment, and the lesson's text quotes these sizes.
            orders_with_lines(ctx.order_targets()?, OrderParams::default()).await?
        }
        // Scripted: two instances, kill -9 one under load, restart it; fails (non-zero exit)
        // if a single request of the load failed — the lesson's claim, checked. About 11 s
        // of load (3 s, the kill, 4 s, the restart, 4 s), one line per second.
        Some(ExperimentKind::Discovery) => {
            let targets = crate::experiments::discovery::DiscoveryTargets::from_lab(lab_dir)?;
            crate::experiments::discovery::script(targets, |line| println!("{line}")).await?;
        }
        // The context, not resolved targets: scenario 3 restarts payment-service on a new
        // metrics port, so `payments_with_lines` re-reads the addresses before each scenario.
        Some(ExperimentKind::Payments) => {
            let ctx = crate::tui::Context { lab_dir: lab_dir.to_path_buf() };
            payments_with_lines(&ctx).await?
        }
        // Scripted: every fault type once while the sale runs; exits non-zero if any
        // invariant broke, so `make test` (and a learner's CI) can hold the system to it.
        Some(ExperimentKind::Flash) => flash_with_lines(lab_dir, &text).await?,
        None => {}
    }
    Ok(())
}

/// The capstone's scripted sale (every fault once), its reveals, then the Week 6
/// checklist; an error if the sale broke an invariant or a functional criterion fails.
async fn flash_with_lines(lab_dir: &Path, text: &str) -> anyhow::Result<()> {
    let targets = flash::FlashTargets::from_lab(lab_dir)?;
    // `BOOKSTORE_FLASH_FAULTS=redis,mysql` runs only those (in that order, 4 s apart):
    // one fault at a time is how you find which one a symptom belongs to.
    let faults =
        std::env::var("BOOKSTORE_FLASH_FAULTS").unwrap_or_else(|_| flash::DEFAULT_FAULTS.into());
    let params = flash::FlashParams::default();
    // The sale's error is kept, not returned yet: the checklist below still runs, and
    // `sale?` after it makes the exit code say the sale broke.
    let sale = flash::script(targets, params, &faults, |line| println!("{line}")).await;
    if let Ok(summary) = &sale {
        print_reveals(text, &flash::figures(summary));
    }
    // The checklist runs even after a broken sale: it says what else is wrong. Its
    // functional lines (every RPC answers, Consul passing) fail the run; the
    // performance targets do not — they depend on the machine, not on the code.
    println!("==> Week 6 完成标准（对照正在运行的环境与你保存的 bench 结果）");
    let items = flash::checklist::run(lab_dir).await?;
    for line in flash::checklist::lines(&items) {
        println!("{line}");
    }
    sale?;
    // The first two items are the functional ones (every RPC answers, Consul passing:
    // `checklist::run` lists them first); a new item inserted before them would make
    // this slice judge a performance target instead.
    let functional = &items[..items.len().min(2)];
    let broken: Vec<&str> =
        functional.iter().filter(|i| i.ok == Some(false)).map(|i| i.label.as_str()).collect();
    anyhow::ensure!(broken.is_empty(), "completion criteria not met: {}", broken.join("; "));
    Ok(())
}

// Plain mode has no "session": the experiment just ran, so its reveals are due now, after
// the report they explain (lesson format §3). The body is printed as Markdown, like the
// lesson text above it.
/// Prints every `reveal` block of `text` with its placeholders filled from `figures`.
fn print_reveals(text: &str, figures: &[(&'static str, String)]) {
    use crate::lessons::blocks::{self, BlockKind};
    for b in blocks::blocks(text).into_iter().filter(|b| b.kind == BlockKind::Reveal) {
        // A key this run did not measure prints as `?key` (see `blocks::fill`), so a reveal
        // never shows a number from nowhere; `lessons check` rejects unknown keys anyway.
        let body = blocks::fill(&b.body, |k| {
            figures.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        });
        println!("\n==> 先猜再看 · 答案（本次实测）\n{}", body.trim_end());
    }
}
