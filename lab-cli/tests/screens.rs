//! The main screens drawn on a `TestBackend` at 80×24 (the smallest terminal the lab
//! supports) and compared with committed insta snapshots, plus the update logic driven by
//! key events. No terminal, no database: rendering is a pure function of the state, and
//! the experiments' events are fed in by hand.
//!
//! ## What this file proves, and what it does not
//!
//! - The main screens at 80×24 (`*_at_80x24`): the text a learner sees is pinned in
//!   `tests/snapshots/*.snap`. A change to a screen shows up as a snapshot diff that must
//!   be reviewed and accepted (`cargo insta review`), so layout changes are deliberate.
//!   Only text is compared, not colours: colour is decoration here, text is content —
//!   and a red `超卖 130` that lost its colour still reads correctly, while one that lost
//!   its digits does not.
//! - The update logic (`starting_a_race…`, `planned_lessons…`, `completing…`, `q_and…`,
//!   `orders_keys…`, `orders_ignore…`, the `lesson_*` key tests):
//!   key events in, state and returned [`Command`]s out. No terminal, no runtime — this is
//!   what `update()` returning commands instead of doing I/O buys.
//! - The lesson renderer on fixtures of its own (`lesson_*`): a table, a code block with
//!   `**` and backticks, a long nested list — each a small library in a temporary
//!   directory built by `app_with`, so the snapshot pins the Markdown feature and not next
//!   week's wording of Day 30. The scrolling tests compute their expectations from the
//!   laid-out page (its row count at 80 columns) instead of hard-coding row numbers, so
//!   they state the rule ("End shows the last row at the bottom") rather than a number.
//! - Not proven here: that commands *do* the right thing (that is the experiments' and the
//!   tmux test's job) or that the terminal is restored (that needs a real TTY; the guard is
//!   small enough to read).
//!
//! Why 80×24: it is the smallest terminal the lab promises to work in (and the default of
//! many terminal emulators). A screen that fits 80×24 fits everything larger;
//! `screens_render_at_larger_sizes` checks that larger sizes at least do not panic.
//!
//! ✅ DO build states through `update(Event…)` as the real loop would, so the snapshot
//! shows a state the TUI can actually reach. ❌ DON'T poke fields into impossible
//! combinations (a `done` race with no results) and snapshot those.
//!
//! Adding a screen test: build the state with `app()`, `key(..)` and `update(Event…)` as
//! the loop would; `insta::assert_snapshot!(draw(&a, 80, 24))`; run once, review the new
//! `.snap.new`, accept it, and commit the `.snap` with the test. Run only this file with
//! `cargo test -p bookstore-lab --test screens`; it needs no database.
//!
//! ## When a snapshot test fails
//!
//! insta writes the new rendering next to the old one (`*.snap.new`; under `CI=true` it
//! writes nothing and only fails). Then:
//! 1. `cargo insta review` (or diff the two files) and read the change like code review;
//! 2. if you meant it — a new column, a reworded hint — accept it (`cargo insta accept`, or
//!    replace the `.snap`) and commit the `.snap` with the code that changed it;
//! 3. if you did not mean it, the test just caught a regression: fix the code, not the
//!    snapshot. A comment-only change never changes a snapshot; if it did, behaviour
//!    changed.

use std::time::Duration;

use bookstore_lab::lessons::runner::{Exit, Outcome};

use bookstore_lab::{
    app::{App, Command, Screen},
    dashboard::{DashboardSnapshot, ServiceRow, StockTotals},
    event::Event,
    experiments::{
        cache::{CacheEvent, HitCounts},
        orders::{ChainStep, OrderParams, OrdersEvent, PendingOrder, StockView, parse_chain},
        payments::{CallbackCounts, PaymentsEvent, Report, Restart, Scenario, Setup, Step},
        race::{RaceEvent, RaceParams, Strategy, StrategyResult},
    },
    lessons::{Library, progress::Progress},
};
use bookstore_loadgen::Snapshot;
use bookstore_proto::{order::OrderStatus, payment::PaymentStatus};
use ratatui::{
    Terminal,
    backend::TestBackend,
    crossterm::event::{KeyCode, KeyEvent, KeyModifiers},
};

// The committed `lessons/`, not a fixture: the lesson screen's snapshot shows the real
// first page of Day 30, so a lesson edit that changes it is reviewed like a layout change.
// `expect`, not a skip: a manifest that no longer parses must fail every screen test,
// because the TUI would not open on it either.
fn library() -> Library {
    Library::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons")).expect("lessons/ loads")
}

// Default progress (nothing done) so snapshots do not depend on the developer's own
// `.lab/progress.json`.
fn app() -> App {
    App::new(&library(), Progress::default())
}

// Returns the commands so a test can assert on the side effects a key *asks for* — the
// loop that would execute them is not part of these tests.
fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

// The buffer stores one cell per column; a CJK character fills its cell and leaves the
// next one as an empty filler. Skipping by the symbol's display width rebuilds the line
// as the terminal shows it — without this, every Chinese character would come out followed
// by a space and the snapshots would be unreadable.
/// The screen as text, one line per row (styles are not part of the snapshot).
fn draw(app: &App, width: u16, height: u16) -> String {
    // `TestBackend` is ratatui's in-memory terminal: the same `draw` path as the real one,
    // writing into a cell buffer instead of escape codes to stdout.
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| bookstore_lab::ui::render(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| {
            // A wide (CJK) character fills two cells; the second holds a filler to skip.
            let mut line = String::new();
            let mut x = 0;
            while x < width {
                let symbol = buffer[(x, y)].symbol();
                line.push_str(symbol);
                // `.max(1)`: a cell whose symbol has display width 0 (an empty string) still
                // occupies a column; without it the loop would never advance past it.
                x += unicode_width::UnicodeWidthStr::width(symbol).max(1) as u16;
            }
            // Trailing spaces are trimmed: editors and git tooling strip them from `.snap` files,
            // and a snapshot must not fail over invisible whitespace.
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// A library of its own in a temporary directory, one available lesson per text: the
// rendering tests below pin exactly the Markdown they are about, independent of how the
// real lessons are worded next week. The directory must outlive the `App` only while
// `App::new` reads the texts, but it is returned so the caller decides.
/// An `App` whose lessons are `texts` (ids `t0`, `t1`, …), opened at the first.
fn app_with(texts: &[&str]) -> (App, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("lessons");
    std::fs::create_dir_all(&dir).unwrap();
    // Every fixture lesson is `available` (a planned one would make `open_lesson` below
    // fail) and gets `day = 29 + i`, so the days stay inside the week the header names.
    let mut manifest = String::from("format_version = 1\n");
    for (i, text) in texts.iter().enumerate() {
        manifest.push_str(&format!(
            "[[lesson]]\nid = \"t{i}\"\nday = {}\ntitle = \"测试课 {i}\"\nstatus = \"available\"\nfile = \"t{i}.md\"\n",
            29 + i
        ));
        std::fs::write(dir.join(format!("t{i}.md")), text).unwrap();
    }
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    let mut a = App::new(&Library::load(&dir).unwrap(), Progress::default());
    // Opened at the first lesson, scroll 0: the state `bookstore-lab lesson t0` starts in,
    // so key presses in the tests move from the same first frame a learner sees.
    a.open_lesson("t0").unwrap();
    (a, root)
}

// Fixed latencies (1.8 ms / 12.4 ms) so the snapshot does not depend on anything
// measured; the screens only format them.
fn snap(elapsed_ms: u64, sold: u64, rejected: u64, series: Vec<u64>) -> Snapshot {
    Snapshot {
        elapsed: Duration::from_millis(elapsed_ms),
        successes: sold,
        rejections: rejected,
        // No errors, so every DO/DON'T in a snapshot can only come from the oversell
        // counter, and the 错误 column reads 0 on every lane.
        failures: 0,
        tps_series: series,
        // p50 < p99 < max, as in any real histogram: a screen that swapped two columns
        // would print them out of order, which the snapshot diff makes visible.
        p50_us: 1800,
        p99_us: 12_400,
        max_us: 20_000,
        done: true,
    }
}

// Numbers chosen to be self-consistent (naive: 180 sold of 50 → oversell 130, remaining
// −130; the others sell exactly 50 and leave 0), so the snapshot also shows that the
// screen's oversell and "剩余" agree the way the race module's docs say they must.
/// A race that has finished: naive oversold, FOR UPDATE and Lua did not.
fn finished_race(app: &mut App) {
    // `duration_secs: 0` is the one-try-per-buyer mode, so each lane's sold + refused adds
    // up to the 500 buyers (naive 180 + 320, the others 50 + 450): a state a real run of
    // these knobs can produce, as the module docs require.
    app.race.params = RaceParams { stock: 50, buyers: 500, duration_secs: 0 };
    // Through the real key path, so `ran_with` is set exactly as in the TUI.
    key(app, KeyCode::Enter);
    // The sale windows (the time until the last sale) are a fraction of each run, as after a
    // real sell-out: 成交/秒 and 尝试/秒 then differ, and the table's ratio uses the former.
    // The series holds attempts per second (500 in 0.4 s = 1250), the 尝试/秒 the lane
    // prints. 成交/秒 is sold over the sale window: naive 180 / 0.12 s = 1500, FOR UPDATE
    // 50 / 0.2 s = 250, Lua 50 / 0.01 s = 5000 — so the table must say 6.00× and 20.00×.
    // Had the ratio used attempts (2000 / 625), Lua would show 3.20×: that is the
    // regression the snapshot's ratio column catches.
    // (strategy, its load summary, stock left afterwards, sale window in ms).
    let results = [
        (Strategy::Naive, snap(400, 180, 320, vec![1250]), -130, 120),
        (Strategy::ForUpdate, snap(800, 50, 450, vec![625]), 0, 200),
        (Strategy::Lua, snap(250, 50, 450, vec![2000]), 0, 10),
    ];
    for (strategy, summary, remaining, selling_ms) in results {
        app.update(Event::Race(RaceEvent::Started(strategy)));
        app.update(Event::Race(RaceEvent::Finished(StrategyResult {
            strategy,
            stock: 50,
            summary,
            remaining,
            selling: Some(Duration::from_millis(selling_ms)),
        })));
    }
    // Events in the order the runner sends them (Started, Finished per strategy, then Done):
    // the state the snapshot shows is one the real run produces.
    app.update(Event::Race(RaceEvent::Done));
}

// Proves the three states of a lesson render distinctly and the done-count in the title
// comes from progress (day29 done → 1/8: Day 29–35 plus the Week 6 capstone). Catches a
// title that counts a lesson as done without progress, or a list that drops a lesson.
/// The home screen lists Day 29–35, marks what is done and what is not yet available.
#[test]
fn home_screen_lists_lessons_with_progress_at_80x24() {
    let mut a = app();
    // Progress set directly: the home screen only *reads* it; how `c` sets it is tested in
    // `completing_and_resetting_a_lesson_saves_progress`.
    a.progress.mark_done("day29");
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Proves a lesson renders from the manifest and its Markdown, including the expanded
// source references on its first page (drift in a quoted file shows up here too). Catches
// a lesson screen that opens scrolled, loses its title row, or shows raw `{{source:…}}`.
/// A lesson opens at its title, with its keys in the footer.
#[test]
fn lesson_screen_shows_day30_text_at_80x24() {
    let mut a = app();
    // `open_lesson` is exactly what `bookstore-lab lesson day30` does before the loop starts,
    // so this is the first frame a learner sees.
    a.open_lesson("day30").unwrap();
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Proves the race screen's central claim: the naive lane shows `超卖 130`, the others 0, and
// the table derives DO/DON'T and the ratios to FOR UPDATE from the numbers.
/// After a race the lanes show the oversell counters and the DO/DON'T table the ratios.
#[test]
fn race_screen_shows_oversell_and_verdicts_at_80x24() {
    let mut a = app();
    a.open_lesson("day30").unwrap();
    // `x` opens the experiment named in the manifest (`experiment = "race"` for day30): the
    // test also proves the manifest wiring.
    key(&mut a, KeyCode::Char('x'));
    finished_race(&mut a);
    // Catches, in one diff: a lane whose 剩余 and 超卖 disagree (−130 vs 130), a verdict
    // taken from the strategy's name instead of its counters, the ratio's baseline moving
    // off FOR UPDATE (its row must read 1.00×), and a table pushed below row 24.
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Proves the hit rate is computed from counts (85 of 100 → 85.0 %), the sparkline gets one
// bar per second with lookups, the hot book's stock is shown — and that a notice (the
// stock change) is shown in full above the keys at 80 columns.
/// The cache screen shows the hit rate per second and in total, and the hot book.
#[test]
fn cache_screen_shows_hit_rate_at_80x24() {
    let mut a = app();
    a.open_lesson("day29").unwrap();
    key(&mut a, KeyCode::Char('x'));
    // day29's manifest entry names `experiment = "cache"`.
    assert_eq!(a.screen, Screen::Cache);
    // Enter returns `StartCache`, which nobody executes here; the events the runner would
    // send are fed in by hand below — the experiment itself is not under test.
    key(&mut a, KeyCode::Enter);
    // `hot: 7` is the book the Zipf load reads most; the screen must name it, because `u`
    // changes that book's stock and the learner watches its row update.
    a.update(Event::Cache(CacheEvent::Started { books: 200, hot: 7 }));
    // Three seconds of a warming cache (20 % → 60 % → 85 %): the sparkline's rising shape is
    // part of the snapshot.
    for (i, hits) in [(1u64, 20.0), (2, 60.0), (3, 85.0)] {
        let last =
            HitCounts { detail_hits: hits, detail_misses: 100.0 - hits, ..Default::default() };
        // The load snapshot is cumulative (300 requests after 3 s, TPS 100), like the
        // engine's: each event replaces the previous one rather than adding to it.
        a.update(Event::Cache(CacheEvent::Progress {
            load: snap(i * 1000, i * 100, 0, vec![100; i as usize]),
            // The same counts for 本秒 and 累计 keep the arithmetic checkable by eye: 85 hits
            // of 85 + 15 lookups must print 85.0 %, so a rate computed as hits / misses
            // (567 %) or from the list counts (0/0) shows up in the diff.
            last_second: last,
            total: last,
            hot_stock: Some(41),
        }));
    }
    // The note `change_stock` returns after `u`: it lands in the writes box and, as a notice,
    // on its own row above the keys.
    a.update(Event::Cache(CacheEvent::Note("图书 7 库存 42 → 41".into())));
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Proves `-` for what was not measured (MariaDB has no QPS), the error instead of the
// address for an unhealthy row, and the stock totals line.
/// The dashboard shows each component's health and rates, and the stock totals.
#[test]
fn dashboard_screen_shows_health_and_rates_at_80x24() {
    let mut a = app();
    // `d` from the home screen, the way a learner opens it; the poller's snapshot is then fed
    // in by hand (no stack is polled in this test).
    key(&mut a, KeyCode::Char('d'));
    // One healthy infrastructure row (no rates), one busy catalog (rates and hit rate), one
    // broken service (error text instead of address): the three row shapes the screen has.
    // One address for every row: the test is about which column shows it (healthy) or the
    // error in its place (unhealthy), not about the addresses themselves.
    // A busy row also has a minute of history: its QPS line ramps up over the last 30 s
    // (a load run starting) and its p99 line steps from 2 ms to 8 ms, each scaled by the
    // row's QPS so the two lines differ; and 0.4 % of its answers in the window failed.
    let row = |name: &str, healthy: bool, qps: Option<f64>, hit: Option<f64>| ServiceRow {
        name: name.into(),
        address: "127.0.0.1:9002".into(),
        healthy,
        detail: if healthy { "SERVING".into() } else { "connection refused".into() },
        qps,
        // A p99 exactly when there is a rate: both come from the same pair of scrapes, so a
        // row has both or neither.
        p99_ms: qps.map(|_| 3.2),
        hit_rate: hit,
        consul: None,
        error_rate: qps.map(|_| 0.004),
        qps_line: qps.map_or(Vec::new(), |q| {
            (-60..=0).map(|x| (f64::from(x), q * f64::from((x + 60).min(30)) / 30.0)).collect()
        }),
        p99_line: qps.map_or(Vec::new(), |q| {
            (-60..=0).map(|x| (f64::from(x), if x < -30 { 2.0 } else { 8.0 } * q / 800.0)).collect()
        }),
    };
    // Consul's verdict on each service instance: a second user instance that was just
    // killed shows its gRPC health ✘ while Consul still says `critical` (or, a check
    // interval earlier, still `passing`).
    let listed = |r: ServiceRow, status: &str| ServiceRow { consul: Some(status.into()), ..r };
    a.update(Event::Dashboard(DashboardSnapshot {
        rows: vec![
            row("mysql", true, None, None),
            listed(row("user", true, Some(400.0), None), "passing"),
            listed(row("user-2", false, None, None), "critical"),
            listed(row("catalog", true, Some(812.5), Some(0.91)), "passing"),
            // Not listed in Consul at all: drawn `-`, not `critical` — "absent from the
            // registry" and "registered but failing its check" are different answers.
            row("inventory", false, None, None),
        ],
        // A consistent ledger (9000 + 12 + 988 = 10000), so the snapshot shows what a healthy
        // stack shows; an inconsistent one would teach the wrong picture.
        stock: Some(StockTotals {
            books: 200,
            available: 9_000,
            locked: 12,
            sold: 988,
            total: 10_000,
        }),
        source: "stack.json".into(),
    }));
    // Catches `0` printed where nothing was measured (a MariaDB row with QPS 0 would claim a
    // measurement), a hit rate shown for a service that has no cache, and an unhealthy row
    // that still shows its address instead of the reason.
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Proves the chart's data path end to end through the real events: Progress snapshots every
// 250 ms feed each lane's series, Finished adds the tail and the last-sale mark. The numbers
// tell the lesson's story — every strategy sells its 100 units in the first interval, then
// answers refusals at its own pace (Lua fastest, FOR UPDATE slowest). Catches a chart fed
// from `Finished` only (one point per lane), a y-axis scaled to one lane so another's line
// leaves the frame, and a chart that pushes the verdict table off the 24 rows.
/// After a timed race, the chart draws each strategy's answers/s and the table still fits.
#[test]
fn race_chart_after_a_timed_run_at_80x24() {
    let mut a = app();
    a.open_lesson("day30").unwrap();
    key(&mut a, KeyCode::Char('x'));
    a.race.params = RaceParams { stock: 100, buyers: 200, duration_secs: 3 };
    key(&mut a, KeyCode::Enter);
    // Refusals per 250 ms after the opening burst: 500, 250 and 1000 (2000/s, 1000/s, 4000/s).
    // Each row: strategy, refusals per tick, units sold, stock left (naive's −30 is its
    // oversell), and the sale window in ms.
    let runs = [
        (Strategy::Naive, 500, 130, -30, 90),
        (Strategy::ForUpdate, 250, 100, 0, 240),
        (Strategy::Lua, 1000, 100, 0, 20),
    ];
    for (strategy, per_tick, sold, remaining, selling_ms) in runs {
        a.update(Event::Race(RaceEvent::Started(strategy)));
        // Twelve Progress snapshots, one per 250 ms as the runner samples them: 3 s of a
        // `duration_secs: 3` run. Cumulative counts, so the chart must difference them —
        // a chart that plotted the running totals would draw three rising ramps instead of
        // three flat lines at each strategy's own rate.
        for tick in 1..=12u64 {
            let mut s = snap(tick * 250, sold, per_tick * tick, Vec::new());
            // Not done: only `Finished` ends a lane, so a lane never closes on a sample.
            s.done = false;
            a.update(Event::Race(RaceEvent::Progress(strategy, s)));
        }
        // The summary ends 100 ms after the last sample (3.1 s, a fifth of a tick more
        // refusals): the tail that only `Finished` carries, so the chart's last point comes
        // from it rather than stopping at the last 250 ms sample.
        a.update(Event::Race(RaceEvent::Finished(StrategyResult {
            strategy,
            stock: 100,
            summary: snap(3100, sold, per_tick * 12 + per_tick / 5, Vec::new()),
            remaining,
            selling: Some(Duration::from_millis(selling_ms)),
        })));
    }
    a.update(Event::Race(RaceEvent::Done));
    insta::assert_snapshot!(draw(&a, 80, 24));
}

// Layouts with `Length` constraints can panic or overflow in odd sizes; this catches the
// panics and checks one value survives the resize.
/// Every main screen also renders at a larger size without panicking.
#[test]
fn screens_render_at_larger_sizes() {
    let mut a = app();
    // Home and dashboard need no setup (the dashboard shows its "reading…" state); the lesson
    // and race screens are reached through the real keys below.
    for screen in [Screen::Home, Screen::Dashboard] {
        a.screen = screen;
        // The result is ignored: a panic inside `draw` is the failure this loop looks for.
        draw(&a, 160, 50);
    }
    a.open_lesson("day30").unwrap();
    draw(&a, 120, 40);
    key(&mut a, KeyCode::Char('x'));
    finished_race(&mut a);
    // A size other than the snapshots' 80×24: a layout that only worked because 80 columns
    // happened to fit its constants would lose the oversell figure here.
    assert!(draw(&a, 120, 40).contains("超卖 130"));
}

// Proves the knobs move in steps and that the command carries the knobs' values at the
// moment of Enter, and the "no overlapping races" rule (a second Enter returns nothing).
/// Enter on the race screen starts exactly one run with the knobs' values; a second
/// Enter while it runs starts nothing.
#[test]
fn starting_a_race_issues_one_command_with_the_current_params() {
    let mut a = app();
    a.open_lesson("day30").unwrap();
    key(&mut a, KeyCode::Char('x'));
    assert_eq!(a.screen, Screen::Race);
    // Knobs are compared relative to their defaults so the test survives a change of the
    // default values.
    let before = a.race.params;
    // Uppercase raises, lowercase lowers: one step each, compared relative to the defaults.
    key(&mut a, KeyCode::Char('S'));
    assert!(a.race.params.stock > before.stock);
    key(&mut a, KeyCode::Char('b'));
    assert!(a.race.params.buyers < before.buyers);
    // The params travel inside the command (a copy), so the runner never reads `App`:
    // a learner pressing `S` mid-run cannot change a race already under way.
    let cmds = key(&mut a, KeyCode::Enter);
    assert_eq!(cmds, vec![Command::StartRace(a.race.params)]);
    // `running` is set by `update` itself, before any event from the runner arrives: that
    // is what makes the second Enter below refuse even if the runner has not started yet.
    assert!(a.race.running);
    // The second Enter hits `race_key`'s unguarded arm: a notice, no command — two races
    // would share one database and spoil both measurements.
    assert!(key(&mut a, KeyCode::Enter).is_empty());
}

// Proves both paths refuse: the list (notice, stays on Home) and `open_lesson` (error),
// so `bookstore-lab lesson week6` fails instead of showing an empty lesson.
/// A planned lesson cannot be opened; the list says so instead.
#[test]
fn planned_lessons_do_not_open() {
    let mut a = app();
    // Every lesson of the week is open now, so one is marked planned here: the items are
    // plain data, which is what lets a test build this situation without a fixture file.
    let planned = a.items.len() - 1;
    a.items[planned].available = false;
    a.selected = planned;
    key(&mut a, KeyCode::Enter);
    // Staying on Home with a notice, not an empty lesson screen: catches a list that checks
    // `available` only in `open_lesson` and then opens the screen anyway.
    assert_eq!(a.screen, Screen::Home);
    assert!(a.notice.as_deref().unwrap_or("").contains("尚未开放"));
    let id = a.items[planned].id.clone();
    // The command-line path has no list in front of it, so `open_lesson` itself must refuse.
    assert!(a.open_lesson(&id).is_err());
}

// Proves persistence is requested exactly when progress changed; the save itself is
// tested in `lessons::progress`. Catches the old `c` that marked a lesson done without its
// checkpoint, a wrong answer that saves, and a lesson done before its last item passed.
/// Marking a lesson done and resetting it each ask for the progress file to be saved.
#[test]
fn completing_and_resetting_a_lesson_saves_progress() {
    let (mut a, _dir) = app_with(&[CHECKPOINT_LESSON]);
    // `c` opens the checkpoint; it no longer marks anything done by itself.
    assert_eq!(key(&mut a, KeyCode::Char('c')), vec![]);
    assert_eq!(a.screen, Screen::Checkpoint);
    assert!(!a.progress.is_done("t0"));
    // A wrong answer is recorded but passes nothing; the right one passes the question.
    assert_eq!(key(&mut a, KeyCode::Char('1')), vec![]);
    assert_eq!(key(&mut a, KeyCode::Char('2')), vec![Command::SaveProgress]);
    key(&mut a, KeyCode::Down);
    assert_eq!(key(&mut a, KeyCode::Char('1')), vec![Command::SaveProgress]);
    key(&mut a, KeyCode::Down);
    // Enter on the task asks for its check to run; its exit 0 passes the last item.
    let cmds = key(&mut a, KeyCode::Enter);
    let [Command::RunScript { purpose, script }] = cmds.as_slice() else { panic!("{cmds:?}") };
    assert!(script.contains("exit 0"), "{script}");
    assert!(!a.progress.is_done("t0"), "two of three items are not done");
    let cmds = a.update(Event::ScriptDone(purpose.clone(), outcome(0, &["书已售罄"])));
    assert_eq!(cmds, vec![Command::SaveProgress]);
    assert!(a.progress.is_done("t0"));
    assert_eq!(bookstore_lab::app::runs::progress_count(&a), (1, 1));
    // `open_lesson` moved the list's selection to t0, so `r` on the home screen resets it.
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Esc);
    assert_eq!(key(&mut a, KeyCode::Char('r')), vec![Command::SaveProgress]);
    assert!(!a.progress.is_done("t0"));
    assert!(!a.progress.has_passed("t0", "q1"), "reset forgets the passed items too");
}

/// A lesson with a checkpoint of two questions and one task (the fixture of the tests
/// below).
const CHECKPOINT_LESSON: &str = "# 检查点测试\n\n正文。\n\n## 检查点\n\n```checkpoint\n\
    [[question]]\nask = \"naive 为什么会超卖？\"\noptions = [\"网络太慢\", \"读和写之间别人也读到了旧值\", \"Redis 丢数据\"]\nanswer = 2\n\
    explain = \"SELECT 与 UPDATE 之间没有锁：两个买家读到同一个库存，各自减一。\"\n\
    [[question]]\nask = \"Lua 脚本为什么不会超卖？\"\noptions = [\"检查和扣减在 Redis 里一步完成\", \"Lua 更快\"]\nanswer = 1\n\
    explain = \"Redis 单线程执行整个脚本，中间插不进别的命令。\"\n\
    [[task]]\nask = \"让一本书卖光\"\nhint = \"按 x 运行实验\"\ncheck = \"echo 书已售罄; exit 0\"\n\
    explain = \"卖光是计数器的状态。\"\n```\n";

/// A finished run with exit `code` and `lines` of output, 0.4 s long.
fn outcome(code: i32, lines: &[&str]) -> Outcome {
    Outcome {
        exit: Exit::Code(code),
        elapsed: Duration::from_millis(400),
        lines: lines.iter().map(|l| l.to_string()).collect(),
        dropped: 0,
    }
}

// Proves a lesson's command runs from the screen and its answer lands under its own block;
// catches output shown before the run ends, or under the wrong block.
// What the snapshot pins: the label row above the selected command, the command rows
// starting at column 0 with nothing after them (copy-friendly: no border character on
// a command row), and the output under the block with its status line.
/// A command block run from the lesson shows its output inline at 80×24.
#[test]
fn a_command_block_shows_its_output_inline_at_80x24() {
    let (mut a, _dir) = app_with(&[
        "# 命令\n\n运行下面的命令：\n\n```bash\neval \"$(bookstore-lab env)\"\n\
        curl -s \"http://$BOOKSTORE_GATEWAY/api/v1/books?page_size=2\" | jq -c '.books[] | {id, title}'\n```\n\n后面的文字。\n",
    ]);
    // Tab selects the lesson's only command block, Enter asks for it to run: exactly one
    // `RunScript`, whose `purpose` tags the answer so it lands under this block.
    key(&mut a, KeyCode::Tab);
    let cmds = key(&mut a, KeyCode::Enter);
    let [Command::RunScript { purpose, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    // Between the command and its answer the block says it is running: catches a screen
    // that shows nothing until the script ends (a slow command would look ignored).
    let running = draw(&a, 80, 24);
    assert!(running.contains("运行中"), "{running}");
    a.update(Event::ScriptDone(
        purpose.clone(),
        outcome(
            0,
            &[
                r#"{"id":1,"title":"Rust 程序设计"}"#,
                r#"{"id":2,"title":"数据密集型应用系统设计"}"#,
            ],
        ),
    ));
    let screen = draw(&a, 80, 24);
    // Column 0, so a mouse selection of the row pastes into a shell as it is; the status
    // line carries exit code and duration from the `Outcome`, not from the clock at draw.
    assert!(screen.lines().any(|l| l.starts_with("eval \"$(bookstore-lab env)\"")), "{screen}");
    assert!(screen.contains("✔ 退出码 0 · 0.4 s"), "{screen}");
    assert!(!screen.lines().any(|l| l.starts_with('│')), "no side border: {screen}");
    insta::assert_snapshot!(screen);
}

// Proves a wrong answer is answered with the question's own `explain` text, so the
// learner reads why, not only "wrong"; the snapshot pins the item list (two questions and
// one task), the marks beside them and the explanation below, at 80×24.
/// The checkpoint screen after a wrong answer shows the explanation, at 80×24.
#[test]
fn a_checkpoint_shows_items_and_the_explanation_at_80x24() {
    let (mut a, _dir) = app_with(&[CHECKPOINT_LESSON]);
    key(&mut a, KeyCode::Char('c'));
    // Option 3 ("Redis 丢数据") of the first question, whose answer is 2: a wrong answer.
    key(&mut a, KeyCode::Char('3'));
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("不对"), "{screen}");
    assert!(screen.contains("SELECT 与 UPDATE 之间没有锁"), "{screen}");
    insta::assert_snapshot!(screen);
}

// Proves the page's checkpoint pointer counts the checkpoint's current items only: ids
// left in progress.json by items a later edit removed (`t2`, `t5` here, where the
// checkpoint has one task) must not count. Catches the old count of every stored id, which
// read "已通过 4 项" of a 3-item checkpoint.
/// The lesson page's checkpoint line counts only the items the checkpoint has now.
#[test]
fn the_checkpoint_pointer_ignores_ids_of_removed_items() {
    let (mut a, _dir) = app_with(&[CHECKPOINT_LESSON]);
    let stored = a.progress.passed.entry("t0".into()).or_default();
    stored.extend(["q1", "t2", "t5"].map(String::from));
    // Re-opened, because the page text (pointer included) is laid out when a lesson opens.
    a.open_lesson("t0").unwrap();
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("3 项，已通过 1 项"), "{screen}");
}

// Ctrl-C matters because raw mode disables the terminal's SIGINT: without this key
// handling, the usual way out of a program would do nothing at all.
/// q and Ctrl-C quit from any screen.
#[test]
fn q_and_ctrl_c_quit() {
    let mut a = app();
    // `quit` is a flag the loop reads after `update`, not an exit inside it: `tui::run`
    // then returns and its guard restores the terminal, so the shell gets its screen back.
    key(&mut a, KeyCode::Char('q'));
    assert!(a.quit);
    // A second app: the first has already quit, and the test must show Ctrl-C works from a
    // screen other than home.
    let mut b = app();
    b.open_lesson("day29").unwrap();
    // Plain `c` on the lesson screen means "mark done"; with CONTROL it must quit instead —
    // the modifier check comes first in `on_key`.
    b.update(Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    assert!(b.quit);
}

// The regression test for the cut-off footer: a realistic failure notice (longer than one
// row) must be readable to its last word, and the key line below it must still be whole.
// It flattens the rows before searching because the wrap may split anywhere.
/// A notice too long for one row wraps onto its own rows above the keys at 80 columns:
/// every word of it stays readable and no key disappears.
#[test]
fn long_notices_wrap_above_the_keys_at_80_columns() {
    let mut a = app();
    a.open_lesson("day29").unwrap();
    key(&mut a, KeyCode::Char('x'));
    // A real notice's shape: English error text from a service plus Chinese guidance, about
    // 1.5 rows at 80 columns — long enough that a one-row footer cuts off its end.
    let long = "失败：catalog-service is not running (start it with `bookstore-lab up`), \
                then press p again to publish a book";
    a.update(Event::Cache(CacheEvent::Note(long.into())));
    let screen = draw(&a, 80, 24);
    // Compared with all whitespace removed: the wrap may split the phrase at any column
    // (a space at a row's end is trimmed by `draw`, a row starts with a margin), and the
    // test is about every word being on screen, not about where the rows break.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert!(squeeze(&screen).contains(&squeeze("press p again to publish a book")), "{screen}");
    // The keys stay on the last row: a notice that grew the footer by pushing the keys off
    // screen would hide the way out (Esc, q) exactly when something failed.
    let last = screen.lines().last().unwrap();
    assert!(last.contains("Esc") && last.contains("退出"), "{screen}");
}

// The table of Day 30 in miniature: CJK cells wider than the window together, an ❌/✅
// column and a long prose column. What the snapshot pins: box borders instead of the
// `|---|` row, every row exactly as wide as its border, and the long cells wrapped inside
// their column (with dividers between wrapped rows).
/// A Markdown table renders with borders, aligned by display width, at 80×24.
#[test]
fn lesson_table_is_aligned_by_display_width_at_80x24() {
    // The Markdown is Day 30's table with the `:---:` centre marker on one column, so the
    // snapshot also shows alignment; `_dir` keeps the fixture until the end of the test.
    let (a, _dir) = app_with(&["# 表格\n\n课程比较三种做法：\n\n\
        | 策略 | 做法 | 正确性 | 代价 |\n|---|---|:---:|---|\n\
        | naive | `SELECT` 后在应用里判断，再 `UPDATE` | ❌ 并发下超卖 | — |\n\
        | FOR UPDATE | 事务内 `SELECT … FOR UPDATE` 锁住行再改 | ✅ | 所有买家在一把行锁上排队，每次持锁跨三次网络往返 |\n\
        | Lua | 在 Redis 里用一个脚本完成检查 + 扣减 | ✅ | Redis 单线程执行脚本，一次往返，不跨网络持锁 |\n\n表格之后的一段。\n"]);
    let screen = draw(&a, 80, 24);
    // Beyond the snapshot, two properties that must hold for any table: no delimiter row,
    // and the top border and the first body row are equally wide in display columns.
    // A `|---` on screen means the table was not recognised and fell through as prose.
    assert!(!screen.contains("|---"), "{screen}");
    let widths: Vec<usize> = screen
        .lines()
        .filter(|l| l.contains('┌') || l.contains("│ naive"))
        .map(unicode_width::UnicodeWidthStr::width)
        .collect();
    // Measured in display columns, not chars: a renderer that padded by `chars().count()`
    // would make every row with Chinese cells wider than the border — ragged right edges.
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{screen}");
    insta::assert_snapshot!(screen);
}

// The old renderer deleted `**` and backticks from every line, code included, so Rust's
// `x ** y`-free but doc-comment-rich excerpts lost characters. What the snapshot pins: the
// code block's lines exactly as written (`**`, backticks, indentation, no reflow even where
// prose would be), while `**bold**` and `code` in the prose lose their markers to styles.
/// A code block keeps `**` and backticks verbatim; prose markers become styles.
#[test]
fn lesson_code_block_keeps_stars_and_backticks_at_80x24() {
    let (a, _dir) = app_with(&["# 代码\n\n**粗体**和 `行内代码` 是样式，不是符号。\n\n\
        ```rust\n/// `Quantity` **must** be > 0\nfn pow(x: i64) -> i64 {\n    x * x // not x ** 2\n}\n\
        let line = \"a very long line of code that is wider than the eighty columns of the window, folded\";\n```\n"]);
    let screen = draw(&a, 80, 24);
    // The exact source lines must appear on screen character for character; the prose line
    // must appear without its markers (the styles are not part of the text snapshot).
    // Catches the old marker-stripping renderer: it would print `/// Quantity must be > 0`.
    assert!(screen.contains("/// `Quantity` **must** be > 0"), "{screen}");
    assert!(screen.contains("    x * x // not x ** 2"), "{screen}");
    // And the opposite mistake, prose left raw: `**粗体**` on screen would fail this line.
    assert!(screen.contains("粗体和 行内代码 是样式"), "{screen}");
    insta::assert_snapshot!(screen);
}

// Long items as the lessons write them: hard-wrapped in the source at ~95 columns, mixed
// Chinese and code. What the snapshot pins: each item reflowed to the window, continuation
// rows under the item's text (not under the bullet), a nested list indented once more,
// and no `，` at the start of a row.
/// A long list wraps with hanging indentation at 80×24.
#[test]
fn lesson_long_list_hangs_when_wrapped_at_80x24() {
    let (a, _dir) = app_with(&["# 列表\n\n\
        - **“加个 `WHERE stock >= 1` 就好了”**：条件 UPDATE 本身是原子的，但只有检查“影响行数 = 1”才算卖出；\n  检查了影响行数，前面的 SELECT 就多余了。只加条件不看结果，等于还是 naive。\n\
        - **FOR UPDATE 忘了开事务**：自动提交模式下，`SELECT … FOR UPDATE` 返回时锁就释放了，和 naive 一样。\n\
        - 嵌套：\n  1. 第一步，读到 `stock = 1`，判断“够”，然后在同一个原子步骤里完成检查和扣减，不留窗口；\n  2. 第二步。\n\
        - Lua scripts run atomically in Redis, so the check and the decrement can never be interleaved by another buyer.\n"]);
    let screen = draw(&a, 80, 24);
    // The row after the first item's first row is its continuation: it starts with exactly
    // the bullet's width of spaces (2), not 0 and not 3. (The frame has no side border any
    // more, so command rows copy clean; rows start at column 0.)
    let rows: Vec<&str> = screen.lines().collect();
    let first = rows.iter().position(|r| r.contains("• “加个")).expect("first item");
    assert!(rows[first + 1].starts_with("  ") && !rows[first + 1].starts_with("   "), "{screen}");
    // Chinese line-breaking rule (no closing punctuation at the start of a row): a wrap
    // that splits by width alone puts `，` first on a row whenever one lands at column 80.
    assert!(
        rows.iter().all(|r| !r.trim_start_matches('│').trim_start().starts_with('，')),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

// The numbers are computed from the page itself (its row count at this width), so the test
// does not hard-code how many rows a lesson has: End puts the last row on the bottom row of
// the frame, more ↓ presses move nothing, and ↑ moves at once (the old unclamped scroll
// needed as many ↑ as there had been extra ↓).
/// Scrolling is clamped to the text: End shows the last row at the bottom, never blanks.
#[test]
fn lesson_scrolling_is_clamped_and_end_shows_the_last_row() {
    // 60 short paragraphs: a page of about 120 rows, several screens long at 24 rows, with
    // a unique last row to look for.
    let body: String = (1..=60).map(|i| format!("第 {i} 段。\n\n")).collect();
    let (mut a, _dir) = app_with(&[&format!("# 长课\n\n{body}")]);
    key(&mut a, KeyCode::End);
    let end = a.lesson.scroll;
    // Non-zero, or the page fit on one screen and nothing below tests scrolling at all.
    assert!(end > 0);
    for _ in 0..5 {
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::PageDown);
    }
    assert_eq!(a.lesson.scroll, end, "scrolling past the end is clamped");
    let screen = draw(&a, 80, 24);
    let rows: Vec<&str> = screen.lines().collect();
    // Row 21 (0-based) is the last text row inside the border at 24 rows.
    assert!(rows[21].contains("第 60 段"), "{screen}");
    // The bottom border (row 22; row 23 holds the keys) carries the position: 100 % only
    // when the last row is visible, so a percentage of the scroll offset would fail here.
    assert!(rows[22].contains("100%"), "{screen}");
    // One ↑ after ten extra ↓/PageDown moves one row: this is the unclamped-scroll bug's
    // symptom (the offset had run on past the end, and ↑ first had to walk it back).
    key(&mut a, KeyCode::Up);
    assert_eq!(a.lesson.scroll, end - 1);
    key(&mut a, KeyCode::Home);
    assert_eq!(a.lesson.scroll, 0);
}

// Section jumps land on the heading rows of the laid-out page, and the bottom border names
// the section the top row is in — the learner's "you are here".
/// `]` / `[` jump between headings; the frame shows the section and position.
#[test]
fn lesson_section_jumps_and_position_indicator() {
    // 30 paragraphs (about 60 rows) between headings: more than a screen, so every jump
    // really scrolls and a jump that only moved to "the next screen" would miss the heading.
    let filler: String = (1..=30).map(|i| format!("段落 {i}。\n\n")).collect();
    let (mut a, _dir) =
        app_with(&[&format!("# 课\n\n{filler}## 第二节\n\n{filler}## 第三节\n\n{filler}")]);
    key(&mut a, KeyCode::Char(']'));
    let screen = draw(&a, 80, 24);
    let rows: Vec<&str> = screen.lines().collect();
    // Row 2 is the first text row (header, then the top border): the jump must put the
    // heading at the top, not merely somewhere on screen.
    assert!(rows[2].contains("■ 第二节"), "{screen}");
    // The section name is taken from the heading at or above the top row: after the jump
    // that is the heading itself, so `§ 第二节` and not the section before it.
    assert!(rows[23 - 1].contains("§ 第二节") && rows[22].contains("行 "), "{screen}");
    key(&mut a, KeyCode::Char(']'));
    assert!(draw(&a, 80, 24).lines().nth(2).unwrap().contains("■ 第三节"));
    // `[` from a heading goes to the previous heading, not to the top of the current one
    // (which it is already at) — the off-by-one a naive "last heading ≤ scroll" would make.
    key(&mut a, KeyCode::Char('['));
    assert!(draw(&a, 80, 24).lines().nth(2).unwrap().contains("■ 第二节"));
}

// `>` / `<` walk the available lessons in course order, starting each at its top, and say
// so at either end instead of doing nothing. Catches a walk that wraps round from the first
// lesson to the last, and a home list whose selection stays behind on the old lesson.
/// `>` and `<` open the next and previous lesson.
#[test]
fn lesson_next_and_previous_lesson_keys() {
    // Two available lessons are enough to hit both ends of the walk; a planned lesson in
    // between would be skipped by the same search, which checks `available` per index.
    let (mut a, _dir) = app_with(&["# 第一课\n", "# 第二课\n"]);
    // At the first lesson `<` says so instead of wrapping round to the last one.
    key(&mut a, KeyCode::Char('<'));
    assert!(a.notice.as_deref().unwrap_or("").contains("第一课"));
    key(&mut a, KeyCode::Char('>'));
    assert_eq!(a.current_lesson().id, "t1");
    // The home list's selection follows, so Esc returns to the lesson just read.
    assert_eq!(a.selected, 1);
    key(&mut a, KeyCode::Char('>'));
    assert_eq!(a.current_lesson().id, "t1");
    assert!(a.notice.as_deref().unwrap_or("").contains("最后一课"));
    key(&mut a, KeyCode::Char('<'));
    assert_eq!(a.current_lesson().id, "t0");
}

// A run that has placed its orders and been sampled once: 5 units, 21 attempts (the lone
// first order plus the burst of 20), 5 created and 16 refused, all 5 locked by 5 Pending
// orders — self-consistent, so the conservation line is green. The clock is fixed
// (`now`), so the countdown is too.
/// The orders screen after a burst, through the real key and event paths.
fn sampled_orders(a: &mut App) {
    // Set directly rather than through a lesson's `x`: that wiring has its own test
    // (`day31_and_day32_open_the_orders_experiment`), and this fixture is about the run.
    a.screen = Screen::Orders;
    a.orders.params = OrderParams::default();
    let cmds = key(a, KeyCode::Enter);
    assert_eq!(cmds, vec![Command::StartOrders { run: 1, params: OrderParams::default() }]);
    // One token per shopper (the default four, 顾客 4 in the header); the pending orders
    // below index them with `i % 4`, so each order has an owner whose token can cancel it.
    let tokens = vec!["t0".to_string(), "t1".into(), "t2".into(), "t3".into()];
    a.update(Event::Orders(OrdersEvent::Ready { run: 1, book: 212, tokens }));
    // A real `server-timing` header. The snapshot's 合计 5.07 ms is 1.10 (the longer of the
    // parallel pair ValidateToken ∥ GetBook) + 0.95 + 0.62 + 2.40, not the plain sum 5.88:
    // a total that added parallel steps would overstate what the caller waited.
    a.update(Event::Orders(OrdersEvent::Chain {
        run: 1,
        steps: parse_chain(
            "ValidateToken;dur=0.81, GetBook-212;dur=1.10, claim;dur=0.95, LockStock;dur=0.62, commit;dur=2.40",
        ),
    }));
    // The burst's own counts (4 created, 16 refused): the screen's 已创建 is the burst's,
    // the lone first order is what the call chain above was measured on.
    a.update(Event::Orders(OrdersEvent::BurstDone { run: 1, load: snap(300, 4, 16, vec![]) }));
    let pending = (0..5)
        .map(|i| PendingOrder {
            id: 900 + i,
            shopper: i as usize % 4,
            quantity: 1,
            // Expiries one second apart, in ms like `now`, so "the oldest" is unambiguous and
            // its countdown is 1_000_000 − 913_000 ms = 87 s at the sample's `now`.
            expires_at: 1_000_000 + 1000 * i as i64,
        })
        .collect();
    a.update(Event::Orders(OrdersEvent::Watch {
        run: 1,
        stock: StockView { available: 0, locked: 5, sold: 0, total: 5 },
        pending,
        cancelled: 0,
        now: 913_000,
    }));
}

// Proves the screen's four parts at 80×24: counts, stock with the green conservation line,
// the call chain with the lookups side by side (same first column), and the countdown.
/// The orders screen shows created vs refused, conservation, the call chain and expiry.
#[test]
fn orders_screen_shows_conservation_and_call_chain_at_80x24() {
    let mut a = app();
    sampled_orders(&mut a);
    // A compensation note as `f` produces it: it must land both in the box (the run's log)
    // and in the footer (the latest news), and fit each at 80 columns.
    a.update(Event::Orders(OrdersEvent::Note {
        run: 1,
        text: "提交失败（Unavailable）：#906 锁定 1 件 → 补偿释放 1 件，available 仍为 0".into(),
    }));
    let screen = draw(&a, 80, 24);
    // 0 + 5 + 0 = 5 and locked 5 = five pending orders of one unit: the line must be green.
    // Catches a check that goes red on a consistent state, and a layout at 80×24 that
    // pushes the line out of its box (the snapshot alone would be re-accepted too easily).
    assert!(screen.contains("守恒 ✔"), "{screen}");
    insta::assert_snapshot!(screen);
}

// Proves each failure key asks for the right effect with the owner's token, and that `e`
// then reports the awaited order's expiry when a sample no longer lists it.
/// `f`, `c` and `e` on the orders screen: the fault, a cancel by the owner, the expiry.
#[test]
fn orders_keys_fault_cancel_and_await_expiry() {
    let mut a = app();
    sampled_orders(&mut a);
    // The token and book come from `Ready`: the screen builds the command from its own
    // state, without asking the runner — and a command with another run's book would make
    // the fault order fail for the wrong reason.
    assert_eq!(
        key(&mut a, KeyCode::Char('f')),
        vec![Command::OrderFault { run: 1, token: "t0".into(), book: 212 }]
    );
    // `c` cancels the newest (904, shopper 0) so the oldest keeps its countdown.
    assert_eq!(
        key(&mut a, KeyCode::Char('c')),
        vec![Command::CancelOrder { run: 1, token: "t0".into(), order_id: 904 }]
    );
    // `e` issues no command: expiry is the sweeper's job in order-service, and the screen
    // only waits for a sample in which #900 is gone. It awaits the oldest (900), since the
    // newest (904) was just cancelled by hand.
    assert!(key(&mut a, KeyCode::Char('e')).is_empty());
    assert_eq!(a.orders.awaiting, Some(900));
    assert!(a.notice.as_deref().unwrap_or("").contains("87 秒"), "{:?}", a.notice);
    // The sweeper cancelled 900 (and the learner 904): the next sample lists three,
    // 901–903, taken from the screen's own list so their expiries stay as sampled.
    let left: Vec<_> = a.orders.pending[1..4].to_vec();
    a.update(Event::Orders(OrdersEvent::Watch {
        run: 1,
        stock: StockView { available: 2, locked: 3, sold: 0, total: 5 },
        pending: left,
        cancelled: 2,
        now: 1_001_000,
    }));
    assert_eq!(a.orders.awaiting, None);
    assert!(a.notice.as_deref().unwrap_or("").contains("#900 已过期"), "{:?}", a.notice);
    // After the releases 2 + 3 + 0 = 5 still holds: expiry and cancel returned stock to
    // `available` rather than losing it — the invariant Day 32 is about.
    assert!(draw(&a, 80, 24).contains("守恒 ✔"));
}

// Proves the run tag: a watcher of run 1 still sampling after Enter started run 2 cannot
// paint its stock onto run 2's screen; and a second Enter during a burst starts nothing.
/// Events of an earlier run are ignored; Enter during a burst is refused.
#[test]
fn orders_ignore_a_previous_runs_events() {
    let mut a = app();
    sampled_orders(&mut a);
    // Once run 1 has finished its burst, Enter may start run 2 (one command) even though run
    // 1's watcher is still sampling — which is exactly why events carry a run tag.
    assert_eq!(key(&mut a, KeyCode::Enter).len(), 1);
    assert!(key(&mut a, KeyCode::Enter).is_empty(), "a burst is running");
    a.update(Event::Orders(OrdersEvent::Watch {
        run: 1,
        stock: StockView { available: 9, locked: 0, sold: 0, total: 9 },
        pending: Vec::new(),
        cancelled: 0,
        now: 0,
    }));
    // Run 2's stock is still unknown (`None`), not run 1's 9 units: catches a handler that
    // applies an event without comparing its `run` tag.
    assert_eq!(a.orders.run, 2);
    assert_eq!(a.orders.stock, None);
    // A chain without steps (no successful order yet) draws its placeholder, not a panic.
    a.orders.chain = Vec::<ChainStep>::new();
    assert!(draw(&a, 80, 24).contains("第一笔订单成功后显示"));
}

// Proves the manifest wiring: both lessons name the experiment by data
// (`experiment = "orders"`), so `x` opens the same screen from either, and Esc returns
// to the lesson the learner came from.
/// `x` on Day 31 and on Day 32 opens the orders experiment.
#[test]
fn day31_and_day32_open_the_orders_experiment() {
    // A fresh `App` per lesson: the second lap must not pass only because the first left
    // the screen set. Catches a lesson whose manifest entry lost its `experiment` key.
    for id in ["day31", "day32"] {
        let mut a = app();
        a.open_lesson(id).unwrap();
        key(&mut a, KeyCode::Char('x'));
        assert_eq!(a.screen, Screen::Orders, "{id}");
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.screen, Screen::Lesson);
        assert_eq!(a.current_lesson().id, id);
    }
}

// The first page of each payments lesson, as `bookstore-lab lesson day33|day34` opens it:
// the title, the goal and the start of 核心概念 with its diagram (verbatim, not reflowed).
// Catches a diagram reflowed like prose (its boxes break apart) and, like the Day 30
// snapshot, any edit of those first pages, which is then reviewed as a screen change.
/// Day 33 and Day 34 open at their titles.
#[test]
fn lesson_screens_show_day33_and_day34_text_at_80x24() {
    let mut a = app();
    a.open_lesson("day33").unwrap();
    // Named snapshots: two in one test would otherwise be told apart only by a counter
    // suffix, and reordering them would swap their files silently.
    insta::assert_snapshot!("lesson_day33_first_page", draw(&a, 80, 24));
    a.open_lesson("day34").unwrap();
    insta::assert_snapshot!("lesson_day34_first_page", draw(&a, 80, 24));
}

// Proves the one table of Day 34 (the two race orders) renders with borders at 80 columns
// — its cells are long Chinese sentences, which must wrap inside the cells rather than
// push the table past the window. Found by paging, as a learner would reach it.
/// Day 34's race-order table wraps inside its borders at 80×24.
#[test]
fn lesson_day34_race_table_fits_80_columns() {
    let mut a = app();
    a.open_lesson("day34").unwrap();
    let mut page = draw(&a, 80, 24);
    // At most 60 pages: a bound, so a lesson that lost the table fails with the message
    // below instead of looping forever (PageDown at the end no longer moves).
    for _ in 0..60 {
        if page.contains("先发生的") {
            break;
        }
        key(&mut a, KeyCode::PageDown);
        page = draw(&a, 80, 24);
    }
    assert!(page.contains("先发生的"), "the table was not found:\n{page}");
    // Display width, not bytes or chars: a row of Chinese cells is twice as wide as its
    // char count. A row over 80 would be wrapped by the terminal itself, breaking the box.
    for line in page.lines() {
        assert!(unicode_width::UnicodeWidthStr::width(line) <= 80, "too wide: {line}");
    }
    insta::assert_snapshot!(page);
}

// A payments screen after the four scenarios, through the real key and event paths, with
// the numbers of a real run (the plain output of `lesson day33 --no-tui` on the lab
// stack): every verdict green, the crash scenario's timeline on screen.
/// The payments screen after all four scenarios.
fn finished_payments(a: &mut App) {
    // Directly, like `sampled_orders`: `day33_and_day34_open_the_payments_experiment` covers
    // the key path.
    a.screen = Screen::Payments;
    let setup = Setup { book: 5011, token: "t".into() };
    let before = StockView { available: 20, locked: 0, sold: 0, total: 20 };
    for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
        let digit = char::from(b'1' + i as u8);
        let cmds = key(a, KeyCode::Char(digit));
        // The first scenario asks the runner to prepare a book and a token (`setup: None`);
        // later ones reuse that `Setup`, so all four run on one book and the stock before /
        // after of each follows on from the previous one.
        let setup_sent = if i == 0 { None } else { Some(setup.clone()) };
        assert_eq!(
            cmds,
            vec![Command::StartPayment { run: i as u64 + 1, scenario, setup: setup_sent }]
        );
        let run = i as u64 + 1;
        // The runner answers the first scenario with the `Setup` it created; the screen keeps
        // it and sends it back with every later key (the `setup_sent` asserted above).
        if i == 0 {
            a.update(Event::Payments(PaymentsEvent::Ready { run, setup: setup.clone() }));
        }
        // Each scenario starts where the previous one left the book: one unit sold per paid
        // scenario before it, the refund (last) selling none.
        let refund = scenario == Scenario::Refund;
        let sold = before.sold + i as i64;
        let b = StockView { available: 20 - i as i64, sold, ..before };
        // The deltas `Report`'s verdict checks: sold +1, available −1, locked 0 for a payment;
        // all zero for the refund (its unit went back at the cancel). Any other `after` here
        // would turn a ✔ red and fail the count of four below.
        let after =
            if refund { b } else { StockView { available: b.available - 1, sold: sold + 1, ..b } };
        let steps: Vec<Step> = match scenario {
            // The crash timeline's point is in its times: the kill at 12 ms and the restart at
            // 142 ms come before the callback at ~3 s, and the payment still succeeds — the
            // callback is the gateway's timer, not payment-service's, so the kill lost
            // nothing. Times are ms from the scenario's start, as the screen prints them.
            Scenario::Crash => vec![
                (6, "CreateOrder → 订单 #5 Pending，总额 5900 分，锁定 1 件"),
                (11, "CreatePayment → PAY202612010000000025 PENDING，网关 +3.0s 回调"),
                (12, "kill -9 12517（payment-service，网关任务尚未到期）"),
                (12, "进程 12517 已消失：内存里的一切（若有定时器）都随它而去"),
                (142, "bookstore-lab up：payment-service 重启（pid 19274，同一端口）"),
                (3069, "支付 SUCCESS：网关回调生效，同一事务写入 outbox 一行"),
                (3245, "订单 #5 Paid（relay 带服务凭证调 UpdateOrderStatus）"),
                (3245, "库存 sold 2 → 3（locked 确认为已售）"),
                (3245, "order_notified = true：outbox 行已投递"),
            ],
            _ => vec![(6, "CreateOrder → …")],
        }
        .into_iter()
        .map(|(at_ms, what)| Step { at_ms, what: what.into() })
        .collect();
        let report = Report {
            scenario,
            order_id: 3 + i as u64,
            payment_no: format!("PAY20261201000000002{}", 3 + i),
            // Integer cents (分), as the order and payment protos carry amounts: 59.00 never
            // passes through a float on its way to a ledger.
            amount: 5900,
            before: b,
            after,
            // A refund's end state is a pair — payment Refunded *and* order Cancelled — and the
            // verdict requires both: either alone is a half-done compensation.
            payment_status: if refund { PaymentStatus::Refunded } else { PaymentStatus::Success },
            order_status: if refund { OrderStatus::Cancelled } else { OrderStatus::Paid },
            reason: String::new(),
            // One stock confirm per paid order; a refund confirms nothing, because its locked
            // unit is released back to `available`, not sold.
            confirms: usize::from(!refund),
            callbacks: (scenario == Scenario::Duplicates).then_some(CallbackCounts {
                sent: 100,
                ok: 100,
                failed: 0,
                changed: Some(1),
                unchanged: Some(99),
            }),
            restart: (scenario == Scenario::Crash)
                .then_some(Restart { killed_pid: 12517, new_pid: 19274 }),
            steps,
        };
        // The crash scenario is the one left on screen: the others are replaced by the next key.
        // After the refund (the last) arrives, the crash report's timeline is put back by
        // hand, as pressing its digit again would show it: the snapshot then has both the
        // four verdicts and the one timeline whose times tell the lesson's story.
        if scenario != Scenario::Refund {
            a.update(Event::Payments(PaymentsEvent::Finished { run, report: Box::new(report) }));
        } else {
            let crash = a.payments.reports[2].clone().unwrap();
            a.update(Event::Payments(PaymentsEvent::Finished { run, report: Box::new(report) }));
            a.payments.shown = Some(Scenario::Crash);
            a.payments.steps = crash.steps;
        }
    }
}

// Proves the screen's three parts at 80×24: four green verdicts (with the duplicate
// counts and the pids of the kill), the stock before/after, the timeline with times.
/// The payments screen shows every verdict, the stock and the crash timeline.
#[test]
fn payments_screen_shows_verdicts_stock_and_timeline_at_80x24() {
    let mut a = app();
    finished_payments(&mut a);
    // The last scenario's notice is cleared so the snapshot shows the screen itself, not
    // whichever note happened to arrive last.
    a.notice = None;
    let screen = draw(&a, 80, 24);
    // Four ✔, one per scenario: catches a verdict row dropped at 80×24 or one turned red
    // by a check that reads the wrong stock view.
    assert_eq!(screen.matches('✔').count(), 4, "{screen}");
    // 1 changed + 99 no-ops of 100 duplicate callbacks: the idempotency of Day 34 in one
    // line; a screen that showed only "100 OK" would hide whether they were applied.
    assert!(screen.contains("生效 1 / 空操作 99"), "{screen}");
    insta::assert_snapshot!(screen);
}

// Proves the manifest wiring: both lessons name the experiment by data
// (`experiment = "payments"`), and Esc returns to the lesson the learner came from.
/// `x` on Day 33 and on Day 34 opens the payments experiment.
#[test]
fn day33_and_day34_open_the_payments_experiment() {
    // As for the orders lessons: one `App` per lesson, so each lap proves its own wiring.
    for id in ["day33", "day34"] {
        let mut a = app();
        a.open_lesson(id).unwrap();
        key(&mut a, KeyCode::Char('x'));
        assert_eq!(a.screen, Screen::Payments, "{id}");
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.screen, Screen::Lesson);
        assert_eq!(a.current_lesson().id, id);
    }
}

// The capstone in the middle of a sale, through the real key and event paths, with the
// figures of a real scripted run: one check lagging (a confirm on its way), the others
// green, two faults timed. Proves the board's six rows, the counts and the faults fit 80×24.
/// The capstone screen shows the board, the counts and the faults while a sale runs.
#[test]
fn flash_screen_shows_the_board_and_the_faults_at_80x24() {
    use bookstore_lab::experiments::flash::{
        Counts, FaultRecord, FlashEvent, FlashParams, Phase, Tick,
        board::{Invariant, Row, Verdict},
        shopper::Route,
    };
    let mut a = app();
    a.open_lesson("week6").unwrap();
    key(&mut a, KeyCode::Char('x'));
    assert_eq!(a.screen, Screen::Flash);
    let params = FlashParams::default();
    // The knobs travel in the command, as for the race: the sale cannot change under way.
    assert_eq!(key(&mut a, KeyCode::Enter), vec![Command::StartFlash { run: 1, params }]);
    // The names `k` cycles through; the first is preselected, so one → below must name
    // the second.
    let instances = vec!["order".to_string(), "inventory".into(), "payment".into()];
    a.update(Event::Flash(FlashEvent::Ready { run: 1, book: 7, params, instances }));
    let board = Invariant::ALL
        .iter()
        .map(|&invariant| Row {
            invariant,
            verdict: if invariant == Invariant::PaidSoldOnce {
                Verdict::Lagging {
                    oldest: Duration::from_secs(1),
                    items: vec!["order 48: 已支付、待确认出库".into()],
                }
            } else {
                Verdict::Holds
            },
            // Never broken during this sale: a row that had turned red once would keep its
            // record here even after it holds again, and the screen would mark it.
            ever_broken: None,
        })
        .collect();
    // A fault as the runner records it: what was killed, when (s into the sale), which
    // shopper route it is timed on, ms from the fault to the end of the lab's action
    // (`restored`) and to the first good answer on that route (`recovered`), and the error
    // answers shoppers got in between.
    let fault = |label: &str, at_s, route, restored, recovered, failed| FaultRecord {
        label: label.into(),
        at_s,
        route,
        note: None,
        restored_ms: Some(restored),
        recovered_ms: Some(recovered),
        failed_answers: failed,
    };
    // `stock` is (available, locked, sold) as Redis has it: 0 + 13 + 7 = 20, the default
    // `FlashParams` stock, so the conservation row's ✔ is one this sample can really show.
    let tick = Tick {
        elapsed_s: 9.0,
        phase: Phase::Selling,
        // Consistent with `stock` below: 20 placed = 7 paid (sold 7) + 13 still locked, and
        // 9 finished = 7 paid + 2 abandoned — so no row of the board is red because the
        // fixture contradicts itself.
        counts: Counts {
            shoppers: 60,
            logged_in: 30,
            placed: 20,
            paid: 7,
            abandoned: 2,
            retries: 13,
            finished: 9,
            ..Counts::default()
        },
        // Successes per second over every route (see `Tick::rps`), not orders per second:
        // 6/s with 20 orders placed in 9 s is consistent because logins and polls count.
        rps: 6.0,
        p99_ms: Some(57.0),
        board,
        // The relay's recovery (1.9 s) is shorter than its action (2.6 s), with no failed
        // answer: the two clocks are independent (see `FaultRecord`), and the screen must
        // print both as measured rather than assume recovery follows the restart.
        faults: vec![
            fault("kill -9 order", 3.0, Route::Order, 1700, 1800, 13),
            fault("kill -9 outbox relay（payment-service）", 7.0, Route::Paid, 2600, 1900, 0),
        ],
        stock: Some((0, 13, 7)),
    };
    a.update(Event::Flash(FlashEvent::Tick { run: 1, tick: Box::new(tick) }));
    // → moves the fault target from the first instance (order) to the next: the key line
    // must name what `k` will kill before it is pressed.
    key(&mut a, KeyCode::Right);
    a.notice = None;
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("k 将 kill -9：inventory"), "{screen}");
    // Five of the six invariants hold and one lags (drawn `…` with its oldest item): a
    // lagging check must not be drawn ✔ (it would hide the confirm in flight), and the
    // count also catches a fault row that started printing ✔ of its own.
    assert_eq!(screen.matches('✔').count(), 5, "{screen}");
    // The key line fits 80 columns: its last pair, Esc and what it does, is not cut.
    assert!(screen.lines().last().unwrap().ends_with("Esc  返回"), "{screen}");
    insta::assert_snapshot!(screen);
}

// Five instances (`+` three times) need five table rows; the box once had three, and the
// fourth and fifth rows — with the `▶` on them — were drawn below its border.
/// The discovery table shows the selected row at 80×24 even with five instances, and
/// every row at a larger size.
#[test]
fn discovery_table_keeps_the_selected_instance_in_view_at_80x24() {
    use bookstore_lab::experiments::discovery::DiscoveryEvent;
    let mut a = app();
    a.open_lesson("day35").unwrap();
    key(&mut a, KeyCode::Char('x'));
    assert_eq!(a.screen, Screen::Discovery);
    assert_eq!(key(&mut a, KeyCode::Enter), vec![Command::StartDiscovery]);
    // 16 callers, the figure the TUI starts the experiment with (`discovery::run(t, 16, …)`).
    a.update(Event::Discovery(DiscoveryEvent::Ready { workers: 16 }));
    // Five: two more than the old box held, and fewer than the six that fit the bars and
    // the table both at 80×24, so the snapshot shows every bar too.
    let labels = ["user", "user-2", "user-3", "user-4", "user-5"];
    a.update(discovery_tick(&labels));
    // Down to the last row, the one the old layout drew below the border.
    for _ in 0..4 {
        key(&mut a, KeyCode::Down);
    }
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("▶user-5"), "{screen}");
    // At 120×40 every row fits without scrolling, so all five addresses must be there:
    // catches a table that keeps the old three-row limit on a large terminal.
    let large = draw(&a, 120, 40);
    // The addresses are in the table only (the bars carry the labels).
    for n in 0..labels.len() {
        let address = format!("127.0.0.1:{}", 50051 + n);
        assert!(large.contains(&address), "{address} missing at 120×40:\n{large}");
    }
    insta::assert_snapshot!(screen);
}

// Addresses from 50051 up, one per row: the table is the one place addresses are drawn,
// so a test finds a row there by its address.
/// A discovery tick listing `labels`, all passing.
fn discovery_tick(labels: &[&str]) -> Event {
    use bookstore_lab::experiments::discovery::{DiscoveryEvent, InstanceView, Tick};
    let instances = labels
        .iter()
        .enumerate()
        .map(|(n, l)| InstanceView {
            label: l.to_string(),
            address: format!("127.0.0.1:{}", 50051 + n),
            consul: "passing".into(),
            served_qps: Some(400.0),
            sent_qps: Some(400.0),
        })
        .collect();
    // The gateway's 800 rps in total, every instance serving 400 as seen from both ends
    // (`served_qps` from its own `/metrics`, `sent_qps` from the gateway's): the two agree,
    // so any difference in a snapshot comes from the layout, not the data.
    Event::Discovery(DiscoveryEvent::Tick(Tick {
        rps: 800.0,
        ok: 800,
        instances,
        ..Tick::default()
    }))
}

// With an index for the selection, `user` vanishing moved the `▶` from user-2 to user-3,
// and `k` killed an instance the learner never chose.
/// The discovery selection follows its instance when a row above it disappears, and a
/// selection whose instance left the list kills nothing.
#[test]
fn discovery_k_kills_the_selected_instance_after_a_row_above_it_disappears() {
    use bookstore_lab::experiments::discovery::Action;
    let mut a = app();
    a.open_lesson("day35").unwrap();
    key(&mut a, KeyCode::Char('x'));
    key(&mut a, KeyCode::Enter);
    a.update(discovery_tick(&["user", "user-2", "user-3"]));
    // The first tick selected `user`; one row down is user-2. Then `user` leaves the list
    // (stopped with `-`, or forgotten by Consul): user-2 is now the first row.
    key(&mut a, KeyCode::Down);
    a.update(discovery_tick(&["user-2", "user-3"]));
    assert!(draw(&a, 80, 24).contains("▶user-2"));
    let cmds = key(&mut a, KeyCode::Char('k'));
    assert_eq!(cmds, vec![Command::Discovery(Action::Kill("user-2".into()))]);
    // The selected instance itself leaves: no row is marked, and `k` says why instead of
    // picking a neighbour.
    a.update(discovery_tick(&["user-3"]));
    assert!(key(&mut a, KeyCode::Char('k')).is_empty(), "user-2 is gone: nothing to kill");
    assert!(a.notice.as_deref().is_some_and(|n| n.contains("user-2")), "{:?}", a.notice);
}

// Enter used to keep `tick`: the first run's rps and failure count stood under the second
// run's status line until its first second, and read as the new run's figures.
/// A second discovery run starts without the first run's last second on screen.
#[test]
fn discovery_enter_after_a_finished_run_clears_its_figures() {
    use bookstore_lab::experiments::discovery::DiscoveryEvent;
    let mut a = app();
    a.open_lesson("day35").unwrap();
    key(&mut a, KeyCode::Char('x'));
    key(&mut a, KeyCode::Enter);
    a.update(discovery_tick(&["user"]));
    // A failed run is over (`running` cleared), so Enter starts the next one.
    a.update(Event::Discovery(DiscoveryEvent::Failed("gateway gone".into())));
    assert_eq!(key(&mut a, KeyCode::Enter), vec![Command::StartDiscovery]);
    assert!(a.discovery.tick.is_none());
    assert!(draw(&a, 80, 24).contains("正在登录"));
}

// The relay's line is wider than the box and wraps to two rows; counting lines instead of
// rows let the newest faults fall below the border once the box was full.
/// With more faults than rows, the faults box still shows the newest fault whole.
#[test]
fn flash_faults_box_keeps_the_newest_fault_when_lines_wrap() {
    use bookstore_lab::experiments::flash::{
        Counts, FaultRecord, FlashEvent, FlashParams, Phase, Tick, shopper::Route,
    };
    let mut a = app();
    a.open_lesson("week6").unwrap();
    key(&mut a, KeyCode::Char('x'));
    key(&mut a, KeyCode::Enter);
    let instances = vec!["order".to_string()];
    a.update(Event::Flash(FlashEvent::Ready {
        run: 1,
        book: 7,
        params: FlashParams::default(),
        instances,
    }));
    // Eight faults for a box of 8 rows, relay (two rows each) and kill (one) in turn, the
    // newest a kill at t=31 s. Counted from the newest back, 7 rows hold t=15…31 s and the
    // t=3, 7 and 11 s faults drop out; the old count kept the eight oldest *lines*, 12 rows,
    // and the box cut them after t=19 s. `failed_answers` = n marks each fault's last row.
    let faults = (0..8)
        .map(|n| FaultRecord {
            label: if n % 2 == 0 {
                "kill -9 outbox relay（payment-service）".into()
            } else {
                "kill -9 order".into()
            },
            at_s: 3.0 + 4.0 * n as f64,
            route: if n % 2 == 0 { Route::Paid } else { Route::Order },
            note: None,
            restored_ms: Some(1700),
            recovered_ms: Some(1800),
            failed_answers: n,
        })
        .collect();
    // Everything but the faults left empty (no board, no stock, no p99): the faults box is
    // then the only box whose height depends on the data, so its row count is the test's.
    let tick = Tick {
        elapsed_s: 33.0,
        phase: Phase::Selling,
        counts: Counts::default(),
        rps: 5.0,
        p99_ms: None,
        board: Vec::new(),
        faults,
        stock: None,
    };
    a.update(Event::Flash(FlashEvent::Tick { run: 1, tick: Box::new(tick) }));
    // No notice: it would take its rows from the faults box and change the count.
    a.notice = None;
    let screen = draw(&a, 80, 24);
    // The newest fault (t=31s) and its last figure, not only its first row.
    assert!(screen.contains("t= 31s kill -9 order"), "{screen}");
    assert!(screen.contains("错误应答 7"), "{screen}");
}

// Esc leaves a sale that goes on to its catch-up in the background; a failure it reports
// later belongs to that abandoned run, not to the idle screen or the next sale. The
// checklist's failure, which used the same event before runs were tagged, still shows.
/// A late failure of a sale the learner left is not shown, on the idle screen or on the
/// next sale's; the checklist's is.
#[test]
fn flash_drops_a_late_failure_of_an_abandoned_sale() {
    use bookstore_lab::experiments::flash::FlashEvent;
    let failed =
        |run| Event::Flash(FlashEvent::Failed { run, message: "order-service unreachable".into() });
    let mut a = app();
    a.open_lesson("week6").unwrap();
    key(&mut a, KeyCode::Char('x'));
    key(&mut a, KeyCode::Enter);
    // Sale 1 is left with Esc (its shoppers stop, its catch-up goes on) and the learner
    // comes back: sale 1's failure lands on the idle screen.
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('x'));
    assert_eq!(a.screen, Screen::Flash);
    a.update(failed(1));
    assert_eq!(a.flash.error, None);
    assert!(!draw(&a, 80, 24).contains("失败"));
    // Sale 2 runs: sale 1's failure, later still, is not sale 2's; sale 2's own is shown.
    let params = a.flash.params;
    assert_eq!(key(&mut a, KeyCode::Enter), vec![Command::StartFlash { run: 2, params }]);
    a.update(failed(1));
    assert!(a.flash.running && a.flash.error.is_none(), "sale 2 goes on");
    // Sale 2's own failure ends sale 2 and is shown in full: the run tag drops only
    // strangers, it does not swallow failures.
    a.update(failed(2));
    assert!(!a.flash.running);
    assert!(draw(&a, 80, 24).contains("失败：order-service unreachable"));
    // The checklist has no run: its failure comes at any time and goes to the footer.
    a.update(Event::Flash(FlashEvent::Checklist(Err("no stack.json".into()))));
    assert!(a.notice.as_deref().is_some_and(|n| n.contains("no stack.json")), "{:?}", a.notice);
}

// Proves an empty manifest (no `[[lesson]]`, which `Library::load` accepts) gives a home
// screen whose keys do nothing harmful: catches the old `items[selected]` in the home
// keys, which panicked on Enter (and on `r`) and took the terminal down with it.
/// An empty lesson list: Enter and `r` on the home screen say so instead of panicking.
#[test]
fn an_empty_lesson_list_answers_enter_with_a_notice() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("manifest.toml"), "format_version = 1\n").unwrap();
    let mut a = App::new(&Library::load(root.path()).unwrap(), Progress::default());
    // ↓ first: it clamps to `0.saturating_sub(1)`, so `selected` stays 0 — the index the
    // other keys then look up in a list that has no row 0.
    for code in [KeyCode::Down, KeyCode::Char('r'), KeyCode::Right, KeyCode::Enter] {
        assert_eq!(key(&mut a, code), Vec::<Command>::new(), "{code:?}");
    }
    assert_eq!(a.screen, Screen::Home);
    let screen = draw(&a, 80, 24);
    assert!(screen.contains("课程清单里没有课"), "{screen}");
}

/// A checkpoint whose only question has twelve options (the answer is 11) and one task.
const TWELVE_OPTIONS: &str = "# 多选项\n\n## 检查点\n\n```checkpoint\n[[question]]\n\
    ask = \"哪一个端口是 gateway 的？\"\noptions = [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", \"12\"]\n\
    answer = 11\nexplain = \"第 11 个。\"\n[[task]]\nask = \"任务\"\ncheck = \"exit 0\"\nexplain = \"好。\"\n```\n";

// Proves every option of a question past nine can be chosen: `1` then `1` answers 11,
// `1` then Enter answers 1, and a digit no longer number starts with (`3` of twelve)
// answers at once. Catches the old `1`–`9` keys, with which option 10–12 (here the right
// one) could never be given, so the lesson could never be completed.
/// A question with twelve options: two digits (or one and Enter) choose any option.
#[test]
fn a_question_with_twelve_options_takes_two_digit_answers() {
    let (mut a, _dir) = app_with(&[TWELVE_OPTIONS]);
    key(&mut a, KeyCode::Char('c'));
    // 30 rows, not 24: twelve options, the verdict and its reason must all be in view, and
    // this test is about the keys, not about what fits the smallest terminal.
    let hint = draw(&a, 80, 30);
    assert!(hint.contains("两位数的选项连按两位"), "the hint is on screen: {hint}");
    // `1` waits for a second digit, and the screen says so.
    assert!(key(&mut a, KeyCode::Char('1')).is_empty());
    let waiting = draw(&a, 80, 30);
    assert!(waiting.contains("已输入 1"), "{waiting}");
    assert!(!a.progress.has_passed("t0", "q1"));
    // `1` + Enter is option 1: a wrong answer, recorded, with the explanation.
    key(&mut a, KeyCode::Enter);
    assert!(draw(&a, 80, 30).contains("✘ 1 不对"));
    // `3` cannot start a longer number of twelve: answered at once.
    key(&mut a, KeyCode::Char('3'));
    assert!(draw(&a, 80, 30).contains("✘ 3 不对"));
    // `1` `1` is option 11, the right one: passed and saved.
    key(&mut a, KeyCode::Char('1'));
    assert_eq!(key(&mut a, KeyCode::Char('1')), vec![Command::SaveProgress]);
    assert!(a.progress.has_passed("t0", "q1"));
    assert!(draw(&a, 80, 30).contains("✔ 答对了（11）"));
}

// Proves a check stopped by an unset variable reads as a broken check, in the footer and
// on the checkpoint, while a real "not yet" (exit 1 with its own line) stays quiet.
// Catches the old exit-code-only reading, under which bash's `unbound variable` (exit 1)
// was shown as the check's verdict on an unfinished task.
/// A task check that hits an unset variable reports the error, not "not yet".
#[test]
fn a_check_on_an_unset_variable_reads_as_broken_not_unfinished() {
    let (mut a, _dir) = app_with(&[CHECKPOINT_LESSON]);
    key(&mut a, KeyCode::Char('c'));
    // The task is the third item (after the two questions).
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    let cmds = key(&mut a, KeyCode::Enter);
    let [Command::RunScript { purpose, .. }] = cmds.as_slice() else { panic!("{cmds:?}") };
    let purpose = purpose.clone();
    a.update(Event::ScriptDone(purpose.clone(), outcome(1, &["还没有卖光的书"])));
    let not_yet = draw(&a, 80, 24);
    assert!(a.notice.is_none(), "{:?}", a.notice);
    assert!(not_yet.contains("检查结果：还没有卖光的书"), "{not_yet}");
    key(&mut a, KeyCode::Enter);
    // bash's own words for `-u`, exactly as the runner captures them (exit 1 as well).
    let unbound = "bash: line 1: BOOKSTORE_NOPE: unbound variable";
    a.update(Event::ScriptDone(purpose, outcome(1, &[unbound])));
    let notice = a.notice.clone().unwrap_or_default();
    assert!(notice.contains("检查脚本本身出错") && notice.contains(unbound), "{notice}");
    let screen = draw(&a, 80, 24).replace('\n', "");
    assert!(!screen.contains("检查结果：bash"), "{screen}");
    assert!(!a.progress.has_passed("t0", "t1"));
}
