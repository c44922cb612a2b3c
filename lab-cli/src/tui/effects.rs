//! The only place where a [`Command`] becomes real I/O: one spawned task per effect,
//! reporting back to the loop as events.

use std::{path::PathBuf, sync::Arc};

use tokio::sync::mpsc;

use super::Context;
use crate::{
    app::{App, Command, runs::Purpose},
    event::Event,
    experiments::{
        arena::Arena,
        cache::{self, CacheEvent, CacheParams},
        discovery::{self, Action, DiscoveryEvent, DiscoveryTargets},
        flash::{self, FlashEvent, FlashParams, FlashTargets, faults::Fault},
        orders::{self, OrderParams, OrdersEvent},
        payments::{self, PaymentsEvent, Scenario, Setup},
        race::{self, RaceEvent, RaceParams},
    },
};

// Statics, not fields of `App`: `App` is the state the screens render and the tests
// build by hand, and a sender is an effect's handle, not state; `execute` has no other
// place to keep it between two commands. A `Mutex` only because a static must be `Sync`:
// the loop is its one user, so it is never contended. Taking the sender out (`take`) when
// the run ends drops it, and the experiment's receiver then sees the channel closed.
/// The running discovery experiment's action channel (`None` when it is not running).
static DISCOVERY: std::sync::Mutex<Option<mpsc::UnboundedSender<Action>>> =
    std::sync::Mutex::new(None);
/// The running flash sale's fault channel, kept the same way as [`DISCOVERY`].
static FLASH: std::sync::Mutex<Option<mpsc::UnboundedSender<Fault>>> = std::sync::Mutex::new(None);

// The same shape for the lesson command that is running: one at a time (app/runs.rs), so
// one slot; sending on it stops the script (the runner kills its process group).
/// Stops the running lesson command or checkpoint check (`None` when none runs).
static SCRIPT: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>> =
    std::sync::Mutex::new(None);

/// The loop's sender, cloned into every task an effect spawns.
// Every `let _ = tx.send(..)` below ignores the one possible error, "the loop is gone":
// that happens only after `q`, when there is no screen left to report anything to.
type Tx = mpsc::UnboundedSender<Event>;

/// Performs one side effect; results come back later as events.
///
/// Every effect that waits on the network is spawned, never awaited here: awaiting a
/// database connect in the loop would freeze the keyboard (and `q`) for as long as it
/// takes. Failures come back as events too, so they are shown, not lost.
// `&mut App` for one arm only (`SaveProgress` writes its failure into the footer); every
// other effect reports through `tx`, so the App is changed by events, in loop order.
// The statics' `expect("not poisoned")`: a `Mutex` is poisoned only by a panic while it is
// held, and the holders below only assign, take or send — none of which panics.
pub(super) fn execute(cmd: Command, app: &mut App, ctx: &Context, tx: &Tx) {
    match cmd {
        Command::RunScript { purpose, script } => run_script(purpose, script, ctx, tx),
        // `take`: a second stop key press finds `None` and does nothing, rather than sending
        // on a channel whose receiver already finished.
        Command::StopScript => {
            if let Some(stop) = SCRIPT.lock().expect("not poisoned").take() {
                let _ = stop.send(());
            }
        }
        // The one synchronous effect (see `app.rs`): a tiny local file, and a failure must be
        // shown, not swallowed — a learner who marks a lesson done and loses it on restart
        // would stop trusting the checkmarks.
        Command::SaveProgress => {
            if let Err(e) = app.progress.save(&ctx.lab_dir) {
                app.notice = Some(format!("无法保存进度：{e}"));
            }
        }
        Command::StartRace(params) => start_race(params, ctx, tx),
        Command::StartCache(params) => start_cache(params, ctx, tx),
        Command::StartDiscovery => start_discovery(ctx, tx),
        // No running experiment (Esc already took the sender): the key is ignored, because
        // there is nothing to act on; the screen's status line already says it stopped.
        Command::Discovery(action) => {
            if let Some(atx) = DISCOVERY.lock().expect("not poisoned").as_ref() {
                let _ = atx.send(action);
            }
        }
        // Dropping the sender is the whole stop: the runner's action channel closes, it
        // winds down, and `spawn_experiment` still delivers the events it sends meanwhile.
        Command::StopDiscovery => {
            DISCOVERY.lock().expect("not poisoned").take();
        }
        Command::StartFlash { run, params } => start_flash(run, params, ctx, tx),
        Command::Flash(fault) => {
            if let Some(ftx) = FLASH.lock().expect("not poisoned").as_ref() {
                let _ = ftx.send(fault);
            }
        }
        Command::StopFlash => {
            FLASH.lock().expect("not poisoned").take();
        }
        Command::FlashChecklist => flash_checklist(ctx, tx),
        Command::StartOrders { run, params } => start_orders(run, params, ctx, tx),
        Command::StartPayment { run, scenario, setup } => {
            start_payment(run, scenario, setup, ctx, tx)
        }
        Command::OrderFault { run, .. } | Command::CancelOrder { run, .. } => {
            order_action(run, cmd, ctx, tx)
        }
        Command::PublishBook | Command::ChangeStock(_) => cache_write(cmd, ctx, tx),
    }
}

// The same repository root and `Context::for_lab` as `lessons check --run`
// (`lessons/live.rs`), so a block that passes the check runs the same way from the screen.
/// Runs a lesson command block or a checkpoint check; its outcome is a `ScriptDone`.
///
/// Needs no running stack itself: a block that calls a stopped service fails inside the
/// script, and that failure is the outcome the screen shows.
fn run_script(purpose: Purpose, script: String, ctx: &Context, tx: &Tx) {
    // The stop handle is stored before the spawn, so a `StopScript` that arrives as the
    // very next event already finds it. A previous handle is replaced (and dropped):
    // app/runs.rs starts a script only when none runs.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    *SCRIPT.lock().expect("not poisoned") = Some(stop_tx);
    // The root is the directory above `lessons/`, the one the lessons' relative paths
    // (`services/…`, `lessons/…`) are written against. "." only if the lessons can no
    // longer be found: the TUI found them at start, so the checkout moved mid-session.
    let root = crate::lessons::find_dir()
        .ok()
        .and_then(|d| d.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    // The lab's variables (`BOOKSTORE_*`, `CONSUL_HTTP_ADDR`) are read from `stack.json`
    // at this press, so a block run after an `up` in another terminal talks to that stack.
    let run_ctx = crate::lessons::runner::Context::for_lab(&root, &ctx.lab_dir);
    let tx = tx.clone();
    // Spawned: a lesson command may run for minutes (a bench, a `sleep`), and the loop
    // must keep drawing its output and accept the stop key meanwhile.
    tokio::spawn(async move {
        let outcome = crate::lessons::runner::run(&script, &run_ctx, Some(stop_rx)).await;
        let _ = tx.send(Event::ScriptDone(purpose, outcome));
    });
}

/// Starts the Day 30 race against the lab's MariaDB and Redis.
///
/// No run id and no stop handle: a race runs to its end on its own, and its events carry
/// no tag because the screen starts no second race while one runs.
fn start_race(params: RaceParams, ctx: &Context, tx: &Tx) {
    // The race needs MariaDB and Redis, not the services: it connects to the infra recorded
    // in the lab directory (`try_infra_in`), so it works even when inventory-service is
    // stopped. Connecting happens inside the spawned task — a refused connection becomes a
    // `Failed` event on screen a moment later, while the keyboard stays responsive.
    let dir = ctx.lab_dir.clone();
    let failed = |m| Event::Race(RaceEvent::Failed(m));
    spawn_experiment(tx, Event::Race, failed, move |rtx| async move {
        let infra = bookstore_stack::testing::try_infra_in(Some(&dir))?;
        // Shared, not cloned per buyer: the arena owns the MariaDB and Redis pools, and
        // every buyer task of every lane draws its connections from the same two pools.
        let arena = Arc::new(Arena::connect(&infra).await?);
        race::run(arena, params, rtx).await
    });
}

/// Starts the Day 29 read load on the catalogue.
fn start_cache(params: CacheParams, ctx: &Context, tx: &Tx) {
    // The addresses are resolved now (cheap file read) but used inside the task; if the
    // catalog is not running, the error travels into the task and comes back as `Failed`,
    // so both the success and the failure path report through the same event.
    let targets = ctx.cache_targets();
    let failed = |m| Event::Cache(CacheEvent::Failed(m));
    spawn_experiment(tx, Event::Cache, failed, move |ctx_tx| async move {
        cache::run(targets?, params, ctx_tx).await
    });
}

// The discovery runner lives until its action sender is dropped: kept in a static
// (one TUI per process), replaced by the next start, taken away by Esc.
/// Starts the Day 35 load and its sampler; actions reach it through [`DISCOVERY`].
fn start_discovery(ctx: &Context, tx: &Tx) {
    let targets = DiscoveryTargets::from_lab(&ctx.lab_dir);
    // Stored before the spawn, so the learner's first action key (kill, restart) after
    // Enter reaches this run; replacing an older sender ends the older run.
    let (atx, arx) = mpsc::unbounded_channel();
    *DISCOVERY.lock().expect("not poisoned") = Some(atx);
    let failed = |m| Event::Discovery(DiscoveryEvent::Failed(m));
    spawn_experiment(tx, Event::Discovery, failed, move |etx| async move {
        // 16 callers, as the scripted run uses: enough that both instances have calls in
        // flight at a kill (so there is something to re-send), few enough that the 2-core
        // machine does not measure its own saturation.
        discovery::run(targets?, 16, arx, etx).await
    });
}

/// Starts sale `run` of the capstone; faults reach it through [`FLASH`].
fn start_flash(run: u64, params: FlashParams, ctx: &Context, tx: &Tx) {
    let targets = FlashTargets::from_lab(&ctx.lab_dir);
    let (ftx, frx) = mpsc::unbounded_channel();
    *FLASH.lock().expect("not poisoned") = Some(ftx);
    // Tagged like the sale's own events: a set-up that fails after the learner
    // left (or started the next sale) is dropped with them.
    let failed = move |message| Event::Flash(FlashEvent::Failed { run, message });
    spawn_experiment(tx, Event::Flash, failed, move |etx| async move {
        flash::run(run, targets?, params, frx, etx).await
    });
}

// Spawned like the rest: the checklist calls every RPC of five services and asks
// Consul, far too long to freeze a frame for; its result is one event, so no forwarder.
/// Checks the Week 6 completion criteria against the stack and the saved benches.
fn flash_checklist(ctx: &Context, tx: &Tx) {
    let (tx, dir) = (tx.clone(), ctx.lab_dir.clone());
    tokio::spawn(async move {
        let items = flash::checklist::run(&dir).await.map_err(|e| format!("{e:#}"));
        let _ = tx.send(Event::Flash(FlashEvent::Checklist(items)));
    });
}

// Same shape as the cache: addresses now, everything else in the task, a failure comes
// back as an event of this run.
/// Starts run `run` of the orders experiment.
fn start_orders(run: u64, params: OrderParams, ctx: &Context, tx: &Tx) {
    let targets = ctx.order_targets();
    let failed = move |message| Event::Orders(OrdersEvent::Failed { run, message });
    spawn_experiment(tx, Event::Orders, failed, move |otx| async move {
        orders::run(run, targets?, params, otx).await
    });
}

// Same shape again; the report also comes back as `Finished`, so the `Ok` is dropped.
/// Runs one payments scenario as run `run`.
fn start_payment(run: u64, scenario: Scenario, setup: Option<Setup>, ctx: &Context, tx: &Tx) {
    let targets = ctx.payment_targets();
    let failed = move |message| Event::Payments(PaymentsEvent::Failed { run, message });
    spawn_experiment(tx, Event::Payments, failed, move |ptx| async move {
        payments::run(run, targets?, scenario, setup, ptx).await
    });
}

// The learner's actions on the orders screen: one-shot tasks, like the cache's writes,
// answered by a `Note` of the same run whether they worked or not. They need no handle
// on the running experiment — the command carries the token and the ids, and the
// watcher's next sample shows the effect on the stock. `_ => return` cannot happen
// (`execute` passes only these two commands); it keeps the match exhaustive.
/// A failing commit or a cancel on the orders screen, answered as a `Note` of `run`.
fn order_action(run: u64, cmd: Command, ctx: &Context, tx: &Tx) {
    let tx = tx.clone();
    // Read from `stack.json` at this key press, not kept from the run's start: a service
    // restarted on another port by `up` in the meantime is still reached.
    let targets = ctx.order_targets();
    tokio::spawn(async move {
        let result = match (targets, cmd) {
            (Ok(t), Command::OrderFault { token, book, .. }) => {
                orders::fail_commit(&t, &token, book).await
            }
            (Ok(t), Command::CancelOrder { token, order_id, .. }) => {
                orders::cancel(&t, &token, order_id).await
            }
            (Err(e), _) => Err(e),
            _ => return,
        };
        let text = result.unwrap_or_else(|e| format!("失败：{e:#}"));
        let _ = tx.send(Event::Orders(OrdersEvent::Note { run, text }));
    });
}

// Writes report as a `Note`, success or failure alike: the learner pressed a key and must
// see an answer either way. `_ => return` is unreachable (`execute` only passes these
// two commands); it is there to satisfy the exhaustive match without a panic.
/// Publishes a book or changes the hot book's stock during the cache experiment.
fn cache_write(cmd: Command, ctx: &Context, tx: &Tx) {
    let tx = tx.clone();
    let targets = ctx.cache_targets();
    tokio::spawn(async move {
        let result = match (targets, cmd) {
            (Ok(t), Command::PublishBook) => cache::publish_book(&t).await,
            (Ok(t), Command::ChangeStock(id)) => cache::change_stock(&t, id).await,
            (Err(e), _) => Err(e),
            _ => return,
        };
        let note = match result {
            Ok(n) => n,
            Err(e) => format!("失败：{e:#}"),
        };
        let _ = tx.send(Event::Cache(CacheEvent::Note(note)));
    });
}

// Each experiment reports on its *own* channel (`RaceEvent`, `CacheEvent`, …) because the
// experiment modules are library code shared with the plain mode and the tests, which
// know nothing of the TUI's `Event`; [`forward`] adapts one to the other.
// The sender is handed *into* `run`'s future, never kept out here: every way the future
// ends — an early `?` on a missing target included — drops it, so the forwarder always
// ends and the `Failed` below is always sent. ❌ A sender kept alive outside the run
// parks the task on `forward.await` forever, and the screen never shows the failure.
/// Runs an experiment in its own task: its events go to the loop as they come, and its
/// error, if any, follows as the last event (`failed` wraps the message).
fn spawn_experiment<T, R, Fut>(
    tx: &Tx,
    wrap: fn(T) -> Event,
    failed: impl FnOnce(String) -> Event + Send + 'static,
    run: impl FnOnce(mpsc::UnboundedSender<T>) -> Fut + Send + 'static,
) where
    T: Send + 'static,
    R: Send + 'static,
    Fut: Future<Output = anyhow::Result<R>> + Send + 'static,
{
    let tx = tx.clone();
    tokio::spawn(async move {
        let (etx, erx) = mpsc::unbounded_channel();
        // The forwarder starts before the run so progress reaches the screen while the
        // run is still going; it ends when the run's future drops `etx`.
        let forward = forward(erx, tx.clone(), wrap);
        let result = run(etx).await;
        // Awaited before `Failed` is sent, so the failure is the last thing the screen
        // sees, after any progress that was already queued.
        let _ = forward.await;
        if let Err(e) = result {
            let _ = tx.send(failed(format!("{e:#}")));
        }
    });
}

// `wrap` is the variant constructor (`Event::Race`, …). The task ends when the experiment
// drops its sender, which is how the caller knows that every event has been delivered.
// Unbounded on both sides: with a bounded channel, a slow frame that let it fill would make
// the experiment's `send` wait, and stall the very run whose timing it reports.
/// Re-sends every event of an experiment's own channel as a TUI [`Event`].
fn forward<T: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<T>,
    tx: mpsc::UnboundedSender<Event>,
    wrap: fn(T) -> Event,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            let _ = tx.send(wrap(e));
        }
    })
}
