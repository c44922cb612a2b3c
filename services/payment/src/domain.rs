//! The payment's rules, free of I/O: its statuses and what may follow what.
//!
//! ```text
//!            mock gateway / MockCallback
//!  Pending ──────── success ───────▶ Success ── order not payable ──▶ Refunded
//!     └──────────── failure ───────▶ Failed   (frees the order for a new attempt)
//! ```
//! Success, Failed and Refunded are final for a callback: a second callback for a settled
//! payment changes nothing. Only the relay moves Success → Refunded, and only when
//! order-service refuses to mark the order Paid.
//!
//! Why each arrow is where it is:
//! - **Failed frees the order, Success does not.** A declined card is a normal event: the
//!   shopper tries again, so the order must accept a new payment. A success is the end of
//!   paying; a second payment for the same order would be a double charge.
//! - **Success → Refunded, never Success → Failed.** The money moved; undoing that is a
//!   refund, a second movement with its own record, not a rewrite of the first.
//! - **No arrow back to Pending.** A settled payment never waits again, which is what
//!   lets a late or repeated callback be answered with "already settled" without a lock
//!   held for longer than one statement.
//!
//! The transitions are carried out as SQL in [`crate::store`] and [`crate::workers`]; this
//! module only names the states, so the diagram above is the one place they are drawn.
//! Each of those statements is conditional on the state it leaves (`settle_in` checks
//! Pending under the row lock, the refund's UPDATE says `AND status = 2`), so no arrow can
//! be taken from the wrong state, even by two workers at once.

use bookstore_proto::payment::PaymentStatus as Pb;

use crate::Error;

/// A payment's status, with the numbers the `payments.status` column stores.
///
/// Explicit discriminants, because the numbers are a storage format: the migration's
/// column comment (`1待支付 2成功 3失败 4已退款`) and the raw SQL in [`crate::store`]
/// (`SET status = 2`) use them, so reordering the variants must not renumber them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Created; its gateway job is due. The only status that can change by a callback.
    Pending = 1,
    /// The gateway took the money; an outbox row tells order-service. Holds the order's
    /// `live_order_id`, so no second payment can start for it.
    Success = 2,
    /// Declined; the order is free for a new attempt. Final.
    Failed = 3,
    /// Succeeded for an order that could no longer be paid, and given back. Final.
    Refunded = 4,
}

impl Status {
    /// The status a `TINYINT` stands for. An unknown number is `Corrupt`, not a default:
    /// guessing a status for a row written by a newer version would let this one settle
    /// or refund a payment it does not understand.
    pub fn from_db(v: i8) -> Result<Self, Error> {
        Ok(match v {
            1 => Status::Pending,
            2 => Status::Success,
            3 => Status::Failed,
            4 => Status::Refunded,
            other => return Err(Error::Corrupt(format!("payment status {other}"))),
        })
    }

    /// The proto enum. A separate mapping, not `as i32`, because the proto's numbering is
    /// its own contract (with `Unspecified = 0`) and need not match the column's.
    pub fn to_proto(self) -> Pb {
        match self {
            Status::Pending => Pb::Pending,
            Status::Success => Pb::Success,
            Status::Failed => Pb::Failed,
            Status::Refunded => Pb::Refunded,
        }
    }
}

/// A payment amount: positive cents. Zero would "pay" an order for nothing; a negative
/// amount is a refund in disguise.
///
/// Only the sign is checked here; whether the amount is *right* needs the order, which is
/// the handler's job (`amount == order.total`). Pure rules here, rules needing I/O there.
pub fn parse_amount(amount: i64) -> Result<i64, Error> {
    if amount <= 0 {
        return Err(Error::InvalidArgument(format!("amount must be positive cents, got {amount}")));
    }
    Ok(amount)
}

/// Ids are positive: 0 is what an unset proto field decodes to. `what` names the field in
/// the message, so a client learns which one it forgot. Whether the id *exists* is not
/// decided here but by the order-service call that follows.
pub fn parse_id(what: &str, id: u64) -> Result<u64, Error> {
    if id == 0 {
        return Err(Error::InvalidArgument(format!("{what} must be positive")));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero and negative amounts and a zero id are refused before any I/O; a normal
    /// amount passes unchanged.
    #[test]
    fn amounts_and_ids_must_be_positive() {
        assert!(parse_amount(0).is_err());
        assert!(parse_amount(-100).is_err());
        assert_eq!(parse_amount(4990).unwrap(), 4990);
        assert!(parse_id("order_id", 0).is_err());
    }

    /// The numbers the SQL writes and the enum agree, and an unknown number is an error.
    #[test]
    fn every_status_round_trips_through_the_database_number() {
        for s in [Status::Pending, Status::Success, Status::Failed, Status::Refunded] {
            assert_eq!(Status::from_db(s as i8).unwrap(), s);
        }
        assert!(Status::from_db(9).is_err());
    }
}
