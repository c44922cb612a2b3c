//! Taking over the terminal, and always giving it back.
//!
//! A TUI switches the terminal to raw mode (keys arrive one by one, nothing is echoed)
//! and to the alternate screen. If the program then exits without switching back — an
//! error returned with `?`, a panic in a render function — the learner is left in a shell
//! that echoes nothing and ignores Enter. Two guards, because either alone misses a case:
//! - [`TerminalGuard`] restores on `Drop`, which covers every return path and unwinding;
//! - [`install_panic_hook`] restores *before* the panic message is printed, so the message
//!   lands on the normal screen where it can be read, not on the alternate one that is
//!   about to vanish.
//!
//! What a learner sees without them: the prompt comes back but typing shows nothing, Enter
//! prints `^M` or nothing, arrows print `^[[A`, and the last TUI frame is still painted over
//! the scrollback. The fix is `reset` (typed blind) or closing the terminal — and many
//! learners will do the latter and lose the shell history of their lab. Keeping the
//! terminal usable is part of a CLI's contract, like a correct exit status.
//!
//! ✅ DO restore in `Drop` *and* in the panic hook. ❌ DON'T restore only at the end of
//! `main` — every early `return Err(..)` and every panic skips it.
//!
//! ## What the two modes are
//!
//! - **raw mode** switches off the terminal driver's line discipline (termios `ICANON`,
//!   `ECHO`, `ISIG`, …): keys reach the program one at a time instead of a line after
//!   Enter, nothing is echoed, and Ctrl-C arrives as a key instead of a SIGINT — which is
//!   why `App::on_key` handles Ctrl-C itself.
//! - **the alternate screen** (`smcup`/`rmcup`, what `vim` and `less` use) is a second
//!   screen buffer: the TUI draws there, and leaving it brings back the shell's scrollback
//!   exactly as it was, without the TUI's frames mixed into it.
//!
//! Both are *terminal* state, not process state: they outlive the process. That is why
//! restoring is the program's job and why forgetting it is so visible.

use std::io::{Stdout, stdout};

use ratatui::{
    Terminal,
    backend::CrosstermBackend,
    crossterm::{
        ExecutableCommand,
        terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
    },
};

// The guard owns the `Terminal`, so nobody can draw without one existing — and
// nobody can forget to restore, because leaving the scope is restoring.
/// The terminal in TUI mode; restored when dropped.
pub struct TerminalGuard {
    // Public so the loop can draw through the guard; the guard's own job is only restoring.
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    // The hook is installed first, so even a panic during the next few lines restores.
    // If entering the alternate screen fails, raw mode is already on and no guard exists
    // yet to undo it — hence the explicit `restore()` before returning the error.
    /// Enters raw mode and the alternate screen.
    // Mouse capture is deliberately *not* enabled: with it, the terminal would send clicks to
    // the TUI and the learner could no longer select and copy a command from a lesson with
    // the mouse — the most common thing they want to do with lesson text.
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        if let Err(e) = stdout().execute(EnterAlternateScreen) {
            restore();
            return Err(e.into());
        }
        // ❗ Known gap: the three `?` below return with raw mode and the alternate screen
        // still on, since no guard exists until `Ok(Self …)`. They rarely fail (stdout is a
        // terminal by now), but when they do the error prints onto the alternate screen.
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        // Cleared once so the first frame does not draw over whatever the alternate screen
        // held; from then on ratatui writes only the cells that changed.
        terminal.clear()?;
        // The cursor would otherwise blink at the last written cell, somewhere mid-frame.
        terminal.hide_cursor()?;
        Ok(Self { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // The cursor first, while still on the alternate screen where it was hidden; a
        // shell without a visible cursor is the subtlest leftover of a TUI.
        let _ = self.terminal.show_cursor();
        restore();
    }
}

// "More than once" matters: on a panic the hook restores, then unwinding drops the
// guard, which restores again. Both calls ignore errors — there is nothing better to
// do with a failure to restore than to keep going and let the shell try.
/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    // Leave the screen, then raw mode — the reverse of `enter`, so each step undoes the
    // one taken after it.
    let _ = stdout().execute(LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

// The previous hook is kept and called after, so the panic message and `RUST_BACKTRACE`
// output look exactly as usual, just readable. Note the limit: a hook cannot help with
// `panic = "abort"` builds or `SIGKILL`; for those `reset` stays the learner's tool.
/// Restores the terminal before the default panic message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
