//! `payment-service`: a thin main — settings, logging, signals — around [`bookstore_payment::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logging first, so everything start-up logs goes through one subscriber. A bad
    // setting makes `config::load` fail; `?` returns it from `main`, which prints it and
    // exits non-zero — fail fast, naming the key, before any port is bound.
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_payment::Settings::default())?;
    bookstore_payment::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
