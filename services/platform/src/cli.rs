//! The command line every service binary shares: `--help`, `--version`, and its own
//! subcommands, parsed before anything else happens.
//!
//! Settings are not flags: they come from `BOOKSTORE_*` variables (see [`crate::config`]),
//! so the parser only answers the questions a person types at a shell — what is this,
//! which version, which subcommands — and refuses anything else.
//!
//! clap's own exits, on purpose: `--help` and `--version` print to stdout and exit 0, and
//! an unknown flag or argument prints clap's usage error to stderr and exits 2.
//! ❌ DON'T route those through an `anyhow` error returned from `main`: it prints as
//! `Error: …` (with a stack backtrace under `RUST_BACKTRACE=1`) and exits 1, for a
//! request that succeeded (help) or a typo that deserves the usage line, not a trace.
//! ❌ DON'T ignore the arguments either: `order-service --help` would start a server.

pub use clap::{Arg, ArgMatches, Command, value_parser};

/// Parses the process's arguments for the service binary `name`, or exits as described
/// in the module docs; `subcommands` are the binary's own (`seed`, `ensure-admin`).
///
/// `version` is the caller's `env!("CARGO_PKG_VERSION")`: the binary's crate, not this
/// one. Call it first in `main`, before telemetry and settings, so `--help` works even
/// where a setting is missing or wrong.
pub fn parse(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    subcommands: impl IntoIterator<Item = Command>,
) -> ArgMatches {
    command(name, version, about, subcommands).get_matches()
}

/// The command `parse` runs, kept apart so a test can parse a given argument list.
fn command(
    name: &'static str,
    version: &'static str,
    about: &'static str,
    subcommands: impl IntoIterator<Item = Command>,
) -> Command {
    Command::new(name)
        .version(version)
        .about(about)
        .after_help("Configured by BOOKSTORE_* environment variables (BOOKSTORE_PORT, …).")
        .subcommands(subcommands)
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    /// Help and version are clap's "exit 0" kinds, a stray flag its "exit 2" usage error,
    /// and no argument at all parses (the binary then serves).
    #[test]
    fn help_and_version_exit_0_and_a_bad_flag_exits_2() {
        let seed = Command::new("seed").arg(Arg::new("count").long("count"));
        let cmd = || command("catalog-service", "0.1.0", "test", [seed.clone()]);
        let kind =
            |args: &[&str]| cmd().try_get_matches_from(args).map_err(|e| (e.kind(), e.exit_code()));
        assert_eq!(kind(&["catalog-service", "--help"]).unwrap_err(), (ErrorKind::DisplayHelp, 0));
        assert_eq!(
            kind(&["catalog-service", "--version"]).unwrap_err(),
            (ErrorKind::DisplayVersion, 0)
        );
        assert_eq!(
            kind(&["catalog-service", "--bogus"]).unwrap_err(),
            (ErrorKind::UnknownArgument, 2)
        );
        assert!(kind(&["catalog-service"]).is_ok());
        assert!(kind(&["catalog-service", "seed", "--count", "7"]).is_ok());
    }
}
