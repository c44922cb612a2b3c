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
    // Logging first, so a refusal by `Settings::check` (inside `run`) reaches the log.
    bookstore_platform::telemetry::init("info");
    // Loaded before the subcommand is chosen, so `ensure-admin` reaches exactly the database
    // the service would (`BOOKSTORE_MYSQL_URL`, `BOOKSTORE_DATABASE`).
    let settings = bookstore_platform::config::load(bookstore_user::Settings::default())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            bookstore_user::run(settings, bookstore_platform::shutdown::on_signal(), |_| {}).await
        }
        // Exactly two arguments: a missing or extra one is the usage error below, never an
        // admin account named after a stray flag.
        [cmd, username] if cmd == "ensure-admin" => {
            // No silent fallback: an admin created with a password nobody chose is worse
            // than an error naming the variable to set.
            let password = std::env::var("BOOKSTORE_ADMIN_PASSWORD")
                .map_err(|_| anyhow::anyhow!("set BOOKSTORE_ADMIN_PASSWORD"))?;
            let created = bookstore_user::ensure_admin(&settings, username, &password).await?;
            // Printed: the command's answer, for a person or `bookstore-lab up`'s log.
            println!("{username} is an admin ({})", if created { "created" } else { "existed" });
            Ok(())
        }
        _ => anyhow::bail!("usage: user-service [ensure-admin <username>]"),
    }
}
