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

use bookstore_proto::payment::PaymentStatus as Pb;

use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending = 1,
    Success = 2,
    Failed = 3,
    Refunded = 4,
}

impl Status {
    pub fn from_db(v: i8) -> Result<Self, Error> {
        Ok(match v {
            1 => Status::Pending,
            2 => Status::Success,
            3 => Status::Failed,
            4 => Status::Refunded,
            other => return Err(Error::Corrupt(format!("payment status {other}"))),
        })
    }

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
pub fn parse_amount(amount: i64) -> Result<i64, Error> {
    if amount <= 0 {
        return Err(Error::InvalidArgument(format!("amount must be positive cents, got {amount}")));
    }
    Ok(amount)
}

/// Ids are positive: 0 is what an unset proto field decodes to.
pub fn parse_id(what: &str, id: u64) -> Result<u64, Error> {
    if id == 0 {
        return Err(Error::InvalidArgument(format!("{what} must be positive")));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_ids_must_be_positive() {
        assert!(parse_amount(0).is_err());
        assert!(parse_amount(-100).is_err());
        assert_eq!(parse_amount(4990).unwrap(), 4990);
        assert!(parse_id("order_id", 0).is_err());
    }

    #[test]
    fn every_status_round_trips_through_the_database_number() {
        for s in [Status::Pending, Status::Success, Status::Failed, Status::Refunded] {
            assert_eq!(Status::from_db(s as i8).unwrap(), s);
        }
        assert!(Status::from_db(9).is_err());
    }
}
