//! A lesson's text: laid out for the window, scrollable, with where you are.
//!
//! The text arrives already expanded: every `{{source: path#marker}}` line was replaced by
//! the real excerpt when the app started (`lessons::source::expand`), so the code the
//! learner reads here is the code in the repository right now. [`markdown`] lays it out
//! for the width of the window; the keys in `app.rs` scroll through the same layout
//! ([`document`] is shared), so the clamp and the picture can never disagree.
//!
//! The frame's bottom border says where the learner is: the section (`§ 实验`) on the
//! left and `行 41–60/212 · 28%` on the right — on a page of 200 rows, the scroll bar a
//! terminal does not have.

use ratatui::{
    Frame,
    layout::Rect,
    style::{Color, Style},
    text::Line,
    widgets::{Block, Paragraph},
};

use super::markdown::{self, Doc};
use crate::app::App;

// The lesson screen is the body between the one-row header and key line, inside a border:
// two columns and four rows less than the terminal. A notice takes rows too, but any key
// clears it, so the keys measure the page without one (the renderer clamps what it shows).
/// The text area (columns, rows) of the lesson screen in a terminal of `viewport`.
pub fn text_size((width, height): (u16, u16)) -> (u16, u16) {
    (width.saturating_sub(2), height.saturating_sub(4))
}

// Three cases, three honest pages: the text, the reason it failed to load (a broken source
// reference names the file and marker — the same `anyhow` chain `lessons check` prints),
// or "not yet available". The two messages are not Markdown (an error may hold `_` or
// backticks), so they are only wrapped.
/// The current lesson laid out for `width` columns.
pub fn document(app: &App, width: u16) -> Doc {
    let message = match app.texts.get(&app.current_lesson().id) {
        Some(Ok(t)) => return markdown::render(t, width),
        Some(Err(e)) => format!("无法读取这一课：{e}"),
        None => "这一课尚未开放。".to_string(),
    };
    let lines = super::wrap_columns(&message, width.into(), 20).into_iter().map(Line::from);
    Doc { lines: lines.collect(), headings: Vec::new() }
}

/// Draws the visible rows of the lesson; returns its title and keys.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let item = app.current_lesson();
    let block = Block::bordered();
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
    // The ✔ in the title confirms `c` worked without leaving the lesson.
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
            ("↑↓ PgDn End", "滚动"),
            ("[ ]", "章节"),
            ("< >", "换课"),
            ("x", "实验"),
            ("c", "完成"),
            ("Esc", "返回"),
            ("q", "退出"),
        ],
    )
}
