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
//! - 命中率: catalog's `cache_requests_total` hits over lookups in the interval;
//! - the last box: sums over MySQL's inventory ledger, where `可用 + 锁定 + 已售 = 总量`
//!   must hold at all times (DESIGN.md §4). If it does not, something bypassed the ledger.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    widgets::{Block, Paragraph, Row, Table},
};

use crate::app::App;

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
    // The stock box has a fixed 3 rows (border, one line, border); the table gets the rest
    // and, with the course's nine components, fits at 24 rows with room for a notice.
    let [table_area, stock_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(3)]).areas(area);
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
    let rows = d.rows.iter().map(|r| {
        let style = if r.healthy { Style::new() } else { Style::new().fg(Color::Red) };
        // `✔ 正常` / `✘ 异常` spell the state out next to the symbol, for the same reason the
        // race screen writes its numbers: captures and monochrome terminals drop colour.
        Row::new(vec![
            r.name.clone(),
            if r.healthy { "✔ 正常" } else { "✘ 异常" }.to_string(),
            r.consul.clone().unwrap_or_else(|| "-".into()),
            r.qps.map_or("-".into(), |q| format!("{q:.1}")),
            r.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms")),
            r.hit_rate.map_or("-".into(), |h| format!("{:.1}%", h * 100.0)),
            if r.healthy { short(&r.address) } else { r.detail.clone() },
        ])
        .style(style)
    });
    // Widths chosen so name, health, Consul, QPS, p99 and hit rate take 49 columns plus 6
    // gaps, leaving 23 of the 78 inner columns for the address (`127.0.0.1:33097`) or error. A longer error is cut
    // at the border; `bookstore-lab status` prints it in full — the screen points, the
    // command explains.
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["组件", "健康", "Consul", "QPS", "p99", "命中率", "地址 / 错误"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    // The title states the sources, so a learner who doubts a number knows where to check it
    // by hand (grpcurl, `curl …/metrics`).
    .block(
        Block::bordered()
            .title(" 每秒刷新 · 实例来自 Consul · 健康来自 grpc.health.v1 · 指标来自 /metrics "),
    );
    frame.render_widget(table, table_area);
    let stock = match d.stock {
        Some(t) => format!(
            "{} 本书 · 可用 {} · 锁定 {} · 已售 {} · 总量 {}",
            t.books, t.available, t.locked, t.sold, t.total
        ),
        // The likely cause is named: before inventory-service's first start its migrations
        // have not run, so the table does not exist yet — a normal state, not a crash.
        None => "库存台账不可读（inventory_db 尚未建表？）".into(),
    };
    frame.render_widget(
        Paragraph::new(stock).block(Block::bordered().title(" 库存合计（MySQL 台账） ")),
        stock_area,
    );
    ("仪表盘".into(), keys)
}

// `rsplit('@')` takes the part after the *last* `@`, so a password containing `@` is
// still removed entirely.
/// `mysql://root:pw@127.0.0.1:3306` → `127.0.0.1:3306` (no credentials on screen).
// Shortened for the screen only: the full address (with scheme) is what `status` and
// `stack.json` show, for copy-pasting into grpcurl or redis-cli.
fn short(address: &str) -> String {
    let a = address.rsplit('@').next().unwrap_or(address);
    a.trim_start_matches("redis://").trim_start_matches("http://").to_string()
}
