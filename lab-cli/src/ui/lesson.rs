//! A lesson's text: laid out for the window, scrollable, with where you are.
//!
//! The text arrives already expanded: every `{{source: path#marker}}` line was replaced by
//! the real excerpt when the app started (`lessons::source::expand`), so the code the
//! learner reads here is the code in the repository right now. [`markdown`] lays it out
//! for the width of the window; the keys in `app.rs` scroll through the same layout
//! ([`document`] is shared), so the clamp and the picture can never disagree.
//!
//! Before layout, the lesson's own blocks are brought to life ([`prepare`]): a command
//! block's last output is inserted under it, a `reveal` block becomes its answer (once the
//! experiment has run) or a sealed note, and the `checkpoint` block a one-line pointer to
//! the checkpoint screen. The rest of the text is laid out untouched.
//!
//! The frame has a top and a bottom border only. ❌ DON'T draw side borders around the
//! page: every command row would then start and end with `│`, and a learner's terminal
//! selection of a three-line command would copy three border characters with it.
//!
//! The frame's bottom border says where the learner is: the section (`§ 实验`) on the
//! left and `行 41–60/212 · 28%` on the right — on a page of 200 rows, the scroll bar a
//! terminal does not have.

use ratatui::{
    Frame,
    layout::Rect,
    style::{Color, Style},
    text::Line,
    widgets::{Block, Borders, Paragraph},
};

use super::markdown::{self, Doc};
use crate::{
    app::{
        App,
        runs::{Purpose, RunStatus},
    },
    lessons::blocks::{self, BlockKind},
};

// The lesson screen is the body between the one-row header and key line, inside a top and
// a bottom border (no side borders, see the module doc): the full width and four rows less
// than the terminal — 20 text rows at 80×24. A notice takes rows too, but any key clears
// it, so the keys measure the page without one (the renderer clamps what it shows).
// `render` gets the same size from the frame's layout and `block.inner`; if the two ever
// disagree by a row, the lesson's last row never scrolls into view, or the keys scroll a
// row past the end (the renderer clamps the picture, not the stored scroll).
/// The text area (columns, rows) of the lesson screen in a terminal of `viewport`.
pub fn text_size((width, height): (u16, u16)) -> (u16, u16) {
    (width, height.saturating_sub(4))
}

// 12, not the runner's 200: the output sits inside the lesson's text, and a long one
// would push the next paragraph — the one that explains the output — off the screen.
/// Rows of a run's output shown under its block (the last ones; the rest is summarised).
const OUTPUT_ROWS: usize = 12;

// Text in, text out, so the renderer stays a Markdown renderer: outputs become fenced
// `lab-output` blocks (with a fence longer than any backtick run in them, so output that
// prints ``` cannot close the block early), reveals become quotes. Replacing from the
// last block backwards keeps the earlier byte ranges valid.
/// The lesson text with this session's outputs, reveals and checkpoint pointer in place.
pub fn prepare(app: &App, id: &str, text: &str) -> String {
    // The lesson's own experiment, from the manifest: Day 32's reveals show the orders run,
    // even if the learner ran the race from Day 30 a minute ago.
    let experiment = app.items.iter().find(|i| i.id == id).and_then(|i| i.experiment);
    // `None` until a run of *this session* finished (see `App::measured`), so a reveal is
    // never filled from figures the learner did not just watch happen.
    let measured = experiment.and_then(|k| app.measured(k));
    let all = blocks::blocks(text);
    // Counting down from the total while walking backwards gives each command block the same
    // index the renderer and the keys use (document order, from 0).
    let mut command_index = all.iter().filter(|b| b.kind.is_command()).count();
    let mut out = text.to_string();
    for b in all.iter().rev() {
        let replacement = match b.kind {
            BlockKind::Run | BlockKind::NoRun => {
                command_index -= 1;
                // The key `App::command_key` stored the run under (lesson id, command index), so
                // an output lands under the block that produced it and under no other one.
                let purpose = Purpose::Block { lesson: id.to_string(), index: command_index };
                // A block that never ran is left byte for byte as written.
                let Some(status) = app.runs.results.get(&purpose) else { continue };
                format!(
                    "{}\n{}",
                    &text[b.range.clone()].trim_end(),
                    output_block(status, app.runs.tick)
                )
            }
            BlockKind::Reveal => match &measured {
                Some(figures) => {
                    // Keys were checked against `experiments::figure_keys` by `lessons check`, so
                    // a lookup miss here means the experiment reported fewer figures this run.
                    let body = blocks::fill(&b.body, |k| {
                        figures.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
                    });
                    // Every line prefixed with `> `, an empty one too: a bare blank line would end
                    // the quote, and the rest of the answer would render as ordinary prose.
                    let quoted: Vec<String> = body.lines().map(|l| format!("> {l}")).collect();
                    format!("> **答案（本次实验的实测）**\n>\n{}\n", quoted.join("\n"))
                }
                None => "> 🔒 答案在实验跑完后揭晓（按 x 打开实验）\n".to_string(),
            },
            // The TOML itself is for the checkpoint screen; in the page it would read as a wall
            // of `[[question]]` with the answers in plain sight.
            BlockKind::Checkpoint => {
                let checkpoint = blocks::Checkpoint::parse(&b.body).ok();
                let n = checkpoint.as_ref().map_or(0, |c| c.items().len());
                // Counted over the checkpoint's current ids, as the checkpoint screen counts:
                // progress.json may still hold ids of items a later edit removed (a `t3` of a
                // checkpoint now of three items), and counting those read "已通过 4 项" of 3.
                let passed = (0..n)
                    .filter(|&i| {
                        checkpoint
                            .as_ref()
                            .is_some_and(|c| app.progress.has_passed(id, &c.item_id(i)))
                    })
                    .count();
                format!(
                    "**检查点**：{n} 项，已通过 {passed} 项 —— 按 `c` 打开，全部通过这一课才算完成。\n"
                )
            }
        };
        out.replace_range(b.range.clone(), &replacement);
    }
    out
}

/// A run as a fenced `lab-output` block: the status line, then the output's last rows.
fn output_block(status: &RunStatus, tick: u64) -> String {
    let mut body = vec![status.status_line(tick)];
    if let RunStatus::Done(o) = status {
        // The last rows, because they hold the verdict (the error, the final count); the
        // count of hidden rows keeps the cut honest.
        let hidden = o.dropped + o.lines.len().saturating_sub(OUTPUT_ROWS);
        if hidden > 0 {
            body.push(format!("…（前 {hidden} 行省略）"));
        }
        let shown = o.lines.len().min(OUTPUT_ROWS);
        body.extend(o.lines[o.lines.len() - shown..].iter().cloned());
    }
    let text = body.join("\n");
    // The longest run of backticks in the output, plus one: CommonMark closes a fence only
    // with a run at least as long as the opening one, so nothing printed can close it.
    // `max(2)`: output without backticks still gets the three a fence needs at the least.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("\n{fence}lab-output\n{text}\n{fence}\n")
}

// Three cases, three honest pages: the text, the reason it failed to load (a broken source
// reference names the file and marker — the same `anyhow` chain `lessons check` prints),
// or "not yet available". The two messages are not Markdown (an error may hold `_` or
// backticks), so they are only wrapped.
/// The current lesson laid out for `width` columns.
pub fn document(app: &App, width: u16) -> Doc {
    let message = match app.texts.get(&app.current_lesson().id) {
        Some(Ok(t)) => {
            let id = &app.current_lesson().id;
            return markdown::render_selected(&prepare(app, id, t), width, app.runs.selected);
        }
        Some(Err(e)) => format!("无法读取这一课：{e}"),
        None => "这一课尚未开放。".to_string(),
    };
    // Twenty rows, the page at 80×24: a message longer than the window ends in `…` at its
    // edge instead of leaving the learner to scroll through an error chain.
    let lines = super::wrap_columns(&message, width.into(), 20).into_iter().map(Line::from);
    Doc { lines: lines.collect(), headings: Vec::new(), commands: Vec::new() }
}

/// Draws the visible rows of the lesson; returns its title and keys.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let item = app.current_lesson();
    let block = Block::new().borders(Borders::TOP | Borders::BOTTOM);
    let inner = block.inner(area);
    let doc = document(app, inner.width);
    let rows = usize::from(inner.height);
    // Clamped here too: the key handler measured the page without a notice, and a notice
    // showing now makes the page a row or two shorter.
    let top = app.lesson.scroll.min(doc.lines.len().saturating_sub(rows));
    // Only the visible rows are handed to the widget: the page is already laid out, so the
    // window is a slice of it — no `Paragraph::scroll`, which counts rows *it* wrapped.
    let visible: Vec<Line> = doc.lines.iter().skip(top).take(rows).cloned().collect();
    // 1-based rows for people: "行 1–20/482". The percentage is of the page's end that is in
    // view, so it reads 100 % exactly when the last row is on screen.
    let end = (top + visible.len()).max(1);
    let total = doc.lines.len().max(1);
    let position = format!(" 行 {}–{end}/{total} · {}% ", top + 1, end * 100 / total);
    // The section of the *top* row: what the learner has scrolled into, even when the
    // heading itself has already gone off the top of the window.
    let section = doc.section_at(top).map(|s| format!(" § {s} ")).unwrap_or_default();
    // The ✔ in the title: the checkpoint was passed (the only way a lesson becomes done).
    let done = if app.progress.is_done(&item.id) { " ✔" } else { "" };
    // Position and section are dim: they answer "where am I" when asked, and must not
    // compete with the lesson's own headings for attention.
    let dim = Style::new().fg(Color::DarkGray);
    let block = block
        .title(format!(" Day {} · {}{done} ", item.day, item.title))
        .title_bottom(Line::styled(section, dim))
        .title_bottom(Line::styled(position, dim).right_aligned());
    // No `Wrap`: the rows are already laid out for this width (wrapping them again would
    // re-break tables and code), and a row never exceeds it.
    frame.render_widget(Paragraph::new(visible).block(block), area);
    (
        format!("课程 {}", item.id),
        // `x` is shown even for a lesson without an experiment; pressing it then says so in a
        // notice, which teaches more than a key that silently does nothing. Home/g, PgUp/b
        // and n/N work too (see the key table in `app.rs`); the line has room for 80 columns.
        &[
            ("↑↓ PgDn", "滚动"),
            ("Tab ⏎", "命令"),
            ("[ ]", "章节"),
            ("< >", "换课"),
            ("x", "实验"),
            ("c", "检查点"),
            ("Esc", "返回"),
            ("q", "退出"),
        ],
    )
}
