//! The experiment in words: one line per tick, the kill's timeline, the lesson's figures.

use super::{KillReport, Tick};

/// One tick as one line of the plain mode's log, for example:
///
/// `t=5s 1234 req/s 失败 0 p99 3.1ms | user passing 610/s | user-2 critical -`
///
/// The instance columns are the *served* rates: the instances' own count is the
/// evidence that traffic moved, not the gateway's claim about where it sent it.
pub fn tick_line(t: &Tick) -> String {
    // `failed` is the run's total, not this second's: the plain output is read after the
    // fact, and one failure must still show on the last line printed.
    let mut line = format!(
        "t={:>4.1}s {:>6.0} 请求/秒 · 失败 {} · p99 {}",
        t.elapsed_s,
        // Successes only, like the flash sale's: a second of failures shows as a dip.
        t.rps,
        t.failed,
        t.p99_ms.map_or("-".into(), |p| format!("{p:.1}ms"))
    );
    // In the rows' order (by instance number, see `views`), so a column keeps its
    // instance from line to line and a learner can read one instance down the log.
    for i in &t.instances {
        // `-` for an instance that could not be scraped: dead, or not yet up.
        line.push_str(&format!(
            " | {} {} {}",
            i.label,
            i.consul,
            i.served_qps.map_or("-".into(), |q| format!("{q:.0}/s"))
        ));
    }
    line
}

/// The kill's figures as one line.
///
/// The three moments in the order they happen — last call, not passing, deregistered —
/// so the line itself reads as the lesson's timeline; `尚未` for one not reached yet.
///
/// The TUI redraws it from every tick's report, so `尚未` turns into times as they are
/// measured; the script prints it once, after the run, when the figures are final.
pub fn kill_line(k: &KillReport) -> String {
    // `+`: every time is after the kill's own instant (`KillMark::at`), never a clock
    // time, so two runs' lines compare directly.
    let ms = |v: Option<u64>| v.map_or("尚未".into(), |v| format!("+{v}ms"));
    format!(
        "kill -9 {}：负载失败 {} 次 · 网关重发 {} 次 · 网关最后一次发给它 {} · Consul 判定非 passing {} · 注销 {}",
        k.label,
        k.failed,
        k.resent,
        ms(k.last_call_ms),
        ms(k.not_passing_ms),
        ms(k.deregistered_ms)
    )
}

/// The `{{measured:KEY}}` keys a discovery run fills (see race's `FIGURE_KEYS`).
pub const FIGURE_KEYS: [&str; 8] = [
    "rps",
    "ok",
    "failed",
    "p99_ms",
    "instances",
    "kill_failed",
    "kill_not_passing_ms",
    "kill_deregistered_ms",
];

/// The discovery run's figures.
///
/// From the run's last tick: the totals are the run's, and the kill figures describe the
/// last `kill -9` (the one the lesson asks about); `-` before any kill.
///
/// Needs the tick `run` returned, not any tick: an earlier one would carry rates and a
/// kill report that were still moving.
pub fn figures(tick: &Tick) -> Vec<(&'static str, String)> {
    let dash = || "-".to_string();
    let kill = tick.kill.as_ref();
    let ms = |v: Option<u64>| v.map_or_else(dash, |v| v.to_string());
    // Paired with `FIGURE_KEYS` by position: keep the two lists in the same order.
    let values = [
        // The last second's rate, not a run average: what the load sustained at the end,
        // after the kill and the restart.
        format!("{:.0}", tick.rps),
        tick.ok.to_string(),
        tick.failed.to_string(),
        tick.p99_ms.map_or_else(dash, |p| format!("{p:.1}")),
        tick.instances.len().to_string(),
        // The lesson's claim is that this is 0: retries on another instance hide the crash.
        kill.map_or_else(dash, |k| k.failed.to_string()),
        ms(kill.and_then(|k| k.not_passing_ms)),
        // Always `-` after the scripted run: its timing stops at the restart, 4 s after
        // the kill, and Consul deregisters a critical instance after a minute at the
        // earliest. Only a kill left unrestarted in the TUI gets this figure.
        ms(kill.and_then(|k| k.deregistered_ms)),
    ];
    FIGURE_KEYS.into_iter().zip(values).collect()
}
