//! The "cluster-safe" claim, proved on a real Redis Cluster: three `redis-server
//! --cluster-enabled yes` nodes on loopback ports, joined by `redis-cli --cluster create`.
//!
//! The cluster comes from the stack crate (`infra::start_redis_cluster`). The service has
//! no cluster client: the workspace's `redis` crate is built without its `cluster`
//! feature, and with one `{inv}` hash tag a cluster client would only ever talk to one
//! node. So the test does what a cluster client does once: it asks which node owns the
//! tag's slot (`CLUSTER KEYSLOT`, `CLUSTER SLOTS`) and builds the service's own
//! `StockStore` on a connection to that node. Every script then runs through the real
//! cluster checks — declared keys on another node's slot get `MOVED`, keys over two slots
//! `CROSSSLOT` — and `MONITOR` on the owner shows every command a script ran, so the test
//! checks that each key touched arrived in the script's KEYS.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bookstore_inventory::{
    domain::{BookId, Lines, OrderId, Quantity, RequestId},
    store::{Keys, Settle, StockStore},
};
use common::item;

/// Polls `f` for up to 10 s (MONITOR attaching, MONITOR printing the sentinel).
///
/// Both happen within milliseconds on a healthy machine; 10 s of nothing means
/// `redis-cli` failed to start or lost its connection, and the message says which wait.
async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    f: impl Fn() -> F,
    what: &str,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain (non-cluster) connection to one node: it follows no redirection, so a `MOVED`
/// reaches the test as an error instead of being handled behind its back.
async fn node(port: u16) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// The arguments of one MONITOR line, and whether a script ran it:
/// `1700000000.123456 [0 lua] "HGET" "{t_x:inv}:order:1" "state"`.
///
/// MONITOR quotes every argument and escapes `"` and `\` inside one; none of the
/// arguments here (keys, ids, remarks like "paid") contain either, so splitting on the
/// quotes is exact for this test. A line without `] ` ("OK" on attach) is not a command.
fn monitor_args(line: &str) -> Option<(bool, Vec<String>)> {
    let from_lua = line.contains("[0 lua]");
    let quoted = line[line.find("] ")? + 2..].trim().trim_matches('"');
    Some((from_lua, quoted.split("\" \"").map(str::to_string).collect()))
}

/// Every stock script (incr, lock, decr, settle both ways, snapshot) runs on a real
/// 3-node Redis Cluster through the service's store, and every key each one touches came
/// in through its KEYS.
///
/// Before every key went through KEYS, snapshot.lua and settle.lua built the stock keys
/// from a prefix in ARGV: the cluster still ran them (the built keys happened to share the
/// slot), but MONITOR showed HMGET / HINCRBY on keys no EVALSHA had declared — the check
/// below names the script, the command and the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_scripts_run_on_a_redis_cluster_with_every_key_declared() {
    let cluster = bookstore_stack::infra::start_redis_cluster(&std::env::temp_dir()).await.unwrap();
    // A prefix as the service gets one, even on a throw-away cluster: the keys then carry
    // the real hash tag (`{<prefix>inv}`), and the slot computed below is production's.
    let prefix = bookstore_stack::testing::unique_prefix();
    let keys = Keys::new(&prefix).unwrap();
    // The service's store on a plain connection to the slot's owner: what a cluster client
    // would pick for every one of these keys, since they share one hash tag.
    let port = cluster.owner_of(&keys.events()).await.unwrap();
    let redis =
        bookstore_platform::cache::connect(&format!("redis://127.0.0.1:{port}")).await.unwrap();
    let store = StockStore::new(redis, keys.clone());

    // MONITOR on the owner: every command it runs, scripts' inner commands included.
    // A separate redis-cli, not a connection of ours: MONITOR turns its connection into a
    // one-way feed, and the reader thread below only has to split lines.
    let mut monitor = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "monitor"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (lines, out) = (lines.clone(), monitor.stdout.take().unwrap());
        // A thread, not a task: the pipe read blocks, and a blocked task would stall one of
        // the runtime's two workers for the whole test.
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        })
    };
    // MONITOR prints "OK" once it is attached; nothing before that is seen.
    wait_for(|| async { (!lines.lock().unwrap().is_empty()).then_some(()) }, "MONITOR").await;

    // One call of every script the service has, each through the store's own method — the
    // same KEYS and ARGV the service sends in production. Order 1 is confirmed and order 2
    // released, so settle.lua runs both ways; order 3 is a direct sale over two books.
    let book = |b| BookId::parse(b).unwrap();
    let order = |o| OrderId::parse(o).unwrap();
    let lines_of = |items: &[bookstore_proto::inventory::StockItem]| Lines::parse(items).unwrap();
    // A request id per book: three restocks, so incr.lua runs its applying path each time
    // (a shared id would make two of them replays, which touch fewer keys).
    for b in 1..=3 {
        let rq = RequestId::parse(&format!("r{b}")).unwrap();
        store.incr(book(b), Quantity::parse(10).unwrap(), &rq, "restock").await.unwrap();
    }
    // A fresh order, so lock.lua runs its locking path with every key it declares, not the
    // replay shortcut that would leave most of them untouched.
    let (_, replayed) = store.lock(order(1), &lines_of(&[item(1, 2), item(2, 1)])).await.unwrap();
    assert!(!replayed);
    store.lock(order(2), &lines_of(&[item(3, 4)])).await.unwrap();
    store.decr(order(3), &lines_of(&[item(1, 1), item(3, 1)])).await.unwrap();
    let confirmed = store.settle(order(1), Settle::Confirm, "paid").await.unwrap();
    assert_eq!(confirmed.lines, vec![(1, 2), (2, 1)]);
    let released = store.settle(order(2), Settle::Release, "cancelled").await.unwrap();
    assert_eq!(released.lines, vec![(3, 4)]);
    // The snapshot reads the book set first and declares the three stock keys; the
    // counters prove every earlier script changed what it should on this node.
    let snap = store.snapshot().await.unwrap();
    // Sorted, because the snapshot follows the book set's SMEMBERS order, which Redis does
    // not define.
    let mut got: Vec<_> = snap.books.iter().map(|c| (c.book_id, c.available, c.sold)).collect();
    got.sort();
    // Book 1: 10 − 2 (order 1, confirmed) − 1 (order 3) = 7 left, 3 sold; book 2: order 1's
    // one unit sold; book 3: order 2's 4 units came back, order 3 sold one.
    assert_eq!(got, vec![(1, 7, 3), (2, 9, 1), (3, 9, 1)]);

    // A sentinel command, so the test knows MONITOR has printed everything before it.
    let mut n = node(port).await;
    // Built on the events key, so it carries the same hash tag and is served (and
    // printed) by this node; a key of another slot would be answered with MOVED instead.
    let sentinel = format!("{}:end", keys.events());
    let _: Option<String> = redis::cmd("GET").arg(&sentinel).query_async(&mut n).await.unwrap();
    wait_for(
        || async { lines.lock().unwrap().iter().any(|l| l.contains(":end\"")).then_some(()) },
        "the sentinel in MONITOR",
    )
    .await;
    // Stopped before the log is walked: `COMMAND GETKEYS` below runs on the same node, and
    // a MONITOR still attached would append those lookups to the log being read.
    let _ = monitor.kill();
    let _ = monitor.wait();
    let _ = reader.join();

    // Walk the log: each EVALSHA declares keys; each command run inside it ([0 lua]) may
    // touch only those (COMMAND GETKEYS says which of its arguments are keys).
    // The MONITOR log is in execution order, and a script runs alone, so every `[0 lua]`
    // line between two EVALSHAs belongs to the first of them.
    let mut declared: Vec<String> = Vec::new();
    let mut script = String::new();
    let mut checked = 0;
    let log = std::mem::take(&mut *lines.lock().unwrap());
    for line in &log {
        let Some((from_lua, args)) = monitor_args(line) else { continue };
        let Some(cmd) = args.first().map(|a| a.to_lowercase()) else { continue };
        if !from_lua {
            if cmd == "evalsha" || cmd == "eval" {
                // `EVALSHA sha numkeys key… arg…`: args[2] says how many of the following
                // arguments are keys; the rest are ARGV, which by the rule never name a key.
                let numkeys: usize = args[2].parse().unwrap();
                declared = args[3..3 + numkeys].to_vec();
                script = args[1].clone();
            }
            continue;
        }
        // Redis itself says which arguments are keys (HMGET's first, XADD's first, …), so
        // the test needs no table of command shapes that could drift from the real one.
        // A command with no key (TIME) answers an error, read here as "no keys".
        let touched: Vec<String> = redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg(&args)
            .query_async(&mut n)
            .await
            .unwrap_or_default();
        for key in touched {
            assert!(
                declared.contains(&key),
                "script {script} ran {cmd} on {key}, which is not in its KEYS {declared:?}"
            );
            checked += 1;
        }
    }
    // Not vacuous: the seven script calls above touch more than forty keys between them,
    // so an empty or truncated MONITOR log fails here instead of passing.
    assert!(checked > 40, "the log held the scripts' commands ({checked} keys checked)");

    // What the cluster enforces, shown on the same nodes: a script whose declared keys
    // belong to another node is sent away, and one over two slots is refused outright —
    // the per-book layout (`{inv:1}`, `{inv:2}`) a two-book order would need.
    let other = *cluster.ports.iter().find(|&&p| p != port).unwrap();
    let mut elsewhere = node(other).await;
    let moved = redis::cmd("EVAL")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg(keys.events())
        .query_async::<Option<String>>(&mut elsewhere)
        .await
        .unwrap_err();
    assert_eq!(moved.kind(), redis::ErrorKind::Moved, "{moved}");
    // Sent to the same other node: the slot check comes before routing, so any node refuses
    // keys over two slots, whoever owns them — no redirect could make this script run.
    let crossslot = redis::cmd("EVAL")
        .arg("return redis.call('HGET', KEYS[1], 'avail')")
        .arg(2)
        .arg("{inv:1}:stock")
        .arg("{inv:2}:stock")
        .query_async::<Option<String>>(&mut elsewhere)
        .await
        .unwrap_err();
    assert_eq!(crossslot.kind(), redis::ErrorKind::CrossSlot, "{crossslot}");
    // Dropped here, explicitly: the nodes must outlive the last EVAL above, and the drop
    // (kill, then remove the directory) is where they go — on a panic too, by unwinding.
    drop(cluster);
}
