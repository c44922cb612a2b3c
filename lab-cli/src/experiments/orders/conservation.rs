//! The conservation check the watch judges every sample by, and the two things it reads:
//! inventory's counters for the run's book and the run's Pending orders.

// Mirrors `bookstore.inventory.v1.Stock` without the book id, so the app's state does not
// depend on the generated proto type (whose fields are prost's and whose `Default` is the
// wire's, not ours).
/// inventory's four counters for one book, as GetStock reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StockView {
    /// Units a new order can lock now.
    pub available: i64,
    /// Units held by orders that are not paid yet (LockStock without its confirm or release).
    pub locked: i64,
    /// Units confirmed by a payment: they never come back to `available`.
    pub sold: i64,
    /// `available + locked + sold` when inventory is right: the one number no order moves.
    pub total: i64,
}

// Only what the screen and the keys need: the id to cancel, the owner's index (a cancel
// must carry the owner's token — anyone else's gets NOT_FOUND, the service's owner-only
// rule), the units it holds of *this* book (for the conservation check) and its deadline.
// The title, price and order number stay in order_db; the screen does not show them.
/// One of this run's Pending orders (what `c` cancels and `e` waits for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingOrder {
    pub id: u64,
    /// Index into the run's tokens: only the owner may cancel it.
    pub shopper: usize,
    /// Units of the run's book in this order.
    pub quantity: i64,
    /// Unix milliseconds, as the proto's `expires_at`.
    pub expires_at: i64,
}

// Two separate facts, judged separately, because they fail for different bugs: the first
// breaks when inventory's counters drift (a Lua script that moves units wrong), the second
// when order-service and inventory disagree (a lock nobody owns — the leak Day 32 is about,
// or an order whose lock was released).
/// The conservation check on one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conservation {
    /// `available + locked + sold == total`.
    pub counters_add_up: bool,
    /// `locked ==` the units held by this run's Pending orders.
    pub locks_owned: bool,
    /// The units held by Pending orders (shown next to `locked`).
    pub pending_units: i64,
}

impl Conservation {
    /// The line is green only when both halves hold (the screen shows which one broke).
    pub fn holds(&self) -> bool {
        self.counters_add_up && self.locks_owned
    }
}

/// Judges one sample.
///
/// Exact only because the book is the run's own: every lock on it belongs to an order
/// this run placed, so "locked = pending units" cannot be thrown off by anyone else.
pub fn conservation(stock: &StockView, pending: &[PendingOrder]) -> Conservation {
    // The units the run's Pending orders hold: what inventory's `locked` must be,
    // since no other order ever touches the run's book.
    let pending_units = pending.iter().map(|p| p.quantity).sum();
    Conservation {
        counters_add_up: stock.available + stock.locked + stock.sold == stock.total,
        locks_owned: stock.locked == pending_units,
        pending_units,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // leak) keeps the counters adding up but breaks ownership.
    /// Conservation needs both the counters to add up and every lock to have a Pending order.
    ///
    /// `drift` is the other failure: the counters themselves no longer add up, whatever
    /// the orders say.
    #[test]
    fn conservation_catches_an_orphan_lock() {
        let p = |q| PendingOrder { id: 1, shopper: 0, quantity: q, expires_at: 0 };
        let s = StockView { available: 2, locked: 3, sold: 0, total: 5 };
        assert!(conservation(&s, &[p(1), p(2)]).holds());
        let orphan = conservation(&s, &[p(2)]);
        assert!(orphan.counters_add_up && !orphan.locks_owned && !orphan.holds());
        let drift = StockView { available: 3, ..s };
        assert!(!conservation(&drift, &[p(3)]).counters_add_up);
    }
}
