//! `user-service`: a thin main — settings, logging, signals — around [`bookstore_user::run`].
//!
//! Production example: `BOOKSTORE_ENVIRONMENT=production BOOKSTORE_JWT_SECRET=$(cat
//! /run/secrets/jwt) user-service` — without the secret it refuses to start (see
//! `Settings::check`).
//!
//! `user-service ensure-admin <username>` instead makes that account an admin (creating
//! it with the password in `BOOKSTORE_ADMIN_PASSWORD` if it does not exist) and exits:
//! `bookstore-lab up` runs it for the lab's `admin` account. The password comes from the
//! environment, not the command line, where `ps` would show it to every local user.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use bookstore_platform::cli::{Arg, Command, parse};
    // First, before any setting: `--help` must answer even where a setting is wrong.
    // Exactly one username, required by clap: a missing or extra one is the usage error,
    // never an admin account named after a stray flag.
    let ensure = Command::new("ensure-admin")
        .about("Create (or promote) the admin account, password from BOOKSTORE_ADMIN_PASSWORD")
        .arg(Arg::new("username").required(true));
    let about = "user-service: accounts, login and tokens over gRPC";
    let args = parse("user-service", env!("CARGO_PKG_VERSION"), about, [ensure]);
    // Logging first, so a refusal by `Settings::check` (inside `run`) reaches the log.
    bookstore_platform::telemetry::init("info");
    // Loaded before the subcommand is run, so `ensure-admin` reaches exactly the database
    // the service would (`BOOKSTORE_MYSQL_URL`, `BOOKSTORE_DATABASE`).
    let settings = bookstore_platform::config::load(bookstore_user::Settings::default())?;
    let Some((_ensure, m)) = args.subcommand() else {
        return bookstore_user::run(settings, bookstore_platform::shutdown::on_signal(), |_| {})
            .await;
    };
    let username: &String = m.get_one("username").expect("required by clap");
    // No silent fallback: an admin created with a password nobody chose is worse
    // than an error naming the variable to set.
    let password = std::env::var("BOOKSTORE_ADMIN_PASSWORD")
        .map_err(|_| anyhow::anyhow!("set BOOKSTORE_ADMIN_PASSWORD"))?;
    let created = bookstore_user::ensure_admin(&settings, username, &password).await?;
    // Printed: the command's answer, for a person or `bookstore-lab up`'s log.
    println!("{username} is an admin ({})", if created { "created" } else { "existed" });
    Ok(())
}
