//! A lesson's runnable commands and its checkpoint, as TUI state and keys.
//!
//! Same shape as every screen (see `app.rs`): plain data here, keys that return
//! [`Command`]s, results that come back as events. A command runs in a spawned task
//! (`tui::execute` → `lessons::runner::run`), so the loop keeps drawing — the spinner
//! turns on each Tick — and a key (Esc) can stop it while it runs.
//!
//! One run at a time, across the lesson and its checkpoint: two blocks of one lesson
//! often touch the same rows (register a user, then order as them), and two at once
//! would interleave their output in the learner's head even if not on screen.

use std::collections::HashMap;

use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen};
use crate::lessons::{
    blocks::{self, Checkpoint, Item},
    runner::{Outcome, Verdict},
};

/// What a script run is for: a command block of a lesson, or a checkpoint task's check.
// The key of `Runs::results` and the tag on `Event::ScriptDone`: a block and a task of
// the same lesson and number are different keys, so a check's output never lands under
// a command block, and a result always finds the run that asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Command block `index` (0-based, document order) of `lesson`.
    Block { lesson: String, index: usize },
    /// Item `item` (an index into `Checkpoint::items`) of `lesson`'s checkpoint.
    Task { lesson: String, item: usize },
}

/// A run in progress or its result.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Started and not yet reported back: the spinner and the seconds so far show.
    // The tick it started on, not an `Instant`: the state stays plain data, and a snapshot
    // test of a running block draws the same spinner every time.
    Running { since_tick: u64 },
    /// Finished, stopped or timed out: whatever `lessons::runner::run` returned.
    // The exit, the time it took and the output's last lines, kept until the same block
    // runs again.
    Done(Outcome),
}

/// Every run of this session, and what the learner has selected.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    /// The selected command block of the open lesson (reset when the lesson changes).
    pub selected: Option<usize>,
    /// The last run of each block and task, running or finished.
    // Keyed by purpose, kept for the session: the output under a block stays when the
    // learner scrolls on or opens the checkpoint, and goes when the lab quits (never saved,
    // because output against last week's stack would describe a stack that is gone).
    pub results: HashMap<Purpose, RunStatus>,
    /// The run going on now, if any (at most one, see the module doc).
    pub running: Option<Purpose>,
    /// Ticks seen (two a second): the spinner's frame and a running block's seconds.
    pub tick: u64,
}

/// The checkpoint screen of the open lesson.
#[derive(Clone, Debug, Default)]
pub struct CheckpointView {
    /// The item on screen (index into `Checkpoint::items`).
    pub item: usize,
    /// (lesson, item) → the option last chosen (1-based), right or wrong.
    // Keyed by lesson as well: `item` is reset when a checkpoint opens, but the answers
    // stay, so going to Day 31 and back shows Day 30's choices, not Day 31's by number.
    pub answers: HashMap<(String, usize), usize>,
    /// The first digit of a two-digit option number, typed and not yet confirmed.
    // Only a question with ten or more options ever sets it: there `1` may start 10–19,
    // so it waits for a second digit or Enter. Any other key drops it (`checkpoint_key`).
    pub pending: Option<usize>,
}

// Something must move while a `curl` waits on a slow service: a static "running" line
// reads as a hung TUI, and the learner presses keys that then land somewhere else.
/// Braille spinner frames, one per Tick: at two ticks a second one turn takes 4 s, slow
/// enough not to distract while still moving visibly between two glances.
const SPINNER: [char; 8] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧'];

impl RunStatus {
    /// The status line shown above a run's output.
    ///
    /// `tick` is the session's current `Runs::tick`; a running status counts its seconds
    /// from it, a finished one ignores it and shows its outcome (exit and time taken).
    pub fn status_line(&self, tick: u64) -> String {
        match self {
            RunStatus::Running { since_tick } => {
                // The frame from the session's tick, not the run's: every running status
                // turns in step, and the modulo keeps the index inside the 8 frames.
                let frame = SPINNER[(tick % SPINNER.len() as u64) as usize];
                // Ticks → seconds: two ticks a second (see `Runs::tick`), whole seconds shown.
                format!("{frame} 运行中 {} s · Esc 停止", tick.saturating_sub(*since_tick) / 2)
            }
            RunStatus::Done(o) => o.status_line(),
        }
    }
}

impl App {
    /// The checkpoint of lesson `id`, if its text has a valid one.
    // Parsed from the text on every call rather than stored: the text is the one truth, so
    // the screen, the keys and `pass_item` always see the same items. A checkpoint that
    // does not parse is `None` here; `lessons check` is where its error is reported.
    pub fn checkpoint(&self, id: &str) -> Option<Checkpoint> {
        let Some(Ok(text)) = self.texts.get(id) else { return None };
        let block =
            blocks::blocks(text).into_iter().find(|b| b.kind == blocks::BlockKind::Checkpoint)?;
        Checkpoint::parse(&block.body).ok()
    }

    // Ctrl-C and Esc stop a running command first: a learner who started `sleep 30` by
    // mistake expects the key that stops a shell command to stop this one, not to quit the
    // lab (Ctrl-C) or leave the lesson with the command still running (Esc).
    /// Esc / Ctrl-C while a command runs: stop it. Returns the command, if one was running.
    ///
    /// `None` when nothing runs: the caller (`App::on_key`, `lesson_key`) then gives the
    /// key its usual meaning, so Esc leaves and Ctrl-C quits only when no run is at stake.
    pub(super) fn stop_run_key(&mut self) -> Option<Vec<Command>> {
        // `running` is cleared only by the run's own `ScriptDone` (an `Exit::Killed` after a
        // stop), so the screen says "stopped" only once the process group is really gone.
        self.runs.running.as_ref()?;
        self.notice = Some("正在停止命令…".into());
        Some(vec![Command::StopScript])
    }

    // Tab moves the selection and scrolls the page so the block's label is on screen (two
    // rows of context above it); Enter runs the selected one (the first on screen when
    // none is selected yet, so Enter alone does what a learner expects).
    /// Tab / Shift-Tab / Enter in a lesson. `rows` are the command blocks' label rows on the
    /// page, `top` and `page` the visible window; returns the commands and the new scroll.
    pub(super) fn command_key(
        &mut self,
        code: KeyCode,
        rows: &[usize],
        top: usize,
        page: usize,
    ) -> (Vec<Command>, usize) {
        let n = rows.len();
        if n == 0 {
            self.notice = Some("这一课没有可运行的命令".into());
            return (Vec::new(), top);
        }
        // "On screen" is judged on the label row: Tab from nothing selects what the learner is
        // looking at, not the first block of the lesson thirty screens up.
        let visible = |r: usize| r >= top && r < top + page;
        let first_on_screen = rows.iter().position(|&r| visible(r));
        let next = match (code, self.runs.selected) {
            // Wrapping at both ends, like Tab in a form: from the last command, Tab goes back to
            // the first instead of doing nothing at the bottom of a long lesson.
            (KeyCode::Tab, Some(k)) => (k + 1) % n,
            (KeyCode::BackTab, Some(k)) => (k + n - 1) % n,
            (KeyCode::Tab, None) => first_on_screen.unwrap_or(0),
            (KeyCode::BackTab, None) => first_on_screen.unwrap_or(n - 1),
            (_, Some(k)) => k,
            (_, None) => match first_on_screen {
                Some(k) => k,
                None => {
                    self.notice = Some("按 Tab 选中一条命令，再按 Enter 运行".into());
                    return (Vec::new(), top);
                }
            },
        };
        self.runs.selected = Some(next);
        let row = rows[next];
        // The page stays put while the label and the first two command rows are in view: a
        // scroll on every Tab would make the text jump under the reader's eyes.
        let scroll = if visible(row) && visible(row + 2) { top } else { row.saturating_sub(2) };
        if code != KeyCode::Enter {
            return (Vec::new(), scroll);
        }
        // The script is the expanded text's block `next`, the same list the renderer numbered,
        // so "命令 3" on screen and the third block run are the same block by construction.
        let lesson = self.current_lesson().id.clone();
        let script = match self.texts.get(&lesson) {
            Some(Ok(t)) => blocks::commands(t).get(next).map(|b| b.body.clone()),
            _ => None,
        };
        let Some(script) = script else { return (Vec::new(), scroll) };
        (self.start_run(Purpose::Block { lesson, index: next }, script), scroll)
    }

    /// Starts a run unless one is going (then a notice says so).
    ///
    /// On success the slot is taken (`runs.running`) and `purpose`'s result is `Running`
    /// before the returned `RunScript` reaches the loop, so no key handled in between can
    /// start a second run. The caller must hand the command on: dropped, the slot stays
    /// taken until the lab restarts.
    fn start_run(&mut self, purpose: Purpose, script: String) -> Vec<Command> {
        // Refused with a notice, not queued: a queue would run a command minutes after the key
        // press, when the learner has scrolled on and no longer watches its output.
        if self.runs.running.is_some() {
            self.notice = Some("已有命令在运行，请等它结束（Esc 停止）".into());
            return Vec::new();
        }
        // The previous result of the same block is replaced at once by the spinner: leaving
        // the old output up while the new run goes would look like the new run's answer.
        let since_tick = self.runs.tick;
        self.runs.results.insert(purpose.clone(), RunStatus::Running { since_tick });
        self.runs.running = Some(purpose.clone());
        vec![Command::RunScript { purpose, script }]
    }

    // A task passes on exit 0 only; exit 1 is the check's "not yet" (its output line says
    // what it saw), anything else — an unset variable included — means the check itself
    // could not run: said as such, so a learner does not retry a task whose check is broken.
    /// A finished run: record it; a task's exit 0 passes its checkpoint item.
    ///
    /// Called for every `ScriptDone`, stopped and timed-out runs included; the outcome
    /// replaces the `Running` entry under the same purpose, so the spinner always ends.
    pub(super) fn on_script_done(&mut self, purpose: Purpose, outcome: Outcome) -> Vec<Command> {
        // Compared, not cleared blindly: only the run that is `running` frees the slot, so a
        // late result can never unlock a second run while the current one is still going.
        if self.runs.running.as_ref() == Some(&purpose) {
            self.runs.running = None;
        }
        let mut cmds = Vec::new();
        if let Purpose::Task { lesson, item } = &purpose
            && let Some(cp) = self.checkpoint(lesson)
        {
            // Done only, stricter than `lessons check --run` (which accepts "not yet" too, as it
            // asks only whether the check works): a pass here marks the item in progress.json.
            match outcome.verdict() {
                Verdict::Done => cmds = self.pass_item(lesson, &cp, *item),
                Verdict::NotYet => {}
                Verdict::Broken(why) => {
                    self.notice = Some(format!("检查脚本本身出错：{why}（请报告这个问题）"))
                }
            }
        }
        self.runs.results.insert(purpose, RunStatus::Done(outcome));
        cmds
    }

    /// Records a passed item; saves progress, and says so when it completed the lesson.
    ///
    /// Marks in memory now, writes progress.json through the returned `SaveProgress`; a
    /// failed save leaves the pass in memory for this session, the file as it was, and a
    /// notice saying so (`tui::effects`).
    fn pass_item(&mut self, lesson: &str, cp: &Checkpoint, item: usize) -> Vec<Command> {
        // The ids of *this* version of the checkpoint: an item removed from the lesson is no
        // longer required, one added is, so "done" always means the checkpoint on screen.
        let all: Vec<String> = (0..cp.items().len()).map(|i| cp.item_id(i)).collect();
        if self.progress.pass(lesson, &cp.item_id(item), &all) {
            self.notice = Some(format!("{lesson} 的检查点全部通过，这一课已完成 ✔"));
        }
        // Saved on every pass, not at quit: a lab killed by a closed terminal keeps what the
        // learner earned.
        vec![Command::SaveProgress]
    }

    /// Keys of the checkpoint screen: ↑↓ item, number keys answer, Enter checks a task.
    ///
    /// Up to nine options a digit answers at once. From ten on, a digit that could start a
    /// longer number (`1` of twelve) waits: the next digit completes it (`1` `1` = 11), Enter
    /// takes it alone, any other key drops it. ❌ The old `1`–`9` keys left options 10+
    /// unanswerable, and a lesson whose answer was one of them could never be completed.
    pub(super) fn checkpoint_key(&mut self, code: KeyCode) -> Vec<Command> {
        let lesson = self.current_lesson().id.clone();
        // Taken by every key: a half-typed number belongs to the key that follows it, and
        // after a move to another item it would silently prefix that item's answer.
        let pending = self.checkpoint_view.pending.take();
        let Some(cp) = self.checkpoint(&lesson) else {
            if matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
                self.screen = Screen::Lesson;
            }
            return Vec::new();
        };
        let items = cp.items();
        let n = items.len();
        // Clamped here as well as by ↑↓: a checkpoint with no items at all gives `i = 0`,
        // and `items.get(i)` below then finds nothing instead of panicking.
        let i = self.checkpoint_view.item.min(n.saturating_sub(1));
        match code {
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => self.screen = Screen::Lesson,
            KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
                self.checkpoint_view.item = i.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                self.checkpoint_view.item = (i + 1).min(n.saturating_sub(1))
            }
            // Digits, not letters: the options are shown numbered, and `j`/`k`/`q` already
            // mean something here. A question with ten or more options takes two digits:
            // `1` could start 10, so it waits (shown on screen) for a digit or Enter.
            KeyCode::Char(c @ '0'..='9') => {
                if let Some(Item::Question(q)) = items.get(i) {
                    let chosen = pending.unwrap_or(0) * 10 + (c as usize - '0' as usize);
                    // A number past the options (or 0) is ignored, not counted as a wrong
                    // answer: it is a slip of the finger, and it would explain nothing.
                    if chosen == 0 || chosen > q.options.len() {
                        return Vec::new();
                    }
                    // No option number starts with `chosen` and goes on: answered at once.
                    // With nine options or fewer that is every digit, as it always was.
                    if chosen * 10 > q.options.len() {
                        return self.answer_question(&lesson, &cp, i, chosen);
                    }
                    self.checkpoint_view.pending = Some(chosen);
                }
            }
            KeyCode::Enter => {
                // The check runs through the same runner as a command block (`-euo pipefail`,
                // the lab's variables, the timeout), so it judges the stack the learner's own
                // blocks just changed.
                if let Some(Item::Task(t)) = items.get(i) {
                    let script = t.check.clone();
                    return self.start_run(Purpose::Task { lesson, item: i }, script);
                }
                // Enter confirms a typed number (`1` + Enter is option 1 of twelve); with
                // nothing typed it is a hint, not an answer: picking option 1 by default
                // would count a press meant as "next" as a wrong (or right) answer.
                if let (Some(Item::Question(_)), Some(chosen)) = (items.get(i), pending) {
                    return self.answer_question(&lesson, &cp, i, chosen);
                }
                self.notice = Some("按数字键选择答案".into());
            }
            _ => {}
        }
        Vec::new()
    }

    /// Records option `chosen` (1-based, in range) for question `item`; a right one passes.
    fn answer_question(
        &mut self,
        lesson: &str,
        cp: &Checkpoint,
        item: usize,
        chosen: usize,
    ) -> Vec<Command> {
        // Every answer is kept, the wrong ones too: the screen shows the explanation after a
        // wrong answer (see ui/checkpoint.rs), and retrying is allowed and expected.
        self.checkpoint_view.answers.insert((lesson.to_string(), item), chosen);
        // A right answer is a pass like a task's exit 0, saved at once; a wrong one
        // changes no progress and blocks nothing — the next number is a retry.
        match cp.items().get(item) {
            Some(Item::Question(q)) if q.answer == chosen => self.pass_item(lesson, cp, item),
            _ => Vec::new(),
        }
    }
}

// Over the available lessons only: a planned lesson cannot be done, so counting it would
// make "3/8" read as five lessons left to do when only two are open.
/// (done, available) for the home screen's progress count.
pub fn progress_count(app: &App) -> (usize, usize) {
    // One pass over the manifest's items, not over `progress.completed`: a lesson id in the
    // file that the manifest no longer has must not count as done.
    let open = app.items.iter().filter(|l| l.available);
    let (mut done, mut total) = (0, 0);
    for l in open {
        total += 1;
        done += usize::from(app.progress.is_done(&l.id));
    }
    (done, total)
}

impl App {
    // "Finished a run in this session" per experiment, read off the screens' own state: the
    // reveal shows the numbers the learner just watched, never a stale file from last week.
    // Discovery's load runs until the learner leaves the screen, so its run is finished
    // once it stopped with at least one tick measured.
    /// The figures of `kind`'s last finished run in this session, `None` before one.
    pub fn measured(
        &self,
        kind: crate::lessons::ExperimentKind,
    ) -> Option<Vec<(&'static str, String)>> {
        use crate::experiments::{cache, discovery, flash, orders, payments, race};
        use crate::lessons::ExperimentKind as K;
        match kind {
            // `done` *and* results: a race that failed in its first lane is "done" with nothing
            // measured, and a reveal filled with dashes would pretend there was a run.
            K::Race => (self.race.done && !self.race.results().is_empty())
                .then(|| race::figures(&self.race.results())),
            // `done` alone: a cache run that ended has its totals whatever they are — a low
            // hit rate is a measurement, not a missing one.
            K::Cache => {
                self.cache.done.then(|| cache::figures(&self.cache.total, &self.cache.load))
            }
            // After the burst, not after the run: the figures are the burst's, the chain's
            // and the last stock sample, and the watcher behind them may go on for minutes.
            K::Orders => self.orders.burst_done.then(|| {
                let o = &self.orders;
                orders::figures(&o.params, &o.burst, &o.chain, o.stock.as_ref())
            }),
            // Any scenario finished: each of the four is a run of its own, and
            // `payments::figures` shows a dash for those not run yet.
            K::Payments => self
                .payments
                .reports
                .iter()
                .any(Option::is_some)
                .then(|| payments::figures(&self.payments.reports)),
            K::Discovery => match (&self.discovery.tick, self.discovery.running) {
                (Some(t), false) => Some(discovery::figures(t)),
                _ => None,
            },
            // `summary` is set only by the sale's `Finished` event: a sale that failed or
            // was left before its verdict has no figures, however long it ran.
            K::Flash => self.flash.summary.as_ref().map(flash::figures),
        }
    }
}
