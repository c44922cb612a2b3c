//! The Day 35 discovery screen's state, keys and events (the `App` hooks them in).
//!
//! The runner (`experiments::discovery`) owns the load and the supervisor actions; this
//! state only remembers the last tick, which instance row is selected, and the answers to
//! the learner's keys — plain data, so a test can build any situation from events.

use ratatui::crossterm::event::KeyCode;

use super::Command;
use crate::experiments::discovery::{Action, DiscoveryEvent, Tick};

/// The discovery screen.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryState {
    /// The load runs (Enter started it, Esc stops it).
    pub running: bool,
    /// Concurrent callers of the load, as the runner reported them in `Ready` (the TUI
    /// starts 16): the status line prints it so the rps can be read against it.
    pub workers: usize,
    /// The last second as the runner measured it; `None` until the first one (about a
    /// second after Enter, once a fresh user has logged in).
    pub tick: Option<Tick>,
    /// Index into the last tick's instances.
    ///
    /// An index, not a label: rows are sorted by instance number, so when a row above the
    /// selection disappears (`-` stops it, or Consul forgets a dead one) the `▶` moves to
    /// the next instance down and `k` then hits that one. The clamp in
    /// [`DiscoveryState::on_event`] keeps it in range, not on the same instance.
    pub selected: usize,
    /// Answers to actions, newest last (the footer shows each as it comes).
    pub notes: Vec<String>,
    /// Why the run stopped; the screen's status line shows it in place of the figures.
    pub error: Option<String>,
}

impl DiscoveryState {
    /// The supervisor name of the selected instance row.
    ///
    /// The runner acts by this name (`user-2`), not by address: the supervisor's
    /// `stack.json` is keyed by name, and a restarted instance keeps its name and port.
    fn selected_label(&self) -> Option<String> {
        self.tick.as_ref()?.instances.get(self.selected).map(|i| i.label.clone())
    }

    /// A key: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        let rows = self.tick.as_ref().map_or(0, |t| t.instances.len());
        let act = |a: Action| (vec![Command::Discovery(a)], None);
        match code {
            // `r` as well as Enter, like the other experiments' "run again"; once the load runs
            // both fall through to the catch-all, so a second press cannot start a second
            // load whose callers would double the rps and muddle every figure. `tick` is
            // not cleared: the previous run's last second stays up until the new run's first
            // tick replaces it, so "正在登录…" shows only on the first run of a visit.
            KeyCode::Enter | KeyCode::Char('r') if !self.running => {
                self.running = true;
                self.error = None;
                (vec![Command::StartDiscovery], Some("负载开始：网关 → user-service".into()))
            }
            // Moving the selection works before Enter too: it is screen state only, and the
            // rows of a finished run stay readable.
            KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
                (Vec::new(), None)
            }
            KeyCode::Down => {
                self.selected = (self.selected + 1).min(rows.saturating_sub(1));
                (Vec::new(), None)
            }
            // Actions need a running load: the runner times a kill against the load's own
            // counters and owns the only channel actions travel on (a command sent with no
            // runner would be dropped silently by the TUI loop).
            _ if !self.running => (Vec::new(), Some("先按 Enter 开始负载".into())),
            KeyCode::Char('+') => act(Action::Add),
            KeyCode::Char(c @ ('k' | 's' | '-')) => match self.selected_label() {
                Some(label) => act(match c {
                    'k' => Action::Kill(label),
                    's' => Action::Restart(label),
                    _ => Action::Stop(label),
                }),
                None => (Vec::new(), Some("没有可选的实例".into())),
            },
            _ => (Vec::new(), None),
        }
    }

    /// Folds an event; an action's answer also goes to the footer.
    pub fn on_event(&mut self, e: DiscoveryEvent) -> Option<String> {
        match e {
            DiscoveryEvent::Ready { workers } => self.workers = workers,
            // No run id here (unlike `app::orders`): Esc drops the action channel, the runner
            // stops at its next step, and Enter on the way back starts a fresh one — at most
            // a late tick or two of the old run can land, and are replaced a second later.
            DiscoveryEvent::Tick(t) => {
                self.selected = self.selected.min(t.instances.len().saturating_sub(1));
                self.tick = Some(t);
            }
            DiscoveryEvent::Note(n) => {
                self.notes.push(n.clone());
                return Some(n);
            }
            DiscoveryEvent::Failed(m) => {
                self.running = false;
                self.error = Some(m);
            }
        }
        None
    }
}
