//! Keys and events of the screens whose logic lives in their own state struct (orders,
//! payments, capstone, discovery): `App` only handles leaving the screen and the footer.

use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen};
use crate::experiments::{orders::OrdersEvent, payments::PaymentsEvent};

/// Esc, ← and Backspace: "back" on every screen.
fn is_back(code: KeyCode) -> bool {
    matches!(code, KeyCode::Esc | KeyCode::Left | KeyCode::Backspace)
}

impl App {
    // Esc is handled here, not in `orders`, because leaving a screen is `App`'s business
    // (which screen comes next); a notice is written only when the key produced one, so a
    // knob key does not wipe the answer to the learner's last action.
    /// Keys of the orders experiment (its logic lives in [`orders`]); Esc goes back.
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
            let was_running = std::mem::take(&mut self.discovery.running);
            return if was_running { vec![Command::StopDiscovery] } else { Vec::new() };
        }
        let answer = self.discovery.key(code);
        self.answer(answer)
    }

    /// Keys of the payments experiment (its logic lives in [`payments`]); Esc goes back.
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
    pub(super) fn on_payments(&mut self, e: PaymentsEvent) {
        if let Some(n) = self.payments.on_event(e) {
            self.notice = Some(n);
        }
    }
}
