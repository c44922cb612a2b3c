//! The Day 33–34 payments screen's state, keys and events (the `App` hooks them in, as it
//! does `orders`).
//!
//! Four keys, one scenario each (`1`–`4`, see `experiments::payments`); a scenario takes
//! 3–15 s of real time and the next key waits for it. The shopper and the book are made by
//! the first scenario and reused after, so each key press costs one order, not a new
//! account — and the results table keeps every scenario's last verdict side by side.
//!
//! ✅ DO keep a result per scenario and overwrite it on the next run of the same scenario;
//! ❌ DON'T append every run to a list: after a dozen presses the screen would be a log,
//! and the four-line checklist the lesson refers to would scroll away.

use ratatui::crossterm::event::KeyCode;

use super::Command;
use crate::experiments::payments::{PaymentsEvent, Report, Scenario, Setup, Step};

// Plain data like every state in `app`: the reports are copies, the setup a token and an
// id. A test builds "the crash scenario half-way" by sending its events.
/// The payments screen.
#[derive(Clone, Debug, Default)]
pub struct PaymentsState {
    /// The run on screen (each scenario is a run; 0: none yet).
    pub run: u64,
    /// The scenario running now, if any.
    pub running: Option<Scenario>,
    /// The shopper and book every scenario uses, once the first one made them.
    pub setup: Option<Setup>,
    /// The scenario whose timeline is on screen (the running one, else the last one).
    pub shown: Option<Scenario>,
    /// Its timeline, growing live.
    pub steps: Vec<Step>,
    /// The last report of each scenario, indexed like [`Scenario::ALL`].
    pub reports: [Option<Report>; 4],
    /// The last scenario's failure (an RPC error, a restart that did not come back), not
    /// a broken invariant — that is a red verdict row, with the report to show for it.
    pub error: Option<String>,
}

// Enter as well as `1`: every other experiment starts on Enter, and the timeline is the
// scenario to run first (the others are read against it).
/// The scenario a key starts (`1`–`4`, Enter = the timeline).
fn scenario_for(code: KeyCode) -> Option<Scenario> {
    match code {
        KeyCode::Enter | KeyCode::Char('1') => Some(Scenario::Timeline),
        KeyCode::Char('2') => Some(Scenario::Duplicates),
        KeyCode::Char('3') => Some(Scenario::Crash),
        KeyCode::Char('4') => Some(Scenario::Refund),
        _ => None,
    }
}

impl PaymentsState {
    // A lookup in `ALL` rather than `s as usize`: `ALL` is the one place the lesson's order
    // is written, and the report slots, the rows and the keys all follow it from there.
    /// The index of `s` in [`Scenario::ALL`] (and in `reports`).
    pub fn slot(s: Scenario) -> usize {
        // `ALL` lists every variant, so the fallback is unreachable; 0 rather than a panic
        // because a wrong row on screen is a smaller failure than a crashed terminal.
        Scenario::ALL.iter().position(|x| *x == s).unwrap_or(0)
    }

    // One scenario at a time, and not for the sake of the screen: two at once would share the
    // book, and "sold went up by exactly one" would then count the other scenario's sale.
    // The kill in scenario 3 would also fail any other scenario's payment calls mid-way.
    /// A key on the payments screen: the commands to run, and a notice for the footer.
    pub fn key(&mut self, code: KeyCode) -> (Vec<Command>, Option<String>) {
        let Some(scenario) = scenario_for(code) else { return (Vec::new(), None) };
        if let Some(now) = self.running {
            return (Vec::new(), Some(format!("正在运行「{}」，请等它结束", now.label())));
        }
        // The setup travels in the command (cloned), not looked up by the runner: the runner
        // is library code that knows nothing of this state, and the plain mode and the
        // tests call it the same way.
        self.run += 1;
        self.running = Some(scenario);
        self.shown = Some(scenario);
        // The new scenario's timeline starts empty and the last error goes: both describe the
        // previous run. The verdicts of the other scenarios stay — they are still true.
        self.steps.clear();
        self.error = None;
        // `setup: None` on the first press: the runner then registers a shopper, publishes a
        // book and announces both in `Ready`, which every later press carries back.
        let cmd = Command::StartPayment { run: self.run, scenario, setup: self.setup.clone() };
        (vec![cmd], Some(format!("开始：{}", scenario.label())))
    }

    // Events of an older run are dropped (✅ DO tag asynchronous results with their request;
    // see `app::orders`): a scenario that timed out on screen may still report later.
    /// Folds an event into the screen; returns a notice when a scenario ends.
    pub fn on_event(&mut self, e: PaymentsEvent) -> Option<String> {
        let run = match &e {
            PaymentsEvent::Ready { run, .. }
            | PaymentsEvent::Step { run, .. }
            | PaymentsEvent::Finished { run, .. }
            | PaymentsEvent::Failed { run, .. } => *run,
        };
        if run != self.run {
            return None;
        }
        match e {
            // Ready can come again in a later run: a sold-out book is replaced by a fresh one,
            // and the next command must carry the new book, not the empty one.
            PaymentsEvent::Ready { setup, .. } => self.setup = Some(setup),
            // Appended as they come, already timed by the runner (ms after CreateOrder),
            // so the timeline grows live and its offsets never depend on when we drew.
            PaymentsEvent::Step { step, .. } => self.steps.push(step),
            PaymentsEvent::Finished { report, .. } => {
                self.running = None;
                let (ok, why) = report.verdict();
                // The short name in the footer, so the verdict fits its three rows.
                let notice = format!("{}：{} {why}", report.scenario.short().trim_end(), mark(ok));
                // The report's steps are the complete list; the live ones may have raced it.
                self.steps = report.steps.clone();
                let slot = Self::slot(report.scenario);
                self.reports[slot] = Some(*report);
                return Some(notice);
            }
            // A failure keeps the timeline so far: the last step shown is where it stopped
            // (for example, right after the kill if `bookstore-lab up` failed).
            PaymentsEvent::Failed { message, .. } => {
                self.running = None;
                self.error = Some(message);
            }
        }
        None
    }
}

/// ✔ or ✘, the marks every verdict on the lab's screens uses.
pub fn mark(ok: bool) -> &'static str {
    if ok { "✔" } else { "✘" }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the one-at-a-time rule and that the setup made by the first scenario is handed
    // to the next one (no second shopper, no second book). The regression it catches: a
    // `key` that forgot the setup would register a shopper per press, and one that let a
    // second scenario start would let both sell the same book and break "sold +1".
    /// A second key while a scenario runs starts nothing; the next run reuses the setup.
    #[test]
    fn one_scenario_at_a_time_and_the_setup_is_reused() {
        let mut s = PaymentsState::default();
        let (cmds, _) = s.key(KeyCode::Char('2'));
        assert!(matches!(
            cmds.as_slice(),
            [Command::StartPayment { run: 1, scenario: Scenario::Duplicates, setup: None }]
        ));
        assert!(s.key(KeyCode::Char('3')).0.is_empty(), "refused while running");
        let setup = Setup { book: 7, token: "t".into() };
        s.on_event(PaymentsEvent::Ready { run: 1, setup: setup.clone() });
        s.on_event(PaymentsEvent::Failed { run: 1, message: "x".into() });
        let (cmds, _) = s.key(KeyCode::Char('3'));
        assert_eq!(
            cmds,
            vec![Command::StartPayment { run: 2, scenario: Scenario::Crash, setup: Some(setup) }]
        );
        // A late event of run 1 does not touch run 2's timeline.
        let step = Step { at_ms: 1, what: "old".into() };
        s.on_event(PaymentsEvent::Step { run: 1, step });
        assert!(s.steps.is_empty());
    }
}
