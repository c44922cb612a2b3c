//! MariaDB (or MySQL): a private data directory, a server on loopback, the five databases.

use std::{path::Path, process::Command, time::Duration};

use anyhow::{Context, bail};
use sqlx::{Connection, mysql::MySqlConnection};

use super::launch::{require_program, spawn_server, wait_ready};
use crate::{ports, state::Component};

/// The five service databases (DESIGN.md §2). Services also create their own if missing;
/// creating them here lets a learner `USE order_db` before order-service first starts.
/// One database per service, on one server: the lab's compromise. The boundary that
/// matters — no service reads another's tables — is kept; production would usually also
/// give each service its own server (or at least its own user with grants on one db).
pub const DATABASES: [&str; 5] =
    ["user_db", "catalog_db", "inventory_db", "order_db", "payment_db"];

/// mariadbd refuses to run as root unless told `--user=root` (a guard against a server
/// owning root's files by accident). CI containers run as root; a laptop usually does not.
fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// `SELECT VERSION()` on a MySQL server URL.
///
/// One plain connection, not a pool: this is a one-off question (readiness, `status`), and
/// a pool would keep idle connections open against a server we may be about to stop.
/// The explicit `close` sends COM_QUIT, so the server does not log an aborted connection.
pub async fn mysql_version(url: &str) -> anyhow::Result<String> {
    let mut conn = MySqlConnection::connect(url).await?;
    let (v,): (String,) = sqlx::query_as("SELECT VERSION()").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(v)
}

/// MariaDB (or MySQL) in `dir/mysql`, initialised on first use.
///
/// The data directory survives `down`: the second `up` skips initialisation and starts in
/// a second or two, and the learner's experiments (orders, stock) are still there.
///
/// `port`: the port to prefer — the one a previous run recorded when `up` restarts a
/// MariaDB that died, so services still running keep a valid `BOOKSTORE_MYSQL_URL`;
/// `None` for the course's 3306. (Redis and Consul take the same parameter.)
pub async fn start_mysql(
    dir: &Path,
    external_url: Option<&str>,
    attached: bool,
    port: Option<u16>,
) -> anyhow::Result<Component> {
    if let Some(url) = external_url {
        // Adopting an external server still checks it answers: failing here, with the
        // URL's server named, beats six services failing later with pool timeouts.
        let v = mysql_version(url).await.with_context(|| "external MySQL does not answer")?;
        eprintln!("==> using external MySQL {v}");
        return Ok(Component::external("mysql", url));
    }
    let hint =
        "install mariadb-server (Debian/Ubuntu: `make setup`), or use --external with compose.yaml";
    let mysqld = require_program(&["mariadbd", "mysqld"], hint)?;
    let data = dir.join("mysql/data");
    let log = dir.join("logs/mysql.log");
    std::fs::create_dir_all(dir.join("logs"))?;
    // Both install-db and mariadbd need the flag when run as root (see `is_root`).
    let user_args: Vec<String> = if is_root() { vec!["--user=root".into()] } else { vec![] };

    // `data/mysql` (the system schema) exists only after a successful initialisation. If a
    // previous one failed we removed the half-made directory below, so this test is safe.
    if !data.join("mysql").is_dir() {
        eprintln!("==> initialising MariaDB data directory {}", data.display());
        std::fs::create_dir_all(&data)?;
        let install = require_program(&["mariadb-install-db", "mysql_install_db"], hint)?;
        let out = Command::new(&install)
            // `--no-defaults`: ignore /etc/mysql/my.cnf. A system config written for the
            // distribution's own server (its socket, its datadir, its user) would otherwise
            // leak into our private instance. Same flag on `mariadbd` below.
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            // root with an empty password over TCP from loopback: a lab, not production.
            // (The default, `socket`, lets root in only as the OS user root over the Unix
            // socket — our services connect over TCP, as they would to a remote server.)
            // ❌ DON'T do this on a server reachable from anywhere but loopback.
            .arg("--auth-root-authentication-method=normal")
            // No `test` database open to every user: nothing in the course uses it.
            .arg("--skip-test-db")
            .args(&user_args)
            .output()
            .with_context(|| format!("cannot run {}", install.display()))?;
        if !out.status.success() {
            // Remove the half-initialised directory, so the next `up` tries again from
            // scratch instead of starting mariadbd on a broken system schema.
            let _ = std::fs::remove_dir_all(&data);
            bail!(
                "mariadb-install-db failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // 3306 if free, so `mariadb -h127.0.0.1 -uroot` works with no `-P`; any port if a
    // system MariaDB already has it (the chosen URL is in `bookstore-lab env`).
    let port = ports::pick(port.unwrap_or(3306))?;
    let tmp = dir.join("mysql/tmp");
    std::fs::create_dir_all(&tmp)?;
    let program = mysqld.display().to_string();
    let mut args = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", data.display()),
        format!("--port={port}"),
        // Loopback only: root has no password (see install above). See `ports` for why.
        "--bind-address=127.0.0.1".into(),
        // Socket and pid file inside our directory: the defaults (/run/mysqld/…) belong to
        // the system server, may be unwritable, and two labs would fight over them.
        format!("--socket={}", dir.join("mysql/mysqld.sock").display()),
        format!("--pid-file={}", dir.join("mysql/mysqld.pid").display()),
        // Temporary tables (a large ORDER BY, a COUNT over a join) spill into tmpdir, /tmp by
        // default. On a shared machine /tmp is cleaned by other tools while the server runs,
        // and a temp file deleted under it fails the query ("Error on delete of
        // '/tmp/#sql-temptable-…'", seen in this lab): keep it private, like the socket.
        format!("--tmpdir={}", tmp.display()),
        // Day 30's race experiments run hundreds of concurrent transactions, and every
        // service holds its own pool; the default (151) would turn the lesson on row locks
        // into a lesson on "Too many connections". Each connection costs memory, so
        // production sizes this from pools × instances, not "as high as possible".
        "--max-connections=1000".into(),
        // The default 128M is fine; 256M keeps the whole lab's data in memory, so
        // latencies measure locking, not disk reads. Production: ~70 % of a dedicated host.
        "--innodb-buffer-pool-size=256M".into(),
        // The lab trades a second of durability on an OS crash for throughput: a learner's
        // laptop, not a bank. Production keeps the default (1 = flush at every commit).
        // With 2 the redo log is written to the OS at each commit but fsynced once a
        // second: a crash of mariadbd alone loses nothing, a power cut loses up to ~1 s.
        // ⚠ This changes absolute TPS figures (commits no longer wait for the disk) but not
        // the lesson: naive vs `FOR UPDATE` vs Lua are compared on the same server, and
        // the oversell counts come from locking, which this flag does not touch.
        "--innodb-flush-log-at-trx-commit=2".into(),
        // utf8mb4, not MySQL's legacy `utf8` (= utf8mb3, at most 3 bytes per character):
        // book titles and user names with emoji or rare CJK characters need 4 bytes, and
        // utf8mb3 rejects or mangles them. `_unicode_ci` compares case-insensitively.
        // ✅ DO set it on the server *and* on each database; ❌ DON'T rely on the
        // distribution's default, which differs between MariaDB and MySQL versions.
        "--character-set-server=utf8mb4".into(),
        "--collation-server=utf8mb4_unicode_ci".into(),
    ];
    args.extend(user_args);
    eprintln!("==> starting MariaDB on 127.0.0.1:{port}");
    let pid = spawn_server(dir, "mysql", &program, args, &log, attached)?;
    // 90 s: the first start after an unclean stop runs InnoDB crash recovery, which on a
    // slow laptop disk can take far longer than a clean start's second or two.
    let url = format!("mysql://root@127.0.0.1:{port}");
    wait_ready("MariaDB", pid, &log, Duration::from_secs(90), || async {
        mysql_version(&url).await.map(drop)
    })
    .await?;
    Ok(Component::child("mysql", pid, program, url, &log))
}

/// Creates the five service databases if missing.
///
/// Why `format!` and not a bind parameter (`?`): placeholders bind *values* in a prepared
/// statement; identifiers (database, table, column names) are part of the statement's
/// structure and cannot be parameters — `CREATE DATABASE ?` is a syntax error. Splicing a
/// name into SQL is safe only because these names are our own constants. ✅ DO keep
/// identifiers in a fixed allow-list (here [`DATABASES`]) and backtick-quote them;
/// ❌ DON'T splice anything a user typed into SQL text.
pub async fn create_databases(mysql_url: &str) -> anyhow::Result<()> {
    // Database-level charset too: tables inherit it, so a migration that forgets
    // `CHARSET=utf8mb4` still gets it (and an external MySQL's own default cannot leak in).
    let mut conn = MySqlConnection::connect(mysql_url).await?;
    for db in DATABASES {
        sqlx::query(&format!(
            "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .execute(&mut conn)
        .await?;
    }
    conn.close().await?;
    Ok(())
}
