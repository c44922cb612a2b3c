//! Day 33–34's payments screen: the timeline of the scenario on screen, the book's stock
//! before and after it, and the verdict of each of the four scenarios.
//!
//! Layout budget at 80×24: title 1 + status 1 + verdicts box 6 (border, 4 scenarios,
//! border) + stock box 4 (border, before, after, border) + timeline box `Min(4)` + key
//! line 1; a notice takes its rows from the timeline, which then shows its newest steps.
//!
//! Reading the screen: every scenario's line must be green. The timeline's times are
//! milliseconds after CreateOrder left the lab, measured by the lab's clock as it polls
//! (every 50 ms), so each step is at most one poll late — the gateway's "+3.0 s" is the
//! service's own `due_at`, the other steps are what the lab saw when.

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
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let p = &app.payments;
    let [status_area, verdict_area, stock_area, timeline_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Min(4),
    ])
    .areas(area);

    let book = p.setup.as_ref().map_or(String::new(), |s| format!("图书 #{} · ", s.book));
    let status = if let Some(e) = &p.error {
        format!("失败：{e}")
    } else if let Some(s) = p.running {
        format!("运行中：{}…", s.label())
    } else {
        "按 1–4 运行一个场景（每个场景下一单、付一次款）".into()
    };
    frame.render_widget(
        Line::styled(format!("{book}{status}"), Style::new().add_modifier(Modifier::BOLD)),
        status_area,
    );

    let lines: Vec<Line> = Scenario::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| verdict_line(i + 1, *s, p.reports[PaymentsState::slot(*s)].as_ref()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" 四个场景 · 不变量 ")),
        verdict_area,
    );

    // Before/after of the scenario on screen, the four counters inventory keeps: the
    // difference is the claim ("sold +1 exactly once", "refund: sold +0"), so both rows are
    // shown rather than only the deltas — a learner can check the arithmetic.
    let shown = p.shown.and_then(|s| p.reports[PaymentsState::slot(s)].as_ref());
    let stock_lines = match shown.filter(|_| p.running.is_none()) {
        Some(r) => vec![stock_line("之前", &r.before), stock_line("之后", &r.after)],
        None => vec![Line::from("（场景结束后显示 GetStock 的前后对比）")],
    };
    frame.render_widget(
        Paragraph::new(stock_lines).block(Block::bordered().title(" 库存（inventory GetStock） ")),
        stock_area,
    );

    // The newest steps that fit: the end of a scenario (SUCCESS, Paid, sold) is what the
    // learner waits for; the first steps are on screen before the box can overflow.
    let room = timeline_area.height.saturating_sub(2) as usize;
    let skip = p.steps.len().saturating_sub(room);
    let mut lines: Vec<Line> = p
        .steps
        .iter()
        .skip(skip)
        .map(|s| Line::from(format!("{:>+8.3}s  {}", s.at_ms as f64 / 1000.0, s.what)))
        .collect();
    if lines.is_empty() {
        lines.push(Line::from("（按 1 看一次支付从下单到出库的每一步）"));
    }
    let title = match p.shown {
        Some(s) => format!(" 时间线：{} ", s.label()),
        None => " 时间线 ".into(),
    };
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), timeline_area);

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

// One line per scenario, green or red by the report's own verdict (the same function the
// tests and the plain output use, so the colour cannot disagree with them).
/// `1 时间线   ✔ SUCCESS/Paid · sold +1 · 出库 1 次`, or "not run yet".
fn verdict_line(key: usize, s: Scenario, r: Option<&Report>) -> Line<'static> {
    let Some(r) = r else {
        return Line::styled(
            format!("{key} {}：未运行", s.label()),
            Style::new().fg(Color::DarkGray),
        );
    };
    let (ok, _) = r.verdict();
    let color = if ok { Color::Green } else { Color::Red };
    let extra = match (&r.callbacks, &r.restart) {
        (Some(c), _) => match (c.changed, c.unchanged) {
            (Some(y), Some(n)) => format!(" · 回调生效 {y} / 空操作 {n}"),
            _ => String::new(),
        },
        (_, Some(x)) => format!(" · pid {} → {}", x.killed_pid, x.new_pid),
        _ => String::new(),
    };
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

fn status_word(r: &Report) -> &'static str {
    use bookstore_proto::payment::PaymentStatus as P;
    match r.payment_status {
        P::Success => "SUCCESS",
        P::Refunded => "REFUNDED",
        P::Failed => "FAILED",
        P::Pending => "PENDING",
        P::Unspecified => "?",
    }
}

fn order_word(r: &Report) -> &'static str {
    use bookstore_proto::order::OrderStatus as O;
    match r.order_status {
        O::Paid => "Paid",
        O::Cancelled => "Cancelled",
        O::Pending => "Pending",
        O::Shipped => "Shipped",
        O::Completed => "Completed",
        O::Unspecified => "?",
    }
}

fn stock_line(label: &str, s: &StockView) -> Line<'static> {
    Line::from(format!(
        "{label}  available {} · locked {} · sold {} · total {}",
        s.available, s.locked, s.sold, s.total
    ))
}
