//! The two faults the payments scenarios inject from outside the service: a burst of
//! duplicate callbacks through the gateway, and a kill -9 with the supervisor's restart.

use std::time::Duration;

use anyhow::Context as _;

use super::{DUPLICATES, PaymentTargets, report::CallbackCounts, run::Timeline};

// Through the gateway's lab route, not payment-service's gRPC: the route is how a provider
// reaches us in the lab, and it adds the service credential — the lab does not need it.
// All 100 are in flight together (one reqwest client, its pool opens as many connections
// as needed), so they meet inside payment-service at the same moment: the payment's row
// lock in `settle_in` is what makes 99 of them wait and then find "not Pending any more".
// ❌ DON'T fire them one after another to "test idempotence": sequential duplicates pass
// even a check-then-update without a lock; only concurrent ones catch it.
/// Scenario 2: `DUPLICATES` concurrent successful callbacks for one payment, with
/// payment-service's counters read around them.
pub(super) async fn duplicate_callbacks(
    targets: &PaymentTargets,
    payment_no: &str,
    amount: i64,
) -> anyhow::Result<CallbackCounts> {
    // 15 s per callback: the 99 losers wait on the winner's row lock in turn, and
    // a loaded MariaDB can stretch that queue; a timeout would count as a failed
    // callback and blame the service for the lab's impatience.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?;
    // `None` when the metrics address is unknown or the scrape fails: the counts are then
    // shown as missing rather than as 0, which would read as "no callback took effect".
    // A counter that does not exist yet (a freshly restarted service that has seen no
    // callback) sums to 0, which is the truth.
    let counter = async |changed: &str| -> Option<u64> {
        let m = targets.payment_metrics.as_deref()?;
        let scrape = crate::metrics::scrape(&http, m).await.ok()?;
        Some(scrape.sum("payment_callbacks_total", &[("changed", changed)]) as u64)
    };
    // Read just before the burst and just after: the difference is this scenario's
    // share of a counter that lives as long as the process.
    let (yes0, no0) = (counter("true").await, counter("false").await);
    let url = format!("http://{}/api/v1/payments/{payment_no}/mock-callback", targets.gateway);
    let body = serde_json::json!({ "success": true, "amount": amount });
    // The requests are built first and awaited together by `join_all` below:
    // nothing is sent until then, so none gets a head start.
    let calls = (0..DUPLICATES).map(|_| {
        let req = http.post(&url).json(&body).send();
        async move {
            let r = req.await.ok()?;
            let ok = r.status().is_success();
            let v: serde_json::Value = r.json().await.ok()?;
            (ok && v["payment"]["status"] == "success").then_some(())
        }
    });
    // An answer counts as ok only with HTTP 200 *and* the payment reported as `success`:
    // a duplicate must answer the payment as it is, not an error a retrying provider
    // would read as "try again" (and retry forever).
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| a.is_some()).count();
    let (yes1, no1) = (counter("true").await, counter("false").await);
    // A missing "before" (no callback ever yet) counts as 0; a missing "after" means
    // the scrape failed and the figure is unknown, not zero.
    let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a.unwrap_or(0)));
    Ok(CallbackCounts {
        sent: DUPLICATES,
        ok,
        failed: DUPLICATES - ok,
        changed: delta(yes0, yes1),
        unchanged: delta(no0, no1),
    })
}

// The kill is SIGKILL, the `-9` of the lesson: no shutdown hook runs, no in-flight
// transaction commits, exactly what a power cut or the OOM killer does — a SIGTERM would
// let the service drain and prove less. The pid comes from `stack.json` and is checked
// against `/proc/<pid>/cmdline` first (`is_ours`): a stale record must never kill an
// unrelated process. The restart is `bookstore-lab up` as a child process, the command
// the learner would type: it sees payment-service dead, restarts only it, on its recorded
// port, and waits for its health check. A child process rather than `Supervisor::up` in
// this process because `up` reports progress on stderr, which would scribble over the
// TUI's screen; its output is kept and shown only if it fails.
/// Scenario 3: kill -9 payment-service, wait until it is gone, restart it.
pub(super) async fn kill_and_restart(
    targets: &PaymentTargets,
    timeline: &mut Timeline<'_>,
) -> anyhow::Result<(u32, u32)> {
    // Read from `stack.json` after `up` has returned, not kept from before the kill: the
    // record is rewritten by `up`, and the new process's pid exists only there.
    let pid_of = || -> anyhow::Result<u32> {
        let state = bookstore_stack::StackState::load(&targets.lab_dir)?.unwrap_or_default();
        let c = state.service("payment").context("payment-service is not in stack.json")?;
        c.pid.context("payment-service is external (no pid): the lab cannot kill it")
    };
    // The supervisor's kill (the `is_ours` check above happens inside), shared with the
    // flash sale's faults and the discovery experiment.
    let pid = bookstore_stack::Supervisor::open(&targets.lab_dir)?.kill_instance("payment")?;
    timeline.push(format!("kill -9 {pid}（payment-service，网关任务尚未到期）"));
    // Gone first, then `up`: started while the old process still held its port, the new
    // one would fail to bind. A process stuck past the 5 s cap is left to `up`, which
    // refuses to start a second one on the same port and says so.
    crate::experiments::flash::faults::wait_gone(pid).await;
    timeline.push(format!("进程 {pid} 已消失：内存里的一切（若有定时器）都随它而去"));
    // `--no-seed` matters here: the seed re-checks thousands of books, seconds that would
    // push the restart past the 3 s window and change what the timeline shows.
    crate::experiments::flash::faults::up_again(&targets.lab_dir).await?;
    // The new pid from the supervisor's own record, re-read after `up` wrote it: the report
    // then names the process the supervisor will stop at `down`.
    let new_pid = pid_of()?;
    timeline.push(format!("bookstore-lab up：payment-service 重启（pid {new_pid}，同一端口）"));
    Ok((pid, new_pid))
}
