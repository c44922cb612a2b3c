//! Picking loopback ports.
//!
//! We prefer the well-known port (3306, 6379, 8500) so the learner's usual commands work,
//! and fall back to any free port when it is taken — for instance by a system MariaDB that
//! `apt-get install mariadb-server` started. The chosen ports are in `stack.json` and shown
//! by `bookstore-lab status` / `bookstore-lab env`.

use std::net::{Ipv4Addr, TcpListener};

/// True if nothing listens on 127.0.0.1:`port` right now.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// `preferred` if free, else a port the OS picks. (Another process may take it between
/// this check and our child's bind; the child then fails to start and says so in its log.)
pub fn pick(preferred: u16) -> anyhow::Result<u16> {
    if preferred != 0 && is_free(preferred) {
        return Ok(preferred);
    }
    any_free()
}

/// A port the OS considers free now.
pub fn any_free() -> anyhow::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}
