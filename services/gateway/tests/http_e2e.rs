//! End to end over real HTTP: user-service, catalog-service (real MariaDB and Redis) and
//! the gateway all run in this process on port 0; the test is an HTTP client, like a
//! browser or `curl`, and checks status codes and JSON bodies.
//!
//! | test | what it pins down |
//! |---|---|
//! | [`a_user_registers_logs_in_browses_and_publishes_over_http`] | every route, status codes, JSON shapes, auth on `me` and publish |
//! | [`the_internal_update_stock_rpc_is_not_reachable_over_http`] | UpdateStock has no HTTP route |
//! | [`an_unreachable_upstream_is_a_json_503`] | a down service is a quick 503 with the JSON error body |
//! | [`a_hung_upstream_is_a_json_504_after_the_timeout`] | a hung service is a 504 after the configured timeout |
//! | [`an_oversized_body_is_a_json_413`] | a body over the limit is 413 (not 400), before any upstream call |
//!
//! The client is `reqwest`, a real HTTP client over a real socket: what is tested is what
//! `curl` would see, including headers, status lines and bodies, not a router called as a
//! function. The servers behind it use real MariaDB and Redis (fresh database and key
//! prefix per test).

use std::{net::SocketAddr, time::Duration};

use bookstore_platform::Shutdown;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The user-service signing key for these tests (≥ 32 bytes, not the development default).
const JWT_SECRET: &str = "gateway-test-secret-at-least-32-bytes-long";
/// Seed books per test database: a few pages' worth, loaded in a fraction of a second.
const SEEDED: usize = 120;

/// The three processes' worth of servers, stopped on drop.
///
/// The test's token stops user-service and the gateway; catalog-service has its own (from
/// `spawn_in_process`); both are cancelled on drop. The `reqwest::Client` keeps a
/// connection pool, so consecutive requests reuse one keep-alive connection, as a browser
/// would.
struct Stack {
    /// `http://127.0.0.1:<port>` of the gateway: the only address the tests talk to.
    base: String,
    http: reqwest::Client,
    shutdown: Shutdown,
    catalog_shutdown: Shutdown,
    /// user-service's database, where [`Stack::admin_token`] makes its admin.
    user_db: String,
}

impl Drop for Stack {
    /// Cancels both tokens: the servers drain and their tasks end, even when an assertion
    /// failed half-way through the test.
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.catalog_shutdown.cancel();
    }
}

/// Starts user-service, catalog-service (seeded) and the gateway.
///
/// The same wiring the supervisor does with processes, done with tasks: each service
/// gets the previous one's real address (`user_addr`, `catalog_addr`), learned from its
/// `on_bound` report after binding port 0.
async fn spawn_stack() -> Stack {
    let infra = bookstore_stack::testing::infra();
    let shutdown = Shutdown::new();

    // user-service first: catalog needs its address for PublishBook's token check, and the
    // gateway needs both. Its in-process start is the one every crate's tests use.
    let user_db = infra.fresh_database("gw_user").await;
    // 30 s bounds a stuck MariaDB connect: without it a down database would hang the test
    // until CI's global timeout, with no hint of which service was waiting.
    let user = tokio::time::timeout(
        Duration::from_secs(30),
        bookstore_user::spawn_in_process(
            &infra.mysql_url,
            user_db.clone(),
            JWT_SECRET,
            shutdown.clone(),
        ),
    )
    .await
    .expect("user-service starts within 30 s")
    .expect("user-service starts");
    let user_addr = format!("http://{}", user.grpc);

    // inventory-service, empty: catalog reads the live stock of every book it shows there,
    // and opens a published book's stock there.
    let inventory =
        bookstore_inventory::spawn_in_process(bookstore_inventory::Settings::in_process(
            &infra.mysql_url,
            &infra.redis_url,
            &infra.fresh_database("gw_inv").await,
            &bookstore_stack::testing::unique_prefix(),
        ))
        .await
        .expect("inventory-service starts");

    // catalog-service with its own database and a random Redis prefix, seeded before it
    // starts, so no list can be cached from a half-loaded table.
    let catalog = bookstore_catalog::Settings::in_process(
        &infra.mysql_url,
        &infra.redis_url,
        &infra.fresh_database("gw_catalog").await,
        &bookstore_stack::testing::unique_prefix(),
        &user_addr,
        &format!("http://{}", inventory.bound.grpc),
    );
    let catalog = tokio::time::timeout(
        Duration::from_secs(30),
        bookstore_catalog::spawn_in_process(catalog, SEEDED),
    )
    .await
    .expect("catalog-service starts within 30 s")
    .expect("catalog-service starts");
    let catalog_addr = format!("http://{}", catalog.service.bound.grpc);
    // The catalog stops with the stack: its token is cancelled by the same guard.
    let catalog_shutdown = catalog.shutdown();

    // Order- and payment-service are left at their defaults: nothing listens there, and the
    // routes these tests call never reach them (the gateway connects lazily, per route).
    let gateway = bookstore_gateway::Settings { user_addr, catalog_addr, ..Default::default() };
    let addr = bookstore_gateway::spawn_in_process(gateway, shutdown.clone())
        .await
        .expect("the gateway starts");
    Stack {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shutdown,
        catalog_shutdown,
        user_db,
    }
}

// Two tiny helpers keep the long end-to-end test readable: each line is one request and
// its expected status, like a transcript of a `curl` session.
impl Stack {
    /// GET `path`, optionally with a bearer token; returns the status and the JSON body.
    /// Every answer of this API is JSON — errors included — so parsing always succeeds
    /// unless the gateway broke that promise, which then fails the test.
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    /// A fresh admin account (as the lab's `up` makes one), logged in over HTTP.
    ///
    /// `ensure_admin` is an operator's command against user-service's database, not an
    /// HTTP route: there is deliberately no way to become admin through the gateway, so the
    /// test takes the operator's path and then logs in like any client.
    async fn admin_token(&self) -> String {
        let username = bookstore_stack::testing::unique_name("admin");
        let infra = bookstore_stack::testing::infra();
        bookstore_user::ensure_admin_in_process(
            &infra.mysql_url,
            &self.user_db,
            &username,
            "admin-password",
        )
        .await
        .unwrap();
        let creds = json!({"username": username, "password": "admin-password"});
        let (status, session) = self.post("/api/v1/users/login", creds, None).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        session["token"].as_str().unwrap().to_string()
    }

    /// POST a JSON body to `path`; same contract as [`Stack::get`].
    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap())
    }
}

/// A learner's whole first session over HTTP: register, log in, see "me", browse, search,
/// read one book, publish one (only with a token), and see it listed — plus the error
/// shapes a client meets on the way.
#[tokio::test]
async fn a_user_registers_logs_in_browses_and_publishes_over_http() {
    let stack = spawn_stack().await;
    // The supervisor's probe: 200 and a JSON body, without touching any upstream.
    // (This test's user-service and catalog are up, but `/health` would answer the same
    // without them: it reports the gateway process, not its upstreams.)
    let (status, body) = stack.get("/health", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));

    // Registration: 201 the first time, 409 ALREADY_EXISTS the second — the gRPC code's
    // name travels unchanged in the body, the HTTP status follows the mapping table.
    let creds =
        json!({"username": "reader1", "password": "reader-password", "email": "r@example.com"});
    let (status, body) = stack.post("/api/v1/users/register", creds.clone(), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["username"], "reader1");
    // The same name again: user-service's unique index refuses it, ALREADY_EXISTS → 409.
    let (status, body) = stack.post("/api/v1/users/register", creds.clone(), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "ALREADY_EXISTS");

    // A wrong password is 401, with the same body an unknown user would get.
    let (status, body) = stack
        .post(
            "/api/v1/users/login",
            json!({"username": "reader1", "password": "wrong-password"}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    // The right password gets a token; the rest of the test acts as this user. The token is
    // used as an opaque string: the gateway never decodes it, and neither does the test.
    let (status, session) = stack.post("/api/v1/users/login", creds, None).await;
    assert_eq!(status, StatusCode::OK);
    let token = session["token"].as_str().unwrap().to_string();

    // With the token: the caller's own profile, e-mail included (only its owner sees it).
    let (status, me) = stack.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "r@example.com");
    // `me` needs the token; without one, or with garbage, it is 401 before any profile
    // lookup happens.
    for bad in [None, Some("not-a-jwt")] {
        let (status, body) = stack.get("/api/v1/users/me", bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    // Browsing: page 2 of 7 books, cheapest first. Money arrives as integer cents. No token:
    // the catalogue is public, so browsing never costs a call to user-service.
    let (status, page) =
        stack.get("/api/v1/books?page=2&page_size=7&sort=price&order=asc", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], SEEDED);
    // Page 2 of size 7 is rows 8–14 of the price order; 120 seeded books fill it.
    let books = page["books"].as_array().unwrap();
    assert_eq!(books.len(), 7);
    // The order survived the trip gRPC → JSON: the gateway must not reorder or re-sort.
    assert!(books.windows(2).all(|w| w[0]["price"].as_i64() <= w[1]["price"].as_i64()));
    // An unknown sort word is refused, not silently replaced by the default: a typo would
    // otherwise show a page in the wrong order that looks perfectly fine.
    let (status, body) = stack.get("/api/v1/books?sort=popularity", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "INVALID_ARGUMENT");

    // Detail by id; a missing id is a JSON 404; a non-numeric id a JSON 400. The three
    // answers a client must tell apart: found, absent, and "your URL is wrong".
    let id = books[0]["id"].as_u64().unwrap();
    // Served by catalog's detail cache path (GetBook), distinct from the list path above.
    let (status, detail) = stack.get(&format!("/api/v1/books/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["book"]["id"], id);
    // Far beyond the 120 seeded ids: catalog answers NOT_FOUND (and caches the absence for
    // a minute), the gateway 404 with the JSON body.
    let (status, body) = stack.get("/api/v1/books/99999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    // Not a number: refused by the path extractor, so catalog-service is never asked.
    let (status, _) = stack.get("/api/v1/books/abc", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Publishing: refused without a token (401), refused for a shopper's token (403),
    // refused with invalid fields (400, decided by catalog-service and mapped here),
    // accepted with an admin's token and valid fields (201).
    let new_book =
        json!({"title": "HTTP 与 gRPC 之间", "author": "网关", "price": 5990, "stock": 7});
    // (The body is valid; only the missing token is wrong. A valid body proves the 401 is
    // about authentication, not a 400 that happened to be reported first.)
    let (status, body) = stack.post("/api/v1/books", new_book.clone(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The report: a fresh shopper account published a 1-cent book. Now 403, the
    // gRPC code's name in the body, and the catalogue is unchanged.
    let cheap = json!({"title": "一分钱", "author": "x", "price": 1, "stock": 1});
    let (status, body) = stack.post("/api/v1/books", cheap, Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "PERMISSION_DENIED");
    let (_, unchanged) = stack.get("/api/v1/books?page_size=1", None).await;
    assert_eq!(unchanged["total"], SEEDED, "the shopper published nothing");
    let token = stack.admin_token().await;
    // Authenticated, but an empty title: catalog-service refuses it (INVALID_ARGUMENT), and
    // the gateway, which validated nothing itself, maps it to 400.
    let (status, body) = stack
        .post("/api/v1/books", json!({"title": "", "author": "x", "price": 1}), Some(&token))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Note the Chinese title: UTF-8 end to end (JSON → gRPC → MySQL utf8mb4 → back).
    let (status, created) = stack.post("/api/v1/books", new_book, Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // 5990 in, 5990 out: cents end to end, no float anywhere on the way.
    assert_eq!(created["book"]["price"], 5990);
    // The stock shown is inventory's: publishing opened it there.
    assert_eq!(created["book"]["stock"], 7);

    // The new book is searchable and leads the newest-first list at once: the publish went
    // through catalog-service, which invalidated its cached lists and searches.
    // "gRPC" appears only in the new title: a search that finds exactly one book proves
    // both the invalidation and that the keyword matched literally.
    let (status, found) = stack.get("/api/v1/books/search?q=gRPC", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["total"], 1);
    assert_eq!(found["books"][0]["id"], created["book"]["id"]);
    // Defaults: no page, no sort → page 1, newest first; `total` counts the new book.
    let (_, newest) = stack.get("/api/v1/books?page_size=1", None).await;
    assert_eq!(newest["books"][0]["id"], created["book"]["id"]);
    // The total grew by one at once: the list version was bumped by the publish, so no page
    // of the old catalogue is served under the new one.
    assert_eq!(newest["total"], SEEDED + 1);
}

/// UpdateStock is internal: no HTTP route reaches it, whatever the method or path a client
/// tries.
#[tokio::test]
async fn the_internal_update_stock_rpc_is_not_reachable_over_http() {
    // A full stack, so that a route that *did* reach UpdateStock would really change data.

    let stack = spawn_stack().await;
    // The plausible ways a client might try to set stock over REST. Each must be 404 (no
    // such route) or 405 (route exists for GET only) — never a 2xx, and never a 401 that
    // would hint the route exists behind authentication.
    // Two paths (a REST-style sub-resource and the book itself) × three write methods: the
    // shapes a client, or a scanner, would try first.
    for path in ["/api/v1/books/1/stock", "/api/v1/books/1"] {
        for method in [reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::POST] {
            let resp = stack
                .http
                .request(method.clone(), format!("{}{path}", stack.base))
                // A plausible body, so a route that did exist would parse it and zero the
                // stock; without one, a 400/415 could hide a route instead of proving none.
                .json(&json!({"stock": 0}))
                .send()
                .await
                .unwrap();
            assert!(
                matches!(resp.status(), StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED),
                "{method} {path} answered {}",
                resp.status()
            );
        }
    }
}

/// Port 1 on loopback: nothing listens there, so connects are refused at once.
const NOWHERE: &str = "http://127.0.0.1:1";

/// Starts the gateway alone on port 0 with `upstream` as both user- and catalog-service
/// (and `timeout_ms` as its upstream timeout, if given); returns its address. For the
/// tests about what the gateway answers by itself, with nothing healthy behind it.
async fn gateway_alone(upstream: &str, timeout_ms: Option<u64>, shutdown: &Shutdown) -> SocketAddr {
    let mut settings = bookstore_gateway::Settings {
        user_addr: upstream.into(),
        catalog_addr: upstream.into(),
        ..Default::default()
    };
    if let Some(ms) = timeout_ms {
        settings.upstream_timeout_ms = ms;
    }
    // Starts at once although nothing healthy is behind it: the gateway connects lazily.
    bookstore_gateway::spawn_in_process(settings, shutdown.clone()).await.expect("gateway starts")
}

/// With the upstream services down (nothing listens at their addresses), the gateway still
/// answers: quickly, with 503 and the JSON error body, never a hang or an HTML page.
#[tokio::test]
async fn an_unreachable_upstream_is_a_json_503() {
    let shutdown = Shutdown::new();
    // No services at all this time: only the gateway, pointed at addresses where
    // nothing listens.
    let addr = gateway_alone(NOWHERE, None, &shutdown).await;
    // The gateway itself is up; only its upstream is not. The route must still answer.
    // Refused connections fail fast (no timeout is involved): UNAVAILABLE from tonic's
    // channel, 503 from the gateway, in milliseconds.
    let resp = reqwest::get(format!("http://{addr}/api/v1/books")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // JSON even now: a client's error handling must never meet an HTML error page or an
    // empty body just because the service behind the gateway is down.
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UNAVAILABLE");
    // By hand: these tests hold no `Stack` whose `Drop` would cancel. If an assertion fails
    // first, the gateway task simply ends with the test's runtime.
    shutdown.cancel();
}

/// An upstream that accepts the connection but never answers (a hung process) turns into
/// a 504 after the configured timeout — the gateway does not wait forever.
#[tokio::test]
async fn a_hung_upstream_is_a_json_504_after_the_timeout() {
    // A listener that is never accepted from: TCP connects succeed (the kernel completes
    // them into the backlog), but no HTTP/2 handshake or answer ever comes.
    // The most dangerous failure for a caller: not an error, just silence. Without a
    // timeout this request would hang for as long as the TCP connection stays open.
    // The listener is held (and dropped at the end), never accepted from: the port stays
    // taken, so no other test can bind it and answer by accident.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = format!("http://{}", hung.local_addr().unwrap());
    let shutdown = Shutdown::new();
    // A short timeout keeps the test fast; the mechanism is the same at 3 s.
    // The gateway's own clock ends the wait (`Upstreams::call`), whichever stage hangs:
    // here it is the HTTP/2 handshake that never completes.
    let addr = gateway_alone(&hung_addr, Some(300), &shutdown).await;
    // GetBook would answer in ~1 ms from a healthy catalog; here it must give up at 300 ms.
    let resp = reqwest::get(format!("http://{addr}/api/v1/books/1")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    // The gRPC code's name in the body, so a client can tell "too slow" (retry later, with
    // the same idempotency key) from "down" (503) without parsing the message.
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "DEADLINE_EXCEEDED");
    shutdown.cancel();
    // Dropped only now: closing the listener before the request would turn the hang into a
    // refused connection, and the test would see a quick 503 instead of the 504 it is about.
    drop(hung);
}

/// A 3 MB JSON body (over axum's 2 MB limit) on a route that takes JSON is refused with
/// 413 Payload Too Large and the JSON error body — not 400, which would tell the client to
/// fix its syntax and send the same 3 MB again. A small malformed body stays a 400. No
/// upstream is needed (they are unreachable here): the body is refused at the door.
#[tokio::test]
async fn an_oversized_body_is_a_json_413() {
    let shutdown = Shutdown::new();
    let addr = gateway_alone(NOWHERE, None, &shutdown).await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/users/register");

    // 3 MiB of password: well-formed JSON, only too large. The limit is checked while the
    // body streams in, so the gateway never buffers more than its 2 MB to refuse it.
    // `3 << 20` bytes is 3 MiB: a whole MiB over the limit, so neither the JSON framing nor
    // the MB/MiB difference can decide the outcome.
    let huge = json!({ "username": "alice", "password": "x".repeat(3 << 20) });
    // Refused by the body limit before user-service (unreachable here) could be asked:
    // an oversized request costs the gateway its first 2 MB and nothing downstream.
    let resp = http.post(&url).json(&huge).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    // Only that a message exists: its wording is axum's and may change between versions;
    // the status and the JSON shape are the contract a client relies on.
    assert!(body["error"]["message"].as_str().is_some(), "{body}");

    // A small body that is not JSON: the client's syntax is the problem, so 400.
    let resp = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    shutdown.cancel();
}
