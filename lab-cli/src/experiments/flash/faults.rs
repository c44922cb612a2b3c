//! The faults the learner injects into the sale — each a real action on a real process of
//! the stack the supervisor started, never a flag inside a service:
//!
//! | fault | the action | what it tests |
//! |---|---|---|
//! | kill -9 a service | SIGKILL of the pid in `stack.json`; 1 s later `bookstore-lab up` | retries with the same idempotency key; durable intents and outboxes |
//! | stop Redis | SIGTERM (Redis fsyncs its AOF), 2 s down, `up` | stock scripts fail as UNAVAILABLE, nothing half-applied |
//! | pause MariaDB | SIGSTOP for a few seconds, then SIGCONT | every transaction hangs mid-flight: deadlines, 504s, retries of unknown outcomes |
//! | kill the relay | waits for an undelivered outbox row, then kill -9 payment-service (the relay's process) | a payment that succeeded before the crash still makes its order Paid |
//!
//! The restart after a kill is what an init system (systemd's `Restart=always`, a
//! Kubernetes pod) would do, spelled out: `bookstore-lab up` as a child process, which
//! restarts only what is dead, on its recorded port. A child process, not
//! `Supervisor::up` here, because `up` reports on stderr and would scribble over the TUI;
//! its output is kept and shown only if it fails.
//!
//! ❌ DON'T fake a fault inside the service ("return UNAVAILABLE when flag X is set"): the
//! process then dies on its own terms — its shutdown path runs, its transactions commit or
//! roll back politely — and the test proves only that the flag works. SIGKILL and SIGSTOP
//! give the service no say, which is what a power cut, the OOM killer and a stalled disk do.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use bookstore_stack::{StackState, Supervisor, process, services};

use super::shopper::Route;

/// How long a killed service stays dead before the "init system" restarts it.
///
/// Long enough that requests in that second meet a dead port (refused connections)
/// rather than a restart too quick to notice; short enough that the outage tests the
/// retries, not the shoppers' 45 s deadline.
const RESTART_DELAY: Duration = Duration::from_secs(1);
/// How long Redis stays stopped.
///
/// Two seconds of "Redis is not there": every LockStock in that window fails as
/// UNAVAILABLE, and the shoppers' backoff (up to 1.6 s) is tested across a gap that is
/// longer than its first steps.
const REDIS_DOWN: Duration = Duration::from_secs(2);

/// One fault the lab can inject.
///
/// Each variant is timed on one route ([`Fault::route`]) and reported by its own action's
/// note, so a new variant needs both: a route its damage shows on, and a note with the
/// evidence (pids, rows) that it really happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 the instance with this supervisor name (`order`, `user-2`), restart it.
    /// Timed on CreateOrder, or on CreatePayment for payment-service (see [`Fault::route`]).
    Kill(String),
    /// Stop Redis gracefully, wait, start it again.
    /// Redis is inventory's system of record for stock: this is the fault that stops every
    /// sale at once, without losing a write.
    RestartRedis,
    /// SIGSTOP MariaDB for this many seconds.
    /// The process keeps its sockets open while stopped, so clients do not see a refused
    /// connection — they see silence, which only a deadline ends.
    PauseMysql(u64),
    /// kill -9 payment-service while its outbox holds an undelivered row.
    /// The relay is a task inside payment-service, so killing "the relay" means killing that
    /// process: it tests that delivery is durable (the outbox row), not held in memory.
    KillRelay,
}

impl Fault {
    /// The screen's and the summary's name of the fault.
    pub fn label(&self) -> String {
        match self {
            Fault::Kill(name) => format!("kill -9 {name}"),
            Fault::RestartRedis => format!("停止 Redis {} 秒再启动", REDIS_DOWN.as_secs()),
            Fault::PauseMysql(s) => format!("暂停 MariaDB {s} 秒（SIGSTOP）"),
            Fault::KillRelay => "kill -9 outbox relay（payment-service）".into(),
        }
    }

    /// The step whose recovery this fault is timed on: the first success of that route
    /// among requests sent after the fault began.
    pub fn route(&self) -> Route {
        match self {
            // Killing payment-service stops CreatePayment; every other service sits on the
            // CreateOrder path (inventory locks, catalog prices, user validates the token).
            Fault::Kill(name) if services::spec(name).is_some_and(|s| s.name == "payment") => {
                Route::Pay
            }
            Fault::KillRelay => Route::Paid,
            _ => Route::Order,
        }
    }
}

/// What the action itself did: the line for the screen and when the system was whole
/// again from the lab's side (the process back, MariaDB thawed).
pub struct Done {
    /// What was done, with the pids before and after: proof the fault was real.
    pub note: String,
    /// Stamped when the action returned: for a kill, after `up` has waited for the new
    /// process's health, so it means "back and serving", not "spawned".
    pub restored: Instant,
}

/// Carries out `fault` on the stack in `lab_dir`; returns once the fault is over.
pub async fn inject(lab_dir: &Path, mysql_url: &str, fault: &Fault) -> anyhow::Result<Done> {
    // Read fresh for every fault: an earlier fault's restart changed the pids.
    let state = StackState::load(lab_dir)?.unwrap_or_default();
    match fault {
        Fault::Kill(name) => kill_and_restart(lab_dir, name).await,
        Fault::RestartRedis => restart_redis(lab_dir, &state).await,
        Fault::PauseMysql(secs) => pause_mysql(&state, *secs).await,
        Fault::KillRelay => kill_relay(lab_dir, mysql_url).await,
    }
}

/// kill -9 the instance `name`, then restart it after [`RESTART_DELAY`].
async fn kill_and_restart(lab_dir: &Path, name: &str) -> anyhow::Result<Done> {
    // The supervisor sends SIGKILL to the recorded pid after checking it is the
    // program it started (a recycled pid is never killed by mistake).
    let pid = Supervisor::open(lab_dir)?.kill_instance(name)?;
    // Waiting for the pid to vanish first: `up` would otherwise see the old
    // process still alive and restart nothing.
    wait_gone(pid).await;
    tokio::time::sleep(RESTART_DELAY).await;
    up_again(lab_dir).await?;
    let new = StackState::load(lab_dir)?.unwrap_or_default();
    // A new pid in the note is the learner's evidence that the process really
    // died and a different one answers now.
    let new_pid = new.service(name).and_then(|c| c.pid).unwrap_or_default();
    Ok(Done {
        note: format!("kill -9 {name}（pid {pid}）→ {RESTART_DELAY:?} 后重启（pid {new_pid}）"),
        restored: Instant::now(),
    })
}

/// Stops Redis gracefully for [`REDIS_DOWN`], then starts it again.
async fn restart_redis(lab_dir: &Path, state: &StackState) -> anyhow::Result<Done> {
    let c = state.redis.as_ref().context("no Redis in stack.json")?;
    let pid = own_pid(c)?;
    // SIGTERM, not SIGKILL: Redis writes its AOF out and exits, so no acknowledged
    // write is lost. (A kill -9 could lose up to one second of writes with
    // `appendfsync everysec` — a different lesson: inventory's rebuild from MySQL.)
    // 30 s before it escalates: Redis's shutdown writes the AOF out, which for the
    // lab's data takes well under a second; the margin is for a loaded CI machine.
    process::terminate(pid, Duration::from_secs(30)).await;
    tokio::time::sleep(REDIS_DOWN).await;
    // `up` calls Redis ready only at `loading:0`, after the AOF is replayed — so
    // `restored` is "the stock is back", not "the process started".
    up_again(lab_dir).await?;
    Ok(Done {
        note: format!("Redis（pid {pid}）已停止 {REDIS_DOWN:?} 并重新启动，AOF 重放完毕"),
        restored: Instant::now(),
    })
}

// lesson:pause-mariadb:start
/// Freezes MariaDB for `secs` seconds; the [`Thaw`] guard wakes it whatever happens.
async fn pause_mysql(state: &StackState, secs: u64) -> anyhow::Result<Done> {
    let c = state.mysql.as_ref().context("no MariaDB in stack.json")?;
    let pid = own_pid(c)?;
    // The guard exists before the freeze: there is no instant at which MariaDB is
    // stopped and nothing is responsible for waking it.
    let thaw = Thaw(pid);
    process::freeze(pid);
    // 3 s in the script, 4 s from the TUI: at or past the gateway's 3 s upstream
    // deadline, so a CreateOrder caught mid-transaction comes back as a 504 while
    // the frozen server still holds its work — the unknown outcome the
    // idempotency key is for.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    // Thawed here, explicitly, before `restored` is stamped below: the
    // recorded end of the fault must come after the SIGCONT, not before.
    drop(thaw);
    Ok(Done {
        note: format!("MariaDB（pid {pid}）暂停 {secs} 秒后继续：挂起的事务接着执行"),
        restored: Instant::now(),
    })
}
// lesson:pause-mariadb:end

/// Waits for an undelivered outbox row, then kills payment-service (the relay's process).
async fn kill_relay(lab_dir: &Path, mysql_url: &str) -> anyhow::Result<Done> {
    // Only a kill while the relay holds work proves anything: with an empty outbox
    // the relay has nothing to lose.
    // Polled, not guessed: the kill lands within 20 ms of a row being seen, while
    // payments still arrive. If none appears in 10 s it kills anyway, and the note
    // says 0 rows — an honest "this run proved nothing about the relay".
    let waiting = undelivered_soon(mysql_url).await?;
    // The first payment-service instance. With `--replicas payment=2` the other
    // instance's relay may deliver the waiting row instead (its `SKIP LOCKED`
    // pass takes whatever is free): the payment still ends Paid, but the run then
    // proves delivery by a survivor, not by the restarted process.
    let pid = Supervisor::open(lab_dir)?.kill_instance("payment")?;
    wait_gone(pid).await;
    tokio::time::sleep(RESTART_DELAY).await;
    up_again(lab_dir).await?;
    Ok(Done {
        note: format!(
            "kill -9 payment-service（pid {pid}），outbox 中 {waiting} 行未投递 → 重启后由新进程投递"
        ),
        restored: Instant::now(),
    })
}

/// Sends SIGCONT to the MariaDB pid it holds when dropped.
///
/// A guard so that nothing — an error, a panic, the task being dropped when the learner
/// leaves the screen — can leave MariaDB frozen: the whole stack would hang on it. (If the
/// lab process itself is killed mid-pause, `bookstore-lab up` thaws it.)
struct Thaw(u32);

impl Drop for Thaw {
    fn drop(&mut self) {
        process::thaw(self.0);
    }
}

/// The pid of a server the lab started; an external one (compose, a shared server) is not
/// ours to stop or freeze.
///
/// `is_ours` compares the pid's program with the one recorded: after a restart outside
/// the lab the old pid may belong to something else, and freezing it would be the lab's
/// own bug.
fn own_pid(c: &bookstore_stack::state::Component) -> anyhow::Result<u32> {
    let pid = c.pid.with_context(|| format!("{} is external: the lab does not own it", c.name))?;
    anyhow::ensure!(process::is_ours(pid, &c.program), "{} is not running", c.name);
    Ok(pid)
}

/// Waits up to 5 s for a killed pid to disappear (SIGKILL acts at once unless the process
/// is in uninterruptible sleep).
///
/// 20 ms polls: the restart delay is measured from the process's death, not from an
/// arbitrary poll later. After 5 s it gives up waiting and lets `up` decide.
pub(crate) async fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while process::alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Undelivered outbox rows of payment_db, waiting up to 10 s for at least one to appear.
///
/// Its own one-connection pool, closed after use: the fault must not hold a connection
/// that counts against MariaDB's limit for the rest of the sale.
async fn undelivered_soon(mysql_url: &str) -> anyhow::Result<i64> {
    // payment-service's own database: the only place the relay's backlog is
    // visible from outside the process.
    let url = format!("{}/payment_db", mysql_url.trim_end_matches('/'));
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect(&url)
        .await?;
    // 10 s: long enough to meet the next payment of a sale still in progress; a sale whose
    // payments are all delivered has nothing left to lose, and the note then says 0 rows.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Served by `idx_outbox_due (delivered_at, …)`: polled every 20 ms, it must not
        // scan the outbox's delivered history.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
            .fetch_one(&pool)
            .await?;
        if n > 0 || Instant::now() > deadline {
            pool.close().await;
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `bookstore-lab --dir <lab_dir> up --no-seed` as a child process: restarts whatever is
/// not running, exactly as the learner's own command would. `--no-seed`: nothing was lost
/// from the catalogue, only a process, and the seed's checks would add seconds.
pub(crate) async fn up_again(lab_dir: &Path) -> anyhow::Result<()> {
    // The binary next to the services', not `current_exe()`: tests run this code
    // from a test harness binary, which has no `up` subcommand.
    let lab: PathBuf = services::default_bin_dir()?.join("bookstore-lab");
    let out = tokio::process::Command::new(&lab)
        .arg("--dir")
        .arg(lab_dir)
        .args(["up", "--no-seed"])
        // No stdin: `up` must never wait for an answer the TUI cannot give.
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("run {} up", lab.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "bookstore-lab up failed: {}",
        // The last five lines of stderr, newest first: where `up` says what failed.
        String::from_utf8_lossy(&out.stderr).lines().rev().take(5).collect::<Vec<_>>().join(" | ")
    );
    Ok(())
}
