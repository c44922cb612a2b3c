//! The capstone screen: the sale's counts, the invariant board, and what each fault cost.
//!
//! Layout budget at 80×24 (22 body rows): status 1 + counts 2 + board 8 (border, six
//! checks, border) + fault target 1 + faults box `Min(4)`; a notice takes its rows from
//! the faults box, which then shows its newest faults.
//!
//! Reading the board: green ✔ holds; yellow … is a difference between two stores that is
//! still inside the grace period (a confirm on its way, the syncer a few entries behind) —
//! normal under load and right after a fault; red ✘ is a broken promise, with the ids to
//! look up; grey ? means a store did not answer this second (Redis stopped, MariaDB
//! paused), which is a fact about the fault, not a verdict.
//!
//! Which line answers which question of the capstone: the status line — is the sale still
//! selling, and how fast and slow are the successful steps; the counts — did the shoppers
//! see what the stores say (placed = the stock, nobody gave up); the board — did any
//! promise break, in which store; the fault lines — how long each fault's action took and
//! how long until its route answered again.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Block, Paragraph, Row, Table, Wrap},
};
use unicode_width::UnicodeWidthStr;

use crate::{
    app::{App, FlashState},
    experiments::flash::{
        Phase,
        board::{Invariant, Verdict},
        checklist::Item,
        mark,
    },
};

/// Draws the screen; returns its title and keys.
///
/// Reads `app.flash` only: the counts, board and faults are those of the last
/// `FlashEvent::Tick` (one sample a second, taken by the experiment's task), so a redraw
/// between two ticks shows the same second again and never queries Redis or MariaDB.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
) -> (String, &'static [(&'static str, &'static str)]) {
    let f = &app.flash;
    // `→` and `[` pick the target rather than ←/→: ← (like Esc and Backspace) leaves every
    // experiment screen in `App`, and a key that sometimes moves the target and sometimes
    // walks out of the sale would cost the learner a run.
    // They are not in this line: eight pairs were 84 columns and cut 返回 at 80. The target
    // row below names them next to what they change, and the seven pairs left take 74.
    let keys: &'static [(&'static str, &'static str)] = &[
        ("Enter", "开始"),
        ("k", "kill"),
        ("r", "Redis"),
        ("m", "MariaDB"),
        ("o", "relay"),
        ("v", "标准"),
        ("Esc", "返回"),
    ];
    let title = "Week 6 综合实验：带故障注入的秒杀".to_string();
    let [status_area, counts_area, board_area, target_area, faults_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(8),
        Constraint::Length(1),
        Constraint::Min(4),
    ])
    .areas(area);

    // Bold whatever its colour: it is the one line that says whether to keep watching or
    // read the verdict, so it must stand out from the counts under it.
    let (status, style) = status_line(f);
    frame.render_widget(Line::styled(status, style.add_modifier(Modifier::BOLD)), status_area);
    frame.render_widget(Paragraph::new(counts_text(f)), counts_area);
    frame.render_widget(board_table(f), board_area);

    // Cyan, its own row: the next `k` kills a real process, so what it will hit is always in
    // view, not hidden in the key line — and so are the keys that change it.
    let target = match f.target_name() {
        Some(name) => format!("k 将 kill -9：{name}（→ / [ 切换）"),
        None => "开始后可用 → / [ 选择要 kill 的实例".into(),
    };
    frame.render_widget(Line::styled(target, Style::new().fg(Color::Cyan)), target_area);

    // The checklist takes the faults' box rather than a box of its own: 80×24 has no
    // spare rows, and the learner asks for it (`v`) after a sale, when the faults of that
    // sale are already in the summary line above.
    if let Some(items) = &f.checklist {
        render_checklist(frame, faults_area, items);
        return (title, keys);
    }
    render_faults(frame, faults_area, f);
    (title, keys)
}

/// The status line and its colour: is the sale still selling, and how fast and slow.
fn status_line(f: &FlashState) -> (String, Style) {
    // The book id leads, as on the payments screen: a learner can follow the same book in
    // grpcurl or the MariaDB client while the sale runs.
    let book = f.book.map_or(String::new(), |b| format!("图书 #{b} · "));
    // Arms in order of precedence: an error beats everything (a failed run must not look
    // finished), then the summary (`held` is "every check held after catch-up and none was
    // ever red"), then the idle hint, the set-up, and the live second.
    match (&f.error, &f.tick, &f.summary) {
        (Some(e), _, _) => (format!("失败：{e}"), Style::new().fg(Color::Red)),
        // The three words of the green verdict are the capstone's three promises — no
        // oversell, no lost order, no wrong money — and say so *despite* the faults and
        // retries: errors during a fault are allowed, broken stores are not.
        (None, _, Some(s)) if s.held => (
            format!("{book}结束：全部不变量成立（有故障、有重试，但没有超卖、丢单、错账）"),
            Style::new().fg(Color::Green),
        ),
        (None, _, Some(_)) => {
            (format!("{book}结束：有不变量被破坏，见看板红行"), Style::new().fg(Color::Red))
        }
        (None, None, None) if !f.running => {
            (format!("按 Enter 开始：{}，经网关登录→下单→支付", f.params.describe()), Style::new())
        }
        (None, None, None) => ("正在注册顾客、发布限量图书…".into(), Style::new()),
        (None, Some(t), None) => {
            // The catch-up phase is why the verdict waits after the last shopper: a confirm
            // or the syncer may still be in flight, and judging at that instant would report
            // lag as a loss.
            let phase = match t.phase {
                Phase::Selling => "卖出中",
                Phase::CatchingUp => "追赶中（顾客已结束，等各存储一致）",
                Phase::Done => "结束",
            };
            // `t=` in whole seconds, the same clock as the fault lines' `t=`, so a fault can be
            // placed on the sale's timeline. Successful requests only, and their p99 in whole
            // ms: under faults the p99 of a checkout step moves by hundreds of ms, so decimals
            // would be noise. A failed request is not in the rate — the board and the fault
            // lines account for it.
            (
                format!(
                    "{book}t={:.0}s {phase} · 成功 {:.0}/s · p99 {}",
                    t.elapsed_s,
                    t.rps,
                    t.p99_ms.map_or("-".into(), |p| format!("{p:.0}ms"))
                ),
                Style::new(),
            )
        }
    }
}

/// The shoppers' counts and Redis's stock, two lines (empty before the first tick).
fn counts_text(f: &FlashState) -> String {
    // The shoppers' own view, two lines. Line one must add up once the sale is over: placed
    // = the stock (every unit found a buyer, none twice), refused is the correct "sold out",
    // paid + abandoned = placed, and `gave_up` (an error no retry got past) stays 0. Line
    // two is Redis's counters (`?` while Redis is down — a fault, not a zero) and the price
    // of the faults:
    // retries, and the replays among them — a retry the server had already carried out,
    // answered from its idempotency record instead of being done twice.
    f.tick.as_ref().map_or(String::new(), |t| {
        let c = &t.counts;
        format!(
            "顾客 {}/{} 结束 · 下单 {} · 售罄 {} · 已付 {} · 不付 {} · 放弃 {}\n\
             库存（可用/锁定/已售）{} · 重试 {} · 幂等重放 {}",
            c.finished,
            c.shoppers,
            c.placed,
            c.refused,
            c.paid,
            c.abandoned,
            c.gave_up,
            // In the order of inventory's conservation rule, `available + locked + sold ==
            // total`: the sum stays the stock the sale began with through every fault, and a
            // unit moves right (locked at order, sold at payment) or back left (released).
            t.stock.map_or("?".into(), |(a, l, s)| format!("{a}/{l}/{s}")),
            c.retries,
            c.replayed,
        )
    })
}

/// The invariant board: one row per invariant with its verdict, in the course's order.
fn board_table(f: &FlashState) -> Table<'static> {
    // Always six rows in the course's order, even before the first sample: a board whose
    // rows move around as checks appear is harder to read at a glance than a blank one.
    let rows: Vec<Row> = Invariant::ALL
        .iter()
        .map(|inv| {
            // Looked up by invariant, not by position in `t.board`: the row order on screen is
            // the course's, whatever order the board module happens to judge them in.
            let row = f.tick.as_ref().and_then(|t| t.board.iter().find(|r| r.invariant == *inv));
            let (m, detail, colour) = match row.map(|r| (&r.verdict, &r.ever_broken)) {
                // No sample yet (before the first tick): a blank mark, not a `?` — nothing was
                // asked, so no store failed to answer.
                None => (' ', String::new(), Color::Reset),
                Some((Verdict::Holds, None)) => ('✔', "成立".into(), Color::Green),
                // Green now but red once: the board keeps the evidence, the row stays red.
                Some((Verdict::Holds, Some(e))) => {
                    ('✘', format!("曾被破坏：{}", e.join("；")), Color::Red)
                }
                // The age of the oldest open difference, in whole seconds: the board turns it
                // red once it outlives `board::GRACE` (20 s), so the learner can watch a
                // difference close — or count down to a broken promise.
                Some((v @ Verdict::Lagging { oldest, items }, _)) => (
                    mark(v),
                    format!("追赶中 {}s：{}", oldest.as_secs(), items.join("；")),
                    Color::Yellow,
                ),
                Some((v @ Verdict::Broken(items), _)) => (mark(v), items.join("；"), Color::Red),
                // Grey with the reason (which store, what error): during a Redis stop this row
                // says why it cannot judge, which is itself what the fault looks like.
                Some((v @ Verdict::Unknown(why), _)) => (mark(v), why.clone(), Color::DarkGray),
            };
            Row::new(vec![m.to_string(), inv.label().to_string(), detail])
                .style(Style::new().fg(colour))
        })
        .collect();
    // 34 columns for the label: the longest, 没有无主的锁（过期后锁必须释放）, is 32 wide (two
    // columns per CJK character). The detail keeps ~40 columns at 80; a long list of ids is
    // cut at the border, which is why the plain run's summary prints every row in full.
    Table::new(rows, [Constraint::Length(2), Constraint::Length(34), Constraint::Min(10)])
        .block(Block::bordered().title(" 不变量看板（每秒从 Redis 与三个数据库读取） "))
}

/// The Week 6 checklist, drawn in the faults' box.
///
/// `items` are the answer to the last `v`, read from the stack and the saved benches
/// rather than from this sale, so the list can be checked before a sale or long after.
fn render_checklist(frame: &mut Frame, faults_area: Rect, items: &[Item]) {
    let lines: Vec<Line> = items
        .iter()
        .map(|i| {
            // Grey `·` for "not measured yet" (no saved bench, no sale run), like the
            // board's `?`: a missing measurement is not a failed criterion.
            let (m, colour) = match i.ok {
                Some(true) => ('✔', Color::Green),
                Some(false) => ('✘', Color::Red),
                None => ('·', Color::DarkGray),
            };
            Line::styled(format!("{m} {} — {}", i.label, i.detail), Style::new().fg(colour))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Week 6 完成标准（v 重新核对） ")),
        faults_area,
    );
}

/// The faults injected so far with their recovery times, newest last, as many as fit.
fn render_faults(frame: &mut Frame, faults_area: Rect, f: &FlashState) {
    // One line per fault, timed from the moment it was sent: *动作* is when its action was
    // over from the lab's side (the killed process back up, Redis restarted, MariaDB
    // thawed); *恢复* is the first non-error answer on the route the fault hits, among
    // requests sent after it began; *错误应答* counts the error answers on that route in
    // between. `…` means "not yet", which a fault still running legitimately is.
    let faults = f.tick.as_ref().map(|t| t.faults.as_slice()).unwrap_or_default();
    // Seconds with one decimal: the times run from a few hundred ms (a retry that found the
    // restarted process) to several seconds (Redis's stop and AOF replay).
    // `…` is also what stays when no request on the route was sent after the fault (the
    // sale ended first): the figure was never measured, so no number is shown for it.
    let ms = |v: Option<u64>| v.map_or("…".into(), |v| format!("{:.1}s", v as f64 / 1000.0));
    let block = Block::bordered().title(" 注入的故障与恢复时间 ");
    // No fault yet: the hint is the box's only text, with nothing after it to keep in
    // view, so ratatui's word wrap may break it where it likes.
    if faults.is_empty() {
        let hint = "k/r/m/o 注入故障；恢复 = 故障开始后，受影响步骤第一次成功的时间";
        frame.render_widget(
            Paragraph::new(hint).wrap(Wrap { trim: true }).block(block),
            faults_area,
        );
        return;
    }
    // The box's inner width: two columns of border off the area.
    let width = usize::from(faults_area.width.saturating_sub(2));
    let faults: Vec<Vec<String>> = faults
        .iter()
        .map(|x| {
            let pieces = [
                format!("t={:>3.0}s {}", x.at_s, x.label),
                format!("动作 {}", ms(x.restored_ms)),
                format!("恢复 {}", ms(x.recovered_ms)),
                format!("错误应答 {}", x.failed_answers),
            ];
            fault_rows(&pieces, width)
        })
        .collect();
    // Newest last, and as many faults as their *rows* fit, counted from the newest back:
    // the relay's line is wider than the 78 columns inside the box and takes two rows, so
    // counting lines let the newest fault slip below the border once the box was full. The
    // newest is always
    // drawn, even alone in a box too low for it (its first rows, then).
    let room = usize::from(faults_area.height.saturating_sub(2));
    let (mut shown, mut used) = (0, 0);
    for rows in faults.iter().rev() {
        if shown > 0 && used + rows.len() > room {
            break;
        }
        used += rows.len();
        shown += 1;
    }
    // The oldest faults drop off the top; the end-of-run report (`flash::summary_lines`)
    // lists every one, so what the box cannot hold is not lost.
    let lines: Vec<Line> =
        faults[faults.len() - shown..].iter().flatten().map(|r| Line::from(r.as_str())).collect();
    frame.render_widget(Paragraph::new(lines).block(block), faults_area);
}

/// One fault's pieces as the rows the box draws: joined by ` · ` while they fit `width`
/// columns, a continuation row indented under the label.
///
/// Wrapped here rather than by `Paragraph`'s word wrap so the row count the box budgets
/// with is the count it draws: widths are display columns (`unicode-width`, what ratatui
/// places cells by — a CJK character takes two), and breaking at the ` · ` keeps a figure
/// and its name on one row. A single piece wider than the box is cut at the border (still
/// one row), which only a label far longer than any fault's could be.
fn fault_rows(pieces: &[String], width: usize) -> Vec<String> {
    // Past `t=  3s `, under the label: a continuation reads as the same fault's figures,
    // not as a fault of its own.
    let indent = " ".repeat("t=  3s ".len());
    let mut rows: Vec<String> = Vec::new();
    for piece in pieces {
        match rows.last_mut() {
            None => rows.push(piece.clone()),
            Some(row) if row.width() + " · ".width() + piece.width() <= width => {
                row.push_str(" · ");
                row.push_str(piece);
            }
            Some(_) => rows.push(format!("{indent}· {piece}")),
        }
    }
    rows
}
