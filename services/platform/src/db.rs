//! MySQL: each service owns one database, creates it if missing and migrates it at start.
//!
//! DO: one database per service (`inventory_db`, `order_db`, …). A service may only reach
//! another's data through that service's RPCs, so each can change its schema alone.
//! DON'T: join across services' tables "just this once" — that join is a contract nobody
//! wrote down, and it breaks on the day the other team migrates.

use std::str::FromStr;

use sqlx::{
    ConnectOptions, Connection, MySqlPool,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};

/// Database names are interpolated into `CREATE DATABASE`, which cannot take a bind
/// parameter, so only a conservative alphabet is accepted.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    anyhow::ensure!(ok, "invalid database name {name:?}: use [A-Za-z0-9_]{{1,64}}");
    Ok(())
}

/// Creates `database` on the server at `server_url` if it does not exist.
pub async fn create_database(server_url: &str, database: &str) -> anyhow::Result<()> {
    check_name(database)?;
    let opts = MySqlConnectOptions::from_str(server_url)?;
    let mut conn = opts.connect().await?;
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// Creates the database if needed, connects a pool of up to `max_connections` and runs
/// `migrator`. Migrations are idempotent (sqlx records applied versions), so every
/// instance may run them at start.
pub async fn connect(
    server_url: &str,
    database: &str,
    max_connections: u32,
    migrator: &Migrator,
) -> anyhow::Result<MySqlPool> {
    create_database(server_url, database).await?;
    let opts = MySqlConnectOptions::from_str(server_url)?
        .database(database)
        // Statement logging at INFO would print every query of a load test.
        .log_statements(tracing::log::LevelFilter::Debug);
    let pool = MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(opts)
        .await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn database_names_with_sql_in_them_are_refused() {
        assert!(check_name("inventory_db").is_ok());
        assert!(check_name("x`; DROP DATABASE mysql; --").is_err());
        assert!(check_name("").is_err());
    }
}
