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
    /// Orders sold directly (DecrStock with items) inside the replay retention, with the
    /// sale's time (Unix ms): their markers make a retry a replay until the retention ends.
    pub direct: Vec<(OrderId, i64)>,
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
    /// Units the line holds, always positive (the syncer stores the signed event's `abs`).
    pub qty: i32,
    /// 1 locked, 2 released, 3 confirmed (the table's codes).
    pub state: i8,
    /// When lock.lua ran, by Redis's clock, in Unix milliseconds.
    pub locked_at_ms: i64,
    /// When the reservation was settled (Unix ms); its record expires the replay retention
    /// after it. Unused while the reservation is open (state 1).
    pub settled_at_ms: i64,
}

/// The rebuild lock, held: the token this instance wrote with `SET NX PX`.
///
/// Why a lock at all: two instances started together on an emptied Redis would both see
/// "no data" and both rebuild; the faster one marks Redis ready and starts selling while
/// the slower one is still writing the counters it read from MySQL — and overwrites the
/// new sales. With the lock one instance rebuilds and the others wait, then find Redis
/// ready. ✅ DO give the lock an expiry (a holder killed mid-rebuild must not block every
/// start after it) and a random token (so the release and the writes can tell "mine" from
/// "a successor's"). The expiry alone is not enough: a holder paused past it (swap, a
/// stopped VM) would wake up and go on writing beside its successor. So every write of the
/// rebuild is fenced: `WATCH` the lock, check the token, `MULTI … EXEC` — Redis aborts the
/// EXEC if the lock expired or changed hands in between (see [`StockStore::restore`]).
#[derive(Debug)]
pub struct RebuildLock {
    token: String,
}

impl RebuildLock {
    /// The random value the lock key holds while this instance owns it.
    pub fn token(&self) -> &str {
        &self.token
    }
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
    ///
    /// Called only after MySQL committed the batch *and* its cursor: trimming first, then
    /// failing to commit, would delete sales the ledger never got. A crash between the
    /// commit and this trim only leaves entries the next read skips (they are `<=` the cursor).
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
        // TIME answers (seconds, microseconds within that second): both parts are needed, or
        // every cutoff would be rounded down by up to a second.
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

    /// Takes the rebuild lock for `ttl` if nobody holds it (`SET key token NX PX ttl`).
    pub async fn try_rebuild_lock(&self, ttl: Duration) -> Result<Option<RebuildLock>, Error> {
        // 128 random bits: two instances can never draw the same token, so "the lock holds
        // my token" really means "I still own it". A pid or hostname would not do: a
        // restarted instance reuses both while its predecessor's lock may still be there.
        let token = format!("{:032x}", rand::random::<u128>());
        // One command: SET NX then PEXPIRE would leave a lock without expiry (held for ever)
        // if this process died between the two.
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.keys.rebuild_lock())
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(taken.map(|_| RebuildLock { token }))
    }

    /// Runs `pipe` as one MULTI/EXEC only if `lock` still holds the rebuild lock.
    ///
    /// WATCH is per connection, and this one is shared — safe here because the rebuild runs
    /// before the server, the syncer and the sweeper start, so nothing else of this
    /// instance sends a command meanwhile. Another client touching the lock key (its expiry
    /// included) makes EXEC answer nil, and nothing of `pipe` is applied.
    async fn fenced(&self, lock: &RebuildLock, pipe: &mut redis::Pipeline) -> Result<(), Error> {
        let mut conn = self.redis.clone();
        let key = self.keys.rebuild_lock();
        let _: () = redis::cmd("WATCH").arg(&key).query_async(&mut conn).await?;
        // The check runs after WATCH, so a change between this GET and EXEC still aborts the
        // EXEC: that ordering is what makes check-then-write safe without a script.
        let holder: Option<String> = conn.get(&key).await?;
        if holder.as_deref() != Some(lock.token()) {
            let _: () = redis::cmd("UNWATCH").query_async(&mut conn).await?;
            return Err(Error::LostRebuildLock);
        }
        // `None` is EXEC's nil reply: the lock key changed since WATCH, nothing was applied.
        let done: Option<()> = pipe.atomic().query_async(&mut conn).await?;
        // A fresh pipeline for the caller's next chunk: reusing this one would send the
        // commands already applied again with it.
        *pipe = redis::pipe();
        done.ok_or(Error::LostRebuildLock)
    }

    /// Sets the ready marker.
    ///
    /// No expiry, on purpose: the marker must live exactly as long as the data. A Redis that
    /// loses its data (flush, restart without persistence) loses the marker with it, and
    /// that absence is what makes the next start rebuild.
    pub async fn mark_ready(&self) -> Result<(), Error> {
        let _: () = self.redis.clone().set(self.keys.ready(), 1).await?;
        Ok(())
    }

    /// Writes `r` into this deployment's keys, then — last, and atomically — the stream's
    /// new start, the set of books and the ready marker. Every write is fenced by `lock`
    /// ([`Error::LostRebuildLock`] if it expired or was taken over; nothing more is written).
    ///
    /// Transactions, not scripts: nothing of this instance competes with the rebuild, and
    /// a script over every book would block Redis for the whole rebuild. Chunks of 5,000
    /// writes keep each transaction short and its memory small (ours and Redis's input
    /// buffer); one round trip per chunk, not per key.
    pub async fn restore(&self, r: &Restore, lock: &RebuildLock) -> Result<(), Error> {
        let keys = &self.keys;
        // Absolute expiry times (PEXPIREAT, PXAT) from the ledger's timestamps, not a fresh
        // TTL: a rebuild must not give a day-old record another full day.
        let retention = super::REPLAY_RETENTION.as_millis() as i64;
        // A crash part-way is harmless: every write is an overwrite with the same values,
        // and until the final step the next holder sees "no books, no marker" and rebuilds.
        let mut pipe = redis::pipe();
        let mut queued = 0;
        for c in &r.books {
            let fields = [
                ("avail", c.available),
                ("locked", c.locked),
                ("sold", c.sold),
                ("total", c.total),
            ];
            pipe.hset_multiple(keys.stock(BookId::parse(c.book_id)?), &fields).ignore();
            queued += 1;
            if queued % 5_000 == 0 {
                self.fenced(lock, &mut pipe).await?;
            }
        }
        for line in &r.reservations {
            // A reservation needs its record (items, state, lock time) and, if still open, its
            // place in the sweeper's queue — with the original lock time, so a rebuild does not
            // grant anyone a fresh 15 minutes. A settled one keeps what is left of its
            // retention (PEXPIREAT in the past deletes it: it had expired anyway).
            let key = keys.order(line.order);
            let at = line.locked_at_ms;
            let state_name =
                // The clamp keeps a hand-edited state code (0, 9) from panicking on the index: such
                // a row is restored as the nearest state instead of stopping the rebuild of every
                // book.
                ["locked", "released", "confirmed"][(line.state as usize).clamp(1, 3) - 1];
            // `b<book>` = quantity is the field layout lock.lua writes and settle.lua reads back:
            // one reservation row per book, so a two-book order is two rows folded into one hash.
            pipe.hset(&key, format!("b{}", line.book), line.qty).ignore();
            pipe.hset_multiple(&key, &[("state", state_name), ("at", &at.to_string())]).ignore();
            if line.state == 1 {
                pipe.zadd(keys.pending(), line.order.get(), at).ignore();
            } else {
                pipe.cmd("PEXPIREAT").arg(&key).arg(line.settled_at_ms + retention).ignore();
            }
            queued += 1;
            if queued % 5_000 == 0 {
                self.fenced(lock, &mut pipe).await?;
            }
        }
        // A direct sale only needs its marker back, for what is left of its retention.
        // Not counted towards the chunks: all of them share the transaction below with the
        // restock markers, so that one grows with a day's direct sales (the bench makes many).
        for (order, sold_at_ms) in &r.direct {
            let until = sold_at_ms + retention;
            pipe.cmd("SET").arg(keys.direct(*order)).arg(1).arg("PXAT").arg(until).ignore();
        }
        // Restock markers come back without expiry, like the originals (see `keys`: a
        // restock replayed after its marker expired would wedge the syncer on MySQL's UNIQUE).
        for request in &r.requests {
            pipe.set(keys.incr(request), 1).ignore();
        }
        self.fenced(lock, &mut pipe).await?;

        // The final, atomic step. First the stream: it was lost with the rest, and its ids
        // come from Redis's clock — a Redis restarted on a host whose clock is behind would
        // hand out ids below the cursor, and the syncer (which reads strictly after it)
        // would never see those sales. An entry *at* the cursor, deleted at once, leaves an
        // empty stream whose last id is the cursor, so every new id is above it (what
        // `XSETID` does, which Redis 7.0 refuses on a stream that does not exist yet); and
        // Reconcile, waiting for the cursor to reach that last id, finds it already there.
        // DEL first: whatever a crashed earlier attempt left in the stream holds no sale
        // (nothing sells before the ready marker), and an XADD at the cursor would be
        // refused behind it. Then the set of books and the ready marker: until they are
        // written, a restarted service sees "no books, no marker" and simply rebuilds again.
        pipe.del(keys.events()).ignore();
        if r.cursor != (0, 0) {
            let id = format!("{}-{}", r.cursor.0, r.cursor.1);
            pipe.cmd("XADD").arg(keys.events()).arg(&id).arg(&["e", "rebuilt"]).ignore();
            pipe.cmd("XDEL").arg(keys.events()).arg(&id).ignore();
        }
        for c in &r.books {
            pipe.sadd(keys.books(), c.book_id).ignore();
        }
        pipe.set(keys.ready(), 1).ignore();
        self.fenced(lock, &mut pipe).await
    }

    /// Puts `stock` units of `book` on a scratch deployment's shelf, nothing sold, and
    /// drops its change stream (the race arena's reset).
    ///
    /// ❌ Never on a live deployment's keys: the stream it drops holds the sales the syncer
    /// has not applied yet, and overwriting the hash bypasses the ledger altogether. Only
    /// the race arena calls it, on a prefix of its own.
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
    ///
    /// `None`, not [`Error::UnknownBook`]: the arena asks about a book it reset itself, and
    /// a missing hash there means "never reset", which it reports in its own words.
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
            // COUNT is a hint of work per page, not a page size: a page may hold more keys, fewer,
            // or none while the scan is not done. Only the returned cursor 0 means "finished".
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
