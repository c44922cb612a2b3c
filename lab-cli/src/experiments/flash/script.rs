//! The scripted sale of the plain mode and of the live test: a fixed fault plan.

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::{
    FlashEvent, FlashParams, FlashTargets, Summary, faults::Fault, run, summary_lines, tick_line,
};

/// The faults of the scripted sale unless told otherwise: every type once, the relay
/// second, while payments are still in flight (a relay killed after the last payment has
/// nothing to lose).
pub const DEFAULT_FAULTS: &str = "kill,relay,redis,mysql";

/// The scripted sale of `bookstore-lab lesson week6 --no-tui` and of the test: the faults
/// named in `faults` (comma-separated, e.g. [`DEFAULT_FAULTS`]), four seconds apart, while
/// the shoppers arrive. Prints a line per second and fails unless every invariant held.
///
/// The plan is an argument, not read from `BOOKSTORE_FLASH_FAULTS` here: the lesson's
/// variable is the plain mode's to read, and a test passes the plan it asserts on — a
/// variable left in the developer's shell then cannot change what the test runs.
pub async fn script(
    targets: FlashTargets,
    params: FlashParams,
    faults: &str,
    mut print: impl FnMut(String),
) -> anyhow::Result<Summary> {
    let plan = plan(&targets, params, faults)?;
    let (ftx, frx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    // The runner owns the sale; this loop only reads its events and sends faults
    // when a tick's clock passes their planned time, so a fault is sent at tick
    // granularity (within a second of its plan). Run 1: the script's events go to no
    // screen, so there is no earlier run to tell apart.
    let runner = tokio::spawn(run(1, targets, params, frx, etx));
    let mut plan = plan.into_iter().peekable();
    let mut ftx = Some(ftx);
    while let Some(e) = erx.recv().await {
        match e {
            FlashEvent::Ready { book, params, .. } => {
                print(format!("==> 秒杀开始：图书 #{book}，{}", params.describe()))
            }
            FlashEvent::Note { text, .. } => print(format!("    {text}")),
            // `run` itself returns its errors rather than sending this; the arm is here
            // so the script stops if a future sender does use it.
            FlashEvent::Failed { message, .. } => anyhow::bail!(message),
            // The summary comes back from `runner` itself below; the event's copy is for
            // the TUI.
            FlashEvent::Finished { .. } => break,
            // Only the TUI asks for the checklist (key `v`); the runner never sends one.
            FlashEvent::Checklist(_) => {}
            FlashEvent::Tick { tick: t, .. } => {
                print(tick_line(&t));
                // `while`, not `if`: a tick delayed by a paused MariaDB (up to 4 s of
                // sampling) can pass two planned times at once, and both faults go out.
                while let Some((at, _)) = plan.peek()
                    && t.elapsed_s >= *at
                {
                    let (_, fault) = plan.next().expect("peeked");
                    print(format!("==> 注入故障：{}", fault.label()));
                    if let Some(tx) = &ftx {
                        tx.send(fault)?;
                    }
                }
                // All faults sent and the shoppers done: close the channel. Catch-up does not
                // wait for this (it starts on `finished` and the faults still acting); the
                // close only tells the runner no fault is coming, as leaving the TUI does.
                if plan.peek().is_none() && t.counts.finished >= t.counts.shoppers {
                    ftx = None;
                }
            }
        }
    }
    // The loop also ends when the runner drops its sender (it failed): the fault
    // channel is closed either way, and the runner's own error comes out below.
    drop(ftx);
    // Two layers: the task panicked (a `JoinError`) or the run returned an error.
    let summary = runner.await??;
    for line in summary_lines(&summary) {
        print(line);
    }
    anyhow::ensure!(summary.held, "an invariant broke during the flash sale (see the board above)");
    Ok(summary)
}

/// The fault plan: each fault named in `faults` with the second it is sent at.
///
/// Built before the sale starts: a typo in `BOOKSTORE_FLASH_FAULTS` fails at once, before
/// a book is published and sixty users are registered for nothing.
///
/// Names may repeat (`kill,kill`): each is its own fault, 4 s after the one before, and
/// the plan comes out in the order it is sent.
fn plan(
    targets: &FlashTargets,
    params: FlashParams,
    faults: &str,
) -> anyhow::Result<Vec<(f64, Fault)>> {
    // The first killable service that every checkout passes through. payment is not in
    // the list: killing it is the relay fault's job, and the script runs that one
    // separately, timed on the Paid route. Looked up even when the plan has no `kill`: a
    // stack without any of these four is not one a flash sale can run on, so the error is
    // right either way.
    let victim = ["order", "inventory", "catalog", "user"]
        .into_iter()
        .find(|n| targets.instances.iter().any(|i| i == n))
        .context("no order/inventory/catalog/user instance to kill")?
        .to_string();
    let mut plan = Vec::new();
    for (n, name) in faults.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let fault = match name {
            "kill" => Fault::Kill(victim.clone()),
            "redis" => Fault::RestartRedis,
            // 3 s, the gateway's upstream deadline: long enough to turn CreateOrders into
            // 504s of unknown outcome, short enough for four faults in one ramp.
            "mysql" => Fault::PauseMysql(3),
            "relay" => Fault::KillRelay,
            other => anyhow::bail!(
                "unknown fault `{other}` in `{faults}` (known: kill, redis, mysql, relay)"
            ),
        };
        // The first fault at 3 s, when shoppers are already mid-checkout; 4 s apart,
        // about one fault's length, so most recoveries are timed alone. Two faults on
        // the same route can still overlap on a slow machine, and then the later one's
        // recovery includes the earlier one's tail.
        plan.push((3.0 + 4.0 * n as f64, fault));
    }
    // The sale ends when its last shopper does; a fault planned after that would never be
    // sent and the run would look like it survived a fault it never met.
    let last_at = plan.last().map_or(0.0, |(at, _)| *at);
    anyhow::ensure!(
        f64::from(params.ramp_secs) + 2.0 > last_at,
        "a {} s sale ends before the fault planned at {last_at} s: use ramp_secs ≥ {}",
        params.ramp_secs,
        last_at.ceil() as u32
    );
    Ok(plan)
}
