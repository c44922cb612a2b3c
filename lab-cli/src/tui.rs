//! The TUI's one loop: draw, wait for the next event, update, run the commands.
//!
//! The loop owns the [`App`]; everything else — keys, ticks, experiments, the dashboard
//! poller — runs in its own task and only *sends* events. So a slow database cannot
//! freeze the keyboard, and a slow frame cannot slow the load (DON'T: oha's single loop
//! that aggregates, lays out and reads input in one place).
//!
//! ## Why one channel and one loop
//!
//! Many producers (keys, ticks, the dashboard poller, each experiment, lesson commands)
//! and one consumer. The alternatives,
//! and what goes wrong with each:
//! - ❌ `Arc<Mutex<App>>` shared with the experiment tasks: every snapshot takes the lock
//!   the renderer needs; a task that panics while holding it poisons the screen; and the
//!   order in which changes happened is whatever the scheduler chose.
//! - ❌ `tokio::select!` over five receivers in the loop: works, but every new source edits
//!   the loop, and `select!` picks among ready branches at random, so a flood of snapshots
//!   can still starve the key branch unless you add `biased;` and think hard.
//! - ✅ one `mpsc::UnboundedSender<Event>` cloned into each producer: a producer only needs
//!   `tx.send(..)`, the loop handles events strictly in arrival order, and `App` is owned
//!   by exactly one task, so it needs no lock at all.
//!
//! Unbounded is a conscious shortcut: the producers are ours and slow (4 Hz snapshots, a
//! 2 Hz tick, 1 Hz dashboard, human typing), so the queue cannot grow without bound in
//! practice. A channel fed by the network would need a bound and a policy for overflow.
//!
//! One redraw per event is also a shortcut. ratatui diffs the frame against the previous
//! one and writes only changed cells, so a redraw on a Tick with nothing new costs a few
//! microseconds of CPU and zero bytes to the terminal.
//!
//! - [`run`]: set up the terminal and the producers, then the loop.
//! - [`execute`]: the only place where a [`Command`] becomes real I/O.
//!
//! ## What happens on quit (the honest version)
//!
//! `q` sets `app.quit`; the loop breaks; `run` returns and the guard restores the terminal.
//! Anything still running is *not* waited for: when `main` returns, the Tokio runtime is
//! dropped and every spawned task (a race half-way through, a poll) is cancelled at its
//! next `.await`, and the key-reader thread ends with the process. For the lab that is
//! the right trade — the learner asked to leave, and a race abandoned mid-way leaves only
//! arena rows that the next race resets first. A service would instead stop accepting
//! work, drain what is in flight with a deadline, and then exit (see the platform's
//! `run::serve`): ❌ DON'T copy this quit into a server.
//!
//! And if drawing fails (the terminal went away — a closed SSH session), `draw(..)?`
//! returns the error: the guard's `Drop` still runs, and the process exits with a message
//! instead of spinning on a dead terminal.
//!
//! ## Exercise
//!
//! Temporarily `.await` the race inside `execute` instead of spawning it, run the TUI and
//! press Enter on the race screen, then `q`. Count the seconds until the TUI reacts —
//! that delay is the reason every effect here is spawned.
//!
//! ## The god loop, for contrast
//!
//! What this module replaces, in sketch form (the shape of oha's `monitor.rs`):
//!
//! ```text
//! loop {
//!     while let Ok(r) = results.try_recv() { stats.push(r) }      // aggregate the load
//!     let p99 = percentile(&stats, 0.99);                          // compute
//!     terminal.draw(|f| { /* 200 lines of layout using p99 */ })?; // lay out
//!     if event::poll(frame_time)? { /* 50 lines of key handling */ } // input
//! }
//! ```
//!
//! Every concern waits for the others: while `draw` runs, results queue up; while
//! `poll` waits, nothing is drawn; and the layout code can only be tested by running the
//! whole thing against a real server. Here each concern is a separate piece with its own
//! pace — the load in its tasks, aggregation in the load engine, state changes in
//! `App::update`, layout in `ui`, input in its thread — and this loop only connects them.
//!
//! ## When something is down: what the learner sees, and where it comes from
//!
//! | situation | on screen | path |
//! |---|---|---|
//! | MariaDB/Redis not running, Enter on the race | `失败：…connection refused…` in the race status line | `Arena::connect` error → `RaceEvent::Failed` |
//! | Redis dies mid-race | naive and FOR UPDATE lanes keep their numbers, the race status shows the error | the Lua reset fails → `Failed`; finished lanes stay |
//! | catalog not running, Enter on the cache screen | `失败：catalog-service is not running…` | `Context::cache_targets` → `CacheEvent::Failed` |
//! | user-service down, `p` | a note `失败：…` above the keys | `publish_book` error → `CacheEvent::Note` |
//! | `progress.json` not writable | `无法保存进度：…` | `Command::SaveProgress` |
//!
//! Every failure is an event rendered where the learner is looking, in words that say what
//! to start. ❌ DON'T log errors to a file the learner never opens, or `unwrap` in a task:
//! the task's panic would not stop the loop (the screen would wait for its events forever),
//! yet the panic hook — which cannot tell a task's panic from the loop's — would restore
//! the terminal under a TUI that keeps drawing.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bookstore_stack::StackState;
use tokio::sync::mpsc;

use crate::{
    app::{App, Command, Screen},
    dashboard::Poller,
    event::{self, Event},
    experiments::{
        arena::Arena,
        cache::{self, CacheEvent, CacheTargets},
        discovery::{self, Action, DiscoveryEvent, DiscoveryTargets},
        flash::{self, FlashEvent, FlashTargets, faults::Fault},
        orders::{self, OrderTargets, OrdersEvent},
        payments::{self, PaymentTargets, PaymentsEvent},
        race::{self, RaceEvent},
    },
    terminal::TerminalGuard,
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

// Only paths, no connections: every command that needs a service re-reads `stack.json`
// at the moment it runs, because the learner may `bookstore-lab up` or `down` in another
// terminal while the TUI is open. Caching addresses here would send the next race to a
// port that no longer listens.
/// Where the TUI finds the stack and keeps progress.
#[derive(Clone, Debug)]
pub struct Context {
    /// The lab directory (`--dir`): `stack.json`, `progress.json`.
    pub lab_dir: PathBuf,
}

impl Context {
    /// The catalog/user addresses recorded by the supervisor right now.
    // The user-service address is optional here: reads need only the catalog, and the
    // missing user-service is reported when (and only if) the learner presses `p`.
    pub fn cache_targets(&self) -> anyhow::Result<CacheTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        let catalog = state.service("catalog").ok_or_else(|| {
            anyhow::anyhow!("catalog-service is not running (start it with `bookstore-lab up`)")
        })?;
        Ok(CacheTargets {
            catalog: catalog.address.clone(),
            catalog_metrics: catalog.metrics.clone(),
            user: state.service("user").map(|c| c.address.clone()),
            inventory: state.service("inventory").map(|c| c.address.clone()),
        })
    }

    // Every name is required: an order needs a token (user), a price (catalog) and stock
    // (inventory) besides order-service itself, and saying which one is missing before the
    // run beats twenty UNAVAILABLE orders. Re-read at each command like the cache targets,
    // so a service restarted on another port (free ports) is found again.
    /// The four services the orders experiment calls; all must be running.
    pub fn order_targets(&self) -> anyhow::Result<OrderTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        let addr = |name: &str| {
            state.service(name).map(|c| c.address.clone()).ok_or_else(|| {
                anyhow::anyhow!("{name}-service is not running (start it with `bookstore-lab up`)")
            })
        };
        Ok(OrderTargets {
            order: addr("order")?,
            inventory: addr("inventory")?,
            catalog: addr("catalog")?,
            user: addr("user")?,
        })
    }

    // Read at each key press like the others — and it matters more here: scenario 3 kills
    // payment-service and `up` restarts it with a new pid and a new metrics port, so the
    // next scenario must not use the record from before the kill.
    /// The six addresses the payments experiment calls (all required), plus the lab
    /// directory for scenario 3's kill and restart.
    pub fn payment_targets(&self) -> anyhow::Result<PaymentTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        let addr = |name: &str| {
            state.service(name).map(|c| c.address.clone()).ok_or_else(|| {
                anyhow::anyhow!("{name} is not running (start it with `bookstore-lab up`)")
            })
        };
        Ok(PaymentTargets {
            order: addr("order")?,
            inventory: addr("inventory")?,
            catalog: addr("catalog")?,
            user: addr("user")?,
            payment: addr("payment")?,
            gateway: addr("gateway")?,
            payment_metrics: state.service("payment").and_then(|c| c.metrics.clone()),
            lab_dir: self.lab_dir.clone(),
        })
    }
}

// Order matters at the top: the guard is created first (so any later `?` restores the
// terminal on the way out), then the channel, then the producers that hold clones of `tx`.
// The loop ends when `q` sets `app.quit` or when every sender is gone (`recv()` → `None`).
// Returning drops `guard` — that is what puts the learner's shell back.
/// Runs the TUI until the learner quits. The terminal is restored on every exit path.
pub async fn run(mut app: App, ctx: Context) -> anyhow::Result<()> {
    // Every experiment on screen runs in this process: the header says when its numbers
    // come from a dev build rather than `--release`.
    app.build = crate::bench::build_label();
    // `enter()` fails without a terminal (raw mode needs one); `main` only calls `run` when
    // stdout is a TTY, so in practice this error means a broken terminal, reported as such.
    let mut guard = TerminalGuard::enter()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Keys on a thread of their own (crossterm's reader blocks), the rest on tasks: each
    // producer only holds a `tx` clone, so none of them can touch `app`.
    event::spawn_key_reader(tx.clone());
    spawn_ticker(tx.clone());
    // An `AtomicBool` is the smallest possible shared state: one bit, written by the loop,
    // read by the poller. Anything richer would go through the channel like everything else.
    let dashboard_visible = Arc::new(AtomicBool::new(false));
    spawn_dashboard(tx.clone(), ctx.lab_dir.clone(), dashboard_visible.clone());

    loop {
        // Draw first, then wait: the first frame appears before any event arrives, and after
        // each update the next iteration shows its effect immediately.
        let frame = guard.terminal.draw(|f| crate::ui::render(f, &app))?;
        app.viewport = (frame.area.width, frame.area.height);
        // The loop's only `.await`: the App changes only between two events, so a frame never
        // shows half an update. `None` means every sender was dropped — the ticker alone keeps
        // one alive, so in practice only `q` ends the loop.
        let Some(ev) = rx.recv().await else { break };
        // `update` decides (pure, unit-tested without a terminal), `execute` acts: the
        // commands run in the order `update` returned them, before the next event is read.
        for cmd in app.update(ev) {
            execute(cmd, &mut app, &ctx, &tx);
        }
        // The poller reads this flag once a second. `Relaxed` is enough: the flag carries no
        // other data with it, and seeing the change one tick late costs one extra (or one
        // missing) poll, nothing worse.
        dashboard_visible.store(app.screen == Screen::Dashboard, Ordering::Relaxed);
        if app.quit {
            break;
        }
    }
    Ok(())
}

// `interval` fires immediately on the first `tick()`, so the loop gets a Tick right after
// start; the send failing means the loop is gone, which is also how this task ends.
/// Sends a tick twice a second so the screen redraws even when nothing else happens
/// (a notice appearing). Experiments send their own snapshots at 4 Hz; the tick only
/// guarantees that the screen is never older than half a second.
// Why 2 Hz: numbers that change more than a few times a second cannot be read, only
// watched flicker; and the experiments already push their own snapshots at 4 Hz when
// something is happening. The tick is the floor, not the frame rate.
fn spawn_ticker(tx: mpsc::UnboundedSender<Event>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        while tx.send(Event::Tick).is_ok() {
            tick.tick().await;
        }
    });
}

// What "steal CPU" means on the course machine: a poll probes every component's health
// over gRPC/SQL/HTTP and scrapes every `/metrics`; on 2 cores that competes with the 200
// buyers of a race and would lower the TPS the learner is comparing. And a poll nobody
// sees is pure waste. ✅ DO measure only what is displayed; ❌ DON'T run background
// monitors "just in case" inside the tool that runs the benchmark.
/// Polls the stack once a second, but only while the dashboard is on screen: probing
/// every service during a race would steal CPU from the race we are measuring.
fn spawn_dashboard(tx: mpsc::UnboundedSender<Event>, dir: PathBuf, visible: Arc<AtomicBool>) {
    tokio::spawn(async move {
        // One poller for the whole session, so its previous scrapes and histories survive
        // leaving the screen. The cost: the first refresh after coming back computes its rates
        // against the scrape from before the learner left, so for one second the table shows
        // an average over the hidden time under a title that says "最近 1 秒".
        let mut poller = Poller::new(&dir);
        // The default missed-tick behaviour is `Burst`: after a poll slowed by a wedged
        // service, the missed ticks fire at once and the next polls run back to back; the
        // rates stay right because every interval is measured (`dashboard::rates`).
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            // Ticks are still taken while hidden, so coming back does not burst through
            // every second the screen was away.
            if !visible.load(Ordering::Relaxed) {
                continue;
            }
            if tx.send(Event::Dashboard(poller.poll().await)).is_err() {
                return;
            }
        }
    });
}

// Each experiment reports on its *own* channel (`RaceEvent` / `CacheEvent`) because the
// experiment modules are library code shared with the plain mode and the tests, which
// know nothing of the TUI's `Event`. [`forward`] adapts one to the other, and is awaited
// before a `Failed` is sent so the failure is the last thing the screen sees, after any
// progress that was already queued.
/// Performs one side effect; results come back later as events.
///
/// Every effect that waits on the network is spawned, never awaited here: awaiting a
/// database connect in the loop would freeze the keyboard (and `q`) for as long as it
/// takes. Failures come back as events too, so they are shown, not lost.
fn execute(cmd: Command, app: &mut App, ctx: &Context, tx: &mpsc::UnboundedSender<Event>) {
    match cmd {
        // The script's environment is read from `stack.json` now (`Context::for_lab`), and it
        // runs from the repository root the lessons were loaded from, exactly as
        // `lessons check --run` runs it.
        Command::RunScript { purpose, script } => {
            // The stop handle is stored before the spawn, so a `StopScript` that arrives as the
            // very next event already finds it. A previous handle is replaced (and dropped):
            // app/runs.rs starts a script only when none runs.
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
            *SCRIPT.lock().expect("not poisoned") = Some(stop_tx);
            let root = crate::lessons::find_dir()
                .ok()
                .and_then(|d| d.parent().map(std::path::Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("."));
            let run_ctx = crate::lessons::runner::Context::for_lab(&root, &ctx.lab_dir);
            let tx = tx.clone();
            // Spawned: a lesson command may run for minutes (a bench, a `sleep`), and the loop
            // must keep drawing its output and accept the stop key meanwhile.
            tokio::spawn(async move {
                let outcome = crate::lessons::runner::run(&script, &run_ctx, Some(stop_rx)).await;
                let _ = tx.send(Event::ScriptDone(purpose, outcome));
            });
        }
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
        Command::StartRace(params) => {
            let tx = tx.clone();
            // The race needs MariaDB and Redis, not the services: it connects to the infra recorded
            // in the lab directory (`try_infra_in`), so it works even when inventory-service is
            // stopped. Connecting happens inside the spawned task — a refused connection becomes a
            // `Failed` event on screen a moment later, while the keyboard stays responsive.
            let dir = ctx.lab_dir.clone();
            tokio::spawn(async move {
                let (rtx, rrx) = mpsc::unbounded_channel();
                // The forwarder starts before the run so progress reaches the screen while the
                // race is still going; it ends when `rtx` (moved into `race::run`) is dropped.
                let forward = forward(rrx, tx.clone(), Event::Race);
                // An async block so the two set-up `?`s and the run share one error path: a
                // refused connect and a failed lane both end as the same `Failed` below.
                let result = async {
                    let infra = bookstore_stack::testing::try_infra_in(Some(&dir))?;
                    let arena = Arc::new(Arena::connect(&infra).await?);
                    race::run(arena, params, rtx).await
                }
                .await;
                let _ = forward.await;
                if let Err(e) = result {
                    let _ = tx.send(Event::Race(RaceEvent::Failed(format!("{e:#}"))));
                }
            });
        }
        Command::StartCache(params) => {
            let tx = tx.clone();
            // The addresses are resolved now (cheap file read) but used inside the task; if the
            // catalog is not running, the error travels into the task and comes back as `Failed`,
            // so both the success and the failure path report through the same event.
            let targets = ctx.cache_targets();
            tokio::spawn(async move {
                let (ctx_tx, crx) = mpsc::unbounded_channel();
                let forward = forward(crx, tx.clone(), Event::Cache);
                let result = match targets {
                    Ok(t) => cache::run(t, params, ctx_tx).await,
                    // The sender must go before `forward.await`: the forwarder ends only when
                    // every sender is gone, and on this path no run took ownership of it —
                    // keeping it alive would park the task forever and never show `Failed`.
                    Err(e) => {
                        drop(ctx_tx);
                        Err(e)
                    }
                };
                let _ = forward.await;
                if let Err(e) = result {
                    let _ = tx.send(Event::Cache(CacheEvent::Failed(format!("{e:#}"))));
                }
            });
        }
        // The discovery runner lives until its action sender is dropped: kept in a static
        // (one TUI per process), replaced by the next start, taken away by Esc.
        Command::StartDiscovery => {
            let tx = tx.clone();
            let targets = DiscoveryTargets::from_lab(&ctx.lab_dir);
            // Stored before the spawn, so the learner's first action key (kill, restart) after
            // Enter reaches this run; replacing an older sender ends the older run.
            let (atx, arx) = mpsc::unbounded_channel();
            *DISCOVERY.lock().expect("not poisoned") = Some(atx);
            tokio::spawn(async move {
                let (etx, erx) = mpsc::unbounded_channel();
                let forward = forward(erx, tx.clone(), Event::Discovery);
                let result = match targets {
                    Ok(t) => discovery::run(t, 16, arx, etx).await.map(drop),
                    Err(e) => {
                        drop(etx);
                        Err(e)
                    }
                };
                let _ = forward.await;
                if let Err(e) = result {
                    let _ = tx.send(Event::Discovery(DiscoveryEvent::Failed(format!("{e:#}"))));
                }
            });
        }
        // No running experiment (Esc already took the sender): the key is ignored, because
        // there is nothing to act on; the screen's status line already says it stopped.
        Command::Discovery(action) => {
            if let Some(atx) = DISCOVERY.lock().expect("not poisoned").as_ref() {
                let _ = atx.send(action);
            }
        }
        Command::StopDiscovery => {
            DISCOVERY.lock().expect("not poisoned").take();
        }
        Command::StartFlash { run, params } => {
            let tx = tx.clone();
            let targets = FlashTargets::from_lab(&ctx.lab_dir);
            let (ftx, frx) = mpsc::unbounded_channel();
            *FLASH.lock().expect("not poisoned") = Some(ftx);
            tokio::spawn(async move {
                let (etx, erx) = mpsc::unbounded_channel();
                let forward = forward(erx, tx.clone(), Event::Flash);
                let result = match targets {
                    Ok(t) => flash::run(run, t, params, frx, etx).await.map(drop),
                    Err(e) => {
                        drop(etx);
                        Err(e)
                    }
                };
                let _ = forward.await;
                if let Err(e) = result {
                    // Tagged like the sale's own events: a set-up that fails after the learner
                    // left (or started the next sale) is dropped with them.
                    let message = format!("{e:#}");
                    let _ = tx.send(Event::Flash(FlashEvent::Failed { run, message }));
                }
            });
        }
        Command::Flash(fault) => {
            if let Some(ftx) = FLASH.lock().expect("not poisoned").as_ref() {
                let _ = ftx.send(fault);
            }
        }
        Command::StopFlash => {
            FLASH.lock().expect("not poisoned").take();
        }
        // Spawned like the rest: the checklist calls every RPC of five services and asks
        // Consul, far too long to freeze a frame for; its result is one event, so no forwarder.
        Command::FlashChecklist => {
            let (tx, dir) = (tx.clone(), ctx.lab_dir.clone());
            tokio::spawn(async move {
                let items = flash::checklist::run(&dir).await.map_err(|e| format!("{e:#}"));
                let _ = tx.send(Event::Flash(FlashEvent::Checklist(items)));
            });
        }
        // Same shape as the cache: addresses now, everything else in the task, a failure comes
        // back as an event of this run.
        Command::StartOrders { run, params } => {
            let tx = tx.clone();
            let targets = ctx.order_targets();
            tokio::spawn(async move {
                let (otx, orx) = mpsc::unbounded_channel();
                let forward = forward(orx, tx.clone(), Event::Orders);
                let result = match targets {
                    Ok(t) => orders::run(run, t, params, otx).await,
                    Err(e) => {
                        drop(otx);
                        Err(e)
                    }
                };
                let _ = forward.await;
                if let Err(e) = result {
                    let message = format!("{e:#}");
                    let _ = tx.send(Event::Orders(OrdersEvent::Failed { run, message }));
                }
            });
        }
        // Same shape again; the report also comes back as `Finished`, so the `Ok` is dropped.
        Command::StartPayment { run, scenario, setup } => {
            let tx = tx.clone();
            let targets = ctx.payment_targets();
            tokio::spawn(async move {
                let (ptx, prx) = mpsc::unbounded_channel();
                let forward = forward(prx, tx.clone(), Event::Payments);
                let result = match targets {
                    Ok(t) => payments::run(run, t, scenario, setup, ptx).await.map(drop),
                    Err(e) => {
                        drop(ptx);
                        Err(e)
                    }
                };
                let _ = forward.await;
                if let Err(e) = result {
                    let message = format!("{e:#}");
                    let _ = tx.send(Event::Payments(PaymentsEvent::Failed { run, message }));
                }
            });
        }
        // The learner's actions on the orders screen: one-shot tasks, like the cache's writes,
        // answered by a `Note` of the same run whether they worked or not. They need no handle
        // on the running experiment — the command carries the token and the ids, and the
        // watcher's next sample shows the effect on the stock. `_ => return` cannot happen
        // (the outer arm admits only these two commands); it keeps the match exhaustive.
        Command::OrderFault { run, .. } | Command::CancelOrder { run, .. } => {
            let tx = tx.clone();
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
        // see an answer either way. `_ => return` is unreachable (the outer arm only admits these
        // two commands); it is there to satisfy the exhaustive match without a panic.
        Command::PublishBook | Command::ChangeStock(_) => {
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
    }
}

// `wrap` is a plain function pointer: the tuple-variant constructors `Event::Race` and
// `Event::Cache` *are* functions `fn(RaceEvent) -> Event`, so no closure is needed. The
// task ends when the experiment drops its sender, which is how the caller knows that
// every event has been delivered.
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
