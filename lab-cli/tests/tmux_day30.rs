//! End to end, as a learner would do it: the real `bookstore-lab lesson day30` in a real
//! terminal (tmux), driven by key presses, read back from the screen.
//!
//! It runs against the real MariaDB and Redis of the test infrastructure, in a database
//! and key prefix of its own, and checks the lesson's claim on what the screen shows:
//! naive oversold, Lua did not. Skipped (with a message) only when tmux is not installed;
//! `make test` installs it, so CI runs it.

use std::{
    process::Command,
    time::{Duration, Instant},
};

/// Kills the tmux session however the test ends.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).output();
    }
}

impl Session {
    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

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

/// The number after `<label> · 超卖 ` on the screen (a lane title).
fn oversell(screen: &str, label: &str) -> u64 {
    let tag = format!("{label} · 超卖 ");
    let at = screen.find(&tag).unwrap_or_else(|| panic!("no `{tag}` on screen:\n{screen}"));
    let digits: String =
        screen[at + tag.len()..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after `{tag}`:\n{screen}"))
}

/// Opening Day 30, pressing x then Enter races 500 buyers for 50 books: the naive lane
/// ends with oversells above zero, the Lua lane with none, and the DO/DON'T table appears.
#[test]
fn day30_lesson_in_tmux_shows_naive_oversold_and_lua_did_not() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (make test installs it)");
        return;
    }
    let infra = bookstore_stack::testing::infra();
    let lab_dir = tempfile::tempdir().unwrap();
    let session = Session(bookstore_stack::testing::unique_name("lab_e2e"));
    let db = bookstore_stack::testing::unique_name("t_lab_race");
    let prefix = bookstore_stack::testing::unique_prefix();
    // The trailing `sleep` keeps the pane (and any error message) readable if the lab
    // exits early; the session is killed at the end either way.
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
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-x", "120", "-y", "40", "-s", &session.0, &command])
        .status()
        .expect("tmux new-session");
    assert!(status.success());

    session.wait_for("库存服务与并发扣减", Duration::from_secs(10));
    session.keys(&["x"]);
    session.wait_for("按 Enter 开始", Duration::from_secs(5));
    session.keys(&["Enter"]);
    let screen = session.wait_for("全部完成", Duration::from_secs(30));

    assert!(oversell(&screen, "naive") > 0, "naive did not oversell:\n{screen}");
    assert_eq!(oversell(&screen, "lua"), 0, "lua oversold:\n{screen}");
    assert_eq!(oversell(&screen, "for-update"), 0, "FOR UPDATE oversold:\n{screen}");
    assert!(screen.contains("DON'T"), "no DO/DON'T table:\n{screen}");

    session.keys(&["q"]);
}
