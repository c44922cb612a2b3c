//! The experiment's loop: samples every 100 ms or every second, applies the learner's
//! actions, and times the last kill from the instant of its signal.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use bookstore_platform::consul::{Consul, Instance};
use bookstore_stack::{StackState, Supervisor, UpOptions};
use tokio::sync::mpsc;

use super::{
    Action, DiscoveryEvent, DiscoveryTargets, KillReport, SAMPLE, Tick,
    instances::{Counters, gateway_counts, served_counts, views},
    load::{Load, login},
};

/// A kill being timed.
struct KillMark {
    /// When the kill was recorded: just after the SIGKILL and one scrape of the gateway
    /// (a few ms on loopback), so every time in the report is that much early.
    at: Instant,
    /// The instance was restarted: a new process on the same address would look like the
    /// dead one still getting calls, so the timing stops here.
    done: bool,
    /// The load's failures, the gateway's failure total and its calls to the dead address
    /// at `at`: the report shows the differences since then, so a failure that happened
    /// before the kill is never charged to it.
    failed_before: u64,
    resent_before: f64,
    /// Raised whenever a sample shows the gateway's count for the dead address grew, so
    /// `report.last_call_ms` ends as the last sample at which calls still went there.
    last_sent: f64,
    /// The figures so far, updated in place by `time_kill` and cloned into every tick.
    report: KillReport,
}

/// Runs the experiment until `actions` is closed: load from `workers` callers, a `Tick`
/// every second, actions applied as they arrive. Returns the last tick.
///
/// Fails before any load if the lab user cannot be registered or logged in, and later only
/// if a kill's supervisor record cannot be read (the load is stopped then too); every
/// other failed action is a note on the screen.
pub async fn run(
    targets: DiscoveryTargets,
    workers: usize,
    mut actions: mpsc::UnboundedReceiver<Action>,
    events: mpsc::UnboundedSender<DiscoveryEvent>,
) -> anyhow::Result<Tick> {
    // The sampler's client (scrapes, login): 2 s, because a scrape that takes
    // longer has missed its 100 ms slot many times over and is better skipped.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    // One user and one token for all workers: the token is validated on every call
    // (user-service's ValidateToken), so it costs the same as sixteen users would.
    let token = login(&http, &targets.gateway).await?;
    let load = Load::start(&targets.gateway, &token, workers);
    // Stops the detached workers when `run` ends by any path: the loop's end, an error's
    // `?`, a panic, or the caller dropping this future. ❌ DON'T rely on one `store` after
    // the loop: every early exit would skip it and leave the load firing at the gateway.
    let _stop = StopOnDrop(load.clone());
    let _ = events.send(DiscoveryEvent::Ready { workers });
    let mut s = Sampler {
        consul: Consul::new(&targets.consul),
        targets,
        http,
        load,
        events,
        started: Instant::now(),
        // The per-second counters of the previous full sample; empty at first, so the
        // first tick shows no rates rather than a rate computed from zero.
        second: Counters::default(),
        ok_before: 0,
        kill: None,
        last: Tick::default(),
        samples: 0,
    };
    // The default `MissedTickBehavior::Burst`: a sample that took 300 ms is followed
    // by quick catch-up ticks, so ten ticks still span about a second and the
    // once-a-second figures stay on the clock.
    let mut interval = tokio::time::interval(SAMPLE);
    loop {
        tokio::select! {
            // `select!` polls its ready branches in random order, so a stream of actions
            // cannot starve the sampler, nor the sampler the actions.
            action = actions.recv() => match action {
                None => break Ok(s.last.clone()),
                // A kill is done here, inline, because its instant and the counters at that
                // instant start the timing; starting an instance waits for Consul's first
                // passing check (a second or two), so it runs beside the sampler.
                // Its `?` ends the run; `_stop` above still stops the load on that path.
                Some(Action::Kill(label)) => s.kill(label).await?,
                Some(other) => s.act_beside(other),
            },
            _ = interval.tick() => {
                // Nobody listens any more (the screen closed): stop the load.
                if !s.sample().await {
                    break Ok(s.last.clone());
                }
            }
        }
    }
}

/// Sets the load's `stop` when dropped; the workers then end after their current request.
///
/// They hold only `Arc`s, so nothing has to be joined: the flag is the whole shutdown.
/// A guard of its own rather than `Drop for Load`: every worker holds an `Arc<Load>`, so
/// the load itself is dropped only after the last worker ended — never while they fire.
struct StopOnDrop(Arc<Load>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// The loop's state between events.
struct Sampler {
    /// Where the stack is: the gateway's metrics port for the scrapes, Consul, the lab directory whose
    /// `stack.json` names the instances, and the service's Consul name.
    targets: DiscoveryTargets,
    /// The sampler's own client (2 s timeout), apart from the load's (5 s): a slow scrape
    /// must give up long before a slow request of the load would.
    http: reqwest::Client,
    load: Arc<Load>,
    /// Asked for every registration of the service, passing or not: a critical instance
    /// is exactly the one the lesson wants to see.
    consul: Consul,
    /// Ticks and notes for the screen or the script; a closed channel ends the run at the
    /// next full sample (see `full_sample`).
    events: mpsc::UnboundedSender<DiscoveryEvent>,
    /// When the load began: the zero of every tick's `elapsed_s`.
    started: Instant,
    /// The previous full sample's counters: each rate is the difference to them.
    second: Counters,
    /// The load's `ok` at the previous full sample, for the tick's requests per second.
    ok_before: u64,
    /// The last kill, being timed until it is restarted (or 90 s have passed).
    kill: Option<KillMark>,
    /// The last tick sent, returned when the run ends.
    last: Tick,
    /// 100 ms ticks so far: every tenth is a full sample.
    samples: u64,
}

impl Sampler {
    /// `kill -9` the instance `label` and start timing it; the error is the supervisor's
    /// record being unreadable (which ends the run), a failed kill is only a note.
    async fn kill(&mut self, label: String) -> anyhow::Result<()> {
        let (targets, http) = (&self.targets, &self.http);
        // Only the signal is sent (no restart), so `act` returns within a few
        // milliseconds and the timestamps below are about the kill.
        let note = act(targets, &Action::Kill(label.clone())).await;
        if note.is_ok() {
            let (sent, resent) = gateway_counts(http, targets).await;
            // The victim's address from the supervisor's record: the key that ties
            // the gateway's per-instance counter and Consul's entry to this kill.
            let address = StackState::load(&targets.lab_dir)?
                .unwrap_or_default()
                .service(&label)
                .map(|c| c.address.clone())
                .unwrap_or_default();
            self.kill = Some(KillMark {
                at: Instant::now(),
                done: false,
                failed_before: self.load.failed.load(Ordering::Relaxed),
                resent_before: resent,
                // The gateway's count of calls to the victim at the kill: any
                // growth after this is a call sent to a dead process.
                last_sent: sent.get(&address).copied().unwrap_or(0.0),
                report: KillReport { label, address, ..KillReport::default() },
            });
        }
        let text = note.unwrap_or_else(|e| format!("失败：{e:#}"));
        let _ = self.events.send(DiscoveryEvent::Note(text));
        Ok(())
    }

    /// Restart, add or stop, on a task of its own.
    ///
    /// Returns at once; the outcome arrives later as a `DiscoveryEvent::Note`. Restarting
    /// the instance being timed ends its timing here, before the restart starts.
    fn act_beside(&mut self, other: Action) {
        if let (Action::Restart(label), Some(k)) = (&other, self.kill.as_mut())
            && *label == k.report.label
        {
            // Marked before the restart has even begun: once it is requested, any
            // call to that address may be the new process's, not a late one to the
            // dead process.
            k.done = true;
        }
        // Its own task: a restart or an added instance waits for health and
        // Consul (seconds), and the sampler must keep its 100 ms pace meanwhile.
        let (targets, events) = (self.targets.clone(), self.events.clone());
        tokio::spawn(async move {
            let text = act(&targets, &other).await.unwrap_or_else(|e| format!("失败：{e:#}"));
            let _ = events.send(DiscoveryEvent::Note(text));
        });
    }

    /// One 100 ms tick: times the kill, and every tenth tick sends a [`Tick`]. `false`
    /// when the screen is gone.
    async fn sample(&mut self) -> bool {
        self.samples += 1;
        // 90 s: Consul's one-minute deregistration floor, with room for its own
        // check and reap timing. After that the last figure (deregistered) is
        // either in or will not come, and sampling drops back to once a second.
        let timing =
            self.kill.as_ref().is_some_and(|k| !k.done && k.at.elapsed() < Duration::from_secs(90));
        // Every 100 ms while a kill is being timed, else every second.
        if !timing && !self.samples.is_multiple_of(10) {
            return true;
        }
        // Caveat: a failed Consul query becomes an empty list here, and `time_kill`
        // then reads the dead instance as deregistered at that sample. With Consul
        // on loopback this has not been seen, but it is a measurement that can lie.
        let listed = self.consul.all_instances(&self.targets.service).await.unwrap_or_default();
        let (sent, resent) = gateway_counts(&self.http, &self.targets).await;
        if let Some(k) = self.kill.as_mut().filter(|k| !k.done) {
            time_kill(k, &listed, &sent, resent, self.load.failed.load(Ordering::Relaxed));
        }
        // Consul and the gateway are read on every timing tick, the instances only on
        // every tenth: the kill's moments need 100 ms resolution, the rates do not.
        if !self.samples.is_multiple_of(10) {
            return true;
        }
        self.full_sample(&listed, sent).await
    }

    /// The once-a-second part: per-instance rates, totals, the tick itself.
    ///
    /// Takes `listed` and `sent` from the caller's reading, so a tick's rows and the kill's
    /// timing describe the same Consul list and the same gateway scrape. `false` when the
    /// screen is gone.
    async fn full_sample(
        &mut self,
        listed: &[(Instance, String)],
        sent: HashMap<String, f64>,
    ) -> bool {
        let now = Instant::now();
        // Server side only once a second: it scrapes every instance, and the per-
        // instance rates are per-second figures anyway.
        let served = served_counts(&self.http, listed).await;
        // Re-read every second: an instance added or restarted from the keys appears in
        // the record only after the supervisor wrote it, and the rows need its name.
        // An unreadable record gives unnamed rows (`user@port`), not a failed run.
        let state = StackState::load(&self.targets.lab_dir).ok().flatten().unwrap_or_default();
        let instances = views(&state, listed, &self.second, &served, &sent, now);
        self.second = Counters { at: Some(now), served, sent };
        let load = &self.load;
        let ok = load.ok.load(Ordering::Relaxed);
        self.last = Tick {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            // Successes since the previous full sample, taken as one second (ten
            // ticks); a burst of delayed ticks makes one value a little high.
            rps: (ok - self.ok_before) as f64,
            ok,
            failed: load.failed.load(Ordering::Relaxed),
            p99_ms: load.p99_ms(),
            instances,
            kill: self.kill.as_ref().map(|k| k.report.clone()),
        };
        self.ok_before = ok;
        self.events.send(DiscoveryEvent::Tick(self.last.clone())).is_ok()
    }
}

/// Carries out one action through the supervisor; the answer is a line for the screen.
async fn act(targets: &DiscoveryTargets, action: &Action) -> anyhow::Result<String> {
    let mut sup = Supervisor::open(&targets.lab_dir)?;
    // Not attached: an instance started from the TUI belongs to the stack, like the ones
    // `up` started, and outlives the TUI.
    let opts = UpOptions::default();
    Ok(match action {
        Action::Kill(label) => {
            // Only the signal: no deregistration, no drain. Compare `-` (Stop) on another
            // instance: SIGTERM deregisters first and drains, so callers move away while
            // it still serves, and nothing should need a re-send.
            let pid = sup.kill_instance(label)?;
            format!("kill -9 {label}（pid {pid}）：不注销、不排空，像崩溃一样")
        }
        Action::Restart(label) => {
            // Back on the dead instance's recorded port: the callers learn nothing
            // new, Consul's passing check is what lets traffic return.
            let c = sup.restart_instance(label, &opts).await?;
            format!("{label} 已重新启动于 {}，Consul 检查通过后开始接收流量", c.address)
        }
        Action::Add => {
            // A free port nobody was told about: it gets traffic only because it
            // registers in Consul and the gateway's watcher sees it.
            let c = sup.add_instance("user", &opts).await?;
            format!("新实例 {} 启动于 {}（没有任何调用方被告知这个地址）", c.name, c.address)
        }
        Action::Stop(label) => {
            // Awaited to the end, on its own task (see `act_beside`): the note is written
            // only once the process deregistered and exited. The supervisor then forgets
            // it, so a later `up` does not bring it back — unlike a killed instance.
            sup.stop_instance(label).await?;
            format!("{label} 已优雅停止（SIGTERM：先从 Consul 注销，再排空）")
        }
    })
}

/// Advances a kill's report with one sample.
///
/// Called on every 100 ms sample until the kill is restarted. Each moment is recorded
/// once, at the first sample that shows it, so its resolution is one sample.
///
/// Needs `listed`, `sent`, `resent` and `failed` from one sample: mixing readings of
/// different instants would let a call or a failure land on the wrong side of a moment.
fn time_kill(
    k: &mut KillMark,
    listed: &[(Instance, String)],
    sent: &HashMap<String, f64>,
    resent: f64,
    failed: u64,
) {
    // The sample's time, not the moment the event happened: every figure is late by up to
    // one 100 ms sample (plus the scrapes' own few ms), never early.
    let ms = k.at.elapsed().as_millis() as u64;
    let r = &mut k.report;
    // Both cumulative since the kill, recomputed on every sample: the report
    // shows the running total, not the last sample's share.
    r.failed = failed - k.failed_before;
    r.resent = (resent - k.resent_before).max(0.0) as u64;
    // An address missing from this scrape (a failed scrape) means no new call
    // seen, not a counter back at zero: keep the last value.
    let now_sent = sent.get(&r.address).copied().unwrap_or(k.last_sent);
    if now_sent > k.last_sent {
        k.last_sent = now_sent;
        r.last_call_ms = Some(ms);
    }
    let status = listed.iter().find(|(i, _)| i.address == r.address).map(|(_, s)| s.as_str());
    // Not listed at all counts too: a deregistration is also "not passing".
    if r.not_passing_ms.is_none() && status != Some("passing") {
        r.not_passing_ms = Some(ms);
    }
    // Caveat: a restarted process registers a new id on the same address, so after a
    // restart the address is listed again — which is why the timing stops at `Restart`.
    if r.deregistered_ms.is_none() && status.is_none() {
        r.deregistered_ms = Some(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dropping the guard — what every exit of `run` does, an early `?` included — stops
    /// the workers: their failure count stops growing once their last request is back.
    ///
    /// The "gateway" is a port just closed, so each request is a real, instant refusal
    /// and the workers spin fast: a worker that kept firing would show within 200 ms.
    #[tokio::test]
    async fn dropping_the_guard_stops_the_workers() {
        // Bound and dropped at once: a free port nobody listens on, so every request is
        // refused by the kernel in microseconds, with no server to write or to mock.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let load = Load::start(&port.to_string(), "token", 2);
        // Inside a function that leaves by `?`, as `run` does when a kill's record is
        // unreadable: the guard must stop the load on that path too.
        let early = || -> anyhow::Result<()> {
            let _stop = StopOnDrop(load.clone());
            anyhow::bail!("stack.json unreadable")
        };
        // The workers run only while this test awaits (a current-thread runtime): the
        // first sleep lets them fire, so "it stopped" below is not "it never started".
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(load.failed.load(Ordering::Relaxed) > 0, "the workers never ran");
        assert!(early().is_err());
        // One request per worker may still be in flight when the flag is set.
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Two readings 300 ms apart: with refusals this fast, a worker still looping
        // would add hundreds of failures between them.
        let settled = load.failed.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(load.failed.load(Ordering::Relaxed), settled, "workers still firing");
    }
}
