//! Reflection for clients we did not write. `ghz` (the standard gRPC load tester) builds
//! its requests from server reflection and asks only the older `v1alpha` protocol; a server
//! that offered v1 alone made it fail with "server does not support the reflection API".
//!
//! Why an outside tool and not our own reflection client: a client written against our
//! own server would speak whatever version we happened to implement. ghz is what
//! learners reach for on Day 33, so ghz is the judge. `make setup` builds it into the
//! tools folder next to grpcurl.

use std::{path::PathBuf, process::Command};

use bookstore_platform::{GrpcServer, Shutdown};
use bookstore_stack::infra;

/// ghz from the tools folder (`make setup` builds it there) or PATH.
fn ghz() -> PathBuf {
    let p = infra::tools_dir().join("ghz");
    p.is_file()
        .then_some(p)
        .or_else(|| infra::find_program("ghz"))
        // Fail rather than skip: a skipped check would let v1alpha break unseen.
        .expect("ghz not found: `make setup` builds it into the tools folder")
}

/// Twenty health checks from ghz, described through reflection alone (no proto files
/// given to ghz), against a platform server in this process: all twenty answer OK.
#[tokio::test(flavor = "multi_thread")]
async fn ghz_finds_the_schema_through_reflection_and_its_calls_succeed() {
    // A bare platform server: health and reflection only. That is enough — the schema
    // ghz must discover is the health service's, served through the same reflection code
    // every bookstore service uses — and it needs no database.
    let server = GrpcServer::bind("127.0.0.1", 0).await.unwrap();
    let addr = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = tokio::spawn(server.serve(shutdown.clone()));

    // `spawn_blocking`: `Command::output` blocks its thread until ghz exits, and the
    // server answering ghz runs on this same runtime.
    let out = tokio::task::spawn_blocking(move || {
        Command::new(ghz())
            .args([
                // Plaintext, as every lab server speaks: there is no TLS on loopback.
                "--insecure",
                "--call",
                "grpc.health.v1.Health/Check",
                "-d",
                // The empty name asks for the server-wide status, which every platform
                // server reports, so the call needs no service of ours behind it.
                r#"{"service":""}"#,
            ])
            // A handful of requests: this checks compatibility, not speed.
            .args(["-n", "20", "-c", "2", "--format", "json"])
            .arg(addr.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ghz failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    // The JSON report, not only the exit code: it counts the calls and groups them by
    // status code, so the test can check that all twenty answered OK.
    let report: serde_json::Value =
        serde_json::from_str(&stdout).expect("ghz prints a JSON report");
    assert_eq!(report["count"], 20, "{report}");
    assert_eq!(report["statusCodeDistribution"]["OK"], 20, "{report}");

    shutdown.cancel();
    // Awaited, so a server that failed while ghz used it shows here instead of vanishing
    // with the test's runtime.
    serving.await.unwrap().unwrap();
}
