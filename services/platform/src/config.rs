//! Typed, layered settings (the zero-to-production shape).
//!
//! Layers, later wins:
//! 1. the defaults the service passes in (the course's ports, local URLs);
//! 2. an optional TOML file named by `BOOKSTORE_CONFIG` (e.g. `config/inventory.toml`);
//! 3. environment variables `BOOKSTORE_<FIELD>` — nested fields with `__`,
//!    e.g. `BOOKSTORE_PORT=0`, `BOOKSTORE_MYSQL_URL=mysql://root@127.0.0.1:3306`.
//!
//! DO: parse configuration into a struct once at start-up and fail fast on a bad value.
//! DON'T: call `std::env::var` deep inside handlers — a typo then surfaces as a runtime
//! error on the first request of the day, not as a refusal to start.
//!
//! Why layers: defaults make `cargo run -p inventory-service` work with zero set-up on the
//! lab's machine; a file suits settings that are long or many (docker compose mounts one);
//! environment variables are what every deployment tool can set per instance (the stack
//! supervisor, compose, Kubernetes) and they override the rest. This is the twelve-factor
//! rule "config in the environment", with the file as a convenience, not a requirement.
//!
//! Why figment rather than hand-written `env::var` parsing: its errors name the key and
//! the layer that held a bad value (`BOOKSTORE_PORT=abc` fails naming `port` and the
//! environment as its source), it merges nested structs, and it is the same few lines in
//! every service.

use std::fmt;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A string that must never reach a log: passwords, JWT secrets, URLs with credentials.
///
/// `Debug` prints `Secret(***)`, so `tracing::info!(?settings)` is safe by construction.
/// DON'T rely on "remembering not to log it" — a later `{:?}` added while debugging
/// would quietly ship the database password to the log aggregator.
// `transparent`: in TOML and env vars a secret is a plain string; the wrapper exists only
// in Rust's type system, where it changes what `{:?}` prints.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value: greppable, so every use can be reviewed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

// No `Display` impl at all: `format!("{}", secret)` does not compile, so the only way to
// the value is the explicit `expose()`. (Serialize still writes the value — settings are
// never serialized to logs, only merged by figment — a stricter type would skip it.)
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Settings every service has. A service embeds it with `#[serde(flatten)]` next to its
/// own fields, so one env var scheme covers everything.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommonSettings {
    /// Interface to bind. Loopback by default: a lab must not listen on the network.
    /// Docker compose sets `0.0.0.0`, because inside a container loopback is private to
    /// the container and other containers could not reach the service.
    pub host: String,
    /// gRPC (or HTTP, for the gateway) port. 0 = let the OS choose (tests do this).
    pub port: u16,
    /// Prometheus `/metrics` port. 0 = let the OS choose; the bound port is logged and
    /// published in Consul's service meta so the dashboard can find it.
    pub metrics_port: u16,
    /// MySQL *server* URL without a database, e.g. `mysql://root@127.0.0.1:3306`.
    pub mysql_url: Secret,
    /// This service's own database (one per service: services never share tables).
    pub database: String,
    /// Redis URL, e.g. `redis://127.0.0.1:6379`.
    pub redis_url: Secret,
    /// Prefix for every Redis key this instance writes. Empty in production; tests use a
    /// random one so parallel tests never see each other's keys.
    pub redis_prefix: String,
    /// Consul agent HTTP address (`127.0.0.1:8500`). Empty = no registration.
    pub consul_addr: String,
    /// Name to register under; empty = the service's own (`user-service`). Tests set a
    /// unique one so parallel tests never balance over each other's instances.
    pub consul_name: String,
    /// How often Consul runs our gRPC health check. The course's 10 s means a killed
    /// instance stays "passing" for up to 10 s; the lab uses 1 s (Day 35 measures both).
    pub consul_check_interval_ms: u64,
    /// Deadline of one health check (the course: 3 s); below the interval.
    pub consul_check_timeout_ms: u64,
    /// Critical for this long → Consul removes the registration (crash clean-up).
    pub consul_deregister_after_secs: u64,
    /// Address other processes should use to reach this instance (defaults to `host`).
    /// Needed because a bind address is not always dialable: `0.0.0.0` means "every
    /// interface" to `bind` but nothing useful to a client, so in compose the service
    /// binds `0.0.0.0` and advertises its service name (`inventory`) to Consul.
    pub advertise_host: String,
    /// `development` allows insecure defaults (such as the built-in JWT secret);
    /// anything else refuses them. The default is `production`: development must be
    /// *chosen* (the lab's supervisor, compose.yaml and the tests set
    /// `BOOKSTORE_ENVIRONMENT=development`), so a deployment that forgets the variable
    /// refuses the published dev secret instead of signing tokens with it.
    /// ✅ DO make the safe behaviour the one you get by forgetting a setting;
    /// ❌ DON'T ship a default that is only safe if someone remembers to change it.
    pub environment: String,
}

impl CommonSettings {
    /// Defaults for a service that listens on `port` and owns `database`: what a learner's
    /// machine has (the lab's MariaDB on 3306, Redis on 6379), so no file is needed there.
    /// Consul is off by default (empty address): a service started alone by hand should
    /// not fail because no agent runs.
    pub fn defaults(port: u16, database: &str) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port,
            metrics_port: 0,
            mysql_url: Secret::new("mysql://root@127.0.0.1:3306"),
            database: database.into(),
            redis_url: Secret::new("redis://127.0.0.1:6379"),
            redis_prefix: String::new(),
            consul_addr: String::new(),
            consul_name: String::new(),
            consul_check_interval_ms: 10_000,
            consul_check_timeout_ms: 3_000,
            consul_deregister_after_secs: 60,
            advertise_host: String::new(),
            environment: "production".into(),
        }
    }

    /// Exactly `development`: `dev`, `Development` or a typo count as production, which
    /// is the safe side to fall on (see `environment`).
    pub fn is_development(&self) -> bool {
        self.environment == "development"
    }

    /// The host other processes dial: `advertise_host`, else the bind host.
    pub fn advertised_host(&self) -> &str {
        if self.advertise_host.is_empty() { &self.host } else { &self.advertise_host }
    }
}

/// Loads settings: `defaults` → TOML file from `BOOKSTORE_CONFIG` (if set) → `BOOKSTORE_*`.
///
/// Generic over the service's own settings struct, which flattens [`CommonSettings`], so
/// `BOOKSTORE_PORT` and, say, `BOOKSTORE_JWT_SECRET` go through one mechanism. An error
/// here should end `main` with a non-zero exit: that is the "fail fast" — a service that
/// started with a silently defaulted port or database is worse than one that did not start.
pub fn load<T: Serialize + DeserializeOwned>(defaults: T) -> anyhow::Result<T> {
    let mut figment = Figment::from(Serialized::defaults(defaults));
    // Read only when set: without `BOOKSTORE_CONFIG`, the defaults and the environment are
    // the whole configuration, which is the lab's usual case.
    if let Ok(path) = std::env::var("BOOKSTORE_CONFIG") {
        // figment treats a missing file as empty; a mistyped path must fail instead.
        anyhow::ensure!(
            std::path::Path::new(&path).is_file(),
            "BOOKSTORE_CONFIG={path}: no such file"
        );
        figment = figment.merge(Toml::file(path));
    }
    // `BOOKSTORE_CONFIG` itself also matches the prefix; it is not a settings field, so
    // it is ignored by deserialization (no `deny_unknown_fields`). The same leniency lets
    // a misspelt variable (`BOOKSTORE_PROT=0`) pass unnoticed: serde cannot deny unknown
    // fields in a struct that uses `flatten`, which every service's settings do.
    let settings = figment.merge(Env::prefixed("BOOKSTORE_").split("__")).extract()?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{:?}` of the whole settings struct — what a `tracing::info!(?settings)` prints at
    /// start-up — shows neither the MySQL URL nor anything from it. The URL is where a
    /// database password lives, and logs are read by far more people than the database.
    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = CommonSettings::defaults(1, "x_db");
        let printed = format!("{s:?}");
        assert!(!printed.contains("mysql://"), "{printed}");
        assert!(printed.contains("Secret(***)"));
    }

    /// `BOOKSTORE_*` variables win over the defaults, and fields not set keep their
    /// defaults: the layering every service and test relies on (tests set `PORT=0` and a
    /// key prefix this way). `Jail` serialises jailed tests and restores the environment
    /// when the closure ends; the variables are process-wide meanwhile, which is safe here
    /// because no other test of this crate calls `load`.
    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn environment_variables_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BOOKSTORE_PORT", "0");
            jail.set_env("BOOKSTORE_REDIS_PREFIX", "t1:");
            let s = load(CommonSettings::defaults(9004, "inventory_db")).unwrap();
            assert_eq!(s.port, 0);
            assert_eq!(s.redis_prefix, "t1:");
            // Not set in the jail: the default survives the merge, which is what "later
            // wins" means — per field, not per layer.
            assert_eq!(s.database, "inventory_db");
            Ok(())
        });
    }
}
