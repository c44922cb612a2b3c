//! `inventory-service`: a thin main — settings, logging, signals — around [`bookstore_inventory::run`].
//!
//! Everything else lives in the library, so tests and the bench run the very same service
//! in-process (on port 0) that this binary runs as a process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_inventory::Settings::default())?;
    bookstore_inventory::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
