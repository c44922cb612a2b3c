//! # user-service — accounts and the tokens every other service trusts
//!
//! The course's Week 5 service, rebuilt here because nothing downstream can run without
//! it: PublishBook, CreateOrder and CreatePayment all start by asking *this* service who
//! the caller is (`ValidateToken`). The contract is `proto/bookstore/user/v1/user.proto`.
//!
//! What it is not for: authorisation rules of other services (may *this* user cancel
//! *that* order?) — those live with the data they protect. user-service only answers
//! "who is this?", and answers it the same way for everybody.
//!
//! | module | its one job |
//! |---|---|
//! | [`domain`] | newtypes that parse input: [`domain::Username`], [`domain::Password`], [`domain::Email`] |
//! | [`password`] | argon2id hashing and verification, off the async runtime |
//! | [`token`] | issuing and checking HS256 JWTs |
//! | [`store`] | the `users` table (SQL only, no rules) |
//! | [`api`] | the gRPC handlers: parse → rule → store → answer |
//! | [`error`] | the one error enum and its one mapping to `tonic::Status` |
//!
//! ## How a request gets an identity
//!
//! ```text
//! client ──Login(user, pw)──▶ user-service ── argon2id verify ──▶ signs JWT {sub, exp}
//! client ◀──────── token ────┘
//! client ──PublishBook + "authorization: Bearer <jwt>"──▶ catalog-service
//!                         catalog ──ValidateToken(jwt)──▶ user-service (signature + expiry)
//!                         catalog ◀── user_id, username ──┘  → the book is published
//! ```
//!
//! Only user-service holds the signing secret. Other services never parse the token
//! themselves; they ask `ValidateToken`. The alternative — give every service the secret
//! and let it verify locally — saves one RPC per request but spreads the one key that can
//! mint any identity over five processes and five configs. With an asymmetric algorithm
//! (RS256/EdDSA: services get only the *public* key) local verification becomes safe; that
//! is the usual next step once the extra RPC shows up in a profile.
//!
//! ## Why tokens and not server-side sessions
//!
//! A session id is a random key into a table the server must look up on every request —
//! one more shared database between services. A JWT carries its claims with it, signed, so
//! checking it is a pure CPU operation (microseconds) with no storage at all. The price:
//! a JWT cannot be "logged out" before it expires. We keep expiry short (2 h) and say so;
//! a deny-list in Redis, checked by `ValidateToken`, would add revocation if needed.
//!
//! ## Security checklist (each item is in the code, with its why)
//!
//! | DO | DON'T | where |
//! |---|---|---|
//! | hash with argon2id, a fresh salt per password | store plain text, MD5 or SHA-x | [`password`] |
//! | hash on the blocking pool, a bounded number at once | hash inside an `async fn` | [`password::Hasher`] |
//! | one answer for unknown user and wrong password | reveal which usernames exist | [`error`], [`api`] |
//! | equalise the time of both failures | let the clock tell what the message hides | [`password::Hasher::verify`] |
//! | pin the JWT algorithm, require `exp` | accept `alg: none` or tokens that never expire | [`token`] |
//! | refuse the published dev secret outside development | ship a default key to production | [`Settings::check`] |
//! | roles in the signed token, granted only by an operator command | let Register or a request field make anyone an admin | [`ensure_admin`] |
//! | enforce uniqueness with an index | SELECT-then-INSERT | [`store::insert`] |
//! | redact secrets and passwords in `Debug` | rely on nobody logging them | `Secret`, [`domain::Password`] |
//!
//! What is deliberately *not* here, and would be next in a real system: rate limiting of
//! Login per account and per IP, token revocation (a deny-list), refresh tokens, and
//! e-mail verification. Each is a known gap, not an oversight.
//!
//! [`Settings`] and [`run`] below are what `main.rs` and the tests use.

pub mod api;
pub mod domain;
pub mod error;
pub mod password;
pub mod store;
pub mod token;

use bookstore_platform::{CommonSettings, GrpcServer, Secret, Shutdown, run::Bound};
use bookstore_proto::user::user_service_server::UserServiceServer;
use serde::{Deserialize, Serialize};

pub use error::Error;

/// The secret the service ships with, so `bookstore-lab up` works with zero set-up.
///
/// DO: ship a development default — a lab that needs three env vars before it starts is a
/// lab nobody finishes. DON'T: let that default reach production. Anyone who has read this
/// file (it is on GitHub) could sign a token for any user id; [`Settings::check`] therefore
/// refuses it unless `environment = "development"`.
///
/// Generating a production secret: `openssl rand -base64 48` (48 random bytes, 64
/// characters). Put it in `BOOKSTORE_JWT_SECRET` through the deployment's secret store,
/// never in a committed config file. Rotating it logs every user out (their tokens stop
/// verifying) — acceptable for a rare rotation, and why real systems support two keys at
/// once (a key id, `kid`, in the JWT header) during a rollover.
pub const DEV_JWT_SECRET: &str = "bookstore-lab-development-secret-do-not-use-in-production";

/// The lab's admin account (development only): `admin` / [`DEV_ADMIN_PASSWORD`]. The
/// lab's `up` creates it with [`ensure_admin`]; the README says how to log in as it.
pub const DEV_ADMIN_USERNAME: &str = "admin";

/// The lab admin's password. Public like [`DEV_JWT_SECRET`], and refused the same way
/// outside development: anyone who has read this file could publish books as that admin.
pub const DEV_ADMIN_PASSWORD: &str = "bookstore-admin-dev";

/// The shortest JWT secret [`Settings::check`] accepts, in bytes (HMAC keys are bytes).
///
/// HS256 keys shorter than the hash output (32 bytes) are guessable offline from any one
/// token: an attacker who captures a JWT can brute-force a short secret at GPU speed.
const MIN_SECRET_BYTES: usize = 32;

/// user-service settings: the common ones plus the JWT secret and lifetime.
/// Environment: `BOOKSTORE_JWT_SECRET`, `BOOKSTORE_JWT_TTL_SECS`.
///
/// Like every service's settings, the common part is flattened in, so `BOOKSTORE_PORT`,
/// `BOOKSTORE_DATABASE`, … work the same here as everywhere.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// Flattened: the variables are `BOOKSTORE_PORT`, not `BOOKSTORE_COMMON__PORT`.
    #[serde(flatten)]
    pub common: CommonSettings,
    /// HMAC key for signing tokens; `Secret` so it never shows in logs.
    pub jwt_secret: Secret,
    /// How long a token is accepted after login. Short enough that a leaked token expires
    /// soon, long enough that a learner is not logged out mid-lesson (2 hours).
    pub jwt_ttl_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            common: CommonSettings::defaults(9001, "user_db"),
            // The published secret as the default: `check` refuses it outside development,
            // so this convenience cannot reach production unnoticed.
            jwt_secret: Secret::new(DEV_JWT_SECRET),
            jwt_ttl_secs: 2 * 60 * 60,
        }
    }
}

impl Settings {
    /// Fails fast on settings that would make the service insecure or useless.
    ///
    /// DO: refuse to start. A service that starts and signs tokens with a public key is
    /// worse than one that does not start: the first is an incident, the second a log line.
    ///
    /// Called first thing in [`run`], before the database is touched, so a misconfigured
    /// production deployment fails in milliseconds with a message that names the variable
    /// to fix. (Tests call it directly too.)
    pub fn check(&self) -> anyhow::Result<()> {
        let secret = self.jwt_secret.expose();
        anyhow::ensure!(
            self.common.is_development() || secret != DEV_JWT_SECRET,
            "refusing to start: BOOKSTORE_JWT_SECRET is the built-in development secret and \
             environment is {:?}; set a random secret of at least {MIN_SECRET_BYTES} bytes",
            self.common.environment
        );
        // `len()` counts bytes, which is what an HMAC key is: 32 ASCII characters pass at
        // exactly 32 bytes, and a short secret of multi-byte characters is judged by its bytes.
        anyhow::ensure!(
            secret.len() >= MIN_SECRET_BYTES,
            "refusing to start: BOOKSTORE_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
        );
        // A TTL of 0 would issue tokens that expire the moment they are signed (accepted only
        // for the 5 s leeway): every login would "succeed" and every request after it fail.
        anyhow::ensure!(self.jwt_ttl_secs > 0, "jwt_ttl_secs must be positive");
        Ok(())
    }
}

/// Checks settings, connects MySQL (creating and migrating `user_db`), binds, serves until
/// `shutdown`, and reports the bound addresses through `on_bound`.
///
/// A pool of 10 connections: Register and Login are CPU-bound (argon2), not
/// database-bound, so more connections would sit idle while the hashes queue.
pub async fn run(
    settings: Settings,
    shutdown: Shutdown,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<()> {
    settings.check()?;
    let pool = bookstore_platform::db::connect(
        settings.common.mysql_url.expose(),
        &settings.common.database,
        10,
        // The migrations are compiled into the binary: a deployed user-service always
        // carries the schema it was written for, never a folder of another version.
        &sqlx::migrate!("../../migrations/user"),
    )
    .await?;
    let api =
        api::UserApi::new(pool, token::TokenKeys::new(&settings.jwt_secret), settings.jwt_ttl_secs);
    // The server is built only after MySQL answered, so health turns SERVING only when the
    // service can really serve (see `bookstore_platform::server`).
    let server = GrpcServer::bind(&settings.common.host, settings.common.port)
        .await?
        .add_service(UserServiceServer::new(api));
    bookstore_platform::run::serve("user-service", &settings.common, server, shutdown, on_bound)
        .await
}

/// Starts user-service on a task — port 0, database `database` on `mysql_url`, tokens
/// signed with `jwt_secret` — and returns once it is bound. Every service that checks
/// tokens (catalog, gateway, …) needs a real user-service in its tests; this is the one
/// way they start it, so a new required setting is added here once, not in each test.
///
/// A start-up failure (bad secret, MySQL down) is returned as the error instead of a
/// test that waits for an address that never comes.
pub async fn spawn_in_process(
    mysql_url: &str,
    database: String,
    jwt_secret: &str,
    shutdown: Shutdown,
) -> anyhow::Result<Bound> {
    let mut settings = Settings::default();
    // Port 0: the OS picks a free port, so tests run in parallel without colliding; the
    // real port comes back through `on_bound`. ❌ DON'T pick "a probably free" port number
    // in a test — two tests pick the same one on a busy CI machine and one fails at random.
    settings.common.port = 0;
    settings.common.mysql_url = Secret::new(mysql_url);
    settings.common.database = database;
    // The caller's secret must pass `check` like any other (at least 32 bytes): a short one
    // fails this start with its reason, not some later token assertion.
    settings.jwt_secret = Secret::new(jwt_secret);
    // Development, chosen explicitly like the lab does: the default (production) would
    // also work with a good test secret, but a test that happened to pass the dev secret
    // should not turn into a start-up refusal in some other crate's suite.
    settings.common.environment = "development".into();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(run(settings, shutdown, move |b| {
        let _ = tx.send(b);
    }));
    match rx.await {
        Ok(bound) => Ok(bound),
        // The sender was dropped unused: `run` failed before binding.
        Err(_) => {
            Err(handle.await?.err().unwrap_or_else(|| anyhow::anyhow!("user-service stopped")))
        }
    }
}

/// `user-service ensure-admin <username>`: makes `username` an admin, creating the account
/// with `password` if it does not exist (an existing account keeps its password). Answers
/// whether the account was created. Idempotent, so the lab runs it on every `up`.
///
/// An operator command and not an RPC, on purpose: ❌ DON'T add a "GrantRole" RPC that
/// any caller reaching user-service could try; ✅ DO make granting admin something only
/// whoever holds the database credentials can do. The built-in [`DEV_ADMIN_PASSWORD`] is
/// refused outside development, like the built-in JWT secret.
pub async fn ensure_admin(
    settings: &Settings,
    username: &str,
    password: &str,
) -> anyhow::Result<bool> {
    // Before anything is parsed or connected: a production run with the published password
    // fails without touching the database.
    anyhow::ensure!(
        settings.common.is_development() || password != DEV_ADMIN_PASSWORD,
        "refusing the built-in development admin password: environment is {:?}",
        settings.common.environment
    );
    let username = domain::Username::parse(username)?;
    let password = domain::Password::parse(password)?;
    let pool = bookstore_platform::db::connect(
        settings.common.mysql_url.expose(),
        &settings.common.database,
        // Two connections: the command sends its statements one after another.
        2,
        &sqlx::migrate!("../../migrations/user"),
    )
    .await?;
    // Hashed even when the account exists and keeps its own password: one code path, and
    // an operator command can afford 30 ms.
    let hash = password::Hasher::default().hash(&password).await?;
    let (row, created) = store::ensure_admin(&pool, &username, &hash).await?;
    tracing::info!(user_id = row.id, username = %row.username, created, "admin ensured");
    // Closed explicitly, so the connections say goodbye before the process exits instead
    // of being cut (an "Aborted connection" warning in MariaDB's log on every `up`).
    pool.close().await;
    Ok(created)
}

/// [`ensure_admin`] against the database `database` of an in-process user-service (started
/// with [`spawn_in_process`]): how other crates' tests get an admin account to log in as.
pub async fn ensure_admin_in_process(
    mysql_url: &str,
    database: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<bool> {
    let mut settings = Settings::default();
    settings.common.mysql_url = Secret::new(mysql_url);
    settings.common.database = database.to_string();
    // Development, as in `spawn_in_process`: a test may pass `DEV_ADMIN_PASSWORD`, and the
    // production default would refuse it there, far from the test that chose it.
    settings.common.environment = "development".into();
    ensure_admin(&settings, username, password).await
}
