//! The Day 35 screen: one bar per user-service instance (calls it served in the last
//! second), Consul's verdict next to it, and what the last `kill -9` cost.
//!
//! Two counts per instance on purpose: *served* comes from the instance's own `/metrics`
//! and vanishes the moment it dies; *sent* comes from the gateway's discovery counters and
//! keeps showing whether the client still aims at a dead address — the difference between
//! the two is exactly what passive ejection removes.
//!
//! Reading the screen after `k`: the killed instance's bar loses its number at once (no
//! process, no `/metrics`), its *网关发出* figure stops growing once the gateway ejects it
//! on the first failed call (about 100 ms in the lesson's measurements), its Consul column
//! turns red after the next health check (the lab checks every second; the course's 10 s
//! would make it ten times slower), and the status line's failure count should stay 0
//! throughout — the lesson's claim is that a crash costs re-sends, not errors. Each of
//! those moments is timed in the kill box at the bottom, relative to the kill; the screen
//! itself refreshes once a second, so the box, not the bars, is where the timings are read.
//!
//! Layout budget at 80×24 (22 body rows): status 1 + instance bars `Min(5)` + instance
//! table (border, header, a row per instance, border — at least three rows) + kill box 4.
//! The table, where `k` aims, takes the rows its instances need and the bars what is left:
//! six instances fit both at 80×24 (table 9 rows, bars 8). From the seventh the bars show
//! the first ones only; the table keeps every row up to nine, and past that scrolls to
//! keep the `▶` row in view. A larger terminal gives the bars the extra rows.

use ratatui::{
    Frame,
    layout::{Constraint, Direction, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Row, Table, TableState, Wrap},
};

use crate::{
    app::{App, DiscoveryState},
    experiments::discovery::{InstanceView, kill_line},
};

/// Draws the screen; returns its title and keys.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let d = &app.discovery;
    // `k`, `s` and `-` act on the selected row (↑↓), `+` needs no row: the supervisor picks
    // a free port. Letters rather than Enter for the actions because Enter starts the load,
    // and a second Enter that killed something would be a nasty surprise.
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
    let instances = d.tick.as_ref().map(|t| t.instances.as_slice()).unwrap_or_default();
    // Border, header and border around one row per instance, at least three so the box
    // does not jump while the first instances register.
    let table_rows = instances.len().max(3) as u16 + 3;
    let [status_area, bars_area, table_area, kill_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(table_rows),
        // Two lines inside the border: the kill's figures are one long sentence that
        // wraps at 80 columns.
        Constraint::Length(4),
    ])
    .areas(area);

    render_status(frame, status_area, d);
    render_bars(frame, bars_area, instances);
    render_table(frame, table_area, d, instances);
    render_kill(frame, kill_area, d);
    (title, keys)
}

/// The status line: the load's totals, or what to do before it starts.
fn render_status(frame: &mut Frame, area: Rect, d: &DiscoveryState) {
    // The status line is the load's own view (client side, every request counted): what a
    // customer would feel, and its failure count is the one figure a kill must not move.
    let status = match (&d.error, &d.tick) {
        (Some(e), _) => format!("失败：{e}"),
        // The idle hint names the one request the load makes, so the learner can repeat it
        // with curl and knows both reads behind it (ValidateToken, GetUser) may be re-sent.
        (None, None) if !d.running => {
            "按 Enter 开始：经网关的稳定负载（GET /api/v1/users/me）".into()
        }
        // Running but no tick yet: a fresh user registers and logs in first, and the first
        // tick comes about a second later — with `-` for every instance, since a per-second
        // rate needs two samples of the counters.
        (None, None) => "正在登录、启动负载…".into(),
        // `rps` counts successful requests of the last second only (see the runner's
        // `Tick`), so a dip here after a kill is the re-sends' extra latency, and `failed` is
        // the run's total — it never goes back down, so one failure stays visible.
        (None, Some(t)) => format!(
            "{} 个并发调用方 · {:.0} 请求/秒 · 成功 {} · 失败 {} · p99 {}",
            d.workers,
            t.rps,
            t.ok,
            t.failed,
            t.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms"))
        ),
    };
    // Red on the first failed request: that is the lesson's claim broken (a kill should
    // cost none), and it must be seen without reading the digits.
    let style = if d.tick.as_ref().is_some_and(|t| t.failed > 0) {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    frame.render_widget(Line::styled(status, style), area);
}

/// One horizontal bar per instance: its served rate, coloured by Consul's verdict.
///
/// No instances yet (before the first tick) draws the border alone, so the layout does not
/// move when the first rows arrive; more instances than rows show the first ones only.
fn render_bars(frame: &mut Frame, area: Rect, instances: &[InstanceView]) {
    // Two sources on one bar, on purpose: the length is what the instance itself served
    // (`served_qps`), the colour is Consul's verdict. Until the next health check after a
    // kill the bar can be empty with `-` and still green — the window in which Consul still
    // believes in a dead process (up to 10 s with the course's interval), which is why the
    // gateway cannot wait for Consul before it stops sending.
    // An unscraped instance draws as 0 in length but `-` in text: DON'T print "0/s" for
    // "could not ask", a live idle instance and a dead one must look different.
    let bars: Vec<Bar> = instances
        .iter()
        .map(|i| {
            // Rounded to whole calls per second: the bar's length is a `u64`, and a
            // fraction of a call per second is below what one row of bar can show.
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
        // Horizontal bars one row high and no gap: one row per instance, so the chart fits
        // as many instances as the table and the labels sit left of the bars where they can
        // be read; vertical bars at 80 columns would leave room for labels of three letters.
        .direction(Direction::Horizontal)
        .bar_width(1)
        .bar_gap(0)
        .data(BarGroup::default().bars(&bars));
    frame.render_widget(chart, area);
}

/// The control panel: one row per instance, `▶` on the one the keys act on.
fn render_table(frame: &mut Frame, area: Rect, d: &DiscoveryState, instances: &[InstanceView]) {
    // The table is the control panel: `▶` marks the row `k`/`s`/`-` act on, and a row not
    // passing in Consul is red like its bar, so the two halves of the screen agree at a
    // glance. *网关发出* is the gateway's per-address counter (`upstream_requests_total`):
    // it shows whether the client still aims at an address, which the instance's own
    // count cannot show once the process is gone.
    // The `▶` is matched by label, not by row index: the rows re-sort every second (an
    // added instance, a deregistered one), and an index would move the selection under
    // the learner's finger.
    let rows = instances.iter().map(|i| {
        let marker = if d.selected.as_ref() == Some(&i.label) { "▶" } else { " " };
        let style = if i.consul == "passing" { Style::new() } else { Style::new().fg(Color::Red) };
        Row::new(vec![
            format!("{marker}{}", i.label),
            i.address.clone(),
            i.consul.clone(),
            i.sent_qps.map_or("-".into(), |q| format!("{q:.0}/s")),
        ])
        .style(style)
    });
    // Widths for what the columns hold: `▶user@65535` (11), `127.0.0.1:65535` (15), the
    // longest Consul status `critical` (8). The four columns and their gaps take about 50
    // of 78 inner columns, so nothing is cut at 80×24.
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
    // More instances than the box has rows (a tenth at 80×24): `TableState` scrolls so
    // the selected row is drawn, rebuilt each frame like the home screen's list, so the
    // selection stays the state's and only the scroll is the widget's. ❌ DON'T let the
    // `▶` fall below the border: `k` would then kill a process the learner cannot see.
    let mut state = TableState::default().with_selected(d.selected_row());
    frame.render_stateful_widget(table, area, &mut state);
}

/// The last kill's timeline, or what a kill will measure.
fn render_kill(frame: &mut Frame, area: Rect, d: &DiscoveryState) {
    // `kill_line` is shared with the plain output of `lesson day35 --no-tui`, so the screen,
    // the script and the supervisor test (which asserts on `负载失败 0 次`) read the same
    // sentence; until the first kill the box says what to do and what will be measured.
    let kill = d.tick.as_ref().and_then(|t| t.kill.as_ref()).map_or_else(
        || "选一个实例按 k：看它死后网关还往它发了多久、失败了几个请求".into(),
        kill_line,
    );
    frame.render_widget(
        Paragraph::new(kill)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" 最近一次 kill -9 ")),
        area,
    );
}
