//! Rendering: pure functions from [`App`] to a frame.
//!
//! Nothing here mutates state, reads a file or waits on the network, so every screen can
//! be drawn on a `TestBackend` and compared with a snapshot. Every screen has the same
//! frame — a title line on top, a key line at the bottom — so the learner always sees
//! which keys do something here (nothing to memorise), and everything fits in 80×24.
//!
//! - [`home`]: the lesson list with progress.
//! - [`lesson`]: a lesson's text, scrolled; [`markdown`] lays it out for the window width.
//! - [`race`]: Day 30's three lanes and the DO/DON'T table.
//! - [`cache`]: Day 29's hit rate and invalidation.
//! - [`orders`]: Day 31–32's orders, stock conservation and the CreateOrder call chain.
//! - [`discovery`]: Day 35's instances, their Consul verdicts and the cost of a kill.
//! - [`flash`]: the capstone's sale, its invariant board and the faults' recovery times.
//! - [`payments`]: Day 33–34's payment timeline, stock before/after and four verdicts.
//! - [`dashboard`]: health, QPS, p99, hit rate and stock of the running stack.
//!
//! The one piece of terminal state the pure functions need is its size: the loop records
//! it in `App::viewport` after each frame, so the lesson keys can clamp scrolling with the
//! same layout `lesson::render` draws (a fact fed in, like a key — not a query from inside
//! a render function).
//!
//! ## Why rendering is pure (and what it buys)
//!
//! A screen function takes `&App` and a `Frame` and returns its title and keys. Because it
//! cannot change the state, drawing twice draws the same thing, and the test in
//! tests/screens.rs can build a state by hand, draw it on ratatui's `TestBackend` at 80×24
//! and compare the text with a committed insta snapshot. A layout regression — a column
//! cut off, a counter that vanished — then shows up as a reviewable diff in a pull
//! request, not as a learner's screenshot a week later.
//!
//! - ✅ DO compute everything a screen shows from the state at draw time (percentages,
//!   verdicts); the state stays small and there is nothing to keep in sync.
//! - ❌ DON'T cache formatted strings in the state "for speed": a frame at 80×24 is a few
//!   thousand cells, and a stale cached string is a bug the snapshot cannot catch.
//! - ❌ DON'T read the clock in a render function: `Instant::now()` makes snapshots flaky.
//!   Elapsed times come from the experiments' snapshots instead.
//!
//! Screens return their keys instead of drawing the footer themselves, so the key line
//! looks identical everywhere and a screen cannot forget `q 退出`.
//!
//! ## Immediate mode: why there is no widget tree to keep in sync
//!
//! ratatui is an *immediate-mode* library: every frame, `render` builds the widgets from
//! the state and throws them away; ratatui diffs the resulting cells against the previous
//! frame and writes only what changed. Retained-mode toolkits (cursive, most GUI
//! frameworks) keep a tree of widget objects and ask you to update them when the state
//! changes — two copies of the truth that can drift (a label still saying "运行中" after
//! the run ended). Immediate mode makes that class of bug impossible: the screen *is* a
//! function of the state, which is also what makes snapshot tests meaningful.
//!
//! The price is recomputing the frame each time, which for a few thousand cells is
//! microseconds — cheaper than the bookkeeping retained mode needs.

pub mod cache;
pub mod chart;
pub mod checkpoint;
pub mod dashboard;
pub mod discovery;
pub mod flash;
pub mod home;
pub mod lesson;
pub mod markdown;
pub mod orders;
pub mod payments;
pub mod race;

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::Paragraph,
};

use crate::app::{App, Screen};

// The frame, top to bottom: title (1 row), the screen's body (what is left), the notice
// (0–3 rows, only when there is one) and the key line (1 row).
// Why the notice has its own rows instead of trailing the keys: on the cache screen the
// keys already take ~68 of 80 columns, so a notice like "图书 7 库存 42 → 41" or a
// failure message was cut off after a few characters — and a notice is the answer to the
// key the learner just pressed. ❌ DON'T put variable-length text after fixed content on
// one line at 80 columns; ✅ DO give it rows of its own and wrap it. The body shrinks by
// a row while a notice shows; every screen's layout has a `Min` part that absorbs that.
/// Draws the whole screen for the current state.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let notice = app.notice.as_deref().map(|n| wrap_columns(n, area.width.into(), 3));
    let notice_rows = notice.as_ref().map_or(0, |rows| rows.len() as u16);
    let [top, body, notice_area, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(notice_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let (title, keys) = match app.screen {
        Screen::Home => home::render(frame, body, app),
        Screen::Lesson => lesson::render(frame, body, app),
        Screen::Race => race::render(frame, body, app),
        Screen::Cache => cache::render(frame, body, app),
        Screen::Orders => orders::render(frame, body, app),
        Screen::Discovery => discovery::render(frame, body, app),
        Screen::Payments => payments::render(frame, body, app),
        Screen::Flash => flash::render(frame, body, app),
        Screen::Checkpoint => checkpoint::render(frame, body, app),
        Screen::Dashboard => dashboard::render(frame, body, app),
    };
    header(frame, top, &title, app.build.as_deref());
    if let Some(rows) = notice {
        let style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
        let lines: Vec<Line> = rows.into_iter().map(|r| Line::styled(r, style)).collect();
        frame.render_widget(Paragraph::new(lines), notice_area);
    }
    footer(frame, bottom, keys);
}

// The product name is highlighted and the screen title follows it, so a screenshot
// or a tmux capture says at once which screen it shows.
fn header(frame: &mut Frame, area: Rect, title: &str, build: Option<&str>) {
    let mut spans = vec![
        Span::styled(" 书店微服务实验室 ", Style::new().black().on_cyan().bold()),
        Span::raw(" "),
        Span::styled(title.to_string(), Style::new().bold()),
    ];
    // After the title, so a narrow terminal cuts the build note, never the screen's name.
    if let Some(build) = build {
        spans.push(Span::styled(format!("  [{build}]"), Style::new().yellow()));
    }
    let line = Line::from(spans);
    frame.render_widget(line, area);
}

// Keys are drawn reversed (dark on grey) to look like keycaps, which is how learners
// scan for them; the description is plain text in the learner's language.
/// The key line: `key 说明` pairs.
fn footer(frame: &mut Frame, area: Rect, keys: &[(&str, &str)]) {
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::styled(format!(" {k} "), Style::new().black().on_gray()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Line::from(spans), area);
}

// Wrapping by display columns, not by bytes or `char`s: "库存" is 2 chars, 6 bytes and 4
// columns. `Span::width` asks unicode-width, the same table ratatui uses to place cells, so
// the rows are exactly as wide as the terminal draws them. Words are not kept whole: the
// notices are mostly Chinese (no spaces to break at), and an exact row count is what lets
// the layout reserve the right height before drawing. The leading space matches the
// margin of the key line. Three rows at most: a longer error keeps its start (what
// failed) and ends in `…`.
/// ` text` cut into rows of at most `width` terminal columns (a CJK character takes two),
/// at most `max_rows` of them; a text longer than that ends in `…`.
pub fn wrap_columns(text: &str, width: usize, max_rows: usize) -> Vec<String> {
    let width = width.max(2);
    let mut rows = vec![String::from(" ")];
    let mut used = 1;
    for c in text.chars() {
        let w = Span::raw(c.to_string()).width();
        if used + w > width {
            if rows.len() == max_rows {
                let last = rows.last_mut().expect("one row at least");
                while Span::raw(last.as_str()).width() + 1 > width {
                    last.pop();
                }
                last.push('…');
                break;
            }
            rows.push(String::new());
            used = 0;
        }
        rows.last_mut().expect("one row at least").push(c);
        used += w;
    }
    rows
}

// One formatter for every latency on every screen and in plain mode, so the same number
// never reads `1.2ms` in one place and `1200µs` in another.
/// `1234` µs → `1.2ms`; under a millisecond in µs.
pub fn fmt_us(us: u64) -> String {
    if us >= 1000 { format!("{:.1}ms", us as f64 / 1000.0) } else { format!("{us}µs") }
}
