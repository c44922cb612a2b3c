//! The capstone screen's state, keys and events (the `App` hooks them in).
//!
//! Faults are chosen with two keys: ←/→ picks the instance a `k` will kill (the list comes
//! from the first tick's `instances`, i.e. from `stack.json`), and `r`, `m`, `o` are the
//! three infrastructure faults. The runner owns every action; this state only remembers
//! the last tick, the target, and the answers.

use ratatui::crossterm::event::KeyCode;

use super::Command;
use crate::experiments::flash::{FlashEvent, FlashParams, Summary, Tick, faults::Fault};

/// How long the "pause MariaDB" key freezes it: past the gateway's 3 s upstream deadline,
/// so the learner sees 504s and the retries that follow them.
pub const PAUSE_SECS: u64 = 4;

/// The capstone screen.
#[derive(Clone, Debug, Default)]
pub struct FlashState {
    pub running: bool,
    pub params: FlashParams,
    pub book: Option<u64>,
    pub tick: Option<Tick>,
    pub summary: Option<Summary>,
    /// Instances a `k` can kill, and which one is chosen.
    pub instances: Vec<String>,
    pub target: usize,
    /// Answers to faults, newest last.
    pub notes: Vec<String>,
    /// The completion checklist, once `v` ran it (shown instead of the faults).
    pub checklist: Option<Vec<crate::experiments::flash::checklist::Item>>,
    pub error: Option<String>,
}

impl FlashState {
    /// The instance `k` kills now.
    pub fn target_name(&self) -> Option<&str> {
        self.instances.get(self.target).map(String::as_str)
    }

    /// A key: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        let fault = |f: Fault| {
            let note = format!("注入故障：{}", f.label());
            (vec![Command::Flash(f)], Some(note))
        };
        match code {
            KeyCode::Enter if !self.running => {
                self.running = true;
                self.error = None;
                self.tick = None;
                self.summary = None;
                self.notes.clear();
                self.checklist = None;
                (
                    vec![Command::StartFlash(self.params)],
                    Some("秒杀开始：注册顾客、发布限量图书…".into()),
                )
            }
            KeyCode::Right | KeyCode::Tab => {
                self.target = (self.target + 1) % self.instances.len().max(1);
                (Vec::new(), None)
            }
            // Not tied to a sale: the checklist reads the stack and the saved benches.
            KeyCode::Char('v') => {
                (vec![Command::FlashChecklist], Some("正在核对 Week 6 完成标准…".into()))
            }
            KeyCode::Char('[') => {
                self.target =
                    self.target.checked_sub(1).unwrap_or(self.instances.len().saturating_sub(1));
                (Vec::new(), None)
            }
            _ if !self.running => (Vec::new(), Some("先按 Enter 开始秒杀".into())),
            KeyCode::Char('k') => match self.target_name() {
                Some(name) => fault(Fault::Kill(name.to_string())),
                None => (Vec::new(), Some("还没有可选的实例".into())),
            },
            KeyCode::Char('r') => fault(Fault::RestartRedis),
            KeyCode::Char('m') => fault(Fault::PauseMysql(PAUSE_SECS)),
            KeyCode::Char('o') => fault(Fault::KillRelay),
            _ => (Vec::new(), None),
        }
    }

    /// Folds an event; a fault's answer also goes to the footer.
    pub fn on_event(&mut self, e: FlashEvent) -> Option<String> {
        // A run the learner left with Esc goes on to its catch-up in the background; its
        // late events must not paint over the screen's next run (or its idle state).
        if let FlashEvent::Checklist(items) = e {
            let count = |ok: Option<bool>| items.iter().filter(|i| i.ok == ok).count();
            let note = format!(
                "完成标准：{} 项达成 · {} 项未达成 · {} 项尚未测量",
                count(Some(true)),
                count(Some(false)),
                count(None)
            );
            self.checklist = Some(items);
            return Some(note);
        }
        if !self.running && !matches!(e, FlashEvent::Failed(_)) {
            return None;
        }
        match e {
            FlashEvent::Ready { book, params, instances } => {
                self.book = Some(book);
                self.params = params;
                self.instances = instances;
                self.target = 0;
            }
            FlashEvent::Tick(t) => self.tick = Some(*t),
            FlashEvent::Note(n) => {
                self.notes.push(n.clone());
                return Some(n);
            }
            FlashEvent::Finished(s) => {
                self.running = false;
                self.tick = Some(s.last.clone());
                self.summary = Some(*s);
            }
            FlashEvent::Failed(m) => {
                self.running = false;
                self.error = Some(m);
            }
            FlashEvent::Checklist(_) => {}
        }
        None
    }
}
