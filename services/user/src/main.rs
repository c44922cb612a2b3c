//! `user-service`: a thin main — settings, logging, signals — around [`bookstore_user::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_user::Settings::default())?;
    bookstore_user::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
