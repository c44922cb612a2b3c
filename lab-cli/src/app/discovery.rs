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
    /// The selected instance row, by its supervisor name (`user-2`); the first tick selects
    /// its first row.
    ///
    /// ✅ DO select by identity in a list that changes under the cursor; ❌ DON'T keep an
    /// index: rows are sorted by instance number, so when a row above the selection
    /// disappears (`-` stops it, Consul forgets a dead one) an index moves the `▶` to the
    /// next instance down, and `k` kills one the learner never chose. A name whose row is
    /// gone marks no row and acts on nothing until ↑↓ picks again — or until its instance
    /// is listed again (a restart keeps the name).
    pub selected: Option<String>,
    /// Answers to actions, newest last (the footer shows each as it comes).
    pub notes: Vec<String>,
    /// Why the run stopped; the screen's status line shows it in place of the figures.
    pub error: Option<String>,
}

impl DiscoveryState {
    /// Where the selected instance is in the last tick's rows; `None` if it is not listed.
    ///
    /// The runner acts by the name (`user-2`), not by address: the supervisor's
    /// `stack.json` is keyed by name, and a restarted instance keeps its name and port.
    pub fn selected_row(&self) -> Option<usize> {
        let label = self.selected.as_ref()?;
        self.tick.as_ref()?.instances.iter().position(|i| &i.label == label)
    }

    /// Moves the selection one row up or down from the selected instance (from the first
    /// row when the selected one is not listed), staying on the rows there are.
    fn step(&mut self, down: bool) {
        // No tick yet, no rows: before the first second there is nothing to select.
        let Some(t) = &self.tick else { return };
        let row = match self.selected_row() {
            Some(n) if down => (n + 1).min(t.instances.len().saturating_sub(1)),
            Some(n) => n.saturating_sub(1),
            None => 0,
        };
        if let Some(i) = t.instances.get(row) {
            self.selected = Some(i.label.clone());
        }
    }

    /// A key: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        // No notice for an action: the runner answers each with a `Note` once it is done
        // (what it killed, restarted or added, or why it could not), the answer to show.
        let act = |a: Action| (vec![Command::Discovery(a)], None);
        match code {
            // `r` as well as Enter, like the other experiments' "run again"; once the load runs
            // both fall through to the catch-all, so a second press cannot start a second
            // load whose callers would double the rps and muddle every figure. The previous
            // run's last second goes: left up, its rps and failure count would read as the
            // new run's until the new run's first tick, a second or more later.
            KeyCode::Enter | KeyCode::Char('r') if !self.running => {
                self.running = true;
                self.error = None;
                self.tick = None;
                (vec![Command::StartDiscovery], Some("负载开始：网关 → user-service".into()))
            }
            // Moving the selection works before Enter too: it is screen state only, and the
            // rows of a finished run stay readable.
            KeyCode::Up | KeyCode::Down => {
                self.step(code == KeyCode::Down);
                (Vec::new(), None)
            }
            // Actions need a running load: the runner times a kill against the load's own
            // counters and owns the only channel actions travel on (a command sent with no
            // runner would be dropped silently by the TUI loop).
            _ if !self.running => (Vec::new(), Some("先按 Enter 开始负载".into())),
            KeyCode::Char('+') => act(Action::Add),
            KeyCode::Char(c @ ('k' | 's' | '-')) => match (self.selected_row(), &self.selected) {
                (Some(_), Some(label)) => act(match c {
                    'k' => Action::Kill(label.clone()),
                    's' => Action::Restart(label.clone()),
                    _ => Action::Stop(label.clone()),
                }),
                (None, Some(label)) => {
                    (Vec::new(), Some(format!("{label} 已不在实例列表中：先用 ↑↓ 重新选择")))
                }
                (_, None) => (Vec::new(), Some("没有可选的实例".into())),
            },
            _ => (Vec::new(), None),
        }
    }

    /// Folds an event; an action's answer also goes to the footer.
    pub fn on_event(&mut self, e: DiscoveryEvent) -> Option<String> {
        match e {
            // Sent once the lab user has logged in and the callers are out: until then the
            // status line has no load to describe.
            DiscoveryEvent::Ready { workers } => self.workers = workers,
            // No run id here (unlike `app::orders`): Esc drops the action channel, the runner
            // stops at its next step, and Enter on the way back starts a fresh one — at most
            // a late tick or two of the old run can land, and are replaced a second later.
            DiscoveryEvent::Tick(t) => {
                if self.selected.is_none() {
                    self.selected = t.instances.first().map(|i| i.label.clone());
                }
                self.tick = Some(t);
            }
            DiscoveryEvent::Note(n) => {
                self.notes.push(n.clone());
                return Some(n);
            }
            // `running` goes false so Enter can try again once the learner fixed the cause
            // (started the stack); the last tick's rows stay readable under the error.
            DiscoveryEvent::Failed(m) => {
                self.running = false;
                self.error = Some(m);
            }
        }
        None
    }
}
