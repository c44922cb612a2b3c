//! The plain commands: everything the service sends to Redis that is not a script call.
//!
//! None of them changes a stock counter on the selling path — those changes are the
//! scripts' alone, because only a script can check and change in one step. What is here
//! either reads one hash (atomic by itself), works on the stream and the sweeper's queue
//! that the scripts fill, or rewrites a whole deployment while nothing else runs on it
//! (the rebuild at start, the race arena's reset).

use std::time::Duration;

use redis::AsyncCommands;
use redis::streams::StreamRangeReply;

use super::StockStore;
use crate::domain::{BookId, Counters, OrderId, RequestId};
use crate::error::Error;

/// What a rebuild writes back into an empty Redis, as read from the MySQL ledger.
#[derive(Clone, Debug, Default)]
pub struct Restore {
    /// Every book's four counters (`inventory`).
    pub books: Vec<Counters>,
    /// Every reservation line (`inventory_reservations`), open or settled.
    pub reservations: Vec<RestoredReservation>,
    /// Orders sold directly (DecrStock with items), whose markers make a retry a replay.
    pub direct: Vec<OrderId>,
    /// Request ids of applied restocks, whose markers make a retry a replay.
    pub requests: Vec<RequestId>,
    /// MySQL's cursor: the new stream's ids must start after it.
    pub cursor: (u64, u64),
}

/// One line of a reservation, as `inventory_reservations` stores it.
#[derive(Clone, Debug)]
pub struct RestoredReservation {
    pub order: OrderId,
    pub book: u64,
    pub qty: i32,
    /// 1 locked, 2 released, 3 confirmed (the table's codes).
    pub state: i8,
    /// When lock.lua ran, by Redis's clock, in Unix milliseconds.
    pub locked_at_ms: i64,
}

impl StockStore {
    /// The counters of one book, or `UnknownBook`. A plain HMGET, no script: a read of one
    /// hash is already atomic, so the four values always belong to the same instant.
    pub async fn get(&self, book: BookId) -> Result<Counters, Error> {
        let mut conn = self.redis.clone();
        let raw: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(self.keys.stock(book))
            .arg(&["avail", "locked", "sold", "total"])
            .query_async(&mut conn)
            .await?;
        match raw.as_slice() {
            // `avail` is the field every script requires; its absence is what "unknown book"
            // means (a book gets all four fields at its first restock).
            [Some(a), l, s, t] => Ok(Counters {
                book_id: book.get(),
                available: *a,
                locked: l.unwrap_or(0),
                sold: s.unwrap_or(0),
                total: t.unwrap_or(0),
            }),
            _ => Err(Error::UnknownBook(book.get())),
        }
    }

    /// The counters of several books in one round trip (GetStocks); books without a hash
    /// are left out.
    ///
    /// A pipeline of HMGETs, not a script and not MULTI: each book's four counters are
    /// one atomic read (as in [`StockStore::get`]), but a sale may land between two books —
    /// harmless for what this feeds (the catalogue's display), and it keeps a read of 100
    /// books from blocking the scripts that sell them. ❌ DON'T loop over `get`: 20 books
    /// would be 20 round trips, and a page's latency their sum.
    pub async fn get_many(&self, books: &[BookId]) -> Result<Vec<Counters>, Error> {
        let mut pipe = redis::pipe();
        for book in books {
            pipe.cmd("HMGET")
                .arg(self.keys.stock(*book))
                .arg(&["avail", "locked", "sold", "total"]);
        }
        let raw: Vec<Vec<Option<i64>>> = pipe.query_async(&mut self.redis.clone()).await?;
        Ok(books
            .iter()
            .zip(raw)
            .filter_map(|(book, fields)| match fields.as_slice() {
                // The same rule as `get`: no `avail`, no book.
                [Some(a), l, s, t] => Some(Counters {
                    book_id: book.get(),
                    available: *a,
                    locked: l.unwrap_or(0),
                    sold: s.unwrap_or(0),
                    total: t.unwrap_or(0),
                }),
                _ => None,
            })
            .collect())
    }

    /// At most `count` stream entries strictly after `after` (`ms`, `seq`), oldest first.
    ///
    /// XRANGE from the syncer's own cursor rather than XREAD: the position to read from is
    /// the one MySQL committed, so after a restart the syncer resumes exactly there.
    /// `COUNT` bounds both the reply's memory and the MySQL transaction it becomes; after an
    /// outage a backlog of a million entries drains in batches, never in one reply.
    pub async fn events_after(
        &self,
        after: (u64, u64),
        count: usize,
    ) -> Result<StreamRangeReply, Error> {
        // `(` makes the start exclusive: everything strictly after the cursor.
        Ok(redis::cmd("XRANGE")
            .arg(self.keys.events())
            .arg(format!("({}-{}", after.0, after.1))
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.redis.clone())
            .await?)
    }

    /// Deletes every stream entry up to and including `last`.
    pub async fn trim_events_through(&self, last: (u64, u64)) -> Result<(), Error> {
        // MINID trims entries *below* the id, so last+1 keeps nothing that was applied and
        // nothing that was not.
        let _: i64 = redis::cmd("XTRIM")
            .arg(self.keys.events())
            .arg("MINID")
            .arg(format!("{}-{}", last.0, last.1 + 1))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Orders whose reservation was locked `window` ago or earlier, oldest first, at most
    /// `limit` (raw members of the pending set; the caller parses them).
    ///
    /// Two commands, not a script: the answer is only a list of candidates, and each one
    /// is then settled by settle.lua, which re-checks the state atomically. A candidate that
    /// was paid in between is refused there, so no check here needs to be atomic.
    pub async fn due_reservations(
        &self,
        window: Duration,
        limit: usize,
    ) -> Result<Vec<u64>, Error> {
        let mut conn = self.redis.clone();
        // Redis's clock, the same one lock.lua stamped the reservations with: two app servers
        // with skewed clocks would otherwise expire orders early or late.
        let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await?;
        let now_ms = secs * 1000 + micros / 1000;
        // Due = locked at or before `now - window`; ZRANGEBYSCORE returns them oldest first.
        let cutoff = now_ms.saturating_sub(window.as_millis() as u64);
        Ok(redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.pending())
            .arg("-inf")
            .arg(cutoff)
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await?)
    }

    /// Whether the ready marker is set: this Redis holds this deployment's data.
    pub async fn is_ready(&self) -> Result<bool, Error> {
        Ok(self.redis.clone().exists(self.keys.ready()).await?)
    }

    /// Whether any book is known, marker or not (a Redis filled by an older version).
    pub async fn has_books(&self) -> Result<bool, Error> {
        Ok(self.redis.clone().exists(self.keys.books()).await?)
    }

    /// Sets the ready marker.
    pub async fn mark_ready(&self) -> Result<(), Error> {
        let _: () = self.redis.clone().set(self.keys.ready(), 1).await?;
        Ok(())
    }

    /// Writes `r` into this deployment's keys, then — last, and atomically — the set of
    /// books and the ready marker.
    ///
    /// Pipelines, not scripts: the rebuild runs before the server accepts requests and
    /// before the syncer starts, so nothing competes with it, and a script over every book
    /// would block Redis for the whole rebuild. One round trip per pipeline instead of one
    /// per key: the load is bound by Redis's command rate, not by network round trips.
    pub async fn restore(&self, r: &Restore) -> Result<(), Error> {
        let keys = &self.keys;
        let mut conn = self.redis.clone();
        // Chunks keep each pipeline small; a crash part-way is harmless because every write
        // is an overwrite with the same values, and the `books` set comes last.
        let mut pipe = redis::pipe();
        for c in &r.books {
            let fields = [
                ("avail", c.available),
                ("locked", c.locked),
                ("sold", c.sold),
                ("total", c.total),
            ];
            pipe.hset_multiple(keys.stock(BookId::parse(c.book_id)?), &fields).ignore();
        }
        for (i, line) in r.reservations.iter().enumerate() {
            // A reservation needs its record (items, state, lock time) and, if still open, its
            // place in the sweeper's queue — with the original lock time, so a rebuild does not
            // grant anyone a fresh 15 minutes.
            let key = keys.order(line.order);
            let at = line.locked_at_ms;
            let state_name =
                ["locked", "released", "confirmed"][(line.state as usize).clamp(1, 3) - 1];
            pipe.hset(&key, format!("b{}", line.book), line.qty).ignore();
            pipe.hset_multiple(&key, &[("state", state_name), ("at", &at.to_string())]).ignore();
            if line.state == 1 {
                pipe.zadd(keys.pending(), line.order.get(), at).ignore();
            }
            // Flush every 5,000 reservations: one giant pipeline would hold the whole
            // rebuild in memory twice (ours and Redis's input buffer).
            if i % 5_000 == 4_999 {
                let _: () = pipe.query_async(&mut conn).await?;
                pipe = redis::pipe();
            }
        }
        // A direct sale only needs its marker back.
        for order in &r.direct {
            pipe.set(keys.direct(*order), 1).ignore();
        }
        for request in &r.requests {
            pipe.set(keys.incr(request), 1).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await?;

        // The stream was lost with the rest, and its ids come from Redis's clock: a Redis
        // restarted on a host whose clock is behind would hand out ids below the cursor,
        // and the syncer (which reads strictly after it) would never see those sales. An
        // entry *at* the cursor, trimmed at once, leaves an empty stream whose last id is
        // the cursor, so every new id is above it; and Reconcile, waiting for the cursor to
        // reach that last id, finds it already there. The syncer never reads the entry
        // itself (it reads strictly after the cursor), even if a crash kept it untrimmed.
        if r.cursor != (0, 0) {
            let added: Result<String, redis::RedisError> = redis::cmd("XADD")
                .arg(keys.events())
                .arg(format!("{}-{}", r.cursor.0, r.cursor.1))
                .arg(&["e", "rebuilt"])
                .query_async(&mut conn)
                .await;
            match added {
                Ok(_) => {
                    let _: i64 = redis::cmd("XTRIM")
                        .arg(keys.events())
                        .arg("MAXLEN")
                        .arg(0)
                        .query_async(&mut conn)
                        .await?;
                }
                // The stream already ends at or past the cursor (a rebuild that crashed
                // after this step, and runs again): there is nothing to move.
                Err(e) if e.to_string().contains("equal or smaller") => {}
                Err(e) => return Err(e.into()),
            }
        }

        // The final, atomic step: the set of books and the ready marker. Until it runs, a
        // restarted service would see "no books, no marker" and simply rebuild again.
        let mut last = redis::pipe();
        last.atomic();
        for c in &r.books {
            last.sadd(keys.books(), c.book_id).ignore();
        }
        last.set(keys.ready(), 1).ignore();
        let _: () = last.query_async(&mut conn).await?;
        Ok(())
    }

    /// Puts `stock` units of `book` on a scratch deployment's shelf, nothing sold, and
    /// drops its change stream (the race arena's reset).
    pub async fn reset_scratch_book(&self, book: BookId, stock: i64) -> Result<(), Error> {
        let keys = &self.keys;
        // Direct writes, not incr.lua: an arena is a scratch deployment whose
        // change stream nobody syncs, so the stream is dropped here too.
        // `atomic()` wraps the pipeline in MULTI/EXEC: a learner watching the hash sees the
        // old stock or the new one, never a half-reset book.
        let _: () = redis::pipe()
            .atomic()
            .del(keys.events())
            .hset_multiple(
                keys.stock(book),
                &[("avail", stock), ("locked", 0), ("sold", 0), ("total", stock)],
            )
            .sadd(keys.books(), book.get())
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// A book's `avail` alone, `None` if the book has no hash (the race's "stock left").
    pub async fn available(&self, book: BookId) -> Result<Option<i64>, Error> {
        Ok(self.redis.clone().hget(self.keys.stock(book), "avail").await?)
    }

    /// Deletes every key of this deployment; returns how many were removed.
    pub async fn purge(&self) -> Result<u64, Error> {
        let mut conn = self.redis.clone();
        let mut cursor = 0u64;
        let mut removed = 0;
        // SCAN in pages, never KEYS: KEYS walks the whole keyspace in one command and
        // blocks every other client of this Redis until it is done. Each SCAN page is one
        // short command, so other clients are served between pages.
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.all_pattern())
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                // UNLINK frees the memory in a background thread; DEL would do it inline.
                removed += redis::cmd("UNLINK").arg(&keys).query_async::<u64>(&mut conn).await?;
            }
            cursor = next;
            if cursor == 0 {
                return Ok(removed);
            }
        }
    }
}
