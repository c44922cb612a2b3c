//! Keys and events of the screens whose logic lives in their own state struct (orders,
//! payments, capstone, discovery): `App` only handles leaving the screen and the footer.
//!
//! What Esc does to a run differs by what the run costs while nobody watches:
//! - orders and payments keep going: a burst or a scenario ends on its own (seconds, or
//!   the orders watcher's wait for the sweeper), and their events still fold into the
//!   state, so coming back shows the finished run instead of a half-drawn one;
//! - the capstone and discovery are stopped: their load has no end of its own, and two
//!   cores busy behind a lesson being read would also slow every other experiment
//!   started from it.

use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen};
use crate::experiments::{orders::OrdersEvent, payments::PaymentsEvent};

/// Esc, ← and Backspace: "back" on every screen.
// Three habits (vim users reach for Esc, file-manager users for ←, browser users for
// Backspace), one meaning — the same test `on_key` applies on the dashboard.
fn is_back(code: KeyCode) -> bool {
    matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace)
}

impl App {
    // Esc is handled here, not in `orders`, because leaving a screen is `App`'s business
    // (which screen comes next); a notice is written only when the key produced one, so a
    // knob key does not wipe the answer to the learner's last action.
    /// Keys of the orders experiment (its logic lives in [`super::orders`]); Esc goes back.
    // No stop on Esc: the run carries a run id, so Enter after coming back starts run n+1
    // and `OrdersState::on_event` drops whatever run n's watcher still sends.
    pub(super) fn orders_key(&mut self, code: KeyCode) -> Vec<Command> {
        if is_back(code) {
            self.screen = Screen::Lesson;
            return Vec::new();
        }
        let answer = self.orders.key(code);
        self.answer(answer)
    }

    /// Keys of the capstone; Esc goes back and stops the shoppers (the run still ends
    /// through catch-up in the background, so no fault is left half-done).
    pub(super) fn flash_key(&mut self, code: KeyCode) -> Vec<Command> {
        if is_back(code) {
            self.screen = Screen::Lesson;
            // `take` clears `running` here, before any late event arrives: the sale's own
            // `Finished` (after catch-up) is then dropped by `FlashState::on_event`'s gate,
            // so the idle screen is not repainted with a sale the learner walked away from.
            // StopFlash only when a sale ran: with none, the static holds no sender anyway.
            let was_running = std::mem::take(&mut self.flash.running);
            return if was_running { vec![Command::StopFlash] } else { Vec::new() };
        }
        let answer = self.flash.key(code);
        self.answer(answer)
    }

    /// Keys of the discovery experiment; Esc goes back and stops its load (the load would
    /// otherwise keep two cores busy behind a lesson the learner is reading).
    pub(super) fn discovery_key(&mut self, code: KeyCode) -> Vec<Command> {
        if is_back(code) {
            self.screen = Screen::Lesson;
            // Cleared now, not when the runner confirms: Enter after coming back must start a
            // fresh load at once, and the old runner ends on its own once `StopDiscovery`
            // drops its action channel (a late tick of it is overwritten a second later).
            let was_running = std::mem::take(&mut self.discovery.running);
            return if was_running { vec![Command::StopDiscovery] } else { Vec::new() };
        }
        let answer = self.discovery.key(code);
        self.answer(answer)
    }

    /// Keys of the payments experiment (its logic lives in [`super::payments`]); Esc goes
    /// back.
    // A scenario left running (they take 3–15 s) finishes in the background and its
    // verdict lands in the table; `PaymentsState::key` still refuses a second scenario
    // until it has, because both would share the one book.
    pub(super) fn payments_key(&mut self, code: KeyCode) -> Vec<Command> {
        if is_back(code) {
            self.screen = Screen::Lesson;
            return Vec::new();
        }
        let answer = self.payments.key(code);
        self.answer(answer)
    }

    /// A screen's answer to a key: its commands go to the loop, its notice (if any) to the
    /// footer.
    fn answer(&mut self, (cmds, notice): (Vec<Command>, Option<String>)) -> Vec<Command> {
        // `None` keeps the previous notice: a knob key (`s`, `b`) answers nothing, and the
        // answer to the learner's last `f` or `c` stays readable above the keys.
        if notice.is_some() {
            self.notice = notice;
        }
        cmds
    }

    /// Folds an orders event; an action's answer also goes to the footer.
    pub(super) fn on_orders(&mut self, e: OrdersEvent) {
        if let Some(n) = self.orders.on_event(e) {
            self.notice = Some(n);
        }
    }

    /// Folds a payments event; a scenario's verdict also goes to the footer.
    // The footer even when the learner is on another screen: the verdict of a scenario
    // started here and left running is news wherever they are reading.
    pub(super) fn on_payments(&mut self, e: PaymentsEvent) {
        if let Some(n) = self.payments.on_event(e) {
            self.notice = Some(n);
        }
    }
}
