//! Status changes: the state machine applied by one conditional UPDATE, and clearing
//! the stock debt a change recorded once inventory has acknowledged it.

use super::{Store, rows::OrderRow};
use crate::{
    Error,
    domain::{Status, StockAction},
};

/// What a conditional status change did.
///
/// A value, not an error, for each outcome: the caller (`api::move_to`) decides what each
/// means for *its* caller — `Already` is success for a retry, `Owes` is "settle and try
/// again", `Illegal` and `Expired` are refusals with different messages.
pub enum Transition {
    /// It happened: the order as it is now, and the stock action *this* change owes
    /// (settle that one — the row may already show a later change's).
    Changed(OrderRow, StockAction),
    /// The order still owes inventory the stock work of its previous change: settle that
    /// first, then try again (see [`Store::transition`]).
    Owes(OrderRow),
    /// The order already had the target status: nothing to do (a retry).
    Already(OrderRow),
    /// The state machine forbids it from the order's current status.
    Illegal(OrderRow),
    /// A Pending order past its expiry cannot be paid (the sweeper is about to cancel it).
    /// A state of its own so the caller's message can say "expired", the one refusal a
    /// shopper (and payment-service's refund) needs explained.
    Expired(OrderRow),
}

impl Store {
    /// Moves order `id` to `to` if the state machine allows it from the status it has *now*,
    /// recording the stock work the move owes inventory in the same UPDATE.
    ///
    /// ✅ DO make the change conditional: `… WHERE id = ? AND status = <what we read>`. If two
    /// requests race (a cancel and a payment), both read Pending, both decide "legal", but
    /// only the first UPDATE matches a row; the second changes 0 rows and re-reads.
    /// ❌ DON'T read, check, then `UPDATE … WHERE id = ?`: both writes land, the last one wins,
    /// and an order ends up Cancelled *and* paid, its stock both released and sold.
    ///
    /// ```text
    /// t0  cancel reads Pending                    pay reads Pending
    /// t1  cancel: UPDATE … AND status = 1 → 1 row (Cancelled, owes Release)
    /// t2                                          pay: UPDATE … AND status = 1 → 0 rows
    /// t3                                          pay re-reads Cancelled → Illegal → refused
    /// ```
    ///
    /// The guard also carries `stock_action = 0` (no debt outstanding) and, for Paid,
    /// `expires_at > NOW(3)`: every condition the decision was made on is re-checked by the
    /// statement that acts on it, atomically, under InnoDB's row lock.
    pub async fn transition(
        &self,
        id: u64,
        to: Status,
        reason: &str,
    ) -> Result<Option<Transition>, Error> {
        // A few rounds: each lost race means the status changed under us, and the next read
        // decides again from the new status (usually "already there" or "illegal").
        for _ in 0..3 {
            // A plain read, no lock: the decision below is re-checked by the UPDATE's own
            // WHERE, so holding a row lock across it would only make racers queue.
            let Some(order) = self.get(id).await? else { return Ok(None) };
            let from = order.status;
            if let Some(answer) = decide(order, to) {
                return Ok(Some(answer));
            }
            // The debt this move creates, written by the same UPDATE as the status: there is
            // no instant at which the order is Cancelled but owes nothing it should.
            let action = StockAction::for_transition(from, to);
            if self.guarded_update(id, from, to, action, reason).await? {
                // Re-read for the answer: `updated_at` is MySQL's, and the caller returns
                // the order as stored, not as this function imagines it.
                let now = self
                    .get(id)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("order {id} vanished")))?;
                return Ok(Some(Transition::Changed(now, action)));
            }
            // 0 rows: either another change won (the next round re-reads and decides again),
            // or — for a payment — the row is still Pending but past `expires_at`, which no
            // number of rounds will fix. Tell the two apart now, not after three rounds.
            if to == Status::Paid && from == Status::Pending {
                let again = self
                    .get(id)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("order {id} vanished")))?;
                if again.status == Status::Pending {
                    return Ok(Some(Transition::Expired(again)));
                }
            }
        }
        Err(Error::Aborted(format!("order {id} is changing too fast; retry")))
    }

    /// The write of one round of [`Store::transition`]: `from` → `to` with the debt
    /// `action`, guarded by everything the decision read. True when it changed the row;
    /// false when the row no longer matches (another change won, or a payment came late).
    async fn guarded_update(
        &self,
        id: u64,
        from: Status,
        to: Status,
        action: StockAction,
        reason: &str,
    ) -> Result<bool, Error> {
        // Paying is allowed only before the deadline, checked by the same clock the
        // sweeper uses, in the same statement: there is no instant at which both the
        // payment and the expiry can win.
        let unexpired = if to == Status::Paid { " AND expires_at > NOW(3)" } else { "" };
        // A reason belongs to a cancellation only; any other move clears nothing and sets
        // no text a shopper would read as "why was my order cancelled".
        let reason = if to == Status::Cancelled { reason } else { "" };
        let sql = format!(
            "UPDATE orders SET status = ?, stock_action = ?, cancel_reason = ?, updated_at = NOW(3) \
             WHERE id = ? AND status = ? AND stock_action = 0{unexpired}"
        );
        // lesson:conditional-update:start
        let done = sqlx::query(&sql)
            .bind(to as i8)
            .bind(action as i8)
            .bind(reason)
            .bind(id)
            .bind(from as i8)
            .execute(&self.pool)
            .await?;
        // Exactly one row or none: the WHERE names the primary key, and the affected-rows
        // count — not a re-read — is what says whether this request's decision won.
        Ok(done.rows_affected() == 1)
        // lesson:conditional-update:end
    }

    /// Clears `action` once inventory has acknowledged it, so the sweeper stops retrying it. Conditional on the action, so a
    /// later transition's newer debt is never wiped by an older acknowledgement.
    ///
    /// It does not touch `updated_at`: that column says when the *status* changed, which is
    /// what the sweeper's grace period and a shopper's order history mean by it.
    pub async fn clear_action(&self, id: u64, action: StockAction) -> Result<(), Error> {
        // `AND stock_action = ?`: clears only the action that was carried out; 0 rows means
        // it was cleared already (by the request or the sweeper), which is fine.
        sqlx::query("UPDATE orders SET stock_action = 0 WHERE id = ? AND stock_action = ?")
            .bind(id)
            .bind(action as i8)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The answer the state machine gives for moving `order` to `to` without writing anything
/// — `Already`, `Illegal` or `Owes` — or `None` when the move is legal now and must be
/// written (by [`Store::guarded_update`], which checks the same facts again).
fn decide(order: OrderRow, to: Status) -> Option<Transition> {
    let from = order.status;
    // "Paid" asked of an order that has moved past Paid is satisfied, not illegal:
    // the payment relay delivers at least once, and a retry arriving after the
    // order shipped must not be answered "illegal" — the relay would refund a
    // payment that did pay for this order.
    // (Cancelled is not "past Paid": a Paid for a Cancelled order is a refusal, and
    // the refusal is what makes payment-service refund.)
    let past_paid = to == Status::Paid && matches!(from, Status::Shipped | Status::Completed);
    if from == to || past_paid {
        return Some(Transition::Already(order));
    }
    if !from.can_become(to) {
        return Some(Transition::Illegal(order));
    }
    // One debt at a time: a paid order whose confirm has not reached inventory yet
    // must not be overwritten by the cancel's "return" — the confirm would be lost,
    // the lock released later by inventory's backstop, and the return would add a
    // unit that was never sold.
    if order.stock_action != StockAction::None {
        return Some(Transition::Owes(order));
    }
    None
}
