//! Day 29's cache experiment: hit rate per second, the hottest book, and invalidation.
//!
//! Layout at 80×24: a 7-row box of numbers, a 5-row sparkline, and the learner's writes
//! in what is left. The numbers are read from the service's own counters
//! (`cache_requests_total`), so what this screen shows is what the catalog observed.
//!
//! Reading the screen: the first seconds of a run are misses (cold cache) and the
//! sparkline climbs; with Zipf skew it settles high within seconds because a few hot
//! books answer most reads. Press `p`: the list version moves, list pages miss and refill
//! (a dip). Press `u`: one copy sells in inventory, the stock line changes within a
//! second, and the hit rate does not dip — a sale evicts nothing.
//!
//! Layout budget at 80×24: title 1 + stats 7 (border, 5 lines, border) + sparkline 5
//! (border, 3 rows of bars, border) + notes `Min(3)` + key line 1; a notice takes its rows
//! from the notes box. The sparkline's 78 inner columns hold 78 seconds of hit rates; a
//! run is 30 s by default, and the series is reset on every Enter, so it never overflows
//! (ratatui's `Sparkline` would show the *first* 78 values, not the latest).

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, Paragraph, Sparkline},
};

use super::fmt_us;
use crate::app::{App, CacheState};

// One decimal: enough to see a dip of a few percent after a publish, not so many that
// the digits flicker every second with noise.
/// A rate as a percentage, or `-` when there were no lookups: DON'T print 0 % for
/// "nothing measured" - a learner would read it as "the cache never hits".
fn pct(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// Draws the cache screen; returns its title and keys.
///
/// Three things side by side, because the lesson is about their relation: the hit rate
/// (per second and in total), the hottest book's stock *as the catalogue answers it*
/// (inventory's live figure over the cached book), and the learner's own writes. After
/// `u` (a sale in inventory) the stock line changes within a second *and* the hit rate
/// stays: the stock is not in the cache. Had the catalogue cached it with the book, the
/// old value would stay for the detail TTL (an hour) — the bug issue #12 found.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let c = &app.cache;
    // The notes box takes whatever the two fixed boxes leave, and at least `Min(3)` (one
    // note inside its border) when a notice takes rows; a taller terminal shows more
    // notes, never more stats.
    let [stats_area, spark_area, notes_area] =
        Layout::vertical([Constraint::Length(7), Constraint::Length(5), Constraint::Min(3)])
            .areas(area);
    let lines = stats_lines(c);
    // No wrapping: each line is one fact, and a wrapped fact would push the next one out
    // of the 5-row box. The longest line (the hit rate) is ~56 columns with small counts
    // and grows by a few columns per extra digit — it fits 78 columns for any run the lab
    // makes; a new field added to a line must be checked at 80×24 (the snapshot will show).
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" 缓存命中 ")),
        stats_area,
    );
    // Per second, not cumulative: after a publish the list version moves, list pages
    // miss once and refill - a visible dip that the cumulative rate would smooth away.
    // A second without lookups adds no bar (see `App::on_cache`), so the x axis is seconds
    // that had reads: an idle second is not drawn as a 0 % dip the learner would blame on
    // the cache.
    frame.render_widget(
        // `max(100)` pins the scale to 0–100 %: an auto-scaled sparkline would stretch a change
        // from 97 % to 95 % into a cliff and make a healthy cache look broken.
        Sparkline::default()
            .data(&c.hit_series)
            .max(100)
            .style(Style::new().fg(Color::Cyan))
            .block(Block::bordered().title(" 每秒命中率（0–100%） ")),
        spark_area,
    );
    // Newest first, and only as many as fit: the latest write is the one whose effect the
    // learner is looking for in the sparkline.
    let notes: Vec<Line> = c
        .notes
        .iter()
        .rev()
        .take(notes_area.height.saturating_sub(2) as usize)
        .map(|n| Line::from(n.clone()))
        .collect();
    frame.render_widget(
        Paragraph::new(notes).block(Block::bordered().title(" 你的写操作 ")),
        notes_area,
    );
    (
        "Day 29 · 缓存命中与失效".into(),
        &[
            ("Enter", "开始"),
            ("p", "发布新书"),
            ("u", "改库存"),
            ("+/-", "读者"),
            ("Esc", "返回"),
            ("q", "退出"),
        ],
    )
}

/// The numbers box: run and status, the load, the hit rates, the hottest book's stock,
/// and what `u` is expected to show.
///
/// Before the first second of a run every figure reads `-` or 0 ("0/0" lookups), not a
/// rate computed from nothing; `pct` is where the `-` comes from.
fn stats_lines(c: &CacheState) -> Vec<Line<'static>> {
    // The status sits in the first row, where the eye starts; an error replaces it so a
    // failed run cannot look like a paused one.
    let status = if let Some(e) = &c.error {
        format!("失败：{e}")
    } else if c.running {
        "运行中…".into()
    } else if c.done {
        "完成（按 Enter 再跑一轮）".into()
    } else {
        "按 Enter 开始".into()
    };
    // The list/detail split is shown as hits/lookups rather than two percentages: with
    // few list lookups a percentage swings wildly, and "0/0" honestly says "none yet".
    vec![
        Line::styled(
            format!(
                "读者 {} · 每轮 {} 秒 · Zipf s={} · {status}",
                c.params.readers, c.params.duration_secs, c.params.skew
            ),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        // The load line's p50/p99 come from the load engine (client side, every call, exact);
        // the dashboard shows the service's own p99 from histogram buckets (server side,
        // bucket-precise). The difference between the two is the network and gRPC overhead —
        // on loopback usually a small part, which is itself worth knowing.
        Line::from(format!(
            "图书 {} 本 · 请求 {} · TPS {:.0} · p50 {} · p99 {}",
            c.books,
            c.load.completed(),
            c.load.tps(),
            fmt_us(c.load.p50_us),
            fmt_us(c.load.p99_us)
        )),
        // The lesson's number, hence the colour: the rate of the last second (what the
        // sparkline plots) next to the run's total, then the split — list pages are the
        // ones a publish invalidates, details the ones it leaves alone.
        Line::styled(
            format!(
                "命中率：本秒 {} · 累计 {}（列表 {}/{}，详情 {}/{}）",
                pct(c.last_second.rate()),
                pct(c.total.rate()),
                c.total.list_hits,
                c.total.list_hits + c.total.list_misses,
                c.total.detail_hits,
                c.total.detail_hits + c.total.detail_misses
            ),
            Style::new().fg(Color::Green),
        ),
        // The hottest book (Zipf rank 1, the one `u` sells) and its stock as catalog's own
        // GetBook answers it: the question is whether the cached book carries a stale stock,
        // so the figure must come through the catalogue, not from inventory directly.
        Line::from(format!(
            "最热的书：{} · 目录显示的库存（来自库存服务）{}",
            c.hot.map_or("-".into(), |h| format!("#{h}")),
            c.hot_stock.map_or("-".into(), |s| s.to_string())
        )),
        // The screen states the expected outcome before the learner tries it: if the next sample
        // shows the old stock, the learner has found a bug, not a quirk.
        Line::from("按 u 在库存服务卖出一本：1 秒内目录显示新值，缓存一个不删。"),
    ]
}
