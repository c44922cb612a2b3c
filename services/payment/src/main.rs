//! `payment-service`: a thin main — settings, logging, signals — around [`bookstore_payment::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_payment::Settings::default())?;
    bookstore_payment::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
