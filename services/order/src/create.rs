//! CreateOrder, the orchestration: who calls whom, in which order, and what undoes what.
//!
//! ```text
//!  ValidateToken ─┐                      (side by side: neither needs the other's answer)
//!  GetBook × N  ──┴─▶ claim intent ─▶ LockStock(order id) ─▶ commit {delete intent, insert order}
//!                     (order id,        (inventory, Lua,       (one MySQL transaction)
//!                      idempotency key)  all-or-nothing)
//!  any failure after the claim ─▶ abandon: release the lock (idempotent), delete the intent
//!  order-service killed after the claim ─▶ the sweeper abandons the stale intent
//! ```
//!
//! The course's sample locks stock and, if the insert fails, releases it "and logs an error
//! if the release fails" — so a crash or a failed release leaks locked stock until someone
//! notices. Here the lock is keyed by an order id that is durable *before* LockStock (the
//! intent row), so whatever dies, the intent is left behind and [`abandon`] finds it:
//! either the order committed and owns the lock, or the intent is abandoned and the lock
//! released. There is no third outcome — the transaction's first statement deletes the
//! intent, and [`abandon`] holds the intent's row lock while it releases.
//!
//! Where each failure lands, and who cleans up:
//!
//! | fails at | stock | intent | the caller gets | cleaned up by |
//! |---|---|---|---|---|
//! | parsing | untouched | none | INVALID_ARGUMENT | nothing to do |
//! | ValidateToken / GetBook | untouched | none | UNAUTHENTICATED / NOT_FOUND / UNAVAILABLE | nothing to do |
//! | the claim | untouched | none, or another request's | ABORTED / INVALID_ARGUMENT / the replay | nothing to do |
//! | LockStock (refused or timed out) | maybe locked | present | FAILED_PRECONDITION / UNAVAILABLE | [`abandon`] now, else the sweeper |
//! | the commit | locked | present | the error | [`abandon`] now, else the sweeper |
//! | the process dies after the claim | maybe locked | present | a broken connection | the sweeper, after `intent_stale` |
//!
//! ✅ DO reserve the order id (the intent) *before* the first side effect in another
//! service, so every side effect has a durable name to be undone by. ❌ DON'T lock first and
//! create the row afterwards: a crash in between leaves a lock named by nothing.
//!
//! What one new order sends, counted from the code below (a replay stops after the claim):
//!
//! | step | to | messages |
//! |---|---|---|
//! | ValidateToken ∥ GetBook × N | user, catalog | 1 + N RPCs, in parallel: one round trip of wall time |
//! | claim | order_db | 1 INSERT (plus 1–2 SELECTs only when the key is taken) |
//! | LockStock | inventory | 1 RPC, one Lua script for the whole basket |
//! | commit | order_db | 1 transaction: DELETE intent, INSERT order, INSERT lines, SELECT |
//!
//! So the floor is three sequential round trips (lookups, lock, commit) plus the claim,
//! whatever the basket's size — which is why the lookups run side by side.
//!
//! What this is, in the vocabulary of distributed transactions: a two-step saga with one
//! compensating action (release), orchestrated by order-service and made crash-safe by a
//! durable record of the saga's progress (the intent row). Not two-phase commit: inventory
//! never holds a MySQL transaction open for us, and no coordinator can block it. The price
//! is a window in which stock is locked for an order that may not come — bounded by the
//! request's deadline, or by `intent_stale` after a crash.

use std::time::{Duration, Instant};

use crate::{
    Error,
    domain::{self, Lines},
    peers::{BookSnapshot, Peers},
    store::{Claim, ItemRow, NewOrder, OrderRow, Store},
};

/// Fault injection for the lab and the crash tests, from the `x-lab-fault` metadata; only
/// honoured when the service runs with `lab_faults = true` (the lab and tests), never by
/// default — a production endpoint that lets callers make it fail would be a gift to attackers.
///
/// Two faults, placed at the two instants the compensation logic exists for: after the
/// lock and before the commit (a pause, wide enough to `kill -9` in), and the commit itself
/// (a failure). Other failures need no injected fault: a process can be stopped or killed
/// for real, as `tests/crash.rs` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the normal path (and the only one a production instance takes).
    #[default]
    None,
    /// The commit fails after LockStock succeeded: the compensation must release the lock.
    FailCommit,
    /// Sleep this long after LockStock, before the commit: a window to `kill -9` the process
    /// with the lock held (what the crash test does).
    PauseAfterLock(Duration),
}

impl Fault {
    /// `fail-commit` or `pause-after-lock=<ms>` (at most 60 s).
    ///
    /// An unknown value is an error rather than "no fault": a lab experiment with a typo
    /// would otherwise run the happy path and "prove" that nothing goes wrong. The 60 s cap
    /// keeps a pause from holding a connection and a lock for longer than a test waits.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw == "fail-commit" {
            return Ok(Fault::FailCommit);
        }
        if let Some(ms) = raw.strip_prefix("pause-after-lock=")
            && let Ok(ms) = ms.parse::<u64>()
            && ms <= 60_000
        {
            return Ok(Fault::PauseAfterLock(Duration::from_millis(ms)));
        }
        Err(Error::InvalidArgument(format!("unknown x-lab-fault {raw:?}")))
    }
}

/// What the orchestration needs: borrowed from the handler for the length of one call, so
/// `run` is a plain function of its inputs and can be read without the gRPC layer.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub peers: &'a Peers,
    /// How long an unpaid order lives.
    pub payment_window_secs: u64,
}

/// One CreateOrder request, already read from the wire: borrowed from the handler's
/// request for the length of the call.
pub struct Request<'a> {
    /// The Bearer token, not yet validated (`run` validates it).
    pub token: &'a str,
    /// `(book_id, quantity)` as the client sent them: unparsed, possibly invalid.
    pub items: Vec<(u64, i32)>,
    /// `""` for none.
    pub idempotency_key: &'a str,
    pub fault: Fault,
}

/// The order, whether it was a replay, and the call chain with each step's latency
/// (sent back as `server-timing` metadata, drawn by the lab's call-chain view).
pub struct Created {
    pub order: OrderRow,
    /// True when the key had already produced this order: nothing was locked or written
    /// now, and the gateway answers 200 instead of 201.
    pub replayed: bool,
    /// This request's call chain, for the `server-timing` metadata.
    pub trace: Trace,
}

/// Each step's name and duration, in the order they finished.
///
/// Kept per request (not only as a histogram) because the lab draws *one* call's chain:
/// averages hide the one GetBook that took 40 ms while the others took 1.
#[derive(Clone, Debug, Default)]
pub struct Trace(pub Vec<(String, Duration)>);

impl Trace {
    /// Records a finished step, in the trace and in the `order_create_step_seconds`
    /// histogram (by [`step_label`], so per-book steps share one series).
    fn push(&mut self, step: impl Into<String>, took: Duration) {
        let step = step.into();
        metrics::histogram!("order_create_step_seconds", "step" => step_label(&step))
            .record(took.as_secs_f64());
        self.0.push((step, took));
    }

    /// The HTTP `Server-Timing` format, which grpcurl -v and browsers' dev tools display:
    /// `ValidateToken;dur=0.8, GetBook-7;dur=1.1, …` (milliseconds).
    ///
    /// A standard format rather than our own JSON: a gateway could pass it through to a
    /// browser unchanged, and the browser's network panel would draw it with no code of ours.
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(s, d)| format!("{s};dur={:.2}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Per-book steps share one metric label (`GetBook`), so the metric's cardinality does not
/// grow with the catalogue. (The trace keeps `GetBook-7`: one request's chain is small,
/// and naming the book is what makes a slow line findable.)
fn step_label(step: &str) -> &'static str {
    match step {
        s if s.starts_with("GetBook") => "GetBook",
        "ValidateToken" => "ValidateToken",
        "claim" => "claim",
        "LockStock" => "LockStock",
        "commit" => "commit",
        // A closed set even for a step added later and forgotten here: it is counted as
        // "other" rather than minting a new label from whatever string it carries.
        _ => "other",
    }
}

/// Runs CreateOrder end to end. See the module docs for the chain and its guarantees.
///
/// A plain async function of its inputs (no `self`, no tonic types): the handler adapts
/// it, and everything it decides can be read top to bottom in one place.
pub async fn run(ctx: &Ctx<'_>, req: Request<'_>) -> Result<Created, Error> {
    // 0. Parse before calling anyone: a bad request costs nothing downstream.
    //
    // Then the steps, each numbered as in the module's diagram. Every `?` before step 3
    // returns with nothing written anywhere; every failure after step 3 goes through
    // `abandon_or_leave` or leaves the intent for the sweeper — never a bare `?` with a
    // lock that nobody would release.
    let lines = Lines::parse(req.items)?;
    let key = domain::parse_idempotency_key(req.idempotency_key)?;
    // The trace is filled as steps finish and returned only with success (see the handler).
    let mut trace = Trace::default();

    // 1 + 2. The token check and the price lookups side by side. Sequential, the chain
    // would cost 1 + N round trips; in parallel, about the slowest one (the lesson measures
    // it). The trade-off: a caller with a bad token still costs us N cached GetBooks —
    // cheap reads, bounded by MAX_LINES; a token check first would cost every honest
    // buyer a round trip instead.
    // lesson:parallel-lookups:start
    let started = Instant::now();
    let validate = timed(ctx.peers.validate(req.token));
    let books = futures::future::join_all(lines.iter().map(|(b, _)| timed(ctx.peers.book(b))));
    let ((identity, validate_took), books) = tokio::join!(validate, books);
    trace.push("ValidateToken", validate_took);
    // The token's verdict first: an anonymous caller learns nothing about which books exist.
    // (The GetBooks ran anyway, in parallel; only their answers are withheld.)
    let identity = identity?;
    // The first failing lookup decides the answer (book order, so the same request always
    // names the same book); the others' results are dropped, they wrote nothing.
    let mut snapshots = Vec::with_capacity(books.len());
    for (book, took) in books {
        let book = book?;
        trace.push(format!("GetBook-{}", book.book_id), took);
        snapshots.push(book);
    }
    // The wall time of both lookups together — what the parallelism buys, and what the
    // debug line below reports next to the number of lines.
    let lookups_took = started.elapsed();
    // lesson:parallel-lookups:end
    tracing::debug!(?lookups_took, lines = lines.len(), "token and books looked up");

    // 3. The intent: the order id, and the key claimed by a unique index. After the lookups,
    // not before: a request with a bad token or an unknown book never writes a row, and the
    // intent (the thing the sweeper must clean up) exists only for requests that will lock.
    // The key is claimed for *this user*: `identity.user_id` comes from user-service, so a
    // client cannot claim (or probe) another shopper's keys.
    let body = lines.canonical();
    let t = Instant::now();
    let claim = ctx.store.claim(identity.user_id, key.as_deref(), &body).await?;
    // A replay's trace ends here: claim is its last step, and it locked nothing.
    trace.push("claim", t.elapsed());
    // What the claim found decides the path (the key's three states × the body):
    //   Done      + same basket → answer that order, replayed; nothing locked
    //   Done      + other       → INVALID_ARGUMENT (a key names one request)
    //   InFlight  + same basket → resume the creation under its id
    //   InFlight  + other       → INVALID_ARGUMENT
    //   New                     → a fresh creation under the new id
    let id = match claim {
        Claim::Done(order) => {
            // Stripe's rule: a key is bound to the request it first came with. Compared as
            // the canonical basket, so the same lines in another order still match.
            if order.request_body != body {
                return Err(reused_key());
            }
            return Ok(Created { order, replayed: true, trace });
        }
        // A retry while the first attempt is still running — or after it crashed. Resuming
        // under the same id is safe: LockStock is idempotent per order id, and only one of
        // the two commits can delete the intent. (After a crash this is also what frees the
        // shopper from waiting for the sweeper: the retry finishes the dead attempt's work.)
        Claim::InFlight { id, request_body } if request_body == body => id,
        Claim::InFlight { .. } => return Err(reused_key()),
        // Ours: the id is reserved and, with a key, the key claimed — nothing else yet.
        Claim::New(id) => id,
    };

    // The total from the snapshots, in integer cents, before LockStock: an overflowing
    // total fails here with nothing locked (the intent it leaves is swept as stale).
    let items = priced_items(&lines, &snapshots);
    let total = domain::order_total(items.iter().map(|i| (i.price, i.quantity)))?;

    // 4. LockStock, then 5. the commit. From here on every failure goes through `abandon`.
    // LockStock is the only step with an effect outside order_db, and the only one whose
    // failure needs undoing; everything before it was reads and one INSERT of our own.
    // lesson:lock-then-compensate:start
    let t = Instant::now();
    let locked = ctx.peers.lock(id, &lines).await;
    // Recorded whether it succeeded or not, for the histogram: a slow refusal is as worth
    // seeing as a slow lock (the trace itself is only returned with a success).
    trace.push("LockStock", t.elapsed());
    if let Err(e) = locked {
        // A refusal (no stock) locked nothing, and a timeout may have locked everything:
        // one path for both, since releasing an order that holds nothing is a no-op.
        // Telling them apart would need inventory's answer, which a timeout does not have.
        abandon_or_leave(ctx, id, "order creation failed").await;
        return Err(e);
    }
    // lesson:lock-then-compensate:end
    // The crash window, made wide on purpose for the lab and `tests/crash.rs`: the lock is
    // held, the intent is in order_db, and nothing else has happened yet.
    if let Fault::PauseAfterLock(d) = req.fault {
        tracing::warn!(order_id = id, ?d, "lab fault: pausing with the stock locked");
        tokio::time::sleep(d).await;
    }
    // This process's clock for the date in the receipt number only; every time that rules
    // anything (creation, expiry) is MySQL's `NOW(3)`, written by the commit.
    let t = Instant::now();
    let order_no = domain::order_no(id, chrono::Utc::now());
    // Everything the commit needs, decided before it starts: the transaction itself only
    // writes, so it stays short and holds its locks for milliseconds.
    let new = NewOrder {
        id,
        order_no: &order_no,
        user_id: identity.user_id,
        total,
        key: key.as_deref(),
        request_body: &body,
        expires_in_secs: ctx.payment_window_secs,
        items: &items,
    };
    // The lab's failed commit is produced here, not inside the store: the path under test
    // is this function's error handling, and the store stays free of lab code.
    let committed = if req.fault == Fault::FailCommit {
        // UNAVAILABLE, as a real lost commit would be answered: the client may retry.
        Err(Error::Unavailable { peer: "order_db", detail: "lab fault: commit failed".into() })
    } else {
        ctx.store.commit_order(&new).await
    };
    // Timed from after the lab's pause: the step shows what MySQL took, not the fault.
    trace.push("commit", t.elapsed());
    let commit = Commit { id, user_id: identity.user_id, key: key.as_deref(), body: &body };
    answer_commit(ctx, &commit, committed, trace).await
}

/// What step 5's outcome needs to be answered: the order's id, its shopper, the key and
/// the canonical basket the request claimed.
struct Commit<'a> {
    id: u64,
    user_id: u64,
    key: Option<&'a str>,
    body: &'a str,
}

/// Step 5's outcome turned into the answer. Each arm leaves the stock either owned by a
/// committed order or released: never a lock held by no order (DESIGN §4, nothing lost).
async fn answer_commit(
    ctx: &Ctx<'_>,
    c: &Commit<'_>,
    committed: Result<Option<OrderRow>, Error>,
    trace: Trace,
) -> Result<Created, Error> {
    let Commit { id, user_id, key, body } = *c;
    match committed {
        // The normal end: the order owns the lock, and the intent is gone with the commit.
        Ok(Some(order)) => {
            metrics::counter!("orders_created_total").increment(1);
            Ok(Created { order, replayed: false, trace })
        }
        // The intent was gone: a concurrent retry with the same key committed first (then
        // the order exists and is ours to return), or the sweeper gave up on this creation
        // (then our lock was released, and committing would sell stock we no longer hold).
        Ok(None) => match ctx.store.get(id).await? {
            // Answered as a replay: this request did not create it, a twin did.
            Some(order) => Ok(Created { order, replayed: true, trace }),
            None => Err(Error::Aborted(
                "order creation took too long and was rolled back; retry".into(),
            )),
        },
        // Another request with our key committed first (under its own intent): ours is
        // undone, and the caller gets that order — the same answer as any other replay.
        Err(Error::KeyTaken) => {
            // Our intent's lock is released first: the other order holds its own lock, and
            // ours must not be left behind as a second hold on the same units.
            abandon_or_leave(ctx, id, "duplicate idempotency key").await;
            let key = key.unwrap_or_default();
            match ctx.store.find_by_key(user_id, key).await? {
                Some(order) if order.request_body == body => {
                    Ok(Created { order, replayed: true, trace })
                }
                Some(_) => Err(reused_key()),
                // The order that took the key is not visible (yet, or any more): let the
                // client retry, which will find the settled state.
                None => Err(Error::Aborted("idempotency key is changing state; retry".into())),
            }
        }
        Err(e) => {
            // The commit may have failed *or* succeeded with its reply lost. `abandon`
            // decides by the intent row, under its lock: present → not committed → release.
            abandon_or_leave(ctx, id, "order insert failed").await;
            Err(e)
        }
    }
}

/// Gives up on the creation of order `id`: releases its lock and deletes its intent — only
/// if the intent is still there, checked under the intent's row lock. `reason` travels to
/// inventory's ledger with the release. Returns whether it
/// released anything (false: the order committed, or someone else abandoned it already).
///
/// Shared by the failure paths above and the sweeper, so "undo a creation" has one
/// implementation. Holding `FOR UPDATE` on the intent across the ReleaseStock call is what
/// serialises it with `commit_order`'s DELETE: that commit waits, then finds 0 rows and
/// writes nothing. ❌ DON'T release first and delete the intent after without the lock: a
/// commit slipping in between would leave an order whose stock was just given back.
// lesson:abandon:start
pub async fn abandon(store: &Store, peers: &Peers, id: u64, reason: &str) -> Result<bool, Error> {
    // A transaction only for the lock: it writes one DELETE, but it must hold the intent
    // from the check until that DELETE, across the ReleaseStock call.
    let mut tx = store.pool().begin().await?;
    let present: Option<u64> =
        sqlx::query_scalar("SELECT id FROM order_intents WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    // Gone: committed as an order (which owns the lock) or abandoned by someone else
    // (who released it). Either way there is nothing for us to release.
    if present.is_none() {
        tx.rollback().await?;
        return Ok(false);
    }
    // If this fails, the transaction rolls back and the intent stays for the next sweep.
    // The row lock is held across this RPC (bounded by the peer deadline): the price of
    // the guarantee, paid only on failure paths, never by a successful creation.
    peers.release(id, reason).await?;
    sqlx::query("DELETE FROM order_intents WHERE id = ?").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}
// lesson:abandon:end

/// [`abandon`] on a request's failure path. If it fails too (inventory or MySQL down), the
/// intent stays and the sweeper retries — the request still answers with its first error,
/// which is what the caller needs to know.
///
/// ❌ DON'T let the compensation's error replace the original one: "inventory unavailable"
/// in answer to "not enough stock" would send the client into retries that can never
/// succeed, and hide the real reason.
async fn abandon_or_leave(ctx: &Ctx<'_>, id: u64, reason: &str) {
    match abandon(ctx.store, ctx.peers, id, reason).await {
        // Released now, or nothing left to release (committed or abandoned elsewhere):
        // either way this request has nothing more to undo.
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(order_id = id, error = %e, "compensation failed; the sweeper will release the lock")
        }
    }
}

/// The answer to a key reused with another basket: INVALID_ARGUMENT, a client bug. Not the
/// old order (the client asked for something else) and not a new one (the key is taken).
fn reused_key() -> Error {
    Error::InvalidArgument("idempotency key was already used with a different request".into())
}

// lesson:price-snapshot:start
/// The lines with the snapshot's title and price (both in book-id order).
///
/// `zip` pairs them by position, which is correct because both come from the same
/// `Lines::iter` (the snapshots were fetched in that order by `join_all`, which keeps it).
fn priced_items(lines: &Lines, books: &[BookSnapshot]) -> Vec<ItemRow> {
    lines
        .iter()
        .zip(books)
        .map(|((book_id, quantity), b)| ItemRow {
            book_id,
            title: b.title.clone(),
            quantity,
            price: b.price,
        })
        .collect()
}
// lesson:price-snapshot:end

/// Runs `f` and measures it, for the trace. Each future measures itself, so the parallel
/// lookups' durations are each one's own, not the time until `join` saw them.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let out = f.await;
    (out, t.elapsed())
}
