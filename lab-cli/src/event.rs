//! The one event type of the TUI, and where events come from.
//!
//! Everything that can change the screen arrives as an [`Event`] on one channel, read by
//! one loop (`tui::run`): keys from a reader thread, a tick for redraws, snapshots from
//! experiments, polls from the dashboard. One channel means one place where state
//! changes, in arrival order — no locks shared between the load and the screen.
//!
//! Why an enum of *facts* ("a key was pressed", "the race finished") rather than of
//! intentions ("start a race"): facts can come from anywhere and be replayed in a test
//! in any order; intentions are what `App::update` derives from them ([`crate::app::Command`]).
//! A test of the TUI is therefore a list of `Event`s and an assertion on the state.
//!
//! The variants carry whole snapshots, not deltas. A lost or reordered delta corrupts the
//! state for good; a snapshot is complete on its own, so the next one repairs anything.
//!
//! Adding an event source is three steps: a variant here, a producer that holds a clone of
//! the sender (`tui::run` hands them out), and an arm in `App::update`. The compiler flags
//! the missing arm; nothing else in the loop changes.

use ratatui::crossterm::event::{self, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;

use crate::{
    dashboard::DashboardSnapshot,
    experiments::{
        cache::CacheEvent, discovery::DiscoveryEvent, flash::FlashEvent, orders::OrdersEvent,
        payments::PaymentsEvent, race::RaceEvent,
    },
};

/// Everything the TUI reacts to.
#[derive(Clone, Debug)]
pub enum Event {
    // On Windows crossterm reports both press and release for every key; without the filter
    // each key would act twice there. On Linux/macOS only presses arrive, so the filter
    // costs nothing.
    /// A key press (releases and repeats are filtered out).
    Key(KeyEvent),
    // Ticks change no state (`update` ignores them); they exist only to make the loop draw.
    /// Time passed: redraw (spinners, elapsed time).
    Tick,
    // The experiment's own event type, wrapped: the experiments know nothing of the TUI, so
    // plain mode and tests can consume the same events unwrapped.
    /// The Day 30 race reported something.
    Race(RaceEvent),
    /// The Day 29 cache experiment reported something.
    Cache(CacheEvent),
    /// The Day 31–32 orders experiment reported something (tagged with its run, so a
    /// previous run's watcher cannot paint over the current one).
    Orders(OrdersEvent),
    /// The Day 35 discovery experiment reported something.
    Discovery(DiscoveryEvent),
    /// The capstone's flash sale.
    Flash(FlashEvent),
    /// A Day 33–34 payments scenario reported something.
    Payments(PaymentsEvent),
    /// A lesson command or checkpoint check finished (or was stopped).
    ScriptDone(crate::app::runs::Purpose, crate::lessons::runner::Outcome),
    /// The dashboard poller finished a refresh.
    Dashboard(DashboardSnapshot),
    // Available to any producer that has something to say but no state of its own to update.
    /// A one-line message for the footer (an action's result or error).
    Notice(String),
}

// Why a thread and not a task: `event::read()` blocks the calling OS thread. On a Tokio
// worker it would take one of our two cores away from the runtime for as long as the
// learner does not type — ❌ DON'T call blocking reads inside async code. (crossterm has an
// `EventStream` for async use behind its `event-stream` feature; a plain thread keeps the
// dependency lean and is just as correct for one reader.)
/// Reads terminal keys on a blocking thread (crossterm's reader is synchronous) and
/// forwards them. The thread ends when the receiver is gone.
pub fn spawn_key_reader(tx: mpsc::UnboundedSender<Event>) {
    std::thread::spawn(move || {
        loop {
            // `poll` with a timeout instead of a bare `read()`: a bare read would block forever when
            // the TUI quits without another key, and the thread could not notice that the receiver
            // is gone. Every 200 ms it checks `is_closed()` and ends on its own.
            // Resize events are read and dropped here on purpose: `Terminal::draw` checks the
            // terminal size on every frame and re-lays out by itself, so the next Tick (≤ 0.5 s)
            // shows the new size. Forwarding them would only redraw a little sooner.
            match event::poll(std::time::Duration::from_millis(200)) {
                Ok(true) => {
                    // The send is the last condition, so it runs only for key presses; its
                    // failure means the TUI loop has dropped its receiver, and the thread ends
                    // instead of reading keys that nobody will handle. A read error is ignored
                    // here and the next `poll` decides.
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
