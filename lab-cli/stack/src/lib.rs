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
//! | `options` | [`UpOptions`]: what one `up` is asked to start, and how |
//! | `supervisor` | [`Supervisor`]: the commands on a stack directory — `up` and its steps, `down`, one instance at a time, the directory lock |
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
//! | `up` killed before saving a pid | `down` sweeps `/proc` for our env marker, and so does every `up` (sparing what the record explains) | [`process::orphans`] |
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
mod options;
pub mod ports;
pub mod probe;
pub mod process;
pub mod seed;
pub mod services;
pub mod state;
mod supervisor;
pub mod testing;

pub use options::UpOptions;
pub use state::{Component, StackState};
pub use supervisor::Supervisor;
