//! `catalog-service`: a thin main around [`bookstore_catalog::run`].
//!
//! `catalog-service seed [--count N]` instead loads the seed catalogue into the configured
//! database (idempotently) and exits — the analogue of the course's import from
//! `bookstore.books`.
//!
//! Examples:
//!
//! ```text
//! catalog-service                               # serve on 9002 (BOOKSTORE_PORT to change)
//! catalog-service seed                          # load the 5,000-book seed catalogue
//! BOOKSTORE_DATABASE=my_db catalog-service seed --count 20000
//! ```
//!
//! The seed command reads the same settings as the service (so it writes to the database
//! the service reads), runs the migrations if needed, and is idempotent: running it twice
//! inserts the books once. The arguments go through `platform::cli`, like every service
//! binary's: `--help` and `--version` exit 0, anything undeclared is a usage error (2).

// Settings load before the subcommand is chosen, so `seed` honours exactly the same
// BOOKSTORE_* variables as the service it seeds for.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use bookstore_platform::cli::{Arg, Command, parse, value_parser};
    // First, before any setting: `--help` must answer even where a setting is wrong.
    let seed = Command::new("seed")
        .about("Load the seed catalogue into the configured database (idempotent), then exit")
        // Parsed by clap: `--count abc` is a usage error, before any connection.
        .arg(Arg::new("count").long("count").value_name("N").value_parser(value_parser!(usize)));
    let about = "catalog-service: books, search and prices over gRPC";
    let args = parse("catalog-service", env!("CARGO_PKG_VERSION"), about, [seed]);
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_catalog::Settings::default())?;
    // No subcommand: serve. `seed [--count N]`: import and exit.
    match args.subcommand() {
        None => {
            // SIGINT/SIGTERM cancel the token, so `kill` or Ctrl-C drains in-flight requests
            // and deregisters from Consul instead of dropping them mid-answer.
            bookstore_catalog::run(settings, bookstore_platform::shutdown::on_signal(), |_| {})
                .await
        }
        Some((_seed, m)) => {
            let count = m.get_one("count").copied();
            let count = count.unwrap_or(bookstore_catalog::seed::DEFAULT_COUNT);
            let inserted = bookstore_catalog::seed::seed_command(&settings, count).await?;
            // Printed, not logged: the count is the command's answer, for a person or a
            // script (`bookstore-lab up` sends it to `.lab/logs/seed.log`; 0 on a re-run is normal).
            println!("seeded {inserted} new books ({count} in the seed catalogue)");
            Ok(())
        }
    }
}
