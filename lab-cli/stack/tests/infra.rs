//! The infrastructure the suite runs on is the real thing: each server answers its own
//! protocol with its own version string. If one of these fails, every other integration
//! test's result is suspect — so they are the first thing to read in a red CI run.

use bookstore_stack::{infra, testing};

/// MariaDB answers `SELECT VERSION()` over TCP on loopback.
#[tokio::test]
async fn mariadb_answers_with_its_version() {
    let infra = testing::infra();
    let v = infra::mysql_version(&infra.mysql_url).await.expect("MariaDB answers");
    assert!(v.to_lowercase().contains("mariadb") || v.starts_with('8'), "unexpected version {v}");
}

/// Redis answers `INFO server` with a 6.x/7.x version (Lua scripting and streams needed).
#[tokio::test]
async fn redis_answers_with_its_version() {
    let infra = testing::infra();
    let v = infra::redis_version(&infra.redis_url).await.expect("Redis answers");
    let major: u32 = v.split('.').next().unwrap().parse().unwrap();
    assert!(major >= 6, "Redis {v} is too old for the lab's scripts");
}

/// Consul has elected itself leader and reports the course's 1.16 line.
#[tokio::test]
async fn consul_answers_with_the_course_version() {
    let infra = testing::infra();
    let v = infra::consul_version(&infra.consul_addr).await.expect("Consul answers");
    assert!(v.starts_with("1.16."), "Consul {v} is not the course's 1.16.x");
}

/// A fresh test database is really created, empty, and distinct per call.
#[tokio::test]
async fn fresh_databases_are_distinct_and_empty() {
    use sqlx::{Connection, mysql::MySqlConnection};
    let infra = testing::infra();
    let a = infra.fresh_database("stack").await;
    let b = infra.fresh_database("stack").await;
    assert_ne!(a, b);
    let mut conn = MySqlConnection::connect(&infra.database_url(&a)).await.unwrap();
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0);
}
