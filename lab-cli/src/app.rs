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
//! - ❌ DON'T write the "god loop" that sends requests, aggregates, lays out and polls the
//!   keyboard in turn (sketched, with what it costs, in `tui.rs`).
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
//! 1. a [`Screen`] variant here and, if it has knobs or live numbers, a state struct in
//!    `app/<screen>.rs` (plain data, `Default`);
//! 2. its keys in a `*_key` function returning commands, and its experiment's events in an
//!    `on_*` function returning nothing (both in `app/<screen>.rs`);
//! 3. a [`Command`] variant for each effect, executed in `tui::execute` (`tui/effects.rs`:
//!    spawned, reporting back as events);
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
//! | checkpoint | ↑↓ / Tab item · digits answer (past nine options: two digits, or one and Enter) · Enter check a task · Esc back |
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

mod cache;
mod delegate;
pub mod discovery;
pub mod flash;
pub mod orders;
pub mod payments;
mod race;
mod reader;
pub mod runs;

use std::collections::HashMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::experiments::orders::OrderParams;
use crate::experiments::payments::{Scenario, Setup};
use crate::{
    dashboard::DashboardSnapshot,
    event::Event,
    experiments::{cache::CacheParams, race::RaceParams},
    lessons::{Library, progress::Progress},
};
pub use cache::CacheState;
pub use discovery::DiscoveryState;
pub use flash::FlashState;
pub use orders::OrdersState;
pub use payments::PaymentsState;
pub use race::{Lane, RaceState, lane_strategy};
pub use reader::{LessonItem, LessonView};

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
    /// Start the Zipf read load on the catalogue with these knobs.
    StartCache(CacheParams),
    /// `p`: publish a book as the lab's admin — a catalogue write that must evict the
    /// cached list pages, or the new book stays invisible until their TTL.
    PublishBook,
    /// `u`: sell one copy of this book in inventory (or restock it near zero) — a write
    /// that must evict nothing, since the cached book holds no stock.
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

// Everything the screen can show is in here, and nothing that performs I/O is: no
// channels, no pools, no clients. That is the test of a good state struct — a test
// can build one from a `Library` and a `Progress` and never touch the network.
/// The whole TUI state.
pub struct App {
    /// The screen on show; `on_key` and `ui::render` both match on it.
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
    /// The learner's progress as loaded at start; keys change it, and only
    /// `Command::SaveProgress` (run by the loop) writes it back to `progress.json`.
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
            // The error as text with its whole context chain (`{:#}`): the lesson screen shows
            // "lessons/day30/lesson.md: …" with the cause, not only the outermost message.
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
            // The size of the screen snapshots: tests drive keys without ever drawing, and
            // the lesson keys then clamp against the same layout the `.snap` files show.
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
        // Unlike Ctrl-C it quits even while a lesson command runs: the runtime's shutdown
        // drops the runner mid-run, and its guard (`runner::GroupKill`) kills the command's
        // whole process group — bash and whatever it started — before the lab exits.
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
            // The same rule as the lesson's Esc: the first Esc stops a running check, the
            // next one leaves — leaving never strands a process that holds the one run
            // slot (app/runs.rs) the lesson's own commands need.
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
}
