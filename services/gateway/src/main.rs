//! `gateway`: a thin main around [`bookstore_gateway::run`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_gateway::Settings::default())?;
    bookstore_gateway::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
}
