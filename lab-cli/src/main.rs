//! # bookstore-lab — the lab in your terminal
//!
//! The binary a learner types: `cli` is the command line (clap), [`dispatch`] maps each
//! subcommand to its body in `commands`, and each body calls into the library
//! (`bookstore_lab::…`) or the stack supervisor.
//! - `bookstore-lab` — the TUI home (starts the stack first); plain status without a TTY;
//! - `bookstore-lab lesson day30 [--reset] [--no-tui]` — a lesson and its live experiment;
//! - `bookstore-lab lessons [check]` — the list with progress; validate `lessons/`;
//! - `bookstore-lab dashboard` — health, QPS, p99, hit rate, stock of the running stack;
//! - `bookstore-lab bench inventory|catalog|order|discovery` — load runs with baselines;
//! - `bookstore-lab up | down | status | env` — the stack supervisor.
//!
//! Every command works without a terminal (`--no-tui`, or stdout not a TTY): the same
//! runners print progress bars and tables instead of drawing screens.
//!
//! Why a thin `main`: everything here is argument plumbing, which is hard to test; the
//! library behind it is tested directly (tests/). Help texts are Chinese (they are read by
//! learners); errors are English (they are pasted into issues and searched for).
//!
//! ## Command design, and why
//!
//! - ✅ every command is idempotent where it can be: `up` on a running stack starts only
//!   what is missing, `down` on a stopped one does nothing. Learners re-run commands when
//!   unsure; a second `up` must never start a second MariaDB on the same port.
//! - ✅ exit codes carry the verdict (`status` and `lessons check` exit 1 on a problem), so
//!   scripts and CI need no output parsing.
//! - ✅ `--json` where a script may want the data (`status --json`, `bench --json`), with
//!   stable keys; the human table may change its layout, the JSON keys do not.
//! - ✅ one binary, subcommands, no daemon: the stack's processes are recorded in
//!   `stack.json`, so any later invocation can find and stop them.
//!
//! ## Exit codes, as a script sees them
//!
//! - `0`: the command did what it says (`status`: every component healthy; `lessons
//!   check`: every reference resolves; `up`: the whole stack is up).
//! - `1`: a verdict or a failure. `status` with an unhealthy or missing component,
//!   `lessons check` with a problem, an `up` that failed (after stopping what it had
//!   started), and any error returned from `main` — Rust prints it as `Error: …` on stderr
//!   and exits 1. A script cannot tell "unhealthy" from "crashed" by the code alone;
//!   `status --json` says which component is unhealthy.
//! - `130`: `up` interrupted by Ctrl-C, after it stopped what it had started. Inside the TUI
//!   Ctrl-C is a key (raw mode), so quitting the TUI that way still exits 0.

mod cli;
mod commands;

use std::path::Path;

use bookstore_lab::experiments::race::RaceParams;
use bookstore_stack::UpOptions;
use clap::Parser;

use cli::{Cli, Command};

// The default multi-threaded runtime (one worker per core): the TUI loop and the race's
// buyers then run on both cores. With `flavor = "current_thread"` the loop would share one
// thread with 200 buyers, and the screen would stutter exactly when the race is busiest.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Start-up order: parse (a usage error exits 2 from clap before any file is touched),
    // choose the output mode, resolve the directory — and only then, per command, open it.
    let cli = Cli::parse();
    let tui_mode = cli::use_tui(&cli);
    // `--dir`/`BOOKSTORE_LAB_HOME` win over the search, so tests and a second lab on the same
    // machine can point at their own directory without `cd`.
    let dir = cli.dir.clone().unwrap_or_else(cli::default_dir);
    match cli.command {
        Some(command) => dispatch(command, &dir, tui_mode).await,
        None => commands::home(commands::open(&dir)?, tui_mode).await,
    }
}

/// Runs one subcommand: turns its arguments into the body's parameters, nothing more.
async fn dispatch(command: Command, dir: &Path, tui_mode: bool) -> anyhow::Result<()> {
    match command {
        Command::Up {
            infra_only,
            external,
            free_ports,
            bin_dir,
            no_seed,
            replicas,
            static_addrs,
        } => {
            let opts = UpOptions {
                infra_only,
                external,
                free_ports,
                bin_dir,
                // Detached: the stack must outlive this command — that is what `up` is for.
                // (Tests start theirs attached, so a killed test run leaks no servers.)
                attached: false,
                no_seed,
                replicas,
                static_addrs,
            };
            commands::up(dir, opts).await
        }
        Command::Down => commands::down(dir).await,
        Command::Status { json } => commands::status(dir, json).await,
        Command::Bench { target, opts } => commands::bench(dir, target, opts).await,
        Command::Env => commands::env(dir),
        Command::Lessons { action } => commands::lessons(dir, action).await,
        Command::Lesson { id, reset, stock, buyers, duration } => {
            let params =
                // Zero stock or zero buyers would make a race with nothing to measure (and a division by
                // zero in a rate); clamping to 1 keeps every command line valid.
                RaceParams { stock: stock.max(1), buyers: buyers.max(1), duration_secs: duration };
            commands::lesson(dir, tui_mode, &id, reset, params).await
        }
        Command::Dashboard => commands::dashboard(dir, tui_mode).await,
    }
}
