//! The rows the dashboard probes, in order, and where the list of instances comes from:
//! Consul, with the supervisor's record as a fallback.
//!
//! Service rows come from Consul's `/v1/health/service/<name>` — every *registered*
//! instance with its check status, not only the passing ones — so an instance killed with
//! `kill -9` is seen going `critical` (its gRPC health ✘ at once, Consul's verdict a check
//! interval later) and then disappearing when Consul reaps it. Instances the supervisor
//! recorded but Consul does not know (never registered, or already reaped) are added from
//! `stack.json`, so nothing the lab started can hide. The gateway is an HTTP server that
//! does not register, and MariaDB/Redis/Consul are infrastructure: those rows always come
//! from the record. If Consul itself does not answer, every row comes from the record and
//! the title says so — the same fallback a discovery client makes.

use std::path::Path;

use bookstore_platform::consul::{Consul, Instance};
use bookstore_stack::{Component, StackState, services};

/// One row to probe: the label shown, what to probe (a spec name the probe knows, the
/// address, the metrics endpoint) and Consul's verdict if it lists the instance.
pub(super) struct Target {
    pub(super) label: String,
    pub(super) component: Component,
    pub(super) consul: Option<String>,
}

/// What to show, in order: infrastructure, then each gRPC service's instances as Consul
/// lists them (plus recorded ones it does not), then the gateway — and where that came from.
pub(super) async fn targets(dir: &Path, state: &StackState) -> (Vec<Target>, String) {
    // A row from the record alone carries no Consul verdict: `None` renders as `-`, which
    // says "Consul was not asked about this one", not "Consul thinks it is fine".
    let record =
        |c: &Component| Target { label: c.name.clone(), component: c.clone(), consul: None };
    let infra = [&state.mysql, &state.redis, &state.consul].into_iter().flatten().map(record);
    let mut out: Vec<Target> = infra.collect();
    let file = format!("{}/stack.json", dir.display());
    // No Consul in the record (a partial `up`, or a stack from before Day 35): the record
    // is the whole truth, and the source line names only the file.
    let consul = match state.consul_addr() {
        Ok(addr) => Consul::new(addr),
        Err(_) => return (state.all().map(record).collect(), file),
    };
    // Only the services that register (gRPC health); the gateway never appears in
    // Consul, so asking for it would return an empty list every second.
    let grpc = services::SERVICES.iter().filter(|s| matches!(s.health, services::Health::Grpc(_)));
    // `consul_name`: the name this stack's services registered under (binary + the
    // stack's suffix) — the same function the services use, so the two cannot drift.
    let names: Vec<String> = grpc.clone().map(|s| state.consul_name(s.binary)).collect();
    // `all_instances`, not the passing-only list a client dials from: the dashboard must
    // show the critical instance too, since seeing it turn critical is the Day 35 lesson.
    let lists = futures::future::join_all(names.iter().map(|n| consul.all_instances(n))).await;
    // All or nothing: if one list failed, mixing Consul rows for some services with
    // record rows for others would make the Consul column mean two things on one
    // screen. The title's `（Consul 无应答）` says why every verdict is `-`.
    if lists.iter().any(Result::is_err) {
        out.extend(state.services.iter().map(record));
        return (out, format!("{file}（Consul 无应答）"));
    }
    for (spec, list) in grpc.zip(lists) {
        out.extend(instances(spec, list.unwrap_or_default(), state));
    }
    out.extend(state.services.iter().filter(|c| c.name == "gateway").map(record));
    (out, format!("Consul + {file}"))
}

/// One gRPC service's rows: every instance Consul lists, with its verdict, then the
/// recorded ones Consul does not list, in instance order.
fn instances(
    spec: &services::ServiceSpec,
    list: Vec<(Instance, String)>,
    state: &StackState,
) -> Vec<Target> {
    let mut rows: Vec<Target> = Vec::new();
    for (instance, status) in list {
        // Matched by address, the one thing Consul and the record both know: Consul's
        // instance id is not in `stack.json`, and the name is the same for every
        // instance of a service.
        let recorded = state.services.iter().find(|c| c.address == instance.address);
        // The metrics endpoint is on the same host as the gRPC port, at the port the
        // service put in its registration's meta; without that meta the row still shows
        // health but no rates (`metrics: None` skips the scrape).
        let host = instance.address.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        let metrics = instance.meta.get("metrics_port").map(|p| format!("{host}:{p}"));
        let (label, pid, program) = match recorded {
            // The supervisor's name (`user-2`): it is also the key of the previous
            // scrape and of the history, so the row keeps its rates and its line colour.
            Some(c) => (c.name.clone(), c.pid, c.program.clone()),
            // Started by hand, outside the supervisor: labelled by port.
            None => (
                format!("{}@{}", spec.name, instance.address.rsplit(':').next().unwrap_or("?")),
                None,
                String::new(),
            ),
        };
        let component = Component {
            name: spec.name.into(),
            pid,
            program,
            address: instance.address.clone(),
            metrics,
            log: None,
        };
        rows.push(Target { label, component, consul: Some(status) });
    }
    // Recorded but not (or no longer) in Consul: never registered, or already reaped
    // after a crash. Shown anyway with no verdict, so nothing the lab started can hide
    // from the learner behind Consul's view.
    for c in &state.services {
        let same = services::spec(&c.name).is_some_and(|s| s.name == spec.name);
        if same && !rows.iter().any(|r| r.component.address == c.address) {
            let component = Component { name: spec.name.into(), ..c.clone() };
            rows.push(Target { label: c.name.clone(), component, consul: None });
        }
    }
    // `all_instances` returns them by Consul id, and the record's extras come last;
    // sorting by instance number puts `user` before `user-2` and a recorded extra in
    // its place, so rows (and the colour each line gets by position) stay put.
    rows.sort_by_key(|r| services::instance_number(&r.label));
    rows
}
