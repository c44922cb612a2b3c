//! The TUI's one loop: draw, wait for the next event, update, run the commands.
//!
//! The loop owns the [`App`]; everything else — keys, ticks, experiments, the dashboard
//! poller — runs in its own task and only *sends* events. So a slow database cannot
//! freeze the keyboard, and a slow frame cannot slow the load (DON'T: oha's single loop
//! that aggregates, lays out and reads input in one place).

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
        race::{self, RaceEvent},
    },
    terminal::TerminalGuard,
};

/// Where the TUI finds the stack and keeps progress.
#[derive(Clone, Debug)]
pub struct Context {
    /// The lab directory (`--dir`): `stack.json`, `progress.json`.
    pub lab_dir: PathBuf,
}

impl Context {
    /// The catalog/user addresses recorded by the supervisor right now.
    pub fn cache_targets(&self) -> anyhow::Result<CacheTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        let catalog = state.service("catalog").ok_or_else(|| {
            anyhow::anyhow!("catalog-service is not running (start it with `bookstore-lab up`)")
        })?;
        Ok(CacheTargets {
            catalog: catalog.address.clone(),
            catalog_metrics: catalog.metrics.clone(),
            user: state.service("user").map(|c| c.address.clone()),
        })
    }
}

/// Runs the TUI until the learner quits. The terminal is restored on every exit path.
pub async fn run(mut app: App, ctx: Context) -> anyhow::Result<()> {
    let mut guard = TerminalGuard::enter()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    event::spawn_key_reader(tx.clone());
    spawn_ticker(tx.clone());
    let dashboard_visible = Arc::new(AtomicBool::new(false));
    spawn_dashboard(tx.clone(), ctx.lab_dir.clone(), dashboard_visible.clone());

    loop {
        guard.terminal.draw(|f| crate::ui::render(f, &app))?;
        let Some(ev) = rx.recv().await else { break };
        for cmd in app.update(ev) {
            execute(cmd, &mut app, &ctx, &tx);
        }
        dashboard_visible.store(app.screen == Screen::Dashboard, Ordering::Relaxed);
        if app.quit {
            break;
        }
    }
    Ok(())
}

/// Sends a tick twice a second so the screen redraws even when nothing else happens
/// (a notice appearing). Experiments send their own snapshots at 4 Hz; the tick only
/// guarantees that the screen is never older than half a second.
fn spawn_ticker(tx: mpsc::UnboundedSender<Event>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        while tx.send(Event::Tick).is_ok() {
            tick.tick().await;
        }
    });
}

/// Polls the stack once a second, but only while the dashboard is on screen: probing
/// every service during a race would steal CPU from the race we are measuring.
fn spawn_dashboard(tx: mpsc::UnboundedSender<Event>, dir: PathBuf, visible: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let mut poller = Poller::new(&dir);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if !visible.load(Ordering::Relaxed) {
                continue;
            }
            if tx.send(Event::Dashboard(poller.poll().await)).is_err() {
                return;
            }
        }
    });
}

/// Performs one side effect; results come back later as events.
///
/// Every effect that waits on the network is spawned, never awaited here: awaiting a
/// database connect in the loop would freeze the keyboard (and `q`) for as long as it
/// takes. Failures come back as events too, so they are shown, not lost.
fn execute(cmd: Command, app: &mut App, ctx: &Context, tx: &mpsc::UnboundedSender<Event>) {
    match cmd {
        Command::SaveProgress => {
            if let Err(e) = app.progress.save(&ctx.lab_dir) {
                app.notice = Some(format!("无法保存进度：{e}"));
            }
        }
        Command::StartRace(params) => {
            let tx = tx.clone();
            let dir = ctx.lab_dir.clone();
            tokio::spawn(async move {
                let (rtx, mut rrx) = mpsc::unbounded_channel();
                let forward = {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(e) = rrx.recv().await {
                            let _ = tx.send(Event::Race(e));
                        }
                    })
                };
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
            let targets = ctx.cache_targets();
            tokio::spawn(async move {
                let (ctx_tx, mut crx) = mpsc::unbounded_channel();
                let forward = {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(e) = crx.recv().await {
                            let _ = tx.send(Event::Cache(e));
                        }
                    })
                };
                let result = match targets {
                    Ok(t) => cache::run(t, params, ctx_tx).await,
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
