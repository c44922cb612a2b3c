//! Nothing lost, nothing doubled: the syncer killed part-way through a burst, and a Redis
//! that lost everything rebuilt from MySQL.
//!
//! "Kill" here is `JoinHandle::abort` on the syncer's task: the future is dropped at
//! whatever `.await` it was parked on — inside a MySQL transaction, between COMMIT and
//! XTRIM, in the middle of XRANGE. That is what a crash does to the syncer's own steps
//! (a dropped transaction is rolled back, as InnoDB rolls back a dead connection's).
//! What it does not simulate is a crash of MariaDB itself; InnoDB's durability is MariaDB's
//! job and out of scope.

mod common;

use std::time::Duration;

use bookstore_inventory::ledger::{Syncer, read_cursor};
use bookstore_proto::inventory as pb;
use common::{fresh_settings, item, start};

/// A burst of sales while the syncer is aborted again and again at random points (mid
/// transaction, between COMMIT and XTRIM, …): afterwards `inventory_logs` holds every
/// change exactly once and MySQL matches Redis.
///
/// If the cursor were committed separately from the rows, some abort would land between
/// the two and the next syncer would apply that batch again: the row count would exceed
/// the number of changes (or the UNIQUE key would make the syncer fail forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_syncer_killed_mid_burst_loses_and_duplicates_nothing() {
    let (mut settings, infra) = fresh_settings().await;
    // The service's own syncer is off: this test owns the only syncer, so it can kill it.
    settings.run_syncer = false;
    // Small batches: many transactions, so the aborts land in many different places.
    settings.sync_batch = 50;
    let app = start(settings, infra).await;
    // 10,000 a book, far above the burst's ~2,700 units: no sale is refused, so every
    // `unwrap` below is a change the ledger must hold and the row count is exact.
    for b in 1..=4 {
        app.restock(b, 10_000).await;
    }
    // The same Redis keys the service uses, for the test's syncers.
    let store = app.store().await;

    // The burst: 16 clients × 100 direct sales of 1–2 books each.
    let burst: Vec<_> = (0..16u64)
        .map(|w| {
            let mut c = app.client.clone();
            tokio::spawn(async move {
                // Every line of a successful sale is one change, hence one log row to expect.
                let mut lines = 0u64;
                for i in 0..100u64 {
                    // Spread over the four books by worker and step: every batch mixes
                    // books and sums several sales per book, so the per-book upsert (and
                    // its lock order) is exercised, not only the log INSERT.
                    let book = 1 + (w + i) % 4;
                    let mut items = vec![item(book, 1)];
                    // The neighbouring book (4 wraps to 1), never `book` itself: a duplicate
                    // line would be refused and sell nothing.
                    if i % 3 == 0 {
                        items.push(item(1 + book % 4, 2));
                    }
                    let n = items.len() as u64;
                    // Unique per worker (i < 1,000) and never 0, which `OrderId` refuses.
                    let req = pb::DecrStockRequest { order_id: w * 1000 + i + 1, items };
                    c.decr_stock(req).await.unwrap();
                    lines += n;
                }
                lines
            })
        })
        .collect();

    // Meanwhile: start a syncer, let it run a random few ms, kill it; again and again.
    // Each iteration: a new syncer (a "restarted process"), a random lifetime between
    // 0.5 and 8 ms — long enough to be mid-batch, short enough to die often.
    let mut kills = 0;
    while burst.iter().any(|b| !b.is_finished()) {
        // Its own pool, as a process has: a kill takes the process's connections with it.
        // (Aborting tasks that share one pool instead leaves connections cut mid-query in
        // it; sqlx then needs up to the acquire timeout to give up on them — that made this
        // test time out at random, while it says nothing about the syncer.)
        let syncer = Syncer::new(store.clone(), app.pool().await, 50);
        // A never-cancelled token: the only way this syncer stops is the abort below —
        // a crash, not a graceful stop (which would wait for its batch to finish).
        let task = tokio::spawn(syncer.run(bookstore_platform::Shutdown::new()));
        tokio::time::sleep(Duration::from_micros(rand::random_range(500..8_000))).await;
        task.abort();
        // Awaited, so the aborted future (and its pool) is really gone before the next
        // syncer starts: two syncers alive at once would test the syncers' exclusion,
        // not recovery from a crash, which is this test's question.
        let _ = task.await;
        kills += 1;
    }
    let mut lines = 4; // the four restocks
    for b in burst {
        lines += b.await.unwrap();
    }
    // More than one kill, or the test proved nothing about crashes.
    assert!(kills > 1, "the syncer was never killed part-way");

    // The "restart": a new syncer with a new pool starts from MySQL's cursor, knowing nothing
    // else, and reads until a read finds nothing (the burst is over, so that is caught up).
    let pool = app.pool().await;
    let mut syncer = Syncer::new(store.clone(), pool.clone(), 50);
    while syncer.sync_once().await.unwrap() > 0 {}

    // Exactly once: as many rows as changes (none lost), and no event id twice (none
    // doubled — the UNIQUE key makes this a tautology, which is the point of having it).
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT ev_ms, ev_seq) FROM inventory_logs")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows as u64, lines, "every change logged exactly once");
    assert_eq!(rows, distinct);
    // The counters agree too, summed over books and then book by book (Reconcile).
    // SUM over an integer column is DECIMAL in MySQL; the CAST lets it decode as an i64.
    let sold: i64 = sqlx::query_scalar("SELECT CAST(SUM(sold_stock) AS SIGNED) FROM inventory")
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut redis_sold = 0;
    for b in 1..=4 {
        redis_sold += app.stock(b).await.sold;
    }
    assert_eq!(sold, redis_sold);
    assert_eq!(app.assert_ledger_matches().await, 4);
    // The cursor reached the last change Redis emitted: the final syncer applied the whole
    // stream, and nothing of the burst is still waiting in it.
    let snap = store.snapshot().await.unwrap();
    assert_eq!(read_cursor(&pool).await.unwrap(), snap.last_event);
}

/// After Redis loses every key of the deployment, a restart rebuilds the counters, the
/// open reservations and the idempotency records from MySQL.
///
/// Real FLUSHALL would wipe the keys of every other test and engineer on the shared Redis,
/// so the test deletes every key of its own prefix instead — the same situation from this
/// deployment's point of view. After the restart, counters must match, and the rebuilt
/// records must still turn retries into replays: a rebuild that restored only counters
/// would let a retried direct sale sell twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_redis_is_rebuilt_from_mysql_on_start() {
    let (settings, infra) = fresh_settings().await;
    let app = start(settings, infra).await;
    let mut c = app.client.clone();
    app.restock(1, 20).await;
    app.restock(2, 20).await;
    let lock = |order_id, items| pb::LockStockRequest { order_id, items };
    // Every kind of record a rebuild must restore: an open reservation (order 1), a
    // confirmed one (2), a released one (3), a direct sale (9), two restocks.
    c.lock_stock(lock(1, vec![item(1, 2), item(2, 3)])).await.unwrap();
    c.lock_stock(lock(2, vec![item(1, 1)])).await.unwrap();
    c.lock_stock(lock(3, vec![item(2, 4)])).await.unwrap();
    c.decr_stock(pb::DecrStockRequest { order_id: 2, items: vec![] }).await.unwrap();
    c.release_stock(pb::ReleaseStockRequest { order_id: 3, reason: String::new() }).await.unwrap();
    let direct = pb::DecrStockRequest { order_id: 9, items: vec![item(2, 5)] };
    c.decr_stock(direct.clone()).await.unwrap();
    // MySQL must hold everything before Redis is lost: otherwise the rebuild restores
    // older numbers, and the syncer's lag would be blamed on the rebuild.
    app.assert_ledger_matches().await;
    // Read through GetStock, i.e. from Redis: the rebuild must reproduce the numbers the
    // callers saw, not merely the ones MySQL holds (the check above made them equal).
    let before = (app.stock(1).await, app.stock(2).await);

    // Stop, lose Redis, start again with the same settings (same database, same prefix).
    let (settings, infra) = app.stop().await;
    common::flush_redis(&settings, &infra).await;
    let app = start(settings, infra).await;
    let mut c = app.client.clone();

    // Counters first: exactly what they were before Redis was lost (MySQL had caught up).
    assert_eq!((app.stock(1).await, app.stock(2).await), before);
    // Idempotency survived: every retry is a replay, and nothing moves.
    assert!(
        c.lock_stock(lock(1, vec![item(1, 2), item(2, 3)])).await.unwrap().into_inner().replayed
    );
    assert!(c.decr_stock(direct).await.unwrap().into_inner().replayed);
    assert_eq!(
        c.lock_stock(lock(3, vec![item(2, 4)])).await.unwrap_err().code(),
        tonic::Code::FailedPrecondition,
        "a released order stays released"
    );
    assert_eq!((app.stock(1).await, app.stock(2).await), before);
    // The open reservation (order 1) came back with its items, so it can still be settled.
    let rel = c
        .release_stock(pb::ReleaseStockRequest { order_id: 1, reason: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rel.released.len(), 2);
    // Book 1: 20 stocked, 1 sold to order 2, order 1's 2 units back on the shelf.
    let s1 = app.stock(1).await;
    assert_eq!((s1.available, s1.locked, s1.sold, s1.total), (19, 0, 1, 20));
    app.assert_ledger_matches().await;
}

/// A sale recorded in the stream's first layout (one field per value, as versions before
/// the one-field entry wrote it) is still applied exactly once after an upgrade.
///
/// The situation: the old version sold, then stopped before its syncer caught up; the new
/// version starts with that entry waiting. A syncer that only knew the new layout would
/// skip it as malformed — the sale would be in Redis and missing from the ledger for good.
#[tokio::test]
async fn a_change_in_the_first_stream_layout_is_still_applied() {
    let (mut settings, infra) = fresh_settings().await;
    // No service syncer: the old-layout entry must still be waiting when the test's syncer
    // runs, as it is when a new version starts after an old one stopped behind.
    settings.run_syncer = false;
    let app = start(settings, infra).await;
    app.restock(1, 10).await;
    let (store, pool) = (app.store().await, app.pool().await);
    let keys = store.keys().clone();
    let book = bookstore_inventory::domain::BookId::parse(1).unwrap();
    let order = bookstore_inventory::domain::OrderId::parse(77).unwrap();
    // What the old decr.lua did for "order 77 buys 3 of book 1", in one atomic step.
    // `atomic()` wraps the pipeline in MULTI/EXEC: the counters, the entry and the marker
    // land together, as the script's did — no syncer can see the entry without the sale.
    let _: () = redis::pipe()
        .atomic()
        .hincr(keys.stock(book), "avail", -3)
        .hincr(keys.stock(book), "sold", 3)
        .cmd("XADD")
        .arg(keys.events())
        .arg("*")
        .arg(&["t", "3", "b", "1", "q", "-3", "da", "-3", "dl", "0", "ds", "3", "dt", "0"])
        .arg(&["o", "77", "r", "direct", "rq", ""])
        // The marker as well, so this is a whole old-version sale, not a stray stream entry.
        .set(keys.direct(order), 1)
        .query_async(&mut store.redis())
        .await
        .unwrap();

    let mut syncer = Syncer::new(store.clone(), pool.clone(), 50);
    while syncer.sync_once().await.unwrap() > 0 {}
    // Both entries reached the log (the restock in the new layout, the sale in the old
    // one), with the old entry's fields intact.
    let rows: Vec<(i32, Option<u64>, Option<String>)> =
        sqlx::query_as("SELECT quantity, order_id, remark FROM inventory_logs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Row 2 is the old-layout sale: rows are inserted in stream order and the restock's
    // entry came first. Its order id and remark survived, so the audit log is whole.
    assert_eq!(rows[1], (-3, Some(77), Some("direct".into())));
    assert_eq!(app.assert_ledger_matches().await, 1);
}

/// A malformed entry at the end of the stream is skipped once: the cursor moves past it,
/// the stream is trimmed behind it, and the next sale is applied as usual.
///
/// Only our scripts write the stream, so such an entry means a bug or a hand-made XADD —
/// and it must cost one error line, not the ledger. Before the fix the cursor stopped at
/// the last entry that parsed: the bad one was read again every 10 ms, logged every time,
/// never trimmed, and with no later sale the syncer stayed "behind" for good (Reconcile
/// answered UNAVAILABLE).
#[tokio::test]
async fn a_malformed_stream_entry_is_skipped_once_and_does_not_wedge_the_syncer() {
    let (mut settings, infra) = fresh_settings().await;
    settings.run_syncer = false;
    let app = start(settings, infra).await;
    app.restock(1, 10).await;
    let (store, pool) = (app.store().await, app.pool().await);
    // After the restock's entry, one that no script writes: a packed field of words, where
    // the syncer expects eight integers ("not" already fails to parse).
    let bad: String = redis::cmd("XADD")
        .arg(store.keys().events())
        .arg("*")
        .arg(&["e", "not a change"])
        .query_async(&mut store.redis())
        .await
        .unwrap();
    let bad = bookstore_inventory::store::parse_stream_id(&bad).unwrap();

    // Drained until a pass reads nothing (`sync_once` counts entries read). Before the
    // fix this loop would spin for ever, every pass reading the bad entry again: the
    // regression shows as a hung test, caught by the suite's timeout, not as an assert.
    let mut syncer = Syncer::new(store.clone(), pool.clone(), 50);
    // Bounded: a syncer that re-reads the bad entry forever must fail this test with a
    // message, not hang it until CI's limit.
    let drain = |mut syncer: Syncer| async move {
        tokio::time::timeout(Duration::from_secs(10), async {
            while syncer.sync_once().await.unwrap() > 0 {}
        })
        .await
        .expect("the syncer still found entries after 10 s: the bad entry wedges it");
        syncer
    };
    syncer = drain(syncer).await;
    assert_eq!(read_cursor(&pool).await.unwrap(), bad, "the cursor moved past the bad entry");
    let left: u64 = redis::cmd("XLEN")
        .arg(store.keys().events())
        .query_async(&mut store.redis())
        .await
        .unwrap();
    assert_eq!(left, 0, "the bad entry was trimmed with the applied ones");

    // Business as usual afterwards: a sale reaches the ledger, and Reconcile agrees.
    let sale = pb::DecrStockRequest { order_id: 5, items: vec![item(1, 2)] };
    app.client.clone().decr_stock(sale).await.unwrap();
    drain(syncer).await;
    assert_eq!(app.assert_ledger_matches().await, 1);
}

/// Redis loses every key of the deployment, and its clock is "behind" MySQL's cursor:
/// the cursor is moved a day ahead instead of moving a clock back — the same situation
/// for the syncer, which reads strictly after its cursor.
async fn lose_redis_behind_the_cursor(
    pool: &sqlx::MySqlPool,
    settings: &bookstore_inventory::Settings,
    infra: &bookstore_stack::testing::Infra,
) {
    // 86,400,000 ms is one day: far beyond any real clock skew, so without the fix every id
    // the new stream hands out would fall below the cursor.
    sqlx::query("UPDATE inventory_sync_cursor SET last_ms = last_ms + 86400000 WHERE id = 1")
        .execute(pool)
        .await
        .unwrap();
    common::flush_redis(settings, infra).await;
}

/// After Redis loses its data, a sale made while Redis's clock is behind MySQL's cursor
/// still reaches the ledger: the rebuild starts the new stream after the cursor.
///
/// Stream ids come from Redis's clock. A Redis restarted on another host (or after a
/// clock step) can hand out ids below the cursor the syncer committed; the syncer reads
/// strictly after its cursor, so those sales would be in Redis and never in MySQL — and
/// Reconcile, seeing a snapshot "older" than the cursor, would not even wait for them. The
/// test moves the cursor a day ahead instead of moving a clock back: the same situation.
#[tokio::test]
async fn a_rebuilt_stream_starts_after_the_mysql_cursor() {
    let (settings, infra) = fresh_settings().await;
    let app = start(settings, infra).await;
    app.restock(1, 10).await;
    app.assert_ledger_matches().await;
    let pool = app.pool().await;
    let (settings, infra) = app.stop().await;
    lose_redis_behind_the_cursor(&pool, &settings, &infra).await;

    let app = start(settings, infra).await;
    let sale = pb::DecrStockRequest { order_id: 3, items: vec![item(1, 2)] };
    app.client.clone().decr_stock(sale).await.unwrap();
    assert_eq!(app.assert_ledger_matches().await, 1);
    // MySQL read directly as well: Reconcile's verdict rests on the same cursor arithmetic
    // this test is about, so the ledger row is checked without it.
    let sold: i64 = sqlx::query_scalar("SELECT sold_stock FROM inventory WHERE book_id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sold, 2, "the sale reached MySQL");
}

/// Two instances starting the rebuild at once on an emptied Redis: one rebuilds, the other
/// waits and then sells from the rebuilt state; the counters end equal to MySQL's, and the
/// sales made after the rebuild reach MySQL although the cursor is ahead of Redis's clock.
///
/// The interleaving that broke it is forced, not hoped for: instance B's only MySQL
/// connection is held by the test, so B passes its "is Redis empty?" check and then stalls
/// before reading the ledger. Meanwhile A rebuilds and sells one copy of every book. When
/// B is let go it wrote the counters it read from MySQL over A's sales — Redis forgot them
/// while the stream still carried them to MySQL, and the two disagreed by A's sales.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_rebuilding_at_once_leave_counters_equal_to_mysql() {
    let (mut settings, infra) = fresh_settings().await;
    // The syncer is driven by hand, so the cursor is final before it is moved a day ahead.
    settings.run_syncer = false;
    let app = start(settings, infra).await;
    const BOOKS: u64 = 40;
    for b in 1..=BOOKS {
        app.restock(b, 100).await;
    }
    let store = app.store().await;
    let pool = app.pool().await;
    // Drained by hand before the stop (this test runs no service syncer): the 40 restocks
    // must be in MySQL, the rebuild's only source, before Redis is emptied.
    let mut syncer = Syncer::new(store.clone(), pool.clone(), 1000);
    while syncer.sync_once().await.unwrap() > 0 {}
    let (settings, infra) = app.stop().await;
    lose_redis_behind_the_cursor(&pool, &settings, &infra).await;

    // Two instances' worth of connections: their own Redis connection each, and for B a
    // MySQL pool of one connection that the test holds for now.
    let url = infra.database_url(&settings.common.database);
    // A gets the test's ordinary pool and is never stalled: it is the instance that would
    // rebuild and sell first if nothing made it wait for B.
    let pool_a = pool.clone();
    let pool_b =
        sqlx::mysql::MySqlPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    // The stall: B's only connection, held by the test. Nothing in B's code is changed or
    // mocked; it just waits for a connection, as a real instance does on a busy pool.
    let held = pool_b.acquire().await.unwrap();
    // A connection each, as two processes have: the rebuild's fence is a WATCH, which is
    // per connection, so two instances sharing one would disturb each other's fences.
    let (store_a, store_b) =
        (common::store_on(&settings, &infra).await, common::store_on(&settings, &infra).await);
    // One instance's start: rebuild if Redis is empty, then sell one copy of every book at
    // once — the sales a second rebuild would overwrite. Order ids differ per instance, so
    // none of them is a replay of the other's.
    let instance = |store: bookstore_inventory::store::StockStore, pool, first_order: u64| {
        tokio::spawn(async move {
            bookstore_inventory::ledger::rebuild_if_empty(&store, &pool).await.unwrap();
            for b in 1..=BOOKS {
                let order = bookstore_inventory::domain::OrderId::parse(first_order + b).unwrap();
                let lines = bookstore_inventory::domain::Lines::parse(&[item(b, 1)]).unwrap();
                store.decr(order, &lines).await.unwrap();
            }
        })
    };
    let b = instance(store_b.clone(), pool_b, 20_000);
    // B is now past its first check, waiting for its MySQL connection. (With the lock, B
    // holds the rebuild lock while it waits, so A waits for B instead of rebuilding.)
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = instance(store_a.clone(), pool_a, 10_000);
    // Long enough for A to rebuild and sell everything if nothing stops it, as before the
    // fix; then B gets its connection and goes on.
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(held);
    a.await.unwrap();
    b.await.unwrap();

    // Drain the stream into MySQL, then compare both sides with the arithmetic: 100 copies,
    // one sold by each instance. A sale after the rebuild that the cursor filtered out
    // would show as 99 in MySQL; an overwritten sale as 99 in Redis.
    let mut syncer = Syncer::new(store_a.clone(), pool.clone(), 1000);
    while syncer.sync_once().await.unwrap() > 0 {}
    for b in 1..=BOOKS {
        let id = bookstore_inventory::domain::BookId::parse(b).unwrap();
        let redis = store_a.get(id).await.unwrap();
        let mysql: (i64, i64, i64) = sqlx::query_as(
            "SELECT stock, sold_stock, total_stock FROM inventory WHERE book_id = ?",
        )
        .bind(b)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((redis.available, redis.sold, redis.total), (98, 2, 100), "book {b} in Redis");
        assert_eq!(mysql, (98, 2, 100), "book {b} in MySQL: both instances' sales reached it");
    }
}

/// A clean stop right after a burst of sales leaves MySQL equal to Redis: the server
/// drains its in-flight RPCs first, and only then does the syncer catch up and stop.
///
/// The last RPC is made to be in flight at the stop: it is sent by hand over HTTP/2
/// (prior knowledge, as gRPC speaks it), its headers before the stop and its body 300 ms
/// after it. The server must finish that RPC, and it sells. Before the fix the syncer
/// heard the same signal as the server, drained the stream at once and stopped; the sale,
/// acknowledged 300 ms later, sat in Redis until the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_right_after_a_burst_leaves_mysql_equal_to_redis() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = common::spawn_app().await;
    // 1,000 copies for 321 sales: none is refused, so the final count is exact.
    app.restock(1, 1_000).await;
    let store = app.store().await;
    let pool = app.pool().await;
    // The burst: 16 clients × 20 sales of one copy.
    let burst = (0..16u64).map(|w| {
        let mut c = app.client.clone();
        async move {
            for i in 0..20u64 {
                // Unique across workers (i < 100), and never 99, the in-flight RPC's order.
                let req =
                    pb::DecrStockRequest { order_id: 1_000 + w * 100 + i, items: vec![item(1, 1)] };
                c.decr_stock(req).await.unwrap();
            }
        }
    });
    // All 320 answered before the stop begins: acknowledged sales, which MySQL must hold
    // after a clean stop whatever the drain does with the one RPC still to come.
    futures::future::join_all(burst).await;

    // The RPC in flight: DecrStock{order 99, [book 1 × 1]}, headers now, body later.
    // An HTTP/2 frame: a 24-bit payload length, a type (0 DATA, 1 HEADERS, 4 SETTINGS,
    // 6 PING), flags (1 = END_STREAM on DATA, ACK on SETTINGS and PING; 4 = END_HEADERS)
    // and a 31-bit stream id (0 for the connection itself), then the payload.
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        f.extend([kind, flags]);
        f.extend(stream.to_be_bytes());
        f.extend(payload);
        f
    };
    // The request's headers, HPACK-encoded by hand (the test has no HTTP/2 client that can
    // pause between headers and body; a tonic client sends both at once).
    let mut headers = Vec::new();
    let path = "/bookstore.inventory.v1.InventoryService/DecrStock";
    let authority = app.client_addr();
    for (name, value) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", authority.as_str()),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        // HPACK "literal header field without indexing, new name", no Huffman coding.
        headers.extend([0u8, name.len() as u8]);
        headers.extend(name.as_bytes());
        headers.push(value.len() as u8);
        headers.extend(value.as_bytes());
    }
    // gRPC servers speak HTTP/2 "with prior knowledge": no Upgrade dance, the client opens
    // with the fixed preface and its SETTINGS, and may send a request at once. Stream 1 is
    // the first stream a client opens; its HEADERS make it an RPC the server must finish.
    let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(4, 0, 0, &[])); // our SETTINGS
    hello.extend(frame(1, 4, 1, &headers)); // HEADERS, END_HEADERS, stream 1
    tcp.write_all(&hello).await.unwrap();
    let (mut rd, wr) = tcp.into_split();
    // Two writers share the socket — the reader task (ACKs, PING answers) and the test (the
    // DATA frame) — so the lock keeps one frame's bytes from interleaving with another's.
    let wr = std::sync::Arc::new(tokio::sync::Mutex::new(wr));
    // Read frame by frame: ACK the server's SETTINGS, and answer its PINGs — a draining
    // h2 server pings before its final GOAWAY and waits for the answer.
    let reader = tokio::spawn({
        let wr = wr.clone();
        async move {
            let mut head = [0u8; 9];
            while rd.read_exact(&mut head).await.is_ok() {
                let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let mut payload = vec![0u8; len];
                if rd.read_exact(&mut payload).await.is_err() {
                    break;
                }
                // Only frames without ACK need an answer: the server's SETTINGS (4) and its
                // PINGs (6), echoed with their payload as HTTP/2 requires. Its own ACKs,
                // GOAWAY and the response frames need nothing from us.
                let (kind, flags) = (head[3], head[4]);
                let reply = match (kind, flags & 1) {
                    (4, 0) => frame(4, 1, 0, &[]),
                    (6, 0) => frame(6, 1, 0, &payload),
                    _ => continue,
                };
                if wr.lock().await.write_all(&reply).await.is_err() {
                    break;
                }
            }
        }
    });
    // Time for the server to accept stream 1's HEADERS: the stop must find the RPC already
    // in flight; one opened after the stop began would rightly be refused.
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The stop, as SIGTERM would trigger it; the body follows while the server drains.
    // Spawned, not awaited: `stop` returns only once the drain is over, and the drain
    // waits for the very body this test sends 300 ms later.
    let stop = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The gRPC message: a compression flag (0), its length (4 bytes), the protobuf bytes —
    // field 1 (order_id) = 99, field 2 (items) = one StockItem {book_id 1, quantity 1},
    // each a tag byte (field << 3 | wire type) then the value.
    let msg = [0x08, 99, 0x12, 0x04, 0x08, 0x01, 0x10, 0x01];
    let mut body = vec![0u8];
    body.extend((msg.len() as u32).to_be_bytes());
    body.extend(msg);
    wr.lock().await.write_all(&frame(0, 1, 1, &body)).await.unwrap(); // DATA, END_STREAM
    // Bounded: a drain that hangs (the RPC never finished, a PING left unanswered) fails
    // the test instead of hanging the suite.
    tokio::time::timeout(Duration::from_secs(10), stop).await.expect("stops").unwrap();
    reader.abort();

    // The service is gone; Redis and MySQL are read directly. The in-flight sale must be in
    // Redis (the server finished it) and in MySQL (the syncer drained after it).
    let redis = store.get(bookstore_inventory::domain::BookId::parse(1).unwrap()).await.unwrap();
    assert_eq!(redis.sold, 16 * 20 + 1, "the burst and the in-flight sale were served");
    let mysql: (i64, i64) =
        sqlx::query_as("SELECT stock, sold_stock FROM inventory WHERE book_id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(mysql, (redis.available, redis.sold), "MySQL equals Redis after a clean stop");
}

/// The per-order replay records carry a TTL of the replay retention — a settled
/// reservation and a direct-sale marker, also after a rebuild — while an open reservation
/// has none; a retry inside the retention still replays.
///
/// Before the fix every record lived for ever (`PTTL` -1), so Redis grew with every
/// order ever placed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_records_expire_after_the_retention_and_replay_inside_it() {
    use bookstore_inventory::{domain::OrderId, store::REPLAY_RETENTION};
    let app = common::spawn_app().await;
    app.restock(1, 50).await;
    let mut c = app.client.clone();
    // One order per kind of record, so each PTTL below speaks about one record type. The
    // open one matters most: if it expired, a buyer still paying would find no record,
    // and the confirm after payment would be refused although the stock was held for it.
    let direct = pb::DecrStockRequest { order_id: 5, items: vec![item(1, 2)] };
    let paid = pb::LockStockRequest { order_id: 6, items: vec![item(1, 1)] };
    let open = pb::LockStockRequest { order_id: 7, items: vec![item(1, 1)] };
    c.decr_stock(direct.clone()).await.unwrap();
    c.lock_stock(paid.clone()).await.unwrap();
    c.decr_stock(pb::DecrStockRequest { order_id: 6, items: vec![] }).await.unwrap();
    c.lock_stock(open.clone()).await.unwrap();

    // PTTL of the direct marker (order 5), the settled record (6), the open one (7).
    async fn ttls(app: &common::TestApp) -> (i64, i64, i64) {
        let store = app.store().await;
        let (k, mut r) = (store.keys().clone(), store.redis());
        let mut out = [0i64; 3];
        let keys = [
            k.direct(OrderId::parse(5).unwrap()),
            k.order(OrderId::parse(6).unwrap()),
            k.order(OrderId::parse(7).unwrap()),
        ];
        for (o, key) in out.iter_mut().zip(keys) {
            *o = redis::cmd("PTTL").arg(key).query_async(&mut r).await.unwrap();
        }
        (out[0], out[1], out[2])
    }
    // "Carries the retention": at most the full figure, and no more than a minute below it
    // (the test's own calls take milliseconds; a TTL far below would mean a wrong unit).
    let max = REPLAY_RETENTION.as_millis() as i64;
    let check = |(direct, settled, open): (i64, i64, i64), when: &str| {
        assert!(direct > max - 60_000 && direct <= max, "{when}: direct marker PTTL {direct}");
        assert!(settled > max - 60_000 && settled <= max, "{when}: settled record PTTL {settled}");
        assert_eq!(open, -1, "{when}: an open reservation never expires");
    };
    check(ttls(&app).await, "after the sales");
    // Retries inside the retention replay, and move nothing.
    let before = app.stock(1).await;
    assert!(c.decr_stock(direct.clone()).await.unwrap().into_inner().replayed);
    assert!(c.lock_stock(paid.clone()).await.unwrap().into_inner().replayed);
    assert_eq!(app.stock(1).await, before);

    // A rebuild restores the records with what is left of their retention. (This run lasts
    // seconds, so `check` cannot tell "what is left" from a fresh full TTL: it proves the
    // records come back with an expiry, and an open one without.) Reconcile first: the
    // rebuild reads the settle times from MySQL, so the syncer must have written them.
    app.assert_ledger_matches().await;
    let (settings, infra) = app.stop().await;
    common::flush_redis(&settings, &infra).await;
    let app = start(settings, infra).await;
    check(ttls(&app).await, "after a rebuild");
    let mut c = app.client.clone();
    assert!(c.decr_stock(direct).await.unwrap().into_inner().replayed);
    assert_eq!(app.stock(1).await, before);
}
