//! Creating an order in two statements of order_db: claim the idempotency key with an
//! intent row, and — after inventory has locked the stock — turn that intent into the order.

use sqlx::Row;

use super::{
    Store,
    rows::{COLS, NewOrder, OrderRow, order_from_row},
};
use crate::Error;

/// What claiming an idempotency key found.
///
/// Three outcomes and not two, because a key has three states: free, being used right now
/// (an intent), used (an order). A design with only "free / used" has to pick a wrong
/// answer for a retry that arrives while the first attempt is still running: a second
/// order, or an error for a request that is about to succeed.
pub enum Claim {
    /// The key (or no key) is ours: a fresh intent with this id, which becomes the order id.
    New(u64),
    /// An intent with this key exists: another request is creating it, or one crashed.
    /// The caller may resume under `id` if `request_body` matches its own basket.
    InFlight { id: u64, request_body: String },
    /// The key already produced an order: a replay, answered with it (if the basket
    /// matches) without touching inventory.
    Done(OrderRow),
}

impl Store {
    /// Writes the intent that reserves an order id — and, with a key, claims the key.
    ///
    /// ✅ DO claim with the unique index: the INSERT either wins or fails with a duplicate,
    /// atomically, however many retries arrive at once. ❌ DON'T `SELECT … WHERE key = ?`
    /// and insert when nothing is found: two concurrent retries both find nothing, both
    /// insert, and the buyer gets two orders and two locks for one click.
    // lesson:claim:start
    ///
    /// ```text
    /// retry A: INSERT intent(key) → ok, id 42          retry B: INSERT intent(key) → duplicate
    ///          … LockStock(42) …                                find_by_key → none yet
    ///                                                           SELECT intent → 42: InFlight
    ///          commit: DELETE intent 42 → 1 row                 resumes as 42: LockStock(42)
    ///                                                           (idempotent), commit: 0 rows
    ///                                                           → answers order 42, replayed
    /// ```
    pub async fn claim(&self, user_id: u64, key: Option<&str>, body: &str) -> Result<Claim, Error> {
        // A committed order holds its key in `orders` (its intent is gone): look there
        // first. This read is only the fast path for retries; the guarantee is still the
        // unique index — an order committed between this read and our commit makes the
        // commit fail on `uk_order_user_key`, and `commit_order` reports it as `KeyTaken`.
        if let Some(key) = key
            && let Some(order) = self.find_by_key(user_id, key).await?
        {
            return Ok(Claim::Done(order));
        }
        // Two rounds at most: the first INSERT loses to an intent that then turns into an
        // order (or is swept) before our SELECT runs; the second sees the settled state.
        // Autocommit INSERTs, not a transaction: the unique index answers at once, and no
        // lock is held while the request goes on to call inventory.
        for _ in 0..2 {
            // The intent's AUTO_INCREMENT id becomes the order id: unique before anything
            // else happens, so it can name inventory's lock from the very first call.
            let inserted = sqlx::query(
                "INSERT INTO order_intents (user_id, idempotency_key, request_body, created_at) \
                 VALUES (?, ?, ?, NOW(3))",
            )
            .bind(user_id)
            .bind(key)
            .bind(body)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(r) => return Ok(Claim::New(r.last_insert_id())),
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
                Err(e) => return Err(e.into()),
            }
            // A NULL key never collides (NULLs are distinct in a unique index), so a
            // duplicate here always has a key; a key-less claim returned `New` above.
            let key = key.expect("only keyed intents can collide");
            // Lost the INSERT: the key is taken by an order (done) or an intent (in flight).
            // Orders first, because an intent turns into an order, never the other way.
            if let Some(order) = self.find_by_key(user_id, key).await? {
                return Ok(Claim::Done(order));
            }
            // The intent's basket comes back too: the caller may only resume a creation
            // of the same basket.
            let intent = sqlx::query(
                "SELECT id, request_body FROM order_intents WHERE user_id = ? AND idempotency_key = ?",
            )
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = intent {
                return Ok(Claim::InFlight {
                    id: row.try_get("id")?,
                    request_body: row.try_get("request_body")?,
                });
            }
        }
        // Both rounds found the key taken and then gone again: it is changing faster than we
        // can read it. ABORTED tells the client that the same request, retried, is safe.
        Err(Error::Aborted("idempotency key is changing state; retry".into()))
    }
    // lesson:claim:end

    /// The order `user_id` created with `key`, if any: one lookup on `uk_order_user_key`.
    pub async fn find_by_key(&self, user_id: u64, key: &str) -> Result<Option<OrderRow>, Error> {
        // The user is part of the lookup: a key is only ever someone's key.
        let sql = format!("SELECT {COLS} FROM orders WHERE user_id = ? AND idempotency_key = ?");
        let row = sqlx::query(&sql).bind(user_id).bind(key).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some(self.with_items(order_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// Turns intent `id` into the order, in one transaction: delete the intent, insert the
    /// order and its lines. Returns `None` when the intent was gone — another request with
    /// the same key committed first, or the sweeper released it — and then nothing is written.
    ///
    /// Fails with [`Error::KeyTaken`] when another order committed with the same key in the
    /// meantime (the unique index on `orders` caught it; nothing was written).
    ///
    /// The DELETE comes first on purpose: it takes the intent's row lock, so this commit and
    /// the sweeper (which holds that lock while it releases the stock) are serialised — one of
    /// them wins, the other sees 0 rows. That is the whole crash-safety argument in one
    /// statement: a lock is either owned by a committed order or released by the sweeper.
    pub async fn commit_order(&self, o: &NewOrder<'_>) -> Result<Option<OrderRow>, Error> {
        // Everything in one transaction: the intent disappears exactly when the order
        // appears, so at no instant can the sweeper see neither (and release a lock that an
        // order owns) or both (and count a creation twice).
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM order_intents WHERE id = ?")
            .bind(o.id)
            .execute(&mut *tx)
            .await?;
        // 0 rows: the intent is gone, so this creation no longer owns its lock (another
        // request committed under it, or the sweeper released it). Writing the order now
        // would create an order whose stock may already be someone else's.
        if gone.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        // The intent's id becomes the order's id (explicit, not AUTO_INCREMENT): the id
        // inventory's lock is keyed by must be the id of the order that owns it. Status 1 is
        // Pending; the expiry is computed by MySQL, from the same clock the sweeper reads.
        sqlx::query(
            "INSERT INTO orders (id, order_no, user_id, total, status, idempotency_key, request_body, \
             created_at, updated_at, expires_at) \
             VALUES (?, ?, ?, ?, 1, ?, ?, NOW(3), NOW(3), NOW(3) + INTERVAL ? SECOND)",
        )
        .bind(o.id)
        .bind(o.order_no)
        .bind(o.user_id)
        .bind(o.total)
        .bind(o.key)
        .bind(o.request_body)
        .bind(o.expires_in_secs)
        .execute(&mut *tx)
        .await
        // `uk_order_user_key`: another request's order took our key between our claim and
        // now. Nothing is written (the `?` drops the transaction, which rolls it back).
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::KeyTaken,
            e => e.into(),
        })?;
        // One multi-row INSERT for all lines: one round trip instead of up to 50. `Lines`
        // refused an empty basket, so `push_values` always has at least one row.
        let mut items = sqlx::QueryBuilder::new(
            "INSERT INTO order_items (order_id, book_id, title, quantity, price) ",
        );
        // Title and price are the snapshot, written once with the order and never updated:
        // the line says what was sold at what price, whatever the catalogue says later.
        items.push_values(o.items, |mut b, i| {
            b.push_bind(o.id)
                .push_bind(i.book_id)
                .push_bind(&i.title)
                .push_bind(i.quantity)
                .push_bind(i.price);
        });
        items.build().execute(&mut *tx).await?;
        // Read back inside the transaction: the timestamps are MySQL's `NOW(3)`, which this
        // process does not know until it asks.
        let sql = format!("SELECT {COLS} FROM orders WHERE id = ?");
        let row = sqlx::query(&sql).bind(o.id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        // The lines are the ones just inserted; no need to read them back.
        let mut order = order_from_row(&row)?;
        order.items = o.items.to_vec();
        Ok(Some(order))
    }
}
