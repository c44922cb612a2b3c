//! Rendering: pure functions from [`App`] to a frame.
//!
//! Nothing here mutates state, reads a file or waits on the network, so every screen can
//! be drawn on a `TestBackend` and compared with a snapshot. Every screen has the same
//! frame — a title line on top, a key line at the bottom — so the learner always sees
//! which keys do something here (nothing to memorise), and everything fits in 80×24.
//!
//! - [`home`]: the lesson list with progress.
//! - [`lesson`]: a lesson's text; [`markdown`] styles it.
//! - [`race`]: Day 30's three lanes and the DO/DON'T table.
//! - [`cache`]: Day 29's hit rate and invalidation.
//! - [`dashboard`]: health, QPS, p99, hit rate and stock of the running stack.

pub mod cache;
pub mod dashboard;
pub mod home;
pub mod lesson;
pub mod markdown;
pub mod race;

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
};

use crate::app::{App, Screen};

/// Draws the whole screen for the current state.
pub fn render(frame: &mut Frame, app: &App) {
    let [top, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)])
            .areas(frame.area());
    let (title, keys) = match app.screen {
        Screen::Home => home::render(frame, body, app),
        Screen::Lesson => lesson::render(frame, body, app),
        Screen::Race => race::render(frame, body, app),
        Screen::Cache => cache::render(frame, body, app),
        Screen::Dashboard => dashboard::render(frame, body, app),
    };
    header(frame, top, &title);
    footer(frame, bottom, keys, app.notice.as_deref());
}

fn header(frame: &mut Frame, area: Rect, title: &str) {
    let line = Line::from(vec![
        Span::styled(" 书店微服务实验室 ", Style::new().black().on_cyan().bold()),
        Span::raw(" "),
        Span::styled(title.to_string(), Style::new().bold()),
    ]);
    frame.render_widget(line, area);
}

/// The key line: `key 说明` pairs, then the latest notice (if any) in yellow.
fn footer(frame: &mut Frame, area: Rect, keys: &[(&str, &str)], notice: Option<&str>) {
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(format!(" {k} "), Style::new().black().on_gray()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    if let Some(n) = notice {
        spans.push(Span::styled(
            format!(" {n}"),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    frame.render_widget(Line::from(spans), area);
}

/// `1234` µs → `1.2ms`; under a millisecond in µs.
pub fn fmt_us(us: u64) -> String {
    if us >= 1000 { format!("{:.1}ms", us as f64 / 1000.0) } else { format!("{us}µs") }
}
