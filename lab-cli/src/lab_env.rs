//! The lab's environment variables: where each part of the running stack listens.
//!
//! One function, [`vars`], read from `stack.json`, and two users: `bookstore-lab env`
//! prints it as `export` lines for a learner's shell, and the lesson runner
//! (`lessons::runner`) hands the same pairs to every command it runs. A lesson's
//! `curl "http://$BOOKSTORE_GATEWAY/…"` therefore means the same stack in the TUI, in
//! `lessons check --run` (a private stack on free ports) and after `eval "$(bookstore-lab env)"`.
//! ❌ DON'T build the variables a second time in the runner: the day a new one is added to
//! `env` only, lessons work in a learner's shell and fail in the TUI (or the other way round).

use bookstore_stack::state::StackState;

// Names follow the lesson format (lessons/README.md): `BOOKSTORE_<SVC>_ADDR` for gRPC,
// `BOOKSTORE_GATEWAY` for the HTTP front door, bare ports for the two CLIs (`mariadb -P`,
// `redis-cli -p`) that take a port and not a URL.
/// Every variable of the running stack, in a stable order (infrastructure, then services).
pub fn vars(s: &StackState) -> Vec<(String, String)> {
    // A `Vec` of pairs, not a map: the order is the order `env` prints, so two runs print
    // the same text (a learner diffing two `env` outputs sees only what changed).
    let mut out = Vec::new();
    // Missing infrastructure means missing variables, not an error: `env` on a half-started
    // stack still prints what runs, and a block that needs the rest fails on `-u` by name.
    // ❌ DON'T fill a missing one with an empty string: `set -u` stops only on an *unset*
    // variable, so `BOOKSTORE_REDIS_PORT=` would pass it and the block would fail a line
    // later inside `redis-cli -p ""`, with an error that names the tool, not the stack.
    // The port beside the URL because the lessons' shell helpers are one line each
    // (`mariadb -h127.0.0.1 -P"$BOOKSTORE_MYSQL_PORT" -uroot`): parsing a URL in bash would
    // put a `sed` into every lesson that talks to MariaDB or Redis.
    if let Ok(u) = s.mysql_url() {
        out.push(("BOOKSTORE_MYSQL_URL".into(), u.to_string()));
        if let Some(p) = url_port(u) {
            out.push(("BOOKSTORE_MYSQL_PORT".into(), p));
        }
    }
    if let Ok(u) = s.redis_url() {
        out.push(("BOOKSTORE_REDIS_URL".into(), u.to_string()));
        if let Some(p) = url_port(u) {
            out.push(("BOOKSTORE_REDIS_PORT".into(), p));
        }
    }
    if let Ok(a) = s.consul_addr() {
        out.push(("BOOKSTORE_CONSUL_ADDR".into(), a.to_string()));
        // The variable the `consul` CLI itself reads: `consul catalog services` just works.
        out.push(("CONSUL_HTTP_ADDR".into(), a.to_string()));
    }
    // Service addresses are the bare `host:port` the supervisor recorded, no scheme:
    // grpcurl takes exactly that (`grpcurl -plaintext "$BOOKSTORE_ORDER_ADDR" list`), and a
    // lesson writes `http://` itself where curl needs one.
    for c in &s.services {
        // Only the first instance of a service gets the `_ADDR` name: `user-2` is a replica
        // (`up --replicas user=2`), and a lesson that calls "the user service" means the one
        // the course's port table lists, not whichever replica was recorded last.
        if c.name == "gateway" {
            out.push(("BOOKSTORE_GATEWAY".into(), c.address.clone()));
        } else if !c.name.contains('-') {
            out.push((format!("BOOKSTORE_{}_ADDR", c.name.to_uppercase()), c.address.clone()));
        }
        // Metrics ports are random (nothing in the course types them by hand), so a lesson's
        // `curl "http://$BOOKSTORE_CATALOG_METRICS/metrics"` needs them from here; `user-2` →
        // `USER_2`, because a shell variable name cannot hold a dash.
        if let Some(m) = &c.metrics {
            let var = c.name.to_uppercase().replace('-', "_");
            out.push((format!("BOOKSTORE_{var}_METRICS"), m.clone()));
        }
    }
    out
}

/// `mysql://root@127.0.0.1:3306/x` → `3306`: the digits after the authority's last `:`.
// By hand rather than with a URL parser: the supervisor writes these URLs itself, always
// `scheme://[user@]host:port[/…]`, and a parse failure only drops the convenience variable.
fn url_port(url: &str) -> Option<String> {
    let authority = url.split("://").nth(1)?.split('/').next()?;
    let port = authority.rsplit(':').next()?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then(|| port.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bookstore_stack::state::Component;

    // Proves the naming rules on a recorded stack: ports split out of the URLs, the gateway
    // under its own name, a replica's metrics kept but its `_ADDR` not shadowing the first.
    /// A recorded stack yields the lesson format's variables, replicas excepted.
    #[test]
    fn variables_follow_the_lesson_format() {
        let mut s = StackState {
            mysql: Some(Component::external("mysql", "mysql://root@127.0.0.1:3307")),
            redis: Some(Component::external("redis", "redis://127.0.0.1:6380/0")),
            ..StackState::default()
        };
        s.services.push(Component::external("gateway", "127.0.0.1:8081"));
        s.services.push(Component::external("user", "127.0.0.1:9101"));
        let mut replica = Component::external("user-2", "127.0.0.1:9102");
        replica.metrics = Some("127.0.0.1:9900".into());
        s.services.push(replica);
        let v = vars(&s);
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, x)| x.as_str());
        assert_eq!(get("BOOKSTORE_MYSQL_PORT"), Some("3307"));
        assert_eq!(get("BOOKSTORE_REDIS_PORT"), Some("6380"));
        assert_eq!(get("BOOKSTORE_GATEWAY"), Some("127.0.0.1:8081"));
        assert_eq!(get("BOOKSTORE_USER_ADDR"), Some("127.0.0.1:9101"));
        assert_eq!(get("BOOKSTORE_USER_2_METRICS"), Some("127.0.0.1:9900"));
        // Catches a dash leaking into a name (`export` answers "not a valid identifier" on
        // every `eval "$(bookstore-lab env)"`) and a replica shadowing the first instance.
        assert_eq!(get("BOOKSTORE_USER-2_ADDR"), None);
        // This stack records no Consul: the variable is absent, not empty (see `vars`).
        assert_eq!(get("BOOKSTORE_CONSUL_ADDR"), None);
    }
}
