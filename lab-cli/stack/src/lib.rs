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
//! | [`infra`] | MariaDB, Redis and Consul (one submodule each, plus what they share): initialise, start, wait until ready |
//! | [`services`] | the six service binaries: environment, start order, health wait |
//! | [`seed`] | first-start content: the seed catalogue and its stock, idempotently |
//! | [`probe`] | asking a running component whether it is healthy (for `status`) |
//! | [`testing`] | what integration tests use: the running infra, a fresh database, a key prefix |
//!
//! Why child processes and not containers: a learner should see `mariadbd` in `ps`, read
//! its log in `.lab/logs/`, and connect with `mysql`/`redis-cli` to the same server the
//! services use — no engine in between. Docker users get the same topology from
//! `compose.yaml` and run the lab with `--external`.
//!
//! What it is NOT: an orchestrator. No restarts on crash, no autoscaling, no resource limits,
//! no rolling upgrades — a production system gets those from systemd, Nomad or
//! Kubernetes. The supervisor's promises are smaller and testable (`tests/supervisor.rs`):
//! `up` is idempotent, `down` leaves no process behind, and a run killed at any point can
//! be cleaned up by the next command.
//!
//! ## What happens when things go wrong
//!
//! A supervisor is judged by its failure cases, so here they are in one place:
//!
//! | event | what cleans up | where |
//! |---|---|---|
//! | `bookstore-lab down` | SIGTERM in reverse start order, SIGKILL after 30 s | [`Supervisor::down`] |
//! | Ctrl-C in the terminal | only the supervisor gets SIGINT (children have their own process group) | [`process::spawn`] |
//! | test binary or TUI killed, even by SIGKILL | the kernel: PR_SET_PDEATHSIG sends SIGTERM | [`process::spawn`] |
//! | `up` killed before saving a pid | `down` sweeps `/proc` for our env marker; `up` does so only when nothing is recorded | [`process::orphans`] |
//! | a service or server crashed | the next `up` restarts only what is gone, on its old port | [`probe::running`] |
//! | reboot, stale `stack.json` | pids are checked against `/proc/<pid>/cmdline` before any signal | [`process::is_ours`] |
//! | a port is taken | infra falls back to a free port; services refuse and say why | [`ports`], [`services`] |
//!
//! Rows 1, 4 and 5 are tested end to end in `tests/supervisor.rs`; the Ctrl-C, SIGKILL and
//! reboot rows rest on kernel behaviour that is documented but not tested. ✅ DO write the
//! table first when you build a supervisor; ❌ DON'T let "what if it is killed half-way"
//! be discovered by a learner with six stray processes holding the course's ports.
//!
//! Row 4 includes an `up` killed while it waits for a child to become ready (Redis
//! replaying a large AOF, a service running migrations): the components before it are
//! saved, that child is not. The next `up` therefore sweeps on every run, stopping any
//! process of this lab the record does not account for, instead of starting a second
//! Redis on a fallback port over the same AOF (`up_after_an_up_killed_while_redis_started_runs_one_redis`).
//!
//! ## The decisions behind `up`, and the failure each one prevents
//!
//! - Readiness is a real query (`SELECT VERSION()`, `INFO` with `loading:0`, a Consul
//!   leader, gRPC health SERVING), never an open port: a port opens before InnoDB recovery
//!   or an AOF replay ends, and the next component would start against a server that
//!   refuses its first command (see [`infra`]).
//! - Course ports when free, the recorded port on a restart: clients and lessons keep
//!   working. Infrastructure falls back to a free port, services refuse (see [`ports`]).
//! - Liveness from `/proc`, checked against the recorded program: a stale record never
//!   makes us signal an unrelated process that inherited a pid ([`process::is_ours`]).
//! - A component we started stays ours (`keep_own`), a frozen one is thawed, and the
//!   directory is locked for the whole command (`DirLock`).

pub mod infra;
pub mod ports;
pub mod probe;
pub mod process;
pub mod seed;
pub mod services;
pub mod state;
pub mod testing;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use state::{Component, StackState};

/// Options for [`Supervisor::up`].
#[derive(Clone, Debug, Default)]
pub struct UpOptions {
    /// Start only MariaDB, Redis and Consul (what the test suite needs: each test starts
    /// the service it tests in-process on port 0, so service binaries would only be
    /// in the way).
    pub infra_only: bool,
    /// Use servers that already run instead of starting them (all three must be given
    /// through the environment variables of [`infra::External`]).
    pub external: bool,
    /// Put services on free ports instead of the course's 9001-9005/8080 (tests, or a
    /// second lab next to a running one). Clients then find each other through Consul.
    pub free_ports: bool,
    /// Where the service binaries are; default: next to the running executable.
    pub bin_dir: Option<PathBuf>,
    /// Children die with the calling process (PR_SET_PDEATHSIG) instead of outliving it.
    /// `bookstore-lab up` leaves this off so the stack keeps running after the command.
    /// Tests and the TUI turn it on: when they end — normally, by panic or by SIGKILL —
    /// the kernel takes the children down with them, so no run leaks servers.
    /// ✅ DO tie a child's life to its owner's when the owner is the only one who knows
    /// about it; ❌ DON'T rely on `Drop` for that: `Drop` never runs on SIGKILL or abort.
    pub attached: bool,
    /// Skip loading the seed catalogue and its stock (tests that want empty services).
    pub no_seed: bool,
    /// Instances wanted per service (`user` → 2); one for any service not named. A later
    /// `up` without it keeps the instances already recorded (it never stops any).
    pub replicas: Vec<(String, u32)>,
    /// Hand services fixed `http://` addresses of their peers instead of Consul URLs (the
    /// Days 29–34 wiring: no discovery, so only each service's first instance is used).
    pub static_addrs: bool,
}

impl UpOptions {
    /// Instances asked for `service` (at least one).
    fn replicas_of(&self, service: &str) -> u32 {
        self.replicas.iter().find(|(s, _)| s == service).map_or(1, |(_, n)| (*n).max(1))
    }
}

/// Owns a stack directory and the processes recorded in it.
///
/// Every command that changes the stack (`up`, `down`, adding, restarting or stopping an
/// instance) holds the directory's `flock` for its whole run (`Supervisor::lock`), so
/// two commands on one directory take turns instead of both acting on the same stale
/// record. Reading (`status`, `state`) takes no lock: it only looks.
pub struct Supervisor {
    /// Absolute (see [`Supervisor::open`]): its text is the orphan marker.
    dir: PathBuf,
    /// The last `stack.json` read or written; re-read under the lock before any change.
    state: StackState,
}

impl Supervisor {
    /// Opens (creating if needed) the stack directory. The directory is made absolute,
    /// because its path is how we recognise our own processes later: `.lab` opened from
    /// two different working directories must produce the same `BOOKSTORE_LAB_DIR`, or the
    /// orphan sweep of one would miss the children of the other.
    pub fn open(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())
            .with_context(|| format!("cannot create {}", dir.as_ref().display()))?;
        let dir = std::fs::canonicalize(dir.as_ref())?;
        let state = StackState::load(&dir)?.unwrap_or_default();
        Ok(Self { dir, state })
    }

    /// Takes the directory's lock for one `up` or `down`, waiting for another holder, and
    /// re-reads `stack.json` (the other process may have changed it meanwhile).
    ///
    /// ❌ Without it, two `up`s at once on one directory would both see "nothing running"
    /// and both start a MariaDB on the same data directory — which corrupts it.
    fn lock(&mut self) -> anyhow::Result<DirLock> {
        let lock = DirLock::acquire(&self.dir)?;
        self.state = StackState::load(&self.dir)?.unwrap_or_default();
        Ok(lock)
    }

    /// The absolute stack directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `stack.json` recorded (a claim to verify; see [`state`]).
    pub fn state(&self) -> &StackState {
        &self.state
    }

    /// Starts whatever is not running. Idempotent: a second `up` with everything running
    /// changes nothing. Leftovers of a killed earlier run are stopped first.
    ///
    /// "Partly down" restarts only what is down — one crashed service is one restart, and
    /// MariaDB, Redis and the other services keep their pids, connections and caches. That
    /// is safe because everything else already copes with a restart of what it talks to:
    /// sqlx pools test a connection before handing it out and open a new one, Redis's
    /// `ConnectionManager` reconnects, tonic channels reconnect, and a service restarted
    /// on its recorded port re-registers under the same Consul id (replacing the stale
    /// entry). Two cases restart the services as well, because their view of the world
    /// would be wrong: Consul restarted (a dev agent forgets every registration), or a
    /// server came back on a different port (their `BOOKSTORE_*_URL` now points nowhere).
    /// ❌ The earlier rule, "anything dead → stop everything", turned one crashed service
    /// into a MariaDB crash-recovery and a full AOF replay on every `up`.
    pub async fn up(&mut self, opts: &UpOptions) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        // Every time, not only when nothing is recorded: an `up` killed while it waited for
        // Redis to answer leaves MariaDB recorded and that Redis running unrecorded. Left
        // alone, the `start_redis` below finds its port taken and starts a second Redis on a
        // fallback port — appending to the same AOF as the first. Under the lock nobody is
        // between a spawn and its save, so a marked process the record does not explain is
        // a leftover. Stopped rather than adopted: its readiness was never checked.
        let recorded: Vec<u32> = self
            .state
            .all()
            .filter_map(|c| c.pid.filter(|pid| process::is_ours(*pid, &c.program)))
            .collect();
        process::kill_orphans(&self.dir, &recorded).await;
        // A component left frozen (the capstone's "pause MariaDB" fault in a lab that was
        // killed before it could send SIGCONT) would make every step below hang on it:
        // alive, but answering nothing. Thawing is always safe — it only lets it run on.
        for c in self.state.all() {
            if let Some(pid) = c.pid
                && process::is_ours(pid, &c.program)
                && process::stopped(pid)
            {
                eprintln!("    {} (pid {pid}) was paused (SIGSTOP); resuming it", c.name);
                process::thaw(pid);
            }
        }
        // Only process liveness here, not full health: a service that is alive but
        // NOT_SERVING (still starting, draining) is no reason to restart it.
        let dead: Vec<&str> =
            self.state.all().filter(|c| !probe::running(c)).map(|c| c.name.as_str()).collect();
        if !dead.is_empty() {
            eprintln!("    not running any more: {}; restarting only those", dead.join(", "));
        }
        // Read the environment on every `up`, not once at install time: the same stack
        // directory can be used with and without compose.yaml on different days.
        let external = infra::External::from_env(opts.external)?;
        // For the human reading `stack.json` (no code reads it back): the directory the
        // children's `BOOKSTORE_LAB_DIR` markers name.
        self.state.lab_dir = self.dir.display().to_string();
        // Remembered, so an instance added or restarted later (from the TUI) is wired the
        // same way as the stack it joins.
        self.state.static_addrs = opts.static_addrs;

        // Infrastructure in dependency order, and `save` after each step: if MariaDB
        // started and Redis then fails, `stack.json` already names MariaDB's pid, so the
        // learner's `down` (or the next `up`) stops it instead of leaking it.
        // `services_stale`: some infrastructure came back where the services no longer
        // look (a new port) or without their registrations (Consul). The services are
        // then restarted after the infrastructure, with fresh environment.
        let mut services_stale = false;
        if let Some(old) = stale(&self.state.mysql) {
            // The old record decides two things: whose server this is (`keep_own`) and
            // where it should come back (`port`).
            let c = infra::start_mysql(
                &self.dir,
                keep_own(&old, &external.mysql),
                opts.attached,
                port(&old),
            )
            .await?;
            // Back on its old address, the services need nothing: their pools reconnect
            // to the same URL. On a new one (the old port was taken meanwhile) they hold
            // a URL that points nowhere and must be restarted with the new one.
            services_stale |= old.is_some_and(|o| o.address != c.address);
            self.state.mysql = Some(c);
            self.state.save(&self.dir)?;
        }
        if let Some(old) = stale(&self.state.redis) {
            let c = infra::start_redis(
                &self.dir,
                keep_own(&old, &external.redis),
                opts.attached,
                port(&old),
            )
            .await?;
            services_stale |= old.is_some_and(|o| o.address != c.address);
            self.state.redis = Some(c);
            self.state.save(&self.dir)?;
        }
        if let Some(old) = stale(&self.state.consul) {
            let c = infra::start_consul(
                &self.dir,
                keep_own(&old, &external.consul),
                opts.attached,
                port(&old),
            )
            .await?;
            // Any restart of Consul: the registrations of running services died with it.
            services_stale |= old.is_some();
            self.state.consul = Some(c);
            self.state.save(&self.dir)?;
        }
        // A Consul we did not start may hold other stacks' services under the same names.
        // The suffix is a hash of this directory, so the same lab gets the same names on
        // every `up` — a changing suffix would strand the registrations of running services.
        self.state.consul_suffix = match &self.state.consul {
            Some(c) if c.pid.is_none() => format!("-{:08x}", name_hash(&self.state.lab_dir)),
            _ => String::new(),
        };
        if services_stale && !self.state.services.is_empty() {
            eprintln!("    infrastructure moved or lost its registry; restarting the services");
            self.stop_services().await?;
        }
        // Idempotent (`IF NOT EXISTS`), so it also runs for external servers and re-runs.
        // Before the services: a learner who dropped `order_db` gets it back even though
        // order-service is still running and would not recreate it until its restart.
        infra::create_databases(self.state.mysql_url()?).await?;

        if !opts.infra_only {
            let bin_dir = match &opts.bin_dir {
                Some(d) => d.clone(),
                None => services::default_bin_dir()?,
            };
            // Sequential, in call-graph order, each one healthy before the next: slower
            // than starting all six at once, but a failure then names the first broken
            // service instead of six cascading "connection refused" errors.
            for spec in services::SERVICES {
                for instance in self.instances_to_run(spec, opts.replicas_of(spec.name)) {
                    if self.state.service(&instance).is_some_and(probe::running) {
                        continue;
                    }
                    // A dead instance's record is still in `self.state` here, so `start`
                    // gives it back its port: with static addresses, the others were told
                    // that address at their own start.
                    let c =
                        services::start(&self.dir, &bin_dir, spec, &instance, &self.state, opts)
                            .await?;
                    self.state.put_service(c);
                    self.state.save(&self.dir)?;
                }
            }
            // Every `up`, because it is idempotent (see `seed`): a learner who flushed
            // Redis or dropped a database gets the books and their stock back. After all
            // services are healthy: seeding goes through catalog's and inventory's own
            // front doors, so both must answer.
            seed::ensure_admin(&self.dir, &bin_dir, &self.state).await?;
            if !opts.no_seed {
                seed::seed(&self.dir, &bin_dir, &self.state).await?;
            }
        }
        Ok(())
    }

    /// Stops every process of this stack (services first, then infra), then sweeps for
    /// orphans. Data directories are kept, so the next `up` is fast and keeps the data.
    ///
    /// Order matters: a service stopped after its database would spend its shutdown
    /// logging connection errors, and one stopped after Consul could not deregister.
    /// Reverse start order is the general rule for dependency graphs.
    pub async fn down(&mut self) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        self.stop_all().await
    }

    /// The body of [`down`](Self::down), apart from the lock, so that code which already
    /// holds it can stop the stack too. flock(2) locks belong to an open file, so taking
    /// the lock a second time from the same process would wait for ourselves forever.
    async fn stop_all(&mut self) -> anyhow::Result<()> {
        self.stop_services().await?;
        // Consul, Redis, MariaDB: the reverse of their start order, though none of the
        // three depends on another — the services that did are already gone.
        for c in [&self.state.consul, &self.state.redis, &self.state.mysql].into_iter().flatten() {
            process::stop(c).await;
        }
        // The sweep catches what the record missed (a child spawned just before a killed
        // `up` could save it); then forget the stack, in memory and on disk.
        process::kill_orphans(&self.dir, &[]).await;
        self.state = StackState::default();
        StackState::remove(&self.dir)?;
        Ok(())
    }

    /// Stops the recorded services (callers before callees) and forgets them, keeping the
    /// infrastructure: `up` then starts them again with fresh addresses.
    async fn stop_services(&mut self) -> anyhow::Result<()> {
        for c in self.state.services.iter().rev() {
            process::stop(c).await;
        }
        self.state.services.clear();
        self.state.save(&self.dir)
    }

    /// The instance names of `spec` that should run: every one recorded, plus the first
    /// `wanted` (`user`, `user-2`, …), in instance order.
    fn instances_to_run(&self, spec: &services::ServiceSpec, wanted: u32) -> Vec<String> {
        let mut names: Vec<String> =
            (1..=wanted).map(|k| services::instance_name(spec, k)).collect();
        for c in &self.state.services {
            if services::spec(&c.name).is_some_and(|s| s.name == spec.name)
                && !names.contains(&c.name)
            {
                names.push(c.name.clone());
            }
        }
        names.sort_by_key(|n| services::instance_number(n));
        names
    }

    /// Starts one more instance of the service `service` (`user`) and records it; the
    /// infrastructure must be running. Returns the new instance's record. A second or
    /// later instance gets a free port; number 1 (when no `user` is recorded, say after
    /// `stop_instance("user")`) gets the course's port, as in `up`.
    /// With discovery its callers find it through Consul — nobody is told its address.
    pub async fn add_instance(
        &mut self,
        service: &str,
        opts: &UpOptions,
    ) -> anyhow::Result<Component> {
        let _lock = self.lock()?;
        // A base name only: `user-2` names an instance, and "add an instance of user-2"
        // has no meaning.
        let spec = services::spec(service)
            .filter(|s| s.name == service)
            .with_context(|| format!("no service named {service}"))?;
        let taken: Vec<u32> = self
            .state
            .services
            .iter()
            .filter(|c| services::spec(&c.name).is_some_and(|s| s.name == spec.name))
            .map(|c| services::instance_number(&c.name))
            .collect();
        // The lowest free number, so `user-2` is reused after it was stopped: instance
        // names, log files and the TUI's rows stay short and predictable.
        let k = (1..).find(|k| !taken.contains(k)).expect("an unused number exists");
        self.start_recorded(spec, &services::instance_name(spec, k), opts).await
    }

    /// Starts the recorded instance `instance` again if its process is gone (after a kill),
    /// on its recorded port; a running one is left alone.
    pub async fn restart_instance(
        &mut self,
        instance: &str,
        opts: &UpOptions,
    ) -> anyhow::Result<Component> {
        let _lock = self.lock()?;
        let spec = services::spec(instance).with_context(|| format!("no service {instance}"))?;
        // The record of a killed instance is still there, so `services::start` gives it
        // back its port: with static addresses, callers were told that port.
        match self.state.service(instance) {
            Some(c) if probe::running(c) => Ok(c.clone()),
            _ => self.start_recorded(spec, instance, opts).await,
        }
    }

    /// Starts `instance` and records it at once (the save is the crash-safety rule of
    /// `up`: a pid that is running is a pid in `stack.json`).
    async fn start_recorded(
        &mut self,
        spec: &services::ServiceSpec,
        instance: &str,
        opts: &UpOptions,
    ) -> anyhow::Result<Component> {
        let bin_dir = match &opts.bin_dir {
            Some(d) => d.clone(),
            None => services::default_bin_dir()?,
        };
        let c = services::start(&self.dir, &bin_dir, spec, instance, &self.state, opts).await?;
        self.state.put_service(c.clone());
        self.state.save(&self.dir)?;
        Ok(c)
    }

    /// `kill -9` of one recorded instance, as a crash would end it: no deregistration, no
    /// drain. The record stays, so `up` (or [`restart_instance`](Self::restart_instance))
    /// brings it back on the same port. Returns the pid killed.
    pub fn kill_instance(&self, instance: &str) -> anyhow::Result<u32> {
        let c = self.state.service(instance).with_context(|| format!("no instance {instance}"))?;
        let pid = c.pid.with_context(|| format!("{instance} was not started by the lab"))?;
        // Checked first: a pid from a stale record may belong to another program by now.
        anyhow::ensure!(process::is_ours(pid, &c.program), "{instance} is not running");
        // SAFETY: sends a signal to a pid just verified to be our child; no memory is shared.
        if unsafe { libc::kill(pid as i32, libc::SIGKILL) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(pid)
    }

    /// Stops one instance gracefully (SIGTERM: it deregisters from Consul, then drains) and
    /// forgets it, so the next `up` does not start it again.
    pub async fn stop_instance(&mut self, instance: &str) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        // Unknown or already forgotten: nothing to do, and no error — stopping is
        // idempotent like `down`, so the TUI can press it twice.
        if let Some(c) = self.state.service(instance).cloned() {
            process::stop(&c).await;
            self.state.services.retain(|s| s.name != instance);
            self.state.save(&self.dir)?;
        }
        Ok(())
    }

    /// Health of every recorded component, each asked over its own protocol (see [`probe`]).
    /// Read-only: `status` never starts or stops anything, so it is safe to run in a loop
    /// (the TUI's dashboard does) or while another command works on the stack.
    pub async fn status(&self) -> Vec<probe::ComponentHealth> {
        probe::check_all(&self.state).await
    }
}

/// `Some(previous record)` when an infrastructure component must be started — it was never
/// started (`Some(None)`) or its process is gone (`Some(Some(old))`) — and `None` when it
/// runs. The old record is handed on for its port (see [`port`]).
///
/// An external component (no pid) always counts as running: `up` checks that it answers
/// when it first adopts it, and never again — `up` cannot restart what it did not start,
/// so a dead external server shows in `status` instead.
fn stale(c: &Option<Component>) -> Option<Option<Component>> {
    match c {
        Some(c) if probe::running(c) => None,
        other => Some(other.clone()),
    }
}

/// The external address to use for a component that must be started, or `None` to start
/// our own: a server this stack started itself (its record has a pid) comes back as our
/// child even when the environment names an external one. `up` reads `BOOKSTORE_*_URL` on
/// every run, and without this a crashed lab Redis would be silently replaced by whatever
/// Redis the shell happens to export — the test suite exports its shared one — and every
/// service would be restarted against it (found by the capstone's Redis restart).
fn keep_own<'a>(old: &Option<Component>, external: &'a Option<String>) -> Option<&'a str> {
    match old {
        Some(c) if c.pid.is_some() => None,
        _ => external.as_deref(),
    }
}

/// The port of a recorded address (`mysql://root@127.0.0.1:3306`, `127.0.0.1:8500`), so a
/// restarted server comes back where its clients already look.
///
/// `None` for no record or an address without a parsable port: the server then starts on
/// its course port, as on a first `up`.
fn port(c: &Option<Component>) -> Option<u16> {
    c.as_ref()?.address.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// A stable 32-bit FNV-1a hash of the stack directory: the same directory always gets
/// the same Consul suffix, across runs and builds (std's `DefaultHasher` promises neither).
fn name_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// An exclusive `flock(2)` on `<dir>/lock`, released when dropped (or when the process
/// dies: the kernel drops flocks with the file descriptor, so a killed `up` never leaves
/// the directory locked).
struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock, saying so on stderr when another command holds it: a silent wait
    /// behind a slow `up` in another terminal would look like a hang.
    fn acquire(dir: &Path) -> anyhow::Result<Self> {
        use std::os::fd::AsRawFd;
        // A separate `lock` file rather than `stack.json` itself: `save` replaces
        // `stack.json` by rename, and a lock on the old inode would lock nothing.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            eprintln!("    waiting for another bookstore-lab up/down in {}", dir.display());
            // SAFETY: as above; this call blocks until the other holder releases.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
        Ok(Self { _file: file })
    }
}
