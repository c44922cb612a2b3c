//! # bookstore-stack — the stack supervisor
//!
//! Runs the real infrastructure — MariaDB, Redis, Consul — and the service binaries as
//! child processes on loopback, under one private directory (`.lab/` by default), waits
//! until each one answers, and stops them all cleanly. Used by `bookstore-lab up|down|status`,
//! by the TUI lab, and by the test suite (through [`testing`]).
//!
//! This is the project's "embedded default": nothing to configure, real servers
//! underneath. With external URLs (`BOOKSTORE_MYSQL_URL`, `BOOKSTORE_REDIS_URL`,
//! `BOOKSTORE_CONSUL_ADDR`, e.g. from `docker compose up -d`) it starts only what is missing.
//!
//! | module | its one job |
//! |---|---|
//! | [`state`] | the `stack.json` record of what runs where (written after every step) |
//! | [`process`] | spawning children with logs, stopping them, finding orphans of a killed run |
//! | [`ports`] | picking a free loopback port (preferring the well-known one) |
//! | [`infra`] | MariaDB, Redis and Consul: initialise, start, wait until ready |
//! | [`services`] | the six service binaries: environment, start order, health wait |
//! | [`probe`] | asking a running component whether it is healthy (for `status`) |
//! | [`testing`] | what integration tests use: the running infra, a fresh database, a key prefix |
//!
//! Why child processes and not containers: a learner should see `mariadbd` in `ps`, read
//! its log in `.lab/logs/`, and connect with `mysql`/`redis-cli` to the same server the
//! services use — no engine in between. Docker users get the same topology from
//! `compose.yaml` and run the lab with `--external`.

pub mod infra;
pub mod ports;
pub mod probe;
pub mod process;
pub mod services;
pub mod state;
pub mod testing;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use state::{Component, StackState};

/// Options for [`Supervisor::up`].
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Start only MariaDB, Redis and Consul (what the test suite needs).
    pub infra_only: bool,
    /// Use servers that already run instead of starting them (all three must be given
    /// through the environment variables of [`infra::External`]).
    pub external: bool,
    /// Put services on free ports instead of the course's 9001-9005/8080 (tests).
    pub free_ports: bool,
    /// Where the service binaries are; default: next to the running executable.
    pub bin_dir: Option<PathBuf>,
    /// Children die with the calling process (PR_SET_PDEATHSIG) instead of outliving it.
    /// `bookstore-lab up` leaves this off so the stack keeps running after the command.
    pub attached: bool,
}

/// Owns a stack directory and the processes recorded in it.
pub struct Supervisor {
    dir: PathBuf,
    state: StackState,
}

impl Supervisor {
    /// Opens (creating if needed) the stack directory. The directory is made absolute,
    /// because its path is how we recognise our own processes later.
    pub fn open(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())
            .with_context(|| format!("cannot create {}", dir.as_ref().display()))?;
        let dir = std::fs::canonicalize(dir.as_ref())?;
        let state = StackState::load(&dir)?.unwrap_or_default();
        Ok(Self { dir, state })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state(&self) -> &StackState {
        &self.state
    }

    /// Starts whatever is not already running and healthy. Idempotent: a second `up`
    /// with everything healthy changes nothing. Leftovers of a killed earlier run are
    /// stopped first.
    pub async fn up(&mut self, opts: &UpOptions) -> anyhow::Result<()> {
        if self.state.is_empty() {
            // Nothing recorded, but a killed run may have left processes behind.
            process::kill_orphans(&self.dir).await;
        } else if !probe::all_alive(&self.state) {
            eprintln!("    a previous stack is partly down; stopping its leftovers first");
            self.down().await?;
        }
        let external = infra::External::from_env(opts.external)?;
        self.state.lab_dir = self.dir.display().to_string();

        if self.state.mysql.is_none() {
            let c = infra::start_mysql(&self.dir, external.mysql.as_deref(), opts.attached).await?;
            self.state.mysql = Some(c);
            self.state.save(&self.dir)?;
        }
        if self.state.redis.is_none() {
            let c = infra::start_redis(&self.dir, external.redis.as_deref(), opts.attached).await?;
            self.state.redis = Some(c);
            self.state.save(&self.dir)?;
        }
        if self.state.consul.is_none() {
            let c =
                infra::start_consul(&self.dir, external.consul.as_deref(), opts.attached).await?;
            self.state.consul = Some(c);
            self.state.save(&self.dir)?;
        }
        infra::create_databases(self.state.mysql_url()?).await?;

        if !opts.infra_only {
            let bin_dir = match &opts.bin_dir {
                Some(d) => d.clone(),
                None => services::default_bin_dir()?,
            };
            for spec in services::SERVICES {
                if self.state.service(spec.name).is_some() {
                    continue;
                }
                let c = services::start(&self.dir, &bin_dir, spec, &self.state, opts).await?;
                self.state.services.push(c);
                self.state.save(&self.dir)?;
            }
        }
        Ok(())
    }

    /// Stops every process of this stack (services first, then infra), then sweeps for
    /// orphans. Data directories are kept, so the next `up` is fast and keeps the data.
    pub async fn down(&mut self) -> anyhow::Result<()> {
        for c in self.state.services.iter().rev() {
            process::stop(c).await;
        }
        for c in [&self.state.consul, &self.state.redis, &self.state.mysql].into_iter().flatten() {
            process::stop(c).await;
        }
        process::kill_orphans(&self.dir).await;
        self.state = StackState::default();
        StackState::remove(&self.dir)?;
        Ok(())
    }

    /// Health of every recorded component.
    pub async fn status(&self) -> Vec<probe::ComponentHealth> {
        probe::check_all(&self.state).await
    }
}
