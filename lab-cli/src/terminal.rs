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

use std::io::{Stdout, stdout};

use ratatui::{
    Terminal,
    backend::CrosstermBackend,
    crossterm::{
        ExecutableCommand,
        terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
    },
};

/// The terminal in TUI mode; restored when dropped.
pub struct TerminalGuard {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        if let Err(e) = stdout().execute(EnterAlternateScreen) {
            restore();
            return Err(e.into());
        }
        let mut terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        terminal.clear()?;
        terminal.hide_cursor()?;
        Ok(Self { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        restore();
    }
}

/// Leaves the alternate screen and raw mode; safe to call more than once.
pub fn restore() {
    let _ = stdout().execute(LeaveAlternateScreen);
    let _ = disable_raw_mode();
}

/// Restores the terminal before the default panic message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
