//! `inventory-service`: a thin main — settings, logging, signals — around [`bookstore_inventory::run`].
//!
//! Everything else lives in the library, so tests and the bench run the very same service
//! in-process (on port 0) that this binary runs as a process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, before any setting: `--help` and `--version` answer and exit, and any
    // argument is a usage error — this binary has none, and must not serve on a typo.
    let about = "inventory-service: stock, locks and the stock log over gRPC";
    bookstore_platform::cli::parse("inventory-service", env!("CARGO_PKG_VERSION"), about, []);
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_inventory::Settings::default())?;
    // `|_| {}`: the binary has no use for the bound address; tests pass a callback here to
    // learn which real port their port 0 became.
    bookstore_inventory::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
