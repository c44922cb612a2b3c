//! The order lifecycle over gRPC: lock → release, lock → confirm, direct decrement,
//! retries that change nothing, bad input that changes nothing, expiry, the audit log,
//! and conservation under a concurrent random workload.
//!
//! Every test talks to a real server over gRPC, backed by the real MariaDB and Redis, and
//! most end with `assert_ledger_matches`: after the calls, the syncer must have brought
//! MySQL to exactly the same counters as Redis. So each test checks two things — the
//! answer the caller sees, and that the ledger tells the same story.

mod common;

use std::time::Duration;

use bookstore_proto::inventory as pb;
use common::{Client, item, spawn_app};
use tonic::Code;

// Request builders: each test reads as the sequence of calls an order goes through.
fn lock(order_id: u64, items: Vec<pb::StockItem>) -> pb::LockStockRequest {
    pb::LockStockRequest { order_id, items }
}

fn release(order_id: u64) -> pb::ReleaseStockRequest {
    pb::ReleaseStockRequest { order_id, reason: "cancelled".into() }
}

fn confirm(order_id: u64) -> pb::DecrStockRequest {
    pb::DecrStockRequest { order_id, items: vec![] }
}

/// An IncrStock request for `quantity` of `book_id` with the given idempotency key.
fn incr(book_id: u64, quantity: i32, request_id: &str) -> pb::IncrStockRequest {
    pb::IncrStockRequest { book_id, quantity, request_id: request_id.into(), remark: String::new() }
}

/// (available, locked, sold, total): the four counters as one comparable value.
fn counters(s: &pb::Stock) -> (i64, i64, i64, i64) {
    (s.available, s.locked, s.sold, s.total)
}

/// Lock moves units to locked; release returns them; retrying either changes nothing.
///
/// The bug it catches: a lock script without the order record. The retried LockStock
/// would lock 3 + 5 more units, and the one release would return only one set — stock
/// that nobody bought would sit in `locked` forever.
#[tokio::test]
async fn lock_then_release_returns_the_units_and_retries_are_no_ops() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    app.restock(2, 5).await;

    // Counters are (available, locked, sold, total). Book 2's lock takes its last 5:
    // "exactly enough" must succeed (`>=`, not `>`).
    let r = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap().into_inner();
    assert!(!r.replayed);
    assert_eq!(counters(&r.stocks[0]), (7, 3, 0, 10));
    assert_eq!(counters(&r.stocks[1]), (0, 5, 0, 5));

    // The retry order-service sends when the first reply is lost in the network: the
    // same order id and the same items, which is what makes it a replay and not a change.
    let again = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap().into_inner();
    assert!(again.replayed, "a retried lock is a replay");
    // Read back, not taken from the replay's answer: a script that locked again but still
    // said `replayed` would show (4, 6, 0, 10) here.
    assert_eq!(counters(&app.stock(1).await), (7, 3, 0, 10));

    // Release names only the order; the record says what goes back.
    let rel = c.release_stock(release(100)).await.unwrap().into_inner();
    assert_eq!(rel.released.len(), 2);
    assert!(!rel.replayed);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
    assert_eq!(counters(&app.stock(2).await), (5, 0, 0, 5));

    // A second cancellation (user double-click, or the sweeper racing a cancel): answered
    // as a replay with nothing released, so a caller can repeat a cancel without fear.
    let rel2 = c.release_stock(release(100)).await.unwrap().into_inner();
    assert!(rel2.replayed && rel2.released.is_empty());
    // A late LockStock retry for the released order must not lock again.
    let late = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
    app.assert_ledger_matches().await;
}

/// A retry must repeat the request: the same order id with other items is refused, not
/// answered `replayed`, and nothing moves.
///
/// The bug it catches: a lock script that treats any second LockStock of an order as a
/// replay. A client that reused an order id for a different basket would be told its
/// books were reserved when they were not — Stripe's rule for idempotency keys is the
/// same: one key, one request; a key reused with other parameters is an error.
#[tokio::test]
async fn a_retry_with_different_items_is_refused_not_replayed() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    app.restock(2, 10).await;
    c.lock_stock(lock(50, vec![item(1, 2)])).await.unwrap();

    // Another quantity, another book, an extra line: each is a different request, and each
    // catches a narrower comparison that would wrongly call it a replay: books only,
    // quantities only, or only the lines the record already has.
    for other in [vec![item(1, 3)], vec![item(2, 2)], vec![item(1, 2), item(2, 1)]] {
        let err = c.lock_stock(lock(50, other)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
        assert!(err.message().contains("different items"), "{}", err.message());
    }
    // The exact retry is still a replay, and the counters never moved.
    assert!(c.lock_stock(lock(50, vec![item(1, 2)])).await.unwrap().into_inner().replayed);
    assert_eq!(counters(&app.stock(1).await), (8, 2, 0, 10));
    assert_eq!(counters(&app.stock(2).await), (10, 0, 0, 10));
    app.assert_ledger_matches().await;
}

/// Lock then confirm turns locked units into sold ones; a retried confirm is a no-op,
/// and a release after the confirm is refused without touching the counters.
///
/// The bug it catches: a settle script that does not look at the record's state. A
/// cancellation arriving after payment would put sold books back on sale.
#[tokio::test]
async fn lock_then_confirm_sells_the_locked_units_exactly_once() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(7, vec![item(1, 4)])).await.unwrap();

    // Payment succeeded: DecrStock with no items confirms the reservation.
    let done = c.decr_stock(confirm(7)).await.unwrap().into_inner();
    assert!(!done.replayed);
    assert_eq!(counters(&done.stocks[0]), (6, 0, 4, 10));
    // payment-service's callback delivered twice: the second confirm is a replay, and the
    // four units are sold once.
    let again = c.decr_stock(confirm(7)).await.unwrap().into_inner();
    assert!(again.replayed);
    // Cancel after pay is a refund flow, not a stock release: refused, nothing moves.
    let err = c.release_stock(release(7)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(counters(&app.stock(1).await), (6, 0, 4, 10));
    app.assert_ledger_matches().await;
}

/// Releasing or confirming an order that never locked anything changes nothing.
///
/// The bug it catches: a release that trusts the caller's quantities, or that runs
/// `HINCRBY locked -q` without checking — stock minted from nothing, `locked` negative.
#[tokio::test]
async fn settling_an_order_that_never_locked_changes_nothing() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    // Order 999 never locked anything: both settles answer "nothing done", not an error,
    // and not "replayed" (there was no earlier call to replay).
    let r = c.release_stock(release(999)).await.unwrap().into_inner();
    assert!(r.released.is_empty() && !r.replayed);
    let d = c.decr_stock(confirm(999)).await.unwrap().into_inner();
    assert!(d.stocks.is_empty() && !d.replayed);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
}

/// Direct decrement: all-or-nothing across items, idempotent per order id.
///
/// The bug it catches: a script that checks and decrements line by line. Book 1 would be
/// decremented before book 2 is found short, and the refused order would still have
/// taken two copies of book 1.
#[tokio::test]
async fn direct_decrement_is_all_or_nothing_and_idempotent() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    app.restock(2, 1).await;
    let decr = |order_id, items| pb::DecrStockRequest { order_id, items };

    // Book 2 lacks stock, so book 1 is not touched either.
    let err = c.decr_stock(decr(1, vec![item(1, 2), item(2, 2)])).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("book 2"), "{}", err.message());
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));

    // Now a decrement that fits: both lines at once, and then its retry.
    let ok = c.decr_stock(decr(2, vec![item(1, 2), item(2, 1)])).await.unwrap().into_inner();
    assert!(!ok.replayed);
    let again = c.decr_stock(decr(2, vec![item(1, 2), item(2, 1)])).await.unwrap().into_inner();
    assert!(again.replayed);
    assert_eq!(counters(&app.stock(1).await), (8, 0, 2, 10));
    assert_eq!(counters(&app.stock(2).await), (0, 0, 1, 1));
    app.assert_ledger_matches().await;
}

/// A retried IncrStock (same request id) adds the units once.
///
/// The bug it catches: a restock without the request marker — a return processed twice
/// (the message was redelivered) adds units that are not on the shelf.
#[tokio::test]
async fn a_retried_restock_adds_the_units_once() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    // Book 5 was never stocked, so the first call also creates it: the replay is checked
    // on the path that makes a book exist (the seed's and PublishBook's), where a lost
    // marker would read (14, 0, 0, 14) below.
    let req = incr(5, 7, "return-order-42");
    let first = c.incr_stock(req.clone()).await.unwrap().into_inner();
    let second = c.incr_stock(req).await.unwrap().into_inner();
    assert!(!first.replayed && second.replayed);
    assert_eq!(counters(&app.stock(5).await), (7, 0, 0, 7));
}

/// GetStocks answers many books in one call: known books with their counters, in the
/// order asked, repeats once, unknown books left out; no ids, 101 ids or an id 0 are
/// INVALID_ARGUMENT.
///
/// The bugs it catches: a batch that fails as a whole on one unknown book — the catalog
/// asks for a page of 20 at once, so one title without inventory would blank the stock of
/// the other 19 — and a batch read that answers stored counters instead of live ones.
#[tokio::test]
async fn get_stocks_answers_known_books_in_one_call_and_refuses_bad_batches() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(11, 4).await;
    app.restock(12, 9).await;
    // A sale first, so the answer must carry live counters (sold 2), not the restock's.
    c.decr_stock(pb::DecrStockRequest { order_id: 5, items: vec![item(12, 2)] }).await.unwrap();
    // 999 was never stocked and 12 is asked twice: the answer keeps 12 first (its first
    // mention), once, and leaves 999 out instead of failing the whole page.
    let r = c
        .get_stocks(pb::GetStocksRequest { book_ids: vec![12, 999, 11, 12] })
        .await
        .unwrap()
        .into_inner();
    let got: Vec<_> = r.stocks.iter().map(|s| (s.book_id, s.available, s.sold)).collect();
    assert_eq!(got, [(12, 7, 2), (11, 4, 0)]);
    // The three edges: nothing asked, one id past the cap of 100, and a bad id *after*
    // a good one (a check that stopped at the first valid id would let it through).
    for bad in [vec![], (1..=101).collect(), vec![11, 0]] {
        let err = c.get_stocks(pb::GetStocksRequest { book_ids: bad }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    }
}

/// Every malformed request gets a clear code and leaves stock and ledger untouched.
///
/// Bad input must be refused *before* the script runs: a quantity of -3 that reached
/// decr.lua would pass `avail >= -3` and add three units. "Above i32" cannot be sent at all
/// (the proto field is int32); `i32::MAX` and 10,001 stand in for it, and the domain unit
/// tests cover wider values. The log count at the end proves nothing reached the ledger
/// but the one restock.
#[tokio::test]
async fn bad_input_is_refused_with_a_clear_code_and_changes_nothing() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    // After the one restock: every refused call below must leave exactly these counters.
    let before = counters(&app.stock(1).await);

    // Each case names the rule it breaks and the code a caller should get:
    // InvalidArgument = fix your request; NotFound = that book has no inventory;
    // FailedPrecondition = a valid request the current stock cannot honour.
    let cases: Vec<(&str, pb::LockStockRequest, Code)> = vec![
        ("quantity 0", lock(1, vec![item(1, 0)]), Code::InvalidArgument),
        ("negative", lock(1, vec![item(1, -3)]), Code::InvalidArgument),
        ("above range", lock(1, vec![item(1, 10_001)]), Code::InvalidArgument),
        ("i32::MAX", lock(1, vec![item(1, i32::MAX)]), Code::InvalidArgument),
        ("empty list", lock(1, vec![]), Code::InvalidArgument),
        ("same book twice", lock(1, vec![item(1, 1), item(1, 1)]), Code::InvalidArgument),
        ("order id 0", lock(0, vec![item(1, 1)]), Code::InvalidArgument),
        ("book id 0", lock(1, vec![item(0, 1)]), Code::InvalidArgument),
        // The unknown book comes second, after a valid line: the final counter check then
        // proves that line was not locked before the script found the unknown one.
        ("unknown book", lock(1, vec![item(1, 1), item(424242, 1)]), Code::NotFound),
        // 11 of 10: one past "exactly enough", the boundary the first test checks from below.
        ("more than stock", lock(1, vec![item(1, 11)]), Code::FailedPrecondition),
    ];
    for (what, req, code) in cases {
        let err = c.lock_stock(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        // The same lines as a direct decrement: both forms share one validation path. (An
        // empty list is not a bad decrement — it is the confirm form — so it is skipped.)
        let direct = pb::DecrStockRequest { order_id: req.order_id, items: req.items };
        if !direct.items.is_empty() {
            let err = c.decr_stock(direct).await.unwrap_err();
            assert_eq!(err.code(), code, "decr {what}: {}", err.message());
        }
    }
    // "Clear" means the message states the rule, so the caller can fix the request.
    let err = c.lock_stock(lock(1, vec![item(1, 0)])).await.unwrap_err();
    assert!(err.message().contains("between 1 and 10000"), "{}", err.message());
    // IncrStock has the same quantity rule, and needs its idempotency key.
    for (quantity, request_id) in [(0, "r1"), (-1, "r2"), (20_000, "r3"), (1, "")] {
        let req = incr(1, quantity, request_id);
        assert_eq!(c.incr_stock(req).await.unwrap_err().code(), Code::InvalidArgument);
    }
    let err = c.get_stock(pb::GetStockRequest { book_id: 77 }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    assert_eq!(counters(&app.stock(1).await), before);
    // Only the restock reached the ledger.
    app.assert_ledger_matches().await;
    // Page size 0 reads as the default; `total` counts every row of the book regardless.
    let log = c
        .get_stock_log(pb::GetStockLogRequest { book_id: 1, page: 1, page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(log.total, 1);
}

/// The sweeper releases reservations older than the payment window, and only those.
///
/// `sweep_once` is called directly with a tiny window rather than waiting 15 minutes (or
/// even one second): the test exercises the real query and the real settle script, and
/// stays fast. A payment that arrives after the expiry is refused — the units are back on
/// sale, possibly already sold to someone else.
///
/// Each step catches its own bug: the first sweep a cutoff that releases too early (a
/// buyer still paying loses the stock), the second one that never releases (abandoned
/// carts hold stock for ever), and the late payment a sweep that moved the counters but
/// left the record "locked", which the confirm would then turn into a sale of units
/// already back on the shelf.
#[tokio::test]
async fn reservations_past_the_payment_window_are_released_by_the_sweeper() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(11, vec![item(1, 3)])).await.unwrap();
    let store = app.store().await;

    // With the real 15-minute window, a reservation made a moment ago is not due.
    let window = Duration::from_secs(900);
    assert_eq!(
        bookstore_inventory::sweeper::sweep_once(&store, window).await.unwrap(),
        0,
        "a fresh reservation is inside its window"
    );
    // With a 10 ms window and 30 ms waited, it is overdue and gets released. The margin
    // absorbs the whole-millisecond cutoff; a slower machine only makes it more overdue.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let short = Duration::from_millis(10);
    assert_eq!(bookstore_inventory::sweeper::sweep_once(&store, short).await.unwrap(), 1);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
    // Payment arriving after the expiry is refused, not sold from thin air.
    let late = c.decr_stock(confirm(11)).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    app.assert_ledger_matches().await;
}

/// The audit log pages newest first, with the course's type codes.
///
/// Type codes: 1 lock, 2 release, 3 decrement, 4 increment — the course's table. Quantity
/// is signed: the restock shows +10, the direct sale -1.
///
/// The bugs it catches: an offset that forgets page 1 starts at 0 (the newest rows would
/// never be shown), an order by anything but insertion order, and unsigned quantities
/// (a sale and a restock of the same size would read alike to an auditor).
#[tokio::test]
async fn the_stock_log_pages_newest_first() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(1, vec![item(1, 2)])).await.unwrap();
    c.release_stock(release(1)).await.unwrap();
    c.decr_stock(pb::DecrStockRequest { order_id: 2, items: vec![item(1, 1)] }).await.unwrap();
    // The log is written by the syncer; waiting for Reconcile means it has caught up.
    app.assert_ledger_matches().await;

    // Four changes were made, so: page 1 (size 2) holds the two newest — the direct sale
    // (3) and the release (2) — and page 2 the lock (1) and the restock (4).
    // "Newest" is by row id, the order the syncer inserted them in (stream order): the
    // four changes can share a millisecond, and sorting by `created_at` would then leave
    // the page order to chance — this test would flake instead of failing.
    let page = |page, page_size| pb::GetStockLogRequest { book_id: 1, page, page_size };
    let first = c.get_stock_log(page(1, 2)).await.unwrap().into_inner();
    assert_eq!(first.total, 4);
    let types: Vec<i32> = first.logs.iter().map(|l| l.r#type).collect();
    assert_eq!(types, [3, 2]);
    assert_eq!(first.logs[0].quantity, -1);
    let second = c.get_stock_log(page(2, 2)).await.unwrap().into_inner();
    let types: Vec<i32> = second.logs.iter().map(|l| l.r#type).collect();
    assert_eq!(types, [1, 4]);
    assert_eq!(second.logs[1].quantity, 10);
}

/// One random client: locks, releases, confirms, direct sales, restocks and retries.
///
/// The mix leans on what breaks conservation in practice: concurrent locks on shared
/// books (two-line orders overlap with single-line ones), settles racing new locks, and
/// 20 % of calls retried with the same id. Refusals are expected (sold out, already
/// settled: FAILED_PRECONDITION) and counted; any other error panics the worker. Returns
/// (calls answered OK, calls refused), so the test can tell a workload from a wall of errors.
async fn random_client(mut c: Client, worker: u64, books: u64, ops: usize) -> (usize, usize) {
    use rand::Rng;
    let (mut oks, mut refused) = (0, 0);
    // A workload where every call failed would conserve stock trivially: the tally proves
    // the calls did something, and a transport or INTERNAL error fails the test loudly.
    let mut tally = |r: Result<(), tonic::Status>| match r {
        Ok(()) => {
            oks += 1;
            true
        }
        Err(s) if s.code() == Code::FailedPrecondition => {
            refused += 1;
            false
        }
        Err(s) => panic!("worker {worker}: an unexpected error: {s:?}"),
    };
    // Orders this client locked and has not settled yet (it settles its own orders only,
    // as order-service does).
    let mut mine: Vec<u64> = Vec::new();
    for i in 0..ops {
        let (dice, book, qty, retry) = {
            // `rand::rng()` is not Send; keep it out of scope across the awaits below.
            let mut rng = rand::rng();
            let dice = rng.random_range(0..100);
            (dice, rng.random_range(1..=books), rng.random_range(1..=3), rng.random_bool(0.2))
        };
        // How many times to send the same request: 1, or 2 when this one is "retried".
        // Sent back to back on the same client, so the retry can arrive while the first
        // call's effects are still fresh — the case a marker written late would miss.
        let sends = 1 + usize::from(retry);
        // Disjoint per worker (ops < 1,000,000): a "replay" is always this client's own
        // retry, never another client's order that happens to share the id.
        let order = worker * 1_000_000 + i as u64;
        match dice {
            // 35 %: lock; two-line orders overlap with others on the neighbouring book.
            0..35 => {
                let mut items = vec![item(book, qty)];
                if book < books {
                    items.push(item(book + 1, 1));
                }
                for n in 0..sends {
                    let locked = tally(c.lock_stock(lock(order, items.clone())).await.map(|_| ()));
                    if locked && n == 0 {
                        mine.push(order);
                    }
                }
            }
            // 20 %: cancel one of my orders; 20 %: pay for one.
            35..75 => {
                // The newest of my orders (`pop`): settles then chase locks made moments
                // ago, while other clients still lock the same books.
                let Some(o) = mine.pop() else { continue };
                for _ in 0..sends {
                    tally(if dice < 55 {
                        c.release_stock(release(o)).await.map(|_| ())
                    } else {
                        c.decr_stock(confirm(o)).await.map(|_| ())
                    });
                }
            }
            // 17 %: a direct sale.
            75..92 => {
                let req = pb::DecrStockRequest { order_id: order, items: vec![item(book, qty)] };
                for _ in 0..sends {
                    tally(c.decr_stock(req.clone()).await.map(|_| ()));
                }
            }
            // 8 %: a restock.
            _ => {
                // One request id per operation: its retry is a replay, the next one a restock.
                let req = incr(book, qty, &format!("w{worker}-{i}"));
                for _ in 0..sends {
                    tally(c.incr_stock(req.clone()).await.map(|_| ()));
                }
            }
        }
    }
    (oks, refused)
}

/// Under 32 concurrent random clients, every observed stock is conserved and never
/// negative, and at the end Redis and MySQL agree book by book.
///
/// "At every instant" is checked by sampling GetStock while the workers run: a script
/// that wrote `avail` and `locked` with two separate non-atomic commands would sooner or
/// later be caught between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conservation_holds_under_a_long_random_concurrent_workload() {
    const BOOKS: u64 = 5;
    let app = spawn_app().await;
    // 40 a book is little for 32 clients: books run short during the run, so the sold-out
    // paths race the sales too, and the restocks keep refilling them.
    for b in 1..=BOOKS {
        app.restock(b, 40).await;
    }
    // 32 clients × 150 operations, plus retries: a few thousand calls in about a second.
    // Four runtime threads for 32 tasks: the calls really overlap on the server, which is
    // what gives a non-atomic update (two commands from the client instead of one script)
    // the chance to be caught between its halves.
    let workers: Vec<_> =
        (1..=32).map(|w| tokio::spawn(random_client(app.client.clone(), w, BOOKS, 150))).collect();
    // Meanwhile, sample the counters: conserved at every instant, not just at the end.
    let mut samples = 0;
    while workers.iter().any(|w| !w.is_finished()) {
        for b in 1..=BOOKS {
            let s = app.stock(b).await;
            assert_eq!(s.available + s.locked + s.sold, s.total, "{s:?}");
            assert!(s.available >= 0 && s.locked >= 0, "{s:?}");
            samples += 1;
        }
    }
    // Each worker returns its OK and refused counts; any other answer fails it, and a
    // panic inside a worker (a transport error, say) surfaces at this join. Without the
    // counts, a workload whose every call failed would still pass (conserved counters that
    // never moved): the samples and the final Reconcile prove conservation, these prove
    // that the mix ran.
    let (mut oks, mut refused) = (0, 0);
    for w in workers {
        let (o, r) = w.await.unwrap();
        (oks, refused) = (oks + o, refused + r);
    }
    // 4,800 operations send about 5,000 calls; restocks, my own settles and replayed
    // retries always succeed, so well over 1,000 answer OK (about 3,000 in practice).
    assert!(oks >= 1_000, "only {oks} calls succeeded ({refused} refused as sold out/settled)");
    // Had the workers finished before the first sample, the test would prove nothing.
    assert!(samples > 0);
    for b in 1..=BOOKS {
        let s = app.stock(b).await;
        assert_eq!(s.available + s.locked + s.sold, s.total, "{s:?}");
    }
    // `checked == BOOKS`: Reconcile compared every book, so an empty snapshot (a wrong
    // prefix, say) cannot pass as "no drift".
    assert_eq!(app.assert_ledger_matches().await, BOOKS);
}
