//! The dashboard as plain text, for `--no-tui` and scripts.

use super::DashboardSnapshot;

// The address is shown for everyone and the failure detail only for unhealthy rows:
// the line a learner must act on is the one that explains itself.
// What it prints (illustrative; the Consul column is `-` for rows Consul does not list):
// ```text
// 组件       健康     Consul          QPS       p99      错误率      命中率  地址 / 详情
// mysql      ✔      -                 -         -        -        -  127.0.0.1:3306
// catalog    ✔      passing       812.5     3.2ms     0.4%    91.0%  127.0.0.1:9002
// inventory  ✘      critical          -         -        -        -  127.0.0.1:9003 connection refused
// 库存合计：200 本书，可用 9000，锁定 12，已售 988，总量 10000
// ```
// The header drifts right of the rows in a terminal: `format!` pads by characters, and
// each CJK label is two columns wide per character, so `{:<10}` on "组件" fills 12
// columns. The rows themselves line up (ASCII cells, one-column marks), and the TUI's
// table measures display width and has no such drift.
// Note the last line's arithmetic: 9000 + 12 + 988 = 10000 — the conservation rule,
// checkable by eye.
/// The dashboard as plain text (for `--no-tui` and scripts).
pub fn table(s: &DashboardSnapshot) -> String {
    let mut out = format!(
        "{:<10} {:<6} {:<9} {:>9} {:>9} {:>8} {:>8}  {}\n",
        "组件", "健康", "Consul", "QPS", "p99", "错误率", "命中率", "地址 / 详情"
    );
    for r in &s.rows {
        out.push_str(&format!(
            "{:<10} {:<6} {:<9} {:>9} {:>9} {:>8} {:>8}  {} {}\n",
            r.name,
            if r.healthy { "✔" } else { "✘" },
            r.consul.as_deref().unwrap_or("-"),
            r.qps.map_or("-".into(), |q| format!("{q:.1}")),
            r.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms")),
            r.error_rate.map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            r.hit_rate.map_or("-".into(), |h| format!("{:.1}%", h * 100.0)),
            r.address,
            if r.healthy { "" } else { r.detail.as_str() }
        ));
    }
    if let Some(t) = s.stock {
        out.push_str(&format!(
            "库存合计：{} 本书，可用 {}，锁定 {}，已售 {}，总量 {}\n",
            t.books, t.available, t.locked, t.sold, t.total
        ));
    }
    out
}
