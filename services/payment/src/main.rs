//! `payment-service`: a thin main — settings, logging, signals — around [`bookstore_payment::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, before any setting: `--help` and `--version` answer and exit, and any
    // argument is a usage error — this binary has none, and must not serve on a typo.
    let about = "payment-service: payments, the gateway callback and the outbox relay over gRPC";
    bookstore_platform::cli::parse("payment-service", env!("CARGO_PKG_VERSION"), about, []);
    // Logging first, so everything start-up logs goes through one subscriber. A bad
    // setting makes `config::load` fail; `?` returns it from `main`, which prints it and
    // exits non-zero — fail fast, naming the key, before any port is bound.
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_payment::Settings::default())?;
    bookstore_payment::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
