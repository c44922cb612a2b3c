//! The `users` table: SQL and nothing else (rules live in [`crate::api`]).
//!
//! Every query uses bind parameters (`?`). DON'T build SQL with `format!` from input —
//! that is how `' OR '1'='1` logs in as the first user in the table.
//!
//! Usernames are compared under the table collation `utf8mb4_unicode_ci`: case-insensitive,
//! so `Alice` and `alice` are one account. DO decide this in the schema, once. DON'T
//! lowercase in one handler and forget in another — the unique index would then allow
//! `Alice` next to `alice`, and a login for one would find the other.

use chrono::NaiveDateTime;
use sqlx::MySqlPool;

use crate::{
    Error,
    domain::{Email, Username},
};

/// A row of `users`. The hash never leaves this crate: [`UserRow::to_proto`] drops it.
///
/// `password_hash` is a field here because Login needs it, and nowhere else: the proto
/// `User` has no such field, and [`UserRow::to_proto`] is the only way out of this crate.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: u64,
    /// As registered, case kept: `Alice` finds this row when logging in as `alice` (the
    /// collation), and is still shown as `Alice`.
    pub username: String,
    /// `''` when none was given: what `Email::parse` returned is stored, never NULL.
    pub email: String,
    /// The PHC string from [`crate::password::Hasher::hash`]: algorithm, parameters, salt, hash.
    pub password_hash: String,
    /// `customer` or `admin` (migration 0002); the token's `roles` claim is made from it.
    pub role: String,
    /// `DATETIME(3)` carries no time zone, and `NaiveDateTime` says so in the type; the
    /// conversion to UTC happens once, in [`UserRow::to_proto`].
    pub created_at: NaiveDateTime,
}

// A `DATETIME(3)` keeps milliseconds; the proto carries unix milliseconds; so no precision
// is lost between the table and the wire, and a client sorting users by `created_at`
// sees the same order as `ORDER BY created_at`.
impl UserRow {
    /// The public profile (the proto `User` has no hash field, by design).
    pub fn to_proto(&self) -> bookstore_proto::user::User {
        bookstore_proto::user::User {
            id: self.id,
            username: self.username.clone(),
            // In the profile: GetUser is internal, and the gateway shows it only on `/me`,
            // to the address's owner.
            email: self.email.clone(),
            // sqlx's MySQL connections use the UTC session time zone, so DATETIME values
            // are UTC wall-clock times.
            created_at: self.created_at.and_utc().timestamp_millis(),
            roles: self.roles(),
        }
    }

    /// The roles as the token and the proto carry them: a list of one today.
    ///
    /// A list on the wire although the row has one column: a second role later changes
    /// this function and a migration, not the claim format every service already reads.
    pub fn roles(&self) -> Vec<String> {
        vec![self.role.clone()]
    }
}

/// Listed explicitly: `SELECT *` would also ship every column a later migration adds to
/// each read (sqlx ignores columns `FromRow` does not name, so nothing would break — it
/// would only cost, silently), and the query would no longer say what it returns.
const COLUMNS: &str = "id, username, email, password_hash, role, created_at";

/// Inserts a user. A duplicate username (the UNIQUE index, case-insensitive under the
/// table's collation) becomes [`Error::UsernameTaken`].
///
/// DO: let the unique index decide. DON'T `SELECT` first and `INSERT` if absent: two
/// concurrent registrations both see "absent" and the second one fails with an opaque
/// error — or, without the index, succeeds and creates a duplicate account.
///
/// `last_insert_id()` comes from the same connection's OK packet, so it is this insert's
/// id even with many concurrent registrations; the row is then read back to return the
/// database's own `created_at`.
pub async fn insert(
    pool: &MySqlPool,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> Result<UserRow, Error> {
    let result = sqlx::query("INSERT INTO users (username, email, password_hash) VALUES (?, ?, ?)")
        .bind(username.as_str())
        .bind(email.as_str())
        .bind(password_hash)
        .execute(pool)
        .await;
    let id = match result {
        Ok(done) => done.last_insert_id(),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            return Err(Error::UsernameTaken);
        }
        // Anything else (the server gone, a value too long for its column) goes up as
        // `Database`: INTERNAL to the caller, logged with its cause.
        Err(e) => return Err(e.into()),
    };
    // The read-back is one more primary-key lookup (well under a millisecond) on the pool,
    // possibly on another connection: the INSERT has committed (autocommit), so any
    // connection sees the row. `NotFound` here would mean someone deleted it in between.
    find_by_id(pool, id).await?.ok_or(Error::NotFound)
}

/// The user with this username (case-insensitively, by collation), if any.
///
/// Uses the unique index, so it is one B-tree lookup however many users there are.
///
/// It takes `&str` rather than [`Username`]: it only reads, and a name that could never be
/// registered simply finds no row (Login has already parsed it anyway, to fail early).
pub async fn find_by_username(pool: &MySqlPool, username: &str) -> Result<Option<UserRow>, Error> {
    // `format!` splices only the constant column list; the username itself is bound (`?`),
    // as the module's rule demands.
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
        .bind(username)
        .fetch_optional(pool)
        .await?)
}

/// The user with this id, if any: a primary-key lookup.
pub async fn find_by_id(pool: &MySqlPool, id: u64) -> Result<Option<UserRow>, Error> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Makes the account `username` an admin, creating it with `password_hash` if it does not
/// exist; answers the row and whether it was created.
///
/// An existing account keeps its password: promoting an account must not reset the
/// credential of whoever already uses it. `INSERT … ON DUPLICATE KEY UPDATE` makes the
/// two cases one statement on the unique index, so two concurrent runs (two `up`s) cannot
/// both create the account or fail on each other's insert.
pub async fn ensure_admin(
    pool: &MySqlPool,
    username: &Username,
    password_hash: &str,
) -> Result<(UserRow, bool), Error> {
    sqlx::query(
        "INSERT INTO users (username, email, password_hash, role) VALUES (?, '', ?, 'admin') \
         ON DUPLICATE KEY UPDATE role = 'admin'",
    )
    .bind(username.as_str())
    .bind(password_hash)
    .execute(pool)
    .await?;
    // NotFound only if the account was deleted between the two statements.
    let row = find_by_username(pool, username.as_str()).await?.ok_or(Error::NotFound)?;
    // Created by *this* call exactly when the stored hash is the one we just made: every
    // hash has a fresh random salt, so no earlier account can hold it. (Affected rows
    // cannot tell: sqlx asks MySQL for *found* rows, 1 for an unchanged update too.)
    let created = row.password_hash == password_hash;
    Ok((row, created))
}
