//! `order-service`: a thin main — settings, logging, signals — around [`bookstore_order::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_order::Settings::default())?;
    bookstore_order::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
