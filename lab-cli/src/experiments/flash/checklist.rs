//! The course's Week 6 completion criteria, checked against the running stack and the
//! learner's own bench results — the summary lesson's checklist, as code.
//!
//! - **every RPC answers**: each method of the five services, read from the descriptor set
//!   compiled into `bookstore-proto` (so a method added to a `.proto` is checked without a
//!   line here), is called with an empty request and no credentials. An empty message is
//!   zero bytes in protobuf whatever its type, so one untyped call fits every method. The
//!   right answers are decisions — INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND, … — which
//!   prove the handler exists and validates; UNIMPLEMENTED, UNAVAILABLE, INTERNAL and
//!   UNKNOWN fail the check. ❌ DON'T call with real arguments here: a checklist that
//!   creates users and orders on the learner's stack changes what it checks.
//! - **Consul**: every recorded instance registered and passing.
//! - **performance targets**: read from `<lab dir>/results/bench-<name>.json`, which every
//!   `bookstore-lab bench` run writes; a target never measured says which command to run
//!   instead of guessing a number.

use std::{path::Path, time::Duration};

use bookstore_platform::consul::Consul;
use bookstore_stack::{StackState, services};
use prost::Message as _;
use tonic::{Code, codegen::http::uri::PathAndQuery};

/// One line of the checklist: `None` = not measured yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The criterion as the course states it (Chinese, shown as is).
    pub label: String,
    /// `Some(true)` passed, `Some(false)` failed, `None` not measured: three states, because
    /// a target nobody measured is neither a pass nor a failure, and showing it as either
    /// would tell the learner something that is not known.
    pub ok: Option<bool>,
    /// The evidence: counts, the measured value and its bench row, or what is wrong.
    pub detail: String,
}

/// Every criterion, in the course's order.
///
/// Read-only against the stack: it calls every RPC with an empty request (which no
/// handler can act on) and reads Consul and saved reports, so pressing `v` mid-sale
/// changes nothing the board is checking.
///
/// Fails only when the stack's record (`stack.json`) cannot be read; a missing one is an
/// empty stack. Everything the stack does wrong, a stopped service or Consul included, is
/// a red item, not an error.
pub async fn run(lab_dir: &Path) -> anyhow::Result<Vec<Item>> {
    let state = StackState::load(lab_dir)?.unwrap_or_default();
    // One after the other, not joined: the RPC sweep is a few dozen calls on loopback,
    // and running it beside Consul's queries would save milliseconds on a key press.
    let mut items = vec![rpcs(&state).await, consul(&state).await];
    items.extend(targets(lab_dir));
    Ok(items)
}

/// Every unary method of the five services: (the stack's instance name, gRPC path).
///
/// From the descriptor set, not a list written here: the list could only fall behind
/// the protos, and a method missing from it would be a method nobody checks.
fn methods() -> anyhow::Result<Vec<(String, String)>> {
    let set = prost_types::FileDescriptorSet::decode(bookstore_proto::FILE_DESCRIPTOR_SET)?;
    let mut out = Vec::new();
    for file in set.file {
        // Files of other packages (`grpc.health.v1`, Google's well-known types) have
        // no `bookstore.` prefix and are skipped below: they are not the course's API.
        let package = file.package().to_string();
        // `bookstore.user.v1` → the stack's instance name `user`.
        let Some(service_name) =
            package.strip_prefix("bookstore.").and_then(|p| p.split('.').next())
        else {
            continue;
        };
        for svc in &file.service {
            for m in &svc.method {
                // A streaming method cannot be called as unary, and an empty unary call would
                // report a codec error rather than the handler's decision.
                if m.client_streaming() || m.server_streaming() {
                    continue;
                }
                out.push((
                    service_name.to_string(),
                    format!("/{package}.{}/{}", svc.name(), m.name()),
                ));
            }
        }
    }
    Ok(out)
}

/// The "every RPC answers" item: one call per method, against the first instance of
/// its service (`state.service(name)` is the plain name, not `name-2`).
async fn rpcs(state: &StackState) -> Item {
    let label = "gRPC 方法全部实现、校验输入（空请求）".to_string();
    let methods = match methods() {
        Ok(m) => m,
        Err(e) => return Item { label, ok: Some(false), detail: format!("descriptor: {e}") },
    };
    let mut bad = Vec::new();
    for (service, path) in &methods {
        // A service the stack did not start fails each of its methods with the same
        // line; `dedup` below keeps one of them.
        // One instance per service: replicas run the same binary, so one answer per
        // method proves the code; that every replica is up is the Consul item's job.
        let Some(c) = state.service(service) else {
            bad.push(format!("{service} 未运行"));
            continue;
        };
        if let Err(why) = call_empty(&c.address, path).await {
            bad.push(format!("{path}: {why}"));
        }
    }
    // `dedup` collapses *consecutive* repeats only, which is enough: `methods` lists a
    // service's methods together, file by file.
    bad.dedup();
    // `n` counts methods; after `dedup`, the "有问题" count is of distinct lines (a
    // stopped service is one line however many methods it has).
    let n = methods.len();
    Item {
        label,
        ok: Some(bad.is_empty()),
        detail: if bad.is_empty() {
            format!("{n}/{n} 个 RPC 都给出了明确的回答")
        } else {
            format!("{} 个有问题：{}", bad.len(), bad.join("；"))
        },
    }
}

/// Calls `path` with an empty request; `Err` when the answer says the method is missing
/// or broken rather than a decision about the (empty) request.
async fn call_empty(address: &str, path: &str) -> Result<(), String> {
    // A fresh channel per call: a checklist runs rarely, and a shared channel that
    // broke on the first dead service would fail every method after it.
    // The cache experiment's channel: its 2 s connect bound makes a stopped service cost
    // the checklist two seconds, not the OS's TCP timeout.
    let channel = super::super::cache::channel(address).await.map_err(|e| format!("{e:#}"))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    // `ready` waits until the channel can take a request: a connection that broke
    // since the connect fails here, before anything is sent.
    grpc.ready().await.map_err(|e| e.to_string())?;
    let path = PathAndQuery::try_from(path.to_string()).map_err(|e| e.to_string())?;
    let mut req = tonic::Request::new(());
    // 3 s, the gateway's own upstream deadline: a handler slower than that on an
    // empty request would time out for real clients too.
    req.set_timeout(Duration::from_secs(3));
    // `()` is a protobuf message with no fields: it encodes to zero bytes and decodes any
    // answer by skipping its fields — exactly "an empty request of whatever type".
    let answer = grpc.unary::<(), (), _>(req, path, tonic_prost::ProstCodec::default()).await;
    match answer {
        // OK to an empty request is a decision too: a list with default paging, a
        // lookup that treats "no filter" as "all". The handler exists and answered.
        Ok(_) => Ok(()),
        Err(s) => match s.code() {
            // UNIMPLEMENTED: the method is in the proto but not served. UNAVAILABLE: no
            // server. INTERNAL/UNKNOWN: the handler broke on input it should have
            // rejected — validation missing. DEADLINE_EXCEEDED passes: a slow
            // decision is still a decision, and the latency targets are the benches'.
            Code::Unimplemented | Code::Unavailable | Code::Internal | Code::Unknown => {
                Err(format!("{:?}", s.code()))
            }
            _ => Ok(()),
        },
    }
}

/// The Consul item: every recorded service instance is in the catalogue at its own
/// address and its health check passes.
async fn consul(state: &StackState) -> Item {
    let label = "Consul：所有服务注册成功、健康检查通过".to_string();
    let Ok(addr) = state.consul_addr() else {
        return Item { label, ok: Some(false), detail: "没有 Consul".into() };
    };
    // The agent the stack started, asked over HTTP: `/v1/health/service/<name>`
    // gives every instance with its checks, as the discovery experiment reads it.
    let consul = Consul::new(addr);
    let mut bad = Vec::new();
    let mut passing = 0;
    // The gateway is the one process that does not register: it is the entrance,
    // which clients reach at its address, and it looks the others up instead.
    for c in state.services.iter().filter(|c| c.name != "gateway") {
        let Some(spec) = services::spec(&c.name) else { continue };
        // The stack's Consul names carry its suffix when the agent is shared
        // (`StackState::consul_name`), so two stacks never see each other's instances.
        // A failed query reads as "nothing registered": every service then shows 未注册.
        let listed =
            consul.all_instances(&state.consul_name(spec.binary)).await.unwrap_or_default();
        // Matched by address, not by name: with replicas, "user is registered" would
        // pass while `user-2` was missing.
        match listed.iter().find(|(i, _)| i.address == c.address) {
            Some((_, status)) if status == "passing" => passing += 1,
            Some((_, status)) => bad.push(format!("{} {status}", c.name)),
            None => bad.push(format!("{} 未注册", c.name)),
        }
    }
    Item {
        label,
        ok: Some(bad.is_empty()),
        detail: if bad.is_empty() {
            format!("{passing} 个实例 passing")
        } else {
            bad.join("；")
        },
    }
}

/// The four performance targets, from the learner's saved bench reports.
///
/// The targets are judged from the learner's last saved run, not measured here: a
/// measurement on the stack in the middle of a sale would measure the sale.
fn targets(lab_dir: &Path) -> Vec<Item> {
    // (label, bench, row, what to read, target)
    let rows = [
        // The rows the course's targets name, from the learner's own last run of each bench;
        // a report from a debug build counts too, and says so in the detail.
        ("catalog 列表查询 QPS > 1000", "catalog", "ListBooks gRPC warm", None, 1000.0),
        ("inventory 扣减 TPS > 10000", "inventory", "DecrStock direct (gRPC)", None, 10000.0),
        ("order 下单 TPS > 500", "order", "CreateOrder", None, 500.0),
        // The cold round's hit rate, not the warm one's: warm is 100 % by construction (the
        // bench fills the cache first); cold is what a shop sees after every list-cache
        // invalidation, which is what the course's 80 % is about.
        (
            "缓存命中率 > 80 %（冷启动那一轮）",
            "catalog",
            "ListBooks gRPC cold",
            Some("hit_rate"),
            80.0,
        ),
    ];
    rows.into_iter()
        .map(|(label, bench, row, extra, target)| {
            // The last run of that bench overwrites the file: the item always shows the
            // learner's most recent measurement, not the best one.
            let file = lab_dir.join(format!("results/bench-{bench}.json"));
            let Ok(text) = std::fs::read_to_string(&file) else {
                return Item {
                    label: label.into(),
                    ok: None,
                    detail: format!("尚未测量：运行 bookstore-lab bench {bench}"),
                };
            };
            // An unreadable report becomes `Null` and falls through to "no such row": the
            // item then names the file, which is where the learner has to look.
            let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            // Rows are matched by their exact name: a bench that renamed a row makes the
            // item say "no such row" rather than read a different measurement.
            let found =
                report["rows"].as_array().and_then(|rs| rs.iter().find(|r| r["name"] == row));
            let value = found.and_then(|r| match extra {
                None => r["tps"].as_f64(),
                // `extra` is a list of [key, value] pairs; the value reads "93.1%".
                Some(key) => r["extra"].as_array()?.iter().find(|p| p[0] == key)?[1]
                    .as_str()?
                    .trim_end_matches('%')
                    .parse()
                    .ok(),
            });
            match value {
                Some(v) => Item {
                    label: label.into(),
                    // Strictly greater: the course's targets read "> 1000", and a bench
                    // that lands exactly on the line has not beaten it.
                    ok: Some(v > target),
                    // The build comes from the report itself: a debug build is several
                    // times slower, so a red item read from one says so next to its value.
                    detail: format!(
                        "{v:.0}（{}，{}）",
                        row,
                        report["build"].as_str().unwrap_or("bench 报告")
                    ),
                },
                None => Item {
                    label: label.into(),
                    ok: None,
                    detail: format!("{} 里没有 {row} 这一行", file.display()),
                },
            }
        })
        .collect()
}

/// `✔ label — detail` lines for the plain output.
///
/// `·` for "not measured", so a run that never benched shows a gap, not a red mark.
pub fn lines(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            let m = match i.ok {
                Some(true) => '✔',
                Some(false) => '✘',
                None => '·',
            };
            format!("    {m} {} — {}", i.label, i.detail)
        })
        .collect()
}
