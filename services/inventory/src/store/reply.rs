//! Decoding script replies: the shapes the scripts answer with, and nothing else.

use crate::domain::{Counters, Lines};
use crate::error::Error;

/// Decodes `{code, counters…}` / `{0|-1, item index}` from lock.lua and decr.lua.
///
/// A reply of any other shape means the script and this decoder disagree — a bug, so it
/// becomes an internal error, never a guess.
pub(super) fn decode_lines_reply(
    reply: &[i64],
    lines: &Lines,
) -> Result<(Vec<Counters>, bool), Error> {
    // Lua arrays start at 1; the script reports the failing line by its Lua index, so the
    // error can name the book that was short ("not enough stock for book 8") instead of
    // refusing the whole basket with no hint of which line to remove.
    // `max(1)`: an index of 0 can only come from a broken script; it names the first line
    // instead of underflowing into an out-of-range index and panicking the handler.
    let item = |i: i64| lines.book_at((i.max(1) - 1) as usize).get();
    match reply {
        [0, i] => Err(Error::OutOfStock { book_id: item(*i) }),
        [-1, i] => Err(Error::UnknownBook(item(*i))),
        // The length is checked, not assumed: a script edited to add a fifth counter would
        // otherwise be decoded shifted by one, and every caller would get plausible but
        // wrong numbers instead of an error that points at the mismatch.
        [code @ (1 | 2), rest @ ..] if rest.len() == 4 * lines.len() => {
            // The guard above makes this exactly one chunk per line, so the zip drops nothing
            // and each book gets its own four counters.
            let counters = rest
                .chunks_exact(4)
                .zip(lines.iter())
                .map(|(c, line)| Counters {
                    book_id: line.book.get(),
                    available: c[0],
                    locked: c[1],
                    sold: c[2],
                    total: c[3],
                })
                .collect();
            Ok((counters, *code == 2))
        }
        _ => Err(unexpected(reply)),
    }
}

/// `"1700000000000-3"` → `(1700000000000, 3)`.
///
/// Redis hands stream ids out as strings; the ledger stores and compares them as two
/// integers (see `ledger::read_cursor` for why strings would compare wrongly). `None` for
/// anything else: an id is either exactly `<ms>-<seq>` or it did not come from Redis.
pub fn parse_stream_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}
/// A reply shape this code does not know: reported as a Redis type error, which
/// `Error` maps to INTERNAL and logs with the reply for whoever debugs it.
pub(super) fn unexpected(reply: &[i64]) -> Error {
    unexpected_text(&format!("{reply:?}"))
}

/// The same, for a reply already rendered as text (the snapshot's stream id).
pub(super) fn unexpected_text(reply: &str) -> Error {
    Error::Redis(redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected script reply",
        reply.to_string(),
    )))
}
