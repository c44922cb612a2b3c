//! The order's rules, free of I/O: what a valid request is, and which status may follow which.
//!
//! Everything a request carries is parsed into these types before any peer is called, so a
//! bad request costs one CPU check and leaves no trace — no RPC, no intent row, no lock.

use std::collections::BTreeMap;

use bookstore_proto::order::OrderStatus as PbStatus;

use crate::Error;

/// The most lines one order may have. A bound is what keeps one request from costing
/// unbounded work downstream: each line is a GetBook call and a hash in the LockStock script.
pub const MAX_LINES: usize = 50;
/// The most units of one book per line — inventory's own bound, checked here too so that a
/// request inventory would refuse is refused before a single peer is called.
pub const MAX_QUANTITY: i32 = 10_000;
/// Idempotency keys longer than this are refused: the key is stored in a unique index.
pub const MAX_KEY_LEN: usize = 64;

/// The order's status — the course's numbering, which is also what the `status` column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending = 1,
    Paid = 2,
    Shipped = 3,
    Completed = 4,
    Cancelled = 5,
}

impl Status {
    /// The state machine, as a function (the course's `transitions` map):
    /// Pending → Paid | Cancelled, Paid → Shipped | Cancelled, Shipped → Completed.
    /// Completed and Cancelled are final. Written out as a `match` so that adding a status
    /// without deciding its transitions does not compile.
    // lesson:state-machine:start
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Pending, Paid)
                | (Pending, Cancelled)
                | (Paid, Shipped)
                | (Paid, Cancelled)
                | (Shipped, Completed)
        )
    }
    // lesson:state-machine:end

    /// From the database column. An unknown number is corruption, never a default.
    pub fn from_db(v: i8) -> Result<Self, Error> {
        Ok(match v {
            1 => Status::Pending,
            2 => Status::Paid,
            3 => Status::Shipped,
            4 => Status::Completed,
            5 => Status::Cancelled,
            other => return Err(Error::Corrupt(format!("order status {other}"))),
        })
    }

    /// From the proto enum. UNSPECIFIED (and unknown numbers from a newer client) are not a
    /// status anyone can move an order to.
    pub fn from_proto(v: i32) -> Result<Self, Error> {
        match PbStatus::try_from(v) {
            Ok(PbStatus::Unspecified) | Err(_) => {
                Err(Error::InvalidArgument(format!("status {v} is not an order status")))
            }
            Ok(s) => Self::from_db(s as i8),
        }
    }

    pub fn to_proto(self) -> PbStatus {
        match self {
            Status::Pending => PbStatus::Pending,
            Status::Paid => PbStatus::Paid,
            Status::Shipped => PbStatus::Shipped,
            Status::Completed => PbStatus::Completed,
            Status::Cancelled => PbStatus::Cancelled,
        }
    }
}

/// Stock work an order still owes inventory, recorded in the same transaction as the status
/// change that caused it (`orders.stock_action`) and cleared once inventory acknowledged it.
///
/// ✅ DO commit "what we owe" together with the state change, then do it, then clear it.
/// ❌ DON'T commit the status and call inventory afterwards with nothing recorded: a crash
/// between the two leaves an order Cancelled whose stock stays locked until inventory's own
/// 15-minute sweeper — or, for a return, units that are never put back at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockAction {
    None = 0,
    /// Pending → Cancelled: ReleaseStock (locked → available).
    Release = 1,
    /// Pending → Paid: DecrStock's confirm form (locked → sold).
    Confirm = 2,
    /// Paid → Cancelled: IncrStock per line, keyed by the order (sold units come back).
    Return = 3,
}

impl StockAction {
    pub fn from_db(v: i8) -> Result<Self, Error> {
        Ok(match v {
            0 => StockAction::None,
            1 => StockAction::Release,
            2 => StockAction::Confirm,
            3 => StockAction::Return,
            other => return Err(Error::Corrupt(format!("stock action {other}"))),
        })
    }

    /// What moving from `from` to `to` owes inventory.
    pub fn for_transition(from: Status, to: Status) -> Self {
        match (from, to) {
            (Status::Pending, Status::Cancelled) => StockAction::Release,
            (Status::Pending, Status::Paid) => StockAction::Confirm,
            (Status::Paid, Status::Cancelled) => StockAction::Return,
            _ => StockAction::None,
        }
    }
}

/// The lines of a valid order: 1–50 books, each once, 1–10,000 units each, ordered by book id.
///
/// Ordered by book id so the request has one canonical form: the same basket listed in
/// another order is the same order for the idempotency check (see [`Lines::canonical`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lines(BTreeMap<u64, i32>);

impl Lines {
    /// Parses `(book_id, quantity)` pairs.
    ///
    /// What each refusal prevents: quantity 0 would create an order of nothing; a negative
    /// quantity reaching LockStock would *add* stock; a duplicate book would lock its units
    /// twice under one line's price; an unbounded count is a one-request denial of service.
    pub fn parse(items: impl IntoIterator<Item = (u64, i32)>) -> Result<Self, Error> {
        let mut lines = BTreeMap::new();
        for (book_id, quantity) in items {
            if book_id == 0 {
                return Err(Error::InvalidArgument("book_id must be positive".into()));
            }
            if !(1..=MAX_QUANTITY).contains(&quantity) {
                return Err(Error::InvalidArgument(format!(
                    "quantity of book {book_id} must be 1..={MAX_QUANTITY}, got {quantity}"
                )));
            }
            if lines.insert(book_id, quantity).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "book {book_id} appears twice; use one line with the total quantity"
                )));
            }
            if lines.len() > MAX_LINES {
                return Err(Error::InvalidArgument(format!("more than {MAX_LINES} lines")));
            }
        }
        if lines.is_empty() {
            return Err(Error::InvalidArgument("an order needs at least one item".into()));
        }
        Ok(Self(lines))
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, i32)> + '_ {
        self.0.iter().map(|(b, q)| (*b, *q))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `"7x2,42x1"`: what an idempotency key is bound to. Stored with the intent and the
    /// order; a retry whose canonical form differs is a different request under a reused key.
    /// At most 50 × 27 characters, within the column's 2,048.
    pub fn canonical(&self) -> String {
        self.iter().map(|(b, q)| format!("{b}x{q}")).collect::<Vec<_>>().join(",")
    }
}

/// A client-chosen idempotency key: empty means "none", else 1–64 printable ASCII characters.
pub fn parse_idempotency_key(raw: &str) -> Result<Option<String>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    let ok = raw.len() <= MAX_KEY_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "idempotency key must be 1..={MAX_KEY_LEN} printable ASCII characters"
        )));
    }
    Ok(Some(raw.to_string()))
}

/// A unit price times a quantity, summed without overflow. Prices come from the catalogue,
/// but 10,000 units of a book priced near `i64::MAX / 2` must be an error, not a wrap-around
/// to a negative total that a payment would then "refund".
pub fn order_total(priced: impl IntoIterator<Item = (i64, i32)>) -> Result<i64, Error> {
    priced.into_iter().try_fold(0i64, |sum, (price, qty)| {
        price
            .checked_mul(i64::from(qty))
            .and_then(|line| sum.checked_add(line))
            .ok_or_else(|| Error::InvalidArgument("order total overflows".into()))
    })
}

/// The human-facing order number: `BK` + the creation date + the id, e.g. `BK202612010000000042`.
/// Derived from the id (unique already), so it needs no second unique generator and no retry
/// loop; the date makes it readable on a receipt and sortable by day.
pub fn order_no(id: u64, created: chrono::DateTime<chrono::Utc>) -> String {
    format!("BK{}{id:010}", created.format("%Y%m%d"))
}

/// A page request: page ≥ 1 (0 means 1), size 1–100 (0 means 20). Capped, not refused: a
/// client asking for 10,000 rows gets 100, the way every other list in the system answers.
pub fn page(page: u32, page_size: u32) -> (u32, u32) {
    let size = match page_size {
        0 => 20,
        n => n.min(100),
    };
    (page.max(1), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of statuses, checked against the course's table: exactly five moves are legal.
    #[test]
    fn only_the_courses_five_transitions_are_legal() {
        use Status::*;
        let all = [Pending, Paid, Shipped, Completed, Cancelled];
        let legal: Vec<_> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Pending, Paid),
                (Pending, Cancelled),
                (Paid, Shipped),
                (Paid, Cancelled),
                (Shipped, Completed)
            ]
        );
    }

    #[test]
    fn bad_lines_are_refused_with_the_reason() {
        let err = |items: Vec<(u64, i32)>| Lines::parse(items).unwrap_err().to_string();
        assert!(err(vec![]).contains("at least one"));
        assert!(err(vec![(1, 0)]).contains("1..=10000"));
        assert!(err(vec![(1, -5)]).contains("1..=10000"));
        assert!(err(vec![(1, 10_001)]).contains("1..=10000"));
        assert!(err(vec![(0, 1)]).contains("book_id"));
        assert!(err(vec![(3, 1), (3, 2)]).contains("twice"));
        assert!(err((1..=51).map(|b| (b, 1)).collect()).contains("more than 50"));
        assert!(Lines::parse((1..=50).map(|b| (b, 1))).is_ok());
    }

    /// The same basket in another order is the same request; another quantity is not.
    #[test]
    fn the_canonical_form_ignores_line_order_only() {
        let a = Lines::parse([(42, 1), (7, 2)]).unwrap();
        let b = Lines::parse([(7, 2), (42, 1)]).unwrap();
        let c = Lines::parse([(7, 3), (42, 1)]).unwrap();
        assert_eq!(a.canonical(), "7x2,42x1");
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), c.canonical());
    }

    #[test]
    fn totals_never_wrap_around() {
        assert_eq!(order_total([(1999, 2), (500, 1)]).unwrap(), 4498);
        assert!(order_total([(i64::MAX / 2, 3)]).is_err());
    }

    #[test]
    fn keys_and_pages_are_bounded() {
        assert_eq!(parse_idempotency_key("").unwrap(), None);
        assert!(parse_idempotency_key(&"k".repeat(65)).is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert_eq!(page(0, 0), (1, 20));
        assert_eq!(page(3, 10_000), (3, 100));
    }
}
