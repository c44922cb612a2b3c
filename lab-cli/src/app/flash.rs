//! The capstone screen's state, keys and events (the `App` hooks them in).
//!
//! Faults are chosen with two keys: `→` (or Tab) and `[` step through the instances a `k`
//! will kill (← is taken: it leaves the screen, like Esc), and `r`, `m`, `o` are the three
//! infrastructure faults. The list comes from the run's `Ready` event — the services in
//! `stack.json`, order-service first (see `experiments::flash::killable`). The runner owns
//! every action; this state only remembers the last tick, the target, and the answers.

use ratatui::crossterm::event::KeyCode;

use super::Command;
use crate::experiments::flash::{FlashEvent, FlashParams, Summary, Tick, faults::Fault};

/// How long the "pause MariaDB" key freezes it: past the gateway's 3 s upstream deadline,
/// so the learner sees 504s and the retries that follow them.
pub const PAUSE_SECS: u64 = 4;

/// The capstone screen.
#[derive(Clone, Debug, Default)]
pub struct FlashState {
    /// The sale on screen (0: none yet); each Enter starts the next.
    pub run: u64,
    /// A sale is on: Enter set it, `Finished`/`Failed` or Esc clear it. Faults are only
    /// sent while it is set.
    pub running: bool,
    /// The sale's size; `Ready` overwrites it with what the runner actually used.
    pub params: FlashParams,
    /// The fresh book of this sale (each sale publishes its own, so sales never share stock).
    pub book: Option<u64>,
    /// The last second of the sale: counts, board, faults.
    pub tick: Option<Tick>,
    /// Set at the end; its `held` decides the green or red final status line.
    pub summary: Option<Summary>,
    /// Instances a `k` can kill, and which one is chosen.
    pub instances: Vec<String>,
    /// Index into `instances`; it wraps both ways (→ after the last is the first, `[` before
    /// the first is the last).
    pub target: usize,
    /// Answers to faults, newest last.
    pub notes: Vec<String>,
    /// The completion checklist, once `v` ran it (shown instead of the faults).
    pub checklist: Option<Vec<crate::experiments::flash::checklist::Item>>,
    /// Why the sale failed; replaces the status line. (A checklist that could not be made
    /// says so in the footer: a sale may still be running under it.)
    pub error: Option<String>,
}

impl FlashState {
    /// The instance `k` kills now.
    pub fn target_name(&self) -> Option<&str> {
        self.instances.get(self.target).map(String::as_str)
    }

    /// A key: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        // The footer names the fault at once; the runner's own account (pids, how long it
        // was down) follows as a `Note` when the action is over, seconds later.
        let fault = |f: Fault| {
            let note = format!("注入故障：{}", f.label());
            (vec![Command::Flash(f)], Some(note))
        };
        match code {
            // A new sale starts from a clean screen: the last sale's board and faults under a
            // new sale's status line would pair one sale's verdicts with another's numbers.
            KeyCode::Enter if !self.running => {
                self.run += 1;
                self.running = true;
                self.error = None;
                self.tick = None;
                self.summary = None;
                self.notes.clear();
                self.checklist = None;
                (
                    vec![Command::StartFlash { run: self.run, params: self.params }],
                    Some("秒杀开始：注册顾客、发布限量图书…".into()),
                )
            }
            // `max(1)` keeps the modulo defined before `Ready` (no instances yet); the target
            // then stays 0 and `k` answers that there is nothing to pick.
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
            // Faults only during a sale: outside one there is no load to show their cost, and
            // the runner that times them is not listening (the TUI would drop the command).
            _ if !self.running => (Vec::new(), Some("先按 Enter 开始秒杀".into())),
            KeyCode::Char('k') => match self.target_name() {
                Some(name) => fault(Fault::Kill(name.to_string())),
                None => (Vec::new(), Some("还没有可选的实例".into())),
            },
            KeyCode::Char('r') => fault(Fault::RestartRedis),
            // 4 s here where the scripted run uses 3 (`experiments::flash::script`): only a
            // pause longer than the gateway's 3 s deadline is sure to show the learner 504s;
            // the script and its test assert on recovery, not on the 504s.
            KeyCode::Char('m') => fault(Fault::PauseMysql(PAUSE_SECS)),
            KeyCode::Char('o') => fault(Fault::KillRelay),
            // Enter during a sale lands here too and does nothing: the sale ends on its own
            // (ramp, then catch-up), and a second one would share the cores and services
            // with it, spoiling both boards.
            _ => (Vec::new(), None),
        }
    }

    /// Folds an event; a fault's answer also goes to the footer.
    // Returns the notice instead of writing `App::notice`: this state owns the capstone
    // only, and `App` decides where a notice goes — the same split as `app::orders`.
    pub fn on_event(&mut self, e: FlashEvent) -> Option<String> {
        // The checklist is not part of a sale (it reads the stack and the saved benches), so
        // its answer is folded before the run gate below, at any time.
        let run = match e {
            FlashEvent::Checklist(Err(m)) => return Some(format!("完成标准核对失败：{m}")),
            FlashEvent::Checklist(Ok(items)) => {
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
            // Every sale variant named, no `_` arm: an event added later without a run id
            // does not compile, instead of slipping past the gate.
            FlashEvent::Ready { run, .. }
            | FlashEvent::Tick { run, .. }
            | FlashEvent::Note { run, .. }
            | FlashEvent::Finished { run, .. }
            | FlashEvent::Failed { run, .. } => run,
        };
        // Only the sale on screen, and only while it runs: a sale the learner left with Esc
        // goes on to its catch-up in the background, and its late events — a failure among
        // them — must paint neither the idle screen (same run number, no longer running)
        // nor the next sale's (a newer run number).
        if !self.running || run != self.run {
            return None;
        }
        match e {
            FlashEvent::Ready { book, params, instances, .. } => {
                self.book = Some(book);
                self.params = params;
                self.instances = instances;
                // Back to the first of `killable`'s order (order-service): the list is rebuilt
                // from this sale's `stack.json`, and an index into the previous sale's list
                // could now name another service.
                self.target = 0;
            }
            // Replaced whole: each tick is the runner's complete reading of that second (the
            // board's rows included), so a dropped tick loses nothing the next one lacks.
            FlashEvent::Tick { tick, .. } => self.tick = Some(*tick),
            FlashEvent::Note { text, .. } => {
                self.notes.push(text.clone());
                return Some(text);
            }
            // The summary carries the last tick so the board the verdict was made on stays on
            // screen, not the second before it.
            FlashEvent::Finished { summary, .. } => {
                self.running = false;
                self.tick = Some(summary.last.clone());
                self.summary = Some(*summary);
            }
            // The board stays as it was: its last second is still true, and the error says
            // why no verdict follows it.
            FlashEvent::Failed { message, .. } => {
                self.running = false;
                self.error = Some(message);
            }
            // Handled before the gate above; listed so the match stays exhaustive.
            FlashEvent::Checklist(_) => {}
        }
        None
    }
}
