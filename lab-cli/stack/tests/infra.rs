//! The infrastructure the suite runs on is the real thing: each server answers its own
//! protocol with its own version string. If one of these fails, every other integration
//! test's result is suspect — so they are the first thing to read in a red CI run.
//!
//! They also pin the versions the course depends on: a too-old server fails *here*, with a
//! message naming the version, instead of as a puzzling Lua or API error in some lesson.

use bookstore_stack::{infra, testing};

/// MariaDB answers `SELECT VERSION()` over TCP on loopback. MySQL 8 (compose.yaml) is
/// accepted too: the services use only SQL both understand (InnoDB transactions, `FOR UPDATE`).
#[tokio::test]
async fn mariadb_answers_with_its_version() {
    let infra = testing::infra();
    let v = infra::mysql_version(&infra.mysql_url).await.expect("MariaDB answers");
    // MariaDB reports e.g. `10.11.6-MariaDB-0+deb12u1`; MySQL 8 just `8.0.36`.
    assert!(v.to_lowercase().contains("mariadb") || v.starts_with('8'), "unexpected version {v}");
}

/// Redis answers `INFO server` with a 6.x/7.x version (Lua scripting and streams needed).
/// The version is parsed, not pattern-matched, so Redis 8 passes without a test change.
#[tokio::test]
async fn redis_answers_with_its_version() {
    let infra = testing::infra();
    let v = infra::redis_version(&infra.redis_url).await.expect("Redis answers");
    let major: u32 = v.split('.').next().unwrap().parse().unwrap();
    assert!(major >= 6, "Redis {v} is too old for the lab's scripts");
}

/// Consul has elected itself leader and reports the course's 1.16 line.
/// Pinned exactly (unlike Redis): the Day 35 lesson shows Consul's UI and HTTP API
/// output, and another minor version would make the learner's screen differ from it.
#[tokio::test]
async fn consul_answers_with_the_course_version() {
    let infra = testing::infra();
    // `consul_version` answers only once `/v1/status/leader` names a leader, so a pass
    // also proves the agent can take the services' registrations.
    let v = infra::consul_version(&infra.consul_addr).await.expect("Consul answers");
    assert!(v.starts_with("1.16."), "Consul {v} is not the course's 1.16.x");
}

/// A fresh test database is really created, empty, and distinct per call: the isolation
/// every other integration test relies on. If two calls returned the same name, parallel
/// tests would see each other's rows and fail at random — the worst kind of failure.
#[tokio::test]
async fn fresh_databases_are_distinct_and_empty() {
    use sqlx::{Connection, mysql::MySqlConnection};
    let infra = testing::infra();
    // Two calls in a row with the same label: the random suffix alone must separate them.
    let a = infra.fresh_database("stack").await;
    let b = infra.fresh_database("stack").await;
    assert_ne!(a, b);
    let mut conn = MySqlConnection::connect(&infra.database_url(&a)).await.unwrap();
    // `DATABASE()` is the one selected by the URL, so this also proves `database_url`
    // points at the new database and not at the server's default.
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0);
}
