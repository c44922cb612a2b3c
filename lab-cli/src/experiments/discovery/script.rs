//! The scripted kill of the plain mode and of the live test.

use bookstore_stack::{StackState, services};
use tokio::sync::mpsc;

use super::{Action, DiscoveryEvent, DiscoveryTargets, SERVICE, Tick, kill_line, run, tick_line};

/// The scripted run of `bookstore-lab lesson day35 --no-tui` (and of the test): make sure
/// there are two instances, load for 3 s, `kill -9` the last one, watch 4 s, restart it,
/// watch 4 s. Prints a line per second and fails if any request of the load failed.
///
/// Returns the run's last tick, the one the lesson's figures are taken from. With one
/// recorded instance it adds the second through the supervisor, which then keeps it:
/// the stack has one more user-service instance after the script than before.
pub async fn script(
    targets: DiscoveryTargets,
    mut print: impl FnMut(String),
) -> anyhow::Result<Tick> {
    let state = StackState::load(&targets.lab_dir)?.unwrap_or_default();
    // The user-service instances the stack recorded before the run: with one, the
    // script adds a second, since killing the only instance is an outage, not a
    // lesson in discovery.
    let users: Vec<String> = state
        .services
        .iter()
        .filter(|c| services::spec(&c.name).is_some_and(|s| s.binary == SERVICE))
        .map(|c| c.name.clone())
        .collect();
    let (atx, arx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    // 16 callers: enough concurrency that both instances have calls in flight at
    // the kill (so there is something to re-send), not so many that the
    // 2-core lab machine measures its own saturation.
    let runner = tokio::spawn(run(targets, 16, arx, etx));
    if users.len() < 2 {
        // Sent before the first tick; the new instance usually passes its first
        // Consul check within a second or two, before the kill at 3 s.
        atx.send(Action::Add)?;
    }
    // The highest-numbered instance: the one added for the lesson, never the
    // only one the rest of the stack was started with.
    // The rows include recorded instances Consul does not list yet (see `views`), so an
    // instance added a moment ago can already be the victim: its kill then tests a
    // process the gateway may not have sent anything to, and the kill line shows 0 re-sends.
    let victim = |ticks: &Tick| ticks.instances.last().map(|i| i.label.clone());
    // 3 s of steady load before the kill, 4 s to watch ejection and the health
    // check, 4 s after the restart to see traffic return to the new process.
    let mut plan = vec![(3.0, "kill"), (7.0, "restart"), (11.0, "end")].into_iter().peekable();
    let mut victim_label = None;
    while let Some(e) = erx.recv().await {
        match e {
            DiscoveryEvent::Ready { workers } => {
                print(format!("==> 负载：{workers} 个并发调用方，GET /api/v1/users/me 经网关"))
            }
            DiscoveryEvent::Note(t) => print(t),
            // `run` returns its errors instead of sending this (the TUI's task sends it);
            // the arm keeps the script honest if a future sender does.
            DiscoveryEvent::Failed(m) => anyhow::bail!(m),
            DiscoveryEvent::Tick(t) => {
                print(tick_line(&t));
                // At most one step per tick (`if`, not `while`): the steps are 4 s apart and
                // the ticks 1 s, so a step is late by less than a second, never skipped.
                if let Some((at, step)) = plan.peek().copied()
                    && t.elapsed_s >= at
                {
                    plan.next();
                    match step {
                        "kill" => {
                            victim_label = victim(&t);
                            if let Some(v) = &victim_label {
                                atx.send(Action::Kill(v.clone()))?;
                            }
                        }
                        "restart" => {
                            if let Some(v) = &victim_label {
                                atx.send(Action::Restart(v.clone()))?;
                            }
                        }
                        // "end": stop reading; `drop(atx)` below closes the actions channel,
                        // which ends `run` and its load.
                        _ => break,
                    }
                }
            }
        }
    }
    drop(atx);
    // `??`: the task panicked (a `JoinError`), or the run itself failed (login, a kill
    // whose stack record could not be read).
    let last = runner.await??;
    if let Some(k) = &last.kill {
        print(kill_line(k));
    }
    // Zero, not "few": every call of this load is a read that discovery may
    // re-send, so any failure is a bug in the client side, not bad luck.
    anyhow::ensure!(last.failed == 0, "{} requests failed while an instance died", last.failed);
    Ok(last)
}
