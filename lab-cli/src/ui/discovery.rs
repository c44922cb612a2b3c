//! The Day 35 screen: one bar per user-service instance (calls it served in the last
//! second), Consul's verdict next to it, and what the last `kill -9` cost.
//!
//! Two counts per instance on purpose: *served* comes from the instance's own `/metrics`
//! and vanishes the moment it dies; *sent* comes from the gateway's discovery counters and
//! keeps showing whether the client still aims at a dead address — the difference between
//! the two is exactly what passive ejection removes.

use ratatui::{
    Frame,
    layout::{Constraint, Direction, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Row, Table, Wrap},
};

use crate::{app::App, experiments::discovery::kill_line};

/// Draws the screen; returns its title and keys.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let d = &app.discovery;
    let keys: &'static [(&'static str, &'static str)] = &[
        ("Enter", "开始"),
        ("↑↓", "选择"),
        ("k", "kill -9"),
        ("s", "重启"),
        ("+", "加实例"),
        ("-", "停止"),
        ("Esc", "返回"),
    ];
    let title = "Day 35 服务发现".to_string();
    let [status_area, bars_area, table_area, kill_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(6),
        // Two lines inside the border: the kill's figures are one long sentence that
        // wraps at 80 columns.
        Constraint::Length(4),
    ])
    .areas(area);

    let status = match (&d.error, &d.tick) {
        (Some(e), _) => format!("失败：{e}"),
        (None, None) if !d.running => {
            "按 Enter 开始：经网关的稳定负载（GET /api/v1/users/me）".into()
        }
        (None, None) => "正在登录、启动负载…".into(),
        (None, Some(t)) => format!(
            "{} 个并发调用方 · {:.0} 请求/秒 · 成功 {} · 失败 {} · p99 {}",
            d.workers,
            t.rps,
            t.ok,
            t.failed,
            t.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms"))
        ),
    };
    let style = if d.tick.as_ref().is_some_and(|t| t.failed > 0) {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    frame.render_widget(Line::styled(status, style), status_area);

    let instances = d.tick.as_ref().map(|t| t.instances.as_slice()).unwrap_or_default();
    let bars: Vec<Bar> = instances
        .iter()
        .map(|i| {
            let v = i.served_qps.unwrap_or(0.0).round() as u64;
            let colour = if i.consul == "passing" { Color::Green } else { Color::Red };
            Bar::default()
                .label(Line::from(i.label.clone()))
                .value(v)
                .text_value(i.served_qps.map_or("-".into(), |q| format!("{q:.0}/s")))
                .style(Style::new().fg(colour))
        })
        .collect();
    let chart = BarChart::default()
        .block(Block::bordered().title(" 每个实例每秒处理的调用（来自实例自己的 /metrics） "))
        .direction(Direction::Horizontal)
        .bar_width(1)
        .bar_gap(0)
        .data(BarGroup::default().bars(&bars));
    frame.render_widget(chart, bars_area);

    let rows = instances.iter().enumerate().map(|(n, i)| {
        let marker = if n == d.selected { "▶" } else { " " };
        let style = if i.consul == "passing" { Style::new() } else { Style::new().fg(Color::Red) };
        Row::new(vec![
            format!("{marker}{}", i.label),
            i.address.clone(),
            i.consul.clone(),
            i.sent_qps.map_or("-".into(), |q| format!("{q:.0}/s")),
        ])
        .style(style)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(17),
            Constraint::Length(10),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new(["实例", "地址", "Consul", "网关发出"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(Block::bordered().title(" 实例（来自 Consul 的健康列表） "));
    frame.render_widget(table, table_area);

    let kill = d.tick.as_ref().and_then(|t| t.kill.as_ref()).map_or_else(
        || "选一个实例按 k：看它死后网关还往它发了多久、失败了几个请求".into(),
        kill_line,
    );
    frame.render_widget(
        Paragraph::new(kill)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" 最近一次 kill -9 ")),
        kill_area,
    );
    (title, keys)
}
