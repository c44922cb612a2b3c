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
//! inserts the books once. No clap here: two words of arguments do not need a parser, and
//! a thin main stays thin.

// Settings load before the subcommand is chosen, so `seed` honours exactly the same
// BOOKSTORE_* variables as the service it seeds for.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_platform::telemetry::init("info");
    let settings = bookstore_platform::config::load(bookstore_catalog::Settings::default())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    // No argument: serve. `seed [--count N]`: import and exit. Anything else: a usage
    // error that says what is accepted, instead of starting a server by surprise.
    match args.first().map(String::as_str) {
        None => {
            // SIGINT/SIGTERM cancel the token, so `kill` or Ctrl-C drains in-flight requests
            // and deregisters from Consul instead of dropping them mid-answer.
            bookstore_catalog::run(settings, bookstore_platform::shutdown::on_signal(), |_| {})
                .await
        }
        Some("seed") => {
            let count = match args.get(1..) {
                // `--count abc` fails the parse and exits non-zero, before any connection.
                Some([flag, n]) if flag == "--count" => n.parse()?,
                Some([]) => bookstore_catalog::seed::DEFAULT_COUNT,
                _ => anyhow::bail!("usage: catalog-service seed [--count N]"),
            };
            let inserted = bookstore_catalog::seed::seed_command(&settings, count).await?;
            // Printed, not logged: the count is the command's answer, for a person or a
            // script (`bookstore-lab up` sends it to `.lab/logs/seed.log`; 0 on a re-run is normal).
            println!("seeded {inserted} new books ({count} in the seed catalogue)");
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command {other:?}; usage: catalog-service [seed [--count N]]")
        }
    }
}
