//! The TUI's state and how each event changes it.
//!
//! [`App::update`] is a plain function of (state, event): it changes the state and returns
//! the side effects to perform ([`Command`]: start a race, publish a book, …) instead of
//! performing them. The loop in `tui.rs` runs the commands; rendering (`ui/`) only reads
//! the state. That is what lets the tests drive the whole TUI with key events and assert
//! on the state, with no terminal, no database and no sleeping.
//!
//! ## The shape: state / events / update / render, kept apart
//!
//! This is the ratatui "template" shape (the one `cargo generate ratatui/templates` gives you),
//! and the course asks you to copy it for any interactive tool:
//!
//! ```text
//!   key thread ─┐
//!   ticker ─────┤                       ┌──────────────┐
//!  experiments ┼─► one mpsc channel ─► │ App::update  │ ─► Vec<Command> ─► tui::execute
//!   scripts ────┤      (Event)          │ (this file)  │                   (spawns I/O,
//!   dashboard ──┘                       └──────┬───────┘                    results come
//!                                              │ &App                       back as Events)
//!                                              ▼
//!                                        ui::render (pure)
//! ```
//!
//! - ✅ DO keep the state in one plain struct ([`App`]) with no handles, sockets or pools in it.
//!   A test builds it with `App::new`, feeds it `Event`s and reads its fields.
//! - ✅ DO make rendering a function of `&App` only. `ui/` can then be snapshot-tested on
//!   ratatui's `TestBackend` at a fixed size (tests/screens.rs) — what the learner sees at
//!   80×24 is pinned in a `.snap` file and reviewed like code.
//! - ❌ DON'T write the "god loop": one 370-line `loop {}` that sends requests, aggregates
//!   latencies, computes the layout and polls the keyboard in turn (oha's `monitor.rs` is the
//!   example STYLE.md cites). Every concern then blocks the others — a slow frame delays
//!   the load, a slow request freezes the keyboard — and nothing can be tested without a
//!   real terminal and a real server.
//!
//! ## Why `update` returns commands instead of doing I/O
//!
//! `update` is synchronous and never awaits. If it connected to MariaDB itself, it would
//! need a runtime, a database and error handling for both inside every test of a key press;
//! worse, the loop would stop reading keys (including `q`) for as long as the connect took.
//! Returning a [`Command`] is a *description* of the effect: the test asserts
//! `update(Enter) == [StartRace(params)]` in microseconds, and `tui::execute` is the one
//! place that turns descriptions into spawned tasks. This is the Elm architecture's
//! `update : Msg -> Model -> (Model, Cmd)`, with `Vec<Command>` playing `Cmd`.
//!
//! The honest shortcut: [`Command::SaveProgress`] writes a small file synchronously in the
//! loop (see `tui::execute`). It takes microseconds on a local disk; a network write would
//! have to be spawned like the others.
//!
//! ## Recipe: adding a screen (as Day 31's orders screen was added)
//!
//! 1. a [`Screen`] variant and, if it has knobs or live numbers, a state struct here
//!    (plain data, `Default`);
//! 2. its keys in a `*_key` function returning commands, and its experiment's events in an
//!    `on_*` function returning nothing;
//! 3. a [`Command`] variant for each effect, executed in `tui::execute` (spawned, reporting
//!    back as events);
//! 4. `ui/<screen>.rs` with `render(frame, area, &App) -> (title, keys)`;
//! 5. a snapshot test at 80×24 in tests/screens.rs, with the state built through `update`.
//!
//! The compiler walks you through 1–4: the `match self.screen` blocks here and in
//! `ui::render` are exhaustive, so a new variant is an error until every place handles it.
//!
//! ## The lifecycle of an experiment's state
//!
//! ```text
//!   idle ──Enter──► running ──Done──► done ──Enter──► running …
//!                      │
//!                      └──Failed──► idle + error (Enter tries again)
//! ```
//!
//! `running` gates Enter (no overlapping runs); `done` only changes the status text.
//! `Failed` clears `running` so the learner can retry after fixing the cause (start the
//! stack, say) without restarting the TUI.
//!
//! ## Keys at a glance (each screen's footer lists its main ones)
//!
//! | screen | keys |
//! |---|---|
//! | everywhere | `q` / Ctrl-C quit |
//! | home | ↑↓ / jk select · Enter open · `d` dashboard · `r` reset progress |
//! | lesson | ↑↓ jk PgUp PgDn Space Home/g End/G scroll · `]`/`n` `[`/`N` next/previous section · `>` `<` next/previous lesson · Tab/Shift-Tab select a command · Enter run it · `x` experiment · `c` checkpoint · `d` dashboard · Esc back (stops a running command first) |
//! | checkpoint | ↑↓ / Tab item · `1`–`9` answer · Enter check a task · Esc back |
//! | race | Enter/`r` run · `s`/`S` stock · `b`/`B` buyers · `t`/`T` duration · Esc back |
//! | cache | Enter/`r` run · `p` publish · `u` change hot stock · `-`/`+` readers · Esc back |
//! | orders | Enter/`r` run · `f` failing commit · `c` cancel · `e` await expiry · `s`/`S` stock · `b`/`B` attempts · Esc back |
//! | payments | Enter/`1` timeline · `2` 100× duplicate callback · `3` kill -9 payment-service · `4` cancel, then pay → refund · Esc back |
//! | dashboard | Esc back |
//!
//! Lowercase lowers a knob and uppercase raises it: one mnemonic for all knobs, and no
//! arrow keys, which the lesson screen already uses for scrolling.
//!
//! ## Why one flat `App`, not a component per screen
//!
//! ratatui also documents a "component" architecture: each screen a struct implementing
//! `trait Component { fn handle_event(..); fn draw(..) }`, the app holding a list of them.
//! It pays off when screens are many, self-contained and reusable. Here they are ten, and
//! they share state (the open lesson decides which experiment `x` opens, Esc returns to
//! it, every screen shows the footer notice), so components would pass most state
//! around anyway. One flat struct
//! with `match self.screen` is the simpler design at this size — ✅ DO start flat and
//! split when a screen's state and keys stop touching the others'.

pub mod discovery;
pub mod flash;
pub mod orders;
pub mod payments;
pub mod runs;

use std::collections::HashMap;

use bookstore_loadgen::Snapshot;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::experiments::orders::{OrderParams, OrdersEvent};
use crate::experiments::payments::{PaymentsEvent, Scenario, Setup};
use crate::{
    dashboard::DashboardSnapshot,
    event::Event,
    experiments::{
        cache::{CacheEvent, CacheParams, HitCounts},
        race::{RaceEvent, RaceParams, Strategy, StrategyExt, StrategyResult, TpsSeries},
    },
    lessons::{ExperimentKind, Library, progress::Progress},
    ui::lesson,
};
pub use discovery::DiscoveryState;
pub use flash::FlashState;
pub use orders::OrdersState;
pub use payments::PaymentsState;

// Screens are an enum, not a stack of boxed "views": there are ten of them, they are
// known at compile time, and `match self.screen` in `on_key` / `ui::render` makes the
// compiler list every place a new screen must be handled. A trait-object view stack
// pays off with dozens of screens and plugins; here it would only hide the flow.
/// Which screen is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The lesson list with progress marks; where the TUI starts and Esc ends up.
    Home,
    /// The open lesson's text, its runnable command blocks and their output.
    Lesson,
    /// Day 30: naive, FOR UPDATE and Lua deducting the same stock, lanes and TPS chart.
    Race,
    /// Day 29: a Zipf read load on the catalogue, its hit rate and the writes that evict.
    Cache,
    /// Day 31–32: concurrent orders, compensation, cancel and expiry.
    Orders,
    /// Day 35: several user-service instances under load, kill one.
    Discovery,
    /// Day 33–34: a payment's timeline, duplicate callbacks, a kill -9, a refund.
    Payments,
    /// Week 6 capstone: the flash sale with faults and the invariant board.
    Flash,
    /// The open lesson's checkpoint (`c` in the lesson).
    Checkpoint,
    /// Every component's health, rates and last-minute charts, and the ledger's totals.
    Dashboard,
}

// Each variant is data (`PartialEq`, `Clone`), so a test can compare the returned
// commands with `assert_eq!`. A command carries what it needs at the moment it was
// decided — `StartRace(params)` copies the knobs — so a key pressed after Enter cannot
// change a race that has already started.
/// A side effect the loop must perform.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    StartRace(RaceParams),
    StartCache(CacheParams),
    PublishBook,
    ChangeStock(u64),
    /// Start the Day 35 load and its sampler.
    StartDiscovery,
    /// An action on the running discovery experiment (kill, restart, add, stop).
    Discovery(crate::experiments::discovery::Action),
    /// Leave the discovery screen: stop its load.
    StopDiscovery,
    /// Start sale `run` of the capstone; every event of that sale comes back tagged with
    /// `run`, and the screen drops the events of any other (see `app::flash`).
    StartFlash {
        run: u64,
        params: crate::experiments::flash::FlashParams,
    },
    /// Inject a fault into the running sale.
    Flash(crate::experiments::flash::faults::Fault),
    /// Leave the capstone screen: the shoppers stop, the run ends through catch-up.
    StopFlash,
    /// Check the Week 6 completion criteria against the stack and the saved benches.
    FlashChecklist,
    /// Run `run` of the orders experiment (setup, chain, burst, watch).
    StartOrders {
        run: u64,
        params: OrderParams,
    },
    /// One CreateOrder with `x-lab-fault: fail-commit` on the run's book.
    OrderFault {
        run: u64,
        token: String,
        book: u64,
    },
    /// Cancel one Pending order as its owner.
    CancelOrder {
        run: u64,
        token: String,
        order_id: u64,
    },
    /// Run one payments scenario (`setup` from an earlier one, or `None` to make it).
    StartPayment {
        run: u64,
        scenario: Scenario,
        setup: Option<Setup>,
    },
    /// Write `progress.json` (after marking or resetting a lesson).
    SaveProgress,
    /// Run a lesson's command block or a checkpoint task's check (`lessons::runner`).
    RunScript {
        purpose: runs::Purpose,
        script: String,
    },
    /// Kill the running script (Esc / Ctrl-C while it runs).
    StopScript,
}

// A copy of the manifest entry's display fields, so rendering never reaches into the
// `Library` (and the state stays plain data a test can build).
/// One lesson as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LessonItem {
    /// The manifest id (`day30`), also the key of `App::texts` and of `progress.json`.
    pub id: String,
    pub day: u32,
    pub title: String,
    /// Planned lessons are listed too (so the learner sees the week), but cannot be opened.
    pub available: bool,
    /// Which screen `x` opens from this lesson; `None` for a reading-only lesson.
    pub experiment: Option<ExperimentKind>,
}

// `scroll` is a row offset into the lesson *as laid out for the current width* (a row of
// the reflowed page, not a line of the Markdown): the keys clamp it with the same layout
// the renderer draws, so End shows the last row at the bottom, never blank space below.
/// The lesson being read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LessonView {
    /// An index into `App::items` (the manifest's order), not an id: lookups on every frame
    /// stay O(1), and the manifest cannot change while the TUI runs.
    pub index: usize,
    /// The first row on screen.
    pub scroll: usize,
}

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
    pub result: Option<StrategyResult>,
}

/// The Day 30 race screen.
#[derive(Clone, Debug, Default)]
pub struct RaceState {
    pub params: RaceParams,
    // Why both `params` and `ran_with`: the learner may press `S` to prepare the next run
    // while looking at the last one. The lanes' oversell must use the stock of the run on
    // screen, not the knobs — otherwise pressing `S` after a run would change its oversell
    // count. (The line on top shows the knobs: it describes the *next* run.)
    /// The parameters of the run on screen (the knobs may have moved since).
    pub ran_with: Option<RaceParams>,
    pub running: bool,
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

// Counts are kept twice on purpose: `last_second` drives the sparkline (how the hit rate
// moves right now, e.g. the dip after an invalidation) and `total` the headline (what
// the run achieved overall). One without the other hides either the dip or the result.
/// The Day 29 cache screen.
#[derive(Clone, Debug, Default)]
pub struct CacheState {
    pub params: CacheParams,
    pub running: bool,
    pub done: bool,
    pub books: u64,
    // `None` until the run has listed the catalogue; the `u` key needs it and says so.
    pub hot: Option<u64>,
    pub load: Snapshot,
    /// Hit rate per second, in percent (for the sparkline).
    // Integers because ratatui's `Sparkline` takes `u64`s; rounded percent is all a
    // sparkline 78 columns wide can show anyway. It grows by one per second of a run (30
    // by default), so it needs no cap for a lab session.
    pub hit_series: Vec<u64>,
    pub last_second: HitCounts,
    pub total: HitCounts,
    // `None` when the read failed (service restarted mid-run): the screen shows `-` rather
    // than a stale number that would look like a missed invalidation.
    pub hot_stock: Option<i32>,
    pub notes: Vec<String>,
    pub error: Option<String>,
}

// Everything the screen can show is in here, and nothing that performs I/O is: no
// channels, no pools, no clients. That is the test of a good state struct — a test
// can build one from a `Library` and a `Progress` and never touch the network.
/// The whole TUI state.
pub struct App {
    pub screen: Screen,
    /// In manifest order, which is course order.
    pub items: Vec<LessonItem>,
    // Expanded once in `App::new`: rendering runs on every frame (several times a second)
    // and must never read files. A lesson whose `{{source: …}}` reference is broken keeps
    // its error here, so the screen says *why* instead of showing a half-lesson.
    /// Lesson texts (references already expanded), or why one could not be read.
    pub texts: HashMap<String, Result<String, String>>,
    // An index into `items`, kept even while a lesson is open, so Esc returns to the same
    // row of the list.
    pub selected: usize,
    pub lesson: LessonView,
    pub race: RaceState,
    pub cache: CacheState,
    pub orders: OrdersState,
    pub discovery: DiscoveryState,
    pub payments: PaymentsState,
    pub flash: FlashState,
    /// Command blocks and checkpoint checks run in this session, and the selection.
    pub runs: runs::Runs,
    pub checkpoint_view: runs::CheckpointView,
    // `None` until the first poll arrives: "not measured yet" is a different screen from
    // "nothing is running" (an empty snapshot).
    pub dashboard: Option<DashboardSnapshot>,
    pub progress: Progress,
    /// A message for the footer (drawn on its own rows above the key line).
    pub notice: Option<String>,
    // A fact about the terminal like a key press, recorded by the loop after each frame
    // (`tui::run`): the lesson keys need it to clamp scrolling and find headings, because
    // where a heading lands depends on how the paragraphs above it wrapped.
    /// The terminal's size (columns, rows) at the last frame; 80×24 before the first.
    pub viewport: (u16, u16),
    // A flag rather than returning early from `update`: the loop finishes the current
    // iteration (runs the commands of the same event, if any) and then leaves cleanly.
    pub quit: bool,
    // Set by `tui::run` from the binary's own build (`bench::build_label`), `None` in
    // `App::new`: screen snapshots then look the same from a dev and a release test run.
    /// Which unoptimised build this is, shown in the header; `None` for `--release`.
    pub build: Option<String>,
}

// The steps are roughly logarithmic because the effects are: 10 vs 20 buyers barely
// changes a race, 100 vs 1000 changes whether naive oversells at all. Duration 0 is a
// real step — "every buyer tries once" is the flash-sale shape the lesson starts with.
/// Steps the knobs move through (values set by flags snap to the next step).
const STOCK_STEPS: &[u32] = &[10, 20, 50, 100, 200, 500, 1000, 5000];
const BUYER_STEPS: &[u32] = &[10, 50, 100, 200, 500, 1000, 2000];
const DURATION_STEPS: &[u32] = &[0, 1, 2, 3, 5, 10, 20];
const READER_STEPS: &[u32] = &[1, 4, 8, 16, 32, 64];

// Off-step values (e.g. `--stock 150` from the command line) move to the nearest step in
// the pressed direction instead of jumping back to the first step. At either end the
// value stays put: a knob that wraps from 5000 to 10 would surprise more than it helps.
/// The next (`up`) or previous step from `value`.
pub fn step(steps: &[u32], value: u32, up: bool) -> u32 {
    if up {
        steps.iter().copied().find(|s| *s > value).unwrap_or(value)
    } else {
        steps.iter().rev().copied().find(|s| *s < value).unwrap_or(value)
    }
}

impl App {
    /// The state for a library and the learner's progress; lesson texts are read now, so
    /// rendering never touches the disk.
    pub fn new(library: &Library, progress: Progress) -> Self {
        let items: Vec<LessonItem> = library
            .manifest
            .lessons
            .iter()
            .map(|l| LessonItem {
                id: l.id.clone(),
                day: l.day,
                title: l.title.clone(),
                available: l.is_available(),
                experiment: l.experiment,
            })
            .collect();
        // Only available lessons are read: a planned one may not have its file yet, and
        // reading it would turn a normal state of the course into an error entry.
        let texts = library
            .manifest
            .lessons
            .iter()
            .filter(|l| l.is_available())
            .map(|l| (l.id.clone(), library.text(l).map_err(|e| format!("{e:#}"))))
            .collect();
        Self {
            screen: Screen::Home,
            items,
            texts,
            selected: 0,
            build: None,
            lesson: LessonView::default(),
            race: RaceState::default(),
            cache: CacheState::default(),
            orders: OrdersState::default(),
            discovery: DiscoveryState::default(),
            payments: PaymentsState::default(),
            flash: FlashState::default(),
            runs: runs::Runs::default(),
            checkpoint_view: runs::CheckpointView::default(),
            // No dashboard snapshot: the poller only runs while its screen is visible, so the
            // first frame there says "正在读取…" rather than showing numbers from nowhere.
            dashboard: None,
            progress,
            notice: None,
            viewport: (80, 24),
            quit: false,
        }
    }

    // Returns an error instead of showing an empty screen: the command line turns it into
    // a message and a non-zero exit, the home screen turns it into a footer notice.
    /// Opens a lesson by id (what `bookstore-lab lesson <id>` does first).
    pub fn open_lesson(&mut self, id: &str) -> anyhow::Result<()> {
        let index = self
            .items
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| anyhow::anyhow!("no lesson `{id}` (see `bookstore-lab lessons`)"))?;
        anyhow::ensure!(self.items[index].available, "lesson `{id}` is not available yet");
        self.selected = index;
        self.lesson = LessonView { index, scroll: 0 };
        self.runs.selected = None;
        self.screen = Screen::Lesson;
        Ok(())
    }

    /// The lesson on screen.
    // Indexing cannot panic: `lesson.index` is only ever set by `open_lesson` and
    // `step_lesson`, which both found it in `items`, and `items` never changes while the
    // TUI runs.
    pub fn current_lesson(&self) -> &LessonItem {
        &self.items[self.lesson.index]
    }

    // The top-level `match` is deliberately boring: one arm per event source, each delegating
    // to a small `on_*` function. Only the key arm and `ScriptDone` return commands — the
    // shape of the match shows it: every other arm falls through to the empty `Vec`. Events
    // from experiments only record what happened; only the learner causes new effects. That
    // rule keeps feedback loops out (a snapshot can never start another race).
    /// Applies one event; returns the side effects to run.
    pub fn update(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Key(k) => return self.on_key(k),
            // The 2 Hz tick counted: the running command's spinner (app/runs.rs) turns one
            // step per tick and its "运行中 N s" is ticks / 2, so both move even when the
            // script prints nothing — the learner can tell "still working" from "hung".
            Event::Tick => self.runs.tick += 1,
            // The one event that returns a command: a task check that exited 0 passes its
            // item, and the pass must be saved. It causes no new *run*, so no feedback loop.
            Event::ScriptDone(purpose, outcome) => return self.on_script_done(purpose, outcome),
            Event::Race(e) => self.on_race(e),
            Event::Cache(e) => self.on_cache(e),
            Event::Orders(e) => self.on_orders(e),
            Event::Discovery(e) => {
                if let Some(n) = self.discovery.on_event(e) {
                    self.notice = Some(n);
                }
            }
            Event::Payments(e) => self.on_payments(e),
            Event::Flash(e) => {
                if let Some(n) = self.flash.on_event(e) {
                    self.notice = Some(n);
                }
            }
            // Replaced whole, never merged: the snapshot already carries the last minute's
            // lines (the history lives in the `Poller`, on its task), so the App holds no
            // scrape state and a dashboard test can build a snapshot by hand.
            Event::Dashboard(d) => self.dashboard = Some(d),
            Event::Notice(n) => self.notice = Some(n),
        }
        Vec::new()
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Command> {
        // Ctrl-C quits from anywhere: raw mode turns it into a key, not a signal.
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            if let Some(stop) = self.stop_run_key() {
                return stop;
            }
            self.quit = true;
            return Vec::new();
        }
        // `q` is global too, because a learner who is lost must always have one key that works.
        if k.code == KeyCode::Char('q') {
            self.quit = true;
            return Vec::new();
        }
        // Any other key clears the footer notice: it answered the previous action, and leaving
        // it up would make it look like the answer to the next one.
        self.notice = None;
        match self.screen {
            Screen::Home => self.home_key(k.code),
            Screen::Lesson => self.lesson_key(k.code),
            Screen::Race => self.race_key(k.code),
            Screen::Cache => self.cache_key(k.code),
            Screen::Orders => self.orders_key(k.code),
            Screen::Discovery => self.discovery_key(k.code),
            Screen::Payments => self.payments_key(k.code),
            Screen::Flash => self.flash_key(k.code),
            Screen::Checkpoint => {
                if k.code == KeyCode::Esc
                    && let Some(stop) = self.stop_run_key()
                {
                    return stop;
                }
                self.checkpoint_key(k.code)
            }
            // Esc, ← and Backspace all mean "back" on every screen: three habits (vim users
            // reach for Esc, file-manager users for ←, browser users for Backspace), one meaning.
            Screen::Dashboard => {
                if matches!(k.code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
                    self.screen = Screen::Home;
                }
                Vec::new()
            }
        }
    }

    // Both arrow keys and vim keys (`j`/`k`) are accepted everywhere: learners come with
    // either habit, and accepting both costs one pattern per arm.
    /// Keys of the lesson list. Opening a planned lesson is refused with a notice instead
    /// of an empty screen.
    fn home_key(&mut self, code: KeyCode) -> Vec<Command> {
        let n = self.items.len();
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Enter | KeyCode::Right => {
                let id = self.items[self.selected].id.clone();
                // The only error `open_lesson` can return here is "not available" (the id came from
                // our own list), so the notice names that case in the learner's language instead of
                // echoing an English error string meant for the command line.
                if self.open_lesson(&id).is_err() {
                    self.notice = Some(format!("{id}：尚未开放"));
                }
            }
            KeyCode::Char('d') => self.screen = Screen::Dashboard,
            // `r` on the list resets progress; it only asks for a save when something changed, so
            // pressing it on an untouched lesson does not rewrite `progress.json` for nothing.
            KeyCode::Char('r') => {
                let id = self.items[self.selected].id.clone();
                if self.progress.reset(&id) {
                    self.notice = Some(format!("{id} 的进度已重置"));
                    return vec![Command::SaveProgress];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    // Every key is followed by the clamp to the last page, so the state never holds a scroll
    // the screen cannot show (❌ the old unclamped offset let PgDn run into blank space, and
    // the next ↑ presses then moved nothing visible). The page is laid out again for each
    // key — the same pure function the renderer calls, well under a millisecond.
    /// Keys while reading: scrolling, section and lesson jumps; `x` opens the lesson's
    /// experiment (from the manifest, so a new lesson gets an experiment by data, not by
    /// code); `c` marks the lesson done.
    fn lesson_key(&mut self, code: KeyCode) -> Vec<Command> {
        // The page as the renderer will draw it at the current terminal size; `last` is the
        // first row of the final full page, the largest scroll that leaves no blank space
        // below the text. `top` re-clamps first, because the window may have grown since the
        // last key (a wider window wraps into fewer rows, so an old scroll can be too large).
        let (width, height) = lesson::text_size(self.viewport);
        let doc = lesson::document(self, width);
        let page = usize::from(height).max(1);
        let last = doc.lines.len().saturating_sub(page);
        let top = self.lesson.scroll.min(last);
        // A step of a page keeps one row of the previous page in view, so the eye finds its
        // place; a section jump puts the heading on the top row (or as high as the end allows).
        let step = page.saturating_sub(1).max(1);
        self.lesson.scroll = match code {
            KeyCode::Up | KeyCode::Char('k') => top.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => top + 1,
            KeyCode::PageUp | KeyCode::Char('b') => top.saturating_sub(step),
            KeyCode::PageDown | KeyCode::Char(' ') => top + step,
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            // Past the last heading, `]` goes to the end and `[` before the first to the top: the
            // key always moves somewhere sensible instead of silently doing nothing.
            KeyCode::Char(']') | KeyCode::Char('n') => doc.next_heading(top).unwrap_or(last),
            KeyCode::Char('[') | KeyCode::Char('N') => doc.previous_heading(top).unwrap_or(0),
            // `>`/`<` rather than →/←: ← already means "back" on every screen, and a lesson
            // switch on the same key would throw learners out of the list they came from.
            KeyCode::Char('>') | KeyCode::Char('<') => {
                self.step_lesson(code == KeyCode::Char('>'));
                return Vec::new();
            }
            KeyCode::Esc if self.runs.running.is_some() => {
                return self.stop_run_key().unwrap_or_default();
            }
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => {
                self.screen = Screen::Home;
                top
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Enter => {
                let (cmds, scroll) = self.command_key(code, &doc.commands, top, page);
                self.lesson.scroll = scroll.min(last);
                return cmds;
            }
            KeyCode::Char('x') => {
                match self.current_lesson().experiment {
                    Some(ExperimentKind::Race) => self.screen = Screen::Race,
                    Some(ExperimentKind::Cache) => self.screen = Screen::Cache,
                    Some(ExperimentKind::Orders) => self.screen = Screen::Orders,
                    Some(ExperimentKind::Discovery) => self.screen = Screen::Discovery,
                    Some(ExperimentKind::Payments) => self.screen = Screen::Payments,
                    Some(ExperimentKind::Flash) => self.screen = Screen::Flash,
                    None => self.notice = Some("这一课没有实验".into()),
                }
                top
            }
            // `c` opens the checkpoint; passing it is what marks the lesson done (progress.rs).
            KeyCode::Char('c') => {
                self.checkpoint_view.item = 0;
                self.screen = Screen::Checkpoint;
                top
            }
            KeyCode::Char('d') => {
                self.screen = Screen::Dashboard;
                top
            }
            _ => top,
        }
        .min(last);
        Vec::new()
    }

    // Planned lessons are skipped (they cannot be opened); at either end the lesson stays
    // and a notice says why nothing happened, instead of a key that silently does nothing.
    /// Opens the next (`forward`) or previous available lesson, at its top.
    fn step_lesson(&mut self, forward: bool) {
        let here = self.lesson.index;
        let found = if forward {
            (here + 1..self.items.len()).find(|&i| self.items[i].available)
        } else {
            (0..here).rev().find(|&i| self.items[i].available)
        };
        match found {
            Some(index) => {
                self.selected = index;
                self.lesson = LessonView { index, scroll: 0 };
                self.runs.selected = None;
            }
            None if forward => self.notice = Some("已经是最后一课（后面的课尚未开放）".into()),
            None => self.notice = Some("已经是第一课".into()),
        }
    }

    /// Keys of the race. The knobs move in steps (10, 20, 50, ...) rather than by one:
    /// the interesting changes are orders of magnitude (10 buyers vs 1000), and nobody
    /// wants to press a key 90 times. Enter while a run is going starts nothing - two
    /// overlapping races would compete for the same database and spoil both measurements.
    fn race_key(&mut self, code: KeyCode) -> Vec<Command> {
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

    // `p` and `u` are allowed while the load runs — that is the point: the learner writes
    // *during* the read load and watches the hit rate dip and the hot book's stock change
    // within a second. They do not need a running load either; then only the note appears.
    /// Keys of the cache experiment: start, and the two writes that must invalidate.
    fn cache_key(&mut self, code: KeyCode) -> Vec<Command> {
        match code {
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => self.screen = Screen::Lesson,
            KeyCode::Enter | KeyCode::Char('r') if !self.cache.running => {
                let params = self.cache.params;
                self.cache = CacheState { params, running: true, ..CacheState::default() };
                return vec![Command::StartCache(params)];
            }
            KeyCode::Char('p') => {
                self.notice = Some("正在发布新书…".into());
                return vec![Command::PublishBook];
            }
            KeyCode::Char('u') => match self.cache.hot {
                Some(id) => {
                    self.notice = Some(format!("正在修改图书 {id} 的库存…"));
                    return vec![Command::ChangeStock(id)];
                }
                None => self.notice = Some("先按 Enter 开始实验，找到最热的书".into()),
            },
            // Readers move in powers of two-ish steps: the hit rate barely depends on the number of
            // readers, but the service's CPU does, and on a 2-core laptop 64 readers is already
            // enough to see the catalog-service saturate in the dashboard.
            KeyCode::Char('-') => {
                self.cache.params.readers = step(READER_STEPS, self.cache.params.readers, false)
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.cache.params.readers = step(READER_STEPS, self.cache.params.readers, true)
            }
            _ => {}
        }
        Vec::new()
    }

    // Esc is handled here, not in `orders`, because leaving a screen is `App`'s business
    // (which screen comes next); a notice is written only when the key produced one, so a
    // knob key does not wipe the answer to the learner's last action.
    /// Keys of the orders experiment (its logic lives in [`orders`]); Esc goes back.
    fn orders_key(&mut self, code: KeyCode) -> Vec<Command> {
        if matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
            self.screen = Screen::Lesson;
            return Vec::new();
        }
        let (cmds, notice) = self.orders.key(code);
        if notice.is_some() {
            self.notice = notice;
        }
        cmds
    }

    /// Keys of the capstone; Esc goes back and stops the shoppers (the run still ends
    /// through catch-up in the background, so no fault is left half-done).
    fn flash_key(&mut self, code: KeyCode) -> Vec<Command> {
        if matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
            self.screen = Screen::Lesson;
            let was_running = std::mem::take(&mut self.flash.running);
            return if was_running { vec![Command::StopFlash] } else { Vec::new() };
        }
        let (cmds, notice) = self.flash.key(code);
        if notice.is_some() {
            self.notice = notice;
        }
        cmds
    }

    /// Keys of the discovery experiment; Esc goes back and stops its load (the load would
    /// otherwise keep two cores busy behind a lesson the learner is reading).
    fn discovery_key(&mut self, code: KeyCode) -> Vec<Command> {
        if matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
            self.screen = Screen::Lesson;
            let was_running = std::mem::take(&mut self.discovery.running);
            return if was_running { vec![Command::StopDiscovery] } else { Vec::new() };
        }
        let (cmds, notice) = self.discovery.key(code);
        if notice.is_some() {
            self.notice = notice;
        }
        cmds
    }

    /// Folds an orders event; an action's answer also goes to the footer.
    fn on_orders(&mut self, e: OrdersEvent) {
        if let Some(n) = self.orders.on_event(e) {
            self.notice = Some(n);
        }
    }

    /// Keys of the payments experiment (its logic lives in [`payments`]); Esc goes back.
    fn payments_key(&mut self, code: KeyCode) -> Vec<Command> {
        if matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace) {
            self.screen = Screen::Lesson;
            return Vec::new();
        }
        let (cmds, notice) = self.payments.key(code);
        if notice.is_some() {
            self.notice = notice;
        }
        cmds
    }

    /// Folds a payments event; a scenario's verdict also goes to the footer.
    fn on_payments(&mut self, e: PaymentsEvent) {
        if let Some(n) = self.payments.on_event(e) {
            self.notice = Some(n);
        }
    }

    // The race runs strategies one after another, so at most one lane is `running` at a
    // time; the state does not rely on that, though — if a later version ran them in
    // parallel, this function would still be right.
    /// Folds a race event into the lanes. Events of a strategy only touch its own lane,
    /// so a late snapshot of one strategy can never overwrite another's numbers.
    fn on_race(&mut self, e: RaceEvent) {
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

    // A second with zero lookups (the load has not started, or a scrape failed) would plot
    // as a 0 % hit rate, and a learner would read it as "the cache emptied". Skipping it is
    // the honest rendering: no data is not the same as bad data.
    /// Folds a cache event into the screen state; the per-second hit rate is appended to
    /// the sparkline only when something was looked up in that second (no fake zeros).
    fn on_cache(&mut self, e: CacheEvent) {
        let c = &mut self.cache;
        match e {
            CacheEvent::Started { books, hot } => {
                c.books = books;
                c.hot = Some(hot);
            }
            CacheEvent::Progress { load, last_second, total, hot_stock } => {
                c.load = load;
                c.last_second = last_second;
                c.total = total;
                c.hot_stock = hot_stock;
                if let Some(r) = last_second.rate() {
                    c.hit_series.push((r * 100.0).round() as u64);
                }
            }
            // Notes (publish / stock change results) go both to the footer, where the learner is
            // looking, and to the list on the screen, which keeps the history of the writes so the
            // dips in the sparkline can be matched to them afterwards.
            CacheEvent::Note(n) => {
                c.notes.push(n.clone());
                self.notice = Some(n);
            }
            CacheEvent::Done => {
                c.running = false;
                c.done = true;
            }
            CacheEvent::Failed(msg) => {
                c.running = false;
                c.error = Some(msg);
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
