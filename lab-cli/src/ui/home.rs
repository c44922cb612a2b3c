//! The home screen: Day 29–35, what is done, what is not written yet.
//!
//! Progress comes from `progress.json` (loaded once at start, saved by the loop when it
//! changes) — the list never reads the file itself, like every screen.
//!
//! Layout: the list takes what is left (`Min(5)`), the info box below it 6 rows — room for
//! the selected lesson's title and one line of guidance, wrapped at the box's width. The
//! eight entries (Day 29–35 and the Week 6 capstone) fit without scrolling at 24 rows; if
//! the course grows, `List` scrolls to keep the selection visible on its own, using the
//! `ListState` built below.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, List, ListItem, ListState, Paragraph, Wrap},
};

use crate::app::App;

/// Draws the lesson list; returns its title and keys.
///
/// Planned lessons are listed (so the learner sees where the week is going) but greyed
/// and marked "未开放": they have no text at all rather than placeholder text, so nothing
/// on screen pretends to teach what has not been written.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    // At 80×24 the body is 22 rows: the info box takes 6 (borders, the title row, the
    // guidance — 70 columns, one row inside the 78 — and two spare for a long title), the
    // list the other 16, which holds the eight entries and its borders with room to grow.
    let [list_area, info_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(6)]).areas(area);
    // In manifest order, not sorted by day: the capstone also says Day 35 and must stay
    // after discovery, and the manifest is where the course's order is decided.
    let items: Vec<ListItem> = app
        .items
        .iter()
        .map(|l| {
            // Three states, each with a mark *and* a colour: greyed "未开放" (planned), green "✔ 已完成",
            // plain "可学习". Marks are padded to the same width so the Day column lines up.
            let (mark, style) = if !l.available {
                ("  未开放", Style::new().fg(Color::DarkGray))
            } else if app.progress.is_done(&l.id) {
                ("✔ 已完成", Style::new().fg(Color::Green))
            } else {
                ("  可学习", Style::new())
            };
            // The planned style covers the whole row, title included: a grey title is what
            // says "nothing to open here" before the learner presses Enter and gets a notice.
            ListItem::new(Line::from(vec![
                Span::styled(format!("{mark}  "), style),
                Span::styled(format!("Day {}  ", l.day), style.add_modifier(Modifier::BOLD)),
                Span::styled(l.title.clone(), style),
            ]))
        })
        .collect();
    // Counted over the manifest's open lessons only (`progress_count`): progress for a lesson
    // that no longer exists is kept in the file but not counted, and planned ones cannot be done.
    let (done, open) = crate::app::runs::progress_count(app);
    let list = List::new(items)
        .block(Block::bordered().title(format!(" 课程 · 已完成 {done}/{open} ")))
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        // Reversed colours *and* an arrow: the selection stays visible in a terminal without
        // colour support.
        .highlight_symbol("▶ ");
    // ratatui's `ListState` (selection + scroll offset) is rebuilt from `app.selected` on
    // every frame instead of being stored in `App`: the state stays plain data, and the
    // selection can never disagree with what `update` decided.
    let mut state = ListState::default().with_selected(Some(app.selected));
    // `render_stateful_widget` lets the `List` adjust the state's scroll offset so the
    // selection stays visible; the adjusted state is dropped after the frame, since `App`
    // only needs the selected index.
    frame.render_stateful_widget(list, list_area, &mut state);

    // The info box tells where progress is kept: learners should know that deleting the lab
    // directory resets the course.
    // The guidance names `x`, which is not a key of this screen: the experiment is the
    // reason to open a lesson, so the learner should know it waits inside.
    let info = match app.items.get(app.selected) {
        Some(l) if l.available => format!(
            "Day {} · {}\n按 Enter 阅读，课内按 x 打开实验。进度保存在实验目录的 progress.json。",
            l.day, l.title
        ),
        Some(l) => {
            format!("Day {} · {}\n这一课尚未开放（课程按 Day 29 → 35 逐步上线）。", l.day, l.title)
        }
        // Only with a manifest that lists no lessons: an empty box rather than a panic on
        // an index, and the list's title already says 0/0.
        None => String::new(),
    };
    frame.render_widget(
        Paragraph::new(info).wrap(Wrap { trim: false }).block(Block::bordered().title(" 说明 ")),
        info_area,
    );
    // Each screen returns its own keys for the footer because letters change meaning per
    // screen: `r` here resets the selected lesson's progress, on the race screen it runs.
    (
        // The home title names the week, so a learner who opens the lab again after a break
        // knows where in the course it sits.
        "Week 6 · Day 29–35".into(),
        &[("↑↓", "选择"), ("Enter", "打开"), ("d", "仪表盘"), ("r", "重置进度"), ("q", "退出")],
    )
}
