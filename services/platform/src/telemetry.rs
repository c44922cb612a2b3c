//! Logging via `tracing`. `RUST_LOG` filters as usual (`RUST_LOG=debug,sqlx=warn`).
//!
//! DO: log structured fields (`book_id = 7`) — they can be searched.
//! DON'T: `println!` in a service — it is unfiltered, unstructured and blocks on stdout.
//!
//! What it is NOT: distributed tracing. Spans stay inside one process here; exporting
//! them (OpenTelemetry) and propagating trace ids through gRPC metadata is a later lesson.

/// Installs the subscriber once; later calls (e.g. many in-process servers in one test
/// binary) are harmless no-ops.
pub fn init(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // `try_init`, not `init`: a global subscriber can be set only once per process, and
    // `init` panics on the second call. Targets are hidden: one service per log file
    // already says where a line came from.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
