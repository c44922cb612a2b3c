//! `up` and its steps: clear what a killed run left, start the infrastructure that is not
//! running, then the services, then the seed.

use super::Supervisor;
use crate::{Component, UpOptions, infra, probe, process, seed, services};

impl Supervisor {
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
        self.recover_leftovers().await;
        // Read the environment on every `up`, not once at install time: the same stack
        // directory can be used with and without compose.yaml on different days.
        let external = infra::External::from_env(opts.external)?;
        // For the human reading `stack.json` (no code reads it back): the directory the
        // children's `BOOKSTORE_LAB_DIR` markers name.
        self.state.lab_dir = self.dir.display().to_string();
        // Remembered, so an instance added or restarted later (from the TUI) is wired the
        // same way as the stack it joins.
        self.state.static_addrs = opts.static_addrs;

        let services_stale = self.start_infra(opts, &external).await?;
        // After Consul is settled (ours or adopted) and before any service starts: each
        // service registers under the name it is given at its start, so the suffix must be
        // final by then.
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
            self.start_services(opts).await?;
        }
        Ok(())
    }

    /// Step 1 of `up`: stop the processes of a killed earlier run that the record does not
    /// account for, thaw a frozen one, and say what is down (and so about to be restarted).
    async fn recover_leftovers(&self) {
        // Every time, not only when nothing is recorded: an `up` killed while it waited for
        // Redis to answer leaves MariaDB recorded and that Redis running unrecorded. Left
        // alone, `start_infra`'s `start_redis` finds its port taken and starts a second Redis on a
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
        // killed before it could send SIGCONT) would make every later step of `up` hang on it:
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
    }

    /// Step 2 of `up`: MariaDB, Redis and Consul, each started only if it is not running.
    /// True when the services must be restarted because some infrastructure came back on
    /// another address or without their registrations.
    async fn start_infra(
        &mut self,
        opts: &UpOptions,
        external: &infra::External,
    ) -> anyhow::Result<bool> {
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
            // The same rule as MariaDB's: on its old address the services' `ConnectionManager`
            // reconnects by itself; only a new address strands them.
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
        Ok(services_stale)
    }

    /// Step 3 of `up`: every wanted instance that is not running, then the admin account
    /// and the seed catalogue.
    async fn start_services(&mut self, opts: &UpOptions) -> anyhow::Result<()> {
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
                let c = services::start(&self.dir, &bin_dir, spec, &instance, &self.state, opts)
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
        Ok(())
    }

    /// The instance names of `spec` that should run: every one recorded, plus the first
    /// `wanted` (`user`, `user-2`, …), in instance order.
    fn instances_to_run(&self, spec: &services::ServiceSpec, wanted: u32) -> Vec<String> {
        let mut names: Vec<String> =
            (1..=wanted).map(|k| services::instance_name(spec, k)).collect();
        // Recorded instances beyond `wanted` are kept: `up` never stops an instance (see
        // `UpOptions::replicas`), it only brings back the ones that died.
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
