//! user-service against real MariaDB: each test starts its own server on port 0 with a
//! fresh database, then talks to it over gRPC like any other service would.
//!
//! What these tests pin down, in the order a learner meets it in the course:
//! 1. the happy path (register → login → validate → profile);
//! 2. uniqueness is enforced by the database, case-insensitively;
//! 3. login does not reveal which usernames exist;
//! 4. every kind of bad token is refused the same way (UNAUTHENTICATED);
//! 5. the service refuses to run in production with the published development secret.
//!
//! Each test has its own database, so they run in parallel and never see each other's
//! users. Hashing is real argon2id (no "fast test mode"): a test that used a weaker hash
//! would not notice if hashing moved back onto the async runtime.

use std::time::Duration;

use bookstore_platform::{Secret, Shutdown};
use bookstore_proto::user::{
    GetUserRequest, LoginRequest, RegisterRequest, ValidateTokenRequest,
    user_service_client::UserServiceClient,
};
use bookstore_user::{
    Settings,
    token::{Claims, TokenKeys, now_secs},
};
use tonic::{Code, transport::Channel};

/// A secret above the 32-byte minimum (44 bytes), different from the development default,
/// as an operator would configure in production.
const SECRET: &str = "test-secret-that-is-definitely-32-bytes-long";

/// A running user-service and a client for it; the server stops when this is dropped.
///
/// Dropping it cancels the shutdown token: the server drains and its task ends, so a test
/// that fails half-way does not leave a server running for the rest of the suite.
struct TestUser {
    client: UserServiceClient<Channel>,
    /// The service's settings (its database), for the `ensure-admin` command's tests.
    settings: Settings,
    shutdown: Shutdown,
}

impl Drop for TestUser {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings for an in-process server: port 0 (the OS picks a free port, so parallel tests
/// never collide), the test infrastructure's MySQL, no Consul registration.
///
/// `consul_addr` is emptied on purpose: a test server must not register itself in the
/// shared Consul, where the lab's dashboard (and other tests) would see it.
fn settings_for_tests(database: String) -> Settings {
    let infra = bookstore_stack::testing::infra();
    let mut settings = Settings::default();
    settings.common.port = 0;
    settings.common.mysql_url = Secret::new(infra.mysql_url);
    settings.common.database = database;
    settings.common.consul_addr = String::new();
    settings.jwt_secret = Secret::new(SECRET);
    // Chosen explicitly, as the lab's supervisor does; the default is production.
    settings.common.environment = "development".into();
    settings
}

/// Starts user-service in this process against a fresh database and waits until it has
/// bound its port (the `on_bound` callback), then connects a client.
async fn spawn_user_service() -> TestUser {
    let database = bookstore_stack::testing::infra().fresh_database("user").await;
    let settings = settings_for_tests(database);
    let shutdown = Shutdown::new();
    // The oneshot handshake of `bookstore_user::spawn_in_process`, written out here because
    // these tests keep the `Settings` for the `ensure_admin` calls.
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(bookstore_user::run(settings.clone(), shutdown.clone(), move |b| {
        let _ = tx.send(b);
    }));
    // A bound, not an expectation: a start that breaks fails the test in 30 s instead of
    // hanging the whole suite; a healthy start (fresh database, migrations) takes far less.
    let bound = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("user-service starts within 30 s")
        .expect("user-service reports its address");
    let client = UserServiceClient::connect(format!("http://{}", bound.grpc))
        .await
        .expect("connect to user-service");
    TestUser { client, settings, shutdown }
}

/// A registration request with a derived e-mail address (so profiles are checkable).
/// Names are fixed ("alice", "bob"): each test has its own database, so they never clash.
fn register(username: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        username: username.into(),
        password: password.into(),
        email: format!("{username}@example.com"),
    }
}

/// A login request (no e-mail: Login identifies by username alone).
fn login(username: &str, password: &str) -> LoginRequest {
    LoginRequest { username: username.into(), password: password.into() }
}

// Each test below starts from an empty database: no fixtures, no order dependence. The
// data a test needs, it creates through the API, as a real client would.

/// The happy path: register, log in, and the token validates to the same user, whose
/// public profile can be fetched without any password hash in it.
#[tokio::test]
async fn a_registered_user_can_log_in_and_the_token_names_them() {
    let mut svc = spawn_user_service().await;
    let user = svc
        .client
        .register(register("alice", "correct horse battery"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    // The id comes from AUTO_INCREMENT and `created_at` from the row the database wrote,
    // read back after the insert: neither is made up by the service.
    assert!(user.id > 0);
    assert!(user.created_at > 0);

    // The token's expiry is in the future and is reported as unix seconds, so a client can
    // schedule a re-login without decoding the JWT.
    let session =
        svc.client.login(login("alice", "correct horse battery")).await.unwrap().into_inner();
    assert!(session.expires_at > now_secs());

    // ValidateToken is what every other service calls: it must name the same user id.
    let who = svc
        .client
        .validate_token(ValidateTokenRequest { token: session.token })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who.user_id, user.id);
    assert_eq!(who.username, "alice");

    // GetUser returns the public profile. (There is no hash field in the proto message at
    // all, so leaking it is impossible rather than merely avoided.)
    let profile = svc
        .client
        .get_user(GetUserRequest { user_id: user.id })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(profile.email, "alice@example.com");
}

/// A taken username is ALREADY_EXISTS — also when only the letter case differs — and bad
/// input is INVALID_ARGUMENT.
#[tokio::test]
async fn a_taken_username_is_already_exists_and_bad_input_is_invalid_argument() {
    let mut svc = spawn_user_service().await;
    svc.client.register(register("bob", "password-one")).await.unwrap();
    // Another password, so the refusal can only be about the name.
    let again = svc.client.register(register("bob", "password-two")).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    // `BOB` is `bob` under the case-insensitive collation: also taken. Two accounts that
    // differ only in case are a classic impersonation trick.
    let upper = svc.client.register(register("BOB", "password-two")).await.unwrap_err();
    assert_eq!(upper.code(), Code::AlreadyExists);

    // Invalid input never reaches the database (and is never hashed): a one-letter name and
    // a five-letter password are refused by the domain newtypes before `store::insert`.
    for bad in [register("x", "password-ok"), register("carol", "short")] {
        let err = svc.client.register(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
    }
    // An id nobody has is NOT_FOUND, not INTERNAL: the caller asked for something absent.
    // 424,242: far past any id this fresh database has handed out (one user, bob).
    let err = svc.client.get_user(GetUserRequest { user_id: 424_242 }).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

/// A wrong password and an unknown username get the very same answer, so Login cannot be
/// used to find out which accounts exist.
#[tokio::test]
async fn wrong_username_and_wrong_password_give_the_same_answer() {
    let mut svc = spawn_user_service().await;
    svc.client.register(register("dave", "the-right-password")).await.unwrap();
    let wrong_password = svc.client.login(login("dave", "the-wrong-password")).await.unwrap_err();
    // A name never registered, with dave's own password: the account is the only thing
    // that differs from a valid login.
    let unknown_user = svc.client.login(login("nobody", "the-right-password")).await.unwrap_err();
    assert_eq!(wrong_password.code(), Code::Unauthenticated);
    // Code *and* message identical. (Timing is equalised too, by verifying against a dummy
    // hash; a timing assertion would be flaky on a shared machine, so it is not tested
    // here — the code path is in `password::Hasher::verify`.)
    assert_eq!(unknown_user.code(), wrong_password.code());
    assert_eq!(unknown_user.message(), wrong_password.message());
}

/// Expired tokens, tokens signed with another secret and strings that are not JWTs at all
/// are all UNAUTHENTICATED.
#[tokio::test]
async fn expired_forged_and_malformed_tokens_are_unauthenticated() {
    let mut svc = spawn_user_service().await;
    let user = svc
        .client
        .register(register("erin", "erins-password"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    // The real user's id and name: only the expiry or the signature can be what is refused.
    let claims = |exp: i64| Claims {
        sub: user.id.to_string(),
        username: "erin".into(),
        roles: vec!["customer".into()],
        // Issued two hours ago, so an expiry in the past is consistent with the issue time.
        iat: now_secs() - 7200,
        exp,
    };
    // Minted with the service's real secret, but an hour past expiry: the signature is
    // fine, only the clock says no.
    let expired = TokenKeys::new(&Secret::new(SECRET)).sign(&claims(now_secs() - 3600)).unwrap();
    // Perfectly valid expiry and claims, signed with a key the service does not know: what
    // an attacker who guessed the token format (but not the secret) would send.
    // Both are minted with the crate's own `TokenKeys`, the code path `login` uses, so the
    // test forges exactly the tokens a real attacker or a stale client would hold.
    let forged = TokenKeys::new(&Secret::new("an-attackers-own-secret-of-32-bytes-or-more"))
        .sign(&claims(now_secs() + 3600))
        .unwrap();
    // Four different failures, one answer each time: UNAUTHENTICATED. Callers (the gateway
    // maps it to 401) need no further distinction; the message says which for debugging.
    // The empty string is what a client sends when it forgot to log in.
    for token in [expired, forged, "garbage".to_string(), String::new()] {
        let err = svc
            .client
            .validate_token(ValidateTokenRequest { token: token.clone() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "token {token:?}");
    }
}

/// The built-in development secret is refused outside development mode, so a production
/// deployment cannot start with a key that is published on GitHub.
#[tokio::test]
async fn the_service_refuses_the_development_secret_outside_development() {
    // "unused_db": `check` refuses before any connection, so the database is never created.
    let mut settings = settings_for_tests("unused_db".into());
    settings.jwt_secret = Secret::new(bookstore_user::DEV_JWT_SECRET);
    assert!(settings.check().is_ok(), "development mode accepts it");

    // The same settings with any environment other than "development": `run` must fail
    // before binding a port or touching the database.
    settings.common.environment = "production".into();
    // Through `run`, not only `check`: the promise is that the *service* refuses, so the
    // test would catch a `run` that forgot to call `check` first.
    // A token nobody cancels: `run` must come back on its own, by refusing.
    let err = bookstore_user::run(settings, Shutdown::new(), |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("development secret"), "{err}");
}

/// What a deployment gets when it forgets `BOOKSTORE_ENVIRONMENT` (and the secret): the
/// real `user-service` binary, given only a database, refuses to start and says why. The
/// same binary with `BOOKSTORE_ENVIRONMENT=development` — what the lab sets — starts.
///
/// The binary and not `Settings::default()` in-process: the promise is about what a
/// deployment *gets* from the layered config (defaults → file → env), so the test goes
/// through the same `config::load` path with an environment emptied of everything else.
#[tokio::test]
async fn an_unset_environment_means_production_and_development_must_be_chosen() {
    use tokio::{io::AsyncBufReadExt, process::Command};
    let infra = bookstore_stack::testing::infra();
    let database = infra.fresh_database("user").await;
    // A closure, so both runs below start from the same cleared environment and differ
    // only in the one variable under test.
    let command = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_user-service"));
        // `env_clear`: nothing from the developer's shell (or `bookstore-lab env`) may
        // choose the environment for us.
        cmd.env_clear()
            // Port 0, so the development run below never collides with a running lab's
            // user-service on 9001.
            .env("BOOKSTORE_PORT", "0")
            .env("BOOKSTORE_MYSQL_URL", &infra.mysql_url)
            .env("BOOKSTORE_DATABASE", &database)
            // tokio leaves a dropped child running by default; this one must not outlive
            // the test, or it would keep its port and log into the next test's output.
            .kill_on_drop(true);
        cmd
    };

    // Production by default: `check` runs before MySQL is touched, so the refusal comes
    // in milliseconds; the 20 s bound only keeps a regression from hanging the suite.
    let out = tokio::time::timeout(Duration::from_secs(20), command().output())
        .await
        .expect("refuses at once, without waiting for anything")
        .unwrap();
    // Both streams: the refusal is the error `main` returns (stderr), while the log goes to
    // stdout; the test should not care which one carries the words.
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "started with the dev secret and no environment:\n{text}");
    assert!(text.contains("development secret"), "{text}");

    // The same command with development chosen: it must get past `check`, migrate its
    // fresh database and bind — the "listening" line is printed only after all three.
    // `kill_on_drop` then stops it when the test ends.
    let mut dev = command()
        .env("BOOKSTORE_ENVIRONMENT", "development")
        // Piped, to read the "listening" line; stderr stays inherited, so a failed start
        // shows its error in the test's output.
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(dev.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("listening") {
                return true;
            }
        }
        // stdout closed without "listening": the process exited, and the assert says so.
        false
    })
    .await;
    assert_eq!(listening, Ok(true), "user-service did not start in development");
}

/// Roles travel in the signed token: a registered shopper validates as `["customer"]`;
/// `ensure-admin` makes an account an admin (idempotently, keeping its password), and its
/// next login validates as `["admin"]`. A token with a forged `roles` claim fails the
/// signature, and outside development the built-in admin password is refused.
#[tokio::test]
async fn roles_are_signed_into_the_token_and_only_ensure_admin_grants_admin() {
    let mut svc = spawn_user_service().await;
    svc.client.register(register("frank", "franks-password")).await.unwrap();
    let roles_of = |svc: &mut TestUser, name: &str, password: &str| {
        let mut client = svc.client.clone();
        let (name, password) = (name.to_string(), password.to_string());
        async move {
            let login =
                client.login(LoginRequest { username: name, password }).await.unwrap().into_inner();
            // Two sources that must agree: the profile Login read from user_db, and the
            // roles claim signed into the token (what every other service trusts).
            let profile = login.user.as_ref().unwrap().roles.clone();
            let who =
                client.validate_token(ValidateTokenRequest { token: login.token }).await.unwrap();
            let signed = who.into_inner().roles;
            assert_eq!(profile, signed, "the login's profile and its token disagree on roles");
            signed
        }
    };
    // Register grants no more than `customer`: there is no field in RegisterRequest a
    // shopper could fill in to ask for more, and the column's default decides.
    assert_eq!(roles_of(&mut svc, "frank", "franks-password").await, ["customer"]);

    // An existing account is promoted and keeps its password (frank still logs in with
    // his own, not with the one passed here); a new one is created; a second run of
    // the same command changes nothing and says so (`false`) — `up` runs it every time.
    let settings = svc.settings.clone();
    assert!(!bookstore_user::ensure_admin(&settings, "frank", "ignored-password").await.unwrap());
    assert_eq!(roles_of(&mut svc, "frank", "franks-password").await, ["admin"]);
    assert!(bookstore_user::ensure_admin(&settings, "root_op", "operator-pass").await.unwrap());
    assert!(!bookstore_user::ensure_admin(&settings, "root_op", "operator-pass").await.unwrap());
    assert_eq!(roles_of(&mut svc, "root_op", "operator-pass").await, ["admin"]);

    // A shopper who edits the claim to say admin breaks the signature: the roles are only
    // as trustworthy as the HMAC over them, which is why no service reads them from a
    // token it has not had ValidateToken check.
    let forged = TokenKeys::new(&Secret::new("not-the-services-secret-but-32-bytes-long"))
        .sign(&Claims {
            sub: "1".into(),
            username: "frank".into(),
            roles: vec!["admin".into()],
            iat: now_secs(),
            exp: now_secs() + 60,
        })
        .unwrap();
    // UNAUTHENTICATED, not PERMISSION_DENIED: the token as a whole is refused, so its claims,
    // `admin` included, are never read.
    let err = svc.client.validate_token(ValidateTokenRequest { token: forged }).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // The published password works in development only, exactly like the published JWT
    // secret: a production deployment that forgot to choose its own is refused.
    let mut production = settings.clone();
    production.common.environment = "production".into();
    // Refused before any connection (see `ensure_admin`): the database is not touched.
    let refused =
        bookstore_user::ensure_admin(&production, "admin", bookstore_user::DEV_ADMIN_PASSWORD);
    assert!(refused.await.is_err(), "the published admin password is development-only");
}
