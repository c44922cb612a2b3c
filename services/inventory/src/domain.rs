//! Domain types that parse their input: once a value is a [`Quantity`] or a [`Lines`], it
//! is valid, so the stores below never see a zero, a negative or a duplicate.
//!
//! DO: validate at the edge, into types. DON'T: pass raw `i32`s down and hope each layer
//! checks — a quantity of -5 that reaches the decrement script *adds* five units, and a
//! request naming the same book twice could pass a per-line stock check that the sum of
//! its lines fails.

use bookstore_proto::inventory as pb;

use crate::error::Error;

/// Largest quantity one line may ask for. Far above any real basket, far below what would
/// overflow a counter; mentioned in the error so the caller knows the rule. (100 lines of
/// 10,000 is a million units per request: still exact as a Lua double, still an i64 sum.)
pub const MAX_QUANTITY: i32 = 10_000;
/// Most lines one request may carry (one script call touches every line's key).
pub const MAX_LINES: usize = 100;

/// A book id: never 0 (proto3's default, i.e. "the caller forgot to set it").
///
/// Proto3 has no "required": a field the client forgot arrives as 0. Treating 0 as a real
/// id would create book 0's stock on the first forgotten field, so 0 is refused everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BookId(u64);

impl BookId {
    /// The only way to make a `BookId`: 0 is refused with INVALID_ARGUMENT.
    pub fn parse(raw: u64) -> Result<Self, Error> {
        if raw == 0 {
            return Err(Error::InvalidArgument("book_id must be set (non-zero)".into()));
        }
        Ok(Self(raw))
    }
    /// The raw id, for key names and SQL binds.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An order id: never 0. It is the idempotency key of LockStock/ReleaseStock/DecrStock.
///
/// So it must be chosen once per order, before the first attempt, and sent unchanged on
/// every retry: order-service takes it from its own `orders` row. A caller that made a
/// fresh id per attempt would turn every retry into a second reservation.
///
/// A separate type from [`BookId`] although both wrap a `u64`: swapping the two arguments
/// of a function is then a compile error, not a lock of order 7's stock for book 42.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderId(u64);

impl OrderId {
    /// The only way to make an `OrderId`: 0 is refused with INVALID_ARGUMENT.
    pub fn parse(raw: u64) -> Result<Self, Error> {
        if raw == 0 {
            return Err(Error::InvalidArgument("order_id must be set (non-zero)".into()));
        }
        Ok(Self(raw))
    }
    /// The raw id, for the scripts' ARGV, the record's key and the `order_id` columns.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A quantity in `1..=MAX_QUANTITY`.
///
/// Zero is refused too: a zero-unit lock would create an order record that holds nothing,
/// and the order's later retries would be "replays" of an empty reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    /// Takes `i64` so callers with wider integers (the race API) cannot wrap around on the
    /// way in: 4_294_967_297 must be refused, not read as 1.
    pub fn parse(raw: i64) -> Result<Self, Error> {
        // After this check the value fits in i32 by construction, so the cast below is exact.
        if raw < 1 || raw > i64::from(MAX_QUANTITY) {
            return Err(Error::InvalidArgument(format!(
                "quantity must be between 1 and {MAX_QUANTITY}, got {raw}"
            )));
        }
        Ok(Self(raw as i32))
    }
    /// The value, known to be in `1..=MAX_QUANTITY`.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// One validated line of a request: which book, how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub book: BookId,
    pub qty: Quantity,
}

/// The validated lines of a LockStock/DecrStock: 1..=MAX_LINES lines, each book once.
///
/// Why "each book once" matters to the scripts: they check every line against the stock
/// *as it was before the request*, then apply every line. Book 7 twice with 3 each, and 5
/// available, passes both checks (3 ≤ 5) and then takes 6 — an oversell made of one
/// request. Refusing duplicates here keeps the scripts' all-or-nothing check exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lines(Vec<Line>);

impl Lines {
    pub fn parse(items: &[pb::StockItem]) -> Result<Self, Error> {
        if items.is_empty() {
            return Err(Error::InvalidArgument("items must not be empty".into()));
        }
        // Capped because one script call touches every line's key while Redis serves nobody
        // else: a 10,000-line request would stall every other buyer for its whole duration.
        if items.len() > MAX_LINES {
            return Err(Error::InvalidArgument(format!(
                "at most {MAX_LINES} items per request, got {}",
                items.len()
            )));
        }
        // Validate every line before accepting any: the error names the first bad line, and a
        // request is never half-accepted.
        let mut lines = Vec::with_capacity(items.len());
        for item in items {
            let line = Line {
                book: BookId::parse(item.book_id)?,
                qty: Quantity::parse(item.quantity.into())?,
            };
            // Quadratic, but n <= 100: cheaper than a HashSet allocation per request.
            // DON'T merge duplicates silently: a client that sends book 7 twice has a bug,
            // and guessing whether it meant 1+1 or "1, retried" would hide it.
            if lines.iter().any(|l: &Line| l.book == line.book) {
                return Err(Error::InvalidArgument(format!(
                    "book {} appears more than once; send one line per book",
                    line.book.get()
                )));
            }
            lines.push(line);
        }
        Ok(Self(lines))
    }

    /// A single line (the race API and the bench build requests directly). Infallible:
    /// a `BookId` and a `Quantity` are valid by construction, and one line has no duplicate.
    pub fn one(book: BookId, qty: Quantity) -> Self {
        Self(vec![Line { book, qty }])
    }

    /// The lines in request order. The scripts' replies follow this order too (four
    /// counters per line), and so does the index in an out-of-stock answer: re-sorting here
    /// would pair each book with another book's counters.
    pub fn iter(&self) -> impl Iterator<Item = &Line> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The book of line `index` (0-based), to name it in "not enough stock for book …".
    pub fn book_at(&self, index: usize) -> BookId {
        self.0[index].book
    }
}

/// IncrStock's idempotency key: 1..=64 visible ASCII characters (it becomes part of a
/// Redis key and a UNIQUE MySQL column, so spaces and control characters are refused).
///
/// Chosen by the caller, not generated here: only the caller knows that two calls are the
/// same restock (a warehouse delivery note number, a return's id). A server-made id would
/// be new on every retry, so every retry would restock again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The only way to make a `RequestId`: every id the store turns into a marker key or
    /// the syncer into a log row has passed these checks, so neither re-checks it.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // `is_ascii_graphic` excludes spaces and control bytes. Braces pass, harmlessly:
        // Redis hashes the text between a key's *first* `{` and the next `}`, which is the
        // tag at the start of the key, so a brace in the id cannot move it to another slot.
        // 64 is `inventory_logs.request_id VARCHAR(64)`: a longer id would pass Redis, then be
        // refused by the syncer's INSERT (strict SQL mode), holding up the batch it is in.
        let ok = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(Error::InvalidArgument(
                "request_id must be 1..=64 visible ASCII characters".into(),
            ));
        }
        Ok(Self(raw.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text note for the audit log, at most 255 characters (the column's size).
pub fn parse_remark(raw: &str) -> Result<String, Error> {
    // Characters, not bytes: the column is VARCHAR(255) in utf8mb4, which counts
    // characters, and a 100-character Chinese remark is 300 bytes.
    if raw.chars().count() > 255 {
        return Err(Error::InvalidArgument("remark must be at most 255 characters".into()));
    }
    Ok(raw.to_string())
}

/// A book's four counters. Invariant: `available + locked + sold == total`.
///
/// Four, not the course's three (`total = stock + locked`): with no place for sold units,
/// "total" silently shrinks with every sale and cannot be checked against anything. With
/// `sold`, every operation moves units between fields, or adds to `available` and `total`
/// together, so conservation is a fact a test can assert at any instant — and the flows
/// test does, 32 clients mixing every operation while it samples.
///
/// An order's life as book 7's counters see it (10 in stock):
///
/// ```text
///                             avail  locked  sold  total
/// IncrStock +10                  10       0     0     10
/// LockStock order 42, 2           8       2     0     10
/// DecrStock order 42 (paid)       8       0     2     10
///   or ReleaseStock 42           10       0     0     10
///   or the sweeper, window over  10       0     0     10
/// ```
///
/// `i64`, like the proto's `Stock`: counters are sums of many quantities, and `total`
/// only grows. Quantities per request are small (`i32`, capped); counters are not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub book_id: u64,
    pub available: i64,
    /// Held by open reservations: out of `available`, not yet `sold`.
    pub locked: i64,
    pub sold: i64,
    /// Every unit ever stocked. It only grows, so `total - sold` is what is still on the
    /// shelf or held for an order.
    pub total: i64,
}

impl Counters {
    /// Whether the invariant holds: tests assert it on every sample they take.
    pub fn is_conserved(&self) -> bool {
        self.available + self.locked + self.sold == self.total
    }
}

impl From<Counters> for pb::Stock {
    fn from(c: Counters) -> Self {
        pb::Stock {
            book_id: c.book_id,
            available: c.available,
            locked: c.locked,
            sold: c.sold,
            total: c.total,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests for the parsers: the integration tests send the same cases over gRPC.
    use super::*;

    fn item(book_id: u64, quantity: i32) -> pb::StockItem {
        pb::StockItem { book_id, quantity }
    }

    /// Quantities outside 1..=10000 are refused, including values that would wrap in i32.
    #[test]
    fn quantities_outside_the_range_are_refused() {
        assert!(Quantity::parse(1).is_ok());
        assert!(Quantity::parse(10_000).is_ok());
        // 4_294_967_297 is 2^32 + 1: cast to i32 it is 1, a valid-looking quantity. This is the
        // case that would pass if `parse` took an `i32` and callers cast on the way in.
        for bad in [0, -1, 10_001, i64::from(i32::MAX) + 1, 4_294_967_297] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }

    /// Empty lists, zero ids and the same book twice never become `Lines`.
    #[test]
    fn malformed_item_lists_are_refused() {
        assert!(Lines::parse(&[]).is_err());
        assert!(Lines::parse(&[item(0, 1)]).is_err());
        // Book 7 twice is the one-request oversell described on `Lines`, refused at the edge.
        assert!(Lines::parse(&[item(7, 1), item(7, 2)]).is_err());
        assert_eq!(Lines::parse(&[item(7, 1), item(8, 2)]).unwrap().len(), 2);
    }
}
