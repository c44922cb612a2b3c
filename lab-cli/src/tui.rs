//! The TUI's one loop: draw, wait for the next event, update, run the commands.
//!
//! The loop owns the [`App`]; everything else — keys, ticks, experiments, the dashboard
//! poller — runs in its own task and only *sends* events. So a slow database cannot
//! freeze the keyboard, and a slow frame cannot slow the load (the alternative is
//! sketched below, under "The god loop, for contrast").
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
//! - `effects`: `execute`, the only place where a [`Command`] becomes real I/O.
//! - [`Context`]: where those effects find the stack (re-read from `stack.json`).
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

mod context;
mod effects;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::mpsc;

pub use context::Context;
use effects::execute;

use crate::{
    app::{App, Screen},
    dashboard::Poller,
    event::{self, Event},
    terminal::TerminalGuard,
};

// Order matters at the top: the guard is created first (so any later `?` restores the
// terminal on the way out), then the channel, then the producers that hold clones of `tx`.
// The loop ends when `q` (or Ctrl-C) sets `app.quit`; `recv()` → `None` cannot happen
// while `run` itself holds `tx`, which it keeps to hand to `execute`.
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
        // The size of the frame just drawn, so a resize reaches the lesson keys' clamp with
        // the next key press, not only after some later redraw.
        app.viewport = (frame.area.width, frame.area.height);
        // The loop's only `.await`: the App changes only between two events, so a frame never
        // shows half an update. `None` would mean every sender was dropped, and this function
        // holds one (`tx`) for as long as it runs — the `break` is for completeness.
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
