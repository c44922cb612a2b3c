//! Day 31–32's orders experiment in plain mode: the script presses the lesson's keys.

use bookstore_loadgen::Snapshot;
use tokio::sync::mpsc;

use crate::experiments::orders::{
    self, ChainStep, OrderParams, OrderTargets, OrdersEvent, PendingOrder, StockView,
};

// The same run as the TUI, with the keys pressed by the script in the lesson's order: the
// burst, `c`, `f` (that order, see the `0 =>` stage below), then the expiry countdown. It
// does not wait the lab's 2 minutes for the expiry — a script would sit idle for them; the
// line says when it will happen and the TUI (or `mysql`, see the lesson) shows it. What it
// looks like (illustrative numbers, bars shortened):
// ```text
// ==> 实验：库存 5 · 顾客 4 · 并发下单 20 · 图书 #212
// 调用链（一次 CreateOrder，合计 2.72ms）：
//   ∥ValidateToken ####                  0.81ms
//   ∥GetBook-212   ######                1.10ms
//    claim               ###             0.52ms
//    LockStock              ####         0.61ms
//    commit                     #######  0.49ms
// 并发下单：已创建 4 · 被拒绝 16（FAILED_PRECONDITION）· 错误 0 · p50 … · p99 …（另有第一笔单独下的 1 单）
// 库存：available 0 · locked 5 · sold 0 · total 5 · 待支付 5 笔（5 件）· 已取消 0 · 守恒 ✔
// c: 订单 #… 已取消（Cancelled），锁定的库存回到 available
// f: 提交失败（Unavailable）：#… 锁定 1 件 → 补偿释放 1 件，available 仍为 1
// 库存：available 1 · locked 4 · sold 0 · total 5 · 待支付 4 笔（4 件）· 已取消 1 · 守恒 ✔
// e: 最早的订单 #… 将在 118 秒后过期，由 sweeper 取消并释放库存（TUI 中按 e 观察）
// ```
// Why the script presses the keys itself instead of only printing the burst: the Day 32
// claims are about what happens *after* the burst — a failed commit gives its lock back,
// a cancel returns units at once — and a CI log that only showed "5 created, 16 refused"
// would test Day 31 and leave Day 32's compensation unchecked. Every line printed is read
// from the services (stock from GetStock, the lock/release pair from the stock log), so a
// regression in the compensation shows up as a ✘ or a "没有锁定任何库存" line in the log.
// The runner's watcher is aborted at the end, which is safe: it only reads, and the orders
// it leaves Pending expire on their own through the sweeper within the lab's window.
/// Runs the orders experiment and prints each stage as a line.
pub async fn orders_with_lines(targets: OrderTargets, params: OrderParams) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Run 1: plain mode runs one experiment per process, so the run tag the TUI uses to
    // drop a previous run's late events has nothing to tell apart here.
    let runner = tokio::spawn(orders::run(1, targets.clone(), params, tx));
    let (mut book, mut tokens) = (0, Vec::new());
    // The script's position: after the burst, the first sample prints the stock, then `c`
    // and `f` run, and the sample after the cancel prints the stock again.
    let (mut stage, mut cancelled_before) = (0, 0);
    while let Some(e) = rx.recv().await {
        match e {
            OrdersEvent::Ready { book: b, tokens: t, .. } => {
                (book, tokens) = (b, t);
                println!("==> 实验：{} · 图书 #{book}", params.describe());
            }
            OrdersEvent::Chain { steps, .. } => print_chain(&steps),
            // Burst progress is the TUI's animation; a log wants the burst's final counts only.
            OrdersEvent::Burst { .. } | OrdersEvent::Done { .. } => {}
            OrdersEvent::BurstDone { load, .. } => print_burst(&load),
            OrdersEvent::Watch { stock, pending, cancelled, now, .. } => {
                // Samples taken before the cancel landed are skipped: the line after `c` must
                // show the stock that came back, not a sample from a second earlier.
                if stage == 1 && cancelled <= cancelled_before {
                    continue;
                }
                print_stock(&stock, &pending, cancelled);
                match stage {
                    // `c` first: after the burst every unit is locked, so a failing order would be
                    // refused before it locked anything; the cancel frees one unit for `f` to lock.
                    0 => {
                        cancelled_before = cancelled;
                        press_c_then_f(&targets, &tokens, &pending, book).await;
                    }
                    _ => {
                        print_expiry(&pending, now);
                        break;
                    }
                }
                stage += 1;
            }
            OrdersEvent::Note { text, .. } => println!("{text}"),
            OrdersEvent::Failed { message, .. } => anyhow::bail!(message),
        }
    }
    // The watcher would go on sampling until the orders expire; the script has what it came for.
    runner.abort();
    Ok(())
}

/// The call chain of the lone first order, one bar per step on a 40-column time axis.
// From order-service's own `server-timing` header, not from client-side timestamps: the
// lab sees one response, and only the service knows how long each step inside it took.
// `∥` marks the lookups that run side by side — their bars start together at column 0,
// and the chain's total counts them once, which is Day 31's saving.
fn print_chain(steps: &[ChainStep]) {
    println!("调用链（一次 CreateOrder，合计 {:.2}ms）：", orders::chain_total(steps));
    let total = orders::chain_total(steps);
    for s in steps {
        // `40 - start - len` below cannot underflow: `bar` keeps `start` under 40 and
        // clamps `len` to the columns left after it (and to at least one, so a 0.05 ms
        // step still shows).
        let (start, len) = s.bar(total, 40);
        println!(
            "  {}{:<13} {}{}{} {:>7.2}ms",
            if s.parallel() { "∥" } else { " " },
            s.name,
            " ".repeat(start),
            "#".repeat(len),
            " ".repeat(40 - start - len),
            s.dur_ms
        );
    }
}

/// The burst's final counts and latencies.
// Refusals are named by their code because that is the claim: with the stock gone, an
// order is refused with FAILED_PRECONDITION (the load engine counts those apart from
// errors), so "错误 0" next to a large "被拒绝" is the healthy result, not a failure.
fn print_burst(load: &Snapshot) {
    println!(
        "并发下单：已创建 {} · 被拒绝 {}（FAILED_PRECONDITION）· 错误 {} · p50 {} · p99 {}（另有第一笔单独下的 1 单）",
        load.successes,
        load.rejections,
        load.failures,
        crate::ui::fmt_us(load.p50_us),
        crate::ui::fmt_us(load.p99_us)
    );
}

/// One watcher sample: the stock's four columns, the Pending orders, and the verdict.
fn print_stock(stock: &StockView, pending: &[PendingOrder], cancelled: u64) {
    // One mark for both halves of the check (counters add up, every lock owned by a
    // Pending order): the verdict a CI log needs. Which half broke is on the TUI's line.
    let c = orders::conservation(stock, pending);
    println!(
        "库存：available {} · locked {} · sold {} · total {} · 待支付 {} 笔（{} 件）· 已取消 {} · 守恒 {}",
        stock.available,
        stock.locked,
        stock.sold,
        stock.total,
        pending.len(),
        c.pending_units,
        cancelled,
        if c.holds() { "✔" } else { "✘" }
    );
}

/// Stage 0: cancel the newest Pending order (`c`), then one order that fails its commit (`f`).
// Each answer is printed whatever it says, failure included (`note`): the line after it
// shows the stock the action left, and the two together are what the lesson reads.
async fn press_c_then_f(
    targets: &OrderTargets,
    tokens: &[String],
    pending: &[PendingOrder],
    book: u64,
) {
    if let Some(p) = pending.last() {
        let done = orders::cancel(targets, &tokens[p.shopper], p.id).await;
        println!("c: {}", note(done));
    }
    println!("f: {}", note(orders::fail_commit(targets, &tokens[0], book).await));
}

/// Stage 1: when the oldest Pending order will expire (the script does not wait for it).
fn print_expiry(pending: &[PendingOrder], now: i64) {
    if let Some(p) = pending.first() {
        println!(
            "e: 最早的订单 #{} 将在 {} 秒后过期，由 sweeper 取消并释放库存（TUI 中按 e 观察）",
            p.id,
            crate::app::orders::countdown_secs(p.expires_at, now)
        );
    }
}

/// An action's answer or its failure, as one line.
fn note(r: anyhow::Result<String>) -> String {
    r.unwrap_or_else(|e| format!("失败：{e:#}"))
}
