//! A service's first connection to MySQL and Redis waits out a dependency that is still
//! starting, and gives up at once on one that is misconfigured (see `platform::retry`).
//!
//! Real servers, made "not ready yet" in the two ways the lab meets: MySQL whose port
//! opens only after a while (a server starting, a container coming up), and a Redis that
//! is up but still loading its data set into memory (`-LOADING`), which is what made
//! catalog-service exit with `BusyLoadingError` after a few benches.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use bookstore_stack::{infra, ports, testing};
use tokio::net::{TcpListener, TcpStream};

/// After `delay`, listen on 127.0.0.1:`port` and forward every connection to `target`:
/// the real MySQL server, reachable at a port that was closed until then.
///
/// Why a forwarder and not a second MariaDB started late: the behaviour under test is the
/// client's ("connection refused, then a server"), and a plain TCP relay reproduces it
/// exactly, in milliseconds, while every byte of the protocol still comes from the real
/// server. Starting a MariaDB per test would cost seconds of `mariadb-install-db`.
fn open_port_later(port: u16, target: String, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        // Until this bind, connects to `port` are refused by the kernel (RST), which is
        // what a client sees while a server is still starting or a container is coming up.
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let target = target.clone();
            // One task per connection: the pool opens several, and the migrations' advisory
            // lock must live on one of them for as long as it is held.
            tokio::spawn(async move {
                let mut server = TcpStream::connect(target).await.unwrap();
                // The result is ignored: one side closing is how every relayed connection
                // ends, and a reset mid-relay is for the client under test to handle.
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
}

/// `host:port` of a `mysql://user@host:port/…` URL. (Hand-split rather than parsed with
/// `url`: the test infra's URLs are ours and always have this shape.)
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap().to_string()
}

/// MySQL's port opens 1.5 s after the service started connecting: `db::connect` waits,
/// then creates and migrates its database as usual. Before the start-up retry it failed
/// at once with "connection refused" and the service exited.
#[tokio::test]
async fn mysql_connect_waits_for_a_server_that_comes_up_late() {
    let infra = testing::infra();
    // Free now and closed until `open_port_later` binds it: the "server not up yet" state.
    // Were another process to take it meanwhile, the test would fail loudly, not pass.
    let port = ports::any_free().unwrap();
    open_port_later(port, host_port(&infra.mysql_url), Duration::from_millis(1500));
    let database = testing::unique_name("t_retry");
    let started = Instant::now();
    // `Migrator::DEFAULT` has no migrations: this is about connecting, and an empty
    // migrator still exercises the advisory lock and sqlx's bookkeeping table.
    let pool = bookstore_platform::db::connect(
        &format!("mysql://root@127.0.0.1:{port}"),
        &database,
        2,
        &sqlx::migrate::Migrator::DEFAULT,
    )
    .await
    .expect("connect waits until the port opens");
    // Guard against a vacuous pass: had `connect` somehow reached a server at once, the
    // retry would be untested.
    // 1,400 rather than 1,500 ms: slack for timer granularity, still far above the few
    // milliseconds an immediate success would take.
    assert!(started.elapsed() >= Duration::from_millis(1400), "it really had to wait");
    // A query through the pool: the connection works end to end through the relay, not
    // only far enough for `connect` to return.
    let (one,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
}

/// A wrong user is not transient: `connect` fails within seconds (no 30 s of retries),
/// with MySQL's own "Access denied" in the error for the learner to read.
#[tokio::test]
async fn mysql_connect_fails_at_once_when_access_is_denied() {
    let infra = testing::infra();
    // A user no test creates, so the server's answer is certainly 1045, never a login.
    let url = format!("mysql://no_such_user_x:wrong@{}", host_port(&infra.mysql_url));
    let started = Instant::now();
    // Error 1045 is the server's answer, over a working connection: nothing about it can
    // change in the next 30 s, so waiting would only hide the message from the learner.
    let err =
        bookstore_platform::db::connect(&url, "t_never", 2, &sqlx::migrate::Migrator::DEFAULT)
            .await
            .expect_err("an unknown user cannot connect");
    // 5 s: far under the 30 s retry budget, far over one refused handshake (milliseconds).
    assert!(started.elapsed() < Duration::from_secs(5), "not retried: {:?}", started.elapsed());
    assert!(format!("{err:#}").contains("Access denied"), "{err:#}");
}

/// A private Redis with two million keys in its RDB file, restarted: for a second or two
/// it answers `INFO` with `loading:1` and every data command with `-LOADING`. The
/// service's `cache::connect` must wait until it serves instead of failing on
/// `BusyLoadingError`.
#[tokio::test]
async fn redis_connect_waits_while_redis_loads_its_data_set() {
    const KEYS: i64 = 2_000_000;
    let program = infra::find_program("redis-server").expect("redis-server is installed");
    let dir = tempfile::tempdir().unwrap();
    let port = ports::any_free().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let start = || {
        tokio::process::Command::new(&program)
            // `--save ""`: no automatic snapshots, so the only RDB is the one the test
            // asks for with SAVE, and nothing forks in the middle of the fill.
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(dir.path())
            // DEBUG POPULATE (fill two million keys in a second) is off by default;
            // this throwaway server is the only place the test turns it on.
            .args(["--enable-debug-command", "yes", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    // A raw client that keeps trying until the port is open: the test's own view of the
    // server, independent of the code under test (`cache::connect`).
    let connect_raw = || async {
        let client = redis::Client::open(url.as_str()).unwrap();
        loop {
            match client.get_multiplexed_async_connection().await {
                Ok(c) => return c,
                // 10 ms: the port opens within milliseconds of the spawn, and this loop is
                // the test's own, so its speed proves nothing about the code under test.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };

    // Phase 1: fill a throwaway server and write its data to dump.rdb. An RDB file is
    // what a rewritten AOF starts with too (the preamble), so this is the same load path
    // the lab's Redis takes after `bookstore-lab up`, only made big enough to watch.
    let mut first = start();
    let mut conn = connect_raw().await;
    let () = redis::cmd("DEBUG").arg("POPULATE").arg(KEYS).query_async(&mut conn).await.unwrap();
    // SAVE writes dump.rdb; the restarted server loads it before serving.
    let () = redis::cmd("SAVE").query_async(&mut conn).await.unwrap();
    // SIGKILL is fine here: SAVE has returned, so dump.rdb is complete on disk.
    first.kill().await.unwrap();

    // Phase 2: the same directory, a fresh server: it opens its port at once and then
    // spends a second or two reading two million keys, answering `-LOADING` meanwhile.
    let _second = start();
    let mut probe = connect_raw().await;
    let info: String = redis::cmd("INFO").arg("persistence").query_async(&mut probe).await.unwrap();
    // Guard against a vacuous pass: the service's connect must meet a loading Redis.
    assert!(info.contains("loading:1"), "Redis finished loading before the test could look");

    // The call under test: it meets `-LOADING` on its PING, retries with backoff, and
    // returns once the load is over — well inside the 30 s start-up budget.
    let mut conn = bookstore_platform::cache::connect(&url).await.expect("waits for the load");
    // Every key is there: `connect` returned after the load, not merely once the port
    // answered.
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
    assert_eq!(size, KEYS);
}

/// After Redis restarts, the *running* connection is usable again within seconds — not the
/// minute redis 0.32's default backoff took (it multiplied a 1 s first delay by 100, capped
/// at 60 s). Redis is down for 2.5 s here, long enough for the first reconnect attempts to
/// fail, which is what sent the default into its 60 s wait. The bound asserted (10 s) is
/// loose on purpose: it separates "seconds" from "a minute" on a loaded machine without
/// timing anything finer.
#[tokio::test]
async fn a_connection_recovers_within_seconds_after_redis_restarts() {
    let program = infra::find_program("redis-server").expect("redis-server is installed");
    let port = ports::any_free().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let start = || {
        tokio::process::Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut first = start();
    let mut conn = loop {
        match bookstore_platform::cache::connect(&url).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let () = redis::cmd("SET").arg("k").arg("v").query_async(&mut conn).await.unwrap();
    first.kill().await.unwrap();
    // Commands while Redis is gone fail (they must: callers map that to UNAVAILABLE); each
    // one also makes the manager try to reconnect, as a service's traffic would.
    let down_until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < down_until {
        let r: redis::RedisResult<()> = redis::cmd("PING").query_async(&mut conn).await;
        assert!(r.is_err(), "Redis is down, PING cannot succeed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _second = start();
    let restarted = Instant::now();
    loop {
        let r: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        if r.is_ok() {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "still no answer {:?} after Redis came back: {r:?}",
            restarted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
