//! One instance at a time, for the TUI and the discovery experiment: add one, restart a
//! killed one on its port, `kill -9` one, stop one for good.

use anyhow::Context;

use super::Supervisor;
use crate::{Component, UpOptions, probe, process, services};

impl Supervisor {
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
        // The lock re-reads `stack.json`, so the numbers taken below include an instance
        // another terminal added a moment ago, and two `+` presses never pick the same one.
        let _lock = self.lock()?;
        // A base name only: `user-2` names an instance, and "add an instance of user-2"
        // has no meaning.
        let spec = services::spec(service)
            .filter(|s| s.name == service)
            .with_context(|| format!("no service named {service}"))?;
        // Every recorded instance holds its number, running or not: a `kill -9`ed `user-2`
        // keeps its record (and port) for `up` to restart, so `+` after a kill adds
        // `user-3` rather than a second `user-2`.
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

    /// Starts `instance` again if its process is gone (after a kill), on its recorded
    /// port, and returns its record once it is healthy (and, with discovery, passing in
    /// Consul). A running one (or an external one) is returned as it is, unstarted; one
    /// not recorded at all (stopped and forgotten) is started too, on the port a new
    /// instance of that name would get. Holds the directory lock throughout.
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
            // Alive: returned as it is, so a restart key pressed on a live instance is a
            // no-op instead of a second process fighting for its port.
            Some(c) if probe::running(c) => Ok(c.clone()),
            // Dead, or not recorded at all (stopped and forgotten): started either way. With
            // no record there is no port to give back, so it gets one as a new instance does.
            _ => self.start_recorded(spec, instance, opts).await,
        }
    }

    /// Starts `instance` and records it at once (the save is the crash-safety rule of
    /// `up`: a pid that is running is a pid in `stack.json`).
    ///
    /// The caller holds the directory lock for the whole start, health and Consul waits
    /// included, so a concurrent `up` waits instead of starting the same instance.
    /// A start that fails has already stopped its process: nothing runs, nothing is saved.
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
    ///
    /// Waits for the directory lock (behind an `up` or a restart in progress, which may
    /// take seconds) and kills what `stack.json` names at that moment.
    pub fn kill_instance(&mut self, instance: &str) -> anyhow::Result<u32> {
        // Under the directory lock, which also re-reads `stack.json`: the check and the
        // signal then see one record. ❌ DON'T check outside it: a concurrent `up` or
        // restart could replace the record between the check and the kill, and the
        // signal would go to a pid the record no longer vouches for.
        let _lock = self.lock()?;
        let c = self.state.service(instance).with_context(|| format!("no instance {instance}"))?;
        let pid = c.pid.with_context(|| format!("{instance} was not started by the lab"))?;
        // Checked first: a pid from a stale record may belong to another program by now.
        anyhow::ensure!(process::is_ours(pid, &c.program), "{instance} is not running");
        // SAFETY: sends a signal to a pid just checked to run the recorded program (a lab
        // service of this user, not necessarily our child); no memory is shared.
        if unsafe { libc::kill(pid as i32, libc::SIGKILL) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(pid)
    }

    /// Stops one instance gracefully (SIGTERM: it deregisters from Consul, then drains) and
    /// forgets it, so the next `up` does not start it again.
    ///
    /// Always ends: an instance that ignores SIGTERM is SIGKILLed after 30 s (see
    /// `process::stop`), and a pid that is no longer ours is forgotten without a signal.
    pub async fn stop_instance(&mut self, instance: &str) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        // Unknown or already forgotten: nothing to do, and no error — stopping is
        // idempotent like `down`, so the TUI can press it twice.
        if let Some(c) = self.state.service(instance).cloned() {
            // Stopped before it is forgotten: saved first, a stop that then failed would
            // leave a process no record names, found only by the next orphan sweep.
            process::stop(&c).await;
            self.state.services.retain(|s| s.name != instance);
            self.state.save(&self.dir)?;
        }
        Ok(())
    }
}
