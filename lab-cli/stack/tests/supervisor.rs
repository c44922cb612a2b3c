//! The stack supervisor as a user drives it: `bookstore-lab up`, `status`, `down` — the real
//! binary, the real service binaries, checked with a real gRPC client we did not write
//! (grpcurl) and with `/proc`. Each test uses its own stack directory and free ports, and
//! reuses the suite's MariaDB/Redis/Consul (`--external`), so tests run in parallel.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use bookstore_stack::{StackState, process, services, testing};

fn bin(name: &str) -> PathBuf {
    services::default_bin_dir().unwrap().join(name)
}

/// Runs `bookstore-lab --dir <dir> <args>` against the suite's infrastructure.
fn lab(dir: &Path, args: &[&str]) -> Output {
    let infra = testing::infra();
    Command::new(bin("bookstore-lab"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("BOOKSTORE_MYSQL_URL", &infra.mysql_url)
        .env("BOOKSTORE_REDIS_URL", &infra.redis_url)
        .env("BOOKSTORE_CONSUL_ADDR", &infra.consul_addr)
        .output()
        .expect("bookstore-lab runs (built by `cargo build --workspace --bins`)")
}

fn ok(out: &Output) -> String {
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "command failed:\n{text}");
    text
}

fn grpcurl() -> Option<PathBuf> {
    let p = bookstore_stack::infra::tools_dir().join("grpcurl");
    p.is_file().then_some(p).or_else(|| bookstore_stack::infra::find_program("grpcurl"))
}

fn recorded_pids(dir: &Path) -> Vec<(u32, String)> {
    let state = StackState::load(dir).unwrap().unwrap_or_default();
    state.all().filter_map(|c| c.pid.map(|p| (p, c.program.clone()))).collect()
}

/// `up` starts all six services healthy; grpcurl — through reflection alone, no proto
/// files — lists the inventory service with health and reflection, and health answers
/// SERVING for each named service; `down` leaves no process of ours behind.
#[tokio::test(flavor = "multi_thread")]
async fn up_serves_health_and_reflection_and_down_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    ok(&lab(dir.path(), &["up", "--external", "--free-ports"]));
    let status = ok(&lab(dir.path(), &["status", "--json"]));
    let json: serde_json::Value =
        serde_json::from_str(status.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(json["healthy"], true, "{status}");
    assert_eq!(json["components"].as_array().unwrap().len(), 9, "3 infra + 6 services");

    let state = StackState::load(dir.path()).unwrap().unwrap();
    if let Some(grpcurl) = grpcurl() {
        let inv = &state.service("inventory").unwrap().address;
        let list = Command::new(&grpcurl).args(["-plaintext", inv, "list"]).output().unwrap();
        let list = String::from_utf8_lossy(&list.stdout);
        for svc in [
            "bookstore.inventory.v1.InventoryService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(list.contains(svc), "grpcurl list on {inv} lacks {svc}:\n{list}");
        }
        assert!(
            !list.contains("CatalogService"),
            "inventory must not advertise other services:\n{list}"
        );
        for spec in services::SERVICES {
            let services::Health::Grpc(name) = spec.health else {
                continue;
            };
            let addr = &state.service(spec.name).unwrap().address;
            let out = Command::new(&grpcurl)
                .args([
                    "-plaintext",
                    "-d",
                    &format!("{{\"service\":\"{name}\"}}"),
                    addr,
                    "grpc.health.v1.Health/Check",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("SERVING"), "{name} at {addr}: {text}");
        }
    } else {
        panic!("grpcurl not found: `make setup` builds it into the tools folder");
    }

    let pids = recorded_pids(dir.path());
    ok(&lab(dir.path(), &["down"]));
    for (pid, program) in pids {
        assert!(!process::is_ours(pid, &program), "{program} (pid {pid}) survived `down`");
    }
    assert!(process::orphans(dir.path()).is_empty());
}

/// A second `up` on a healthy stack changes nothing (same pids): `up` is idempotent.
#[tokio::test(flavor = "multi_thread")]
async fn up_twice_keeps_the_running_stack() {
    let dir = tempfile::tempdir().unwrap();
    ok(&lab(dir.path(), &["up", "--external", "--free-ports", "--infra-only"]));
    ok(&lab(dir.path(), &["up", "--external", "--free-ports"]));
    let first = recorded_pids(dir.path());
    ok(&lab(dir.path(), &["up", "--external", "--free-ports"]));
    assert_eq!(first, recorded_pids(dir.path()));
    ok(&lab(dir.path(), &["down"]));
}

/// A service killed with SIGKILL (a crash) is noticed by the next `up`, which stops the
/// leftovers and brings the whole stack back healthy.
#[tokio::test(flavor = "multi_thread")]
async fn up_recovers_after_a_service_was_killed() {
    let dir = tempfile::tempdir().unwrap();
    ok(&lab(dir.path(), &["up", "--external", "--free-ports"]));
    let state = StackState::load(dir.path()).unwrap().unwrap();
    let victim = state.service("inventory").unwrap().pid.unwrap();
    // SAFETY: kill(2) on a pid we started.
    unsafe { libc::kill(victim as libc::pid_t, libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(300)).await;
    ok(&lab(dir.path(), &["up", "--external", "--free-ports"]));
    ok(&lab(dir.path(), &["status"]));
    ok(&lab(dir.path(), &["down"]));
    assert!(process::orphans(dir.path()).is_empty());
}

/// `up` killed half-way (SIGKILL: no chance to clean up) leaves children running; the next
/// `down` finds them through the stack directory in their environment and stops them all.
#[tokio::test(flavor = "multi_thread")]
async fn down_cleans_up_after_an_up_that_was_killed_midway() {
    let dir = tempfile::tempdir().unwrap();
    let infra = testing::infra();
    let mut child = Command::new(bin("bookstore-lab"))
        .arg("--dir")
        .arg(dir.path())
        .args(["up", "--external", "--free-ports"])
        .env("BOOKSTORE_MYSQL_URL", &infra.mysql_url)
        .env("BOOKSTORE_REDIS_URL", &infra.redis_url)
        .env("BOOKSTORE_CONSUL_ADDR", &infra.consul_addr)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one service process exists, then kill the supervisor.
    for _ in 0..100 {
        if !process::orphans(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !process::orphans(dir.path()).is_empty(),
        "the killed run left children (what we clean up)"
    );
    ok(&lab(dir.path(), &["down"]));
    assert!(process::orphans(dir.path()).is_empty(), "down left processes behind");
}
