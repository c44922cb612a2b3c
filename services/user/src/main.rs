//! `user-service`: a thin main — settings, logging, signals — around [`bookstore_user::run`].
//!
//! Production example: `BOOKSTORE_ENVIRONMENT=production BOOKSTORE_JWT_SECRET=$(cat
//! /run/secrets/jwt) user-service` — without the secret it refuses to start (see
//! `Settings::check`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logging first, so a refusal by `Settings::check` (inside `run`) reaches the log.
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_user::Settings::default())?;
    bookstore_user::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
