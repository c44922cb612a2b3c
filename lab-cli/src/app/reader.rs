//! The lesson list and the lesson reader: which lesson is open, where it is scrolled to,
//! and the keys of the home and lesson screens.

use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen};
use crate::{lessons::ExperimentKind, ui::lesson};

// A copy of the manifest entry's display fields, so rendering never reaches into the
// `Library` (and the state stays plain data a test can build).
/// One lesson as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonItem {
    /// The manifest id (`day30`), also the key of `App::texts` and of `progress.json`.
    pub id: String,
    /// The course day (29–35), printed before the title so the list reads as the week.
    pub day: u32,
    /// The manifest's title, Chinese as the learner reads it.
    pub title: String,
    /// Planned lessons are listed too (so the learner sees the week), but cannot be opened.
    pub available: bool,
    /// Which screen `x` opens from this lesson; `None` for a reading-only lesson.
    pub experiment: Option<ExperimentKind>,
}

// `scroll` is a row offset into the lesson *as laid out for the current width* (a row of
// the reflowed page, not a line of the Markdown): the keys clamp it with the same layout
// the renderer draws, so End shows the last row at the bottom, never blank space below.
/// The lesson being read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LessonView {
    /// An index into `App::items` (the manifest's order), not an id: lookups on every frame
    /// stay O(1), and the manifest cannot change while the TUI runs.
    pub index: usize,
    /// The first row on screen; `lesson_key` keeps it at most the last full page's top.
    pub scroll: usize,
}

impl App {
    // Both arrow keys and vim keys (`j`/`k`) are accepted everywhere: learners come with
    // either habit, and accepting both costs one pattern per arm.
    /// Keys of the lesson list. Opening a planned lesson is refused with a notice instead
    /// of an empty screen.
    pub(super) fn home_key(&mut self, code: KeyCode) -> Vec<Command> {
        // `selected` stays below `n` (↓ clamps to the last row), but a manifest with no
        // `[[lesson]]` at all loads fine (the list is `#[serde(default)]`), and then no
        // index is in range: the row is looked up with `get`, and no row means no action.
        let n = self.items.len();
        // Cloned up front (an id is a few bytes): `open_lesson` and `progress.reset` below
        // need `&mut self`, which a borrow into `items` would block.
        let row = self.items.get(self.selected).map(|l| l.id.clone());
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            // ❌ the old `items[selected]` panicked here on an empty list, taking the
            // terminal down with it; now the footer says where the lessons should come from.
            KeyCode::Enter | KeyCode::Right => match row {
                None => self.notice = Some("课程清单里没有课（lessons/manifest.toml 为空）".into()),
                // The only error `open_lesson` can return here is "not available" (the id came
                // from our own list), so the notice names that case in the learner's language
                // instead of echoing an English error string meant for the command line.
                Some(id) => {
                    if self.open_lesson(&id).is_err() {
                        self.notice = Some(format!("{id}：尚未开放"));
                    }
                }
            },
            KeyCode::Char('d') => self.screen = Screen::Dashboard,
            // `r` on the list resets progress; it only asks for a save when something changed, so
            // pressing it on an untouched lesson does not rewrite `progress.json` for nothing.
            KeyCode::Char('r') => {
                if let Some(id) = row
                    && self.progress.reset(&id)
                {
                    self.notice = Some(format!("{id} 的进度已重置"));
                    return vec![Command::SaveProgress];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    // Every key is followed by the clamp to the last page, so the state never holds a scroll
    // the screen cannot show (❌ the old unclamped offset let PgDn run into blank space, and
    // the next ↑ presses then moved nothing visible). The page is laid out again for each
    // key — the same pure function the renderer calls, well under a millisecond.
    /// Keys while reading: scrolling, section and lesson jumps; `x` opens the lesson's
    /// experiment (from the manifest, so a new lesson gets an experiment by data, not by
    /// code); `c` opens its checkpoint, whose passing marks the lesson done.
    pub(super) fn lesson_key(&mut self, code: KeyCode) -> Vec<Command> {
        // The page as the renderer will draw it at the current terminal size; `last` is the
        // first row of the final full page, the largest scroll that leaves no blank space
        // below the text. `top` re-clamps first, because the window may have grown since the
        // last key (a wider window wraps into fewer rows, so an old scroll can be too large).
        let (width, height) = lesson::text_size(self.viewport);
        let doc = lesson::document(self, width);
        let page = usize::from(height).max(1);
        let last = doc.lines.len().saturating_sub(page);
        let top = self.lesson.scroll.min(last);
        // A step of a page keeps one row of the previous page in view, so the eye finds its
        // place; a section jump puts the heading on the top row (or as high as the end allows).
        // `max(1)` for a window of one text row (a terminal shrunk to a few lines): a page
        // step of 0 would make PgDn do nothing at all.
        let step = page.saturating_sub(1).max(1);
        self.lesson.scroll = match code {
            KeyCode::Up | KeyCode::Char('k') => top.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => top + 1,
            KeyCode::PageUp | KeyCode::Char('b') => top.saturating_sub(step),
            KeyCode::PageDown | KeyCode::Char(' ') => top + step,
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            // Past the last heading, `]` goes to the end and `[` before the first to the top: the
            // key always moves somewhere sensible instead of silently doing nothing.
            KeyCode::Char(']') | KeyCode::Char('n') => doc.next_heading(top).unwrap_or(last),
            KeyCode::Char('[') | KeyCode::Char('N') => doc.previous_heading(top).unwrap_or(0),
            // `>`/`<` rather than →/←: ← already means "back" on every screen, and a lesson
            // switch on the same key would throw learners out of the list they came from.
            KeyCode::Char('>') | KeyCode::Char('<') => {
                self.step_lesson(code == KeyCode::Char('>'));
                return Vec::new();
            }
            // The first Esc stops a running command and stays; only the next one leaves, so
            // leaving the lesson never strands a process whose output has nowhere to go.
            KeyCode::Esc if self.runs.running.is_some() => {
                return self.stop_run_key().unwrap_or_default();
            }
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => {
                self.screen = Screen::Home;
                top
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Enter => {
                // `doc.commands` are the label rows of the page as laid out now, the same rows
                // the renderer numbers; the scroll that brings a label into view may point
                // past the last page near the end of the text, hence the clamp.
                let (cmds, scroll) = self.command_key(code, &doc.commands, top, page);
                self.lesson.scroll = scroll.min(last);
                return cmds;
            }
            // Only the screen changes: the experiment's state is kept, so a run finished
            // earlier is still on screen, and it is what `measured` reads for the reveal.
            KeyCode::Char('x') => {
                match self.current_lesson().experiment {
                    Some(ExperimentKind::Race) => self.screen = Screen::Race,
                    Some(ExperimentKind::Cache) => self.screen = Screen::Cache,
                    Some(ExperimentKind::Orders) => self.screen = Screen::Orders,
                    Some(ExperimentKind::Discovery) => self.screen = Screen::Discovery,
                    Some(ExperimentKind::Payments) => self.screen = Screen::Payments,
                    Some(ExperimentKind::Flash) => self.screen = Screen::Flash,
                    None => self.notice = Some("这一课没有实验".into()),
                }
                top
            }
            // `c` opens the checkpoint; passing it is what marks the lesson done (progress.rs).
            // At its first item each time; the answers stay (keyed by lesson, see
            // `CheckpointView`), so what was chosen earlier is still marked ✘ or ✔.
            KeyCode::Char('c') => {
                // A digit typed before leaving (or in another lesson) is no answer to this one.
                (self.checkpoint_view.item, self.checkpoint_view.pending) = (0, None);
                self.screen = Screen::Checkpoint;
                top
            }
            // ❗ Esc from the dashboard always lands on the home list (`App::on_key`), not
            // back in this lesson: the screen keeps no "came from". `selected` still points
            // at this lesson, so Enter on the list reopens it — at its top (`open_lesson`).
            KeyCode::Char('d') => {
                self.screen = Screen::Dashboard;
                top
            }
            _ => top,
        }
        .min(last);
        Vec::new()
    }

    // Planned lessons are skipped (they cannot be opened); at either end the lesson stays
    // and a notice says why nothing happened, instead of a key that silently does nothing.
    /// Opens the next (`forward`) or previous available lesson, at its top.
    ///
    /// The same state change as `App::open_lesson` (list selection, index, scroll 0, no
    /// command selected) minus the screen switch, since the learner is already reading.
    fn step_lesson(&mut self, forward: bool) {
        let here = self.lesson.index;
        let found = if forward {
            (here + 1..self.items.len()).find(|&i| self.items[i].available)
        } else {
            (0..here).rev().find(|&i| self.items[i].available)
        };
        match found {
            Some(index) => {
                self.selected = index;
                self.lesson = LessonView { index, scroll: 0 };
                // The selection is an index into the *old* lesson's command blocks; kept,
                // Enter would run the new lesson's block of that number, never selected.
                self.runs.selected = None;
            }
            None if forward => self.notice = Some("已经是最后一课（后面的课尚未开放）".into()),
            None => self.notice = Some("已经是第一课".into()),
        }
    }
}
