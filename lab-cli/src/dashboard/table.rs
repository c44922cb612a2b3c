//! The dashboard as plain text, for `--no-tui` and scripts.

use super::DashboardSnapshot;
use crate::plain::columns::row;

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
// Header and rows are laid out by one column list in display columns (`plain::columns`):
// `format!`'s `{:<10}` padded by chars, and put the CJK header two columns right of its
// rows per character (组件 filled 12 columns).
// Note the last line's arithmetic: 9000 + 12 + 988 = 10000 — the conservation rule,
// checkable by eye.
/// The dashboard as plain text (for `--no-tui` and scripts).
pub fn table(s: &DashboardSnapshot) -> String {
    // The last column (address / detail) is left unpadded: it is as long as it needs to be.
    // Names, marks and Consul's state left-aligned, numbers right-aligned so the digits of
    // 812.5 and 12.0 line up (`plain::columns`: negative width = left).
    const COLS: [isize; 7] = [-10, -6, -9, 9, 9, 8, 8];
    // The header goes through the same `COLS` as the rows: that is what keeps them aligned.
    let head = ["组件", "健康", "Consul", "QPS", "p99", "错误率", "命中率"];
    let mut out = format!("{}  地址 / 详情\n", row(&COLS, &head));
    for r in &s.rows {
        let cells = [
            r.name.clone(),
            (if r.healthy { "✔" } else { "✘" }).to_string(),
            r.consul.clone().unwrap_or_else(|| "-".into()),
            r.qps.map_or("-".into(), |q| format!("{q:.1}")),
            r.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms")),
            r.error_rate.map_or("-".into(), |e| format!("{:.1}%", e * 100.0)),
            r.hit_rate.map_or("-".into(), |h| format!("{:.1}%", h * 100.0)),
        ];
        // Owned above (most cells are formatted numbers), borrowed here for `row`.
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        let detail = if r.healthy { "" } else { r.detail.as_str() };
        out.push_str(&format!("{}  {} {detail}\n", row(&COLS, &cells), r.address));
    }
    if let Some(t) = s.stock {
        out.push_str(&format!(
            "库存合计：{} 本书，可用 {}，锁定 {}，已售 {}，总量 {}\n",
            t.books, t.available, t.locked, t.sold, t.total
        ));
    }
    out
}
