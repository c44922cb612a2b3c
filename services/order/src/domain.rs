//! The order's rules, free of I/O: what a valid request is, and which status may follow which.
//!
//! Everything a request carries is parsed into these types before any peer is called, so a
//! bad request costs one CPU check and leaves no trace — no RPC, no intent row, no lock.
//!
//! | item | decides | used by |
//! |---|---|---|
//! | [`Status`] + [`Status::can_become`] | the state machine | `store::transition` |
//! | [`StockAction`] | what a transition owes inventory | `store::transition`, `api::settle`, the sweeper |
//! | [`Lines`] | a valid basket, in one canonical form | `create`, `peers::lock` |
//! | [`parse_idempotency_key`] | a valid key, or none | `create` |
//! | [`order_total`] | the total, without overflow | `create` |
//! | [`order_no`], [`page`] | the receipt number, list paging | `create`, `api` |
//!
//! Pure functions of their inputs, so the unit tests below check every rule without a
//! database, and the integration tests only have to prove that the rules are *used*.

use std::collections::BTreeMap;

use bookstore_proto::order::OrderStatus as PbStatus;

use crate::Error;

/// The most lines one order may have. A bound is what keeps one request from costing
/// unbounded work downstream: each line is a GetBook call and a hash in the LockStock script.
///
/// 50 GetBooks in parallel are still one round trip of wall time, but 50 requests of load
/// on catalog; and one LockStock of 50 lines runs as one Lua script, during which Redis
/// serves nobody else. A real basket has a handful of lines.
pub const MAX_LINES: usize = 50;
/// The most units of one book per line — inventory's own bound, checked here too so that a
/// request inventory would refuse is refused before a single peer is called. (Both crates
/// hold the number; if they ever differ, inventory's refusal still protects the stock, and
/// this check merely refuses earlier.)
pub const MAX_QUANTITY: i32 = 10_000;
/// Idempotency keys longer than this are refused: the key is stored in a unique index
/// (`VARCHAR(64)`), and index entries grow with it. A UUID (36 characters) fits.
pub const MAX_KEY_LEN: usize = 64;

/// The order's status — the course's numbering, which is also what the `status` column holds.
///
/// Stored as a `TINYINT`, not a string: one byte in every row and in `idx_status_expires`,
/// and the SQL in `store` and `sweeper` binds `Status::X as i8`, so the numbers appear in
/// exactly one place — this enum's discriminants.
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
    /// Completed and Cancelled are final.
    ///
    /// Written as the list of legal pairs: whatever is not listed is illegal, so a status
    /// added later starts with no moves at all — the safe default — until someone writes
    /// its arrows here (and updates the test below, which lists all five).
    ///
    /// Why Paid → Cancelled is allowed and Shipped → Cancelled is not: before shipping the
    /// shop can still put the units back on sale (a Return), after shipping they are with
    /// the customer, and undoing that is a returns process, not a status change.
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

    /// From the database column (`TINYINT`). An unknown number is corruption, never a
    /// default: treating a row a newer version wrote as "Pending" could pay or cancel it a
    /// second time.
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
    /// status anyone can move an order to: INVALID_ARGUMENT, the caller's bug.
    pub fn from_proto(v: i32) -> Result<Self, Error> {
        match PbStatus::try_from(v) {
            Ok(PbStatus::Unspecified) | Err(_) => {
                Err(Error::InvalidArgument(format!("status {v} is not an order status")))
            }
            Ok(s) => Self::from_db(s as i8),
        }
    }

    /// The proto enum; a `match` rather than `as i32`, since the proto's numbering is its own
    /// contract and only happens to agree with the column's today.
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

/// Stock work an order still owes inventory, recorded in the same UPDATE as the status
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

// One field, not a queue of actions: a transition is refused while an action is still owed
// (`Transition::Owes`), so an order owes at most one thing at a time, and "what does this
// order still owe?" is one column anyone can read in order_db.

impl StockAction {
    /// From the `stock_action` column; an unknown number is corruption, never "nothing owed".
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
    ///
    /// Paid → Shipped and Shipped → Completed owe nothing: the units were already moved
    /// from locked to sold by the Confirm when the order was paid.
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
/// The field is private: the only way to a `Lines` is [`Lines::parse`], so a function
/// taking one (LockStock's request, the canonical form) never re-checks the rules.
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
        // A BTreeMap: duplicates are found by `insert`, and iteration is by book id, which
        // is the canonical order — one structure gives both checks and the key's form.
        let mut lines = BTreeMap::new();
        for (book_id, quantity) in items {
            // Each message names the book (or the rule) so a client with 30 lines can find
            // the one that is wrong.
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
            // Checked inside the loop: a request with a million lines is refused at line 51,
            // not after a million map inserts.
            if lines.len() > MAX_LINES {
                return Err(Error::InvalidArgument(format!("more than {MAX_LINES} lines")));
            }
        }
        if lines.is_empty() {
            return Err(Error::InvalidArgument("an order needs at least one item".into()));
        }
        Ok(Self(lines))
    }

    /// `(book_id, quantity)` in ascending book id: the order LockStock receives them in and
    /// the order of the snapshots `create` zips with them.
    pub fn iter(&self) -> impl Iterator<Item = (u64, i32)> + '_ {
        self.0.iter().map(|(b, q)| (*b, *q))
    }

    /// How many distinct books, 1 ..= [`MAX_LINES`] (the debug log line reports it).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false for a parsed `Lines` (parse refuses an empty basket); it exists because
    /// a public `len` without `is_empty` is a clippy error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `"7x2,42x1"`: what an idempotency key is bound to. Stored with the intent and the
    /// order; a retry whose canonical form differs is a different request under a reused key.
    /// Only the basket: not the token (the key is already per user), and not the prices (a
    /// retry must match its first attempt even if the catalogue changed in between).
    /// At most 50 × 27 characters, within the column's 2,048.
    pub fn canonical(&self) -> String {
        self.iter().map(|(b, q)| format!("{b}x{q}")).collect::<Vec<_>>().join(",")
    }
}

/// A client-chosen idempotency key: empty means "none", else 1–64 printable ASCII characters.
///
/// Printable ASCII only (no spaces): keys are copied between logs, headers and terminals,
/// where an invisible character would make two keys look equal that are not. Clients
/// usually send a UUID (36 characters), which fits with room to spare.
pub fn parse_idempotency_key(raw: &str) -> Result<Option<String>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    // Bytes, and ASCII-graphic only: `len` is then also the character count, and what is
    // stored is exactly what a client will send again on a retry.
    let ok = raw.len() <= MAX_KEY_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "idempotency key must be 1..={MAX_KEY_LEN} printable ASCII characters"
        )));
    }
    Ok(Some(raw.to_string()))
}

/// A unit price times a quantity, summed without overflow, in integer cents (分): floats
/// would make `0.1 + 0.2` a different amount from the payment's. Prices come from the catalogue,
/// but 10,000 units of a book priced near `i64::MAX / 2` must be an error, not a wrap-around
/// to a negative total that a payment would then "refund".
///
/// INVALID_ARGUMENT, not INTERNAL: only a request asking for absurd quantities of absurdly
/// priced books can overflow, and the request is what must change.
pub fn order_total(priced: impl IntoIterator<Item = (i64, i32)>) -> Result<i64, Error> {
    priced.into_iter().try_fold(0i64, |sum, (price, qty)| {
        price
            .checked_mul(i64::from(qty))
            .and_then(|line| sum.checked_add(line))
            .ok_or_else(|| Error::InvalidArgument("order total overflows".into()))
    })
}

/// The human-facing order number: `BK` + the creation date + the id, e.g. `BK202612010000000042`.
/// (`{id:010}` pads to ten digits and grows beyond them instead of cutting, so a larger id
/// still yields a unique number.)
/// Derived from the id (unique already), so it needs no second unique generator and no retry
/// loop; the date makes it readable on a receipt and sortable by day.
///
/// The date is UTC (the caller passes `Utc::now()`), so an order placed just after midnight
/// in Beijing carries the previous day — consistent across machines, which matters more
/// here than matching a local calendar.
pub fn order_no(id: u64, created: chrono::DateTime<chrono::Utc>) -> String {
    format!("BK{}{id:010}", created.format("%Y%m%d"))
}

/// A page request: page ≥ 1 (0 means 1), size 1–100 (0 means 20), as `(page, size)`. Capped, not refused: a
/// client asking for 10,000 rows gets 100, the way every other list in the system answers.
/// (A shopper's orders are few, so deep pages are no concern here, unlike the catalogue.)
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

    /// Every pair of statuses, checked against the course's table: exactly five moves are
    /// legal, and these five.
    /// (A table test over all 25 pairs rather than a test per move: a sixth legal move
    /// added by mistake fails here, which five tests of the five legal moves would miss.)
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

    /// Each way a basket can be wrong is refused, and the message names the rule: empty,
    /// zero, negative, too many units, book id 0, a book twice, 51 lines; 50 lines pass.
    #[test]
    fn bad_lines_are_refused_with_the_reason() {
        // The message, not only the variant: what a client reads must name the rule broken.
        let err = |items: Vec<(u64, i32)>| Lines::parse(items).unwrap_err().to_string();
        assert!(err(vec![]).contains("at least one"));
        assert!(err(vec![(1, 0)]).contains("1..=10000"));
        assert!(err(vec![(1, -5)]).contains("1..=10000"));
        assert!(err(vec![(1, 10_001)]).contains("1..=10000"));
        assert!(err(vec![(0, 1)]).contains("book_id"));
        assert!(err(vec![(3, 1), (3, 2)]).contains("twice"));
        assert!(err((1..=51).map(|b| (b, 1)).collect()).contains("more than 50"));
        // Exactly at the limit is fine: the bound is inclusive, as the message says.
        assert!(Lines::parse((1..=50).map(|b| (b, 1))).is_ok());
    }

    /// The same basket in another order is the same request; another quantity is not.
    /// (Why it matters: a retry that lists the basket in another order must be recognised
    /// as the same request, or the key would refuse an honest retry as "a different body".)
    #[test]
    fn the_canonical_form_ignores_line_order_only() {
        let a = Lines::parse([(42, 1), (7, 2)]).unwrap();
        let b = Lines::parse([(7, 2), (42, 1)]).unwrap();
        let c = Lines::parse([(7, 3), (42, 1)]).unwrap();
        assert_eq!(a.canonical(), "7x2,42x1");
        assert_eq!(a.canonical(), b.canonical());
        assert_ne!(a.canonical(), c.canonical());
    }

    /// A normal total adds up; one that would overflow `i64` is an error, not a negative.
    #[test]
    fn totals_never_wrap_around() {
        // 19.99 × 2 + 5.00 = 44.98, all in cents.
        assert_eq!(order_total([(1999, 2), (500, 1)]).unwrap(), 4498);
        // Half of i64::MAX times 3 overflows: refused, not wrapped to a negative total.
        assert!(order_total([(i64::MAX / 2, 3)]).is_err());
    }

    /// Empty is "no key", 65 characters or a space are refused; pages default and cap.
    #[test]
    fn keys_and_pages_are_bounded() {
        // "" is not an error but "no key": clients that never send one keep working.
        assert_eq!(parse_idempotency_key("").unwrap(), None);
        assert!(parse_idempotency_key(&"k".repeat(65)).is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert_eq!(page(0, 0), (1, 20));
        assert_eq!(page(3, 10_000), (3, 100));
    }
}
