//! Day 35 against real processes and the real Consul: two user-service instances
//! registered in Consul share a client's traffic round-robin; `kill -9` of one costs no
//! read call and its share drops to zero; a restarted instance gets traffic again; Consul
//! going away leaves the client on its last list; SIGTERM deregisters at once.
//!
//! Every test registers its instances under a unique Consul name
//! (`BOOKSTORE_CONSUL_NAME`), so parallel tests never balance over each other's instances.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bookstore_platform::{clients, consul::Consul};
use bookstore_proto::user::{ValidateTokenRequest, user_service_client::UserServiceClient};
use bookstore_stack::{ports, testing};
use tonic::Code;

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaks none.
struct Instance {
    child: Child,
    /// Kept so a restart can take the same port: the case `deregister_predecessors` handles.
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Errors ignored: the child may be dead already (the test killed it), which is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    /// SIGKILL and reap: no goodbye, so the registration stays behind, as after a crash.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for the exit: `serve` deregisters before it returns, so once
    /// `wait` is back the goodbye has been said.
    fn sigterm(&mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap();
    }
}

/// Starts the real `user-service` binary on `port`, registering as `name` with the lab's
/// short check settings (a check every 500 ms).
fn start(name: &str, database: &str, port: u16) -> Instance {
    let infra = testing::infra();
    let child = Command::new(env!("CARGO_BIN_EXE_user-service"))
        .env("BOOKSTORE_PORT", port.to_string())
        // Any free port, so two instances on one machine can never collide on a fixed one.
        .env("BOOKSTORE_METRICS_PORT", "0")
        .env("BOOKSTORE_MYSQL_URL", &infra.mysql_url)
        // One database for both instances, as replicas of one service share theirs: the test
        // kills a process, never the data behind it.
        .env("BOOKSTORE_DATABASE", database)
        .env("BOOKSTORE_CONSUL_ADDR", &infra.consul_addr)
        .env("BOOKSTORE_CONSUL_NAME", name)
        .env("BOOKSTORE_CONSUL_CHECK_INTERVAL_MS", "500")
        .env("BOOKSTORE_CONSUL_CHECK_TIMEOUT_MS", "400")
        // No JWT secret is set, and the built-in one is refused outside development.
        .env("BOOKSTORE_ENVIRONMENT", "development")
        // Silenced: two instances' logs would interleave with the test's own output; a
        // failure shows through the assertions instead.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("user-service binary starts");
    Instance { child, port }
}

/// Polls `cond` every 100 ms for up to 30 s (a first start creates its database).
async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The ports Consul lists as passing for `name`.
async fn passing_ports(consul: &Consul, name: &str) -> Vec<u16> {
    // An error reads as "none passing", so `wait_for` polls on through a Consul hiccup.
    let list = consul.healthy_instances(name).await.unwrap_or_default();
    let mut ports: Vec<u16> =
        // The part after the last `:`, which holds for an IPv6 host (`[::1]:9001`) too.
        list.iter().filter_map(|i| i.address.rsplit(':').next()?.parse().ok()).collect();
    ports.sort();
    ports
}

/// One read call: ValidateToken with a malformed token. An instance that runs answers
/// UNAUTHENTICATED (no database involved); anything else is a failed call.
async fn read(client: &UserServiceClient<clients::Balanced>) -> bool {
    let req = ValidateTokenRequest { token: "not-a-token".into() };
    matches!(client.clone().validate_token(req).await, Err(s) if s.code() == Code::Unauthenticated)
}

/// Calls sent to the instance on `port`, as the client's balancer counted them.
fn sent_to(client: &clients::Balanced, port: u16) -> u64 {
    // By port: both instances share the host, so the port is what tells them apart.
    let suffix = format!(":{port}");
    client.stats().iter().filter(|s| s.address.ends_with(&suffix)).map(|s| s.sent).sum()
}

/// Two instances, steady load from 8 callers, `kill -9` of one half-way: every read
/// succeeds, the dead one stops getting calls within a second (passive ejection, before
/// Consul notices), Consul then drops it, and a restarted instance is used again.
// Four workers: the eight callers, the 10 ms sampler and the watcher must really run side
// by side, or the sampler would measure scheduling delay instead of ejection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_instance_costs_no_read_and_a_restarted_one_gets_traffic_again() {
    let infra = testing::infra();
    let name = testing::unique_name("user-disc");
    let database = infra.fresh_database("user").await;
    let (pa, pb) = (ports::any_free().unwrap(), ports::any_free().unwrap());
    let mut a = start(&name, &database, pa);
    // `_b`, not `_`: a bare `_` would drop the guard at once, and `Drop` kills the process.
    let _b = start(&name, &database, pb);
    let consul = Consul::new(&infra.consul_addr);
    // Sorted like `passing_ports`' answer, so the comparison ignores which port is lower.
    let mut both = vec![pa, pb];
    both.sort();
    wait_for("both instances passing", || async { passing_ports(&consul, &name).await == both })
        .await;

    let transport =
        clients::channel("user-service", &format!("consul://{}/{name}", infra.consul_addr))
            .unwrap();
    let client = UserServiceClient::new(transport.clone());
    // Two backends: the watcher has delivered both instances, so the spread below starts
    // from the full list and not from whichever instance Consul listed first.
    wait_for("the client sees both", || async {
        read(&client).await && transport.stats().len() == 2
    })
    .await;

    // Spread: 1,000 sequential calls alternate exactly (round-robin, nobody ejected).
    // The counts include the warm-up reads above, hence a difference from here on.
    let before = (sent_to(&transport, pa), sent_to(&transport, pb));
    for _ in 0..1000 {
        assert!(read(&client).await);
    }
    let share_a = sent_to(&transport, pa) - before.0;
    let share_b = sent_to(&transport, pb) - before.1;
    // Printed for the lesson's measurements: `cargo test -- --nocapture` shows them.
    eprintln!("spread over two instances: {share_a} / {share_b}");
    assert!(share_a.abs_diff(share_b) <= 50, "within ±5 %: {share_a} vs {share_b}");

    // Steady load from 8 callers while instance A is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (client, stop, ok, failed) =
                (client.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                // `Relaxed`: the flag guards no other data; a caller that sees it one read
                // late makes one more call, which is counted like the rest.
                while !stop.load(Ordering::Relaxed) {
                    let counter = if read(&client).await { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Half a second of load first, so the kill lands while calls are in flight to both.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill9();
    let killed = Instant::now();
    // When did A last receive a call? Sampled every 10 ms for 2 s; with passive ejection
    // that is the first failure after the kill (plus at most one probe per cool-down).
    let mut last = sent_to(&transport, pa);
    let mut last_change = Duration::ZERO;
    while killed.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = sent_to(&transport, pa);
        if now != last {
            (last, last_change) = (now, killed.elapsed());
        }
    }
    // About a second with 500 ms checks: the gap between the two times printed below is
    // the lesson — the client stopped sending long before Consul knew.
    wait_for("consul drops the killed instance", || async {
        passing_ports(&consul, &name).await == vec![pb]
    })
    .await;
    let consul_gone = killed.elapsed();
    stop.store(true, Ordering::Relaxed);
    // Joined, so a caller that panicked fails the test instead of vanishing with its task.
    for c in callers {
        c.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "kill -9 under load: {ok} reads ok, {failed} failed; last call to the dead instance \
         {last_change:?} after the kill; consul stopped listing it after {consul_gone:?}"
    );
    // Both counts: `failed == 0` alone would also pass had the callers sent nothing.
    // Above zero and no more: how many reads a loaded CI machine manages is a figure for
    // the lesson's 实测, not a pass/fail line.
    assert!(ok > 0, "the callers read through the kill");
    assert_eq!(failed, 0, "no read may fail while one of two instances dies");
    // The aim is well under 1 s (typically < 100 ms); 1.5 s leaves room for a loaded CI
    // machine while staying below the ~2 s Consul needs with 500 ms checks.
    assert!(last_change < Duration::from_millis(1500), "ejected quickly: {last_change:?}");

    // The list follows Consul: the dead instance leaves the client's list too.
    wait_for("the client forgets the dead instance", || async {
        transport.stats().iter().all(|s| !s.address.ends_with(&format!(":{pa}")))
    })
    .await;

    // Back on the same port (a new process, so a new Consul id): traffic returns.
    let _a2 = start(&name, &database, a.port);
    wait_for("the restarted instance gets calls", || async {
        read(&client).await && sent_to(&transport, pa) > 0
    })
    .await;
    // The killed process's registration names the same address; Consul's check of it would
    // reach the new process and list the address twice. The new one removes it on start.
    wait_for("one entry per address", || async {
        let all = consul.all_instances(&name).await.unwrap_or_default();
        // Two entries in all, not three: the killed process's registration is gone, not
        // merely critical, and both live ones pass.
        all.len() == 2 && passing_ports(&consul, &name).await == both
    })
    .await;
}

/// A TCP proxy in front of the real Consul that can be pulled, which is what a client sees
/// when its Consul agent dies: connections refused.
async fn consul_proxy(target: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        // A JoinSet owns the relays: aborting this task drops the set, which aborts every
        // relay too, so open connections die with the listener, as when an agent crashes.
        let mut conns = tokio::task::JoinSet::new();
        // Accepts until the task is aborted; the listener goes with it, so new connects
        // are refused from that moment, as with a dead agent.
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            conns.spawn(async move {
                // A failed upstream connect just drops the inbound one: a closed connection.
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, task)
}

/// Consul unreachable: the watcher's queries fail, and the client keeps balancing over
/// the last list it had — a registry outage must not become an outage of every service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_keeps_its_last_list_while_consul_is_down() {
    let infra = testing::infra();
    let name = testing::unique_name("user-disc");
    let database = infra.fresh_database("user").await;
    let (pa, pb) = (ports::any_free().unwrap(), ports::any_free().unwrap());
    let (_a, _b) = (start(&name, &database, pa), start(&name, &database, pb));
    let consul = Consul::new(&infra.consul_addr);
    wait_for("both passing", || async { passing_ports(&consul, &name).await.len() == 2 }).await;

    let (proxy, proxy_task) = consul_proxy(infra.consul_addr.clone()).await;
    // Through the proxy: pulling it is the agent dying for this client only, while the
    // instances keep registering with the real Consul.
    let transport = clients::channel("user-service", &format!("consul://{proxy}/{name}")).unwrap();
    let client = UserServiceClient::new(transport.clone());
    wait_for("the client sees both", || async {
        read(&client).await && transport.stats().len() == 2
    })
    .await;

    // Pull Consul away (abort drops the listener and every proxied connection).
    proxy_task.abort();
    // Awaited, so the abort has taken effect (listener closed) before anything is measured.
    let _ = proxy_task.await;
    // A second for the watcher to meet the outage: its query fails, and it backs off while
    // keeping the list it has.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = (sent_to(&transport, pa), sent_to(&transport, pb));
    for _ in 0..200 {
        assert!(read(&client).await, "calls go on without Consul");
    }
    assert_eq!(transport.stats().len(), 2, "the last list is kept");
    // Both still get calls: the list was kept whole, not shrunk to whichever answered last.
    assert!(sent_to(&transport, pa) > before.0 && sent_to(&transport, pb) > before.1);
}

/// SIGTERM is a goodbye: the instance deregisters before it stops, so Consul stops listing
/// it at once instead of after a failed check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_deregisters_at_once() {
    let infra = testing::infra();
    let name = testing::unique_name("user-disc");
    let database = infra.fresh_database("user").await;
    let port = ports::any_free().unwrap();
    let mut a = start(&name, &database, port);
    let consul = Consul::new(&infra.consul_addr);
    wait_for("passing", || async { passing_ports(&consul, &name).await == vec![port] }).await;
    a.sigterm();
    // `all_instances`, not the passing list: a registration that had only turned critical
    // would still be listed here, so an empty answer means deregistered.
    let all = consul.all_instances(&name).await.unwrap();
    assert!(all.is_empty(), "deregistered by the time the process exits: {all:?}");
}
