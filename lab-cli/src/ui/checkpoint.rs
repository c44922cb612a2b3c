//! The checkpoint screen: the lesson's questions and tasks, one in detail at a time.
//!
//! Top: every item with its mark (✔ passed, ✘ last answer wrong, ▶ the one on screen), so
//! the learner sees at a glance what is left. Below: the selected item — a question with
//! its numbered options and, once answered, the explanation; or a task with its hint, the
//! last run of its check (status and the check's own line: "42 号书已售罄……") and, once
//! passed, the explanation. At 80×24 five items and a four-option question fit together.
//!
//! Why the explanation shows after a *wrong* answer too: the point is understanding, not a
//! score. A learner who picked 乙 reads why 丙 is right, then presses 3 — and the item is
//! passed by an answer they now understand, which is what the done rule should measure.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Paragraph, Wrap},
};

use crate::{
    app::{
        App,
        runs::{Purpose, RunStatus},
    },
    lessons::{
        blocks::{Checkpoint, Item, Question, Task},
        runner::Verdict,
    },
};

/// Draws the checkpoint of the open lesson; returns its title and keys.
///
/// Reads three stores and writes none: the marks and the done line come from `progress`
/// (what is saved), the chosen options from `checkpoint_view` (this session only), a
/// task's last check from `runs.results`. A redraw therefore never changes what passed.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let lesson = app.current_lesson();
    // Number keys answer because options are shown numbered `1)`…`4)`: one key press per
    // answer, no cursor to move onto an option first ("数字", not "1-9": option 10 and up
    // take two digits). Enter runs a task's check, which takes seconds on the stack, so it
    // must be a deliberate key; on a question it only confirms a typed first digit.
    let keys: &'static [(&'static str, &'static str)] = &[
        ("↑↓", "选题"),
        ("数字", "作答"),
        ("Enter", "验证任务"),
        ("Esc", "返回课程"),
        ("q", "退出"),
    ];
    // The frame's title names the lesson id (`day30`) and the box below its day: the id is
    // the manifest's and progress.json's key, the day is what the learner reads.
    let title = format!("检查点 {}", lesson.id);
    // Parsed on each frame, like the lesson page: a few dozen lines of TOML cost microseconds,
    // and nothing derived is kept in `App` to go stale.
    let Some(cp) = app.checkpoint(&lesson.id) else {
        let p = Paragraph::new("这一课还没有检查点。").block(Block::bordered());
        frame.render_widget(p, area);
        return (title, keys);
    };
    let items = cp.items();
    // Clamped, not trusted: `checkpoint_view.item` survives a lesson edit (and a switch to
    // a lesson with fewer items), and indexing past the end would panic mid-frame.
    let sel = app.checkpoint_view.item.min(items.len().saturating_sub(1));
    // Read from `progress` (progress.json), the store the done rule uses, not from this
    // session's answers: a learner who passed q1 yesterday sees it ✔ today.
    // Current items only: it can read lower than the lesson page's pointer, which counts
    // every id stored for the lesson (see `ui::lesson::prepare`).
    let passed = (0..items.len()).filter(|&i| app.progress.has_passed(&lesson.id, &cp.item_id(i)));
    let done = if app.progress.is_done(&lesson.id) { " · 这一课已完成 ✔" } else { "" };
    let head =
        format!(" Day {} 检查点 · 已通过 {}/{}{done} ", lesson.day, passed.count(), items.len());
    // The list takes exactly its rows (items + border) and the detail the rest: with five
    // items the detail still gets 15 rows at 80×24, enough for a question and its reason.
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Length(items.len() as u16 + 2), Constraint::Min(0)])
            .areas(area);

    let rows = item_rows(app, &lesson.id, &cp, &items, sel);
    // `Paragraph` without wrap: a long question is cut at the edge here and shown whole below.
    frame.render_widget(Paragraph::new(rows).block(Block::bordered().title(head)), list_area);

    let lines = match items.get(sel) {
        Some(Item::Question(q)) => question_lines(app, &lesson.id, sel, q),
        Some(Item::Task(t)) => task_lines(app, &lesson.id, &cp, sel, t),
        None => Vec::new(),
    };
    // Wrapped here (unlike the lesson page) because this text is prose from TOML strings, not
    // Markdown with code that must keep its lines; `trim: false` keeps the options' indent.
    let detail = Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered());
    frame.render_widget(detail, detail_area);
    (title, keys)
}

/// The item list: one row per item, its mark first so the column of marks reads as progress.
///
/// `sel` must already be clamped to `items` (as `render` does); `cp` supplies the stored
/// ids (`q1`, `t1`) that `progress` is keyed by, `items` the text shown.
fn item_rows(
    app: &App,
    lesson: &str,
    cp: &Checkpoint,
    items: &[Item],
    sel: usize,
) -> Vec<Line<'static>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ok = app.progress.has_passed(lesson, &cp.item_id(i));
            // `answers` holds questions only, so a task whose check said "not yet" keeps the
            // `·` mark; its result is in the detail below, with the check's own line.
            let wrong = !ok && answer(app, lesson, i).is_some();
            let (mark, style) = match (ok, wrong) {
                (true, _) => ("✔", Style::new().fg(Color::Green)),
                (_, true) => ("✘", Style::new().fg(Color::Red)),
                _ => ("·", Style::new().fg(Color::DarkGray)),
            };
            let (kind, ask) = match item {
                Item::Question(q) => ("问题", q.ask.as_str()),
                Item::Task(t) => ("任务", t.ask.as_str()),
            };
            // Pointer *and* bold: the selection must read without colour (a learner's terminal
            // theme may make the bold invisible, the arrow never is).
            let pointer = if i == sel { "▶ " } else { "  " };
            let row_style =
                if i == sel { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
            // Numbered 1, 2, 3… across both kinds, while the stored ids restart per kind
            // (`q1`, `t1`): the learner counts items on screen, progress.json counts kinds.
            Line::from(vec![
                Span::raw(pointer),
                Span::styled(mark, style),
                Span::styled(format!(" {} {kind}：{ask}", i + 1), row_style),
            ])
        })
        .collect()
}

/// The detail of a question: its options and, once answered, the verdict and reason.
///
/// `sel` is the item's index in the checkpoint, the key `answers` is stored under. The
/// stored answer and `q.answer` are both 1-based (the key pressed), so they compare as is.
fn question_lines(app: &App, lesson: &str, sel: usize, q: &Question) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    let dim = Style::new().fg(Color::DarkGray);
    lines.push(Line::styled(q.ask.clone(), Style::new().bold()));
    // `1)` and not `A.`: the label is the key to press, so reading it and answering are
    // the same act; the two-space indent survives because `render` wraps with `trim: false`.
    for (k, o) in q.options.iter().enumerate() {
        lines.push(Line::raw(format!("  {}) {o}", k + 1)));
    }
    // Past nine options the hint says how to type 10–12, and a first digit typed shows,
    // so a `1` that waits for its second digit does not look like an ignored key. Up to
    // nine, the hint stays the old one-liner: the common case keeps its snapshot and its
    // one-key answer, and two-digit typing is explained only where it is needed.
    let pending = app.checkpoint_view.pending;
    if let Some(d) = pending {
        lines.push(Line::styled(format!("已输入 {d}：再输入一位数字，或按 Enter 选 {d}。"), dim));
    }
    match answer(app, lesson, sel) {
        None if pending.is_some() => {}
        None if q.options.len() > 9 => {
            lines.push(Line::styled("按数字键作答：两位数的选项连按两位（如 1 0）。", dim))
        }
        None => lines.push(Line::styled("按数字键作答。", dim)),
        // The render only reads: the pass itself was recorded by the key handler
        // (`App::checkpoint_key`), so a redraw can never pass an item twice.
        Some(a) => {
            let right = a == q.answer;
            let verdict = if right {
                Span::styled(format!("✔ 答对了（{a}）"), Style::new().fg(Color::Green))
            } else {
                Span::styled(format!("✘ {a} 不对，再试一次"), Style::new().fg(Color::Red))
            };
            lines.push(Line::from(verdict));
            // Right or wrong alike, see the module doc: the reason is the lesson.
            lines.push(Line::raw(q.explain.clone()));
        }
    }
    lines
}

/// The detail of a task: its hint, its last check run and, once passed, the explanation.
///
/// The run shown is looked up under the same `Purpose::Task` the key handler started it
/// with; the pass is read from `progress`, so a task passed yesterday shows ✔ with no run.
fn task_lines(
    app: &App,
    lesson: &str,
    cp: &Checkpoint,
    sel: usize,
    t: &Task,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = Vec::new();
    let dim = Style::new().fg(Color::DarkGray);
    lines.push(Line::styled(t.ask.clone(), Style::new().bold()));
    if let Some(h) = &t.hint {
        lines.push(Line::styled(format!("提示：{h}"), dim));
    }
    // The same key the run was started under (`App::start_run`), so the result shown
    // is this item's last run and never another task's output.
    let purpose = Purpose::Task { lesson: lesson.to_string(), item: sel };
    match app.runs.results.get(&purpose) {
        None => lines.push(Line::styled("完成后按 Enter，让实验室在环境上验证。", dim)),
        Some(status) => {
            // Yellow whatever the exit: the run's status says that the check ran and how it
            // ended; whether the task is done is the `✔ 已通过` line below, from progress.
            lines.push(Line::styled(
                status.status_line(app.runs.tick),
                Style::new().fg(Color::Yellow),
            ));
            // The check's own report is its last line of output (the format asks for one
            // Chinese line saying what it saw); earlier lines are the script's noise.
            // Nothing while it runs: a half-printed check has not said what it saw yet.
            // A broken check is said in red with bash's words, so `X: unbound variable`
            // never reads as the check's verdict on the learner's work.
            if let RunStatus::Done(o) = status {
                match o.verdict() {
                    Verdict::Broken(why) => lines.push(Line::styled(
                        format!("检查脚本本身出错：{why}"),
                        Style::new().fg(Color::Red),
                    )),
                    _ => {
                        if let Some(last) = o.lines.iter().rev().find(|l| !l.trim().is_empty()) {
                            lines.push(Line::raw(format!("检查结果：{last}")));
                        }
                    }
                }
            }
        }
    }
    // A task's explanation waits for the pass, unlike a question's: before it, the
    // explanation would read as the recipe and the check would verify copying.
    if app.progress.has_passed(lesson, &cp.item_id(sel)) {
        lines.push(Line::styled("✔ 已通过", Style::new().fg(Color::Green)));
        lines.push(Line::raw(t.explain.clone()));
    }
    lines
}

/// The option last chosen (1-based) for item `i` of `lesson`, if any.
///
/// Session state only (`CheckpointView`), never saved: what persists is the pass, in
/// progress.json; a wrong answer from last week has nothing to teach on reopening.
fn answer(app: &App, lesson: &str, i: usize) -> Option<usize> {
    app.checkpoint_view.answers.get(&(lesson.to_string(), i)).copied()
}
