//! Day 30's race: one lane per strategy, then the DO/DON'T table with measured numbers.
//!
//! Each lane shows sold vs stock, the oversell counter (red as soon as it is above 0 —
//! the one number the lesson is about), TPS, p50/p99 and a TPS sparkline. The lane title
//! repeats "超卖 N" in plain text so the number can be read from a captured screen too
//! (the tmux end-to-end test does exactly that).
//!
//! Layout at 80×24: 1 row of parameters, 3 lanes × 4 rows, and the table in what is left
//! (at least 3 rows). The table only shows once a strategy has finished, and until then
//! the same space asks the learner to guess — predicting before measuring is how the
//! result sticks.
//!
//! Colour is never the only carrier of meaning: the oversell is red *and* written as a
//! number, the verdict is coloured *and* spelled DO / DON'T. Learners with colour-blind
//! eyes, a monochrome terminal, or a `tmux capture-pane` (which drops colours) all read
//! the same result.
//!
//! ✅ DO label every number with its unit or meaning on screen (已售 180/50, not 180).
//! ❌ DON'T show a bare ratio without its baseline — "2.0×" of what? The table header
//! says ×行锁 (relative to FOR UPDATE, measured in the same run).
//!
//! ## The layout budget at 80×24
//!
//! ```text
//! row  0        title                      (ui::render)
//! row  1        params + status            Length(1)
//! rows 2–13     3 lanes × 4 rows           Length(12): border, 2 text rows, border
//! rows 14–22    DO/DON'T table             Min(3): whatever is left — 9 rows here,
//!                                          enough for border, header, 3 rows
//! row 23        key line                   (ui::render; a notice takes rows from the table)
//! ```
//!
//! `Length` for what has a natural size, `Min` for the one part that absorbs the rest:
//! ratatui's layout solver then has exactly one flexible area and the result is
//! predictable at every terminal size. Percentages would make the lanes grow with the
//! window, which only adds empty rows.
//!
//! A sparkline gotcha: ratatui's `Sparkline` draws the *first* `width` values of its data,
//! not the last. Each lane's `tps_series` has one value per second (≤ 20 with the
//! duration steps), which fits in the 24 columns; a longer run would need to pass the tail
//! slice (`&s[s.len().saturating_sub(w)..]`) to keep showing the present.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::{Line, Span},
    widgets::{Block, Paragraph, Row, Sparkline, Table},
};

use super::fmt_us;
use crate::{
    app::{App, Lane, lane_strategy},
    experiments::race::{StrategyExt, oversell, verdicts},
};

/// Draws the race screen; returns its title and keys.
///
/// Why three lanes stacked rather than one table: the story is *sequential* (wrong ->
/// slow -> right), and a learner watching the naive lane's counter turn red while the
/// next lane has not started yet remembers it better than three numbers appearing at once.
/// Why the lanes keep their final numbers after the run: the comparison only makes sense
/// side by side, so nothing is cleared until the next Enter.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let race = &app.race;
    let [params_area, lanes_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(12), Constraint::Min(3)])
            .areas(area);

    // Precedence: an error outranks everything (a failed race must not say "全部完成"),
    // then running, then done.
    let status = if let Some(e) = &race.error {
        Span::styled(format!("  失败：{e}"), Style::new().fg(Color::Red))
    } else if race.running {
        Span::styled("  运行中…", Style::new().fg(Color::Yellow))
    } else if race.done {
        Span::styled("  全部完成", Style::new().fg(Color::Green))
    } else {
        Span::raw("  按 Enter 开始")
    };
    frame.render_widget(
        Line::from(vec![
            Span::styled(
                // The knobs (`params`), not `ran_with`: this line answers "what will Enter run?", while
                // the lanes below show what did run.
                format!(" {} ", race.params.describe()),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            status,
        ]),
        params_area,
    );

    // The stock of the run on screen, not of the knobs: the learner may already be
    // adjusting the next run, and the oversell of *this* run must not change under them.
    let stock = race.ran_with.unwrap_or(race.params).stock;
    let lane_areas = Layout::vertical([Constraint::Length(4); 3]).split(lanes_area);
    for (i, lane) in race.lanes.iter().enumerate() {
        render_lane(frame, lane_areas[i], i, lane, stock);
    }

    let results = race.results();
    if results.is_empty() {
        frame.render_widget(
            // Before the first result, the table's space asks the learner to predict. This text is
            // static and short enough for 80 columns without wrapping.
            Paragraph::new(
                "同样的库存、同样多的买家，三种扣减方式依次上场。\n\
                 naive 先查后改；FOR UPDATE 锁住行再改；Lua 在 Redis 里原子地检查并扣减。\n\
                 猜一猜：谁会超卖？谁最快？",
            )
            .block(Block::bordered().title(" DO / DON'T ")),
            table_area,
        );
    } else {
        // The verdict colour is the verdict itself (red DON'T, green DO), computed from measured
        // numbers by `verdicts` — the same function the plain table uses, so the two outputs
        // cannot disagree.
        let rows = verdicts(&results).into_iter().map(|v| {
            let style = if v.verdict == "DO" {
                Style::new().fg(Color::Green)
            } else {
                Style::new().fg(Color::Red)
            };
            // Columns in the order of the argument: the verdict first, then the evidence (TPS, the
            // ratio, oversell, what is left), then the one-line reason to remember.
            Row::new(vec![
                v.verdict.to_string(),
                v.strategy.label().to_string(),
                v.sales_per_sec.map_or("-".into(), |s| format!("{s:.0}")),
                v.ratio.map_or("-".into(), |r| format!("{r:.2}×")),
                format!("{:.0}", v.attempts_per_sec),
                v.oversell.to_string(),
                v.strategy.lesson().to_string(),
            ])
            .style(style)
        });
        // Column widths are fixed so the numbers line up and the last column ("为什么") takes
        // what is left of 80; at wider terminals only that column grows. The arithmetic at
        // 80×24: 78 inner columns − (6+11+7+8+5+5 widths + 6 one-column gaps) = 30 columns
        // for the reason — which is why `Strategy::lesson` texts stay within 15 Chinese
        // characters (2 columns each). A longer one would be cut at the border, silently.
        let table = Table::new(
            rows,
            // Sized for 80 columns with the longest lesson line (15 CJK characters) whole: the
            // remaining stock moved to the lanes, which show it next to the oversell.
            [
                Constraint::Length(5),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Min(10),
            ],
        )
        .header(
            // The ratio column sits next to 成交/秒 because it is computed from it; 尝试/秒 follows,
            // so a learner comparing the two speeds reads them side by side.
            Row::new(["", "策略", "成交/秒", "×行锁", "尝试/秒", "超卖", "为什么"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(" 结论 DO / DON'T（本轮实测） "));
        frame.render_widget(table, table_area);
    }
    (
        "Day 30 · 库存扣减竞赛".into(),
        &[
            ("Enter", "开始"),
            ("s/S", "库存"),
            ("b/B", "买家"),
            ("t/T", "时长"),
            ("Esc", "返回"),
            ("q", "退出"),
        ],
    )
}

/// One strategy's lane: counters on the left, the TPS sparkline on the right.
///
/// The oversell counter is computed from the live snapshot (sales so far - starting
/// stock), not from the final `remaining`, so it turns red *during* the run - the moment
/// the lesson wants the learner to see. Once the run is over, "剩余" (stock left in the
/// store) confirms it from the database side: a negative number is the same oversell,
/// seen by MySQL. Two independent measurements agreeing is what makes the claim credible.
fn render_lane(frame: &mut Frame, area: Rect, i: usize, lane: &Lane, stock: u32) {
    let strategy = lane_strategy(i);
    let s = &lane.live;
    // `stock` is the run's stock (see above), so the live counter and the final verdict use
    // the same definition — `oversell()` — and the same inputs.
    let over = oversell(s.successes, stock);
    // White on red rather than red text: an oversell must be visible at a glance, even on a
    // projector in a classroom.
    let over_style = if over > 0 {
        Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Green)
    };
    // Three lane states: waiting (not reached yet), running, done. With sequential runs the
    // learner sees exactly one "运行中" at a time moving down the screen.
    let state = if lane.running {
        "运行中"
    } else if lane.result.is_some() {
        "完成"
    } else {
        "等待"
    };
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(format!(" {} ", strategy.label()), Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(format!("· 超卖 {over} "), over_style),
        Span::raw(format!("· {state} ")),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The sparkline is TPS per interval from the load engine: for naive and Lua the bars stay
    // high, for FOR UPDATE they are lower and flatter — the row lock's queue, visible.
    let [text_area, spark_area] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(24)]).areas(inner);
    // "剩余" only after the run: mid-run the store's remaining stock is not read (that would
    // be a query per frame on the database being raced), so it would be a stale guess.
    let remaining =
        lane.result.as_ref().map_or(String::new(), |r| format!("  剩余 {}", r.remaining));
    // What each number means, because two of them are easy to misread:
    // - 已售 sold/stock — sales confirmed to buyers; above the stock is the oversell;
    // - 拒绝 — correct "sold out" answers, not errors; with 500 buyers for 50 units,
    //   450 refusals is the *right* result;
    // - 错误 — failures (timeouts, lock-wait errors, lost connections);
    // - TPS — *every* answered attempt per second, refusals included (the load engine's
    //   `completed()`), so it measures how fast a strategy answers, not how fast it sells.
    //   Sales per second would stop at "stock ÷ run time" for every correct strategy;
    // - p50 / p99 — measured by the load engine around each call (client side: includes the
    //   round trip), unlike the dashboard's p99, which the service measures around its handler.
    let lines = vec![
        Line::from(vec![
            Span::raw(format!("已售 {}/{}  ", s.successes, stock)),
            Span::styled(format!("超卖 {over}"), over_style),
            Span::raw(format!("{remaining}  拒绝 {}  错误 {}", s.rejections, s.failures)),
        ]),
        // Live, only attempts/s is known (the sale window is measured at the end); the
        // finished lane adds 成交/秒, the figure the verdict table compares.
        Line::from(match lane.result.as_ref().and_then(|r| r.sales_per_sec()) {
            Some(sales) => format!(
                "成交/秒 {sales:.0}  尝试/秒 {:.0}  p50 {}  p99 {}",
                s.tps(),
                fmt_us(s.p50_us),
                fmt_us(s.p99_us)
            ),
            None => format!(
                "尝试/秒 {:.0}  p50 {}  p99 {}",
                s.tps(),
                fmt_us(s.p50_us),
                fmt_us(s.p99_us)
            ),
        }),
    ];
    frame.render_widget(Paragraph::new(lines), text_area);
    frame.render_widget(
        Sparkline::default().data(&s.tps_series).style(Style::new().fg(Color::Cyan)),
        spark_area,
    );
}
