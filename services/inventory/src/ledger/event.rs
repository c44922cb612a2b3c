//! One change as the scripts emit it to the stream, parsed for the syncer.

use chrono::NaiveDateTime;

use crate::store::parse_stream_id;

/// One change as emitted by a script (the entry layout is described in `lua/lock.lua`).
///
/// An entry is one field `e` = `"type book q d_avail d_locked d_sold d_total order"` plus
/// the optional `r` (remark) and `rq` (request id): every sale stores one entry until the
/// syncer trims it, and Redis copies it into the AOF and into the XRANGE reply, so bytes
/// and fields per entry are paid on every sale. The deltas `d` make each entry
/// self-describing — the syncer adds them and never needs to know what a "confirm" means,
/// so a new script type needs no syncer change.
#[derive(Clone, Debug)]
pub(super) struct Event {
    /// The stream id, `ms-seq`: unique, increasing, and the log row's time.
    pub(super) ms: u64,
    pub(super) seq: u64,
    /// The course's type code (1 lock, 2 release, 3 decrement, 4 increment).
    pub(super) kind: i8,
    pub(super) book: u64,
    /// Signed as the log shows it: negative when units leave `avail` (lock, direct sale).
    pub(super) qty: i32,
    /// Deltas of available, locked, sold, total.
    pub(super) d: [i64; 4],
    /// 0 when the change belongs to no order (a restock); the syncer writes NULL for it.
    pub(super) order: u64,
    /// Why the units moved ("paid", "cancelled", …); empty when the caller gave none.
    pub(super) remark: String,
    /// Empty for all but restocks; stored as NULL, so the UNIQUE column admits many.
    pub(super) request_id: String,
}

/// A stream id's millisecond part as the time MySQL stores (UTC, millisecond precision).
pub(super) fn at_ms(ms: u64) -> NaiveDateTime {
    // `unwrap_or_default` (1970-01-01) only for an ms beyond chrono's range, which no Redis
    // clock produces: an obviously wrong date in one row beats a panic that stops the syncer.
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default().naive_utc()
}

impl Event {
    /// Parses an entry in either layout (the packed `e` field, or the first layout's one
    /// field per value); `None` for an entry neither explains, which the caller skips once
    /// and reports (see `parse_batch`) rather than apply as zeros.
    pub(super) fn parse(entry: &redis::streams::StreamId) -> Option<Self> {
        let (ms, seq) = parse_stream_id(&entry.id)?;
        // Missing numeric fields make the whole entry unparseable (`?`), and the caller logs it:
        // an entry we cannot read must be noticed, not applied as zeros. `r` and `rq` are the
        // exception, optional by design: absent is "", which the syncer stores as NULL.
        let s = |k: &str| entry.get::<String>(k).unwrap_or_default();
        let Some(packed) = entry.get::<String>("e") else {
            return Self::parse_fields(entry, ms, seq);
        };
        // `split(' ')`, not `split_whitespace`: the scripts write exactly one space between
        // values, so an entry shaped otherwise was not written by them and must fail to
        // parse (and be reported) rather than be read leniently into a wrong ledger row.
        // A value that does not parse as an integer fails the same way, through `?`.
        let mut f = packed.split(' ');
        let mut n = || f.next()?.parse::<i64>().ok();
        // The casts are exact for every entry a script writes: codes 1–4, ids below 2^53,
        // quantities within ±10,000.
        let (kind, book, qty) = (n()? as i8, n()? as u64, n()? as i32);
        let d = [n()?, n()?, n()?, n()?];
        let order = n()? as u64;
        Some(Self { ms, seq, kind, book, qty, d, order, remark: s("r"), request_id: s("rq") })
    }

    /// The first layout, one stream field per value (`t`, `b`, `q`, `da`, `dl`, `ds`, `dt`,
    /// `o`, `r`, `rq`). Still read, because entries written by an older version may be
    /// waiting in the stream when a new version starts: skipping them would lose sales
    /// from the ledger ("nothing lost" is an invariant, not a best effort).
    fn parse_fields(entry: &redis::streams::StreamId, ms: u64, seq: u64) -> Option<Self> {
        let s = |k: &str| entry.get::<String>(k).unwrap_or_default();
        let n = |k: &str| entry.get::<i64>(k);
        Some(Self {
            ms,
            seq,
            kind: n("t")? as i8,
            book: n("b")? as u64,
            qty: n("q")? as i32,
            d: [n("da")?, n("dl")?, n("ds")?, n("dt")?],
            order: entry.get::<u64>("o").unwrap_or(0),
            remark: s("r"),
            request_id: s("rq"),
        })
    }

    /// When the change happened: the stream id's millisecond part, Redis's clock at the
    /// moment the script ran, so log rows are dated by when the sale happened, not by when
    /// the syncer got to it.
    pub(super) fn at(&self) -> NaiveDateTime {
        at_ms(self.ms)
    }

    /// The state this change gives the order's row in `inventory_reservations`, if any:
    ///
    /// ```text
    /// type 1 lock              → 1 locked
    /// type 2 release           → 2 released
    /// type 3 with d_locked ≠ 0 → 3 confirmed   (a confirm draws on locked stock)
    /// type 3 with d_locked = 0 → no row        (a direct sale: its log row is its record)
    /// type 4 increment         → no row        (restocks are idempotent by request_id)
    /// ```
    pub(super) fn reservation_state(&self) -> Option<i8> {
        match (self.kind, self.d[1]) {
            (1, _) => Some(1),
            (2, _) => Some(2),
            (3, dl) if dl != 0 => Some(3),
            _ => None,
        }
    }
}
