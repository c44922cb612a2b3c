//! The order lifecycle over gRPC: lock → release, lock → confirm, direct decrement,
//! retries that change nothing, bad input that changes nothing, expiry, the audit log,
//! and conservation under a concurrent random workload.

mod common;

use std::time::Duration;

use bookstore_proto::inventory as pb;
use common::{Client, item, spawn_app};
use tonic::Code;

fn lock(order_id: u64, items: Vec<pb::StockItem>) -> pb::LockStockRequest {
    pb::LockStockRequest { order_id, items }
}

fn release(order_id: u64) -> pb::ReleaseStockRequest {
    pb::ReleaseStockRequest { order_id, reason: "cancelled".into() }
}

fn confirm(order_id: u64) -> pb::DecrStockRequest {
    pb::DecrStockRequest { order_id, items: vec![] }
}

fn counters(s: &pb::Stock) -> (i64, i64, i64, i64) {
    (s.available, s.locked, s.sold, s.total)
}

/// Lock moves units to locked; release returns them; retrying either changes nothing.
#[tokio::test]
async fn lock_then_release_returns_the_units_and_retries_are_no_ops() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    app.restock(2, 5).await;

    let r = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap().into_inner();
    assert!(!r.replayed);
    assert_eq!(counters(&r.stocks[0]), (7, 3, 0, 10));
    assert_eq!(counters(&r.stocks[1]), (0, 5, 0, 5));

    let again = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap().into_inner();
    assert!(again.replayed, "a retried lock is a replay");
    assert_eq!(counters(&app.stock(1).await), (7, 3, 0, 10));

    let rel = c.release_stock(release(100)).await.unwrap().into_inner();
    assert_eq!(rel.released.len(), 2);
    assert!(!rel.replayed);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
    assert_eq!(counters(&app.stock(2).await), (5, 0, 0, 5));

    let rel2 = c.release_stock(release(100)).await.unwrap().into_inner();
    assert!(rel2.replayed && rel2.released.is_empty());
    // A late LockStock retry for the released order must not lock again.
    let late = c.lock_stock(lock(100, vec![item(1, 3), item(2, 5)])).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
    app.assert_ledger_matches().await;
}

/// Lock then confirm turns locked units into sold ones; a retried confirm is a no-op,
/// and a release after the confirm is refused without touching the counters.
#[tokio::test]
async fn lock_then_confirm_sells_the_locked_units_exactly_once() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(7, vec![item(1, 4)])).await.unwrap();

    let done = c.decr_stock(confirm(7)).await.unwrap().into_inner();
    assert!(!done.replayed);
    assert_eq!(counters(&done.stocks[0]), (6, 0, 4, 10));
    let again = c.decr_stock(confirm(7)).await.unwrap().into_inner();
    assert!(again.replayed);
    let err = c.release_stock(release(7)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(counters(&app.stock(1).await), (6, 0, 4, 10));
    app.assert_ledger_matches().await;
}

/// Releasing or confirming an order that never locked anything changes nothing.
#[tokio::test]
async fn settling_an_order_that_never_locked_changes_nothing() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    let r = c.release_stock(release(999)).await.unwrap().into_inner();
    assert!(r.released.is_empty() && !r.replayed);
    let d = c.decr_stock(confirm(999)).await.unwrap().into_inner();
    assert!(d.stocks.is_empty() && !d.replayed);
    assert_eq!(counters(&app.stock(1).await), (10, 0, 0, 10));
}

/// Direct decrement: all-or-nothing across items, idempotent per order id.
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

    let ok = c.decr_stock(decr(2, vec![item(1, 2), item(2, 1)])).await.unwrap().into_inner();
    assert!(!ok.replayed);
    let again = c.decr_stock(decr(2, vec![item(1, 2), item(2, 1)])).await.unwrap().into_inner();
    assert!(again.replayed);
    assert_eq!(counters(&app.stock(1).await), (8, 0, 2, 10));
    assert_eq!(counters(&app.stock(2).await), (0, 0, 1, 1));
    app.assert_ledger_matches().await;
}

/// A retried IncrStock (same request id) adds the units once.
#[tokio::test]
async fn a_retried_restock_adds_the_units_once() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    let req = pb::IncrStockRequest {
        book_id: 5,
        quantity: 7,
        request_id: "return-order-42".into(),
        remark: "return".into(),
    };
    let first = c.incr_stock(req.clone()).await.unwrap().into_inner();
    let second = c.incr_stock(req).await.unwrap().into_inner();
    assert!(!first.replayed && second.replayed);
    assert_eq!(counters(&app.stock(5).await), (7, 0, 0, 7));
}

/// Every malformed request gets a clear code and leaves stock and ledger untouched.
#[tokio::test]
async fn bad_input_is_refused_with_a_clear_code_and_changes_nothing() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    let before = counters(&app.stock(1).await);

    let cases: Vec<(&str, pb::LockStockRequest, Code)> = vec![
        ("quantity 0", lock(1, vec![item(1, 0)]), Code::InvalidArgument),
        ("negative", lock(1, vec![item(1, -3)]), Code::InvalidArgument),
        ("above range", lock(1, vec![item(1, 10_001)]), Code::InvalidArgument),
        ("i32::MAX", lock(1, vec![item(1, i32::MAX)]), Code::InvalidArgument),
        ("empty list", lock(1, vec![]), Code::InvalidArgument),
        ("same book twice", lock(1, vec![item(1, 1), item(1, 1)]), Code::InvalidArgument),
        ("order id 0", lock(0, vec![item(1, 1)]), Code::InvalidArgument),
        ("book id 0", lock(1, vec![item(0, 1)]), Code::InvalidArgument),
        ("unknown book", lock(1, vec![item(1, 1), item(424242, 1)]), Code::NotFound),
        ("more than stock", lock(1, vec![item(1, 11)]), Code::FailedPrecondition),
    ];
    for (what, req, code) in cases {
        let err = c.lock_stock(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        let direct = pb::DecrStockRequest { order_id: req.order_id, items: req.items };
        if !direct.items.is_empty() {
            let err = c.decr_stock(direct).await.unwrap_err();
            assert_eq!(err.code(), code, "decr {what}: {}", err.message());
        }
    }
    let err = c.lock_stock(lock(1, vec![item(1, 0)])).await.unwrap_err();
    assert!(err.message().contains("between 1 and 10000"), "{}", err.message());
    for (quantity, request_id) in [(0, "r1"), (-1, "r2"), (20_000, "r3"), (1, "")] {
        let err = c
            .incr_stock(pb::IncrStockRequest {
                book_id: 1,
                quantity,
                request_id: request_id.into(),
                remark: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    let err = c.get_stock(pb::GetStockRequest { book_id: 77 }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    assert_eq!(counters(&app.stock(1).await), before);
    // Only the restock reached the ledger.
    app.assert_ledger_matches().await;
    let log = c
        .get_stock_log(pb::GetStockLogRequest { book_id: 1, page: 1, page_size: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(log.total, 1);
}

/// The sweeper releases reservations older than the payment window, and only those.
#[tokio::test]
async fn reservations_past_the_payment_window_are_released_by_the_sweeper() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(11, vec![item(1, 3)])).await.unwrap();
    let store = app.store().await;

    let window = Duration::from_secs(900);
    assert_eq!(
        bookstore_inventory::sweeper::sweep_once(&store, window).await.unwrap(),
        0,
        "a fresh reservation is inside its window"
    );
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
#[tokio::test]
async fn the_stock_log_pages_newest_first() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    app.restock(1, 10).await;
    c.lock_stock(lock(1, vec![item(1, 2)])).await.unwrap();
    c.release_stock(release(1)).await.unwrap();
    c.decr_stock(pb::DecrStockRequest { order_id: 2, items: vec![item(1, 1)] }).await.unwrap();
    app.assert_ledger_matches().await;

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
async fn random_client(mut c: Client, worker: u64, books: u64, ops: usize) {
    use rand::Rng;
    let mut mine: Vec<u64> = Vec::new();
    for i in 0..ops {
        let (dice, book, qty, retry) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..100),
                rng.random_range(1..=books),
                rng.random_range(1..=3),
                rng.random_bool(0.2),
            )
        };
        let order = worker * 1_000_000 + i as u64;
        match dice {
            0..35 => {
                let items = if book < books {
                    vec![item(book, qty), item(book + 1, 1)]
                } else {
                    vec![item(book, qty)]
                };
                if c.lock_stock(lock(order, items.clone())).await.is_ok() {
                    mine.push(order);
                    if retry {
                        let _ = c.lock_stock(lock(order, items)).await;
                    }
                }
            }
            35..55 => {
                if let Some(o) = mine.pop() {
                    let _ = c.release_stock(release(o)).await;
                    if retry {
                        let _ = c.release_stock(release(o)).await;
                    }
                }
            }
            55..75 => {
                if let Some(o) = mine.pop() {
                    let _ = c.decr_stock(confirm(o)).await;
                    if retry {
                        let _ = c.decr_stock(confirm(o)).await;
                    }
                }
            }
            75..92 => {
                let req = pb::DecrStockRequest { order_id: order, items: vec![item(book, qty)] };
                let _ = c.decr_stock(req.clone()).await;
                if retry {
                    let _ = c.decr_stock(req).await;
                }
            }
            _ => {
                let req = pb::IncrStockRequest {
                    book_id: book,
                    quantity: qty,
                    request_id: format!("w{worker}-{i}"),
                    remark: String::new(),
                };
                let _ = c.incr_stock(req.clone()).await;
                if retry {
                    let _ = c.incr_stock(req).await;
                }
            }
        }
    }
}

/// Under 32 concurrent random clients, every observed stock is conserved and never
/// negative, and at the end Redis and MySQL agree book by book.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conservation_holds_under_a_long_random_concurrent_workload() {
    const BOOKS: u64 = 5;
    let app = spawn_app().await;
    for b in 1..=BOOKS {
        app.restock(b, 40).await;
    }
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
    for w in workers {
        w.await.unwrap();
    }
    assert!(samples > 0);
    for b in 1..=BOOKS {
        let s = app.stock(b).await;
        assert_eq!(s.available + s.locked + s.sold, s.total, "{s:?}");
    }
    assert_eq!(app.assert_ledger_matches().await, BOOKS);
}
