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
    pub workers: usize,
    pub tick: Option<Tick>,
    /// Index into the last tick's instances.
    pub selected: usize,
    /// Answers to actions, newest last.
    pub notes: Vec<String>,
    pub error: Option<String>,
}

impl DiscoveryState {
    /// The supervisor name of the selected instance row.
    fn selected_label(&self) -> Option<String> {
        self.tick.as_ref()?.instances.get(self.selected).map(|i| i.label.clone())
    }

    /// A key: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        let rows = self.tick.as_ref().map_or(0, |t| t.instances.len());
        let act = |a: Action| (vec![Command::Discovery(a)], None);
        match code {
            KeyCode::Enter | KeyCode::Char('r') if !self.running => {
                self.running = true;
                self.error = None;
                (vec![Command::StartDiscovery], Some("负载开始：网关 → user-service".into()))
            }
            KeyCode::Up => {
                self.selected = self.selected.saturating_sub(1);
                (Vec::new(), None)
            }
            KeyCode::Down => {
                self.selected = (self.selected + 1).min(rows.saturating_sub(1));
                (Vec::new(), None)
            }
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
