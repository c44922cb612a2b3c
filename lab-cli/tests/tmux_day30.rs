//! End to end, as a learner would do it: the real `bookstore-lab lesson day30` in a real
//! terminal (tmux), driven by key presses, read back from the screen.
//!
//! It runs against the real MariaDB and Redis of the test infrastructure, in a database
//! and key prefix of its own, and checks the lesson's claim on what the screen shows:
//! naive oversold, Lua did not. Skipped (with a message) only when tmux is not installed;
//! `make test` installs it, so CI runs it.
//!
//! What it proves that nothing else does: the real binary, in a real pseudo-terminal, with
//! the real key reader, loop, renderer and race against real databases, produces the
//! lesson's result on screen. The snapshot tests prove the screens, the unit tests the
//! arithmetic; only this one proves the pieces are connected (a command that is never
//! executed, a channel that is never forwarded, a terminal that never draws).
//!
//! Why tmux and not a pty crate: tmux is a terminal emulator with a scriptable API —
//! `send-keys` to type, `capture-pane` to read what is *drawn* (after escape codes are
//! interpreted) — so the test reads exactly what a learner would see, at a chosen size.
//!
//! It asserts on the numbers, not on timing: "naive oversold, FOR UPDATE and Lua did not".
//! 500 buyers for 50 units at once makes the naive oversell overwhelmingly likely (see the
//! race module's "Reading the numbers"); a run where it did not would fail loudly and
//! print the screen, rather than pass by accident.
//!
//! When it fails: the assertion message contains the captured screen, which usually says
//! enough (an error line, a lane stuck on 运行中). To watch it live, run the test with
//! `-- --nocapture`, find the session with `tmux ls` (`lab_e2e…`) and `tmux attach -t` it
//! before the test ends; the trailing `sleep 60` keeps the pane open if the lab exits
//! early, so its last message can be read.
//!
//! Running it alone: `eval "$(bookstore-lab --dir .lab-dev env)"` (the test infrastructure's
//! addresses), then `cargo test -p bookstore-lab --test tmux_day30 -- --nocapture`. With
//! `--duration 0` each strategy is one burst of 500 attempts, so the whole race usually
//! finishes in a couple of seconds; the 30 s deadline is headroom for a loaded CI machine,
//! not an expected duration.

use std::{
    process::Command,
    time::{Duration, Instant},
};

// A guard like the TUI's: a failed assertion unwinds through `drop`, so no tmux server
// keeps a lab process (and its database connections) alive after the test.
/// Kills the tmux session however the test ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).output();
    }
}

impl Session {
    // `capture-pane -p` prints the pane's visible text after tmux has interpreted every
    // escape code — the screen as a learner sees it, without colours. Wide (CJK) characters
    // come out as themselves, so `超卖` can be searched for directly.
    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    // `send-keys` takes tmux key names (`Enter`, `Escape`, `q`), which tmux turns into the
    // bytes a real keyboard would send — so the lab's key reader cannot tell the difference.
    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    // Polling with a deadline instead of a fixed `sleep`: fast machines finish in a second,
    // slow CI machines get up to the timeout, and a failure prints the screen it gave up on —
    // the most useful message an end-to-end test can give.
    /// Polls the screen until it contains `text`, or fails with what it shows.
    fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < timeout, "`{text}` never appeared; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

// Read from the lane *title* because the title is one line in every layout (see
// `ui::race`); the body could wrap differently at another width.
/// The number after `<label> · 超卖 ` on the screen (a lane title).
fn oversell(screen: &str, label: &str) -> u64 {
    let tag = format!("{label} · 超卖 ");
    let at = screen.find(&tag).unwrap_or_else(|| panic!("no `{tag}` on screen:\n{screen}"));
    // Digits up to the first non-digit: the title continues with ` · 完成`, and the parse must
    // not depend on what follows.
    let digits: String =
        screen[at + tag.len()..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after `{tag}`:\n{screen}"))
}

/// Opening Day 30, pressing x then Enter races 500 buyers for 50 books: the naive lane
/// ends with oversells above zero, the Lua lane with none, and the DO/DON'T table appears.
#[test]
fn day30_lesson_in_tmux_shows_naive_oversold_and_lua_did_not() {
    // A skip, not a failure, when tmux is missing — but a loud one: the message is printed,
    // and the setup script installs tmux, so CI always runs the test for real.
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (make test installs it)");
        return;
    }
    // A database and key prefix of its own, passed through the environment the way a learner
    // would set them: parallel test runs and the developer's own `lab_race` never collide.
    let infra = bookstore_stack::testing::infra();
    let lab_dir = tempfile::tempdir().unwrap();
    let session = Session(bookstore_stack::testing::unique_name("lab_e2e"));
    let db = bookstore_stack::testing::unique_name("t_lab_race");
    let prefix = bookstore_stack::testing::unique_prefix();
    // The trailing `sleep` keeps the pane (and any error message) readable if the lab
    // exits early; the session is killed at the end either way.
    // The environment is passed on the command line (not inherited) because the tmux server
    // may already run with another environment: a session started by `new-session` gets the
    // server's environment, not the test's. Single quotes guard paths with spaces.
    let command = format!(
        "BOOKSTORE_MYSQL_URL='{m}' BOOKSTORE_REDIS_URL='{r}' BOOKSTORE_CONSUL_ADDR='{c}' \
         BOOKSTORE_LAB_RACE_DB='{db}' BOOKSTORE_LAB_RACE_PREFIX='{prefix}' \
         BOOKSTORE_LESSONS_DIR='{lessons}' \
         '{bin}' --dir '{dir}' lesson day30 --stock 50 --buyers 500 --duration 0; sleep 60",
        m = infra.mysql_url,
        r = infra.redis_url,
        c = infra.consul_addr,
        lessons = concat!(env!("CARGO_MANIFEST_DIR"), "/../lessons"),
        bin = env!("CARGO_BIN_EXE_bookstore-lab"),
        dir = lab_dir.path().display(),
    );
    // 120×40 rather than 80×24: the race screen is also snapshot-tested at 80×24; here the
    // goal is the flow, and a roomier pane keeps the whole DO/DON'T table on screen.
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-x", "120", "-y", "40", "-s", &session.0, &command])
        .status()
        .expect("tmux new-session");
    assert!(status.success());

    // The lesson title: the binary started, found the lessons and drew its first frame.
    session.wait_for("库存服务与并发扣减", Duration::from_secs(10));
    // `x` opens the lesson's experiment, found through `experiment = "race"` in the manifest.
    session.keys(&["x"]);
    // The race screen's idle status: `x` reached the experiment through the manifest.
    session.wait_for("按 Enter 开始", Duration::from_secs(5));
    // Enter starts the race with the knobs from the command line (`--stock 50 --buyers 500`).
    session.keys(&["Enter"]);
    // "全部完成" appears only after `Done`, i.e. after all three strategies finished and their
    // `Finished` events were folded in; reading the counters earlier could see a half-run.
    let screen = session.wait_for("全部完成", Duration::from_secs(30));

    // `> 0` for naive, exactly 0 for the others: how many naive buyers slip in between
    // their SELECT and UPDATE depends on scheduling, so any oversell proves the race, while
    // a guarded strategy that oversold by one is the lesson's claim broken.
    assert!(oversell(&screen, "naive") > 0, "naive did not oversell:\n{screen}");
    assert_eq!(oversell(&screen, "lua"), 0, "lua oversold:\n{screen}");
    assert_eq!(oversell(&screen, "for-update"), 0, "FOR UPDATE oversold:\n{screen}");
    // The table is derived from the results, so its presence also proves `Finished` carried
    // the results through the forwarder to the screen.
    assert!(screen.contains("DON'T"), "no DO/DON'T table:\n{screen}");

    // Quitting is part of the flow: the session guard would kill it anyway, but `q` also
    // exercises the normal exit path (terminal restored, tasks dropped).
    session.keys(&["q"]);
}
