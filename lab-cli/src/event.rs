//! The one event type of the TUI, and where events come from.
//!
//! Everything that can change the screen arrives as an [`Event`] on one channel, read by
//! one loop (`tui::run`): keys from a reader thread, a tick for redraws, snapshots from
//! experiments, polls from the dashboard. One channel means one place where state
//! changes, in arrival order — no locks shared between the load and the screen.

use ratatui::crossterm::event::{self, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;

use crate::{
    dashboard::DashboardSnapshot,
    experiments::{cache::CacheEvent, race::RaceEvent},
};

/// Everything the TUI reacts to.
#[derive(Clone, Debug)]
pub enum Event {
    /// A key press (releases and repeats are filtered out).
    Key(KeyEvent),
    /// Time passed: redraw (spinners, elapsed time).
    Tick,
    /// The Day 30 race reported something.
    Race(RaceEvent),
    /// The Day 29 cache experiment reported something.
    Cache(CacheEvent),
    /// The dashboard poller finished a refresh.
    Dashboard(DashboardSnapshot),
    /// A one-line message for the footer (an action's result or error).
    Notice(String),
}

/// Reads terminal keys on a blocking thread (crossterm's reader is synchronous) and
/// forwards them. The thread ends when the receiver is gone.
pub fn spawn_key_reader(tx: mpsc::UnboundedSender<Event>) {
    std::thread::spawn(move || {
        loop {
            match event::poll(std::time::Duration::from_millis(200)) {
                Ok(true) => {
                    if let Ok(event::Event::Key(k)) = event::read()
                        && k.kind == KeyEventKind::Press
                        && tx.send(Event::Key(k)).is_err()
                    {
                        return;
                    }
                }
                Ok(false) => {
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
}
