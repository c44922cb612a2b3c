//! `catalog-service`: a thin main — settings, logging, signals — around [`bookstore_catalog::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_catalog::Settings::default())?;
    bookstore_catalog::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
