//! `gateway`: a thin main around [`bookstore_gateway::run`].
//!
//! Settings come from `BOOKSTORE_*` variables (`BOOKSTORE_PORT`, `BOOKSTORE_USER_ADDR`,
//! `BOOKSTORE_CATALOG_ADDR`, `BOOKSTORE_UPSTREAM_TIMEOUT_MS`); the supervisor sets them.
//! Try it: `curl -s localhost:8080/api/v1/books?page_size=3 | jq`.

// The same three lines as every service's main: telemetry, settings, run until a signal.
// Everything testable lives in the library.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, before any setting: `--help` and `--version` answer and exit, and any
    // argument is a usage error — this binary has none, and must not serve on a typo.
    let about = "gateway: the HTTP/JSON API in front of the gRPC services";
    bookstore_platform::cli::parse("gateway", env!("CARGO_PKG_VERSION"), about, []);
    // Logging first, so everything start-up reports goes through one subscriber.
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_gateway::Settings::default())?;
    bookstore_gateway::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
