//! Day 33–34's payments screen: the timeline of the scenario on screen, the book's stock
//! before and after it, and the verdict of each of the four scenarios.
//!
//! Layout budget at 80×24: title 1 + status 1 + verdicts box 6 (border, 4 scenarios,
//! border) + stock box 4 (border, before, after, border) + timeline box `Min(4)` + key
//! line 1; a notice takes its rows from the timeline, which then shows its newest steps.
//!
//! Reading the screen: every scenario's line must be green. The timeline's times are
//! milliseconds after the lab sent CreateOrder, measured by the lab's clock as it polls
//! (every 50 ms, each poll reading the payment, the order and the stock), so each step is
//! at most one poll and its three reads late — the gateway's "+3.0 s" is the service's own
//! `due_at`, the other steps are what the lab saw when.

//! What a red row would mean, scenario by scenario:
//! - 1 (timeline): the payment never settled or the stock did not move — a worker is not
//!   running, or order-service refused the service credential (see payment's log);
//! - 2 (duplicates): more than one callback took effect, or two confirms — a settle that
//!   does not check the payment's state under its row lock;
//! - 3 (kill -9): the payment stayed Pending after the restart — the promise was kept in
//!   memory, the course's `go func(){ sleep }` bug;
//! - 4 (refund): the order came back as Paid or a unit was sold — the relay "fixed" the
//!   order instead of refunding.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, Paragraph},
};

use crate::{
    app::{App, PaymentsState, payments::mark},
    experiments::{
        orders::StockView,
        payments::{Report, Scenario},
    },
};

/// Draws the payments screen; returns its title and keys.
///
/// Reads `app.payments` only: `reports` (one slot per scenario, filled when it ends),
/// `steps` (the timeline of the scenario running or last run) and `shown`, which picks
/// the scenario the stock box and the timeline's title belong to.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let p = &app.payments;
    // Fixed heights for the verdicts and the stock (they never grow: four scenarios, two
    // rows), and the remainder for the timeline, the only part whose length varies — nine
    // steps for the crash scenario, which fit at 80×24 without a notice.
    let [status_area, verdict_area, stock_area, timeline_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Min(4),
    ])
    .areas(area);

    frame.render_widget(status_line(p), status_area);

    // All four rows always, in the lesson's order, "未运行" until run: the box is the
    // lesson's checklist, and a row that appeared only after its run would make the
    // learner wonder which scenarios exist.
    let lines: Vec<Line> = Scenario::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| verdict_line(i + 1, *s, p.reports[PaymentsState::slot(*s)].as_ref()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" 四个场景 · 不变量 ")),
        verdict_area,
    );

    frame.render_widget(
        Paragraph::new(stock_lines(p))
            .block(Block::bordered().title(" 库存（inventory GetStock） ")),
        stock_area,
    );

    let title = match p.shown {
        Some(s) => format!(" 时间线：{} ", s.label()),
        None => " 时间线 ".into(),
    };
    frame.render_widget(
        Paragraph::new(timeline_lines(p, timeline_area.height))
            .block(Block::bordered().title(title)),
        timeline_area,
    );

    // Digits, not mnemonic letters: the four scenarios are the lesson's numbered list, and
    // `r`, `c`, `e`, `f` already mean other things on the orders screen next door.
    const KEYS: &[(&str, &str)] = &[
        ("1", "时间线"),
        ("2", "重复回调"),
        ("3", "kill -9"),
        ("4", "取消后支付"),
        ("Esc", "返回"),
        ("q", "退出"),
    ];
    ("支付实验：回调、幂等、崩溃与退款（Day 33–34）".into(), KEYS)
}

/// The status line: the session's book, then the running scenario, the error or the hint.
fn status_line(p: &PaymentsState) -> Line<'static> {
    // The book id leads the status line so a learner can follow the same book with
    // grpcurl GetStock / GetStockLog in another terminal while the scenarios run.
    let book = p.setup.as_ref().map_or(String::new(), |s| format!("图书 #{} · ", s.book));
    // The error replaces the hint, not the boxes: the verdicts of earlier scenarios stay
    // true after a later one failed (a stopped gateway does not unsell a unit).
    // While a scenario runs the status names it: the timeline below belongs to it, and the
    // stock box is hidden until it ends (see below).
    let status = if let Some(e) = &p.error {
        format!("失败：{e}")
    } else if let Some(s) = p.running {
        format!("运行中：{}…", s.label())
    } else {
        "按 1–4 运行一个场景（每个场景下一单、付一次款）".into()
    };
    Line::styled(format!("{book}{status}"), Style::new().add_modifier(Modifier::BOLD))
}

/// The stock box: before and after of the scenario on screen, once it has ended.
fn stock_lines(p: &PaymentsState) -> Vec<Line<'static>> {
    // Before/after of the scenario on screen, the four counters inventory keeps: the
    // difference is the claim ("sold +1 exactly once", "refund: sold +0"), so both rows are
    // shown rather than only the deltas — a learner can check the arithmetic.
    let shown = p.shown.and_then(|s| p.reports[PaymentsState::slot(s)].as_ref());
    // Hidden while a scenario runs: the previous scenario's before/after under the new
    // scenario's title would pair the wrong numbers with the wrong timeline.
    match shown.filter(|_| p.running.is_none()) {
        Some(r) => vec![stock_line("之前", &r.before), stock_line("之后", &r.after)],
        None => vec![Line::from("（场景结束后显示 GetStock 的前后对比）")],
    }
}

/// The timeline box: the newest steps that fit in `height` rows, or the hint before any.
///
/// `height` is the box's outer height, borders included, as the layout gave it.
fn timeline_lines(p: &PaymentsState, height: u16) -> Vec<Line<'static>> {
    // The newest steps that fit: the end of a scenario (SUCCESS, Paid, sold) is what the
    // learner waits for; the first steps are on screen before the box can overflow.
    // Not wrapped: a wrapped step takes two rows, and counting rows instead of steps would
    // push the newest step off the bottom. A step text is written to fit 78 columns; one
    // that does not is cut at the border, which the snapshot test would show.
    let room = height.saturating_sub(2) as usize;
    let skip = p.steps.len().saturating_sub(room);
    let mut lines: Vec<Line> = p
        .steps
        .iter()
        .skip(skip)
        // Seconds with milliseconds: the gaps that matter are 3 s (the gateway) and tens of
        // ms (the relay after it); one format shows both without switching units. The `+`
        // makes each time read as an offset from CreateOrder, the timeline's zero, not as a
        // time of day.
        .map(|s| Line::from(format!("{:>+8.3}s  {}", s.at_ms as f64 / 1000.0, s.what)))
        .collect();
    if lines.is_empty() {
        lines.push(Line::from("（按 1 看一次支付从下单到出库的每一步）"));
    }
    lines
}

// One line per scenario, green or red by the report's own verdict (the same function the
// tests and the plain output use, so the colour cannot disagree with them).
/// `1 时间线   ✔ SUCCESS/PAID · sold +1 · 出库 1 次`, or "not run yet".
///
/// `key` is the digit that runs the scenario, its 1-based place in `Scenario::ALL`.
fn verdict_line(key: usize, s: Scenario, r: Option<&Report>) -> Line<'static> {
    // Grey, not red: a scenario not run yet has broken nothing.
    let Some(r) = r else {
        return Line::styled(
            format!("{key} {}：未运行", s.label()),
            Style::new().fg(Color::DarkGray),
        );
    };
    // The row's colour is `Report::verdict`, which also demands `locked` unchanged: a
    // payment that settled but left its lock behind is red here even with sold +1.
    let (ok, _) = r.verdict();
    let color = if ok { Color::Green } else { Color::Red };
    // The one figure each scenario exists for, after the common ones: the duplicates'
    // "1 effective / 99 no-ops" (payment-service's own counter), the kill's old → new pid
    // (proof that a different process finished the payment).
    // Only scenario 2 has `callbacks` and only scenario 3 a `restart`, so at most one arm
    // applies. The counter's figures are omitted, not shown as 0, when payment-service's
    // `/metrics` could not be read: "0 effective" would claim the settle never happened.
    let extra = match (&r.callbacks, &r.restart) {
        (Some(c), _) => match (c.changed, c.unchanged) {
            (Some(y), Some(n)) => format!(" · 回调生效 {y} / 空操作 {n}"),
            _ => String::new(),
        },
        (_, Some(x)) => format!(" · pid {} → {}", x.killed_pid, x.new_pid),
        _ => String::new(),
    };
    // `{:+}` so the refund row reads `sold +0`, an explicit claim, not a missing number;
    // *出库* counts this order's confirms in inventory's stock log (MySQL), a second store
    // that must agree with Redis's `sold`.
    Line::styled(
        format!(
            "{key} {} {} {}/{} · sold {:+} · 出库 {} 次{extra}",
            s.short(),
            mark(ok),
            status_word(r),
            order_word(r),
            r.after.sold - r.before.sold,
            r.confirms
        ),
        Style::new().fg(color),
    )
}

// The proto's names without their prefix (`SUCCESS`, `PAID`), exactly as grpcurl prints
// them in the lesson's commands; `{:?}` would print `Success`, which matches neither the
// lesson nor grpcurl, and a hand-written table would drift when a status is added.
/// The payment's final status as grpcurl prints it, without its enum prefix.
fn status_word(r: &Report) -> &'static str {
    r.payment_status.as_str_name().trim_start_matches("PAYMENT_STATUS_")
}

/// The order's final status, the same way: `PAID`, `CANCELLED`, as in the lesson.
fn order_word(r: &Report) -> &'static str {
    r.order_status.as_str_name().trim_start_matches("ORDER_STATUS_")
}

/// One GetStock sample as a row of the stock box, prefixed by `label` (之前 / 之后).
// All four counters, `total` included: `available + locked + sold = total` is the
// conservation check of Day 31–32, and a payment must keep it too.
fn stock_line(label: &str, s: &StockView) -> Line<'static> {
    Line::from(format!(
        "{label}  available {} · locked {} · sold {} · total {}",
        s.available, s.locked, s.sold, s.total
    ))
}
