//! The Day 30 race screen's state: the knobs, one lane per strategy, and how the race's
//! events fold into them.

use bookstore_loadgen::Snapshot;
use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen, step};
use crate::experiments::race::{
    RaceEvent, RaceParams, Strategy, StrategyExt, StrategyResult, TpsSeries,
};

// `live` is overwritten by each snapshot (the bar moves) while `result` is set once at
// the end. Keeping both lets the screen show a finished lane's final numbers next to a
// lane that is still running, without a second source of truth.
/// One strategy's lane on the race screen.
#[derive(Clone, Debug, Default)]
pub struct Lane {
    // A lane's own `running` (not derived from `RaceState`) so the lane title can say
    // "运行中" for exactly the strategy whose buyers are out right now.
    pub running: bool,
    /// The latest snapshot while running; after `Finished`, the final summary.
    pub live: Snapshot,
    /// Answers/s per snapshot interval, for the chart (every snapshot, the final one too).
    pub tps: TpsSeries,
    /// Set once by `Finished`: the buyers' confirmed sales next to the stock the *store*
    /// holds afterwards (`remaining`), so an oversell shows twice — as sold > stock and as
    /// a negative remainder; if the two disagree, a sale was confirmed but not written.
    pub result: Option<StrategyResult>,
}

/// The Day 30 race screen.
#[derive(Clone, Debug, Default)]
pub struct RaceState {
    /// The knobs (`s`/`S`, `b`/`B`, `t`/`T`), seeded from the command line's flags.
    pub params: RaceParams,
    // Why both `params` and `ran_with`: the learner may press `S` to prepare the next run
    // while looking at the last one. The lanes' oversell must use the stock of the run on
    // screen, not the knobs — otherwise pressing `S` after a run would change its oversell
    // count. (The line on top shows the knobs: it describes the *next* run.)
    /// The parameters of the run on screen (the knobs may have moved since).
    pub ran_with: Option<RaceParams>,
    /// Between Enter and `Done`/`Failed`; gates Enter, so two races never share the arena.
    pub running: bool,
    /// `Done` arrived: all three lanes ran. The lesson's reveal waits for this (and for
    /// at least one result, see `App::measured`), not for the first finished lane.
    pub done: bool,
    // A fixed array indexed by `Strategy::index()`, not a `HashMap<Strategy, Lane>`: the
    // lanes are always three, always in the lesson's order (naive, FOR UPDATE, Lua), and
    // the renderer can draw them top to bottom without sorting.
    pub lanes: [Lane; 3],
    // The error replaces the status line; the lanes keep whatever they showed, because a
    // failure in strategy 3 does not make strategies 1 and 2's numbers wrong.
    pub error: Option<String>,
}

impl RaceState {
    // Only finished lanes: after a failure the table still shows what did finish.
    pub fn results(&self) -> Vec<StrategyResult> {
        self.lanes.iter().filter_map(|l| l.result.clone()).collect()
    }
}

// The steps are roughly logarithmic because the effects are: 10 vs 20 buyers barely
// changes a race, 100 vs 1000 changes whether naive oversells at all. Duration 0 is a
// real step — "every buyer tries once" is the flash-sale shape the lesson starts with.
/// Steps the knobs move through (values set by flags snap to the next step).
const STOCK_STEPS: &[u32] = &[10, 20, 50, 100, 200, 500, 1000, 5000];
const BUYER_STEPS: &[u32] = &[10, 50, 100, 200, 500, 1000, 2000];
const DURATION_STEPS: &[u32] = &[0, 1, 2, 3, 5, 10, 20];

impl App {
    /// Keys of the race. The knobs move in steps (10, 20, 50, ...) rather than by one:
    /// the interesting changes are orders of magnitude (10 buyers vs 1000), and nobody
    /// wants to press a key 90 times. Enter while a run is going starts nothing - two
    /// overlapping races would compete for the same database and spoil both measurements.
    pub(super) fn race_key(&mut self, code: KeyCode) -> Vec<Command> {
        // The knobs move during a run too: they describe the next run, and the lanes read
        // the one on screen from `ran_with`, which these keys never touch.
        let p = &mut self.race.params;
        match code {
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => self.screen = Screen::Lesson,
            KeyCode::Char('s') => p.stock = step(STOCK_STEPS, p.stock, false),
            KeyCode::Char('S') => p.stock = step(STOCK_STEPS, p.stock, true),
            KeyCode::Char('b') => p.buyers = step(BUYER_STEPS, p.buyers, false),
            KeyCode::Char('B') => p.buyers = step(BUYER_STEPS, p.buyers, true),
            KeyCode::Char('t') => p.duration_secs = step(DURATION_STEPS, p.duration_secs, false),
            KeyCode::Char('T') => p.duration_secs = step(DURATION_STEPS, p.duration_secs, true),
            // Starting a run resets the whole race state (lanes, error, done) but keeps the knobs,
            // so the screen never mixes lanes of the previous run with the new one — the TPS
            // chart included: a new `TpsSeries` starts from (0 s, 0 answers), as the run does.
            // While a run is going the same keys fall to the next arm, a "please wait" notice.
            KeyCode::Enter | KeyCode::Char('r') if !self.race.running => {
                let params = self.race.params;
                self.race = RaceState {
                    params,
                    ran_with: Some(params),
                    running: true,
                    ..RaceState::default()
                };
                return vec![Command::StartRace(params)];
            }
            KeyCode::Enter | KeyCode::Char('r') => {
                self.notice = Some("正在运行，请等待本轮结束".into())
            }
            _ => {}
        }
        Vec::new()
    }

    // The race runs strategies one after another, so at most one lane is `running` at a
    // time; the state does not rely on that, though — if a later version ran them in
    // parallel, this function would still be right.
    /// Folds a race event into the lanes. Events of a strategy only touch its own lane,
    /// so a late snapshot of one strategy can never overwrite another's numbers.
    pub(super) fn on_race(&mut self, e: RaceEvent) {
        let lanes = &mut self.race.lanes;
        match e {
            RaceEvent::Started(s) => lanes[s.index()].running = true,
            // The chart's series is built here, in the state, from every snapshot as it
            // arrives: a renderer sees only the latest `App`, so an interval it did not keep
            // could never be computed again. Each `push` makes one point (see `TpsSeries`).
            RaceEvent::Progress(s, snap) => {
                let lane = &mut lanes[s.index()];
                lane.tps.push(&snap);
                lane.live = snap;
            }
            RaceEvent::Finished(r) => {
                let lane = &mut lanes[r.strategy.index()];
                lane.running = false;
                // The summary covers the tail after the last 250 ms tick (in-flight buyers
                // finishing), so the chart ends where the lane's numbers do — unless that
                // tail is under 50 ms, which `TpsSeries::push` leaves off rather than spike.
                lane.tps.push(&r.summary);
                lane.live = r.summary.clone();
                lane.result = Some(r);
            }
            RaceEvent::Done => {
                self.race.running = false;
                self.race.done = true;
            }
            // A failure stops every lane, not only the current one: the runner gives up after the
            // first error (usually "no database"), so no later `Finished` will arrive to clear them.
            RaceEvent::Failed(msg) => {
                self.race.running = false;
                for l in lanes.iter_mut() {
                    l.running = false;
                }
                self.race.error = Some(msg);
            }
        }
    }
}

// The inverse of `Strategy::index`; renderers use it to label lanes without knowing the
// enum's layout.
/// Lane index → strategy (the order of [`Strategy::ALL`]).
pub fn lane_strategy(i: usize) -> Strategy {
    Strategy::ALL[i]
}
