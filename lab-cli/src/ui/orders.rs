//! Day 31–32's orders screen: the burst, the stock and its conservation, one CreateOrder's
//! call chain, and the Pending orders with their expiry countdown.
//!
//! Layout budget at 80×24: title 1 + status 1 + burst box 5 (border, 3 lines, border) +
//! call-chain box 8 (border, up to 5 steps and the total, border) + orders box `Min(3)` +
//! key line 1; a notice takes its rows from the orders box.
//!
//! Reading the screen: created must equal the stock less the chain's lone first order (one
//! unit each) and the rest refused; the conservation line is green while
//! `available + locked + sold = total` and `locked` equals the units of the Pending orders
//! on screen — red is a leaked or lost unit. The call chain is a time axis: rows that start
//! in the same column ran side by side (ValidateToken and the GetBooks, `∥`), the rest one
//! after another.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Paragraph, Wrap},
};

use super::fmt_us;
use crate::{
    app::{App, OrdersState},
    experiments::orders::{ChainStep, chain_total, conservation},
};

/// Columns of the call chain's time axis (label 15 + axis 52 + duration 10 = 77 of the box's
/// 78 inner columns at 80×24).
const AXIS: usize = 52;

/// Draws the orders screen; returns its title and keys.
///
/// Reads `app.orders` only, which the experiment's events fill: the burst's counts as it
/// runs, the chain once, the stock and Pending orders once per watcher sample. Nothing here
/// asks a service, so the screen can lag the stores by up to one sample, never lead them.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let o = &app.orders;
    // The fixed boxes take their exact rows and the orders box everything left: its notes
    // are the only part that grows, and at 80×24 it still gets the 3 rows of `Min(3)`.
    let [status_area, burst_area, chain_area, orders_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Min(3),
    ])
    .areas(area);

    frame.render_widget(status_line(o), status_area);
    frame.render_widget(
        Paragraph::new(burst_lines(o)).block(Block::bordered().title(" 并发下单 ")),
        burst_area,
    );
    // The chain is the first CreateOrder run alone before the burst, from its
    // `server-timing` header: an unloaded picture of where one order's time goes, so the
    // parallel lookups are visible and not drowned in the burst's queueing. Expect its
    // 合计 below the burst's p50: it is the handler alone, timed by the service, while the
    // p50 is the caller's clock (network included) with every shopper ordering at once.
    frame.render_widget(
        Paragraph::new(chain_lines(&o.chain))
            .block(Block::bordered().title(" 一次 CreateOrder 的调用链（server-timing） ")),
        chain_area,
    );

    frame.render_widget(
        Paragraph::new(orders_lines(o, orders_area.height))
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" 待支付订单 · 补偿 · 过期 ")),
        orders_area,
    );

    // `f`, `c` and `e` are the three ways a lock is released without a sale — a failed
    // commit (compensated before any order exists), a cancel, an expiry — each one a path
    // the conservation line must survive.
    const KEYS: &[(&str, &str)] = &[
        ("Enter", "开始"),
        ("f", "失败提交"),
        ("c", "取消"),
        ("e", "等过期"),
        ("s/S", "库存"),
        ("Esc", "返回"),
        ("q", "退出"),
    ];
    ("订单实验：下单、补偿与过期（Day 31–32）".into(), KEYS)
}

/// The status line: the knobs, the run's book, and where the run is.
///
/// The error outranks every phase: a run that failed mid-burst must not read as 观察中.
fn status_line(o: &OrdersState) -> Line<'static> {
    // 观察中 = the burst is over but the watcher still samples until no order of the run is
    // Pending (paid, cancelled or expired by the sweeper): the part of Day 32 that takes
    // minutes. Enter is accepted again from here, on a new book (see `app::orders`).
    let status = if let Some(e) = &o.error {
        format!("失败：{e}")
    } else if o.run == 0 {
        "按 Enter 开始（s/S 库存 · b/B 并发）".into()
    } else if !o.burst_done {
        "下单中…".into()
    } else if o.running {
        "观察中".into()
    } else {
        "完成（按 Enter 再来一轮）".into()
    };
    // The knobs lead the line (`params.describe()`), so `s`/`S`/`b`/`B` show their effect
    // before Enter. `b`/`B` are named only in the idle hint, not in the key line: with them
    // the key line would need 88 of the 80 columns.
    let book = o.book.map_or(String::new(), |b| format!(" · 图书 #{b}"));
    Line::styled(
        format!("{}{book} · {status}", o.params.describe()),
        Style::new().add_modifier(Modifier::BOLD),
    )
}

/// The burst box: the load engine's counts, then the stock and its conservation line.
fn burst_lines(o: &OrdersState) -> Vec<Line<'static>> {
    // The burst: client-side counts from the load engine, where "refused" is the service's
    // FAILED_PRECONDITION (not enough stock) — a correct answer, kept apart from errors.
    // p50/p99 are the load engine's, every CreateOrder of the burst timed by the caller, so
    // they include the contention of all the shoppers at once (unlike the chain below).
    // *错误* is everything else (a deadline, an Internal) and should read 0: a non-zero count
    // is a bug or an overloaded machine, never part of the lesson's result.
    // Created + refused + errors = the `b`/`B` attempts once the burst is over (the chain's
    // lone first order is not in these counts); fewer means it is still running.
    // The latencies are whole microseconds from the load engine; `fmt_us` switches to ms
    // from 1000 µs, the same way on every screen, so two figures compare as printed.
    let b = &o.burst;
    let mut lines = vec![Line::from(format!(
        "已创建 {} · 被拒绝 {}（库存不足）· 错误 {} · p50 {} · p99 {}",
        b.successes,
        b.rejections,
        b.failures,
        fmt_us(b.p50_us),
        fmt_us(b.p99_us)
    ))];
    // The stock is inventory's own GetStock of this run's fresh book, sampled once a second
    // by the watcher in the same round as the Pending orders — but GetStock first, then each
    // shopper's ListOrders. A cancel or expiry landing between the two reads shows
    // `locked ≠ pending` for one sample: a red the next second clears is the sampling, a red
    // that stays is a leak.
    match &o.stock {
        Some(s) => {
            let c = conservation(s, &o.pending);
            lines.push(Line::from(format!(
                "库存  available {} · locked {} · sold {} · total {}",
                s.available, s.locked, s.sold, s.total
            )));
            // Two facts on the conservation line (see `experiments::orders::Conservation` for
            // the bug behind each), and each gets its own `≠` when it fails, so a red line
            // says which one broke without the learner doing the sum.
            let (mark, color) = if c.holds() { ("✔", Color::Green) } else { ("✘", Color::Red) };
            lines.push(Line::styled(
                format!(
                    "守恒 {mark} {}+{}+{}={}{} · locked {} {} 待支付订单 {} 件",
                    s.available,
                    s.locked,
                    s.sold,
                    s.available + s.locked + s.sold,
                    if c.counters_add_up { " = total" } else { " ≠ total" },
                    s.locked,
                    if c.locks_owned { "=" } else { "≠" },
                    c.pending_units
                ),
                Style::new().fg(color).add_modifier(Modifier::BOLD),
            ));
        }
        // No zeros before the first sample: `0+0+0=0` would be a green conservation line
        // about a stock nobody has read yet.
        None => lines.push(Line::from("库存  （等待第一次 GetStock）")),
    }
    lines
}

/// The orders box: the Pending count with the oldest order's countdown, then the newest
/// notes that fit in `height` rows.
///
/// `height` is the box's outer height (borders included), as `render` got it from the
/// layout; at least one note is kept even in a box too low for it.
fn orders_lines(o: &OrdersState, height: u16) -> Vec<Line<'static>> {
    // The oldest Pending order leads because it expires first: its countdown is what `e`
    // waits for, and `c` cancels the newest so this one keeps counting. The countdown is
    // computed from the sample's clock (`o.now`), never read here.
    let mut lines = vec![Line::from(match (o.pending.first(), o.countdown()) {
        (Some(p), Some(secs)) => format!(
            "待支付 {} 笔 · 已取消 {} 笔 · 最早的 #{} 还有 {secs} 秒过期{}",
            o.pending.len(),
            o.cancelled,
            p.id,
            if o.awaiting.is_some() { "（等待中）" } else { "" }
        ),
        _ => format!("待支付 0 笔 · 已取消 {} 笔", o.cancelled),
    })];
    // The newest notes that fit (a note may wrap to two rows, hence the halving); older ones
    // scroll away — they are history, not state. The 3 rows taken off are the box's two
    // borders and the countdown line above the notes.
    let room = (height.saturating_sub(3) as usize).div_ceil(2).max(1);
    let skip = o.notes.len().saturating_sub(room);
    lines.extend(o.notes.iter().skip(skip).map(|n| Line::from(format!("· {n}"))));
    lines
}

/// The call chain as rows on one time axis: `name  ····████  1.10ms`.
///
/// A Gantt chart in text: the columns are time, so "side by side" means "starting in the
/// same column" — ValidateToken and the GetBooks begin at 0 together and the longer of them
/// decides where `claim` starts. The parallel rows are cyan and marked `∥`, the sequential
/// ones yellow. Five rows fit the box; an order of several books lists more GetBooks, and
/// the summary line then says how many were left out rather than silently dropping them.
fn chain_lines(steps: &[ChainStep]) -> Vec<Line<'static>> {
    if steps.is_empty() {
        return vec![Line::from("（第一笔订单成功后显示）")];
    }
    // The chain's end, not the sum of the steps: parallel steps overlap, and adding them
    // would count the same milliseconds twice — the very saving the `∥` rows show.
    let total = chain_total(steps);
    let mut lines: Vec<Line> = steps
        .iter()
        .take(5)
        .map(|s| {
            // Scaled to this chain's own total (`ChainStep::bar` says why); the absolute
            // milliseconds are the right-hand column.
            let (start, len) = s.bar(total, AXIS);
            // Colour repeats what `∥` says, never replaces it: a monochrome capture keeps the
            // mark (as the race screen keeps its numbers).
            let color = if s.parallel() { Color::Cyan } else { Color::Yellow };
            Line::from(vec![
                // `{:<13}` pads but never cuts: `GetBook-<id>` fits up to a 5-digit id, and a
                // longer name pushes its bar right by the overflow — that row's start column
                // is then late by as much, the others stay true.
                Span::raw(format!("{}{:<13} ", if s.parallel() { "∥" } else { " " }, s.name)),
                Span::raw(" ".repeat(start)),
                Span::styled("█".repeat(len), Style::new().fg(color)),
                // Pad to the axis' end so every duration sits in the same column and the
                // right-hand figures compare at a glance; `bar` keeps `start + len <= AXIS`,
                // which is what makes this subtraction safe.
                Span::raw(" ".repeat(AXIS - start - len)),
                Span::raw(format!(" {:>7.2}ms", s.dur_ms)),
            ])
        })
        .collect();
    // A chain longer than the box (an order of several books) says so instead of hiding it.
    let hidden = steps.len().saturating_sub(5);
    let more =
        if hidden > 0 { format!("（另有 {hidden} 步未显示）") } else { String::new() };
    lines.push(Line::styled(
        format!(" 合计 {total:.2}ms · ∥ = 并行（令牌校验与查书同时进行）{more}"),
        Style::new().add_modifier(Modifier::DIM),
    ));
    lines
}
