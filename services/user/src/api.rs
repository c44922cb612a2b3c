//! The gRPC handlers. Each one reads the same way: parse the request into domain types,
//! apply the rule, touch the store, answer. Errors are [`crate::Error`]; `?` turns them
//! into the right gRPC code at the end.

use bookstore_proto::user::{
    GetUserRequest, GetUserResponse, LoginRequest, LoginResponse, RegisterRequest,
    RegisterResponse, ValidateTokenRequest, ValidateTokenResponse,
    user_service_server::UserService,
};
use sqlx::MySqlPool;
use tonic::{Request, Response, Status};

use crate::{
    Error,
    domain::{Email, Password, Username},
    password::Hasher,
    store,
    token::{Claims, TokenKeys, now_secs},
};

/// The service: its dependencies, shared by every request (cheap clones inside).
///
/// The handlers are inherent methods returning `Result<_, Error>`; the trait impl at the
/// bottom only adapts them to tonic. This keeps the domain logic free of tonic types and
/// puts the whole Error → Status decision in one `?` per RPC.
#[derive(Clone)]
pub struct UserApi {
    /// An `Arc` inside: every clone of the service shares one set of connections.
    pool: MySqlPool,
    /// The HMAC keys, derived once from the secret: deriving them per request would be
    /// wasted work on the hottest RPC, ValidateToken.
    keys: TokenKeys,
    /// Signed, because JWT times (`iat`, `exp`) are signed unix seconds.
    ttl_secs: i64,
    /// Bounds how many argon2 runs share the CPU at once (see `password`).
    hasher: Hasher,
}

impl UserApi {
    /// `ttl_secs` is clamped into `i64` (JWT times are signed seconds); a configured TTL
    /// beyond that would be a typo, and is turned into "very long" rather than a panic.
    pub fn new(pool: MySqlPool, keys: TokenKeys, ttl_secs: u64) -> Self {
        Self {
            pool,
            keys,
            // Half of `i64::MAX`: `now + ttl` then cannot come near overflow even before the
            // `saturating_add` in `login`.
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2),
            hasher: Hasher::default(),
        }
    }

    /// Register: parse all three fields first (nothing is hashed or stored for a request
    /// that is invalid anywhere), hash off the runtime, then let the unique index decide
    /// whether the name is free.
    ///
    /// Order matters for cost, too: the cheap checks run before the 20 ms hash, so a flood
    /// of malformed requests costs the server almost nothing.
    async fn register(&self, req: RegisterRequest) -> Result<RegisterResponse, Error> {
        let username = Username::parse(&req.username)?;
        let password = Password::parse(&req.password)?;
        let email = Email::parse(&req.email)?;
        // ~20–40 ms of CPU on the blocking pool; the async worker thread is free meanwhile.
        let hash = self.hasher.hash(&password).await?;
        // If the name is taken, the hash above was wasted work — the price of letting the
        // index decide atomically instead of checking first (which would race anyway).
        let row = store::insert(&self.pool, &username, &email, &hash).await?;
        // The id and the name only: never the e-mail, never anything derived from the password.
        tracing::info!(user_id = row.id, username = %row.username, "registered");
        Ok(RegisterResponse { user: Some(row.to_proto()) })
    }

    /// Login: look the user up, verify the password (always spending the time of one
    /// verification), then sign a token.
    ///
    /// Every failure is the same [`Error::BadCredentials`]: unknown user, wrong password,
    /// and input that could never have been registered. A real system adds rate limiting
    /// per username and per IP here (the course's Week 8); argon2's cost already caps one
    /// server at a few dozen guesses per second per core.
    async fn login(&self, req: LoginRequest) -> Result<LoginResponse, Error> {
        // A username or password that could never have been registered cannot match;
        // answer exactly as for a wrong password (no "username too short" hint).
        let (Ok(username), Ok(password)) =
            (Username::parse(&req.username), Password::parse(&req.password))
        else {
            return Err(Error::BadCredentials);
        };
        // Look the user up first, but do not branch on the result yet: both paths must go
        // through `verify`, so they cost the same.
        // A database failure is not dressed up as BadCredentials: `?` answers it as its own
        // error, so an outage never reads to a shopper as "wrong password".
        let row = store::find_by_username(&self.pool, username.as_str()).await?;
        // A copy of the hash moves into the blocking closure; `row` stays here for the claims.
        let stored = row.as_ref().map(|r| r.password_hash.clone());
        // `verify` spends the same time whether or not the user exists (see password.rs).
        if !self.hasher.verify(&password, stored).await? {
            return Err(Error::BadCredentials);
        }
        // `verify` already answered false for an unknown user, so this `None` cannot happen;
        // mapping it to the same error (not `unwrap`) keeps a future change from turning
        // a refactoring slip into a panic on a public endpoint.
        let row = row.ok_or(Error::BadCredentials)?;
        // One clock reading for both `iat` and `exp`, so `exp - iat` is exactly the TTL.
        let now = now_secs();
        // The claims are what every service will believe about the caller until `exp`:
        // the id (as the standard `sub`), the name for display, the roles (what the caller
        // may do: read from the row now, so a promotion applies from the next login), and
        // the two timestamps.
        let claims = Claims {
            sub: row.id.to_string(),
            username: row.username.clone(),
            roles: row.roles(),
            iat: now,
            exp: now.saturating_add(self.ttl_secs),
        };
        let token = self.keys.sign(&claims)?;
        Ok(LoginResponse { token, expires_at: claims.exp, user: Some(row.to_proto()) })
    }

    /// Stateless: the signature proves the claims, no database round trip. The price of
    /// that speed is that a token cannot be revoked before it expires — which is why
    /// `jwt_ttl_secs` is hours, not weeks. (Revocation would need a deny-list in Redis.)
    fn validate(&self, req: ValidateTokenRequest) -> Result<ValidateTokenResponse, Error> {
        // Surrounding whitespace is tolerated (copy-paste from a terminal); everything else
        // about the token must be exact.
        // No database lookup: a deleted user's token stays valid until `exp` (see above).
        let claims = self.keys.verify(req.token.trim())?;
        let user_id = claims
            .sub
            // A token we signed always has a numeric `sub`; anything else means the token
            // was not produced by `login`, so it is treated as malformed.
            .parse::<u64>()
            .map_err(|_| Error::InvalidToken("malformed"))?;
        // The roles are the signed claim, passed on as they are: what a role allows is for
        // the service that owns the action to decide (catalog: publishing needs `admin`).
        Ok(ValidateTokenResponse {
            user_id,
            username: claims.username,
            // From the claim: a caller that caches this answer knows when it must stop.
            expires_at: claims.exp,
            roles: claims.roles,
        })
    }

    /// GetUser: a public profile by id. Id 0 is INVALID_ARGUMENT, not NOT_FOUND: proto3
    /// sends 0 when the caller forgot the field, and saying "invalid" points at the bug.
    ///
    /// No token is asked for here: this is an internal RPC, reachable only inside the
    /// cluster. The gateway's `GET /api/v1/users/me` is what limits a shopper to their own
    /// profile — it validates the Bearer token and asks for that token's user id only.
    async fn get_user(&self, req: GetUserRequest) -> Result<GetUserResponse, Error> {
        if req.user_id == 0 {
            return Err(Error::InvalidArgument("user_id must be positive".into()));
        }
        let row = store::find_by_id(&self.pool, req.user_id).await?.ok_or(Error::NotFound)?;
        Ok(GetUserResponse { user: Some(row.to_proto()) })
    }
}

/// The generated trait, implemented as thin wrappers: unwrap the request, call the
/// domain method above, let `?` map [`Error`] to a `Status`. Keeping the tonic types out of
/// the methods above means they read (and could be tested) as plain Rust.
#[tonic::async_trait]
impl UserService for UserApi {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        Ok(Response::new(self.register(request.into_inner()).await?))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        Ok(Response::new(self.login(request.into_inner()).await?))
    }

    /// Synchronous inside: checking an HS256 signature is microseconds of CPU, so unlike
    /// `verify` of a password it needs neither the blocking pool nor a permit. This is the
    /// RPC every other service calls on every authenticated request.
    ///
    /// The token travels in the message here, not in `authorization` metadata: it is the
    /// data being judged, not the caller's credential — the one deliberate exception to
    /// `platform::auth`'s rule.
    async fn validate_token(
        &self,
        request: Request<ValidateTokenRequest>,
    ) -> Result<Response<ValidateTokenResponse>, Status> {
        Ok(Response::new(self.validate(request.into_inner())?))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        Ok(Response::new(self.get_user(request.into_inner()).await?))
    }
}
