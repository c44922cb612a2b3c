//! Day 33–34's payment scenarios in plain mode: each step as it happens, then a verdict.

use tokio::sync::mpsc;

use crate::experiments::payments::{self, PaymentTargets, Scenario};

// All four scenarios in the lesson's order, each a line per step as it happens and a
// verdict line, then a non-zero exit if any verdict is ✘ — so a CI job running
// `bookstore-lab lesson day34 --no-tui` fails when a duplicate callback sells twice or a
// late payment is not refunded. The targets are re-read before every scenario because
// scenario 3 restarts payment-service (a new pid and metrics port). About 20 s in all.
/// Runs the four payment scenarios and prints each step and verdict.
pub async fn payments_with_lines(ctx: &crate::tui::Context) -> anyhow::Result<()> {
    // `setup` (the shopper and book of scenario 1) is threaded through: the later scenarios
    // reuse it like the TUI does, so four scenarios cost one registration, not four.
    // `failed` counts verdicts rather than stopping at the first ✘: a CI log should show
    // every broken invariant of the run at once.
    let mut setup = None;
    let mut failed = 0;
    for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
        let targets: PaymentTargets = ctx.payment_targets()?;
        println!("==> 场景 {}：{}", i + 1, scenario.label());
        let (tx, mut rx) = mpsc::unbounded_channel();
        // The printer also keeps the first scenario's shopper and book (its `Ready`), so the
        // next three reuse them as the TUI does.
        let printer = tokio::spawn(async move {
            let mut ready = None;
            while let Some(e) = rx.recv().await {
                match e {
                    // Seconds after CreateOrder was sent (`t0`), to the millisecond: the
                    // 3 s payment window and the polls behind each step (the gateway's 200 ms,
                    // the relay's) are read off this column; the runner timed it, not we.
                    payments::PaymentsEvent::Step { step, .. } => {
                        println!("  {:>+8.3}s  {}", step.at_ms as f64 / 1000.0, step.what)
                    }
                    payments::PaymentsEvent::Ready { setup, .. } => ready = Some(setup),
                    _ => {}
                }
            }
            ready
        });
        let report = payments::run(i as u64 + 1, targets, scenario, setup.clone(), tx).await;
        // The printer is awaited before the verdict line: `run` returned, so its sender is
        // dropped and every step line is already out — the verdict is always the last line.
        if let Ok(Some(made)) = printer.await {
            setup = Some(made);
        }
        // An error (an RPC failed, the restart did not come back) ends the whole command,
        // unlike a ✘ verdict: with the stack broken, the later scenarios would only fail
        // for the same reason and bury the first message under three more.
        let report = report?;
        let (ok, why) = report.verdict();
        failed += usize::from(!ok);
        println!(
            "  {} 支付 {:?} · 订单 {:?} · {why}",
            crate::app::payments::mark(ok),
            report.payment_status,
            report.order_status
        );
    }
    anyhow::ensure!(failed == 0, "{failed} payment scenario(s) broke an invariant");
    Ok(())
}
