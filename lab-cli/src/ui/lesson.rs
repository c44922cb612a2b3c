//! A lesson's text, scrollable.
//!
//! The text arrives already expanded: every `{{source: path#marker}}` line was replaced by
//! the real excerpt when the app started (`lessons::source::expand`), so the code the
//! learner reads here is the code in the repository right now.

use ratatui::{
    Frame,
    layout::Rect,
    widgets::{Block, Paragraph, Wrap},
};

use super::markdown;
use crate::app::App;

/// Draws the lesson text with its scroll offset; returns its title and keys.
///
/// The text was read (and its source references expanded) when the app started, so a
/// frame never waits on the disk. A lesson that failed to load shows *why* (a missing
/// marker, a moved file) instead of an empty page - the same message `lessons check` gives.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let item = app.current_lesson();
    // Three cases, three honest messages: the text, the reason it failed to load (a broken
    // source reference names the file and marker), or "not yet available".
    let text = match app.texts.get(&item.id) {
        Some(Ok(t)) => markdown::lines(t),
        // The error text is the same `anyhow` chain `lessons check` prints (file, marker, reason),
        // so what a learner reports is exactly what a maintainer needs to fix it.
        Some(Err(e)) => vec![format!("无法读取这一课：{e}").into()],
        None => vec!["这一课尚未开放。".into()],
    };
    // The ✔ in the title confirms `c` worked without leaving the lesson.
    let done = if app.progress.is_done(&item.id) { " ✔" } else { "" };
    frame.render_widget(
        Paragraph::new(text)
            // `trim: false` keeps the indentation of quoted code; wrapping happens at draw time,
            // so the same lesson reads at any width.
            .wrap(Wrap { trim: false })
            .scroll((app.lesson.scroll, 0))
            .block(Block::bordered().title(format!(" Day {} · {}{done} ", item.day, item.title))),
        area,
    );
    (
        format!("课程 {}", item.id),
        // `x` is shown even for a lesson without an experiment; pressing it then says so in a
        // notice, which teaches more than a key that silently does nothing.
        &[("↑↓ PgDn", "滚动"), ("x", "实验"), ("c", "完成"), ("Esc", "返回"), ("q", "退出")],
    )
}
