//! order-service end to end against real MariaDB and Redis, through the real gRPC APIs of
//! user, catalog, inventory and order. Each test attacks one claim of the issue:
//!
//! | claim | test |
//! |---|---|
//! | the whole flow: create → get → list → cancel, stock locked then released | [`an_order_locks_its_stock_and_cancelling_releases_it`] |
//! | unknown book, not enough stock: refused, nothing locked, no intent left | [`refused_orders_lock_nothing_and_leave_nothing`] |
//! | bad input and bad tokens: the right code, nothing changed | [`bad_input_is_refused_with_the_right_code_and_changes_nothing`] |
//! | the price is a snapshot | [`the_order_keeps_the_price_it_was_created_at`] |
//! | same key → one order, one lock; another body → refused | [`a_retried_key_returns_the_same_order_and_locks_once`] |
//! | concurrent orders never oversell; every lock is one order's | [`concurrent_orders_never_oversell_and_every_lock_belongs_to_one_order`] |
//! | only the owner sees or cancels an order | [`someone_elses_order_is_not_found`] |
//! | every legal and illegal transition; who may move to Paid | [`the_state_machine_allows_exactly_its_transitions`] |
//! | two racing transitions cannot both win | [`racing_transitions_never_both_win`] |
//! | unpaid orders expire and release their stock | [`an_unpaid_order_expires_and_its_stock_comes_back`] |
//! | a failed commit after LockStock releases the lock | [`a_failed_commit_after_the_lock_releases_it`] |
//!
//! The crash (kill -9 between LockStock and the commit) is in `tests/crash.rs`.
//!
//! What every test checks besides its own claim, through the helpers in `common`: the
//! stock's conservation (`available + locked + sold == total`) on every read, and — after
//! the requests of a test have answered — that no intent is left in order_db. A bug that
//! leaks a lock or a half-finished creation shows up in whichever test trips over it.
//!
//! Each test builds its own graph (fresh databases, fresh key prefixes), so the tests run
//! in parallel; books are numbered per test (1, 2, 5, 6, …) only to make a failure's log
//! easy to attribute, not for isolation.

mod common;

use std::time::Duration;

use bookstore_proto::order::{OrderStatus, order_service_client::OrderServiceClient};
use common::{authed, eventually, spawn, spawn_with};
use tonic::Code;

/// Create (2 units) → Pending with the catalogue's price; the stock moves available → locked;
/// GetOrder and ListOrders show it; cancel → Cancelled and the units are available again;
/// a second cancel changes nothing.
#[tokio::test]
async fn an_order_locks_its_stock_and_cancelling_releases_it() {
    let s = spawn().await;
    // A fresh graph's inventory knows no book until it is stocked; ten units of book 1.
    s.restock(1, 10).await;
    let token = s.shopper().await;
    // The price as the catalogue shows it now: what the order must snapshot.
    let price = s.price(1).await;

    // No idempotency key (""): a plain create.
    let created = s.create(&token, &[(1, 2)], "").await.expect("order created");
    // Not a replay (no key, nothing to replay) and Pending, the only status a new order
    // can have; the total is the snapshotted unit price × 2, computed by the service.
    assert!(!created.replayed);
    let order = created.order.unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
    assert_eq!(order.total, price * 2);
    assert_eq!(order.items.len(), 1);
    assert_eq!((order.items[0].price, order.items[0].quantity), (price, 2));
    assert!(!order.items[0].title.is_empty(), "the title is snapshotted too");
    // The receipt number is derived from the id, so it can never collide.
    assert!(
        order.order_no.starts_with("BK") && order.order_no.ends_with(&format!("{:010}", order.id))
    );
    // The payment window is on the order itself, by MySQL's clock: 15 minutes by default.
    assert!(order.expires_at > order.created_at);
    // Locked, not sold: a Pending order holds its units until it is paid or cancelled.
    let stock = s.stock(1).await;
    assert_eq!((stock.available, stock.locked), (8, 2));

    // Readable by its owner, one by one and in the list; the filter narrows the list.
    assert_eq!(s.get(&token, order.id).await.unwrap().id, order.id);
    let listed = s.list(&token, OrderStatus::Unspecified).await;
    // `total` counts all the caller's orders (one), not just the page.
    assert_eq!((listed.total, listed.orders[0].id), (1, order.id));
    // A filter for a status no order has: empty, not "every order".
    assert_eq!(s.list(&token, OrderStatus::Cancelled).await.total, 0, "the status filter applies");

    // Cancel: Pending → Cancelled owes a Release, settled within the same request.
    let cancelled = s.cancel(&token, order.id).await.unwrap();
    // No reason given, so the default one; and both units back on sale at once, because
    // the release ran inside the cancel request (the sweeper is only the fallback).
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason, "cancelled by user");
    let stock = s.stock(1).await;
    assert_eq!((stock.available, stock.locked), (10, 0));
    // A second cancel is `Transition::Already`: answered with the order, nothing released
    // twice (inventory's release is idempotent too, but it is not even called).
    let again = s.cancel(&token, order.id).await.expect("cancelling twice is a no-op");
    assert_eq!(again.status(), OrderStatus::Cancelled);
    assert_eq!(s.stock(1).await.available, 10, "the second cancel released nothing more");
    assert_eq!(s.intents().await, 0, "no creation left unfinished");
}

/// An unknown book is NOT_FOUND and a short book FAILED_PRECONDITION; in both cases no unit
/// of any line is locked, no order exists and no intent is left behind.
#[tokio::test]
async fn refused_orders_lock_nothing_and_leave_nothing() {
    // Book 2 has plenty, book 3 a single unit: the second basket below fits in part only.
    let s = spawn().await;
    s.restock(2, 5).await;
    s.restock(3, 1).await;
    let token = s.shopper().await;

    // One good line and one unknown book: refused at GetBook, before any intent or lock —
    // the whole basket or nothing.
    let err = s.create(&token, &[(2, 1), (999_999, 1)], "").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    // The message names the missing book, so a client with a long basket knows which line
    // to drop.
    assert!(err.message().contains("999999"), "names the book: {err:?}");

    // Book 2 has enough, book 3 has one unit of two asked: LockStock refuses the whole
    // basket (the Lua script checks every line before it changes any), and the intent
    // written before it is abandoned at once.
    let err = s.create(&token, &[(2, 2), (3, 2)], "").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    // A book in the catalogue with no stock row in inventory: also refused, nothing locked.
    // Either code is a correct refusal here; what matters is that it is a refusal, not
    // UNAVAILABLE (which would tell the client to retry a request that can never pass).
    let err = s.create(&token, &[(4, 1)], "").await.unwrap_err();
    assert!(matches!(err.code(), Code::NotFound | Code::FailedPrecondition), "{err:?}");

    // Book 2 was fine in both baskets, and still nothing of it is locked: the whole basket
    // or nothing, never the lines that happened to fit.
    assert_eq!((s.stock(2).await.locked, s.stock(3).await.locked), (0, 0), "all or nothing");
    // No order and no intent: the refusals left no trace in order_db either.
    assert_eq!(s.list(&token, OrderStatus::Unspecified).await.total, 0);
    assert_eq!(s.intents().await, 0);
}

/// The request table of bad input: each gets its code; afterwards the stock is untouched
/// and the user has no orders.
#[tokio::test]
async fn bad_input_is_refused_with_the_right_code_and_changes_nothing() {
    // 100 units, so no case below can fail for lack of stock: every refusal is about the
    // request's shape.
    let s = spawn().await;
    s.restock(1, 100).await;
    let token = s.shopper().await;
    // Two cases too long to write inline: 51 distinct books (one over the line limit) and a
    // 65-character key (one over the column).
    let fifty_one: Vec<(u64, i32)> = (1..=51).map(|b| (b, 1)).collect();
    let long_key = "k".repeat(65);
    // (what, lines, idempotency key)
    type Case<'a> = (&'a str, Vec<(u64, i32)>, &'a str);
    let cases: Vec<Case> = vec![
        // An order of nothing.
        ("no items", vec![], ""),
        // Zero and negative: a negative quantity reaching LockStock would *add* stock.
        ("quantity 0", vec![(1, 0)], ""),
        ("negative quantity", vec![(1, -5)], ""),
        // Above inventory's own bound, and a number whose total could overflow.
        ("huge quantity", vec![(1, i32::MAX)], ""),
        // One line over the limit: the bound on work one request can cause downstream.
        ("51 lines", fifty_one, ""),
        // Two lines for one book would lock its units twice under one price.
        ("the same book twice", vec![(1, 1), (1, 2)], ""),
        // What an unset `book_id` decodes to.
        ("book id 0", vec![(0, 1)], ""),
        // One character over the key column's width.
        ("key too long", vec![(1, 1)], &long_key),
    ];
    // Every case fails in `Lines::parse` or `parse_idempotency_key`, before the token is
    // even checked: bad input costs no RPC at all.
    for (what, items, key) in cases {
        let err = s.create(&token, &items, key).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
    }

    // Tokens user-service refuses, each a different reason, all UNAUTHENTICATED: not a
    // JWT, signed with another secret, and signed right but expired.
    for (what, bad) in [
        ("garbage", "not-a-jwt"),
        ("forged", &forged_token()[..]),
        ("expired", &expired_token()[..]),
    ] {
        let err = s.create(bad, &[(1, 1)], "").await.expect_err(what);
        assert_eq!(err.code(), Code::Unauthenticated, "{what}: {err:?}");
    }
    // No `authorization` metadata at all: refused by the platform's header parser, before
    // user-service is asked.
    let mut anon = s.orders.clone();
    let no_token = bookstore_proto::order::CreateOrderRequest {
        items: vec![bookstore_proto::order::CreateOrderItem { book_id: 1, quantity: 1 }],
        idempotency_key: String::new(),
    };
    assert_eq!(anon.create_order(no_token).await.unwrap_err().code(), Code::Unauthenticated);

    // "Bad input changes nothing", checked in all three places a request could leave a
    // trace: inventory, orders, intents.
    let stock = s.stock(1).await;
    assert_eq!((stock.available, stock.locked), (100, 0));
    assert_eq!(s.list(&token, OrderStatus::Unspecified).await.total, 0);
    assert_eq!(s.intents().await, 0);
}

/// After the catalogue's price changes, the existing order still costs what it cost; a
/// new order pays the new price.
#[tokio::test]
async fn the_order_keeps_the_price_it_was_created_at() {
    let s = spawn().await;
    s.restock(5, 10).await;
    let token = s.shopper().await;
    // The order is placed at the old price, read through catalog exactly as CreateOrder
    // reads it.
    let old = s.price(5).await;
    let order = s.create(&token, &[(5, 1)], "").await.unwrap().order.unwrap();

    // The catalogue has no price RPC: an operator changes it in catalog_db, then an
    // UpdateStock (any write of the book) invalidates the cached detail.
    let db = sqlx::MySqlPool::connect(&s.infra.database_url(&s.catalog_db)).await.unwrap();
    sqlx::query("UPDATE books SET price = price + 1000 WHERE id = 5").execute(&db).await.unwrap();
    s.catalog
        .clone()
        .update_stock(bookstore_proto::catalog::UpdateStockRequest { book_id: 5, stock: 10 })
        .await
        .unwrap();
    // The catalogue now shows the new price (read through its cache, invalidated above).
    assert_eq!(s.price(5).await, old + 1000);

    // The existing order reads its own lines, never the catalogue: the price it was
    // created at is what its payment must equal.
    let kept = s.get(&token, order.id).await.unwrap();
    assert_eq!((kept.total, kept.items[0].price), (old, old), "the snapshot did not move");
    // And a new order takes the new price: the snapshot is per order, not a frozen price.
    let newer = s.create(&token, &[(5, 1)], "").await.unwrap().order.unwrap();
    assert_eq!(newer.total, old + 1000);
}

/// The same key and body, sequentially and 10× concurrently → one order, locked once, every
/// answer the same id; a retry with another body under the key → INVALID_ARGUMENT.
#[tokio::test]
async fn a_retried_key_returns_the_same_order_and_locks_once() {
    let s = spawn().await;
    // Plenty of stock: a second order for a reused key would succeed if the key failed to
    // stop it, so the lock counts below really measure the key.
    s.restock(6, 50).await;
    let token = s.shopper().await;

    // Sequential: the second call finds the committed order by its key (`Claim::Done`) and
    // answers it, replayed, without calling inventory.
    let first = s.create(&token, &[(6, 3)], "key-seq").await.unwrap();
    let second = s.create(&token, &[(6, 3)], "key-seq").await.unwrap();
    // One order, two answers, one lock of 3 units: the replay locked nothing.
    assert!(!first.replayed && second.replayed);
    assert_eq!(first.order.unwrap().id, second.order.unwrap().id);
    assert_eq!(s.stock(6).await.locked, 3);

    // Concurrent: ten calls race for one new key. The unique index lets one intent in; the
    // others see it in flight and resume under its id (LockStock is idempotent per order
    // id, and only one commit can delete the intent) or are told to retry.
    let attempts = (0..10).map(|_| s.create(&token, &[(6, 2)], "key-burst"));
    let results = futures::future::join_all(attempts).await;
    let mut ids: Vec<u64> = Vec::new();
    for r in results {
        match r {
            Ok(r) => ids.push(r.order.unwrap().id),
            // A concurrent attempt may be told to retry; it must never be a second order.
            Err(e) => assert_eq!(e.code(), Code::Aborted, "{e:?}"),
        }
    }
    // `dedup` removes adjacent repeats: equal ids collapse to one, and any second id would
    // survive it (wherever it sat in the list) and fail the length check.
    ids.dedup();
    assert_eq!(ids.len(), 1, "one order for one key: {ids:?}");
    assert_eq!(s.stock(6).await.locked, 5, "3 + 2: the burst locked once");
    // After the burst, a plain retry finds the committed order: whoever was told ABORTED
    // above gets the same order by retrying, which is what ABORTED promised.
    let retry = s.create(&token, &[(6, 2)], "key-burst").await.unwrap();
    assert_eq!(retry.order.unwrap().id, ids[0]);

    // The key with another basket: a client bug, refused, and nothing locked for it.
    let err = s.create(&token, &[(6, 4)], "key-seq").await.unwrap_err();
    // INVALID_ARGUMENT with a message that names the mistake: the client's developer must
    // learn that keys are per request, not per cart.
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("different request"), "{err:?}");
    assert_eq!(s.stock(6).await.locked, 5, "the refused retry locked nothing");
    // Keys are per user: another shopper may use the same string.
    // (The unique key is `(user_id, key)`: `key-seq` of another user is another key.)
    let other = s.shopper().await;
    assert!(!s.create(&other, &[(6, 1)], "key-seq").await.unwrap().replayed);
}

/// 60 buyers, 20 units, one unit each, all at once: exactly 20 orders, 40 refusals, and the
/// inventory's log shows exactly one LOCK per created order — no lock without an order.
#[tokio::test]
async fn concurrent_orders_never_oversell_and_every_lock_belongs_to_one_order() {
    let s = spawn().await;
    s.restock(7, 20).await;
    // Three shoppers, sixty requests in flight at once on one connection each way. Without
    // an atomic check-and-lock in inventory, the naive "read available, then write" would
    // let more than 20 through — the oversell the course's Day 30 shows.
    let tokens = [s.shopper().await, s.shopper().await, s.shopper().await];
    let attempts = (0..60).map(|i| s.create(&tokens[i % 3], &[(7, 1)], ""));
    let results = futures::future::join_all(attempts).await;
    let mut created: Vec<u64> = Vec::new();
    for r in results {
        match r {
            Ok(r) => created.push(r.order.unwrap().id),
            // The 40 losers are told "not enough stock", never UNAVAILABLE or INTERNAL.
            Err(e) => assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}"),
        }
    }
    assert_eq!(created.len(), 20, "exactly the stock, never more");
    // All 20 locked, none left, and no creation left half-done by the 40 refusals: each
    // refused LockStock was followed by its own abandon.
    let stock = s.stock(7).await;
    assert_eq!((stock.available, stock.locked), (0, 20));
    assert_eq!(s.intents().await, 0);

    // The ledger: inventory's syncer copies its changes from Redis into MySQL within
    // moments. The durable ledger, not the Redis counters: the log rows are the audit trail
    // an operator would reconcile orders against.
    let mut inventory = s.inventory.clone();
    let mut logged: Vec<u64> = Vec::new();
    // 21 rows = the restock plus 20 locks: the ledger is complete once it has them all.
    let synced = eventually(Duration::from_secs(10), || {
        let mut inventory = inventory.clone();
        async move {
            let req = bookstore_proto::inventory::GetStockLogRequest {
                book_id: 7,
                page: 1,
                page_size: 100,
            };
            inventory.get_stock_log(req).await.map(|r| r.into_inner().total >= 21).unwrap_or(false)
        }
    })
    .await;
    assert!(synced, "the ledger caught up");
    let req =
        bookstore_proto::inventory::GetStockLogRequest { book_id: 7, page: 1, page_size: 100 };
    // Only LOCK rows: the restock's INCR row is not about any order.
    for log in inventory.get_stock_log(req).await.unwrap().into_inner().logs {
        if log.r#type == bookstore_proto::inventory::StockLogType::Lock as i32 {
            logged.push(log.order_id);
        }
    }
    // The same set of ids on both sides: every lock is named by an order that exists, and
    // every order locked exactly once — no orphan lock from a refused or lost request.
    logged.sort();
    created.sort();
    assert_eq!(logged, created, "one lock per order, each by its own order id");
}

/// Another user's order answers NOT_FOUND to GetOrder and CancelOrder (the same as a
/// missing one), is absent from their ListOrders, and stays untouched.
#[tokio::test]
async fn someone_elses_order_is_not_found() {
    let s = spawn().await;
    s.restock(8, 5).await;
    // Two real accounts: mallory is authenticated, just not the owner.
    let (alice, mallory) = (s.shopper().await, s.shopper().await);
    let order = s.create(&alice, &[(8, 1)], "").await.unwrap().order.unwrap();

    // Alice's real order and an id nobody has: the same code for mallory, so she cannot
    // tell which ids exist (they are sequential, so "exists" would leak the shop's volume).
    assert_eq!(s.get(&mallory, order.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(s.get(&mallory, 987_654).await.unwrap_err().code(), Code::NotFound);
    // Writes are guarded like reads: her cancel is the same 404, and her list is empty.
    assert_eq!(s.cancel(&mallory, order.id).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(s.list(&mallory, OrderStatus::Unspecified).await.total, 0);
    // Her failed cancel changed nothing: still Pending, still holding its unit.
    assert_eq!(s.get(&alice, order.id).await.unwrap().status(), OrderStatus::Pending);
    assert_eq!(s.stock(8).await.locked, 1);
}

/// Walks the state machine: every illegal move is FAILED_PRECONDITION; Paid confirms the
/// locked units as sold; a paid order cancelled returns its units; a user's token (or none)
/// cannot call UpdateOrderStatus; UNSPECIFIED is not a status.
#[tokio::test]
async fn the_state_machine_allows_exactly_its_transitions() {
    use OrderStatus::*;
    // Ten units of book 9, enough for every order of the walk below.
    let s = spawn().await;
    s.restock(9, 10).await;
    let token = s.shopper().await;
    // A fresh Pending order of `q` units of book 9, by its id: each part of the walk below
    // starts from its own order, so one part's end state cannot mask another's bug.
    let order = |q| {
        let s = &s;
        let token = token.clone();
        async move { s.create(&token, &[(9, q)], "").await.unwrap().order.unwrap().id }
    };

    // Who may call it. UpdateOrderStatus is the one RPC a shopper's token does not open:
    // moving an order to Paid, Shipped or Completed is something only the shop's own
    // services (payment) or its operators do.
    let a = order(1).await;
    let mut by_user = authed(
        &token,
        bookstore_proto::order::UpdateOrderStatusRequest {
            order_id: a,
            status: Paid as i32,
            reason: String::new(),
        },
    );
    // A shopper's valid token plus a guessed credential: PERMISSION_DENIED. If a user's
    // token were enough, every shopper could mark their own order paid.
    by_user.metadata_mut().insert("x-service-token", "guess".parse().unwrap());
    assert_eq!(
        s.orders.clone().update_order_status(by_user).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // UNSPECIFIED (0, what an unset field decodes to) is not a status to move to.
    assert_eq!(s.set_status(a, Unspecified).await.unwrap_err().code(), Code::InvalidArgument);

    // Pending: only Paid or Cancelled; the refused moves leave the order Pending, which the
    // legal move right after relies on.
    for illegal in [Shipped, Completed] {
        assert_eq!(
            s.set_status(a, illegal).await.unwrap_err().code(),
            Code::FailedPrecondition,
            "Pending → {illegal:?}"
        );
    }
    // Pending → Paid: the lock becomes a sale. Paying twice is a no-op (the relay retries):
    // the second call answers the order as it is, Paid, without a second Confirm.
    assert_eq!(s.set_status(a, Paid).await.unwrap().status(), Paid);
    assert_eq!(s.set_status(a, Paid).await.unwrap().status(), Paid);
    // The Confirm owed by Pending → Paid ran within the request: locked → sold. The second
    // Paid was `Already` and confirmed nothing more.
    let st = s.stock(9).await;
    assert_eq!((st.available, st.locked, st.sold), (9, 0, 1));
    // Skipping a step is illegal too: a paid order must ship before it completes.
    assert_eq!(
        s.set_status(a, Completed).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "Paid → Completed"
    );
    // Paid → Shipped → Completed; nothing after Completed. Neither move owes inventory
    // anything: the units were already sold by the Confirm.
    assert_eq!(s.set_status(a, Shipped).await.unwrap().status(), Shipped);
    // A late retry of the payment relay: Paid is already true of a shipped order. Answered
    // as success (the order as it is, Shipped), so the relay marks its message delivered
    // instead of refunding a payment that did pay for this order.
    assert_eq!(s.set_status(a, Paid).await.unwrap().status(), Shipped);
    // Shipped is past the point of no return: neither back to Pending nor Cancelled — the
    // units are with the customer.
    for illegal in [Pending, Cancelled] {
        assert_eq!(
            s.set_status(a, illegal).await.unwrap_err().code(),
            Code::FailedPrecondition,
            "Shipped → {illegal:?}"
        );
    }
    // The shopper's own CancelOrder goes through the same state machine as the service's
    // calls: no path around it.
    assert_eq!(
        s.cancel(&token, a).await.unwrap_err().code(),
        Code::FailedPrecondition,
        "a shipped order cannot be cancelled"
    );
    // Completed is final: every move out of it is refused.
    assert_eq!(s.set_status(a, Completed).await.unwrap().status(), Completed);
    for illegal in [Pending, Shipped, Cancelled] {
        assert_eq!(
            s.set_status(a, illegal).await.unwrap_err().code(),
            Code::FailedPrecondition,
            "Completed → {illegal:?}"
        );
    }

    // Paid → Cancelled: the sold units come back to available (a return), exactly once.
    // The return is IncrStock keyed `order-<id>-return-<book>`, so even a retried return
    // (the sweeper after a lost acknowledgement) adds the units once.
    let b = order(2).await;
    s.set_status(b, Paid).await.unwrap();
    // Measured around the cancel, so only the return's effect is compared.
    let before = s.stock(9).await;
    // The owner's own CancelOrder on a Paid order: allowed, and it owes a Return.
    let c = s.cancel(&token, b).await.unwrap();
    assert_eq!(c.status(), Cancelled);
    // Two units back on sale; `sold` is not decreased — a return adds stock, it does not
    // rewrite history (see the race test's accounting).
    let after = s.stock(9).await;
    assert_eq!(after.available, before.available + 2, "{before:?} → {after:?}");
    // A second cancel of the cancelled order: `Already`, and no second return.
    s.cancel(&token, b).await.unwrap();
    assert_eq!(s.stock(9).await.available, after.available, "the return happened once");
    // Cancelled is final: not even Paid (a late payment is refunded, never applied).
    for illegal in [Pending, Paid, Shipped, Completed] {
        assert_eq!(
            s.set_status(b, illegal).await.unwrap_err().code(),
            Code::FailedPrecondition,
            "Cancelled → {illegal:?}"
        );
    }
    // An order id nobody has, asked by the service: NOT_FOUND (the service is trusted, so
    // there is no owner to hide it from; it simply does not exist).
    assert_eq!(s.set_status(424_242, Paid).await.unwrap_err().code(), Code::NotFound);
}

/// Two kinds of race, 10 orders each:
/// - from Pending, a payment and a cancel at once: the cancel always ends the order (either
///   it won, and the payment is refused, or the payment won and the cancel became a return);
/// - from Paid, Shipped and Cancelled at once: each forbids the other, so exactly one of the
///   two calls succeeds — the conditional UPDATE lets only one match.
/// Throughout, the stock stays conserved and nothing stays locked.
#[tokio::test]
async fn racing_transitions_never_both_win() {
    let s = spawn().await;
    // 20 units for 20 orders of one unit: stock never runs out, so every refusal below is
    // about the race, not about stock.
    s.restock(10, 20).await;
    let token = s.shopper().await;
    // How many payments beat their cancel in round one: the scheduler decides, so the test
    // counts rather than expects, and checks the stock against the count.
    let mut paid_first = 0;
    for _ in 0..10 {
        // Both requests read Pending and both find their move legal; only the conditional
        // UPDATE decides. If the payment wins, the cancel then sees Paid, for which
        // Cancelled is legal too (a return) — so the cancel succeeds either way.
        let id = s.create(&token, &[(10, 1)], "").await.unwrap().order.unwrap().id;
        // `join!` polls both on this task: the two requests are in flight at once, on one
        // connection each way, which is as close to simultaneous as a test can make them.
        let (pay, cancel) = tokio::join!(s.set_status(id, OrderStatus::Paid), s.cancel(&token, id));
        assert_eq!(
            cancel.expect("a cancel from Pending or Paid succeeds").status(),
            OrderStatus::Cancelled
        );
        match pay {
            Ok(_) => paid_first += 1,
            Err(e) => assert_eq!(
                e.code(),
                Code::FailedPrecondition,
                "the payment lost to the cancel: {e:?}"
            ),
        }
        // Whoever won, the order ends Cancelled: never Paid with its cancel lost.
        assert_eq!(s.get(&token, id).await.unwrap().status(), OrderStatus::Cancelled);
    }
    for _ in 0..10 {
        let id = s.create(&token, &[(10, 1)], "").await.unwrap().order.unwrap().id;
        s.set_status(id, OrderStatus::Paid).await.unwrap();
        // From Paid, Shipped and Cancelled exclude each other: after either, the other is
        // illegal. Exactly one UPDATE can match `status = Paid`.
        let (ship, cancel) =
            tokio::join!(s.set_status(id, OrderStatus::Shipped), s.cancel(&token, id));
        assert!(
            ship.is_ok() != cancel.is_ok(),
            "exactly one wins: ship {ship:?}, cancel {cancel:?}"
        );
        // The loser is refused as a state conflict, never INTERNAL or ABORTED: the conditional
        // UPDATE turned the race into an ordinary "that move is no longer legal".
        let loser = ship.as_ref().err().or(cancel.as_ref().err()).unwrap();
        assert_eq!(loser.code(), Code::FailedPrecondition, "{loser:?}");
        // The stored status is the winner's: the answer each caller got is the truth.
        let now = s.get(&token, id).await.unwrap().status();
        assert_eq!(now, if ship.is_ok() { OrderStatus::Shipped } else { OrderStatus::Cancelled });
    }
    // Every race settled its stock work: nothing left locked by a cancelled or paid order.
    let st = s.stock(10).await;
    assert_eq!(st.locked, 0, "{st:?}");
    // Every successful payment sold its unit once (a return adds the units back as new
    // stock, it does not un-sell them): the 10 paid in the second round, and the payments
    // that beat their cancel in the first.
    assert_eq!(st.sold, 10 + paid_first, "{st:?}");
}

/// With a 2 s window, an unpaid order becomes Cancelled ("expired") and its stock comes
/// back, driven by the sweeper; paying it afterwards is refused.
#[tokio::test]
async fn an_unpaid_order_expires_and_its_stock_comes_back() {
    // A 2 s window swept every second: the expiry happens within the test's patience.
    let s = spawn_with(|o| {
        o.payment_window_secs = 2;
        o.sweep_interval_secs = 1;
    })
    .await;
    // Three of four units locked by an order nobody pays.
    s.restock(11, 4).await;
    let token = s.shopper().await;
    let id = s.create(&token, &[(11, 3)], "").await.unwrap().order.unwrap().id;
    assert_eq!(s.stock(11).await.locked, 3);

    // Nobody calls anything: the 1 s sweeper finds the order past its 2 s window by
    // MySQL's clock, cancels it and releases its lock — no timer in memory involved.
    // 10 s for a 2 s window and 1 s sweeps: the margin is for a loaded machine, the check
    // itself normally succeeds after about three seconds.
    let expired = eventually(Duration::from_secs(10), || async {
        s.get(&token, id).await.map(|o| o.status() == OrderStatus::Cancelled).unwrap_or(false)
    })
    .await;
    assert!(expired, "the sweeper cancelled the unpaid order");
    // The reason tells the shopper (and the ledger's remark) why, without a status of its
    // own: "expired" is a Cancelled order, as far as the state machine is concerned.
    let o = s.get(&token, id).await.unwrap();
    // (Read after the `eventually` above, so the status is already Cancelled.)
    assert_eq!(o.cancel_reason, "expired");
    // The release is the expiry's owed action, carried out by the sweeper's third job —
    // usually in the same pass that expired the order.
    assert!(
        eventually(Duration::from_secs(5), || async { s.stock(11).await.locked == 0 }).await,
        "the lock came back"
    );
    assert_eq!(s.stock(11).await.available, 4);
    // A payment arriving after the expiry: refused, so payment-service refunds it.
    let err = s.set_status(id, OrderStatus::Paid).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

/// An order past its window that the sweeper has not reached yet still cannot be paid: the
/// payment's UPDATE checks `expires_at` itself.
#[tokio::test]
async fn an_expired_order_cannot_be_paid_even_before_the_sweep() {
    // A 1 s window and a sweeper that runs once at start and then not for an hour: the
    // expiry check under test must be the payment's own, not the sweeper's.
    let s = spawn_with(|o| {
        o.payment_window_secs = 1;
        o.sweep_interval_secs = 3600;
    })
    .await;
    s.restock(12, 2).await;
    let token = s.shopper().await;
    // A sweeper that runs once an hour: the order is past its 1 s window but still Pending
    // in the table, which is the window a payment must not slip through. 1.5 s: half a
    // second past the deadline, by MySQL's clock as by ours.
    let id = s.create(&token, &[(12, 1)], "").await.unwrap().order.unwrap().id;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Refused by the payment's own UPDATE (`expires_at > NOW(3)`), with the message that
    // says why — the one payment-service logs with the refund.
    let err = s.set_status(id, OrderStatus::Paid).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("expired"), "{err:?}");
    // Still Pending in the table: the refusal wrote nothing, the sweeper will cancel it.
    assert_eq!(
        s.get(&token, id).await.unwrap().status(),
        OrderStatus::Pending,
        "the sweeper will cancel it"
    );
}

/// The lab's `fail-commit` fault makes the transaction fail after LockStock succeeded: the
/// call fails, the lock is released at once, no order and no intent remain.
#[tokio::test]
async fn a_failed_commit_after_the_lock_releases_it() {
    // The default 5 s sweep interval on purpose: a release seen at once can only have come
    // from the request's own compensation.
    let s = spawn().await;
    s.restock(13, 5).await;
    let token = s.shopper().await;
    // The lock succeeds, the commit "fails": `abandon` runs on the request path, under
    // the intent's row lock, and releases what was locked before answering.
    let err = s.create_with(&token, &[(13, 2)], "", Some("fail-commit")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    // Released on the request path, not by the sweeper (which runs every 5 s and would
    // make this check flaky): the caller's error arrives after the compensation.
    let st = s.stock(13).await;
    assert_eq!((st.available, st.locked), (5, 0));
    assert_eq!(s.list(&token, OrderStatus::Unspecified).await.total, 0);
    assert_eq!(s.intents().await, 0);
    // An unknown fault is refused, not ignored: a typo in an experiment must not quietly
    // run the happy path and "show" that nothing can go wrong.
    let err = s.create_with(&token, &[(13, 1)], "", Some("explode")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

/// The call chain comes back as `server-timing` metadata: each downstream step with its
/// duration — what the lab's call-chain view draws.
#[tokio::test]
async fn create_order_reports_its_call_chain() {
    // Two books, so the chain has two GetBook steps that ran side by side.
    let s = spawn().await;
    s.restock(14, 5).await;
    s.restock(15, 5).await;
    let token = s.shopper().await;
    let req = authed(
        &token,
        bookstore_proto::order::CreateOrderRequest {
            items: vec![
                bookstore_proto::order::CreateOrderItem { book_id: 14, quantity: 1 },
                bookstore_proto::order::CreateOrderItem { book_id: 15, quantity: 1 },
            ],
            idempotency_key: String::new(),
        },
    );
    // The raw client, not `s.create`: the helper returns only the message, and the
    // timing is in the response's metadata.
    let mut client: OrderServiceClient<_> = s.orders.clone();
    let resp = client.create_order(req).await.unwrap();
    // `Server-Timing` syntax (`name;dur=ms, …`), which grpcurl -v prints as it is.
    let timing =
        resp.metadata().get("server-timing").expect("server-timing").to_str().unwrap().to_string();
    // Every step of the module's diagram, by name: a step that silently disappeared from
    // the chain (a refactoring that skipped the claim, say) fails here.
    for step in [
        "ValidateToken;dur=",
        "GetBook-14;dur=",
        "GetBook-15;dur=",
        "claim;dur=",
        "LockStock;dur=",
        "commit;dur=",
    ] {
        // Presence, not durations: a timing assertion would be flaky on a shared machine,
        // and the numbers are for a person reading them, not for the test.
        assert!(timing.contains(step), "{step} missing in {timing}");
    }
}

/// A well-formed, unexpired token signed with a key user-service does not have: what an
/// attacker who knows the format (it is public) but not the secret can produce.
fn forged_token() -> String {
    mint("a-different-secret-that-is-long-enough!!", 3600)
}

/// A token signed with the real secret, an hour past its `exp`: a stolen but old token.
fn expired_token() -> String {
    mint(common::JWT_SECRET, -3600)
}

/// A JWT in user-service's format, signed with `secret`, expiring `exp_in` seconds from now.
fn mint(secret: &str, exp_in: i64) -> String {
    // The claims user-service issues (`sub`, `username`, `iat`, `exp`), so the only thing
    // wrong with a minted token is what the test chose: its key or its expiry.
    let now = chrono::Utc::now().timestamp();
    let claims =
        serde_json::json!({"sub": "1", "username": "x", "iat": now - 7200, "exp": now + exp_in});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}
