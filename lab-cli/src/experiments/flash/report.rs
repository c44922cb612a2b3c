//! The sale in words: one line per tick, the end-of-run report, and the lesson's figures.

use super::{Phase, Summary, Tick, board::Verdict};

/// One tick as one line of the plain mode's log, for example:
///
/// `t= 12s 卖出中 成功 84/s p99 41ms | 下单 18 售罄 9 已付 12 放弃 2 重试 23 重放 3 | 库存 2/4/14 | 看板 ✔✔✔✔✔✔`
///
/// Left to right it answers the lesson's questions in order: is the system serving
/// (successes per second, p99), how far the sale is (orders placed, sold-out refusals,
/// paid, abandoned), what the faults cost in traffic (retries, and the replays that
/// prevented duplicate orders), Redis's available/locked/sold, and the six checks.
pub fn tick_line(t: &Tick) -> String {
    let c = &t.counts;
    // The phase says how to read the rest of the line: 追赶中 begins once every shopper is
    // done and no fault acts, so a … from then on is the stores converging, not traffic.
    let phase = match t.phase {
        Phase::Selling => "卖出中",
        Phase::CatchingUp => "追赶中",
        Phase::Done => "结束",
    };
    // One mark per check in `Invariant::ALL`'s order, so column n is always the same
    // promise and a ✘ can be matched to the summary's row without labels on every line.
    let marks: String = t.board.iter().map(|r| mark(&r.verdict)).collect();
    // One line per tick, never wrapped by us: the plain mode's output is a log a learner
    // greps (`grep ✘`), so a tick must not spread over lines.
    format!(
        "t={:>3.0}s {phase} 成功 {:.0}/s p99 {} | 下单 {} 售罄 {} 已付 {} 放弃 {} 重试 {} 重放 {} | 库存 {} | 看板 {marks}",
        t.elapsed_s,
        // Successes per second, not requests: errors and retries do not count, so a fault
        // shows as a dip here rather than as busier traffic.
        t.rps,
        // `-`, not 0 ms, in a second without a success: during a MariaDB pause there may be
        // none, and a 0 would read as "fast" exactly when nothing is being served.
        t.p99_ms.map_or("-".into(), |p| format!("{p:.0}ms")),
        c.placed,
        c.refused,
        c.paid,
        c.abandoned,
        c.retries,
        c.replayed,
        // available/locked/sold from Redis; `?` while Redis is down (see `Tick::stock`). The
        // three always add up to the stock unless the conservation row is red.
        t.stock.map_or("?".into(), |(a, l, s)| format!("{a}/{l}/{s}")),
    )
}

/// The one-character mark of a verdict: ✔ holds, … lagging, ✘ broken, ? unknown.
///
/// Shared by the tick line, the summary's rows and the TUI's board (`ui::flash`), so a
/// learner who switches between plain mode and the TUI reads the same symbols.
///
/// Lagging has its own mark because it is not a failure: the point of the board is that
/// "…" is normal under eventual consistency and only "✘" is a bug.
pub fn mark(v: &Verdict) -> char {
    match v {
        Verdict::Holds => '✔',
        Verdict::Lagging { .. } => '…',
        Verdict::Broken(_) => '✘',
        Verdict::Unknown(_) => '?',
    }
}

/// The end-of-run report: counts, each fault's cost, each invariant's verdict.
///
/// The shoppers' counts and order_db's counts are printed side by side on purpose: the
/// client's view ("I saw Paid") and the store's truth ("status = 2") may differ after a
/// fault, and the difference is the thing to explain, not to hide.
///
/// Needs the summary `run` returns once catch-up is over. The lines come in print order:
/// header, shoppers' counts, order_db's counts, the last give-up's reason (if any), one
/// line per fault in arrival order, one per check in the board's order, the verdict.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let c = &s.last.counts;
    // order_db's own statuses from the final sample: the store's count of paid orders,
    // which may exceed `c.paid` (a shopper who stopped polling never saw its Paid).
    let (pending, paid, cancelled) = s.orders;
    let mut out = vec![
        format!("==> 秒杀结束：图书 #{}，{}", s.book, s.params.describe()),
        format!(
            "    顾客 {} · 登录 {} · 下单成功 {} · 售罄被拒 {} · 放弃支付 {} · 已支付 {} · 放弃重试 {}",
            c.shoppers, c.logged_in, c.placed, c.refused, c.abandoned, c.paid, c.gave_up
        ),
        format!(
            "    order_db：待支付 {pending} · 已支付 {paid} · 已取消/过期 {cancelled}；重试 {} 次，其中幂等重放 {} 次",
            c.retries, c.replayed
        ),
    ];
    // Only the last give-up's reason: one line is enough to tell "the fault outlasted the
    // 45 s step deadline" from "the request was wrong (a 4xx)", and a list of sixty would
    // bury the verdict below it.
    if let Some(e) = &c.last_error {
        out.push(format!("    最后一个放弃的原因：{e}"));
    }
    // A crashed shopper is the lab's bug, not the store's: said on its own line, because
    // its order (if any) stopped half-way and the counts above are short by it.
    // Absent when 0, like the give-up line: a clean run's report stays as it was.
    if c.crashed > 0 {
        out.push(format!(
            "    ⚠ {} 个顾客任务崩溃（panic），按已结束计入：这是实验程序的缺陷",
            c.crashed
        ));
    }
    // Both durations per fault: "restored" is when the lab's action ended, "recovered"
    // when a client got an answer again; the gap between them is the retries' backoff
    // plus whatever the service needed after it was back (reconnecting, a rebuild).
    for f in &s.last.faults {
        // Tenths of a second: the recovery includes backoff steps of up to 1.6 s,
        // so milliseconds would claim a precision the measurement does not have.
        let ms = |v: Option<u64>| v.map_or("-".into(), |v| format!("{:.1}s", v as f64 / 1000.0));
        out.push(format!(
            "    故障 t={:.0}s {}：动作结束 {} · 恢复 {}（首个成功的 {:?}）· 期间错误应答 {}",
            f.at_s,
            f.label,
            ms(f.restored_ms),
            ms(f.recovered_ms),
            f.route,
            f.failed_answers
        ));
    }
    // After catch-up every row should read 成立. 仍在追赶 here means `CATCH_UP` ran out
    // with a difference still younger than the grace (one whose values kept changing), and
    // 无法判断 a store still silent: neither passes the verdict — an audit that could not
    // finish is not a clean audit.
    for r in &s.last.board {
        let now = match &r.verdict {
            Verdict::Holds => "成立".to_string(),
            Verdict::Lagging { items, .. } => format!("仍在追赶：{}", items.join("；")),
            Verdict::Broken(items) => format!("被破坏：{}", items.join("；")),
            Verdict::Unknown(why) => format!("无法判断：{why}"),
        };
        // A check that is green now but was red on the way says so on the same line:
        // otherwise a healed failure would read like a pass.
        let ever = r
            .ever_broken
            .as_ref()
            .map_or(String::new(), |e| format!("（运行中曾被破坏：{}）", e.join("；")));
        out.push(format!("    {} {} — {now}{ever}", mark(&r.verdict), r.invariant.label()));
    }
    out.push(if s.held {
        "==> 全部不变量成立：故障造成了错误应答和重试，但没有超卖、没有丢单、没有错账".into()
    } else {
        "==> 有不变量被破坏：见上面的看板".into()
    });
    out
}

/// The `{{measured:KEY}}` keys a flash sale fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 10] = [
    "stock",
    "shoppers",
    "placed",
    "paid",
    "abandoned",
    "refused",
    "retries",
    "gave_up",
    "faults",
    "held",
];

/// The sale's figures from its summary (after catch-up, so they are final).
///
/// The shoppers' counts, not order_db's: the lesson's reveal asks what the *clients*
/// experienced under faults, and the board's verdict (`held`) speaks for the stores.
pub fn figures(s: &Summary) -> Vec<(&'static str, String)> {
    let c = &s.last.counts;
    // In `FIGURE_KEYS`' order: the zip below pairs them by position, so a value added
    // here without its key (or the reverse) shifts every later figure by one.
    let values = [
        s.params.stock.to_string(),
        s.params.shoppers.to_string(),
        c.placed.to_string(),
        c.paid.to_string(),
        c.abandoned.to_string(),
        c.refused.to_string(),
        c.retries.to_string(),
        c.gave_up.to_string(),
        s.last.faults.len().to_string(),
        // Words, not `true`: the reveal is a sentence ("不变量：全部守住").
        if s.held { "全部守住".into() } else { "有不变量被打破".into() },
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
