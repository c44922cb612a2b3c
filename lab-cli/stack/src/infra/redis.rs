//! Redis with an append-only file, on loopback; ready only once it has loaded its data.

use std::{path::Path, time::Duration};

use anyhow::Context;

use super::launch::{require_program, spawn_server, wait_ready};
use crate::{ports, state::Component};

/// `redis_version` from `INFO server`, once Redis has finished loading its data set.
///
/// Why `loading:0` and not merely "answers": Redis answers `INFO` while it is still
/// replaying its append-only file, but PING and every command on data get `-LOADING
/// Redis is loading the dataset in memory` until the replay ends. A lab-sized AOF replays
/// in milliseconds; after a few benches it held 41 MB and took seconds — long enough for
/// the supervisor to call Redis ready, start catalog-service, and watch it exit on
/// `BusyLoadingError`. ✅ DO ask the question a client's first real command asks;
/// ❌ DON'T treat "the server answers" as "the server serves".
pub async fn redis_version(url: &str) -> anyhow::Result<String> {
    // A new connection per attempt: a connection made to a server that then restarted
    // would fail every later attempt, and `status` must see the server as it is now.
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    // Two sections, two round trips: `INFO server persistence` in one call needs Redis 7,
    // and `compose.yaml` users may point the lab at a Redis 6.
    let persistence: String = redis::cmd("INFO").arg("persistence").query_async(&mut conn).await?;
    anyhow::ensure!(
        !persistence.lines().any(|l| l.trim() == "loading:1"),
        "Redis is still loading its data set into memory (INFO persistence: loading:1)"
    );
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| anyhow::anyhow!("INFO server has no redis_version"))
}

/// Redis in `dir/redis`, with an append-only file so a restart keeps the stock counters.
///
/// Why persistence matters for this course: since Day 30 the *authoritative* stock
/// counters live in Redis (one hash per book — avail, locked, sold, total — moved only by
/// the Lua scripts). If Redis restarted empty, the counters would be gone while MySQL's
/// orders remain — and the invariant `avail + locked + sold == total` that the lab checks
/// would break for reasons that have nothing to do with the race being taught.
pub async fn start_redis(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
    port: Option<u16>,
) -> anyhow::Result<Component> {
    // An external Redis is asked the same readiness question once, without waiting: it is
    // supposed to be running already, and a loading one fails fast with the reason.
    if let Some(url) = external_url {
        let v = redis_version(url).await.with_context(|| "external Redis does not answer")?;
        eprintln!("==> using external Redis {v}");
        return Ok(Component::external("redis", url));
    }
    let hint =
        "install redis-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let program = require_program(&["redis-server"], hint)?.display().to_string();
    // The AOF lives here (Redis writes into `--dir`), so it survives `down` like MariaDB's
    // data directory: stock counters are still there after the next `up`.
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let log = dir.join("logs/redis.log");
    // 6379 if free, so `redis-cli` works with no `-p`; the recorded port on a restart, so
    // running services keep a valid `BOOKSTORE_REDIS_URL`.
    let port = ports::pick(port.unwrap_or(6379))?;
    eprintln!("==> starting Redis on 127.0.0.1:{port}");
    let args = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--dir",
        &data.display().to_string(),
        // AOF: every write command is appended to a log that is replayed on start.
        "--appendonly",
        "yes",
        // fsync once a second: at most ~1 s of writes lost on a power cut, with almost no
        // cost per command. `always` fsyncs each write (safest, slowest — it would
        // dominate the latency the lab measures); `no` leaves it to the OS (~30 s).
        // Same trade-off as MariaDB's flush-log-at-trx-commit=2 (mysql.rs), deliberately.
        "--appendfsync",
        "everysec",
        // No RDB snapshots on top: the AOF already persists everything, and a fork for a
        // snapshot in the middle of a load test would show up as a latency spike.
        "--save",
        "",
        // Keep the AOF bounded: rewrite it (in a forked child, in the background) once it
        // has doubled since the last rewrite *and* is over 16 MB. The AOF logs every write,
        // so benches that overwrite the same stock counters a million times grow it
        // without bound while the data stays small; a rewrite replaces the log with one
        // snapshot of the data. Redis's default floor is 64 MB — after a few benches the
        // lab's AOF sat at 41 MB of commands, replayed one by one on every start.
        "--auto-aof-rewrite-percentage",
        "100",
        "--auto-aof-rewrite-min-size",
        "16mb",
        // The rewritten base is an RDB snapshot (the Redis 7 default, spelled out): it
        // loads several times faster than replaying the same data as commands.
        "--aof-use-rdb-preamble",
        "yes",
        // Protected mode refuses non-loopback clients when no password is set. With
        // `--bind 127.0.0.1` only local clients can connect anyway, so it adds nothing
        // here; it is spelled out so the choice is visible.
        // ❌ DON'T copy this to a server with a public interface and no `requirepass`.
        "--protected-mode",
        "no",
        // Stay in the foreground: the pid we spawned must be the server's pid, or
        // `stop` would signal a parent that already exited while the daemon runs on.
        "--daemonize",
        "no",
    ]
    .map(String::from)
    .to_vec();
    let pid = spawn_server(dir, "redis", &program, args, &log, attached)?;
    // 120 s: Redis starts in milliseconds; only replaying a large AOF takes longer — about
    // a second per few hundred MB from an RDB preamble, far longer from plain commands.
    // Timing out here would stop a Redis that is merely busy and leave the lab unusable.
    let url = format!("redis://127.0.0.1:{port}");
    wait_ready("Redis", pid, &log, Duration::from_secs(120), || async {
        redis_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component::child("redis", pid, program, url, &log))
}
