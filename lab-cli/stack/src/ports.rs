//! Picking loopback ports.
//!
//! We prefer the well-known port (3306, 6379, 8500) so the learner's usual commands work,
//! and fall back to any free port when it is taken — for instance by a system MariaDB that
//! `apt-get install mariadb-server` started. The chosen ports are in `stack.json` and shown
//! by `bookstore-lab status` / `bookstore-lab env`.
//!
//! Always 127.0.0.1, never 0.0.0.0: the lab's servers have no passwords (MariaDB root,
//! Redis, Consul without ACLs). Bound to loopback they are reachable only from this
//! machine; bound to all interfaces, anyone on the café Wi-Fi could drop the learner's
//! databases. ✅ DO bind development servers to loopback; ❌ DON'T expose password-less
//! servers "just for a moment".

use std::net::{Ipv4Addr, TcpListener};

/// True if nothing listens on 127.0.0.1:`port` right now. We find out by trying to bind it
/// ourselves; the listener is dropped (and the port released) at once.
/// (Rust's std sets `SO_REUSEADDR` on Unix listeners, so a port in TIME_WAIT from a
/// previous run counts as free — which is also what the server we start will see.)
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// `preferred` if free, else a port the OS picks. (Another process may take it between
/// this check and our child's bind; the child then fails to start and says so in its log.)
///
/// That gap is the classic time-of-check-to-time-of-use (TOCTOU) race: the answer "free"
/// is already stale when we act on it. It cannot be closed from outside the child — only
/// the process that binds knows whether the bind worked — so we make the failure loud and
/// clear (the start fails with the child's log) instead of pretending it cannot happen.
/// (`preferred == 0` means "no preference" and goes straight to the OS.)
pub fn pick(preferred: u16) -> anyhow::Result<u16> {
    if preferred != 0 && is_free(preferred) {
        return Ok(preferred);
    }
    any_free()
}

/// A port the OS considers free now: bind port 0, read what the kernel chose, release it.
/// The race is the same as in [`pick`]. Servers that can bind port 0 themselves and report
/// the result (our services in tests) avoid it entirely; MariaDB, Redis and Consul cannot
/// report a chosen port, so for them we pick first and pass `--port`.
pub fn any_free() -> anyhow::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}
