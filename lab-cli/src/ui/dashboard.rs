//! The dashboard: one row per component of the running stack.
//!
//! The screen only shows what `dashboard::Poller` measured; it computes nothing. The
//! poller runs only while this screen is visible (see `tui::spawn_dashboard`), so the
//! first frame says "正在读取…" for up to a second instead of showing stale numbers.
//!
//! What each column means, and where it comes from:
//! - 健康: the component's own health protocol (`grpc.health.v1` for services,
//!   `SELECT VERSION()` for MariaDB, `INFO` for Redis, the leader for Consul) — not "the
//!   port is open", which a wedged process still passes;
//! - QPS / p99: interval rates from two `/metrics` scrapes (see `crate::metrics`);
//!   p99 is only as precise as the service's histogram buckets;
//! - 错误率: non-OK answers over all answers in the last minute (the gateway: 5xx), from
//!   the request counter's `code` / `status` label (`dashboard::History::error_rate`);
//! - 命中率: catalog's `cache_requests_total` hits over lookups in the interval;
//! - the two charts: each service's QPS and p99 over the last minute, one point per refresh;
//!   a service's name in the table is drawn in its line's colour, so the table is the legend;
//! - the last box: sums over MySQL's inventory ledger, where `可用 + 锁定 + 已售 = 总量`
//!   must hold at all times (DESIGN.md §4). If it does not, something bypassed the ledger.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    symbols::Marker,
    text::{Line, Span},
    widgets::{Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table},
};

use super::chart::{axis, nice_ceil, short as label};
use crate::{
    app::App,
    dashboard::{DashboardSnapshot, ServiceRow, WINDOW_SECS},
};

// Eight colours that read on dark and light terminals, none of them red (red is an
// unhealthy row) — more services than colours repeat them, which the table then shows.
const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::Green,
    Color::LightBlue,
    Color::LightYellow,
    Color::LightMagenta,
    Color::LightGreen,
];

/// Draws the dashboard; returns its title and keys.
///
/// "-" means "not measured" (no metrics endpoint, or no request in the last interval),
/// never zero: a p99 of 0 ms would be a lie, and a QPS of 0 on a service that was not
/// scraped would hide that the scrape failed. An unhealthy row shows the error instead of
/// the address, because the error is what the learner needs in order to act.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    // The table takes its natural height (a row per component, header, two borders), the
    // stock totals one line, and the charts whatever is left: with the course's nine
    // components that is 9 rows at 80×24 (5 of them plot) and 27 at 120×40. The table
    // comes first because health is what a learner looks for first; the charts explain it.
    // `Length`, not `Min`, for the table: a `Min` table would take every spare row as blank
    // table body (the old layout did) and leave the charts nothing. With more instances
    // than the terminal has rows (replicas at 80×24), the charts' `Min(0)` is what gives way
    // first, and the height check below then skips them rather than drawing empty frames.
    let rows_len = app.dashboard.as_ref().map_or(0, |d| d.rows.len()) as u16;
    let [table_area, charts_area, stock_area] = Layout::vertical([
        Constraint::Length(rows_len + 3),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    // No refresh key: the poller refreshes every second while this screen is visible, so a
    // manual refresh would only add a second code path to the same data.
    let keys: &'static [(&'static str, &'static str)] = &[("Esc", "返回"), ("q", "退出")];
    // Two empty states with different messages: "no data yet" (the first poll has not
    // returned) is not "no stack" (the poll returned and found nothing) — the second tells
    // the learner what to run.
    let Some(d) = &app.dashboard else {
        frame.render_widget(
            Paragraph::new("正在读取各组件的健康状态与指标…").block(Block::bordered()),
            area,
        );
        return ("仪表盘".into(), keys);
    };
    if d.rows.is_empty() {
        frame.render_widget(
            Paragraph::new("没有正在运行的环境。运行 `bookstore-lab up` 启动。")
                .block(Block::bordered()),
            area,
        );
        return ("仪表盘".into(), keys);
    }
    // Computed once per frame and shared by the table and both charts, so a service's name
    // and its two lines can never get different colours.
    let colours = line_colours(&d.rows);
    frame.render_widget(service_table(d, &colours), table_area);
    // Below 6 rows a chart has no plot rows left after its border and x axis: skip both
    // rather than draw two empty frames (a notice or a long instance list can do that).
    if charts_area.height >= 6 {
        // Side by side with the same x axis, so a moment reads straight down both: a QPS
        // spike and the p99 step it caused sit at the same column. One above the other would
        // halve each chart's height, and height is the scarce direction at 24 rows.
        let [qps_area, p99_area] =
            Layout::horizontal([Constraint::Percentage(50); 2]).areas(charts_area);
        let qps: Vec<_> = d.rows.iter().map(|r| r.qps_line.as_slice()).collect();
        let p99: Vec<_> = d.rows.iter().map(|r| r.p99_line.as_slice()).collect();
        render_chart(frame, qps_area, " QPS · 最近 60 秒 ", "次/秒", &qps, &colours);
        render_chart(frame, p99_area, " p99 · 最近 60 秒 ", "ms", &p99, &colours);
    }
    // One line, not a bordered box: at 80×24 the two border rows are worth more as plot.
    frame.render_widget(stock_line(d), stock_area);
    ("仪表盘".into(), keys)
}

/// The table: one row per component, its name in its chart line's colour.
fn service_table(d: &DashboardSnapshot, colours: &[Option<Color>]) -> Table<'static> {
    let rows = d.rows.iter().zip(colours).map(|(r, colour)| {
        // Health colours the whole row: its `/metrics` may still answer while the health
        // check fails, and red says "read the error in the last column before the rates".
        let style = if r.healthy { Style::new() } else { Style::new().fg(Color::Red) };
        // The name cell carries the row's line colour: the charts below have no legend box
        // of their own (at 40 columns it would hide half the plot).
        let name = match colour {
            Some(c) => Cell::from(r.name.clone()).style(Style::new().fg(*c)),
            None => Cell::from(r.name.clone()),
        };
        // `✔ 正常` / `✘ 异常` spell the state out next to the symbol, for the same reason the
        // race screen writes its numbers: captures and monochrome terminals drop colour.
        Row::new(vec![
            name,
            Cell::from(if r.healthy { "✔ 正常" } else { "✘ 异常" }),
            Cell::from(r.consul.clone().unwrap_or_else(|| "-".into())),
            Cell::from(r.qps.map_or("-".into(), |q| format!("{q:.1}"))),
            // The p99 is interpolated inside a histogram bucket (`crate::metrics`): its decimal
            // is a reading aid, the real precision is the bucket's width.
            Cell::from(r.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms"))),
            // One decimal: 0.4 % (4 in 1000) is a normal NotFound share, 40 % an outage, and
            // both must read differently from "0.0 %" (no errors at all).
            Cell::from(r.error_rate.map_or("-".into(), |e| format!("{:.1}%", e * 100.0))),
            Cell::from(r.hit_rate.map_or("-".into(), |h| format!("{:.1}%", h * 100.0))),
            Cell::from(if r.healthy { short(&r.address) } else { r.detail.clone() }),
        ])
        .style(style)
    });
    // Widths chosen so name, health, Consul, QPS, p99, error and hit rate take 56 columns
    // plus 7 gaps, leaving 15 of the 78 inner columns for the address (`127.0.0.1:33097`,
    // exactly 15) or error. A longer error is cut at the border; `bookstore-lab status`
    // prints it in full — the screen points, the command explains.
    Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["组件", "健康", "Consul", "QPS", "p99", "错误率", "命中率", "地址 / 错误"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    // The top title says which window each figure covers (they differ on purpose, see the
    // module docs); the bottom one states the sources, so a learner who doubts a number
    // knows where to check it by hand (grpcurl, `curl …/metrics`).
    .block(
        Block::bordered()
            .title(" 每秒刷新 · QPS/p99/命中率：最近 1 秒 · 错误率：最近 60 秒 ")
            .title_bottom(" 实例来自 Consul · 健康来自 grpc.health.v1 · 指标来自 /metrics "),
    )
}

/// The stock line: the ledger's sums, or why they cannot be read.
fn stock_line(d: &DashboardSnapshot) -> Line<'static> {
    let stock = match d.stock {
        Some(t) => format!(
            "{} 本书 · 可用 {} · 锁定 {} · 已售 {} · 总量 {}",
            t.books, t.available, t.locked, t.sold, t.total
        ),
        // The likely cause is named: before inventory-service's first start its migrations
        // have not run, so the table does not exist yet — a normal state, not a crash.
        None => "库存台账不可读（inventory_db 尚未建表？）".into(),
    };
    Line::from(vec![Span::styled(" 库存合计（MySQL 台账）：", Style::new().bold()), stock.into()])
}

// By position among the rows that *have* a line, so the colours stay the same from one
// refresh to the next as long as the same services are running (the order is stack.json's).
/// Each row's line colour; `None` for a row without a line (infrastructure, no scrape yet).
fn line_colours(rows: &[ServiceRow]) -> Vec<Option<Color>> {
    let mut next = 0;
    rows.iter()
        .map(|r| {
            (!r.qps_line.is_empty()).then(|| {
                next += 1;
                PALETTE[(next - 1) % PALETTE.len()]
            })
        })
        .collect()
}

/// One chart of the last minute: a line per service, x from −60 s to now.
///
/// The y bound follows the highest point on screen (`ui::chart`), so a quiet stack at
/// 3 QPS and a load test at 3000 both fill the height; read the top label before comparing
/// two screenshots. The x axis is fixed at the window instead: "now" stays at the right
/// edge, and a service that has only ten seconds of history draws a short line ending
/// there — which says how long it has been watched.
fn render_chart(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    unit: &str,
    lines: &[&[(f64, f64)]],
    colours: &[Option<Color>],
) {
    // Braille packs 2×4 dots into a cell: a 38-column plot is 76 dots wide for 60 seconds,
    // so every refresh gets a column of its own — the reason for braille over `Dot` here.
    // One y scale for every service, from the highest point of any line: the chart answers
    // "which service is busy (or slow) right now", which only a shared scale can show. The
    // cost is that a quiet service beside a loaded one hugs the x axis — its exact figure is
    // in the table above.
    let peak = lines.iter().flat_map(|l| l.iter().map(|p| p.1)).fold(0.0, f64::max);
    let datasets: Vec<Dataset> = lines
        .iter()
        .zip(colours)
        .filter_map(|(line, colour)| {
            // No colour means no line (see `line_colours`), so nothing is drawn unlabelled.
            let colour = (*colour)?;
            Some(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(colour))
                    .data(line),
            )
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title.to_string()))
        // Labels `-60s  -30s  0s`: seconds before the newest refresh (see `History`), so the
        // right edge is always "now"; a failed scrape adds no point, so the line bridges
        // that second with one longer segment rather than dropping to 0.
        .x_axis(axis("", -WINDOW_SECS, 0.0, |x| format!("{x:.0}s")))
        .y_axis(axis(unit, 0.0, nice_ceil(peak), label));
    frame.render_widget(chart, area);
}

// `rsplit('@')` takes the part after the *last* `@`, so a password containing `@` is
// still removed entirely. Shortened for the screen only: the full address (with scheme) is
// what `status` and `stack.json` show, for copy-pasting into grpcurl or redis-cli.
/// `mysql://root:pw@127.0.0.1:3306` → `127.0.0.1:3306` (no credentials on screen).
fn short(address: &str) -> String {
    let a = address.rsplit('@').next().unwrap_or(address);
    a.trim_start_matches("redis://").trim_start_matches("http://").to_string()
}
