//! MySQL: each service owns one database, creates it if missing and migrates it at start.
//!
//! DO: one database per service (`inventory_db`, `order_db`, …). A service may only reach
//! another's data through that service's RPCs, so each can change its schema alone.
//! DON'T: join across services' tables "just this once" — that join is a contract nobody
//! wrote down, and it breaks on the day the other team migrates.
//!
//! Why the service creates its own database and runs its own migrations at start: a fresh
//! machine, a fresh test database and a production upgrade then all take the same path,
//! and no separate "setup step" can be forgotten. The trade-off: the service's MySQL user
//! needs `CREATE` rights. Large companies often run migrations as a separate, reviewed
//! deployment step with a privileged user, and give the service only DML rights.

use std::str::FromStr;

use sqlx::{
    ConnectOptions, Connection, MySqlPool,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};

/// Database names are interpolated into `CREATE DATABASE`, which cannot take a bind
/// parameter, so only a conservative alphabet is accepted.
///
/// Why no bind parameter: `?` placeholders stand for *values* in a prepared statement;
/// the server parses the statement's structure — which database, which table — before any
/// value arrives, so identifiers cannot be placeholders. The name comes from config (an
/// env var), which is input: ✅ DO validate identifiers against an allow-list before
/// splicing them; ❌ DON'T rely on escaping backticks yourself.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        // 64: MySQL's maximum identifier length, so a longer name fails here, with our
        // message, rather than in `CREATE DATABASE`.
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    anyhow::ensure!(ok, "invalid database name {name:?}: use [A-Za-z0-9_]{{1,64}}");
    Ok(())
}

/// Creates `database` on the server at `server_url` if it does not exist.
/// `IF NOT EXISTS` makes it safe for several instances starting at once: the second
/// `CREATE` is a no-op, not an error. utf8mb4 for the same reason as the lab's server
/// flags: a 3-byte `utf8` cannot store emoji or rare CJK characters in book titles.
pub async fn create_database(server_url: &str, database: &str) -> anyhow::Result<()> {
    check_name(database)?;
    Ok(create(&MySqlConnectOptions::from_str(server_url)?, database).await?)
}

/// The body of [`create_database`] for a checked name, with sqlx's own error, so
/// [`connect`] can tell a refused connection (retry) from a refused password (give up).
async fn create(server: &MySqlConnectOptions, database: &str) -> sqlx::Result<()> {
    let mut conn = server.connect().await?;
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)
    .await?;
    conn.close().await
}

/// Creates the database if needed, connects a pool of up to `max_connections` and runs
/// `migrator`. Migrations are idempotent (sqlx records applied versions), so every
/// instance may run them at start.
///
/// A server that is not there *yet* is waited for (see [`crate::retry`]): connection
/// refused or reset, a pool timeout, "too many connections" or "shutdown in progress" are
/// retried for up to [`crate::retry::START_BUDGET`]. Everything else — access denied, a
/// bad URL, a failing migration — fails at once: waiting would not fix it.
///
/// `max_connections` is the service's choice, because it is a capacity decision: the sum
/// over all instances of all services must stay under the server's `max_connections`, and
/// a pool larger than the row locks can serve only makes requests queue inside MySQL
/// instead of in the pool — where the queue is at least visible and bounded.
/// Migrations run under a named lock of our own (see `migrate`): sqlx's lock does not
/// hold on MariaDB, and two instances starting together would apply one migration twice.
pub async fn connect(
    server_url: &str,
    database: &str,
    max_connections: u32,
    migrator: &Migrator,
) -> anyhow::Result<MySqlPool> {
    check_name(database)?;
    let server = MySqlConnectOptions::from_str(server_url)?;
    let pool = crate::retry::at_start(
        "MySQL",
        // One attempt = create the database + open the pool, both inside the retry: the
        // CREATE is the first contact with the server, so it is the step that meets a
        // refused connection; the pool's own first connection can meet "too many
        // connections" while other instances start. Migrations stay outside — a failing
        // migration is a bug, and running it again would not fix it.
        || async {
            create(&server, database).await?;
            let opts = server
                .clone()
                .database(database)
                // Statement logging at INFO would print every query of a load test.
                .log_statements(tracing::log::LevelFilter::Debug);
            MySqlPoolOptions::new()
                .max_connections(max_connections)
                // How long a request waits for a free connection before failing. Without
                // a bound, an overloaded pool turns into requests that hang forever; with
                // it, they fail with an error the service maps to `Unavailable`.
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect_with(opts)
                .await
        },
        is_transient,
    )
    .await?;
    migrate(&pool, database, migrator).await?;
    Ok(pool)
}

/// Can this error heal by itself while the server starts up?
///
/// Error numbers, MariaDB's and MySQL's alike: 1040 too many connections (other instances
/// are starting too), 1053 server shutdown in progress (a restart), 1927 connection
/// killed. Deliberately *not* 1045 access denied or 1049 unknown database: those are
/// configuration errors, and retrying them only delays the message that names them.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| matches!(m.number(), 1040 | 1053 | 1927)),
        _ => false,
    }
}

/// Runs `migrator` while holding a named MySQL lock, so instances starting together take
/// turns. Found the hard way: sqlx's own migration lock is `GET_LOCK(?, -1)` with the
/// result ignored, and MariaDB does not treat -1 as "wait forever" — two instances on a
/// fresh database then migrate at once, and the loser sees the winner's half-written
/// bookkeeping row and refuses to start ("migration 1 is partially applied").
///
/// ✅ DO serialise schema changes across instances (a lock, or a separate migrate step
/// before the rollout). ❌ DON'T assume a framework's lock works on every database
/// flavour: MySQL DDL is not transactional, so a lost race leaves the schema half-done.
async fn migrate(pool: &MySqlPool, database: &str, migrator: &Migrator) -> anyhow::Result<()> {
    // The lock lives on one connection, so the migrations must run on that same one.
    let mut conn = pool.acquire().await?;
    // One lock per database: services migrating their own databases never wait on each
    // other, only instances of the same service do.
    let name = format!("bookstore-migrate:{database}");
    // 1 = got it, 0 = timed out after 60 s, NULL = an error (the session was killed), hence
    // `Option`. A minute is far beyond any of the lab's migrations: the holder is stuck.
    let (got,): (Option<i64>,) =
        sqlx::query_as("SELECT GET_LOCK(?, 60)").bind(&name).fetch_one(&mut *conn).await?;
    anyhow::ensure!(got == Some(1), "waited 60 s for another instance's migrations of {database}");
    let result = migrator.run_direct(&mut *conn).await;
    // Released explicitly (the pool keeps the connection, and with it the lock, alive).
    sqlx::query("SELECT RELEASE_LOCK(?)").bind(&name).execute(&mut *conn).await?;
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    /// A normal name passes; a name carrying SQL (here a `DROP DATABASE` injection that
    /// breaks out of the backticks) and an empty one are refused before any SQL is built.
    #[test]
    fn database_names_with_sql_in_them_are_refused() {
        assert!(check_name("inventory_db").is_ok());
        assert!(check_name("x`; DROP DATABASE mysql; --").is_err());
        // Empty: `CREATE DATABASE ``` would fail as a syntax error, far from its cause.
        assert!(check_name("").is_err());
    }
}
