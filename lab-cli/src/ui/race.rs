//! Day 30's race: one lane per strategy, then the DO/DON'T table with measured numbers.
//!
//! Each lane shows sold vs stock, the oversell counter (red as soon as it is above 0 —
//! the one number the lesson is about), the speeds and p50/p99; next to the lanes a line
//! chart draws each strategy's answers per second over its run. The lane title repeats
//! "超卖 N" in plain text so the number can be read from a captured screen too (the tmux
//! end-to-end test does exactly that).
//!
//! The table only shows once a strategy has finished, and until then the same space asks
//! the learner to guess — predicting before measuring is how the result sticks.
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
//! rows 2–16     lanes (left, 44 columns)   Min(12): 3 lanes × 4 rows (title, 3 lines),
//!               | TPS chart (the rest)     then a 3-row note under them; the chart
//!                                          takes the full height on the right
//! rows 17–22    DO/DON'T table             Length(6): border, header, 3 rows, border
//! row 23        key line                   (ui::render; a notice takes rows from the lanes)
//! ```
//!
//! `Length` for what has a natural size, `Min` for the one part that absorbs the rest:
//! ratatui's layout solver then has exactly one flexible area and the result is
//! predictable at every terminal size. At 120×40 the extra rows and columns all go to the
//! chart, the one part that reads better bigger.
//!
//! ## The chart: answers per second, and where the stock ran out
//!
//! One line per strategy, x = seconds since *that* strategy started (they run one after
//! another, but the comparison is of equal moments of each run), y = answers per second in
//! each 250 ms interval ([`TpsSeries`]). A dotted vertical line in the strategy's colour
//! marks its last confirmed sale: left of it buyers were still being sold to, right of it
//! every answer is a refusal. That is the picture behind the table's two speeds — 成交/秒
//! is measured left of the line, 尝试/秒 over the whole run — and why ❌ a single "TPS" for a
//! sold-out run would compare how fast strategies say *no*.
//!
//! Each strategy also gets its own marker (braille, dot, half block), because a capture or a
//! monochrome terminal drops the colours, and the legend under the chart names them.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    symbols::Marker,
    text::{Line, Span},
    widgets::{Block, Borders, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap},
};

use super::{
    chart::{axis, nice_ceil, short},
    fmt_us,
};
use crate::{
    app::{App, Lane, RaceState, lane_strategy},
    experiments::race::{Strategy, StrategyExt, TpsSeries, oversell, verdicts},
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
    let [params_area, top_area, table_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(12), Constraint::Length(6)])
            .areas(area);
    // 44 columns hold the longest lane line ("拒绝 12345  错误 0  p50 12.3ms  p99 45.6ms",
    // 42 columns); the chart gets the rest — 36 at 80 columns, 76 at 120, where a wider
    // window only adds resolution to the curve.
    let [left_area, chart_area] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(20)]).areas(top_area);
    // The lanes take their fixed 12 rows and the note the rest of the left column, so a
    // notice shortens the note first and the lanes' numbers last.
    let [lanes_area, note_area] =
        Layout::vertical([Constraint::Length(12), Constraint::Min(0)]).areas(left_area);

    render_status(frame, params_area, race);

    // The stock of the run on screen, not of the knobs: the learner may already be
    // adjusting the next run, and the oversell of *this* run must not change under them.
    let stock = race.ran_with.unwrap_or(race.params).stock;
    // 4 rows each (a top rule as title, three lines), exactly the 12 of `lanes_area`.
    let lane_areas = Layout::vertical([Constraint::Length(4); 3]).split(lanes_area);
    for (i, lane) in race.lanes.iter().enumerate() {
        render_lane(frame, lane_areas[i], i, lane, stock);
    }
    // The note reads the chart for the learner once; it is cut, not wrapped into the table,
    // when a notice takes the rows.
    frame.render_widget(
        Paragraph::new(
            "图：每 0.25 秒的应答数/秒。竖线 = 该策略最后一笔成交；\
             线右全是“已售罄”的拒绝，所以尝试/秒 ≠ 成交/秒。",
        )
        .style(Style::new().dark_gray())
        .wrap(Wrap { trim: true }),
        note_area,
    );
    render_chart(frame, chart_area, race);

    render_verdicts(frame, table_area, race);
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

/// The params line: the knobs the next Enter will run with, then the run's state.
fn render_status(frame: &mut Frame, area: Rect, race: &RaceState) {
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
        area,
    );
}

/// The DO/DON'T table of the strategies that finished, or the question to guess before.
fn render_verdicts(frame: &mut Frame, area: Rect, race: &RaceState) {
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
            area,
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
            // Columns in the order of the argument: the verdict first, then the evidence (sales/s,
            // its ratio, attempts/s, oversell), then the one-line reason to remember.
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
        // 80×24: 78 inner columns − (5+10+7+6+7+5 widths + 6 one-column gaps) = 32 columns
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
        frame.render_widget(table, area);
    }
}

/// The colour and marker of a strategy's lane title, chart line and sell-out mark.
///
/// Neither red nor green: those already mean DON'T / DO in the table and oversell in the
/// lane titles, and a naive line in red would repeat the verdict instead of the speed.
fn look(strategy: Strategy) -> (Color, Marker, &'static str) {
    match strategy {
        Strategy::Naive => (Color::Magenta, Marker::Braille, "⠤"),
        Strategy::ForUpdate => (Color::Yellow, Marker::Dot, "•"),
        Strategy::Lua => (Color::Cyan, Marker::HalfBlock, "▄"),
    }
}

/// One strategy's lane: a title row (marker, label, oversell, state) and three lines.
///
/// The oversell counter is computed from the live snapshot (sales so far - starting
/// stock), not from the final `remaining`, so it turns red *during* the run - the moment
/// the lesson wants the learner to see. Once the run is over, "剩余" (stock left in the
/// store) confirms it from the database side: a negative number is the same oversell,
/// seen by MySQL. Two independent measurements agreeing is what makes the claim credible.
fn render_lane(frame: &mut Frame, area: Rect, i: usize, lane: &Lane, stock: u32) {
    let strategy = lane_strategy(i);
    let (colour, _, glyph) = look(strategy);
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
    // A top rule only (no side borders): the 44 columns go to the numbers, and the rule
    // still separates the lanes. The glyph before the label is the chart's marker for this
    // strategy — the lane title is the chart's legend as well.
    let block = Block::new().borders(Borders::TOP).title(Line::from(vec![
        Span::styled(format!("{glyph} "), Style::new().fg(colour)),
        Span::styled(format!("{} ", strategy.label()), Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(format!("· 超卖 {over} "), over_style),
        Span::raw(format!("· {state} ")),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // "剩余" only after the run: mid-run the store's remaining stock is not read (that would
    // be a query per frame on the database being raced), so it would be a stale guess.
    let remaining =
        lane.result.as_ref().map_or(String::new(), |r| format!("  剩余 {}", r.remaining));
    // What each number means, because two of them are easy to misread:
    // - 已售 sold/stock — sales confirmed to buyers; above the stock is the oversell;
    // - 拒绝 — correct "sold out" answers, not errors; with 500 buyers for 50 units,
    //   450 refusals is the *right* result;
    // - 错误 — failures (timeouts, lock-wait errors, lost connections);
    // - 尝试/秒 — *every* answered attempt per second, refusals included (the load engine's
    //   `completed()`), so it measures how fast a strategy answers, not how fast it sells;
    // - 成交/秒 and 末笔 — sales over the time to the last sale, and that time (the chart's
    //   vertical line), known once the lane has finished;
    // - p50 / p99 — measured by the load engine around each call (client side: includes the
    //   round trip), unlike the dashboard's p99, which the service measures around its handler.
    let speeds = match lane.result.as_ref() {
        Some(r) => match (r.sales_per_sec(), r.selling) {
            (Some(sales), Some(last)) => format!(
                "成交/秒 {sales:.0}  尝试/秒 {:.0}  末笔 {:.2}s",
                s.tps(),
                last.as_secs_f64()
            ),
            // Nothing sold, or a sale window under 1 ms (`sales_per_sec`): `-`, because a
            // selling speed computed from that would be noise, not a slower strategy.
            _ => format!("成交/秒 -  尝试/秒 {:.0}", s.tps()),
        },
        // Mid-run only the attempts: a selling speed needs the time of the last sale, which
        // is known once the lane has finished.
        None => format!("尝试/秒 {:.0}", s.tps()),
    };
    let lines = vec![
        Line::from(vec![
            Span::raw(format!("已售 {}/{}  ", s.successes, stock)),
            Span::styled(format!("超卖 {over}"), over_style),
            Span::raw(remaining),
        ]),
        Line::from(format!(
            "拒绝 {}  错误 {}  p50 {}  p99 {}",
            s.rejections,
            s.failures,
            fmt_us(s.p50_us),
            fmt_us(s.p99_us)
        )),
        Line::from(speeds),
    ];
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The TPS chart: one line per strategy that has data, and its last-sale mark.
///
/// Bounds follow the data (`ui::chart`): x to the longest run so far, y to the highest
/// interval rate, so a flash sale of 0.3 s and a 20 s run both fill the width. Before the
/// first snapshot there is nothing to scale to, and the box says what will appear.
fn render_chart(frame: &mut Frame, area: Rect, race: &RaceState) {
    let block = Block::bordered().title(" 应答/秒 · 竖线 = 末笔成交 ");
    // Only lanes with points: a waiting lane would add an empty dataset, and the bounds
    // below would be computed over nothing for it.
    let series: Vec<(Strategy, &TpsSeries)> = (0..3)
        .map(|i| (lane_strategy(i), &race.lanes[i].tps))
        .filter(|(_, s)| !s.points().is_empty())
        .collect();
    if series.is_empty() {
        let hint = Paragraph::new("开始后，这里画出每种策略每 0.25 秒的应答数。");
        frame.render_widget(hint.wrap(Wrap { trim: true }).block(block), area);
        return;
    }
    // The x bound is rounded like the y bound, so a 3.02 s run (the tail after the deadline)
    // is labelled 0 … 5 rather than 0 … 3.02 — and at least 0.1 s, so a single point of a
    // very short flash sale is not drawn on the y axis itself.
    let x_max = nice_ceil(series.iter().map(|(_, s)| s.end()).fold(0.1, f64::max));
    // One y scale for all three lines, never one per strategy: the question is "who answers
    // faster", and lines on separate scales would all reach the top and look equal.
    let y_max = nice_ceil(series.iter().map(|(_, s)| s.peak()).fold(0.0, f64::max));
    // A vertical line is a dataset of two points, (t, 0) and (t, top): `Chart` has no marker
    // or annotation API, and a line drawn in the chart's own coordinates stays at the right
    // x whatever the bounds. The points are owned here because `Dataset::data` borrows them
    // for the frame.
    let marks: Vec<(Strategy, [(f64, f64); 2])> = series
        .iter()
        .filter_map(|(st, _)| {
            // Only after the lane finished, and only if it sold anything: `selling` is the time
            // of the last confirmed sale, known from the result, not from a live snapshot (a
            // lane mid-run may still sell, so a mark then would move).
            let last = race.lanes[st.index()].result.as_ref()?.selling?.as_secs_f64();
            Some((*st, [(last, 0.0), (last, y_max)]))
        })
        .collect();
    // Lines first, marks after: later datasets paint over earlier ones in a shared cell. The
    // marks are dim dotted columns; in a colourless capture they share the dot with FOR
    // UPDATE's line and are told apart by being vertical.
    let lines = series.iter().map(|(st, s)| (*st, s.points(), false));
    let dots = marks.iter().map(|(st, m)| (*st, m.as_slice(), true));
    let datasets: Vec<Dataset> = lines
        .chain(dots)
        .map(|(st, data, mark)| {
            let (colour, marker, _) = look(st);
            let style = Style::new().fg(colour);
            Dataset::default()
                .graph_type(GraphType::Line)
                .marker(if mark { Marker::Dot } else { marker })
                .style(if mark { style.add_modifier(Modifier::DIM) } else { style })
                .data(data)
        })
        .collect();
    // No ratatui legend: at 36 columns its box would cover a third of the plot. The legend is
    // the lanes' title glyphs and this bottom line, in the same colours and markers.
    let legend: Vec<Span> = series
        .iter()
        .map(|(st, _)| {
            let (colour, _, glyph) = look(*st);
            Span::styled(format!(" {glyph}{} ", st.label()), Style::new().fg(colour))
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(block.title_bottom(Line::from(legend)))
        // x in seconds since each strategy's own start; y untitled because the block title
        // already says 应答/秒 — answers, refusals included, not sales.
        .x_axis(axis("秒", 0.0, x_max, short))
        .y_axis(axis("", 0.0, y_max, short));
    frame.render_widget(chart, area);
}
